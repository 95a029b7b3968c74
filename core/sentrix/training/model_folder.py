"""The final model save: atomic as a whole, without stale files, and never over a user's own files.

``trainer.save_model()`` writes a model into ``output_dir``, which may already hold checkpoints,
evaluation results, an earlier save of the model and files of the user (a README.md, notes, data).
:func:`save_model_folder` does it so that a kill at any moment leaves either the complete old model
or the complete new one:

1. The new model is written into ``output_dir/.sentrix-tmp-save-*`` and flushed to disk.
2. A journal (``sentrix_swap.json``) is written into that folder: the entries of the new model and
   the entries of the old model that the new one lacks. From here on the save is decided.
3. The old model's entries are renamed into ``output_dir/.sentrix-trash-save-*``, the new ones are
   renamed in, the folder is flushed, and the temporary and trash folders are deleted.

A kill during step 3 leaves the journal; the next save or the next training run in ``output_dir``
(:func:`recover`) finishes the swap. A kill before step 2 leaves only a temporary folder, which is
deleted. All renames stay inside ``output_dir`` (one file system), and nothing is ever written
beside ``output_dir``.

Which entries belong to the model: those listed in ``.sentrix-model.json``, written with every
save. Entries of an earlier save that the new one does not write are removed. Any other entry is
the user's and is left alone; when the new model would overwrite one, the save stops before
writing anything (``overwrite=True``, the ``overwrite_output_dir`` training argument, allows it),
except for ``README.md``: a README.md that is not a model card written by a save is kept, and the
model card is written beside it as ``README.sentrix.md`` (a warning says so). A folder saved
before the manifest existed (it has a ``modules.json`` and no ``.sentrix-model.json``) is taken
as an earlier save: its model files are replaced, and its README.md only when it is a generated
model card.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import uuid
from collections.abc import Callable

from sentrix.errors import InvalidInputError
from sentrix.training.checkpoints import TMP_PREFIX, TRASH_PREFIX, clean_stale, fsync_dir, fsync_tree

logger = logging.getLogger(__name__)

MANIFEST_NAME = ".sentrix-model.json"
JOURNAL_NAME = "sentrix_swap.json"
CARD_NAME = "README.md"
SIDE_CARD_NAME = "README.sentrix.md"
_FORMAT = "sentrix.model_folder/1"


def read_manifest(folder: str) -> list[str] | None:
    """The entries of the model saved in ``folder`` (from ``.sentrix-model.json``), or None."""
    try:
        with open(os.path.join(folder, MANIFEST_NAME), encoding="utf-8") as fh:
            data = json.load(fh)
    except (OSError, ValueError):
        return None
    entries = data.get("entries") if isinstance(data, dict) else None
    return [e for e in entries if isinstance(e, str)] if isinstance(entries, list) else None


def is_generated_card(path: str) -> bool:
    """Whether ``path`` looks like a model card written by a save (front matter naming the library)."""
    try:
        with open(path, encoding="utf-8", errors="replace") as fh:
            head = fh.read(4096)
    except OSError:
        return False
    if not head.startswith("---"):
        return False
    front = head.split("\n---", 1)[0]
    return "library_name: sentence-transformers" in front


def write_text_atomically(path: str, text: str) -> None:
    """Write ``text`` to ``path`` through a flushed temporary file and one rename: never half-written."""
    tmp = f"{path}.{uuid.uuid4().hex[:8]}.part"
    with open(tmp, "w", encoding="utf-8") as fh:
        fh.write(text)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def _write_json(path: str, data: dict) -> None:
    write_text_atomically(path, json.dumps(data, indent=1))


def _remove(path: str) -> None:
    if os.path.isdir(path) and not os.path.islink(path):
        shutil.rmtree(path, ignore_errors=True)
    elif os.path.lexists(path):
        os.remove(path)


def _apply(output_dir: str, build: str) -> None:
    """Carry out the swap journaled in ``build`` (idempotent: a half-done swap is finished)."""
    with open(os.path.join(build, JOURNAL_NAME), encoding="utf-8") as fh:
        journal = json.load(fh)
    entries: list[str] = journal["entries"]
    trash = os.path.join(output_dir, journal["trash"])
    os.makedirs(trash, exist_ok=True)
    # 1. the old model's entries go to the trash (an entry already moved in from the build is the new one)
    for name in [*journal["remove"], *entries]:
        dst = os.path.join(output_dir, name)
        if name in entries and not os.path.lexists(os.path.join(build, name)):
            continue
        if os.path.lexists(dst):
            aside = os.path.join(trash, name)
            if os.path.lexists(aside):
                _remove(aside)
            os.replace(dst, aside)
    fsync_dir(trash)
    fsync_dir(output_dir)
    # 2. the new model's entries move in
    for name in entries:
        src = os.path.join(build, name)
        if os.path.lexists(src):
            os.replace(src, os.path.join(output_dir, name))
    fsync_dir(output_dir)
    # 3. the swap is done: remove the build folder (holding only the journal now) and the trash
    shutil.rmtree(build, ignore_errors=True)
    shutil.rmtree(trash, ignore_errors=True)
    fsync_dir(output_dir)


def card_path(output_dir: str, overwrite: bool = False) -> str:
    """Where the model card of ``output_dir`` goes: ``README.md``, or ``README.sentrix.md`` when ``README.md`` is
    the user's own file (not listed by the last save, not a generated card) and ``overwrite`` is false."""
    readme = os.path.join(output_dir, CARD_NAME)
    if overwrite or not os.path.lexists(readme):
        return readme
    owned = read_manifest(output_dir)
    if owned is not None and CARD_NAME in owned:
        return readme
    if owned is None and os.path.isfile(os.path.join(output_dir, "modules.json")) and is_generated_card(readme):
        return readme
    side = os.path.join(output_dir, SIDE_CARD_NAME)
    logger.warning(
        "%s is not a model card written by a save; it is kept, and the model card is written to %s. Set "
        "overwrite_output_dir=True to replace README.md with it.", readme, side,
    )
    return side


