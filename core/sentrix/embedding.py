"""The one place where losses turn tokenised columns into embeddings.

A loss receives ``sentence_features``: one tokenised dict per text column (``input_ids``,
``attention_mask``, ...). The obvious way to embed them is one ``model(features)`` call per
column. :func:`embed_columns` returns exactly the same embeddings (and so the same loss and the
same gradients) while doing less work:

* **merge**: columns that were tokenised the same way (same feature keys, same non-tensor
  values such as a Router ``task``) are concatenated row-wise into one batch, so the model runs
  once instead of once per column. Columns that differ (e.g. a Router model's ``query`` and
  ``document`` routes) are embedded separately.
* **packed rows**: when the model's input module can run them (:func:`can_pack_rows`; the
  built-in ``Transformer`` on BERT, DistilBERT, ELECTRA, RoBERTa, XLM-RoBERTa or CamemBERT
  encoders with SDPA or eager attention), the rows of a forward
  are laid end to end in a few sequences of one to two times the longest row, each token keeping its
  position in its own text and attending only to it (:mod:`sentrix.packing`): one model call with
  a few percent padding. The input module hands the next modules ordinary padded token
  embeddings, so pooling is unchanged.
* **length buckets**: otherwise the rows of a batch are sorted by their real length and split
  into a few buckets (split points chosen to minimise padding), each trimmed to its own longest
  row, so far fewer padding tokens go through the model.
  This happens *inside* one training batch: which texts share a batch (and so the in-batch
  negatives) does not change.

Both rely on right-padded inputs and on a model whose rows and positions do not interact: each
row's embedding depends only on that row's own real tokens, not on the other rows of the batch
nor on padding. That holds for transformer encoders with an attention mask and for every pooling
mode, but not for a BatchNorm head in training mode or a convolution over token states. So it is
**declared**, never assumed: every model module states it with the class attribute
:attr:`sentrix.module_base.Module.rows_independent` (the built-ins do; ``CNN`` and ``LSTM`` say
``False``), and the savings apply only when every module of the model says ``True``. A module
that says ``False`` or nothing (any plain ``torch.nn`` module, any model that is not a module
pipeline) makes :func:`embed_columns` run the plain per-column forward on the caller's own
feature dicts; :func:`plain_forward_reason` tells why, and the trainer logs it when training
starts. Left-padded or mask-less inputs are embedded per column unchanged. Results match
per-column forwards to float rounding; with dropout active the random masks differ, as they
would between any two runs.

Switches, most specific first: the ``merge_and_bucket`` argument of :func:`embed_columns` or
:func:`embedding_options` (the trainer sets it from the training argument
``merge_and_bucket``), the ``SENTRIX_EMBED_MERGE_AND_BUCKET`` environment variable, then the
model attribute ``model.merge_and_bucket``. Each is ``None`` (decide by the modules'
declarations), ``False`` (always the plain forward) or ``True`` (merge and bucket even when a
module does not declare it; you vouch for exactness). A loss that hands state from one call to
the next through the feature dicts runs inside :func:`~sentrix.gradcache.column_merging_disabled`,
which gives the plain forward on the caller's dicts, so whatever the model writes into them
stays there.

The planner never runs more tokens than plain per-column forwards would: it compares merged,
anchor-separate and per-column plans, drops any whose tokens exceed the per-column forwards, and
among the rest takes the cheapest by an estimated cost, ``padded tokens + call_cost * model
calls``. ``call_cost`` is the fixed cost of one model call expressed in tokens: what a call
costs beyond its tokens (layer launches, Python, the optimiser's share is not in it). It
decides how many buckets pay off; bucket split points minimise that cost exactly. A packed
forward is one call of ``packs * pack_length`` tokens and is taken when it costs less than the
buckets (almost always).

Configuration (argument > :func:`embedding_options` context > environment > default):

==========================  =========================================================  ==============
setting                     meaning                                                    default
==========================  =========================================================  ==============
``merge``                   merge compatible columns into one forward                  ``True``
``buckets``                 at most this many length buckets per forward (1 = off)     ``4``
``min_bucket_rows``         never make a bucket smaller than this many rows            ``1``
``call_cost``               cost of one model call, in tokens (``None``: per device)   ``None``
``merge_and_bucket``        ``None`` by declaration, ``False`` plain, ``True`` force   ``None``
``pack``                    pack rows where the input module can (else buckets)        ``True``
==========================  =========================================================  ==============

The per-device call costs (:data:`DEFAULT_CALL_COST`) are estimates of ``a / b`` in
``time = a * calls + b * tokens`` for forward + backward of all-MiniLM-L6-v2, which
``benchmarks/call_cost.py`` fits from timings over many batch shapes: measure your own model and
machine with it and set ``SENTRIX_EMBED_CALL_COST``. The CPU value agrees in scale with a first
fit of that script (``benchmarks/results/call_cost_loaded_check.md``, a busy machine); the
accelerator value is an estimate not yet measured: there small forwards are launch-bound, a call
costs many more tokens, so fewer buckets are made. The embeddings are the same either way; only
the speed depends on it.

Environment variables: ``SENTRIX_EMBED_MERGE`` (``0``/``1``), ``SENTRIX_EMBED_BUCKETS`` (int),
``SENTRIX_EMBED_MIN_BUCKET_ROWS`` (int), ``SENTRIX_EMBED_CALL_COST`` (int),
``SENTRIX_EMBED_MERGE_AND_BUCKET`` (``0``/``1``/``auto``), ``SENTRIX_EMBED_PACK`` (``0``/``1``).

A loss written for sentence-transformers that calls ``model(features)`` itself keeps working;
it just does not get these savings. A loss that wants them::

    from sentrix.embedding import embed_columns

    class MyLoss(torch.nn.Module):
        def forward(self, sentence_features, labels):
            anchors, positives = embed_columns(self.model, sentence_features)
            ...

Any model whose ``model(features)["sentence_embedding"]`` gives the embeddings works, including
a sentence-transformers ``SentenceTransformer``.

A loss that gets all its embeddings through :func:`embed_columns` may set the class attribute
``uses_embedding_helper = True``: wrapper losses (Matryoshka) then serve it from one forward via
:func:`reuse_embeddings` instead of replaying model outputs.
"""

