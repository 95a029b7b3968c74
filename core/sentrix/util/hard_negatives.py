"""Hard-negative mining: turn (anchor, positive) pairs into triplets with difficult negatives.

The search is chunked over both the queries and the corpus: at most ``faiss_batch_size x
corpus_chunk_size`` similarity scores exist at any time, and only the running top-k per query is
kept between corpus chunks, so memory does not grow with the product of the two sizes.
"""

from __future__ import annotations

import difflib
import hashlib
import logging
import os
import random
import warnings
from collections import Counter
from typing import Any, Literal

import numpy as np
import torch

from sentrix.errors import InvalidInputError, InvalidParameterError

logger = logging.getLogger(__name__)

FORMATS = ("triplet", "n-tuple", "labeled-pair", "labeled-list")

# Names that users bring from other call sites or older releases, and what to pass instead.
_REPLACED_ARGUMENTS = {
    "prompt_name": "query_prompt_name and/or corpus_prompt_name",
    "prompt": "query_prompt and/or corpus_prompt",
    "n_negatives": "num_negatives",
    "negatives_per_query": "num_negatives",
    "top_k": "range_max",
    "score_threshold": "max_score",
    "multi_process": "use_multi_process",
    "show_progress_bar": "verbose",
    "query_column": "anchor_column_name",
    "positive_column": "positive_column_name",
}


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
    faiss_batch_size: int = 16384,
    use_faiss: bool = False,
    use_multi_process: list[str] | bool = False,
    verbose: bool = True,
    cache_folder: str | None = None,
    as_triplets: bool | None = None,
    margin: float | None = None,
    corpus_chunk_size: int = 8192,
    **unknown: Any,
) -> Any:
    """Add hard negatives to a ``datasets.Dataset`` of (anchor, positive) pairs.

    Every corpus text (the positives, plus ``corpus`` if given, de-duplicated) is embedded with
    ``model.encode_document`` and every distinct anchor with ``model.encode_query``, both normalised.
    For each anchor the ``range_max + (most positives of one anchor)`` best candidates are kept (by
    ``model.similarity``, or by inner product in a FAISS index with ``use_faiss=True``). If a
    ``cross_encoder`` is given together with a score filter (a margin, ``max_score`` or
    ``min_score``), those candidates are rescored by ``cross_encoder.predict``. A candidate is
    dropped if it is one of the anchor's positives (unless ``include_positives``), if it scores
    within ``absolute_margin`` (or ``relative_margin`` x |positive score|) of the anchor's weakest
    positive, above ``max_score`` or below ``min_score``. Of the remaining candidates, ranks
    ``range_min`` .. ``range_max`` are eligible; ``sampling_strategy="top"`` takes the best
    ``num_negatives`` of them, ``"random"`` a random sample (Python's ``random`` module; seed it for
    repeatable output).

    Output (``output_format``): ``"triplet"`` (anchor, positive, negative) rows; ``"n-tuple"``
    (anchor, positive, negative_1..n), only rows that found all ``num_negatives``;
    ``"labeled-pair"`` (anchor, text, label 1/0); ``"labeled-list"`` (anchor, [texts], [labels]).
    ``output_scores=True`` adds a ``scores`` column (triplet, n-tuple) or puts the scores in place of
    the labels (labeled formats). ``include_positives=True`` forces ``"n-tuple"``.

    Memory: the similarity search works on blocks of ``faiss_batch_size`` anchors x
    ``corpus_chunk_size`` corpus texts and keeps only the running top-k per anchor, so a 10x larger
    corpus costs 10x the corpus embeddings, not 10x the score matrix. ``use_faiss=True`` needs
    ``faiss-cpu`` (``pip install faiss-cpu``). ``use_multi_process`` encodes with
    ``model.start_multi_process_pool`` (``True`` or a list of devices). ``cache_folder`` stores the
    embeddings as ``.npy`` files keyed by model, prompts and texts, and reuses them on the next call.
    Deprecated spellings still accepted, with a warning: ``as_triplets`` (use ``output_format``),
    ``margin`` (use ``absolute_margin``), ``output_format="n-tuple-scores"`` (use ``"n-tuple"`` with
    ``output_scores=True``). Any other unknown argument raises ``InvalidParameterError``.

    Example::

        from datasets import Dataset
        from sentrix.util import mine_hard_negatives
        pairs = Dataset.from_dict({"query": [...], "answer": [...]})
        triplets = mine_hard_negatives(pairs, model, num_negatives=1, range_min=2, relative_margin=0.05)

    Reference: NV-Retriever (Moreira et al., 2024, https://arxiv.org/abs/2407.15831).
    """
    if unknown:
        raise InvalidParameterError(_unknown_arguments_message(unknown))
    from datasets import Dataset

    if len(dataset) == 0:
        raise InvalidInputError("mine_hard_negatives got an empty dataset; it needs (anchor, positive) rows.")
    for name, value in (("faiss_batch_size", faiss_batch_size), ("corpus_chunk_size", corpus_chunk_size),
                        ("batch_size", batch_size)):
        if not isinstance(value, int) or value <= 0:
            raise InvalidInputError(f"mine_hard_negatives: {name} must be a positive integer, got {value!r}.")
    faiss = _import_faiss() if use_faiss else None

    columns = dataset.column_names
    if not anchor_column_name or anchor_column_name not in columns:
        anchor_column_name = columns[0]
    if not positive_column_name or positive_column_name not in columns:
        if len(columns) < 2:
            raise InvalidInputError(
                f"mine_hard_negatives needs an anchor and a positive column; the dataset has only {columns}. "
                "Fix: pass a dataset with (anchor, positive) columns."
            )
        positive_column_name = columns[1]

    if as_triplets is not None:
        output_format = "triplet" if as_triplets else "n-tuple"
        _deprecated(f"as_triplets is deprecated; use output_format={output_format!r} instead.")
    if include_positives:
        changed = (range_min != 0 or range_max is not None or sampling_strategy != "top" or margin is not None
                   or any(v is not None for v in (max_score, min_score, absolute_margin, relative_margin)))
        if changed:
            logger.warning("include_positives=True with range_min, range_max, a score filter, a margin or random "
                           "sampling can still drop some positives from the ranking.")
        if output_format != "n-tuple":
            logger.warning('include_positives=True sets output_format="n-tuple" so that the ranking order is kept.')
            output_format = "n-tuple"
    if output_format == "n-tuple-scores":
        _deprecated('output_format="n-tuple-scores" is deprecated; use output_format="n-tuple" with '
                    "output_scores=True instead.")
        output_format, output_scores = "n-tuple", True
    if output_format not in FORMATS:
        raise InvalidInputError(f"output_format must be one of {', '.join(FORMATS)}, got {output_format!r}.")
    if sampling_strategy not in ("top", "random"):
        raise InvalidInputError(f"sampling_strategy must be 'top' or 'random', got {sampling_strategy!r}.")
    if margin is not None:
        absolute_margin = margin
        _deprecated(f"margin is deprecated; use absolute_margin (or relative_margin). Using "
                    f"absolute_margin={margin}.")
    if num_negatives < 1:
        raise InvalidInputError(f"num_negatives must be at least 1, got num_negatives={num_negatives}.")

    anchors_all = list(dataset[anchor_column_name])
    positives_all = list(dataset[positive_column_name])
    # Rows per anchor, duplicates included: room kept in the candidate list for that many positives.
    max_positives = max(Counter(anchors_all).values())

    cap_note = ""
    if range_max is None:
        filtering = (absolute_margin is not None or relative_margin is not None or max_score is not None
                     or (cross_encoder is not None and min_score is not None))
        range_max = range_min + num_negatives * (10 if filtering else 1) + max_positives
        if faiss is not None and range_max + max_positives > 2048 and getattr(faiss, "get_num_gpus", lambda: 0)() > 0:
            range_max = 2048 - max_positives  # FAISS on GPU returns at most 2048 neighbours per query
            cap_note = (f" range_max was capped to {range_max}: FAISS on GPU returns at most 2048 neighbours per "
                        "query. use_faiss=False lifts that cap.")
        if verbose:
            print(f"Setting range_max to {range_max} based on the provided parameters.{cap_note}")
    if range_min < 0:
        raise InvalidInputError(f"range_min must be non-negative, got range_min={range_min}.")
    if range_min >= range_max:
        raise InvalidInputError(f"range_min must be smaller than range_max, got range_min={range_min} and "
                                f"range_max={range_max}.{cap_note}")
    if num_negatives > range_max - range_min:
        raise InvalidInputError(
            f"Cannot mine {num_negatives} negatives per anchor from ranks {range_min}..{range_max} "
            f"({range_max - range_min} candidates). Fix: lower num_negatives or range_min, or raise range_max."
            f"{cap_note}"
        )

    corpus_texts = list(dict.fromkeys((list(corpus) if corpus is not None else positives_all) + positives_all))
    corpus_index = {text: i for i, text in enumerate(corpus_texts)}
    queries = list(dict.fromkeys(anchors_all))
    query_index = {text: i for i, text in enumerate(queries)}
    positives_of: list[list[int]] = [[] for _ in queries]
    for anchor, positive in zip(anchors_all, positives_all):
        ids = positives_of[query_index[anchor]]
        if corpus_index[positive] not in ids:
            ids.append(corpus_index[positive])
    if verbose and len(queries) != len(anchors_all):
        print(f"Found {len(queries)} unique queries out of {len(anchors_all)} total queries.")

    query_emb, corpus_emb = _embed(model, queries, corpus_texts, batch_size, use_multi_process, verbose,
                                   cache_folder, query_prompt_name, query_prompt, corpus_prompt_name, corpus_prompt)
    device = getattr(model, "device", torch.device("cpu"))
    n_keep = range_max + max_positives
    if faiss is not None:
        scores, indices = _search_faiss(faiss, query_emb, corpus_emb, n_keep, faiss_batch_size)
    else:
        scores, indices = _search_chunked(model, query_emb, corpus_emb, n_keep, faiss_batch_size, corpus_chunk_size)
    scores, indices = scores.to(device), indices.to(device)

    flat_q = [q for q, ids in enumerate(positives_of) for _ in ids]
    flat_p = [p for ids in positives_of for p in ids]
    positive_scores = model.similarity_pairwise(_as_tensor(query_emb)[flat_q], _as_tensor(corpus_emb)[flat_p])
    positive_scores = positive_scores.to(device)
    del query_emb, corpus_emb

    if cross_encoder is not None and any(v is not None for v in (absolute_margin, relative_margin, max_score,
                                                                  min_score)):
        scores, positive_scores = _rescore(cross_encoder, queries, corpus_texts, indices, flat_q, flat_p, batch_size,
                                           use_multi_process, device, scores.dtype)

    minus_inf = -float("inf")
    scores[indices == -1] = minus_inf
    if not include_positives:
        for q, ids in enumerate(positives_of):
            scores[q, torch.isin(indices[q], torch.tensor(ids, device=indices.device))] = minus_inf

    skipped: dict[str, int] = {}
    weakest = torch.stack([group.min() for group in torch.split(positive_scores, [len(i) for i in positives_of])])
    weakest = weakest.to(scores.dtype).unsqueeze(1)
    filters = [("absolute_margin", lambda s: s + absolute_margin > weakest) if absolute_margin is not None else None,
               ("relative_margin", lambda s: s > weakest - weakest.abs() * relative_margin)
               if relative_margin is not None else None,
               ("max_score", lambda s: s > max_score) if max_score is not None else None,
               ("min_score", lambda s: s < min_score) if min_score is not None else None]
    for name, rule in filter(None, filters):
        removed = rule(scores)
        scores[removed] = minus_inf
        count = int(removed.sum())
        if count:
            skipped[name] = count

    negative_scores, local = torch.topk(scores, k=range_max, dim=1)
    negatives = indices.gather(1, local)[:, range_min:]
    negative_scores = negative_scores[:, range_min:]
    if sampling_strategy == "top":
        negatives, negative_scores = negatives[:, :num_negatives], negative_scores[:, :num_negatives]
    else:
        options = (negatives.size(1) - negative_scores.isinf().sum(1)).clamp(min=num_negatives).tolist()
        picked = torch.tensor([random.sample(range(n), k=num_negatives) for n in options], device=negatives.device)
        negatives, negative_scores = negatives.gather(1, picked), negative_scores.gather(1, picked)
        negative_scores, order = negative_scores.sort(dim=1, descending=True)
        negatives = negatives.gather(1, order)

    data = _rows(output_format, output_scores, anchor_column_name, positive_column_name, queries, corpus_texts,
                 positives_of, positive_scores.tolist(), negatives.tolist(), negative_scores.tolist(), num_negatives)
    output = Dataset.from_dict(data)
    if verbose:
        _report(output_format, output, positive_scores, negative_scores, positives_of, num_negatives, skipped,
                dict(absolute_margin=absolute_margin, relative_margin=relative_margin, max_score=max_score,
                     min_score=min_score), len(dataset))
    return output


