"""Every built-in loss is registered, buildable by name, and describes itself."""

from __future__ import annotations

import inspect

import pytest
import torch
from loss_test_helpers import make_batch

import sentrix.losses
from sentrix.data_needs import DataNeeds
from sentrix.registry import losses as registry

BUILT_INS = {
    "cosent": "CoSENTLoss",
    "multiple_negatives_ranking": "MultipleNegativesRankingLoss",
    "cosine_similarity": "CosineSimilarityLoss",
    "softmax": "SoftmaxLoss",
    "triplet": "TripletLoss",
    "matryoshka": "MatryoshkaLoss",
}


@pytest.mark.parametrize("name, alias", sorted(BUILT_INS.items()))
def test_registered_with_alias_and_self_description(tiny_model, name, alias):
    cls = registry.get(name)
    assert registry.get(alias) is cls is getattr(sentrix.losses, alias)
    assert isinstance(cls.data_needs, DataNeeds)
    doc = inspect.getdoc(cls)
    lines = doc.splitlines()
    for section in ("Inputs:", "Sampler:", "Args:", "Example:", "References:"):  # the component docstring layout
        assert section in lines, f"{alias} docstring lacks the section header {section!r}"
    loss = cls.contract_example(tiny_model)
    assert isinstance(loss, torch.nn.Module) and loss.model is tiny_model
    assert isinstance(loss.get_config_dict(), dict)
    assert "@" in loss.citation


@pytest.mark.parametrize("name", ["cosent", "multiple_negatives_ranking", "cosine_similarity", "triplet"])
def test_default_construction_by_name(tiny_model, name):
    assert isinstance(registry.create(name, model=tiny_model), registry.get(name))


@pytest.mark.parametrize("name", sorted(BUILT_INS))
def test_contract_example_trains_on_a_batch_built_from_data_needs(tiny_model, name):
    loss = registry.get(name).contract_example(tiny_model)
    needs = loss.data_needs
    rows = 4
    batch = make_batch(tiny_model, needs.min_columns, rows=rows)
    labels = {"none": None, "float": torch.rand(rows), "int": torch.arange(rows) % 2, "any": None}[needs.label]
    value = loss(batch, labels)
    value.backward()
    assert value.ndim == 0 and torch.isfinite(value)
    assert any(p.grad is not None for p in tiny_model.parameters())


def test_matryoshka_takes_the_inner_loss_needs(tiny_model):
    loss = registry.create("matryoshka", model=tiny_model, loss="cosent", matryoshka_dims=[32, 8])
    assert loss.data_needs == registry.get("cosent").data_needs
    assert type(loss.loss).__name__ == "CoSENTLoss"


def test_triplet_metric_reachable_from_the_public_loss():
    Triplet = sentrix.losses.TripletLoss
    assert set(vars(Triplet.DistanceMetric)) >= {"COSINE", "EUCLIDEAN", "MANHATTAN"}
