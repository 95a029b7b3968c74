"""The evaluator base class, the ``sentrix.evaluation`` namespace, and the errors users see."""

from __future__ import annotations

import math

import pytest

import sentrix.evaluation as evaluation
from sentrix.errors import InvalidInputError
from sentrix.evaluation import (
    EmbeddingSimilarityEvaluator,
    InformationRetrievalEvaluator,
    SentenceEvaluator,
    SequentialEvaluator,
    SimilarityFunction,
    TripletEvaluator,
)
from sentrix.registry import evaluators

BUILTINS = {
    "embedding_similarity": "EmbeddingSimilarityEvaluator",
    "triplet": "TripletEvaluator",
    "information_retrieval": "InformationRetrievalEvaluator",
    "sequential": "SequentialEvaluator",
}


# -- names -------------------------------------------------------------------------------------


def test_namespace_has_core_names_and_registry_fallback():
    from sentrix.evaluator_base import BaseEvaluator
    from sentrix.similarity import SimilarityFunction as core_similarity

    assert SimilarityFunction is core_similarity
    assert evaluation.BaseEvaluator is BaseEvaluator is SentenceEvaluator
    for canonical, alias in BUILTINS.items():
        cls = evaluators.get(canonical)
        assert cls is evaluators.get(alias) is getattr(evaluation, alias)
        assert issubclass(cls, SentenceEvaluator)
    assert {"SentenceEvaluator", "SimilarityFunction", *BUILTINS.values()} <= set(dir(evaluation))
    with pytest.raises(AttributeError, match=r"(?s)module 'sentrix.evaluation' has no attribute 'NoSuchEvaluator'.*sentrix plugins list"):
        evaluation.NoSuchEvaluator  # noqa: B018


@pytest.mark.parametrize("name", sorted(BUILTINS))
def test_contract_example_runs_on_the_sentrix_model(name, sentrix_model, tmp_path):
    evaluator = evaluators.get(name).contract_example()
    metrics = evaluator(sentrix_model, output_path=str(tmp_path), epoch=0, steps=3)
    assert metrics and all(isinstance(v, float) and math.isfinite(v) for v in metrics.values())
    assert evaluator.primary_metric in metrics
    if evaluator.name:
        assert all(key.startswith(evaluator.name + "_") for key in metrics)


# -- base class ----------------------------------------------------------------------------------


class _Recorder:
    def __init__(self):
        self.calls = []

    def set_evaluation_metrics(self, evaluator, metrics, epoch, step):
        self.calls.append((evaluator, metrics, epoch, step))


class MeanFirstDimEvaluator(SentenceEvaluator):
    """Mean of the first embedding dimension (a minimal custom evaluator)."""

    def __init__(self, name=""):
        super().__init__()
        self.name = name
        self.primary_metric = "mean_first"

    def __call__(self, model, output_path=None, epoch=-1, steps=-1):
        embeddings = self.embed_inputs(model, ["a dog runs", "the cat sits"])
        metrics = self.prefix_name_to_metrics({"mean_first": embeddings[:, 0].mean(), "count": 2}, self.name)
        self.store_metrics_in_model_card_data(model, metrics, epoch, steps)
        return metrics


def test_custom_evaluator_on_the_base_class(sentrix_model):
    evaluator = MeanFirstDimEvaluator(name="toy")
    assert evaluator.greater_is_better is True
    metrics = evaluator(sentrix_model, epoch=1, steps=7)
    assert list(metrics) == ["toy_mean_first", "toy_count"]
    assert all(isinstance(v, float) for v in metrics.values())
    assert evaluator.primary_metric == "toy_mean_first"
    evaluator(sentrix_model)
    assert evaluator.primary_metric == "toy_mean_first"  # prefixed once, not twice
    assert evaluator.description == "Mean First Dim"  # the class name without "Evaluator", spaced
    assert evaluator.get_config_dict() == {}


def test_prefix_name_to_metrics_without_name_keeps_keys():
    evaluator = SentenceEvaluator()
    evaluator.primary_metric = "accuracy"
    assert evaluator.prefix_name_to_metrics({"accuracy": "0.5", "note": "n/a"}, "") == {"accuracy": 0.5, "note": "n/a"}
    assert evaluator.primary_metric == "accuracy"


