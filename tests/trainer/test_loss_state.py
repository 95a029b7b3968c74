"""The loss-state contract: state owned by a loss (a classifier head) is saved in every checkpoint and
restored on resume, and a checkpoint whose loss state does not match the run's losses is refused."""

from __future__ import annotations

import os

import pytest
import torch
from trainer_helpers import make_args
from transformers import TrainerCallback

from sentrix import SentenceTransformer, SentenceTransformerTrainer
from sentrix.errors import InvalidInputError
from sentrix.training.loss_state import LOSS_STATE_NAME, read_loss_state, restore_loss_state, save_loss_state


class _StopAt(TrainerCallback):
    def __init__(self, step):
        self.step = step

    def on_step_end(self, args, state, control, **kwargs):
        if state.global_step >= self.step:
            control.should_training_stop = True


@pytest.fixture
def nli_dataset():
    from datasets import Dataset

    premises = ["a cat sat", "a dog runs", "the sun is hot", "a car drives", "kids play", "she reads", "a man eats", "rain falls"]
    hypotheses = ["a cat sits", "cats sleep", "it is cold", "a road", "children play", "nobody reads", "food", "it is dry"]
    return Dataset.from_dict({"premise": premises * 2, "hypothesis": hypotheses * 2, "label": [0, 1, 2, 0, 0, 2, 1, 2] * 2})


def _softmax(model, num_labels=3):
    from sentrix.losses import SoftmaxLoss

    torch.manual_seed(0)  # the classifier starts from the same weights in every run
    return SoftmaxLoss(model, embedding_dimension=model.get_sentence_embedding_dimension(), num_labels=num_labels)


def _train(tiny_folder, dataset, args, make_loss, callbacks=None, resume=None):
    model = SentenceTransformer(tiny_folder, device="cpu")
    loss = make_loss(model)
    trainer = SentenceTransformerTrainer(model=model, args=args, train_dataset=dataset, loss=loss, callbacks=callbacks)
    trainer.train(resume_from_checkpoint=resume)
    return model, loss, trainer


def _assert_bitwise_equal(a: dict, b: dict, what: str) -> None:
    assert a.keys() == b.keys()
    differ = [k for k in a if not torch.equal(a[k], b[k])]
    assert not differ, f"{what} differs after resume in {differ[:5]} (max {max((a[k] - b[k]).abs().max().item() for k in differ)})"


def test_resume_with_softmax_loss_is_bitwise_equal_to_an_uninterrupted_run(tmp_path, tiny_folder, nli_dataset):
    # 16 rows, batch 4: 4 steps per epoch; 6 steps cross an epoch boundary, dropout is active.
    common = dict(max_steps=6, save_strategy="steps", save_steps=3, warmup_steps=2, weight_decay=0.01)
    model_a, loss_a, _ = _train(tiny_folder, nli_dataset, make_args(tmp_path / "a", **common), _softmax)

    args = make_args(tmp_path / "b", **common)
    _train(tiny_folder, nli_dataset, args, _softmax, callbacks=[_StopAt(3)])
    assert os.path.isfile(os.path.join(args.output_dir, "checkpoint-3", LOSS_STATE_NAME))
    model_b, loss_b, trainer = _train(tiny_folder, nli_dataset, make_args(tmp_path / "b", **common), _softmax, resume=True)
    assert trainer.state.global_step == 6

    _assert_bitwise_equal(model_a.state_dict(), model_b.state_dict(), "the encoder")
    _assert_bitwise_equal(loss_a.classifier.state_dict(), loss_b.classifier.state_dict(), "the loss head")


def test_resume_with_a_cached_loss_is_bitwise_equal_to_an_uninterrupted_run(tmp_path, tiny_folder, anchor_positive_dataset):
    from sentrix.losses import CachedMultipleNegativesRankingLoss

    def cached(model):
        return CachedMultipleNegativesRankingLoss(model, mini_batch_size=2)

    # 8 rows, batch 4: 2 steps per epoch; each step runs 2 mini-batches whose dropout is replayed for the gradients
    common = dict(max_steps=6, save_strategy="steps", save_steps=3, warmup_steps=2, weight_decay=0.01)
    model_a, _, _ = _train(tiny_folder, anchor_positive_dataset, make_args(tmp_path / "a", **common), cached)
    args = make_args(tmp_path / "b", **common)
    _train(tiny_folder, anchor_positive_dataset, args, cached, callbacks=[_StopAt(3)])
    model_b, _, trainer = _train(tiny_folder, anchor_positive_dataset, make_args(tmp_path / "b", **common), cached, resume=True)
    assert trainer.state.global_step == 6
    _assert_bitwise_equal(model_a.state_dict(), model_b.state_dict(), "the encoder")


