"""The runnable examples in the sampler and router-mapping docstrings run as written."""

from __future__ import annotations

import inspect
import textwrap

import pytest

from sentrix.registry import batch_samplers, multi_dataset_batch_samplers, router_mappings


def example_of(obj) -> str:
    """The ``.. code-block:: python`` of the docstring's ``Example:`` section, dedented."""
    doc = inspect.getdoc(obj) or ""
    assert "\nExample:\n" in doc, f"{obj.__name__} has no Example: section"
    section = doc.split("\nExample:\n", 1)[1]
    assert ".. code-block:: python" in section, f"{obj.__name__}'s Example: has no code block"
    block = section.split(".. code-block:: python", 1)[1]
    lines = []
    for line in block.splitlines()[1:]:
        if line.strip() and not line.startswith("        "):  # back at the section's (or the docstring's) level
            break
        lines.append(line)
    return textwrap.dedent("\n".join(lines))


@pytest.mark.parametrize(
    "registry, name",
    [
        (batch_samplers, "batch_sampler"),
        (batch_samplers, "no_duplicates"),
        (batch_samplers, "no_duplicates_hashed"),
        (batch_samplers, "group_by_label"),
        (multi_dataset_batch_samplers, "round_robin"),
        (multi_dataset_batch_samplers, "proportional"),
        (router_mappings, "query_document"),
    ],
)
def test_example_runs(registry, name):
    code = example_of(registry.get(name))
    if name == "query_document":  # the first half needs the trainer's arguments class; run the rest
        code = code.split("# or directly:", 1)[1]
    exec(compile(code, f"<{name} example>", "exec"), {})

