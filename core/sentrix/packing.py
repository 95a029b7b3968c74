"""Row packing: several texts laid end to end in one sequence, each attending only to itself.

A padded batch of short and long texts spends most of an encoder's work on padding. Packing
places the rows of a right-padded batch one after another into ``packs`` sequences of
``pack_length`` tokens (first-fit decreasing; ``pack_length`` is at least the longest row, chosen
by :func:`pack_rows`, and a pack holds as many rows as fit). Each token gets its position inside its own row and a
block-diagonal attention mask, so every row sees exactly its own tokens, as it would alone: the
encoder's output for a row is the same up to float rounding, while the linear layers (most of
an encoder's arithmetic) run on little more than the real tokens, in one call.

The loss helper (:mod:`sentrix.embedding`) decides when to pack and puts a :class:`RowPacking`
into the feature dict under :data:`ROW_PACKING_KEY`; an input module that can run packed rows
(one whose :meth:`can_pack_rows` returns True, like the built-in ``Transformer`` on BERT-style
encoders) packs its inputs with it, runs the encoder once, and hands the next modules the usual
padded ``(rows, width, hidden)`` token embeddings via :meth:`RowPacking.unpack`, so pooling and
everything after it are unchanged.

Writing an input module that packs::

    from sentrix.plugin_api import ROW_PACKING_KEY, RowPacking

    def can_pack_rows(self) -> bool:
        return True  # the encoder takes position_ids and a 4-D attention mask

    def forward(self, features):
        packing = features.get(ROW_PACKING_KEY)
        if isinstance(packing, RowPacking):
            hidden = self.encoder(
                input_ids=packing.pack(features["input_ids"]),
                position_ids=packing.position_ids(),
                attention_mask=packing.attention_mask(additive_dtype=None),
            )
            features["token_embeddings"] = packing.unpack(hidden)
            return features
        ...
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

import numpy as np
import torch
from torch import Tensor

__all__ = ["DEFAULT_ATTENTION_SCALE", "ROW_PACKING_KEY", "RowPacking", "pack_rows"]

#: The feature-dict key under which :mod:`sentrix.embedding` hands an input module its packing.
ROW_PACKING_KEY = "row_packing"


@dataclass(frozen=True, eq=False)
class RowPacking:
    """Where each row of a right-padded batch sits in the packed batch. Build it with :func:`pack_rows`.

    :param lengths: the real length (tokens) of each row, in row order.
    :param pack_length: tokens per packed sequence (from the longest row to twice it, see :func:`pack_rows`).
    :param pack_of: the pack each row went to.
    :param offset_of: where each row starts inside its pack.
    :param packs: the number of packed sequences.
    """

    lengths: tuple[int, ...]
    pack_length: int
    pack_of: tuple[int, ...]
    offset_of: tuple[int, ...]
    packs: int
    _cache: dict = field(default_factory=dict, repr=False, compare=False)

    @property
    def rows(self) -> int:
        return len(self.lengths)

    @property
    def width(self) -> int:
        """The padded width of the rows (their longest real length)."""
        return max(self.lengths, default=0)

    @property
    def tokens(self) -> int:
        """Tokens the encoder runs: ``packs * pack_length``."""
        return self.packs * self.pack_length

    @property
    def real_tokens(self) -> int:
        return sum(self.lengths)

    def _indices(self, device: torch.device) -> tuple[Tensor, Tensor, Tensor]:
        """(flat pack position of each real token, row-major; its row; its position in the row), on ``device``."""
        key = ("indices", str(device))
        if key not in self._cache:
            lengths = np.asarray(self.lengths, dtype=np.int64)
            rows = np.repeat(np.arange(self.rows, dtype=np.int64), lengths)
            starts = np.cumsum(lengths) - lengths
            within = np.arange(int(lengths.sum()), dtype=np.int64) - np.repeat(starts, lengths)
            base = np.asarray(self.pack_of, dtype=np.int64) * self.pack_length + np.asarray(self.offset_of, dtype=np.int64)
            flat = np.repeat(base, lengths) + within
            self._cache[key] = tuple(torch.from_numpy(a).to(device) for a in (flat, rows, within))
        return self._cache[key]

    def pack(self, tensor: Tensor, fill: int | float = 0) -> Tensor:
        """``(rows, width, ...)`` per-row token values -> ``(packs, pack_length, ...)``; free slots get ``fill``."""
        flat, rows, within = self._indices(tensor.device)
        out = tensor.new_full((self.packs * self.pack_length, *tensor.shape[2:]), fill)
        out[flat] = tensor[rows, within]
        return out.view(self.packs, self.pack_length, *tensor.shape[2:])

    def position_ids(self, start: int = 0, device: torch.device | str = "cpu") -> Tensor:
        """``(packs, pack_length)`` positions: each row counts from ``start``; free slots hold ``start``."""
        flat, _, within = self._indices(torch.device(device))
        out = torch.full((self.packs * self.pack_length,), start, dtype=torch.long, device=device)
        out[flat] = within + start
        return out.view(self.packs, self.pack_length)

    def segments(self, device: torch.device | str = "cpu") -> Tensor:
        """``(packs, pack_length)``: the row each slot belongs to, ``-1`` for free slots."""
        flat, rows, _ = self._indices(torch.device(device))
        out = torch.full((self.packs * self.pack_length,), -1, dtype=torch.long, device=device)
        out[flat] = rows
        return out.view(self.packs, self.pack_length)

    def attention_mask(self, additive_dtype: torch.dtype | None = None, device: torch.device | str = "cpu") -> Tensor:
        """The block-diagonal mask, ``(packs, 1, pack_length, pack_length)``.

        ``additive_dtype=None`` gives a boolean mask (True: may attend), the form scaled-dot-product
        attention takes; a float dtype gives the additive form (0 or that dtype's lowest value) that
        eager attention adds to its scores. A free slot attends only to itself, so no softmax row is
        empty; its output is never read.
        """
        segment = self.segments(device)
        same = segment[:, :, None] == segment[:, None, :]
        free = segment < 0
        eye = torch.eye(self.pack_length, dtype=torch.bool, device=segment.device)[None]
        allowed = (same & ~free[:, :, None]) | (eye & free[:, :, None])
        allowed = allowed[:, None]
        if additive_dtype is None:
            return allowed
        mask = torch.zeros(allowed.shape, dtype=additive_dtype, device=segment.device)
        return mask.masked_fill_(~allowed, torch.finfo(additive_dtype).min)

    def unpack(self, packed: Tensor, width: int | None = None) -> Tensor:
        """``(packs, pack_length, ...)`` -> ``(rows, width, ...)`` in row order, zeros at padding.

        Differentiable (a gather), so gradients flow back into the packed tensor.
        """
        width = self.width if width is None else int(width)
        flat_index, rows, within = self._indices(packed.device)
        tail = packed.shape[2:]
        flat = packed.reshape(self.packs * self.pack_length, *tail)
        source = torch.cat([flat, flat.new_zeros((1, *tail))], dim=0)
        key = ("gather", str(packed.device), width)
        if key not in self._cache:
            index = torch.full((self.rows * width,), self.packs * self.pack_length, dtype=torch.long, device=packed.device)
            index[rows * width + within] = flat_index
            self._cache[key] = index
        return source.index_select(0, self._cache[key]).view(self.rows, width, *tail)


#: Default ``attention_scale`` of :func:`pack_rows`: six times a hidden size of 384 (MiniLM).
DEFAULT_ATTENTION_SCALE = 6 * 384


def _first_fit_decreasing(lengths: np.ndarray, sizes: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """First-fit decreasing for several pack sizes at once: (packs, pack_of, offset_of), one row per size."""
    count, rows = len(sizes), len(lengths)
    order = np.argsort(-lengths, kind="stable")
    space = np.zeros((count, rows + 1), dtype=np.int64)  # column j: the room left in pack j
    opened = np.zeros(count, dtype=np.int64)
    pack_of = np.zeros((count, rows), dtype=np.int64)
    offset_of = np.zeros((count, rows), dtype=np.int64)
    every = np.arange(count)
    for row in order:
        length = lengths[row]
        fits = space >= length
        fits[every, opened] = True  # the next unopened pack always takes the row
        target = fits.argmax(axis=1)
        new = target == opened
        space[every[new], target[new]] = sizes[new]
        opened += new
        offset_of[:, row] = sizes - space[every, target]
        pack_of[:, row] = target
        space[every, target] -= length
    return opened, pack_of, offset_of


def pack_rows(
    lengths: Sequence[int], pack_length: int | None = None, attention_scale: float = DEFAULT_ATTENTION_SCALE
) -> RowPacking:
    """First-fit-decreasing packing of rows with these real lengths into sequences of ``pack_length`` tokens.

    With ``pack_length=None`` the length is chosen among 17 values from the longest row to twice it,
    by the estimated cost of the packed forward: ``tokens * (1 + pack_length / attention_scale)``
    (the linear layers' work grows with the tokens, attention's with tokens times the pack length;
    for a transformer encoder ``attention_scale`` is about six times its hidden size). A longer pack
    leaves less room unused at the end of each pack, but costs more attention per token. A given
    ``pack_length`` may not be shorter than the longest row.
    """
    lengths = tuple(max(int(x), 0) for x in lengths)
    longest = max(lengths, default=0)
    if pack_length is not None and int(pack_length) < longest:
        raise ValueError(f"pack_length={int(pack_length)} is shorter than the longest row ({longest} tokens)")
    if not lengths:
        return RowPacking((), max(int(pack_length or 1), 1), (), (), 0)
    base = max(longest, 1)
    if pack_length is not None:
        sizes = np.asarray([int(pack_length)], dtype=np.int64)
    else:
        sizes = np.asarray(sorted({base + (base * k) // 16 for k in range(17)}), dtype=np.int64)
    packs, pack_of, offset_of = _first_fit_decreasing(np.asarray(lengths, dtype=np.int64), sizes)
    cost = packs * sizes * (1.0 + sizes / float(attention_scale))
    best = int(np.argmin(cost))  # ties go to the shorter pack
    return RowPacking(
        lengths, int(sizes[best]), tuple(int(x) for x in pack_of[best]), tuple(int(x) for x in offset_of[best]),
        int(packs[best]),
    )
