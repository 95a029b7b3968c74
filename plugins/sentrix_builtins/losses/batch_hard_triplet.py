"""Batch-hard triplet loss: each anchor against its farthest positive and nearest negative in the batch.

Registered as ``batch_hard_triplet`` (alias ``BatchHardTripletLoss``). Also defines
``BatchHardTripletLossDistanceFunction`` (the distance matrices of all four batch triplet
losses) and the parts those losses share.
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

import torch
from torch import Tensor, nn

from sentrix.plugin_api import DataNeeds, InvalidInputError, check_loss_inputs, cos_sim, embed_columns
from sentrix_builtins.losses import _dataset_checks as checks


class BatchHardTripletLossDistanceFunction:
    """Distance matrices for the batch triplet losses: ``distance(embeddings)[i, j] = d(e_i, e_j)``.

    ``cosine_distance`` is ``1 - cos``; ``euclidean_distance`` is the L2 distance (the squared one
    with ``squared=True``), computed from dot products, with an exact 0 and a zero gradient where
    two rows coincide (the diagonal). ``eucledian_distance`` is its old misspelt name. Any
    callable ``embeddings -> (n, n) distances`` works in their place.
    """

    @staticmethod
    def cosine_distance(embeddings: Tensor) -> Tensor:
        """``1 - cos(e_i, e_j)`` for every pair of rows."""
        return 1 - cos_sim(embeddings, embeddings)

    @staticmethod
    def euclidean_distance(embeddings: Tensor, squared: bool = False) -> Tensor:
        """L2 distance (or its square) between every pair of rows; half precision is computed in float32."""
        with torch.autocast(device_type=embeddings.device.type, enabled=False):
            if embeddings.dtype in (torch.float16, torch.bfloat16):
                embeddings = embeddings.float()
            gram = embeddings @ embeddings.T
        norms = gram.diagonal()
        # ||a - b||^2 = ||a||^2 - 2 a.b + ||b||^2, clipped at 0 against rounding
        squared_distances = norms[None, :] - 2.0 * gram + norms[:, None]
        positive = squared_distances > 0
        squared_distances = torch.where(positive, squared_distances, squared_distances.new_zeros(()))
        if squared:
            return squared_distances
        # sqrt has an infinite slope at 0: take it only where the distance is positive
        safe = torch.where(positive, squared_distances, squared_distances.new_ones(()))
        return torch.where(positive, safe.sqrt(), squared_distances.new_zeros(()))

    eucledian_distance = euclidean_distance


_DISTANCES = ("cosine_distance", "euclidean_distance", "eucledian_distance")


def resolve_distance(value: "str | Callable[[Tensor], Tensor]", owner: str) -> Callable[[Tensor], Tensor]:
    """A distance-matrix callable from a callable or a name (``"cosine"``, ``"euclidean_distance"``)."""
    if callable(value):
        return value
    if isinstance(value, str):
        key = value.rsplit(".", 1)[-1].lower()
        key = {"cosine": "cosine_distance", "euclidean": "euclidean_distance"}.get(key, key)
        if key in _DISTANCES:
            return getattr(BatchHardTripletLossDistanceFunction, key)
    raise InvalidInputError(
        f"{owner}: unknown distance_metric {value!r}. Use BatchHardTripletLossDistanceFunction.euclidean_distance "
        "or .cosine_distance, the names 'euclidean' / 'cosine', or a callable embeddings -> (n, n) distances."
    )


def same_class_pairs(labels: Tensor) -> Tensor:
    """``mask[a, p]``: ``a != p`` and both rows have the same label."""
    same = labels[:, None] == labels[None, :]
    return same & ~torch.eye(len(labels), dtype=torch.bool, device=labels.device)


def other_class_pairs(labels: Tensor) -> Tensor:
    """``mask[a, n]``: the two rows have different labels."""
    return labels[:, None] != labels[None, :]


class BatchTripletBase(nn.Module):
    """What the four batch triplet losses share: one text column, class labels, the run checks."""

    data_needs = DataNeeds(text_columns=1, roles=("text",), label="int", recommended_sampler="group_by_label")
    uses_embedding_helper = True

    def __init__(
        self,
        model: nn.Module,
        distance_metric: Callable[[Tensor], Tensor] = BatchHardTripletLossDistanceFunction.euclidean_distance,
        margin: float = 5,
    ) -> None:
        super().__init__()
        self.model = model
        self.distance_metric = resolve_distance(distance_metric, type(self).__name__)
        self.triplet_margin = margin

    @property
    def sentence_embedder(self) -> nn.Module:
        """The model (the attribute name sentence-transformers uses for these losses)."""
        return self.model

    @classmethod
    def contract_example(cls, model: nn.Module) -> "BatchTripletBase":
        return cls(model)

    def forward(self, sentence_features: list[dict[str, Tensor]], labels: Tensor) -> Tensor:
        check_loss_inputs(self, sentence_features, labels)
        embeddings = embed_columns(self.model, sentence_features)
        return self.compute_loss_from_embeddings(embeddings, labels)

    def compute_loss_from_embeddings(self, embeddings: list[Tensor], labels: Tensor) -> Tensor:
        """The loss for already computed ``[embeddings]`` (one column) and their class labels."""
        rows = embeddings[0].shape[0]
        if labels.numel() != rows:
            raise InvalidInputError(
                f"{type(self).__name__} expects one class label per row ({rows} in this batch), but got labels of "
                f"shape {tuple(labels.shape)}. Fix: give the dataset one integer label per row."
            )
        return self.triplet_loss(labels.reshape(-1), embeddings[0])

    def triplet_loss(self, labels: Tensor, embeddings: Tensor) -> Tensor:  # pragma: no cover - abstract
        raise NotImplementedError

    def validate_dataset(
        self,
        dataset: Any,
        dataset_name: str | None = None,
        *,
        batch_size: int | None = None,
        batch_sampler: Any = None,
        label_columns: Sequence[str] | None = None,
        **_: Any,
    ) -> list[str]:
        """Problems that stop a run before it starts.

        Labels must be integer class ids, with at least two classes and a class of two rows or
        more; with ``batch_size`` (and ``batch_sampler``) given, batches must be able to hold two
        rows of a class (else: use the ``group_by_label`` sampler).
        """
        return checks.class_label_problems(
            type(self).__name__, dataset, dataset_name, batch_size, batch_sampler, label_columns
        )

    def get_config_dict(self) -> dict[str, Any]:
        return {"distance_metric": getattr(self.distance_metric, "__name__", str(self.distance_metric)), "margin": self.triplet_margin}

    @property
    def citation(self) -> str:
        return """
