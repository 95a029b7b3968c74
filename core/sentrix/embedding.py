"""The one place where losses turn tokenised columns into embeddings.

A loss receives ``sentence_features``: one tokenised dict per text column (``input_ids``,
``attention_mask``, ...). The obvious way to embed them is one ``model(features)`` call per
column. :func:`embed_columns` returns exactly the same embeddings (and so the same loss and the
same gradients) while doing less work:

* **merge**: columns that were tokenised the same way (same feature keys, same non-tensor
  values such as a Router ``task``) are concatenated row-wise into one batch, so the model runs
  once instead of once per column. Columns that differ (e.g. a Router model's ``query`` and
  ``document`` routes) are embedded separately.
* **length buckets**: the rows of a batch are sorted by their real length and split into a few
  buckets (split points chosen to minimise padding), each trimmed to its own longest row, so far
  fewer padding tokens go through the model.
  This happens *inside* one training batch: which texts share a batch (and so the in-batch
  negatives) does not change.

Both rely on right-padded inputs and on a model whose rows do not interact (true of every
transformer encoder with an attention mask); left-padded or mask-less inputs are embedded per
column unchanged. Results match per-column forwards to float rounding; with dropout active the
random masks differ, as they would between any two runs.

Configuration (argument > :func:`embedding_options` context > environment > default):

==========================  =========================================================  =========
setting                     meaning                                                    default
==========================  =========================================================  =========
``merge``                   merge compatible columns into one forward                  ``True``
``buckets``                 at most this many length buckets per forward (1 = off)     ``4``
``min_bucket_rows``         never make a bucket smaller than this many rows            ``8``
==========================  =========================================================  =========

The defaults were chosen with ``benchmarks/loss_forward.py`` (all-MiniLM-L6-v2, batches of 32,
CPU, forward + backward): on STS-B pairs (CoSENT) they run 0.47x the tokens of per-column
forwards and take 0.54x the CPU time; on NLI triplets (MNRL) 0.53x the tokens and 0.61x the
time. Merging alone is slower there (it pads short columns to the long ones); 8 buckets cut a
few more tokens for no measurable gain and twice the model calls. On an accelerator, where small
forwards are launch-bound, fewer buckets (``SENTRIX_EMBED_BUCKETS=2``) may suit better; the
result is the same either way.

Environment variables: ``SENTRIX_EMBED_MERGE`` (``0``/``1``), ``SENTRIX_EMBED_BUCKETS`` (int),
``SENTRIX_EMBED_MIN_BUCKET_ROWS`` (int).

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

import os
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, replace
from typing import Any, Iterable, Iterator, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor

from sentrix.errors import InvalidInputError

__all__ = [
    "EmbeddingOptions",
    "embed_columns",
    "embedding_options",
    "current_options",
    "reuse_embeddings",
    "plan_forwards",
    "padding_stats",
    "check_loss_inputs",
    "gather_with_grad",
    "process_rank",
    "embedding_dimension_of",
    "model_device",
]


# --------------------------------------------------------------------------------------------
# options
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class EmbeddingOptions:
    """How :func:`embed_columns` batches its forwards. See the module docstring."""

    merge: bool = True
    buckets: int = 4
    min_bucket_rows: int = 8

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


def _env_int(name: str, default: int) -> int:
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
        buckets=_env_int("SENTRIX_EMBED_BUCKETS", defaults.buckets),
        min_bucket_rows=_env_int("SENTRIX_EMBED_MIN_BUCKET_ROWS", defaults.min_bucket_rows),
    )


@contextmanager
def embedding_options(
    merge: bool | None = None, buckets: int | None = None, min_bucket_rows: int | None = None
) -> Iterator[EmbeddingOptions]:
    """Override the batching of :func:`embed_columns` inside a ``with`` block.

    ``with embedding_options(merge=False, buckets=1):`` gives plain per-column forwards.
    """
    base = current_options()
    changes = {k: v for k, v in {"merge": merge, "buckets": buckets, "min_bucket_rows": min_bucket_rows}.items() if v is not None}
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


def _group_columns(features_list: list[dict[str, Any]], merge: bool) -> list[list[int]] | None:
    """Columns that can share a forward, as lists of column indices; None if nothing can be batched."""
    layouts = [_layout(f) for f in features_list]
    groups: list[list[int]] = []
    for index, layout in enumerate(layouts):
        if layout is None:
            groups.append([index])
            continue
        placed = False
        if merge:
            for group in groups:
                other = layouts[group[0]]
                if other is None or set(features_list[group[0]]) != set(features_list[index]):
                    continue
                meta, rows_t = layout[0], layout[1]
                ometa, orows_t = other[0], other[1]
                if meta.keys() != ometa.keys() or not all(_metadata_equal(meta[k], ometa[k]) for k in meta):
                    continue
                compatible = True
                for key, value in rows_t.items():
                    ovalue = orows_t[key]
                    if value.dtype != ovalue.dtype or value.ndim != ovalue.ndim or value.device != ovalue.device:
                        compatible = False
                        break
                    token = _token_axis(value, layout[3])
                    if token != _token_axis(ovalue, other[3]):
                        compatible = False
                        break
                    tail = 2 if token else 1
                    if value.shape[tail:] != ovalue.shape[tail:]:
                        compatible = False
                        break
                    if token and value.shape[1] != ovalue.shape[1] and value.is_floating_point():
                        compatible = False  # a float tensor cannot be padded safely
                        break
                if compatible:
                    group.append(index)
                    placed = True
                    break
        if not placed:
            groups.append([index])
    return groups


_EXACT_PLAN_MAX_ROWS = 1024


def _bucket_bounds(sorted_lengths: list[int], buckets: int, min_rows: int) -> list[tuple[int, int]]:
    """Split ``n`` length-sorted rows into at most ``buckets`` contiguous runs of >= ``min_rows`` rows.

    The number of runs and the split points minimise the padded tokens ``sum(rows_b * longest_b)``
    (dynamic programming
    over the sorted lengths, a few thousand vector operations for typical batches); above
    ``_EXACT_PLAN_MAX_ROWS`` rows, equal-count runs are used instead.
    """
    import numpy as np

    n = len(sorted_lengths)
    min_rows = max(min_rows, 1)
    count = max(1, min(buckets, n // min_rows))
    if count == 1:
        return [(0, n)]
    if n > _EXACT_PLAN_MAX_ROWS:
        return [((n * b) // count, (n * (b + 1)) // count) for b in range(count)]
    lengths = np.asarray(sorted_lengths, dtype=np.float64)
    idx = np.arange(n + 1, dtype=np.float64)
    inf = float("inf")
    # best[j]: least padded tokens for rows [0, j) in the current number of buckets
    best = np.full(n + 1, inf)
    best[min_rows:] = idx[min_rows:] * lengths[min_rows - 1 :]
    choices: list[np.ndarray] = []
    best_total, best_count = best[n], 1  # fewer buckets win ties (fewer model calls)
    for b in range(2, count + 1):
        new = np.full(n + 1, inf)
        arg = np.zeros(n + 1, dtype=np.int64)
        for j in range(b * min_rows, n + 1):
            lo, hi = (b - 1) * min_rows, j - min_rows
            candidates = best[lo : hi + 1] + (j - idx[lo : hi + 1]) * lengths[j - 1]
            k = int(np.argmin(candidates))
            new[j], arg[j] = candidates[k], lo + k
        choices.append(arg)
        best = new
        if best[n] < best_total:
            best_total, best_count = best[n], b
    bounds, end = [], n
    for arg in reversed(choices[: best_count - 1]):
        start = int(arg[end])
        bounds.append((start, end))
        end = start
    bounds.append((0, end))
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


def _slice_rows(features: dict[str, Any], index: Tensor, width: int, new_width: int) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in features.items():
        if key in _BATCH_METADATA_KEYS or not isinstance(value, Tensor):
            out[key] = value
            continue
        value = value.index_select(0, index.to(value.device))
        if _token_axis(value, width):
            value = value[:, :new_width]
        out[key] = value
    return out


def plan_forwards(
    sentence_features: Sequence[dict[str, Any]], options: EmbeddingOptions | None = None
) -> list[_Forward]:
    """The model calls :func:`embed_columns` will make for these features (also used for padding statistics)."""
    options = options or current_options()
    features_list = list(sentence_features)
    groups = _group_columns(features_list, options.merge)
    plans: list[_Forward] = []
    for columns in groups:
        layout = _layout(features_list[columns[0]])
        if layout is None:
            f = features_list[columns[0]]
            mask = f.get("attention_mask")
            real = int(mask.sum()) if isinstance(mask, Tensor) else 0
            padded = int(mask.numel()) if isinstance(mask, Tensor) else 0
            plans.append(_Forward(columns, [f], None, real, padded))
            continue
        if len(columns) == 1:
            merged, width = features_list[columns[0]], layout[3]
        else:
            merged, width = _concat_group(features_list, columns)
        lengths = merged["attention_mask"].sum(dim=1)
        real = int(lengths.sum())
        rows = int(lengths.shape[0])
        bounds = [(0, rows)]
        if options.buckets > 1 and rows >= 2 * options.min_bucket_rows:
            bounds = _bucket_bounds(sorted(lengths.tolist()), options.buckets, options.min_bucket_rows)
        if len(bounds) == 1:
            new_width = max(int(lengths.max()), 1) if rows else width
            if new_width < width:
                merged = _slice_rows(merged, torch.arange(rows), width, new_width)
            plans.append(_Forward(columns, [merged], None, real, rows * new_width))
            continue
        order = torch.argsort(lengths.cpu(), stable=True)
        sorted_lengths = lengths.cpu()[order]
        parts, padded = [], 0
        for start, end in bounds:
            bucket_width = max(int(sorted_lengths[end - 1]), 1)
            parts.append(_slice_rows(merged, order[start:end], width, bucket_width))
            padded += (end - start) * bucket_width
        plans.append(_Forward(columns, parts, order, real, padded))
    return plans


def padding_stats(sentence_features: Sequence[dict[str, Any]], options: EmbeddingOptions | None = None) -> dict[str, int]:
    """Real and padded token counts that the planned forwards would run, plus the plain per-column count."""
    features_list = list(sentence_features)
    plain = sum(int(f["attention_mask"].numel()) for f in features_list if isinstance(f.get("attention_mask"), Tensor))
    plans = plan_forwards(features_list, options)
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
) -> list[Tensor]:
    """Embed every text column; returns one ``(rows, dim)`` tensor per column, in column order.

    :param model: anything callable as ``model(features)["sentence_embedding"]``.
    :param sentence_features: one tokenised dict per column, as the data collator builds them.
    :param merge: merge compatible columns into one forward (default from :func:`current_options`).
    :param buckets: at most this many length buckets per forward; ``1`` turns bucketing off.
    :param min_bucket_rows: smallest bucket allowed.
    """
    features_list = list(sentence_features)
    if not features_list:
        raise InvalidInputError("embed_columns got no text columns: sentence_features is empty. Pass one dict per text column.")
    reuse = _REUSE.get()
    if reuse is not None and reuse[0] == tuple(id(f) for f in features_list):
        return list(reuse[1])

    options = current_options()
    if merge is not None or buckets is not None or min_bucket_rows is not None:
        options = replace(
            options,
            **{k: v for k, v in {"merge": merge, "buckets": buckets, "min_bucket_rows": min_bucket_rows}.items() if v is not None},
        )

    results: list[Tensor | None] = [None] * len(features_list)
    for plan in plan_forwards(features_list, options):
        if plan.order is None and len(plan.columns) == 1 and plan.features[0] is features_list[plan.columns[0]]:
            # Untouched dict: the classic call, which also leaves the outputs in the caller's dict.
            results[plan.columns[0]] = _embedding_of(model(features_list[plan.columns[0]]), model)
            continue
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
