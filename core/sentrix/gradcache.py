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

The mini-batches a column is embedded in are grouped by length (:meth:`CachedLossMixin.minibatch_plan`,
:func:`length_sorted_minibatches`): the rows are sorted by length and cut into runs that each
cost about ``mini_batch_size`` rows of the column's mean length, and each run is one padded forward
at its own longest row. Rows of about one length share a forward, so there is little padding and
attention keeps memory for each row's own length; a run of short texts holds more rows, one of
long texts fewer, so the dearest mini-batch, and with it the peak, follows ``mini_batch_size`` and
not the batch size. The loss still gets every column in batch order, cut every
``mini_batch_size`` rows. ``SENTRIX_GRADCACHE_SORT=0`` keeps sentence-transformers' batch-order
cut. Measured on all-MiniLM-L6-v2 (batch 1,024 against batch 64, mini-batch 32), the peak of live
tensors grows 1.105x (1.155x in batch order) and is 16% lower at batch 1,024
(``benchmarks/results/cached_mnrl_memory.md``).

In step 3 embedding tables run with ``sparse=True`` (:func:`_sparse_embedding_gradients`): each
mini-batch's backward adds the rows of its own tokens into one dense ``weight.grad``, instead of
allocating, zero-filling and adding a table-sized gradient per mini-batch. With a 250,002-row
table on the MiniLM shape (batch 256) that lowers the peak of live tensors from 775 to 488 MB and
the time per pair to 0.57x (same measurement). ``SENTRIX_GRADCACHE_SPARSE_EMBEDDINGS=0`` keeps the
dense tables.

Memory that outlives a mini-batch is allocated once per column, before its first forward: the
step-1 embeddings are written into one ``(rows, dim)`` buffer (``reps`` holds views of it) and
their gradients form one tensor (no per-mini-batch copies). On CPU the C allocator (glibc) still
keeps part of the freed activations of each mini-batch resident, so a big batch's peak resident
memory grows with its number of mini-batches (1.49x from batch 64 to 1,024 in the measurement
above). ``SENTRIX_GRADCACHE_TRIM=1`` (Linux with glibc, CPU tensors) hands freed heap pages back to
the system (``malloc_trim``) after every mini-batch: 1.27x in the same measurement. It made a step
about a quarter slower in an earlier one (the pages are faulted in again by the next mini-batch),
so it is off by default.

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
    "length_sorted_minibatches",
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


def length_sorted_minibatches(
    lengths: Sequence[int], mini_batch_size: int, attention_scale: float | None = None
) -> list[list[int]]:
    """Rows grouped by length into runs that each cost about ``mini_batch_size`` rows of the mean length.

    A run of ``n`` rows whose longest has ``w`` tokens costs ``n * w * (1 + w / attention_scale)``:
    its padded tokens, with attention's memory growing with the sequence length (``None``: tokens
    only). The budget of a run is the cost of ``mini_batch_size`` rows of the mean length, without
    padding; when one row alone costs more, that row's cost is the limit of every run (the peak is
    that row's anyway, and fewer runs mean fewer forwards). The rows are sorted by length and cut
    into as few consecutive runs as keep within the budget, then the cut points are moved so that
    the dearest of those runs is as cheap as possible. So every run holds about the same memory,
    whatever the batch size: a run of short texts takes more rows than ``mini_batch_size``, one of
    long texts fewer, and rows of about one length share a run, so there is little padding.
    Inside a run the rows keep their batch order. Returns the runs as lists of row indices, the
    run of the longest rows first.
    """
    if isinstance(mini_batch_size, bool) or not isinstance(mini_batch_size, int) or mini_batch_size < 1:
        raise ValueError(f"mini_batch_size={mini_batch_size!r}: expected an integer >= 1")
    if not lengths:
        return []
    rows = sorted(range(len(lengths)), key=lambda r: (int(lengths[r]), r))
    widths = [max(int(lengths[r]), 1) for r in rows]

    def cost(n: float, width: float) -> float:
        return n * width * (1.0 + (width / attention_scale if attention_scale else 0.0))

    def cut(limit: float) -> list[int]:
        """Ends of the runs when each run takes rows while its cost stays within ``limit``."""
        ends, begin = [], 0
        for index, width in enumerate(widths):
            if index > begin and cost(index + 1 - begin, width) > limit:
                ends.append(index)
                begin = index
        ends.append(len(widths))
        return ends

    mean = sum(widths) / len(widths)
    low = max(cost(1, w) for w in widths)
    high = max(low, cost(mini_batch_size, mean))
    count = len(cut(high))
    for _ in range(60):  # bisection on the most a run may cost, keeping the number of runs
        if high - low <= 1e-9 * high:
            break
        middle = (low + high) / 2
        if len(cut(middle)) <= count:
            high = middle
        else:
            low = middle
    runs, begin = [], 0
    for end in cut(high):
        runs.append(sorted(rows[begin:end]))
        begin = end
    return runs[::-1]


