"""The public plugin API: everything a component may use from sentrix, and nothing else.

A loss, evaluator, batch sampler, router mapping, callback or model module, built in or from a
third-party package, imports sentrix only from here::

    from sentrix.plugin_api import DataNeeds, embed_columns, check_loss_inputs, cos_sim

The built-ins follow the same rule (a test walks their imports and fails otherwise), so whatever a
built-in does, a plugin can do too. Every other sentrix module is private to the core and may
change between releases.

Versioning
----------
``API_VERSION`` is ``MAJOR.MINOR``. A minor release only adds names; a major release may remove
or change them. A plugin says which version it was written against with a module attribute,
in the module that defines the component or in its top-level package::

    SENTRIX_PLUGIN_API = "1.0"

When one of its components is first used, the registry compares that with ``API_VERSION``: the
same major version and a minor version no newer than this core's pass; anything else raises
:class:`IncompatiblePluginError` naming both versions and the sentrix release that provides the
one needed (``API_RELEASES``). The stability and deprecation policy is in ``docs/plugins.md``.

Names are imported lazily: ``import sentrix.plugin_api`` does not import torch.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

API_VERSION = "1.0"

#: plugin API version -> the first sentrix release that provides it.
API_RELEASES: dict[str, str] = {"1.0": "0.1.0"}

# public name -> core module that defines it
_EXPORTS: dict[str, str] = {
    # declaring a component
    "DataNeeds": "sentrix.data_needs",
    "data_needs_of": "sentrix.data_needs",
    "hookimpl": "sentrix.hookspecs",
    # model modules
    "Module": "sentrix.module_base",
    "InputModule": "sentrix.module_base",
    "resolve_file": "sentrix.module_base",
    "resolve_dir": "sentrix.module_base",
    "load_weights_file": "sentrix.module_base",
    "resolve_module_class": "sentrix.module_base",
    "require_peft": "sentrix.peft_mixin",
    "load_backend_encoder": "sentrix.backend.load",
    "ROW_PACKING_KEY": "sentrix.packing",
    "RowPacking": "sentrix.packing",
    "pack_rows": "sentrix.packing",
    # losses: the embedding helper and input checks
    "embed_columns": "sentrix.embedding",
    "reuse_embeddings": "sentrix.embedding",
    "embedding_options": "sentrix.embedding",
    "EmbeddingOptions": "sentrix.embedding",
    "check_loss_inputs": "sentrix.embedding",
    "embedding_dimension_of": "sentrix.embedding",
    "model_device": "sentrix.embedding",
    "gather_with_grad": "sentrix.embedding",
    "process_rank": "sentrix.embedding",
    # similarity
    "SimilarityFunction": "sentrix.similarity",
    "cos_sim": "sentrix.similarity",
    "dot_score": "sentrix.similarity",
    "euclidean_sim": "sentrix.similarity",
    "manhattan_sim": "sentrix.similarity",
    "pairwise_cos_sim": "sentrix.similarity",
    "pairwise_dot_score": "sentrix.similarity",
    "pairwise_euclidean_sim": "sentrix.similarity",
    "pairwise_manhattan_sim": "sentrix.similarity",
    "normalize_embeddings": "sentrix.similarity",
    "resolve_similarity_fn": "sentrix.similarity",
    "function_name": "sentrix.similarity",
    # evaluators
    "SentenceEvaluator": "sentrix.evaluator_base",
    "describe_when": "sentrix.evaluator_base",
    "encode_fn": "sentrix.evaluator_base",
    "check_same_length": "sentrix.evaluator_base",
    # batch samplers
    "DefaultBatchSampler": "sentrix.sampler",
    "MultiDatasetDefaultBatchSampler": "sentrix.sampler",
    "dataset_offsets": "sentrix.sampler",
    "epoch_generator": "sentrix.sampler",
    # router mappings
    "RouterMapping": "sentrix.router_mapping",
    # errors
    "SentrixError": "sentrix.errors",
    "InvalidInputError": "sentrix.errors",
    "InvalidParameterError": "sentrix.errors",
    "UnknownComponentError": "sentrix.errors",
    "ComponentLoadError": "sentrix.errors",
    "IncompatiblePluginError": "sentrix.errors",
    # registry access
    "get_registry": "sentrix.registry",
    # >>> exports losses A
    "CachedLossMixin": "sentrix.gradcache",
    "RandContext": "sentrix.gradcache",
    "uses_gradient_cache": "sentrix.gradcache",
    "has_static_embedding_input": "sentrix.gradcache",
    "minibatch_ranges": "sentrix.gradcache",
    "length_sorted_minibatches": "sentrix.gradcache",
    "slice_minibatch": "sentrix.gradcache",
    "validate_mini_batch_options": "sentrix.gradcache",
    "column_merging_disabled": "sentrix.gradcache",
    # >>> exports losses B
    "pairwise_angle_sim": "sentrix.similarity",
    # >>> exports losses C
    "InputExample": "sentrix.fit_mixin",
    # >>> exports evaluators
    "EncodeRequest": "sentrix.evaluation_round",
    "evaluation_round": "sentrix.evaluation_round",
    "check_texts": "sentrix.evaluator_base",
    "check_finite": "sentrix.evaluator_base",
    "evaluator_input_problems": "sentrix.evaluator_base",
    # >>> exports trainer
}

_SUBMODULES = {"registry": "sentrix.registry", "testing": "sentrix.testing"}

__all__ = ["API_VERSION", "API_RELEASES", "check_api_version", *sorted(_EXPORTS), *sorted(_SUBMODULES)]


def check_api_version(required: str, who: str) -> None:
    """Raise :class:`IncompatiblePluginError` unless this core provides plugin API ``required``.

    ``who`` names the plugin in the message (``"loss 'acme.focal' from sentrix-acme 1.2"``).
    """
    from sentrix import __version__
    from sentrix.errors import IncompatiblePluginError

    try:
        need_major, need_minor = (int(part) for part in str(required).split("."))
    except ValueError:
        raise IncompatiblePluginError(
            f"{who} declares SENTRIX_PLUGIN_API = {required!r}, which is not a MAJOR.MINOR version. "
            f"Fix the plugin: set SENTRIX_PLUGIN_API = \"{API_VERSION}\"."
        ) from None
    have_major, have_minor = (int(part) for part in API_VERSION.split("."))
    if need_major == have_major and need_minor <= have_minor:
        return
    provider = API_RELEASES.get(f"{need_major}.{need_minor}")
    if need_major > have_major or (need_major == have_major and need_minor > have_minor):
        release = (
            f"sentrix {provider} provides it: `pip install -U 'sentrix>={provider}'`"
            if provider
            else f"no sentrix release up to {__version__} provides it; upgrade sentrix when one does"
        )
        raise IncompatiblePluginError(
            f"{who} needs sentrix plugin API {required}, but sentrix {__version__} provides plugin API "
            f"{API_VERSION}; {release}."
        )
    raise IncompatiblePluginError(
        f"{who} was written for sentrix plugin API {required}, but sentrix {__version__} provides plugin API "
        f"{API_VERSION} (a new major version). Fix: install a release of the plugin made for API {API_VERSION}, "
        f"or `pip install 'sentrix<{__version__}'`."
    )


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        value = getattr(importlib.import_module(_EXPORTS[name]), name)
        globals()[name] = value
        return value
    if name in _SUBMODULES:
        return importlib.import_module(_SUBMODULES[name])
    raise AttributeError(
        f"module 'sentrix.plugin_api' has no attribute {name!r}. The plugin API provides: "
        f"{', '.join(sorted(_EXPORTS))}. Anything else in sentrix is private."
    )


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


if TYPE_CHECKING:  # pragma: no cover
    from sentrix.backend.load import load_backend_encoder
    from sentrix.data_needs import DataNeeds, data_needs_of
    from sentrix.embedding import (
        EmbeddingOptions,
        check_loss_inputs,
        embed_columns,
        embedding_dimension_of,
        embedding_options,
        gather_with_grad,
        model_device,
        process_rank,
        reuse_embeddings,
    )
    from sentrix.errors import (
        ComponentLoadError,
        IncompatiblePluginError,
        InvalidInputError,
        InvalidParameterError,
        SentrixError,
        UnknownComponentError,
    )
    from sentrix.evaluator_base import SentenceEvaluator, check_same_length, describe_when, encode_fn
    from sentrix.hookspecs import hookimpl
    from sentrix.module_base import (
        InputModule,
        Module,
        load_weights_file,
        resolve_dir,
        resolve_file,
        resolve_module_class,
    )
    from sentrix.peft_mixin import require_peft
    from sentrix.registry import get_registry
    from sentrix.router_mapping import RouterMapping
    from sentrix.sampler import DefaultBatchSampler, MultiDatasetDefaultBatchSampler, dataset_offsets, epoch_generator
    from sentrix.similarity import (
        SimilarityFunction,
        cos_sim,
        dot_score,
        euclidean_sim,
        function_name,
        manhattan_sim,
        normalize_embeddings,
        pairwise_cos_sim,
        pairwise_dot_score,
        pairwise_euclidean_sim,
        pairwise_manhattan_sim,
        resolve_similarity_fn,
    )
