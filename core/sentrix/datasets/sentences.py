"""``SentencesDataset``: a list of ``InputExample`` as a torch Dataset (legacy; kept for old scripts).

Passing the list of examples to the ``DataLoader`` directly does the same::

    loader = DataLoader(SentencesDataset(examples, model), shuffle=True, batch_size=16)
    # is the same as
    loader = DataLoader(examples, shuffle=True, batch_size=16)
"""

from __future__ import annotations

from typing import Any

from torch.utils.data import Dataset


class SentencesDataset(Dataset):
    """Index into ``examples``; ``model`` is accepted for compatibility and not used."""

    def __init__(self, examples: list[Any], model: Any = None) -> None:
        self.examples = examples

    def __getitem__(self, index: int) -> Any:
        return self.examples[index]

    def __len__(self) -> int:
        return len(self.examples)
