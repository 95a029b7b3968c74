"""The batch-sampler contract: what every batch sampler and multi-dataset batch sampler provides.

A **batch sampler** decides which rows of one dataset go into each training batch. The trainer
builds it as::

    sampler = SamplerClass(dataset, batch_size=32, drop_last=False,
                           valid_label_columns=["label", "score"], generator=generator, seed=42)

and hands it to a ``torch.utils.data.DataLoader`` as ``batch_sampler``. It must

- yield lists of row indices (``__iter__``);
- report exactly how many batches one epoch yields (``__len__``): the learning-rate schedule and
  the progress bar are computed from it;
- accept ``set_epoch(epoch)``, called by the trainer before every epoch, and draw its randomness
  from ``seed + epoch`` only, so that the order of an epoch can be reproduced: resuming a run
  mid-epoch rebuilds the sampler, calls ``set_epoch`` and skips the batches already trained on
  (``accelerate.skip_first_batches``), which gives the same batches as the uninterrupted run.

**Resuming.** Every checkpoint keeps the training batch sampler's ``state_dict()`` (in
``sampler_state.pt``), and a resumed run gives it back with ``load_state_dict(state)`` on the freshly
built sampler, before ``set_epoch`` and the replay of the interrupted epoch. The state describes
what the sampler needs, besides ``seed + epoch``, to yield the interrupted epoch again from its
start (the batches already trained are then skipped): a sampler whose order depends on anything
else (what it saw in earlier epochs, a curriculum, an adaptive weighting) puts that into it. It may
hold plain Python values and tensors. The base classes save ``{"epoch", "seed"}`` (the multi-dataset
one adds its members' states); a sampler without ``state_dict`` is resumed from ``seed + epoch``
alone.

A **multi-dataset batch sampler** decides in which order the batches of several datasets are
interleaved. It receives a ``torch.utils.data.ConcatDataset`` and one batch sampler per member
dataset, and yields indices into the concatenation; every batch comes from one dataset.

Subclass :class:`DefaultBatchSampler` (override ``__iter__`` and ``__len__``) or
:class:`MultiDatasetDefaultBatchSampler`, register the class under the ``sentrix.batch_samplers``
or ``sentrix.multi_dataset_batch_samplers`` entry-point group, and refer to it by name in the
training arguments. The built-in ones are reachable from this module by name as well::

    from sentrix.sampler import NoDuplicatesBatchSampler   # resolved through the registry

``sentrix plugins list --kind batch_samplers`` lists what is installed.
"""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from itertools import accumulate
from typing import Any, Iterator, Sequence

import torch
from torch.utils.data import BatchSampler, ConcatDataset, Sampler

from sentrix.errors import InvalidInputError, UnknownComponentError

__all__ = [
    "SetEpochMixin",
    "DefaultBatchSampler",
    "MultiDatasetDefaultBatchSampler",
    "EXCLUDED_COLUMNS",
    "epoch_generator",
    "dataset_offsets",
]

#: Columns that are bookkeeping rather than data; no sampler compares their values.
EXCLUDED_COLUMNS = frozenset({"dataset_name"})


def epoch_generator(generator: torch.Generator | None, seed: int | None, epoch: int) -> torch.Generator | None:
    """The generator to draw one epoch's randomness from, seeded with ``seed + epoch``.

    A given ``generator`` is re-seeded in place (the trainer shares one generator between the
    samplers of a run, as sentence-transformers does); without one a fresh generator is made.
    With ``seed=None`` the given generator is used as it stands, so the order then depends on
    what drew from it before and cannot be reproduced on resume.
    """
    if seed is None:
        return generator
    if generator is None:
        generator = torch.Generator()
    generator.manual_seed(int(seed) + int(epoch))
    return generator


def dataset_offsets(dataset: ConcatDataset) -> list[int]:
    """Index of the first row of each member dataset inside the concatenation."""
    return [0, *accumulate(len(member) for member in dataset.datasets)][:-1]


def _check_batch_args(owner: str, batch_size: Any, drop_last: Any) -> None:
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size <= 0:
        raise InvalidInputError(
            f"{owner}: batch_size must be a positive integer, got {batch_size!r}. "
            "Set per_device_train_batch_size (or batch_size) to a whole number such as 32."
        )
    if not isinstance(drop_last, bool):
        raise InvalidInputError(
            f"{owner}: drop_last must be True or False, got {drop_last!r}. "
            "Pass dataloader_drop_last=True to drop the last incomplete batch, False to keep it."
        )


