"""What the running environment offers: distributed state, the best device, installed packages.

The same helpers as ``sentence_transformers.util.environment``. ``torch`` is imported only by the
functions that need it, so checking package versions stays cheap.

Example::

    from sentrix.util import check_version_requirements, get_device_name, is_training_available

    device = get_device_name()                     # "cuda:0", "mps", ... or "cpu"
    assert is_training_available()                 # datasets and accelerate are installed
    check_version_requirements({"transformers": ">=4.45"}, source="my-model")
"""

from __future__ import annotations

import contextlib
import importlib.util
import logging
import os
import platform
import sys
from importlib.metadata import PackageNotFoundError, metadata, version
from typing import Any, Iterator

logger = logging.getLogger(__name__)

__all__ = [
    "check_package_availability",
    "check_version_requirements",
    "get_device_name",
    "get_installed_version",
    "is_accelerate_available",
    "is_datasets_available",
    "is_dist_initialized",
    "is_training_available",
    "suggest_extra_on_exception",
]

#: words in an ImportError/AttributeError message -> the install command that fixes it. Checked in
#: order: a missing ``torchcodec`` makes transformers fall back to torchvision's removed
#: ``read_video``, so that word must win over the plain ``torchvision`` hint.
_INSTALL_HINTS: tuple[tuple[tuple[str, ...], str], ...] = (
    (("pillow", "pil"), "pip install -U pillow"),
    (("read_video",), "pip install -U torchcodec"),
    (("torchvision",), "pip install -U torchvision pillow"),
    (("torchcodec",), "pip install -U torchcodec"),
    (("soundfile", "librosa"), "pip install -U soundfile librosa"),
)

#: names model authors use for a package, -> its distribution name.
_PACKAGE_ALIASES = {"pytorch": "torch"}


@contextlib.contextmanager
def suggest_extra_on_exception() -> Iterator[None]:
    """Add the install command to an ImportError/AttributeError raised inside the block.

    When the message mentions a media dependency (pillow, torchvision, torchcodec, soundfile,
    librosa) the error is raised again, same type, with ``pip install ...`` appended; any other
    error passes through unchanged.
    """
    try:
        yield
    except (ImportError, AttributeError) as exc:
        text = str(exc).lower()
        hint = next((cmd for words, cmd in _INSTALL_HINTS if any(word in text for word in words)), None)
        if hint is None:
            raise
        raise type(exc)(f"{str(exc).strip()}\n\nTo install the required dependencies, run:\n{hint}") from exc


def is_dist_initialized() -> bool:
    """True when ``torch.distributed`` exists in this build and a process group is initialised.

    Availability is asked first: builds without distributed support lack ``is_initialized``.
    """
    import torch.distributed as dist

    return dist.is_available() and dist.is_initialized()


def get_device_name() -> str:
    """The device to run on: ``"cuda:<local rank>"``, ``"mps"``, ``"npu"``, ``"xpu"``, ``"hpu"`` or ``"cpu"``.

    On CUDA the index is ``LOCAL_RANK`` when set, else the distributed rank when there are enough
    GPUs for it, else 0.
    """
    import torch

    if torch.cuda.is_available():
        if "LOCAL_RANK" in os.environ:
            index = int(os.environ["LOCAL_RANK"])
        elif is_dist_initialized() and torch.distributed.get_rank() < torch.cuda.device_count():
            index = torch.distributed.get_rank()
        else:
            index = 0
        return f"cuda:{index}"
    if torch.backends.mps.is_available():
        return "mps"
    from transformers import is_torch_npu_available

    if is_torch_npu_available():
        return "npu"
    if hasattr(torch, "xpu") and torch.xpu.is_available():
        return "xpu"
    if importlib.util.find_spec("habana_frameworks") is not None:
        import habana_frameworks.torch.hpu as hpu

        if hpu.is_available():
            return "hpu"
    return "cpu"


