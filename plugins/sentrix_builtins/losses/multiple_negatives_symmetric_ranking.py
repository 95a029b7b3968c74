"""Symmetric multiple negatives ranking loss: InfoNCE in both directions, averaged.

Registered as ``multiple_negatives_symmetric_ranking`` (alias ``MultipleNegativesSymmetricRankingLoss``).
Kept for scripts written against sentence-transformers, which deprecates it in favour of
``MultipleNegativesRankingLoss(directions=("query_to_doc", "doc_to_query"), partition_mode="per_direction")``.
"""

from __future__ import annotations

import warnings
from typing import Any, Callable

from torch import Tensor, nn

from sentrix.plugin_api import cos_sim
from sentrix_builtins.losses.multiple_negatives_ranking import MultipleNegativesRankingLoss

SYMMETRIC = {"directions": ("query_to_doc", "doc_to_query"), "partition_mode": "per_direction"}


class MultipleNegativesSymmetricRankingLoss(MultipleNegativesRankingLoss):
    """MultipleNegativesRankingLoss that also ranks each positive's own anchor above the other anchors.

    The mean of two softmax cross-entropies per row: anchor -> candidates (as in
    ``multiple_negatives_ranking``) and positive -> anchors. Question-answer data trained this way
    retrieves in both directions. It is exactly ``multiple_negatives_ranking`` with
    ``directions=("query_to_doc", "doc_to_query")`` and ``partition_mode="per_direction"``, which is
    the preferred spelling; constructing this class emits a ``DeprecationWarning`` saying so.

    Inputs:
        ===================================================  =====
        text columns                                         label
        ===================================================  =====
        ``(anchor, positive)``                               none
        ``(anchor, positive, negative_1, ..., negative_n)``  none
        ===================================================  =====

        Negative columns join the anchor -> candidates pool only.

    Sampler:
        ``no_duplicates``: a duplicate text in a batch becomes a false negative.

    Args:
        model: the model to train.
        scale: inverse temperature multiplying the similarities; default 20.0; must be > 0.
        similarity_fct: matrix similarity, a callable or a name; default ``cos_sim``.
        gather_across_devices: in a distributed run, use every process's rows as candidates; default False.

    Example:
        .. code-block:: python

            from sentrix import SentenceTransformer
            from sentrix.registry import losses

            model = SentenceTransformer("sentence-transformers/all-MiniLM-L6-v2")
            # preferred spelling of the same loss:
            loss = losses.create("multiple_negatives_ranking", model=model,
                                 directions=("query_to_doc", "doc_to_query"), partition_mode="per_direction")

    References:
        Günther et al., "Jina Embeddings 2", 2023, https://arxiv.org/abs/2310.19923 (bidirectional InfoNCE).
    """

    def __init__(
        self,
        model: nn.Module,
        scale: float = 20.0,
        similarity_fct: Callable[[Tensor, Tensor], Tensor] = cos_sim,
        gather_across_devices: bool = False,
    ) -> None:
        warnings.warn(
            "MultipleNegativesSymmetricRankingLoss is deprecated (as in sentence-transformers): use "
            "MultipleNegativesRankingLoss(model, directions=('query_to_doc', 'doc_to_query'), "
            "partition_mode='per_direction'), which is the same loss.",
            DeprecationWarning,
            stacklevel=2,
        )
        super().__init__(model, scale=scale, similarity_fct=similarity_fct, gather_across_devices=gather_across_devices, **SYMMETRIC)

    @classmethod
    def contract_example(cls, model: nn.Module) -> "MultipleNegativesSymmetricRankingLoss":
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            return cls(model)

    def get_config_dict(self) -> dict[str, Any]:
        return super().get_config_dict()
