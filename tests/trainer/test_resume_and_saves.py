"""Resume picks the right checkpoint and adds nothing to a finished run; saves are atomic and keep the user's files."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil

import pytest
import torch
from trainer_helpers import make_args

from sentrix import SentenceTransformer, SentenceTransformerTrainer
from sentrix.errors import InvalidInputError
from sentrix.sampler import DefaultBatchSampler
from sentrix.training import checkpoints, model_folder


def _digest(folder) -> dict[str, str]:
    out = {}
    for root, _dirs, files in os.walk(folder):
        for name in files:
            path = os.path.join(root, name)
            with open(path, "rb") as fh:
                out[os.path.relpath(path, folder)] = hashlib.sha256(fh.read()).hexdigest()
    return out


def _trainer(tiny_folder, dataset, args, **kwargs):
    model = SentenceTransformer(tiny_folder, device="cpu")
    return model, SentenceTransformerTrainer(model=model, args=args, train_dataset=dataset, **kwargs)


def test_resuming_a_finished_run_adds_no_step_and_rewrites_nothing(tmp_path, tiny_folder, pair_score_dataset):
    # 4 steps per epoch: the last step (6) is in the middle of the second epoch
    common = dict(max_steps=6, save_strategy="steps", save_steps=3)
    model, trainer = _trainer(tiny_folder, pair_score_dataset, make_args(tmp_path, **common))
    trainer.train()
    out = tmp_path / "out"
    before = {name: _digest(out / name) for name in os.listdir(out)}
    assert sorted(before) == ["checkpoint-3", "checkpoint-6"]

    resumed, trainer = _trainer(tiny_folder, pair_score_dataset, make_args(tmp_path, **common))
    trainer.train(resume_from_checkpoint=True)
    assert trainer.state.global_step == 6
    assert {name: _digest(out / name) for name in os.listdir(out)} == before  # no checkpoint-7, nothing rewritten
    a, b = model.state_dict(), resumed.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)


def _fake_checkpoint(folder, step, run_id, written_at, complete=True):
    path = folder / f"checkpoint-{step}"
    path.mkdir(parents=True)
    (path / "sentrix_run.json").write_text(json.dumps({"run_id": run_id, "step": step, "written_at": written_at}))
    if complete:
        (path / "trainer_state.json").write_text("{}")
    return str(path)


def test_resume_picks_this_runs_newest_complete_checkpoint_and_says_why(tmp_path, caplog):
    out = tmp_path / "out"
    _fake_checkpoint(out, 10, "old-run", 100.0)  # higher step, but another (older) run
    _fake_checkpoint(out, 2, "new-run", 200.0)
    chosen = _fake_checkpoint(out, 4, "new-run", 300.0)
    _fake_checkpoint(out, 6, "new-run", 400.0, complete=False)  # killed while saving
    (out / ".sentrix-tmp-checkpoint-8").mkdir()
    with caplog.at_level(logging.INFO, logger="sentrix.training.checkpoints"):
        assert checkpoints.resolve_resume_checkpoint(True, str(out)) == chosen
    text = caplog.text
    assert "Resuming from" in text and "checkpoint-4" in text and "new-run" in text
    assert "checkpoint-10: written by another run (old-run)" in text
    assert "checkpoint-6: incomplete" in text
    assert "checkpoint-2: an older checkpoint (step 2) of the same run" in text
    assert ".sentrix-tmp-checkpoint-8: a temporary or trash folder" in text


def test_a_new_run_never_touches_another_runs_checkpoints(tmp_path, tiny_folder, pair_score_dataset):
    common = dict(max_steps=2, save_strategy="steps", save_steps=2)
    _model, first = _trainer(tiny_folder, pair_score_dataset, make_args(tmp_path, **common))
    first.train()
    out = tmp_path / "out"
    before = _digest(out)

    _model, second = _trainer(tiny_folder, pair_score_dataset, make_args(tmp_path, **common))
    with pytest.raises(InvalidInputError, match=r"checkpoints of another run \(checkpoint-2\).*resume_from_checkpoint=True"
                       r".*another output_dir.*overwrite_output_dir=True"):
        second.train()
    assert _digest(out) == before

    # the explicit option: this run may replace the same-numbered checkpoint, and a resume then continues it
    _model, third = _trainer(tiny_folder, pair_score_dataset, make_args(tmp_path, overwrite_output_dir=True, **common))
    third.train()
    marker = json.loads((out / "checkpoint-2" / "sentrix_run.json").read_text())
    assert marker["run_id"] == third._run_id != first._run_id
    assert checkpoints.choose_resume_checkpoint(str(out)) == str(out / "checkpoint-2")


def test_final_save_keeps_the_users_readme_and_writes_the_card_beside_it(tmp_path, model, caplog):
    out = tmp_path / "out"
    out.mkdir()
    (out / "README.md").write_text("my notes")
    (out / "data.csv").write_text("a,b\n")
    trainer = SentenceTransformerTrainer(model=model, args=make_args(tmp_path))
    with caplog.at_level(logging.WARNING, logger="sentrix.training.model_folder"):
        trainer.save_model()
    assert (out / "README.md").read_text() == "my notes" and (out / "data.csv").read_text() == "a,b\n"
    assert (out / "README.sentrix.md").read_text().startswith("---")
    assert str(out / "README.sentrix.md") in caplog.text
    trainer.create_model_card()
    assert (out / "README.md").read_text() == "my notes"

    trainer = SentenceTransformerTrainer(model=model, args=make_args(tmp_path, overwrite_output_dir=True))
    trainer.save_model()
    assert (out / "README.md").read_text().startswith("---")


def test_final_save_is_swapped_in_whole_and_removes_the_previous_models_extra_files(tmp_path, tiny_folder):
    from sentrix.models import Normalize

    out = tmp_path / "out"
    out.mkdir()
    (out / "notes.txt").write_text("keep")
    with_norm = SentenceTransformer(tiny_folder, device="cpu")
    with_norm.append(Normalize())
    SentenceTransformerTrainer(model=with_norm, args=make_args(tmp_path)).save_model()
    old_entries = set(model_folder.read_manifest(str(out)))
    assert any("Normalize" in name for name in old_entries)

    plain = SentenceTransformer(tiny_folder, device="cpu")
    with torch.no_grad():
        next(plain.parameters()).add_(1.0)
    SentenceTransformerTrainer(model=plain, args=make_args(tmp_path)).save_model()
    names = set(os.listdir(out))
    assert not any("Normalize" in name for name in names), names  # the old model's extra module is gone
    assert names == set(model_folder.read_manifest(str(out))) | {"notes.txt"}
    loaded = SentenceTransformer(str(out), device="cpu")
    assert all(torch.equal(a, b) for a, b in zip(loaded.state_dict().values(), plain.state_dict().values()))


def test_a_save_killed_while_swapping_is_finished_by_the_next_run_and_one_killed_before_changes_nothing(
    tmp_path, tiny_folder, monkeypatch
):
    out = tmp_path / "out"
    old = SentenceTransformer(tiny_folder, device="cpu")
    SentenceTransformerTrainer(model=old, args=make_args(tmp_path)).save_model()
    old_digest = _digest(out)
    new = SentenceTransformer(tiny_folder, device="cpu")
    with torch.no_grad():
        next(new.parameters()).add_(1.0)
    trainer = SentenceTransformerTrainer(model=new, args=make_args(tmp_path))

    class Killed(BaseException):
        pass

    # killed while the new model is being written: the old model stays, the temporary folder goes next time
    def dying_save(output_dir=None, state_dict=None):
        os.makedirs(output_dir)
        (open(os.path.join(output_dir, "model.safetensors"), "wb")).close()
        raise Killed

    monkeypatch.setattr(trainer, "_save", dying_save)
    monkeypatch.setattr(shutil, "rmtree", lambda *a, **k: None)  # a kill runs no clean-up
    with pytest.raises(Killed):
        trainer.save_model()
    monkeypatch.undo()
    model_folder.recover(str(out))
    assert _digest(out) == old_digest

    # killed half-way through the renames: recover() completes the new model
    real_replace = os.replace
    calls = []

    def dying_replace(src, dst):
        if ".sentrix-trash-" in str(dst):  # the old model's files moving aside
            calls.append(dst)
            if len(calls) == 3:
                raise Killed
        real_replace(src, dst)

    monkeypatch.setattr(model_folder.os, "replace", dying_replace)
    monkeypatch.setattr(shutil, "rmtree", lambda *a, **k: None)
    with pytest.raises(Killed):
        trainer.save_model()
    monkeypatch.undo()
    assert any(name.startswith(".sentrix-") for name in os.listdir(out))
    model_folder.recover(str(out))
    assert not any(name.startswith((".sentrix-tmp", ".sentrix-trash")) for name in os.listdir(out))
    loaded = SentenceTransformer(str(out), device="cpu")
    assert all(torch.equal(a, b) for a, b in zip(loaded.state_dict().values(), new.state_dict().values()))


def test_save_refuses_to_overwrite_files_no_save_wrote(tmp_path, model):
    out = tmp_path / "out"
    out.mkdir()
    (out / "config.json").write_text('{"mine": true}')
    trainer = SentenceTransformerTrainer(model=model, args=make_args(tmp_path))
    with pytest.raises(InvalidInputError, match=r"would overwrite \['config.json'\].*Nothing was changed.*overwrite_output_dir"):
        trainer.save_model()
    assert sorted(os.listdir(out)) == ["config.json"]


def test_rotation_renames_a_checkpoint_before_deleting_it(tmp_path, model, pair_score_dataset, monkeypatch):
    deleted = []
    real_rmtree = shutil.rmtree

    def recording_rmtree(path, *args, **kwargs):
        deleted.append((os.path.basename(path), sorted(os.listdir(os.path.dirname(path)))))
        return real_rmtree(path, *args, **kwargs)

    monkeypatch.setattr(checkpoints.shutil, "rmtree", recording_rmtree)
    args = make_args(tmp_path, max_steps=6, save_strategy="steps", save_steps=2, save_total_limit=1)
    SentenceTransformerTrainer(model=model, args=args, train_dataset=pair_score_dataset).train()
    rotated = [(name, listing) for name, listing in deleted if name.startswith(".sentrix-trash-checkpoint-")]
    assert [name.split("-")[3] for name, _ in rotated] == ["2", "4"]
    for name, listing in rotated:  # at deletion time the checkpoint is already gone under its own name
        assert f"checkpoint-{name.split('-')[3]}" not in listing
    assert sorted(os.listdir(tmp_path / "out")) == ["checkpoint-6"]


class _StatefulSampler(DefaultBatchSampler):
    loaded: list = []

    def state_dict(self):
        return {**super().state_dict(), "visits": 3}

    def load_state_dict(self, state):
        type(self).loaded.append(state)
        super().load_state_dict(state)


class _StatefulEvaluator:
    loaded: list = []
    greater_is_better = True
    primary_metric = "score"

    def __call__(self, model, output_path=None, epoch=-1, steps=-1):
        return {"score": 1.0}

    def state_dict(self):
        return {"seen": torch.tensor([1.0, 2.0])}

    def load_state_dict(self, state):
        type(self).loaded.append(state)


def test_sampler_and_evaluator_state_go_into_checkpoints_and_come_back(tmp_path, tiny_folder, pair_score_dataset):
    common = dict(max_steps=4, save_strategy="steps", save_steps=2, batch_sampler=_StatefulSampler,
                  eval_strategy="steps", eval_steps=2)
    _model, trainer = _trainer(tiny_folder, pair_score_dataset, make_args(tmp_path, **common), evaluator=_StatefulEvaluator())
    trainer.train()
    saved = torch.load(tmp_path / "out" / "checkpoint-2" / checkpoints.SAMPLER_STATE_NAME, weights_only=True)
    assert saved["state"] == {"epoch": 0, "seed": 7, "visits": 3}
    assert (tmp_path / "out" / "checkpoint-2" / checkpoints.EVALUATOR_STATE_NAME).is_file()

    shutil.rmtree(tmp_path / "out" / "checkpoint-4")
    _model, trainer = _trainer(tiny_folder, pair_score_dataset, make_args(tmp_path, **common), evaluator=_StatefulEvaluator())
    trainer.train(resume_from_checkpoint=True)
    assert _StatefulSampler.loaded == [{"epoch": 0, "seed": 7, "visits": 3}]
    assert torch.equal(_StatefulEvaluator.loaded[0]["seen"], torch.tensor([1.0, 2.0]))


def test_a_checkpoint_folder_the_run_did_not_write_is_never_replaced(tmp_path, model, pair_score_dataset):
    mine = tmp_path / "out" / "checkpoint-2"
    mine.mkdir(parents=True)
    (mine / "notes.txt").write_text("my own folder")
    args = make_args(tmp_path, max_steps=2, save_strategy="steps", save_steps=2)
    trainer = SentenceTransformerTrainer(model=model, args=args, train_dataset=pair_score_dataset)
    with pytest.raises(InvalidInputError, match=r"checkpoint-2' exists and was not written by this run.*overwrite_output_dir"):
        trainer.train()
    assert sorted(os.listdir(mine)) == ["notes.txt"]
    assert not any(name.startswith(".sentrix-") for name in os.listdir(tmp_path / "out"))
