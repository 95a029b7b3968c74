"""Triplet loss: the anchor must be closer to its positive than to its negative by a margin.

Registered as ``triplet`` (alias ``TripletLoss``). The distance functions are
``TripletLoss.DistanceMetric`` (also exported as ``TripletDistanceMetric``).
"""

from __future__ import annotations

from typing import Any, Callable

import torch.nn.functional as F
from torch import Tensor, nn

from sentrix.plugin_api import (
    DataNeeds,
    InvalidInputError,
    check_loss_inputs,
    embed_columns,
    pairwise_cos_sim,
    pairwise_euclidean_sim,
    pairwise_manhattan_sim,
)


def _cosine_distance(x: Tensor, y: Tensor) -> Tensor:
    return 1 - pairwise_cos_sim(x, y)


def _euclidean_distance(x: Tensor, y: Tensor) -> Tensor:
    return -pairwise_euclidean_sim(x, y)


def _manhattan_distance(x: Tensor, y: Tensor) -> Tensor:
    return -pairwise_manhattan_sim(x, y)


class TripletDistanceMetric:
    """Pairwise distances for :class:`TripletLoss` (``distance(x, y)[i]`` for rows ``x[i]``, ``y[i]``).

    ``COSINE`` = ``1 - cos``, ``EUCLIDEAN`` = L2 distance, ``MANHATTAN`` = L1 distance. Each is a
    plain function, so any callable ``(x, y) -> Tensor`` works in their place.
    """

    COSINE = staticmethod(_cosine_distance)
    EUCLIDEAN = staticmethod(_euclidean_distance)
    MANHATTAN = staticmethod(_manhattan_distance)

    @classmethod
    def resolve(cls, value: "str | Callable[[Tensor, Tensor], Tensor]") -> Callable[[Tensor, Tensor], Tensor]:
        """A distance callable from a callable or a name (``"euclidean"``, ``"TripletDistanceMetric.COSINE"``)."""
        if callable(value):
            return value
        if isinstance(value, str):
            key = value.rsplit(".", 1)[-1].upper()
            if key in ("COSINE", "EUCLIDEAN", "MANHATTAN"):
                return getattr(cls, key)
        raise InvalidInputError(
            f"TripletLoss: unknown distance_metric {value!r}. Use 'cosine', 'euclidean', 'manhattan' or a callable (x, y) -> distances."
        )

    @classmethod
    def name_of(cls, fn: Callable) -> str:
        for key in ("COSINE", "EUCLIDEAN", "MANHATTAN"):
            if getattr(cls, key) is fn:
                return f"TripletDistanceMetric.{key}"
        # the sentence-transformers functions of the same names
        qualname = getattr(fn, "__qualname__", "")
        if qualname.startswith("TripletDistanceMetric."):
            return qualname.split(".<")[0]
        return getattr(fn, "__name__", str(fn))


class TripletLoss(nn.Module):
    """Pull each anchor towards its positive and push it from its negative, up to a margin.

    Computes ``mean(max(0, d(anchor, positive) - d(anchor, negative) + margin))`` with ``d`` one
    of :class:`TripletDistanceMetric` (Euclidean by default). Triplets already separated by more
    than the margin contribute nothing. The metrics are reachable as ``TripletLoss.DistanceMetric``
    and as ``sentrix.losses.TripletDistanceMetric``.

    Inputs:
        ================================  =====
        text columns                      label
        ================================  =====
        ``(anchor, positive, negative)``  none
        ================================  =====

    Sampler:
        Any (``batch_sampler``); only each row's own negative is used.

    Args:
        model: the model to train.
        distance_metric: distance of matching rows; default ``TripletDistanceMetric.EUCLIDEAN``,
            also ``.COSINE``, ``.MANHATTAN``, their names as strings (``"cosine"``), or any
            callable ``(x, y) -> distances``.
        triplet_margin: how much farther than the positive the negative must be; default 5 (with
            the cosine distance use a margin below 1, e.g. 0.5).

    Example:
        .. code-block:: python

            from datasets import Dataset
            from sentrix import SentenceTransformer, SentenceTransformerTrainer
            from sentrix.losses import TripletLoss

            model = SentenceTransformer("sentence-transformers/all-MiniLM-L6-v2")
            train = Dataset.from_dict({
                "anchor": ["A man plays guitar."],
                "positive": ["Someone plays an instrument."],
                "negative": ["A cat sleeps on the sofa."],
            })
            loss = TripletLoss(model, distance_metric=TripletLoss.DistanceMetric.COSINE, triplet_margin=0.5)
            trainer = SentenceTransformerTrainer(model=model, train_dataset=train, loss=loss)
            trainer.train()

    References:
        Schroff et al., "FaceNet: A Unified Embedding for Face Recognition and Clustering",
        CVPR 2015, https://arxiv.org/abs/1503.03832. Related: ``multiple_negatives_ranking`` uses
        the same triplets plus every other row as negatives and usually trains better;
        ``batch_hard_triplet`` and its siblings mine triplets from class labels.
    """

    DistanceMetric = TripletDistanceMetric
    data_needs = DataNeeds(text_columns=3, roles=("anchor", "positive", "negative"), label="none")
    uses_embedding_helper = True

    def __init__(
        self,
        model: nn.Module,
        distance_metric: Callable[[Tensor, Tensor], Tensor] = TripletDistanceMetric.EUCLIDEAN,
        triplet_margin: float = 5,
    ) -> None:
        super().__init__()
        self.model = model
        self.distance_metric = TripletDistanceMetric.resolve(distance_metric)
        self.triplet_margin = triplet_margin

    @classmethod
    def contract_example(cls, model: nn.Module) -> "TripletLoss":
        return cls(model)

    def forward(self, sentence_features: list[dict[str, Tensor]], labels: Tensor | None = None) -> Tensor:
        check_loss_inputs(self, sentence_features, labels)
        embeddings = embed_columns(self.model, sentence_features)
        return self.compute_loss_from_embeddings(embeddings, labels)

    def compute_loss_from_embeddings(self, embeddings: list[Tensor], labels: Tensor | None = None) -> Tensor:
        """The loss for already computed ``[anchors, positives, negatives]`` embeddings."""
        anchor, positive, negative = embeddings
        to_positive = self.distance_metric(anchor, positive)
        to_negative = self.distance_metric(anchor, negative)
        return F.relu(to_positive - to_negative + self.triplet_margin).mean()

    def get_config_dict(self) -> dict[str, Any]:
        return {
            "distance_metric": TripletDistanceMetric.name_of(self.distance_metric),
            "triplet_margin": self.triplet_margin,
        }

    @property
    def citation(self) -> str:
        return """
@misc{schroff2015facenet,
    title={FaceNet: A Unified Embedding for Face Recognition and Clustering},
    author={Florian Schroff and Dmitry Kalenichenko and James Philbin},
    year={2015},
    eprint={1503.03832},
    archivePrefix={arXiv},
    primaryClass={cs.CV}
}
"""
