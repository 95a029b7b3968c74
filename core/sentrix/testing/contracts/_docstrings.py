"""The one docstring layout every component follows, as a check the contract suites run.

Google-style sections, in this order, each header alone on its line and ending with a colon::

    One-line summary ending with a period.

    What it does / optimises, in a paragraph or two.

    Inputs:       losses only: the text columns and the label
    Sampler:      losses only: the registered batch sampler it wants and why
    Args:         every constructor parameter (not ``self``; for losses not ``model`` either)
    Metrics:      evaluators only: the metric keys it returns
    Example:      a runnable ``.. code-block:: python`` example
    References:   losses: the paper or the method's origin; optional elsewhere

:func:`docstring_problems` lists what is wrong with a docstring (empty when it follows the
layout); :func:`check_docstring_layout` is the contract check built on it.
"""

from __future__ import annotations

import inspect
import re
from typing import Any

ORDER = ("Inputs", "Sampler", "Args", "Metrics", "Example", "References")

#: kind -> (sections it must have, sections it may have). ``Args`` is required only when the
#: constructor takes parameters the section has to describe.
LAYOUTS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "losses": (("Inputs", "Sampler", "Args", "Example", "References"), ORDER[:3] + ORDER[4:]),
    "evaluators": (("Args", "Metrics", "Example"), ("Args", "Metrics", "Example", "References")),
}
_DEFAULT_LAYOUT = (("Args", "Example"), ("Args", "Example", "References"))

# Section headers people write instead of the ones above.
_MISSPELT = {
    "Arguments": "Args", "Parameters": "Args", "Params": "Args", "Examples": "Example", "Usage": "Example",
    "Reference": "References", "Citation": "References", "Input": "Inputs", "Returns": "Metrics",
}
_HEADER = re.compile(r"^([A-Z][A-Za-z ]*):\s*$")


def _layout(kind: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    return LAYOUTS.get(kind, _DEFAULT_LAYOUT)


def documented_parameters(component: Any, kind: str) -> list[str]:
    """The constructor parameters ``Args:`` must list (``self``, ``*args``/``**kwargs`` and, for losses, ``model`` excluded)."""
    if not inspect.isclass(component):
        return []
    try:
        signature = inspect.signature(component.__init__)
    except (TypeError, ValueError):
        return []
    skip = {"self", "model"} if kind == "losses" else {"self"}
    return [
        p.name for p in signature.parameters.values()
        if p.name not in skip and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
    ]


def split_sections(doc: str) -> tuple[list[str], list[tuple[str, list[str]]]]:
    """``(preamble lines, [(header, body lines), ...])`` of a cleaned (``inspect.getdoc``) docstring."""
    preamble: list[str] = []
    sections: list[tuple[str, list[str]]] = []
    for line in doc.splitlines():
        match = _HEADER.match(line)
        if match and (match.group(1) in ORDER or match.group(1) in _MISSPELT):
            sections.append((match.group(1), []))
        elif sections:
            sections[-1][1].append(line)
        else:
            preamble.append(line)
    return preamble, sections


def docstring_problems(component: Any, kind: str) -> list[str]:
    """Every way ``component``'s docstring departs from the layout for ``kind`` (empty list: it follows it)."""
    doc = inspect.getdoc(component) or ""
    if not doc.strip():
        return ["it has no docstring; write one in the component layout (summary, description, sections)."]
    problems: list[str] = []
    preamble, sections = split_sections(doc)
    summary = preamble[0].strip() if preamble else ""
    if not summary.endswith("."):
        problems.append(f"the first line must be a one-line summary ending with a period, got {summary!r}.")
    if len(preamble) > 1 and preamble[1].strip():
        problems.append("the summary must be one line followed by a blank line.")
    if not any(line.strip() for line in preamble[1:]):
        problems.append("add a paragraph after the summary saying what it does (and, for a loss, what it optimises).")

    required, allowed = _layout(kind)
    headers = [header for header, _ in sections]
    for header in headers:
        if header in _MISSPELT:
            problems.append(f"section {header + ':'!r} is not part of the layout; call it {_MISSPELT[header] + ':'!r}.")
        elif header not in allowed:
            problems.append(f"a {kind} docstring has no {header + ':'!r} section; allowed: {', '.join(allowed)}.")
    if len(set(headers)) != len(headers):
        problems.append(f"a section appears twice: {headers}.")
    known = [h for h in headers if h in ORDER]
    if known != sorted(known, key=ORDER.index):
        problems.append(f"sections are out of order: {', '.join(known)}; the order is {', '.join(ORDER)}.")

    parameters = documented_parameters(component, kind)
    for header in required:
        if header == "Args" and not parameters:
            continue
        if header not in headers:
            problems.append(f"missing the {header + ':'!r} section ({_WHAT[header]}).")

    body = {header: "\n".join(lines) for header, lines in sections}
    if "Args" in body or parameters:
        listed = set(re.findall(r"^\s+\*{0,2}(\w+)(?:\s*\([^)]*\))?:", body.get("Args", ""), flags=re.M))
        missing = [name for name in parameters if name not in listed]
        if missing:
            problems.append(
                f"Args: does not describe {', '.join(missing)}; list every constructor parameter as "
                "'name: what it means, its default, allowed values.'"
            )
    if "Example" in body and ".. code-block:: python" not in body["Example"]:
        problems.append("Example: must hold a runnable '.. code-block:: python' block.")
    return problems


_WHAT = {
    "Inputs": "the text columns and the label it takes",
    "Sampler": "the registered batch sampler it wants and why",
    "Args": "every constructor parameter",
    "Metrics": "the metric keys it returns",
    "Example": "a runnable '.. code-block:: python' example using registered names",
    "References": "the paper or the method's origin",
}


def check_docstring_layout(component: Any) -> None:
    """Contract check: the component's docstring follows the layout of its kind (see module docstring)."""
    problems = docstring_problems(component.obj, component.kind)
    if problems:
        raise AssertionError(
            "the docstring does not follow the component layout (docs/plugins.md, Docstring layout):\n  - "
            + "\n  - ".join(problems)
        )
