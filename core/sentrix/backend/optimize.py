"""``export_optimized_onnx_model``: graph-optimize a model loaded with ``backend="onnx"`` (levels O1-O4).

The levels follow Optimum's: O1 basic ONNX Runtime graph optimizations; O2 extended ones plus
transformer-specific fusions (attention, LayerNorm, GELU); O3 as O2 with the GELU approximation;
O4 as O3 in float16 (for GPUs). The file is written as ``<folder>/onnx/model_<level>.onnx``, the
name sentence-transformers uses, and loads with ``model_kwargs={"file_name": "model_O3.onnx"}``.

Example::

    from sentrix import SentenceTransformer, export_optimized_onnx_model

    model = SentenceTransformer("path/to/model", backend="onnx")
    export_optimized_onnx_model(model, "O3", "path/to/model")
    fast = SentenceTransformer("path/to/model", backend="onnx", model_kwargs={"file_name": "model_O3.onnx"})
"""

from __future__ import annotations

import os
from typing import Any

from sentrix.backend.utils import ONNX_FILE_NAME, require_onnx_tools, save_or_push_to_hub_model

#: level -> (ONNX Runtime optimization level, transformer fusions, GELU approximation, float16)
OPTIMIZATION_LEVELS: dict[str, tuple[int, bool, bool, bool]] = {
    "O1": (1, False, False, False),
    "O2": (2, True, False, False),
    "O3": (2, True, True, False),
    "O4": (2, True, True, True),
}
_CONFIG_FIELDS = ("optimization_level", "enable_transformers_specific_optimizations", "enable_gelu_approximation", "fp16")


def onnx_encoder_of(model: Any, function: str, backend: str = "onnx"):
    """The exported encoder inside ``model`` (loaded with ``backend=...``), else a ValueError naming the fix."""
    from sentrix.backend.load import ONNXEncoder, OpenVINOEncoder

    wanted = ONNXEncoder if backend == "onnx" else OpenVINOEncoder
    encoder = getattr(model, "transformers_model", None)
    if not isinstance(encoder, wanted):
        raise ValueError(
            f"{function} needs a SentenceTransformer whose first module is a Transformer loaded with "
            f'backend="{backend}", got {type(encoder).__name__ if encoder is not None else type(model).__name__}. '
            f'Fix: load it with SentenceTransformer(path, backend="{backend}").'
        )
    return encoder


def _resolve_config(optimization_config: Any) -> tuple[tuple[int, bool, bool, bool], str | None]:
    if isinstance(optimization_config, str):
        if optimization_config not in OPTIMIZATION_LEVELS:
            raise ValueError(
                f"optimization_config must be one of {list(OPTIMIZATION_LEVELS)} or a config with "
                f"{list(_CONFIG_FIELDS)}, got {optimization_config!r}."
            )
        return OPTIMIZATION_LEVELS[optimization_config], optimization_config
    source = optimization_config if isinstance(optimization_config, dict) else vars(optimization_config or {})
    if "optimization_level" not in source:
        raise ValueError(
            f"optimization_config must be one of {list(OPTIMIZATION_LEVELS)} or a dict / config object with "
            f"'optimization_level' (and optionally {list(_CONFIG_FIELDS[1:])}), got {optimization_config!r}."
        )
    level = int(source["optimization_level"])
    return (level, bool(source.get(_CONFIG_FIELDS[1], level > 1)), bool(source.get(_CONFIG_FIELDS[2], False)),
            bool(source.get(_CONFIG_FIELDS[3], False))), None


def export_optimized_onnx_model(
    model: Any,
    optimization_config: Any,
    model_name_or_path: str,
    push_to_hub: bool = False,
    create_pr: bool = False,
    file_suffix: str | None = None,
) -> None:
    """Write an ONNX Runtime-optimized copy of an ONNX model to ``<model_name_or_path>/onnx/model_<suffix>.onnx``.

    Args:
        model: a SentenceTransformer loaded with ``backend="onnx"``.
        optimization_config: ``"O1"``, ``"O2"``, ``"O3"`` or ``"O4"`` (see the module docstring), or a dict /
            object with ``optimization_level`` (0, 1, 2 or 99), ``enable_transformers_specific_optimizations``,
            ``enable_gelu_approximation`` and ``fp16``.
        model_name_or_path: the folder to write into (or the Hub repository, with ``push_to_hub``).
        push_to_hub: upload the file to the Hub repository instead of writing a local folder.
        create_pr: with ``push_to_hub``, open a pull request instead of committing.
        file_suffix: the file name suffix; default the level (``"O3"``) or ``"optimized"``.

    Raises:
        ImportError: ``onnx`` / ``onnxruntime`` missing (``pip install sentrix[onnx]``).
        ValueError: the model is not loaded with ``backend="onnx"``, or the config is not one of the above.
    """
    encoder = onnx_encoder_of(model, "export_optimized_onnx_model")
    (level, fusions, gelu_approx, fp16), name = _resolve_config(optimization_config)
    require_onnx_tools("export_optimized_onnx_model")
    file_suffix = file_suffix or name or "optimized"
    config = encoder.config

    def run(out_dir: str) -> None:
        from onnxruntime.transformers.fusion_options import FusionOptions
        from onnxruntime.transformers.optimizer import MODEL_TYPES, optimize_model

        model_type = config.model_type if config.model_type in MODEL_TYPES else "bert"
        options = FusionOptions(model_type)
        options.enable_gelu_approximation = gelu_approx
        optimizer = optimize_model(
            os.fspath(encoder.model_path), model_type,
            num_heads=int(getattr(config, "num_attention_heads", 0) or 0),
            hidden_size=int(getattr(config, "hidden_size", 0) or 0),
            opt_level=level, optimization_options=options, use_gpu=fp16, only_onnxruntime=not fusions,
        )
        if fp16:
            optimizer.convert_float_to_float16(keep_io_types=True)
        optimizer.save_model_to_file(os.path.join(out_dir, ONNX_FILE_NAME))

    save_or_push_to_hub_model(run, "export_optimized_onnx_model", optimization_config, model_name_or_path,
                              push_to_hub=push_to_hub, create_pr=create_pr, file_suffix=file_suffix,
                              backend="onnx", model=model)
