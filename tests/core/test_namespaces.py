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
        sentrix.losses.CoSentLoss  # wrong case
    message = str(info.value)
    assert message.startswith("module 'sentrix.losses' has no attribute 'CoSentLoss'.\nUnknown loss 'CoSentLoss'.\n")
    assert "Did you mean 'CoSENTLoss'" in message
