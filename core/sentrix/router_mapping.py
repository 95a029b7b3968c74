"""Router mappings: which Router route (``"query"``, ``"document"``...) each dataset column goes to.

A model with a ``Router`` module encodes queries and documents with different sub-modules, so
training must say which route each text column takes. ``router_mapping`` in the training
arguments accepts

- a dict ``{column: route}``, applied to every dataset: ``{"question": "query", "answer": "document"}``;
- a nested dict ``{dataset_name: {column: route}}`` for a dict of datasets;
- the registered name of a **router mapping**, a strategy that derives the dict from the
  columns, e.g. ``"query_document"`` (first text column -> ``query``, the others ->
  ``document``); or a :class:`RouterMapping` instance / class, or any callable with the same
  signature.

The contract of a router mapping::

    mapping(column_names: list[str], dataset_name: str | None) -> dict[str, str]   # column -> route

``column_names`` are the dataset's text columns in order (label columns and ``dataset_name``
removed). Register one under the ``sentrix.router_mappings`` entry-point group;
``sentrix plugins list --kind router_mappings`` lists what is installed.

:func:`resolve_router_mapping` turns any accepted value into the plain dict(s) the trainer and
collator use, and checks it against the datasets before training starts.
"""

from __future__ import annotations

import inspect
from typing import Any, Callable, Iterable, Mapping

from sentrix.errors import InvalidInputError

__all__ = ["RouterMapping", "resolve_router_mapping", "DEFAULT_LABEL_COLUMNS"]

#: Columns treated as labels (never routed) unless told otherwise; as in sentence-transformers.
DEFAULT_LABEL_COLUMNS: tuple[str, ...] = ("label", "score")
_BOOKKEEPING = ("dataset_name",)


class RouterMapping:
    """Base class of named router-mapping strategies.

    Subclasses implement :meth:`__call__`; their constructor arguments (if any) are the
    strategy's options and must all have defaults, so the strategy can be built from its name
    alone.
    """

    def __call__(self, column_names: list[str], dataset_name: str | None = None) -> dict[str, str]:
        """Map each of ``column_names`` (the text columns, in order) to a route name."""
        raise NotImplementedError

    def __repr__(self) -> str:
        params = {
            name: getattr(self, name)
            for name in inspect.signature(type(self).__init__).parameters
            if name != "self" and hasattr(self, name)
        }
        return f"{type(self).__name__}({', '.join(f'{k}={v!r}' for k, v in params.items())})"


def _text_columns(dataset: Any, label_columns: Iterable[str]) -> list[str]:
    skip = set(label_columns) | set(_BOOKKEEPING)
    return [c for c in (getattr(dataset, "column_names", None) or []) if c not in skip]


def _as_datasets(datasets: Any) -> tuple[dict[str | None, Any], bool]:
    """``({name: dataset}, is_multi)``; a single dataset is keyed ``None``."""
    if datasets is None:
        return {}, False
    if isinstance(datasets, Mapping) or (
        hasattr(datasets, "keys") and hasattr(datasets, "values") and not hasattr(datasets, "column_names")
    ) or isinstance(getattr(datasets, "column_names", None), dict):
        return {str(k): v for k, v in datasets.items()}, True
    return {None: datasets}, False


def _strategy(value: Any) -> Callable[[list[str], str | None], Mapping[str, str]] | None:
    """A callable strategy for a registered name, a class, an instance or a function; else None."""
    if isinstance(value, str):
        from sentrix.registry import router_mappings

        value = router_mappings.get(value)
    if inspect.isclass(value):
        try:
            value = value()
        except TypeError as exc:
            raise InvalidInputError(
                f"router_mapping: the router mapping class {value.__name__} cannot be built without "
                f"arguments ({exc}). Pass an instance instead, e.g. router_mapping={value.__name__}(...)."
            ) from exc
    if callable(value) and not isinstance(value, Mapping):
        return value
    return None


def _check_routes(mapping: Mapping[str, Any], where: str, routes: Iterable[str] | None) -> dict[str, str]:
    out: dict[str, str] = {}
    known = list(routes) if routes is not None else None
    for column, route in mapping.items():
        if not isinstance(column, str) or not isinstance(route, str):
            raise InvalidInputError(
                f"router_mapping{where}: expected column name -> route name strings, got "
                f"{column!r} -> {route!r}. Example: {{'question': 'query', 'answer': 'document'}}."
            )
        if known is not None and route not in known:
            raise InvalidInputError(
                f"router_mapping{where}: column {column!r} is mapped to route {route!r}, but the model's "
                f"Router has the routes {known}. Map every column to one of those routes."
            )
        out[column] = route
    return out


def _check_columns(mapping: Mapping[str, str], where: str, columns: list[str], also: str = "") -> None:
    unknown = [c for c in mapping if c not in columns]
    if unknown:
        raise InvalidInputError(
            f"router_mapping{where}: column{'s' if len(unknown) > 1 else ''} {unknown} "
            f"{'are' if len(unknown) > 1 else 'is'} not a text column of {also or 'the dataset'}, "
            f"whose text columns are {columns}. Use those column names (label columns are never routed)."
        )


