"""Checks run before training starts: nothing is written to ``output_dir`` before they pass.

* every dataset against what its loss declares it needs (:mod:`sentrix.data_needs`): number of
  text columns, label column and kind, missing texts, numeric columns that should be the label,
  non-finite labels, no rows at all;
* every text column: it must hold texts (not records, images or lists of numbers for a text-only
  model) and no text may be empty or only whitespace; a column whose name or values look like
  metadata (``id``, ``url``, ``lang``...) is still read as an input text, which a warning says once;
* every training dataset against the batch sampler's own checks: a batch sampler class may define
  ``validate_dataset(dataset, dataset_name, *, batch_size, drop_last, label_columns) -> list[str]``
  (``no_duplicates`` reports duplicates that make full batches impossible);
* every dataset against its loss's own checks: a loss may define
  ``validate_dataset(self, dataset, dataset_name, **options) -> list[str]`` returning one message
  per problem (string labels, class ids out of range, ...). ``dataset_name`` is how the messages
  should name the dataset (``"train_dataset"``, ``"train dataset 'nli'"``); the options it may
  accept are ``batch_size``, ``batch_sampler`` and ``label_columns``;
* column names the trainer reserves for itself;
* ``metric_for_best_model`` against the metric keys the run will produce;
* plugin checks (the ``sentrix_validate_run`` hook), then the ``sentrix_adjust_trainer`` hook.

Every problem found is collected and raised together as one :class:`~sentrix.errors.InvalidInputError`
that names the dataset, the columns, the loss and the fix.

The trainer's methods of the same names (``validate_run``, ``check_dataset``, ...) call these
functions; override those methods to change a check for one trainer subclass.
"""

from __future__ import annotations

import inspect
import logging
import re
import warnings
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from torch import nn

from sentrix.data_needs import DataNeeds, data_needs_of
from sentrix.errors import InvalidInputError

if TYPE_CHECKING:  # pragma: no cover
    from sentrix.trainer import SentenceTransformerTrainer

logger = logging.getLogger(__name__)

RESERVED_COLUMNS = ("return_loss", "dataset_name")
DEFAULT_LABEL_COLUMNS = ("label", "labels", "score", "scores")


# -- dataset helpers ------------------------------------------------------------------------------
def is_iterable_dataset(dataset: Any) -> bool:
    try:
        from datasets import IterableDataset
    except ImportError:  # pragma: no cover
        return False
    return isinstance(dataset, IterableDataset)


def column_names(dataset: Any) -> list[str]:
    """The dataset's columns, without the ``dataset_name`` column the trainer may add."""
    names = getattr(dataset, "column_names", None)
    if names is None and getattr(dataset, "features", None) is not None:
        names = list(dataset.features)
    return [c for c in (names or []) if c != "dataset_name"]


def missing_value_rows(dataset: Any, column: str) -> list[int]:
    """Rows whose ``column`` is None; reads Arrow's null count first, so a clean column costs nothing."""
    try:
        table_column = dataset.data.column(column)
    except Exception:  # not an Arrow-backed dataset
        return []
    if table_column.null_count == 0:
        return []
    return [i for i, value in enumerate(dataset[column]) if value is None]


def non_finite_rows(dataset: Any, column: str) -> list[int]:
    """Rows whose (float) ``column`` holds NaN or inf."""
    try:
        import numpy as np

        values = dataset.with_format("numpy", columns=[column])[column]
        values = np.asarray(values)
        if values.dtype.kind not in "fc":
            return []
        flat = values.reshape(len(values), -1)
        return [int(i) for i in np.nonzero(~np.isfinite(flat).all(axis=1))[0]]
    except Exception:  # exotic column: leave it to the per-batch check
        return []


def arrow_column(dataset: Any, column: str) -> Any:
    """``column`` of a map-style dataset as a pyarrow array in row order (selections applied), or None."""
    if is_iterable_dataset(dataset) or not hasattr(dataset, "with_format"):
        return None
    try:
        return dataset.with_format("arrow")[column]
    except Exception:  # noqa: BLE001 - not an Arrow-backed dataset: nothing to read cheaply
        return None


