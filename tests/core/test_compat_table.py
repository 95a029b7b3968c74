"""Every sentence-transformers 6.2 module path and public name resolves in sentrix or is listed as not provided.

The list is read from the installed sentence-transformers wheel (its package tree plus the old
paths it still redirects), so a path or name that sentrix neither serves nor explains fails here.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import warnings

import pytest
import sentence_transformers
from sentence_transformers.util.deprecated_import import DEPRECATED_MODULE_PATHS

import sentrix
from sentrix._compat.table import MODULES, NAMES, not_provided_name_reason, not_provided_reason

pytestmark = pytest.mark.oracle


def _st_module_paths() -> list[str]:
    paths = {"sentence_transformers"}
    paths.update(info.name for info in pkgutil.walk_packages(sentence_transformers.__path__, "sentence_transformers."))
    paths.update(DEPRECATED_MODULE_PATHS)
    return sorted(paths)


def _relative(path: str) -> str:
    return path[len("sentence_transformers"):].lstrip(".")


def _public_names(module) -> list[str]:
    if hasattr(module, "__all__"):
        return sorted(set(module.__all__))
    return sorted(
        name
        for name, value in vars(module).items()
        if not name.startswith("_")
        and (inspect.isclass(value) or inspect.isfunction(value))
        and getattr(value, "__module__", None) == module.__name__
    )


ST_PATHS = _st_module_paths()


def test_the_wheel_lists_enough_paths_to_mean_something():
    assert len(ST_PATHS) > 200


@pytest.mark.parametrize("st_path", ST_PATHS)
def test_module_path_imports_or_says_why_not(st_path):
    relative = _relative(st_path)
    ours = "sentrix." + relative if relative else "sentrix"
    reason = not_provided_reason(relative)
    if reason is not None:
        with pytest.raises(ModuleNotFoundError, match="sentrix does not provide"):
            importlib.import_module(ours)
        return
    module = importlib.import_module(ours)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        st_module = importlib.import_module(st_path)
    unresolved = []
    for name in _public_names(st_module):
        owner = getattr(getattr(st_module, name), "__module__", "") or ""
        if not_provided_name_reason(relative, name) or (
            owner.startswith("sentence_transformers.") and not_provided_reason(_relative(owner))
        ):
            with pytest.raises(AttributeError):
                getattr(module, name)
            continue
        try:
            getattr(module, name)
        except AttributeError as exc:
            unresolved.append(f"{name}: {str(exc).splitlines()[0]}")
    assert not unresolved, (
        f"{st_path}: names neither provided nor listed in sentrix._compat.table.NOT_PROVIDED_NAMES:\n  "
        + "\n  ".join(unresolved)
    )


def test_table_targets_exist():
    for target in MODULES.values():
        importlib.import_module(target)
    for path, names in NAMES.items():
        for name, target in names.items():
            module_name, _, attribute = target.partition(":")
            if module_name in ("sentrix.losses", "sentrix.evaluation", "sentrix.models"):
                continue  # registry-backed; covered by the path test
            assert hasattr(importlib.import_module(module_name), attribute or name), (path, name, target)


def test_class_named_paths_do_not_shadow_the_class():
    import sentrix.losses.CoSENTLoss as compat_module  # noqa: F401  (the old one-module-per-class path)
    from sentrix.losses import CoSENTLoss

    assert isinstance(CoSENTLoss, type)
    assert sentrix.losses.CoSENTLoss is CoSENTLoss


def test_deep_paths_give_the_registered_objects():
    from sentrix.losses import TripletLoss as short
    from sentrix.sentence_transformer.losses.triplet import TripletDistanceMetric, TripletLoss

    assert TripletLoss is short
    assert TripletDistanceMetric is TripletLoss.DistanceMetric or TripletDistanceMetric.__name__ == "TripletDistanceMetric"


def test_from_import_of_a_missing_name_keeps_the_helpful_message():
    with pytest.raises(ImportError, match="List them with `sentrix plugins list --kind losses`"):
        from sentrix.losses import NoSuchLossAnywhere  # noqa: F401
    with pytest.raises(ImportError, match="different model family"):
        from sentrix import CrossEncoder  # noqa: F401
    with pytest.raises(ModuleNotFoundError, match="sentrix does not provide `sentence_transformers.cross_encoder`"):
        import sentrix.cross_encoder  # noqa: F401


def test_hasattr_stays_false_for_missing_names():
    assert not hasattr(sentrix.losses, "NoSuchLossAnywhere")
    assert not hasattr(sentrix, "CrossEncoder")


def _st_module_classes():
    import sentence_transformers.sentence_transformer.modules as st_modules
    from sentence_transformers.base.modules.module import Module as STModule

    for name in sorted(st_modules.__all__):
        value = getattr(st_modules, name)
        if inspect.isclass(value) and issubclass(value, STModule) and value is not STModule:
            yield value


@pytest.mark.parametrize("st_class", list(_st_module_classes()), ids=lambda c: c.__name__)
def test_saved_module_type_paths_load(st_class):
    """The ``type`` sentence-transformers writes to modules.json resolves to the sentrix module of that name."""
    from sentrix.module_base import resolve_module_class

    type_path = f"{st_class.__module__}.{st_class.__name__}"
    relative = _relative(st_class.__module__)
    reason = not_provided_name_reason(relative, st_class.__name__) or not_provided_name_reason("models", st_class.__name__)
    if reason is not None or st_class.__name__ in ("Module", "InputModule"):
        return
    resolved = resolve_module_class(type_path)
    assert resolved.__name__ == st_class.__name__ or st_class.__name__ == "Asym"
