"""``nano_beir``: information-retrieval scores on the NanoBEIR datasets, per dataset and aggregated.

Documented on the class below (``sentrix plugins show NAME`` prints it).
"""

from __future__ import annotations

import gzip
import json
import logging
import os
from collections.abc import Callable
from typing import Any, Literal

import numpy as np
from torch import Tensor

from sentrix.plugin_api import InvalidInputError, SentenceEvaluator, SimilarityFunction, describe_when
from sentrix_builtins.evaluators.embedding_similarity import parse_similarity
from sentrix_builtins.evaluators.information_retrieval import InformationRetrievalEvaluator, retrieval_csv_headers

logger = logging.getLogger(__name__)

__all__ = ["NanoBEIREvaluator", "DATASET_NAME_TO_HUMAN_READABLE"]

DatasetNameType = Literal[
    "climatefever", "dbpedia", "fever", "fiqa2018", "hotpotqa", "msmarco", "nfcorpus", "nq", "quoraretrieval",
    "scidocs", "arguana", "scifact", "touche2020",
]

#: short dataset name -> the name used in split names (``Nano<Name>``) and metric keys
DATASET_NAME_TO_HUMAN_READABLE = {
    "climatefever": "ClimateFEVER",
    "dbpedia": "DBPedia",
    "fever": "FEVER",
    "fiqa2018": "FiQA2018",
    "hotpotqa": "HotpotQA",
    "msmarco": "MSMARCO",
    "nfcorpus": "NFCorpus",
    "nq": "NQ",
    "quoraretrieval": "QuoraRetrieval",
    "scidocs": "SCIDOCS",
    "arguana": "ArguAna",
    "scifact": "SciFact",
    "touche2020": "Touche2020",
}

_SUBSETS = ("corpus", "queries", "qrels")
_REQUIRED_COLUMNS = {"corpus": ["_id", "text"], "queries": ["_id", "text"], "qrels": ["query-id", "corpus-id"]}
_LOCAL_SUFFIXES = (".jsonl", ".jsonl.gz", ".tsv", ".tsv.gz", ".csv", ".parquet")


