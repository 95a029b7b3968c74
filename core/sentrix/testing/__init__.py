"""Test helpers for sentrix and its plugins.

- :func:`contract_checks` / :func:`check_component`: the contract suite of a component kind,
  the same checks every built-in passes. A plugin's own tests run them::

      import pytest
      from sentrix.testing import contract_checks

      @pytest.mark.parametrize("check", contract_checks("losses", "acme.focal_ranking"), ids=lambda c: c.name)
      def test_contract(check):
          check()

- :mod:`sentrix.testing.tiny_models`: tiny random models (2-layer BERT, hidden 32) for fast tests.

Importing this module is cheap; torch and the component are imported when a check runs.
"""

from __future__ import annotations

from sentrix.testing.contracts import ContractCheck, check_component, contract_checks

__all__ = ["ContractCheck", "check_component", "contract_checks", "tiny_models"]


def __getattr__(name: str):
    if name == "tiny_models":
        import importlib

        return importlib.import_module("sentrix.testing.tiny_models")
    raise AttributeError(f"module 'sentrix.testing' has no attribute {name!r}")
