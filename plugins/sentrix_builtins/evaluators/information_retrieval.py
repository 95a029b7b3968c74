"""``information_retrieval``: retrieve documents for queries and score the ranking (MRR, nDCG, ...).

Documented on the class below (``sentrix plugins show NAME`` prints it).
"""

from __future__ import annotations

import json
import logging
import math
import os
from typing import Any, Callable

import numpy as np
import torch
from torch import Tensor

from sentrix.plugin_api import (
    EncodeRequest,
    InvalidInputError,
    SentenceEvaluator,
    SimilarityFunction,
    check_texts,
    describe_when,
    encode_fn,
)

logger = logging.getLogger(__name__)

__all__ = ["InformationRetrievalEvaluator"]

ScoreFunction = Callable[[Tensor, Tensor], Tensor]
#: Corpus rows scored per call of the score function (a fixed grid: see compute_all_metrics).
_SCORE_BLOCK = 512
_METRIC_ORDER = ("accuracy@k", "precision@k", "recall@k", "ndcg@k", "mrr@k", "map@k")


def retrieval_csv_headers(score_function_names: list[str], cutoffs: Any) -> list[str]:
    """The per-function CSV columns of a retrieval evaluation, in sentence-transformers' order.

    ``cutoffs`` is anything with ``accuracy_at_k``, ``precision_recall_at_k``, ``mrr_at_k``,
    ``ndcg_at_k`` and ``map_at_k`` lists (this evaluator, NanoBEIR).
    """
    headers: list[str] = []
    for fn in score_function_names:
        headers += [f"{fn}-Accuracy@{k}" for k in cutoffs.accuracy_at_k]
        for k in cutoffs.precision_recall_at_k:
            headers += [f"{fn}-Precision@{k}", f"{fn}-Recall@{k}"]
        headers += [f"{fn}-MRR@{k}" for k in cutoffs.mrr_at_k]
        headers += [f"{fn}-NDCG@{k}" for k in cutoffs.ndcg_at_k]
        headers += [f"{fn}-MAP@{k}" for k in cutoffs.map_at_k]
    return headers


