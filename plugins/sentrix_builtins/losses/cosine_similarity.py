"""Cosine similarity loss: regress the cosine of a pair onto its gold score.

Registered as ``cosine_similarity`` (alias ``CosineSimilarityLoss``).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from sentrix.plugin_api import DataNeeds, check_loss_inputs, embed_columns


def _qualified_name(obj: object) -> str:
    cls = obj if isinstance(obj, type) else type(obj)
    module = cls.__module__
    return cls.__name__ if module in (None, "builtins") else f"{module}.{cls.__name__}"


class CosineSimilarityLoss(nn.Module):
    """Make ``cos(u, v)`` of each pair equal its gold score.

    Computes ``loss_fct(cos_score_transformation(cos(u, v)), label)``: by default the mean
    squared error between the cosine similarity of the two embeddings and the label. Labels should
    therefore lie in the cosine's range, usually 0..1 (divide 0-5 STS scores by 5).

    Inputs:
        ============================  ======================================
        text columns                  label
        ============================  ======================================
        ``(sentence_A, sentence_B)``  float similarity score per pair (0..1)
        ============================  ======================================

    Sampler:
        Any (``batch_sampler``); each pair is scored on its own.

    Args:
        model: the model to train.
        loss_fct: the regression loss between transformed cosine and label; default
            ``nn.MSELoss()`` (any ``(input, target) -> loss`` module, e.g. ``nn.L1Loss()``).
        cos_score_transformation: applied to the cosine before ``loss_fct``; default
            ``nn.Identity()``.

    Example:
        .. code-block:: python

            from datasets import Dataset
            from sentrix import SentenceTransformer, SentenceTransformerTrainer
            from sentrix.losses import CosineSimilarityLoss

            model = SentenceTransformer("sentence-transformers/all-MiniLM-L6-v2")
            train = Dataset.from_dict({
                "sentence1": ["A man plays guitar.", "A dog runs."],
                "sentence2": ["Someone plays an instrument.", "A cat sleeps."],
                "score": [0.9, 0.1],
            })
            trainer = SentenceTransformerTrainer(model=model, train_dataset=train, loss=CosineSimilarityLoss(model))
            trainer.train()

    References:
        Reimers and Gurevych, "Sentence-BERT: Sentence Embeddings using Siamese BERT-Networks",
        EMNLP 2019, https://arxiv.org/abs/1908.10084. Related: ``cosent`` and ``angle`` use the same
        data and usually train better models; ``contrastive`` for 0/1 labels.
    """

    data_needs = DataNeeds(text_columns=2, roles=("sentence_A", "sentence_B"), label="float")
    uses_embedding_helper = True

    def __init__(
        self,
        model: nn.Module,
        loss_fct: nn.Module = nn.MSELoss(),
        cos_score_transformation: nn.Module = nn.Identity(),
    ) -> None:
        super().__init__()
        self.model = model
        self.loss_fct = loss_fct
        self.cos_score_transformation = cos_score_transformation

    @classmethod
    def contract_example(cls, model: nn.Module) -> "CosineSimilarityLoss":
        return cls(model)

    def forward(self, sentence_features: list[dict[str, Tensor]], labels: Tensor) -> Tensor:
        check_loss_inputs(self, sentence_features, labels)
        embeddings = embed_columns(self.model, sentence_features)
        return self.compute_loss_from_embeddings(embeddings, labels)

    def compute_loss_from_embeddings(self, embeddings: list[Tensor], labels: Tensor) -> Tensor:
        """The loss for already computed ``[embeddings_A, embeddings_B]``."""
        cosines = torch.cosine_similarity(embeddings[0], embeddings[1])
        return self.loss_fct(self.cos_score_transformation(cosines), labels.float().reshape(-1))

    def get_config_dict(self) -> dict[str, Any]:
        return {
            "loss_fct": _qualified_name(self.loss_fct),
            "cos_score_transformation": _qualified_name(self.cos_score_transformation),
        }

    @property
    def citation(self) -> str:
        return """
@inproceedings{reimers-2019-sentence-bert,
    title = "Sentence-BERT: Sentence Embeddings using Siamese BERT-Networks",
    author = "Reimers, Nils and Gurevych, Iryna",
    booktitle = "Proceedings of the 2019 Conference on Empirical Methods in Natural Language Processing",
    year = "2019",
    publisher = "Association for Computational Linguistics",
    url = "https://arxiv.org/abs/1908.10084",
}
"""
