"""Quantized exports: ``export_dynamic_quantized_onnx_model`` (int8 ONNX, no calibration data) and
``export_static_quantized_openvino_model`` (int8 OpenVINO, calibrated on sample texts with NNCF).

Files are named as sentence-transformers names them: ``onnx/model_qint8_avx512_vnni.onnx`` (and
``_arm64``, ``_avx512``, ``quint8_avx2``), ``openvino/openvino_model_qint8_quantized.xml`` + ``.bin``.

Example::

    from sentrix import SentenceTransformer, export_dynamic_quantized_onnx_model

    model = SentenceTransformer("path/to/model", backend="onnx")
    export_dynamic_quantized_onnx_model(model, "avx512_vnni", "path/to/model")
    int8 = SentenceTransformer("path/to/model", backend="onnx",
                               model_kwargs={"file_name": "model_qint8_avx512_vnni.onnx"})
"""

from __future__ import annotations

import os
from typing import Any

from sentrix.backend.optimize import onnx_encoder_of
from sentrix.backend.utils import (
    ONNX_FILE_NAME,
    OPENVINO_FILE_NAME,
    require_nncf,
    require_onnx_tools,
    save_or_push_to_hub_model,
)

#: preset -> weight type; activations are dynamic uint8, weights symmetric and per channel
DYNAMIC_PRESETS: dict[str, str] = {"arm64": "qint8", "avx2": "quint8", "avx512": "qint8", "avx512_vnni": "qint8"}
_DATASET_ARGS = ("dataset_name", "dataset_config_name", "dataset_split", "column_name")


def export_dynamic_quantized_onnx_model(
    model: Any,
    quantization_config: Any,
    model_name_or_path: str,
    push_to_hub: bool = False,
    create_pr: bool = False,
    file_suffix: str | None = None,
) -> None:
    """Write a dynamically int8-quantized copy of an ONNX model to ``<model_name_or_path>/onnx/``.

    Args:
        model: a SentenceTransformer loaded with ``backend="onnx"``.
        quantization_config: ``"arm64"``, ``"avx2"``, ``"avx512"`` or ``"avx512_vnni"`` (the CPU the file is
            tuned for; avx2 uses uint8 weights, the others int8), or a dict / object with ``weights_dtype``
            (``"qint8"``/``"quint8"``), ``per_channel`` and ``reduce_range``.
        model_name_or_path: the folder to write into (or the Hub repository, with ``push_to_hub``).
        push_to_hub: upload the file to the Hub repository instead of writing a local folder.
        create_pr: with ``push_to_hub``, open a pull request instead of committing.
        file_suffix: default ``"<weights dtype>_<preset>"`` (e.g. ``"qint8_avx512_vnni"``) or
            ``"<weights dtype>_quantized"`` for a custom config.

    Raises:
        ImportError: ``onnx`` / ``onnxruntime`` missing (``pip install sentrix[onnx]``).
        ValueError: the model is not loaded with ``backend="onnx"``, or an unknown preset / config.
    """
    encoder = onnx_encoder_of(model, "export_dynamic_quantized_onnx_model")
    if isinstance(quantization_config, str):
        if quantization_config not in DYNAMIC_PRESETS:
            raise ValueError(
                f"quantization_config must be one of {list(DYNAMIC_PRESETS)} or a dict with 'weights_dtype', "
                f"'per_channel', 'reduce_range'; got {quantization_config!r}."
            )
        weights, per_channel, reduce_range = DYNAMIC_PRESETS[quantization_config], True, False
        file_suffix = file_suffix or f"{weights}_{quantization_config}"
    else:
        source = quantization_config if isinstance(quantization_config, dict) else vars(quantization_config or {})
        weights = str(getattr(source.get("weights_dtype"), "name", source.get("weights_dtype", "qint8"))).lower()
        if weights not in ("qint8", "quint8"):
            raise ValueError(f"quantization_config weights_dtype must be 'qint8' or 'quint8', got {weights!r}.")
        per_channel, reduce_range = bool(source.get("per_channel", True)), bool(source.get("reduce_range", False))
        file_suffix = file_suffix or f"{weights}_quantized"
    require_onnx_tools("export_dynamic_quantized_onnx_model")

    def run(out_dir: str) -> None:
        from onnxruntime.quantization import QuantType, quantize_dynamic

        quantize_dynamic(
            os.fspath(encoder.model_path), os.path.join(out_dir, ONNX_FILE_NAME),
            per_channel=per_channel, reduce_range=reduce_range,
            weight_type=QuantType.QInt8 if weights == "qint8" else QuantType.QUInt8,
            extra_options={"WeightSymmetric": True, "ActivationSymmetric": False},
        )

    save_or_push_to_hub_model(run, "export_dynamic_quantized_onnx_model", quantization_config, model_name_or_path,
                              push_to_hub=push_to_hub, create_pr=create_pr, file_suffix=file_suffix,
                              backend="onnx", model=model)