def check_package_availability(package_name: str, owner: str) -> bool:
    """True when distribution ``package_name`` is installed under that exact name and its
    ``Home-page`` metadata mentions ``owner`` (so a same-named package of someone else does not count)."""
    try:
        meta = metadata(package_name)
    except PackageNotFoundError:
        return False
    home_page = meta["Home-page"]
    return meta["Name"] == package_name and home_page is not None and owner in home_page


def is_accelerate_available() -> bool:
    """True when Hugging Face ``accelerate`` is installed."""
    return check_package_availability("accelerate", "huggingface")


def is_datasets_available() -> bool:
    """True when Hugging Face ``datasets`` is installed."""
    return check_package_availability("datasets", "huggingface")


def is_training_available() -> bool:
    """True when both training dependencies (``datasets`` and ``accelerate``) are installed."""
    return is_accelerate_available() and is_datasets_available()


def get_installed_version(package_name: str) -> str | None:
    """The installed version of ``package_name`` (``"python"`` gives the interpreter's), or None.

    An already imported module's string ``__version__`` wins over the distribution metadata, which
    lags behind the code for editable installs.
    """
    if package_name == "python":
        return platform.python_version()
    module_version = getattr(sys.modules.get(package_name.replace("-", "_")), "__version__", None)
    if isinstance(module_version, str):
        return module_version
    try:
        return version(package_name)
    except PackageNotFoundError:
        return None


def check_version_requirements(requirements: dict[str, Any] | None, source: str | None = None) -> None:
    """Raise ImportError when installed packages do not meet a model's declared version requirements.

    Args:
        requirements: ``{package: specifier}``, e.g. ``{"transformers": ">=4.45", "peft": ">=0.18,<0.20"}``
            (PEP 440 specifiers). A value may also be ``{"specifier": ..., "reason": ...}``; the
            reason is shown when it is not met. ``"python"`` checks the interpreter and
            ``"pytorch"`` means ``torch``. None or empty checks nothing.
        source: the model name or path that declared them, named in the error.

    Requirements that cannot be read (not a dict, not a string, an invalid specifier or version)
    are logged as a warning and skipped, so a typo in a model's config does not make it unloadable.
    Every unmet requirement is listed in one error, with a ``pip install -U`` line for the packages.
    """
    if not requirements:
        return
    if not isinstance(requirements, dict):
        logger.warning(f"Ignoring the `requirements` of {source!r}: expected a dictionary of version specifiers.")
        return
    from packaging.specifiers import SpecifierSet
    from packaging.version import Version

    unmet: list[str] = []
    to_install: list[str] = []
    for name, requirement in requirements.items():
        name = _PACKAGE_ALIASES.get(name, name)
        if isinstance(requirement, dict):
            specifier, reason = requirement.get("specifier", ""), requirement.get("reason", "")
        else:
            specifier, reason = requirement, ""
        if not isinstance(specifier, str):
            logger.warning(
                f"Could not verify the {specifier!r} requirement of {source!r}: expected a version specifier string."
            )
            continue
        installed = get_installed_version(name)
        try:
            allowed = SpecifierSet(specifier, prereleases=True)
            if installed is not None and allowed.contains(Version(installed)):
                continue
        except Exception as exc:  # noqa: BLE001 - an unreadable requirement warns instead of failing the load
            logger.warning(f"Could not verify the {specifier!r} requirement of {source!r}: {exc}")
            continue
        have = f"{name}=={installed} is installed" if installed else "it is not installed"
        unmet.append(f"- {name}{specifier}, but {have}. {reason}".rstrip())
        if name != "python":
            to_install.append(f'"{name}{specifier}"')
    if not unmet:
        return
    lines = [f"The model {source!r} requires:" if source else "This model requires:", *unmet]
    if to_install:
        lines.append("Install compatible versions with:\n    pip install -U " + " ".join(to_install))
    raise ImportError("\n".join(lines))
