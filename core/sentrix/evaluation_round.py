"""One evaluation round: every distinct text is encoded once, for all the evaluators that need it.

An *evaluation round* is one evaluation of one model by one or more evaluators (the trainer's
evaluation step, a :class:`SequentialEvaluator`, or a single evaluator call). Inside a round,
``encode_fn(model, kind)`` (from :mod:`sentrix.plugin_api`) returns an encoder that remembers
what it computed, so a text needed twice under the same encode settings is embedded once:

- settings that make two requests the same: the kind (plain / query / document) as far as it
  changes the prompt or the route, the resolved prompt text, the route (``task``, only for models
  whose modules use it), ``truncate_dim``, ``normalize_embeddings`` and any model keyword;
- settings that do not: ``batch_size``, ``show_progress_bar``, output format, and ``precision``
  (quantisation is applied to the float embeddings of each request, with the calibration that
  request alone would have had, so quantised results are those of a plain ``encode`` call).

Texts are encoded in batches of one exact token length each, longest first. A batch then holds
no padding, and (on CPU, where this is tested) a text's embedding does not depend on which other
texts share its batch: sharing, the order of requests, the batch size and the number of
processes change nothing, bit for bit. Models without an ``attention_mask`` in their tokenizer
output are encoded with their own ``encode`` batching instead (still once per distinct text).

An embedding never outlives the weights it was computed with: the cache lives only as long as
the round, and is dropped inside the round as soon as a parameter of the model changes
(in-place updates are seen through the tensors' version counters).

Under ``torch.distributed`` (several processes, e.g. ``torchrun``), the batches of a round are
split across the processes, each encodes its share, and every process receives all embeddings,
so every process computes the same metrics. Every process must then make the same encode
requests in the same order, which evaluators that compute their metrics from the data they were
built with do.

Third-party evaluators get this by calling ``encode_fn(model, kind)(texts, **options)`` instead
of ``model.encode``; declaring their texts up front (``texts_to_encode``, see
:class:`sentrix.evaluator_base.SentenceEvaluator`) lets one length-sorted pass serve every
evaluator of the round. Use :func:`evaluation_round` to open a round around several calls::

    from sentrix.evaluation_round import evaluation_round

    with evaluation_round(model) as round_:
        sts_metrics = sts_evaluator(model)
        ir_metrics = ir_evaluator(model)
    print(round_.stats)   # texts requested, distinct, encoded
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
from dataclasses import dataclass, field
from typing import Any, Iterator, Sequence

__all__ = ["EncodeRequest", "EvaluationRound", "evaluation_round", "active_round", "sharing_enabled"]

logger = logging.getLogger(__name__)

_state = threading.local()

#: Keywords that only shape the output of one call; they never make two requests different.
_FORMAT_KEYS = frozenset({"batch_size", "show_progress_bar", "convert_to_numpy", "convert_to_tensor", "precision"})
#: Keywords with which a call is passed straight to the model (nothing is shared).
_BYPASS_KEYS = frozenset({"device", "pool", "chunk_size"})
_TOKENIZE_CHUNK = 2048


def sharing_enabled() -> bool:
    """``False`` when the environment variable ``SENTRIX_EVAL_SHARING`` is ``0``/``false``/``no``."""
    return os.environ.get("SENTRIX_EVAL_SHARING", "1").strip().lower() not in ("0", "false", "no", "off")


@dataclass(frozen=True)
class EncodeRequest:
    """Texts an evaluator will encode, and how: what ``texts_to_encode`` returns (a list of these).

    Attributes:
        texts: the texts (strings, or whatever the model's ``encode`` takes).
        kind: ``None`` for ``model.encode``, ``"query"`` / ``"document"`` for ``encode_query`` /
            ``encode_document`` (as in ``encode_fn(model, kind)``).
        options: the keywords the evaluator will pass to that encode function (``prompt``,
            ``prompt_name``, ``truncate_dim``, ``normalize_embeddings``, ``batch_size``, ...).
    """

    texts: Sequence[Any]
    kind: str | None = None
    options: dict[str, Any] = field(default_factory=dict)


def active_round(model: Any = None) -> "EvaluationRound | None":
    """The innermost open round (of ``model`` when given), or ``None``."""
    for round_ in reversed(getattr(_state, "stack", [])):
        if model is None or round_.model is model:
            return round_
    return None


@contextlib.contextmanager
def evaluation_round(model: Any, *, share: bool | None = None, distributed: bool | None = None) -> Iterator["EvaluationRound"]:
    """Open a round for ``model`` (or join the one already open for it) for the ``with`` block.

    Args:
        model: the model the evaluators will encode with.
        share: reuse embeddings across requests (default: ``SENTRIX_EVAL_SHARING``, on). With
            ``False`` every request is encoded on its own, with the same batching.
        distributed: split encoding across ``torch.distributed`` processes (default: when a
            process group with more than one process is initialised).
    """
    existing = active_round(model)
    if existing is not None:
        yield existing
        return
    round_ = EvaluationRound(model, share=share, distributed=distributed)
    stack = getattr(_state, "stack", None)
    if stack is None:
        stack = _state.stack = []
    stack.append(round_)
    try:
        yield round_
    finally:
        stack.remove(round_)
        round_.clear()


def _distributed_world() -> tuple[int, int]:
    try:
        import torch.distributed as dist
    except ImportError:  # pragma: no cover
        return 0, 1
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


class EvaluationRound:
    """The encode cache and batcher of one round; see the module docstring. Open it with
    :func:`evaluation_round`; evaluators reach it through ``encode_fn``."""

    def __init__(self, model: Any, *, share: bool | None = None, distributed: bool | None = None) -> None:
        self.model = model
        self.share = sharing_enabled() if share is None else bool(share)
        rank, world = _distributed_world()
        self.distributed = (world > 1) if distributed is None else (bool(distributed) and world > 1)
        self.rank, self.world_size = (rank, world) if self.distributed else (0, 1)
        self._cache: dict[tuple, dict[Any, Any]] = {}
        self._fingerprint = self._weights_fingerprint()
        self.stats = {"texts_requested": 0, "texts_encoded": 0, "encode_calls": 0}
        self._distinct: set[tuple] = set()

    # -- public ------------------------------------------------------------------------------
    def clear(self) -> None:
        """Forget every embedding of this round."""
        self._cache.clear()

    @property
    def distinct_texts(self) -> int:
        """How many distinct (text, settings) pairs were requested in this round."""
        return len(self._distinct)

    def prefetch(self, requests: Sequence[EncodeRequest] | None) -> None:
        """Encode, in one length-sorted pass, every text of ``requests`` not yet in the cache."""
        if not requests or not self.share:
            return
        self._check_weights()
        jobs: dict[tuple, tuple[Any, dict[str, Any], list[Any]]] = {}
        for request in requests:
            plan = self._plan(request.kind, dict(request.options))
            if plan is None:
                continue
            key, fn, options = plan
            cached = self._cache.setdefault(key, {})
            entry = jobs.setdefault(key, (fn, options, []))
            entry[2].extend(text for text in request.texts if _hashable(text) and text not in cached)
            if "batch_size" in request.options:
                entry[1]["batch_size"] = max(entry[1].get("batch_size", 0), int(request.options["batch_size"]))
        self._run_jobs(jobs)

    def encode(self, kind: str | None, inputs: Any = None, *, _keep: bool = True, **options: Any) -> Any:
        """What ``encode_fn(model, kind)(inputs, **options)`` returns, from the cache where possible.

        With ``_keep=False`` (``encode_fn(model, kind, keep=False)``) cached rows are still used
        but new ones are not stored: for texts seen once, such as a large corpus read in chunks.
        """
        from sentrix.evaluator_base import plain_encode_fn

        if "sentences" in options and inputs is None:
            inputs = options.pop("sentences")
        single = isinstance(inputs, (str, dict))
        texts = [inputs] if single else list(inputs) if inputs is not None else None
        plan = None if texts is None else self._plan(kind, dict(options))
        if plan is None or not all(_hashable(t) for t in texts):
            return plain_encode_fn(self.model, kind)(inputs, **options)
        self._check_weights()
        key, fn, encode_options = plan
        self.stats["texts_requested"] += len(texts)
        self._distinct.update((key, text) for text in texts)
        if self.share:
            cached = self._cache.setdefault(key, {})
            missing = [t for t in dict.fromkeys(texts) if t not in cached]
            if missing and not _keep:
                computed = self._encode_texts(fn, encode_options, missing)
                fresh = {t: computed[i] for i, t in enumerate(missing)}
                rows = [cached[t] if t in cached else fresh[t] for t in texts]
                return self._format(rows, options, single)
            if missing:
                self._run_jobs({key: (fn, encode_options, missing)})
            rows = [cached[t] for t in texts]
        else:  # no sharing: every text as asked, with the same batching
            computed = self._encode_texts(fn, encode_options, texts)
            rows = [computed[i] for i in range(len(texts))]
        return self._format(rows, options, single)

    # -- planning ----------------------------------------------------------------------------
    def _plan(self, kind: str | None, options: dict[str, Any]) -> tuple[tuple, Any, dict[str, Any]] | None:
        """(cache key, encode function, keywords for it) of a request, or ``None`` to bypass the cache."""
        from sentrix.evaluator_base import plain_encode_fn

        if any(options.get(k) is not None for k in _BYPASS_KEYS):
            return None
        if options.get("output_value", "sentence_embedding") != "sentence_embedding":
            return None
        model = self.model
        options.pop("output_value", None)
        shaping = {k: v for k, v in options.items() if k not in _FORMAT_KEYS}
        if shaping.get("truncate_dim") is None:
            shaping["truncate_dim"] = getattr(model, "truncate_dim", None)
        shaping["normalize_embeddings"] = bool(shaping.get("normalize_embeddings", False))
        resolver = getattr(model, "_resolve_prompt", None)
        if resolver is not None and hasattr(model, "prompts"):
            # A sentrix model: resolve what encode_query / encode_document would do, so requests that
            # end up with the same prompt and route share, whatever kind they were asked as.
            prompt, prompt_name = shaping.pop("prompt", None), shaping.pop("prompt_name", None)
            prompts = getattr(model, "prompts", {}) or {}
            if prompt is None and prompt_name is None:
                if kind == "query" and "query" in prompts:
                    prompt_name = "query"
                elif kind == "document":
                    prompt_name = next((n for n in ("document", "passage", "corpus") if n in prompts), None)
            if kind in ("query", "document"):
                shaping.setdefault("task", kind)
            resolved = resolver(prompt, prompt_name)
            if not _uses_task(model):
                shaping.pop("task", None)
            shaping["prompt"] = resolved
            fn = model.encode
            kind_key = None
        else:
            fn = plain_encode_fn(model, kind)
            kind_key = kind
        shaping = {k: v for k, v in shaping.items() if v is not None}  # an explicit None is the default
        try:
            key = (kind_key, tuple(sorted((k, _freeze(v)) for k, v in shaping.items())))
            hash(key)
        except TypeError:
            return None
        call_options = {k: v for k, v in shaping.items() if v is not None}
        if not call_options.get("normalize_embeddings"):
            call_options.pop("normalize_embeddings", None)
        call_options["batch_size"] = int(options.get("batch_size") or 32)
        return key, fn, call_options

    # -- encoding ----------------------------------------------------------------------------
    def _run_jobs(self, jobs: dict[tuple, tuple[Any, dict[str, Any], list[Any]]]) -> None:
        for key, (fn, options, texts) in jobs.items():
            texts = list(dict.fromkeys(texts))
            if not texts:
                continue
            computed = self._encode_texts(fn, options, texts)
            cached = self._cache.setdefault(key, {})
            for i, text in enumerate(texts):
                cached[text] = computed[i]

    def _encode_texts(self, fn: Any, options: dict[str, Any], texts: list[Any]) -> Any:
        """Embeddings (one tensor, a row per text, input order) of ``texts``, batched by exact
        token length and split across processes when distributed."""
        import numpy as np
        import torch

        batch_size = max(1, int(options.get("batch_size", 32)))
        call = {k: v for k, v in options.items() if k != "batch_size"}
        batches, costs = self._batches(texts, call, batch_size)
        owners = _assign(costs, self.world_size) if self.distributed else [0] * len(batches)
        results: dict[int, Any] = {}
        for index, indices in enumerate(batches):
            if owners[index] != self.rank:
                continue
            batch_texts = [texts[i] for i in indices]
            out = fn(batch_texts, batch_size=len(batch_texts), show_progress_bar=False, convert_to_tensor=True, **call)
            results[index] = out if isinstance(out, torch.Tensor) else torch.as_tensor(np.asarray(out))
            self.stats["encode_calls"] += 1
            self.stats["texts_encoded"] += len(indices)
        if self.distributed:
            import torch.distributed as dist

            gathered: list[Any] = [None] * self.world_size
            dist.all_gather_object(gathered, {i: t.detach().cpu() for i, t in results.items()})
            results = {i: t for part in gathered for i, t in part.items()}
        rows: list[Any] = [None] * len(texts)
        for index, indices in enumerate(batches):
            out = results[index]
            for row, text_index in enumerate(indices):
                rows[text_index] = out[row]
        return torch.stack(rows)

    def _batches(self, texts: list[Any], call: dict[str, Any], batch_size: int) -> tuple[list[list[int]], list[int]]:
        """Indices of ``texts`` grouped by exact token length (longest first), at most
        ``batch_size`` each; by character length when the model does not say token lengths."""
        lengths = self._token_lengths(texts, call)
        if lengths is None:
            from sentrix.model import SentenceTransformer

            order = sorted(range(len(texts)), key=lambda i: (-SentenceTransformer._input_length(texts[i]), i))
            batches = [order[s : s + batch_size] for s in range(0, len(order), batch_size)]
            return batches, [len(b) for b in batches]
        groups: dict[int, list[int]] = {}
        for i, length in enumerate(lengths):
            groups.setdefault(length, []).append(i)
        batches, costs = [], []
        for length in sorted(groups, reverse=True):
            members = groups[length]
            for s in range(0, len(members), batch_size):
                batches.append(members[s : s + batch_size])
                costs.append(length * len(batches[-1]))
        return batches, costs

    def _token_lengths(self, texts: list[Any], call: dict[str, Any]) -> list[int] | None:
        preprocess = getattr(self.model, "preprocess", None) or getattr(self.model, "tokenize", None)
        if preprocess is None:
            return None
        extra = {"task": call["task"]} if "task" in call else {}
        lengths: list[int] = []
        try:
            for s in range(0, len(texts), _TOKENIZE_CHUNK):
                chunk = texts[s : s + _TOKENIZE_CHUNK]
                try:
                    features = preprocess(chunk, prompt=call.get("prompt"), **extra)
                except TypeError:
                    prompt = call.get("prompt")
                    features = preprocess([prompt + t for t in chunk] if prompt and all(isinstance(t, str) for t in chunk) else chunk)
                mask = features.get("attention_mask") if isinstance(features, dict) else None
                if mask is None or getattr(mask, "ndim", 0) != 2:
                    return None
                lengths.extend(int(n) for n in mask.sum(dim=1).tolist())
        except Exception as exc:  # an exotic model: fall back to the model's own batching
            logger.debug("evaluation round: no token lengths for %s (%s); batching by characters", type(self.model).__name__, exc)
            return None
        return lengths if len(lengths) == len(texts) else None

    # -- output ------------------------------------------------------------------------------
    @staticmethod
    def _format(rows: list[Any], options: dict[str, Any], single: bool) -> Any:
        import numpy as np
        import torch

        precision = options.get("precision", "float32") or "float32"
        convert_to_tensor = bool(options.get("convert_to_tensor", False))
        convert_to_numpy = bool(options.get("convert_to_numpy", True)) and not convert_to_tensor
        if rows:
            result: Any = torch.stack(rows)
        else:
            result = torch.tensor([])
        if len(rows) and precision != "float32":
            from sentrix.util.quantization import quantize_embeddings

            result = quantize_embeddings(result.cpu(), precision=precision)
        if convert_to_tensor:
            result = torch.as_tensor(result)
        elif convert_to_numpy:
            if isinstance(result, torch.Tensor):
                result = result.detach().cpu().float().numpy() if result.dtype in (torch.bfloat16,) else result.detach().cpu().numpy()
            if not len(result):
                result = np.array([])
        else:
            result = list(torch.from_numpy(result) if isinstance(result, np.ndarray) else result)
        return result[0] if single else result

    # -- weights -----------------------------------------------------------------------------
    def _weights_fingerprint(self) -> tuple:
        parameters = getattr(self.model, "parameters", None)
        if parameters is None:
            return ()
        try:
            return tuple((id(p), p._version) for p in parameters())
        except Exception:  # not a torch module
            return ()

    def _check_weights(self) -> None:
        now = self._weights_fingerprint()
        if now != self._fingerprint:
            if self._cache:
                logger.debug("evaluation round: the model's weights changed; dropping %d cached groups", len(self._cache))
            self._cache.clear()
            self._fingerprint = now


def _assign(costs: list[int], world_size: int) -> list[int]:
    """Process of each batch: the least-loaded one, batches taken largest first (deterministic)."""
    load = [0] * world_size
    owners = [0] * len(costs)
    for i in sorted(range(len(costs)), key=lambda i: (-costs[i], i)):
        target = min(range(world_size), key=lambda r: (load[r], r))
        owners[i] = target
        load[target] += costs[i]
    return owners


def _uses_task(model: Any) -> bool:
    modules = getattr(model, "modules", None)
    if modules is None:
        return True
    from sentrix.module_base import is_router

    for module in modules():
        if is_router(module) or "task" in (getattr(module, "forward_kwargs", None) or ()):
            return True
    return False


def _freeze(value: Any) -> Any:
    if isinstance(value, dict):
        return tuple(sorted((k, _freeze(v)) for k, v in value.items()))
    if isinstance(value, (list, tuple)):
        return tuple(_freeze(v) for v in value)
    return value


def _hashable(value: Any) -> bool:
    try:
        hash(value)
    except TypeError:
        return False
    return True