def _unknown_arguments_message(unknown: dict[str, Any]) -> str:
    import inspect

    known = [name for name in inspect.signature(mine_hard_negatives).parameters if name != "unknown"]
    parts = []
    for name in unknown:
        if name in _REPLACED_ARGUMENTS:
            parts.append(f"{name!r} (use {_REPLACED_ARGUMENTS[name]})")
        else:
            close = difflib.get_close_matches(name, known, n=1)
            parts.append(f"{name!r}" + (f" (did you mean {close[0]!r}?)" if close else ""))
    return (f"mine_hard_negatives got unknown argument(s): {', '.join(parts)}. It accepts: {', '.join(known)}. "
            "Fix: rename or drop them.")


def _deprecated(message: str) -> None:
    warnings.warn(message, FutureWarning, stacklevel=3)
    logger.warning(message)


def _import_faiss() -> Any:
    try:
        import faiss
    except ImportError as exc:
        raise ImportError(
            "mine_hard_negatives(use_faiss=True) needs FAISS, which is not installed. Fix: "
            "`pip install faiss-cpu` (or `pip install sentrix[faiss]`), or pass use_faiss=False for the "
            "built-in chunked exact search."
        ) from exc
    return faiss


def _as_tensor(embeddings: Any) -> torch.Tensor:
    return torch.from_numpy(embeddings) if isinstance(embeddings, np.ndarray) else embeddings