def _sorting_enabled() -> bool:
    from sentrix.embedding import _env_bool

    return _env_bool("SENTRIX_GRADCACHE_SORT", True)


def _attention_memory_scale(model: Any) -> float | None:
    """The sequence length at which attention keeps as much memory per token as the rest of a layer.

    Six times the head size of the model's input module (measured on all-MiniLM-L6-v2 in train
    mode: 171 KB per token plus 863 bytes per token of sequence length, a scale of 198; six times
    its head size is 192). None when the module has no transformer config.
    """
    from sentrix.embedding import _input_module

    config = getattr(_input_module(model), "config", None)
    hidden = getattr(config, "hidden_size", None) or getattr(config, "dim", None)
    heads = getattr(config, "num_attention_heads", None) or getattr(config, "n_heads", None)
    if isinstance(hidden, int) and isinstance(heads, int) and hidden > 0 and heads > 0:
        return 6.0 * hidden / heads
    return None


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


def _embed_run(
    loss_obj: Any,
    features: dict[str, Any],
    order: Tensor | None,
    begin: int,
    end: int,
    *,
    with_grad: bool,
    copy_random_state: bool,
    random_state: RandContext | None = None,
) -> tuple[Tensor, RandContext | None]:
    """Embed one mini-batch: rows ``begin:end`` of the column, or of ``order`` (a length-grouped run).

    A grouped run's rows are gathered when it is embedded (no reordered copy of the whole column
    is kept) and run as one padded forward at the run's longest row: no packing, no length buckets.
    """
    if order is None:
        return loss_obj.embed_minibatch(
            features, begin, end, with_grad=with_grad, copy_random_state=copy_random_state, random_state=random_state
        )
    from sentrix.embedding import embedding_options

    run = _take_rows(features, order[begin:end])
    with embedding_options(pack=False, buckets=1):
        return loss_obj.embed_minibatch(
            run, 0, end - begin, with_grad=with_grad, copy_random_state=copy_random_state, random_state=random_state
        )


def _sparse_embeddings_enabled() -> bool:
    from sentrix.embedding import _env_bool

    return _env_bool("SENTRIX_GRADCACHE_SPARSE_EMBEDDINGS", True)


@contextmanager
def _sparse_embedding_gradients(model: Any, enabled: bool = True) -> Iterator[None]:
    """During step 3, embedding tables add each mini-batch's gradient rows into one dense gradient.

    A dense ``nn.Embedding`` gives every backward a gradient the size of its whole table (45 MB
    for 30k tokens of width 384, 768 MB for 250k of width 768), zero-filled and then added into
    ``weight.grad``, once per mini-batch. Inside the block such a table runs with
    ``sparse=True``: its backward yields only the rows of the mini-batch's tokens, added in place
    into a dense ``weight.grad`` allocated once (zeros, where it was None). The optimiser still
    gets a dense gradient, equal to float rounding. A table that no replayed forward used gets its
    ``None`` back, so optimisers skip it as before.

    Skipped (the dense default) under ``torch.distributed`` with more than one process (the
    reducer expects the layout it saw at wrap time), for compiled models, for tables that are
    already sparse, frozen, or off CPU and CUDA, and when not ``enabled``
    (``SENTRIX_GRADCACHE_SPARSE_EMBEDDINGS=0``, read in step 1 so a bad value stops before any forward).
    """
    if not enabled or hasattr(model, "_orig_mod"):
        yield
        return
    if torch.distributed.is_available() and torch.distributed.is_initialized() and torch.distributed.get_world_size() > 1:
        yield
        return
    tables, seen = [], set()
    for module in model.modules():
        weight = getattr(module, "weight", None)
        if (
            isinstance(module, torch.nn.Embedding)
            and not module.sparse
            and isinstance(weight, Tensor)
            and weight.requires_grad
            and weight.device.type in ("cpu", "cuda")
            and (weight.grad is None or weight.grad.layout == torch.strided)
            and id(weight) not in seen
        ):
            seen.add(id(weight))
            tables.append(module)
    used: set[int] = set()
    created, hooks = [], []
    try:
        for module in tables:
            if module.weight.grad is None:
                module.weight.grad = torch.zeros_like(module.weight)
                created.append(module)
            hooks.append(module.register_forward_hook(lambda m, _args, _out: used.add(id(m))))
            module.sparse = True
        yield
    finally:
        for hook in hooks:
            hook.remove()
        for module in tables:
            module.sparse = False
        for module in created:
            if id(module) not in used:
                module.weight.grad = None


