"""Every built-in component passes the same contract suite third-party plugins run."""

from __future__ import annotations

import pytest

from sentrix.registry import KINDS, get_registry
from sentrix.testing import contract_checks


def _cases():
    for kind in KINDS:
        for entry in get_registry(kind).entries():
            for check in contract_checks(kind, entry.name):
                yield pytest.param(check, id=f"{kind}:{entry.name}:{check.name}")


@pytest.mark.parametrize("check", list(_cases()))
def test_builtin_contract(check):
    check()
