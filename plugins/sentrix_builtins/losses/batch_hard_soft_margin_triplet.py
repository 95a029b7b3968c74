"""Batch-hard soft-margin triplet loss: batch-hard triplets with ``softplus`` in place of a margin.

Registered as ``batch_hard_soft_margin_triplet`` (alias ``BatchHardSoftMarginTripletLoss``).
"""

from __future__ import annotations

from typing import Any, Callable

import torch.nn.functional as F
from torch import Tensor, nn

from sentrix_builtins.losses.batch_hard_triplet import BatchHardTripletLoss, BatchHardTripletLossDistanceFunction


class BatchHardSoftMarginTripletLoss(BatchHardTripletLoss):
    """Batch-hard triplets with a smooth ``softplus`` penalty instead of a fixed margin.

    Every row is an anchor paired with its farthest same-class row and its nearest other-class
    row, as in ``batch_hard_triplet``; the loss is
    ``mean(log(1 + exp(d(a, hardest_positive) - d(a, hardest_negative))))``. The penalty never
    reaches zero, so there is no margin to tune, and triplets that are already separated still
    receive a small push.

    Inputs:
        ==========================  ===================================
        text columns                label
        ==========================  ===================================
        ``(text,)``                 integer class id (same id = same class)
        ==========================  ===================================

    Sampler:
        ``group_by_label``: every batch then holds each of its labels at least twice, so every
        anchor has a positive and a negative.

    Args:
        model: the model to train.
        distance_metric: callable ``embeddings -> (n, n) distances``; default
            ``BatchHardTripletLossDistanceFunction.euclidean_distance``, also ``.cosine_distance``
            or the names ``"euclidean"`` / ``"cosine"``.

    Example:
        .. code-block:: python

            from datasets import Dataset
            from sentrix import SentenceTransformer, SentenceTransformerTrainer, SentenceTransformerTrainingArguments
            from sentrix.losses import BatchHardSoftMarginTripletLoss

            model = SentenceTransformer("sentence-transformers/all-MiniLM-L6-v2")
            train = Dataset.from_dict({
                "sentence": ["He scored twice.", "Shares rose 3%.", "They won 2-1.", "Bond yields fell."],
                "label": [0, 1, 0, 1],
            })
            args = SentenceTransformerTrainingArguments(output_dir="out", per_device_train_batch_size=4,
                                                        batch_sampler="group_by_label")
            trainer = SentenceTransformerTrainer(model=model, args=args, train_dataset=train,
                                                 loss=BatchHardSoftMarginTripletLoss(model))
            trainer.train()

    References:
        Hermans, Beyer and Leibe, "In Defense of the Triplet Loss for Person Re-Identification",
        2017, https://arxiv.org/abs/1703.07737 (the soft-margin variant). Related:
        ``batch_hard_triplet`` is the same with a hinge and a margin.
    """

    def __init__(
        self,
        model: nn.Module,
        distance_metric: Callable[[Tensor], Tensor] = BatchHardTripletLossDistanceFunction.euclidean_distance,
    ) -> None:
        super().__init__(model, distance_metric=distance_metric)

    def batch_hard_triplet_soft_margin_loss(self, labels: Tensor, embeddings: Tensor) -> Tensor:
        """The loss for ``(labels, embeddings)`` (the sentence-transformers method name)."""
        return self.triplet_loss(labels.reshape(-1), embeddings)

    def triplet_loss(self, labels: Tensor, embeddings: Tensor) -> Tensor:
        hardest_positive, hardest_negative = self.hardest_distances(labels, embeddings)
        return F.softplus(hardest_positive - hardest_negative).mean()

    def get_config_dict(self) -> dict[str, Any]:
        return {"distance_metric": getattr(self.distance_metric, "__name__", str(self.distance_metric))}
