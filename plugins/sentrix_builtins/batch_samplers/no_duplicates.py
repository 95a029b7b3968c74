"""``no_duplicates``: batches in which no value occurs twice, across all text columns.

Documented on the class below (``sentrix plugins show NAME`` prints it).
"""

from __future__ import annotations

import hashlib
import logging
import pickle
import warnings
from typing import Any, Callable, Iterator

import numpy as np
import torch

from sentrix.plugin_api import DefaultBatchSampler, InvalidInputError

logger = logging.getLogger(__name__)

__all__ = ["NoDuplicatesBatchSampler", "value_key"]

_PLAIN = (str, int, float, bool, bytes, type(None), np.integer, np.floating, np.bool_)


def value_key(value: Any) -> str:
    """The string two cells are compared by.

    Plain values (text, numbers) compare by ``str(value)``; lists of plain values by the string of
    the list. Other objects (images, audio) compare by a digest of their pickled content, since
    their ``str()`` often contains a memory address.
    """
    if isinstance(value, _PLAIN):
        return str(value)
    if isinstance(value, (list, tuple)):
        if all(isinstance(item, _PLAIN) for item in value):
            return str(value)
        return "[" + ", ".join(value_key(item) for item in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k!r}: {value_key(v)}" for k, v in value.items()) + "}"
    payload = getattr(value, "_hf_encoded", None)
    try:
        return hashlib.sha256(pickle.dumps(value if payload is None else payload)).hexdigest()
    except Exception:
        return str(value)


def _raw(dataset: Any) -> Any:
    """The dataset without formatting or transforms, so columns read as stored."""
    with_format = getattr(dataset, "with_format", None)
    return with_format(None) if with_format is not None else dataset