def _embed(model, queries, corpus_texts, batch_size, use_multi_process, verbose, cache_folder, query_prompt_name,
           query_prompt, corpus_prompt_name, corpus_prompt) -> tuple[np.ndarray, np.ndarray]:
    query_file = corpus_file = None
    query_emb = corpus_emb = None
    if cache_folder:
        os.makedirs(cache_folder, exist_ok=True)
        card = getattr(model, "model_card_data", None)
        model_name = (getattr(card, "base_model", None) or "") if card is not None else ""

        def key(*parts: Any) -> str:
            return hashlib.sha256(repr(parts).encode(), usedforsecurity=False).hexdigest()

        query_file = os.path.join(cache_folder, f"query_embeddings_{key(model_name, query_prompt, query_prompt_name, queries)}.npy")
        corpus_file = os.path.join(cache_folder,
                                   f"corpus_embeddings_{key(model_name, corpus_prompt, corpus_prompt_name, corpus_texts)}.npy")
        if os.path.exists(query_file):
            query_emb = np.load(query_file)
        if os.path.exists(corpus_file):
            corpus_emb = np.load(corpus_file)
    if query_emb is None or corpus_emb is None:
        pool = None
        if use_multi_process:
            pool = model.start_multi_process_pool(
                target_devices=None if isinstance(use_multi_process, bool) else list(use_multi_process))
        try:
            common = dict(pool=pool, batch_size=batch_size, normalize_embeddings=True, convert_to_numpy=True,
                          show_progress_bar=verbose)
            if corpus_emb is None:
                corpus_emb = model.encode_document(corpus_texts, prompt_name=corpus_prompt_name, prompt=corpus_prompt,
                                                   **common)
            if query_emb is None:
                query_emb = model.encode_query(queries, prompt_name=query_prompt_name, prompt=query_prompt, **common)
        finally:
            if pool is not None:
                model.stop_multi_process_pool(pool)
    if query_file and not os.path.exists(query_file):
        np.save(query_file, query_emb)
    if corpus_file and not os.path.exists(corpus_file):
        np.save(corpus_file, corpus_emb)
    return np.asarray(query_emb), np.asarray(corpus_emb)