def resolve_router_mapping(
    value: Any,
    datasets: Any = None,
    *,
    routes: Iterable[str] | None = None,
    label_columns: Iterable[str] = DEFAULT_LABEL_COLUMNS,
) -> dict[str, str] | dict[str, dict[str, str]]:
    """Turn a ``router_mapping`` value into the plain dict(s) the trainer needs, checking it first.

    Args:
        value: ``None``/``{}``, a dict ``{column: route}``, a nested dict
            ``{dataset_name: {column: route}}``, a registered router-mapping name, or a
            :class:`RouterMapping` instance / class / callable ``(column_names, dataset_name)``.
        datasets: the training (or evaluation) data: one ``datasets.Dataset`` or a dict /
            ``DatasetDict`` of them. ``None`` skips the column checks (a strategy then cannot be
            resolved and raises).
        routes: the routes the model's Router knows; when given, every route is checked.
        label_columns: columns that hold labels and are never routed.

    Returns:
        For a single dataset: ``{column: route}``. For a dict of datasets:
        ``{dataset_name: {column: route}}`` with an entry for every dataset (a flat dict is
        applied to each dataset, keeping the columns that dataset has).

    Raises:
        InvalidInputError: unknown column, dataset or route, a wrong shape, or a strategy that
        returned something other than a ``{column: route}`` dict.
    """
    label_columns = tuple(label_columns)
    named, multi = _as_datasets(datasets)
    if value is None or (isinstance(value, Mapping) and not value):
        return {name: {} for name in named} if multi else {}

    strategy = _strategy(value)
    if strategy is not None:
        if not named:
            raise InvalidInputError(
                f"router_mapping: the strategy {value!r} derives the mapping from the dataset's columns, "
                "but no dataset was given. Pass the training dataset(s) as well."
            )
        resolved: dict[str | None, dict[str, str]] = {}
        for name, dataset in named.items():
            columns = _text_columns(dataset, label_columns)
            where = f" (strategy {value!r}" + (f", dataset {name!r})" if name is not None else ")")
            produced = strategy(list(columns), name)
            if not isinstance(produced, Mapping):
                raise InvalidInputError(
                    f"router_mapping{where}: returned {type(produced).__name__}, expected a dict "
                    "{column: route}. A router mapping must return a dict."
                )
            checked = _check_routes(produced, where, routes)
            _check_columns(checked, where, columns, f"dataset {name!r}" if name is not None else "")
            resolved[name] = checked
        return resolved if multi else resolved[None]

    if not isinstance(value, Mapping):
        raise InvalidInputError(
            f"router_mapping: expected a dict {{column: route}}, a nested dict {{dataset: {{column: route}}}} "
            f"or the name of a registered router mapping, got {type(value).__name__} {value!r}. "
            "Run `sentrix plugins list --kind router_mappings` for the names."
        )

    nested = all(isinstance(v, Mapping) for v in value.values())
    if not nested and any(isinstance(v, Mapping) for v in value.values()):
        raise InvalidInputError(
            "router_mapping: mixes column -> route entries with dataset -> {column: route} entries "
            f"({dict(value)!r}). Use one form: either a flat dict for all datasets, or a dict per dataset."
        )

    if nested:
        if named and not multi:
            raise InvalidInputError(
                f"router_mapping: a nested dict (dataset -> column -> route; keys {list(value)}) needs a "
                "dict of datasets (DatasetDict), but a single dataset was given. Use a flat dict "
                "{column: route}, or pass the datasets as a DatasetDict."
            )
        if named:
            unknown = [k for k in value if str(k) not in named]
            if unknown:
                raise InvalidInputError(
                    f"router_mapping: dataset name{'s' if len(unknown) > 1 else ''} {unknown} "
                    f"{'are' if len(unknown) > 1 else 'is'} not among the datasets {list(named)}. "
                    "The keys of a nested router_mapping must be the dataset names."
                )
        resolved = {}
        for name in named or value:
            inner = value.get(name, {}) if named else value[name]
            where = f" (dataset {name!r})"
            checked = _check_routes(inner, where, routes)
            if named:
                _check_columns(checked, where, _text_columns(named[name], label_columns), f"dataset {name!r}")
            resolved[str(name)] = checked
        return resolved

    checked = _check_routes(value, "", routes)
    if not named:
        return checked
    if not multi:
        _check_columns(checked, "", _text_columns(named[None], label_columns))
        return checked
    all_columns: list[str] = []
    for dataset in named.values():
        all_columns += [c for c in _text_columns(dataset, label_columns) if c not in all_columns]
    _check_columns(checked, "", all_columns, f"any of the datasets {list(named)}")
    return {
        name: {c: r for c, r in checked.items() if c in _text_columns(dataset, label_columns)}
        for name, dataset in named.items()
    }


def __getattr__(name: str) -> Any:
    """Registered router mappings by name: ``from sentrix.router_mapping import QueryDocumentRouterMapping``."""
    if name.startswith("__"):
        raise AttributeError(name)
    from sentrix.errors import UnknownComponentError
    from sentrix.registry import router_mappings

    try:
        return router_mappings.get(name)
    except UnknownComponentError as exc:
        raise AttributeError(f"module 'sentrix.router_mapping' has no attribute {name!r}.\n{exc}") from None
