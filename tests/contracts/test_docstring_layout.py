"""The docstring-layout checker that every kind's contract suite runs (sentrix.testing.contracts._docstrings)."""

from __future__ import annotations

import pytest

from sentrix.testing.contracts import Component
from sentrix.testing.contracts._docstrings import check_docstring_layout, docstring_problems


class GoodSampler:
    """Yield batches in a seeded order.

    What it does, in a paragraph.

    Args:
        dataset: the dataset.
        batch_size: rows per batch.

    Example:
        .. code-block:: python

            sampler = GoodSampler(ds, batch_size=2)
    """

    def __init__(self, dataset, batch_size: int, **kwargs):
        pass


class GoodLoss:
    """Pull pairs together.

    Optimises an in-batch softmax.

    Inputs:
        (anchor, positive) pairs, no label.

    Sampler:
        ``no_duplicates``: duplicates would be false negatives.

    Args:
        scale: the temperature inverse (default 20.0).

    Example:
        .. code-block:: python

            loss = GoodLoss(model)

    References:
        A paper.
    """

    def __init__(self, model, scale: float = 20.0):
        pass


def test_a_docstring_in_the_layout_has_no_problems():
    assert docstring_problems(GoodSampler, "batch_samplers") == []
    assert docstring_problems(GoodLoss, "losses") == []  # `model` need not be listed for a loss


def test_each_departure_is_named():
    class Bad:
        """yields batches
        More summary.

        Examples:
            sampler = Bad(ds)

        Args:
            dataset: the dataset.
        """

        def __init__(self, dataset, seed: int = 0):
            pass

    problems = "\n".join(docstring_problems(Bad, "batch_samplers"))
    assert "one-line summary ending with a period" in problems
    assert "summary must be one line followed by a blank line" in problems
    assert "'Examples:' is not part of the layout; call it 'Example:'" in problems
    assert "missing the 'Example:' section" in problems
    assert "Args: does not describe seed" in problems


def test_order_and_kind_specific_sections():
    class Loss:
        """A loss.

        It optimises something.

        Args:
            margin: the margin.

        Inputs:
            pairs.

        Example:
            .. code-block:: python

                Loss(model)
        """

        def __init__(self, model, margin: float = 1.0):
            pass

    problems = "\n".join(docstring_problems(Loss, "losses"))
    assert "sections are out of order: Args, Inputs, Example" in problems
    assert "missing the 'Sampler:' section" in problems and "missing the 'References:' section" in problems
    assert "a batch_samplers docstring has no 'Inputs:' section" in "\n".join(docstring_problems(Loss, "batch_samplers"))
    assert "missing the 'Metrics:' section" in "\n".join(docstring_problems(GoodSampler, "evaluators"))


def test_example_needs_a_code_block_and_args_is_optional_without_parameters():
    class Mapping:
        """Route every column to ``query``.

        A router mapping.

        Example:
            mapping(["a"], None)
        """

    assert docstring_problems(Mapping, "router_mappings") == [
        "Example: must hold a runnable '.. code-block:: python' block."
    ]


def test_the_contract_check_raises_with_every_problem():
    check_docstring_layout(Component(kind="batch_samplers", name="good", obj=GoodSampler))

    class Undocumented:
        def __init__(self, dataset):
            pass

    with pytest.raises(AssertionError, match="it has no docstring"):
        check_docstring_layout(Component(kind="batch_samplers", name="bad", obj=Undocumented))


def test_every_suite_runs_the_layout_check():
    import importlib

    from sentrix.registry import KINDS

    for kind in KINDS:
        checks = dict(importlib.import_module(f"sentrix.testing.contracts.{kind}").CHECKS)
        assert checks.get("docstring_layout") is check_docstring_layout, f"{kind} suite lacks docstring_layout"