@misc{hermans2017defense,
    title={In Defense of the Triplet Loss for Person Re-Identification},
    author={Alexander Hermans and Lucas Beyer and Bastian Leibe},
    year={2017},
    eprint={1703.07737},
    archivePrefix={arXiv},
    primaryClass={cs.CV}
}
"""


class BatchHardTripletLoss(BatchTripletBase):
    """For each anchor, its hardest positive against its hardest negative, from class labels.

    Every row of the batch is an anchor. Its hardest positive is the farthest other row of its
    class, its hardest negative the nearest row of another class, and the loss is
    ``mean(max(0, d(a, hardest_positive) - d(a, hardest_negative) + margin))`` over the anchors.
    An anchor without another row of its class has a hardest-positive distance of 0. Only the
    hardest triplet per anchor gets a gradient, which trains fast but is sensitive to label noise.

    Inputs:
        ==========================  ===================================
        text columns                label
        ==========================  ===================================
        ``(text,)``                 integer class id (same id = same class)
        ==========================  ===================================

    Sampler:
        ``group_by_label``: every batch then holds each of its labels at least twice, so every
        anchor has a positive and a negative. With random batches over many classes most anchors
        find no positive, and the run checks say so.

    Args:
        model: the model to train.
        distance_metric: callable ``embeddings -> (n, n) distances``; default
            ``BatchHardTripletLossDistanceFunction.euclidean_distance``, also ``.cosine_distance``
            or the names ``"euclidean"`` / ``"cosine"``.
        margin: how much farther than the hardest positive the hardest negative must be; default 5
            (for the cosine distance, whose range is 0..2, use e.g. 0.5).

    Example:
        .. code-block:: python

            from datasets import Dataset
            from sentrix import SentenceTransformer, SentenceTransformerTrainer, SentenceTransformerTrainingArguments
            from sentrix.losses import BatchHardTripletLoss

            model = SentenceTransformer("sentence-transformers/all-MiniLM-L6-v2")
            train = Dataset.from_dict({
                "sentence": ["He scored twice.", "Shares rose 3%.", "They won 2-1.", "Bond yields fell."],
                "label": [0, 1, 0, 1],  # 0: sports, 1: economy
            })
            args = SentenceTransformerTrainingArguments(output_dir="out", per_device_train_batch_size=4,
                                                        batch_sampler="group_by_label")
            trainer = SentenceTransformerTrainer(model=model, args=args, train_dataset=train,
                                                 loss=BatchHardTripletLoss(model))
            trainer.train()

    References:
        Hermans, Beyer and Leibe, "In Defense of the Triplet Loss for Person Re-Identification",
        2017, https://arxiv.org/abs/1703.07737. Related: ``batch_all_triplet`` averages over every
        valid triplet, ``batch_semi_hard_triplet`` picks semi-hard negatives,
        ``batch_hard_soft_margin_triplet`` needs no margin.
    """

    def hardest_distances(self, labels: Tensor, embeddings: Tensor) -> tuple[Tensor, Tensor]:
        """``(d(a, hardest positive), d(a, hardest negative))`` per anchor, each of shape ``(n, 1)``."""
        distances = self.distance_metric(embeddings)
        positives = same_class_pairs(labels).to(distances.dtype)
        hardest_positive = (positives * distances).max(dim=1, keepdim=True).values
        # Same-class entries are lifted by the row's largest distance so they never win the minimum
        # (an anchor with no negative at all gets that largest distance).
        row_max = distances.max(dim=1, keepdim=True).values
        negatives = other_class_pairs(labels).to(distances.dtype)
        hardest_negative = (distances + row_max * (1.0 - negatives)).min(dim=1, keepdim=True).values
        return hardest_positive, hardest_negative

    def triplet_loss(self, labels: Tensor, embeddings: Tensor) -> Tensor:
        hardest_positive, hardest_negative = self.hardest_distances(labels, embeddings)
        return torch.relu(hardest_positive - hardest_negative + self.triplet_margin).mean()

    def batch_hard_triplet_loss(self, labels: Tensor, embeddings: Tensor) -> Tensor:
        """The loss for ``(labels, embeddings)`` (the sentence-transformers method name)."""
        return self.triplet_loss(labels.reshape(-1), embeddings)

    # The mask helpers sentence-transformers exposes on this class.
    get_anchor_positive_triplet_mask = staticmethod(same_class_pairs)
    get_anchor_negative_triplet_mask = staticmethod(other_class_pairs)

    @staticmethod
    def get_triplet_mask(labels: Tensor) -> Tensor:
        """``mask[a, p, n]``: ``a``, ``p``, ``n`` distinct, ``p`` of ``a``'s class, ``n`` of another class."""
        positives = same_class_pairs(labels)
        return positives[:, :, None] & other_class_pairs(labels)[:, None, :]
