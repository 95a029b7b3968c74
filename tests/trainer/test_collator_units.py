"""The data collator and the model-card helpers on their own (no model, no training)."""

from __future__ import annotations

import pytest
import torch

from sentrix import SentenceTransformerDataCollator
from sentrix.errors import InvalidInputError


def fake_tokenize(texts, prompt=None, task=None):
    texts = [(prompt or "") + t for t in texts]
    return {"input_ids": torch.tensor([[len(t)] for t in texts]), "texts": texts, "task_seen": task}


def test_columns_are_tokenised_in_order_and_the_label_is_a_tensor():
    collator = SentenceTransformerDataCollator(tokenize_fn=fake_tokenize)
    batch = collator([{"q": "ab", "d": "abcd", "score": 0.5}, {"q": "a", "d": "abc", "score": 1.0}])
    assert [k for k in batch if k.endswith("_input_ids")] == ["q_input_ids", "d_input_ids"]
    assert batch["q_texts"] == ["ab", "a"] and batch["d_texts"] == ["abcd", "abc"]
    assert torch.equal(batch["label"], torch.tensor([0.5, 1.0]))
    assert "score_input_ids" not in batch


def test_prompt_is_prepended_when_the_tokenizer_takes_no_prompt_argument():
    def plain(texts):
        return {"input_ids": torch.zeros(len(texts), 1), "texts": list(texts)}

    collator = SentenceTransformerDataCollator(tokenize_fn=plain, prompts={"q": "query: "})
    batch = collator([{"q": "x", "d": "y"}])
    assert batch["q_texts"] == ["query: x"] and batch["d_texts"] == ["y"]


def test_dataset_specific_prompts_and_routes():
    collator = SentenceTransformerDataCollator(
        tokenize_fn=fake_tokenize,
        prompts={"nli": {"d": "doc: "}, "qa": "qa: "},
        router_mapping={"nli": {"q": "query", "d": "document"}, "qa": {"q": "query"}},
    )
    nli = collator([{"q": "x", "d": "y", "dataset_name": "nli"}])
    assert nli["q_texts"] == ["x"] and nli["d_texts"] == ["doc: y"]
    assert nli["q_task"] == "query" and nli["d_task"] == "document" and nli["dataset_name"] == "nli"
    qa = collator([{"q": "x", "d": "y", "dataset_name": "qa"}])
    assert qa["q_texts"] == ["qa: x"] and qa["d_texts"] == ["qa: y"]
    assert qa["q_task"] == "query" and "d_task" not in qa


def test_nested_prompts_need_named_datasets():
    collator = SentenceTransformerDataCollator(tokenize_fn=fake_tokenize, prompts={"nli": {"q": "a: "}})
    with pytest.raises(InvalidInputError, match=r"nested dict .* the dataset is a single Dataset.*\['nli'\]"):
        collator([{"q": "x", "d": "y"}])


def test_collator_needs_a_tokenizer_function():
    with pytest.raises(InvalidInputError, match="needs `tokenize_fn`"):
        SentenceTransformerDataCollator()
    assert SentenceTransformerDataCollator(preprocess_fn=fake_tokenize).tokenize_fn is fake_tokenize


def test_model_card_never_contains_a_token():
    from sentrix.model_card import SentenceTransformerModelCardData, generate_model_card, redact_secrets

    token = "hf_" + "a1B2c3D4e5" * 3
    assert redact_secrets({"hub_token": token, "lr": 1, "nested": {"api_key": "x", "note": f"use {token}"}}) == {
        "lr": 1, "nested": {"note": "use <redacted>"}
    }

    class Model:
        model_card_data = SentenceTransformerModelCardData(language="en", license="apache-2.0", model_name=f"model {token}")

    Model.model_card_data.non_default_hyperparameters = {"hub_token": token, "learning_rate": 1e-4}
    Model.model_card_data.resolved_config = {"push_to_hub_token": token}
    card = generate_model_card(Model())
    assert token not in card
    assert "license: apache-2.0" in card and "- `learning_rate`: 0.0001" in card