def recover(output_dir: str) -> None:
    """Finish a save that was interrupted after it was journaled; remove temporary and trash folders.

    Call it only when no save is in progress in ``output_dir``."""
    if not os.path.isdir(output_dir):
        return
    for name in sorted(os.listdir(output_dir)):
        build = os.path.join(output_dir, name)
        if name.startswith(TMP_PREFIX) and os.path.isfile(os.path.join(build, JOURNAL_NAME)):
            logger.warning("Finishing the model save into %s that was interrupted while moving files.", output_dir)
            _apply(output_dir, build)
    clean_stale(output_dir)


def save_model_folder(output_dir: str, write: Callable[[str], None], overwrite: bool = False) -> list[str]:
    """Write a model with ``write(folder)`` and swap it into ``output_dir`` as a whole; returns its entries.

    See the module documentation for what happens to earlier saves and to the user's own files."""
    output_dir = os.path.abspath(output_dir)
    os.makedirs(output_dir, exist_ok=True)
    recover(output_dir)
    token = uuid.uuid4().hex[:8]
    build = os.path.join(output_dir, f"{TMP_PREFIX}save-{token}")
    try:
        write(build)
        owned = read_manifest(output_dir)
        legacy = owned is None and os.path.isfile(os.path.join(output_dir, "modules.json"))
        owned_set = {*(owned or ()), SIDE_CARD_NAME}  # README.sentrix.md is always a card written here
        conflicts: list[str] = []
        names = sorted(n for n in os.listdir(build) if n != MANIFEST_NAME)
        for name in list(names):
            dst = os.path.join(output_dir, name)
            if not os.path.lexists(dst) or name in owned_set or overwrite:
                continue
            if name == CARD_NAME:
                if legacy and is_generated_card(dst):
                    continue
                os.replace(os.path.join(build, CARD_NAME), os.path.join(build, SIDE_CARD_NAME))
                names[names.index(CARD_NAME)] = SIDE_CARD_NAME
                logger.warning(
                    "%s holds a README.md that is not a model card written by a save; it is kept, and the model "
                    "card is written to %s. Set overwrite_output_dir=True to replace README.md with it.",
                    output_dir, os.path.join(output_dir, SIDE_CARD_NAME),
                )
                continue
            if legacy:
                continue
            conflicts.append(name)
        if conflicts:
            raise InvalidInputError(
                f"Cannot save the model into {output_dir!r}: it would overwrite {sorted(conflicts)}, which no earlier "
                f"save wrote (they are not listed in {MANIFEST_NAME}). Nothing was changed. Save into another folder, "
                "move those files away, or set overwrite_output_dir=True in the training arguments to replace them."
            )
        entries = sorted([*names, MANIFEST_NAME])
        _write_json(os.path.join(build, MANIFEST_NAME), {"format": _FORMAT, "entries": entries})
        stale = sorted(n for n in owned_set if n not in entries and os.path.lexists(os.path.join(output_dir, n)))
        fsync_tree(build)
        _write_json(
            os.path.join(build, JOURNAL_NAME),
            {"entries": entries, "remove": stale, "trash": f"{TRASH_PREFIX}save-{token}"},
        )
        fsync_dir(build)
    except BaseException:
        shutil.rmtree(build, ignore_errors=True)
        raise
    _apply(output_dir, build)
    return entries


__all__ = [
    "CARD_NAME",
    "JOURNAL_NAME",
    "MANIFEST_NAME",
    "SIDE_CARD_NAME",
    "card_path",
    "write_text_atomically",
    "is_generated_card",
    "read_manifest",
    "recover",
    "save_model_folder",
]