def test_checkpoint_holds_only_the_losses_own_state(tmp_path, tiny_folder, nli_dataset):
    args = make_args(tmp_path, max_steps=2, save_strategy="steps", save_steps=2)
    _model, loss, _ = _train(tiny_folder, nli_dataset, args, _softmax)
    saved = read_loss_state(os.path.join(args.output_dir, "checkpoint-2"))
    cls, state = saved[None]
    assert cls.endswith("SoftmaxLoss")
    assert sorted(state) == ["classifier.bias", "classifier.weight"]  # nothing of the model
    assert torch.equal(state["classifier.weight"], loss.classifier.weight.detach())


def test_losses_without_state_write_no_file(tmp_path, tiny_folder, pair_score_dataset):
    args = make_args(tmp_path, max_steps=2, save_strategy="steps", save_steps=2)
    _train(tiny_folder, pair_score_dataset, args, lambda m: "cosent")
    assert not os.path.exists(os.path.join(args.output_dir, "checkpoint-2", LOSS_STATE_NAME))


def test_resume_with_a_different_head_is_refused(tmp_path, tiny_folder, nli_dataset):
    args = make_args(tmp_path, max_steps=2, save_strategy="steps", save_steps=2)
    _train(tiny_folder, nli_dataset, args, _softmax)
    checkpoint = os.path.join(args.output_dir, "checkpoint-2")
    with pytest.raises(InvalidInputError) as info:
        _train(tiny_folder, nli_dataset, make_args(tmp_path, max_steps=4, save_strategy="steps", save_steps=2),
               lambda m: _softmax(m, num_labels=4), resume=checkpoint)
    message = str(info.value)
    assert "Cannot resume from" in message and "different shapes" in message
    assert "classifier.weight: checkpoint (3, " in message and "vs loss (4, " in message
    assert "resume with the same loss(es)" in message

    os.remove(os.path.join(checkpoint, LOSS_STATE_NAME))
    with pytest.raises(InvalidInputError, match=rf"holds no {LOSS_STATE_NAME}, but the loss \(SoftmaxLoss\) owns state"):
        _train(tiny_folder, nli_dataset, make_args(tmp_path, max_steps=4, save_strategy="steps", save_steps=2), _softmax,
               resume=checkpoint)


def test_dict_losses_save_and_restore_per_dataset(tmp_path, model):
    from sentrix.losses import CoSENTLoss

    heads = {"nli": _softmax(model), "sts": CoSENTLoss(model), "other_nli": _softmax(model, num_labels=2)}
    path = save_loss_state(str(tmp_path), heads, model)
    saved = read_loss_state(str(tmp_path))
    assert path and sorted(saved) == ["nli", "other_nli"]

    fresh = {"nli": _softmax(model), "sts": CoSENTLoss(model), "other_nli": _softmax(model, num_labels=2)}
    for head in (fresh["nli"], fresh["other_nli"]):
        torch.nn.init.zeros_(head.classifier.weight)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    restore_loss_state(str(tmp_path), fresh, model)
    for name in ("nli", "other_nli"):
        assert torch.equal(fresh[name].classifier.weight, heads[name].classifier.weight)
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())  # the model is not touched

    swapped = {"nli": _softmax(model, num_labels=2), "sts": CoSENTLoss(model), "other_nli": CoSENTLoss(model)}
    with pytest.raises(InvalidInputError) as info:
        restore_loss_state(str(tmp_path), swapped, model)
    message = str(info.value)
    assert "the loss of dataset 'nli' (SoftmaxLoss) does not match" in message
    assert "the checkpoint holds state of the loss of dataset 'other_nli' (SoftmaxLoss" in message
    assert "this run has CoSENTLoss, which owns no state" in message
