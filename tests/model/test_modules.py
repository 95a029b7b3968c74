"""Built-in modules: pooling maths, save/load round trips, Router routing, registry names."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from sentrix import SentenceTransformer
from sentrix.registry import modules as registry


def Pooling(*args, **kwargs):
    return registry.get("pooling")(*args, **kwargs)


@pytest.fixture()
def token_batch():
    torch.manual_seed(0)
    tokens = torch.randn(3, 5, 4)
    mask = torch.tensor([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1], [0, 0, 1, 1, 1]])  # right, none, left padding
    return tokens, mask


def _expected(mode, tokens, mask):
    rows = []
    for row_tokens, row_mask in zip(tokens, mask):
        kept = row_tokens[row_mask.bool()]
        if mode == "cls":
            rows.append(kept[0])
        elif mode == "max":
            rows.append(kept.max(dim=0).values)
        elif mode == "mean":
            rows.append(kept.mean(dim=0))
        elif mode == "mean_sqrt_len_tokens":
            rows.append(kept.sum(dim=0) / len(kept) ** 0.5)
        elif mode == "weightedmean":
            weights = torch.arange(1, len(kept) + 1, dtype=torch.float32).unsqueeze(1)
            rows.append((kept * weights).sum(dim=0) / weights.sum())
        elif mode == "lasttoken":
            rows.append(kept[-1])
    return torch.stack(rows)


@pytest.mark.parametrize("mode", ["cls", "max", "mean", "mean_sqrt_len_tokens", "weightedmean", "lasttoken"])
def test_pooling_modes(mode, token_batch):
    tokens, mask = token_batch
    out = Pooling(4, mode)({"token_embeddings": tokens, "attention_mask": mask})["sentence_embedding"]
    torch.testing.assert_close(out, _expected(mode, tokens, mask))


def test_pooling_concatenates_modes_and_excludes_prompt(token_batch):
    tokens, mask = token_batch
    both = Pooling(4, ("cls", "mean"))
    assert both.get_embedding_dimension() == 8
    out = both({"token_embeddings": tokens, "attention_mask": mask})["sentence_embedding"]
    torch.testing.assert_close(out, torch.cat([_expected("cls", tokens, mask), _expected("mean", tokens, mask)], 1))
    no_prompt = Pooling(4, "mean", include_prompt=False)
    out = no_prompt({"token_embeddings": tokens, "attention_mask": mask, "prompt_length": 2})["sentence_embedding"]
    trimmed = mask.clone()
    trimmed[0, :2] = 0
    trimmed[1, :2] = 0
    trimmed[2, 2:4] = 0
    torch.testing.assert_close(out, _expected("mean", tokens, trimmed))
    with pytest.raises(ValueError, match="Unknown pooling mode 'avg'"):
        Pooling(4, "avg")


def _roundtrip(model: SentenceTransformer, tmp_path, texts, **encode_kwargs):
    model.save(str(tmp_path / "saved"))
    loaded = SentenceTransformer(str(tmp_path / "saved"), device="cpu")
    np.testing.assert_allclose(loaded.encode(texts, **encode_kwargs), model.encode(texts, **encode_kwargs), atol=1e-6)
    return loaded


def test_dense_layer_norm_dropout_normalize_roundtrip(tmp_path, tiny_folder, texts):
    model = SentenceTransformer(str(tiny_folder), device="cpu")
    torch.manual_seed(1)
    model.append(registry.get("dense")(32, 16, activation_function=torch.nn.GELU()))
    model.append(registry.get("layer_norm")(16))
    model.append(registry.get("dropout")(0.3))
    model.append(registry.get("normalize")())
    with torch.no_grad():
        model[3].norm.weight.uniform_(0.5, 1.5)
    loaded = _roundtrip(model, tmp_path, texts)
    assert isinstance(loaded[2].activation_function, torch.nn.GELU)
    assert loaded[4].dropout == 0.3 and loaded.get_embedding_dimension() == 16


def test_dense_untrusted_activation_falls_back(tmp_path, tiny_folder, texts):
    model = SentenceTransformer(str(tiny_folder), device="cpu")
    model.append(registry.get("dense")(32, 8))
    model.save(str(tmp_path / "m"))
    import json

    config = tmp_path / "m" / "2_Dense" / "config.json"
    config.write_text(json.dumps({**json.loads(config.read_text()), "activation_function": "os.system"}))
    loaded = SentenceTransformer(str(tmp_path / "m"), device="cpu")
    assert isinstance(loaded[2].activation_function, torch.nn.Tanh)


def test_static_embedding_roundtrip(tmp_path, tiny_model, texts):
    static = registry.get("static_embedding")(tiny_model.tokenizer, embedding_dim=16)
    model = SentenceTransformer(modules=[static], device="cpu")
    out = model.encode(texts)
    assert out.shape == (len(texts), 16)
    ids = tiny_model.tokenizer(texts[1], add_special_tokens=False)["input_ids"]
    np.testing.assert_allclose(out[1], static.embedding.weight[ids].mean(0).detach().numpy(), atol=1e-6)
    _roundtrip(model, tmp_path, texts)


def test_router_routes_query_and_document(tmp_path, tiny_folder, texts):
    base = SentenceTransformer(str(tiny_folder), device="cpu")
    torch.manual_seed(2)
    static = registry.get("static_embedding")(base.tokenizer, embedding_dim=32)
    router = registry.get("router").for_query_document([static], [base[0], base[1]])
    model = SentenceTransformer(modules=[router], device="cpu")
    queries = model.encode_query(texts)
    documents = model.encode_document(texts)
    np.testing.assert_allclose(documents, base.encode(texts), atol=1e-6)
    np.testing.assert_allclose(queries, SentenceTransformer(modules=[static], device="cpu").encode(texts), atol=1e-6)
    np.testing.assert_allclose(model.encode(texts), documents, atol=1e-6)  # default_route="document"
    assert model.get_embedding_dimension() == 32 and "task" in model.get_model_kwargs()
    loaded = _roundtrip(model, tmp_path, texts, task="query")
    np.testing.assert_allclose(loaded.encode_document(texts), documents, atol=1e-6)
    with pytest.raises(ValueError, match="Router has no route for task 'passage'"):
        model.encode(texts, task="passage")


def test_router_route_mappings_and_missing_default(tiny_model, texts):
    Router = registry.get("router")
    router = Router({"a": [tiny_model[0], tiny_model[1]]}, default_route=None, allow_empty_key=False,
                    route_mappings={("query", None): "a"})
    model = SentenceTransformer(modules=[router], device="cpu")
    np.testing.assert_allclose(model.encode_query(texts), tiny_model.encode(texts), atol=1e-6)
    with pytest.raises(ValueError, match="Router cannot choose a route: no task was given and no default_route"):
        model.encode(texts)


def test_registry_names_and_st_type_aliases():
    assert registry.names() == ["bow", "cnn", "dense", "dropout", "layer_norm", "lstm", "normalize", "pooling", "router",
                                "static_embedding", "transformer", "weighted_layer_pooling", "word_embeddings",
                                "word_weights"]
    for alias, canonical in [
        ("sentence_transformers.models.Transformer", "transformer"),
        ("sentence_transformers.base.modules.transformer.Transformer", "transformer"),
        ("sentence_transformers.sentence_transformer.modules.pooling.Pooling", "pooling"),
        ("sentence_transformers.models.Pooling", "pooling"),
        ("sentence_transformers.base.modules.dense.Dense", "dense"),
        ("sentence_transformers.base.modules.normalize.Normalize", "normalize"),
        ("sentence_transformers.base.modules.router.Router", "router"),
        ("sentence_transformers.models.Asym", "router"),
        ("sentence_transformers.sentence_transformer.modules.static_embedding.StaticEmbedding", "static_embedding"),
        ("sentence_transformers.sentence_transformer.modules.dropout.Dropout", "dropout"),
        ("sentence_transformers.sentence_transformer.modules.layer_norm.LayerNorm", "layer_norm"),
        ("LayerNorm", "layer_norm"),
    ]:
        assert registry.get(alias) is registry.get(canonical)
    from sentrix.models import Pooling as PoolingClass

    assert PoolingClass is registry.get("pooling")
