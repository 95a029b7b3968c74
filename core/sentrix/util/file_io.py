"""Find a model's files locally or on the Hugging Face Hub, and download a URL.

The same helpers as ``sentence_transformers.util.file_io``. A local folder is always looked at
first; only a name that is not a local folder goes to the Hub (through ``huggingface_hub``,
imported when needed, honouring ``token``, ``cache_folder``, ``revision`` and
``local_files_only``).

Example::

    from sentrix.util import is_sentence_transformer_model, load_dir_path, load_file_path

    is_sentence_transformer_model("sentence-transformers/all-MiniLM-L6-v2")        # True (has modules.json)
    config = load_file_path("path/to/model", "config_sentence_transformers.json")  # a path, or None
    pooling = load_dir_path("path/to/model", "1_Pooling")
"""

from __future__ import annotations

import logging
import os
from pathlib import Path, PureWindowsPath

from tqdm.autonotebook import tqdm

from sentrix.errors import InvalidInputError

logger = logging.getLogger(__name__)

__all__ = ["disabled_tqdm", "http_get", "is_sentence_transformer_model", "load_dir_path", "load_file_path"]


class disabled_tqdm(tqdm):
    """A ``tqdm`` that never shows, whatever ``disable`` it is given (for the Hub's download bars)."""

    def __init__(self, *args, **kwargs) -> None:
        kwargs["disable"] = True
        super().__init__(*args, **kwargs)

    def __delattr__(self, attr: str) -> None:
        # a disabled bar never set ``_lock``; huggingface_hub deletes it anyway (huggingface_hub#1603)
        try:
            super().__delattr__(attr)
        except AttributeError:
            if attr != "_lock":
                raise


def _check_relative(path: object, what: str) -> None:
    """Refuse absolute paths, drive letters and ``..`` (POSIX or Windows spelling) inside a model."""
    if not isinstance(path, (str, Path)):
        raise InvalidInputError(
            f"Invalid model path {path!r} ({what}): expected a relative path (str or Path) inside the model. "
            "Fix: pass the file or folder name relative to the model folder."
        )
    parts = PureWindowsPath(path)
    if parts.anchor or ".." in parts.parts or "\0" in str(path):
        raise InvalidInputError(
            f"Invalid model path {str(path)!r} ({what}): expected a relative path without '..' components. "
            "Fix: pass the file or folder name relative to the model folder."
        )


def is_sentence_transformer_model(
    model_name_or_path: str,
    token: bool | str | None = None,
    cache_folder: str | None = None,
    revision: str | None = None,
    local_files_only: bool = False,
) -> bool:
    """True when the folder or Hub repository has a ``modules.json`` (a sentence-transformers model).

    A repository that exists without one gives False; Hub errors other than "not found"
    (authentication, rate limits, no network) are raised, not mistaken for False.
    """
    found = load_file_path(
        model_name_or_path,
        "modules.json",
        token=token,
        cache_folder=cache_folder,
        revision=revision,
        local_files_only=local_files_only,
    )
    return found is not None


def load_file_path(
    model_name_or_path: str,
    filename: str | Path,
    subfolder: str = "",
    token: bool | str | None = None,
    cache_folder: str | None = None,
    revision: str | None = None,
    local_files_only: bool = False,
) -> str | None:
    """The local path of ``subfolder/filename`` of a model folder or Hub repository, or None.

    None means: the local folder lacks the file, or the Hub says the repository has no such file
    (or ``model_name_or_path`` is not a valid repository id, or ``local_files_only`` and it is not
    cached). Other Hub errors are raised. ``filename`` and ``subfolder`` must be relative paths
    inside the model (:class:`~sentrix.errors.InvalidInputError`, a ValueError, otherwise).
    """
    _check_relative(subfolder, "subfolder")
    _check_relative(filename, "filename")
    local = Path(model_name_or_path, subfolder, filename)
    if local.exists():
        return str(local)
    if Path(model_name_or_path).is_dir():
        return None
    from huggingface_hub.errors import HFValidationError

    from sentrix.module_base import resolve_file  # imports torch; only needed for the Hub

    try:
        return resolve_file(
            model_name_or_path, Path(filename).as_posix(), "" if subfolder in ("", ".") else Path(subfolder).as_posix(),
            token, cache_folder, revision, local_files_only,
        )
    except HFValidationError as exc:
        logger.debug(f"{model_name_or_path!r} is neither a local folder nor a Hub repository id: {exc}")
        return None


