"""Run a sentrix loss and its sentence-transformers 6.2 counterpart on the same batch, and compare.

Both sides load the same tiny model folder, are put in float64 and eval mode (dropout off), see
the same tokenised batch and labels. The loss values must agree to a relative 1e-9, and so must
the gradient of every model (and loss-owned) parameter, elementwise; only gradient entries whose
reference magnitude is below 1e-5 may instead differ by up to 1e-5 in absolute terms.
"""

from __future__ import annotations

from typing import Any, Callable

import pytest
import torch
from loss_test_helpers import clone_features, grads_of, make_batch

RTOL = 1e-9
GRAD_FLOOR = 1e-5


@pytest.fixture(scope="module")
def parity_models(tiny_model_dir):
    """(sentrix model, sentence-transformers model) over the same tiny folder, float64, eval mode.

    Loaded once per test module; ``run_pair`` clears their gradients before every run and nothing
    updates their weights.
    """
    from sentence_transformers import SentenceTransformer as Reference

    from sentrix import SentenceTransformer

    return (
        SentenceTransformer(tiny_model_dir, device="cpu").double().eval(),
        Reference(tiny_model_dir, device="cpu").double().eval(),
    )


@pytest.fixture
def run_pair(parity_models):
    """``run_pair(build_ours, build_theirs, n_columns, labels_fn, rows=6, seed=0, prepare=None)``.

    Returns ``(our loss, their loss, our grads, their grads)``; ``labels_fn(rows)`` gives the labels
    (or None), ``prepare(ours, theirs)`` may copy loss-owned weights across.
    """
    ours_model, theirs_model = parity_models

    def _run(build_ours, build_theirs, n_columns, labels_fn, rows=6, seed=0, prepare=None):
        ours_model.zero_grad(set_to_none=True)
        theirs_model.zero_grad(set_to_none=True)
        return run_losses(ours_model, theirs_model, build_ours, build_theirs, n_columns, labels_fn, rows, seed, prepare)

    return _run


def run_losses(
    ours_model: Any,
    theirs_model: Any,
    build_ours: Callable,
    build_theirs: Callable,
    n_columns: int,
    labels_fn: Callable[[int], torch.Tensor | None],
    rows: int = 6,
    seed: int = 0,
    prepare: Callable | None = None,
):
    ours, theirs = build_ours(ours_model), build_theirs(theirs_model)
    if prepare is not None:
        prepare(ours, theirs)
    batch = make_batch(ours_model, n_columns, rows=rows, seed=seed)
    reference_batch = make_batch(theirs_model, n_columns, rows=rows, seed=seed)
    for ours_features, theirs_features in zip(batch, reference_batch):  # both tokenisers must agree
        assert torch.equal(ours_features["input_ids"], theirs_features["input_ids"])
    labels = labels_fn(rows)
    ours_loss = ours(clone_features(batch), labels.clone() if labels is not None else None)
    theirs_loss = theirs(clone_features(reference_batch), labels.clone() if labels is not None else None)
    ours_loss.backward()
    theirs_loss.backward()
    return ours_loss.detach(), theirs_loss.detach(), _grads(ours), _grads(theirs)


def _grads(loss) -> dict:
    """Gradients of the loss's parameters, the model's under ``model.`` whatever the loss calls it."""
    grads = {}
    for name, grad in grads_of(loss).items():
        head, _, rest = name.partition(".")
        grads[f"model.{rest}" if head == "sentence_embedder" else name] = grad
    return grads


def assert_same(result, allow_zero_loss: bool = False, allow_zero_gradients: bool = False) -> None:
    """Loss values and every parameter's gradient agree (rtol 1e-9; abs 1e-5 floor only for tiny grads)."""
    ours_loss, theirs_loss, ours_grads, theirs_grads = result
    assert ours_loss.dtype == theirs_loss.dtype == torch.float64, (ours_loss.dtype, theirs_loss.dtype)
    torch.testing.assert_close(ours_loss, theirs_loss, rtol=RTOL, atol=0)
    assert ours_grads.keys() == theirs_grads.keys() and ours_grads, "the losses should reach the same parameters"
    checked = 0
    for name, theirs in theirs_grads.items():
        ours = ours_grads[name]
        allowed = torch.where(theirs.abs() < GRAD_FLOOR, torch.full_like(theirs, GRAD_FLOOR), RTOL * theirs.abs())
        diff = (ours - theirs).abs()
        worst = int((diff - allowed).argmax())
        assert bool((diff <= allowed).all()), (
            f"{name}: gradient entry {worst} is {ours.reshape(-1)[worst].item():.17g}, reference "
            f"{theirs.reshape(-1)[worst].item():.17g} (relative difference "
            f"{diff.reshape(-1)[worst].item() / max(theirs.reshape(-1)[worst].abs().item(), 1e-300):.3g})"
        )
        checked += int((theirs.abs() >= GRAD_FLOOR).sum())
    assert checked > 0 or allow_zero_gradients, "no gradient entry was large enough to be compared at rtol 1e-9"
    if not allow_zero_loss:
        assert float(ours_loss) != 0.0
