"""Checkpoints: atomic writes, complete-checkpoint detection, rotation, and which one to resume.

A checkpoint is written into a temporary sibling folder (``.sentrix-tmp-checkpoint-N``) and
renamed into place once complete, so ``checkpoint-N`` is never half-written. ``trainer_state.json``
is written last: a folder holding it is complete. Each checkpoint carries ``sentrix_run.json``
with the run's id, and rotation (``save_total_limit``) only ever deletes checkpoints of the same
run: folders written by other runs or by hand are left alone.

The trainer's overrides (``_save_checkpoint``, ``_rotate_checkpoints``, ``_load_from_checkpoint``)
live in :mod:`sentrix.trainer` and call the functions here.
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import uuid
from collections.abc import Callable

from transformers.trainer_utils import PREFIX_CHECKPOINT_DIR

from sentrix.errors import InvalidInputError

logger = logging.getLogger(__name__)

TRAINING_ARGS_NAME = "training_args.bin"
TRAINER_STATE_NAME = "trainer_state.json"
RUN_MARKER_NAME = "sentrix_run.json"
TMP_PREFIX = ".sentrix-tmp-"
CHECKPOINT_RE = re.compile(rf"^{PREFIX_CHECKPOINT_DIR}-(\d+)$")


def is_checkpoint_complete(path: str) -> bool:
    """Whether ``path`` is a completely written checkpoint (its ``trainer_state.json``, written last, exists)."""
    return os.path.isfile(os.path.join(path, TRAINER_STATE_NAME))


def last_complete_checkpoint(folder: str) -> str | None:
    """The ``checkpoint-N`` sub-folder of ``folder`` with the highest N that was completely written."""
    if not os.path.isdir(folder):
        return None
    found = []
    for name in os.listdir(folder):
        match = CHECKPOINT_RE.match(name)
        path = os.path.join(folder, name)
        if match and os.path.isdir(path) and is_checkpoint_complete(path):
            found.append((int(match.group(1)), path))
    return max(found)[1] if found else None


def resolve_resume_checkpoint(resume_from_checkpoint: str | os.PathLike | bool | None, output_dir: str) -> str | bool | None:
    """The checkpoint folder to resume from: ``True`` -> the last complete one in ``output_dir``; a path is
    checked to be a complete checkpoint. Anything else is returned unchanged (no resume)."""
    if resume_from_checkpoint is True:
        found = last_complete_checkpoint(output_dir)
        if found is None:
            raise InvalidInputError(
                f"resume_from_checkpoint=True but {output_dir!r} holds no complete checkpoint "
                f"('{PREFIX_CHECKPOINT_DIR}-N' folder with {TRAINER_STATE_NAME}). Start without resuming, or "
                "give the path of a checkpoint folder."
            )
        return found
    if isinstance(resume_from_checkpoint, (str, os.PathLike)):
        path = os.fspath(resume_from_checkpoint)
        if not os.path.isdir(path):
            raise InvalidInputError(f"resume_from_checkpoint={path!r} is not a folder.")
        if not is_checkpoint_complete(path):
            raise InvalidInputError(
                f"resume_from_checkpoint={path!r} is incomplete (no {TRAINER_STATE_NAME}); it was probably "
                "interrupted while saving. Give an earlier checkpoint, or resume_from_checkpoint=True for the "
                "last complete one."
            )
        return path
    return resume_from_checkpoint


def read_run_id(checkpoint: str, default: str) -> str:
    """The run id recorded in ``checkpoint`` (so a resumed run keeps rotating its own checkpoints)."""
    marker = os.path.join(checkpoint, RUN_MARKER_NAME)
    if os.path.isfile(marker):
        try:
            with open(marker, encoding="utf-8") as fh:
                return json.load(fh).get("run_id", default)
        except (OSError, ValueError):
            pass
    return default


def write_run_marker(folder: str, run_id: str, step: int) -> None:
    with open(os.path.join(folder, RUN_MARKER_NAME), "w", encoding="utf-8") as fh:
        json.dump({"run_id": run_id, "step": step}, fh)


def fsync_tree(path: str) -> None:
    """Flush every file under ``path`` to disk (before the rename that publishes it)."""
    for root, _dirs, files in os.walk(path):
        for name in files:
            try:
                fd = os.open(os.path.join(root, name), os.O_RDONLY)
            except OSError:
                continue
            try:
                os.fsync(fd)
            except OSError:
                pass
            finally:
                os.close(fd)


def replace_dir(src: str, dst: str) -> None:
    """Move the finished folder ``src`` to ``dst`` with renames only (``dst`` is never half-written)."""
    if os.path.exists(dst):
        trash = f"{os.path.dirname(dst)}/{TMP_PREFIX}old-{os.path.basename(dst)}-{uuid.uuid4().hex[:8]}"
        os.replace(dst, trash)
        os.replace(src, dst)
        shutil.rmtree(trash, ignore_errors=True)
    else:
        os.replace(src, dst)


def save_atomically(output_dir: str, write: Callable[[str], None]) -> None:
    """Call ``write(tmp_dir)`` on a temporary sibling folder, then move its entries into ``output_dir`` by rename."""
    parent = os.path.dirname(os.path.abspath(output_dir))
    os.makedirs(parent, exist_ok=True)
    tmp_dir = os.path.join(parent, f"{TMP_PREFIX}{os.path.basename(os.path.abspath(output_dir))}-{uuid.uuid4().hex[:8]}")
    try:
        write(tmp_dir)
        fsync_tree(tmp_dir)
        if not os.path.exists(output_dir) or not os.listdir(output_dir):
            if os.path.isdir(output_dir):
                os.rmdir(output_dir)
            os.replace(tmp_dir, output_dir)
            return
        # output_dir already holds files (checkpoints, logs): move each saved entry in by rename.
        for name in os.listdir(tmp_dir):
            src, dst = os.path.join(tmp_dir, name), os.path.join(output_dir, name)
            if os.path.isdir(src):
                replace_dir(src, dst)
            else:
                os.replace(src, dst)
    finally:
        if os.path.isdir(tmp_dir):
            shutil.rmtree(tmp_dir, ignore_errors=True)


def run_checkpoints(run_dir: str, run_id: str) -> list[tuple[int, str]]:
    """The checkpoints in ``run_dir`` written by the run ``run_id`` as (step, path), oldest first."""
    found: list[tuple[int, str]] = []
    if not os.path.isdir(run_dir):
        return found
    for name in os.listdir(run_dir):
        match = CHECKPOINT_RE.match(name)
        path = os.path.join(run_dir, name)
        if not match or not os.path.isdir(path):
            continue
        try:
            with open(os.path.join(path, RUN_MARKER_NAME), encoding="utf-8") as fh:
                if json.load(fh).get("run_id") != run_id:
                    continue
        except (OSError, ValueError):
            continue  # not written by sentrix, or by another run: never touched
        found.append((int(match.group(1)), path))
    return sorted(found)


def rotate_run_checkpoints(run_dir: str, run_id: str, limit: int | None, best_model_checkpoint: str | None) -> None:
    """Delete this run's oldest checkpoints beyond ``limit``; the newest and the best are always kept."""
    if not limit or limit <= 0:
        return
    checkpoints = run_checkpoints(run_dir, run_id)
    if len(checkpoints) <= limit:
        return
    best = os.path.abspath(best_model_checkpoint) if best_model_checkpoint else None
    protected = {os.path.abspath(checkpoints[-1][1])}
    if best:
        protected.add(best)
    keep = max(limit, len(protected))
    remaining = len(checkpoints)
    for _step, path in checkpoints:
        if remaining <= keep:
            break
        if os.path.abspath(path) in protected:
            continue
        logger.info("Deleting older checkpoint %s (save_total_limit=%d)", path, limit)
        shutil.rmtree(path, ignore_errors=True)
        remaining -= 1


def keep_only_best(run_dir: str, run_id: str, best: str) -> None:
    """Delete every checkpoint of this run except ``best`` (``save_total_limit=1`` at the end of training)."""
    for _step, path in run_checkpoints(run_dir, run_id):
        if not os.path.samefile(path, best):
            shutil.rmtree(path, ignore_errors=True)


def checkpoint_step(path: str) -> int | None:
    """N of a ``checkpoint-N`` folder, or None."""
    match = CHECKPOINT_RE.match(os.path.basename(path))
    return int(match.group(1)) if match else None


__all__ = [
    "CHECKPOINT_RE",
    "RUN_MARKER_NAME",
    "TMP_PREFIX",
    "TRAINER_STATE_NAME",
    "TRAINING_ARGS_NAME",
    "checkpoint_step",
    "fsync_tree",
    "is_checkpoint_complete",
    "keep_only_best",
    "last_complete_checkpoint",
    "read_run_id",
    "replace_dir",
    "resolve_resume_checkpoint",
    "rotate_run_checkpoints",
    "run_checkpoints",
    "save_atomically",
    "write_run_marker",
]