class InformationRetrievalEvaluator(SentenceEvaluator):
    """``information_retrieval``: retrieve documents for queries and score the ranking (MRR, nDCG, ...).

    What it does
        Embeds the queries with ``model.encode_query`` and the corpus, chunk by chunk, with
        ``model.encode_document``; ranks every document for every query by the model's similarity
        (or each of ``score_functions``), keeping the top hits, ties broken by ascending corpus id;
        and compares the ranking with ``relevant_docs``. Queries without a relevant document are
        skipped. Scores are computed over a fixed grid of 512-document blocks and merged into a
        running top-k, so memory stays bounded by one chunk and the metrics do not depend on
        ``corpus_chunk_size``; a corpus larger than ``corpus_chunk_size`` is read chunk by chunk
        and not kept after scoring. A relevant document missing from the corpus is an error.

    Data it needs
        =============================  ===============================================
        input                          requirement
        =============================  ===============================================
        queries                        ``{query_id: text}``
        corpus                         ``{doc_id: text}``
        relevant_docs                  ``{query_id: {doc_id, ...}}`` (binary relevance)
        =============================  ===============================================

    Files
        With ``output_path`` and ``write_csv=True`` a row is appended to
        ``Information-Retrieval_evaluation[_<name>]_results.csv``; with ``write_predictions=True``
        the ranked hits go to ``Information-Retrieval_evaluation[_<name>]_predictions_<fn>.jsonl``.

    Args:
        queries: ``{query_id: query}``.
        corpus: ``{doc_id: document}``.
        relevant_docs: ``{query_id: set of relevant doc_ids}``.
        corpus_chunk_size: documents embedded and scored at a time.
        mrr_at_k: cut-offs per metric.
        ndcg_at_k: cut-offs per metric.
        accuracy_at_k: cut-offs per metric.
        precision_recall_at_k: cut-offs per metric.
        map_at_k: cut-offs per metric.
        show_progress_bar: show progress bars (``None``: when logging at INFO).
        batch_size: encoding batch size.
        name: metric-key and file-name prefix.
        write_csv: append results to a CSV file when ``output_path`` is given.
        truncate_dim: keep only the first ``truncate_dim`` embedding dimensions.
        score_functions: ``{name: fn(query_emb, doc_emb) -> scores}``; default: the model's own
            ``similarity`` under its ``similarity_fn_name``, looked up at every call.
        main_score_function: the score function whose nDCG is the primary metric.
        query_prompt: prompt (text or name) for encoding the queries.
        query_prompt_name: prompt (text or name) for encoding the queries.
        corpus_prompt: prompt (text or name) for encoding the corpus.
        corpus_prompt_name: prompt (text or name) for encoding the corpus.
        write_predictions: also write the ranked hits as JSON lines when ``output_path`` is given.

    Metrics:
        (keys prefixed with ``name + "_"``, one set per score function ``<fn>``)
        ``<fn>_accuracy@k`` (a relevant document in the top k), ``<fn>_precision@k``,
        ``<fn>_recall@k`` (for ``precision_recall_at_k``), ``<fn>_ndcg@k``, ``<fn>_mrr@k``,
        ``<fn>_map@k``. ``primary_metric`` is ``<fn>_ndcg@<max ndcg k>`` of ``main_score_function``,
        or of the best score function. Higher is better. E.g. ``scifact_cosine_ndcg@10``.

    Example:
        .. code-block:: python

            from sentrix import SentenceTransformer
            from sentrix.evaluation import InformationRetrievalEvaluator

            model = SentenceTransformer("sentence-transformers/all-MiniLM-L6-v2")
            evaluator = InformationRetrievalEvaluator(
                queries={"q1": "What is the capital of France?"},
                corpus={"d1": "Paris is the capital of France.", "d2": "Berlin is in Germany."},
                relevant_docs={"q1": {"d1"}},
                name="toy",
            )
            metrics = evaluator(model)     # {"toy_cosine_accuracy@1": 1.0, ..., "toy_cosine_ndcg@10": 1.0, ...}

    References:
        Registered as ``information_retrieval`` with the alias ``InformationRetrievalEvaluator``.
        Reference: sentence-transformers 6.2 ``InformationRetrievalEvaluator`` (same arguments, keys
        and files); Manning, Raghavan & Schütze, "Introduction to Information Retrieval", ch. 8.
    """

    def __init__(
        self,
        queries: dict[str, Any],
        corpus: dict[str, Any],
        relevant_docs: dict[str, set[str]],
        corpus_chunk_size: int = 50000,
        mrr_at_k: list[int] = [10],
        ndcg_at_k: list[int] = [10],
        accuracy_at_k: list[int] = [1, 3, 5, 10],
        precision_recall_at_k: list[int] = [1, 3, 5, 10],
        map_at_k: list[int] = [100],
        show_progress_bar: bool | None = False,
        batch_size: int = 32,
        name: str = "",
        write_csv: bool = True,
        truncate_dim: int | None = None,
        score_functions: dict[str, ScoreFunction] | None = None,
        main_score_function: str | SimilarityFunction | None = None,
        query_prompt: str | None = None,
        query_prompt_name: str | None = None,
        corpus_prompt: str | None = None,
        corpus_prompt_name: str | None = None,
        write_predictions: bool = False,
    ) -> None:
        super().__init__()
        owner = type(self).__name__
        for arg, value in (("queries", queries), ("corpus", corpus), ("relevant_docs", relevant_docs)):
            if not isinstance(value, dict):
                raise InvalidInputError(
                    f"{owner}: {arg} must be a dict (id -> {'text' if arg != 'relevant_docs' else 'set of doc ids'}), "
                    f"got {type(value).__name__}."
                )
        if not corpus:
            raise InvalidInputError(f"{owner}: corpus is empty; pass at least one document {{doc_id: text}}.")
        for arg, ks in (
            ("mrr_at_k", mrr_at_k),
            ("ndcg_at_k", ndcg_at_k),
            ("accuracy_at_k", accuracy_at_k),
            ("precision_recall_at_k", precision_recall_at_k),
            ("map_at_k", map_at_k),
        ):
            if not ks or any(isinstance(k, bool) or not isinstance(k, int) or k < 1 for k in ks):
                raise InvalidInputError(f"{owner}: {arg} must be a non-empty list of positive integers, got {ks!r}.")
        if not isinstance(corpus_chunk_size, int) or corpus_chunk_size < 1:
            raise InvalidInputError(f"{owner}: corpus_chunk_size must be a positive integer, got {corpus_chunk_size!r}.")

        self.queries_ids = [qid for qid in queries if qid in relevant_docs and len(relevant_docs[qid]) > 0]
        if not self.queries_ids:
            raise InvalidInputError(
                f"{owner}: no query has a relevant document: the keys of relevant_docs must be query ids "
                f"(e.g. {list(queries)[:3]}) mapping to non-empty sets of corpus ids."
            )
        self.queries = [queries[qid] for qid in self.queries_ids]
        self.corpus_ids = list(corpus)
        self.corpus = [corpus[cid] for cid in self.corpus_ids]
        self.relevant_docs = relevant_docs

        self.query_prompt = query_prompt
        self.query_prompt_name = query_prompt_name
        self.corpus_prompt = corpus_prompt
        self.corpus_prompt_name = corpus_prompt_name

        self.corpus_chunk_size = corpus_chunk_size
        self.mrr_at_k = mrr_at_k
        self.ndcg_at_k = ndcg_at_k
        self.accuracy_at_k = accuracy_at_k
        self.precision_recall_at_k = precision_recall_at_k
        self.map_at_k = map_at_k
        if show_progress_bar is None:
            show_progress_bar = logger.getEffectiveLevel() <= logging.INFO
        self.show_progress_bar = show_progress_bar
        self.batch_size = batch_size
        self.name = name
        self.write_csv = write_csv
        self.truncate_dim = truncate_dim

        self.score_functions = score_functions
        self.score_function_names = sorted(score_functions) if score_functions else []
        self._score_functions_from_model = score_functions is None
        from sentrix_builtins.evaluators.embedding_similarity import parse_similarity

        self.main_score_function = parse_similarity(owner, "main_score_function", main_score_function)

        suffix = f"_{name}" if name else ""
        self.csv_file = f"Information-Retrieval_evaluation{suffix}_results.csv"
        self.csv_headers = ["epoch", "steps"]
        self._add_csv_headers(self.score_function_names)
        self.write_predictions = write_predictions
        self.predictions_file = f"Information-Retrieval_evaluation{suffix}_predictions.jsonl"
        self._corpus_rank: dict[Any, int] | None = None
        self.raise_on_bad_inputs()

    def check_inputs(self) -> list[str]:
        """Non-empty query and document texts; every relevant document present in the corpus."""
        owner = type(self).__name__
        problems: list[str] = []
        for column, ids, texts in (("queries", self.queries_ids, self.queries), ("corpus", self.corpus_ids, self.corpus)):
            found = check_texts(owner, column, texts)
            if found and texts:
                bad = [ids[i] for i, t in enumerate(texts) if t is None or (isinstance(t, str) and not t.strip())]
                if bad:
                    found = [
                        f"{owner}: {column} has {len(bad)} missing or empty text(s) (None or \"\") for id(s) "
                        f"{bad[:10]}{' ...' if len(bad) > 10 else ''}; every entry must be a non-empty text. Fix: drop "
                        f"those ids{' and their relevant_docs' if column == 'queries' else ''} or fill the texts in."
                    ]
            problems.extend(found)
        corpus_ids = set(self.corpus_ids)
        missing: dict[Any, list[Any]] = {}
        for qid in self.queries_ids:
            docs = self.relevant_docs[qid]
            if isinstance(docs, (str, bytes)) or not hasattr(docs, "__iter__"):
                problems.append(
                    f"{owner}: relevant_docs[{qid!r}] is {docs!r}; it must be a set of corpus ids, e.g. {{{docs!r}}}."
                )
                continue
            absent = sorted((d for d in docs if d not in corpus_ids), key=str)
            if absent:
                missing[qid] = absent
        if missing:
            shown = dict(list(missing.items())[:5])
            count = sum(len(v) for v in missing.values())
            problems.append(
                f"{owner}: relevant_docs names {count} document(s) that are not in the corpus, for {len(missing)} "
                f"query(ies), e.g. {shown}. They could never be retrieved, so recall and nDCG would be capped below 1. "
                "Fix: add those documents to `corpus`, or remove them from `relevant_docs`."
            )
        return problems

    def texts_to_encode(self, model: Any) -> list[EncodeRequest]:
        base = {"batch_size": self.batch_size, "truncate_dim": self.truncate_dim}
        requests = [
            EncodeRequest(self.queries, "query", {**base, "prompt_name": self.query_prompt_name, "prompt": self.query_prompt})
        ]
        if len(self.corpus) <= self.corpus_chunk_size:  # a larger corpus is read chunk by chunk, not kept
            requests.append(
                EncodeRequest(
                    self.corpus, "document", {**base, "prompt_name": self.corpus_prompt_name, "prompt": self.corpus_prompt}
                )
            )
        return requests

    def _add_csv_headers(self, names: list[str]) -> None:
        self.csv_headers += retrieval_csv_headers(names, self)

    # -- evaluation -------------------------------------------------------------------------

    def __call__(
        self, model: Any, output_path: str | None = None, epoch: int = -1, steps: int = -1, *args: Any, **kwargs: Any
    ) -> dict[str, float]:
        suffix = describe_when(epoch, steps) + (f" (truncated to {self.truncate_dim})" if self.truncate_dim else "")
        logger.info("Information Retrieval Evaluation of the model on the %s dataset%s:", self.name, suffix)

        if self._score_functions_from_model:
            # Looked up at every call: an evaluator reused for another model follows its similarity.
            self.score_functions = {model.similarity_fn_name: model.similarity}
            if self.score_function_names != sorted(self.score_functions):
                self.score_function_names = sorted(self.score_functions)
                self.csv_headers = ["epoch", "steps"]
                self._add_csv_headers(self.score_function_names)
                self.primary_metric = None

        scores = self.compute_all_metrics(model, *args, output_path=output_path, **kwargs)

        if output_path is not None and self.write_csv:
            os.makedirs(output_path, exist_ok=True)
            path = os.path.join(output_path, self.csv_file)
            new_file = not os.path.isfile(path)
            row: list[Any] = [epoch, steps]
            for fn in self.score_function_names:
                values = scores[fn]
                row += [values["accuracy@k"][k] for k in self.accuracy_at_k]
                for k in self.precision_recall_at_k:
                    row += [values["precision@k"][k], values["recall@k"][k]]
                row += [values["mrr@k"][k] for k in self.mrr_at_k]
                row += [values["ndcg@k"][k] for k in self.ndcg_at_k]
                row += [values["map@k"][k] for k in self.map_at_k]
            with open(path, mode="w" if new_file else "a", encoding="utf-8") as handle:
                if new_file:
                    handle.write(",".join(self.csv_headers) + "\n")
                handle.write(",".join(map(str, row)) + "\n")

        if not self.primary_metric:
            top_k = max(self.ndcg_at_k)
            if self.main_score_function is None:
                best = max(self.score_function_names, key=lambda fn: scores[fn]["ndcg@k"][top_k])
            else:
                best = self.main_score_function.value
            self.primary_metric = f"{best}_ndcg@{top_k}"

        metrics = {
            f"{fn}_{metric.replace('@k', f'@{k}')}": value
            for fn, per_metric in scores.items()
            for metric, per_k in per_metric.items()
            for k, value in per_k.items()
        }
        metrics = self.prefix_name_to_metrics(metrics, self.name)
        self.store_metrics_in_model_card_data(model, metrics, epoch, steps)
        return metrics

    def compute_all_metrics(
        self,
        model: Any,
        corpus_model: Any = None,
        corpus_embeddings: Tensor | None = None,
        output_path: str | None = None,
    ) -> dict[str, dict[str, dict[int, float]]]:
        """Rank the corpus for every query and return ``{fn: {"ndcg@k": {10: value}, ...}}``.

        ``corpus_model`` encodes the corpus instead of ``model``; ``corpus_embeddings`` skips
        encoding it altogether (same order as ``corpus``).
        """
        corpus_model = model if corpus_model is None else corpus_model
        if self.score_functions is None:
            self.score_functions = {model.similarity_fn_name: model.similarity}
            self.score_function_names = sorted(self.score_functions)
        max_k = max(*self.mrr_at_k, *self.ndcg_at_k, *self.accuracy_at_k, *self.precision_recall_at_k, *self.map_at_k)

        query_embeddings = self.embed_inputs(
            model, self.queries, encode_fn_name="query", prompt_name=self.query_prompt_name, prompt=self.query_prompt
        )
        rank = self._corpus_id_rank()
        ranks = torch.tensor([rank[cid] for cid in self.corpus_ids], dtype=torch.long)
        k = min(max_k, len(self.corpus))
        best: dict[str, tuple[Tensor, Tensor] | None] = {fn: None for fn in self.score_functions}

        # Scores are computed on a fixed grid of corpus blocks (independent of corpus_chunk_size), the
        # last one padded to full size: every score is then computed by the same kernel call whatever the
        # chunk size, and the running top-k (ties: ascending corpus id) gives the same ranking bit for bit.
        for block_start, block in self._corpus_blocks(model, corpus_model, corpus_embeddings):
            size = min(_SCORE_BLOCK, len(self.corpus) - block_start)
            block_ranks = ranks[block_start : block_start + size]
            for fn_name, score_fn in self.score_functions.items():
                block_scores = score_fn(query_embeddings, block)
                if not isinstance(block_scores, Tensor):
                    block_scores = torch.as_tensor(np.asarray(block_scores))
                block_scores = block_scores.detach().cpu()[:, :size]
                if block_scores.dtype in (torch.float16, torch.bfloat16):
                    block_scores = block_scores.float()
                best[fn_name] = _merge_top_k(best[fn_name], block_scores, block_ranks, k)

        sorted_ids = sorted(self.corpus_ids)
        hits: dict[str, list[list[tuple[float, Any]]]] = {}
        for fn_name, top in best.items():
            values, top_ranks = top if top is not None else (torch.empty(len(self.queries), 0), torch.empty(len(self.queries), 0, dtype=torch.long))
            hits[fn_name] = [
                [(score, sorted_ids[r]) for score, r in zip(row_values, row_ranks)]
                for row_values, row_ranks in zip(values.tolist(), top_ranks.tolist())
            ]

        ranked = {
            fn: [[{"corpus_id": cid, "score": score} for score, cid in per_query] for per_query in per_fn]
            for fn, per_fn in hits.items()
        }
        if self.write_predictions and output_path is not None:
            self._write_predictions(ranked, output_path)

        logger.info("Queries: %d", len(self.queries))
        logger.info("Corpus: %d\n", len(self.corpus))
        scores = {fn: self.compute_metrics(ranked[fn]) for fn in self.score_functions}
        for fn in self.score_function_names:
            logger.info("Score-Function: %s", fn)
            self.output_scores(scores[fn])
        return scores

    # Old spelling kept for scripts that call it.
    compute_metrices = compute_all_metrics

    def _corpus_id_rank(self) -> dict[Any, int]:
        """Position of every corpus id in ascending id order (the tie-break between equal scores)."""
        if self._corpus_rank is None:
            self._corpus_rank = {cid: i for i, cid in enumerate(sorted(self.corpus_ids))}
        return self._corpus_rank

    def _corpus_blocks(self, model: Any, corpus_model: Any, corpus_embeddings: Tensor | None):
        """Yield ``(start, embeddings)`` for corpus rows ``[start, start + _SCORE_BLOCK)``, the last block
        padded by repeating its last row. The corpus is encoded ``corpus_chunk_size`` documents at a time,
        so at most one chunk and one block are held."""
        total = len(self.corpus)

        def take(source: Any, start: int, stop: int) -> Any:
            if isinstance(source, Tensor) and source.is_sparse:
                return source.index_select(0, torch.arange(start, stop, device=source.device))
            return source[start:stop]

        def pad(block: Any) -> Any:
            missing = _SCORE_BLOCK - len(block)
            if missing <= 0:
                return block
            if isinstance(block, Tensor):
                filler = block.index_select(0, torch.full((missing,), len(block) - 1, dtype=torch.long, device=block.device))
                return torch.cat([block, filler])
            block = np.asarray(block)
            return np.concatenate([block, np.repeat(block[-1:], missing, axis=0)])

        if corpus_embeddings is not None:
            for start in range(0, total, _SCORE_BLOCK):
                yield start, pad(take(corpus_embeddings, start, min(start + _SCORE_BLOCK, total)))
            return

        chunks = range(0, total, self.corpus_chunk_size)
        if self.show_progress_bar:
            from tqdm.auto import tqdm

            chunks = tqdm(chunks, desc="Corpus Chunks")
        keep = total <= self.corpus_chunk_size
        pending: list[Any] = []  # encoded rows not yet scored, in corpus order
        pending_rows, next_start = 0, 0
        for chunk_start in chunks:
            chunk_stop = min(chunk_start + self.corpus_chunk_size, total)
            chunk = self.embed_inputs(
                corpus_model,
                self.corpus[chunk_start:chunk_stop],
                encode_fn_name="document",
                prompt_name=self.corpus_prompt_name,
                prompt=self.corpus_prompt,
                keep=keep,
            )
            pending.append(chunk)
            pending_rows += len(chunk)
            while pending_rows >= _SCORE_BLOCK or (chunk_stop == total and pending_rows > 0):
                buffer = torch.cat(pending) if len(pending) > 1 else pending[0]
                size = min(_SCORE_BLOCK, pending_rows)
                yield next_start, pad(buffer[:size])
                next_start += size
                pending = [buffer[size:]] if pending_rows > size else []
                pending_rows -= size

    def _write_predictions(self, ranked: dict[str, list[list[dict[str, Any]]]], output_path: str) -> None:
        os.makedirs(output_path, exist_ok=True)
        for fn, per_query in ranked.items():
            path = os.path.join(output_path, self.predictions_file.replace(".jsonl", f"_{fn}.jsonl"))
            with open(path, mode="w", encoding="utf-8") as handle:
                for query_id, query, results in zip(self.queries_ids, self.queries, per_query):
                    handle.write(json.dumps({"query_id": query_id, "query": query, "results": results}) + "\n")

    def embed_inputs(
        self,
        model: Any,
        sentences: Any,
        encode_fn_name: str | None = None,
        prompt_name: str | None = None,
        prompt: str | None = None,
        keep: bool = True,
        **kwargs: Any,
    ) -> Tensor:
        encode = encode_fn(model, encode_fn_name, keep=keep)
        if prompt_name is not None:
            kwargs["prompt_name"] = prompt_name
        if prompt is not None:
            kwargs["prompt"] = prompt
        return encode(
            sentences,
            batch_size=self.batch_size,
            show_progress_bar=self.show_progress_bar,
            convert_to_tensor=True,
            truncate_dim=self.truncate_dim,
            **kwargs,
        )

    def compute_metrics(self, ranked: list[list[dict[str, Any]]]) -> dict[str, dict[int, float]]:
        """Accuracy, precision, recall, MRR, nDCG and MAP at every cut-off from ranked hits per query."""
        sums: dict[str, dict[int, list[float]]] = {metric: {} for metric in _METRIC_ORDER}
        for metric, ks in (
            ("accuracy@k", self.accuracy_at_k),
            ("precision@k", self.precision_recall_at_k),
            ("recall@k", self.precision_recall_at_k),
            ("ndcg@k", self.ndcg_at_k),
            ("mrr@k", self.mrr_at_k),
            ("map@k", self.map_at_k),
        ):
            sums[metric] = {k: [] for k in ks}

        for query_id, query_hits in zip(self.queries_ids, ranked):
            relevant = self.relevant_docs[query_id]
            ordered = sorted(query_hits, key=lambda h: (-h["score"], h["corpus_id"]))
            is_relevant = [hit["corpus_id"] in relevant for hit in ordered]
            first_relevant = next((i for i, flag in enumerate(is_relevant) if flag), None)

            for k in self.accuracy_at_k:
                sums["accuracy@k"][k].append(1.0 if first_relevant is not None and first_relevant < k else 0.0)
            for k in self.precision_recall_at_k:
                found = sum(is_relevant[:k])
                sums["precision@k"][k].append(found / k)
                sums["recall@k"][k].append(found / len(relevant))
            for k in self.mrr_at_k:
                sums["mrr@k"][k].append(1.0 / (first_relevant + 1) if first_relevant is not None and first_relevant < k else 0.0)
            for k in self.ndcg_at_k:
                gained = _dcg(is_relevant[:k])
                ideal = _dcg([True] * min(len(relevant), k))
                sums["ndcg@k"][k].append(gained / ideal)
            for k in self.map_at_k:
                found, precision_sum = 0, 0.0
                for position, flag in enumerate(is_relevant[:k]):
                    if flag:
                        found += 1
                        precision_sum += found / (position + 1)
                sums["map@k"][k].append(precision_sum / min(k, len(relevant)))

        return {metric: {k: float(np.mean(values)) for k, values in per_k.items()} for metric, per_k in sums.items()}

    def output_scores(self, scores: dict[str, dict[int, float]]) -> None:
        """Log the metrics of one score function."""
        for label, metric, as_percent in (
            ("Accuracy", "accuracy@k", True),
            ("Precision", "precision@k", True),
            ("Recall", "recall@k", True),
            ("MRR", "mrr@k", False),
            ("NDCG", "ndcg@k", False),
            ("MAP", "map@k", False),
        ):
            for k, value in scores[metric].items():
                if as_percent:
                    logger.info("%s@%d: %.2f%%", label, k, value * 100)
                else:
                    logger.info("%s@%d: %.4f", label, k, value)

    @staticmethod
    def compute_dcg_at_k(relevances: list[int], k: int) -> float:
        """Discounted cumulative gain of the first ``k`` relevances."""
        return _dcg(relevances[:k])

    def get_config_dict(self) -> dict[str, Any]:
        keys = ("truncate_dim", "query_prompt", "query_prompt_name", "corpus_prompt", "corpus_prompt_name")
        return {key: getattr(self, key) for key in keys if getattr(self, key) is not None}

    @classmethod
    def contract_example(cls) -> "InformationRetrievalEvaluator":
        """Three queries over a six-document corpus, named ``ir-example``."""
        return cls(
            queries={"q1": "what's the capital of france", "q2": "dogs running on the beach", "q3": "music with a guitar"},
            corpus={
                "d1": "paris is the capital of france",
                "d2": "a dog runs on the beach",
                "d3": "a man is playing a guitar",
                "d4": "the stock market fell today",
                "d5": "children play football in the park",
                "d6": "the sun is hot and the sky is blue",
            },
            relevant_docs={"q1": {"d1"}, "q2": {"d2"}, "q3": {"d3", "d5"}},
            name="ir-example",
        )


def _merge_top_k(current: tuple[Tensor, Tensor] | None, scores: Tensor, ranks: Tensor, k: int) -> tuple[Tensor, Tensor]:
    """The best ``k`` (score, corpus rank) per query of ``current`` and a new block: higher score first,
    equal scores by ascending rank (ascending corpus id). Deterministic, whatever the block order."""
    values = scores
    candidate_ranks = ranks.unsqueeze(0).expand(scores.shape[0], -1)
    if current is not None:
        values = torch.cat([current[0], values], dim=1)
        candidate_ranks = torch.cat([current[1], candidate_ranks], dim=1)
    by_rank = torch.argsort(candidate_ranks, dim=1, stable=True)
    values, candidate_ranks = values.gather(1, by_rank), candidate_ranks.gather(1, by_rank)
    by_score = torch.argsort(values, dim=1, descending=True, stable=True)[:, :k]
    return values.gather(1, by_score), candidate_ranks.gather(1, by_score)


def _dcg(relevances: list[Any]) -> float:
    return sum(float(rel) / math.log2(position + 2) for position, rel in enumerate(relevances))
