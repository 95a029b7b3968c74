"""Load (and, when no exported file exists, export) a Hugging Face encoder for ONNX Runtime or OpenVINO.

``SentenceTransformer(path, backend="onnx")`` ends here through the Transformer module. The
encoder returned stands in for the ``transformers`` model: it takes the tokenizer's tensors and
returns an object with ``last_hidden_state``; ``save_pretrained`` writes ``config.json`` plus
``onnx/<file>.onnx`` or ``openvino/openvino_model.xml`` + ``.bin``, the layout sentence-transformers
reads and writes, so a saved folder loads in either library with the same backend.

model_kwargs understood (all optional):

=========================  ===================================================================
``file_name``              the exported file to load, e.g. ``"onnx/model_O3.onnx"`` or
                           ``"openvino_model_qint8_quantized.xml"`` (default ``model.onnx`` /
                           ``openvino_model.xml``, looked up in the root, then in ``onnx/`` or
                           ``openvino/``)
``export``                 ``True`` exports from the PyTorch weights even if a file exists;
                           without a file it exports anyway (and warns to save)
``provider``               ONNX Runtime execution provider (default: the first available,
                           e.g. ``"CUDAExecutionProvider"`` before ``"CPUExecutionProvider"``)
``provider_options``       options for that provider (ONNX)
``session_options``        an ``onnxruntime.SessionOptions`` (ONNX)
``ov_config``              OpenVINO compile properties, a dict or a path to a ``.json`` file;
                           on CPUs with bfloat16 OpenVINO computes in it unless given
                           ``{"INFERENCE_PRECISION_HINT": "f32"}``
``device``                 OpenVINO device name (default ``"CPU"``)
``subfolder``, hub kwargs  ``cache_dir``, ``token``, ``revision``, ``local_files_only``,
                           ``trust_remote_code`` (used when exporting or downloading)
=========================  ===================================================================
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import torch

from sentrix.backend.utils import (
    ONNX_FILE_NAME,
    OPENVINO_FILE_NAME,
    OUTPUT_NAME,
    backend_should_export,
    backend_warn_to_save,
    check_backend,
    export_onnx_file,
    load_torch_encoder,
    require_onnx,
    require_openvino,
)

logger = logging.getLogger(__name__)

_HUB_KEYS = ("cache_dir", "token", "revision", "local_files_only", "trust_remote_code", "subfolder", "force_download")
_ONNX_KEYS = {"file_name", "export", "provider", "provider_options", "session_options", *_HUB_KEYS}
_OPENVINO_KEYS = {"file_name", "export", "ov_config", "device", *_HUB_KEYS}
_TASK = "feature-extraction"


class _Output(dict):
    """What ``transformers`` encoders return, reduced to what the Transformer module reads."""

    def __getattr__(self, name: str) -> Any:
        return self.get(name)


class BackendEncoder(torch.nn.Module):
    """Common part of :class:`ONNXEncoder` and :class:`OpenVINOEncoder`: a parameter-free module that
    runs an exported encoder on the tokenizer's tensors and returns ``last_hidden_state``.

    It has no trainable weights: training needs ``backend="torch"``.
    """

    backend = ""

    def __init__(self, config, model_path: Path, input_names: list[str]) -> None:
        super().__init__()
        self.config = config
        self.model_path = Path(model_path)
        self.input_names = list(input_names)
        self._tmp_dir: tempfile.TemporaryDirectory | None = None  # holds an export made at load time

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor | None = None,
                token_type_ids: torch.Tensor | None = None, return_dict: bool = True, **kwargs: Any) -> _Output:
        given = {"input_ids": input_ids, "attention_mask": attention_mask, "token_type_ids": token_type_ids}
        if given["attention_mask"] is None:
            given["attention_mask"] = torch.ones_like(input_ids)
        if given["token_type_ids"] is None:
            given["token_type_ids"] = torch.zeros_like(input_ids)
        feed = {name: given[name].detach().to("cpu", torch.int64).numpy() for name in self.input_names}
        hidden = torch.from_numpy(self._run(feed)).to(input_ids.device)
        return _Output(last_hidden_state=hidden, hidden_states=None)

    def _run(self, feed: dict[str, Any]):
        raise NotImplementedError

    def save_pretrained(self, save_directory: str | os.PathLike, **kwargs: Any) -> None:
        """Write ``config.json`` and the exported file(s) into ``save_directory/<backend>/``."""
        os.makedirs(save_directory, exist_ok=True)
        self.config.save_pretrained(save_directory)
        target = Path(save_directory, self.backend)
        target.mkdir(parents=True, exist_ok=True)
        self._save_files(target)

    def _save_files(self, target: Path) -> None:
        raise NotImplementedError

    def extra_repr(self) -> str:
        return f"file={self.model_path.name!r}, inputs={self.input_names}"


class ONNXEncoder(BackendEncoder):
    """An ONNX file run by ONNX Runtime in place of the PyTorch encoder (``backend="onnx"``)."""

    backend = "onnx"

    def __init__(self, config, model_path: Path, provider: str | None = None, provider_options: Any = None,
                 session_options: Any = None) -> None:
        ort = require_onnx()
        provider = provider or ort.get_available_providers()[0]
        options = [provider_options] if isinstance(provider_options, dict) else provider_options
        session = ort.InferenceSession(os.fspath(model_path), sess_options=session_options, providers=[provider],
                                       provider_options=options)
        names = [node.name for node in session.get_inputs()]
        outputs = [node.name for node in session.get_outputs()]
        if OUTPUT_NAME not in outputs:
            raise ValueError(
                f"The ONNX file {os.fspath(model_path)!r} has outputs {outputs}, expected {OUTPUT_NAME!r}. "
                "Fix: load a feature-extraction export (as written by sentrix or sentence-transformers), or "
                "re-export with model_kwargs={'export': True}."
            )
        super().__init__(config, model_path, names)
        self.session = session
        self.provider = provider

    def _run(self, feed):
        return self.session.run([OUTPUT_NAME], feed)[0]

    def _save_files(self, target: Path) -> None:
        source = self.model_path
        if source.resolve() != (target / source.name).resolve():
            shutil.copyfile(source, target / source.name)
            for suffix in ("_data", ".data"):  # weights of a model over 2 GB live beside it
                side = source.with_name(source.name + suffix)
                if side.exists():
                    shutil.copyfile(side, target / side.name)


class OpenVINOEncoder(BackendEncoder):
    """An OpenVINO IR model (``.xml`` + ``.bin``) compiled for an OpenVINO device (``backend="openvino"``)."""

    backend = "openvino"

    def __init__(self, config, model_path: Path, device: str = "CPU", ov_config: dict[str, Any] | None = None) -> None:
        ov = require_openvino()
        core = ov.Core()
        ov_model = core.read_model(os.fspath(model_path))
        names = [node.get_any_name() for node in ov_model.inputs]
        outputs = [name for node in ov_model.outputs for name in node.get_names()]
        if OUTPUT_NAME not in outputs:
            raise ValueError(
                f"The OpenVINO model {os.fspath(model_path)!r} has outputs {outputs}, expected {OUTPUT_NAME!r}. "
                "Fix: load a feature-extraction export, or re-export with model_kwargs={'export': True}."
            )
        super().__init__(config, model_path, names)
        self.ov_model = ov_model
        self.device_name = device
        self.compiled = core.compile_model(ov_model, device, ov_config or {})
        self._request = self.compiled.create_infer_request()

    def _run(self, feed):
        result = self._request.infer(feed)
        return result[self.compiled.output(OUTPUT_NAME)].copy()

    def _save_files(self, target: Path) -> None:
        ov = require_openvino()
        ov.save_model(self.ov_model, os.fspath(target / OPENVINO_FILE_NAME), compress_to_fp16=False)


def _check_keys(model_kwargs: dict[str, Any], allowed: set[str], backend: str) -> None:
    unknown = sorted(set(model_kwargs) - allowed - {"use_safetensors"})
    if unknown:
        raise ValueError(
            f'model_kwargs {unknown} do not apply to backend="{backend}"; it accepts {sorted(allowed)}. '
            'Fix: drop them, or use backend="torch" for PyTorch loading options.'
        )


def _exported_file(model_name_or_path: str, is_local: bool, model_kwargs: dict[str, Any], extra: tuple[str, ...] = ()) -> Path:
    subfolder = model_kwargs.get("subfolder") or ""
    file_name = model_kwargs["file_name"]
    if is_local:
        return Path(model_name_or_path, subfolder, file_name)
    from huggingface_hub import hf_hub_download

    hub = {k: model_kwargs[k] for k in ("cache_dir", "token", "revision", "local_files_only", "force_download")
           if model_kwargs.get(k) is not None}
    for name in extra:
        hf_hub_download(model_name_or_path, name, subfolder=subfolder or None, **hub)
    return Path(hf_hub_download(model_name_or_path, file_name, subfolder=subfolder or None, **hub))


def _export_to_tmp(model_name_or_path: str, config, model_kwargs: dict[str, Any]) -> tuple[tempfile.TemporaryDirectory, Path]:
    tmp = tempfile.TemporaryDirectory(prefix="sentrix-export-")
    torch_model = load_torch_encoder(model_name_or_path, config, model_kwargs)
    path = Path(tmp.name, ONNX_FILE_NAME)
    export_onnx_file(torch_model, path)
    del torch_model
    return tmp, path


def load_onnx_model(model_name_or_path: str, config, task_name: str = _TASK, **model_kwargs: Any) -> ONNXEncoder:
    """Load ``onnx/model.onnx`` (or ``model_kwargs["file_name"]``) from a folder or Hub repo, exporting the
    PyTorch weights to ONNX first when no such file exists. See the module docstring for model_kwargs."""
    if task_name != _TASK:
        raise ValueError(f"task_name must be {_TASK!r} (sentrix encodes sentence embeddings), got {task_name!r}.")
    require_onnx()
    _check_keys(model_kwargs, _ONNX_KEYS, "onnx")
    load_path = Path(model_name_or_path)
    is_local = load_path.exists()
    export, model_kwargs = backend_should_export(load_path, is_local, dict(model_kwargs), ONNX_FILE_NAME,
                                                 "*.onnx", "ONNX")
    tmp = None
    if export:
        tmp, path = _export_to_tmp(model_name_or_path, config, model_kwargs)
    else:
        path = _exported_file(model_name_or_path, is_local, model_kwargs)
    encoder = ONNXEncoder(config, path, provider=model_kwargs.get("provider"),
                          provider_options=model_kwargs.get("provider_options"),
                          session_options=model_kwargs.get("session_options"))
    encoder._tmp_dir = tmp
    if export:
        backend_warn_to_save(model_name_or_path, is_local, "ONNX")
    return encoder


def load_openvino_model(model_name_or_path: str, config, task_name: str = _TASK, **model_kwargs: Any) -> OpenVINOEncoder:
    """Load ``openvino/openvino_model.xml`` (or ``model_kwargs["file_name"]``) from a folder or Hub repo,
    exporting the PyTorch weights first when no such file exists. See the module docstring for model_kwargs."""
    if task_name != _TASK:
        raise ValueError(f"task_name must be {_TASK!r} (sentrix encodes sentence embeddings), got {task_name!r}.")
    ov = require_openvino()
    _check_keys(model_kwargs, _OPENVINO_KEYS, "openvino")
    load_path = Path(model_name_or_path)
    is_local = load_path.exists()
    export, model_kwargs = backend_should_export(load_path, is_local, dict(model_kwargs), OPENVINO_FILE_NAME,
                                                 "openvino*.xml", "OpenVINO")
    ov_config = model_kwargs.get("ov_config") or {}
    if not isinstance(ov_config, dict):
        if not Path(ov_config).is_file():
            raise ValueError(
                f"ov_config must be a dict or the path of a .json file of OpenVINO properties, got {ov_config!r}. "
                "Fix: pass e.g. {'PERFORMANCE_HINT': 'LATENCY'} or an existing file."
            )
        ov_config = json.loads(Path(ov_config).read_text(encoding="utf-8"))
    tmp = None
    if export:
        tmp, onnx_path = _export_to_tmp(model_name_or_path, config, model_kwargs)
        path = Path(tmp.name, OPENVINO_FILE_NAME)
        ov.save_model(ov.convert_model(os.fspath(onnx_path)), os.fspath(path), compress_to_fp16=False)
    else:
        bin_name = Path(model_kwargs["file_name"]).with_suffix(".bin").name
        path = _exported_file(model_name_or_path, is_local, model_kwargs, extra=() if is_local else (bin_name,))
    encoder = OpenVINOEncoder(config, path, device=model_kwargs.get("device") or "CPU", ov_config=ov_config)
    encoder._tmp_dir = tmp
    if export:
        backend_warn_to_save(model_name_or_path, is_local, "OpenVINO")
    return encoder


def load_backend_encoder(backend: str, model_name_or_path: str, config, model_kwargs: dict[str, Any]):
    """The encoder for ``backend`` ("onnx" or "openvino"); the Transformer module's entry point here."""
    check_backend(backend)
    kwargs = {k: v for k, v in model_kwargs.items() if not (k in _HUB_KEYS and v in (None, ""))}
    if backend == "onnx":
        return load_onnx_model(model_name_or_path, config, _TASK, **kwargs)
    if backend == "openvino":
        return load_openvino_model(model_name_or_path, config, _TASK, **kwargs)
    raise ValueError(f'load_backend_encoder handles "onnx" and "openvino", got {backend!r}.')