def _replay_backward(
    grad_output: Tensor,
    *,
    loss_obj: Any,
    sentence_features: list[dict[str, Any]],
    cache: list[list[Tensor]],
    random_states: list[list[RandContext | None]],
    ranges: list[list[tuple[int, int]]],
    orders: list[Tensor | None],
    sparse_embeddings: bool = True,
) -> None:
    """Step 3: re-embed each mini-batch with gradients and push its cached gradient into the model.

    Every mini-batch's contribution is scaled by ``grad_output`` (gradient accumulation, loss
    scaling and wrapper weights reach all of them). The state belongs to one forward call and is
    bound here, so a second forward before this backward cannot mix batches.
    """
    model = getattr(loss_obj.model, "_orig_mod", loss_obj.model)
    remaining = sum(len(column) for column in cache)
    with torch.enable_grad(), _sparse_embedding_gradients(loss_obj.model, sparse_embeddings):
        for features, grads, states, column_ranges, order in zip(sentence_features, cache, random_states, ranges, orders):
            iterator = loss_obj.embed_minibatch_iter(
                sentence_feature=features,
                with_grad=True,
                copy_random_state=False,
                random_states=states,
                ranges=column_ranges,
                order=order,
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
        order: Tensor | None = None,
    ) -> Iterator[tuple[Tensor, RandContext | None]]:
        """Embed every mini-batch of one column in order, yielding ``(embeddings, rng_state)``.

        With ``order`` (from :meth:`minibatch_plan`), ``ranges`` are ranges of that row order.
        """
        if ranges is None:
            ranges = minibatch_ranges(sentence_feature, self.mini_batch_size, self.mini_batch_num_tokens)
        items: Iterable = enumerate(ranges)
        if self.show_progress_bar:
            import tqdm

            items = tqdm.tqdm(items, total=len(ranges), desc="Embed mini-batches")
        for i, (begin, end) in items:
            yield _embed_run(
                self,
                sentence_feature,
                order,
                begin,
                end,
                with_grad=with_grad,
                copy_random_state=copy_random_state,
                random_state=None if random_states is None else random_states[i],
            )

    def minibatch_plan(
        self, sentence_feature: dict[str, Any], ranges: list[tuple[int, int]]
    ) -> tuple[Tensor, list[tuple[int, int]]] | None:
        """The rows of one column grouped by length for embedding, or None to embed the batch-order ``ranges``.

        Returns ``(order, embed_ranges)``: the column's rows in the order they are embedded and the
        row ranges of that order each mini-batch takes. The mini-batches are
        :func:`length_sorted_minibatches` (as many as their budget needs, not as ``ranges``), each
        run as one padded forward at its own longest row: rows of about one length share a forward, so there is
        little padding and attention keeps memory for each row's own length, where a packed or
        batch-order mini-batch makes every row pay for the longest one. The loss still sees every
        column in batch order, cut at ``ranges``, and the gradients are those of the batch-order
        cut (to float rounding).

        None (batch order, as sentence-transformers cuts) for token-budget mini-batches
        (``mini_batch_num_tokens``), a single mini-batch, models whose modules do not declare
        their rows independent (:func:`sentrix.embedding.plain_forward_reason`), plain-forward
        options, and ``SENTRIX_GRADCACHE_SORT=0``.
        """
        if self.mini_batch_num_tokens is not None or len(ranges) < 2 or not _sorting_enabled():
            return None
        mask = sentence_feature.get("attention_mask")
        if not isinstance(mask, Tensor) or mask.ndim != 2:
            return None
        from sentrix.embedding import current_options, plain_forward_reason

        options = current_options()
        if options.plain or plain_forward_reason(self.model, options) is not None:
            return None
        runs = length_sorted_minibatches(
            mask.sum(dim=1).tolist(), self.mini_batch_size, _attention_memory_scale(self.model)
        )
        embed_ranges, begin = [], 0
        for run in runs:
            embed_ranges.append((begin, begin + len(run)))
            begin += len(run)
        return torch.tensor([row for run in runs for row in run], dtype=torch.long), embed_ranges

    def forward_cached(self, sentence_features: Iterable[dict[str, Any]], labels: Tensor | None = None) -> Tensor:
        """Steps 1-3 (see the module docstring); returns the loss, whose backward trains the model."""
        sentence_features = list(sentence_features)
        grad_enabled = torch.is_grad_enabled()
        sparse_embeddings = _sparse_embeddings_enabled() if grad_enabled else False
        # Fix the cut points first: modules may edit the features in place while embedding.
        ranges = [minibatch_ranges(f, self.mini_batch_size, self.mini_batch_num_tokens) for f in sentence_features]
        plans = [self.minibatch_plan(f, r) for f, r in zip(sentence_features, ranges)]
        orders = [None if plan is None else plan[0] for plan in plans]
        embed_ranges = [r if plan is None else plan[1] for r, plan in zip(ranges, plans)]

        reps: list[list[Tensor]] = []
        leaves: list[Tensor] = []
        extras: list[list[Tensor | None]] = []
        states: list[list[RandContext | None]] = []
        for features, column_ranges, column_embed_ranges, order in zip(sentence_features, ranges, embed_ranges, orders):
            buffer, column_extras, column_states = None, [], []
            for index in range(max(len(column_ranges), len(column_embed_ranges))):
                if index < len(column_embed_ranges):
                    begin, end = column_embed_ranges[index]
                    rep, state = _embed_run(self, features, order, begin, end, with_grad=False, copy_random_state=grad_enabled)
                    if buffer is None:
                        # one buffer per column, allocated before the long-lived data of any mini-batch
                        buffer = rep.new_empty((column_ranges[-1][1], *rep.shape[1:]))
                    if rep.shape != buffer[begin:end].shape:
                        raise InvalidInputError(
                            f"{type(self).__name__}.embed_minibatch returned embeddings of shape {tuple(rep.shape)} for "
                            f"rows {begin}:{end}; the gradient cache needs one embedding row per input row. Fix: return "
                            "the model's 'sentence_embedding' for the mini-batch."
                        )
                    if order is None:
                        buffer[begin:end].copy_(rep.detach())
                    else:  # back to batch order
                        buffer.index_copy_(0, order[begin:end].to(buffer.device), rep.detach())
                    del rep
                    column_states.append(state)
                if index < len(column_ranges):
                    begin, end = column_ranges[index]
                    with torch.no_grad():  # on the batch-order cut, whatever order the model's mini-batches take
                        extra = self.embed_minibatch_extra(slice_minibatch(features, begin, end))
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
        for leaf, column_embed_ranges, order in zip(leaves, embed_ranges, orders):
            grad = leaf.grad if order is None else leaf.grad.index_select(0, order.to(leaf.grad.device))
            cache.append([grad[begin:end] for begin, end in column_embed_ranges])
        del leaves, grad  # the step-1 embeddings are not needed in step 3
        loss.register_hook(
            partial(
                _replay_backward,
                loss_obj=self,
                sentence_features=sentence_features,
                cache=cache,
                random_states=states,
                ranges=embed_ranges,
                orders=orders,
                sparse_embeddings=sparse_embeddings,
            )
        )
        return loss
