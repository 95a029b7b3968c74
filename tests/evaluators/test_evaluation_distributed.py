"""Two processes (torch.distributed, gloo on CPU) split an evaluation round's encoding and both get
the metrics of a one-process run, bit for bit (so best-model selection agrees on every rank)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

WORKER = textwrap.dedent(
    """
    import json, os, sys
    import torch
    import torch.distributed as dist

    torch.set_num_threads(1)
    rank, world, folder, data, init, out = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5], sys.argv[6]
    if world > 1:
        dist.init_process_group("gloo", init_method=init, rank=rank, world_size=world)
    from sentrix.evaluation import EmbeddingSimilarityEvaluator, InformationRetrievalEvaluator, SequentialEvaluator, TripletEvaluator
    from sentrix.evaluation_round import evaluation_round
    from sentrix.model import SentenceTransformer

    d = json.load(open(data))
    model = SentenceTransformer(folder, device="cpu")
    evaluator = SequentialEvaluator([
        EmbeddingSimilarityEvaluator(d["s1"], d["s2"], d["scores"], name="sts"),
        TripletEvaluator(d["anchors"], d["positives"], d["negatives"], name="nli"),
        InformationRetrievalEvaluator(d["queries"], d["corpus"], {q: set(v) for q, v in d["relevant"].items()}, name="ir"),
    ])
    with evaluation_round(model) as round_:
        metrics = evaluator(model)
    json.dump({"metrics": metrics, "stats": round_.stats, "distributed": round_.distributed}, open(out, "w"))
    if world > 1:
        dist.barrier()
        dist.destroy_process_group()
    """
)


def test_two_processes_get_the_one_process_metrics(tmp_path, tiny_folder, sts_sample, triplet_sample, scifact_sample):
    data = {
        "s1": sts_sample["sentences1"], "s2": sts_sample["sentences2"], "scores": sts_sample["scores"],
        "anchors": triplet_sample["anchor"], "positives": triplet_sample["positive"], "negatives": triplet_sample["negative"],
        "queries": scifact_sample["queries"], "corpus": scifact_sample["corpus"],
        "relevant": {q: sorted(v) for q, v in scifact_sample["relevant_docs"].items()},
    }
    (tmp_path / "data.json").write_text(json.dumps(data), encoding="utf-8")
    (tmp_path / "worker.py").write_text(WORKER, encoding="utf-8")
    env = {**os.environ, "OMP_NUM_THREADS": "1", "TOKENIZERS_PARALLELISM": "false"}

    def launch(rank: int, world: int, name: str) -> subprocess.Popen:
        args = [sys.executable, str(tmp_path / "worker.py"), str(rank), str(world), tiny_folder, str(tmp_path / "data.json"),
                f"file://{tmp_path / 'rendezvous'}", str(tmp_path / name)]
        return subprocess.Popen(args, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)

    procs = [launch(0, 2, "rank0.json"), launch(1, 2, "rank1.json"), launch(0, 1, "single.json")]
    for proc in procs:
        output, _ = proc.communicate(timeout=600)  # ~15 s on an idle 2-core machine
        assert proc.returncode == 0, output[-3000:]
    rank0, rank1, single = (json.loads((tmp_path / n).read_text()) for n in ("rank0.json", "rank1.json", "single.json"))

    assert rank0["distributed"] and rank1["distributed"] and not single["distributed"]
    assert rank0["metrics"] == rank1["metrics"] == single["metrics"]
    assert len(single["metrics"]) == 19  # sts 2 + nli 1 + ir 15 + sequential_score
    # the work was split: each process encoded part of the texts, together all of them once
    assert 0 < rank0["stats"]["texts_encoded"] < single["stats"]["texts_encoded"]
    assert rank0["stats"]["texts_encoded"] + rank1["stats"]["texts_encoded"] == single["stats"]["texts_encoded"]
