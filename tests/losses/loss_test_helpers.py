"""Batches and comparisons shared by the loss tests."""

from __future__ import annotations

import torch

SENTENCES = [
    "the cat sits on the mat",
    "a dog runs in the park",
    "the man plays guitar",
    "a woman eats pasta in the kitchen",
    "the child reads a book on the table",
    "the sun shines bright",
    "a red car drives on the street in the city",
    "the boat is on the river",
    "cats are sleeping",
    "a man is playing piano in the park at night",
    "rain falls",
    "the woman reads the newspaper",
]


def features_for(model, texts):
    """Tokenise ``texts`` with ``model`` exactly as the data collator does (one dict per column)."""
    if hasattr(model, "preprocess"):
        return dict(model.preprocess(texts))
    return dict(model.tokenize(texts))


def make_batch(model, n_columns: int, rows: int = 6, seed: int = 0):
    """``n_columns`` tokenised text columns of ``rows`` different-length sentences."""
    g = torch.Generator().manual_seed(seed)
    columns = []
    for _c in range(n_columns):
        idx = torch.randperm(len(SENTENCES), generator=g)[:rows].tolist()
        columns.append(features_for(model, [SENTENCES[i] for i in idx]))
    return columns


def clone_features(features_list):
    return [{k: (v.clone() if isinstance(v, torch.Tensor) else v) for k, v in f.items()} for f in features_list]


def grads_of(model) -> dict[str, torch.Tensor]:
    return {n: p.grad.detach().clone() for n, p in model.named_parameters() if p.grad is not None}
