"""Real and padded tokens per training step, for the logs, the run header and the model card.

Every training batch runs inside :meth:`TokenStats.batch`: the trainer's ``merge_and_bucket``
argument is put in force for the loss's :func:`~sentrix.embedding.embed_columns` calls, and the
tokens those calls run are counted (a loss that calls the model itself is counted from its
feature dicts, as plain per-column forwards). At each training log the means per optimiser step
since the previous log are added as ``tokens_real``, ``tokens_padding`` and ``padding_share``
(padding over all tokens the model ran). The run totals go to the model card.
"""

from __future__ import annotations

from contextlib import ExitStack, contextmanager
from typing import Any, Iterator

from torch import Tensor

from sentrix.embedding import count_tokens, current_options, embedding_options, plain_forward_reason

LOGGED_KEYS = ("tokens_real", "tokens_padding", "padding_share")
"""The keys sentrix adds to each training log entry (sentence-transformers logs none of them)."""


def describe_forward(model: Any, merge_and_bucket: bool | None = None) -> str:
    """One line: whether the loss helper merges, packs or buckets this model's forwards, and if not, why."""
    options = current_options()
    if merge_and_bucket is not None:
        from dataclasses import replace

        options = replace(options, merge_and_bucket=merge_and_bucket)
    reason = plain_forward_reason(model, options)
    if reason is None and options.plain:
        reason = "merge=False and buckets=1 were set"
    if reason is None:
        from sentrix.embedding import can_pack_rows

        if options.pack and can_pack_rows(model):
            return (
                "embedding forwards: columns merged, rows packed into shared sequences (every model module declares "
                "rows_independent and the input module runs packed rows)"
            )
        return "embedding forwards: columns merged and length-bucketed (every model module declares rows_independent)"
    return f"embedding forwards: plain per-column, because {reason}"


class TokenStats:
    """Accumulates the tokens of training batches between logs and over the whole run."""

    def __init__(self) -> None:
        self.real = 0
        self.forward = 0
        self.total_real = 0
        self.total_forward = 0
        self.total_steps = 0
        self._logged_step = 0

    @contextmanager
    def batch(self, args: Any, features: list[dict[str, Any]], training: bool) -> Iterator[None]:
        merge_and_bucket = getattr(args, "merge_and_bucket", None)
        with ExitStack() as stack:
            if merge_and_bucket is not None:
                stack.enter_context(embedding_options(merge_and_bucket=merge_and_bucket))
            counter = stack.enter_context(count_tokens())
            yield
        if not training:
            return
        real, forward = counter.real, counter.forward
        if counter.calls == 0:  # the loss ran the model itself: plain per-column forwards
            for f in features:
                mask = f.get("attention_mask")
                if isinstance(mask, Tensor):
                    real += int(mask.sum())
                    forward += int(mask.numel())
        self.real += real
        self.forward += forward
        self.total_real += real
        self.total_forward += forward

    def log_entries(self, global_step: int) -> dict[str, float]:
        """Means per optimiser step since the previous call (empty when no batch was counted)."""
        steps = max(int(global_step) - self._logged_step, 1)
        if not self.forward:
            return {}
        entries = {
            "tokens_real": round(self.real / steps, 1),
            "tokens_padding": round((self.forward - self.real) / steps, 1),
            "padding_share": round((self.forward - self.real) / self.forward, 4),
        }
        self.total_steps = int(global_step)
        self._logged_step = int(global_step)
        self.real = self.forward = 0
        return entries

    def summary(self) -> dict[str, Any] | None:
        """Run totals for the model card: tokens per step and the padding share."""
        if not self.total_forward:
            return None
        steps = max(self.total_steps, 1)
        return {
            "real_tokens_per_step": round(self.total_real / steps, 1),
            "padding_tokens_per_step": round((self.total_forward - self.total_real) / steps, 1),
            "padding_share": round((self.total_forward - self.total_real) / self.total_forward, 4),
        }


__all__ = ["TokenStats", "describe_forward"]