from __future__ import annotations

import logging
import os
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, replace
from typing import Any, Iterable, Iterator, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor

from sentrix.errors import InvalidInputError
from sentrix.packing import DEFAULT_ATTENTION_SCALE, ROW_PACKING_KEY, RowPacking, pack_rows

__all__ = [
    "EmbeddingOptions",
    "DEFAULT_CALL_COST",
    "TokenCount",
    "embed_columns",
    "embedding_options",
    "current_options",
    "count_tokens",
    "reuse_embeddings",
    "plan_forwards",
    "can_pack_rows",
    "padding_stats",
    "plain_forward_reason",
    "check_loss_inputs",
    "gather_with_grad",
    "process_rank",
    "embedding_dimension_of",
    "model_device",
]

logger = logging.getLogger(__name__)

#: Estimated cost of one model call in tokens, per device type (see the module docstring;
#: ``benchmarks/call_cost.py`` measures it). Other device types use the ``"cuda"`` value.
DEFAULT_CALL_COST: dict[str, int] = {"cpu": 64, "cuda": 4096}


# --------------------------------------------------------------------------------------------
# options
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class EmbeddingOptions:
    """How :func:`embed_columns` batches its forwards. See the module docstring."""

    merge: bool = True
    buckets: int = 4
    min_bucket_rows: int = 1
    call_cost: int | None = None
    merge_and_bucket: bool | None = None
    pack: bool = True

    def __post_init__(self) -> None:
        if int(self.buckets) < 1:
            raise InvalidInputError(
                f"embedding option buckets={self.buckets!r} is invalid: expected an integer >= 1 "
                "(1 turns length bucketing off). Fix SENTRIX_EMBED_BUCKETS or the buckets= argument."
            )
        if int(self.min_bucket_rows) < 1:
            raise InvalidInputError(
                f"embedding option min_bucket_rows={self.min_bucket_rows!r} is invalid: expected an integer >= 1."
            )
        if self.call_cost is not None and int(self.call_cost) < 0:
            raise InvalidInputError(
                f"embedding option call_cost={self.call_cost!r} is invalid: expected an integer >= 0 (the cost of one "
                "model call in tokens) or None for the device default. Fix SENTRIX_EMBED_CALL_COST or the call_cost= argument."
            )
        if self.merge_and_bucket not in (None, True, False):
            raise InvalidInputError(
                f"embedding option merge_and_bucket={self.merge_and_bucket!r} is invalid: expected None (decide by the "
                "model modules' declarations), False (plain per-column forwards) or True."
            )

    @property
    def plain(self) -> bool:
        """True when these options ask for the plain per-column forward on the caller's dicts."""
        return self.merge_and_bucket is False or (not self.merge and self.buckets == 1)


_OPTIONS: ContextVar[EmbeddingOptions | None] = ContextVar("sentrix_embedding_options", default=None)
_REUSE: ContextVar[tuple[tuple[int, ...], list[Tensor]] | None] = ContextVar("sentrix_reuse_embeddings", default=None)


def _env_bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    value = raw.strip().lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off"):
        return False
    raise InvalidInputError(f"environment variable {name}={raw!r} is invalid: expected 0 or 1.")


def _env_tristate(name: str) -> bool | None:
    raw = os.environ.get(name)
    if raw is None or raw.strip().lower() in ("", "auto", "none"):
        return None
    value = raw.strip().lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off"):
        return False
    raise InvalidInputError(f"environment variable {name}={raw!r} is invalid: expected 0, 1 or auto.")


def _env_int(name: str, default: int | None) -> int | None:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise InvalidInputError(f"environment variable {name}={raw!r} is invalid: expected an integer.") from None


