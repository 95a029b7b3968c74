"""Batch-all triplet loss: every valid (anchor, positive, negative) triplet of the batch, from class labels.

Registered as ``batch_all_triplet`` (alias ``BatchAllTripletLoss``).
"""

from __future__ import annotations

import torch
from torch import Tensor

from sentrix_builtins.losses.batch_hard_triplet import (
    BatchTripletBase,
    same_class_pairs,
)


class BatchAllTripletLoss(BatchTripletBase):
    """The triplet loss over every valid triplet in the batch, averaged over the ones still violated.

    A triplet ``(a, p, n)`` is valid when ``p`` is another row of ``a``'s class and ``n`` a row of a
    different class. Each contributes ``max(0, d(a, p) - d(a, n) + margin)``; the sum is divided by
    the number of triplets with a positive loss, so already separated (easy) triplets do not dilute
    the average. Memory grows with (anchor, positive) pairs times batch size, not batch size cubed.

    Inputs:
        ==========================  ===================================
        text columns                label
        ==========================  ===================================
        ``(text,)``                 integer class id (same id = same class)
        ==========================  ===================================

    Sampler:
        ``group_by_label``: every batch then holds each of its labels at least twice, so there are
        valid triplets for every anchor.

    Args:
        model: the model to train.
        distance_metric: callable ``embeddings -> (n, n) distances``; default
            ``BatchHardTripletLossDistanceFunction.euclidean_distance``, also ``.cosine_distance``
            or the names ``"euclidean"`` / ``"cosine"``.
        margin: how much farther than the positive each negative must be; default 5 (for the
            cosine distance, whose range is 0..2, use e.g. 0.5).

    Example:
        .. code-block:: python

            from datasets import Dataset
            from sentrix import SentenceTransformer, SentenceTransformerTrainer, SentenceTransformerTrainingArguments
            from sentrix.losses import BatchAllTripletLoss

            model = SentenceTransformer("sentence-transformers/all-MiniLM-L6-v2")
            train = Dataset.from_dict({
                "sentence": ["He scored twice.", "Shares rose 3%.", "They won 2-1.", "Bond yields fell."],
                "label": [0, 1, 0, 1],
            })
            args = SentenceTransformerTrainingArguments(output_dir="out", per_device_train_batch_size=4,
                                                        batch_sampler="group_by_label")
            trainer = SentenceTransformerTrainer(model=model, args=args, train_dataset=train,
                                                 loss=BatchAllTripletLoss(model))
            trainer.train()

    References:
        Hermans, Beyer and Leibe, "In Defense of the Triplet Loss for Person Re-Identification",
        2017, https://arxiv.org/abs/1703.07737 (the batch-all strategy). Related:
        ``batch_hard_triplet`` keeps only the hardest triplet per anchor.
    """

    def batch_all_triplet_loss(self, labels: Tensor, embeddings: Tensor) -> Tensor:
        """The loss for ``(labels, embeddings)`` (the sentence-transformers method name)."""
        return self.triplet_loss(labels.reshape(-1), embeddings)

    def triplet_loss(self, labels: Tensor, embeddings: Tensor) -> Tensor:
        distances = self.distance_metric(embeddings)
        anchors, positives = same_class_pairs(labels).nonzero(as_tuple=True)
        # one row per (anchor, positive) pair, one column per candidate negative
        violation = distances[anchors, positives][:, None] - distances[anchors] + self.triplet_margin
        is_negative = labels[anchors][:, None] != labels[None, :]
        per_triplet = torch.relu(violation) * is_negative.to(violation.dtype)
        active = int((per_triplet > 1e-16).sum())
        return per_triplet.sum() / (active + 1e-16)