class NanoBEIREvaluator(SentenceEvaluator):
    """Information-retrieval scores on the NanoBEIR datasets, per dataset and aggregated over them.

    NanoBEIR is a small version of 13 BEIR retrieval datasets (50 queries and a few thousand
    documents each), quick enough to run during training. For every dataset in ``dataset_names``
    the evaluator builds an ``InformationRetrievalEvaluator`` (``information_retrieval``) named
    ``Nano<Dataset>``, runs it, and aggregates each metric over the datasets with
    ``aggregate_fn`` (the mean by default). Results equal sentence-transformers 6.2's
    ``NanoBEIREvaluator``, CSV files included.

    Where the data comes from: ``dataset_id`` is a Hugging Face Hub dataset (default
    ``sentence-transformers/NanoBEIR-en``, or a translated copy such as ``lightonai/NanoBEIR-de``)
    with ``corpus``, ``queries`` and ``qrels`` subsets and one split per dataset named
    ``Nano<Dataset>``, loaded with ``datasets.load_dataset`` as sentence-transformers does. For
    offline use ``dataset_id`` may instead be a local folder holding one sub-folder per dataset,
    named ``Nano<Dataset>`` (e.g. ``NanoSciFact``) or by its short name (``scifact``), each with
    ``corpus``, ``queries`` and ``qrels`` files (``.jsonl``, ``.jsonl.gz``, ``.tsv``, ``.tsv.gz``,
    ``.csv`` or ``.parquet``; BEIR's ``qrels/test.tsv`` works too). Corpus and query rows have
    ``_id`` and ``text``; qrels rows ``query-id`` and ``corpus-id`` and optionally ``score`` (rows
    with ``score <= 0`` are not relevant). Ids from local files are compared as strings.
    :meth:`save_local_dataset` writes such a folder.

    With ``output_path`` and ``write_csv=True`` each dataset's evaluator appends to its own
    ``Information-Retrieval_evaluation_Nano<Dataset>_results.csv`` and the aggregate row goes to
    ``NanoBEIR_evaluation_<aggregate_key>_results.csv``.

    Args:
        dataset_names: short names of the datasets (any case): ``climatefever``, ``dbpedia``,
            ``fever``, ``fiqa2018``, ``hotpotqa``, ``msmarco``, ``nfcorpus``, ``nq``,
            ``quoraretrieval``, ``scidocs``, ``arguana``, ``scifact``, ``touche2020``; default
            ``None``: all 13.
        dataset_id: Hub dataset id or local folder (see above); default
            ``"sentence-transformers/NanoBEIR-en"``.
        mrr_at_k: cut-offs for MRR; default ``[10]``.
        ndcg_at_k: cut-offs for nDCG; default ``[10]``.
        accuracy_at_k: cut-offs for accuracy; default ``[1, 3, 5, 10]``.
        precision_recall_at_k: cut-offs for precision and recall; default ``[1, 3, 5, 10]``.
        map_at_k: cut-offs for MAP; default ``[100]``.
        show_progress_bar: show progress bars; default ``False``.
        batch_size: encoding batch size; default 32.
        write_csv: write CSV files when ``output_path`` is given; default ``True``.
        truncate_dim: keep only the first ``truncate_dim`` embedding dimensions (also appended to
            the evaluator names); default ``None``.
        score_functions: ``{name: fn(query_emb, doc_emb) -> scores}``; default ``None``: the
            evaluated model's own ``similarity``, looked up at every call.
        main_score_function: the score function whose nDCG is the primary metric; default
            ``None``: the best one.
        aggregate_fn: how to combine one metric over the datasets; default ``np.mean``.
        aggregate_key: name of the aggregate in keys and file names; default ``"mean"``.
        query_prompts: prompt put before every query: one text for all datasets or
            ``{dataset_name: prompt}`` covering every dataset; default ``None``.
        corpus_prompts: the same for the documents; default ``None``.
        write_predictions: also write each dataset's ranked hits as JSON lines; default ``False``.

    Metrics:
        Every key of every dataset's evaluator, e.g. ``NanoSciFact_cosine_ndcg@10``,
        ``NanoMSMARCO_cosine_recall@10`` (``Nano<Dataset>[_<truncate_dim>]_<fn>_<metric>@<k>``),
        then the aggregates ``NanoBEIR_<aggregate_key>[_<truncate_dim>]_<fn>_<metric>@<k>``, e.g.
        ``NanoBEIR_mean_cosine_ndcg@10``, which is the ``primary_metric`` (the nDCG at the largest
        cut-off of ``main_score_function``, or of the best score function); higher is better.

    Example:
        .. code-block:: python

            from sentrix import SentenceTransformer
            from sentrix.evaluation import NanoBEIREvaluator

            model = SentenceTransformer("sentence-transformers/all-MiniLM-L6-v2")
            evaluator = NanoBEIREvaluator(dataset_names=["scifact", "nfcorpus"])   # from the Hub
            results = evaluator(model)
            print(evaluator.primary_metric, results[evaluator.primary_metric])    # NanoBEIR_mean_cosine_ndcg@10 ...

            # offline: a local folder with one sub-folder per dataset
            NanoBEIREvaluator.save_local_dataset(
                "nanobeir-local", "scifact",
                corpus={"d1": "Paris is the capital of France.", "d2": "Cats sleep a lot."},
                queries={"q1": "capital of France"},
                relevant_docs={"q1": {"d1"}},
            )
            evaluator = NanoBEIREvaluator(dataset_names=["scifact"], dataset_id="nanobeir-local")

    References:
        sentence-transformers 6.2 ``NanoBEIREvaluator`` (same arguments, keys and CSV); Thakur et
        al., "BEIR: A Heterogeneous Benchmark for Zero-shot Evaluation of Information Retrieval
        Models", NeurIPS 2021; NanoBEIR by Zeta Alpha (https://huggingface.co/collections/zeta-alpha-ai/nanobeir).
    """

    information_retrieval_class = InformationRetrievalEvaluator

    def __init__(
        self,
        dataset_names: list[DatasetNameType | str] | None = None,
        dataset_id: str = "sentence-transformers/NanoBEIR-en",
        mrr_at_k: list[int] = [10],  # noqa: B006 (sentence-transformers' defaults; never mutated)
        ndcg_at_k: list[int] = [10],  # noqa: B006 (sentence-transformers' defaults; never mutated)
        accuracy_at_k: list[int] = [1, 3, 5, 10],  # noqa: B006 (sentence-transformers' defaults; never mutated)
        precision_recall_at_k: list[int] = [1, 3, 5, 10],  # noqa: B006 (sentence-transformers' defaults; never mutated)
        map_at_k: list[int] = [100],  # noqa: B006 (sentence-transformers' defaults; never mutated)
        show_progress_bar: bool = False,
        batch_size: int = 32,
        write_csv: bool = True,
        truncate_dim: int | None = None,
        score_functions: dict[str, Callable[[Tensor, Tensor], Tensor]] | None = None,
        main_score_function: str | SimilarityFunction | None = None,
        aggregate_fn: Callable[[list[float]], float] = np.mean,
        aggregate_key: str = "mean",
        query_prompts: str | dict[str, str] | None = None,
        corpus_prompts: str | dict[str, str] | None = None,
        write_predictions: bool = False,
    ) -> None:
        super().__init__()
        owner = type(self).__name__
        if dataset_names is None:
            dataset_names = list(DATASET_NAME_TO_HUMAN_READABLE)
        self.dataset_names = self._check_dataset_names(owner, dataset_names)
        if not isinstance(dataset_id, (str, os.PathLike)) or not str(dataset_id):
            raise InvalidInputError(
                f"{owner}: dataset_id must be a Hugging Face dataset id or a local folder, got {dataset_id!r}."
            )
        if not callable(aggregate_fn):
            raise InvalidInputError(f"{owner}: aggregate_fn must be a function list[float] -> float (e.g. np.mean), got {aggregate_fn!r}.")
        if score_functions is not None and (not isinstance(score_functions, dict) or not score_functions):
            raise InvalidInputError(
                f"{owner}: score_functions must be a non-empty dict {{name: fn(query_emb, doc_emb) -> scores}} or None, "
                f"got {score_functions!r}."
            )
        self.dataset_id = str(dataset_id)
        self.aggregate_fn = aggregate_fn
        self.aggregate_key = aggregate_key
        self.write_csv = write_csv
        self.show_progress_bar = show_progress_bar
        self.batch_size = batch_size
        self.score_functions = score_functions
        self.score_function_names = sorted(score_functions) if score_functions else []
        self._score_functions_from_model = score_functions is None
        self.main_score_function = parse_similarity(owner, "main_score_function", main_score_function)
        self.truncate_dim = truncate_dim
        self.name = f"NanoBEIR_{aggregate_key}" + (f"_{truncate_dim}" if truncate_dim else "")
        self.mrr_at_k = mrr_at_k
        self.ndcg_at_k = ndcg_at_k
        self.accuracy_at_k = accuracy_at_k
        self.precision_recall_at_k = precision_recall_at_k
        self.map_at_k = map_at_k
        self.query_prompts = self._check_prompts(owner, "query_prompts", query_prompts)
        self.corpus_prompts = self._check_prompts(owner, "corpus_prompts", corpus_prompts)

        ir_kwargs = {
            "mrr_at_k": mrr_at_k,
            "ndcg_at_k": ndcg_at_k,
            "accuracy_at_k": accuracy_at_k,
            "precision_recall_at_k": precision_recall_at_k,
            "map_at_k": map_at_k,
            "show_progress_bar": show_progress_bar,
            "batch_size": batch_size,
            "write_csv": write_csv,
            "truncate_dim": truncate_dim,
            "score_functions": score_functions,
            "main_score_function": main_score_function,
            "write_predictions": write_predictions,
        }
        names: Any = self.dataset_names
        if show_progress_bar:
            from tqdm.auto import tqdm

            names = tqdm(names, desc="Loading NanoBEIR datasets", leave=False)
        self.evaluators = [self._load_dataset(name, **ir_kwargs) for name in names]

        self.csv_file = f"NanoBEIR_evaluation_{aggregate_key}_results.csv"
        self.csv_headers = ["epoch", "steps"]
        self._append_csv_headers(self.score_function_names)

    # -- checks ---------------------------------------------------------------------------------

    @staticmethod
    def _check_dataset_names(owner: str, names: Any) -> list[str]:
        if isinstance(names, str) or not isinstance(names, (list, tuple)):
            raise InvalidInputError(
                f"{owner}: dataset_names must be a list of NanoBEIR dataset names (or None for all), got {names!r}."
            )
        if not names:
            raise InvalidInputError(f"{owner}: dataset_names is empty; name at least one dataset, or pass None for all 13.")
        unknown = [name for name in names if not isinstance(name, str) or name.lower() not in DATASET_NAME_TO_HUMAN_READABLE]
        if unknown:
            raise InvalidInputError(
                f"{owner}: dataset_names contains {unknown}, which are not NanoBEIR datasets. "
                f"Use names among {list(DATASET_NAME_TO_HUMAN_READABLE)} (any case)."
            )
        return list(names)

    def _check_prompts(self, owner: str, arg: str, prompts: Any) -> dict[str, str] | None:
        if prompts is None:
            return None
        if isinstance(prompts, str):
            return {name: prompts for name in self.dataset_names}
        if not isinstance(prompts, dict):
            raise InvalidInputError(f"{owner}: {arg} must be a text, a {{dataset_name: prompt}} dict or None, got {prompts!r}.")
        missing = [name for name in self.dataset_names if name not in prompts]
        if missing:
            raise InvalidInputError(
                f"{owner}: {arg} has no prompt for {missing}; give one for every name in dataset_names "
                f"(as written there), or pass a single text for all."
            )
        return prompts

    # -- loading --------------------------------------------------------------------------------

    def _get_human_readable_name(self, dataset_name: str) -> str:
        name = f"Nano{DATASET_NAME_TO_HUMAN_READABLE[dataset_name.lower()]}"
        return name + (f"_{self.truncate_dim}" if self.truncate_dim is not None else "")

    def _load_dataset(self, dataset_name: str, **ir_kwargs: Any) -> InformationRetrievalEvaluator:
        split = f"Nano{DATASET_NAME_TO_HUMAN_READABLE[dataset_name.lower()]}"
        local = self._local_folder(dataset_name)
        if local is not None:
            corpus, queries, qrels = (self._read_local(local, subset, split) for subset in _SUBSETS)
        else:
            corpus, queries, qrels = (
                self._load_dataset_subset_split(subset, split=split, required_columns=_REQUIRED_COLUMNS[subset])
                for subset in _SUBSETS
            )
        corpus_dict = {row["_id"]: row["text"] for row in corpus if len(row["text"]) > 0}
        queries_dict = {row["_id"]: row["text"] for row in queries if len(row["text"]) > 0}
        relevant: dict[Any, set[Any]] = {}
        for row in qrels:
            docs = relevant.setdefault(row["query-id"], set())
            corpus_ids = row.get("corpus-id")
            if isinstance(corpus_ids, list):
                docs.update(corpus_ids)
            else:
                docs.add(corpus_ids)

        if self.query_prompts is not None:
            ir_kwargs["query_prompt"] = self.query_prompts.get(dataset_name)
        if self.corpus_prompts is not None:
            ir_kwargs["corpus_prompt"] = self.corpus_prompts.get(dataset_name)
        return self.information_retrieval_class(
            queries=queries_dict,
            corpus=corpus_dict,
            relevant_docs=relevant,
            name=self._get_human_readable_name(dataset_name),
            **ir_kwargs,
        )

    def _local_folder(self, dataset_name: str) -> str | None:
        """The local folder of ``dataset_name`` when ``dataset_id`` is a folder in the per-dataset layout."""
        if not os.path.isdir(self.dataset_id):
            return None
        readable = DATASET_NAME_TO_HUMAN_READABLE[dataset_name.lower()]
        for candidate in (f"Nano{readable}", readable, dataset_name.lower(), dataset_name):
            folder = os.path.join(self.dataset_id, candidate)
            if os.path.isdir(folder):
                return folder
        if any(os.path.isdir(os.path.join(self.dataset_id, f"Nano{r}")) for r in DATASET_NAME_TO_HUMAN_READABLE.values()):
            raise InvalidInputError(
                f"{type(self).__name__}: the local folder {self.dataset_id!r} has no sub-folder for {dataset_name!r}; "
                f"expected {os.path.join(self.dataset_id, f'Nano{readable}')!r} (or {dataset_name.lower()!r}) with "
                "corpus, queries and qrels files. Add it or drop the name from dataset_names."
            )
        return None  # a folder in another layout (e.g. a Hugging Face dataset repo): datasets.load_dataset reads it

    def _read_local(self, folder: str, subset: str, split: str) -> list[dict[str, Any]]:
        candidates = [os.path.join(folder, subset + suffix) for suffix in _LOCAL_SUFFIXES]
        if subset == "qrels":
            candidates += [os.path.join(folder, "qrels", "test" + suffix) for suffix in (".tsv", ".tsv.gz", ".jsonl")]
        path = next((p for p in candidates if os.path.isfile(p)), None)
        if path is None:
            raise InvalidInputError(
                f"{type(self).__name__}: no {subset} file for {split} in {folder!r}; expected one of "
                f"{[os.path.basename(p) for p in candidates[:len(_LOCAL_SUFFIXES)]]}"
                + (" or qrels/test.tsv" if subset == "qrels" else "")
                + f" with columns {_REQUIRED_COLUMNS[subset]}."
            )
        rows = _read_rows(path)
        required = _REQUIRED_COLUMNS[subset]
        for index, row in enumerate(rows):
            missing = [column for column in required if column not in row]
            if missing:
                raise InvalidInputError(
                    f"{type(self).__name__}: {path} row {index} has no {missing}; {subset} rows need the columns {required}."
                )
        if subset == "qrels":
            rows = [row for row in rows if "score" not in row or row["score"] in ("", None) or float(row["score"]) > 0]
            return [{**row, "query-id": str(row["query-id"]), "corpus-id": str(row["corpus-id"])} for row in rows]
        for index, row in enumerate(rows):
            if not isinstance(row["text"], str):
                raise InvalidInputError(
                    f"{type(self).__name__}: {path} row {index} has text {row['text']!r}; every {subset} text must be a string."
                )
        return [{**row, "_id": str(row["_id"])} for row in rows]

    def _load_dataset_subset_split(self, subset: str, split: str, required_columns: list[str]) -> Any:
        """One subset / split from the Hub (or a local Hugging Face dataset folder) via ``datasets``."""
        try:
            from datasets import load_dataset
        except ImportError:
            raise InvalidInputError(
                f"{type(self).__name__} needs the `datasets` package to load {self.dataset_id!r}: "
                "`pip install datasets`, or pass a local folder with corpus/queries/qrels files as dataset_id."
            ) from None
        try:
            dataset = load_dataset(self.dataset_id, subset, split=split)
        except Exception as exc:
            raise InvalidInputError(
                f"{type(self).__name__}: could not load subset {subset!r} split {split!r} of {self.dataset_id!r} "
                f"({type(exc).__name__}: {exc}). Check the id and your connection, or pass as dataset_id a local folder "
                f"with a sub-folder {split!r} holding corpus, queries and qrels files."
            ) from exc
        missing = sorted(set(required_columns) - set(dataset.column_names))
        if missing:
            raise InvalidInputError(
                f"{type(self).__name__}: subset {subset!r} split {split!r} of {self.dataset_id!r} has no columns {missing}; "
                f"it needs {required_columns}."
            )
        return dataset

    @staticmethod
    def save_local_dataset(
        folder: str | os.PathLike,
        dataset_name: str,
        corpus: dict[str, str],
        queries: dict[str, str],
        relevant_docs: dict[str, set[str]],
    ) -> str:
        """Write one dataset in the local layout this evaluator reads: ``<folder>/Nano<Dataset>/``
        with ``corpus.jsonl``, ``queries.jsonl`` and ``qrels.jsonl``. Returns that sub-folder.
        Refuses to overwrite existing files."""
        if dataset_name.lower() not in DATASET_NAME_TO_HUMAN_READABLE:
            raise InvalidInputError(
                f"save_local_dataset: {dataset_name!r} is not a NanoBEIR dataset; use one of {list(DATASET_NAME_TO_HUMAN_READABLE)}."
            )
        target = os.path.join(os.fspath(folder), f"Nano{DATASET_NAME_TO_HUMAN_READABLE[dataset_name.lower()]}")
        os.makedirs(target, exist_ok=True)
        contents = {
            "corpus": [{"_id": str(k), "text": v} for k, v in corpus.items()],
            "queries": [{"_id": str(k), "text": v} for k, v in queries.items()],
            "qrels": [{"query-id": str(q), "corpus-id": str(d)} for q, docs in relevant_docs.items() for d in sorted(docs)],
        }
        for subset, rows in contents.items():
            path = os.path.join(target, f"{subset}.jsonl")
            with open(path, mode="x", encoding="utf-8") as handle:
                for row in rows:
                    handle.write(json.dumps(row, ensure_ascii=False) + "\n")
        return target

    # -- evaluation -----------------------------------------------------------------------------

    def _append_csv_headers(self, score_function_names: list[str]) -> None:
        self.csv_headers += retrieval_csv_headers(score_function_names, self)

    def __call__(
        self, model: Any, output_path: str | None = None, epoch: int = -1, steps: int = -1, *args: Any, **kwargs: Any
    ) -> dict[str, float]:
        suffix = describe_when(epoch, steps) + (f" (truncated to {self.truncate_dim})" if self.truncate_dim is not None else "")
        logger.info("NanoBEIR Evaluation of the model on %s dataset%s:", self.dataset_names, suffix)

        headers_changed = False
        if self._score_functions_from_model:
            # the sub-evaluators look up the model's similarity at every call; follow them
            self.score_functions = {model.similarity_fn_name: model.similarity}
            if self.score_function_names != sorted(self.score_functions):
                headers_changed = bool(self.score_function_names)
                self.score_function_names = sorted(self.score_functions)
                self.csv_headers = ["epoch", "steps"]
                self._append_csv_headers(self.score_function_names)
                self.primary_metric = None

        per_dataset: dict[str, float] = {}
        per_metric: dict[str, list[float]] = {}
        evaluators: Any = self.evaluators
        if self.show_progress_bar:
            from tqdm.auto import tqdm

            evaluators = tqdm(evaluators, desc="Evaluating datasets")
        for evaluator in evaluators:
            logger.info("Evaluating %s", evaluator.name)
            results = evaluator(model, output_path, epoch, steps)
            prefix = evaluator.name + "_"
            for key, value in results.items():
                metric = key[len(prefix):] if key.startswith(prefix) else key
                per_dataset[key] = value
                per_metric.setdefault(metric, []).append(value)
        aggregated = {metric: self.aggregate_fn(values) for metric, values in per_metric.items()}

        if output_path is not None and self.write_csv:
            if headers_changed and os.path.isfile(os.path.join(output_path, self.csv_file)):
                logger.warning(
                    "%s was written with different score function columns, so the rows appended for %s are labeled "
                    "with the previous score function.", self.csv_file, self.score_function_names,
                )
            row: list[Any] = [epoch, steps]
            for fn in self.score_function_names:
                row += [aggregated[f"{fn}_accuracy@{k}"] for k in self.accuracy_at_k]
                for k in self.precision_recall_at_k:
                    row += [aggregated[f"{fn}_precision@{k}"], aggregated[f"{fn}_recall@{k}"]]
                row += [aggregated[f"{fn}_mrr@{k}"] for k in self.mrr_at_k]
                row += [aggregated[f"{fn}_ndcg@{k}"] for k in self.ndcg_at_k]
                row += [aggregated[f"{fn}_map@{k}"] for k in self.map_at_k]
            self.write_csv_row(output_path, row, lineterminator="\n")

        top_k = max(self.ndcg_at_k)
        if not self.primary_metric:
            if self.main_score_function is None:
                best = max(self.score_function_names, key=lambda fn: aggregated[f"{fn}_ndcg@{top_k}"])
            else:
                best = self.main_score_function.value
            self.primary_metric = f"{best}_ndcg@{top_k}"

        logger.info("Average Queries: %s", np.mean([len(e.queries) for e in self.evaluators]))
        logger.info("Average Corpus: %s\n", np.mean([len(e.corpus) for e in self.evaluators]))
        for fn in self.score_function_names:
            logger.info("Aggregated for Score Function: %s", fn)
            for k in self.accuracy_at_k:
                logger.info("Accuracy@%d: %.2f%%", k, aggregated[f"{fn}_accuracy@{k}"] * 100)
            for k in self.precision_recall_at_k:
                logger.info("Precision@%d: %.2f%%", k, aggregated[f"{fn}_precision@{k}"] * 100)
                logger.info("Recall@%d: %.2f%%", k, aggregated[f"{fn}_recall@{k}"] * 100)
            for k in self.mrr_at_k:
                logger.info("MRR@%d: %.4f", k, aggregated[f"{fn}_mrr@{k}"])
            for k in self.ndcg_at_k:
                logger.info("NDCG@%d: %.4f", k, aggregated[f"{fn}_ndcg@{k}"])
            for k in self.map_at_k:
                logger.info("MAP@%d: %.4f", k, aggregated[f"{fn}_map@{k}"])

        aggregated = self.prefix_name_to_metrics(aggregated, self.name)
        self.store_metrics_in_model_card_data(model, aggregated, epoch, steps)
        per_dataset.update(aggregated)
        return per_dataset

    def store_metrics_in_model_card_data(self, *args: Any, **kwargs: Any) -> None:
        # With one dataset the aggregate equals that dataset's scores, already stored by its evaluator.
        if len(self.dataset_names) > 1:
            super().store_metrics_in_model_card_data(*args, **kwargs)

    def get_config_dict(self) -> dict[str, Any]:
        config: dict[str, Any] = {"dataset_names": self.dataset_names, "dataset_id": self.dataset_id}
        for key in ("truncate_dim", "query_prompts", "corpus_prompts"):
            if getattr(self, key) is not None:
                config[key] = getattr(self, key)
        return config

    @classmethod
    def contract_example(cls) -> "NanoBEIREvaluator":
        """Two tiny datasets (``scifact``, ``nfcorpus``) written to a temporary local folder."""
        import tempfile

        folder = tempfile.mkdtemp(prefix="sentrix-nanobeir-example-")
        cls.save_local_dataset(
            folder, "scifact",
            corpus={"d1": "paris is the capital of france", "d2": "a dog runs on the beach",
                    "d3": "a man is playing a guitar", "d4": "the stock market fell today"},
            queries={"q1": "what's the capital of france", "q2": "music with a guitar"},
            relevant_docs={"q1": {"d1"}, "q2": {"d3"}},
        )
        cls.save_local_dataset(
            folder, "nfcorpus",
            corpus={"a": "children eat food in the park", "b": "the sun is hot today", "c": "a woman drinks water"},
            queries={"x": "hot weather", "y": "people eating"},
            relevant_docs={"x": {"b"}, "y": {"a", "c"}},
        )
        return cls(dataset_names=["scifact", "nfcorpus"], dataset_id=folder)


def _read_rows(path: str) -> list[dict[str, Any]]:
    """Rows of a .jsonl / .tsv / .csv (optionally gzipped) or .parquet file as dicts."""
    if path.endswith(".parquet"):
        import pandas as pd

        return pd.read_parquet(path).to_dict("records")
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, mode="rt", encoding="utf-8", newline="") as handle:
        if ".jsonl" in os.path.basename(path):
            return [json.loads(line) for line in handle if line.strip()]
        import csv

        delimiter = "," if path.endswith(".csv") else "\t"
        quoting = csv.QUOTE_MINIMAL if delimiter == "," else csv.QUOTE_NONE
        return list(csv.DictReader(handle, delimiter=delimiter, quoting=quoting))
