"""Dict-valued losses: the trainer optimises the sum of the components and logs each one."""

from __future__ import annotations

import pytest
import torch
from torch import nn
from trainer_helpers import make_args

from sentrix import SentenceTransformer, SentenceTransformerTrainer
from sentrix.data_needs import DataNeeds


class _TwoPartLoss(nn.Module):
    """CoSENT plus a small penalty on the embedding norms, returned as a dict or as their sum."""

    data_needs = DataNeeds(text_columns=2, label="float")

    def __init__(self, model, as_dict=True):
        super().__init__()
        from sentrix.losses import CoSENTLoss

        self.model = model
        self.cosent = CoSENTLoss(model)
        self.as_dict = as_dict

    def forward(self, features, labels):
        embeddings = [self.model(f)["sentence_embedding"] for f in features]
        scores = torch.cosine_similarity(embeddings[0], embeddings[1]) * self.cosent.scale
        diff = scores[:, None] - scores[None, :]
        diff = diff - (labels[:, None] < labels[None, :]).float() * 1e12
        ranking = torch.logsumexp(torch.cat([torch.zeros(1), diff.flatten()]), dim=0)
        norm = 0.01 * torch.stack([e.pow(2).sum(dim=1).mean() for e in embeddings]).mean()
        if self.as_dict:
            return {"ranking": ranking, "norm": norm}
        return torch.stack([ranking, norm]).sum()


def _run(tmp_path, tiny_folder, dataset, as_dict):
    model = SentenceTransformer(tiny_folder, device="cpu")
    args = make_args(tmp_path, max_steps=3, eval_strategy="steps", eval_steps=3)
    trainer = SentenceTransformerTrainer(model=model, args=args, train_dataset=dataset, eval_dataset=dataset,
                                         loss=_TwoPartLoss(model, as_dict=as_dict))
    trainer.train()
    return model, trainer


def test_dict_loss_components_are_summed_and_logged(tmp_path, tiny_folder, pair_score_dataset):
    model, trainer = _run(tmp_path / "dict", tiny_folder, pair_score_dataset, as_dict=True)
    reference, _ = _run(tmp_path / "sum", tiny_folder, pair_score_dataset, as_dict=False)
    # the optimiser stepped on the sum: the same weights as a loss that returns the sum itself
    a, b = model.state_dict(), reference.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)

    train_logs = [e for e in trainer.state.log_history if "loss" in e and "eval_loss" not in e]
    assert [e["step"] for e in train_logs] == [1, 2, 3]
    for entry in train_logs:
        assert {"ranking", "norm"} <= entry.keys()
        assert entry["norm"] > 0
        assert entry["loss"] == pytest.approx(entry["ranking"] + entry["norm"], abs=2e-4)

    # evaluation: logged as eval_<component> (per eval dataset: eval_<name>_<component>), like sentence-transformers
    eval_logs = [e for e in trainer.state.log_history if "eval_loss" in e]
    assert len(eval_logs) == 1 and {"eval_ranking", "eval_norm"} <= eval_logs[0].keys()
    assert eval_logs[0]["eval_loss"] == pytest.approx(eval_logs[0]["eval_ranking"] + eval_logs[0]["eval_norm"], abs=2e-4)
    metrics = trainer.evaluate({"sts": pair_score_dataset, "other": pair_score_dataset.select(range(8))})
    assert "eval_sts_ranking" not in metrics  # components go to the log only, as in sentence-transformers
    logged = trainer.state.log_history[-2:]
    assert {"eval_sts_loss", "eval_sts_ranking", "eval_sts_norm"} <= logged[0].keys()
    assert {"eval_other_loss", "eval_other_ranking", "eval_other_norm"} <= logged[1].keys()
    assert logged[1]["eval_other_loss"] == pytest.approx(logged[1]["eval_other_ranking"] + logged[1]["eval_other_norm"], abs=2e-4)
