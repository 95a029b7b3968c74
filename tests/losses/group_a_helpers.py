"""Shared by the group A loss tests (in-batch-negatives family): strict float64 comparison and runners."""

from __future__ import annotations

import torch
from loss_test_helpers import clone_features, grads_of, make_batch

RTOL = 1e-9
SMALL = 1e-5  # gradients below this get an absolute floor of SMALL


def assert_strictly_equal(ours, theirs):
    """Loss values equal to rtol 1e-9; every gradient element too (absolute 1e-5 only where the gradient is below 1e-5)."""
    ours_loss, ours_grads = ours
    theirs_loss, theirs_grads = theirs
    torch.testing.assert_close(ours_loss, theirs_loss, rtol=RTOL, atol=0.0)
    assert ours_grads and ours_grads.keys() == theirs_grads.keys(), "the losses should reach the same parameters"
    for name, theirs_grad in theirs_grads.items():
        diff = (ours_grads[name] - theirs_grad).abs()
        size = theirs_grad.abs()
        allowed = torch.where(size < SMALL, torch.full_like(size, SMALL), RTOL * size)
        worst = (diff / allowed.clamp_min(1e-300)).max().item()
        assert worst <= 1.0, f"{name}: gradients differ by {diff.max().item():.3g} (largest gradient {size.max().item():.3g})"


def loss_and_grads(model, loss, batch, labels=None):
    model.zero_grad(set_to_none=True)
    value = loss(clone_features(batch), labels)
    value.backward()
    return value.detach(), grads_of(model)


def double_pair(load_tiny, load_reference):
    return load_tiny().double(), load_reference().double()


def batches(ours_model, theirs_model, n_columns, rows, seed=0):
    ours = make_batch(ours_model, n_columns, rows=rows, seed=seed)
    theirs = make_batch(theirs_model, n_columns, rows=rows, seed=seed)
    for a, b in zip(ours, theirs):
        assert torch.equal(a["input_ids"], b["input_ids"])
    return ours, theirs
