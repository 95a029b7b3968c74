"""The gradient cache (GradCache) engine shared by every cached loss.

Losses with in-batch negatives get better with bigger batches, but a batch's activations must all
stay alive until the backward pass, so memory caps the batch. GradCache (Gao et al., 2021,
https://arxiv.org/abs/2101.06983) lifts the cap by splitting one step in three:

1. **embed without graph**: every column is embedded in mini-batches under ``torch.no_grad``;
   the RNG state before each mini-batch is recorded (:class:`RandContext`).
2. **loss and embedding gradients**: the loss over the *whole* batch is computed from those
   embeddings (chunked, if the loss chooses) and back-propagated only as far as the embeddings;
   their gradients are the cache.
3. **replay with graph**: during the backward pass of the returned loss, each mini-batch is
   embedded again, with gradients and with its recorded RNG state (same dropout masks), and
   ``embeddings . cached_gradient`` is back-propagated into the model.

Only one mini-batch of activations is alive at any time, so peak memory depends on the
mini-batch, not the batch; the price is a second forward. Loss and gradients are those of the
plain loss (to float rounding).

When the model's forwards run as packed rows (:func:`sentrix.embedding.will_pack_rows`), a
mini-batch's activations follow its token count, so the ``mini_batch_size``-row mini-batches are
cut from a token-balanced order of each column's rows (:func:`balanced_minibatch_order`,
:meth:`CachedLossMixin.minibatch_order`) rather than from batch order; the loss still gets every
column in batch order and cut at the usual places. ``SENTRIX_GRADCACHE_BALANCE=0`` keeps batch order.
Measured on all-MiniLM-L6-v2 (batch 1,024 against batch 64, mini-batch 32), the balanced order cut
the growth of the peak resident memory from 1.45x to 1.28x: equal-sized mini-batches reuse each
other's freed memory (``benchmarks/results/cached_mnrl_memory.md``).

Memory that outlives a mini-batch is allocated once per column, before its first forward: the
step-1 embeddings are written into one ``(rows, dim)`` buffer (``reps`` holds views of it) and
their gradients form one tensor (no per-mini-batch copies). On CPU the C allocator (glibc) still
keeps part of the freed activations of each mini-batch resident, so a big batch's peak grows with
its number of mini-batches. ``SENTRIX_GRADCACHE_TRIM=1`` (Linux with glibc, CPU tensors) hands freed
heap pages back to the system (``malloc_trim``) after every mini-batch. It helped most with
batch-order mini-batches (1.45x to 1.29x in the same measurement; 1.28x to 1.26x with the balanced
order) and made a step about a quarter slower in an earlier one (the pages are faulted in again by
the next mini-batch), so it is off by default.

Writing a cached loss
---------------------
Subclass :class:`CachedLossMixin` next to ``nn.Module``, keep the model as ``self.model``, set
``mini_batch_size`` (and optionally ``mini_batch_num_tokens``), implement :meth:`calculate_loss`
and call :meth:`~CachedLossMixin.forward_cached` from ``forward``::

    import torch
    from torch import nn
    from sentrix.plugin_api import CachedLossMixin, cos_sim

    class CachedInfoNCE(CachedLossMixin, nn.Module):
        def __init__(self, model, scale=20.0, mini_batch_size=32):
            super().__init__()
            self.model, self.scale, self.mini_batch_size = model, scale, mini_batch_size

        def calculate_loss(self, reps, labels=None, *, with_backward=False):
            anchors, positives = torch.cat(reps[0]), torch.cat(reps[1])
            scores = cos_sim(anchors, positives) * self.scale
            loss = nn.functional.cross_entropy(scores, torch.arange(len(scores)))
            if with_backward:        # step 2: stop at the embeddings; the engine does the rest
                loss.backward()
                loss = loss.detach()
            return loss

        def forward(self, sentence_features, labels=None):
            return self.forward_cached(sentence_features, labels)

``reps`` holds, per column, the list of mini-batch embeddings (concatenate them for the whole
column). With ``with_backward=True`` the loss must call ``backward()`` itself (it may do so chunk
by chunk, so the score matrix is never whole in memory) and return a detached value.

A loss that needs a second, frozen embedding of each mini-batch (a guide model) overrides
:meth:`~CachedLossMixin.embed_minibatch_extra`; the engine computes it once, in step 1, on the
batch-order mini-batches (whatever order the model's own mini-batches take, so a guide's
embeddings, and the ties between them, are those of sentence-transformers' cut), and passes the
per-column lists to ``calculate_loss`` as the keyword ``extra_reps``.

Wrapper losses (``MatryoshkaLoss``) recognise these losses with :func:`uses_gradient_cache` and
wrap their ``calculate_loss`` rather than the model's forward, because step 3 runs after the
wrapper's ``forward`` has returned.

sentence-transformers names: :class:`CachedLossMixin`, :class:`RandContext`,
:func:`uses_gradient_cache` and :func:`has_static_embedding_input` keep the names and signatures
of ``sentence_transformers.base.losses.gradcache``, so a cached loss written for it runs after
changing its imports; :func:`column_merging_disabled` stands for
``sentence_transformers.base.losses.merged_forward.column_merging_disabled``.
"""

