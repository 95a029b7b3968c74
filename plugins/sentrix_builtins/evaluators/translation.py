"""``translation``: find each sentence's translation among all translations by embedding similarity.

Documented on the class below (``sentrix plugins show NAME`` prints it).
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np

from sentrix.plugin_api import EncodeRequest, SentenceEvaluator, check_same_length, cos_sim, describe_when
from sentrix_builtins.evaluators._checks import check_texts, problems_of

logger = logging.getLogger(__name__)

__all__ = ["TranslationEvaluator"]


class TranslationEvaluator(SentenceEvaluator):
    """Find each sentence's translation among all translations by cosine similarity (accuracy).

    ``target_sentences[i]`` is the translation of ``source_sentences[i]``. The evaluator embeds
    both lists, and for every source sentence checks whether the most similar target (cosine
    similarity) is its translation, and the same the other way round. A match counts when the
    retrieved text equals the expected text, so duplicated translations do not count as errors.
    Results equal sentence-transformers 6.2's ``TranslationEvaluator``, CSV file included.

    With ``output_path`` and ``write_csv=True`` a row ``epoch, steps, src2trg, trg2src`` is
    appended to ``translation_evaluation[_<name>]_results.csv``.

    Args:
        source_sentences: sentences in the source language (no ``None`` or empty texts).
        target_sentences: their translations, same length and order.
        show_progress_bar: show encoding progress bars; default ``False``.
        batch_size: encoding batch size; default 16.
        name: metric-key and file-name prefix, e.g. ``"news-en-de"``; default ``""``.
        print_wrong_matches: print every source whose best match is not its translation, with the
            five best targets; default ``False``.
        write_csv: append results to a CSV file when ``output_path`` is given; default ``True``.
        truncate_dim: keep only the first ``truncate_dim`` embedding dimensions; default ``None``.

    Metrics:
        Keys prefixed with ``name + "_"``: ``src2trg_accuracy`` (source finds its translation),
        ``trg2src_accuracy`` (translation finds its source) and ``mean_accuracy`` (their mean,
        the ``primary_metric``; higher is better). E.g. ``news-en-de_mean_accuracy``.

    Example:
        .. code-block:: python

            from sentrix import SentenceTransformer
            from sentrix.evaluation import TranslationEvaluator

            model = SentenceTransformer("sentence-transformers/paraphrase-multilingual-MiniLM-L12-v2")
            evaluator = TranslationEvaluator(
                source_sentences=["The cat sits on the mat.", "It is raining today."],
                target_sentences=["Die Katze sitzt auf der Matte.", "Heute regnet es."],
                name="en-de",
            )
            print(evaluator(model))    # {"en-de_src2trg_accuracy": 1.0, "en-de_trg2src_accuracy": 1.0, ...}

    References:
        sentence-transformers 6.2 ``TranslationEvaluator`` (same arguments, keys and CSV); Reimers &
        Gurevych, "Making Monolingual Sentence Embeddings Multilingual using Knowledge
        Distillation", EMNLP 2020 (translation matching accuracy).
    """

    def __init__(
        self,
        source_sentences: list[str],
        target_sentences: list[str],
        show_progress_bar: bool = False,
        batch_size: int = 16,
        name: str = "",
        print_wrong_matches: bool = False,
        write_csv: bool = True,
        truncate_dim: int | None = None,
    ) -> None:
        super().__init__()
        owner = type(self).__name__
        source_sentences = check_texts(owner, "source_sentences", source_sentences)
        target_sentences = check_texts(owner, "target_sentences", target_sentences)
        check_same_length(owner, source_sentences=source_sentences, target_sentences=target_sentences)
        self.source_sentences = source_sentences
        self.target_sentences = target_sentences
        self.show_progress_bar = show_progress_bar
        self.batch_size = batch_size
        self.name = name
        self.print_wrong_matches = print_wrong_matches
        self.write_csv = write_csv
        self.truncate_dim = truncate_dim
        self.csv_file = "translation_evaluation" + (f"_{name}" if name else "") + "_results.csv"
        self.csv_headers = ["epoch", "steps", "src2trg", "trg2src"]
        self.primary_metric = "mean_accuracy"

    def check_inputs(self) -> list[str]:
        """Aligned non-empty texts (run again by the trainer before training)."""
        owner = type(self).__name__

        def validate() -> None:
            check_texts(owner, "source_sentences", self.source_sentences)
            check_texts(owner, "target_sentences", self.target_sentences)
            check_same_length(owner, source_sentences=self.source_sentences, target_sentences=self.target_sentences)

        return problems_of(validate)

    def texts_to_encode(self, model: Any) -> list[EncodeRequest]:
        options = {"batch_size": self.batch_size, "truncate_dim": self.truncate_dim}
        return [EncodeRequest([*self.source_sentences, *self.target_sentences], None, options)]

    def __call__(self, model: Any, output_path: str | None = None, epoch: int = -1, steps: int = -1) -> dict[str, float]:
        suffix = describe_when(epoch, steps) + (f" (truncated to {self.truncate_dim})" if self.truncate_dim is not None else "")
        logger.info("Evaluating translation matching Accuracy of the model on the %s dataset%s:", self.name, suffix)

        source = self.embed_inputs(model, self.source_sentences)
        target = self.embed_inputs(model, self.target_sentences)
        similarity = cos_sim(source, target).detach().cpu().numpy()

        src2trg = self._accuracy(similarity, self.source_sentences, self.target_sentences, report=self.print_wrong_matches)
        trg2src = self._accuracy(similarity.T, self.target_sentences, self.source_sentences, report=False)
        logger.info("Accuracy src2trg: %.2f", src2trg * 100)
        logger.info("Accuracy trg2src: %.2f", trg2src * 100)
        self.write_csv_row(output_path, [epoch, steps, src2trg, trg2src])

        metrics = {"src2trg_accuracy": src2trg, "trg2src_accuracy": trg2src, "mean_accuracy": (src2trg + trg2src) / 2}
        metrics = self.prefix_name_to_metrics(metrics, self.name)
        self.store_metrics_in_model_card_data(model, metrics, epoch, steps)
        return metrics

    @staticmethod
    def _accuracy(similarity: np.ndarray, queries: list[Any], candidates: list[Any], report: bool) -> float:
        """Share of rows whose most similar candidate has the same text as the expected one."""
        best = similarity.argmax(axis=1)
        correct = 0
        for i, j in enumerate(best.tolist()):
            if candidates[j] == candidates[i]:
                correct += 1
            elif report:
                print(f"\nIncorrect  : Source {i} is most similar to target {j} instead of target {i}")
                print("Source     :", queries[i])
                print("Pred Target:", candidates[j], f"(Score: {similarity[i][j]:.4f})")
                print("True Target:", candidates[i], f"(Score: {similarity[i][i]:.4f})")
                for k in np.argsort(-similarity[i], kind="stable")[:5].tolist():
                    print("\t", k, f"(Score: {similarity[i][k]:.4f})", candidates[k])
        return correct / len(similarity)

    def embed_inputs(self, model: Any, sentences: Any, **kwargs: Any) -> Any:
        kwargs.setdefault("convert_to_numpy", False)
        kwargs.setdefault("convert_to_tensor", True)
        return super().embed_inputs(model, sentences, **kwargs)

    def get_config_dict(self) -> dict[str, Any]:
        return {"truncate_dim": self.truncate_dim} if self.truncate_dim is not None else {}

    @classmethod
    def contract_example(cls) -> "TranslationEvaluator":
        """Five sentence pairs (paraphrases standing in for translations), named ``translation-example``."""
        return cls(
            source_sentences=["a man is playing a guitar", "the cat sits on the mat", "children play football",
                              "the sun is hot today", "the stock market fell"],
            target_sentences=["a man plays music", "a cat is sitting", "kids play a game of soccer",
                              "it is a sunny day", "stock prices went down"],
            name="translation-example",
        )
