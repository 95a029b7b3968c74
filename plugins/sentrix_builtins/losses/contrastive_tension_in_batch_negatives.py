"""Contrastive Tension with in-batch negatives: unsupervised training with two copies of the model.

Registered as ``contrastive_tension_in_batch_negatives`` (alias
``ContrastiveTensionLossInBatchNegatives``).
"""

from __future__ import annotations

import copy
import math
from typing import Any, Callable

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from sentrix.plugin_api import (
    DataNeeds,
    InvalidInputError,
    check_loss_inputs,
    cos_sim,
    embed_columns,
    function_name,
    resolve_similarity_fn,
)
from sentrix_builtins.losses.contrastive_tension import CITATION


class ContrastiveTensionLossInBatchNegatives(nn.Module):
    """Match each sentence's embedding from a copy of the model to its embedding from the model, against the batch.

    At construction the loss makes a copy of the model (``model1``). Every sentence of the batch
    is embedded by both; ``scores[i, j] = similarity(model1(s_i), model(s_j)) * scale`` and the
    loss is the mean of the cross-entropies that pick ``j = i`` along the rows and along the
    columns. The scale is a trainable parameter of the loss (stored as ``logit_scale = ln(scale)``),
    and the copy is an ordinary submodule: both are saved in the trainer's checkpoints. After
    training, the model is the one to keep. A stronger signal than ``contrastive_tension``.

    Inputs:
        ===============  ===================================
        text columns     label
        ===============  ===================================
        ``(sentence,)``  none needed (a label is ignored)
        ===============  ===================================

    Sampler:
        ``no_duplicates``: the other sentences of the batch are the negatives, so a repeated
        sentence would be its own negative.

    Args:
        model: the model to train; a copy of it becomes the first encoder.
        scale: initial value of the trainable inverse temperature, default 20.0.
        similarity_fct: matrix similarity, default ``cos_sim``; a callable or a name (``"dot"``,
            then use ``scale=1``).

    Example:
        .. code-block:: python

            from datasets import Dataset
            from sentrix import SentenceTransformer, SentenceTransformerTrainer
            from sentrix.losses import ContrastiveTensionLossInBatchNegatives

            model = SentenceTransformer("sentence-transformers/all-MiniLM-L6-v2")
            train = Dataset.from_dict({"sentence": ["A man is eating food.", "A monkey is playing drums.",
                                                    "The cat sits on the mat.", "It is raining."]})
            loss = ContrastiveTensionLossInBatchNegatives(model)
            trainer = SentenceTransformerTrainer(model=model, train_dataset=train, loss=loss)
            trainer.train()

    References:
        Carlsson et al., "Semantic Re-tuning with Contrastive Tension", ICLR 2021,
        https://openreview.net/forum?id=Ov_sMNau-PF
    """

    data_needs = DataNeeds(
        text_columns=1,
        roles=("sentence",),
        label="any",
        in_batch_negatives=True,
        recommended_sampler="no_duplicates",
    )

    def __init__(self, model: nn.Module, scale: float = 20.0, similarity_fct: Callable | str = cos_sim) -> None:
        super().__init__()
        if isinstance(scale, bool) or not isinstance(scale, (int, float)) or not 0 < scale < math.inf:
            raise InvalidInputError(
                f"ContrastiveTensionLossInBatchNegatives: scale={scale!r} must be a positive finite number (default 20)."
            )
        try:
            self.similarity_fct = resolve_similarity_fn(similarity_fct, pairwise=False)
        except ValueError as exc:
            raise InvalidInputError(
                f"ContrastiveTensionLossInBatchNegatives: similarity_fct={similarity_fct!r}: {exc}"
            ) from None
        self.model = model
        self.model1 = copy.deepcopy(model)
        # created like sentence-transformers does (default float dtype), so both start from the same value
        self.logit_scale = nn.Parameter(torch.ones([]) * math.log(scale))

    @property
    def model2(self) -> nn.Module:
        """The model being trained (sentence-transformers' name for the second encoder)."""
        return self.model

    @classmethod
    def contract_example(cls, model: nn.Module) -> "ContrastiveTensionLossInBatchNegatives":
        return cls(model)

    def forward(self, sentence_features: list[dict[str, Tensor]], labels: Tensor | None = None) -> Tensor:
        check_loss_inputs(self, sentence_features, labels, require_labels=False)
        features = list(sentence_features)[0]
        # each encoder gets its own view: a forward may add its outputs to the dict it is given
        embeddings_1 = embed_columns(self.model1, [dict(features)])[0]
        embeddings_2 = embed_columns(self.model, [dict(features)])[0]
        scores = self.similarity_fct(embeddings_1, embeddings_2) * self.logit_scale.exp()
        targets = torch.arange(scores.size(0), device=scores.device)
        return (F.cross_entropy(scores, targets) + F.cross_entropy(scores.t(), targets)) / 2

    def get_config_dict(self) -> dict[str, Any]:
        return {"scale": self.logit_scale.exp().item(), "similarity_fct": function_name(self.similarity_fct)}

    @property
    def citation(self) -> str:
        return CITATION
