"""Training arguments: ``transformers.TrainingArguments`` plus what embedding training needs.

``SentenceTransformerTrainingArguments`` accepts every ``transformers.TrainingArguments`` field
and adds:

``prompts``
    text put in front of every input, in four forms: one string for every column; a dict
    column -> prompt; a dict dataset name -> prompt; a dict dataset name -> {column -> prompt}.
``batch_sampler``
    how rows are grouped into batches: a :class:`BatchSamplers` member, any registered batch
    sampler name (``sentrix plugins list --kind batch_samplers``), a sampler class, or a callable
    ``(dataset, batch_size, drop_last, valid_label_columns, generator, seed) -> sampler``.
``multi_dataset_batch_sampler``
    how batches of several datasets are interleaved: the same four forms, with
    :class:`MultiDatasetBatchSamplers` and the ``multi_dataset_batch_samplers`` registry.
``router_mapping``
    which Router route each column takes: ``{"question": "query", "answer": "document"}``,
    per dataset ``{"nli": {...}, "qa": {...}}``, or a registered router-mapping name such as
    ``"query_document"``.
``learning_rate_mapping``
    regular expression on parameter names -> learning rate, e.g. ``{r"\\.pooler\\.": 1e-3}``.
``overwrite_output_dir``
    ``False`` (default): a new run stops, before writing, when ``output_dir`` holds another run's
    checkpoints, and a save never replaces a file in ``output_dir`` that no earlier save wrote (the
    model card then goes to ``README.sentrix.md`` beside the user's README.md). ``True`` allows both.

Dict fields also accept JSON strings, so they can be given on the command line through
``transformers.HfArgumentParser``. Hub tokens are never written out: ``to_dict`` and
``to_json_string`` mask them, and :meth:`without_secrets` gives the copy that is saved with
checkpoints.

Example::

    from sentrix import SentenceTransformerTrainingArguments, BatchSamplers

    args = SentenceTransformerTrainingArguments(
        output_dir="out",
        per_device_train_batch_size=32,
        batch_sampler=BatchSamplers.NO_DUPLICATES,
        prompts={"query": "query: ", "answer": "passage: "},
    )
"""

from __future__ import annotations

import copy
import json
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from typing import Any, Union

from transformers import TrainingArguments
from transformers.utils import ExplicitEnum

from sentrix.errors import InvalidInputError

logger = logging.getLogger(__name__)


class BatchSamplers(ExplicitEnum):
    """The built-in batch samplers; each value is the sampler's registered name.

    - ``BATCH_SAMPLER``: shuffled batches, nothing else.
    - ``NO_DUPLICATES``: no text appears twice in a batch (across all text columns); use it with
      in-batch-negatives losses such as MultipleNegativesRankingLoss.
    - ``NO_DUPLICATES_HASHED``: the same, comparing pre-computed hashes (faster, a little memory).
    - ``GROUP_BY_LABEL``: every label in a batch appears at least twice (batch-triplet losses).

    Any other registered name (a plugin's sampler) is accepted as a plain string.
    """

    BATCH_SAMPLER = "batch_sampler"
    NO_DUPLICATES = "no_duplicates"
    NO_DUPLICATES_HASHED = "no_duplicates_hashed"
    GROUP_BY_LABEL = "group_by_label"


class MultiDatasetBatchSamplers(ExplicitEnum):
    """The built-in multi-dataset batch samplers; each value is the registered name.

    - ``ROUND_ROBIN``: one batch from each dataset in turn, until the smallest runs out.
    - ``PROPORTIONAL``: datasets sampled in proportion to their size, every batch used (default).
    """

    ROUND_ROBIN = "round_robin"
    PROPORTIONAL = "proportional"


def _is_json_dict_text(text: str) -> bool:
    return text.strip().startswith("{")


