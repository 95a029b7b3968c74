"""Embedding quantization: int8/uint8 scalar buckets and binary/ubinary bit packing."""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
from torch import Tensor

from sentrix.errors import InvalidInputError
from sentrix.util.tensor import to_numpy

PRECISIONS = ("float32", "int8", "uint8", "binary", "ubinary")


def quantize_embeddings(
    embeddings: Any,
    precision: Literal["float32", "int8", "uint8", "binary", "ubinary"],
    ranges: np.ndarray | None = None,
    calibration_embeddings: np.ndarray | None = None,
) -> np.ndarray:
    """Quantize float embeddings; returns a numpy array.

    ``int8``/``uint8`` split each dimension's range into 256 buckets. The range (a ``2 x dim``
    array of minima and maxima) comes from ``ranges``, else from ``calibration_embeddings``, else
    from the embeddings themselves (then at least 2 are needed). ``binary``/``ubinary`` keep one
    bit per dimension (value > 0), packed 8 per byte, as int8 (offset by -128) or uint8.

    Example::

        from sentrix.util import quantize_embeddings
        codes = quantize_embeddings(model.encode(texts), precision="ubinary")   # dim / 8 bytes each
    """
    if isinstance(embeddings, Tensor):
        embeddings = to_numpy(embeddings)
    elif isinstance(embeddings, list):
        embeddings = np.array([to_numpy(e) if isinstance(e, Tensor) else e for e in embeddings])
    embeddings = np.asarray(embeddings)
    if embeddings.dtype in (np.int8, np.uint8):
        raise InvalidInputError("quantize_embeddings needs float embeddings; these are already int8/uint8.")
    if precision not in PRECISIONS:
        raise InvalidInputError(f"precision must be one of {', '.join(PRECISIONS)}, got {precision!r}.")
    if precision == "float32":
        return embeddings.astype(np.float32)
    if precision in ("int8", "uint8"):
        if ranges is None:
            source = embeddings if calibration_embeddings is None else np.asarray(calibration_embeddings)
            if calibration_embeddings is None and (source.ndim == 1 or source.shape[0] < 2):
                raise InvalidInputError(
                    f"Cannot compute {precision} ranges from a single embedding. Fix: pass `ranges` or "
                    "`calibration_embeddings` computed from a representative set."
                )
            ranges = np.vstack((source.min(axis=0), source.max(axis=0)))
        ranges = np.asarray(ranges, dtype=np.float32)
        starts = ranges[0]
        steps = (ranges[1] - starts) / 255
        steps = np.where(steps == 0, 1, steps)
        buckets = np.clip(np.floor((embeddings - starts) / steps), 0, 255)
        return buckets.astype(np.uint8) if precision == "uint8" else (buckets - 128).astype(np.int8)
    packed = np.packbits(embeddings > 0, axis=-1)
    return (packed - 128).astype(np.int8) if precision == "binary" else packed
