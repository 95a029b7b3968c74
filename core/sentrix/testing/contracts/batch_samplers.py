"""Contract of a batch sampler: what any ``sentrix.batch_samplers`` component must satisfy.

Built as ``cls(dataset, batch_size=..., drop_last=..., valid_label_columns=..., generator=...,
seed=...)``; yields lists of dataset indices, never one index twice in an epoch; ``len()`` is the
number of batches it really yields; the order is a function of ``(seed, epoch)`` so a resumed run
sees the same batches; ``set_epoch`` reseeds.
"""

from __future__ import annotations

import inspect
from typing import Any

from sentrix.testing.contracts import Component, has_user_docstring, require
from sentrix.testing.contracts._docstrings import check_docstring_layout
from sentrix.testing.contracts._fixtures import labelled_dataset

BATCH_SIZE = 4


def build(cls: Any, dataset: Any, drop_last: bool = False, seed: int = 12) -> Any:
    import torch

    return cls(
        dataset,
        batch_size=BATCH_SIZE,
        drop_last=drop_last,
        valid_label_columns=["label"],
        generator=torch.Generator().manual_seed(seed),
        seed=seed,
    )


def _epoch(sampler: Any) -> list[list[int]]:
    return [list(batch) for batch in sampler]


def check_has_docstring(component: Component) -> None:
    has_user_docstring(component.obj)


def check_signature(component: Component) -> None:
    params = inspect.signature(component.obj).parameters
    for name in ("dataset", "batch_size", "drop_last", "valid_label_columns", "generator", "seed"):
        require(name in params, f"the constructor must accept `{name}` (sentrix passes it by keyword).")
    require(hasattr(component.obj, "set_epoch"), "a batch sampler must have set_epoch(epoch).")


def check_yields_valid_unique_indices(component: Component) -> None:
    dataset = labelled_dataset()
    batches = _epoch(build(component.obj, dataset))
    require(batches, "the sampler yielded no batch for a 40-row dataset.")
    seen: set[int] = set()
    for batch in batches:
        require(0 < len(batch) <= BATCH_SIZE, f"batch of size {len(batch)}; expected 1..{BATCH_SIZE}.")
        for index in batch:
            require(isinstance(index, int) and 0 <= index < len(dataset), f"invalid index {index!r}.")
            require(index not in seen, f"index {index} yielded twice in one epoch.")
            seen.add(index)


def check_len_is_honest(component: Component) -> None:
    dataset = labelled_dataset()
    for drop_last in (False, True):
        sampler = build(component.obj, dataset, drop_last=drop_last)
        batches = _epoch(sampler)
        require(len(sampler) == len(batches),
                f"len(sampler) is {len(sampler)} but it yielded {len(batches)} batches (drop_last={drop_last}); "
                "the trainer's step count and learning-rate schedule rely on len().")


def check_drop_last_gives_full_batches(component: Component) -> None:
    for batch in _epoch(build(component.obj, labelled_dataset(), drop_last=True)):
        require(len(batch) == BATCH_SIZE, f"drop_last=True yielded a batch of {len(batch)}.")


def check_deterministic_per_seed_and_epoch(component: Component) -> None:
    dataset = labelled_dataset()
    first, second = build(component.obj, dataset), build(component.obj, dataset)
    require(_epoch(first) == _epoch(second), "two samplers with the same seed yielded different batches.")
    first.set_epoch(3)
    second.set_epoch(3)
    require(_epoch(first) == _epoch(second), "same seed and epoch yielded different batches; resume needs this.")


def check_set_epoch_reshuffles(component: Component) -> None:
    sampler = build(component.obj, labelled_dataset())
    sampler.set_epoch(0)
    epoch0 = _epoch(sampler)
    sampler.set_epoch(1)
    epoch1 = _epoch(sampler)
    require(epoch0 != epoch1, "set_epoch(1) yielded the same batches as epoch 0; reseed from seed + epoch.")


CHECKS = [
    ("has_docstring", check_has_docstring),
    ("docstring_layout", check_docstring_layout),
    ("signature", check_signature),
    ("yields_valid_unique_indices", check_yields_valid_unique_indices),
    ("len_is_honest", check_len_is_honest),
    ("drop_last_gives_full_batches", check_drop_last_gives_full_batches),
    ("deterministic_per_seed_and_epoch", check_deterministic_per_seed_and_epoch),
    ("set_epoch_reshuffles", check_set_epoch_reshuffles),
]