@dataclass
class SentenceTransformerTrainingArguments(TrainingArguments):
    r"""``transformers.TrainingArguments`` plus ``prompts``, ``batch_sampler``,
    ``multi_dataset_batch_sampler``, ``router_mapping``, ``learning_rate_mapping`` and ``overwrite_output_dir``.

    See the module docstring for the accepted forms of each added field.
    """

    _VALID_DICT_FIELDS = [
        *TrainingArguments._VALID_DICT_FIELDS,
        "learning_rate_mapping",
        "prompts",
        "router_mapping",
    ]

    prompts: Union[str, None, dict[str, str], dict[str, dict[str, str]]] = field(  # noqa: UP007
        default=None,
        metadata={
            "help": "Prompts put before the texts: one string; column -> prompt; dataset -> prompt; or "
            "dataset -> {column -> prompt}. JSON accepted."
        },
    )
    batch_sampler: Union[BatchSamplers, str, Callable[..., Any]] = field(  # noqa: UP007
        default=BatchSamplers.BATCH_SAMPLER,
        metadata={"help": "Batch sampler: a registered name (batch_sampler, no_duplicates, no_duplicates_hashed, "
                  "group_by_label, or a plugin's), a class or a callable."},
    )
    multi_dataset_batch_sampler: Union[MultiDatasetBatchSamplers, str, Callable[..., Any]] = field(  # noqa: UP007
        default=MultiDatasetBatchSamplers.PROPORTIONAL,
        metadata={"help": "Multi-dataset batch sampler: a registered name (proportional, round_robin, or a "
                  "plugin's), a class or a callable."},
    )
    router_mapping: Union[str, None, dict[str, str], dict[str, dict[str, str]]] = field(  # noqa: UP007
        default_factory=dict,
        metadata={"help": "Column -> Router route, dataset -> {column -> route}, or a registered router-mapping "
                  "name (e.g. query_document). JSON accepted."},
    )
    learning_rate_mapping: Union[str, None, dict[str, float]] = field(  # noqa: UP007
        default_factory=dict,
        metadata={"help": "Regular expression on parameter names -> learning rate. JSON accepted."},
    )
    overwrite_output_dir: bool = field(
        default=False,
        metadata={"help": "Let a new run replace same-numbered checkpoints of another run in output_dir, and let "
                  "saves replace files in output_dir that no earlier save wrote (a README.md of the user's, for "
                  "one). Off: the run stops before writing, and the model card goes to README.sentrix.md."},
    )
    merge_and_bucket: Union[bool, None] = field(  # noqa: UP007
        default=None,
        metadata={"help": "Merged, length-bucketed embedding forwards in the losses (sentrix.embedding): None decides "
                  "by the model modules' rows_independent declarations, False always runs plain per-column forwards, "
                  "True merges and buckets even when a module does not declare it. Overrides model.merge_and_bucket."},
    )
    # transformers 5 folded warmup_ratio into warmup_steps (a float < 1 is a ratio); scripts written for
    # sentence-transformers still pass warmup_ratio, so it is accepted and moved into warmup_steps.
    warmup_ratio: Union[float, None] = field(  # noqa: UP007
        default=None,
        metadata={"help": "Deprecated: give the warmup ratio as a float `warmup_steps` instead."},
    )

    def __post_init__(self) -> None:
        if self.warmup_ratio is not None:
            if not isinstance(self.warmup_ratio, (int, float)) or not 0 <= self.warmup_ratio <= 1:
                raise InvalidInputError(
                    f"`warmup_ratio` must be a number between 0 and 1; got {self.warmup_ratio!r}. "
                    "Better still, pass the ratio as `warmup_steps` (a float below 1 is read as a ratio)."
                )
            if self.warmup_steps == 0:
                self.warmup_steps = float(self.warmup_ratio)
                logger.warning(
                    "`warmup_ratio` is deprecated in transformers 5; moved %s into `warmup_steps`, which reads a "
                    "float below 1 as a ratio. Pass `warmup_steps=%s` to silence this warning.",
                    self.warmup_ratio,
                    self.warmup_ratio,
                )
            else:
                logger.warning(
                    "Both `warmup_ratio` (%s) and `warmup_steps` (%s) were given; `warmup_steps` wins.",
                    self.warmup_ratio,
                    self.warmup_steps,
                )
            self.warmup_ratio = None
        # Parse our JSON dict fields first, so a malformed one gets our message rather than a bare JSONDecodeError.
        for name in ("prompts", "router_mapping", "learning_rate_mapping"):
            value = getattr(self, name)
            if isinstance(value, str) and _is_json_dict_text(value):
                try:
                    setattr(self, name, json.loads(value))
                except json.JSONDecodeError as exc:
                    raise InvalidInputError(
                        f"`{name}` looks like JSON but does not parse ({exc}): {value!r}. Give a JSON object with "
                        'double-quoted keys, e.g. \'{"query": "query: "}\' for prompts, \'{"question": "query"}\' '
                        'for router_mapping or \'{"pooler": 0.001}\' for learning_rate_mapping (a dict of regular '
                        "expression -> learning rate)."
                    ) from exc
        super().__post_init__()
        self.batch_sampler = self._resolve_sampler_arg(
            "batch_sampler", self.batch_sampler, BatchSamplers, "batch_samplers"
        )
        self.multi_dataset_batch_sampler = self._resolve_sampler_arg(
            "multi_dataset_batch_sampler",
            self.multi_dataset_batch_sampler,
            MultiDatasetBatchSamplers,
            "multi_dataset_batch_samplers",
        )

        # prompts (JSON text already parsed above): a plain prompt string is used for every column.
        if self.prompts is not None and not isinstance(self.prompts, (str, dict)):
            raise InvalidInputError(
                f"`prompts` must be a string, a dict column -> prompt, a dict dataset -> prompt or a dict "
                f"dataset -> {{column -> prompt}}; got {type(self.prompts).__name__}."
            )
        if isinstance(self.prompts, dict):
            for key, value in self.prompts.items():
                inner = value.values() if isinstance(value, dict) else [value]
                if not all(isinstance(v, str) for v in inner):
                    raise InvalidInputError(
                        f"`prompts[{key!r}]` must be a prompt string or a dict column -> prompt string; got {value!r}."
                    )

        # learning_rate_mapping: dict of compiled-able regex -> float.
        if self.learning_rate_mapping is None:
            self.learning_rate_mapping = {}
        if isinstance(self.learning_rate_mapping, str):
            try:
                self.learning_rate_mapping = json.loads(self.learning_rate_mapping)
            except json.JSONDecodeError as exc:
                raise InvalidInputError(
                    "`learning_rate_mapping` must be a dict (or its JSON text) mapping a regular expression on "
                    'parameter names to a learning rate, e.g. \'{"\\\\.pooler\\\\.": 0.001}\'; '
                    f"{self.learning_rate_mapping!r} is not valid JSON ({exc})."
                ) from exc
        if not isinstance(self.learning_rate_mapping, dict):
            raise InvalidInputError(
                "`learning_rate_mapping` must be a dict mapping a regular expression on parameter names to a "
                f"learning rate; got {type(self.learning_rate_mapping).__name__}."
            )
        for pattern, lr in list(self.learning_rate_mapping.items()):
            try:
                re.compile(pattern)
            except re.error as exc:
                raise InvalidInputError(
                    f"`learning_rate_mapping` key {pattern!r} is not a valid regular expression ({exc})."
                ) from exc
            if isinstance(lr, bool) or not isinstance(lr, (int, float)) or lr < 0:
                raise InvalidInputError(
                    f"`learning_rate_mapping[{pattern!r}]` must be a non-negative number (a learning rate); got {lr!r}."
                )
            self.learning_rate_mapping[pattern] = float(lr)

        # router_mapping: dict, nested dict, JSON text, or a registered router-mapping name.
        if self.router_mapping is None:
            self.router_mapping = {}
        if isinstance(self.router_mapping, str):  # JSON text was parsed above: this is a registered name
            from sentrix.registry import router_mappings

            if self.router_mapping not in router_mappings:
                from sentrix.errors import UnknownComponentError

                raise UnknownComponentError("router_mappings", self.router_mapping, router_mappings.names(True))
        elif not isinstance(self.router_mapping, dict):
            raise InvalidInputError(
                "`router_mapping` must be a dict column -> route, a dict dataset -> {column -> route}, or a "
                f"registered router-mapping name; got {type(self.router_mapping).__name__}."
            )

        # Losses return only a loss, never logits.
        self.prediction_loss_only = True
        # BERT-like models with DDP otherwise fail on in-place buffer updates.
        self.ddp_broadcast_buffers = False
        self._force_drop_last_when_distributed()

    def _force_drop_last_when_distributed(self) -> None:
        """With several processes (DDP), an uneven last batch can leave processes waiting on each other, and
        in-batch-negatives losses gather equal-sized batches: every process drops the incomplete last batch."""
        if self.dataloader_drop_last or self.world_size <= 1:
            return
        if self.output_dir != "unused":  # "unused": the defaults instance the model card compares against
            logger.warning(
                "Training with %d processes: setting `dataloader_drop_last=True` so every process gets full batches "
                "(an uneven last batch can make the processes wait on each other). Set it yourself to silence this.",
                self.world_size,
            )
        self.dataloader_drop_last = True

    @staticmethod
    def _resolve_sampler_arg(arg: str, value: Any, enum: type, kind: str) -> Any:
        if isinstance(value, enum):
            return value
        if isinstance(value, str):
            if value in enum._value2member_map_:
                return enum(value)
            from sentrix.registry import get_registry

            registry = get_registry(kind)
            if value not in registry:
                from sentrix.errors import UnknownComponentError

                raise UnknownComponentError(kind, value, [*registry.names(True), *enum._value2member_map_])
            return value
        if callable(value):
            return value
        raise InvalidInputError(
            f"`{arg}` must be a {enum.__name__} member, a registered name, a sampler class or a callable; "
            f"got {type(value).__name__}."
        )

    # -- serialisation ----------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        data = super().to_dict()
        for key in ("batch_sampler", "multi_dataset_batch_sampler"):
            if callable(data.get(key)):
                value = data[key]
                data[key] = f"{getattr(value, '__module__', '?')}.{getattr(value, '__qualname__', type(value).__name__)}"
        for key in list(data):
            if key.endswith("_token") or key in ("hub_token", "push_to_hub_token"):
                data[key] = f"<{key.upper()}>"
        return data

    def without_secrets(self) -> "SentenceTransformerTrainingArguments":
        """A shallow copy with every ``*_token`` field emptied: the object saved as ``training_args.bin``."""
        clone = copy.copy(self)
        for f in fields(self):
            if f.name.endswith("_token") and getattr(clone, f.name, None) is not None:
                object.__setattr__(clone, f.name, None)
        return clone


__all__ = ["SentenceTransformerTrainingArguments", "BatchSamplers", "MultiDatasetBatchSamplers"]
