"""Worker of test_gather_two_process: one rank of a 2-process gloo group (CPU)."""

from __future__ import annotations

import os
import warnings

import torch

ROWS = 8  # global batch


def cases():
    """(name, registered loss, params, text columns): every group A loss that has gather_across_devices."""
    return [
        ("mnrl", "multiple_negatives_ranking", {}, 4),
        ("mnrl-all-directions", "multiple_negatives_ranking",
         {"directions": ("query_to_doc", "query_to_query", "doc_to_query", "doc_to_doc"),
          "hardness_mode": "all_negatives", "hardness_strength": 2.0}, 3),
        ("cached-mnrl", "cached_multiple_negatives_ranking", {"mini_batch_size": 3}, 4),
        ("symmetric", "multiple_negatives_symmetric_ranking", {}, 3),
        ("cached-symmetric", "cached_multiple_negatives_symmetric_ranking", {"mini_batch_size": 3}, 3),
        # anchor-anchor pairs never cross processes (as in sentence-transformers), so only without them
        # does the gathered loss equal the single-process one
        ("gist", "gist_embed", {"contrast_anchors": False, "margin": 0.01}, 3),
        ("cached-gist", "cached_gist_embed", {"contrast_anchors": False, "margin": 0.01, "mini_batch_size": 3}, 4),
    ]


def load(model_dir, guide_dir):
    from sentrix import SentenceTransformer

    return (SentenceTransformer(model_dir, device="cpu").eval().double(),
            SentenceTransformer(guide_dir, device="cpu").eval().double())


def build(name, model, guide, params, gather):
    from sentrix.registry import losses

    params = dict(params, gather_across_devices=gather)
    if "gist" in name:
        params["guide"] = guide
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        return losses.create(name, model=model, **params)


def global_batch(model, n_columns):
    from loss_test_helpers import make_batch

    return make_batch(model, n_columns, rows=ROWS, seed=11)


def rank_rows(features, rank, world):
    per = ROWS // world
    return {k: (v[rank * per:(rank + 1) * per] if isinstance(v, torch.Tensor) and v.ndim and v.shape[0] == ROWS else v)
            for k, v in features.items()}


def run(rank, world, port, model_dir, guide_dir, out_path):
    import torch.distributed as dist

    torch.set_num_threads(1)
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    dist.init_process_group("gloo", rank=rank, world_size=world)
    try:
        model, guide = load(model_dir, guide_dir)
        results = {}
        for case, name, params, n_columns in cases():
            batch = [rank_rows(f, rank, world) for f in global_batch(model, n_columns)]
            model.zero_grad(set_to_none=True)
            loss = build(name, model, guide, params, gather=True)(batch, None)
            loss.backward()
            value = loss.detach().clone()
            dist.all_reduce(value)
            grads = {}
            for pname, p in model.named_parameters():
                if p.grad is None:  # the same parameters on every rank
                    continue
                g = p.grad.clone()
                dist.all_reduce(g)  # what DDP does (sum here, then / world below)
                grads[pname] = g / world
            results[case] = (value / world, grads)
        if rank == 0:
            torch.save(results, out_path)
    finally:
        dist.destroy_process_group()