def blank_text_rows(dataset: Any, column: str) -> list[int]:
    """Rows whose (string) ``column`` is empty or only whitespace; computed in Arrow, not row by row."""
    values = arrow_column(dataset, column)
    if values is None:
        return []
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    if not (pa.types.is_string(values.type) or pa.types.is_large_string(values.type)):
        return []
    blank = pc.fill_null(pc.equal(pc.utf8_length(pc.utf8_trim_whitespace(values)), 0), False)
    if not pc.any(blank).as_py():
        return []
    return [int(i) for i in np.flatnonzero(blank.to_numpy(zero_copy_only=False))]


def feature_kind(feature: Any) -> str:
    """``"text"``, ``"texts"`` (a list of texts per row: a text pair), ``"number"``, or what else a column holds."""
    dtype = getattr(feature, "dtype", None)
    if type(feature).__name__ == "Value" and isinstance(dtype, str):
        if dtype in ("string", "large_string"):
            return "text"
        if dtype.startswith(("float", "int", "uint", "bool")):
            return "number"
        return f"{dtype} values"
    inner = getattr(feature, "feature", None)
    if inner is not None and type(feature).__name__ in ("List", "Sequence", "LargeList"):
        kind = feature_kind(inner)
        return "texts" if kind == "text" else f"lists of {'numbers' if kind == 'number' else kind}"
    if isinstance(feature, dict):
        return f"records with fields {sorted(feature)}"
    if type(feature).__name__ == "ClassLabel":
        return "number"
    return f"{type(feature).__name__} values"


#: column names that usually hold metadata rather than a text to embed
_METADATA_NAME = re.compile(
    r"^(id|ids|idx|index|key|uuid|guid|url|uri|link|href|source|src|lang|language|locale|split|category|"
    r"domain|tag|tags|meta|metadata|date|time|timestamp|created_at|updated_at|hash|md5|sha1|sha256)$"
    r"|(_id|_ids|_idx|_index|_key|_uuid|_url|_uri|_lang|_language|_date|_hash)$|^(id_|idx_)",
    re.IGNORECASE,
)
_IDENTIFIER_VALUE = re.compile(r"^(?=\S*\d)[\w.:/#@+-]+$|^https?://\S+$")


def metadata_reason(dataset: Any, column: str, sample_rows: int = 200, by_values: bool = True) -> str | None:
    """Why ``column`` looks like metadata (its name or, with ``by_values``, its values being identifiers or a
    few labels), else None."""
    if _METADATA_NAME.search(column):
        return "its name suggests metadata"
    if not by_values:
        return None
    values = arrow_column(dataset, column)
    if values is None:
        return None
    sample = [v for v in values.slice(0, sample_rows).to_pylist() if isinstance(v, str) and v.strip()]
    if len(sample) < 4:
        return None
    if all(_IDENTIFIER_VALUE.match(v) for v in sample):
        return f"its values look like identifiers or links (e.g. {sample[0][:40]!r})"
    distinct = sorted(set(sample))
    if len(sample) >= 20 and len(distinct) <= 3:
        return f"it holds only {len(distinct)} distinct value(s) ({', '.join(repr(v[:20]) for v in distinct)}) in its first {len(sample)} rows"
    return None


def role_of(needs: DataNeeds | None, position: int) -> str:
    """The role a loss gives its ``position``-th text column (``"negative 2"`` for a repeating role)."""
    roles = list(needs.roles) if needs is not None else []
    if position < len(roles) and not roles[position].endswith("..."):
        return roles[position]
    if roles and roles[-1].endswith("..."):
        base = roles[-1][:-3]
        return f"{base} {position - len(roles) + 2}"
    return f"input text {position + 1}"


def iter_datasets(train_dataset: Any, eval_dataset: Any) -> Iterator[tuple[str, str | None, Any]]:
    """(split, dataset name or None, dataset) for every dataset of the run."""
    for split, dataset in (("train", train_dataset), ("eval", eval_dataset)):
        if dataset is None or isinstance(dataset, str):
            continue
        if isinstance(dataset, dict):
            for name, member in dataset.items():
                yield split, name, member
        else:
            yield split, None, dataset


