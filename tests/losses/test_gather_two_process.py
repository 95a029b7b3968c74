"""gather_across_devices: two CPU processes (gloo) give the loss and gradients of one process seeing the global batch.

Each rank holds half the batch (with hard-negative columns), computes the loss with
``gather_across_devices=True`` and back-propagates; the gradients are then averaged over ranks
as DistributedDataParallel does. The result must equal the loss and gradients of a single
process computing the non-gathered loss on the whole batch (float64, rtol 1e-9).
"""

from __future__ import annotations

import socket

import pytest
import torch
import torch.multiprocessing as mp
from group_a_gather_worker import build, cases, global_batch, load, run
from group_a_helpers import assert_strictly_equal, loss_and_grads


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def dirs(tmp_path_factory):
    from sentrix.testing.tiny_models import tiny_model_folder

    base = tmp_path_factory.mktemp("gather")
    return str(tiny_model_folder(base / "model", seed=1234)), str(tiny_model_folder(base / "guide", seed=5))


def test_two_processes_equal_one_process_on_the_global_batch(dirs, tmp_path):
    model_dir, guide_dir = dirs
    out = tmp_path / "rank0.pt"
    mp.spawn(run, args=(2, _free_port(), model_dir, guide_dir, str(out)), nprocs=2, join=True)
    distributed = torch.load(out)

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        model, guide = load(model_dir, guide_dir)
        for case, name, params, n_columns in cases():
            single = loss_and_grads(model, build(name, model, guide, params, gather=False), global_batch(model, n_columns))
            try:
                assert_strictly_equal(distributed[case], single)
            except AssertionError as exc:
                raise AssertionError(f"{case}: {exc}") from None
    finally:
        torch.set_num_threads(before)
