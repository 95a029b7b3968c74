"""MSE loss: regress the student's embeddings onto precomputed teacher embeddings.

Registered as ``mse`` (alias ``MSELoss``).
"""

from __future__ import annotations

from typing import Any

from torch import nn

from sentrix_builtins.losses.embed_distill import EmbedDistillLoss


class MSELoss(EmbedDistillLoss):
    """Mean squared error between the student's embeddings and the teacher's (embedding distillation).

    Every text column is embedded by the student and regressed onto the teacher embedding in the
    label; the column losses are averaged. The classic use is making a model multilingual: the
    teacher embeds English sentences, and the student learns to map both the English sentence and
    its translations onto that embedding. It is ``embed_distill`` with ``distance_metric="mse"``;
    use ``embed_distill`` for a cosine or L2 distance.

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
        projection_dim: ``None`` (default) compares the student's embeddings as they are; an
            integer adds a trainable ``nn.Linear(student_dim, projection_dim)`` owned by the loss
            (set it to the teacher's dimension when it differs from the student's).

    Example:
        .. code-block:: python

            from datasets import Dataset
            from sentrix import SentenceTransformer, SentenceTransformerTrainer
            from sentrix.losses import MSELoss

            teacher = SentenceTransformer("sentence-transformers/all-MiniLM-L6-v2")
            student = SentenceTransformer("sentence-transformers/all-MiniLM-L6-v2")
            train = Dataset.from_dict({
                "english": ["The first sentence", "The second sentence"],
                "french": ["La première phrase", "La deuxième phrase"],
            })
            train = train.map(lambda b: {"label": teacher.encode(b["english"])}, batched=True)
            trainer = SentenceTransformerTrainer(model=student, train_dataset=train, loss=MSELoss(student))
            trainer.train()

    References:
        Reimers and Gurevych, "Making Monolingual Sentence Embeddings Multilingual using Knowledge
        Distillation", EMNLP 2020, https://arxiv.org/abs/2004.09813
    """

    def __init__(self, model: nn.Module, projection_dim: int | None = None) -> None:
        super().__init__(model, distance_metric="mse", projection_dim=projection_dim)

    @classmethod
    def contract_example(cls, model: nn.Module) -> "MSELoss":
        return cls(model)

    def get_config_dict(self) -> dict[str, Any]:
        return {"projection_dim": self.projection_dim}

    @property
    def citation(self) -> str:
        return """
@inproceedings{reimers-2020-multilingual-sentence-bert,
    title = "Making Monolingual Sentence Embeddings Multilingual using Knowledge Distillation",
    author = "Reimers, Nils and Gurevych, Iryna",
    booktitle = "Proceedings of the 2020 Conference on Empirical Methods in Natural Language Processing",
    month = "11",
    year = "2020",
    publisher = "Association for Computational Linguistics",
    url = "https://arxiv.org/abs/2004.09813",
}
"""
