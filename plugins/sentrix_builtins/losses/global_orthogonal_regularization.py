"""Global orthogonal regularisation: spread the embeddings of unrelated texts over the space.

Registered as ``global_orthogonal_regularization`` (alias ``GlobalOrthogonalRegularizationLoss``).
"""

from __future__ import annotations

from typing import Any, Callable

import torch
from torch import Tensor, nn

from sentrix.plugin_api import (
    DataNeeds,
    InvalidInputError,
    check_loss_inputs,
    cos_sim,
    embed_columns,
    function_name,
    resolve_similarity_fn,
)


class GlobalOrthogonalRegularizationLoss(nn.Module):
    """Push the similarities between the different texts of a batch towards those of random vectors.

    For every text column the off-diagonal similarities ``s_ij`` (``i != j``) of the batch are
    computed. Two terms follow: the squared mean ``(mean s_ij) ** 2`` (random unit vectors average
    to 0) and ``max(0, mean s_ij ** 2 - 1 / dim)`` (random unit vectors in ``dim`` dimensions have a
    second moment of ``1 / dim``). Each is averaged (or summed) over the columns and weighted. The
    loss returns them as two named parts, ``gor_mean`` and ``gor_second_moment``, which the
    trainer adds up and logs separately. It is a regulariser: combine it with a main loss (e.g. add
    it to ``multiple_negatives_ranking`` in a small wrapper module, as EmbeddingGemma does).

    Inputs:
        ======================  ===================================
        text columns            label
        ======================  ===================================
        any number (``>= 1``)   none needed (a label is ignored)
        ======================  ===================================

    Sampler:
        ``no_duplicates``: every other row of the batch is treated as unrelated, so repeated texts
        in a batch would be pushed apart from themselves.

    Args:
        model: the model to train.
        similarity_fct: matrix similarity, default ``cos_sim``; a callable or a name
            (``"cosine"``, ``"dot"``, ...).
        mean_weight: weight of the mean term, default 1.0; ``None`` or ``0`` leaves the term out.
        second_moment_weight: weight of the second-moment term, default 1.0; ``None`` or ``0``
            leaves it out. At least one of the two weights must be non-zero.
        aggregation: how the columns' terms are combined, ``"mean"`` (default) or ``"sum"``
            (EmbeddingGemma's choice).

    Example:
        .. code-block:: python

            from datasets import Dataset
            from sentrix import SentenceTransformer, SentenceTransformerTrainer
            from sentrix.losses import GlobalOrthogonalRegularizationLoss

            model = SentenceTransformer("sentence-transformers/all-MiniLM-L6-v2")
            train = Dataset.from_dict({"text": ["A man is eating food.", "A monkey is playing drums.",
                                                "The cat sits on the mat.", "Children play in the park."]})
            loss = GlobalOrthogonalRegularizationLoss(model, mean_weight=0.0, aggregation="sum")
            trainer = SentenceTransformerTrainer(model=model, train_dataset=train, loss=loss)
            trainer.train()

    References:
        Zhang et al., "Learning Spread-out Local Feature Descriptors", ICCV 2017,
        https://arxiv.org/abs/1708.06320 ; EmbeddingGemma, https://arxiv.org/abs/2509.20354
    """

    data_needs = DataNeeds(
        text_columns=(1, None),
        roles=("text...",),
        label="any",
        in_batch_negatives=True,
        recommended_sampler="no_duplicates",
    )
    uses_embedding_helper = True

    def __init__(
        self,
        model: nn.Module,
        similarity_fct: Callable | str = cos_sim,
        mean_weight: float | None = 1.0,
        second_moment_weight: float | None = 1.0,
        aggregation: str = "mean",
    ) -> None:
        super().__init__()
        if not mean_weight and not second_moment_weight:
            raise InvalidInputError(
                "GlobalOrthogonalRegularizationLoss: mean_weight and second_moment_weight are both 0/None, so the "
                "loss would be empty. Fix: give at least one of them a non-zero weight (both default to 1.0)."
            )
        if aggregation not in ("mean", "sum"):
            raise InvalidInputError(
                f"GlobalOrthogonalRegularizationLoss: aggregation={aggregation!r} is not supported; use 'mean' or 'sum'."
            )
        try:
            self.similarity_fct = resolve_similarity_fn(similarity_fct, pairwise=False)
        except ValueError as exc:
            raise InvalidInputError(
                f"GlobalOrthogonalRegularizationLoss: similarity_fct={similarity_fct!r}: {exc}"
            ) from None
        self.model = model
        self.mean_weight = mean_weight
        self.second_moment_weight = second_moment_weight
        self.aggregation = aggregation

    @classmethod
    def contract_example(cls, model: nn.Module) -> "GlobalOrthogonalRegularizationLoss":
        return cls(model)

    def forward(self, sentence_features: list[dict[str, Tensor]], labels: Tensor | None = None) -> dict[str, Tensor]:
        check_loss_inputs(self, sentence_features, labels, require_labels=False)
        return self.compute_loss_from_embeddings(embed_columns(self.model, sentence_features))

    def compute_loss_from_embeddings(self, embeddings: list[Tensor], labels: Tensor | None = None) -> dict[str, Tensor]:
        """``{"gor_mean": ..., "gor_second_moment": ...}`` (only the weighted terms) for per-column embeddings."""
        terms = [self.compute_gor(e) for e in embeddings]
        combine = torch.sum if self.aggregation == "sum" else torch.mean
        parts: dict[str, Tensor] = {}
        if self.mean_weight:
            parts["gor_mean"] = self.mean_weight * combine(torch.stack([t[0] for t in terms]))
        if self.second_moment_weight:
            parts["gor_second_moment"] = self.second_moment_weight * combine(torch.stack([t[1] for t in terms]))
        return parts

    def compute_gor(self, embeddings: Tensor) -> tuple[Tensor, Tensor]:
        """(squared mean, excess second moment) of the off-diagonal similarities of one column."""
        rows, dim = embeddings.shape[0], embeddings.shape[1]
        similarities = self.similarity_fct(embeddings, embeddings)
        diagonal = torch.eye(rows, dtype=torch.bool, device=similarities.device)
        similarities = similarities.masked_fill(diagonal, 0.0)
        pairs = max(rows * (rows - 1), 1)
        mean_term = (similarities.sum() / pairs).pow(2)
        second_moment_term = torch.relu(similarities.pow(2).sum() / pairs - 1.0 / dim)
        return mean_term, second_moment_term

    def get_config_dict(self) -> dict[str, Any]:
        return {
            "similarity_fct": function_name(self.similarity_fct),
            "mean_weight": self.mean_weight,
            "second_moment_weight": self.second_moment_weight,
            "aggregation": self.aggregation,
        }

    @property
    def citation(self) -> str:
        return """
@misc{zhang2017learningspreadoutlocalfeature,
      title={Learning Spread-out Local Feature Descriptors},
      author={Xu Zhang and Felix X. Yu and Sanjiv Kumar and Shih-Fu Chang},
      year={2017},
      eprint={1708.06320},
      archivePrefix={arXiv},
      primaryClass={cs.CV},
      url={https://arxiv.org/abs/1708.06320},
}
"""
