"""The tiny-model factory every test uses: deterministic, offline, sentence-transformers layout."""

from __future__ import annotations

import json

import numpy as np

from sentrix.testing.tiny_models import TINY_HIDDEN_SIZE, tiny_model_folder, tiny_sentence_transformer, tiny_vocab


def test_same_seed_same_model_other_seed_other_model(tmp_path, texts):
    a = tiny_sentence_transformer(tmp_path / "a")
    b = tiny_sentence_transformer(tmp_path / "b")
    c = tiny_sentence_transformer(tmp_path / "c", seed=1)
    np.testing.assert_array_equal(a.encode(texts), b.encode(texts))
    assert not np.allclose(a.encode(texts), c.encode(texts))
    assert a.get_embedding_dimension() == TINY_HIDDEN_SIZE == 32


def test_layout_and_options(tmp_path):
    folder = tiny_model_folder(tmp_path / "m", normalize=True, pooling_mode="cls", max_seq_length=16,
                               prompts={"query": "q: "})
    types = [entry["type"] for entry in json.loads((folder / "modules.json").read_text())]
    assert types == ["sentence_transformers.base.modules.transformer.Transformer",
                     "sentence_transformers.sentence_transformer.modules.pooling.Pooling",
                     "sentence_transformers.base.modules.normalize.Normalize"]
    config = json.loads((folder / "config.json").read_text())
    assert (config["num_hidden_layers"], config["hidden_size"], config["num_attention_heads"],
            config["intermediate_size"]) == (2, 32, 4, 64)
    model = tiny_sentence_transformer(tmp_path / "m2", normalize=True, pooling_mode="cls", max_seq_length=16,
                                      prompts={"query": "q: "})
    assert model.max_seq_length == 16 and model[1].pooling_mode == "cls" and model.prompts["query"] == "q: "
    np.testing.assert_allclose(np.linalg.norm(model.encode(["a cat"]), axis=1), 1.0, atol=1e-5)


def test_real_wordpiece_tokenizer(tiny_model):
    tokens = tiny_model.tokenizer.tokenize("The Cat plays xylophone!")
    assert tokens[:3] == ["the", "cat", "plays"] and "##y" in tokens and tokens[-1] == "!"
    assert "[UNK]" not in tokens
    assert len(tiny_model.tokenizer) == len(tiny_vocab())