def test_metrics_reach_the_model_card_data():
    class Model:
        model_card_data = _Recorder()

        def encode(self, sentences, **kwargs):
            import numpy as np

            return np.ones((len(sentences), 3))

    model = Model()
    metrics = MeanFirstDimEvaluator(name="x")(model, epoch=2, steps=5)
    evaluator, stored, epoch, step = model.model_card_data.calls[-1]
    assert stored == metrics and (epoch, step) == (2, 5)


def test_description_of_builtins():
    assert EmbeddingSimilarityEvaluator.contract_example().description == "Semantic Similarity"
    assert TripletEvaluator.contract_example().description == "Triplet"
    assert InformationRetrievalEvaluator.contract_example().description == "Information Retrieval"


def test_base_class_call_and_contract_example_explain_themselves():
    with pytest.raises(NotImplementedError, match=r"must implement __call__"):
        SentenceEvaluator()(None)
    with pytest.raises(NotImplementedError, match=r"SentenceEvaluator has no contract_example\(\)"):
        SentenceEvaluator.contract_example()


# -- bad inputs ----------------------------------------------------------------------------------


# One test per bad input: tests/evaluators/test_evaluator_inputs.py


def test_sequential_rejects_non_evaluators():
    with pytest.raises(InvalidInputError, match=r"evaluators\[1\] is a str, not an evaluator"):
        SequentialEvaluator([TripletEvaluator.contract_example(), "sts-dev"])


def test_sequential_with_float_returning_evaluator_and_default_score(sentrix_model):
    def constant(model, output_path=None, epoch=-1, steps=-1):
        return 0.25

    inner = TripletEvaluator.contract_example()
    sequential = SequentialEvaluator([inner, constant])
    metrics = sequential(sentrix_model)
    assert metrics["evaluator_1"] == 0.25
    assert metrics["sequential_score"] == 0.25  # the last score by default
    assert sequential.primary_metric == "sequential_score"
    assert set(metrics) == {inner.primary_metric, "evaluator_1", "sequential_score"}


def test_reused_ir_evaluator_follows_each_models_similarity(sentrix_model):
    evaluator = InformationRetrievalEvaluator.contract_example()
    first = evaluator(sentrix_model)
    assert evaluator.primary_metric == "ir-example_cosine_ndcg@10"
    previous = sentrix_model.similarity_fn_name
    sentrix_model.similarity_fn_name = "dot"
    try:
        second = evaluator(sentrix_model)
    finally:
        sentrix_model.similarity_fn_name = previous
    assert "ir-example_dot_ndcg@10" in second and "ir-example_cosine_ndcg@10" in first
    assert evaluator.primary_metric == "ir-example_dot_ndcg@10"


def test_from_input_examples(sentrix_model):
    from types import SimpleNamespace

    pairs = [SimpleNamespace(texts=["a dog runs", "a dog is running"], label=4.5),
             SimpleNamespace(texts=["the sun is hot", "snow falls"], label=0.5),
             SimpleNamespace(texts=["a man plays guitar", "music with a guitar"], label=3.0)]
    evaluator = EmbeddingSimilarityEvaluator.from_input_examples(pairs, name="ex")
    assert evaluator.sentences2[0] == "a dog is running" and evaluator.scores == [4.5, 0.5, 3.0]
    triplets = [SimpleNamespace(texts=["a", "b", "c"], label=0)]
    assert TripletEvaluator.from_input_examples(triplets).negatives == ["c"]


def test_information_retrieval_with_precomputed_corpus_embeddings(sentrix_model):
    evaluator = InformationRetrievalEvaluator.contract_example()
    encoded = evaluator(sentrix_model)
    corpus_embeddings = sentrix_model.encode_document(evaluator.corpus, convert_to_tensor=True)
    assert evaluator(sentrix_model, corpus_embeddings=corpus_embeddings) == pytest.approx(encoded, abs=1e-6)
