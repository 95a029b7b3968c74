"""Online contrastive loss: the contrastive loss on the hard positive and hard negative pairs of a batch.

Registered as ``online_contrastive`` (alias ``OnlineContrastiveLoss``). Distances come from
``SiameseDistanceMetric``, defined with ``contrastive``.
"""

from __future__ import annotations

import warnings
from typing import Any, Callable, Sequence

import torch.nn.functional as F
from torch import Tensor, nn

from sentrix.plugin_api import DataNeeds, check_loss_inputs, embed_columns
from sentrix_builtins.losses.contrastive import SiameseDistanceMetric, binary_label_problems


class OnlineContrastiveLoss(nn.Module):
    """Contrastive loss restricted to the pairs of a batch that are on the wrong side.

    Within a batch, a positive pair (label 1) is *hard* when its distance exceeds the smallest
    distance of any negative pair, and a negative pair (label 0) is hard when its distance is
    below the largest distance of any positive pair. (A batch with only positives compares them
    with their mean distance, and likewise for negatives.) The loss sums ``d**2`` over the hard
    positives and ``max(0, margin - d)**2`` over the hard negatives; easy pairs contribute
    nothing. Pairs with a label other than 0 or 1 are ignored, and the run checks reject them.

    Inputs:
        ============================  ======================================
        text columns                  label
        ============================  ======================================
        ``(sentence_A, sentence_B)``  1 if the pair is similar, 0 if not (int, float or bool)
        ============================  ======================================

    Sampler:
        Any (``batch_sampler``). Hard pairs are chosen among the batch's own pairs, so batches that
        mix positives and negatives (the usual case with shuffled data) give the signal it needs.

    Args:
        model: the model to train.
        distance_metric: distance between the two embeddings of a pair, default
            ``SiameseDistanceMetric.COSINE_DISTANCE``; also ``.EUCLIDEAN``, ``.MANHATTAN``, their
            names as strings, or any callable ``(x, y) -> distances``.
        margin: distance that negative pairs must reach before they stop contributing; default 0.5.

    Example:
        .. code-block:: python

            from datasets import Dataset
            from sentrix import SentenceTransformer, SentenceTransformerTrainer
            from sentrix.losses import OnlineContrastiveLoss

            model = SentenceTransformer("sentence-transformers/all-MiniLM-L6-v2")
            train = Dataset.from_dict({
                "sentence1": ["How do I learn Python?", "What is the capital of France?"],
                "sentence2": ["What is the best way to learn Python?", "How tall is Mount Everest?"],
                "label": [1, 0],
            })
            trainer = SentenceTransformerTrainer(model=model, train_dataset=train, loss=OnlineContrastiveLoss(model))
            trainer.train()

    References:
        The contrastive loss of Hadsell, Chopra and LeCun, "Dimensionality Reduction by Learning an
        Invariant Mapping", CVPR 2006, https://doi.org/10.1109/CVPR.2006.100, with online mining of
        hard pairs as in the sentence-transformers Quora duplicate-questions example. Related:
        ``contrastive`` scores every pair.
    """

    DistanceMetric = SiameseDistanceMetric
    data_needs = DataNeeds(text_columns=2, roles=("sentence_A", "sentence_B"), label="float")
    uses_embedding_helper = True

    def __init__(
        self,
        model: nn.Module,
        distance_metric: Callable[[Tensor, Tensor], Tensor] = SiameseDistanceMetric.COSINE_DISTANCE,
        margin: float = 0.5,
    ) -> None:
        super().__init__()
        self.model = model
        self.distance_metric = SiameseDistanceMetric.resolve(distance_metric, type(self).__name__)
        self.margin = margin
        self._warned_labels = False

    @classmethod
    def contract_example(cls, model: nn.Module) -> "OnlineContrastiveLoss":
        return cls(model)

    @staticmethod
    def contract_labels(model: nn.Module, batch_size: int, columns: int) -> Tensor:
        """Labels for the contract suite's batch: all pairs positive, so the farther-than-average ones are hard.

        (With mixed labels an arbitrary tiny model may already separate every positive from every
        negative, leaving no hard pair and no gradient to check.)
        """
        import torch

        return torch.ones(batch_size)

    def forward(self, sentence_features: list[dict[str, Tensor]], labels: Tensor, size_average: bool = False) -> Tensor:
        # ``size_average`` is accepted for sentence-transformers compatibility; the loss is always a sum.
        check_loss_inputs(self, sentence_features, labels)
        embeddings = embed_columns(self.model, sentence_features)
        return self.compute_loss_from_embeddings(embeddings, labels)

    def compute_loss_from_embeddings(self, embeddings: list[Tensor], labels: Tensor) -> Tensor:
        """The loss for already computed ``[embeddings_A, embeddings_B]``."""
        distances = self.distance_metric(embeddings[0], embeddings[1])
        labels = labels.reshape(-1)
        positive, negative = labels == 1, labels == 0
        if not self._warned_labels:
            self._warned_labels = True
            if bool((~positive & ~negative).any()):
                warnings.warn(
                    f"{type(self).__name__} got labels other than 0 and 1; those pairs are ignored.",
                    UserWarning,
                    stacklevel=3,
                )
        positive_d, negative_d = distances[positive], distances[negative]
        # the threshold each side must cross to count as hard
        positive_bar = negative_d.min() if negative_d.numel() else positive_d.mean()
        negative_bar = positive_d.max() if positive_d.numel() else negative_d.mean()
        hard_positive = positive_d[positive_d > positive_bar]
        hard_negative = negative_d[negative_d < negative_bar]
        return hard_positive.pow(2).sum() + F.relu(self.margin - hard_negative).pow(2).sum()

    def validate_dataset(
        self, dataset: Any, dataset_name: str | None = None, *, label_columns: Sequence[str] | None = None, **_: Any
    ) -> list[str]:
        """Problems that stop a run before it starts: labels that are not 0 or 1."""
        return binary_label_problems(type(self).__name__, dataset, dataset_name, label_columns)

    def get_config_dict(self) -> dict[str, Any]:
        return {"distance_metric": SiameseDistanceMetric.name_of(self.distance_metric), "margin": self.margin}

