"""``paraphrase_mining``: mine the most similar sentence pairs and compare them with known duplicates.

Documented on the class below (``sentrix plugins show NAME`` prints it).
"""

from __future__ import annotations

import heapq
import logging
from collections import defaultdict
from typing import Any

import torch

from sentrix.plugin_api import EncodeRequest, InvalidInputError, SentenceEvaluator, cos_sim, describe_when
from sentrix_builtins.evaluators._checks import check_positive_int, check_texts, problems_of

logger = logging.getLogger(__name__)

__all__ = ["ParaphraseMiningEvaluator"]


def _nested_bool_dict() -> defaultdict:
    return defaultdict(bool)


class ParaphraseMiningEvaluator(SentenceEvaluator):
    """Mine the most similar sentence pairs of a collection and score them against known duplicates.

    Embeds every sentence of ``sentences_map``, finds for each sentence its ``top_k`` most similar
    other sentences (cosine similarity, computed in chunks of ``query_chunk_size`` x
    ``corpus_chunk_size``), keeps the ``max_pairs`` best distinct pairs, and walks them from most
    to least similar. Pairs with equal scores are taken together. The walk gives the average
    precision of the ranking over all gold duplicate pairs (the primary metric) and the threshold
    with the best F1, with its precision and recall. Results equal sentence-transformers 6.2's
    ``ParaphraseMiningEvaluator``, CSV file included.

    With ``output_path`` and ``write_csv=True`` a row ``epoch, steps, precision, recall, f1,
    threshold, average_precision`` is appended to
    ``paraphrase_mining_evaluation[_<name>]_results.csv``.

    Args:
        sentences_map: ``{sentence_id: text}`` (no ``None`` or empty texts).
        duplicates_list: gold duplicate pairs ``[(id1, id2), ...]``; pairs naming an id not in
            ``sentences_map`` are ignored. Default ``None``.
        duplicates_dict: gold duplicates as ``{id1: {id2: True}}``; used as given (a
            ``defaultdict(lambda: defaultdict(bool))`` is safest). Default ``None``.
        add_transitive_closure: also count ``(a, c)`` as duplicates when ``(a, b)`` and ``(b, c)``
            are; default ``False``.
        query_chunk_size: sentences compared at a time; default 5000.
        corpus_chunk_size: sentences each chunk is compared against at a time; default 100000.
        max_pairs: most candidate pairs kept; default 500000.
        top_k: most neighbours kept per sentence; default 100.
        show_progress_bar: show an encoding progress bar; default ``False``.
        batch_size: encoding batch size; default 16.
        name: metric-key and file-name prefix, e.g. ``"quora-dev"``; default ``""``.
        write_csv: append results to a CSV file when ``output_path`` is given; default ``True``.
        truncate_dim: keep only the first ``truncate_dim`` embedding dimensions; default ``None``.

    Metrics:
        Keys prefixed with ``name + "_"``: ``average_precision`` (the ``primary_metric``; higher is
        better), ``f1``, ``precision``, ``recall`` and ``threshold`` (the cosine similarity at the
        best F1). E.g. ``quora-dev_average_precision``.

    Example:
        .. code-block:: python

            from sentrix import SentenceTransformer
            from sentrix.evaluation import ParaphraseMiningEvaluator

            model = SentenceTransformer("sentence-transformers/all-MiniLM-L6-v2")
            evaluator = ParaphraseMiningEvaluator(
                sentences_map={"q1": "How do I learn Python?", "q2": "How can I learn Python fast?",
                               "q3": "What is the capital of France?", "q4": "Which city is France's capital?"},
                duplicates_list=[("q1", "q2"), ("q3", "q4")],
                name="quora-dev",
            )
            print(evaluator(model))    # {"quora-dev_average_precision": 1.0, "quora-dev_f1": 1.0, ...}

    References:
        sentence-transformers 6.2 ``ParaphraseMiningEvaluator`` (same arguments, keys and CSV);
        Reimers & Gurevych, "Sentence-BERT", EMNLP 2019 (Quora duplicate mining).
    """

    def __init__(
        self,
        sentences_map: dict[str, str],
        duplicates_list: list[tuple[str, str]] | None = None,
        duplicates_dict: dict[str, dict[str, bool]] | None = None,
        add_transitive_closure: bool = False,
        query_chunk_size: int = 5000,
        corpus_chunk_size: int = 100000,
        max_pairs: int = 500000,
        top_k: int = 100,
        show_progress_bar: bool = False,
        batch_size: int = 16,
        name: str = "",
        write_csv: bool = True,
        truncate_dim: int | None = None,
    ) -> None:
        super().__init__()
        owner = type(self).__name__
        if not isinstance(sentences_map, dict):
            raise InvalidInputError(
                f"{owner}: sentences_map must be a dict {{sentence_id: text}}, got {type(sentences_map).__name__}."
            )
        if len(sentences_map) < 2:
            raise InvalidInputError(
                f"{owner}: sentences_map has {len(sentences_map)} sentence(s); mining pairs needs at least two."
            )
        for sentence_id, text in sentences_map.items():
            if text is None or (isinstance(text, str) and not text.strip()):
                raise InvalidInputError(
                    f"{owner}: sentences_map[{sentence_id!r}] is {'None' if text is None else 'an empty string'}; "
                    "every sentence must be a non-empty text. Fill it in or drop that id."
                )
        self.ids = list(sentences_map)
        self.sentences = list(sentences_map.values())
        for arg, value in (("query_chunk_size", query_chunk_size), ("corpus_chunk_size", corpus_chunk_size),
                           ("max_pairs", max_pairs), ("top_k", top_k)):
            check_positive_int(owner, arg, value)
        if duplicates_list is None and duplicates_dict is None:
            raise InvalidInputError(
                f"{owner}: no gold duplicates given; pass duplicates_list=[(id1, id2), ...] or duplicates_dict."
            )

        self.name = name
        self.show_progress_bar = show_progress_bar
        self.batch_size = batch_size
        self.query_chunk_size = query_chunk_size
        self.corpus_chunk_size = corpus_chunk_size
        self.max_pairs = max_pairs
        self.top_k = top_k
        self.truncate_dim = truncate_dim
        self.write_csv = write_csv
        # `self.add_transitive_closure` is the static method, as in sentence-transformers
        self._add_transitive_closure = add_transitive_closure

        duplicates = duplicates_dict if duplicates_dict is not None else defaultdict(_nested_bool_dict)
        if duplicates_list is not None:
            for index, pair in enumerate(duplicates_list):
                if not isinstance(pair, (tuple, list)) or len(pair) != 2:
                    raise InvalidInputError(
                        f"{owner}: duplicates_list[{index}] = {pair!r}; each entry must be a pair (id1, id2)."
                    )
                id1, id2 = pair
                if id1 in sentences_map and id2 in sentences_map:
                    duplicates[id1][id2] = True
                    duplicates[id2][id1] = True
        if add_transitive_closure:
            duplicates = self.add_transitive_closure(duplicates)
        self.duplicates = duplicates

        gold = {
            tuple(sorted((a, b)))
            for a in duplicates
            for b in duplicates[a]
            if a in sentences_map and b in sentences_map and (duplicates[a][b] or self._is_duplicate(b, a))
        }
        self.total_num_duplicates = len(gold)

        self.csv_file = "paraphrase_mining_evaluation" + (f"_{name}" if name else "") + "_results.csv"
        self.csv_headers = ["epoch", "steps", "precision", "recall", "f1", "threshold", "average_precision"]
        self.primary_metric = "average_precision"

    def check_inputs(self) -> list[str]:
        """Non-empty sentences (run again by the trainer before training)."""
        return problems_of(check_texts, type(self).__name__, "sentences_map values", self.sentences)

    def texts_to_encode(self, model: Any) -> list[EncodeRequest]:
        return [EncodeRequest(self.sentences, None, {"batch_size": self.batch_size, "truncate_dim": self.truncate_dim})]

    def _is_duplicate(self, a: Any, b: Any) -> bool:
        return bool(self.duplicates.get(a, {}).get(b, False))

    def __call__(self, model: Any, output_path: str | None = None, epoch: int = -1, steps: int = -1) -> dict[str, float]:
        suffix = describe_when(epoch, steps) + (f" (truncated to {self.truncate_dim})" if self.truncate_dim is not None else "")
        logger.info("Paraphrase Mining Evaluation of the model on the %s dataset%s:", self.name, suffix)

        embeddings = self.embed_inputs(model, self.sentences)
        pairs = self.mine_pairs(embeddings)
        logger.info("Number of candidate pairs: %d", len(pairs))

        found = predicted = found_before = 0
        threshold: float = 0
        best_f1 = best_precision = best_recall = 0
        average_precision: float = 0
        for index, (score, i, j) in enumerate(pairs):
            predicted += 1
            if self._is_duplicate(self.ids[i], self.ids[j]) or self._is_duplicate(self.ids[j], self.ids[i]):
                found += 1
            if index + 1 < len(pairs) and pairs[index + 1][0] == score:
                continue  # equal scores are one step of the walk
            if found > found_before:
                precision = found / predicted
                recall = found / self.total_num_duplicates if self.total_num_duplicates > 0 else 0.0
                f1 = 2 * precision * recall / (precision + recall)
                average_precision += precision * (found - found_before)
                if f1 > best_f1:
                    best_f1, best_precision, best_recall = f1, precision, recall
                    threshold = (score + pairs[min(index + 1, len(pairs) - 1)][0]) / 2
            found_before = found
        average_precision = average_precision / self.total_num_duplicates if self.total_num_duplicates > 0 else 0

        logger.info("Average Precision: %.2f", average_precision * 100)
        logger.info("Optimal threshold: %.4f", threshold)
        logger.info("Precision: %.2f", best_precision * 100)
        logger.info("Recall: %.2f", best_recall * 100)
        logger.info("F1: %.2f\n", best_f1 * 100)
        self.write_csv_row(output_path, [epoch, steps, best_precision, best_recall, best_f1, threshold, average_precision])

        metrics = {
            "average_precision": average_precision,
            "f1": best_f1,
            "precision": best_precision,
            "recall": best_recall,
            "threshold": threshold,
        }
        metrics = self.prefix_name_to_metrics(metrics, self.name)
        self.store_metrics_in_model_card_data(model, metrics, epoch, steps)
        return metrics

    def mine_pairs(self, embeddings: torch.Tensor) -> list[list[Any]]:
        """Candidate pairs ``[score, i, j]`` (``i < j``), most similar first.

        Each sentence contributes its ``top_k`` nearest other sentences; a pair keeps the score of
        the sentence that found it first (in sentence order); at most ``max_pairs`` pairs, the
        lowest-scoring dropped first.
        """
        count = len(embeddings)
        heap: list[tuple[float, int, int]] = []  # min-heap of the kept pairs
        kept: set[tuple[int, int]] = set()
        floor = float("-inf")  # score of the last pair pushed out; nothing at or below it gets in
        for q_start in range(0, count, self.query_chunk_size):
            queries = embeddings[q_start : q_start + self.query_chunk_size]
            best_values, best_indices = self._nearest(queries, embeddings)
            for row, (values, indices) in enumerate(zip(best_values, best_indices)):
                i = q_start + row
                neighbours = [(j, score) for j, score in zip(indices, values) if j != i][: self.top_k]
                for j, score in neighbours:
                    if score <= floor:
                        continue
                    pair = (min(i, j), max(i, j))
                    if pair in kept:
                        continue
                    kept.add(pair)
                    if len(heap) < self.max_pairs:
                        heapq.heappush(heap, (score, *pair))
                    else:
                        dropped = heapq.heappushpop(heap, (score, *pair))
                        kept.discard(dropped[1:])
                        floor = dropped[0]
        return sorted(([score, i, j] for score, i, j in heap), key=lambda item: item[0], reverse=True)

    def _nearest(self, queries: torch.Tensor, embeddings: torch.Tensor) -> tuple[list[list[float]], list[list[int]]]:
        """Per query, the ``top_k + 1`` best (score, index) over all corpus chunks (one may be itself)."""
        values = indices = None
        for c_start in range(0, len(embeddings), self.corpus_chunk_size):
            scores = cos_sim(queries, embeddings[c_start : c_start + self.corpus_chunk_size]).detach()
            chunk_values, chunk_indices = torch.topk(scores, min(self.top_k + 1, scores.shape[1]), dim=1, largest=True)
            chunk_indices = chunk_indices + c_start
            if values is None:
                values, indices = chunk_values, chunk_indices
            else:
                merged_values = torch.cat([values, chunk_values], dim=1)
                merged_indices = torch.cat([indices, chunk_indices], dim=1)
                values, position = torch.topk(merged_values, min(self.top_k + 1, merged_values.shape[1]), dim=1)
                indices = torch.gather(merged_indices, 1, position)
        return values.cpu().tolist(), indices.cpu().tolist()

    @staticmethod
    def add_transitive_closure(graph: Any) -> Any:
        """Mark every two members of a connected group of duplicates as duplicates (in place; returned)."""
        visited: set[Any] = set()
        for start in list(graph.keys()):
            if start in visited:
                continue
            group = {start}
            queue = [node for node, is_duplicate in graph[start].items() if is_duplicate]
            while queue:
                node = queue.pop(0)
                if node not in group:
                    group.add(node)
                    queue.extend(other for other, is_duplicate in graph[node].items() if is_duplicate)
            members = list(group)
            for a_index in range(len(members) - 1):
                for b_index in range(a_index + 1, len(members)):
                    a, b = members[a_index], members[b_index]
                    graph[a][b] = True
                    graph[b][a] = True
                    visited.update((a, b))
        return graph

    def embed_inputs(self, model: Any, sentences: Any, **kwargs: Any) -> torch.Tensor:
        kwargs.setdefault("convert_to_numpy", False)
        kwargs.setdefault("convert_to_tensor", True)
        return super().embed_inputs(model, sentences, **kwargs)

    def get_config_dict(self) -> dict[str, Any]:
        config: dict[str, Any] = {
            "add_transitive_closure": self._add_transitive_closure,
            "max_pairs": self.max_pairs,
            "top_k": self.top_k,
        }
        if self.truncate_dim is not None:
            config["truncate_dim"] = self.truncate_dim
        return config

    @classmethod
    def contract_example(cls) -> "ParaphraseMiningEvaluator":
        """Eight sentences with three duplicate pairs, named ``paraphrase-example``."""
        return cls(
            sentences_map={
                "s1": "a man is playing a guitar", "s2": "a man plays the guitar",
                "s3": "the cat sits on the mat", "s4": "a cat is sitting on the mat",
                "s5": "children play football", "s6": "kids play a game of soccer",
                "s7": "the stock market fell today", "s8": "the sun is hot and the sky is blue",
            },
            duplicates_list=[("s1", "s2"), ("s3", "s4"), ("s5", "s6")],
            name="paraphrase-example",
        )