# -- the checks -----------------------------------------------------------------------------------
def validate_run(
    trainer: SentenceTransformerTrainer, train_dataset: Any = None, eval_dataset: Any = None, data_collator: Any = None
) -> None:
    """Check every dataset against its loss's data needs, and ``metric_for_best_model``; raise listing every problem."""
    args = trainer.args
    collator = data_collator if data_collator is not None else getattr(trainer, "data_collator", None)
    label_names = list(getattr(collator, "valid_label_columns", None) or DEFAULT_LABEL_COLUMNS)
    problems: list[str] = []
    in_batch_negatives = []
    for split, name, dataset in iter_datasets(train_dataset, eval_dataset):
        loss = trainer._loss_for(name) if isinstance(trainer.loss, dict) else trainer.loss
        problems.extend(trainer.check_dataset(dataset, loss, split, name, label_names))
        batch_size = args.per_device_train_batch_size if split == "train" else args.per_device_eval_batch_size
        problems.extend(
            loss_dataset_problems(
                loss, dataset, split, name, label_columns=label_names, batch_size=batch_size,
                batch_sampler=args.batch_sampler,
            )
        )
        if split == "train" and args.dataloader_drop_last and not is_iterable_dataset(dataset) and hasattr(dataset, "__len__") \
                and 0 < len(dataset) < batch_size:
            problems.append(
                f"{dataset_label(split, name)} has {len(dataset)} rows, fewer than per_device_train_batch_size="
                f"{batch_size}, and dataloader_drop_last=True drops every incomplete batch, so it would never be "
                f"trained on. Fix: set per_device_train_batch_size to {len(dataset)} or less, or "
                "dataloader_drop_last=False."
            )
        if split == "train":
            problems.extend(
                sampler_dataset_problems(
                    trainer, dataset, split, name, batch_size=batch_size, drop_last=args.dataloader_drop_last,
                    label_columns=label_names,
                )
            )
        for message in column_warnings(dataset, loss, split, name, label_names):
            warn_once(trainer, message)
        needs = data_needs_of(loss)
        if needs is not None and needs.in_batch_negatives and split == "train":
            in_batch_negatives.append(type(loss).__name__)
            text_count = len([c for c in column_names(dataset) if c not in label_names])
            gathers = bool(getattr(loss, "gather_across_devices", False)) and getattr(args, "world_size", 1) > 1
            ranks_pairs = tuple(needs.roles[:2]) == ("anchor", "positive")  # not the batch-statistics regularisers
            if batch_size == 1 and text_count == 2 and ranks_pairs and not gathers:
                problems.append(
                    f"{dataset_label(split, name)}: per_device_train_batch_size=1 with the in-batch-negatives loss "
                    f"{type(loss).__name__} and only (anchor, positive) columns: each anchor's only candidate is its "
                    "own positive, so the loss is always 0 and nothing is learned. Fix: raise "
                    "per_device_train_batch_size (in-batch negatives improve with it), or add a hard-negative column."
                )
        sampler = getattr(args.batch_sampler, "value", args.batch_sampler)
        if needs is not None and needs.recommended_sampler and split == "train" and sampler == "batch_sampler":
            logger.info(
                "%s works best with the %r batch sampler (set batch_sampler=%r in the training arguments).",
                type(loss).__name__, needs.recommended_sampler, needs.recommended_sampler,
            )
    problems.extend(argument_problems(args))
    problems.extend(prompt_problems(getattr(args, "prompts", None), train_dataset, eval_dataset, label_names))
    problems.extend(trainer.check_metric_for_best_model(eval_dataset))
    from sentrix.evaluator_base import evaluator_input_problems  # evaluators' own data checks (evaluation round)

    problems.extend(evaluator_input_problems(getattr(trainer, "evaluator", None)))
    if problems:
        raise InvalidInputError("The training run was stopped before it started:\n- " + "\n- ".join(problems))
    if in_batch_negatives and args.gradient_accumulation_steps > 1:
        message = (
            f"gradient_accumulation_steps={args.gradient_accumulation_steps} with the in-batch-negatives "
            f"loss {sorted(set(in_batch_negatives))[0]}: accumulation adds no negatives, each micro-batch of "
            f"{args.per_device_train_batch_size} only sees its own rows. For more negatives raise "
            "per_device_train_batch_size, or use a Cached* loss (e.g. CachedMultipleNegativesRankingLoss)."
        )
        warnings.warn(message, UserWarning, stacklevel=4)
        logger.warning(message)


def check_trainable_backend(model: Any) -> None:
    """Refuse a model loaded with an inference backend (ONNX, OpenVINO): it has no gradients to train."""
    backend = getattr(model, "get_backend", lambda: "torch")()
    if backend != "torch":
        raise InvalidInputError(
            f"The model was loaded with backend={backend!r}, an inference runtime without gradients, so it cannot "
            "be trained. Fix: load it with the default backend='torch' to train, then save it and export it "
            "(backend=..., or the export_* functions) for inference."
        )


