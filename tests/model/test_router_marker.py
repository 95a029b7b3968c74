"""Routing modules are recognised by the declared `routes_inputs` marker, never by their class name."""

from __future__ import annotations

import types

import pytest

from sentrix import SentenceTransformer, SentenceTransformerTrainer, SentenceTransformerTrainingArguments
from sentrix.errors import InvalidInputError
from sentrix.module_base import Module, is_router
from sentrix.registry import modules as registry


def _recorder(marker: bool, class_name: str) -> Module:
    """An identity module that records the keyword arguments the model hands it."""

    def forward(self, features, **kwargs):
        self.seen.append(sorted(kwargs))
        return features

    def save(self, output_path, *args, safe_serialization=True, **kwargs):
        self.save_config(output_path)

    def __init__(self):
        Module.__init__(self)
        self.seen = []

    cls = type(class_name, (Module,), {"forward": forward, "save": save, "__init__": __init__, "routes_inputs": marker})
    return cls()


def test_builtin_router_declares_the_marker_and_plain_modules_do_not():
    assert registry.get("router").routes_inputs is True
    assert is_router(registry.get("router").__new__(registry.get("router")))
    for name in ("transformer", "pooling", "dense", "normalize"):
        assert registry.get(name).routes_inputs is False, name


def test_third_party_module_with_the_marker_gets_every_keyword(tiny_model, texts):
    switch = _recorder(marker=True, class_name="AcmeSwitchboard")
    plain = _recorder(marker=False, class_name="Router")  # the old name check would have matched this one
    model = SentenceTransformer(modules=[tiny_model[0], tiny_model[1], switch, plain], device="cpu")
    model.forward(model.tokenize(texts[:2]), task="query", acme_option=1)
    assert switch.seen == [["acme_option", "task"]]
    assert plain.seen == [[]]


def test_trainer_treats_a_marked_module_as_a_router(tiny_model, tmp_path):
    args = SentenceTransformerTrainingArguments(output_dir=str(tmp_path), report_to=[])
    marked = SentenceTransformer(modules=[tiny_model[0], tiny_model[1], _recorder(True, "AcmeSwitchboard")], device="cpu")
    with pytest.raises(InvalidInputError, match="contains a Router module but `router_mapping` is empty"):
        SentenceTransformerTrainer.get_data_collator(types.SimpleNamespace(), marked, args)
    named = SentenceTransformer(modules=[tiny_model[0], tiny_model[1], _recorder(False, "Router")], device="cpu")
    stub = types.SimpleNamespace(data_collator_class=lambda **kwargs: kwargs)
    assert SentenceTransformerTrainer.get_data_collator(stub, named, args)["router_mapping"] in ({}, None)
