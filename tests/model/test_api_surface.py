"""Smaller parts of the ``SentenceTransformer`` API, compared with sentence-transformers 6.2 on the
same tiny folder: ``processor``, ``modalities``, ``supports``, ``is_singular_input``,
``get_sentence_features`` and ``smart_batching_collate``."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from sentrix import InputExample, SentenceTransformer

pytestmark = pytest.mark.oracle

import sentence_transformers as st


@pytest.fixture(scope="module")
def st_model(tiny_folder):
    return st.SentenceTransformer(str(tiny_folder), device="cpu")


def tensors(features: dict) -> dict:
    """The tensor entries as lists (sentence-transformers also adds ``"modality": "text"``)."""
    return {key: value.tolist() for key, value in features.items() if isinstance(value, torch.Tensor)}


def test_processor_is_the_first_modules_tokenizer(tiny_model, st_model):
    assert tiny_model.processor is tiny_model[0].tokenizer
    assert type(tiny_model.processor) is type(st_model.processor)
    assert tiny_model.processor("a test") == st_model.processor("a test")


MODALITIES = ["text", "image", "audio", "message", ("image", "text"), ("text",)]


def test_modalities_and_supports(tiny_model, st_model):
    assert tiny_model.modalities == st_model.modalities == ["text"]
    assert [tiny_model.supports(m) for m in MODALITIES] == [st_model.supports(m) for m in MODALITIES]
    assert tiny_model.supports("text") and not tiny_model.supports("image")


def test_supports_combined_modalities_with_message_inputs(tiny_model, monkeypatch):
    monkeypatch.setattr(type(tiny_model[0]), "modalities", ["text", "image", "message"], raising=False)
    assert tiny_model.supports(("image", "text"))
    assert not tiny_model.supports(("audio", "text"))


def singular_cases():
    return [
        "one text", ["a", "b"], ("a", "b"), [], np.array(["a", "b"]), np.array(["a"], dtype=object),
        np.array([1.0, 2.0]), {"text": "x"}, [{"role": "user", "content": "hi"}], [{"text": "x"}], 5, None,
    ]


def test_is_singular_input(tiny_model, st_model):
    expected = [st_model.is_singular_input(case) for case in singular_cases()]
    assert [tiny_model.is_singular_input(case) for case in singular_cases()] == expected
    assert [SentenceTransformer.is_singular_input(case) for case in singular_cases()] == expected  # static
    assert expected[:3] == [True, False, False]


def test_is_singular_input_datasets_column(tiny_model, st_model):
    import datasets as datasets
    column = datasets.Dataset.from_dict({"text": ["a", "b"]})["text"]
    assert tiny_model.is_singular_input(column) is st_model.is_singular_input(column) is False


def test_get_sentence_features_is_deprecated_and_delegates(tiny_model, st_model):
    with pytest.warns(DeprecationWarning, match="get_sentence_features"), pytest.raises(AttributeError) as ours:
        tiny_model.get_sentence_features({"input_ids": torch.tensor([[1]])})
    with pytest.warns(DeprecationWarning), pytest.raises(AttributeError) as theirs:
        st_model.get_sentence_features({"input_ids": torch.tensor([[1]])})
    assert str(ours.value) == str(theirs.value)  # the Transformer module has no get_sentence_features


def test_smart_batching_collate(tiny_model, st_model):
    rows = [(["A man plays guitar.", "music"], 1.0), (["the cat", "a dog runs in the park"], 0.0), (["x", "y"], 0.5)]
    ours = tiny_model.smart_batching_collate([InputExample(texts=texts, label=label) for texts, label in rows])
    theirs = st_model.smart_batching_collate([st.InputExample(texts=texts, label=label) for texts, label in rows])
    assert len(ours[0]) == len(theirs[0]) == 2  # one features dict per text column
    assert [tensors(features) for features in ours[0]] == [tensors(features) for features in theirs[0]]
    assert torch.equal(ours[1], theirs[1]) and ours[1].dtype == theirs[1].dtype == torch.float32
    # the features run through the model as in an old custom training loop
    embeddings = tiny_model(ours[0][0])["sentence_embedding"]
    np.testing.assert_allclose(embeddings.detach().numpy(), tiny_model.encode([t[0] for t, _ in rows]), atol=1e-5)


@pytest.mark.parametrize("labels", [[1, 0], [np.array([1.0, 2.0]), np.array([3.0, 4.0])]], ids=["int", "ndarray"])
def test_smart_batching_collate_labels(tiny_model, st_model, labels):
    ours = tiny_model.smart_batching_collate([InputExample(texts=["a"], label=label) for label in labels])[1]
    theirs = st_model.smart_batching_collate([st.InputExample(texts=["a"], label=label) for label in labels])[1]
    assert torch.equal(ours, theirs) and ours.dtype == theirs.dtype
