"""Shared helpers of the ONNX and OpenVINO backends: optional imports, file lookup, export, saving.

Nothing here imports onnxruntime, openvino or nncf at module level: each is imported by the
function that needs it, through :func:`require_onnx` / :func:`require_openvino`, which name the
``pip install`` command when the optional extra is missing.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)

ONNX_INSTALL = "pip install sentrix[onnx]"
ONNX_GPU_INSTALL = "pip install sentrix[onnx-gpu]"
OPENVINO_INSTALL = "pip install sentrix[openvino]"
ONNX_FILE_NAME = "model.onnx"
OPENVINO_FILE_NAME = "openvino_model.xml"
#: the encoder inputs an exported file takes (those the model accepts), and its one output
INPUT_NAMES = ("input_ids", "attention_mask", "token_type_ids")
OUTPUT_NAME = "last_hidden_state"
BACKENDS = ("torch", "onnx", "openvino")


def require_onnx(feature: str = 'backend="onnx"') -> Any:
    """Import and return ``onnxruntime``, or raise ImportError naming ``pip install sentrix[onnx]``."""
    try:
        import onnxruntime
    except ImportError as exc:
        raise ImportError(
            f"{feature} needs the optional ONNX Runtime packages (onnxruntime, onnx), which are not installed. "
            f"Fix: `{ONNX_INSTALL}` (or `{ONNX_GPU_INSTALL}` for CUDA)."
        ) from exc
    return onnxruntime


def require_onnx_tools(feature: str) -> Any:
    """Import and return ``onnx`` (needed to optimize or quantize a file), naming the install command."""
    require_onnx(feature)
    try:
        import onnx
    except ImportError as exc:
        raise ImportError(
            f"{feature} needs the optional `onnx` package, which is not installed. Fix: `{ONNX_INSTALL}`."
        ) from exc
    return onnx


def require_openvino(feature: str = 'backend="openvino"') -> Any:
    """Import and return ``openvino``, or raise ImportError naming ``pip install sentrix[openvino]``."""
    try:
        import openvino
    except ImportError as exc:
        raise ImportError(
            f"{feature} needs the optional OpenVINO package, which is not installed. Fix: `{OPENVINO_INSTALL}`."
        ) from exc
    return openvino


def require_nncf(feature: str) -> Any:
    """Import and return ``nncf`` (OpenVINO's quantization toolkit), naming the install command."""
    require_openvino(feature)
    try:
        import nncf
    except ImportError as exc:
        raise ImportError(
            f"{feature} needs the optional `nncf` package, which is not installed. Fix: `{OPENVINO_INSTALL}`."
        ) from exc
    return nncf


def check_backend(backend: Any) -> str:
    """Return ``backend`` if it is one of torch / onnx / openvino, else raise ValueError naming the choices."""
    if backend not in BACKENDS:
        raise ValueError(
            f"backend must be one of {', '.join(repr(b) for b in BACKENDS)}, got {backend!r}. "
            'Fix: pass backend="torch" (default), "onnx" or "openvino".'
        )
    return backend


def backend_should_export(
    load_path: Path,
    is_local: bool,
    model_kwargs: dict[str, Any],
    target_file_name: str,
    target_file_glob: str,
    backend_name: str,
) -> tuple[bool, dict[str, Any]]:
    """Decide whether the folder already holds an exported file, and where.

    Looks for ``<subfolder>/<file_name>`` and then ``<subfolder>/<backend>/<file_name>`` (``file_name``
    from ``model_kwargs``, default ``target_file_name``). When found in the backend folder, sets
    ``model_kwargs["subfolder"]``; a ``file_name`` holding folders is split into subfolder + name.
    ``model_kwargs["export"]`` (popped) forces the answer. Returns ``(export, model_kwargs)``; logs a
    warning naming the files present when it has to export or when several files would fit.
    """
    export = model_kwargs.pop("export", None)
    if export:
        return True, model_kwargs
    backend = backend_name.lower()
    file_name = model_kwargs.get("file_name", target_file_name)
    subfolder = model_kwargs.get("subfolder") or ""
    direct = Path(subfolder, file_name).as_posix()
    in_backend_dir = Path(subfolder, backend, file_name).as_posix()
    if is_local:
        base = load_path / subfolder if subfolder else load_path
        found = sorted(Path(subfolder, p.relative_to(base)).as_posix() for p in base.glob(f"**/{target_file_glob}"))
    else:
        from huggingface_hub import list_repo_files

        prefix = f"{subfolder}/" if subfolder else ""
        found = sorted(
            name for name in list_repo_files(load_path.as_posix(), revision=model_kwargs.get("revision"),
                                             token=model_kwargs.get("token"))
            if name.startswith(prefix) and Path(name).match(target_file_glob)
        )
    exists = direct in found
    if not exists and in_backend_dir in found:
        exists = True
        if len(found) > 1 and "file_name" not in model_kwargs:
            logger.warning(
                f"Several {backend_name} files in {load_path.as_posix()!r}: {found}; loading {in_backend_dir!r}. "
                f'Choose another with model_kwargs={{"file_name": "<file name>"}}.'
            )
        model_kwargs["subfolder"] = Path(subfolder, backend).as_posix() if subfolder else backend
        model_kwargs["file_name"] = file_name
    if export is None:
        export = not exists
    parts = Path(file_name).parts
    if len(parts) > 1:
        model_kwargs["file_name"] = parts[-1]
        model_kwargs["subfolder"] = Path(model_kwargs.get("subfolder") or "", *parts[:-1]).as_posix()
    if export:
        logger.warning(f"No {file_name!r} in {load_path.as_posix()!r}: exporting the model to {backend_name}.")
        if found:
            logger.warning(
                f"To load one of the {backend_name} files there ({found}) instead, pass "
                f'model_kwargs={{"file_name": "{found[0]}"}}.'
            )
    return bool(export), model_kwargs


def backend_warn_to_save(model_name_or_path: str, is_local: bool, backend_name: str) -> None:
    """Log that a freshly exported model should be saved, with the call that saves it."""
    how = (f"model.save_pretrained({model_name_or_path!r})" if is_local
           else f"model.push_to_hub({model_name_or_path!r}, create_pr=True)")
    logger.warning(f"The model was exported to {backend_name} at load time; save it with `{how}` "
                   "so the next load skips the export.")


def _last_hidden_state_module(model, input_names: tuple[str, ...]):
    """``model`` wrapped so tracing sees positional tensors in and ``last_hidden_state`` out."""
    import torch

    class _Wrapper(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.model = model

        def forward(self, *tensors):
            return self.model(**dict(zip(input_names, tensors)), return_dict=True).last_hidden_state

    return _Wrapper().eval()


def export_onnx_file(torch_model, output_file: str | os.PathLike, opset: int = 17) -> list[str]:
    """Export a Hugging Face encoder to one ONNX file; return the input names it takes.

    Inputs ``input_ids``, ``attention_mask`` (and ``token_type_ids`` when the encoder has them), output
    ``last_hidden_state``, batch and sequence axes dynamic: the layout Optimum's
    ``ORTModelForFeatureExtraction`` (what sentence-transformers loads) reads. The encoder is traced
    with eager attention and a padded example batch, so the attention mask stays in the graph.
    """
    import warnings

    import torch

    config = torch_model.config
    previous_attn = getattr(config, "_attn_implementation", None)
    forward_params = _forward_params(torch_model)
    names = tuple(n for n in INPUT_NAMES if n in forward_params
                  and (n != "token_type_ids" or getattr(config, "type_vocab_size", 0)))
    was_training = torch_model.training
    try:
        if hasattr(torch_model, "set_attn_implementation"):
            torch_model.set_attn_implementation("eager")
        else:
            config._attn_implementation = "eager"
        torch_model.eval()
        wrapper = _last_hidden_state_module(torch_model, names)
        vocab = max(int(getattr(config, "vocab_size", 100) or 100), 8)
        ids = torch.randint(4, vocab, (2, 8), device=_device_of(torch_model))
        mask = torch.ones_like(ids)
        mask[1, 5:] = 0  # a padded row keeps the mask computation in the traced graph
        examples = {"input_ids": ids, "attention_mask": mask, "token_type_ids": torch.zeros_like(ids)}
        args = tuple(examples[n] for n in names)
        axes = {n: {0: "batch_size", 1: "sequence_length"} for n in (*names, OUTPUT_NAME)}
        with warnings.catch_warnings(), torch.no_grad():
            warnings.simplefilter("ignore")
            torch.onnx.export(wrapper, args, os.fspath(output_file), input_names=list(names),
                              output_names=[OUTPUT_NAME], dynamic_axes=axes, opset_version=opset,
                              do_constant_folding=True, dynamo=False)
    finally:
        if previous_attn is not None:
            if hasattr(torch_model, "set_attn_implementation"):
                torch_model.set_attn_implementation(previous_attn)
            else:
                config._attn_implementation = previous_attn
        torch_model.train(was_training)
    return list(names)


def _forward_params(model) -> set[str]:
    import inspect

    return set(inspect.signature(model.forward).parameters)


def _device_of(model):
    import torch

    for tensor in model.parameters():
        return tensor.device
    return torch.device("cpu")


def load_torch_encoder(model_name_or_path: str, config, model_kwargs: dict[str, Any]):
    """Load the PyTorch encoder that an export starts from (``AutoModel`` with the hub kwargs)."""
    import transformers

    keep = ("cache_dir", "token", "revision", "local_files_only", "trust_remote_code", "subfolder")
    kwargs = {k: v for k, v in model_kwargs.items() if k in keep and v is not None}
    encoder_only = {"t5": "T5EncoderModel", "mt5": "MT5EncoderModel", "umt5": "UMT5EncoderModel"}
    model_cls = getattr(transformers, encoder_only.get(config.model_type, "AutoModel"))
    return model_cls.from_pretrained(model_name_or_path, config=config, **kwargs)


def save_or_push_to_hub_model(
    export_function: Callable[[str], str],
    export_function_name: str,
    config: Any,
    model_name_or_path: str,
    push_to_hub: bool = False,
    create_pr: bool = False,
    file_suffix: str | None = None,
    backend: str = "onnx",
    model: Any = None,
) -> None:
    """Run ``export_function(tmp_dir)`` and put its file in ``<model_name_or_path>/<backend>/``.

    The file is named as sentence-transformers names it: ``model_<suffix>.onnx`` or
    ``openvino_model_<suffix>.xml`` (+ ``.bin``). ``export_function`` writes ``model.onnx`` (ONNX) or
    ``openvino_model.xml``/``.bin`` (OpenVINO) into the folder it is given. With ``push_to_hub`` the file
    is uploaded to the Hub repository ``model_name_or_path`` instead (as a pull request with ``create_pr``).
    """
    if backend == "onnx":
        file_name = f"model_{file_suffix}.onnx"
        produced = [(ONNX_FILE_NAME, file_name)]
    elif backend == "openvino":
        file_name = f"openvino_model_{file_suffix}.xml"
        produced = [(OPENVINO_FILE_NAME, file_name), ("openvino_model.bin", Path(file_name).with_suffix(".bin").name)]
    else:
        raise ValueError(f"backend must be 'onnx' or 'openvino', got {backend!r}.")
    with tempfile.TemporaryDirectory() as work_dir:
        out_dir = Path(work_dir, backend)
        out_dir.mkdir()
        export_function(os.fspath(out_dir))
        for source, target in produced:
            os.replace(out_dir / source, out_dir / f"_{target}")
        for _source, target in produced:
            os.replace(out_dir / f"_{target}", out_dir / target)
        for leftover in out_dir.iterdir():
            if leftover.name not in {target for _s, target in produced}:
                leftover.unlink() if leftover.is_file() else shutil.rmtree(leftover)
        if push_to_hub:
            import huggingface_hub

            huggingface_hub.upload_folder(
                folder_path=os.fspath(out_dir), path_in_repo=backend, repo_id=model_name_or_path,
                repo_type="model", commit_message=f"Add exported {backend} model {file_name!r}",
                commit_description=f"Exported with sentrix `{export_function_name}`; config: {config!r}",
                create_pr=create_pr,
            )
            return
        destination = Path(model_name_or_path, backend)
        destination.mkdir(parents=True, exist_ok=True)
        for _source, target in produced:
            shutil.copyfile(out_dir / target, destination / target)
    logger.info(f"Saved {destination / file_name}")
