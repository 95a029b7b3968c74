"""Wrong batches and wrong parameters stop with a message that says what to fix."""

from __future__ import annotations

import pytest
import torch
from loss_test_helpers import make_batch

from sentrix.errors import InvalidInputError
from sentrix.registry import losses as registry


def test_wrong_number_of_columns(tiny_model):
    loss = registry.create("cosent", model=tiny_model)
    with pytest.raises(InvalidInputError) as info:
        loss(make_batch(tiny_model, 3, rows=4), torch.rand(4))
    assert str(info.value).startswith(
        "CoSENTLoss needs 2 text columns (sentence_A, sentence_B), but the batch has 3 text columns. "
        "Fix: keep only the needed text columns in the dataset"
    )


@pytest.mark.parametrize("name, columns", [("multiple_negatives_ranking", 1), ("triplet", 2)])
def test_too_few_columns(tiny_model, name, columns):
    loss = registry.create(name, model=tiny_model)
    with pytest.raises(InvalidInputError, match=r"needs (2 or more|3) text columns .* but the batch has \d text column"):
        loss(make_batch(tiny_model, columns, rows=4), None)


@pytest.mark.parametrize("name", ["cosent", "cosine_similarity"])
def test_missing_labels(tiny_model, name):
    loss = registry.create(name, model=tiny_model)
    with pytest.raises(InvalidInputError) as info:
        loss(make_batch(tiny_model, 2, rows=4), None)
    assert "needs a label column (a float score per row), but the batch has no labels." in str(info.value)
    assert "named 'label' or 'score'" in str(info.value)


def test_wrong_number_of_labels(tiny_model):
    loss = registry.create("cosent", model=tiny_model)
    with pytest.raises(InvalidInputError, match=r"expects one label per example \(4 in this batch\), but got labels of shape \(3,\)"):
        loss(make_batch(tiny_model, 2, rows=4), torch.rand(3))


def test_softmax_float_labels_and_missing_num_labels(tiny_model):
    loss = registry.create("softmax", model=tiny_model, num_labels=3)
    with pytest.raises(InvalidInputError, match=r"SoftmaxLoss needs integer class ids as labels, but got torch.float32"):
        loss(make_batch(tiny_model, 2, rows=4), torch.rand(4))
    with pytest.raises(InvalidInputError, match=r"SoftmaxLoss needs num_labels, the number of classes \(e.g. 3 for NLI\), got None"):
        registry.create("softmax", model=tiny_model)
    # without labels it hands back embeddings and logits, for label-accuracy evaluation
    embeddings, logits = loss(make_batch(tiny_model, 2, rows=4), None)
    assert logits.shape == (4, 3) and len(embeddings) == 2


def test_softmax_old_dimension_name_still_works(tiny_model):
    with pytest.warns(FutureWarning, match="older name of embedding_dimension"):
        loss = registry.get("SoftmaxLoss")(tiny_model, sentence_embedding_dimension=32, num_labels=2)
    assert loss.classifier.in_features == 3 * 32


def test_matryoshka_bad_dims(tiny_model):
    inner = registry.create("cosent", model=tiny_model)
    Matryoshka = registry.get("matryoshka")
    with pytest.raises(InvalidInputError, match=r"matryoshka_dims \[64\] exceed the model's embedding dimension 32"):
        Matryoshka(tiny_model, inner, matryoshka_dims=[64, 32])
    with pytest.raises(InvalidInputError, match="matryoshka_dims is empty"):
        Matryoshka(tiny_model, inner, matryoshka_dims=[])
    with pytest.raises(InvalidInputError, match="matryoshka_weights has 1 values but matryoshka_dims has 2"):
        Matryoshka(tiny_model, inner, matryoshka_dims=[32, 16], matryoshka_weights=[1])


def test_mnrl_bad_parameters(tiny_model):
    MNRL = registry.get("MultipleNegativesRankingLoss")
    with pytest.raises(ValueError, match="scale must be > 0"):
        MNRL(tiny_model, scale=0)
    with pytest.raises(ValueError, match="directions must include 'query_to_doc'"):
        MNRL(tiny_model, directions=("doc_to_query",))
    with pytest.raises(ValueError, match="per_direction.*use partition_mode='joint'"):
        MNRL(tiny_model, directions=("query_to_doc", "doc_to_doc"), partition_mode="per_direction")
    with pytest.raises(ValueError, match="Unknown similarity function 'cosin'"):
        MNRL(tiny_model, similarity_fct="cosin")


def test_triplet_unknown_metric(tiny_model):
    with pytest.raises(InvalidInputError, match="TripletLoss: unknown distance_metric 'hamming'"):
        registry.create("triplet", model=tiny_model, distance_metric="hamming")
