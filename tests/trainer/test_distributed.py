"""Two-process (DDP, gloo on CPU) training: dataloader_drop_last is forced, dict-loss components are averaged
over the processes without hanging when each process ran another dataset's loss, a loss's own head stays
identical on every process, and resume is bitwise exact on every process. Spawns torchrun: marked slow."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

_SCRIPT = textwrap.dedent(
    """
    import json, os, sys, pathlib
    sys.path.insert(0, {helpers!r})
    import torch
    from datasets import Dataset
    from trainer_helpers import make_args
    from test_loss_components import _TwoPartLoss
    from sentrix import SentenceTransformer, SentenceTransformerTrainer
    from sentrix.losses import SoftmaxLoss

    out, folder, rank = pathlib.Path({tmp!r}), {folder!r}, int(os.environ["RANK"])
    pairs = Dataset.from_dict({{"sentence1": [f"text {{i}}" for i in range(18)], "sentence2": [f"other {{i}}" for i in range(18)],
                               "score": [i / 18 for i in range(18)]}})
    nli = Dataset.from_dict({{"premise": [f"p {{i}}" for i in range(18)], "hypothesis": [f"h {{i}}" for i in range(18)],
                             "label": [i % 3 for i in range(18)]}})

    def run(resume=None, stop=None):
        torch.manual_seed(rank)  # each process builds a different head: the trainer must align them
        model = SentenceTransformer(folder, device="cpu")
        args = make_args(out, max_steps=4, save_strategy="steps", save_steps=2, ddp_backend="gloo")
        loss = {{"sts": _TwoPartLoss(model), "nli": SoftmaxLoss(model, num_labels=3)}}
        trainer = SentenceTransformerTrainer(model=model, args=args, train_dataset={{"sts": pairs, "nli": nli}}, loss=loss)
        trainer.train(resume_from_checkpoint=resume)
        return model, loss["nli"], trainer

    model_a, head_a, trainer = run()
    assert trainer.args.dataloader_drop_last is True
    logs = [e for e in trainer.state.log_history if "loss" in e]
    assert all({{"ranking", "norm"}} <= e.keys() for e in logs), logs
    model_b, head_b, _ = run(resume=str(out / "out" / "checkpoint-2"))
    a, b = model_a.state_dict(), model_b.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a), "encoder differs after resume"
    assert all(torch.equal(x, y) for x, y in zip(head_a.parameters(), head_b.parameters())), "head differs after resume"
    w = head_b.classifier.weight.detach().clone()
    gathered = [torch.zeros_like(w) for _ in range(2)]
    torch.distributed.all_gather(gathered, w)
    assert torch.equal(gathered[0], gathered[1]), "the heads of the two processes differ"
    print("RANK_OK", rank, flush=True)
    """
)


@pytest.mark.slow
def test_two_process_training_resume_and_loss_components(tmp_path, tiny_folder):
    script = tmp_path / "run.py"
    script.write_text(_SCRIPT.format(helpers=os.path.dirname(__file__), tmp=str(tmp_path), folder=tiny_folder))
    env = dict(os.environ, OMP_NUM_THREADS="1")
    proc = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_port", "29561", str(script)],
        capture_output=True, text=True, timeout=600, env=env,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert proc.stdout.count("RANK_OK") == 2