def current_options() -> EmbeddingOptions:
    """The options in force here: an enclosing :func:`embedding_options` block, else the environment."""
    active = _OPTIONS.get()
    if active is not None:
        return active
    defaults = EmbeddingOptions()
    return EmbeddingOptions(
        merge=_env_bool("SENTRIX_EMBED_MERGE", defaults.merge),
        buckets=_env_int("SENTRIX_EMBED_BUCKETS", defaults.buckets),  # type: ignore[arg-type]
        min_bucket_rows=_env_int("SENTRIX_EMBED_MIN_BUCKET_ROWS", defaults.min_bucket_rows),  # type: ignore[arg-type]
        call_cost=_env_int("SENTRIX_EMBED_CALL_COST", defaults.call_cost),
        merge_and_bucket=_env_tristate("SENTRIX_EMBED_MERGE_AND_BUCKET"),
        pack=_env_bool("SENTRIX_EMBED_PACK", defaults.pack),
    )


_UNSET: Any = object()


@contextmanager
def embedding_options(
    merge: bool | None = None,
    buckets: int | None = None,
    min_bucket_rows: int | None = None,
    call_cost: int | None = _UNSET,
    merge_and_bucket: bool | None = _UNSET,
    pack: bool | None = None,
) -> Iterator[EmbeddingOptions]:
    """Override the batching of :func:`embed_columns` inside a ``with`` block.

    ``with embedding_options(merge_and_bucket=False):`` (or ``merge=False, buckets=1``) gives plain
    per-column forwards on the caller's feature dicts. ``call_cost`` and ``merge_and_bucket`` are
    only changed when given (``None`` is a value for both).
    """
    base = current_options()
    changes: dict[str, Any] = {
        k: v
        for k, v in {"merge": merge, "buckets": buckets, "min_bucket_rows": min_bucket_rows, "pack": pack}.items()
        if v is not None
    }
    if call_cost is not _UNSET:
        changes["call_cost"] = call_cost
    if merge_and_bucket is not _UNSET:
        changes["merge_and_bucket"] = merge_and_bucket
    token = _OPTIONS.set(replace(base, **changes))
    try:
        yield _OPTIONS.get()
    finally:
        _OPTIONS.reset(token)


@contextmanager
def reuse_embeddings(sentence_features: Sequence[dict[str, Any]], embeddings: Sequence[Tensor]) -> Iterator[None]:
    """Inside the block, :func:`embed_columns` called on these same feature dicts returns ``embeddings``.

    Wrapper losses use it to serve an inner loss from one forward, e.g. Matryoshka hands the inner
    loss truncated copies of embeddings it computed once.
    """
    key = tuple(id(features) for features in sentence_features)
    token = _REUSE.set((key, list(embeddings)))
    try:
        yield
    finally:
        _REUSE.reset(token)


# --------------------------------------------------------------------------------------------
# token counts (the trainer logs them)
# --------------------------------------------------------------------------------------------


@dataclass
class TokenCount:
    """Tokens the model ran inside a :func:`count_tokens` block: ``real`` ones and all (``forward``, padding included)."""

    real: int = 0
    forward: int = 0
    calls: int = 0

    @property
    def padding(self) -> int:
        return self.forward - self.real


_COUNTER: ContextVar[TokenCount | None] = ContextVar("sentrix_token_count", default=None)


@contextmanager
def count_tokens() -> Iterator[TokenCount]:
    """Count the real and padded tokens of every forward :func:`embed_columns` runs inside the block."""
    counter = TokenCount()
    token = _COUNTER.set(counter)
    try:
        yield counter
    finally:
        _COUNTER.reset(token)


# --------------------------------------------------------------------------------------------
# exactness by declaration
# --------------------------------------------------------------------------------------------


def _unwrap_model(model: Any) -> Any:
    for _ in range(4):  # DistributedDataParallel / torch.compile wrappers
        inner = getattr(model, "_orig_mod", None)
        if inner is None and type(model).__name__ in ("DistributedDataParallel", "DataParallel"):
            inner = getattr(model, "module", None)
        if inner is None:
            return model
        model = inner
    return model


def _declaration_problem(module: Any, where: str) -> str | None:
    declared = getattr(type(module), "rows_independent", None) if isinstance(module, torch.nn.Module) else None
    name = type(module).__name__
    if declared is False:
        return (
            f"{where} ({name}) declares rows_independent = False: its output for a row depends on other rows of the "
            "batch or on padding positions"
        )
    if declared is not True:
        return (
            f"{where} ({name}) does not declare rows_independent (only sentrix modules that set the class attribute "
            "rows_independent = True qualify)"
        )
    if getattr(module, "routes_inputs", False):
        for name, sub in _route_modules(module, ""):
            problem = _declaration_problem(sub, f"{where} route module {name}")
            if problem:
                return problem
    return None


def _route_modules(module: Any, prefix: str) -> Iterator[tuple[str, Any]]:
    """The modules of a routing module's routes, looking through plain containers (ModuleDict, Sequential)."""
    containers = (torch.nn.ModuleDict, torch.nn.ModuleList, torch.nn.Sequential)
    for name, child in module.named_children():
        path = f"{prefix}{name}"
        if isinstance(child, containers) and getattr(type(child), "rows_independent", None) is None:
            yield from _route_modules(child, path + ".")
        else:
            yield path, child


def _pipeline_modules(model: Any) -> list[Any] | None:
    if isinstance(model, torch.nn.Sequential):
        return list(model.children())
    if isinstance(model, torch.nn.Module) and getattr(type(model), "rows_independent", None) is not None:
        return [model]
    return None


