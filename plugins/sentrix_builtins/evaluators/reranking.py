"""``reranking``: rank each query's positive and negative documents and score the ranking (MAP, MRR, nDCG).

Documented on the class below (``sentrix plugins show NAME`` prints it).
"""

from __future__ import annotations

import logging
from typing import Any, Callable

import numpy as np
import torch
from sklearn.metrics import average_precision_score, ndcg_score

from sentrix.plugin_api import EncodeRequest, InvalidInputError, SentenceEvaluator, cos_sim, describe_when, encode_fn
from sentrix_builtins.evaluators._checks import check_positive_int, check_texts, problems_of

logger = logging.getLogger(__name__)

__all__ = ["RerankingEvaluator"]


class RerankingEvaluator(SentenceEvaluator):
    """Rank each query's positive and negative documents by similarity; report MAP, MRR@k and nDCG@k.

    Every sample is a query with its own small candidate list: relevant (``positive``) and
    irrelevant (``negative``) documents. Queries are embedded with ``model.encode_query`` and
    documents with ``model.encode_document`` (so a model's ``query`` / ``document`` prompts apply),
    the candidates are sorted by ``similarity_fct(query, documents)``, and the ranking is scored
    with mean average precision over all candidates, the reciprocal rank of the first relevant
    document within the top ``at_k`` (MRR@k) and nDCG@k (scikit-learn ``ndcg_score``, ties
    averaged). Samples without a positive or without a negative are dropped. Results equal
    sentence-transformers 6.2's ``RerankingEvaluator``, CSV file included.

    With ``output_path`` and ``write_csv=True`` a row ``epoch, steps, MAP, MRR@k, NDCG@k`` is
    appended to ``RerankingEvaluator[_<name>]_results_@<k>.csv``.

    Args:
        samples: a list (or a dict whose values are used) of ``{"query": text, "positive": texts,
            "negative": texts}``; ``positive`` / ``negative`` may also be a single text.
        at_k: cut-off for MRR and nDCG; default 10.
        name: metric-key and file-name prefix, e.g. ``"ms-marco-dev"``; default ``""``.
        write_csv: append results to a CSV file when ``output_path`` is given; default ``True``.
        similarity_fct: ``fn(query_embeddings, document_embeddings) -> scores`` matrix; default
            cosine similarity (``cos_sim``).
        batch_size: encoding batch size; default 64.
        show_progress_bar: show encoding progress bars; default ``False``.
        use_batched_encoding: embed all queries and all documents in large batches (default
            ``True``), or sample by sample to save memory.
        truncate_dim: keep only the first ``truncate_dim`` embedding dimensions; default ``None``.
        mrr_at_k: deprecated name of ``at_k`` (used when given, with a warning); default ``None``.

    Metrics:
        Keys prefixed with ``name + "_"``: ``map``, ``mrr@<k>``, ``ndcg@<k>``. ``primary_metric``
        is ``ndcg@<k>``; higher is better. E.g. ``ms-marco-dev_ndcg@10``.

    Example:
        .. code-block:: python

            from sentrix import SentenceTransformer
            from sentrix.evaluation import RerankingEvaluator

            model = SentenceTransformer("sentence-transformers/all-MiniLM-L6-v2")
            evaluator = RerankingEvaluator(
                samples=[
                    {"query": "capital of France", "positive": ["Paris is the capital of France."],
                     "negative": ["Berlin is in Germany.", "The Seine flows through Paris."]},
                    {"query": "who wrote Hamlet", "positive": "Shakespeare wrote Hamlet.",
                     "negative": ["Goethe wrote Faust."]},
                ],
                name="toy",
            )
            print(evaluator(model))      # {"toy_map": ..., "toy_mrr@10": ..., "toy_ndcg@10": ...}

    References:
        sentence-transformers 6.2 ``RerankingEvaluator`` (same arguments, keys and CSV); Järvelin &
        Kekäläinen, "Cumulated gain-based evaluation of IR techniques", ACM TOIS 2002 (nDCG).
    """

    def __init__(
        self,
        samples: list[dict[str, Any]] | dict[Any, dict[str, Any]],
        at_k: int = 10,
        name: str = "",
        write_csv: bool = True,
        similarity_fct: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] = cos_sim,
        batch_size: int = 64,
        show_progress_bar: bool = False,
        use_batched_encoding: bool = True,
        truncate_dim: int | None = None,
        mrr_at_k: int | None = None,
    ) -> None:
        super().__init__()
        owner = type(self).__name__
        if mrr_at_k is not None:
            logger.warning("The `mrr_at_k` parameter has been deprecated; please use `at_k=%s` instead.", mrr_at_k)
            at_k = mrr_at_k
        check_positive_int(owner, "mrr_at_k" if mrr_at_k is not None else "at_k", at_k)
        if not callable(similarity_fct):
            raise InvalidInputError(
                f"{owner}: similarity_fct must be a function (query_embeddings, document_embeddings) -> scores, "
                f"got {similarity_fct!r}. Use e.g. sentrix.util.cos_sim or sentrix.util.dot_score."
            )
        self.samples = self._normalise_samples(owner, samples)
        self.at_k = at_k
        self.name = name
        self.write_csv = write_csv
        self.similarity_fct = similarity_fct
        self.batch_size = batch_size
        self.show_progress_bar = show_progress_bar
        self.use_batched_encoding = use_batched_encoding
        self.truncate_dim = truncate_dim
        self.csv_file = "RerankingEvaluator" + (f"_{name}" if name else "") + f"_results_@{at_k}.csv"
        self.csv_headers = ["epoch", "steps", "MAP", f"MRR@{at_k}", f"NDCG@{at_k}"]
        self.primary_metric = f"ndcg@{at_k}"

    @staticmethod
    def _normalise_samples(owner: str, samples: Any) -> list[dict[str, Any]]:
        """Samples as a list of dicts with list-valued ``positive`` / ``negative``; incomplete ones dropped."""
        if isinstance(samples, dict):
            samples = list(samples.values())
        if samples is None or isinstance(samples, (str, bytes)) or not hasattr(samples, "__iter__"):
            raise InvalidInputError(
                f"{owner}: samples must be a list of {{'query', 'positive', 'negative'}} dicts, got {type(samples).__name__}."
            )
        samples = list(samples)
        if not samples:
            raise InvalidInputError(f"{owner}: samples is empty; pass at least one {{'query', 'positive', 'negative'}} dict.")
        kept = []
        for index, sample in enumerate(samples):
            if not isinstance(sample, dict):
                raise InvalidInputError(
                    f"{owner}: samples[{index}] is a {type(sample).__name__}; each sample must be a dict "
                    "with 'query', 'positive' and 'negative'."
                )
            missing = [key for key in ("query", "positive", "negative") if key not in sample]
            if missing:
                raise InvalidInputError(
                    f"{owner}: samples[{index}] has no {missing}; each sample needs 'query' (a text), "
                    "'positive' and 'negative' (a text or a list of texts)."
                )
            check_texts(owner, f"samples[{index}]['query']", [sample["query"]])
            docs = {}
            for key in ("positive", "negative"):
                value = sample[key]
                value = [value] if isinstance(value, str) else value
                docs[key] = check_texts(owner, f"samples[{index}]['{key}']", value, allow_empty=True)
            if docs["positive"] and docs["negative"]:
                kept.append({**sample, **docs})
        if not kept:
            raise InvalidInputError(
                f"{owner}: no sample has both a positive and a negative document, so there is nothing to rank. "
                "Give each sample at least one text in 'positive' and one in 'negative'."
            )
        return kept

    def check_inputs(self) -> list[str]:
        """Well-formed samples with non-empty texts (run again by the trainer before training)."""
        return problems_of(self._normalise_samples, type(self).__name__, self.samples)

    def texts_to_encode(self, model: Any) -> list[EncodeRequest]:
        options = {"batch_size": self.batch_size, "truncate_dim": self.truncate_dim}
        documents = [d for s in self.samples for d in (*s["positive"], *s["negative"])]
        return [
            EncodeRequest([s["query"] for s in self.samples], "query", options),
            EncodeRequest(documents, "document", options),
        ]

    def __call__(self, model: Any, output_path: str | None = None, epoch: int = -1, steps: int = -1) -> dict[str, float]:
        suffix = describe_when(epoch, steps) + (f" (truncated to {self.truncate_dim})" if self.truncate_dim is not None else "")
        logger.info("RerankingEvaluator: Evaluating the model on the %s dataset%s:", self.name, suffix)

        scores = self.compute_metrics(model)
        positives = [len(sample["positive"]) for sample in self.samples]
        negatives = [len(sample["negative"]) for sample in self.samples]
        logger.info(
            "Queries: %d \t Positives: Min %.1f, Mean %.1f, Max %.1f \t Negatives: Min %.1f, Mean %.1f, Max %.1f",
            len(self.samples), min(positives), np.mean(positives), max(positives),
            min(negatives), np.mean(negatives), max(negatives),
        )
        logger.info("MAP: %.2f", scores["map"] * 100)
        logger.info("MRR@%d: %.2f", self.at_k, scores["mrr"] * 100)
        logger.info("NDCG@%d: %.2f", self.at_k, scores["ndcg"] * 100)
        self.write_csv_row(output_path, [epoch, steps, scores["map"], scores["mrr"], scores["ndcg"]])

        metrics = {"map": scores["map"], f"mrr@{self.at_k}": scores["mrr"], f"ndcg@{self.at_k}": scores["ndcg"]}
        metrics = self.prefix_name_to_metrics(metrics, self.name)
        self.store_metrics_in_model_card_data(model, metrics, epoch, steps)
        return metrics

    def compute_metrics(self, model: Any) -> dict[str, float]:
        """``{"map": ..., "mrr": ..., "ndcg": ...}`` averaged over the samples."""
        return self.compute_metrics_batched(model) if self.use_batched_encoding else self.compute_metrics_individual(model)

    def compute_metrics_batched(self, model: Any) -> dict[str, float]:
        """Embed all queries in one call and all documents in another, then score sample by sample."""
        queries = self.embed_inputs(model, [s["query"] for s in self.samples], encode_fn_name="query",
                                    show_progress_bar=self.show_progress_bar)
        documents = self.embed_inputs(model, [d for s in self.samples for d in (*s["positive"], *s["negative"])],
                                      encode_fn_name="document", show_progress_bar=self.show_progress_bar)
        per_sample, start = [], 0
        for index, sample in enumerate(self.samples):
            count = len(sample["positive"]) + len(sample["negative"])
            per_sample.append(self._score_sample(queries[index], documents[start : start + count], len(sample["positive"])))
            start += count
        return self._average(per_sample)

    def compute_metrics_individual(self, model: Any) -> dict[str, float]:
        """Embed each sample's query and documents separately (less memory, slower)."""
        samples = self.samples
        if self.show_progress_bar:
            from tqdm.auto import tqdm

            samples = tqdm(samples, desc="Samples")
        per_sample = []
        for sample in samples:
            query = self.embed_inputs(model, [sample["query"]], encode_fn_name="query", show_progress_bar=False)
            documents = self.embed_inputs(model, [*sample["positive"], *sample["negative"]], encode_fn_name="document",
                                          show_progress_bar=False)
            per_sample.append(self._score_sample(query, documents, len(sample["positive"])))
        return self._average(per_sample)

    # Old spellings kept for scripts that call them.
    compute_metrices = compute_metrics
    compute_metrices_batched = compute_metrics_batched
    compute_metrices_individual = compute_metrics_individual

    def _score_sample(self, query: Any, documents: Any, num_positive: int) -> tuple[float, float, float]:
        """(reciprocal rank within at_k, nDCG@k, average precision) of one sample; positives come first."""
        scores = self.similarity_fct(query, documents)
        if scores.dim() > 1:
            scores = scores[0]
        relevant = [1] * num_positive + [0] * (len(scores) - num_positive)
        ranking = torch.argsort(-scores, stable=True)[: self.at_k].tolist()
        reciprocal_rank = next((1 / (rank + 1) for rank, doc in enumerate(ranking) if relevant[doc]), 0)
        scores_list = scores.cpu().tolist()
        ndcg = ndcg_score([relevant], [scores_list], k=self.at_k)
        ap = average_precision_score(relevant, scores_list)
        return reciprocal_rank, ndcg, ap

    @staticmethod
    def _average(per_sample: list[tuple[float, float, float]]) -> dict[str, float]:
        mrr, ndcg, ap = zip(*per_sample)
        return {"map": np.mean(ap), "mrr": np.mean(mrr), "ndcg": np.mean(ndcg)}

    def embed_inputs(
        self,
        model: Any,
        sentences: Any,
        encode_fn_name: str | None = None,
        show_progress_bar: bool | None = None,
        **kwargs: Any,
    ) -> torch.Tensor:
        encode = encode_fn(model, encode_fn_name)
        return encode(
            sentences,
            batch_size=self.batch_size,
            show_progress_bar=show_progress_bar,
            convert_to_tensor=True,
            truncate_dim=self.truncate_dim,
            **kwargs,
        )

    def get_config_dict(self) -> dict[str, Any]:
        config: dict[str, Any] = {"at_k": self.at_k}
        if self.truncate_dim is not None:
            config["truncate_dim"] = self.truncate_dim
        return config

    @classmethod
    def contract_example(cls) -> "RerankingEvaluator":
        """Three queries with two to three candidates each, named ``reranking-example``."""
        return cls(
            samples=[
                {"query": "what's the capital of france", "positive": ["paris is the capital of france"],
                 "negative": ["the stock market fell today", "a dog runs on the beach"]},
                {"query": "music with a guitar", "positive": ["a man is playing a guitar", "a woman plays the piano"],
                 "negative": ["children play football in the park"]},
                {"query": "weather today", "positive": "the sun is hot and the sky is blue",
                 "negative": ["the president talks to the news"]},
            ],
            name="reranking-example",
        )
