"""Checkpoints: atomic writes, complete-checkpoint detection, rotation, and which one to resume.

A checkpoint is written into a temporary sibling folder (``.sentrix-tmp-checkpoint-N``) and
renamed into place once complete, so ``checkpoint-N`` is never half-written. ``trainer_state.json``
is written last: a folder holding it is complete. Files are fsynced before the rename and the
parent folder after it. Each checkpoint carries ``sentrix_run.json`` with the run's id and the
time it was written, and rotation (``save_total_limit``) only ever deletes checkpoints of the same
run: folders written by other runs or by hand are left alone. A checkpoint to delete is first
renamed to a ``.sentrix-trash-*`` folder, so a kill never leaves a half-deleted folder that still
looks complete; leftover temporary and trash folders are removed by the next run
(:func:`clean_stale`).

Which checkpoint ``resume_from_checkpoint=True`` picks (:func:`choose_resume_checkpoint`): among the
complete checkpoints, those of the run that wrote the most recent one, and of these the one with the
highest step. The log says which one and why every other ``checkpoint-*`` folder was skipped.

The trainer's overrides (``_save_checkpoint``, ``_rotate_checkpoints``, ``_load_from_checkpoint``)
live in :mod:`sentrix.trainer` and call the functions here.
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import time
import uuid
from collections.abc import Callable

from transformers.trainer_utils import PREFIX_CHECKPOINT_DIR

from sentrix.errors import InvalidInputError

logger = logging.getLogger(__name__)

TRAINING_ARGS_NAME = "training_args.bin"
TRAINER_STATE_NAME = "trainer_state.json"
RUN_MARKER_NAME = "sentrix_run.json"
TMP_PREFIX = ".sentrix-tmp-"
TRASH_PREFIX = ".sentrix-trash-"
SAMPLER_STATE_NAME = "sampler_state.pt"
EVALUATOR_STATE_NAME = "evaluator_state.pt"
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


def _complete_checkpoints(folder: str) -> tuple[list[dict], list[tuple[str, str]]]:
    """The complete ``checkpoint-N`` folders of ``folder`` (step, path, run, written) and the skipped entries."""
    complete: list[dict] = []
    skipped: list[tuple[str, str]] = []
    if not os.path.isdir(folder):
        return complete, skipped
    for name in sorted(os.listdir(folder)):
        path = os.path.join(folder, name)
        if name.startswith((TMP_PREFIX, TRASH_PREFIX)):
            skipped.append((name, "a temporary or trash folder left by an interrupted write"))
            continue
        match = CHECKPOINT_RE.match(name)
        if not match or not os.path.isdir(path):
            continue
        if not is_checkpoint_complete(path):
            skipped.append((name, f"incomplete (no {TRAINER_STATE_NAME}; interrupted while saving)"))
            continue
        marker = read_run_marker(path) or {}
        written = marker.get("written_at")
        if not isinstance(written, (int, float)):
            written = os.path.getmtime(os.path.join(path, TRAINER_STATE_NAME))
        run = marker.get("run_id")
        complete.append({"step": int(match.group(1)), "path": path, "run": run if isinstance(run, str) else None,
                         "written": float(written)})
    return complete, skipped


def choose_resume_checkpoint(folder: str) -> str | None:
    """The checkpoint ``resume_from_checkpoint=True`` resumes from, or None when ``folder`` holds no complete one.

    The run to resume is the one that wrote the most recent complete checkpoint (time recorded in
    ``sentrix_run.json``); of that run's complete checkpoints the one with the highest step is taken.
    Logs the choice and, for every other ``checkpoint-*`` folder, why it was skipped."""
    complete, skipped = _complete_checkpoints(folder)
    if not complete:
        for name, reason in skipped:
            logger.info("Not resuming from %s: %s.", os.path.join(folder, name), reason)
        return None
    newest = max(complete, key=lambda c: (c["written"], c["step"]))
    run = newest["run"]
    chosen = max((c for c in complete if c["run"] == run), key=lambda c: c["step"])
    for c in complete:
        if c is chosen:
            continue
        if c["run"] == run:
            reason = f"an older checkpoint (step {c['step']}) of the same run"
        else:
            reason = f"written by another run ({c['run'] or 'no sentrix run marker'}) before the newest one"
        skipped.append((os.path.basename(c["path"]), reason))
    logger.info(
        "Resuming from %s (step %d of run %s): the newest complete checkpoint of the run that saved last.",
        chosen["path"], chosen["step"], run or "without a sentrix run marker",
    )
    for name, reason in skipped:
        logger.info("Skipped %s: %s.", os.path.join(folder, name), reason)
    return chosen["path"]


def other_runs_checkpoints(folder: str, run_id: str) -> list[str]:
    """Complete checkpoints in ``folder`` that the run ``run_id`` did not write (another run's, or unmarked)."""
    complete, _skipped = _complete_checkpoints(folder)
    return [c["path"] for c in sorted(complete, key=lambda c: c["step"]) if c["run"] != run_id]


def clean_stale(folder: str) -> list[str]:
    """Remove the ``.sentrix-tmp-*`` and ``.sentrix-trash-*`` entries an interrupted write left in ``folder``.

    Call it only when no write is in progress in ``folder`` (at the start of a run or a save).
    Returns the removed names."""
    removed = []
    if not os.path.isdir(folder):
        return removed
    for name in sorted(os.listdir(folder)):
        if not name.startswith((TMP_PREFIX, TRASH_PREFIX)):
            continue
        path = os.path.join(folder, name)
        if os.path.isdir(path) and not os.path.islink(path):
            shutil.rmtree(path, ignore_errors=True)
        else:
            try:
                os.remove(path)
            except OSError:
                continue
        removed.append(name)
    if removed:
        fsync_dir(folder)
        logger.info("Removed %s left in %s by an interrupted write.", ", ".join(removed), folder)
    return removed


def resolve_resume_checkpoint(resume_from_checkpoint: str | os.PathLike | bool | None, output_dir: str) -> str | bool | None:
    """The checkpoint folder to resume from: ``True`` -> :func:`choose_resume_checkpoint` in ``output_dir``; a path
    is checked to be a complete checkpoint. Anything else is returned unchanged (no resume)."""
    if resume_from_checkpoint is True:
        found = choose_resume_checkpoint(output_dir)
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
        json.dump({"run_id": run_id, "step": step, "written_at": time.time()}, fh)


def read_run_marker(checkpoint: str) -> dict | None:
    """The content of ``checkpoint``'s ``sentrix_run.json``, or None (no marker, or unreadable)."""
    try:
        with open(os.path.join(checkpoint, RUN_MARKER_NAME), encoding="utf-8") as fh:
            data = json.load(fh)
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _fsync_path(path: str) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:  # some file systems refuse fsync on directories
        pass
    finally:
        os.close(fd)


def fsync_dir(path: str) -> None:
    """Flush a folder's entries (after a rename into or out of it) to disk."""
    _fsync_path(path)


def fsync_tree(path: str) -> None:
    """Flush every file and folder under ``path`` to disk (before the rename that publishes it)."""
    for root, _dirs, files in os.walk(path, topdown=False):
        for name in files:
            _fsync_path(os.path.join(root, name))
        _fsync_path(root)


def trash_path(parent: str, name: str) -> str:
    """A fresh ``.sentrix-trash-*`` path inside ``parent`` for the entry ``name``."""
    return os.path.join(parent, f"{TRASH_PREFIX}{name}-{uuid.uuid4().hex[:8]}")


def remove_dir(path: str) -> None:
    """Delete the folder ``path``: renamed to a trash folder beside it first (one atomic step), then removed.

    A kill after the rename leaves only a ``.sentrix-trash-*`` folder, which :func:`clean_stale` removes;
    never a half-deleted folder under its old name."""
    parent = os.path.dirname(os.path.abspath(path))
    trash = trash_path(parent, os.path.basename(path))
    os.replace(path, trash)
    fsync_dir(parent)
    shutil.rmtree(trash, ignore_errors=True)


def replace_dir(src: str, dst: str) -> None:
    """Move the finished folder ``src`` to ``dst`` with renames only (``dst`` is never half-written)."""
    parent = os.path.dirname(os.path.abspath(dst))
    if os.path.exists(dst):
        trash = trash_path(parent, os.path.basename(dst))
        os.replace(dst, trash)
        os.replace(src, dst)
        fsync_dir(parent)
        shutil.rmtree(trash, ignore_errors=True)
    else:
        os.replace(src, dst)
        fsync_dir(parent)


def save_atomically(output_dir: str, write: Callable[[str], None], overwrite: bool = False) -> None:
    """Call ``write(folder)`` on a temporary folder inside ``output_dir`` and swap the result in as a whole
    (see :func:`sentrix.training.model_folder.save_model_folder`)."""
    from sentrix.training.model_folder import save_model_folder

    save_model_folder(output_dir, write, overwrite=overwrite)


def save_component_state(folder: str, file_name: str, component: object) -> bool:
    """Save ``component.state_dict()`` (a batch sampler, an evaluator) into ``folder/file_name``.

    Components without ``state_dict`` are skipped (returns False). The state may hold plain Python
    values (numbers, strings, lists, dicts) and tensors; it is read back with ``torch.load(weights_only=True)``."""
    state_dict = getattr(component, "state_dict", None)
    if not callable(state_dict):
        return False
    import torch

    cls = type(component)
    torch.save({"class": f"{cls.__module__}.{cls.__qualname__}", "state": state_dict()}, os.path.join(folder, file_name))
    return True


def load_component_state(folder: str, file_name: str, component: object, what: str) -> bool:
    """Give the state saved by :func:`save_component_state` back to ``component.load_state_dict``.

    Returns False when ``folder`` holds no such file. A component that cannot take the state back (no
    ``load_state_dict``) is resumed without it, with a warning: its order or results may then differ."""
    path = os.path.join(folder, file_name)
    if not os.path.isfile(path):
        return False
    import torch

    try:
        saved = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise InvalidInputError(
            f"{path!r} cannot be read ({exc}); the {what} state in this checkpoint is damaged. Resume from another "
            "checkpoint, or start without resume_from_checkpoint."
        ) from exc
    cls = type(component)
    name = f"{cls.__module__}.{cls.__qualname__}"
    load = getattr(component, "load_state_dict", None)
    if not callable(load):
        logger.warning(
            "The checkpoint holds the state of the %s %s, but this run's %s (%s) has no load_state_dict; it starts "
            "from its initial state, so the resumed run may differ from an uninterrupted one.",
            what, saved.get("class"), what, name,
        )
        return False
    if saved.get("class") != name:
        logger.warning("The %s state in %s was saved by %s; giving it to %s.", what, path, saved.get("class"), name)
    load(saved["state"])
    return True


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
        remove_dir(path)
        remaining -= 1


def keep_only_best(run_dir: str, run_id: str, best: str) -> None:
    """Delete every checkpoint of this run except ``best`` (``save_total_limit=1`` at the end of training)."""
    for _step, path in run_checkpoints(run_dir, run_id):
        if not os.path.samefile(path, best):
            remove_dir(path)


def checkpoint_step(path: str) -> int | None:
    """N of a ``checkpoint-N`` folder, or None."""
    match = CHECKPOINT_RE.match(os.path.basename(path))
    return int(match.group(1)) if match else None


__all__ = [
    "CHECKPOINT_RE",
    "EVALUATOR_STATE_NAME",
    "RUN_MARKER_NAME",
    "SAMPLER_STATE_NAME",
    "TMP_PREFIX",
    "TRAINER_STATE_NAME",
    "TRAINING_ARGS_NAME",
    "TRASH_PREFIX",
    "checkpoint_step",
    "choose_resume_checkpoint",
    "clean_stale",
    "fsync_dir",
    "fsync_tree",
    "is_checkpoint_complete",
    "keep_only_best",
    "last_complete_checkpoint",
    "load_component_state",
    "other_runs_checkpoints",
    "read_run_id",
    "read_run_marker",
    "remove_dir",
    "replace_dir",
    "resolve_resume_checkpoint",
    "rotate_run_checkpoints",
    "run_checkpoints",
    "save_atomically",
    "save_component_state",
    "write_run_marker",
]
