"""Fixtures for the evaluator tests: a tiny model (sentrix and sentence-transformers loads of the
same folder) and small samples of STS-B, SNLI triplets and SciFact from ``tests/data``."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

DATA = Path(__file__).resolve().parent.parent / "data"


def _tsv(name: str) -> list[dict[str, str]]:
    with open(DATA / name, encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle, delimiter="\t", quoting=csv.QUOTE_NONE))


@pytest.fixture(scope="session")
def tiny_folder(tmp_path_factory) -> str:
    from sentrix.testing.tiny_models import tiny_model_folder

    return str(tiny_model_folder(tmp_path_factory.mktemp("evaluators") / "tiny"))


@pytest.fixture(scope="session")
def sentrix_model(tiny_folder):
    from sentrix.model import SentenceTransformer

    return SentenceTransformer(tiny_folder, device="cpu")


@pytest.fixture(scope="session")
def st_model(tiny_folder):
    sentence_transformers = pytest.importorskip("sentence_transformers")
    return sentence_transformers.SentenceTransformer(tiny_folder, device="cpu")


@pytest.fixture(scope="session")
def sts_sample() -> dict[str, list]:
    rows = _tsv("sts_dev_sample.tsv")
    return {
        "sentences1": [r["sentence1"] for r in rows],
        "sentences2": [r["sentence2"] for r in rows],
        "scores": [float(r["score"]) for r in rows],
    }


@pytest.fixture(scope="session")
def triplet_sample() -> dict[str, list]:
    rows = _tsv("snli_dev_triplets_sample.tsv")
    return {key: [r[key] for r in rows] for key in ("anchor", "positive", "negative")}


@pytest.fixture(scope="session")
def scifact_sample() -> dict[str, dict]:
    data = json.loads((DATA / "scifact_sample.json").read_text(encoding="utf-8"))
    data["relevant_docs"] = {q: set(docs) for q, docs in data["relevant_docs"].items()}
    return data


@pytest.fixture(autouse=True)
def single_thread_torch():
    """The tiny model encodes ~10x faster on one thread than on two busy cores."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