def plain_forward_reason(model: Any, options: EmbeddingOptions | None = None) -> str | None:
    """Why :func:`embed_columns` runs the plain per-column forward for ``model``; None when it merges and buckets.

    The switches come first (``merge_and_bucket`` argument, environment, then the model attribute
    ``merge_and_bucket``); with none set, every module of the model must declare
    ``rows_independent = True``.
    """
    options = options or current_options()
    if options.merge_and_bucket is False:
        return "merge_and_bucket=False was set (argument, embedding_options or SENTRIX_EMBED_MERGE_AND_BUCKET)"
    if options.merge_and_bucket is True:
        return None
    model = _unwrap_model(model)
    switch = getattr(model, "merge_and_bucket", None)
    if switch is False:
        return f"the model attribute {type(model).__name__}.merge_and_bucket is False"
    if switch is True:
        return None
    modules = _pipeline_modules(model)
    if modules is None:
        return (
            f"the model ({type(model).__name__}) is neither a module pipeline nor a module that declares "
            "rows_independent, so exactness of merged and bucketed forwards is unknown"
        )
    for index, module in enumerate(modules):
        problem = _declaration_problem(module, f"module {index}")
        if problem:
            return problem
    return None


_LOGGED_REASONS: set[tuple[int, str]] = set()


def _note_plain_forward(model: Any, reason: str) -> None:
    key = (id(model), reason)
    if key not in _LOGGED_REASONS:
        _LOGGED_REASONS.add(key)
        logger.info("Embedding each column with a plain forward (no merging or length buckets): %s.", reason)


# --------------------------------------------------------------------------------------------
# planning: which columns merge, how rows are bucketed
# --------------------------------------------------------------------------------------------

# Keys that describe the whole batch rather than one row each.
_BATCH_METADATA_KEYS = frozenset({"prompt_length", "task", "modality"})


def _rows(features: dict[str, Any]) -> int | None:
    mask = features.get("attention_mask")
    if isinstance(mask, Tensor) and mask.ndim == 2:
        return int(mask.shape[0])
    ids = features.get("input_ids")
    if isinstance(ids, Tensor) and ids.ndim == 2:
        return int(ids.shape[0])
    return None


def _is_right_padded(mask: Tensor) -> bool:
    """True when every row of a 0/1 mask is ones followed by zeros."""
    if mask.shape[1] < 2:
        return True
    m = mask.to(torch.int8)
    return bool((m[:, 1:] <= m[:, :-1]).all())


def _metadata_equal(a: Any, b: Any) -> bool:
    try:
        if isinstance(a, Tensor) or isinstance(b, Tensor):
            return isinstance(a, Tensor) and isinstance(b, Tensor) and a.shape == b.shape and bool(torch.equal(a, b))
        return bool(a == b)
    except (RuntimeError, ValueError, TypeError):
        return False


def _layout(features: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Tensor], int, int] | None:
    """Split a feature dict into (metadata, per-row tensors, rows, width), or None if it cannot be batched."""
    rows = _rows(features)
    mask = features.get("attention_mask")
    if rows is None or not isinstance(mask, Tensor) or mask.ndim != 2 or not _is_right_padded(mask):
        return None
    width = int(mask.shape[1])
    meta: dict[str, Any] = {}
    row_tensors: dict[str, Tensor] = {}
    for key, value in features.items():
        if key in _BATCH_METADATA_KEYS or not isinstance(value, Tensor):
            meta[key] = value
            continue
        if value.ndim == 0 or value.shape[0] != rows:
            return None  # not indexed by row (e.g. a flattened token stream)
        if value.ndim >= 2 and value.shape[1] != width and value.ndim == 2:
            return None  # a 2-D per-row tensor that is not aligned with the tokens
        row_tensors[key] = value
    return meta, row_tensors, rows, width


def _token_axis(value: Tensor, width: int) -> bool:
    return value.ndim >= 2 and value.shape[1] == width


def _compatible(layout: tuple, other: tuple, keys: set, other_keys: set) -> bool:
    if keys != other_keys:
        return False
    meta, rows_t = layout[0], layout[1]
    ometa, orows_t = other[0], other[1]
    if meta.keys() != ometa.keys() or not all(_metadata_equal(meta[k], ometa[k]) for k in meta):
        return False
    for key, value in rows_t.items():
        ovalue = orows_t[key]
        if value.dtype != ovalue.dtype or value.ndim != ovalue.ndim or value.device != ovalue.device:
            return False
        token = _token_axis(value, layout[3])
        if token != _token_axis(ovalue, other[3]):
            return False
        tail = 2 if token else 1
        if value.shape[tail:] != ovalue.shape[tail:]:
            return False
        if token and value.shape[1] != ovalue.shape[1] and value.is_floating_point():
            return False  # a float tensor cannot be padded safely
    return True


def _group_columns(
    features_list: list[dict[str, Any]], merge: bool, layouts: list | None = None, columns: Sequence[int] | None = None
) -> list[list[int]]:
    """Columns that can share a forward, as lists of column indices (each column once)."""
    layouts = layouts if layouts is not None else [_layout(f) for f in features_list]
    groups: list[list[int]] = []
    for index in columns if columns is not None else range(len(features_list)):
        layout = layouts[index]
        placed = False
        if merge and layout is not None:
            for group in groups:
                other = layouts[group[0]]
                if other is not None and _compatible(layout, other, set(features_list[index]), set(features_list[group[0]])):
                    group.append(index)
                    placed = True
                    break
        if not placed:
            groups.append([index])
    return groups


