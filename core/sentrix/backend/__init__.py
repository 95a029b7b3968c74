"""ONNX Runtime and OpenVINO backends: ``SentenceTransformer(path, backend="onnx" | "openvino")`` and the
exports sentence-transformers ships (optimized / int8 ONNX, int8 OpenVINO), in its file layout.

Optional: ``pip install sentrix[onnx]`` (onnxruntime, onnx) or ``pip install sentrix[openvino]``
(openvino, nncf). Nothing here is imported by ``import sentrix``; a missing extra raises ImportError
naming the command when a backend is first used.
"""

from __future__ import annotations

import importlib
from typing import Any

_LAZY = {
    "export_optimized_onnx_model": "sentrix.backend.optimize",
    "export_dynamic_quantized_onnx_model": "sentrix.backend.quantize",
    "export_static_quantized_openvino_model": "sentrix.backend.quantize",
    "load_onnx_model": "sentrix.backend.load",
    "load_openvino_model": "sentrix.backend.load",
    "backend_should_export": "sentrix.backend.utils",
    "backend_warn_to_save": "sentrix.backend.utils",
    "save_or_push_to_hub_model": "sentrix.backend.utils",
}

__all__ = sorted(_LAZY)


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'sentrix.backend' has no attribute {name!r}", name=name)
