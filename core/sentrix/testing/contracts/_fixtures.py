"""Small inputs shared by the contract suites: texts, labelled datasets, a tiny model."""

from __future__ import annotations

import functools
import tempfile
from pathlib import Path
from typing import Any

TEXTS = [
    "A man is eating food.",
    "A man is eating a piece of bread.",
    "The girl is carrying a baby.",
    "A man is riding a horse.",
    "A woman is playing violin.",
    "Two men pushed carts through the woods.",
    "A man is riding a white horse on an enclosed ground.",
    "A monkey is playing drums.",
    "Someone in a gorilla costume is playing a set of drums.",
    "A cheetah is running behind its prey.",
    "The cat sits on the mat.",
    "Children are playing in the park.",
]


@functools.lru_cache(maxsize=1)
def _tiny_model_folder() -> str:
    from sentrix.testing.tiny_models import tiny_model_folder

    folder = Path(tempfile.mkdtemp(prefix="sentrix-contract-model-"))
    tiny_model_folder(folder)
    return str(folder)


def tiny_model() -> Any:
    """A fresh tiny SentenceTransformer (same weights every call; no state shared between checks)."""
    import torch

    from sentrix.model import SentenceTransformer

    torch.manual_seed(0)
    return SentenceTransformer(_tiny_model_folder(), device="cpu")


def labelled_dataset(rows: int = 40, classes: int = 4, duplicates: bool = True) -> Any:
    """A ``datasets.Dataset`` with anchor/positive text columns and an int ``label`` column."""
    from datasets import Dataset

    anchors = [f"{TEXTS[i % len(TEXTS)]} ({i // 3 if duplicates else i})" for i in range(rows)]
    positives = [f"{TEXTS[(i + 1) % len(TEXTS)]} #{i}" for i in range(rows)]
    return Dataset.from_dict({"anchor": anchors, "positive": positives, "label": [i % classes for i in range(rows)]})
