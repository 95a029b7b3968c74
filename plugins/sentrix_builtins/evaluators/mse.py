"""``mse``: mean squared error between a student's and a teacher's embeddings (distillation).

Documented on the class below (``sentrix plugins show NAME`` prints it).
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np

from sentrix.plugin_api import EncodeRequest, InvalidInputError, SentenceEvaluator, check_same_length, describe_when
from sentrix_builtins.evaluators._checks import check_texts, problems_of

logger = logging.getLogger(__name__)

__all__ = ["MSEEvaluator"]


class MSEEvaluator(SentenceEvaluator):
    """Mean squared error (x100) between a student's embeddings and a teacher's, for distillation.

    The teacher embeds ``source_sentences`` once, when the evaluator is built; at every call the
    evaluated (student) model embeds ``target_sentences`` and the evaluator reports the mean of
    the squared differences over all rows and dimensions, times 100. For multilingual knowledge
    distillation the sources are English sentences and the targets their translations; for
    plain compression both lists are the same sentences. Lower is better, so the returned metric is
    the negative MSE, which the trainer maximises. Results equal sentence-transformers 6.2's
    ``MSEEvaluator``, CSV file included.

    With ``output_path`` and ``write_csv=True`` a row ``epoch, steps, MSE`` is appended to
    ``mse_evaluation_<name>_results.csv`` (with ``name=""``: ``mse_evaluation__results.csv``, the
    name sentence-transformers uses).

    Args:
        source_sentences: texts the teacher embeds (no ``None`` or empty texts).
        target_sentences: texts the evaluated model embeds, one per source (same length).
        teacher_model: the model whose embeddings are the target; required (sentence-transformers
            keeps a ``None`` default only for the argument order).
        show_progress_bar: show encoding progress bars; default ``False``.
        batch_size: encoding batch size; default 32.
        name: metric-key and file-name prefix; default ``""``.
        write_csv: append results to a CSV file when ``output_path`` is given; default ``True``.
        truncate_dim: keep only the first ``truncate_dim`` dimensions of both models' embeddings;
            default ``None`` (each model's own setting). Teacher and student dimensions must match.

    Metrics:
        ``negative_mse``: minus 100 x the mean squared difference, prefixed with ``name + "_"``,
        e.g. ``stsb-dev_negative_mse``. It is the ``primary_metric``; ``greater_is_better`` is
        ``True`` (a smaller error gives a larger negative MSE).

    Example:
        .. code-block:: python

            from sentrix import SentenceTransformer
            from sentrix.evaluation import MSEEvaluator

            teacher = SentenceTransformer("sentence-transformers/all-MiniLM-L6-v2")
            student = SentenceTransformer("sentence-transformers/all-MiniLM-L6-v2")
            sentences = ["A man is playing a guitar.", "The cat sits on the mat.", "It is sunny today."]
            evaluator = MSEEvaluator(sentences, sentences, teacher_model=teacher, name="stsb-dev")
            print(evaluator(student))      # {"stsb-dev_negative_mse": -0.0}

    References:
        sentence-transformers 6.2 ``MSEEvaluator`` (same arguments, keys and CSV); Reimers &
        Gurevych, "Making Monolingual Sentence Embeddings Multilingual using Knowledge
        Distillation", EMNLP 2020, https://arxiv.org/abs/2004.09813.
    """

    def __init__(
        self,
        source_sentences: list[str],
        target_sentences: list[str],
        teacher_model: Any = None,
        show_progress_bar: bool = False,
        batch_size: int = 32,
        name: str = "",
        write_csv: bool = True,
        truncate_dim: int | None = None,
    ) -> None:
        super().__init__()
        owner = type(self).__name__
        source_sentences = check_texts(owner, "source_sentences", source_sentences)
        target_sentences = check_texts(owner, "target_sentences", target_sentences)
        check_same_length(owner, source_sentences=source_sentences, target_sentences=target_sentences)
        if teacher_model is None or not hasattr(teacher_model, "encode"):
            raise InvalidInputError(
                f"{owner}: teacher_model must be a model with an `encode` method (the model whose embeddings the "
                f"student should reproduce), got {teacher_model!r}. Pass teacher_model=SentenceTransformer(...)."
            )
        self.target_sentences = target_sentences
        self.show_progress_bar = show_progress_bar
        self.batch_size = batch_size
        self.name = name
        self.write_csv = write_csv
        self.truncate_dim = truncate_dim
        self.csv_file = f"mse_evaluation_{name}_results.csv"
        self.csv_headers = ["epoch", "steps", "MSE"]
        self.primary_metric = "negative_mse"

        self.source_embeddings = self.embed_inputs(teacher_model, source_sentences)

    def check_inputs(self) -> list[str]:
        """Non-empty target texts (run again by the trainer before training)."""
        return problems_of(check_texts, type(self).__name__, "target_sentences", self.target_sentences)

    def texts_to_encode(self, model: Any) -> list[EncodeRequest]:
        return [EncodeRequest(self.target_sentences, None, {"batch_size": self.batch_size, "truncate_dim": self.truncate_dim})]

    def __call__(self, model: Any, output_path: str | None = None, epoch: int = -1, steps: int = -1) -> dict[str, float]:
        suffix = describe_when(epoch, steps) + (f" (truncated to {self.truncate_dim})" if self.truncate_dim is not None else "")
        target_embeddings = self.embed_inputs(model, self.target_sentences)
        if np.shape(target_embeddings) != np.shape(self.source_embeddings):
            raise InvalidInputError(
                f"{type(self).__name__}: the evaluated model gives embeddings of shape {np.shape(target_embeddings)} "
                f"but the teacher's are {np.shape(self.source_embeddings)}; the dimensions must match. "
                "Set truncate_dim to the smaller dimension or add a Dense layer to the student."
            )
        mse = (((self.source_embeddings - target_embeddings) ** 2).mean() * 100).item()

        logger.info("MSE evaluation (lower = better) on the %s dataset%s:", self.name, suffix)
        logger.info("MSE (*100):\t%4f", mse)
        self.write_csv_row(output_path, [epoch, steps, mse])

        metrics = self.prefix_name_to_metrics({"negative_mse": -mse}, self.name)
        self.store_metrics_in_model_card_data(model, metrics, epoch, steps)
        return metrics

    def embed_inputs(self, model: Any, sentences: Any, **kwargs: Any) -> np.ndarray:
        kwargs.setdefault("convert_to_numpy", True)
        return super().embed_inputs(model, sentences, **kwargs)

    @property
    def description(self) -> str:
        return "Knowledge Distillation"

    def get_config_dict(self) -> dict[str, Any]:
        return {"truncate_dim": self.truncate_dim} if self.truncate_dim is not None else {}

    @classmethod
    def contract_example(cls) -> "MSEEvaluator":
        """Four sentences; the teacher is a tiny model from ``sentrix.testing`` with other weights."""
        from sentrix.plugin_api import testing

        sentences = ["a man is playing a guitar", "the cat sits on the mat", "children play football", "it is sunny"]
        teacher = testing.tiny_models.tiny_sentence_transformer(seed=1)
        return cls(sentences, sentences, teacher_model=teacher, name="mse-example")
