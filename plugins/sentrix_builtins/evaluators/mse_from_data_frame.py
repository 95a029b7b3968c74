"""``mse_from_data_frame``: distillation MSE for several language pairs of a parallel-sentence table.

Documented on the class below (``sentrix plugins show NAME`` prints it).
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np

from sentrix.plugin_api import EncodeRequest, InvalidInputError, SentenceEvaluator
from sentrix_builtins.evaluators._checks import check_sequence

logger = logging.getLogger(__name__)

__all__ = ["MSEEvaluatorFromDataFrame"]


class MSEEvaluatorFromDataFrame(SentenceEvaluator):
    """Distillation MSE (x100) for several (source, target) language pairs of a parallel-sentence table.

    ``dataframe`` holds parallel sentences, one row per meaning and one column per language. For
    every ``(source, target)`` in ``combinations`` the teacher embeds the source-language
    sentences (once, when the evaluator is built; each distinct sentence once) and at every call
    the evaluated (student) model embeds the target-language sentences; the evaluator reports
    the mean squared difference x100 per pair and returns minus their mean. Rows whose source or
    target cell is an empty string are skipped for that pair (missing translations). Results
    equal sentence-transformers 6.2's ``MSEEvaluatorFromDataFrame``, CSV file included.

    With ``output_path`` and ``write_csv=True`` a row ``epoch, steps, <src>-<trg>, ...`` (one MSE
    per pair) is appended to ``mse_evaluation[_<name>]_results.csv``.

    Args:
        dataframe: the rows, a list of ``{language: sentence}`` dicts (a pandas DataFrame is
            turned into its records); every language named in ``combinations`` must be a key of
            every row, with a text (``None`` is an error, ``""`` skips the row for that pair).
        teacher_model: the model whose embeddings of the source sentences are the target.
        combinations: ``[(source_language, target_language), ...]``, e.g. ``[("en", "de")]``.
        batch_size: encoding batch size; default 8.
        name: metric-key and file-name prefix; default ``""``.
        write_csv: append results to a CSV file when ``output_path`` is given; default ``True``.
        truncate_dim: keep only the first ``truncate_dim`` dimensions of both models' embeddings;
            default ``None``.

    Metrics:
        ``negative_mse``: minus the mean over the pairs of 100 x their mean squared difference,
        prefixed with ``name + "_"``, e.g. ``ted-dev_negative_mse``. It is the ``primary_metric``;
        ``greater_is_better`` is ``True``.

    Example:
        .. code-block:: python

            from sentrix import SentenceTransformer
            from sentrix.evaluation import MSEEvaluatorFromDataFrame

            teacher = SentenceTransformer("sentence-transformers/all-MiniLM-L6-v2")
            student = SentenceTransformer("sentence-transformers/paraphrase-multilingual-MiniLM-L12-v2")
            rows = [
                {"en": "The cat sits on the mat.", "de": "Die Katze sitzt auf der Matte.", "fr": "Le chat est assis."},
                {"en": "It is raining.", "de": "Es regnet.", "fr": ""},
            ]
            evaluator = MSEEvaluatorFromDataFrame(rows, teacher, combinations=[("en", "de"), ("en", "fr")], name="dev")
            print(evaluator(student))     # {"dev_negative_mse": ...}

    References:
        sentence-transformers 6.2 ``MSEEvaluatorFromDataFrame`` (same arguments, keys and CSV); Reimers
        & Gurevych, "Making Monolingual Sentence Embeddings Multilingual using Knowledge
        Distillation", EMNLP 2020.
    """

    def __init__(
        self,
        dataframe: list[dict[str, str]],
        teacher_model: Any,
        combinations: list[tuple[str, str]],
        batch_size: int = 8,
        name: str = "",
        write_csv: bool = True,
        truncate_dim: int | None = None,
    ) -> None:
        super().__init__()
        owner = type(self).__name__
        if hasattr(dataframe, "to_dict") and hasattr(dataframe, "columns"):
            dataframe = dataframe.to_dict("records")
        rows = check_sequence(owner, "dataframe", dataframe)
        combinations = [tuple(pair) if isinstance(pair, (list, tuple)) else pair
                        for pair in check_sequence(owner, "combinations", combinations)]
        for index, pair in enumerate(combinations):
            if not isinstance(pair, tuple) or len(pair) != 2:
                raise InvalidInputError(
                    f"{owner}: combinations[{index}] = {pair!r}; each entry must be a (source_language, "
                    "target_language) pair, e.g. ('en', 'de')."
                )
        if teacher_model is None or not hasattr(teacher_model, "encode"):
            raise InvalidInputError(
                f"{owner}: teacher_model must be a model with an `encode` method, got {teacher_model!r}. "
                "Pass teacher_model=SentenceTransformer(...)."
            )

        self.combinations = combinations
        self.name = name
        self.batch_size = batch_size
        self.write_csv = write_csv
        self.truncate_dim = truncate_dim
        self.csv_file = "mse_evaluation" + (f"_{name}" if name else "") + "_results.csv"
        self.csv_headers = ["epoch", "steps"]
        self.primary_metric = "negative_mse"
        self.data: dict[tuple[str, str], tuple[list[str], list[str]]] = {}

        sources: dict[str, None] = {}
        for source_lang, target_lang in combinations:
            source_texts, target_texts = [], []
            for row_index, row in enumerate(rows):
                cells = [self._cell(owner, row, row_index, lang) for lang in (source_lang, target_lang)]
                if cells[0].strip() and cells[1].strip():
                    sources.setdefault(cells[0])
                    source_texts.append(cells[0])
                    target_texts.append(cells[1])
            if not source_texts:
                raise InvalidInputError(
                    f"{owner}: no row has both a {source_lang!r} and a {target_lang!r} sentence, so the pair "
                    f"({source_lang!r}, {target_lang!r}) has nothing to compare. Fill in those columns or drop the pair."
                )
            self.data[(source_lang, target_lang)] = (source_texts, target_texts)
            self.csv_headers.append(f"{source_lang}-{target_lang}")

        logger.info("Compute teacher embeddings")
        distinct = list(sources)
        self.teacher_embeddings = dict(zip(distinct, self.embed_inputs(teacher_model, distinct)))

    def texts_to_encode(self, model: Any) -> list[EncodeRequest]:
        options = {"batch_size": self.batch_size, "truncate_dim": self.truncate_dim}
        return [EncodeRequest(targets, None, options) for _, targets in self.data.values()]

    @staticmethod
    def _cell(owner: str, row: Any, row_index: int, lang: str) -> str:
        if not isinstance(row, dict):
            raise InvalidInputError(
                f"{owner}: dataframe[{row_index}] is a {type(row).__name__}; each row must be a dict {{language: sentence}}."
            )
        if lang not in row:
            raise InvalidInputError(
                f"{owner}: dataframe[{row_index}] has no {lang!r} column (it has {sorted(row)}); every language in "
                "combinations must be a key of every row (use \"\" where a translation is missing)."
            )
        value = row[lang]
        if not isinstance(value, str):
            raise InvalidInputError(
                f"{owner}: dataframe[{row_index}][{lang!r}] = {value!r}; each cell must be a text (use \"\" for a "
                "missing translation: that row is then skipped for this language pair)."
            )
        return value

    def __call__(self, model: Any, output_path: str | None = None, epoch: int = -1, steps: int = -1) -> dict[str, float]:
        model.eval()
        mse_scores = []
        for source_lang, target_lang in self.combinations:
            source_texts, target_texts = self.data[(source_lang, target_lang)]
            source = np.asarray([self.teacher_embeddings[text] for text in source_texts])
            target = np.asarray(self.embed_inputs(model, target_texts))
            if source.shape != target.shape:
                raise InvalidInputError(
                    f"{type(self).__name__}: the evaluated model gives embeddings of shape {target.shape} but the "
                    f"teacher's are {source.shape}; the dimensions must match. Set truncate_dim or add a Dense layer."
                )
            mse = ((source - target) ** 2).mean() * 100
            mse_scores.append(mse)
            logger.info("MSE evaluation on %s dataset - %s-%s:", self.name, source_lang, target_lang)
            logger.info("MSE (*100):\t%4f", mse)
        self.write_csv_row(output_path, [epoch, steps, *mse_scores])

        metrics = self.prefix_name_to_metrics({"negative_mse": -np.mean(mse_scores).item()}, self.name)
        self.store_metrics_in_model_card_data(model, metrics, epoch, steps)
        return metrics

    def embed_inputs(self, model: Any, sentences: Any, **kwargs: Any) -> np.ndarray:
        kwargs.setdefault("convert_to_numpy", True)
        return super().embed_inputs(model, sentences, **kwargs)

    @property
    def description(self) -> str:
        return "Knowledge Distillation"

    @classmethod
    def contract_example(cls) -> "MSEEvaluatorFromDataFrame":
        """Four rows in three "languages"; the teacher is a tiny ``sentrix.testing`` model with other weights."""
        from sentrix.plugin_api import testing

        rows = [
            {"en": "a man is playing a guitar", "xx": "a man plays music", "yy": "the guitar is played"},
            {"en": "the cat sits on the mat", "xx": "a cat is sitting", "yy": ""},
            {"en": "children play football", "xx": "kids play a game", "yy": "football with children"},
            {"en": "it is sunny today", "xx": "the sun is hot", "yy": "a sunny day"},
        ]
        teacher = testing.tiny_models.tiny_sentence_transformer(seed=1)
        return cls(rows, teacher, combinations=[("en", "xx"), ("en", "yy")], name="mse-df-example")
