"""Batch semi-hard triplet loss: each (anchor, positive) against its nearest farther negative.

Registered as ``batch_semi_hard_triplet`` (alias ``BatchSemiHardTripletLoss``).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from sentrix_builtins.losses.batch_hard_triplet import (
    BatchTripletBase,
)


class BatchSemiHardTripletLoss(BatchTripletBase):
    """Triplets with semi-hard negatives: farther than the positive, but the nearest such one.

    For every anchor ``a`` and positive ``p`` (another row of ``a``'s class) the negative is the
    nearest row of another class whose distance to ``a`` exceeds ``d(a, p)``; when there is none,
    the farthest row of another class is used. The loss is the mean over all (anchor, positive)
    pairs of ``max(0, d(a, p) - d(a, n) + margin)``. Avoiding the hardest negatives keeps training
    stable early on, when the hardest ones are often mislabelled or trivially close.

    Inputs:
        ==========================  ===================================
        text columns                label
        ==========================  ===================================
        ``(text,)``                 integer class id (same id = same class)
        ==========================  ===================================

    Sampler:
        ``group_by_label``: every batch then holds each of its labels at least twice, so every
        anchor has positives and negatives.

    Args:
        model: the model to train.
        distance_metric: callable ``embeddings -> (n, n) distances``; default
            ``BatchHardTripletLossDistanceFunction.euclidean_distance``, also ``.cosine_distance``
            or the names ``"euclidean"`` / ``"cosine"``.
        margin: how much farther than the positive the negative must be; default 5 (for the
            cosine distance, whose range is 0..2, use e.g. 0.5).

    Example:
        .. code-block:: python

            from datasets import Dataset
            from sentrix import SentenceTransformer, SentenceTransformerTrainer, SentenceTransformerTrainingArguments
            from sentrix.losses import BatchSemiHardTripletLoss

            model = SentenceTransformer("sentence-transformers/all-MiniLM-L6-v2")
            train = Dataset.from_dict({
                "sentence": ["He scored twice.", "Shares rose 3%.", "They won 2-1.", "Bond yields fell."],
                "label": [0, 1, 0, 1],
            })
            args = SentenceTransformerTrainingArguments(output_dir="out", per_device_train_batch_size=4,
                                                        batch_sampler="group_by_label")
            trainer = SentenceTransformerTrainer(model=model, args=args, train_dataset=train,
                                                 loss=BatchSemiHardTripletLoss(model))
            trainer.train()

    References:
        Schroff, Kalenichenko and Philbin, "FaceNet: A Unified Embedding for Face Recognition and
        Clustering", CVPR 2015, https://arxiv.org/abs/1503.03832 (semi-hard negative mining).
        Related: ``batch_hard_triplet`` takes the hardest negative instead.
    """

    @property
    def margin(self) -> float:
        """The margin (sentence-transformers' attribute name for this loss)."""
        return self.triplet_margin

    @margin.setter
    def margin(self, value: float) -> None:
        self.triplet_margin = value

    def batch_semi_hard_triplet_loss(self, labels: Tensor, embeddings: Tensor) -> Tensor:
        """The loss for ``(labels, embeddings)`` (the sentence-transformers method name)."""
        return self.triplet_loss(labels.reshape(-1), embeddings)

    def triplet_loss(self, labels: Tensor, embeddings: Tensor) -> Tensor:
        distances = self.distance_metric(embeddings)
        rows = distances.shape[0]
        same = labels[:, None] == labels[None, :]
        # Distances to other-class rows in ascending order per anchor (same-class ones pushed to +inf);
        # for each d(a, p) find the first of them strictly greater.
        to_negatives = distances.masked_fill(same, float("inf")).sort(dim=1, stable=True).values
        first_greater = torch.searchsorted(to_negatives.detach().contiguous(), distances.detach().contiguous(), right=True)
        # the last column is always +inf (a row is in its own class), so clamping lands on "none found"
        semi_hard = to_negatives.gather(1, first_greater.clamp(max=rows - 1))
        # fallback: the farthest negative (the row's smallest distance when the row has none)
        row_min = distances.min(dim=1, keepdim=True).values
        farthest = torch.where(same, row_min, distances).max(dim=1, keepdim=True).values
        negative = torch.where(torch.isfinite(semi_hard), semi_hard, farthest)
        pairs = (same & ~torch.eye(rows, dtype=torch.bool, device=same.device)).to(distances.dtype)
        violation = torch.relu((distances - negative + self.margin) * pairs)
        return violation.sum() / pairs.sum().clamp(min=1e-16)

    def get_config_dict(self) -> dict[str, Any]:
        return {"distance_metric": getattr(self.distance_metric, "__name__", str(self.distance_metric)), "margin": self.margin}