def _stream_is_empty(dataset: Any) -> bool:
    """Whether a streamed dataset yields no row at all. Reads up to its first row (and fills a shuffle
    buffer, if it has one): the only way to know before training that the stream is not empty."""
    try:
        next(iter(dataset))
    except StopIteration:
        return True
    except Exception:  # a stream that fails to read fails in training, with its own error
        return False
    return False


def check_dataset(dataset: Any, loss: nn.Module, split: str, name: str | None, label_names: list[str]) -> list[str]:
    """Problems of one dataset for its loss (an empty list when it fits)."""
    problems: list[str] = []
    label_name = dataset_label(split, name)
    columns = column_names(dataset)
    label_column = next((c for c in label_names if c in columns), None)
    text_columns = [c for c in columns if c != label_column]
    loss_name = type(loss).__name__
    features = getattr(dataset, "features", None) or {}

    # A numeric column that is not the label column is almost always a mis-named label.
    for column in text_columns:
        dtype = str(getattr(features.get(column), "dtype", ""))
        if dtype.startswith(("float", "int", "uint", "bool")):
            problems.append(
                f"{label_name}: column {column!r} holds numbers ({dtype}) but only texts can be input columns, "
                f"and the label column must be named one of {label_names}. If it is the label, rename it: "
                f"`dataset = dataset.rename_column({column!r}, 'label')`; otherwise remove it with "
                f"`dataset.remove_columns({column!r})`."
            )
    if not is_iterable_dataset(dataset):
        for column in text_columns:
            missing = missing_value_rows(dataset, column)
            if missing:
                problems.append(
                    f"{label_name}: text column {column!r} has {len(missing)} missing value(s) (None) at rows "
                    f"{missing[:10]}{' ...' if len(missing) > 10 else ''}; every row needs a text in every input "
                    f"column. Fix: drop them, e.g. `dataset = dataset.filter(lambda r: r[{column!r}] is not None)`, "
                    "or fill them in."
                )
    text_only = _text_only_model(loss)
    for column in text_columns:
        kind = feature_kind(features[column]) if column in features else "text"
        if kind in ("text", "texts", "number", "null values") or not text_only:
            continue
        problems.append(
            f"{label_name}: column {column!r} holds {kind}, but every column other than the label is read as an "
            f"input text and the model takes only texts (str per row, or a list of texts for a text pair). Fix: "
            f"remove it (`dataset = dataset.remove_columns({column!r})`) if it is not an input, or turn it into "
            "text with `dataset.map`."
        )
    if not is_iterable_dataset(dataset):
        for column in text_columns:
            blank = blank_text_rows(dataset, column)
            if blank:
                problems.append(
                    f"{label_name}: text column {column!r} has {len(blank)} empty or whitespace-only text(s) at rows "
                    f"{blank[:10]}{' ...' if len(blank) > 10 else ''}; an empty text embeds to the same vector "
                    "whatever it stood for, so the loss learns nothing true from those rows. Fix: drop them, e.g. "
                    f"`dataset = dataset.filter(lambda r: r[{column!r}].strip() != '')`, or fill them in."
                )
    if is_iterable_dataset(dataset) and split == "train" and _stream_is_empty(dataset):
        problems.append(
            f"{label_name} is a streamed dataset that yields no rows, so there is nothing to train on. Fix: check "
            "the files, filter or split that produced it" + (", or leave it out of the dict of datasets." if name else ".")
        )
    if not is_iterable_dataset(dataset) and hasattr(dataset, "__len__") and len(dataset) == 0:
        problems.append(
            f"{label_name} has no rows (columns {columns}), so there is nothing to "
            f"{'train' if split == 'train' else 'evaluate'} on. Fix: check the filtering or split that produced it"
            + (", or leave it out of the dict of datasets." if name else ".")
        )
    if problems:
        return problems

    needs: DataNeeds | None = data_needs_of(loss)
    if needs is not None:
        if not needs.accepts_column_count(len(text_columns)):
            problems.append(
                f"{label_name} has {len(text_columns)} text column(s) {text_columns}"
                + (f" and label column {label_column!r}" if label_column else "")
                + f", but the loss {loss_name} needs {needs.describe_columns()}. Fix: keep the columns it "
                f"reads, in order, e.g. `dataset.select_columns([...])`, or choose a loss that takes "
                f"{len(text_columns)} text column(s) (`sentrix plugins list --kind losses`)."
            )
        if needs.label == "none" and label_column is not None:
            problems.append(
                f"{label_name} has a label column {label_column!r}, but the loss {loss_name} takes no label "
                f"({needs.describe()}) Fix: `dataset = dataset.remove_columns({label_column!r})`, or use a loss "
                "that learns from labels (e.g. cosent for float scores, softmax for classes)."
            )
        elif needs.label in ("float", "int") and label_column is None:
            problems.append(
                f"{label_name} (columns {columns}) has no label column, but the loss {loss_name} needs "
                f"{'a float score' if needs.label == 'float' else 'an integer class'} per row. Fix: name the "
                f"label column one of {label_names} (`dataset.rename_column('<your column>', 'label')`), or "
                "use a loss without labels such as multiple_negatives_ranking."
            )
        elif needs.label == "float" and label_column is not None and label_column in features and feature_kind(
            features[label_column]
        ) in ("text", "texts"):
            problems.append(
                f"{label_name}: label column {label_column!r} holds strings, but the loss {loss_name} needs a float "
                f"score per row. Fix: convert them, e.g. `dataset = dataset.map(lambda r: {{{label_column!r}: "
                f"float(r[{label_column!r}])}})` for numbers stored as text, or choose a loss for your labels."
            )
        elif needs.label == "int" and label_column is not None:
            dtype = str(getattr(features.get(label_column), "dtype", ""))
            if dtype.startswith("float"):
                problems.append(
                    f"{label_name}: label column {label_column!r} holds floats ({dtype}) but the loss {loss_name} "
                    f"needs integer class ids. Fix: `dataset = dataset.cast_column({label_column!r}, "
                    "Value('int64'))` if they are whole numbers, or use a loss for float scores such as cosent."
                )
    if label_column is not None and not is_iterable_dataset(dataset):
        bad_rows = non_finite_rows(dataset, label_column)
        if bad_rows:
            shown = bad_rows[:10]
            problems.append(
                f"{label_name}: label column {label_column!r} has {len(bad_rows)} non-finite value(s) (NaN or "
                f"inf) at rows {shown}{' ...' if len(bad_rows) > 10 else ''}. Training on them would make the "
                f"loss NaN. Fix: drop or repair them, e.g. `dataset.filter(lambda r: math.isfinite(r[{label_column!r}]))`."
            )
    return problems


