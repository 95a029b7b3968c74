"""Rank, world size and all-gather for multi-process training (no-ops in a single process).

The same helpers as ``sentence_transformers.util.distributed``. The gradient-keeping gather is
:func:`sentrix.embedding.gather_with_grad`, the one losses use.

Example::

    from sentrix.util import all_gather_with_grad, get_rank

    all_docs = all_gather_with_grad(doc_embeddings)    # (world_size * batch, dim), grads flow to every rank
    offset = get_rank() * len(doc_embeddings)          # where this process's rows start
"""

from __future__ import annotations

import logging

import torch
from torch import Tensor

from sentrix.embedding import gather_with_grad, process_rank
from sentrix.util.environment import is_dist_initialized

logger = logging.getLogger(__name__)

__all__ = ["all_gather", "all_gather_padded", "all_gather_with_grad", "get_rank", "get_world_size"]

_warned_not_distributed = False


def get_rank() -> int:
    """This process's rank in the default process group, 0 when not distributed."""
    return process_rank()


def get_world_size() -> int:
    """The number of processes in the default process group, 1 when not distributed."""
    return torch.distributed.get_world_size() if is_dist_initialized() else 1


def _warn_not_distributed() -> None:
    global _warned_not_distributed
    if not _warned_not_distributed:
        _warned_not_distributed = True
        logger.warning(
            "all_gather was called but torch.distributed is not initialised, so the local tensor is returned "
            "unchanged. This is expected on a single device; there, calling it is unnecessary."
        )


def all_gather(tensor: Tensor, with_grad: bool = False) -> Tensor:
    """Concatenate ``tensor`` from every rank along dim 0 (rank order).

    Without ``with_grad`` only this rank's slice stays connected to the autograd graph (the other
    ranks' slices are plain copies); with it, gradients flow back to every rank's tensor. Outside a
    distributed run the tensor is returned as it is (with a one-time warning).
    """
    if not is_dist_initialized():
        _warn_not_distributed()
        return tensor
    if with_grad:
        return gather_with_grad(tensor)
    dist = torch.distributed
    parts = [torch.empty_like(tensor) for _ in range(dist.get_world_size())]
    dist.all_gather(parts, tensor.contiguous())
    parts[dist.get_rank()] = tensor
    return torch.cat(parts, dim=0)


def all_gather_with_grad(tensor: Tensor) -> Tensor:
    """:func:`all_gather` with ``with_grad=True``: gradients reach every rank's tensor."""
    return all_gather(tensor, with_grad=True)


def all_gather_padded(tensor: Tensor, mask: Tensor, with_grad: bool = False) -> tuple[Tensor, Tensor]:
    """All-gather ``(B, T, D)`` token embeddings and their ``(B, T)`` mask when ``T`` differs per rank.

    Both are first padded along the token axis to the largest ``T`` of any rank (embeddings with
    zeros, the mask with ``False``/0), then gathered: ``(sum B, T_max, D)`` and ``(sum B, T_max)``.
    ``with_grad`` applies to the embeddings; the mask never carries gradients. Outside a
    distributed run both come back unchanged.
    """
    if is_dist_initialized():
        longest = torch.tensor(tensor.size(1), device=tensor.device)
        torch.distributed.all_reduce(longest, op=torch.distributed.ReduceOp.MAX)
        missing = int(longest.item()) - tensor.size(1)
        if missing > 0:
            tensor = torch.nn.functional.pad(tensor, (0, 0, 0, missing))
            mask = torch.nn.functional.pad(mask, (0, missing))
    return all_gather(tensor, with_grad=with_grad), all_gather(mask)