class NoDuplicatesBatchSampler(DefaultBatchSampler):
    """``no_duplicates``: batches in which no value occurs twice, across all text columns.

    Shuffles the rows (from ``seed + epoch``) and fills each batch greedily in that order, skipping
    any row that shares a value with a row already in the batch; skipped rows keep their place and
    are offered to the next batch. Values are compared across *all* columns except the label columns
    and ``dataset_name``: a sentence that is the anchor of one row and the positive of another cannot
    land in the same batch. This matters for losses that use the other rows of the batch as
    negatives: a duplicate would be a "negative" identical to the positive.

    ``len(sampler)`` is the batch count of plain batching (``ceil(rows / batch_size)``, or ``floor``
    with ``drop_last``) and every epoch yields exactly that many batches: when duplicates leave a pass
    short of full batches, another shuffled pass tops it up (those rows then appear twice in the
    epoch; a warning says how many batches). Without ``drop_last``, duplicates can split the tail of a
    pass into more small batches than announced; those batches are still yielded, so that every row
    is seen once per epoch (an evaluation never skips rows), and a warning says how many extra
    batches there were.

    The data it needs: a ``datasets.Dataset`` (its columns are read) with any number of text columns,
    compared as strings; the columns named in ``valid_label_columns`` are ignored. Recommended for
    MultipleNegativesRanking, CachedMultipleNegativesRanking, MultipleNegativesSymmetricRanking,
    GISTEmbed, MegaBatchMargin, and any loss whose ``data_needs.in_batch_negatives`` is true. The
    values of every row are read once and kept as strings for the whole run (about the size of the
    dataset's text); for large or media datasets use ``no_duplicates_hashed``, which keeps one 8-byte
    hash per cell instead. Registered as ``no_duplicates`` (``BatchSamplers.NO_DUPLICATES``) with the
    alias ``NoDuplicatesBatchSampler``.

    Args:
        dataset: the ``datasets.Dataset`` to sample from.
        batch_size: rows per batch.
        drop_last: leave out the last batch when it is smaller than ``batch_size``.
        valid_label_columns: label column names; their values are not compared. Default ``None``.
        generator: ``torch.Generator`` re-seeded with ``seed + epoch`` every epoch; one is made when
            omitted.
        seed: base seed (default 0).
        precompute_hashes: keep one 64-bit hash per cell instead of the strings (less memory; a hash
            collision, about one in 10^19, merely keeps two rows apart). Default ``False``.
        precompute_num_proc: processes for hashing (``datasets.map``); ``None`` (default) or 1 hashes
            in this process.
        precompute_batch_size: rows hashed per chunk (default 1000).

    Example:
        .. code-block:: python

            from datasets import Dataset
            from sentrix.registry import batch_samplers

            ds = Dataset.from_dict({
                "anchor": ["a", "a", "b", "c"],
                "positive": ["p", "q", "a", "r"],
            })
            sampler = batch_samplers.create("no_duplicates", ds, batch_size=2, drop_last=False, seed=0)
            for batch in sampler:
                print(batch)     # no batch holds two rows sharing "a"

    References:
        sentence-transformers 6.2 ``NoDuplicatesBatchSampler``; for the same seed the batches are
        the same.
    """

    def __init__(
        self,
        dataset: Any,
        batch_size: int,
        drop_last: bool,
        valid_label_columns: list[str] | None = None,
        generator: torch.Generator | None = None,
        seed: int | None = 0,
        precompute_hashes: bool = False,
        precompute_num_proc: int | None = None,
        precompute_batch_size: int = 1000,
    ) -> None:
        super().__init__(
            dataset,
            batch_size=batch_size,
            drop_last=drop_last,
            valid_label_columns=valid_label_columns,
            generator=generator,
            seed=seed,
        )
        if not hasattr(dataset, "__getitem__") or not hasattr(dataset, "__len__"):
            raise InvalidInputError(
                f"{type(self).__name__}: dataset must be indexable with a length (a datasets.Dataset), "
                f"got {type(dataset).__name__}. Iterable datasets cannot be de-duplicated; use "
                "batch_sampler='batch_sampler' with them."
            )
        if not isinstance(precompute_batch_size, int) or precompute_batch_size <= 0:
            raise InvalidInputError(
                f"{type(self).__name__}: precompute_batch_size must be a positive integer, got "
                f"{precompute_batch_size!r}."
            )
        self.precompute_hashes = bool(precompute_hashes)
        self.precompute_num_proc = precompute_num_proc
        self.precompute_batch_size = precompute_batch_size
        self._row_values: Any = None

    @classmethod
    def validate_dataset(
        cls,
        dataset: Any,
        dataset_name: str | None = None,
        *,
        batch_size: int | None = None,
        drop_last: bool = False,
        label_columns: list[str] | None = None,
        **_: Any,
    ) -> list[str]:
        """Problems that stop a run before it starts: duplicates that keep every batch short of ``batch_size``.

        Every row of a batch needs its own value in each text column, so a column with fewer
        distinct values than ``batch_size`` makes every batch short: an error when no batch can be
        even half full, else a warning. A value shared by
        more than ``rows / batch_size`` rows cannot be spread over the epoch's full batches: a
        warning (those rows come in short or repeated batches). Reads string columns with Arrow;
        other datasets are not checked.
        """
        if not batch_size or not hasattr(dataset, "with_format") or not hasattr(dataset, "__len__"):
            return []
        import pyarrow as pa

        where = dataset_name or "the dataset"
        skip = set(label_columns or []) | {"dataset_name"}
        columns = [c for c in (getattr(dataset, "column_names", None) or []) if c not in skip]
        rows = len(dataset)
        if rows == 0 or not columns:
            return []
        counted: list[Any] = []
        fewest: tuple[int, str] | None = None
        for column in columns:
            try:
                values = dataset.with_format("arrow")[column]
            except Exception:  # noqa: BLE001 - not Arrow-backed: left to the sampler
                return []
            if not (pa.types.is_string(values.type) or pa.types.is_large_string(values.type)):
                continue
            counts = values.value_counts()
            if isinstance(counts, pa.ChunkedArray):
                counts = counts.combine_chunks()
            counted.append(counts)
            distinct = len(counts)
            if fewest is None or distinct < fewest[0]:
                fewest = (distinct, column)
        if fewest is None:
            return []
        # A dataset smaller than one batch without duplicates is simply one short batch, as with any sampler.
        if fewest[0] < min(batch_size, rows):
            message = (
                f"{where}: column {fewest[1]!r} has only {fewest[0]} distinct value(s) in {rows} rows, and the "
                f"no_duplicates batch sampler puts no value twice in a batch, so no batch can reach batch_size="
                f"{batch_size} (with an in-batch-negatives loss a batch of 1 teaches nothing). Fix: deduplicate "
                f"the rows, set per_device_train_batch_size to at most {max(fewest[0], 1)}, or use "
                "batch_sampler='batch_sampler' if duplicates in a batch do no harm to your loss."
            )
            if 2 * fewest[0] < min(batch_size, rows):  # every batch at most half full: an error
                return [message]
            warnings.warn(message, UserWarning, stacklevel=2)
            logger.warning(message)
            return []
        table = pa.table(
            {
                "value": pa.concat_arrays([c.field("values").cast(pa.large_string()) for c in counted]),
                "rows": pa.concat_arrays([c.field("counts") for c in counted]),
            }
        )
        totals = table.group_by("value").aggregate([("rows", "sum")])
        shared = totals.column("rows_sum").to_numpy()
        top = int(shared.argmax())
        most = int(shared[top])
        if most > 1 and most * batch_size > rows:
            value = totals.column("value")[top].as_py()
            message = (
                f"{where}: the text {value[:60]!r} is in {most} of {rows} rows; the no_duplicates batch sampler puts "
                f"at most one of them in a batch, but an epoch has only about {rows // batch_size} full batches of "
                f"{batch_size}, so some batches will be short or repeat rows. Fix: deduplicate those rows (e.g. "
                "`dataset.filter`), lower per_device_train_batch_size, or use batch_sampler='batch_sampler'."
            )
            warnings.warn(message, UserWarning, stacklevel=2)
            logger.warning(message)
        return []

    # -- row values --------------------------------------------------------------------------

    def _read_row_values(self) -> Any:
        """Per row, the keys its values are compared by: a frozenset of strings per row, or (hashed)
        one ``(rows, columns)`` int64 matrix whose row ``i`` holds the hashes of row ``i``."""
        if self._row_values is not None:
            return self._row_values
        raw = _raw(self.dataset)
        columns = self.value_columns()
        num_rows = len(raw)
        if not columns and getattr(raw, "column_names", None) is None:
            # A plain indexable dataset of rows (dicts or sequences) rather than a datasets.Dataset.
            self._row_values = [self._encode_row(self._plain_row_values(raw[i])) for i in range(num_rows)]
            return self._row_values
        if self.precompute_hashes and self.precompute_num_proc and self.precompute_num_proc > 1:
            self._row_values = self._hash_with_map(raw, columns)
            return self._row_values
        values: Any = np.empty((num_rows, len(columns)), dtype=np.int64) if self.precompute_hashes else []
        step = self.precompute_batch_size if self.precompute_hashes else max(self.precompute_batch_size, 10_000)
        for start in range(0, num_rows, step):
            stop = min(start + step, num_rows)
            chunk = raw[start:stop] if columns else {}
            cells = [list(chunk[c]) for c in columns]
            for offset in range(stop - start):
                keys = [value_key(column[offset]) for column in cells]
                if self.precompute_hashes:
                    values[start + offset] = [_hash64(key) for key in keys]
                else:
                    values.append(frozenset(keys))
        self._row_values = values
        return values

    def _plain_row_values(self, row: Any) -> list[str]:
        if isinstance(row, dict):
            skip = set(self.valid_label_columns or []) | {"dataset_name"}
            return [value_key(v) for k, v in row.items() if k not in skip]
        if isinstance(row, (list, tuple)):
            return [value_key(v) for v in row]
        return [value_key(row)]

    def _encode_row(self, keys: list[str]) -> Any:
        if self.precompute_hashes:
            return np.fromiter((_hash64(k) for k in keys), dtype=np.int64, count=len(keys))
        return frozenset(keys)

    def _hash_with_map(self, raw: Any, columns: list[str]) -> list[Any]:
        hashed = raw.map(
            _hash_rows,
            batched=True,
            batch_size=self.precompute_batch_size,
            num_proc=self.precompute_num_proc,
            remove_columns=list(raw.column_names),
            fn_kwargs={"columns": columns},
            desc="Hashing dataset values",
        )
        matrix = np.asarray(hashed.with_format("numpy")["__hashes"], dtype=np.int64)
        return matrix.reshape(len(raw), len(columns))

    # -- iteration ---------------------------------------------------------------------------

    def _warn_once(self, kind: str, message: str, *args: Any) -> None:
        warned = self.__dict__.setdefault("_warned", set())
        if kind not in warned:
            warned.add(kind)
            logger.warning(message, *args)

    def _one_pass(self, generator: torch.Generator | None, row_values: Any) -> Iterator[list[int]]:
        """Batches from one shuffle of all rows, greedily skipping rows that repeat a value."""
        num_rows = len(row_values)
        order = torch.randperm(num_rows, generator=generator).tolist()
        overlaps: Callable[[Any, set], bool]
        if self.precompute_hashes:

            def overlaps(values: Any, seen: set) -> bool:
                return any(v in seen for v in values.tolist())

            def add(values: Any, seen: set) -> None:
                seen.update(values.tolist())

        else:

            def overlaps(values: Any, seen: set) -> bool:
                return not values.isdisjoint(seen)

            def add(values: Any, seen: set) -> None:
                seen.update(values)

        batch_size = self.batch_size
        waiting: list[int] = []  # rows skipped so far, in shuffled order; all precede order[cursor]
        cursor = 0
        while waiting or cursor < num_rows:
            batch: list[int] = []
            seen: set = set()
            full = False
            still_waiting: list[int] = []
            position = 0
            while position < len(waiting):
                index = waiting[position]
                position += 1
                values = row_values[index]
                if overlaps(values, seen):
                    still_waiting.append(index)
                    continue
                batch.append(index)
                if len(batch) == batch_size:
                    full = True
                    break
                add(values, seen)
            if full:
                waiting = still_waiting + waiting[position:]
            else:
                waiting = still_waiting
                while cursor < num_rows:
                    index = order[cursor]
                    cursor += 1
                    values = row_values[index]
                    if overlaps(values, seen):
                        waiting.append(index)
                        continue
                    batch.append(index)
                    if len(batch) == batch_size:
                        full = True
                        break
                    add(values, seen)
            if full or not self.drop_last:
                yield batch

    def __iter__(self) -> Iterator[list[int]]:
        num_rows = len(self.dataset)
        expected = len(self)
        if num_rows == 0 or expected == 0:
            return
        row_values = self._read_row_values()
        generator = self.epoch_generator()
        name = type(self).__name__

        yielded = 0
        first_pass = self._one_pass(generator, row_values)
        # The first pass is never cut short: without drop_last its small tail batches may outnumber
        # len(), and cutting them would leave rows out of the epoch (and out of an evaluation).
        for batch in first_pass:
            yield batch
            yielded += 1
        if yielded > expected:
            self._warn_once(
                "surplus",
                "%s: duplicate values split epoch %d into %d batches, %d more than the %d announced, so that "
                "every row is still seen once (logged once per sampler).",
                name,
                self.epoch,
                yielded,
                yielded - expected,
                expected,
            )

        if yielded < expected:
            self._warn_once(
                "short",
                "%s: in epoch %d one pass over the data filled only %d of %d batches without duplicates; "
                "the remaining %d batches are drawn from a new shuffle, so some rows appear twice in the "
                "epoch (logged once per sampler).",
                name,
                self.epoch,
                yielded,
                expected,
                expected - yielded,
            )
        while yielded < expected:
            produced = False
            for batch in self._one_pass(generator, row_values):
                produced = True
                yield batch
                yielded += 1
                if yielded == expected:
                    return
            if not produced:
                raise InvalidInputError(
                    f"{name}: cannot fill a single batch of {self.batch_size} rows without repeating a value; "
                    f"the dataset ({num_rows} rows, columns {self.value_columns()}) has too few distinct values. "
                    "Lower the batch size, de-duplicate the dataset, or use batch_sampler='batch_sampler'."
                )


def _hash64(key: str) -> int:
    """A signed 64-bit hash of ``key`` (xxhash64 when installed, else blake2b)."""
    if _xxh64 is not None:
        value = _xxh64(key.encode("utf-8"))
    else:
        value = int.from_bytes(hashlib.blake2b(key.encode("utf-8"), digest_size=8).digest(), "little")
    return value - (1 << 64) if value >= (1 << 63) else value


def _hash_rows(batch: dict[str, list[Any]], columns: list[str]) -> dict[str, list[list[int]]]:
    # Module level so datasets.map can pickle it for worker processes.
    size = len(next(iter(batch.values()))) if batch else 0
    return {"__hashes": [[_hash64(value_key(batch[c][i])) for c in columns] for i in range(size)]}


try:  # optional, faster
    from xxhash import xxh64_intdigest as _xxh64
except ImportError:  # pragma: no cover - depends on the environment
    _xxh64 = None