class SetEpochMixin:
    """Keeps the epoch number the trainer announces with ``set_epoch`` before every epoch."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        """Remember ``epoch``; the next ``__iter__`` draws its order from ``seed + epoch``."""
        self.epoch = int(epoch)

    def state_dict(self) -> dict[str, Any]:
        """What a checkpoint keeps of the sampler (see "Resuming" in the module docs): epoch and seed."""
        return {"epoch": self.epoch, "seed": getattr(self, "seed", None)}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Take back a :meth:`state_dict` on resume; warns when the run's seed differs from the saved one."""
        seed = getattr(self, "seed", None)
        if "seed" in state and state["seed"] != seed:
            logging.getLogger(__name__).warning(
                "%s: the checkpoint was written with seed %r, this run uses %r; the resumed batches differ from the "
                "interrupted run's. Resume with the same seed for the same batches.", type(self).__name__, state["seed"], seed,
            )
        self.epoch = int(state.get("epoch", self.epoch))


class DefaultBatchSampler(SetEpochMixin, BatchSampler):
    """Shuffle the rows of one dataset and cut them into batches of ``batch_size``.

    Draws a random permutation of the rows from ``seed + epoch`` and yields consecutive slices of
    ``batch_size`` rows; with ``drop_last=True`` the last, smaller batch is left out. It reads no
    column values, and ``len(sampler)`` is exactly the number of batches an epoch yields. Because
    every epoch draws from ``seed + epoch``, a resumed run reproduces the uninterrupted one.

    This is both the plain sampler (registered as ``batch_sampler``, the default of
    ``BatchSamplers.BATCH_SAMPLER``) and the base class custom samplers subclass. As a sampler it
    suits losses without in-batch negatives (CoSENT, CosineSimilarity, Softmax...); prefer
    ``no_duplicates`` for in-batch-negative losses and ``group_by_label`` for batch triplet losses.
    A subclass usually keeps ``__init__``'s signature, reads ``self.dataset``, ``self.batch_size``,
    ``self.drop_last``, ``self.valid_label_columns``, and overrides ``__iter__`` and ``__len__``;
    drawing its randomness from ``self.epoch_generator()`` makes it reproducible per epoch and so
    resumable.

    Args:
        dataset: the dataset to sample from (anything with ``len()``; usually a
            ``datasets.Dataset``). A ``torch.utils.data.Sampler`` is accepted too and is then
            iterated as it is, like ``torch.utils.data.BatchSampler`` does.
        batch_size: rows per batch.
        drop_last: drop the last batch when it has fewer than ``batch_size`` rows.
        valid_label_columns: the column names that may hold the label (the first one present
            is the label column). Label columns are never treated as text. Default ``None``.
        generator: a ``torch.Generator`` to draw the order from; re-seeded with
            ``seed + epoch`` at the start of every epoch. One is made when omitted.
        seed: the base seed (default 0). ``None`` keeps the generator's state as it is (not
            reproducible).

    Example:
        .. code-block:: python

            from datasets import Dataset
            from sentrix.registry import batch_samplers

            ds = Dataset.from_dict({"anchor": list("abcdefg"), "positive": list("ABCDEFG")})
            sampler = batch_samplers.create("batch_sampler", ds, batch_size=3, drop_last=False, seed=12)
            sampler.set_epoch(1)
            batches = list(sampler)       # 3 batches: 3 + 3 + 1 rows, the order of epoch 1
            assert len(sampler) == len(batches)

    References:
        sentence-transformers 6.2 ``DefaultBatchSampler`` (a ``BatchSampler`` over a
        ``RandomSampler``); the first epoch gives its order for the same seed.
    """

    def __init__(
        self,
        dataset: Any,
        batch_size: int,
        drop_last: bool,
        valid_label_columns: list[str] | None = None,
        generator: torch.Generator | None = None,
        seed: int | None = 0,
    ) -> None:
        _check_batch_args(type(self).__name__, batch_size, drop_last)
        super().__init__(dataset, batch_size=batch_size, drop_last=drop_last)
        self.dataset = dataset
        self.valid_label_columns = list(valid_label_columns) if valid_label_columns else None
        self.generator = generator
        self.seed = seed

    # -- helpers for subclasses ------------------------------------------------------------------

    def epoch_generator(self) -> torch.Generator | None:
        """The generator for the current epoch, seeded with ``seed + epoch`` (see module docs)."""
        return epoch_generator(self.generator, self.seed, self.epoch)

    def label_column(self) -> str | None:
        """The first of ``valid_label_columns`` that the dataset has, or ``None``."""
        names = _column_names(self.dataset)
        for name in self.valid_label_columns or []:
            if name in names:
                return name
        return None

    def value_columns(self) -> list[str]:
        """The columns whose values a sampler compares: all but label and bookkeeping columns."""
        label_columns = set(self.valid_label_columns or [])
        return [c for c in _column_names(self.dataset) if c not in label_columns and c not in EXCLUDED_COLUMNS]

    # -- the sampler -----------------------------------------------------------------------------

    def __iter__(self) -> Iterator[list[int]]:
        if isinstance(self.dataset, Sampler):
            # torch.utils.data.BatchSampler behaviour: the sampler decides the order.
            yield from super().__iter__()
            return
        num_rows = len(self.dataset)
        if num_rows == 0:
            return
        order = torch.randperm(num_rows, generator=self.epoch_generator()).tolist()
        stop = num_rows - num_rows % self.batch_size if self.drop_last else num_rows
        for start in range(0, stop, self.batch_size):
            yield order[start : start + self.batch_size]

    def __len__(self) -> int:
        if self.drop_last:
            return len(self.dataset) // self.batch_size
        return -(-len(self.dataset) // self.batch_size)


class MultiDatasetDefaultBatchSampler(SetEpochMixin, BatchSampler, ABC):
    """Base class of the strategies that interleave the batches of several datasets.

    Subclasses implement ``__iter__`` (yield index lists into the concatenation, each batch from
    one member dataset; use :func:`dataset_offsets` to shift a member's indices) and an exact
    ``__len__``. ``set_epoch`` is passed on to every member sampler.

    Args:
        dataset: the ``torch.utils.data.ConcatDataset`` of the member datasets.
        batch_samplers: one batch sampler per member dataset, in the same order.
        generator: a ``torch.Generator`` for the interleaving order (re-seeded with
            ``seed + epoch`` every epoch).
        seed: the base seed.
    """

    def __init__(
        self,
        dataset: ConcatDataset,
        batch_samplers: Sequence[BatchSampler],
        generator: torch.Generator | None = None,
        seed: int | None = 0,
    ) -> None:
        owner = type(self).__name__
        if not hasattr(dataset, "datasets"):
            raise InvalidInputError(
                f"{owner}: dataset must be a torch.utils.data.ConcatDataset of the member datasets, "
                f"got {type(dataset).__name__}. Build it with ConcatDataset([ds_a, ds_b, ...])."
            )
        batch_samplers = list(batch_samplers)
        if len(dataset.datasets) != len(batch_samplers):
            raise InvalidInputError(
                f"{owner}: got {len(batch_samplers)} batch samplers for a ConcatDataset of "
                f"{len(dataset.datasets)} datasets. Pass exactly one batch sampler per member dataset, "
                "in the order of ConcatDataset.datasets."
            )
        if not batch_samplers:
            raise InvalidInputError(f"{owner}: batch_samplers is empty; pass one batch sampler per dataset.")
        super().__init__(dataset, batch_size=batch_samplers[0].batch_size, drop_last=batch_samplers[0].drop_last)
        self.dataset = dataset
        self.batch_samplers = batch_samplers
        self.generator = generator
        self.seed = seed

    def set_epoch(self, epoch: int) -> None:
        super().set_epoch(epoch)
        for sampler in self.batch_samplers:
            if hasattr(sampler, "set_epoch"):
                sampler.set_epoch(epoch)

    def state_dict(self) -> dict[str, Any]:
        """Epoch and seed, plus the state of each member sampler that has one (``None`` for the others)."""
        state = super().state_dict()
        state["batch_samplers"] = [s.state_dict() if callable(getattr(s, "state_dict", None)) else None for s in self.batch_samplers]
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Take back a :meth:`state_dict`, passing each member sampler its own part."""
        super().load_state_dict(state)
        for sampler, member in zip(self.batch_samplers, state.get("batch_samplers") or []):
            if member is not None and callable(getattr(sampler, "load_state_dict", None)):
                sampler.load_state_dict(member)

    def epoch_generator(self) -> torch.Generator | None:
        """The generator for the current epoch, seeded with ``seed + epoch``."""
        return epoch_generator(self.generator, self.seed, self.epoch)

    @abstractmethod
    def __iter__(self) -> Iterator[list[int]]:
        """Yield the batches of all member datasets in this strategy's order."""

    @abstractmethod
    def __len__(self) -> int:
        """The number of batches one epoch yields."""


def _column_names(dataset: Any) -> list[str]:
    names = getattr(dataset, "column_names", None)
    if isinstance(names, dict):  # DatasetDict
        return []
    return list(names or [])


_REGISTRY_KINDS = ("batch_samplers", "multi_dataset_batch_samplers")


def __getattr__(name: str) -> Any:
    """Resolve registered samplers by name: ``from sentrix.sampler import NoDuplicatesBatchSampler``."""
    if name.startswith("__"):
        raise AttributeError(name)
    from sentrix._compat.table import CORE_NAMES

    if name in CORE_NAMES["sentrix.sampler"]:
        import importlib

        return getattr(importlib.import_module(CORE_NAMES["sentrix.sampler"][name]), name)
    from sentrix.registry import get_registry

    errors = []
    for kind in _REGISTRY_KINDS:
        registry = get_registry(kind)
        try:
            return registry.get(name)
        except UnknownComponentError as exc:
            errors.append(str(exc))
    raise AttributeError(f"module 'sentrix.sampler' has no attribute {name!r}.\n" + "\n".join(errors))


def __dir__() -> list[str]:
    from sentrix.registry import get_registry

    names = set(globals())
    for kind in _REGISTRY_KINDS:
        names.update(get_registry(kind).names(include_aliases=True))
    return sorted(names)