def load_dir_path(
    model_name_or_path: str,
    subfolder: str,
    token: bool | str | None = None,
    cache_folder: str | None = None,
    revision: str | None = None,
    local_files_only: bool = False,
) -> str | None:
    """The local path of ``subfolder`` of a model folder or Hub repository (downloading only that subfolder).

    Returns None when a local model folder has no such subfolder, when ``model_name_or_path`` is
    not a valid repository id, or when ``local_files_only`` and nothing is cached. When the Hub
    cannot be reached (or refuses), the cached copy is used if it has the subfolder; otherwise the
    original error is raised. ``subfolder`` must be a relative path inside the model
    (:class:`~sentrix.errors.InvalidInputError`, a ValueError, otherwise).
    """
    _check_relative(subfolder, "subfolder")
    subfolder = Path(subfolder).as_posix() if isinstance(subfolder, Path) else subfolder
    local = Path(model_name_or_path, subfolder)
    if local.exists():
        return str(local)
    if Path(model_name_or_path).is_dir():
        return None
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import HFValidationError, LocalEntryNotFoundError

    try:
        from huggingface_hub.errors import IncompleteSnapshotError
    except ImportError:  # older huggingface_hub: never raised
        IncompleteSnapshotError = ()  # noqa: N806

    whole_repo = subfolder in ("", ".")
    kwargs = {
        "repo_id": model_name_or_path,
        "revision": revision,
        "allow_patterns": None if whole_repo else f"{subfolder}/**",
        "library_name": "sentrix",
        "token": token,
        "cache_dir": cache_folder,
        "local_files_only": local_files_only,
        "tqdm_class": disabled_tqdm,
    }

    def present(root: str) -> bool:
        return whole_repo or Path(root, subfolder).is_dir()

    try:
        root = snapshot_download(**kwargs)
    except IncompleteSnapshotError:
        raise  # the Hub failed and the cache is partial: transient, not "absent"
    except (HFValidationError, LocalEntryNotFoundError) as exc:
        logger.debug(f"No subfolder {subfolder!r} for {model_name_or_path!r}: {exc}")
        return None
    except Exception as hub_error:  # auth, rate limit, network: a cached copy will do
        kwargs["local_files_only"] = True
        try:
            root = snapshot_download(**kwargs)
        except LocalEntryNotFoundError:
            raise hub_error from None
        if not present(root):
            raise hub_error from None
        return str(Path(root, subfolder))
    if not present(root):
        # a failing Hub call can return an older cached snapshot that never received this subfolder
        raise OSError(
            f"Could not download {subfolder!r} of {model_name_or_path!r} from the Hugging Face Hub, and the local "
            "cache does not have it. Fix: check the network and the repository, then retry."
        )
    return str(Path(root, subfolder))


def http_get(url: str, path: str) -> None:
    """Download ``url`` to the file ``path``, with a progress bar.

    Parent folders are created. The bytes go to ``<path>_part`` first, which replaces ``path``
    only once the download is complete (and is deleted on failure). An HTTP error status raises
    ``HTTPStatusError``; a failed write raises OSError.
    """
    try:
        from huggingface_hub.utils import httpx  # the HTTP client huggingface_hub itself uses
    except ImportError:
        import httpx

    folder = os.path.dirname(path)
    if folder:
        os.makedirs(folder, exist_ok=True)
    partial = path + "_part"
    with httpx.stream("GET", url, follow_redirects=True) as response:
        response.raise_for_status()
        length = response.headers.get("Content-Length")
        bar = tqdm(
            unit="B", unit_scale=True, total=int(length) if length is not None else None, leave=False,
            desc=f"Downloading {os.path.basename(path)}",
        )
        try:
            with open(partial, "wb") as handle:
                for chunk in response.iter_bytes(chunk_size=1024):
                    if chunk:
                        handle.write(chunk)
                        bar.update(len(chunk))
            os.replace(partial, path)
        except BaseException:
            if os.path.exists(partial):
                os.remove(partial)
            raise
        finally:
            bar.close()