def _text_only_model(loss: Any) -> bool:
    """Whether the loss's model takes texts only (unknown models count as multimodal: nothing is rejected)."""
    model = getattr(loss, "model", None)
    try:
        modalities = getattr(model, "modalities", None) if model is not None else None
    except Exception:  # noqa: BLE001 - a model that cannot say is not judged
        return False
    return isinstance(modalities, (list, tuple)) and list(modalities) == ["text"]


def column_warnings(dataset: Any, loss: nn.Module, split: str, name: str | None, label_names: list[str]) -> list[str]:
    """Warnings (not errors) about one dataset: text columns whose name or values suggest metadata.

    Every column other than the label is an input text (as in sentence-transformers), so a column
    such as ``id`` becomes an extra input; for a loss that takes any number of columns (e.g.
    MultipleNegativesRankingLoss) it silently becomes an extra negative.
    """
    columns = column_names(dataset)
    label_column = next((c for c in label_names if c in columns), None)
    text_columns = [c for c in columns if c != label_column]
    needs = data_needs_of(loss)
    found: list[str] = []
    # Values are judged only in the columns a variable-column loss takes beyond its minimum: short
    # identifier-like texts are legitimate inputs, an identifier column silently added as a negative is not.
    variable = needs is not None and needs.max_columns != needs.min_columns
    for position, column in enumerate(text_columns):
        extra = variable and needs is not None and position >= needs.min_columns
        reason = metadata_reason(dataset, column, by_values=extra)
        if reason is None:
            continue
        found.append(
            f"{dataset_label(split, name)}: column {column!r} will be read as input text {position + 1} (the "
            f"{role_of(needs, position)!r} of {type(loss).__name__}), but {reason}. Every column other than the "
            f"label is an input. If it is not one, remove it: `dataset = dataset.remove_columns({column!r})`."
        )
    return found


