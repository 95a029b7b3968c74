"""Router mappings: the ``query_document`` strategy and ``resolve_router_mapping``."""

from __future__ import annotations

import pytest
from datasets import Dataset, DatasetDict

from sentrix.errors import InvalidInputError
from sentrix.registry import router_mappings
from sentrix.router_mapping import RouterMapping, resolve_router_mapping


@pytest.fixture(scope="module")
def triplets():
    return Dataset.from_dict({"question": ["q"], "answer": ["a"], "negative": ["n"], "label": [1]})


@pytest.fixture(scope="module")
def datasets(triplets):
    pairs = Dataset.from_dict({"query": ["q"], "passage": ["p"], "score": [0.5]})
    return DatasetDict({"qa": triplets, "search": pairs})


# -- query_document ------------------------------------------------------------------------------


def test_query_document_routes_first_column_to_query():
    mapping = router_mappings.create("query_document")
    assert mapping(["anchor", "positive", "negative"], None) == {
        "anchor": "query",
        "positive": "document",
        "negative": "document",
    }
    assert mapping(["text"], "single") == {"text": "query"}


def test_query_document_alias_and_custom_route_names():
    cls = router_mappings.get("QueryDocumentRouterMapping")
    assert cls is router_mappings.get("query_document")
    assert issubclass(cls, RouterMapping)
    mapping = cls(query_route="q", document_route="d")
    assert mapping(["a", "b"]) == {"a": "q", "b": "d"}
    assert "query_route='q'" in repr(mapping)


def test_query_document_without_text_columns_is_a_clear_error():
    with pytest.raises(InvalidInputError, match=r"dataset 'empty' has no text column to route"):
        router_mappings.create("query_document")([], "empty")


def test_query_document_rejects_an_empty_route_name():
    with pytest.raises(InvalidInputError, match=r"query_route must be a non-empty route name, got ''"):
        router_mappings.create("query_document", query_route="")


# -- resolve_router_mapping: accepted forms ------------------------------------------------------


def test_a_registered_name_resolves_per_dataset(triplets, datasets):
    assert resolve_router_mapping("query_document", triplets) == {
        "question": "query",
        "answer": "document",
        "negative": "document",
    }
    assert resolve_router_mapping("QueryDocumentRouterMapping", datasets) == {
        "qa": {"question": "query", "answer": "document", "negative": "document"},
        "search": {"query": "query", "passage": "document"},
    }


def test_instance_class_and_plain_function(triplets):
    cls = router_mappings.get("query_document")
    expected = {"question": "query", "answer": "document", "negative": "document"}
    assert resolve_router_mapping(cls(), triplets) == expected
    assert resolve_router_mapping(cls, triplets) == expected

    def everything_to_query(columns, dataset_name):
        return {column: "query" for column in columns}

    assert resolve_router_mapping(everything_to_query, triplets) == dict.fromkeys(expected, "query")


def test_flat_dict_on_one_and_on_several_datasets(triplets, datasets):
    flat = {"question": "query", "answer": "document", "passage": "document"}
    with pytest.raises(InvalidInputError, match=r"\['passage'\] is not a text column of the dataset"):
        resolve_router_mapping(flat, triplets)
    assert resolve_router_mapping({"question": "query"}, triplets) == {"question": "query"}
    assert resolve_router_mapping(flat, datasets) == {
        "qa": {"question": "query", "answer": "document"},
        "search": {"passage": "document"},
    }


def test_nested_dict(datasets):
    nested = {"qa": {"question": "query", "answer": "document"}}
    assert resolve_router_mapping(nested, datasets) == {"qa": {"question": "query", "answer": "document"}, "search": {}}


def test_empty_values_and_no_datasets(datasets):
    assert resolve_router_mapping(None, None) == {}
    assert resolve_router_mapping({}, datasets) == {"qa": {}, "search": {}}
    assert resolve_router_mapping({"a": "query"}) == {"a": "query"}


