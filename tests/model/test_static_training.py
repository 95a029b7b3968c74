"""Static-embedding training end to end on a tiny vocabulary, through the example's own functions.

A StaticEmbedding on the tiny WordPiece tokenizer is trained with MultipleNegativesRankingLoss wrapped
in MatryoshkaLoss (examples/static_embedding.py) on the bundled NLI triplet sample; the loss on the
training pairs must fall, the vectors must change, and the saved folder must load back with the same
embeddings.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import torch

from sentrix import SentenceTransformer
from sentrix.losses import MatryoshkaLoss, MultipleNegativesRankingLoss
from sentrix.models import StaticEmbedding
from sentrix.testing.tiny_models import tiny_tokenizer

REPO = Path(__file__).resolve().parents[2]


def load_example():
    spec = importlib.util.spec_from_file_location("static_embedding_example", REPO / "examples" / "static_embedding.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def mean_loss(model, dataset, dims) -> float:
    loss = MatryoshkaLoss(model, MultipleNegativesRankingLoss(model), matryoshka_dims=dims)
    features = [model.tokenize(dataset[column]) for column in ("anchor", "positive")]
    with torch.no_grad():
        return float(loss(features, torch.zeros(len(dataset))))


def test_static_model_trains_end_to_end(tmp_path):
    example = load_example()
    dataset = example.read_pairs([str(REPO / "tests" / "data" / "snli_dev_triplets_sample.tsv")])
    assert dataset.column_names == ["anchor", "positive"] and len(dataset) > 30
    torch.manual_seed(0)
    model = SentenceTransformer(modules=[StaticEmbedding(tiny_tokenizer(), embedding_dim=16)], device="cpu")
    initial = model[0].embedding.weight.detach().clone()
    dims = [16, 8]
    before = mean_loss(model, dataset, dims)
    history = example.train(model, dataset, dims, str(tmp_path / "run"), batch_size=16, epochs=3, max_steps=-1,
                            learning_rate=0.2)
    after = mean_loss(model, dataset, dims)
    assert any("loss" in entry for entry in history)
    assert after < before * 0.9, (before, after)
    assert not torch.equal(model[0].embedding.weight, initial)

    model.save(str(tmp_path / "saved"))
    reloaded = SentenceTransformer(str(tmp_path / "saved"), device="cpu")
    texts = dataset["anchor"][:5]
    np.testing.assert_allclose(reloaded.encode(texts), model.encode(texts), atol=1e-6)
    with model.truncate_embeddings(8):
        assert model.encode(texts).shape == (5, 8)
