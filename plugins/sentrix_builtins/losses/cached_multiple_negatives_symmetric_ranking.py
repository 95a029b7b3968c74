"""Cached symmetric multiple negatives ranking loss: the symmetric InfoNCE with a gradient cache.

Registered as ``cached_multiple_negatives_symmetric_ranking`` (alias
``CachedMultipleNegativesSymmetricRankingLoss``). Kept for scripts written against
sentence-transformers, which deprecates it in favour of ``CachedMultipleNegativesRankingLoss``
with ``directions=("query_to_doc", "doc_to_query")`` and ``partition_mode="per_direction"``.
"""

from __future__ import annotations

import warnings
from typing import Callable

from torch import Tensor, nn

from sentrix.plugin_api import cos_sim
from sentrix_builtins.losses.cached_multiple_negatives_ranking import CachedMultipleNegativesRankingLoss
from sentrix_builtins.losses.multiple_negatives_symmetric_ranking import SYMMETRIC


class CachedMultipleNegativesSymmetricRankingLoss(CachedMultipleNegativesRankingLoss):
    """The symmetric InfoNCE (anchor -> candidates and positive -> anchors, averaged) with a gradient cache.

    Same loss and gradients as ``multiple_negatives_symmetric_ranking``, computed in mini-batches
    so the batch can be far larger than memory would otherwise allow (see
    ``cached_multiple_negatives_ranking`` for how the cache works). Exactly
    ``cached_multiple_negatives_ranking`` with ``directions=("query_to_doc", "doc_to_query")`` and
    ``partition_mode="per_direction"``, the preferred spelling; constructing this class emits a
    ``DeprecationWarning`` saying so.

    Inputs:
        ===================================================  =====
        text columns                                         label
        ===================================================  =====
        ``(anchor, positive)``                               none
        ``(anchor, positive, negative_1, ..., negative_n)``  none
        ===================================================  =====

    Sampler:
        ``no_duplicates``: duplicates in a (large) batch become false negatives.

    Args:
        model: the model to train.
        scale: inverse temperature multiplying the similarities; default 20.0; must be > 0.
        similarity_fct: matrix similarity, a callable or a name; default ``cos_sim``.
        mini_batch_size: rows per chunk of the score matrix, and the size of each forward pass: about this many
            rows of the column's mean length (rows grouped by length, see ``sentrix.gradcache``); default 32.
        mini_batch_num_tokens: if set, mini-batches of at most this many real tokens instead; default None.
        gather_across_devices: in a distributed run, use every process's rows as candidates; default False.
        show_progress_bar: show a progress bar over the mini-batches; default False.

    Example:
        .. code-block:: python

            from sentrix import SentenceTransformer
            from sentrix.registry import losses

            model = SentenceTransformer("sentence-transformers/all-MiniLM-L6-v2")
            # preferred spelling of the same loss:
            loss = losses.create("cached_multiple_negatives_ranking", model=model, mini_batch_size=32,
                                 directions=("query_to_doc", "doc_to_query"), partition_mode="per_direction")

    References:
        Gao et al., 2021, https://arxiv.org/abs/2101.06983 (GradCache); Günther et al., 2023,
        https://arxiv.org/abs/2310.19923 (bidirectional InfoNCE).
    """

    def __init__(
        self,
        model: nn.Module,
        scale: float = 20.0,
        similarity_fct: Callable[[Tensor, Tensor], Tensor] = cos_sim,
        mini_batch_size: int = 32,
        mini_batch_num_tokens: int | None = None,
        gather_across_devices: bool = False,
        show_progress_bar: bool = False,
    ) -> None:
        warnings.warn(
            "CachedMultipleNegativesSymmetricRankingLoss is deprecated (as in sentence-transformers): use "
            "CachedMultipleNegativesRankingLoss(model, directions=('query_to_doc', 'doc_to_query'), "
            "partition_mode='per_direction'), which is the same loss.",
            DeprecationWarning,
            stacklevel=2,
        )
        super().__init__(
            model,
            scale=scale,
            similarity_fct=similarity_fct,
            mini_batch_size=mini_batch_size,
            mini_batch_num_tokens=mini_batch_num_tokens,
            gather_across_devices=gather_across_devices,
            show_progress_bar=show_progress_bar,
            **SYMMETRIC,
        )

    @classmethod
    def contract_example(cls, model: nn.Module) -> "CachedMultipleNegativesSymmetricRankingLoss":
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            return cls(model, mini_batch_size=2)
