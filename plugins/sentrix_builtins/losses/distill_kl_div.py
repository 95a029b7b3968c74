"""DistillKLDiv loss: match the student's score distribution over a query's documents to a teacher's.

Registered as ``distill_kl_div`` (alias ``DistillKLDivLoss``).
"""

from __future__ import annotations

import logging
import math
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

logger = logging.getLogger(__name__)


class DistillKLDivLoss(nn.Module):
    """KL divergence between the teacher's and the student's softmax over each query's documents.

    For every row the student scores the query against each of its ``N`` documents; those scores
    divided by ``student_temperature`` go through a log-softmax, the teacher scores (the label)
    divided by ``teacher_temperature`` through a softmax, and the loss is
    ``KL(teacher || student)`` averaged over rows and multiplied by ``student_temperature ** 2``
    (which keeps gradient sizes comparable across temperatures). Unlike ``margin_mse`` only the
    teacher's *ranking distribution* is transferred, not its score scale.

    On its first batch the loss checks the teacher scores once: NaN scores stop with an error, and
    scores so spread out that the teacher softmax underflows to exact zeros give a warning with
    the temperature to raise.

    Inputs:
        ==============================================  ==============================================
        text columns                                    label
        ==============================================  ==============================================
        ``(query, doc_1, doc_2)``                       ``[teacher(q, doc_1), teacher(q, doc_2)]``
        ``(query, doc_1, ..., doc_n)``                  the ``n`` teacher scores, shape ``(batch, n)``
        ==============================================  ==============================================

    Sampler:
        ``batch_sampler`` (the default): each row is scored only against its own documents.

    Args:
        model: the model to train (the student).
        similarity_fct: pairwise similarity of the student, default ``pairwise_dot_score``; a
            callable or a name (``"dot"``, ``"cosine"``, ...).
        temperature: softens both distributions, default 1.0 (no scaling); must be > 0 and finite.
        student_temperature: overrides ``temperature`` for the student side (and the ``T ** 2``
            factor); default ``None`` = ``temperature``.
        teacher_temperature: overrides ``temperature`` for the teacher side; default ``None`` =
            ``temperature``. Choose it for the spread of the teacher's scores: a row whose spread
            divided by the temperature exceeds about 100 underflows in float32.

    Example:
        .. code-block:: python

            from datasets import Dataset
            from sentrix import SentenceTransformer, SentenceTransformerTrainer
            from sentrix.losses import DistillKLDivLoss

            model = SentenceTransformer("sentence-transformers/all-MiniLM-L6-v2")
            train = Dataset.from_dict({
                "query": ["What is the capital of France?", "Who wrote Hamlet?"],
                "positive": ["Paris is the capital of France.", "Hamlet was written by Shakespeare."],
                "negative": ["France is in Europe.", "Hamlet is a play."],
                "label": [[9.1, 4.0], [8.7, 5.2]],  # teacher scores of (query, positive), (query, negative)
            })
            trainer = SentenceTransformerTrainer(model=model, train_dataset=train, loss=DistillKLDivLoss(model))
            trainer.train()

    References:
        Lin, Yang and Lin, "Distilling Dense Representations for Ranking using Tightly-Coupled
        Teachers", 2020, https://arxiv.org/abs/2010.11386
    """

    data_needs = DataNeeds(
        text_columns=(3, None),
        roles=("query", "doc_1", "doc_2..."),
        label="float",
        label_detail="the teacher's score of every (query, doc) pair, shape (batch, n_docs)",
        recommended_sampler="batch_sampler",
    )
    uses_embedding_helper = True

    def __init__(
        self,
        model: nn.Module,
        similarity_fct: Callable | str = pairwise_dot_score,
        temperature: float = 1.0,
        student_temperature: float | None = None,
        teacher_temperature: float | None = None,
    ) -> None:
        super().__init__()
        self.model = model
        try:
            self.similarity_fct = resolve_similarity_fn(similarity_fct, pairwise=True)
        except ValueError as exc:
            raise InvalidInputError(
                f"DistillKLDivLoss: similarity_fct={similarity_fct!r} is not usable. {exc}"
            ) from None
        self.temperature = temperature
        self.student_temperature = temperature if student_temperature is None else student_temperature
        self.teacher_temperature = temperature if teacher_temperature is None else teacher_temperature
        for name in ("temperature", "student_temperature", "teacher_temperature"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value < math.inf:
                raise InvalidInputError(
                    f"DistillKLDivLoss: {name}={value!r} must be a positive finite number (1.0 leaves scores unscaled)."
                )
        self._teacher_checked = False

    @classmethod
    def contract_example(cls, model: nn.Module) -> "DistillKLDivLoss":
        return cls(model)

    @classmethod
    def contract_labels(cls, model: nn.Module, batch_size: int, columns: int) -> Tensor:
        generator = torch.Generator().manual_seed(0)
        return torch.rand(batch_size, max(columns - 1, 2), generator=generator) * 10

    def forward(self, sentence_features: list[dict[str, Tensor]], labels: Tensor) -> Tensor:
        check_loss_inputs(self, sentence_features, labels)
        embeddings = embed_columns(self.model, sentence_features)
        return self.compute_loss_from_embeddings(embeddings, labels)

    def compute_loss_from_embeddings(self, embeddings: list[Tensor], labels: Tensor) -> Tensor:
        """The loss for already computed ``[query, doc_1, ..., doc_n]`` embeddings."""
        query, documents = embeddings[0], embeddings[1:]
        rows, n_docs = query.size(0), len(documents)
        if tuple(labels.shape) != (rows, n_docs):
            raise InvalidInputError(
                f"DistillKLDivLoss expects the teacher scores of each row's {n_docs} documents, shape ({rows}, {n_docs}), "
                f"but got labels of shape {tuple(labels.shape)}. Fix: make the label column a list of "
                f"{n_docs} teacher scores per row, in the order of the document columns."
            )
        student = torch.stack([self.similarity_fct(query, document) for document in documents], dim=1)
        student_log_probs = torch.log_softmax(student / self.student_temperature, dim=1)
        teacher = labels.detach()
        teacher_probs = torch.softmax(teacher / self.teacher_temperature, dim=1)
        if not self._teacher_checked:
            self._teacher_checked = True
            self._check_teacher(teacher, teacher_probs)
        loss = F.kl_div(student_log_probs, teacher_probs, reduction="batchmean")
        return loss * self.student_temperature**2

    def _check_teacher(self, scores: Tensor, probabilities: Tensor) -> None:
        scores = scores.float()
        if bool(scores.isnan().any()):
            raise InvalidInputError(
                "DistillKLDivLoss: the teacher scores (labels) contain NaN, which would make the loss and every "
                "gradient NaN. Fix: repair or drop those rows of the label column."
            )
        if bool(scores.isinf().any()):
            return  # -inf marks a document excluded on purpose
        zeros = int((probabilities == 0).sum())
        if zeros:
            spread = float((scores.max(dim=-1).values - scores.min(dim=-1).values).max())
            logger.warning(
                "DistillKLDivLoss: teacher_temperature=%s turns %d of %d teacher probabilities into exact zeros, so "
                "those documents give no training signal (the widest row of teacher scores spans %.1f). Raise "
                "teacher_temperature above %.3g.",
                self.teacher_temperature,
                zeros,
                probabilities.numel(),
                spread,
                spread / 100,
            )

    def get_config_dict(self) -> dict[str, Any]:
        config: dict[str, Any] = {"similarity_fct": function_name(self.similarity_fct), "temperature": self.temperature}
        if self.student_temperature != self.temperature:
            config["student_temperature"] = self.student_temperature
        if self.teacher_temperature != self.temperature:
            config["teacher_temperature"] = self.teacher_temperature
        return config

    @property
    def citation(self) -> str:
        return """
@misc{lin2020distillingdenserepresentationsranking,
      title={Distilling Dense Representations for Ranking using Tightly-Coupled Teachers},
      author={Sheng-Chieh Lin and Jheng-Hong Yang and Jimmy Lin},
      year={2020},
      eprint={2010.11386},
      archivePrefix={arXiv},
      primaryClass={cs.IR},
      url={https://arxiv.org/abs/2010.11386},
}
"""
