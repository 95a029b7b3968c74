"""``sentrix.util``: the helpers sentence-transformers users reach for in ``sentence_transformers.util``.

Similarity (matrix and pairwise; the functions live in :mod:`sentrix.similarity`)::

    from sentrix.util import cos_sim, dot_score, pairwise_cos_sim, euclidean_sim, manhattan_sim

Search and mining::

    from sentrix.util import semantic_search, paraphrase_mining, mine_hard_negatives

Embeddings and tensors::

    from sentrix.util import quantize_embeddings, normalize_embeddings, batch_to_device, truncate_embeddings

Multi-process training, environment, files and logging (the submodules ``distributed``,
``environment``, ``file_io``, ``misc`` and ``logging``, as in ``sentence_transformers.util``)::

    from sentrix.util import all_gather_with_grad, get_rank, get_device_name, load_file_path, install_logger
"""

from sentrix.similarity import (
    SimilarityFunction,
    cos_sim,
    dot_score,
    euclidean_sim,
    manhattan_sim,
    normalize_embeddings,
    pairwise_angle_sim,
    pairwise_cos_sim,
    pairwise_dot_score,
    pairwise_euclidean_sim,
    pairwise_manhattan_sim,
    pytorch_cos_sim,
)
from sentrix.util.distributed import all_gather, all_gather_padded, all_gather_with_grad, get_rank, get_world_size
from sentrix.util.environment import (
    check_package_availability,
    check_version_requirements,
    get_device_name,
    get_installed_version,
    is_accelerate_available,
    is_datasets_available,
    is_dist_initialized,
    is_training_available,
    suggest_extra_on_exception,
)
from sentrix.util.file_io import disabled_tqdm, http_get, is_sentence_transformer_model, load_dir_path, load_file_path
from sentrix.util.hard_negatives import mine_hard_negatives
from sentrix.util.logging import LoggingHandler, install_logger
from sentrix.util.misc import (
    ORIGINAL_TRANSFORMER_MODELS,
    append_to_last_row,
    check_teacher_targets,
    deprecated_kwargs,
    disable_datasets_caching,
    disable_logging,
    fullname,
    import_from_string,
    import_module_class,
    similarity_fct_name,
)
from sentrix.util.quantization import quantize_embeddings
from sentrix.util.search import (
    community_detection,
    information_retrieval,
    paraphrase_mining,
    paraphrase_mining_embeddings,
    semantic_search,
)
from sentrix.util.tensor import batch_to_device, truncate_embeddings

__all__ = [
    "LoggingHandler",
    "ORIGINAL_TRANSFORMER_MODELS",
    "SimilarityFunction",
    "all_gather",
    "all_gather_padded",
    "all_gather_with_grad",
    "append_to_last_row",
    "batch_to_device",
    "check_package_availability",
    "check_teacher_targets",
    "check_version_requirements",
    "community_detection",
    "cos_sim",
    "deprecated_kwargs",
    "disable_datasets_caching",
    "disable_logging",
    "disabled_tqdm",
    "dot_score",
    "euclidean_sim",
    "fullname",
    "get_device_name",
    "get_installed_version",
    "get_rank",
    "get_world_size",
    "http_get",
    "import_from_string",
    "import_module_class",
    "information_retrieval",
    "install_logger",
    "is_accelerate_available",
    "is_datasets_available",
    "is_dist_initialized",
    "is_sentence_transformer_model",
    "is_training_available",
    "load_dir_path",
    "load_file_path",
    "manhattan_sim",
    "mine_hard_negatives",
    "normalize_embeddings",
    "pairwise_angle_sim",
    "pairwise_cos_sim",
    "pairwise_dot_score",
    "pairwise_euclidean_sim",
    "pairwise_manhattan_sim",
    "paraphrase_mining",
    "paraphrase_mining_embeddings",
    "pytorch_cos_sim",
    "quantize_embeddings",
    "semantic_search",
    "similarity_fct_name",
    "suggest_extra_on_exception",
    "truncate_embeddings",
]