def _calibration_texts(dataset_args: dict[str, str | None], num_samples: int) -> list[str]:
    given = [key for key, value in dataset_args.items() if value is not None]
    if given and len(given) != len(dataset_args):
        raise ValueError(
            f"Give all of {list(dataset_args)} or none of them (none uses nyu-mll/glue sst2 'sentence'); "
            f"got only {given}."
        )
    import datasets

    name = dataset_args["dataset_name"] or "nyu-mll/glue"
    config = dataset_args["dataset_config_name"] or "sst2"
    split = dataset_args["dataset_split"] or "train"
    column = dataset_args["column_name"] or "sentence"
    data = datasets.load_dataset(name, config, split=split)
    if column not in data.column_names:
        raise ValueError(f"column_name {column!r} is not a column of {name}/{config} ({data.column_names}).")
    data = data.shuffle(seed=42).select(range(min(num_samples, len(data))))
    return list(data[column])


def export_static_quantized_openvino_model(
    model: Any,
    quantization_config: Any,
    model_name_or_path: str,
    dataset_name: str | None = None,
    dataset_config_name: str | None = None,
    dataset_split: str | None = None,
    column_name: str | None = None,
    push_to_hub: bool = False,
    create_pr: bool = False,
    file_suffix: str = "qint8_quantized",
    calibration_texts: list[str] | None = None,
) -> None:
    """Write a statically int8-quantized OpenVINO model to ``<model_name_or_path>/openvino/``.

    Post-training quantization with NNCF: weights and activations go to int8, with the activation ranges
    calibrated on sample texts (tokenized padded to 384 tokens).

    Args:
        model: a SentenceTransformer loaded with ``backend="openvino"``.
        quantization_config: ``None`` (defaults), or a dict / object with ``num_samples`` (calibration texts,
            default 300), ``sym`` (symmetric activations, default False), ``model_type`` (default
            ``"transformer"``), ``fast_bias_correction`` (default True), ``overflow_fix`` (default
            ``"disable"``), ``smooth_quant_alpha``.
        model_name_or_path: the folder to write into (or the Hub repository, with ``push_to_hub``).
        dataset_name, dataset_config_name, dataset_split, column_name: the calibration texts, all four or
            none (none: ``nyu-mll/glue``, ``sst2``, ``train``, ``sentence``, downloaded with ``datasets``).
        push_to_hub: upload the files to the Hub repository instead of writing a local folder.
        create_pr: with ``push_to_hub``, open a pull request instead of committing.
        file_suffix: default ``"qint8_quantized"`` (``openvino_model_qint8_quantized.xml``).
        calibration_texts: sentrix addition: calibrate on these texts instead of a dataset (no download).

    Raises:
        ImportError: ``openvino`` / ``nncf`` missing (``pip install sentrix[openvino]``).
        ValueError: the model is not loaded with ``backend="openvino"``, or only some dataset arguments given.
    """
    encoder = onnx_encoder_of(model, "export_static_quantized_openvino_model", backend="openvino")
    source = quantization_config if isinstance(quantization_config, dict) else vars(quantization_config or {})
    unknown = sorted(set(source) - {"num_samples", "sym", "model_type", "fast_bias_correction", "overflow_fix",
                                    "smooth_quant_alpha", "bits", "dtype", "ignored_scope", "kwargs", "dataset",
                                    "tokenizer", "processor", "quant_method"})
    if unknown:
        raise ValueError(f"quantization_config has unknown keys {unknown}.")
    dataset_args = dict(zip(_DATASET_ARGS, (dataset_name, dataset_config_name, dataset_split, column_name)))
    if calibration_texts is not None and any(v is not None for v in dataset_args.values()):
        raise ValueError("Give calibration_texts or the dataset arguments, not both.")
    if calibration_texts is not None and (not calibration_texts or not all(isinstance(t, str) for t in calibration_texts)):
        raise ValueError("calibration_texts must be a non-empty list of strings.")
    num_samples = int(source.get("num_samples") or 300)
    nncf = require_nncf("export_static_quantized_openvino_model")
    texts = calibration_texts[:num_samples] if calibration_texts is not None else _calibration_texts(dataset_args, num_samples)
    tokenizer = model.tokenizer

    def items():
        for text in texts:
            encoded = tokenizer([text], padding="max_length", max_length=384, truncation=True, return_tensors="np")
            yield {name: encoded[name].astype("int64") if name in encoded else (encoded["input_ids"] * 0).astype("int64")
                   for name in encoder.input_names}

    def run(out_dir: str) -> None:
        import openvino as ov

        advanced = nncf.AdvancedQuantizationParameters(overflow_fix=nncf.OverflowFix(source.get("overflow_fix", "disable")))
        if source.get("smooth_quant_alpha"):
            advanced.smooth_quant_alphas.matmul = source["smooth_quant_alpha"]
        quantized = nncf.quantize(
            ov.Core().read_model(os.fspath(encoder.model_path)), nncf.Dataset(list(items())),
            preset=nncf.QuantizationPreset("performance" if source.get("sym") else "mixed"),
            subset_size=int(source.get("num_samples") or 128), model_type=nncf.ModelType(source.get("model_type", "transformer")),
            fast_bias_correction=bool(source.get("fast_bias_correction", True)), advanced_parameters=advanced,
        )
        ov.save_model(quantized, os.path.join(out_dir, OPENVINO_FILE_NAME), compress_to_fp16=False)

    save_or_push_to_hub_model(run, "export_static_quantized_openvino_model", quantization_config, model_name_or_path,
                              push_to_hub=push_to_hub, create_pr=create_pr, file_suffix=file_suffix,
                              backend="openvino", model=model)
