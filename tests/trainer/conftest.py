"""Fixtures for the trainer tests: a tiny model folder (built once) and small in-memory datasets."""

from __future__ import annotations

import logging

import pytest

PAIRS = [
    ("a cat sat on the mat", "a cat sits on the mat", 0.9),
    ("the dog runs in the park", "dogs run in the park", 0.8),
    ("a man eats food", "the woman drinks water", 0.2),
    ("red car on the road", "blue bus in the city", 0.1),
    ("children play football", "kids play soccer", 0.85),
    ("the sun is hot today", "it is cold at night", 0.15),
    ("she reads a book", "a woman reads", 0.7),
    ("the train is fast", "the plane is slow", 0.3),
]


@pytest.fixture(autouse=True)
def _quiet_logs():
    logging.getLogger("transformers").setLevel(logging.ERROR)
    yield


@pytest.fixture(scope="session")
def tiny_folder(tmp_path_factory):
    from sentrix.testing.tiny_models import tiny_model_folder

    return str(tiny_model_folder(tmp_path_factory.mktemp("tiny") / "model"))


@pytest.fixture
def model(tiny_folder):
    from sentrix import SentenceTransformer

    return SentenceTransformer(tiny_folder, device="cpu")


@pytest.fixture
def pair_score_dataset():
    from datasets import Dataset

    rows = PAIRS * 2
    return Dataset.from_dict(
        {"sentence1": [r[0] for r in rows], "sentence2": [r[1] for r in rows], "score": [float(r[2]) for r in rows]}
    )


@pytest.fixture
def anchor_positive_dataset():
    from datasets import Dataset

    return Dataset.from_dict({"anchor": [r[0] for r in PAIRS], "positive": [r[1] for r in PAIRS]})


@pytest.fixture
def triplet_dataset():
    from datasets import Dataset

    n = len(PAIRS)
    return Dataset.from_dict(
        {
            "anchor": [r[0] for r in PAIRS],
            "positive": [r[1] for r in PAIRS],
            "negative": [PAIRS[(i + 3) % n][1] for i in range(n)],
        }
    )
