"""Softmax loss: classify each sentence pair from its two embeddings (the original SBERT NLI objective).

Registered as ``softmax`` (alias ``SoftmaxLoss``).
"""

from __future__ import annotations

import warnings
from typing import Any, Callable, Sequence

import torch
from torch import Tensor, nn

from sentrix.plugin_api import (
    DataNeeds,
    InvalidInputError,
    check_loss_inputs,
    embed_columns,
    embedding_dimension_of,
    model_device,
)
from sentrix_builtins.losses import _dataset_checks as checks


class SoftmaxLoss(nn.Module):
    """Train embeddings through a linear classifier over the pair ``(u, v, |u - v|)``.

    The two embeddings ``u`` and ``v`` are concatenated (by default ``[u; v; |u - v|]``,
    optionally with ``u * v``), fed to a new ``nn.Linear`` with ``num_labels`` outputs, and
    ``loss_fct`` (cross-entropy) is applied to the class label. The classifier is trained together
    with the model and kept in the loss's state (so checkpoints and resume carry it), but it is
    not part of the saved model. Called with ``labels=None`` it returns ``(embeddings, logits)``
    instead of a loss, which is how label-accuracy evaluation reads the classifier.

    Inputs:
        ============================  =======================================
        text columns                  label
        ============================  =======================================
        ``(sentence_A, sentence_B)``  integer class id in ``[0, num_labels)``
        ============================  =======================================

    Sampler:
        Any (``batch_sampler``); each pair is classified on its own.

    Args:
        model: the model to train.
        embedding_dimension: size of the model's embeddings; read from the model when omitted.
        num_labels: number of classes (required, e.g. 3 for NLI).
        concatenation_sent_rep: include ``u`` and ``v`` in the classifier input; default True.
        concatenation_sent_difference: include ``|u - v|``; default True.
        concatenation_sent_multiplication: include ``u * v``; default False.
        loss_fct: loss on the logits and labels; default ``nn.CrossEntropyLoss()``.
        sentence_embedding_dimension: older name of ``embedding_dimension`` (keyword only; warns).

    Example:
        .. code-block:: python

            from datasets import Dataset
            from sentrix import SentenceTransformer, SentenceTransformerTrainer
            from sentrix.losses import SoftmaxLoss

            model = SentenceTransformer("sentence-transformers/all-MiniLM-L6-v2")
            train = Dataset.from_dict({
                "premise": ["A man plays guitar.", "A dog runs."],
                "hypothesis": ["A person makes music.", "A cat sleeps."],
                "label": [0, 2],  # entailment, contradiction
            })
            loss = SoftmaxLoss(model, model.get_sentence_embedding_dimension(), num_labels=3)
            trainer = SentenceTransformerTrainer(model=model, train_dataset=train, loss=loss)
            trainer.train()

    References:
        Reimers and Gurevych, "Sentence-BERT: Sentence Embeddings using Siamese BERT-Networks",
        EMNLP 2019, https://arxiv.org/abs/1908.10084. Related: ``multiple_negatives_ranking`` on
        (anchor, entailment, contradiction) triplets usually gives better embeddings from the same
        NLI data.
    """

    data_needs = DataNeeds(text_columns=2, roles=("sentence_A", "sentence_B"), label="int")
    uses_embedding_helper = True

    def __init__(
        self,
        model: nn.Module,
        embedding_dimension: int | None = None,
        num_labels: int | None = None,
        concatenation_sent_rep: bool = True,
        concatenation_sent_difference: bool = True,
        concatenation_sent_multiplication: bool = False,
        loss_fct: Callable = nn.CrossEntropyLoss(),
        *,
        sentence_embedding_dimension: int | None = None,
    ) -> None:
        super().__init__()
        self.model = model
        if sentence_embedding_dimension is not None:
            if embedding_dimension is not None and embedding_dimension != sentence_embedding_dimension:
                raise InvalidInputError(
                    "SoftmaxLoss got both embedding_dimension and its older name sentence_embedding_dimension "
                    "with different values; pass only embedding_dimension."
                )
            warnings.warn(
                "SoftmaxLoss: sentence_embedding_dimension is the older name of embedding_dimension; use embedding_dimension.",
                FutureWarning,
                stacklevel=2,
            )
            embedding_dimension = sentence_embedding_dimension
        if embedding_dimension is None:
            embedding_dimension = embedding_dimension_of(model)
            if embedding_dimension is None:
                raise InvalidInputError(
                    "SoftmaxLoss needs embedding_dimension (the size of the model's embeddings) and cannot read it from "
                    "this model. Pass it: SoftmaxLoss(model, embedding_dimension=..., num_labels=...)."
                )
        if num_labels is None or int(num_labels) < 1:
            raise InvalidInputError(
                f"SoftmaxLoss needs num_labels, the number of classes (e.g. 3 for NLI), got {num_labels!r}. "
                "Pass it: SoftmaxLoss(model, num_labels=3)."
            )
        parts = 2 * concatenation_sent_rep + concatenation_sent_difference + concatenation_sent_multiplication
        if parts == 0:
            raise InvalidInputError(
                "SoftmaxLoss: concatenation_sent_rep, concatenation_sent_difference and concatenation_sent_multiplication "
                "are all False, so there is nothing to classify. Set at least one of them to True."
            )
        self.embedding_dimension = int(embedding_dimension)
        self.num_labels = int(num_labels)
        self.concatenation_sent_rep = concatenation_sent_rep
        self.concatenation_sent_difference = concatenation_sent_difference
        self.concatenation_sent_multiplication = concatenation_sent_multiplication
        self.classifier = nn.Linear(parts * self.embedding_dimension, self.num_labels, device=model_device(model))
        self.loss_fct = loss_fct

    @classmethod
    def contract_example(cls, model: nn.Module) -> "SoftmaxLoss":
        return cls(model, num_labels=3)

    def forward(
        self, sentence_features: list[dict[str, Tensor]], labels: Tensor | None
    ) -> Tensor | tuple[list[Tensor], Tensor]:
        check_loss_inputs(self, sentence_features, labels, require_labels=False)
        embeddings = embed_columns(self.model, sentence_features)
        logits = self.classifier_logits(embeddings)
        if labels is None:
            return embeddings, logits
        if self.num_labels == 1 or labels.shape != logits.shape:
            labels = labels.reshape(-1)
        return self.loss_fct(logits, labels)

    def classifier_logits(self, embeddings: list[Tensor]) -> Tensor:
        """The classifier's ``(rows, num_labels)`` output for ``[embeddings_A, embeddings_B]``."""
        u, v = embeddings
        parts = []
        if self.concatenation_sent_rep:
            parts += [u, v]
        if self.concatenation_sent_difference:
            parts.append(torch.abs(u - v))
        if self.concatenation_sent_multiplication:
            parts.append(u * v)
        features = torch.cat(parts, dim=1).to(self.classifier.weight.dtype)
        if features.shape[1] != self.classifier.in_features:
            raise InvalidInputError(
                f"SoftmaxLoss was built for {self.embedding_dimension}-dimensional embeddings but the model produced "
                f"{u.shape[1]}-dimensional ones. Fix: pass embedding_dimension={u.shape[1]} (or omit it)."
            )
        return self.classifier(features)

    def validate_dataset(
        self, dataset: Any, dataset_name: str | None = None, *, label_columns: Sequence[str] | None = None, **_: Any
    ) -> list[str]:
        """Problems that stop a run before it starts: labels that are not class ids in ``[0, num_labels)``."""
        column = checks.label_column(dataset, label_columns)
        if column is None:
            return []  # reported by the DataNeeds check
        values = checks.label_values(dataset, column)
        if values is None or values.size == 0:
            return []
        at = checks.where(dataset_name, column)
        if checks.is_text(values):
            distinct = sorted({str(v) for v in values.reshape(-1)})
            shown = ", ".join(repr(v) for v in distinct[:5]) + (" ..." if len(distinct) > 5 else "")
            return [
                f"{at} holds strings ({shown}), but SoftmaxLoss needs integer class ids in [0, {self.num_labels}). "
                f"Fix: `dataset = dataset.class_encode_column({column!r})` (ids in sorted order of the strings), or "
                "map each string to its id with dataset.map."
            ]
        if values.dtype.kind not in "iub":
            return []  # floats: reported by the DataNeeds check (integer labels)
        flat = values.reshape(-1).astype("int64")
        ignored = getattr(self.loss_fct, "ignore_index", None)  # CrossEntropyLoss skips these rows (-100)
        outside = sorted({int(v) for v in set(flat.tolist()) if (v < 0 or v >= self.num_labels) and v != ignored})
        if not outside:
            return []
        shown = ", ".join(str(v) for v in outside[:5]) + (" ..." if len(outside) > 5 else "")
        return [
            f"{at} holds class ids outside [0, {self.num_labels}) ({shown}), but SoftmaxLoss was built with "
            f"num_labels={self.num_labels}. Fix: pass num_labels={max(outside[-1], self.num_labels - 1) + 1} if these are real classes, "
            "or renumber the labels from 0 (e.g. `dataset.class_encode_column(...)` on the original names)."
        ]

    def get_config_dict(self) -> dict[str, Any]:
        return {
            "num_labels": self.num_labels,
            "concatenation_sent_rep": self.concatenation_sent_rep,
            "concatenation_sent_difference": self.concatenation_sent_difference,
            "concatenation_sent_multiplication": self.concatenation_sent_multiplication,
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