from __future__ import annotations

import bisect
import heapq
import os
import sys
from contextlib import contextmanager, nullcontext
from functools import partial
from typing import Any, Iterable, Iterator, Sequence

import torch
from torch import Tensor

from sentrix.errors import InvalidInputError

__all__ = [
    "CachedLossMixin",
    "RandContext",
    "uses_gradient_cache",
    "has_static_embedding_input",
    "minibatch_ranges",
    "balanced_minibatch_order",
    "slice_minibatch",
    "validate_mini_batch_options",
    "column_merging_disabled",
]


class RandContext:
    """Record the CPU and accelerator RNG states now; ``with`` the object replays them.

    Step 3 of the engine enters the context recorded before a mini-batch's first forward, so the
    second forward draws the same dropout masks as the first. Outside the block the RNG continues
    as if the replay had not happened.
    """

    def __init__(self, *tensors: Any) -> None:
        from torch.utils.checkpoint import get_device_states

        self.fwd_cpu_state = torch.get_rng_state()
        on_mps = any(isinstance(t, Tensor) and t.device.type == "mps" for t in tensors)
        self.fwd_mps_state = torch.mps.get_rng_state() if on_mps else None
        others = tuple(t for t in tensors if not (isinstance(t, Tensor) and t.device.type == "mps"))
        self.fwd_gpu_devices, self.fwd_gpu_states = get_device_states(*others)
        self._fork = None
        self._mps_outside = None

    def __enter__(self) -> None:
        from torch.utils.checkpoint import set_device_states

        self._fork = torch.random.fork_rng(devices=self.fwd_gpu_devices, enabled=True)
        self._fork.__enter__()
        torch.set_rng_state(self.fwd_cpu_state)
        if self.fwd_mps_state is not None:
            self._mps_outside = torch.mps.get_rng_state()
            torch.mps.set_rng_state(self.fwd_mps_state)
        set_device_states(self.fwd_gpu_devices, self.fwd_gpu_states)

    def __exit__(self, exc_type, exc, tb) -> None:
        if self.fwd_mps_state is not None:
            torch.mps.set_rng_state(self._mps_outside)
        fork, self._fork = self._fork, None
        fork.__exit__(exc_type, exc, tb)


def uses_gradient_cache(loss: Any) -> bool:
    """Whether ``loss`` back-propagates from a hook on the loss it returns (step 3 above).

    Such a loss re-embeds during the *backward* pass, after any wrapper that patched the model's
    forward for the duration of ``forward`` has restored it; wrappers must hook ``calculate_loss``
    instead. Losses say so with the attribute ``uses_gradient_cache`` (True on
    :class:`CachedLossMixin`; a loss that can switch caching off sets it per instance).
    """
    return bool(getattr(loss, "uses_gradient_cache", False))