def dataset_label(split: str, name: str | None) -> str:
    """How messages name a dataset: ``train_dataset``, or ``train dataset 'nli'`` in a dict of datasets."""
    return f"{split} dataset {name!r}" if name else f"{split}_dataset"


def loss_dataset_problems(loss: nn.Module, dataset: Any, split: str, name: str | None, **options: Any) -> list[str]:
    """The messages of the loss's optional ``validate_dataset(dataset, dataset_name, **options)``, each naming the dataset.

    Only the options its signature accepts are passed (all of them when it takes ``**kwargs``).
    """
    method = getattr(loss, "validate_dataset", None)
    if not callable(method):
        return []
    label = dataset_label(split, name)
    try:
        parameters = inspect.signature(method).parameters
    except (TypeError, ValueError):  # pragma: no cover - builtins without a signature
        parameters = {}
    if not any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values()):
        options = {key: value for key, value in options.items() if key in parameters}
    found = method(dataset, label, **options)
    if found is None:
        return []
    if isinstance(found, str) or not all(isinstance(m, str) for m in found):
        raise TypeError(
            f"{type(loss).__name__}.validate_dataset must return a list of problem messages (str); got {found!r}."
        )
    return [m if label in m else f"{label}: {m}" for m in found]


def _strategy(value: Any) -> str:
    return str(getattr(value, "value", value))


def argument_problems(args: Any) -> list[str]:
    """Training arguments that would crash mid-run or silently train nothing, each with the fix."""
    import math

    problems: list[str] = []
    lr = getattr(args, "learning_rate", None)
    if isinstance(lr, (int, float)) and (not math.isfinite(lr) or lr < 0):
        problems.append(
            f"learning_rate={lr!r}: a learning rate must be a finite number of 0 or more. Fix: set learning_rate "
            "to e.g. 2e-5."
        )
    accumulation = getattr(args, "gradient_accumulation_steps", 1)
    if isinstance(accumulation, int) and accumulation < 1:
        problems.append(
            f"gradient_accumulation_steps={accumulation}: it must be 1 or more (1 = no accumulation). Fix: set "
            "gradient_accumulation_steps=1."
        )
    for strategy_arg, steps_arg in (("save_strategy", "save_steps"), ("eval_strategy", "eval_steps"),
                                    ("logging_strategy", "logging_steps")):
        steps = getattr(args, steps_arg, None)
        if _strategy(getattr(args, strategy_arg, "no")) == "steps" and isinstance(steps, (int, float)) and steps <= 0:
            problems.append(
                f"{steps_arg}={steps!r} with {strategy_arg}='steps': it must be a positive number of steps (or a "
                f"ratio of the run below 1). Fix: set {steps_arg} to e.g. 500, or {strategy_arg}='no'."
            )
    max_steps = getattr(args, "max_steps", -1)
    epochs = getattr(args, "num_train_epochs", 3)
    if isinstance(max_steps, int) and max_steps <= 0 and isinstance(epochs, (int, float)) and epochs <= 0:
        problems.append(
            f"num_train_epochs={epochs!r} and max_steps={max_steps}: the run would train 0 steps. Fix: set "
            "num_train_epochs to 1 or more, or max_steps to the number of steps to train."
        )
    problems.extend(output_dir_problems(getattr(args, "output_dir", None)))
    return problems


def output_dir_problems(output_dir: Any) -> list[str]:
    """``output_dir`` is a file, or lies under one: it could never hold checkpoints."""
    import os

    if not output_dir:
        return []
    path = os.path.abspath(os.fspath(output_dir))
    if os.path.exists(path) and not os.path.isdir(path):
        return [
            f"output_dir={os.fspath(output_dir)!r} is a file, not a folder, so the run could not save checkpoints "
            "or the model there. Fix: choose another output_dir (the file is left as it is)."
        ]
    parent = os.path.dirname(path)
    while parent and not os.path.exists(parent) and os.path.dirname(parent) != parent:
        parent = os.path.dirname(parent)
    if parent and os.path.exists(parent) and not os.path.isdir(parent):
        return [
            f"output_dir={os.fspath(output_dir)!r} lies under {parent!r}, which is a file, so the folder cannot be "
            "created. Fix: choose an output_dir whose parents are folders."
        ]
    return []


