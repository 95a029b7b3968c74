"""Contrastive loss: pull pairs labelled 1 together, push pairs labelled 0 beyond a margin.

Registered as ``contrastive`` (alias ``ContrastiveLoss``). The distance functions are
``SiameseDistanceMetric`` (``sentrix.losses.SiameseDistanceMetric``), shared with
``online_contrastive``.
"""

from __future__ import annotations

import warnings
from typing import Any, Callable, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from sentrix.plugin_api import DataNeeds, InvalidInputError, check_loss_inputs, embed_columns
from sentrix_builtins.losses import _dataset_checks as checks


def _euclidean(x: Tensor, y: Tensor) -> Tensor:
    return F.pairwise_distance(x, y, p=2)


def _manhattan(x: Tensor, y: Tensor) -> Tensor:
    return F.pairwise_distance(x, y, p=1)


def _cosine_distance(x: Tensor, y: Tensor) -> Tensor:
    return 1 - F.cosine_similarity(x, y)


_METRICS = ("EUCLIDEAN", "MANHATTAN", "COSINE_DISTANCE")


class SiameseDistanceMetric:
    """Distances of matching rows for ``contrastive`` and ``online_contrastive``.

    ``EUCLIDEAN`` (L2), ``MANHATTAN`` (L1) and ``COSINE_DISTANCE`` (``1 - cos``), each a plain
    function ``(x, y) -> distances`` with ``distances[i] = d(x[i], y[i])``; any callable of that
    shape works in their place. :meth:`resolve` also accepts the names (``"euclidean"``,
    ``"SiameseDistanceMetric.MANHATTAN"``, ``"cosine"``), as configs write them.
    """

    EUCLIDEAN = staticmethod(_euclidean)
    MANHATTAN = staticmethod(_manhattan)
    COSINE_DISTANCE = staticmethod(_cosine_distance)

    @classmethod
    def resolve(cls, value: "str | Callable[[Tensor, Tensor], Tensor]", owner: str) -> Callable[[Tensor, Tensor], Tensor]:
        """A distance callable from a callable or a name; ``owner`` names the loss in the error."""
        if callable(value):
            return value
        if isinstance(value, str):
            key = value.rsplit(".", 1)[-1].upper()
            key = {"COSINE": "COSINE_DISTANCE", "L2": "EUCLIDEAN", "L1": "MANHATTAN"}.get(key, key)
            if key in _METRICS:
                return getattr(cls, key)
        raise InvalidInputError(
            f"{owner}: unknown distance_metric {value!r}. Use SiameseDistanceMetric.EUCLIDEAN, .MANHATTAN or "
            ".COSINE_DISTANCE, one of the names 'euclidean', 'manhattan', 'cosine_distance', or a callable "
            "(x, y) -> distances of matching rows."
        )

    @classmethod
    def name_of(cls, fn: Callable) -> str:
        """How a metric is written in a loss's config: ``SiameseDistanceMetric.COSINE_DISTANCE``."""
        for key in _METRICS:
            if getattr(cls, key) is fn:
                return f"SiameseDistanceMetric.{key}"
        return getattr(fn, "__name__", str(fn))


def binary_label_problems(
    loss_name: str, dataset: Any, dataset_name: str | None, label_columns: Sequence[str] | None
) -> list[str]:
    """Problems of a dataset whose label must say 1 (similar pair) or 0 (dissimilar pair)."""
    column = checks.label_column(dataset, label_columns)
    if column is None:
        return []  # reported by the DataNeeds check
    values = checks.label_values(dataset, column)
    if values is None or values.size == 0:
        return []
    at = checks.where(dataset_name, column)
    if checks.is_text(values):
        return [
            f"{at} holds strings (e.g. {str(values.reshape(-1)[0])!r}), but {loss_name} needs 1 (similar pair) or "
            f"0 (dissimilar pair). Fix: map them, e.g. `dataset = dataset.map(lambda r: {{{column!r}: int(r[{column!r}] "
            "== 'duplicate')})`."
        ]
    if values.dtype.kind not in "iubf":
        return []
    flat = values.reshape(-1).astype(np.float64)
    bad = sorted({float(v) for v in np.unique(flat) if np.isfinite(v) and v not in (0.0, 1.0)})
    if not bad:
        return []
    shown = ", ".join(f"{v:g}" for v in bad[:5]) + (" ..." if len(bad) > 5 else "")
    return [
        f"{at} holds values other than 0 and 1 ({shown}), but {loss_name} reads the label as 1 = similar pair, "
        "0 = dissimilar pair. Fix: threshold graded scores into 0/1, e.g. `dataset = dataset.map(lambda r: "
        f"{{{column!r}: int(r[{column!r}] >= 0.5)}})`, or keep the scores and use a loss for them (cosent, angle, "
        "cosine_similarity)."
    ]


