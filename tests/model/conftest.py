"""Fixtures for the model tests: tiny random models built by ``sentrix.testing.tiny_models``."""

from __future__ import annotations

import gzip
import logging
from pathlib import Path

import pytest

DATA = Path(__file__).resolve().parents[1] / "data"

logging.getLogger("transformers").setLevel(logging.ERROR)


def sts_sentences(n: int = 1000) -> list[str]:
    with gzip.open(DATA / "sts_test_sentences_1000.txt.gz", "rt", encoding="utf-8") as handle:
        return handle.read().splitlines()[:n]


TEXTS = [
    "A man is playing a guitar.",
    "the cat sits on the mat",
    "Dogs run in the park today",
    "a",
    "What is the capital of France?",
    "Paris is the capital of France, and London is the capital of the United Kingdom of Great Britain.",
    "red car",
    "The weather is lovely today.",
]


@pytest.fixture(scope="session")
def tiny_folder(tmp_path_factory) -> Path:
    from sentrix.testing.tiny_models import tiny_model_folder

    return tiny_model_folder(tmp_path_factory.mktemp("tiny") / "model")


@pytest.fixture(scope="session")
def tiny_model(tiny_folder):
    from sentrix import SentenceTransformer

    return SentenceTransformer(str(tiny_folder), device="cpu")


@pytest.fixture(scope="session")
def texts() -> list[str]:
    return list(TEXTS)
