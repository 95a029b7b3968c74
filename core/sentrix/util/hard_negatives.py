"""Hard-negative mining: turn (anchor, positive) pairs into triplets with difficult negatives."""

from __future__ import annotations

import logging
import random
from typing import Any, Literal

import torch

from sentrix.errors import InvalidInputError

logger = logging.getLogger(__name__)

FORMATS = ("triplet", "n-tuple", "labeled-pair", "labeled-list")


def mine_hard_negatives(
    dataset: Any,
    model: Any,
    anchor_column_name: str | None = None,
    positive_column_name: str | None = None,
    corpus: list[str] | None = None,
    cross_encoder: Any = None,
    range_min: int = 0,
    range_max: int | None = None,
    max_score: float | None = None,
    min_score: float | None = None,
    absolute_margin: float | None = None,
    relative_margin: float | None = None,
    num_negatives: int = 3,
    sampling_strategy: Literal["random", "top"] = "top",
    query_prompt_name: str | None = None,
    query_prompt: str | None = None,
    corpus_prompt_name: str | None = None,
    corpus_prompt: str | None = None,
    include_positives: bool = False,
    output_format: Literal["triplet", "n-tuple", "labeled-pair", "labeled-list"] = "triplet",
    output_scores: bool = False,
    batch_size: int = 32,
    use_faiss: bool = False,
    verbose: bool = True,
    **unused: Any,
) -> Any:
    """Add hard negatives to a ``datasets.Dataset`` of (anchor, positive) pairs.

    Every anchor is embedded with ``model.encode_query`` and every candidate (the positives, plus
    ``corpus`` if given) with ``model.encode_document``, both normalised; candidates are ranked by
    cosine similarity (or rescored by ``cross_encoder.predict`` when given). A candidate is kept as
    a negative when it is not one of the anchor's positives (unless ``include_positives``), its
    rank is in ``[range_min, range_max)``, its score is within ``[min_score, max_score]``, and it
    scores at least ``absolute_margin`` (or ``relative_margin`` x |positive score|) below the
    anchor's weakest positive. ``sampling_strategy="top"`` takes the best ``num_negatives``
    candidates left, ``"random"`` a random sample of them.

    Output (``output_format``): ``"triplet"`` (anchor, positive, negative) rows; ``"n-tuple"``
    (anchor, positive, negative_1..n); ``"labeled-pair"`` (anchor, text, label 1/0);
    ``"labeled-list"`` (anchor, [texts], [labels]). ``output_scores=True`` adds the scores
    instead of labels. Exact search is used (``use_faiss`` is accepted and ignored).

    Example::

        from datasets import Dataset
        from sentrix.util import mine_hard_negatives
        pairs = Dataset.from_dict({"query": [...], "answer": [...]})
        triplets = mine_hard_negatives(pairs, model, num_negatives=1, range_min=2, relative_margin=0.05)

    Reference: NV-Retriever (Moreira et al., 2024, https://arxiv.org/abs/2407.15831).
    """
    from datasets import Dataset

    if len(dataset) == 0:
        raise InvalidInputError("mine_hard_negatives got an empty dataset; it needs (anchor, positive) rows.")
    columns = dataset.column_names
    anchor_column_name = anchor_column_name if anchor_column_name in columns else columns[0]
    if positive_column_name not in columns:
        if len(columns) < 2:
            raise InvalidInputError(
                f"mine_hard_negatives needs an anchor and a positive column; the dataset has only {columns}."
            )
        positive_column_name = columns[1]
    if output_format not in FORMATS:
        raise InvalidInputError(f"output_format must be one of {', '.join(FORMATS)}, got {output_format!r}.")
    if sampling_strategy not in ("top", "random"):
        raise InvalidInputError(f"sampling_strategy must be 'top' or 'random', got {sampling_strategy!r}.")
    if num_negatives < 1:
        raise InvalidInputError(f"num_negatives must be at least 1, got {num_negatives}.")
    if include_positives:
        output_format = "n-tuple"  # keeps the ranking order, positives included

    anchors_all = list(dataset[anchor_column_name])
    positives_all = list(dataset[positive_column_name])
    queries = list(dict.fromkeys(anchors_all))
    candidates = list(dict.fromkeys((corpus or []) + positives_all))
    query_index = {text: i for i, text in enumerate(queries)}
    candidate_index = {text: i for i, text in enumerate(candidates)}
    positives_of: list[list[int]] = [[] for _ in queries]
    for anchor, positive in zip(anchors_all, positives_all):
        ids = positives_of[query_index[anchor]]
        if candidate_index[positive] not in ids:
            ids.append(candidate_index[positive])
    most_positives = max(len(ids) for ids in positives_of)
    if range_max is None:
        filtering = any(v is not None for v in (absolute_margin, relative_margin, max_score))
        range_max = range_min + num_negatives * (10 if filtering else 1) + most_positives
    if range_min < 0 or range_min >= range_max:
        raise InvalidInputError(f"Need 0 <= range_min < range_max, got range_min={range_min}, range_max={range_max}.")
    if num_negatives > range_max - range_min:
        raise InvalidInputError(
            f"Cannot mine {num_negatives} negatives from ranks {range_min}..{range_max}. Fix: lower num_negatives or "
            "widen the range."
        )

    query_emb = model.encode_query(queries, prompt_name=query_prompt_name, prompt=query_prompt, batch_size=batch_size,
                                   normalize_embeddings=True, convert_to_tensor=True, show_progress_bar=verbose)
    doc_emb = model.encode_document(candidates, prompt_name=corpus_prompt_name, prompt=corpus_prompt,
                                    batch_size=batch_size, normalize_embeddings=True, convert_to_tensor=True,
                                    show_progress_bar=verbose)
    k = min(range_max + most_positives, len(candidates))
    scores, indices = torch.topk(model.similarity(query_emb, doc_emb), k=k, dim=1)
    positive_scores = [model.similarity_pairwise(query_emb[[q] * len(ids)], doc_emb[ids]) for q, ids in
                       enumerate(positives_of)]
    if cross_encoder is not None:
        for q, row in enumerate(indices.tolist()):
            pairs = [(queries[q], candidates[c]) for c in row]
            scores[q] = torch.as_tensor(cross_encoder.predict(pairs), dtype=scores.dtype)
            positive_scores[q] = torch.as_tensor(
                cross_encoder.predict([(queries[q], candidates[c]) for c in positives_of[q]]), dtype=scores.dtype)
        scores, order = scores.sort(dim=1, descending=True)
        indices = indices.gather(1, order)

    excluded = torch.zeros_like(scores, dtype=torch.bool)
    for q, ids in enumerate(positives_of):
        if not include_positives:
            excluded[q] |= torch.isin(indices[q], torch.tensor(ids))
        weakest = float(positive_scores[q].min())
        if absolute_margin is not None:
            excluded[q] |= scores[q] + absolute_margin > weakest
        if relative_margin is not None:
            excluded[q] |= scores[q] > weakest - abs(weakest) * relative_margin
    if max_score is not None:
        excluded |= scores > max_score
    if min_score is not None:
        excluded |= scores < min_score

    chosen: list[list[tuple[int, float]]] = []
    for q in range(len(queries)):
        kept = [(int(c), float(s)) for c, s, drop in zip(indices[q], scores[q], excluded[q]) if not drop]
        kept = kept[range_min:range_max]  # ranks count among the candidates that passed the filters
        if sampling_strategy == "random" and len(kept) > num_negatives:
            kept = sorted(random.sample(kept, num_negatives), key=lambda item: -item[1])
        chosen.append(kept[:num_negatives])
    if verbose:
        short = sum(len(c) < num_negatives for c in chosen)
        logger.info("Mined negatives for %d anchors; %d got fewer than %d.", len(queries), short, num_negatives)
    return Dataset.from_dict(_rows(output_format, output_scores, anchor_column_name, positive_column_name, queries,
                                   candidates, positives_of, positive_scores, chosen, num_negatives))