class ContrastiveLoss(nn.Module):
    """Pull similar pairs together and push dissimilar pairs at least a margin apart.

    For each pair with distance ``d`` (see :class:`SiameseDistanceMetric`) and label ``y``, the
    loss is ``0.5 * (y * d**2 + (1 - y) * max(0, margin - d)**2)``, averaged over the batch (or
    summed with ``size_average=False``). Pairs labelled 1 are pulled together; pairs labelled 0
    are pushed apart until they are ``margin`` away, and then left alone. Labels other than 0 and
    1 are used as weights by the formula, but the run checks reject them: threshold them first.

    Inputs:
        ============================  ======================================
        text columns                  label
        ============================  ======================================
        ``(sentence_A, sentence_B)``  1 if the pair is similar, 0 if not (int, float or bool)
        ============================  ======================================

    Sampler:
        Any (``batch_sampler``); only each row's own pair is scored, there are no in-batch negatives.

    Args:
        model: the model to train.
        distance_metric: distance between the two embeddings of a pair, default
            ``SiameseDistanceMetric.COSINE_DISTANCE``; also ``.EUCLIDEAN``, ``.MANHATTAN``, their
            names as strings, or any callable ``(x, y) -> distances``.
        margin: distance that dissimilar pairs must reach before they stop contributing; default
            0.5 (fits the cosine distance, whose range is 0..2; use a larger one for Euclidean).
        size_average: True (default) averages the per-pair losses over the batch, False sums them.

    Example:
        .. code-block:: python

            from datasets import Dataset
            from sentrix import SentenceTransformer, SentenceTransformerTrainer
            from sentrix.losses import ContrastiveLoss, SiameseDistanceMetric

            model = SentenceTransformer("sentence-transformers/all-MiniLM-L6-v2")
            train = Dataset.from_dict({
                "sentence1": ["How do I learn Python?", "What is the capital of France?"],
                "sentence2": ["What is the best way to learn Python?", "How tall is Mount Everest?"],
                "label": [1, 0],
            })
            loss = ContrastiveLoss(model, distance_metric=SiameseDistanceMetric.COSINE_DISTANCE, margin=0.5)
            trainer = SentenceTransformerTrainer(model=model, train_dataset=train, loss=loss)
            trainer.train()

    References:
        Hadsell, Chopra and LeCun, "Dimensionality Reduction by Learning an Invariant Mapping",
        CVPR 2006, https://doi.org/10.1109/CVPR.2006.100. Related: ``online_contrastive`` scores only
        the hard pairs of each batch and often trains better on the same data.
    """

    DistanceMetric = SiameseDistanceMetric
    data_needs = DataNeeds(text_columns=2, roles=("sentence_A", "sentence_B"), label="float")
    uses_embedding_helper = True

    def __init__(
        self,
        model: nn.Module,
        distance_metric: Callable[[Tensor, Tensor], Tensor] = SiameseDistanceMetric.COSINE_DISTANCE,
        margin: float = 0.5,
        size_average: bool = True,
    ) -> None:
        super().__init__()
        self.model = model
        self.distance_metric = SiameseDistanceMetric.resolve(distance_metric, type(self).__name__)
        self.margin = margin
        self.size_average = size_average
        self._warned_labels = False

    @classmethod
    def contract_example(cls, model: nn.Module) -> "ContrastiveLoss":
        return cls(model)

    @staticmethod
    def contract_labels(model: nn.Module, batch_size: int, columns: int) -> Tensor:
        """Labels for the contract suite's batch: alternating similar (1) and dissimilar (0) pairs."""
        return (torch.arange(batch_size) % 2 == 0).float()

    def forward(self, sentence_features: list[dict[str, Tensor]], labels: Tensor) -> Tensor:
        check_loss_inputs(self, sentence_features, labels)
        embeddings = embed_columns(self.model, sentence_features)
        return self.compute_loss_from_embeddings(embeddings, labels)

    def compute_loss_from_embeddings(self, embeddings: list[Tensor], labels: Tensor) -> Tensor:
        """The loss for already computed ``[embeddings_A, embeddings_B]``."""
        first, second = embeddings
        distances = self.distance_metric(first, second)
        labels = labels.reshape(-1).to(torch.promote_types(distances.dtype, torch.float32))
        self._warn_on_graded_labels(labels)
        pull = labels * distances.pow(2)
        push = (1 - labels) * F.relu(self.margin - distances).pow(2)
        per_pair = 0.5 * (pull + push)
        return per_pair.mean() if self.size_average else per_pair.sum()

    def _warn_on_graded_labels(self, labels: Tensor) -> None:
        if self._warned_labels:
            return
        self._warned_labels = True
        if bool(((labels != 0) & (labels != 1)).any()):
            warnings.warn(
                f"{type(self).__name__} got labels other than 0 and 1; they weight the pull (label) and push "
                "(1 - label) terms as they are. For graded similarity scores, cosent or angle fits better.",
                UserWarning,
                stacklevel=4,
            )

    def validate_dataset(
        self, dataset: Any, dataset_name: str | None = None, *, label_columns: Sequence[str] | None = None, **_: Any
    ) -> list[str]:
        """Problems that stop a run before it starts: labels that are not 0 or 1."""
        return binary_label_problems(type(self).__name__, dataset, dataset_name, label_columns)

    def get_config_dict(self) -> dict[str, Any]:
        return {
            "distance_metric": SiameseDistanceMetric.name_of(self.distance_metric),
            "margin": self.margin,
            "size_average": self.size_average,
        }

    @property
    def citation(self) -> str:
        return """
@inproceedings{hadsell2006dimensionality,
    author={Hadsell, R. and Chopra, S. and LeCun, Y.},
    booktitle={2006 IEEE Computer Society Conference on Computer Vision and Pattern Recognition (CVPR'06)},
    title={Dimensionality Reduction by Learning an Invariant Mapping},
    year={2006},
    volume={2},
    pages={1735-1742},
    doi={10.1109/CVPR.2006.100}
}
"""
