"""Docs, docstrings and messages name only components that exist.

Every ``...Loss``, ``...Evaluator`` and ``...BatchSampler`` class name written in the core, the
built-ins, the templates and the docs must be a registered component (or one of the few base
classes the core defines), so nobody is sent to a component that is not there.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SOURCES = [
    *sorted((ROOT / "core" / "sentrix").rglob("*.py")),
    *sorted((ROOT / "plugins" / "sentrix_builtins").rglob("*.py")),
    *sorted((ROOT / "templates").rglob("*.tmpl")),
    *sorted((ROOT / "docs").glob("*.md")),
    ROOT / "README.md",
]
NAME = re.compile(r"\b([A-Z][A-Za-z0-9]*(?:Loss|Evaluator|BatchSampler))\b")
# Classes the core defines that are not registry components, and names that are not classes.
NOT_COMPONENTS = {
    "SentenceEvaluator", "BaseEvaluator", "DefaultBatchSampler", "MultiDatasetDefaultBatchSampler",
    "BatchSampler",  # torch.utils.data.BatchSampler
    "CrossEntropyLoss", "MSELoss", "KLDivLoss", "BCEWithLogitsLoss", "L1Loss",  # torch.nn losses (MSELoss is also ours)
    # the custom components that examples for plugin authors write themselves
    "MyLoss", "FocalLoss", "FocalRankingLoss", "MeanNormEvaluator",
}


def _known_names() -> set[str]:
    from sentrix.registry import get_registry

    names = set(NOT_COMPONENTS)
    for kind in ("losses", "evaluators", "batch_samplers", "multi_dataset_batch_samplers"):
        names.update(get_registry(kind).names(include_aliases=True))
    return names


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(ROOT)))
def test_named_components_exist(path):
    known = _known_names()
    text = path.read_text(encoding="utf-8")
    unknown = sorted({name for name in NAME.findall(text) if name not in known and not name.startswith("_")})
    # The compatibility table names what sentrix does *not* provide, on purpose.
    if path.name in ("table.py",):
        return
    assert not unknown, f"{path.relative_to(ROOT)} names components that are not registered: {unknown}"


def test_the_check_sees_an_unknown_name():
    assert NAME.findall("use CachedFancyLoss with NoSuchEvaluator") == ["CachedFancyLoss", "NoSuchEvaluator"]
    assert "CachedFancyLoss" not in _known_names()
