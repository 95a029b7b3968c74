"""``query_document``: the first text column is the query, every other text column a document.

Documented on the class below (``sentrix plugins show NAME`` prints it).
"""

from __future__ import annotations

from sentrix.plugin_api import InvalidInputError, RouterMapping

__all__ = ["QueryDocumentRouterMapping"]


class QueryDocumentRouterMapping(RouterMapping):
    """``query_document``: the first text column is the query, every other text column a document.

    For a dataset with text columns ``(anchor, positive, negative_1, negative_2)`` it returns
    ``{"anchor": "query", "positive": "document", "negative_1": "document", "negative_2": "document"}``.
    Label columns and ``dataset_name`` are not text columns and are never routed. This is the layout
    of nearly every retrieval dataset (query, positive passage, hard negatives), and the column order
    the in-batch-negative losses already assume.

    The data it needs: at least one text column, the query first, and a model with a ``Router`` whose
    routes are named ``query`` and ``document`` (or pass ``query_route`` / ``document_route``).
    Registered as ``query_document`` with the alias ``QueryDocumentRouterMapping``.

    Args:
        query_route: route name for the first column (default ``"query"``).
        document_route: route name for the other columns (default ``"document"``).

    Example:
        .. code-block:: python

            from sentrix import SentenceTransformerTrainingArguments

            args = SentenceTransformerTrainingArguments(output_dir="out", router_mapping="query_document")

            # or directly:
            from sentrix.registry import router_mappings

            mapping = router_mappings.create("query_document")
            mapping(["question", "answer", "negative"], None)
            # {'question': 'query', 'answer': 'document', 'negative': 'document'}

    References:
        the ``router_mapping`` convention of sentence-transformers' ``Router`` documentation.
    """

    def __init__(self, query_route: str = "query", document_route: str = "document") -> None:
        for arg, value in (("query_route", query_route), ("document_route", document_route)):
            if not isinstance(value, str) or not value:
                raise InvalidInputError(
                    f"QueryDocumentRouterMapping: {arg} must be a non-empty route name, got {value!r}."
                )
        self.query_route = query_route
        self.document_route = document_route

    def __call__(self, column_names: list[str], dataset_name: str | None = None) -> dict[str, str]:
        if not column_names:
            where = f"dataset {dataset_name!r}" if dataset_name is not None else "the dataset"
            raise InvalidInputError(
                f"query_document router mapping: {where} has no text column to route. It needs at least "
                "one text column (the query), optionally followed by document columns."
            )
        first, *rest = column_names
        return {first: self.query_route, **{column: self.document_route for column in rest}}