def prompt_problems(prompts: Any, train_dataset: Any, eval_dataset: Any, label_names: list[str]) -> list[str]:
    """``prompts`` keys that name no dataset and no text column: they would silently apply to nothing."""
    if not isinstance(prompts, dict) or not prompts:
        return []
    datasets_by_name: dict[str, list[str]] = {}
    all_columns: set[str] = set()
    for _split, name, dataset in iter_datasets(train_dataset, eval_dataset):
        columns = [c for c in column_names(dataset) if c not in label_names]
        all_columns.update(columns)
        if name is not None:
            datasets_by_name.setdefault(name, []).extend(c for c in columns if c not in datasets_by_name.get(name, []))
    problems: list[str] = []
    nested = any(isinstance(v, dict) for v in prompts.values())
    for key, value in prompts.items():
        if nested and isinstance(value, dict):
            if key not in datasets_by_name:
                problems.append(
                    f"prompts[{key!r}] names a dataset, but the datasets are {sorted(datasets_by_name) or 'a single unnamed dataset'}. "
                    "Fix: key the prompts by those dataset names."
                )
                continue
            unknown = sorted(set(value) - set(datasets_by_name[key]))
            if unknown:
                problems.append(
                    f"prompts[{key!r}] names column(s) {unknown} that dataset {key!r} does not have as text columns "
                    f"({datasets_by_name[key]}), so those prompts would apply to nothing. Fix: use its column names."
                )
        elif key not in all_columns and key not in datasets_by_name:
            known = sorted(all_columns) + sorted(datasets_by_name)
            problems.append(
                f"prompts key {key!r} is neither a text column nor a dataset name of this run ({known}), so its "
                "prompt would apply to nothing. Fix: key prompts by column (e.g. {'anchor': 'query: '}) or by "
                "dataset name, or pass a single string to prompt every column."
            )
    return problems


def warn_once(owner: Any, message: str) -> None:
    """Warn (``UserWarning`` and the log) unless ``owner`` was already warned with this message."""
    seen = owner.__dict__.setdefault("_sentrix_input_warnings", set()) if hasattr(owner, "__dict__") else set()
    if message in seen:
        return
    seen.add(message)
    warnings.warn(message, UserWarning, stacklevel=5)
    logger.warning(message)


def batch_sampler_class(trainer: Any) -> Any:
    """The batch sampler ``args.batch_sampler`` names (class or factory), or None when it cannot be resolved."""
    spec = trainer.args.batch_sampler
    try:
        resolve = getattr(trainer, "_sampler_spec", None)
        return resolve(spec, "batch_samplers") if resolve is not None else spec
    except Exception:  # noqa: BLE001 - an unknown name is reported where the arguments are built
        return None


def sampler_dataset_problems(trainer: Any, dataset: Any, split: str, name: str | None, **options: Any) -> list[str]:
    """The messages of the batch sampler's optional ``validate_dataset(dataset, dataset_name, **options)``.

    Only for map-style datasets (an iterable dataset is read in order, without a batch sampler);
    options are ``batch_size``, ``drop_last`` and ``label_columns``, passed as the signature allows.
    """
    if is_iterable_dataset(dataset):
        return []
    sampler = batch_sampler_class(trainer)
    method = getattr(sampler, "validate_dataset", None)
    if not callable(method):
        return []
    label = dataset_label(split, name)
    try:
        parameters = inspect.signature(method).parameters
    except (TypeError, ValueError):  # pragma: no cover
        parameters = {}
    if not any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values()):
        options = {key: value for key, value in options.items() if key in parameters}
    found = method(dataset, label, **options)
    if found is None:
        return []
    if isinstance(found, str) or not all(isinstance(m, str) for m in found):
        raise TypeError(
            f"{getattr(sampler, '__name__', sampler)}.validate_dataset must return a list of problem messages (str); "
            f"got {found!r}."
        )
    return [m if label in m else f"{label}: {m}" for m in found]


