"""``SentenceTransformer``: an ordered pipeline of modules that maps texts to embeddings.

Same class name, arguments, behaviour and files on disk as ``sentence_transformers`` 6.x::

    from sentrix import SentenceTransformer

    model = SentenceTransformer("path/to/all-MiniLM-L6-v2")        # folder or Hub id
    embeddings = model.encode(["The weather is lovely today.", "It's so sunny outside!"])
    scores = model.similarity(embeddings, embeddings)                # 2 x 2 cosine similarities
    model.save_pretrained("out/my-model")                            # loads in sentence-transformers too

What it loads:

* a sentence-transformers folder (``modules.json`` + ``config_sentence_transformers.json`` + one
  folder per module; both the 6.x and the older file variants);
* a plain Hugging Face model folder: it becomes Transformer + mean Pooling (last-token pooling
  for causal language models);
* a Hub id, downloaded with ``huggingface_hub.snapshot_download`` (honours ``cache_folder``,
  ``revision``, ``token``, ``local_files_only`` and ``HF_HUB_OFFLINE``).

Each ``modules.json`` ``type`` is resolved through the ``sentrix.modules`` registry (built-ins
answer to every sentence-transformers type path); other types need a module plugin or
``trust_remote_code=True``. ``start_multi_process_pool`` + ``encode(..., pool=pool)`` encode with
several processes (see :mod:`sentrix.multi_process`).
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
from collections import OrderedDict
from contextlib import contextmanager
from typing import Any, Iterator, Literal

import numpy as np
import torch
from torch import Tensor, nn
from tqdm.autonotebook import trange

from sentrix.errors import InvalidInputError
from sentrix.fit_mixin import FitMixin
from sentrix.module_base import InputModule, Module, is_router, resolve_module_class
from sentrix.peft_mixin import PeftAdapterMixin
from sentrix.util.quantization import PRECISIONS, quantize_embeddings
from sentrix.util.tensor import batch_to_device
from sentrix.util.tensor import to_numpy as _to_numpy

logger = logging.getLogger(__name__)

SIMILARITY_FN_NAMES = ("cosine", "dot", "euclidean", "manhattan")
OUTPUT_VALUES = ("sentence_embedding", "token_embeddings", None)
_HUB_IGNORE = ["*.onnx", "onnx/*", "openvino/*", "*.h5", "*.msgpack", "*.ot", "flax_model*", "tf_model*", "rust_model*"]


def _hub_ignore(backend: str) -> list[str]:
    """Files a Hub download skips: every exported file except those of the backend in use."""
    keep = {"onnx": ("*.onnx", "onnx/*"), "openvino": ("openvino/*",)}.get(backend, ())
    return [pattern for pattern in _HUB_IGNORE if pattern not in keep]


def _default_device() -> str:
    if torch.cuda.is_available():
        return f"cuda:{int(os.environ.get('LOCAL_RANK', 0))}"
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        return "mps"
    return "cpu"


def _read_json(path: str) -> Any:
    try:
        with open(path, encoding="utf-8") as handle:
            return json.load(handle)
    except json.JSONDecodeError as exc:
        raise InvalidInputError(f"{path!r} is not valid JSON ({exc}). Fix: repair or re-create that file.") from exc


def _class(name: str) -> type:
    """A built-in module class by registered name (never imported from sentrix_builtins directly)."""
    from sentrix.registry import modules

    return modules.get(name)


class SentenceTransformer(nn.Sequential, FitMixin, PeftAdapterMixin):
    """Loads or builds a sentence-embedding model. See the module docstring for what it loads.

    Args:
        model_name_or_path: local folder or Hugging Face Hub id. None builds from ``modules``.
        modules: the modules to chain when building a new model.
        device: ``"cpu"``, ``"cuda"``, ``"cuda:1"``, ``"mps"``...; default: the best available.
        prompts: prompt name -> text put before each input, e.g. ``{"query": "query: "}``;
            overrides prompts saved with the model.
        default_prompt_name: the prompt used when ``encode`` gets neither prompt nor prompt_name.
        cache_folder: Hub download cache (default: ``$SENTENCE_TRANSFORMERS_HOME`` or the HF cache).
        trust_remote_code: allow importing module types and model code named by the model files.
        revision: Hub branch, tag or commit.
        local_files_only: never contact the Hub.
        token: Hub token (never written to any file).
        model_kwargs, processor_kwargs, config_kwargs: passed to the Transformer module's
            ``AutoModel`` / ``AutoTokenizer`` / ``AutoConfig``. ``model_kwargs={"use_safetensors":
            False}`` opts in to reading pickled ``pytorch_model.bin`` weights (``weights_only=True``).
        model_card_data: a ``SentenceTransformerModelCardData`` for the README written on save.
        similarity_fn_name: ``"cosine"`` (default), ``"dot"``, ``"euclidean"`` or ``"manhattan"``.
        truncate_dim: cut embeddings to this many dimensions (Matryoshka models).
        backend: ``"torch"`` (default), ``"onnx"`` or ``"openvino"``: run the Transformer module's
            encoder as an exported ONNX / OpenVINO file (``pip install sentrix[onnx]`` /
            ``sentrix[openvino]``), exported at load time when the folder has none. ``model_kwargs``
            then takes ``file_name``, ``export``, ``provider`` (ONNX), ``ov_config`` (OpenVINO); see
            ``sentrix.backend.load``. Inference only: such a model cannot be trained.

    Attributes:
        merge_and_bucket: how the losses' embedding helper (``sentrix.embedding``) batches this
            model's training forwards: ``None`` (default) merges columns and cuts padding when every
            module declares ``rows_independent = True``; ``False`` always runs plain per-column
            forwards; ``True`` merges and buckets even when a module does not declare it. The
            training argument ``merge_and_bucket`` overrides it.
    """

    model_type = "SentenceTransformer"
    merge_and_bucket: bool | None = None
    SUPPORTED_SIMILARITY_FN_NAMES = SIMILARITY_FN_NAMES

    def __init__(
        self,
        model_name_or_path: str | None = None,
        modules: list[nn.Module] | OrderedDict[str, nn.Module] | None = None,
        device: str | None = None,
        prompts: dict[str, str] | None = None,
        default_prompt_name: str | None = None,
        cache_folder: str | None = None,
        trust_remote_code: bool = False,
        revision: str | None = None,
        local_files_only: bool = False,
        token: bool | str | None = None,
        model_kwargs: dict[str, Any] | None = None,
        processor_kwargs: dict[str, Any] | None = None,
        config_kwargs: dict[str, Any] | None = None,
        model_card_data: Any = None,
        similarity_fn_name: str | None = None,
        truncate_dim: int | None = None,
        backend: str = "torch",
    ) -> None:
        self._similarity_fn_name: str | None = None
        self.similarity_fn_name = similarity_fn_name  # checked before any loading work
        if backend not in ("torch", "onnx", "openvino"):
            raise InvalidInputError(
                f"backend must be 'torch', 'onnx' or 'openvino', got {backend!r}. "
                "Fix: pass one of those (the default is 'torch')."
            )
        self.backend = backend
        self.prompts: dict[str, str | None] = {"query": None, "document": None, **(prompts or {})}
        self.default_prompt_name = default_prompt_name
        self.truncate_dim = truncate_dim
        self.trust_remote_code = trust_remote_code
        self.module_kwargs: dict[str, list[str]] = {}
        self._saved_config: dict[str, Any] = {}
        if cache_folder is None:
            cache_folder = os.getenv("SENTENCE_TRANSFORMERS_HOME")

        hub_id = None
        if model_name_or_path is not None:
            folder, hub_id = self._resolve_folder(model_name_or_path, cache_folder, revision, token, local_files_only,
                                                  backend)
            if modules is not None:
                logger.warning("Both model_name_or_path and modules were given; the modules are loaded from the path.")
            modules = self._load_folder(
                folder, trust_remote_code=trust_remote_code, model_kwargs=model_kwargs,
                processor_kwargs=processor_kwargs, config_kwargs=config_kwargs, backend=backend,
            )
        if modules is not None and not isinstance(modules, OrderedDict):
            modules = OrderedDict((str(index), module) for index, module in enumerate(modules))
        if modules is not None and len(modules) == 0:
            raise InvalidInputError("SentenceTransformer got an empty modules list. Fix: pass at least one module.")
        super().__init__(modules) if modules is not None else super().__init__()

        self._apply_saved_config(self._saved_config)
        self.similarity_fn_name = similarity_fn_name if similarity_fn_name is not None else self._similarity_fn_name
        for key, value in self.prompts.items():
            if value is None:
                self.prompts[key] = ""
        if self.default_prompt_name is not None and self.default_prompt_name not in self.prompts:
            raise InvalidInputError(
                f"default_prompt_name {self.default_prompt_name!r} is not one of the prompts {list(self.prompts)}. "
                "Fix: add it to `prompts` or pick an existing name."
            )
        first = next(self[0].parameters(), None) if len(self) else None
        if first is not None:  # later modules follow the encoder's dtype
            for module in list(self.children())[1:]:
                module.to(first.dtype)
        self.to(device or _default_device())
        self.model_card_data = self._make_card_data(model_card_data, local_files_only)
        if hub_id and not local_files_only and hasattr(self.model_card_data, "set_base_model"):
            try:
                self.model_card_data.set_base_model(hub_id, revision=revision)
            except Exception:  # card metadata must never block loading
                logger.debug("Could not record the base model on the model card.", exc_info=True)
        for module in self.children():
            if isinstance(module, Module):
                module.on_model_ready(self)

    # ------------------------------------------------------------------ loading
    @staticmethod
    def _resolve_folder(name, cache_folder, revision, token, local_files_only,
                        backend: str = "torch") -> tuple[str, str | None]:
        """(local folder, Hub id or None) for a path or a Hub id; clear errors for missing paths."""
        if not isinstance(name, (str, os.PathLike)):
            raise InvalidInputError(
                f"model_name_or_path must be a folder path or a Hugging Face Hub id (a string), got "
                f"{type(name).__name__}: {name!r}."
            )
        name = os.fspath(name)
        if os.path.isdir(name):
            return name, None
        if os.path.isfile(name):
            raise InvalidInputError(
                f"Model path {name!r} is a file; expected a folder holding a model (modules.json or config.json)."
            )
        looks_like_path = (
            os.path.isabs(name) or name.startswith((".", "~")) or name.count("/") > 1 or "\\" in name
            or not name.strip()
        )
        if looks_like_path:
            raise InvalidInputError(
                f"Model path {name!r} does not exist. Fix: check the path, or pass a Hugging Face Hub id such as "
                "'sentence-transformers/all-MiniLM-L6-v2'."
            )
        from huggingface_hub import snapshot_download

        try:
            folder = snapshot_download(
                name, revision=revision, cache_dir=cache_folder, token=token, local_files_only=local_files_only,
                ignore_patterns=_hub_ignore(backend),
            )
        except Exception as exc:
            offline = local_files_only or os.environ.get("HF_HUB_OFFLINE", "").lower() in {"1", "true", "yes"}
            raise InvalidInputError(
                f"Could not load model {name!r}: it is not a local folder and "
                + ("is not in the Hugging Face cache (offline mode)" if offline else "could not be downloaded from the Hub")
                + f" ({type(exc).__name__}: {exc}). Fix: check the name and revision, pass a local folder, or "
                "download it first with network access."
            ) from exc
        return folder, name

    def _load_folder(self, folder: str, **load_kwargs: Any) -> OrderedDict[str, nn.Module]:
        modules_json = os.path.join(folder, "modules.json")
        if os.path.isfile(modules_json):
            st_config = os.path.join(folder, "config_sentence_transformers.json")
            if os.path.isfile(st_config):
                self._saved_config = _read_json(st_config)
            return self._load_modules_json(folder, _read_json(modules_json), **load_kwargs)
        # A plain Hugging Face folder, or a bare PEFT adapter folder (its adapter_config.json names the base model).
        if any(os.path.isfile(os.path.join(folder, name)) for name in ("config.json", "adapter_config.json")):
            return self._load_plain_hf(folder, **load_kwargs)
        raise InvalidInputError(
            f"{folder!r} holds no model: expected modules.json (a sentence-transformers model), config.json "
            "(a Hugging Face model) or adapter_config.json (a PEFT adapter). Fix: point at the folder that contains "
            "those files."
        )

    def _load_modules_json(self, folder: str, entries: Any, trust_remote_code: bool, **kwargs: Any):
        if not isinstance(entries, list) or not all(isinstance(e, dict) and "type" in e for e in entries):
            raise InvalidInputError(
                f"{os.path.join(folder, 'modules.json')!r} must be a list of {{'idx', 'name', 'path', 'type'}} entries."
            )
        modules: OrderedDict[str, nn.Module] = OrderedDict()
        for entry in entries:
            subfolder = entry.get("path", "")
            if os.path.isabs(subfolder) or ".." in subfolder.replace("\\", "/").split("/"):
                raise InvalidInputError(f"modules.json path {subfolder!r} leaves the model folder {folder!r}.")
            module_class = resolve_module_class(
                entry["type"], trust_remote_code, where=f" (modules.json entry {entry.get('name')!r} in {folder!r})",
                model_dir=folder,
            )
            load = module_class.load
            params = _parameters(load)
            try:
                if len(params) == 1:  # an older module whose load() takes only its folder
                    module = load(os.path.join(folder, subfolder))
                else:
                    module = load(folder, subfolder=subfolder, trust_remote_code=trust_remote_code, **kwargs)
            except Exception as exc:
                # A module without files (Normalize) may have no folder at all; one that needed its files names them.
                if not subfolder or os.path.isdir(os.path.join(folder, subfolder)) or not os.path.isdir(folder):
                    raise
                raise InvalidInputError(
                    f"The model folder {folder!r} has no {subfolder!r} folder, which modules.json names for module "
                    f"{entry.get('name')!r} ({entry['type']}); loading it failed with: {exc}. Fix: copy that folder "
                    "back from where the model came from, or remove the entry from modules.json if the model "
                    "should not have that module."
                ) from exc
            name = str(entry.get("name", len(modules)))
            modules[name] = module
            if entry.get("kwargs"):
                self.module_kwargs[name] = list(entry["kwargs"])
        return modules

    def _load_plain_hf(self, folder: str, trust_remote_code: bool, model_kwargs=None, processor_kwargs=None,
                       config_kwargs=None, backend: str = "torch") -> OrderedDict[str, nn.Module]:
        extra = {"trust_remote_code": trust_remote_code}
        transformer = _class("transformer")(
            folder,
            backend=backend,
            model_kwargs={**extra, **(model_kwargs or {})},
            processor_kwargs={**extra, **(processor_kwargs or {})},
            config_kwargs={**extra, **(config_kwargs or {})},
        )
        architectures = getattr(transformer.config, "architectures", None) or [""]
        causal = architectures[0].endswith("ForCausalLM") and getattr(transformer.config, "is_causal", True)
        pooling = _class("pooling")(transformer.get_embedding_dimension(), "lasttoken" if causal else "mean")
        return OrderedDict([("0", transformer), ("1", pooling)])

    def _apply_saved_config(self, config: dict[str, Any]) -> None:
        """Merge ``config_sentence_transformers.json``: arguments given by the user win."""
        for name, text in (config.get("prompts") or {}).items():
            if self.prompts.get(name) is None:
                self.prompts[name] = text
        if self.default_prompt_name is None:
            self.default_prompt_name = config.get("default_prompt_name")
        if config.get("similarity_fn_name") in SIMILARITY_FN_NAMES:
            self._similarity_fn_name = config["similarity_fn_name"]
        if self.truncate_dim is None:
            self.truncate_dim = config.get("truncate_dim")

    @staticmethod
    def _make_card_data(card: Any, local_files_only: bool) -> Any:
        if card is None:
            try:
                from sentrix.model_card import SentenceTransformerModelCardData
            except ImportError:
                return None
            card = SentenceTransformerModelCardData(local_files_only=local_files_only)
        return card

    def __setattr__(self, name: str, value: Any) -> None:
        super().__setattr__(name, value)
        if name == "model_card_data" and value is not None and hasattr(value, "register_model"):
            value.register_model(self)

    # ------------------------------------------------------------------ structure
    def _first_module(self) -> nn.Module:
        return self[0]

    def _last_module(self) -> nn.Module:
        return self[len(self) - 1]

    @property
    def device(self) -> torch.device:
        for tensor in self.parameters():
            return tensor.device
        for tensor in self.buffers():
            return tensor.device
        return torch.device("cpu")

    @property
    def dtype(self) -> torch.dtype | None:
        for tensor in self.parameters():
            return tensor.dtype
        return None

    @property
    def tokenizer(self) -> Any:
        return getattr(self._first_module(), "tokenizer", None)

    @tokenizer.setter
    def tokenizer(self, value: Any) -> None:
        self._first_module().tokenizer = value

    @property
    def max_seq_length(self) -> int | None:
        return getattr(self._first_module(), "max_seq_length", None)

    @max_seq_length.setter
    def max_seq_length(self, value: int | None) -> None:
        self._first_module().max_seq_length = value

    def get_max_seq_length(self) -> int | None:
        return self.max_seq_length

    def gradient_checkpointing_enable(self, gradient_checkpointing_kwargs: dict[str, Any] | None = None) -> None:
        """Turn on gradient checkpointing in every Hugging Face encoder of the pipeline (saves memory)."""
        for module in self.modules():
            encoder = getattr(module, "auto_model", None)
            if encoder is None:
                continue
            if hasattr(encoder, "activation_checkpointing_enable"):  # the transformers >= 5.x name
                encoder.activation_checkpointing_enable(activation_checkpointing_kwargs=gradient_checkpointing_kwargs)
            else:
                encoder.gradient_checkpointing_enable(gradient_checkpointing_kwargs=gradient_checkpointing_kwargs)

    def get_backend(self) -> str:
        """The backend the model was loaded with: ``"torch"``, ``"onnx"`` or ``"openvino"``."""
        return getattr(self, "backend", "torch")

    @property
    def transformers_model(self) -> Any:
        for module in self.modules():
            if module.__class__.__name__ == "Transformer" and hasattr(module, "auto_model"):
                return module.auto_model
        return None

    def get_embedding_dimension(self) -> int | None:
        """Size of the vectors ``encode`` returns (after ``truncate_dim``), or None if unknown."""
        dim = None
        for module in reversed(list(self.children())):
            for name in ("get_embedding_dimension", "get_sentence_embedding_dimension"):
                method = getattr(module, name, None)
                if callable(method):
                    dim = method()
                    break
            if dim is not None:
                break
        if self.truncate_dim is not None:
            return self.truncate_dim if dim is None else min(dim, self.truncate_dim)
        return dim

    def get_sentence_embedding_dimension(self) -> int | None:
        """Older name of :meth:`get_embedding_dimension`."""
        return self.get_embedding_dimension()

    def get_model_kwargs(self) -> list[str]:
        """Extra keyword arguments ``encode`` accepts for this model's modules (e.g. ``task``)."""
        found: set[str] = set()
        for name, module in self.named_children():
            found.update(self.module_kwargs.get(name, []))
            for sub in module.modules():
                found.update(getattr(sub, "forward_kwargs", set()))
        return sorted(found)

    @property
    def similarity_fn_name(self) -> str:
        if self._similarity_fn_name is None:
            self._similarity_fn_name = "cosine"
        return self._similarity_fn_name

    @similarity_fn_name.setter
    def similarity_fn_name(self, value: Any) -> None:
        if value is not None:
            value = getattr(value, "value", value)
            if value not in SIMILARITY_FN_NAMES:
                raise InvalidInputError(
                    f"similarity_fn_name must be one of {', '.join(SIMILARITY_FN_NAMES)}, got {value!r}."
                )
        self._similarity_fn_name = value

    def similarity(self, embeddings1: Any, embeddings2: Any) -> Tensor:
        """All-pairs similarity matrix (``len(embeddings1) x len(embeddings2)``) with ``similarity_fn_name``."""
        from sentrix.similarity import SimilarityFunction

        return SimilarityFunction.to_similarity_fn(self.similarity_fn_name)(embeddings1, embeddings2)

    def similarity_pairwise(self, embeddings1: Any, embeddings2: Any) -> Tensor:
        """Similarity of ``embeddings1[i]`` with ``embeddings2[i]`` for each ``i``."""
        from sentrix.similarity import SimilarityFunction

        return SimilarityFunction.to_similarity_pairwise_fn(self.similarity_fn_name)(embeddings1, embeddings2)

    @contextmanager
    def truncate_embeddings(self, truncate_dim: int | None) -> Iterator[None]:
        """Inside this block, ``encode`` returns embeddings cut to ``truncate_dim`` dimensions."""
        previous, self.truncate_dim = self.truncate_dim, truncate_dim
        try:
            yield
        finally:
            self.truncate_dim = previous

    truncate_sentence_embeddings = truncate_embeddings

    def set_pooling_include_prompt(self, include_prompt: bool) -> None:
        for module in self.modules():
            if hasattr(module, "include_prompt") and hasattr(module, "pooling_mode"):
                module.include_prompt = include_prompt
                return

    # ------------------------------------------------------------------ forward / tokenize
    def forward(self, input: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        """Run every module on the features dict; returns it with ``sentence_embedding`` added."""
        for name, module in self.named_children():
            if is_router(module):  # a router passes keywords on to the modules of its routes
                wanted = kwargs.keys()
            else:
                wanted = set(self.module_kwargs.get(name, [])) | set(getattr(module, "forward_kwargs", set()))
            input = module(input, **{key: value for key, value in kwargs.items() if key in wanted})
        return input

    def preprocess(self, inputs: list, prompt: str | None = None, **kwargs: Any) -> dict[str, Any]:
        """Tokenize a batch with the first module (``prompt`` is put before each text)."""
        if not inputs:
            return {}
        first = self._first_module()
        if isinstance(first, InputModule) or hasattr(first, "preprocess"):
            try:
                return first.preprocess(inputs, prompt=prompt, **kwargs)
            except TypeError:
                if not hasattr(first, "tokenize"):
                    raise
        if prompt:
            inputs = InputModule._prepend_prompt(inputs, prompt)
        return first.tokenize(inputs)

    def tokenize(self, texts: list, **kwargs: Any) -> dict[str, Any]:
        """Older name of :meth:`preprocess`."""
        return self.preprocess(texts, **kwargs)

    # ------------------------------------------------------------------ encode
    def _resolve_prompt(self, prompt: str | None, prompt_name: str | None) -> str | None:
        if prompt is not None:
            if prompt_name is not None:
                logger.warning("Both prompt and prompt_name were given; using prompt.")
            return prompt
        if prompt_name is not None:
            if prompt_name not in self.prompts:
                raise InvalidInputError(
                    f"Unknown prompt_name {prompt_name!r}; this model's prompts are {sorted(self.prompts)}. "
                    "Fix: use one of those names, pass prompt='...' directly, or add it via "
                    "SentenceTransformer(..., prompts={...})."
                )
            return self.prompts[prompt_name]
        if self.default_prompt_name is not None:
            return self.prompts.get(self.default_prompt_name)
        return None

    @staticmethod
    def _check_inputs(inputs: list) -> None:
        for index, item in enumerate(inputs):
            if isinstance(item, str):
                continue
            if isinstance(item, (tuple, list)) and item and all(isinstance(part, str) for part in item):
                continue
            if isinstance(item, dict) and all(isinstance(v, str) for v in item.values()):
                continue
            raise InvalidInputError(
                f"encode() expects a string or a list of strings, but input {index} is "
                f"{type(item).__name__}: {item!r:.80}. Fix: convert every input to str (and drop None/NaN rows)."
            )

    @staticmethod
    def _input_length(item: Any) -> int:
        if isinstance(item, str):
            return len(item)
        if isinstance(item, (tuple, list)):
            return sum(len(part) for part in item)
        if isinstance(item, dict):
            return sum(len(str(value)) for value in item.values())
        return 1

    def encode(
        self,
        inputs: str | list[str] | np.ndarray | None = None,
        prompt_name: str | None = None,
        prompt: str | None = None,
        batch_size: int = 32,
        show_progress_bar: bool | None = None,
        output_value: Literal["sentence_embedding", "token_embeddings"] | None = "sentence_embedding",
        precision: Literal["float32", "int8", "uint8", "binary", "ubinary"] = "float32",
        convert_to_numpy: bool = True,
        convert_to_tensor: bool = False,
        device: str | None = None,
        normalize_embeddings: bool = False,
        truncate_dim: int | None = None,
        pool: dict[str, Any] | None = None,
        chunk_size: int | None = None,
        **kwargs: Any,
    ) -> Any:
        """Embed one text (returns one vector) or a list of texts (returns one row per text).

        Texts are sorted by length into batches of ``batch_size`` (less padding) and the output
        is put back in input order.

        Args:
            inputs: a string, a list of strings (or string pairs), or a numpy array of strings
                (``sentences=`` is accepted as the older spelling).
            prompt_name: key of ``self.prompts`` whose text is put before each input.
            prompt: a prompt text (wins over ``prompt_name``).
            batch_size: texts per forward pass.
            show_progress_bar: tqdm bar; default when logging is at INFO or DEBUG.
            output_value: ``"sentence_embedding"``, ``"token_embeddings"`` (one tensor per text,
                padding removed) or None (every output feature, one dict per text).
            precision: ``float32``, ``int8``, ``uint8``, ``binary`` or ``ubinary`` (quantized numpy).
            convert_to_numpy: return a numpy array (default) instead of a list of tensors.
            convert_to_tensor: return one tensor (wins over convert_to_numpy).
            device: run on this device (moves the model there); a list of devices, e.g.
                ``["cuda:0", "cuda:1"]``, encodes with a pool of processes started for this call.
            normalize_embeddings: scale each vector to unit length.
            truncate_dim: keep only the first dimensions (default: the model's ``truncate_dim``).
            pool: a pool from :meth:`start_multi_process_pool`: encode in its worker processes
                (see :mod:`sentrix.multi_process`).
            chunk_size: inputs sent to a pool worker at a time (default: about a tenth of each
                worker's share, at most 5000).
            **kwargs: ``task`` (Router route) and any keyword a module declares in ``forward_kwargs``.
        """
        if "sentences" in kwargs:
            inputs = kwargs.pop("sentences")
        if show_progress_bar is None:
            show_progress_bar = logger.getEffectiveLevel() in (logging.INFO, logging.DEBUG)
        if convert_to_tensor:
            convert_to_numpy = False
        if output_value != "sentence_embedding":
            convert_to_tensor = convert_to_numpy = False
        if output_value not in OUTPUT_VALUES:
            raise InvalidInputError(
                f"output_value must be 'sentence_embedding', 'token_embeddings' or None, got {output_value!r}."
            )
        if not isinstance(batch_size, int) or batch_size <= 0:
            raise InvalidInputError(f"batch_size must be a positive integer, got {batch_size!r}.")
        if precision not in PRECISIONS:
            raise InvalidInputError(f"precision must be one of {', '.join(PRECISIONS)}, got {precision!r}.")
        single = isinstance(inputs, str) or (isinstance(inputs, dict))
        if single:
            inputs = [inputs]
        elif isinstance(inputs, np.ndarray):
            inputs = inputs.tolist()
        elif isinstance(inputs, (list, tuple)) or hasattr(inputs, "__iter__"):
            inputs = list(inputs)
        else:
            raise InvalidInputError(
                f"encode() expects a string or a list of strings, got {type(inputs).__name__}: {inputs!r:.80}."
            )
        self._check_inputs(inputs)
        allowed = set(self.get_model_kwargs()) | {"task", "processing_kwargs"}
        if unknown := sorted(set(kwargs) - allowed):
            raise InvalidInputError(
                f"encode() got keyword arguments this model does not use: {unknown}. Accepted extra keywords: "
                f"{sorted(allowed)}."
            )
        kwargs.pop("processing_kwargs", None)
        prompt = self._resolve_prompt(prompt, prompt_name)
        truncate_dim = truncate_dim if truncate_dim is not None else self.truncate_dim
        inference_kwargs = dict(
            prompt=prompt, batch_size=batch_size, output_value=output_value, save_to_cpu=convert_to_numpy,
            normalize_embeddings=normalize_embeddings, truncate_dim=truncate_dim, **kwargs,
        )
        devices = list(device) if isinstance(device, (list, tuple)) else None
        use_pool = pool is not None or bool(devices)
        if use_pool:
            from sentrix import multi_process

            result: Any = multi_process.run(
                self, inputs, pool=pool, devices=devices, chunk_size=chunk_size, show_progress_bar=show_progress_bar,
                **inference_kwargs,
            )
        else:
            result = self._inference(
                inputs, device=None if devices is not None else device, show_progress_bar=show_progress_bar,
                **inference_kwargs,
            )

        if output_value == "sentence_embedding":
            if len(result) and precision != "float32":
                result = quantize_embeddings(result, precision=precision)
            if convert_to_tensor:
                result = torch.as_tensor(result)
            elif convert_to_numpy:
                result = _to_numpy(result) if isinstance(result, Tensor) else result
                if not len(result):
                    result = np.array([])
            else:
                result = list(torch.from_numpy(result) if isinstance(result, np.ndarray) else result)
        return result[0] if single else result

    def _inference(
        self,
        inputs: list,
        *,
        prompt: str | None = None,
        batch_size: int = 32,
        show_progress_bar: bool = False,
        output_value: str | None = "sentence_embedding",
        save_to_cpu: bool = False,
        normalize_embeddings: bool = False,
        truncate_dim: int | None = None,
        device: str | torch.device | None = None,
        **kwargs: Any,
    ) -> Any:
        """Embed checked ``inputs`` on ``device`` (moves the model there), in input order.

        Returns one stacked tensor for ``output_value="sentence_embedding"``, else one entry per
        input. ``encode`` calls it, and so does every multi-process pool worker for its chunk.
        """
        if device is not None:
            self.to(device)
        target = self.device
        self.eval()
        order = np.argsort([-self._input_length(item) for item in inputs])
        ordered = [inputs[i] for i in order]
        outputs: list[Any] = []
        with torch.inference_mode():
            for start in trange(0, len(ordered), batch_size, desc="Batches", disable=not show_progress_bar):
                batch = ordered[start : start + batch_size]
                features = self.preprocess(batch, prompt=prompt, **kwargs)
                features = batch_to_device(features, target)
                out = self(features, **kwargs)
                if truncate_dim is not None and "sentence_embedding" in out:
                    out["sentence_embedding"] = out["sentence_embedding"][..., :truncate_dim]
                if output_value == "token_embeddings":
                    for tokens, mask in zip(out["token_embeddings"], out["attention_mask"]):
                        keep = int(mask.nonzero().max()) + 1 if mask.any() else 1
                        outputs.append(tokens[:keep])
                elif output_value is None:
                    for row in range(len(batch)):
                        outputs.append({
                            key: value[row] if isinstance(value, Tensor) and value.ndim and value.shape[0] == len(batch)
                            else value
                            for key, value in out.items()
                        })
                else:
                    embeddings = out["sentence_embedding"]
                    if normalize_embeddings:
                        embeddings = torch.nn.functional.normalize(embeddings, p=2, dim=1)
                    if save_to_cpu:
                        embeddings = embeddings.cpu()
                    outputs.extend(embeddings)
        restored = [None] * len(outputs)
        for position, index in enumerate(order):
            restored[index] = outputs[position]

        if output_value == "sentence_embedding":
            return torch.stack(restored) if restored else torch.tensor([], device=target)
        return restored

    def encode_query(self, inputs: Any = None, prompt_name: str | None = None, prompt: str | None = None,
                     **kwargs: Any) -> Any:
        """``encode`` for search queries: uses the ``"query"`` prompt and ``task="query"`` (Router route)."""
        if prompt_name is None and prompt is None and "query" in self.prompts:
            prompt_name = "query"
        kwargs.setdefault("task", "query")
        return self.encode(inputs, prompt_name=prompt_name, prompt=prompt, **kwargs)

    def encode_document(self, inputs: Any = None, prompt_name: str | None = None, prompt: str | None = None,
                        **kwargs: Any) -> Any:
        """``encode`` for documents: the first of the ``"document"``/``"passage"``/``"corpus"`` prompts
        that exists, and ``task="document"`` (Router route)."""
        if prompt_name is None and prompt is None:
            prompt_name = next((name for name in ("document", "passage", "corpus") if name in self.prompts), None)
        kwargs.setdefault("task", "document")
        return self.encode(inputs, prompt_name=prompt_name, prompt=prompt, **kwargs)

    # ------------------------------------------------------------------ multi-process encode
    def start_multi_process_pool(self, target_devices: list[str] | None = None) -> dict[str, Any]:
        """Start worker processes (``spawn``) for ``encode(..., pool=pool)``: one per entry of
        ``target_devices`` (default: every CUDA device, else ``["cpu"] * 4``). Moves this model to
        the CPU. Stop it with :meth:`stop_multi_process_pool`; details in :mod:`sentrix.multi_process`."""
        from sentrix import multi_process

        return multi_process.start_pool(self, target_devices)

    @staticmethod
    def stop_multi_process_pool(pool: dict[str, Any]) -> None:
        """Terminate the processes of a pool from :meth:`start_multi_process_pool` and close its queues."""
        from sentrix import multi_process

        multi_process.stop_pool(pool)

    def encode_multi_process(
        self,
        sentences: list[str],
        pool: dict[str, Any],
        prompt_name: str | None = None,
        prompt: str | None = None,
        batch_size: int = 32,
        chunk_size: int | None = None,
        show_progress_bar: bool | None = None,
        precision: Literal["float32", "int8", "uint8", "binary", "ubinary"] = "float32",
        normalize_embeddings: bool = False,
        truncate_dim: int | None = None,
    ) -> np.ndarray:
        """Deprecated: call ``encode(sentences, pool=pool, ...)`` instead (same result, a numpy array)."""
        import warnings

        warnings.warn(
            "The `encode_multi_process` method has been deprecated, and its functionality has been integrated into "
            "`encode`. Fix: call `encode(sentences, pool=pool, ...)` with the same parameters.",
            DeprecationWarning,
            stacklevel=2,
        )
        return self.encode(
            sentences, prompt_name=prompt_name, prompt=prompt, batch_size=batch_size,
            show_progress_bar=show_progress_bar, output_value="sentence_embedding", precision=precision,
            convert_to_numpy=True, convert_to_tensor=False, normalize_embeddings=normalize_embeddings,
            truncate_dim=truncate_dim, pool=pool, chunk_size=chunk_size,
        )

    # ------------------------------------------------------------------ input handling (older API)
    @property
    def processor(self) -> Any:
        """The tokenizer/processor of the first module (``model[0].processor``)."""
        return self._first_module().processor

    @property
    def modalities(self) -> list[str]:
        """Input kinds the model accepts: the first module's ``modalities``, ``["text"]`` if it names none."""
        return getattr(self._first_module(), "modalities", ["text"])

    def supports(self, modality: str | tuple[str, ...]) -> bool:
        """Whether the model accepts ``modality`` (``"text"``, ``"image"``...). A tuple such as
        ``("image", "text")`` is accepted when each part is and the model takes ``"message"`` inputs."""
        supported = self.modalities
        if modality in supported:
            return True
        return isinstance(modality, tuple) and "message" in supported and all(part in supported for part in modality)

    @staticmethod
    def is_singular_input(inputs: Any) -> bool:
        """True for one example (a string, a dict, a chat conversation: a list of role/content
        dicts), False for a batch (a list, a tuple, a ``datasets.Column``, a numpy array of strings)."""
        if isinstance(inputs, list) and inputs and isinstance(inputs[0], dict) and {"role", "content"} <= set(inputs[0]):
            return True
        import sys

        datasets = sys.modules.get("datasets")  # a datasets.Column can only exist if datasets is imported
        column = getattr(datasets, "Column", None) if datasets is not None else None
        if isinstance(inputs, (list, tuple)) or (isinstance(column, type) and isinstance(inputs, column)):
            return False
        if isinstance(inputs, np.ndarray) and inputs.ndim >= 1 and inputs.dtype.kind in ("U", "O"):
            return False
        return True

    def get_sentence_features(self, *features: Any) -> dict[str, Tensor]:
        """Deprecated: the first module's ``get_sentence_features`` (only bag-of-words modules have one)."""
        import warnings

        warnings.warn(
            "The `get_sentence_features` method is deprecated and will be removed in a future version.",
            DeprecationWarning,
            stacklevel=2,
        )
        return self._first_module().get_sentence_features(*features)

    def smart_batching_collate(self, batch: list[Any]) -> tuple[list[dict[str, Tensor]], Tensor]:
        """Collate a list of ``InputExample`` for an older hand-written training loop: one tokenized
        features dict per text column, and the labels as one tensor."""
        columns = zip(*[example.texts for example in batch])
        features = [self.preprocess(list(column)) for column in columns]
        labels = [example.label for example in batch]
        if labels and isinstance(labels[0], np.ndarray):
            return features, torch.from_numpy(np.stack(labels))
        return features, torch.tensor(labels)

    def evaluate(self, evaluator: Any, output_path: str | None = None) -> Any:
        """Run ``evaluator(self, output_path=...)`` and return its metrics."""
        if output_path is not None:
            os.makedirs(output_path, exist_ok=True)
        return evaluator(self, output_path=output_path)

    # ------------------------------------------------------------------ saving
    def _config_to_save(self) -> dict[str, Any]:
        import transformers

        from sentrix import __version__

        config = {
            "__version__": {"sentrix": __version__, "transformers": transformers.__version__,
                            "pytorch": torch.__version__},
            "model_type": self.model_type,
            "prompts": self.prompts,
            "default_prompt_name": self.default_prompt_name,
            "similarity_fn_name": self.similarity_fn_name,
        }
        if self.truncate_dim is not None:
            config["truncate_dim"] = self.truncate_dim
        return config

    def save(self, path: str, model_name: str | None = None, create_model_card: bool = True,
             train_datasets: list[str] | None = None, safe_serialization: bool = True) -> None:
        """Write the model in the sentence-transformers layout (loads in sentence-transformers too).

        Files: ``modules.json``, ``config_sentence_transformers.json``, the first module in the root
        folder (``save_in_root``) and every other module in ``<idx>_<ClassName>/``, weights as
        safetensors unless ``safe_serialization=False``, and ``README.md`` (the model card).
        """
        if path is None:
            return
        path = os.fspath(path)
        if os.path.isfile(path):
            raise InvalidInputError(f"Cannot save the model to {path!r}: it is a file. Fix: pass a folder path.")
        os.makedirs(path, exist_ok=True)
        with open(os.path.join(path, "config_sentence_transformers.json"), "w", encoding="utf-8") as handle:
            json.dump(self._config_to_save(), handle, indent=2, sort_keys=True)
        entries = []
        for index, (name, module) in enumerate(self.named_children()):
            if index == 0 and getattr(module, "save_in_root", False):
                subfolder = ""
            else:
                subfolder = f"{index}_{type(module).__name__}"
            folder = os.path.join(path, subfolder)
            os.makedirs(folder, exist_ok=True)
            try:
                module.save(folder, safe_serialization=safe_serialization)
            except TypeError:
                module.save(folder)
            type_name = module.type_string() if isinstance(module, Module) else \
                f"{type(module).__module__}.{type(module).__name__}"
            entry = {"idx": index, "name": name, "path": subfolder, "type": type_name}
            if self.module_kwargs.get(name):
                entry["kwargs"] = self.module_kwargs[name]
            entries.append(entry)
        with open(os.path.join(path, "modules.json"), "w", encoding="utf-8") as handle:
            json.dump(entries, handle, indent=2)
        if create_model_card:
            self._write_model_card(path, model_name, train_datasets)

    def _write_model_card(self, path: str, model_name: str | None, train_datasets: list[str] | None) -> None:
        try:
            from sentrix.model_card import generate_model_card
        except ImportError:
            return
        try:
            if model_name and hasattr(self.model_card_data, "model_id") and not self.model_card_data.model_id:
                self.model_card_data.model_id = model_name
            text = generate_model_card(self)
        except Exception as exc:  # a card problem must not lose the saved weights
            logger.warning("Could not write the model card README.md: %s: %s", type(exc).__name__, exc)
            return
        with open(os.path.join(path, "README.md"), "w", encoding="utf-8") as handle:
            handle.write(text)

    def save_pretrained(self, path: str, model_name: str | None = None, create_model_card: bool = True,
                        train_datasets: list[str] | None = None, safe_serialization: bool = True) -> None:
        """Same as :meth:`save`."""
        self.save(path, model_name=model_name, create_model_card=create_model_card,
                  train_datasets=train_datasets, safe_serialization=safe_serialization)

    def push_to_hub(
        self,
        repo_id: str,
        token: str | None = None,
        private: bool | None = None,
        safe_serialization: bool = True,
        commit_message: str | None = None,
        local_model_path: str | None = None,
        exist_ok: bool = False,
        replace_model_card: bool = False,
        train_datasets: list[str] | None = None,
        revision: str | None = None,
        create_pr: bool = False,
    ) -> str:
        """Save the model and upload it to a Hub repository (created if needed); returns the commit
        (or pull request) URL."""
        from huggingface_hub import HfApi

        if not isinstance(repo_id, str) or not repo_id.strip():
            raise InvalidInputError(f"repo_id must be a non-empty string like 'user/model', got {repo_id!r}.")
        api = HfApi(token=token)
        repo_id = api.create_repo(repo_id=repo_id, private=private, exist_ok=exist_ok or create_pr).repo_id
        if hasattr(self.model_card_data, "model_id"):
            self.model_card_data.model_id = repo_id
        if revision is not None:
            api.create_branch(repo_id=repo_id, branch=revision, exist_ok=True)
        commit_message = commit_message or f"Add new {type(self).__name__} model"
        upload = {"repo_id": repo_id, "commit_message": commit_message, "revision": revision, "create_pr": create_pr}
        if local_model_path:
            info = api.upload_folder(folder_path=local_model_path, **upload)
        else:
            with tempfile.TemporaryDirectory() as tmp:
                card = replace_model_card or not api.file_exists(repo_id, "README.md", revision=revision)
                self.save(tmp, model_name=repo_id, create_model_card=card, train_datasets=train_datasets,
                          safe_serialization=safe_serialization)
                info = api.upload_folder(folder_path=tmp, **upload)
        return info.pr_url if create_pr else info.commit_url

    def __repr__(self) -> str:
        return nn.Sequential.__repr__(self).replace("Sequential", type(self).__name__, 1)


def _parameters(fn: Any) -> list[str]:
    import inspect

    try:
        return [name for name in inspect.signature(fn).parameters if name not in ("self", "cls")]
    except (TypeError, ValueError):
        return []


