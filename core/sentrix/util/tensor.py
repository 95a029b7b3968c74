"""Small tensor helpers: move a features dict to a device, cut embeddings to fewer dimensions,
scale embeddings to unit length (``normalize_embeddings``, from :mod:`sentrix.similarity`)."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import Tensor

from sentrix.similarity import normalize_embeddings

__all__ = ["batch_to_device", "normalize_embeddings", "to_numpy", "truncate_embeddings"]


def batch_to_device(batch: dict[str, Any], target_device: torch.device | str) -> dict[str, Any]:
    """Move every tensor of a features dict to ``target_device``; other values are kept as they are."""
    return {key: value.to(target_device) if isinstance(value, Tensor) else value for key, value in batch.items()}


def truncate_embeddings(embeddings: np.ndarray | Tensor, truncate_dim: int | None) -> np.ndarray | Tensor:
    """Keep the first ``truncate_dim`` dimensions of each embedding (all of them when None)."""
    return embeddings[..., :truncate_dim]


def to_numpy(tensor: Tensor) -> np.ndarray:
    """``tensor.cpu().numpy()``, upcasting bfloat16 (which numpy lacks) to float32."""
    if tensor.dtype == torch.bfloat16:
        tensor = tensor.float()
    return tensor.detach().cpu().numpy()
