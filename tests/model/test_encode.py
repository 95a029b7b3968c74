"""encode() and friends on the tiny model: shapes, order, options, prompts, similarity."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from sentrix import SentenceTransformer
from sentrix.errors import InvalidInputError


def manual_mean_embedding(model, text: str, prompt: str = "") -> torch.Tensor:
    """Tokenize one text alone and mean-pool by hand (no batching, no sorting)."""
    transformer = model[0]
    features = transformer.tokenizer([prompt + text], return_tensors="pt", truncation=True)
    with torch.inference_mode():
        tokens = transformer.auto_model(**features).last_hidden_state[0]
    return tokens.mean(dim=0)


def test_single_string_gives_one_vector_and_list_gives_matrix(tiny_model, texts):
    one = tiny_model.encode(texts[0])
    many = tiny_model.encode(texts)
    assert one.shape == (32,)
    assert many.shape == (len(texts), 32)
    assert isinstance(many, np.ndarray) and many.dtype == np.float32
    np.testing.assert_allclose(one, many[0], atol=1e-5)


def test_length_sorted_batches_keep_input_order(tiny_model, texts):
    batched = tiny_model.encode(texts, batch_size=3)
    for row, text in zip(batched, texts):
        np.testing.assert_allclose(row, manual_mean_embedding(tiny_model, text).numpy(), atol=1e-5)


def test_numpy_and_tuple_inputs(tiny_model, texts):
    expected = tiny_model.encode(texts)
    np.testing.assert_allclose(tiny_model.encode(np.array(texts)), expected, atol=1e-6)
    np.testing.assert_allclose(tiny_model.encode(tuple(texts)), expected, atol=1e-6)
    assert tiny_model.encode([]).shape == (0,)


def test_output_types(tiny_model, texts):
    as_tensor = tiny_model.encode(texts, convert_to_tensor=True)
    assert isinstance(as_tensor, torch.Tensor) and as_tensor.shape == (len(texts), 32)
    as_list = tiny_model.encode(texts, convert_to_numpy=False)
    assert isinstance(as_list, list) and len(as_list) == len(texts) and isinstance(as_list[0], torch.Tensor)
    torch.testing.assert_close(torch.stack(as_list), as_tensor)


def test_normalize_and_truncate(tiny_model, texts):
    full = tiny_model.encode(texts)
    normalized = tiny_model.encode(texts, normalize_embeddings=True)
    np.testing.assert_allclose(np.linalg.norm(normalized, axis=1), 1.0, atol=1e-5)
    np.testing.assert_allclose(normalized, full / np.linalg.norm(full, axis=1, keepdims=True), atol=1e-5)
    cut = tiny_model.encode(texts, truncate_dim=8, normalize_embeddings=True)
    expected = full[:, :8] / np.linalg.norm(full[:, :8], axis=1, keepdims=True)
    np.testing.assert_allclose(cut, expected, atol=1e-5)
    with tiny_model.truncate_embeddings(4):
        assert tiny_model.encode(texts).shape == (len(texts), 4)
        assert tiny_model.get_embedding_dimension() == 4
    assert tiny_model.get_embedding_dimension() == 32 == tiny_model.get_sentence_embedding_dimension()


@pytest.mark.parametrize("precision, dtype, width", [
    ("int8", np.int8, 32), ("uint8", np.uint8, 32), ("binary", np.int8, 4), ("ubinary", np.uint8, 4),
])
def test_precision(tiny_model, texts, precision, dtype, width):
    full = tiny_model.encode(texts)
    quantized = tiny_model.encode(texts, precision=precision)
    assert quantized.dtype == dtype and quantized.shape == (len(texts), width)
    if precision == "ubinary":
        np.testing.assert_array_equal(np.unpackbits(quantized, axis=1).astype(bool), full > 0)
    if precision == "uint8":  # each dimension's minimum lands in bucket 0, its maximum in the top bucket
        assert (quantized.min(axis=0) == 0).all() and (quantized.max(axis=0) >= 254).all()


def test_token_embeddings_drop_padding(tiny_model, texts):
    tokens = tiny_model.encode(texts, output_value="token_embeddings")
    assert isinstance(tokens, list) and len(tokens) == len(texts)
    for text, matrix in zip(texts, tokens):
        n_tokens = len(tiny_model.tokenizer(text)["input_ids"])
        assert matrix.shape == (n_tokens, 32)
        torch.testing.assert_close(matrix.mean(dim=0), manual_mean_embedding(tiny_model, text), atol=1e-5, rtol=0)


def test_output_value_none_gives_all_features(tiny_model, texts):
    outputs = tiny_model.encode(texts[:3], output_value=None)
    assert len(outputs) == 3
    assert {"input_ids", "attention_mask", "token_embeddings", "sentence_embedding"} <= set(outputs[0])
    single = tiny_model.encode(texts[0], output_value=None)
    assert isinstance(single, dict) and single["sentence_embedding"].shape == (32,)


def test_prompts(tiny_folder, texts):
    model = SentenceTransformer(str(tiny_folder), device="cpu", prompts={"query": "query: ", "passage": "passage: "})
    assert model.prompts == {"query": "query: ", "document": "", "passage": "passage: "}
    with_name = model.encode(texts[:2], prompt_name="query")
    with_text = model.encode(texts[:2], prompt="query: ")
    np.testing.assert_allclose(with_name, with_text, atol=1e-6)
    np.testing.assert_allclose(with_text[0], manual_mean_embedding(model, texts[0], "query: ").numpy(), atol=1e-5)
    np.testing.assert_allclose(model.encode_query(texts[:2]), with_text, atol=1e-6)
    np.testing.assert_allclose(model.encode_document(texts[:2]), model.encode(texts[:2]), atol=1e-6)
    assert not np.allclose(with_text, model.encode(texts[:2]), atol=1e-4)


def test_default_prompt_name(tiny_folder, texts):
    model = SentenceTransformer(str(tiny_folder), device="cpu", prompts={"query": "query: "},
                                default_prompt_name="query")
    np.testing.assert_allclose(model.encode(texts[:2]), model.encode(texts[:2], prompt="query: "), atol=1e-6)
    np.testing.assert_allclose(model.encode(texts[:2], prompt=""), model.encode_document(texts[:2]), atol=1e-6)


def test_pooling_without_prompt_tokens(tiny_folder, texts):
    model = SentenceTransformer(str(tiny_folder), device="cpu")
    model.set_pooling_include_prompt(False)
    prompt = "query: "
    embedding = model.encode(texts[1], prompt=prompt)
    features = model[0].tokenizer([prompt + texts[1]], return_tensors="pt")
    prompt_tokens = len(model[0].tokenizer(prompt)["input_ids"]) - 1  # without [SEP]
    with torch.inference_mode():
        tokens = model[0].auto_model(**features).last_hidden_state[0]
    np.testing.assert_allclose(embedding, tokens[prompt_tokens:].mean(dim=0).numpy(), atol=1e-5)


def test_similarity_functions(tiny_folder, texts):
    model = SentenceTransformer(str(tiny_folder), device="cpu")
    emb = model.encode(texts[:4], convert_to_tensor=True)
    assert model.similarity_fn_name == "cosine"
    unit = torch.nn.functional.normalize(emb, dim=1)
    torch.testing.assert_close(model.similarity(emb, emb), unit @ unit.T)
    torch.testing.assert_close(model.similarity_pairwise(emb, emb.flip(0)), (unit * unit.flip(0)).sum(1))
    model.similarity_fn_name = "dot"
    torch.testing.assert_close(model.similarity(emb, emb), emb @ emb.T)
    model.similarity_fn_name = "euclidean"
    torch.testing.assert_close(model.similarity(emb, emb), -torch.cdist(emb, emb), atol=1e-4, rtol=0)
    model.similarity_fn_name = "manhattan"
    torch.testing.assert_close(model.similarity_pairwise(emb, emb.flip(0)), -(emb - emb.flip(0)).abs().sum(1))
    with pytest.raises(InvalidInputError, match="similarity_fn_name must be one of cosine, dot, euclidean, manhattan"):
        model.similarity_fn_name = "jaccard"


def test_tokenize_and_forward(tiny_model, texts):
    features = tiny_model.tokenize(texts[:2])
    assert set(features) >= {"input_ids", "attention_mask"}
    out = tiny_model(dict(features))
    torch.testing.assert_close(out["sentence_embedding"].detach(), tiny_model.encode(texts[:2], convert_to_tensor=True))
    pairs = tiny_model.preprocess([("a question", "an answer")])
    assert (pairs["token_type_ids"] == 1).any()


def test_progress_bar_and_device(tiny_model, texts, capsys):
    tiny_model.encode(texts, show_progress_bar=True, batch_size=2, device="cpu")
    assert "Batches" in capsys.readouterr().err
    assert tiny_model.device.type == "cpu"


def test_model_properties(tiny_model):
    assert len(tiny_model) == 2
    assert tiny_model._first_module() is tiny_model[0]
    assert tiny_model.max_seq_length == 128
    assert tiny_model.tokenizer is tiny_model[0].tokenizer
    assert tiny_model.truncate_dim is None
    assert tiny_model.default_prompt_name is None
    assert tiny_model.get_model_kwargs() == []


def test_wrong_inputs_are_reported_before_work(tiny_model):
    with pytest.raises(InvalidInputError, match=r"encode\(\) expects a string or a list of strings, but input 1 is int"):
        tiny_model.encode(["fine", 5])
    with pytest.raises(InvalidInputError, match=r"input 0 is NoneType"):
        tiny_model.encode([None])
    with pytest.raises(InvalidInputError, match=r"encode\(\) expects a string or a list of strings, got int"):
        tiny_model.encode(12)
    with pytest.raises(InvalidInputError, match=r"Unknown prompt_name 'qeury'; this model's prompts are \['document', 'query'\]"):
        tiny_model.encode("x", prompt_name="qeury")
    with pytest.raises(InvalidInputError, match="precision must be one of float32, int8, uint8, binary, ubinary"):
        tiny_model.encode("x", precision="int4")
    with pytest.raises(InvalidInputError, match="batch_size must be a positive integer, got 0"):
        tiny_model.encode("x", batch_size=0)
    with pytest.raises(InvalidInputError, match="chunk_size must be a positive integer, got 0"):
        tiny_model.encode(["x"], device=["cpu", "cpu"], chunk_size=0)  # checked before any process starts
    with pytest.raises(InvalidInputError, match=r"keyword arguments this model does not use: \['colour'\]"):
        tiny_model.encode("x", colour="red")
