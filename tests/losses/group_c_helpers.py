"""Comparison helpers of the group C parity tests (distillation, regularisers, layer wrappers, unsupervised).

Both sides run in float64 from identical tiny weights; values and gradients must agree to rtol 1e-9,
with an absolute floor of 1e-5 only for gradient entries that are themselves below 1e-5.
"""

from __future__ import annotations

import random

import torch
from loss_test_helpers import clone_features, make_batch

RTOL = 1e-9
GRAD_FLOOR = 1e-5


def assert_value_close(ours, theirs, what="loss"):
    ours, theirs = torch.as_tensor(ours).double(), torch.as_tensor(theirs).double()
    diff = (ours - theirs).abs().max().item()
    bound = RTOL * theirs.abs().max().item()
    assert diff <= bound, f"{what}: {ours.tolist()} vs {theirs.tolist()} differ by {diff:.3g} (allowed {bound:.3g})"


def assert_grads_close(ours: dict, theirs: dict):
    assert ours and ours.keys() == theirs.keys(), (
        f"the losses reach different parameters: only ours {sorted(set(ours) - set(theirs))[:5]}, "
        f"only theirs {sorted(set(theirs) - set(ours))[:5]}"
    )
    for name in ours:
        a, b = ours[name].double(), theirs[name].double()
        diff = (a - b).abs()
        allowed = torch.where(b.abs() < GRAD_FLOOR, torch.full_like(b, GRAD_FLOOR), RTOL * b.abs())
        worst = (diff - allowed).max().item()
        assert worst <= 0, (
            f"{name}: gradients differ by up to {diff.max().item():.3g} (largest {b.abs().max().item():.3g})"
        )


def named_grads(module, rename=None) -> dict[str, torch.Tensor]:
    out = {}
    for name, parameter in module.named_parameters():
        if parameter.grad is None:
            continue
        out[rename(name) if rename else name] = parameter.grad.detach().clone()
    return out


def run_both(
    ours_loss,
    theirs_loss,
    ours_model,
    theirs_model,
    n_columns,
    labels=None,
    rows=6,
    seed=0,
    python_seed=None,
    batches=None,
):
    """Forward + backward on both sides with the same batch; returns (ours value, theirs value)."""
    if batches is None:
        ours_batch = make_batch(ours_model, n_columns, rows=rows, seed=seed)
        theirs_batch = make_batch(theirs_model, n_columns, rows=rows, seed=seed)
    else:
        ours_batch, theirs_batch = batches
    for a, b in zip(ours_batch, theirs_batch):
        assert torch.equal(a["input_ids"], b["input_ids"]), "the two tokenisers disagree"
    if python_seed is not None:
        random.seed(python_seed)
    ours_value = ours_loss(clone_features(ours_batch), None if labels is None else labels.clone())
    if python_seed is not None:
        random.seed(python_seed)
    theirs_value = theirs_loss(clone_features(theirs_batch), None if labels is None else labels.clone())
    return ours_value, theirs_value


def total(value):
    return sum(value.values()) if isinstance(value, dict) else value
