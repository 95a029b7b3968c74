"""Datasets for the sampler tests: text columns with many repeated values, and a label column."""

from __future__ import annotations

import random

import pytest


def make_dataset(rows: int = 600, distinct: int = 150, labels: int = 5, seed: int = 0):
    """``anchor``/``positive`` drawn from ``distinct`` strings (so values repeat within and across
    columns), an int ``label`` with ``labels`` classes of unequal sizes."""
    from datasets import Dataset

    rng = random.Random(seed)
    pool = [f"sentence {i}" for i in range(distinct)]
    weights = [labels - i for i in range(labels)]  # unequal class sizes
    return Dataset.from_dict(
        {
            "anchor": [rng.choice(pool) for _ in range(rows)],
            "positive": [rng.choice(pool) for _ in range(rows)],
            "label": rng.choices(range(labels), weights=weights, k=rows),
        }
    )


@pytest.fixture(scope="session", name="make_dataset")
def make_dataset_fixture():
    return make_dataset


@pytest.fixture(scope="session")
def dup_dataset():
    return make_dataset()


@pytest.fixture(scope="session")
def small_dataset():
    return make_dataset(rows=90, distinct=40, labels=3, seed=1)