def has_static_embedding_input(model: Any) -> bool:
    """Whether the model's input module (directly or behind a Router) is a ``StaticEmbedding``.

    Its features (token ids plus offsets of an ``EmbeddingBag``) have no batch axis, so they cannot
    be cut into mini-batches; cached losses refuse such models.
    """
    model = getattr(model, "_orig_mod", model)
    try:
        first = model[0]
    except (TypeError, IndexError, KeyError, AttributeError):
        return False
    inputs = [first]
    routes = getattr(first, "sub_modules", None)
    if isinstance(routes, dict) or hasattr(routes, "values"):
        inputs = []
        for route in routes.values():
            try:
                inputs.append(route[0])
            except (TypeError, IndexError, KeyError):
                inputs.append(route)
    return any(type(module).__name__ == "StaticEmbedding" for module in inputs)


def validate_mini_batch_options(owner: str, mini_batch_size: Any, mini_batch_num_tokens: Any) -> None:
    """Raise :class:`InvalidInputError` for a mini-batch size or token budget that is not a positive int."""
    if isinstance(mini_batch_size, bool) or not isinstance(mini_batch_size, int) or mini_batch_size < 1:
        raise InvalidInputError(
            f"{owner}: mini_batch_size={mini_batch_size!r} is invalid: expected an integer >= 1 (the rows embedded "
            "per forward; e.g. 32). Fix: pass mini_batch_size=32 or the largest value your memory allows."
        )
    if mini_batch_num_tokens is not None and (
        isinstance(mini_batch_num_tokens, bool) or not isinstance(mini_batch_num_tokens, int) or mini_batch_num_tokens < 1
    ):
        raise InvalidInputError(
            f"{owner}: mini_batch_num_tokens={mini_batch_num_tokens!r} is invalid: expected None or an integer >= 1 "
            "(the most non-padding tokens per forward). Fix: pass None to cut by rows, or e.g. 8192."
        )


def _rows(features: dict[str, Any]) -> int:
    for key in ("input_ids", "attention_mask"):
        value = features.get(key)
        if isinstance(value, Tensor) and value.ndim > 0:
            return int(value.shape[0])
    for value in features.values():
        if isinstance(value, Tensor) and value.ndim > 0:
            return int(value.shape[0])
    raise InvalidInputError(
        "a cached loss got a text column without any batched tensor, so it cannot be cut into mini-batches. "
        "Fix: use the non-cached loss for this model."
    )


def minibatch_ranges(
    features: dict[str, Any], mini_batch_size: int, mini_batch_num_tokens: int | None = None
) -> list[tuple[int, int]]:
    """The ``(begin, end)`` row ranges one column is embedded in.

    Without a token budget: consecutive runs of ``mini_batch_size`` rows. With
    ``mini_batch_num_tokens``: each run takes as many following rows as fit in that many real
    (attention-mask) tokens, and at least one row.
    """
    rows = _rows(features)
    if mini_batch_num_tokens is None:
        return [(b, min(b + mini_batch_size, rows)) for b in range(0, rows, mini_batch_size)]
    mask = features.get("attention_mask")
    if not isinstance(mask, Tensor):
        raise InvalidInputError(
            "mini_batch_num_tokens needs the per-row token counts of an 'attention_mask', which this column lacks. "
            "Fix: use mini_batch_size (leave mini_batch_num_tokens=None)."
        )
    cumulative = mask.sum(dim=1).cumsum(dim=0).tolist()
    ranges, begin = [], 0
    while begin < rows:
        before = cumulative[begin - 1] if begin else 0
        end = max(bisect.bisect_right(cumulative, before + mini_batch_num_tokens), begin + 1)
        ranges.append((begin, end))
        begin = end
    return ranges


