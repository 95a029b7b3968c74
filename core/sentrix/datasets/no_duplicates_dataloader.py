"""``NoDuplicatesDataLoader``: legacy batches of ``InputExample`` in which no text occurs twice.

For in-batch-negative losses (MultipleNegativesRankingLoss) in ``model.fit`` scripts; ``model.fit``
then trains with the ``no_duplicates`` batch sampler. Texts are compared case-insensitively after
stripping whitespace. Order comes from Python's ``random`` module (seed it with ``random.seed``), as
in sentence-transformers, so a seeded legacy script sees the same batches under both libraries.
New code: ``SentenceTransformerTrainingArguments(batch_sampler="no_duplicates")``.

Example::

    loader = NoDuplicatesDataLoader(examples, batch_size=32)
    model.fit(train_objectives=[(loader, MultipleNegativesRankingLoss(model))], epochs=1)
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from typing import Any

from sentrix.errors import InvalidInputError


def _text_key(text: Any) -> str:
    return str(text).strip().lower()


class NoDuplicatesDataLoader:
    """Yields ``len(examples) // batch_size`` batches per pass; each batch has no repeated text.

    Rows that would repeat a text in the current batch are skipped for now; when the end of the
    examples is reached, they are reshuffled and reading continues from the start, so a pass may
    show some examples twice and others not at all (the behaviour old scripts were tuned with).
    """

    def __init__(self, train_examples: list[Any], batch_size: int) -> None:
        if not isinstance(batch_size, int) or batch_size < 1:
            raise InvalidInputError(f"NoDuplicatesDataLoader: batch_size must be a positive integer, got {batch_size!r}.")
        self.batch_size = batch_size
        self.train_examples = train_examples
        self.collate_fn = None
        self.data_pointer = 0
        random.shuffle(self.train_examples)

    def __len__(self) -> int:
        return len(self.train_examples) // self.batch_size

    def _next_example(self) -> Any:
        example = self.train_examples[self.data_pointer]
        self.data_pointer += 1
        if self.data_pointer >= len(self.train_examples):
            self.data_pointer = 0
            random.shuffle(self.train_examples)
        return example

    def __iter__(self) -> Iterator[Any]:
        for _ in range(len(self)):
            batch: list[Any] = []
            seen: set[str] = set()
            skipped_since_last_add: set[int] = set()
            while len(batch) < self.batch_size:
                example = self._next_example()
                keys = [_text_key(text) for text in example.texts]
                if any(key in seen for key in keys):
                    skipped_since_last_add.add(id(example))
                    if len(skipped_since_last_add) >= len(self.train_examples):
                        raise InvalidInputError(
                            f"NoDuplicatesDataLoader: no example can join a batch of {len(batch)} without repeating a "
                            f"text, so a batch of {self.batch_size} cannot be filled. Lower the batch size or add "
                            "examples with other texts."
                        )
                    continue
                skipped_since_last_add.clear()
                batch.append(example)
                seen.update(keys)
            yield self.collate_fn(batch) if self.collate_fn is not None else batch