def test_label_columns_are_not_routable(triplets):
    with pytest.raises(InvalidInputError, match=r"\['label'\] is not a text column of the dataset, whose text columns are \['question', 'answer', 'negative'\]"):
        resolve_router_mapping({"label": "query"}, triplets)


# -- resolve_router_mapping: errors ----------------------------------------------------------------


def test_unknown_route_when_routes_are_known(triplets):
    with pytest.raises(InvalidInputError, match=r"column 'question' is mapped to route 'query', but the model's Router has the routes \['q', 'd'\]"):
        resolve_router_mapping("query_document", triplets, routes=["q", "d"])


def test_unknown_dataset_in_nested_dict(datasets):
    with pytest.raises(InvalidInputError, match=r"dataset name \['web'\] is not among the datasets \['qa', 'search'\]"):
        resolve_router_mapping({"web": {"q": "query"}}, datasets)


def test_unknown_column_in_nested_dict(datasets):
    with pytest.raises(InvalidInputError, match=r"router_mapping \(dataset 'search'\): column \['question'\] is not a text column of dataset 'search'"):
        resolve_router_mapping({"search": {"question": "query"}}, datasets)


def test_flat_dict_column_in_no_dataset(datasets):
    with pytest.raises(InvalidInputError, match=r"\['title'\] is not a text column of any of the datasets \['qa', 'search'\]"):
        resolve_router_mapping({"title": "document"}, datasets)


def test_nested_dict_with_a_single_dataset(triplets):
    with pytest.raises(InvalidInputError, match=r"a nested dict .* needs a dict of datasets \(DatasetDict\), but a single dataset was given"):
        resolve_router_mapping({"qa": {"question": "query"}}, triplets)


def test_mixed_forms(datasets):
    with pytest.raises(InvalidInputError, match=r"mixes column -> route entries with dataset -> \{column: route\} entries"):
        resolve_router_mapping({"qa": {"question": "query"}, "passage": "document"}, datasets)


def test_unknown_name_lists_how_to_find_names(triplets):
    with pytest.raises(KeyError, match=r"(?s)Unknown router mapping 'query_documents'.*'query_document'\?.*sentrix plugins list --kind router_mappings"):
        resolve_router_mapping("query_documents", triplets)


def test_wrong_type(triplets):
    with pytest.raises(InvalidInputError, match=r"expected a dict \{column: route\}.*got list"):
        resolve_router_mapping(["question"], triplets)


def test_non_string_route(triplets):
    with pytest.raises(InvalidInputError, match=r"expected column name -> route name strings, got 'question' -> 1"):
        resolve_router_mapping({"question": 1}, triplets)


def test_strategy_must_return_a_dict(triplets):
    with pytest.raises(InvalidInputError, match=r"returned list, expected a dict \{column: route\}"):
        resolve_router_mapping(lambda columns, name: list(columns), triplets)


def test_strategy_needs_datasets():
    with pytest.raises(InvalidInputError, match=r"derives the mapping from the dataset's columns, but no dataset was given"):
        resolve_router_mapping("query_document")


def test_strategy_must_not_invent_columns(triplets):
    with pytest.raises(InvalidInputError, match=r"\['extra'\] is not a text column"):
        resolve_router_mapping(lambda columns, name: {"extra": "query"}, triplets)


def test_class_needing_arguments_is_explained(triplets):
    class NeedsRoutes(RouterMapping):
        """Maps every column to one given route."""

        def __init__(self, route):
            self.route = route

        def __call__(self, column_names, dataset_name=None):
            return dict.fromkeys(column_names, self.route)

    with pytest.raises(InvalidInputError, match=r"class NeedsRoutes cannot be built without arguments.*Pass an instance instead"):
        resolve_router_mapping(NeedsRoutes, triplets)
    assert resolve_router_mapping(NeedsRoutes("document"), triplets)["question"] == "document"


def test_module_attribute_resolves_registered_mappings():
    import sentrix.router_mapping as module

    assert module.QueryDocumentRouterMapping is router_mappings.get("query_document")
    with pytest.raises(AttributeError, match=r"has no attribute 'Nope'"):
        module.Nope  # noqa: B018