def slice_minibatch(features: dict[str, Any], begin: int, end: int) -> dict[str, Any]:
    """Rows ``begin:end`` of one column's features, trimmed to the longest real row of the slice.

    Trailing columns that are padding for every row of the slice are dropped (leading padding is
    kept), so a mini-batch of short texts runs at its own width.
    """
    rows = _rows(features)
    end = min(end, rows)
    mask = features.get("attention_mask")
    width, keep = None, None
    if isinstance(mask, Tensor) and mask.ndim == 2:
        width = int(mask.shape[1])
        active = mask[begin:end].bool().any(dim=0)
        if active.any():
            last = int(active.nonzero().max()) + 1
            if last < width:
                keep = last
    out: dict[str, Any] = {}
    for key, value in features.items():
        if not isinstance(value, Tensor) or value.ndim == 0 or value.shape[0] != rows:
            out[key] = value  # batch metadata (task names, prompt lengths) passes through
        elif keep is not None and value.ndim >= 2 and value.shape[1] == width:
            out[key] = value[begin:end, :keep]
        else:
            out[key] = value[begin:end]
    return out


def balanced_minibatch_order(lengths: Sequence[int], sizes: Sequence[int]) -> list[int]:
    """A row order whose consecutive runs of ``sizes`` rows hold about the same number of tokens.

    Longest rows first, each row goes to the run with the fewest tokens that still has room
    (ties: the earlier run); inside a run the rows keep their batch order. Returns the row indices
    run after run. With every run this size, the run with the most tokens (and so the mini-batch
    with the most activations) is as small as this greedy split makes it, where consecutive rows
    put a cluster of long texts into one run.
    """
    if sum(sizes) != len(lengths):
        raise ValueError(f"run sizes {list(sizes)} add up to {sum(sizes)}, not to the {len(lengths)} rows")
    runs: list[list[int]] = [[] for _ in sizes]
    heap = [(0, index) for index, size in enumerate(sizes) if size > 0]
    heapq.heapify(heap)
    for row in sorted(range(len(lengths)), key=lambda r: -int(lengths[r])):
        tokens, run = heapq.heappop(heap)
        runs[run].append(row)
        if len(runs[run]) < sizes[run]:
            heapq.heappush(heap, (tokens + int(lengths[row]), run))
    return [row for run in runs for row in sorted(run)]


def _balance_enabled() -> bool:
    from sentrix.embedding import _env_bool

    return _env_bool("SENTRIX_GRADCACHE_BALANCE", True)


def _take_rows(features: dict[str, Any], order: Tensor) -> dict[str, Any]:
    rows = _rows(features)
    out: dict[str, Any] = {}
    for key, value in features.items():
        if isinstance(value, Tensor) and value.ndim > 0 and value.shape[0] == rows:
            out[key] = value.index_select(0, order.to(value.device))
        else:
            out[key] = value  # batch metadata passes through
    return out


@contextmanager
def column_merging_disabled() -> Iterator[None]:
    """Within the block, :func:`~sentrix.embedding.embed_columns` runs the plain forward on each column's own dict.

    For losses that pass state between calls through the per-column feature dicts: merging and
    length buckets build new dicts, so whatever the model writes into them (``token_embeddings``,
    ``all_layer_embeddings``, ...) would not reach the caller's. Here the model gets the caller's
    dicts themselves, untrimmed. The counterpart of sentence-transformers' ``column_merging_disabled``.
    """
    from sentrix.embedding import embedding_options

    with embedding_options(merge_and_bucket=False):
        yield


_MALLOC_TRIM: Any = None  # None: not looked up yet; False: unavailable


