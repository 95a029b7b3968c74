"""EmbedDistill loss: pull the student's embeddings onto precomputed teacher embeddings.

Registered as ``embed_distill`` (alias ``EmbedDistillLoss``). ``mse`` (``MSELoss``) is this loss
with ``distance_metric="mse"``.
"""

from __future__ import annotations

import os
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from sentrix.plugin_api import (
    DataNeeds,
    InvalidInputError,
    check_loss_inputs,
    embed_columns,
    embedding_dimension_of,
    model_device,
)

_METRICS = ("mse", "l2", "cosine")

_NEEDS = DataNeeds(
    text_columns=(1, None),
    roles=("text...",),
    label="float",
    label_detail="teacher embeddings, shape (batch, teacher_dim) for every column, "
    "or (batch, n_columns, teacher_dim) one per column",
    recommended_sampler="batch_sampler",
)


class EmbedDistillLoss(nn.Module):
    """Distil a teacher's embeddings into the student, column by column.

    Each text column is embedded by the student and compared with the teacher embedding given in
    the label: the mean squared error (``"mse"``), the mean Euclidean distance (``"l2"``) or the
    mean cosine distance ``1 - cos`` (``"cosine"``). The column losses are averaged. A 2-D label
    is the target of every column (e.g. an English sentence and its translations all aim at the
    teacher's English embedding); a 3-D label gives each column its own target.

    When the student and teacher dimensions differ, ``projection_dim`` adds a trainable linear map
    from the student's space into the teacher's, owned by the loss: it is trained with the model,
    kept in the trainer's checkpoints (``loss.state_dict()``), and saved on demand with
    :meth:`save_projection`.

    Inputs:
        ===========================  ====================================================
        text columns                 label
        ===========================  ====================================================
        ``(text,)``                  teacher embeddings, shape ``(batch, teacher_dim)``
        ``(text_1, ..., text_n)``    one teacher embedding for all columns ``(batch, teacher_dim)``
        ``(text_1, ..., text_n)``    one per column, shape ``(batch, n, teacher_dim)``
        ===========================  ====================================================

    Sampler:
        ``batch_sampler`` (the default): every row is compared only with its own target.

    Args:
        model: the model to train (the student).
        distance_metric: ``"cosine"`` (default), ``"mse"`` or ``"l2"``.
        projection_dim: ``None`` (default) compares the student's embeddings as they are; an
            integer adds a trainable ``nn.Linear(student_dim, projection_dim)`` applied before the
            comparison (set it to the teacher's dimension).

    Example:
        .. code-block:: python

            from datasets import Dataset
            from sentrix import SentenceTransformer, SentenceTransformerTrainer
            from sentrix.losses import EmbedDistillLoss

            teacher = SentenceTransformer("sentence-transformers/all-MiniLM-L6-v2")
            student = SentenceTransformer("sentence-transformers/all-MiniLM-L6-v2")
            texts = ["A man is eating food.", "A monkey is playing drums."]
            train = Dataset.from_dict({"text": texts, "label": teacher.encode(texts).tolist()})
            loss = EmbedDistillLoss(student, distance_metric="cosine")
            trainer = SentenceTransformerTrainer(model=student, train_dataset=train, loss=loss)
            trainer.train()

    References:
        Kim et al., "EmbedDistill: A Geometric Knowledge Distillation for Information Retrieval",
        2023, https://arxiv.org/abs/2301.12005
    """

    data_needs = _NEEDS
    uses_embedding_helper = True

    def __init__(self, model: nn.Module, distance_metric: str = "cosine", projection_dim: int | None = None) -> None:
        super().__init__()
        name = type(self).__name__
        if distance_metric not in _METRICS:
            raise InvalidInputError(
                f"{name}: distance_metric={distance_metric!r} is not supported; use one of {list(_METRICS)}."
            )
        if projection_dim is not None and (
            isinstance(projection_dim, bool) or not isinstance(projection_dim, int) or projection_dim < 1
        ):
            raise InvalidInputError(
                f"{name}: projection_dim={projection_dim!r} must be None or a positive integer (the teacher's "
                "embedding dimension)."
            )
        self.model = model
        self.distance_metric = distance_metric
        self.projection_dim = projection_dim
        self.projection: nn.Linear | None = None
        if projection_dim is not None:
            self.projection = nn.Linear(self._student_dim(), projection_dim, device=model_device(model))

    def _student_dim(self) -> int:
        dim = embedding_dimension_of(self.model)
        if dim is None:
            raise InvalidInputError(
                f"{type(self).__name__}: the model does not report its embedding dimension, so the projection "
                "cannot be built. Fix: use a model with a pooling module, or projection_dim=None."
            )
        return dim

    @classmethod
    def contract_example(cls, model: nn.Module) -> "EmbedDistillLoss":
        return cls(model)

    @classmethod
    def contract_labels(cls, model: nn.Module, batch_size: int, columns: int) -> Tensor:
        generator = torch.Generator().manual_seed(0)
        return torch.randn(batch_size, embedding_dimension_of(model) or 32, generator=generator)

    def forward(self, sentence_features: list[dict[str, Tensor]], labels: Tensor | None) -> Tensor:
        name = type(self).__name__
        if labels is None:
            raise InvalidInputError(
                f"{name} needs the teacher's embeddings as labels, but the batch has none. Fix: compute them once "
                "with the teacher and add them as a 'label' column, e.g. "
                "`dataset.map(lambda b: {'label': teacher.encode(b['text'])}, batched=True)`."
            )
        check_loss_inputs(self, sentence_features, labels)
        columns = len(list(sentence_features))
        labels = labels.detach()
        if labels.dim() == 2:
            targets = [labels] * columns
        elif labels.dim() == 3:
            if labels.size(1) != columns:
                raise InvalidInputError(
                    f"{name} got per-column teacher embeddings for {labels.size(1)} columns but the batch has {columns} "
                    f"text columns. Fix: give labels of shape (batch, {columns}, teacher_dim), or one teacher "
                    "embedding per row, shape (batch, teacher_dim), shared by every column."
                )
            targets = [labels[:, i] for i in range(columns)]
        else:
            raise InvalidInputError(
                f"{name} expects labels of shape (batch, teacher_dim) or (batch, n_columns, teacher_dim); got "
                f"{labels.dim()} dimension(s), shape {tuple(labels.shape)}. Fix: store the teacher's embedding "
                "vectors in the label column."
            )
        embeddings = embed_columns(self.model, sentence_features)
        return self.compute_loss_from_embeddings(embeddings, targets)

    def validate_dataset(
        self, dataset: Any, dataset_name: str | None = None, *, label_columns: Any = None, **_: Any
    ) -> list[str]:
        """Problems that stop a run before it starts: teacher embeddings whose size the student cannot match.

        Reads the label of the first row only (a distillation dataset's labels can be large).
        """
        names = list(getattr(dataset, "column_names", None) or [])
        column = next((c for c in (label_columns or ("label", "labels", "score", "scores")) if c in names), None)
        if column is None or not hasattr(dataset, "__len__") or type(dataset).__name__ == "IterableDataset" or not len(dataset):
            return []
        try:
            first = torch.as_tensor(dataset.with_format(None)[0][column], dtype=torch.float32)
        except Exception:  # noqa: BLE001 - an exotic label is left to the per-batch check
            return []
        expected = self.projection_dim or embedding_dimension_of(self.model)
        if first.dim() not in (1, 2) or expected is None or first.shape[-1] == expected:
            return []
        where = f"{dataset_name or 'the dataset'}: label column {column!r}"
        what = f"projection_dim={self.projection_dim}" if self.projection_dim else f"the student's {expected}-dimensional embeddings"
        return [
            f"{where} holds teacher embeddings of size {first.shape[-1]} (row 0), but {type(self).__name__} compares "
            f"them with {what}. Fix: pass projection_dim={first.shape[-1]} to learn a projection into the teacher's "
            "space, or compute the labels with a teacher of the student's dimension."
        ]

    def compute_loss_from_embeddings(self, embeddings: list[Tensor], teacher_embeddings: list[Tensor]) -> Tensor:
        """Mean over columns of the distance between each column's embeddings and its teacher targets."""
        losses = []
        for student, teacher in zip(embeddings, teacher_embeddings):
            teacher = teacher.to(device=student.device, dtype=student.dtype)
            if self.projection is not None:
                student = self.projection(student)
            if student.shape[-1] != teacher.shape[-1]:
                raise InvalidInputError(
                    f"{type(self).__name__}: student embeddings have {student.shape[-1]} dimensions but the teacher "
                    f"embeddings have {teacher.shape[-1]}. Fix: pass projection_dim={teacher.shape[-1]} to learn a "
                    "projection into the teacher's space, or use a teacher of the student's dimension."
                )
            if self.distance_metric == "mse":
                losses.append(F.mse_loss(student, teacher))
            elif self.distance_metric == "l2":
                losses.append(torch.linalg.vector_norm(student - teacher, dim=-1).mean())
            else:
                losses.append((1 - F.cosine_similarity(student, teacher, dim=-1)).mean())
        return torch.stack(losses).mean()

    def save_projection(self, path: str | os.PathLike) -> None:
        """Write the projection layer to ``path`` (a safetensors file)."""
        from safetensors.torch import save_model

        if self.projection is None:
            raise InvalidInputError(
                f"{type(self).__name__} has no projection layer to save. Fix: build the loss with "
                "projection_dim=<teacher dim> to train one."
            )
        save_model(self.projection, str(path))

    def load_projection(self, path: str | os.PathLike) -> None:
        """Load a projection saved by :meth:`save_projection` (creating the layer if needed)."""
        from safetensors.torch import load_file

        state = load_file(str(path))
        out_features, in_features = state["weight"].shape
        if self.projection is None:
            student_dim = self._student_dim()
            if in_features != student_dim:
                raise InvalidInputError(
                    f"{type(self).__name__}: the projection in {path} maps {in_features}-dim embeddings, but the "
                    f"model outputs {student_dim}-dim embeddings. Fix: load a projection trained for this model."
                )
            self.projection = nn.Linear(in_features, out_features, device=model_device(self.model))
            self.projection_dim = out_features
        elif (self.projection.in_features, self.projection.out_features) != (in_features, out_features):
            raise InvalidInputError(
                f"{type(self).__name__}: the projection in {path} is {in_features} -> {out_features}, but this loss "
                f"has {self.projection.in_features} -> {self.projection.out_features}. Fix: build the loss with "
                f"projection_dim={out_features}."
            )
        self.projection.load_state_dict(state)

    def get_config_dict(self) -> dict[str, Any]:
        return {"distance_metric": self.distance_metric, "projection_dim": self.projection_dim}

    @property
    def citation(self) -> str:
        return """
@article{kim2023embeddistill,
    title={EmbedDistill: A Geometric Knowledge Distillation for Information Retrieval},
    author={Kim, Seungyeon and Rawat, Ankit Singh and Zaheer, Manzil and Jayasumana, Sadeep and Sadhanala, Veeranjaneyulu and Jitkrittum, Wittawat and Menon, Aditya Krishna and Fergus, Rob and Kumar, Sanjiv},
    year={2023},
    eprint={2301.12005},
    archivePrefix={arXiv},
    primaryClass={cs.IR}
}
"""
