"""Margin-MSE loss: distil a teacher's score margins between a query's documents.

Registered as ``margin_mse`` (alias ``MarginMSELoss``).
"""

from __future__ import annotations

from typing import Any, Callable

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from sentrix.plugin_api import (
    DataNeeds,
    InvalidInputError,
    check_loss_inputs,
    embed_columns,
    function_name,
    pairwise_dot_score,
    resolve_similarity_fn,
)


class MarginMSELoss(nn.Module):
    """Regress the student's score margins onto a teacher's (Margin-MSE distillation).

    For every row the student scores the query against its first document and against each further
    document; the margins ``s(query, doc_1) - s(query, doc_k)`` are regressed with a mean squared
    error onto the teacher's margins given as the label. The documents need not be strictly a
    positive and negatives: any two documents with a teacher margin work. Usually the labels come
    from a cross-encoder teacher, which makes this the standard way to distil a re-ranker into a
    bi-encoder.

    Inputs:
        ==============================================  ==============================================
        text columns                                    label
        ==============================================  ==============================================
        ``(query, doc_1, doc_2)``                       ``teacher(q, doc_1) - teacher(q, doc_2)``
        ``(query, doc_1, doc_2)``                       ``[teacher(q, doc_1), teacher(q, doc_2)]``
        ``(query, doc_1, doc_2, ..., doc_n+1)``         ``[teacher(q, doc_1) - teacher(q, doc_k)]``
                                                        for k = 2..n+1, shape ``(batch, n)``
        ``(query, doc_1, doc_2, ..., doc_n+1)``         the ``n + 1`` raw teacher scores
        ==============================================  ==============================================

    Sampler:
        ``batch_sampler`` (the default). Each row is scored only against its own documents, so
        in-batch duplicates do no harm and ``no_duplicates`` buys nothing.

    Args:
        model: the model to train (the student).
        similarity_fct: pairwise similarity of the student, default ``pairwise_dot_score``; a
            callable or a name (``"dot"``, ``"cosine"``, ``"pairwise_cos_sim"``...). Use the
            similarity the teacher's margins were computed with.

    Example:
        .. code-block:: python

            from datasets import Dataset
            from sentrix import SentenceTransformer, SentenceTransformerTrainer
            from sentrix.losses import MarginMSELoss

            model = SentenceTransformer("sentence-transformers/all-MiniLM-L6-v2")
            train = Dataset.from_dict({
                "query": ["What is the capital of France?", "Who wrote Hamlet?"],
                "doc_1": ["Paris is the capital of France.", "Hamlet was written by Shakespeare."],
                "doc_2": ["France is in Europe.", "Hamlet is a play."],
                "label": [4.2, 3.1],  # teacher(query, doc_1) - teacher(query, doc_2)
            })
            trainer = SentenceTransformerTrainer(model=model, train_dataset=train, loss=MarginMSELoss(model))
            trainer.train()

    References:
        Hofstätter et al., "Improving Efficient Neural Ranking Models with Cross-Architecture
        Knowledge Distillation", 2020, https://arxiv.org/abs/2010.02666
    """

    data_needs = DataNeeds(
        text_columns=(3, None),
        roles=("query", "doc_1", "doc_2..."),
        label="float",
        label_detail="teacher margins, shape (batch,) or (batch, n_docs - 1), or the raw teacher scores, "
        "shape (batch, n_docs)",
        recommended_sampler="batch_sampler",
    )
    uses_embedding_helper = True

    def __init__(self, model: nn.Module, similarity_fct: Callable | str = pairwise_dot_score) -> None:
        super().__init__()
        self.model = model
        self.similarity_fct = _pairwise(similarity_fct, "MarginMSELoss")

    @classmethod
    def contract_example(cls, model: nn.Module) -> "MarginMSELoss":
        return cls(model)

    def forward(self, sentence_features: list[dict[str, Tensor]], labels: Tensor) -> Tensor:
        check_loss_inputs(self, sentence_features, labels)
        embeddings = embed_columns(self.model, sentence_features)
        return self.compute_loss_from_embeddings(embeddings, labels)

    def compute_loss_from_embeddings(self, embeddings: list[Tensor], labels: Tensor) -> Tensor:
        """The loss for already computed ``[query, doc_1, doc_2, ...]`` embeddings."""
        query, first, others = embeddings[0], embeddings[1], embeddings[2:]
        margins = _teacher_margins(labels, query.shape[0], len(others))
        first_scores = self.similarity_fct(query, first)
        predicted = torch.stack([first_scores - self.similarity_fct(query, other) for other in others], dim=1)
        return F.mse_loss(predicted, margins.to(predicted.dtype))

    def get_config_dict(self) -> dict[str, Any]:
        return {"similarity_fct": function_name(self.similarity_fct)}

    @property
    def citation(self) -> str:
        return """
@misc{hofstätter2021improving,
    title={Improving Efficient Neural Ranking Models with Cross-Architecture Knowledge Distillation},
    author={Sebastian Hofstätter and Sophia Althammer and Michael Schröder and Mete Sertkan and Allan Hanbury},
    year={2021},
    eprint={2010.02666},
    archivePrefix={arXiv},
    primaryClass={cs.IR}
}
"""


def _pairwise(similarity_fct: Any, owner: str) -> Callable:
    try:
        return resolve_similarity_fn(similarity_fct, pairwise=True)
    except ValueError as exc:
        raise InvalidInputError(f"{owner}: similarity_fct={similarity_fct!r} is not usable. {exc}") from None


def _teacher_margins(labels: Tensor, rows: int, n_others: int) -> Tensor:
    """Teacher margins of shape ``(rows, n_others)`` from margins or raw teacher scores."""
    if not isinstance(labels, Tensor):
        raise InvalidInputError(
            f"MarginMSELoss needs teacher margins or scores as labels, got {type(labels).__name__}. Fix: add the "
            "teacher's scores as a 'label' column."
        )
    labels = labels.detach()
    if labels.shape == (rows, n_others + 1):  # raw teacher scores: first document, then the others
        labels = labels[:, :1] - labels[:, 1:]
    elif labels.shape == (rows,):
        labels = labels.unsqueeze(1)
    if labels.shape != (rows, n_others):
        raise InvalidInputError(
            f"MarginMSELoss got labels of shape {tuple(labels.shape)} for {rows} rows and {n_others + 1} documents per "
            f"query; expected the teacher margins, shape ({rows}, {n_others})"
            + (f" or ({rows},)" if n_others == 1 else "")
            + f", or the raw teacher scores, shape ({rows}, {n_others + 1}). Fix: make the label column hold, per row, "
            "teacher(q, doc_1) - teacher(q, doc_k) for each further document, or the teacher scores of all documents."
        )
    return labels