def _malloc_trim() -> Any:
    """glibc's ``malloc_trim``, or False off Linux/glibc."""
    global _MALLOC_TRIM
    if _MALLOC_TRIM is None:
        _MALLOC_TRIM = False
        if sys.platform.startswith("linux"):
            try:
                import ctypes

                libc = ctypes.CDLL(None)
                if hasattr(libc, "gnu_get_libc_version") and hasattr(libc, "malloc_trim"):
                    libc.malloc_trim.argtypes = [ctypes.c_size_t]
                    libc.malloc_trim.restype = ctypes.c_int
                    _MALLOC_TRIM = libc.malloc_trim
            except (OSError, AttributeError):
                pass
    return _MALLOC_TRIM


def _release_freed_memory(reference: Tensor | None) -> None:
    """With ``SENTRIX_GRADCACHE_TRIM=1``: hand freed C-heap pages back to the system (CPU tensors, glibc only).

    Off by default: it lowers the peak of big batches but costs time (returning the pages and
    faulting them in again); see the module docstring.
    """
    if reference is None or reference.device.type != "cpu":
        return
    if os.environ.get("SENTRIX_GRADCACHE_TRIM", "0").strip().lower() not in {"1", "true", "yes", "on"}:
        return
    trim = _malloc_trim()
    if trim:
        trim(0)


@contextmanager
def _replay_sync(model: Any, synchronize: bool) -> Iterator[None]:
    """Inside DistributedDataParallel, skip the gradient all-reduce for every replayed mini-batch but the last."""
    from torch.nn.parallel import DistributedDataParallel

    if isinstance(model, DistributedDataParallel) and not synchronize:
        with model.no_sync():
            yield
    else:
        yield


def _replay_backward(
    grad_output: Tensor,
    *,
    loss_obj: Any,
    sentence_features: list[dict[str, Any]],
    cache: list[list[Tensor]],
    random_states: list[list[RandContext | None]],
    ranges: list[list[tuple[int, int]]],
) -> None:
    """Step 3: re-embed each mini-batch with gradients and push its cached gradient into the model.

    Every mini-batch's contribution is scaled by ``grad_output`` (gradient accumulation, loss
    scaling and wrapper weights reach all of them). The state belongs to one forward call and is
    bound here, so a second forward before this backward cannot mix batches.
    """
    model = getattr(loss_obj.model, "_orig_mod", loss_obj.model)
    remaining = sum(len(column) for column in cache)
    with torch.enable_grad():
        for features, grads, states, column_ranges in zip(sentence_features, cache, random_states, ranges):
            iterator = loss_obj.embed_minibatch_iter(
                sentence_feature=features,
                with_grad=True,
                copy_random_state=False,
                random_states=states,
                ranges=column_ranges,
            )
            for grad in grads:
                remaining -= 1
                with _replay_sync(model, synchronize=remaining == 0):
                    reps, *_ = next(iterator)
                    if not reps.requires_grad:
                        continue  # a frozen model: nothing to train
                    dtype = torch.promote_types(reps.dtype, grad.dtype)
                    if dtype in (torch.float16, torch.bfloat16):
                        dtype = torch.float32
                    surrogate = torch.dot(reps.flatten().to(dtype), grad.flatten().to(dtype)) * grad_output
                    del reps
                    surrogate.backward()
                    del surrogate
                _release_freed_memory(grad)


