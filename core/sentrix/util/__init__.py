"""``sentrix.util``: the helpers sentence-transformers users reach for in ``sentence_transformers.util``.

Similarity (matrix and pairwise; the functions live in :mod:`sentrix.similarity`)::

    from sentrix.util import cos_sim, dot_score, pairwise_cos_sim, euclidean_sim, manhattan_sim

Search and mining::

    from sentrix.util import semantic_search, paraphrase_mining, mine_hard_negatives

Embeddings and tensors::

    from sentrix.util import quantize_embeddings, normalize_embeddings, batch_to_device, truncate_embeddings
"""

from sentrix.similarity import (
    cos_sim,
    dot_score,
    euclidean_sim,
    manhattan_sim,
    normalize_embeddings,
    pairwise_cos_sim,
    pairwise_dot_score,
    pairwise_euclidean_sim,
    pairwise_manhattan_sim,
    pytorch_cos_sim,
)
from sentrix.util.hard_negatives import mine_hard_negatives
from sentrix.util.quantization import quantize_embeddings
from sentrix.util.search import community_detection, paraphrase_mining, paraphrase_mining_embeddings, semantic_search
from sentrix.util.tensor import batch_to_device, truncate_embeddings

__all__ = [
    "batch_to_device",
    "community_detection",
    "cos_sim",
    "dot_score",
    "euclidean_sim",
    "manhattan_sim",
    "mine_hard_negatives",
    "normalize_embeddings",
    "pairwise_cos_sim",
    "pairwise_dot_score",
    "pairwise_euclidean_sim",
    "pairwise_manhattan_sim",
    "paraphrase_mining",
    "paraphrase_mining_embeddings",
    "pytorch_cos_sim",
    "quantize_embeddings",
    "semantic_search",
    "truncate_embeddings",
]
