"""The data helpers of the legacy ``model.fit`` API (sentence-transformers 2.x scripts).

New code trains with :class:`~sentrix.trainer.SentenceTransformerTrainer` and chooses batching
with ``batch_sampler="no_duplicates"`` or ``"group_by_label"``. These classes exist so that old
scripts run unchanged; ``model.fit`` recognises them and picks the matching batch sampler.
"""

from __future__ import annotations

from typing import Any

from sentrix.datasets.no_duplicates_dataloader import NoDuplicatesDataLoader
from sentrix.datasets.sentence_label import SentenceLabelDataset
from sentrix.datasets.sentences import SentencesDataset

__all__ = ["NoDuplicatesDataLoader", "SentenceLabelDataset", "SentencesDataset"]


def __getattr__(name: str) -> Any:
    # DenoisingAutoEncoderDataset lives beside its loss; see sentrix._compat.table.
    if name.startswith("__"):
        raise AttributeError(name)
    from sentrix._compat.finder import resolve_name

    return resolve_name("datasets", name, "sentrix.datasets.sentences")
