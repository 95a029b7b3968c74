"""Fixtures for the run-config tests: a tiny model folder and a helper that runs the CLI in-process."""

from __future__ import annotations

import logging

import pytest

logging.getLogger("transformers").setLevel(logging.ERROR)


@pytest.fixture(scope="session")
def tiny_path(tmp_path_factory) -> str:
    from sentrix.testing.tiny_models import tiny_model_folder

    return str(tiny_model_folder(tmp_path_factory.mktemp("tiny") / "model"))


@pytest.fixture()
def cli(capsys):
    """Run ``sentrix ARGS`` in this process; returns (exit code, stdout, stderr)."""
    from sentrix.cli.main import main

    def run(*args: str) -> tuple[int, str, str]:
        code = main([str(a) for a in args])
        captured = capsys.readouterr()
        return code, captured.out, captured.err

    return run
