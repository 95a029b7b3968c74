"""Contract of a multi-dataset batch sampler (``sentrix.multi_dataset_batch_samplers``).

Built as ``cls(dataset=ConcatDataset, batch_samplers=[one per dataset], generator=..., seed=...)``;
every batch comes from one dataset (its indices index the ConcatDataset); ``len()`` is honest;
the order is a function of ``(seed, epoch)``.
"""

from __future__ import annotations

import inspect
from typing import Any

from sentrix.testing.contracts import Component, has_user_docstring, require
from sentrix.testing.contracts._docstrings import check_docstring_layout
from sentrix.testing.contracts._fixtures import labelled_dataset

SIZES = (24, 12, 8)


def _build(cls: Any, seed: int = 5) -> tuple[Any, list[range]]:
    import torch
    from torch.utils.data import ConcatDataset

    from sentrix.sampler import DefaultBatchSampler

    datasets = [labelled_dataset(rows=n) for n in SIZES]
    concat = ConcatDataset(datasets)
    samplers = [
        DefaultBatchSampler(ds, batch_size=4, drop_last=False, valid_label_columns=["label"],
                            generator=torch.Generator().manual_seed(seed), seed=seed)
        for ds in datasets
    ]
    sampler = cls(dataset=concat, batch_samplers=samplers, generator=torch.Generator().manual_seed(seed), seed=seed)
    bounds, start = [], 0
    for n in SIZES:
        bounds.append(range(start, start + n))
        start += n
    return sampler, bounds


def check_has_docstring(component: Component) -> None:
    has_user_docstring(component.obj)


def check_signature(component: Component) -> None:
    params = inspect.signature(component.obj).parameters
    for name in ("dataset", "batch_samplers", "generator", "seed"):
        require(name in params, f"the constructor must accept `{name}`.")
    require(hasattr(component.obj, "set_epoch"), "a multi-dataset batch sampler must have set_epoch(epoch).")


def check_each_batch_from_one_dataset(component: Component) -> None:
    sampler, bounds = _build(component.obj)
    batches = [list(b) for b in sampler]
    require(batches, "the sampler yielded no batch.")
    for batch in batches:
        owners = {i for i, r in enumerate(bounds) for index in batch if index in r}
        require(len(owners) == 1, f"batch {batch} mixes datasets {sorted(owners)}; each batch must come from one.")


def check_len_is_honest(component: Component) -> None:
    sampler, _ = _build(component.obj)
    count = sum(1 for _ in sampler)
    require(len(sampler) == count, f"len(sampler) is {len(sampler)} but it yielded {count} batches.")


def check_deterministic_per_seed_and_epoch(component: Component) -> None:
    first, _ = _build(component.obj)
    second, _ = _build(component.obj)
    for epoch in (0, 2):
        first.set_epoch(epoch)
        second.set_epoch(epoch)
        require([list(b) for b in first] == [list(b) for b in second],
                f"same seed and epoch {epoch} yielded different batches; resume needs this.")


CHECKS = [
    ("has_docstring", check_has_docstring),
    ("docstring_layout", check_docstring_layout),
    ("signature", check_signature),
    ("each_batch_from_one_dataset", check_each_batch_from_one_dataset),
    ("len_is_honest", check_len_is_honest),
    ("deterministic_per_seed_and_epoch", check_deterministic_per_seed_and_epoch),
]
