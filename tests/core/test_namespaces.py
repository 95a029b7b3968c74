"""`sentrix.losses`, `sentrix.evaluation`, `sentrix.models`: sentence-transformers spellings resolved through the registries."""

from __future__ import annotations

import pytest

from sentrix import registry


def test_sentence_transformers_names_resolve_to_registered_components():
    from sentrix.evaluation import EmbeddingSimilarityEvaluator, SentenceEvaluator
    from sentrix.losses import CoSENTLoss, MultipleNegativesRankingLoss, TripletDistanceMetric
    from sentrix.models import Normalize, Pooling, Transformer

    assert CoSENTLoss is registry.losses.get("cosent")
    assert MultipleNegativesRankingLoss is registry.losses.get("multiple_negatives_ranking")
    assert TripletDistanceMetric is registry.losses.get("triplet").DistanceMetric
    assert EmbeddingSimilarityEvaluator is registry.evaluators.get("embedding_similarity")
    assert issubclass(EmbeddingSimilarityEvaluator, SentenceEvaluator)
    assert (Transformer, Pooling, Normalize) == tuple(registry.modules.get(n) for n in ("transformer", "pooling", "normalize"))


def test_in_process_registration_is_visible_in_the_namespace():
    import sentrix.losses

    class LocalLoss:
        pass

    with registry.losses.registered("local.loss", LocalLoss, aliases=("LocalLoss",)):
        assert sentrix.losses.LocalLoss is LocalLoss
        assert "LocalLoss" in dir(sentrix.losses)


def test_unknown_attribute_is_an_attribute_error_with_the_registry_message():
    import sentrix.losses

    with pytest.raises(AttributeError) as info:
        sentrix.losses.CoSentLoss  # noqa: B018  (wrong case)
    message = str(info.value)
    assert message.startswith("module 'sentrix.losses' has no attribute 'CoSentLoss'.\nUnknown loss 'CoSentLoss'.\n")
    assert "Did you mean 'CoSENTLoss'" in message


def test_sentence_transformers_6_module_paths_serve_the_same_objects():
    import importlib

    import sentrix.losses
    import sentrix.training_args

    pairs = {
        "sentrix.sentence_transformer.losses": ("sentrix.losses", "CoSENTLoss"),
        "sentrix.sentence_transformer.evaluation": ("sentrix.evaluation", "EmbeddingSimilarityEvaluator"),
        "sentrix.sentence_transformer.training_args": ("sentrix.training_args", "SentenceTransformerTrainingArguments"),
        "sentrix.sentence_transformer.trainer": ("sentrix.trainer", "SentenceTransformerTrainer"),
        "sentrix.sentence_transformer.model": ("sentrix.model", "SentenceTransformer"),
        "sentrix.sentence_transformer.readers": ("sentrix.fit_mixin", "InputExample"),
        "sentrix.sentence_transformer.datasets": ("sentrix.datasets", "SentencesDataset"),
        "sentrix.base.sampler": ("sentrix.sampler", "DefaultBatchSampler"),
    }
    for alias, (target, name) in pairs.items():
        assert getattr(importlib.import_module(alias), name) is getattr(importlib.import_module(target), name), alias
    from sentrix.sentence_transformer.losses import CoSENTLoss

    assert CoSENTLoss is sentrix.losses.CoSENTLoss
    import sentrix.sentence_transformer as st_package

    assert st_package.SentenceTransformerTrainingArguments is sentrix.training_args.SentenceTransformerTrainingArguments
    with pytest.raises(AttributeError, match="has no attribute 'nonexistent'"):
        st_package.nonexistent  # noqa: B018
    with pytest.raises(ModuleNotFoundError):
        importlib.import_module("sentrix.sentence_transformer.nonexistent")


def test_top_level_names_of_sentence_transformers():
    import logging

    import sentrix
    from sentrix import InputExample, LoggingHandler, SentenceTransformer, mine_hard_negatives

    example = InputExample(texts=["a", "b"], label=0.5)
    assert example.texts == ["a", "b"] and example.label == 0.5
    assert callable(mine_hard_negatives) and callable(SentenceTransformer.fit)
    assert isinstance(LoggingHandler(), logging.Handler)
    assert {"DefaultBatchSampler", "MultiDatasetDefaultBatchSampler", "InputExample"} <= set(dir(sentrix))


def test_logging_handler_writes_above_progress_bars(capsys):
    import logging

    from sentrix import LoggingHandler

    logger = logging.getLogger("sentrix.test.logging_handler")
    handler = LoggingHandler()
    handler.setFormatter(logging.Formatter("%(levelname)s %(message)s"))
    logger.addHandler(handler)
    try:
        logger.warning("hello %s", "there")
    finally:
        logger.removeHandler(handler)
    captured = capsys.readouterr()
    assert "WARNING hello there" in captured.out + captured.err
