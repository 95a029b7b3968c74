"""Turn a list of dataset rows into the tokenised batch a loss consumes.

``SentenceTransformerDataCollator`` is what the trainer's data loader calls on every batch. For
each text column ``c`` of the rows it calls the model's tokenisation function once and stores the
result as ``c_input_ids``, ``c_attention_mask``, ...; the first label column found (``label``,
``labels``, ``score`` or ``scores``) becomes the tensor ``label``. Column order is kept: losses read
the columns positionally (anchor, positive, negative...).

Prompts and Router routes are applied here, per column and optionally per dataset (rows of a
multi-dataset run carry a ``dataset_name`` value that the trainer adds lazily).

Example::

    collator = SentenceTransformerDataCollator(tokenize_fn=model.tokenize, prompts={"query": "query: "})
    batch = collator([{"query": "what is x", "answer": "x is y", "label": 1.0}])
    sorted(batch)  # ['answer_attention_mask', 'answer_input_ids', ..., 'label', 'query_input_ids', ...]
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Callable
from typing import Any

from sentrix.errors import InvalidInputError

logger = logging.getLogger(__name__)

DEFAULT_LABEL_COLUMNS: tuple[str, ...] = ("label", "labels", "score", "scores")

# Column names that are usually meant in a given position; a different position is most likely a mistake.
_EXPECTED_POSITION = {
    "anchor": (0, ("anchor", "positive", "negative")),
    "positive": (1, ("anchor", "positive", "negative")),
    "negative": (2, ("anchor", "positive", "negative")),
    "question": (0, ("question", "answer")),
    "answer": (1, ("question", "answer")),
    "query": (0, ("query", "response")),
    "response": (1, ("query", "response")),
}


def _accepts(fn: Callable, name: str) -> bool:
    try:
        params = inspect.signature(fn).parameters
    except (TypeError, ValueError):
        return True
    return name in params or any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())


class SentenceTransformerDataCollator:
    """Tokenise every text column of a batch of rows.

    :param tokenize_fn: ``fn(texts, prompt=None, task=None) -> dict[str, Tensor]``, usually
        ``model.preprocess`` or ``model.tokenize``. When it takes no ``prompt`` argument the prompt
        is put in front of each text; when it takes no ``task`` argument routes are not passed.
    :param valid_label_columns: names tried, in order, for the label column.
    :param router_mapping: column -> route, or dataset name -> {column -> route}.
    :param prompts: one prompt, column -> prompt, dataset -> prompt, or dataset -> {column -> prompt}.
    :param max_length: truncation length passed to ``tokenize_fn`` (an int, or route -> int).
    :param preprocess_fn: the sentence-transformers spelling of ``tokenize_fn``.
    """

    def __init__(
        self,
        tokenize_fn: Callable[..., dict[str, Any]] | None = None,
        valid_label_columns: list[str] | tuple[str, ...] | None = None,
        router_mapping: dict[str, Any] | None = None,
        prompts: str | dict[str, Any] | None = None,
        max_length: int | dict[str, int] | None = None,
        *,
        preprocess_fn: Callable[..., dict[str, Any]] | None = None,
    ) -> None:
        fn = tokenize_fn if tokenize_fn is not None else preprocess_fn
        if fn is None or not callable(fn):
            raise InvalidInputError(
                "SentenceTransformerDataCollator needs `tokenize_fn`, a callable turning a list of texts into a "
                "dict of tensors, e.g. `SentenceTransformerDataCollator(tokenize_fn=model.tokenize)`."
            )
        self.tokenize_fn = fn
        self.valid_label_columns = list(valid_label_columns) if valid_label_columns is not None else list(DEFAULT_LABEL_COLUMNS)
        self.router_mapping = router_mapping or {}
        self.prompts = prompts
        self.max_length = max_length
        self._takes_prompt = _accepts(fn, "prompt")
        self._takes_task = _accepts(fn, "task")
        self._takes_max_length = _accepts(fn, "max_length")
        self._warned_columns: set[tuple[str, ...]] = set()

    @property
    def preprocess_fn(self) -> Callable[..., dict[str, Any]]:
        return self.tokenize_fn

    def __repr__(self) -> str:
        return f"{type(self).__name__}(tokenize_fn={getattr(self.tokenize_fn, '__qualname__', self.tokenize_fn)!r}, valid_label_columns={self.valid_label_columns!r})"

    # -- resolution ---------------------------------------------------------------------------------
    def _routes_for(self, dataset_name: str | None) -> dict[str, str]:
        mapping = self.router_mapping
        if not mapping or not isinstance(mapping, dict):
            return {}
        if isinstance(next(iter(mapping.values())), dict):
            return mapping.get(dataset_name, {}) if dataset_name is not None else {}
        return mapping

    def _prompts_for(self, dataset_name: str | None) -> str | dict[str, str] | None:
        prompts = self.prompts
        if not prompts or isinstance(prompts, str):
            return prompts or None
        if dataset_name is not None and dataset_name in prompts:
            return prompts[dataset_name]
        if isinstance(next(iter(prompts.values())), dict):
            if dataset_name is None:
                raise InvalidInputError(
                    "`prompts` is a nested dict (dataset name -> {column -> prompt}), but the dataset is a single "
                    "Dataset, so no dataset name is known. Pass a dict of datasets (DatasetDict) whose names are "
                    f"the keys of `prompts` ({list(prompts)!r}), or use a flat dict column -> prompt."
                )
            return None
        return prompts

    def _max_length_for(self, task: str | None) -> int | None:
        if isinstance(self.max_length, int):
            return self.max_length
        if isinstance(self.max_length, dict) and task is not None:
            return self.max_length.get(task)
        return None

    def _tokenize(self, texts: list[Any], prompt: str | None, task: str | None) -> dict[str, Any]:
        kwargs: dict[str, Any] = {}
        if prompt:
            if self._takes_prompt:
                kwargs["prompt"] = prompt
            else:
                texts = [prompt + t if isinstance(t, str) else t for t in texts]
        if task is not None and self._takes_task:
            kwargs["task"] = task
        max_length = self._max_length_for(task)
        if max_length is not None and self._takes_max_length:
            kwargs["max_length"] = max_length
        return self.tokenize_fn(texts, **kwargs)

    # -- the call -----------------------------------------------------------------------------------
    def __call__(self, features: list[dict[str, Any]]) -> dict[str, Any]:
        if not features:
            return {}
        import torch

        columns = list(features[0].keys())
        batch: dict[str, Any] = {}
        dataset_name = None
        if "dataset_name" in columns:
            columns.remove("dataset_name")
            dataset_name = features[0]["dataset_name"]
            batch["dataset_name"] = dataset_name

        for label_column in self.valid_label_columns:
            if label_column in columns:
                values = [row[label_column] for row in features]
                batch["label"] = torch.stack(values) if isinstance(values[0], torch.Tensor) else torch.tensor(values)
                columns.remove(label_column)
                break

        key = tuple(columns)
        if key not in self._warned_columns:
            self._warned_columns.add(key)
            self._warn_column_order(columns)

        routes = self._routes_for(dataset_name)
        prompts = self._prompts_for(dataset_name)
        for column in columns:
            task = routes.get(column)
            prompt = prompts if isinstance(prompts, str) else (prompts or {}).get(column)
            values = [row[column] for row in features]
            if any(value is None for value in values):
                where = f" of dataset {dataset_name!r}" if dataset_name else ""
                raise InvalidInputError(
                    f"Text column {column!r}{where} has a missing value (None) in "
                    f"{sum(value is None for value in values)} row(s) of this batch; every row needs a text in every "
                    f"input column. Fix: `dataset = dataset.filter(lambda r: r[{column!r}] is not None)`."
                )
            blank = [i for i, value in enumerate(values) if isinstance(value, str) and not value.strip()]
            if blank:
                where = f" of dataset {dataset_name!r}" if dataset_name else ""
                raise InvalidInputError(
                    f"Text column {column!r}{where} has an empty or whitespace-only text in {len(blank)} row(s) of "
                    f"this batch (e.g. {values[blank[0]]!r}); every input text must say something. Fix: "
                    f"`dataset = dataset.filter(lambda r: r[{column!r}].strip() != '')`."
                )
            tokenized = self._tokenize(values, prompt, task)
            for name, value in tokenized.items():
                batch[f"{column}_{name}"] = value
            if task is not None:
                batch[f"{column}_task"] = task
        return batch

    @staticmethod
    def _warn_column_order(columns: list[str]) -> None:
        for name, (position, suggestion) in _EXPECTED_POSITION.items():
            if name in columns and columns.index(name) != position:
                order = [c for c in suggestion if c in columns]
                logger.warning(
                    "Column %r is at position %d but usually belongs at position %d. Losses read columns by "
                    "position (the first is the anchor), not by name. Reorder with "
                    "`dataset = dataset.select_columns(%r)` if this is not intended.",
                    name, columns.index(name), position, order,
                )
                return


__all__ = ["SentenceTransformerDataCollator", "DEFAULT_LABEL_COLUMNS"]
