"""CoSENT loss: rank the similarities of all pairs in a batch in the order of their gold scores.

Registered as ``cosent`` (alias ``CoSENTLoss``).
"""

from __future__ import annotations

from typing import Any, Callable

import torch
from torch import Tensor, nn

from sentrix.plugin_api import (
    DataNeeds,
    check_loss_inputs,
    embed_columns,
    function_name,
    pairwise_cos_sim,
    resolve_similarity_fn,
)


class CoSENTLoss(nn.Module):
    """Rank the similarities of all pairs in a batch in the order of their gold scores (CoSENT).

    For every two pairs ``(i, j)`` and ``(k, l)`` of a batch where ``(i, j)`` has the higher gold
    score, the model is penalised when it scores ``(k, l)`` above ``(i, j)``:
    ``loss = log(1 + sum exp(scale * (s(k, l) - s(i, j))))``. Only the order of the scores
    matters, so labels may be on any scale (0-5 STS scores work unchanged); tied labels form no
    ordered pair. It usually gives a stronger signal than regressing the cosine onto the score.

    Inputs:
        ============================  ===============================
        text columns                  label
        ============================  ===============================
        ``(sentence_A, sentence_B)``  float similarity score per pair
        ============================  ===============================

    Sampler:
        Any (``batch_sampler``); pairs are ranked against the other pairs of the batch, but no
        in-batch negatives are built.

    Args:
        model: the model to train.
        scale: inverse temperature applied to the score differences; default 20.0.
        similarity_fct: pairwise similarity of the two embeddings; default ``pairwise_cos_sim``.
            A callable ``(a, b) -> scores`` or a name (``"cosine"``, ``"dot"``,
            ``"pairwise_dot_score"``, ...). ``angle`` (``AnglELoss``) is this loss with
            ``pairwise_angle_sim``.

    Example:
        .. code-block:: python

            from datasets import Dataset
            from sentrix import SentenceTransformer, SentenceTransformerTrainer
            from sentrix.losses import CoSENTLoss

            model = SentenceTransformer("sentence-transformers/all-MiniLM-L6-v2")
            train = Dataset.from_dict({
                "sentence1": ["A man plays guitar.", "A dog runs."],
                "sentence2": ["Someone plays an instrument.", "A cat sleeps."],
                "score": [0.9, 0.1],
            })
            trainer = SentenceTransformerTrainer(model=model, train_dataset=train, loss=CoSENTLoss(model))
            trainer.train()

    References:
        Huang et al., "CoSENT: Consistent Sentence Embedding via Similarity Ranking", IEEE/ACM
        TASLP 2024, https://doi.org/10.1109/TASLP.2024.3402087. Related: ``cosine_similarity``
        regresses the cosine onto the label (a weaker signal).
    """

    data_needs = DataNeeds(text_columns=2, roles=("sentence_A", "sentence_B"), label="float")
    uses_embedding_helper = True

    def __init__(self, model: nn.Module, scale: float = 20.0, similarity_fct: Callable = pairwise_cos_sim) -> None:
        super().__init__()
        self.model = model
        self.scale = scale
        self.similarity_fct = resolve_similarity_fn(similarity_fct, pairwise=True)

    @classmethod
    def contract_example(cls, model: nn.Module) -> "CoSENTLoss":
        return cls(model)

    def forward(self, sentence_features: list[dict[str, Tensor]], labels: Tensor) -> Tensor:
        check_loss_inputs(self, sentence_features, labels)
        embeddings = embed_columns(self.model, sentence_features)
        return self.compute_loss_from_embeddings(embeddings, labels)

    def compute_loss_from_embeddings(self, embeddings: list[Tensor], labels: Tensor) -> Tensor:
        """The loss for already computed ``[embeddings_A, embeddings_B]``."""
        scores = self.similarity_fct(embeddings[0], embeddings[1])
        if scores.dtype in (torch.float16, torch.bfloat16):
            scores = scores.float()
        scores = scores.reshape(-1) * self.scale
        labels = labels.reshape(-1)
        if labels.dtype == torch.bool:
            labels = labels.int()
        # Pair (k, l) counts against pair (i, j) when label[i, j] > label[k, l]:
        # differences[a, b] = s_b - s_a for every b scored below a.
        differences = scores[None, :] - scores[:, None]
        higher = labels[:, None] > labels[None, :]
        differences = differences.masked_fill(~higher, float("-inf"))
        differences = torch.cat((differences.new_zeros(1), differences.reshape(-1)))
        return torch.logsumexp(differences, dim=0)

    def get_config_dict(self) -> dict[str, Any]:
        return {"scale": self.scale, "similarity_fct": function_name(self.similarity_fct)}

    @property
    def citation(self) -> str:
        return """
@article{huang2024cosent,
    title={CoSENT: Consistent Sentence Embedding via Similarity Ranking},
    author={Huang, Xiang and Peng, Hao and Zou, Dongcheng and Liu, Zhiwei and Li, Jianxin and Liu, Kay and Wu, Jia and Su, Jianlin and Yu, Philip S.},
    journal={IEEE/ACM Transactions on Audio, Speech, and Language Processing},
    year={2024},
    doi={10.1109/TASLP.2024.3402087}
}
"""