def _rows(output_format, output_scores, anchor_col, positive_col, queries, candidates, positives_of,
          positive_scores, chosen, num_negatives) -> dict[str, list]:
    data: dict[str, list] = {anchor_col: [], positive_col: []}
    extra = {
        "triplet": ["negative"] + (["scores"] if output_scores else []),
        "n-tuple": [f"negative_{i}" for i in range(1, num_negatives + 1)] + (["scores"] if output_scores else []),
        "labeled-pair": ["score" if output_scores else "label"],
        "labeled-list": ["scores" if output_scores else "labels"],
    }[output_format]
    data.update({key: [] for key in extra})
    for q, (ids, negatives) in enumerate(zip(positives_of, chosen)):
        for p, positive in enumerate(ids):
            pos_score = float(positive_scores[q][p])
            if output_format == "triplet":
                for negative, score in negatives:
                    data[anchor_col].append(queries[q])
                    data[positive_col].append(candidates[positive])
                    data.setdefault("negative", []).append(candidates[negative])
                    if output_scores:
                        data.setdefault("scores", []).append([pos_score, score])
            elif output_format == "n-tuple":
                if len(negatives) < num_negatives:
                    continue
                data[anchor_col].append(queries[q])
                data[positive_col].append(candidates[positive])
                for i, (negative, _) in enumerate(negatives, start=1):
                    data.setdefault(f"negative_{i}", []).append(candidates[negative])
                if output_scores:
                    data.setdefault("scores", []).append([pos_score] + [s for _, s in negatives])
            elif output_format == "labeled-list":
                if not negatives:
                    continue
                data[anchor_col].append(queries[q])
                data[positive_col].append([candidates[positive]] + [candidates[n] for n, _ in negatives])
                key, values = ("scores", [pos_score] + [s for _, s in negatives]) if output_scores else \
                    ("labels", [1] + [0] * len(negatives))
                data.setdefault(key, []).append(values)
        if output_format == "labeled-pair":
            key = "score" if output_scores else "label"
            for p, positive in enumerate(ids):
                data[anchor_col].append(queries[q])
                data[positive_col].append(candidates[positive])
                data.setdefault(key, []).append(float(positive_scores[q][p]) if output_scores else 1)
            for negative, score in negatives:
                data[anchor_col].append(queries[q])
                data[positive_col].append(candidates[negative])
                data.setdefault(key, []).append(score if output_scores else 0)
    return data
