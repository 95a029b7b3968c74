"""Fixtures for the loss tests: one tiny model folder (sentrix.testing.tiny_models), loaded fresh per test.

``load_tiny()`` gives a ``sentrix.SentenceTransformer``; ``load_reference()`` gives a
sentence-transformers 6.2 ``SentenceTransformer`` over the same folder, so an oracle test starts
both sides from identical weights. Models are put in eval mode: dropout off, so forwards are
deterministic (gradients still flow).
"""

from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import pytest


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory) -> str:
    """A tiny model (2-layer BERT, hidden 32, mean pooling) saved in the sentence-transformers layout."""
    from sentrix.testing.tiny_models import tiny_model_folder

    return str(tiny_model_folder(tmp_path_factory.mktemp("tiny_loss_model"), seed=1234))


@pytest.fixture(scope="session")
def tiny_hf_dir(tmp_path_factory) -> str:
    """A plain Hugging Face folder of a tiny BERT (for building Router models)."""
    from sentrix.testing.tiny_models import tiny_hf_folder

    return str(tiny_hf_folder(tmp_path_factory.mktemp("tiny_loss_hf"), seed=1234))


@pytest.fixture
def load_tiny(tiny_model_dir):
    """Load a fresh ``sentrix.SentenceTransformer`` copy of the tiny model."""

    def _load():
        from sentrix import SentenceTransformer

        return SentenceTransformer(tiny_model_dir, device="cpu").eval()

    return _load


@pytest.fixture
def load_reference(tiny_model_dir):
    """Load a fresh sentence-transformers copy of the same tiny model (the oracle)."""

    def _load():
        from sentence_transformers import SentenceTransformer

        return SentenceTransformer(tiny_model_dir, device="cpu").eval()

    return _load


@pytest.fixture
def tiny_model(load_tiny):
    return load_tiny()


@pytest.fixture
def reference_model(load_reference):
    return load_reference()