def _search_faiss(faiss, query_emb, corpus_emb, n_keep, query_chunk) -> tuple[torch.Tensor, torch.Tensor]:
    index = faiss.IndexFlatIP(corpus_emb.shape[1])
    try:  # shard over the GPUs when faiss-gpu is installed; the CPU index otherwise
        options = faiss.GpuMultipleClonerOptions()
        options.shard, options.useFloat16 = True, True
        index = faiss.index_cpu_to_all_gpus(index, co=options)
    except Exception:  # noqa: BLE001 - faiss-cpu has no GPU helpers
        pass
    index.add(np.ascontiguousarray(corpus_emb, dtype=np.float32))
    all_scores, all_indices = [], []
    for start in range(0, len(query_emb), query_chunk):
        chunk = np.ascontiguousarray(query_emb[start:start + query_chunk], dtype=np.float32)
        scores, indices = index.search(chunk, k=n_keep)
        all_scores.append(scores)
        all_indices.append(indices)
    return torch.from_numpy(np.concatenate(all_scores)), torch.from_numpy(np.concatenate(all_indices))


def _search_chunked(model, query_emb, corpus_emb, n_keep, query_chunk, corpus_chunk) -> tuple[torch.Tensor, torch.Tensor]:
    """Top ``n_keep`` corpus rows per query by ``model.similarity``, never more than
    ``query_chunk x corpus_chunk`` scores at once; padded with (-inf, -1) when the corpus is smaller."""
    queries, docs = _as_tensor(query_emb), _as_tensor(corpus_emb)
    k = min(n_keep, len(docs))
    out_scores, out_indices = [], []
    for q_start in range(0, len(queries), query_chunk):
        q_block = queries[q_start:q_start + query_chunk]
        best_scores = best_indices = None
        for c_start in range(0, len(docs), corpus_chunk):
            block = model.similarity(q_block, docs[c_start:c_start + corpus_chunk])
            block_scores, block_indices = torch.topk(block, k=min(k, block.size(1)), dim=1)
            del block
            block_indices += c_start
            if best_scores is not None:
                block_scores = torch.cat([best_scores, block_scores], dim=1)
                block_indices = torch.cat([best_indices, block_indices], dim=1)
                block_scores, order = torch.topk(block_scores, k=min(k, block_scores.size(1)), dim=1)
                block_indices = block_indices.gather(1, order)
            best_scores, best_indices = block_scores, block_indices
        out_scores.append(best_scores)
        out_indices.append(best_indices)
    scores, indices = torch.cat(out_scores), torch.cat(out_indices)
    if k < n_keep:
        pad = n_keep - k
        scores = torch.cat([scores, scores.new_full((len(scores), pad), -float("inf"))], dim=1)
        indices = torch.cat([indices, indices.new_full((len(indices), pad), -1)], dim=1)
    return scores, indices