class CachedLossMixin:
    """The GradCache forward shared by cached losses; see the module docstring for how to write one.

    The subclass is an ``nn.Module`` with ``self.model`` and ``self.mini_batch_size`` (and
    optionally ``self.mini_batch_num_tokens``, ``self.show_progress_bar``), implements
    :meth:`calculate_loss` and calls :meth:`forward_cached` from ``forward``.
    """

    model: Any
    mini_batch_size: int = 32
    mini_batch_num_tokens: int | None = None
    show_progress_bar: bool = False
    uses_gradient_cache: bool = True

    def calculate_loss(self, reps: list[list[Tensor]], labels: Tensor | None = None, *, with_backward: bool = False) -> Tensor:
        """The loss of the whole batch from per-column lists of mini-batch embeddings.

        With ``with_backward=True``: call ``backward()`` on the loss (or on each chunk of it) and
        return the detached total.
        """
        raise NotImplementedError(f"{type(self).__name__} must implement calculate_loss(reps, labels, *, with_backward=False).")

    def embed_minibatch_extra(self, minibatch: dict[str, Any]) -> Tensor | None:
        """A frozen second embedding of a mini-batch (e.g. a guide model's), computed once in step 1; None by default."""
        return None

    def _embed(self, minibatch: dict[str, Any]) -> Tensor:
        from sentrix.embedding import embed_columns

        # Length buckets inside the mini-batch cut padding (same result; see sentrix.embedding).
        return embed_columns(self.model, [minibatch])[0]

    def embed_minibatch(
        self,
        sentence_feature: dict[str, Any],
        begin: int,
        end: int,
        with_grad: bool,
        copy_random_state: bool,
        random_state: RandContext | None = None,
    ) -> tuple[Tensor, RandContext | None]:
        """Embed rows ``begin:end`` of one column, recording (or replaying) the RNG state."""
        minibatch = slice_minibatch(sentence_feature, begin, end)
        with nullcontext() if random_state is None else random_state:
            with nullcontext() if with_grad else torch.no_grad():
                state = RandContext(*minibatch.values()) if copy_random_state else None
                reps = self._embed(minibatch)
        return reps, state

    def embed_minibatch_iter(
        self,
        sentence_feature: dict[str, Any],
        with_grad: bool,
        copy_random_state: bool,
        random_states: list[RandContext | None] | None = None,
        ranges: list[tuple[int, int]] | None = None,
    ) -> Iterator[tuple[Tensor, RandContext | None]]:
        """Embed every mini-batch of one column in order, yielding ``(embeddings, rng_state)``."""
        if ranges is None:
            ranges = minibatch_ranges(sentence_feature, self.mini_batch_size, self.mini_batch_num_tokens)
        items: Iterable = enumerate(ranges)
        if self.show_progress_bar:
            import tqdm

            items = tqdm.tqdm(items, total=len(ranges), desc="Embed mini-batches")
        for i, (begin, end) in items:
            yield self.embed_minibatch(
                sentence_feature=sentence_feature,
                begin=begin,
                end=end,
                with_grad=with_grad,
                copy_random_state=copy_random_state,
                random_state=None if random_states is None else random_states[i],
            )

    def minibatch_order(self, sentence_feature: dict[str, Any], ranges: list[tuple[int, int]]) -> Tensor | None:
        """The row order one column's mini-batches are cut from, or None for the batch order.

        When the model's forwards run as packed rows, a mini-batch costs memory by its tokens, not
        by its longest row, so the rows are dealt into runs of ``mini_batch_size`` with about equal
        token counts (:func:`balanced_minibatch_order`): a cluster of long texts no longer makes one
        mini-batch the peak of the whole step. The loss still sees every column in batch order and
        cut at the same places, and the gradients are those of the batch-order cut (to float
        rounding). Kept in batch order: token-budget mini-batches (``mini_batch_num_tokens``),
        models that pad every mini-batch to its longest row (mixing lengths would add padding),
        and ``SENTRIX_GRADCACHE_BALANCE=0``.
        """
        if self.mini_batch_num_tokens is not None or len(ranges) < 2 or not _balance_enabled():
            return None
        mask = sentence_feature.get("attention_mask")
        if not isinstance(mask, Tensor) or mask.ndim != 2:
            return None
        from sentrix.embedding import will_pack_rows

        if not will_pack_rows(self.model):
            return None
        order = balanced_minibatch_order(mask.sum(dim=1).tolist(), [end - begin for begin, end in ranges])
        if order == sorted(order):
            return None
        return torch.tensor(order, dtype=torch.long)

    def forward_cached(self, sentence_features: Iterable[dict[str, Any]], labels: Tensor | None = None) -> Tensor:
        """Steps 1-3 (see the module docstring); returns the loss, whose backward trains the model."""
        sentence_features = list(sentence_features)
        grad_enabled = torch.is_grad_enabled()
        # Fix the cut points first: modules may edit the features in place while embedding.
        ranges = [minibatch_ranges(f, self.mini_batch_size, self.mini_batch_num_tokens) for f in sentence_features]
        orders = [self.minibatch_order(f, r) for f, r in zip(sentence_features, ranges)]
        # What the mini-batches are cut from: the column itself, or its rows in the balanced order.
        embedded = [f if order is None else _take_rows(f, order) for f, order in zip(sentence_features, orders)]

        reps: list[list[Tensor]] = []
        leaves: list[Tensor] = []
        extras: list[list[Tensor | None]] = []
        states: list[list[RandContext | None]] = []
        for original, features, column_ranges, order in zip(sentence_features, embedded, ranges, orders):
            buffer, column_extras, column_states = None, [], []
            for begin, end in column_ranges:
                rep, state = self.embed_minibatch(features, begin, end, with_grad=False, copy_random_state=grad_enabled)
                if buffer is None:
                    # one buffer per column, allocated before the long-lived data of any mini-batch
                    buffer = rep.new_empty((column_ranges[-1][1], *rep.shape[1:]))
                if rep.shape != buffer[begin:end].shape:
                    raise InvalidInputError(
                        f"{type(self).__name__}.embed_minibatch returned embeddings of shape {tuple(rep.shape)} for rows "
                        f"{begin}:{end}; the gradient cache needs one embedding row per input row. Fix: return the "
                        "model's 'sentence_embedding' for the mini-batch."
                    )
                if order is None:
                    buffer[begin:end].copy_(rep.detach())
                else:  # back to batch order
                    buffer.index_copy_(0, order[begin:end].to(buffer.device), rep.detach())
                del rep
                column_states.append(state)
                with torch.no_grad():  # in batch order, whatever order the model's mini-batches take
                    extra = self.embed_minibatch_extra(slice_minibatch(original, begin, end))
                column_extras.append(None if extra is None else extra.detach())
                del extra
                _release_freed_memory(buffer)
            assert buffer is not None  # every column has at least one mini-batch
            leaf = buffer.requires_grad_(grad_enabled)
            leaves.append(leaf)
            reps.append([leaf[begin:end] for begin, end in column_ranges])  # views of the leaf: no second copy
            extras.append(column_extras)
            states.append(column_states)
        kwargs: dict[str, Any] = {}
        if any(e is not None for column in extras for e in column):
            kwargs["extra_reps"] = extras

        if not grad_enabled:
            return self.calculate_loss(reps, labels, **kwargs)

        loss = self.calculate_loss(reps, labels, with_backward=True, **kwargs)
        loss = loss.detach().requires_grad_()
        del reps, kwargs, extras
        unused = [str(i) for i, leaf in enumerate(leaves) if leaf.grad is None]
        if unused:
            raise InvalidInputError(
                f"{type(self).__name__} did not use text column(s) {', '.join(unused)} of the batch (their embeddings got "
                "no gradient), yet every column is embedded twice. Fix: drop the unused column(s) from the dataset."
            )
        cache = []
        for leaf, column_ranges, order in zip(leaves, ranges, orders):
            grad = leaf.grad if order is None else leaf.grad.index_select(0, order.to(leaf.grad.device))
            cache.append([grad[begin:end] for begin, end in column_ranges])
        del leaves, grad  # the step-1 embeddings are not needed in step 3
        loss.register_hook(
            partial(
                _replay_backward,
                loss_obj=self,
                sentence_features=embedded,
                cache=cache,
                random_states=states,
                ranges=ranges,
            )
        )
        return loss