def expected_metric_keys(evaluator: Any, eval_dataset: Any) -> tuple[set[str], list[str]]:
    """(metric keys the run will report, name prefixes of evaluators whose full key set is unknown)."""
    keys: set[str] = set()
    open_prefixes: list[str] = []
    if eval_dataset is not None and not isinstance(eval_dataset, str):
        if isinstance(eval_dataset, dict):
            keys.update(f"eval_{name}_loss" for name in eval_dataset)
        else:
            keys.add("eval_loss")
    if evaluator is not None:
        members = list(getattr(evaluator, "evaluators", None) or [evaluator])
        for member in members:
            name = getattr(member, "name", "") or ""
            listed = None
            for attr in ("metric_keys", "metric_names"):
                value = getattr(member, attr, None)
                if value is not None:
                    listed = list(value() if callable(value) else value)
                    break
            if listed:
                keys.update(k if k.startswith("eval_") else f"eval_{k}" for k in listed)
            else:
                open_prefixes.append(f"eval_{name}_" if name else "eval_")
            primary = getattr(member, "primary_metric", None)
            if primary:
                full = primary if not name or primary.startswith(name + "_") else f"{name}_{primary}"
                keys.add(f"eval_{full}")
        if len(members) > 1 or getattr(evaluator, "evaluators", None) is not None:
            primary = getattr(evaluator, "primary_metric", None)
            if primary:
                keys.add(f"eval_{primary}")
    return keys, open_prefixes


def check_metric_for_best_model(metric: str | None, keys: set[str], open_prefixes: list[str]) -> list[str]:
    """A problem when ``metric`` (``args.metric_for_best_model``) is none of the run's metric keys."""
    if not metric:
        return []
    full = metric if metric.startswith("eval_") else f"eval_{metric}"
    if full in keys or any(full.startswith(p) for p in open_prefixes if p != "eval_"):
        return []
    if "eval_" in open_prefixes:  # an unnamed evaluator: any key may appear
        return []
    shown = sorted(k[5:] for k in keys) + [f"{p[5:]}<metric> (any metric of evaluator {p[5:-1]!r})" for p in open_prefixes]
    listing = ", ".join(shown) or "none (no eval_dataset and no evaluator)"
    return [
        f"metric_for_best_model={metric!r} is not a metric this run produces. The metrics will be: {listing}. "
        "Fix: set metric_for_best_model to one of them (with or without the 'eval_' prefix), or add the "
        "evaluator/eval_dataset that produces it."
    ]


def validate_column_names(dataset: Any, dataset_name: str | None = None, split: str = "train") -> None:
    """Raise when a dataset uses a column name the trainer reserves (``return_loss``, ``dataset_name``)."""
    if dataset is None:
        return
    if isinstance(dataset, dict):
        for name, member in dataset.items():
            validate_column_names(member, dataset_name=name, split=split)
        return
    overlap = sorted(set(getattr(dataset, "column_names", None) or []) & set(RESERVED_COLUMNS))
    if overlap and not getattr(dataset, "_sentrix_preprocessed", False):
        where = f"{split} dataset {dataset_name!r}" if dataset_name else f"{split}_dataset"
        raise InvalidInputError(
            f"{where} has column(s) {overlap}, names the trainer reserves for itself. Rename them, e.g. "
            f"`dataset = dataset.rename_column({overlap[0]!r}, '{overlap[0]}_')`."
        )


def run_plugin_checks(trainer: SentenceTransformerTrainer) -> None:
    """Run the plugins' ``sentrix_validate_run`` checks (raise listing every problem), then ``sentrix_adjust_trainer``."""
    from sentrix.hooks import get_plugin_manager

    hook = get_plugin_manager().hook
    problems: list[str] = []
    for result in hook.sentrix_validate_run(trainer=trainer):
        problems.extend(result or [])
    if problems:
        raise InvalidInputError("The training run was stopped before it started by a plugin check:\n- " + "\n- ".join(problems))
    hook.sentrix_adjust_trainer(trainer=trainer)


__all__ = [
    "DEFAULT_LABEL_COLUMNS",
    "RESERVED_COLUMNS",
    "argument_problems",
    "check_trainable_backend",
    "arrow_column",
    "blank_text_rows",
    "check_dataset",
    "check_metric_for_best_model",
    "column_warnings",
    "feature_kind",
    "metadata_reason",
    "sampler_dataset_problems",
    "dataset_label",
    "loss_dataset_problems",
    "column_names",
    "expected_metric_keys",
    "is_iterable_dataset",
    "iter_datasets",
    "missing_value_rows",
    "non_finite_rows",
    "output_dir_problems",
    "prompt_problems",
    "run_plugin_checks",
    "validate_column_names",
    "validate_run",
]
