"""AnglE loss: CoSENT's ranking objective with the AnglE (angle-optimised) similarity.

Registered as ``angle`` (alias ``AnglELoss``).
"""

from __future__ import annotations

from typing import Any, Sequence

import torch
from torch import Tensor, nn

from sentrix.plugin_api import DataNeeds, InvalidInputError, pairwise_angle_sim
from sentrix_builtins.losses import _dataset_checks as checks
from sentrix_builtins.losses.cosent import CoSENTLoss


class AnglELoss(CoSENTLoss):
    """Rank pair similarities in the order of their gold scores, measuring similarity by AnglE.

    The objective is CoSENT's: for every two pairs where ``(i, j)`` has the higher gold score,
    ``loss = log(1 + sum exp(scale * (s(k, l) - s(i, j))))``, but ``s`` is
    ``pairwise_angle_sim``, the absolute value of a cosine term plus a sine term that compares the
    two halves of the embeddings as the real and imaginary parts of complex numbers. The cosine
    saturates near +-1, where its gradient vanishes; the angle term keeps a gradient there.

    Given an anchor, a positive and one or more negatives instead of a scored pair, every
    (anchor, positive) pair gets the label (1 when the dataset has no label column) and every
    (anchor, negative) pair gets ``1 - label``, and those pairs are ranked.

    Inputs:
        ===================================================  ======================================
        text columns                                         label
        ===================================================  ======================================
        ``(sentence_A, sentence_B)``                         float similarity score per pair
        ``(anchor, positive, negative_1, ..., negative_n)``  none (or a score for the positive)
        ===================================================  ======================================

    Sampler:
        Any (``batch_sampler``); pairs are ranked against the other pairs of the batch, but no
        in-batch negatives are built.

    Args:
        model: the model to train.
        scale: inverse temperature applied to the similarity differences; default 20.0.

    Example:
        .. code-block:: python

            from datasets import Dataset
            from sentrix import SentenceTransformer, SentenceTransformerTrainer
            from sentrix.losses import AnglELoss

            model = SentenceTransformer("sentence-transformers/all-MiniLM-L6-v2")
            train = Dataset.from_dict({
                "sentence1": ["A man plays guitar.", "A dog runs."],
                "sentence2": ["Someone plays an instrument.", "A cat sleeps."],
                "score": [0.9, 0.1],
            })
            trainer = SentenceTransformerTrainer(model=model, train_dataset=train, loss=AnglELoss(model))
            trainer.train()

    References:
        Li and Li, "AoE: Angle-optimized Embeddings for Semantic Textual Similarity", ACL 2024,
        https://arxiv.org/abs/2309.12871 (the similarity follows the authors' reference code).
        Related: ``cosent`` is the same objective with the cosine; the paper pairs it with
        ``multiple_negatives_ranking``.
    """

    data_needs = DataNeeds(text_columns=(2, None), roles=("sentence_A", "sentence_B", "negative..."), label="any")

    def __init__(self, model: nn.Module, scale: float = 20.0) -> None:
        super().__init__(model, scale=scale, similarity_fct=pairwise_angle_sim)

    @classmethod
    def contract_example(cls, model: nn.Module) -> "AnglELoss":
        return cls(model)

    @staticmethod
    def contract_labels(model: nn.Module, batch_size: int, columns: int) -> Tensor | None:
        """Labels for the contract suite's batch: a score per pair (two columns need one)."""
        generator = torch.Generator().manual_seed(0)
        return torch.rand(batch_size, generator=generator) if columns == 2 else None

    def compute_loss_from_embeddings(self, embeddings: list[Tensor], labels: Tensor | None) -> Tensor:
        """The loss for already computed column embeddings (two, or anchor + positive + negatives)."""
        rows = embeddings[0].shape[0]
        if labels is not None and labels.numel() != rows:
            raise InvalidInputError(
                f"AnglELoss expects one label per row ({rows} in this batch), but got labels of shape "
                f"{tuple(labels.shape)}. Fix: give the dataset one score per row."
            )
        if len(embeddings) == 2:
            if labels is None:
                raise InvalidInputError(
                    "AnglELoss got sentence pairs without a score. Fix: add a float score column named 'score' or "
                    "'label' (higher = more similar), or give (anchor, positive, negative...) columns instead."
                )
            return super().compute_loss_from_embeddings(embeddings, labels)
        anchor, others = embeddings[0], embeddings[1:]
        if labels is None:
            labels = torch.ones(rows, device=anchor.device)
        labels = labels.reshape(-1)
        pair_labels = torch.cat([labels] + [1 - labels] * (len(others) - 1))
        pairs = [anchor.repeat(len(others), 1), torch.cat(others, dim=0)]
        return super().compute_loss_from_embeddings(pairs, pair_labels)

    def validate_dataset(
        self, dataset: Any, dataset_name: str | None = None, *, label_columns: Sequence[str] | None = None, **_: Any
    ) -> list[str]:
        """Problems that stop a run before it starts: sentence pairs without a score column."""
        columns = checks.column_names(dataset)
        label = checks.label_column(dataset, label_columns)
        texts = [c for c in columns if c != label]
        if columns and label is None and len(texts) == 2:
            return [
                f"{dataset_name or 'the dataset'} has the sentence pair {texts} but no score column, and AnglELoss "
                "ranks pairs by their score. Fix: add a float column named 'score' (higher = more similar), or give "
                "(anchor, positive, negative...) columns, which need no label."
            ]
        return []

    @property
    def citation(self) -> str:
        return """
@inproceedings{li-li-2024-aoe,
    title = "{A}o{E}: Angle-optimized Embeddings for Semantic Textual Similarity",
    author = "Li, Xianming and Li, Jing",
    year = "2024",
    publisher = "Association for Computational Linguistics",
    url = "https://aclanthology.org/2024.acl-long.101/",
    doi = "10.18653/v1/2024.acl-long.101"
}
"""