_EXACT_PLAN_MAX_ROWS = 1024


def _bucket_bounds(
    sorted_lengths: list[int], buckets: int, min_rows: int = 1, call_cost: float = 0.0
) -> list[tuple[int, int]]:
    """Split ``n`` length-sorted rows into at most ``buckets`` contiguous runs of >= ``min_rows`` rows.

    The number of runs and the split points minimise ``sum(rows_b * longest_b) + call_cost * runs``
    (padded tokens plus the cost of each model call), exactly, by dynamic programming over the cut
    points (only where the length changes when ``min_rows == 1``). Ties go to fewer runs. Above
    ``_EXACT_PLAN_MAX_ROWS`` rows with ``min_rows > 1``, equal-count runs are used instead.
    """
    import numpy as np

    n = len(sorted_lengths)
    min_rows = max(int(min_rows), 1)
    count = max(1, min(int(buckets), n // min_rows))
    if count == 1 or n == 0:
        return [(0, n)]
    if min_rows == 1:
        # cuts only where the length changes: splitting a run of equal lengths never helps
        candidates = [0] + [k for k in range(1, n) if sorted_lengths[k] != sorted_lengths[k - 1]] + [n]
    elif n <= _EXACT_PLAN_MAX_ROWS:
        candidates = list(range(n + 1))
    else:
        return [((n * b) // count, (n * (b + 1)) // count) for b in range(count)]
    pos = np.asarray(candidates, dtype=np.int64)
    lengths = np.asarray(sorted_lengths, dtype=np.float64)
    m = len(pos)
    i = pos[:, None].astype(np.float64)
    j = pos[None, :].astype(np.float64)
    width = np.where(pos > 0, lengths[np.maximum(pos - 1, 0)], 0.0)[None, :]
    step = np.where((pos[None, :] - pos[:, None]) >= min_rows, (j - i) * width, np.inf)  # step[a, b]: run pos[a]..pos[b]
    best = step[0].copy()  # one run
    choices: list[np.ndarray] = []
    best_total, best_count = best[m - 1] + call_cost, 1
    for b in range(2, count + 1):
        total = best[:, None] + step
        arg = np.argmin(total, axis=0)
        best = total[arg, np.arange(m)]
        choices.append(arg)
        if best[m - 1] + call_cost * b < best_total:
            best_total, best_count = best[m - 1] + call_cost * b, b
    bounds, end = [], m - 1
    for arg in reversed(choices[: best_count - 1]):
        start = int(arg[end])
        bounds.append((int(pos[start]), int(pos[end])))
        end = start
    bounds.append((0, int(pos[end])))
    return bounds[::-1]


@dataclass
class _Forward:
    """One planned model call: which columns it serves and how its rows map back."""

    columns: list[int]
    features: list[dict[str, Any]]  # one dict per bucket
    order: Tensor | None  # permutation applied to the concatenated rows, or None if unchanged
    real_tokens: int
    padded_tokens: int


def _concat_group(features_list: list[dict[str, Any]], columns: list[int]) -> tuple[dict[str, Any], int]:
    first = features_list[columns[0]]
    widths = [int(features_list[c]["attention_mask"].shape[1]) for c in columns]
    width = max(widths)
    merged: dict[str, Any] = {}
    for key, value in first.items():
        if key in _BATCH_METADATA_KEYS or not isinstance(value, Tensor):
            merged[key] = value
            continue
        parts = []
        for c, w in zip(columns, widths):
            part = features_list[c][key]
            if _token_axis(part, w) and w < width:
                pad = [0, 0] * (part.ndim - 2) + [0, width - w]
                part = F.pad(part, pad)
            parts.append(part)
        merged[key] = torch.cat(parts, dim=0) if len(parts) > 1 else parts[0]
    return merged, width


def _slice_rows(features: dict[str, Any], index: Tensor | None, width: int, new_width: int) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in features.items():
        if key in _BATCH_METADATA_KEYS or not isinstance(value, Tensor):
            out[key] = value
            continue
        if index is not None:
            value = value.index_select(0, index.to(value.device))
        if _token_axis(value, width):
            value = value[:, :new_width]
        out[key] = value
    return out


@dataclass
class _GroupPlan:
    """A planned group of columns before any tensor is built: bounds over its length-sorted rows."""

    columns: list[int]
    lengths: list[int]  # real length of each row, concatenated over the columns
    bounds: list[tuple[int, int]] | None  # None: not batchable, run the column's dict as is
    tokens: int
    calls: int
    packing: RowPacking | None = None  # set: one call on packed rows instead of the buckets


def _plan_group(
    columns: list[int],
    lengths_of: list[list[int] | None],
    numel_of: list[int],
    options: EmbeddingOptions,
    call_cost: float,
    packing: float | None = None,
) -> _GroupPlan:
    if lengths_of[columns[0]] is None:
        return _GroupPlan(columns, [], None, numel_of[columns[0]], 1)
    lengths = [length for c in columns for length in lengths_of[c]]  # type: ignore[union-attr]
    rows = len(lengths)
    if rows == 0:
        return _GroupPlan(columns, lengths, [(0, 0)], 0, 1)
    ordered = sorted(lengths)
    bounds = [(0, rows)]
    if options.buckets > 1:
        bounds = _bucket_bounds(ordered, options.buckets, options.min_bucket_rows, call_cost)
    tokens = sum((end - start) * max(ordered[end - 1], 1) for start, end in bounds)
    plan = _GroupPlan(columns, lengths, bounds, tokens, len(bounds))
    if packing is not None and options.pack:
        packed = pack_rows(lengths, attention_scale=packing)
        if packed.tokens + call_cost < tokens + call_cost * len(bounds):
            return _GroupPlan(columns, lengths, [(0, rows)], packed.tokens, 1, packed)
    return plan


def _choose_groups(
    features_list: list[dict[str, Any]], options: EmbeddingOptions, call_cost: float, packing: float | None = None
) -> list[_GroupPlan]:
    """The cheapest plan among merged / anchor-separate / per-column that runs no more tokens than per-column forwards."""
    layouts = [_layout(f) for f in features_list]
    lengths_of: list[list[int] | None] = []
    numel_of: list[int] = []
    for features, layout in zip(features_list, layouts):
        mask = features.get("attention_mask")
        numel_of.append(int(mask.numel()) if isinstance(mask, Tensor) else 0)
        lengths_of.append(None if layout is None else [int(x) for x in mask.sum(dim=1).tolist()])
    plain_tokens = sum(numel_of)
    n = len(features_list)
    groupings = [_group_columns(features_list, False, layouts)]
    if options.merge and n > 1:
        groupings.append(_group_columns(features_list, True, layouts))
        if n > 2:
            groupings.append([[0], *_group_columns(features_list, True, layouts, range(1, n))])
    best: tuple[float, int, list[_GroupPlan]] | None = None
    seen: set[tuple] = set()
    for grouping in groupings:
        key = tuple(tuple(g) for g in grouping)
        if key in seen:
            continue
        seen.add(key)
        plans = [_plan_group(columns, lengths_of, numel_of, options, call_cost, packing) for columns in grouping]
        tokens = sum(p.tokens for p in plans)
        calls = sum(p.calls for p in plans)
        if tokens > plain_tokens:
            continue  # never more tokens than the plain per-column forwards
        cost = tokens + call_cost * calls
        if best is None or (cost, calls) < (best[0], best[1]):
            best = (cost, calls, plans)
    assert best is not None  # the per-column grouping always qualifies
    return best[2]


def _resolve_call_cost(options: EmbeddingOptions, features_list: Sequence[dict[str, Any]]) -> float:
    if options.call_cost is not None:
        return float(options.call_cost)
    device = "cpu"
    for features in features_list:
        mask = features.get("attention_mask")
        if isinstance(mask, Tensor):
            device = mask.device.type
            break
    return float(DEFAULT_CALL_COST.get(device, DEFAULT_CALL_COST["cuda"]))


def _input_module(model: Any) -> Any:
    """The first module of the model's pipeline, or None when the model is not a module pipeline."""
    modules = _pipeline_modules(_unwrap_model(model))
    return modules[0] if modules else None


def can_pack_rows(model: Any) -> bool:
    """True when the model's input module runs packed rows (see :mod:`sentrix.packing`).

    The first module of the pipeline must offer ``can_pack_rows()`` and return True from it; the
    built-in ``Transformer`` does for BERT-style encoders with SDPA or eager attention.
    """
    check = getattr(_input_module(model), "can_pack_rows", None)
    if not callable(check):
        return False
    try:
        return bool(check())
    except Exception:  # noqa: BLE001 - a module that cannot tell does not pack
        return False


def _attention_scale(model: Any) -> float:
    """``pack_rows``' attention_scale for this model: six times the input module's hidden size."""
    config = getattr(_input_module(model), "config", None)
    hidden = getattr(config, "hidden_size", None) or getattr(config, "dim", None)
    return 6.0 * float(hidden) if isinstance(hidden, int) and hidden > 0 else float(DEFAULT_ATTENTION_SCALE)


def plan_forwards(
    sentence_features: Sequence[dict[str, Any]], options: EmbeddingOptions | None = None, model: Any = None
) -> list[_Forward]:
    """The model calls :func:`embed_columns` will make for these features (also used for padding statistics).

    With ``model`` given, packed forwards are planned where its input module can run them
    (:func:`can_pack_rows`) and the ``pack`` option is on.

    With plain options (``merge_and_bucket=False`` or ``merge=False, buckets=1``) every column runs
    as is, its own dict untouched.
    """
    options = options or current_options()
    features_list = list(sentence_features)
    if options.plain:
        plans = []
        for index, f in enumerate(features_list):
            mask = f.get("attention_mask")
            real = int(mask.sum()) if isinstance(mask, Tensor) else 0
            padded = int(mask.numel()) if isinstance(mask, Tensor) else 0
            plans.append(_Forward([index], [f], None, real, padded))
        return plans
    call_cost = _resolve_call_cost(options, features_list)
    packing = _attention_scale(model) if options.pack and model is not None and can_pack_rows(model) else None
    forwards: list[_Forward] = []
    for group in _choose_groups(features_list, options, call_cost, packing):
        columns = group.columns
        if group.bounds is None:
            f = features_list[columns[0]]
            mask = f.get("attention_mask")
            real = int(mask.sum()) if isinstance(mask, Tensor) else 0
            forwards.append(_Forward(columns, [f], None, real, group.tokens))
            continue
        if len(columns) == 1:
            merged, width = features_list[columns[0]], int(features_list[columns[0]]["attention_mask"].shape[1])
        else:
            merged, width = _concat_group(features_list, columns)
        lengths = torch.tensor(group.lengths, dtype=torch.long)
        real = int(lengths.sum())
        rows = len(group.lengths)
        if group.packing is not None:
            new_width = max(group.packing.width, 1)
            merged = _slice_rows(merged, None, width, new_width) if new_width < width else dict(merged)
            merged[ROW_PACKING_KEY] = group.packing
            forwards.append(_Forward(columns, [merged], None, real, group.packing.tokens))
            continue
        if len(group.bounds) == 1:
            new_width = max(int(lengths.max()), 1) if rows else width
            if new_width < width:
                merged = _slice_rows(merged, None, width, new_width)
            forwards.append(_Forward(columns, [merged], None, real, rows * new_width))
            continue
        order = torch.argsort(lengths, stable=True)
        sorted_lengths = lengths[order]
        parts, padded = [], 0
        for start, end in group.bounds:
            bucket_width = max(int(sorted_lengths[end - 1]), 1)
            parts.append(_slice_rows(merged, order[start:end], width, bucket_width))
            padded += (end - start) * bucket_width
        forwards.append(_Forward(columns, parts, order, real, padded))
    return forwards


def padding_stats(
    sentence_features: Sequence[dict[str, Any]], options: EmbeddingOptions | None = None, model: Any = None
) -> dict[str, int]:
    """Real and padded token counts that the planned forwards would run, plus the plain per-column count.

    Pass ``model`` to count packed forwards where it can run them (:func:`can_pack_rows`).
    """
    features_list = list(sentence_features)
    plain = sum(int(f["attention_mask"].numel()) for f in features_list if isinstance(f.get("attention_mask"), Tensor))
    plans = plan_forwards(features_list, options, model)
    return {
        "real_tokens": sum(p.real_tokens for p in plans),
        "planned_tokens": sum(p.padded_tokens for p in plans),
        "per_column_tokens": plain,
        "model_calls": sum(len(p.features) for p in plans),
    }


# --------------------------------------------------------------------------------------------
# the helper
# --------------------------------------------------------------------------------------------


def _embedding_of(output: Any, model: Any) -> Tensor:
    if isinstance(output, dict) and "sentence_embedding" in output:
        return output["sentence_embedding"]
    raise InvalidInputError(
        f"{type(model).__name__}(features) returned {type(output).__name__} without a 'sentence_embedding' entry. "
        "A model used with sentrix losses must return a dict holding 'sentence_embedding' (the sentence-transformers "
        "model contract); add a pooling module to the model."
    )


def embed_columns(
    model: Any,
    sentence_features: Iterable[dict[str, Any]],
    *,
    merge: bool | None = None,
    buckets: int | None = None,
    min_bucket_rows: int | None = None,
    call_cost: int | None = None,
    merge_and_bucket: bool | None = None,
    pack: bool | None = None,
) -> list[Tensor]:
    """Embed every text column; returns one ``(rows, dim)`` tensor per column, in column order.

    :param model: anything callable as ``model(features)["sentence_embedding"]``.
    :param sentence_features: one tokenised dict per column, as the data collator builds them.
    :param merge: merge compatible columns into one forward (default from :func:`current_options`).
    :param buckets: at most this many length buckets per forward; ``1`` turns bucketing off.
    :param min_bucket_rows: smallest bucket allowed.
    :param call_cost: cost of one model call in tokens (default: per device, :data:`DEFAULT_CALL_COST`).
    :param merge_and_bucket: ``False`` plain per-column forwards, ``True`` merge and bucket even if a
        module of the model does not declare ``rows_independent``; default: by declaration.
    :param pack: pack rows into shared sequences where the model's input module can (default ``True``).
    """
    features_list = list(sentence_features)
    if not features_list:
        raise InvalidInputError("embed_columns got no text columns: sentence_features is empty. Pass one dict per text column.")
    reuse = _REUSE.get()
    if reuse is not None and reuse[0] == tuple(id(f) for f in features_list):
        return list(reuse[1])

    options = current_options()
    overrides = {
        "merge": merge, "buckets": buckets, "min_bucket_rows": min_bucket_rows, "call_cost": call_cost,
        "merge_and_bucket": merge_and_bucket, "pack": pack,
    }
    if any(v is not None for v in overrides.values()):
        options = replace(options, **{k: v for k, v in overrides.items() if v is not None})
    if not options.plain:
        reason = plain_forward_reason(model, options)
        if reason is not None:
            _note_plain_forward(model, reason)
            options = replace(options, merge_and_bucket=False)

    counter = _COUNTER.get()
    results: list[Tensor | None] = [None] * len(features_list)
    for plan in plan_forwards(features_list, options, model):
        if plan.order is None and len(plan.columns) == 1 and plan.features[0] is features_list[plan.columns[0]]:
            # Untouched dict: the classic call, which also leaves the outputs in the caller's dict.
            if counter is not None:
                counter.real += plan.real_tokens
                counter.forward += plan.padded_tokens
                counter.calls += 1
            results[plan.columns[0]] = _embedding_of(model(features_list[plan.columns[0]]), model)
            continue
        if counter is not None:
            counter.real += plan.real_tokens
            counter.forward += plan.padded_tokens
            counter.calls += len(plan.features)
        outputs = [_embedding_of(model(part), model) for part in plan.features]
        embeddings = outputs[0] if len(outputs) == 1 else torch.cat(outputs, dim=0)
        if plan.order is not None:
            inverse = torch.empty_like(plan.order)
            inverse[plan.order] = torch.arange(plan.order.numel())
            embeddings = embeddings.index_select(0, inverse.to(embeddings.device))
        if len(plan.columns) == 1:
            results[plan.columns[0]] = embeddings
        else:
            sizes = [_rows(features_list[c]) for c in plan.columns]
            for column, chunk in zip(plan.columns, embeddings.split(sizes, dim=0)):
                results[column] = chunk
    return [r for r in results]  # type: ignore[misc]


# --------------------------------------------------------------------------------------------
# input checks shared by losses
# --------------------------------------------------------------------------------------------


def check_loss_inputs(
    loss: Any, sentence_features: Sequence[dict[str, Any]], labels: Tensor | None, require_labels: bool = True
) -> None:
    """Raise :class:`~sentrix.errors.InvalidInputError` when a batch does not fit ``loss.data_needs``.

    Checks the number of text columns, that a loss needing labels got them (one per row), and that
    rows agree across columns.
    """
    from sentrix.data_needs import data_needs_of

    name = type(loss).__name__
    needs = data_needs_of(loss)
    features_list = list(sentence_features)
    if needs is not None and not needs.accepts_column_count(len(features_list)):
        raise InvalidInputError(
            f"{name} needs {needs.describe_columns()}, but the batch has {len(features_list)} text column"
            f"{'s' if len(features_list) != 1 else ''}. Fix: keep only the needed text columns in the dataset "
            f"(e.g. dataset.select_columns([...])), in that order, with the label column (if any) named 'label' or 'score'."
        )
    rows = [_rows(f) for f in features_list]
    known = [r for r in rows if r is not None]
    if known and any(r != known[0] for r in known):
        raise InvalidInputError(
            f"{name} got text columns with different numbers of rows ({known}). Every column of a batch must have "
            "one entry per example; check the data collator."
        )
    if needs is None:
        return
    if needs.label in ("float", "int") and labels is None and require_labels:
        kind = "a float score" if needs.label == "float" else "an integer class id"
        raise InvalidInputError(
            f"{name} needs a label column ({kind} per row), but the batch has no labels. Fix: add the labels to the "
            "dataset as a column named 'label' or 'score' (the last column), or choose a loss that needs no labels."
        )
    if isinstance(labels, Tensor) and needs.label in ("float", "int") and known:
        if labels.ndim == 0 or labels.shape[0] != known[0]:
            raise InvalidInputError(
                f"{name} expects one label per example ({known[0]} in this batch), but got labels of shape "
                f"{tuple(labels.shape)}. Fix: give the dataset one label value per row."
            )
        if needs.label == "int" and labels.is_floating_point():
            raise InvalidInputError(
                f"{name} needs integer class ids as labels, but got {labels.dtype}. Fix: cast the label column to "
                "int (e.g. dataset.cast_column('label', Value('int64'))) or use a loss for float scores."
            )


# --------------------------------------------------------------------------------------------
# distributed
# --------------------------------------------------------------------------------------------


def gather_with_grad(tensor: Tensor) -> Tensor:
    """Concatenate ``tensor`` from every process along dim 0, keeping gradients; a no-op outside distributed runs."""
    import torch.distributed as dist

    if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() == 1:
        return tensor
    from torch.distributed.nn.functional import all_gather

    return torch.cat(all_gather(tensor.contiguous()), dim=0)


def process_rank() -> int:
    """This process's rank, 0 outside distributed runs."""
    import torch.distributed as dist

    return dist.get_rank() if dist.is_available() and dist.is_initialized() else 0


def embedding_dimension_of(model: Any) -> int | None:
    """The model's output embedding size, or None when the model does not say."""
    for attr in ("get_embedding_dimension", "get_sentence_embedding_dimension"):
        getter = getattr(model, attr, None)
        if callable(getter):
            try:
                value = getter()
            except Exception:  # noqa: BLE001 - a model that cannot tell is treated as unknown
                value = None
            if value is not None:
                return int(value)
    return None


def model_device(model: Any) -> torch.device:
    """The device of the model's parameters (CPU when it has none)."""
    device = getattr(model, "device", None)
    if isinstance(device, torch.device):
        return device
    try:
        return next(model.parameters()).device
    except (StopIteration, AttributeError, TypeError):
        return torch.device("cpu")
