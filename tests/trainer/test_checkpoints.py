"""Checkpoints: resume exactness, kill -9 while saving, rotation, best model, loading in sentence-transformers."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap

import pytest
import torch
from trainer_helpers import make_args
from transformers import TrainerCallback

from sentrix import SentenceTransformer, SentenceTransformerTrainer


class _StopAt(TrainerCallback):
    def __init__(self, step):
        self.step = step

    def on_step_end(self, args, state, control, **kwargs):
        if state.global_step >= self.step:
            control.should_training_stop = True


def _run(tiny_folder, dataset, args, callbacks=None, resume=None, loss="cosent"):
    model = SentenceTransformer(tiny_folder, device="cpu")
    trainer = SentenceTransformerTrainer(model=model, args=args, train_dataset=dataset, loss=loss, callbacks=callbacks)
    trainer.train(resume_from_checkpoint=resume)
    return model, trainer


def test_resume_gives_the_same_weights_as_an_uninterrupted_run(tmp_path, tiny_folder, pair_score_dataset):
    # 16 rows, batch 4: 4 steps per epoch; 6 steps cross an epoch boundary, dropout is active.
    common = dict(max_steps=6, save_strategy="steps", save_steps=3, warmup_steps=2, weight_decay=0.01)
    straight, _ = _run(tiny_folder, pair_score_dataset, make_args(tmp_path / "a", **common))

    args = make_args(tmp_path / "b", **common)
    _run(tiny_folder, pair_score_dataset, args, callbacks=[_StopAt(3)])
    assert sorted(os.listdir(args.output_dir)) == ["checkpoint-3"]
    resumed, trainer = _run(tiny_folder, pair_score_dataset, make_args(tmp_path / "b", **common), resume=True)
    assert trainer.state.global_step == 6

    a, b = straight.state_dict(), resumed.state_dict()
    assert a.keys() == b.keys()
    worst = max((a[k].float() - b[k].float()).abs().max().item() for k in a)
    assert worst <= 1e-6, f"resumed weights differ from the uninterrupted run by {worst}"


def test_resume_rebinds_losses_with_own_parameters(tmp_path, tiny_folder):
    from datasets import Dataset

    from sentrix.losses import SoftmaxLoss

    data = Dataset.from_dict({"premise": ["a cat", "a dog", "the sun", "a car"] * 2,
                              "hypothesis": ["cats", "dogs", "hot", "road"] * 2, "label": [0, 1, 2, 0] * 2})
    factory = lambda m: SoftmaxLoss(m, embedding_dimension=m.get_sentence_embedding_dimension(), num_labels=3)  # noqa: E731
    args = make_args(tmp_path, max_steps=4, save_strategy="steps", save_steps=2)
    _run(tiny_folder, data, args, callbacks=[_StopAt(2)], loss=factory)
    model, trainer = _run(tiny_folder, data, make_args(tmp_path, max_steps=4, save_strategy="steps", save_steps=2), resume=True, loss=factory)
    assert trainer.loss.model is model
    assert trainer.state.global_step == 4


_KILLED_RUN = textwrap.dedent(
    """
    import os, signal, sys
    sys.path.insert(0, {helpers!r})
    from datasets import Dataset
    from trainer_helpers import make_args
    from pathlib import Path
    from sentrix import SentenceTransformer, SentenceTransformerTrainer

    rows = {rows!r}
    data = Dataset.from_dict(rows)
    model = SentenceTransformer({folder!r}, device="cpu")
    original = type(model).save_pretrained

    def dying_save(self, path, *args, **kwargs):
        original(self, path, *args, **kwargs)
        if "checkpoint-4" in str(path):
            os.kill(os.getpid(), signal.SIGKILL)   # killed half-way through writing checkpoint-4

    type(model).save_pretrained = dying_save
    args = make_args(Path({tmp!r}), max_steps=6, save_strategy="steps", save_steps=2)
    SentenceTransformerTrainer(model=model, args=args, train_dataset=data, loss="cosent").train()
    """
)


def test_kill_during_checkpoint_save_resumes_from_last_complete_checkpoint(tmp_path, tiny_folder, pair_score_dataset):
    script = _KILLED_RUN.format(
        helpers=os.path.dirname(__file__), rows=pair_score_dataset.to_dict(), folder=tiny_folder, tmp=str(tmp_path)
    )
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert proc.returncode == -signal.SIGKILL, proc.stderr[-2000:]
    out = tmp_path / "out"
    names = sorted(os.listdir(out))
    assert "checkpoint-2" in names and "checkpoint-4" not in names, names
    assert any(n.startswith(".sentrix-tmp-checkpoint-4") for n in names)  # the half-written one

    args = make_args(tmp_path, max_steps=6, save_strategy="steps", save_steps=2)
    model = SentenceTransformer(tiny_folder, device="cpu")
    trainer = SentenceTransformerTrainer(model=model, args=args, train_dataset=pair_score_dataset, loss="cosent")
    trainer.train(resume_from_checkpoint=True)
    assert trainer.state.global_step == 6
    # the history restored from checkpoint-2 holds steps 1-2; steps 3-6 were trained after resuming
    assert [e["step"] for e in trainer.state.log_history if "loss" in e] == [1, 2, 3, 4, 5, 6]
    assert not any(n.startswith(".sentrix-tmp") for n in os.listdir(out))
    assert {"checkpoint-2", "checkpoint-4", "checkpoint-6"} <= set(os.listdir(out))


def test_incomplete_checkpoint_is_refused_with_a_clear_message(tmp_path, model, pair_score_dataset):
    broken = tmp_path / "out" / "checkpoint-9"
    broken.mkdir(parents=True)
    (broken / "model.safetensors").write_bytes(b"partial")
    trainer = SentenceTransformerTrainer(model=model, args=make_args(tmp_path), train_dataset=pair_score_dataset)
    with pytest.raises(ValueError, match=r"incomplete \(no trainer_state.json\).*resume_from_checkpoint=True"):
        trainer.train(resume_from_checkpoint=str(broken))
    with pytest.raises(ValueError, match="holds no complete checkpoint"):
        trainer.train(resume_from_checkpoint=True)


@pytest.mark.parametrize("load_best", [False, True])
def test_rotation_only_deletes_this_runs_checkpoints(tmp_path, model, pair_score_dataset, load_best):
    foreign = tmp_path / "out" / "checkpoint-1"
    foreign.mkdir(parents=True)
    (foreign / "notes.txt").write_text("not ours")
    (tmp_path / "out" / "user_file.txt").write_text("keep me")
    extra = dict(eval_strategy="steps", eval_steps=2, load_best_model_at_end=True) if load_best else {}
    args = make_args(tmp_path, max_steps=6, save_strategy="steps", save_steps=2, save_total_limit=1, **extra)
    trainer = SentenceTransformerTrainer(
        model=model, args=args, train_dataset=pair_score_dataset, eval_dataset=pair_score_dataset if load_best else None
    )
    trainer.train()
    kept = os.path.basename(trainer.state.best_model_checkpoint) if load_best else "checkpoint-6"
    names = sorted(os.listdir(tmp_path / "out"))
    assert names == sorted(["checkpoint-1", kept, "user_file.txt"] + (["eval"] if "eval" in names else []))
    assert (foreign / "notes.txt").read_text() == "not ours"


def test_load_best_model_at_end(tmp_path, model, pair_score_dataset):
    args = make_args(
        tmp_path, max_steps=6, save_strategy="steps", save_steps=2, eval_strategy="steps", eval_steps=2,
        load_best_model_at_end=True, metric_for_best_model="eval_loss", greater_is_better=False,
    )
    trainer = SentenceTransformerTrainer(model=model, args=args, train_dataset=pair_score_dataset, eval_dataset=pair_score_dataset)
    trainer.train()
    best = trainer.state.best_model_checkpoint
    assert best and os.path.basename(best).startswith("checkpoint-")
    expected = SentenceTransformer(best, device="cpu").state_dict()
    got = model.state_dict()
    assert all(torch.equal(expected[k], got[k]) for k in expected)
    assert model.model_card_data.best_model_step == int(best.rsplit("-", 1)[1])


@pytest.mark.oracle
def test_checkpoint_and_final_folder_load_in_sentence_transformers(tmp_path, model, pair_score_dataset):
    import sentence_transformers

    args = make_args(tmp_path, max_steps=2, save_strategy="steps", save_steps=2)
    trainer = SentenceTransformerTrainer(model=model, args=args, train_dataset=pair_score_dataset)
    trainer.train()
    final = tmp_path / "final"
    trainer.save_model(str(final))
    texts = ["a cat sat on the mat", "children play football"]
    ours = torch.as_tensor(model.encode(texts))
    for folder in (tmp_path / "out" / "checkpoint-2", final):
        st = sentence_transformers.SentenceTransformer(str(folder), device="cpu")
        theirs = torch.as_tensor(st.encode(texts))
        torch.testing.assert_close(theirs, ours, atol=1e-5, rtol=1e-5)
    modules = json.loads((final / "modules.json").read_text())
    assert [m["type"] for m in modules][:2] == [
        "sentence_transformers.base.modules.transformer.Transformer",
        "sentence_transformers.sentence_transformer.modules.pooling.Pooling",
    ] or all(m["type"].startswith("sentence_transformers.") for m in modules)
