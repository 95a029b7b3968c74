"""The data helpers of the legacy model.fit API: NoDuplicatesDataLoader, SentenceLabelDataset, SentencesDataset."""

from __future__ import annotations

import random
from collections import Counter

import numpy as np
import pytest

from sentrix import InputExample, SentencesDataset
from sentrix.datasets import NoDuplicatesDataLoader, SentenceLabelDataset
from sentrix.errors import InvalidInputError


def test_no_duplicates_loader_batches_never_repeat_a_text():
    random.seed(3)
    examples = [InputExample(texts=[f"q{i % 5}", f"Doc {i}"]) for i in range(40)]  # only 5 distinct queries
    loader = NoDuplicatesDataLoader(examples, batch_size=5)
    batches = list(loader)
    assert len(batches) == len(loader) == 8
    for batch in batches:
        keys = [t.strip().lower() for example in batch for t in example.texts]
        assert len(keys) == len(set(keys)) == 10


def test_no_duplicates_loader_matches_sentence_transformers_under_the_same_seed():
    from sentence_transformers.sentence_transformer.datasets import NoDuplicatesDataLoader as Oracle

    def batches(cls):
        random.seed(11)
        examples = [InputExample(texts=[f"a{i % 7}", f"b{i}"]) for i in range(30)]
        return [[tuple(e.texts) for e in batch] for batch in cls(examples, batch_size=4)]

    assert batches(NoDuplicatesDataLoader) == batches(Oracle)


def test_no_duplicates_loader_that_cannot_fill_a_batch_says_so():
    examples = [InputExample(texts=["same", f"x{i}"]) for i in range(6)]
    with pytest.raises(InvalidInputError, match="cannot be filled. Lower the batch size"):
        list(NoDuplicatesDataLoader(examples, batch_size=2))


def test_sentence_label_dataset_draws_groups_of_one_label():
    np.random.seed(0)
    examples = [InputExample(texts=[f"t{i}"], label=i % 3) for i in range(12)] + [InputExample(texts=["lonely"], label=9)]
    dataset = SentenceLabelDataset(examples, samples_per_label=2)
    drawn = list(dataset)
    assert len(dataset) == 12 and len(drawn) == 12  # the label with one example is left out
    assert all(drawn[i].label == drawn[i + 1].label for i in range(0, 12, 2))
    assert Counter(e.label for e in drawn) == {0: 4, 1: 4, 2: 4}


@pytest.mark.parametrize("bad", [0, -2, 1.5])
def test_sentence_label_dataset_rejects_a_sample_count_that_would_never_finish(bad):
    examples = [InputExample(texts=[f"t{i}"], label=i % 2) for i in range(4)]
    with pytest.raises(InvalidInputError, match=rf"samples_per_label must be a positive integer, got {bad}\. Fix"):
        SentenceLabelDataset(examples, samples_per_label=bad)


def test_sentences_dataset_is_the_list_of_examples():
    examples = [InputExample(texts=["a", "b"], label=1.0)]
    assert len(SentencesDataset(examples, model=None)) == 1 and SentencesDataset(examples)[0] is examples[0]


def test_fit_picks_the_sampler_that_matches_the_legacy_loader(tmp_path, model, monkeypatch):
    from torch.utils.data import DataLoader

    from sentrix.losses import MultipleNegativesRankingLoss, SoftmaxLoss
    from sentrix.trainer import SentenceTransformerTrainer

    chosen = []
    original = SentenceTransformerTrainer.__init__

    def spy(self, *args, **kwargs):
        chosen.append(kwargs["args"].batch_sampler.value)
        original(self, *args, **kwargs)

    monkeypatch.setattr(SentenceTransformerTrainer, "__init__", spy)
    monkeypatch.chdir(tmp_path)
    random.seed(0)
    pairs = [InputExample(texts=[f"a man {i}", f"a person {i}"]) for i in range(8)]
    model.fit(train_objectives=[(NoDuplicatesDataLoader(pairs, batch_size=4), MultipleNegativesRankingLoss(model))],
              epochs=1, warmup_steps=0, show_progress_bar=False)
    labelled = [InputExample(texts=[f"t{i}", f"u{i}"], label=i % 2) for i in range(8)]
    softmax = SoftmaxLoss(model, embedding_dimension=model.get_sentence_embedding_dimension(), num_labels=2)
    model.fit(train_objectives=[(DataLoader(SentenceLabelDataset(labelled), batch_size=4), softmax)],
              epochs=1, warmup_steps=0, show_progress_bar=False)
    assert chosen == ["no_duplicates", "group_by_label"]
