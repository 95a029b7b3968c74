"""Nearest-neighbour search over embeddings: semantic search (old name ``information_retrieval``),
paraphrase mining, community detection."""

from __future__ import annotations

import heapq
from typing import Any, Callable

import torch
from torch import Tensor

from sentrix.similarity import _as_tensor, cos_sim


def _as_2d(value: Any) -> Tensor:
    tensor = _as_tensor(value)
    return tensor.unsqueeze(0) if tensor.ndim == 1 else tensor


def semantic_search(
    query_embeddings: Any,
    corpus_embeddings: Any,
    query_chunk_size: int = 100,
    corpus_chunk_size: int = 500000,
    top_k: int = 10,
    score_function: Callable[[Tensor, Tensor], Tensor] = cos_sim,
) -> list[list[dict[str, int | float]]]:
    """For each query, the ``top_k`` corpus entries by ``score_function``.

    Returns one list per query of ``{"corpus_id": int, "score": float}`` dicts, best first.
    Works in chunks, so corpora larger than memory for a full score matrix are fine.

    Example::

        hits = semantic_search(model.encode(queries), model.encode(corpus), top_k=5)
        best = hits[0][0]["corpus_id"]
    """
    queries = _as_2d(query_embeddings)
    corpus = _as_2d(corpus_embeddings).to(queries.device)
    results: list[list[tuple[float, int]]] = [[] for _ in range(len(queries))]
    for q_start in range(0, len(queries), query_chunk_size):
        for c_start in range(0, len(corpus), corpus_chunk_size):
            scores = score_function(
                queries[q_start : q_start + query_chunk_size], corpus[c_start : c_start + corpus_chunk_size]
            )
            k = min(top_k, scores.shape[1])
            values, indices = torch.topk(scores, k, dim=1, largest=True, sorted=False)
            for row, (row_values, row_indices) in enumerate(zip(values.tolist(), indices.tolist())):
                heap = results[q_start + row]
                for score, index in zip(row_values, row_indices):
                    item = (score, c_start + index)
                    if len(heap) < top_k:
                        heapq.heappush(heap, item)
                    else:
                        heapq.heappushpop(heap, item)
    return [
        [{"corpus_id": index, "score": score} for score, index in sorted(heap, key=lambda x: (-x[0], x[1]))]
        for heap in results
    ]


def information_retrieval(*args: Any, **kwargs: Any) -> list[list[dict[str, int | float]]]:
    """Old name of :func:`semantic_search` (same arguments, same result)."""
    return semantic_search(*args, **kwargs)


def paraphrase_mining_embeddings(
    embeddings: Any,
    query_chunk_size: int = 5000,
    corpus_chunk_size: int = 100000,
    max_pairs: int = 500000,
    top_k: int = 100,
    score_function: Callable[[Tensor, Tensor], Tensor] = cos_sim,
) -> list[list[float | int]]:
    """All pairs ``[score, i, j]`` (``i < j``) among each item's ``top_k`` neighbours, best first,
    at most ``max_pairs`` of them."""
    embeddings = _as_2d(embeddings)
    top_k += 1  # each item finds itself
    best: dict[tuple[int, int], float] = {}
    for c_start in range(0, len(embeddings), corpus_chunk_size):
        corpus = embeddings[c_start : c_start + corpus_chunk_size]
        for q_start in range(0, len(embeddings), query_chunk_size):
            scores = score_function(embeddings[q_start : q_start + query_chunk_size], corpus)
            values, indices = torch.topk(scores, min(top_k, scores.shape[1]), dim=1, largest=True, sorted=False)
            for row, (row_values, row_indices) in enumerate(zip(values.tolist(), indices.tolist())):
                i = q_start + row
                for score, index in zip(row_values, row_indices):
                    j = c_start + index
                    if i != j:
                        key = (min(i, j), max(i, j))
                        best[key] = max(score, best.get(key, float("-inf")))
    pairs = sorted(((score, i, j) for (i, j), score in best.items()), key=lambda x: (-x[0], x[1], x[2]))
    return [[score, i, j] for score, i, j in pairs[:max_pairs]]


def paraphrase_mining(
    model: Any,
    sentences: list[str],
    show_progress_bar: bool = False,
    batch_size: int = 32,
    query_chunk_size: int = 5000,
    corpus_chunk_size: int = 100000,
    max_pairs: int = 500000,
    top_k: int = 100,
    score_function: Callable[[Tensor, Tensor], Tensor] = cos_sim,
    truncate_dim: int | None = None,
    prompt_name: str | None = None,
    prompt: str | None = None,
) -> list[list[float | int]]:
    """Encode ``sentences`` with ``model`` and return likely paraphrase pairs ``[score, i, j]``, best first.

    Example::

        pairs = paraphrase_mining(model, ["A man eats.", "A man is eating food.", "It rains."])
        score, i, j = pairs[0]
    """
    embeddings = model.encode(
        sentences, show_progress_bar=show_progress_bar, batch_size=batch_size, convert_to_tensor=True,
        truncate_dim=truncate_dim, prompt_name=prompt_name, prompt=prompt,
    )
    return paraphrase_mining_embeddings(embeddings, query_chunk_size, corpus_chunk_size, max_pairs, top_k,
                                        score_function)


def community_detection(embeddings: Any, threshold: float = 0.75, min_community_size: int = 10,
                        batch_size: int = 1024, show_progress_bar: bool = False) -> list[list[int]]:
    """Groups of items whose cosine similarity to a central item is at least ``threshold``.

    Returns non-overlapping communities (lists of indices, central item first), largest first,
    each with at least ``min_community_size`` members.
    """
    embeddings = _as_2d(embeddings)
    min_community_size = min(min_community_size, len(embeddings))
    candidates = []
    for start in range(0, len(embeddings), batch_size):
        scores = cos_sim(embeddings[start : start + batch_size], embeddings)
        for _row, row_scores in enumerate(scores):
            members = torch.nonzero(row_scores >= threshold).flatten()
            if len(members) >= min_community_size:
                order = torch.argsort(row_scores[members], descending=True)
                candidates.append(members[order].tolist())
    candidates.sort(key=len, reverse=True)
    taken: set[int] = set()
    communities = []
    for community in candidates:
        community = [i for i in community if i not in taken]
        if len(community) >= min_community_size:
            communities.append(community)
            taken.update(community)
    return communities