def _rescore(cross_encoder, queries, corpus_texts, indices, flat_q, flat_p, batch_size, use_multi_process, device,
             dtype) -> tuple[torch.Tensor, torch.Tensor]:
    pool = None
    if use_multi_process and hasattr(cross_encoder, "start_multi_process_pool"):
        pool = cross_encoder.start_multi_process_pool(
            target_devices=None if isinstance(use_multi_process, bool) else list(use_multi_process))
    extra = {"pool": pool} if pool is not None else {}
    try:
        rows = []
        for q, row in enumerate(indices.tolist()):
            pairs = [(queries[q], corpus_texts[c]) for c in row]
            rows.append(torch.as_tensor(cross_encoder.predict(pairs, batch_size=batch_size, convert_to_tensor=True,
                                                              **extra)))
        positive_pairs = [(queries[q], corpus_texts[p]) for q, p in zip(flat_q, flat_p)]
        positive_scores = torch.as_tensor(cross_encoder.predict(positive_pairs, batch_size=batch_size,
                                                                convert_to_tensor=True, **extra))
    finally:
        if pool is not None:
            cross_encoder.stop_multi_process_pool(pool)
    return torch.stack(rows).to(device=device, dtype=dtype), positive_scores.to(device=device, dtype=dtype)


def _rows(output_format, output_scores, anchor_col, positive_col, queries, corpus_texts, positives_of,
          positive_scores, negatives, negative_scores, num_negatives) -> dict[str, list]:
    """Build the output columns; ``negatives``/``negative_scores`` are per-anchor lists where a
    ``-inf`` score marks a slot without a valid negative."""
    data: dict[str, list] = {anchor_col: [], positive_col: []}
    if output_format == "triplet":
        data["negative"] = []
    elif output_format == "n-tuple":
        data.update({f"negative_{i}": [] for i in range(1, num_negatives + 1)})
    score_key = {"triplet": "scores", "n-tuple": "scores", "labeled-pair": "score", "labeled-list": "scores"}
    label_key = {"labeled-pair": "label", "labeled-list": "labels"}
    if output_scores:
        data[score_key[output_format]] = []
    elif output_format in label_key:
        data[label_key[output_format]] = []

    flat = 0
    for q, ids in enumerate(positives_of):
        valid = [(c, s) for c, s in zip(negatives[q], negative_scores[q]) if s != -float("inf")]
        for positive in ids:
            pos_score = positive_scores[flat]
            flat += 1
            if output_format == "triplet":
                for negative, score in valid:
                    data[anchor_col].append(queries[q])
                    data[positive_col].append(corpus_texts[positive])
                    data["negative"].append(corpus_texts[negative])
                    if output_scores:
                        data["scores"].append([pos_score, score])
            elif output_format == "n-tuple" and len(valid) == len(negatives[q]):
                data[anchor_col].append(queries[q])
                data[positive_col].append(corpus_texts[positive])
                for i, (negative, _) in enumerate(valid, start=1):
                    data[f"negative_{i}"].append(corpus_texts[negative])
                if output_scores:
                    data["scores"].append([pos_score] + [s for _, s in valid])
            elif output_format == "labeled-list" and valid:
                data[anchor_col].append(queries[q])
                data[positive_col].append([corpus_texts[positive]] + [corpus_texts[c] for c, _ in valid])
                if output_scores:
                    data["scores"].append([pos_score] + [s for _, s in valid])
                else:
                    data["labels"].append([1] + [0] * len(valid))
            elif output_format == "labeled-pair":
                data[anchor_col].append(queries[q])
                data[positive_col].append(corpus_texts[positive])
                data["score" if output_scores else "label"].append(pos_score if output_scores else 1)
        if output_format == "labeled-pair":
            for negative, score in valid:
                data[anchor_col].append(queries[q])
                data[positive_col].append(corpus_texts[negative])
                data["score" if output_scores else "label"].append(score if output_scores else 0)
    return data


def _report(output_format, output, positive_scores, negative_scores, positives_of, num_negatives, skipped, settings,
            n_rows) -> None:
    negatives = negative_scores[~negative_scores.isinf()]
    print(f"Mined {negatives.numel():,} negatives for {len(positives_of):,} anchors "
          f"({len(positive_scores):,} positive pairs) -> {len(output):,} {output_format} rows.")
    if len(positive_scores) and negatives.numel():
        print(f"Mean score: positives {positive_scores.float().mean():.4f}, negatives {negatives.float().mean():.4f}.")
    for name, count in skipped.items():
        print(f"Skipped {count:,} candidate negatives because of {name}={settings[name]}.")
    short = sum(int((~row.isinf()).sum()) < num_negatives for row in negative_scores)
    if short:
        print(f"{short} of {len(positives_of)} anchors got fewer than {num_negatives} negatives; consider a larger "
              "range_max, a smaller range_min, or looser margins/max_score.")
