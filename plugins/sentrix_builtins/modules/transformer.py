"""Transformer: a Hugging Face text encoder that turns texts into token embeddings.

The first module of almost every model. ``preprocess`` tokenizes texts (or text pairs), with an
optional prompt prepended; ``forward`` runs the encoder and writes
``features["token_embeddings"]`` (batch x tokens x hidden). Follow it with a Pooling module to
get one vector per text.

=====================  ==========================================================
reads                  ``input_ids``, ``attention_mask`` (``token_type_ids``)
writes                 ``token_embeddings`` (and ``all_layer_embeddings`` when the
                       encoder is configured with ``output_hidden_states=True``)
saved files            the encoder (``config.json``, ``model.safetensors``), the
                       tokenizer files, ``sentence_bert_config.json``; with a PEFT
                       adapter attached, ``adapter_config.json`` +
                       ``adapter_model.safetensors`` instead of the encoder files
=====================  ==========================================================

A folder holding ``adapter_config.json`` loads as its base model (``base_model_name_or_path``)
with the adapter on top; that needs ``pip install peft`` (see ``sentrix.peft_mixin``).

Example::

    from sentrix import SentenceTransformer
    from sentrix.models import Transformer, Pooling

    word = Transformer("sentence-transformers/all-MiniLM-L6-v2", max_seq_length=128)
    model = SentenceTransformer(modules=[word, Pooling(word.get_embedding_dimension())])

Reference: sentence-transformers ``Transformer`` module (Reimers & Gurevych, 2019,
https://arxiv.org/abs/1908.10084); saved folders load in sentence-transformers 6.x unchanged.
"""

from __future__ import annotations

import glob
import inspect
import logging
import os
import warnings
from typing import Any

import torch

from sentrix.plugin_api import ROW_PACKING_KEY, InputModule, InvalidInputError, RowPacking

logger = logging.getLogger(__name__)

#: any one of these (or a sentencepiece / tiktoken file) lets AutoTokenizer build the real tokenizer
_TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "vocab.txt", "vocab.json")


def _check_tokenizer_files(path: str, subfolder: str = "") -> None:
    """Raise when a local model folder has no tokenizer files.

    ``AutoTokenizer`` would otherwise build a tokenizer with no vocabulary from ``config.json``,
    and every word would become the unknown token. A Hub id is left to ``transformers``.
    """
    folder = os.path.join(path, subfolder) if subfolder else path
    if not os.path.isdir(folder):
        return
    present = sorted(os.listdir(folder))
    if set(present) & set(_TOKENIZER_FILES) or any(name.endswith((".model", ".tiktoken")) for name in present):
        return
    shown = ", ".join(present[:12]) + (" ..." if len(present) > 12 else "")
    raise InvalidInputError(
        f"The model folder {folder!r} has no tokenizer files: it needs tokenizer.json, or tokenizer_config.json "
        f"with its vocabulary (vocab.txt, vocab.json + merges.txt, or a sentencepiece *.model), and holds only "
        f"[{shown}]. Loaded anyway, every word would become the unknown token [UNK]. Fix: save the tokenizer of "
        f"the model it was trained from into it (`AutoTokenizer.from_pretrained('<base model>')"
        f".save_pretrained({folder!r})`), or pass tokenizer_name_or_path='<base model>'."
    )


_ENCODER_ONLY = {"t5": "T5EncoderModel", "mt5": "MT5EncoderModel", "umt5": "UMT5EncoderModel"}
_HUB_KWARGS = ("cache_dir", "token", "revision", "subfolder", "local_files_only")
_TEXT_MODALITY = {"text": {"method": "forward", "method_output_name": "last_hidden_state"}}
_LEGACY_CONFIG_FILES = (
    "sentence_bert_config.json",
    "sentence_roberta_config.json",
    "sentence_distilbert_config.json",
    "sentence_camembert_config.json",
    "sentence_albert_config.json",
    "sentence_xlm-roberta_config.json",
    "sentence_xlnet_config.json",
)


def _check_local_weights(folder: str, allow_pickle: bool) -> None:
    """Fail early, naming the file, on unreadable safetensors or unrequested pickle weights."""
    safetensors_files = glob.glob(os.path.join(folder, "*.safetensors"))
    for path in safetensors_files:
        from safetensors import safe_open

        try:
            with safe_open(path, framework="pt") as handle:
                handle.keys()
        except Exception as exc:
            raise InvalidInputError(
                f"Could not read the weights file {path!r}: {exc}. The file is damaged or not a safetensors file. "
                "Fix: restore or re-download the model folder."
            ) from exc
    if not safetensors_files and glob.glob(os.path.join(folder, "pytorch_model*.bin")) and not allow_pickle:
        raise InvalidInputError(
            f"{folder!r} holds only pickled 'pytorch_model.bin' weights, which sentrix does not load by default. "
            "Fix: convert them to safetensors, or opt in with model_kwargs={'use_safetensors': False} "
            "(they are then read with torch.load(weights_only=True))."
        )


#: Encoder types that run packed rows exactly: positions from ``position_ids`` (counted from 0, or
#: from ``pad_token_id + 1`` as RoBERTa-style embeddings do) and a ready 4-D attention mask passed through.
#: Each is checked against the plain forward (values and gradients) in tests/core/test_row_packing.py;
#: MPNet is not here: its relative position buckets do not survive packing.
PACKABLE_MODEL_TYPES: dict[str, str] = {
    "bert": "from_zero",
    "distilbert": "from_zero",
    "electra": "from_zero",
    "roberta": "after_padding_idx",
    "xlm-roberta": "after_padding_idx",
    "camembert": "after_padding_idx",
}


class Transformer(InputModule):
    """Wraps ``transformers.AutoModel`` + ``AutoTokenizer`` for text.

    Tokenises the input texts (with the prompt, if any, in front) and writes the encoder's last hidden
    states to ``features["token_embeddings"]`` for a ``Pooling`` module to pool. It saves the
    Hugging Face model and tokenizer in the model's root folder, as sentence-transformers does.

    Args:
        model_name_or_path: Hub id or local folder of a Hugging Face model.
        max_seq_length: truncate inputs to this many tokens (default: the tokenizer's limit,
            capped at the encoder's ``max_position_embeddings``).
        model_kwargs: passed to ``AutoModel.from_pretrained`` (``model_args`` is accepted as an older
            spelling); default ``None``.
        processor_kwargs: passed to ``AutoTokenizer.from_pretrained`` (``tokenizer_args`` accepted);
            default ``None``.
        config_kwargs: passed to ``AutoConfig.from_pretrained`` (``config_args`` accepted); default
            ``None``.
        cache_dir: Hugging Face cache folder; default ``None``.
        do_lower_case: lower-case inputs before tokenizing (default ``False``).
        tokenizer_name_or_path: load the tokenizer from elsewhere (default: the model's).
        transformer_task: stored for sentence-transformers compatibility; only
            ``"feature-extraction"`` (the default) is supported.
        modality_config: stored for sentence-transformers compatibility; default ``None``.
        module_output_name: stored for sentence-transformers compatibility; default ``None``.
        backend: ``"torch"`` (default), ``"onnx"`` or ``"openvino"``. The last two run an exported file
            (``onnx/model.onnx``, ``openvino/openvino_model.xml``; pick another with
            ``model_kwargs={"file_name": ...}``), exporting the PyTorch weights first when the folder has
            none; they need ``pip install sentrix[onnx]`` / ``sentrix[openvino]`` and cannot be trained.
            See ``sentrix.backend.load`` for the model_kwargs they take (``provider``, ``export``...).
        unpad_inputs: sentence-transformers' switch for packing a batch's texts into one unpadded
            sequence for flash-attention variable-length kernels. This module does not use those
            kernels: ``encode`` batches are padded (same embeddings), and in training the loss
            helper packs rows itself where :meth:`can_pack_rows` allows, whatever this setting.
            ``None`` (default) and ``False`` keep that; ``True`` is kept in the saved config but warns
            at load time that it changes nothing.

    Example:
        .. code-block:: python

            from sentrix import SentenceTransformer
            from sentrix.registry import modules

            transformer = modules.create("transformer", model_name_or_path="sentence-transformers/all-MiniLM-L6-v2",
                                         max_seq_length=128)
            pooling = modules.create("pooling", embedding_dimension=384)
            model = SentenceTransformer(modules=[transformer, pooling])
    """

    config_file_name = "sentence_bert_config.json"
    config_keys = ["transformer_task", "modality_config", "module_output_name"]
    module_type = "sentence_transformers.base.modules.transformer.Transformer"
    rows_independent = True
    save_in_root = True

    def __init__(
        self,
        model_name_or_path: str,
        max_seq_length: int | None = None,
        model_kwargs: dict[str, Any] | None = None,
        processor_kwargs: dict[str, Any] | None = None,
        config_kwargs: dict[str, Any] | None = None,
        cache_dir: str | None = None,
        do_lower_case: bool = False,
        tokenizer_name_or_path: str | None = None,
        transformer_task: str = "feature-extraction",
        modality_config: dict[str, Any] | None = None,
        module_output_name: str | None = None,
        backend: str = "torch",
        unpad_inputs: bool | None = None,
        **legacy: Any,
    ) -> None:
        super().__init__()
        from transformers import AutoTokenizer

        model_kwargs = {**legacy.pop("model_args", {}), **(model_kwargs or {})}
        processor_kwargs = {**legacy.pop("tokenizer_args", {}), **(processor_kwargs or {})}
        config_kwargs = {**legacy.pop("config_args", {}), **(config_kwargs or {})}
        legacy.pop("processing_kwargs", None)
        if legacy:
            raise TypeError(f"Transformer got unexpected arguments: {sorted(legacy)}")
        if transformer_task != "feature-extraction" or backend not in ("torch", "onnx", "openvino"):
            raise ValueError(
                f"Transformer supports transformer_task='feature-extraction' with backend 'torch', 'onnx' or "
                f"'openvino', got transformer_task={transformer_task!r}, backend={backend!r}."
            )
        self.backend = backend
        if cache_dir is not None:
            for kwargs in (model_kwargs, processor_kwargs, config_kwargs):
                kwargs.setdefault("cache_dir", cache_dir)
        self.transformer_task = transformer_task
        self.modality_config = modality_config or dict(_TEXT_MODALITY)
        self.module_output_name = module_output_name or "token_embeddings"
        self.do_lower_case = do_lower_case
        self._prompt_lengths: dict[str, int] = {}

        config, is_adapter = self._load_config(model_name_or_path, config_kwargs)
        if hasattr(config, "use_cache"):
            config.use_cache = config_kwargs.get("use_cache", False)
        if is_adapter:  # the revision names the adapter's revision, not the base model's
            model_kwargs.pop("revision", None)
        if backend == "torch":
            self.model = self._load_model(model_name_or_path, config, model_kwargs)
        else:
            from sentrix.plugin_api import load_backend_encoder

            self.model = load_backend_encoder(backend, model_name_or_path, config, model_kwargs)
        self._forward_params = set(inspect.signature(self.model.forward).parameters)

        if max_seq_length is not None:
            processor_kwargs.setdefault("model_max_length", max_seq_length)
        _check_tokenizer_files(tokenizer_name_or_path or model_name_or_path, processor_kwargs.get("subfolder") or "")
        self.tokenizer = AutoTokenizer.from_pretrained(tokenizer_name_or_path or model_name_or_path, **processor_kwargs)
        limit = getattr(self.config, "max_position_embeddings", -1)
        if "model_max_length" not in processor_kwargs and limit not in (None, -1):
            self.tokenizer.model_max_length = min(self.tokenizer.model_max_length, limit)
        if do_lower_case:
            self._add_lowercase()
        self.unpad_inputs = unpad_inputs

    @property
    def unpad_inputs(self) -> bool | None:
        """The saved ``unpad_inputs`` setting; batches are padded whatever its value (see the class docs)."""
        return self._unpad_inputs

    @unpad_inputs.setter
    def unpad_inputs(self, value: bool | None) -> None:
        if value is not None and not isinstance(value, bool):
            raise InvalidInputError(f"unpad_inputs must be True, False or None, got {value!r}.")
        self._unpad_inputs = value
        attn = getattr(self.config, "_attn_implementation", None) if self.backend == "torch" else None
        if value:
            message = (
                f"unpad_inputs=True asks to pack each batch's texts into one unpadded sequence for flash-attention "
                f"variable-length kernels (attn_implementation={attn!r}, backend={self.backend!r}). sentrix's "
                "Transformer does not use those kernels: encode() batches are padded, which gives the same embeddings "
                "without that speed-up, and training packs rows by itself where it can (sentrix.packing) whatever "
                "this setting. Fix: set unpad_inputs=None (or False) to silence this warning."
            )
            warnings.warn(message, UserWarning, stacklevel=3)
            logger.warning(message)
        elif value is None and attn and "flash" in str(attn):
            logger.info("attn_implementation=%r: encode() batches are padded (no variable-length kernels).", attn)

    @staticmethod
    def _load_config(model_name_or_path: str, config_kwargs: dict[str, Any]) -> tuple[Any, bool]:
        """(the encoder's ``AutoConfig``, whether ``model_name_or_path`` is a PEFT adapter folder).

        An adapter folder (``adapter_config.json``) holds no ``config.json``: the config comes from
        the base model that ``adapter_config.json`` names. ``transformers`` then loads that base model
        and puts the adapter on it.
        """
        from transformers import AutoConfig
        from transformers.utils.peft_utils import find_adapter_config_file

        hub = {key: config_kwargs[key] for key in _HUB_KWARGS if config_kwargs.get(key) is not None}
        adapter_config_file = find_adapter_config_file(
            model_name_or_path, **{"subfolder": "", "local_files_only": False, **hub}
        )
        if adapter_config_file is None:
            folder = os.path.join(model_name_or_path, config_kwargs.get("subfolder") or "")
            if os.path.isdir(folder) and not os.path.isfile(os.path.join(folder, "config.json")):
                raise InvalidInputError(
                    f"The model folder {folder!r} has no config.json, the transformers configuration of its "
                    "encoder (model_type, sizes), so its weights cannot be loaded. Fix: copy config.json back from "
                    "the model it came from (`AutoConfig.from_pretrained('<base model>').save_pretrained(...)`)."
                )
            return AutoConfig.from_pretrained(model_name_or_path, **config_kwargs), False
        try:
            from sentrix.plugin_api import require_peft

            require_peft()
        except InvalidInputError as exc:
            raise InvalidInputError(
                f"{model_name_or_path!r} is a PEFT adapter ({adapter_config_file!r}). Loading it: {exc}"
            ) from exc.__cause__
        from peft import PeftConfig

        base = PeftConfig.from_pretrained(model_name_or_path, **hub).base_model_name_or_path
        if not base:
            raise InvalidInputError(
                f"{adapter_config_file!r} names no base model (base_model_name_or_path is empty), so the adapter "
                "cannot be loaded. Fix: set base_model_name_or_path in that file to the base model's folder or "
                "Hub id."
            )
        base_kwargs = {key: value for key, value in config_kwargs.items() if key not in ("revision", "subfolder")}
        return AutoConfig.from_pretrained(base, **base_kwargs), True

    @staticmethod
    def _load_model(model_name_or_path: str, config, model_kwargs: dict[str, Any]):
        import transformers

        model_kwargs = dict(model_kwargs)
        model_kwargs.setdefault("use_safetensors", True)
        if model_kwargs["use_safetensors"] is False:
            model_kwargs["use_safetensors"] = None  # let transformers fall back to a .bin (weights_only)
        folder = os.path.join(model_name_or_path, model_kwargs.get("subfolder") or "")
        if os.path.isdir(folder):
            _check_local_weights(folder, allow_pickle=model_kwargs["use_safetensors"] is None)
        model_cls = getattr(transformers, _ENCODER_ONLY.get(config.model_type, "AutoModel"))
        return model_cls.from_pretrained(model_name_or_path, config=config, **model_kwargs)

    def _add_lowercase(self) -> None:
        from tokenizers import normalizers

        backend = getattr(self.tokenizer, "backend_tokenizer", None)
        if backend is None:
            self.tokenizer.do_lower_case = True
            return
        current = backend.normalizer
        if current is not None and "Lowercase" in repr(current):
            return
        steps = [normalizers.Lowercase()] + ([current] if current is not None else [])
        backend.normalizer = normalizers.Sequence(steps)

    # ------------------------------------------------------------------ properties
    @property
    def auto_model(self):
        """The underlying ``transformers`` model."""
        return self.model

    @property
    def config(self):
        return self.model.config

    @property
    def processor(self):
        return self.tokenizer

    @property
    def max_seq_length(self) -> int | None:
        return self.tokenizer.model_max_length

    @max_seq_length.setter
    def max_seq_length(self, value: int | None) -> None:
        self.tokenizer.model_max_length = value

    def get_embedding_dimension(self) -> int:
        return self.config.hidden_size

    get_word_embedding_dimension = get_embedding_dimension

    @classmethod
    def contract_example(cls) -> Transformer:
        """A tiny random BERT (2 layers, hidden 32) for the module contract tests."""
        import tempfile

        from sentrix.plugin_api import testing
        tiny_hf_folder = testing.tiny_models.tiny_hf_folder

        return cls(str(tiny_hf_folder(tempfile.mkdtemp(prefix="sentrix-transformer-"))))

    # ------------------------------------------------------------------ processing
    def preprocess(
        self, inputs: list, prompt: str | None = None, task: str | None = None, max_length: int | None = None, **kwargs
    ) -> dict[str, Any]:
        """Tokenize texts or text pairs (tuples) into padded tensors; records ``prompt_length``."""
        if not inputs:
            return {}
        if prompt:
            inputs = self._prepend_prompt(inputs, prompt)
        pairs = isinstance(inputs[0], (tuple, list))
        columns = list(zip(*inputs)) if pairs else [list(inputs)]
        tokenizer_kwargs: dict[str, Any] = {"padding": True, "truncation": "longest_first", "return_tensors": "pt"}
        if max_length is not None:
            tokenizer_kwargs["max_length"] = max_length
        features = dict(self.tokenizer(*columns, **tokenizer_kwargs))
        if prompt:
            features["prompt_length"] = self._prompt_length(prompt)
        return features

    def _prompt_length(self, prompt: str) -> int:
        if prompt not in self._prompt_lengths:
            ids = self.tokenizer(prompt, add_special_tokens=True)["input_ids"]
            length = len(ids)
            if ids and ids[-1] in set(self.tokenizer.all_special_ids):
                length -= 1
            self._prompt_lengths[prompt] = length
        return self._prompt_lengths[prompt]

    def can_pack_rows(self) -> bool:
        """True when this encoder can run packed rows (``sentrix.plugin_api.RowPacking``) exactly.

        That needs a PyTorch encoder of a type whose positions come from ``position_ids`` and whose
        attention takes a ready 4-D mask (:data:`PACKABLE_MODEL_TYPES`), absolute position
        embeddings, and SDPA or eager attention (flash-attention kernels take no 4-D mask).
        """
        if self.backend != "torch" or not {"position_ids", "attention_mask"} <= self._forward_params:
            return False
        config = self.config
        if getattr(config, "model_type", None) not in PACKABLE_MODEL_TYPES or getattr(config, "is_decoder", False):
            return False
        if getattr(config, "position_embedding_type", "absolute") not in (None, "absolute"):
            return False
        return getattr(config, "_attn_implementation", None) in ("sdpa", "eager")

    def forward(self, features: dict[str, Any], **kwargs) -> dict[str, Any]:
        packing = features.get(ROW_PACKING_KEY)
        if isinstance(packing, RowPacking):
            return self._forward_packed(features, packing)
        inputs = {k: v for k, v in features.items() if k in self._forward_params and isinstance(v, torch.Tensor)}
        output = self.model(**inputs, return_dict=True)
        features[self.module_output_name] = output.last_hidden_state
        if getattr(self.config, "output_hidden_states", False) and output.hidden_states is not None:
            features["all_layer_embeddings"] = output.hidden_states
        return features

    def _forward_packed(self, features: dict[str, Any], packing: RowPacking) -> dict[str, Any]:
        """One encoder call on the rows laid end to end; the outputs come back as padded rows."""
        if not self.can_pack_rows():
            raise InvalidInputError(
                f"this Transformer ({getattr(self.config, 'model_type', '?')}, "
                f"attn_implementation={getattr(self.config, '_attn_implementation', None)!r}) cannot run packed rows, "
                "but the features hold a row packing. Fix: pack only when can_pack_rows() is True "
                "(sentrix.embedding checks it), or run with SENTRIX_EMBED_PACK=0."
            )
        input_ids = features["input_ids"]
        device = input_ids.device
        width = int(features["attention_mask"].shape[1])
        start = 0
        if PACKABLE_MODEL_TYPES[self.config.model_type] == "after_padding_idx":
            start = int(self.config.pad_token_id) + 1
        inputs: dict[str, Any] = {
            "input_ids": packing.pack(input_ids, fill=int(getattr(self.config, "pad_token_id", 0) or 0)),
            "position_ids": packing.position_ids(start, device=device),
        }
        if self.config._attn_implementation == "sdpa":
            inputs["attention_mask"] = packing.attention_mask(None, device=device)
        else:
            inputs["attention_mask"] = packing.attention_mask(self.model.dtype, device=device)
        token_types = features.get("token_type_ids")
        if isinstance(token_types, torch.Tensor) and "token_type_ids" in self._forward_params:
            inputs["token_type_ids"] = packing.pack(token_types)
        output = self.model(**inputs, return_dict=True)
        features[self.module_output_name] = packing.unpack(output.last_hidden_state, width)
        if getattr(self.config, "output_hidden_states", False) and output.hidden_states is not None:
            features["all_layer_embeddings"] = tuple(packing.unpack(h, width) for h in output.hidden_states)
        return features

    # ------------------------------------------------------------------ save / load
    def get_config_dict(self) -> dict[str, Any]:
        config = super().get_config_dict()
        if self.unpad_inputs is not None:  # sentence-transformers also leaves the default out
            config["unpad_inputs"] = self.unpad_inputs
        return config

    def save(self, output_path: str, *args, safe_serialization: bool = True, **kwargs) -> None:
        self.model.save_pretrained(output_path, safe_serialization=safe_serialization)
        self.tokenizer.save_pretrained(output_path)
        self.save_config(output_path)

    @classmethod
    def load(
        cls,
        model_name_or_path: str,
        subfolder: str = "",
        token: bool | str | None = None,
        cache_folder: str | None = None,
        revision: str | None = None,
        local_files_only: bool = False,
        trust_remote_code: bool = False,
        model_kwargs: dict[str, Any] | None = None,
        processor_kwargs: dict[str, Any] | None = None,
        config_kwargs: dict[str, Any] | None = None,
        backend: str = "torch",
        **kwargs: Any,
    ) -> Transformer:
        """Build from a saved folder: ``sentence_bert_config.json`` (or a legacy name) plus the
        encoder and tokenizer files. Caller kwargs win over Hub kwargs, which win over the file."""
        config: dict[str, Any] = {}
        for filename in _LEGACY_CONFIG_FILES:
            config = cls.load_config(model_name_or_path, subfolder, filename, token, cache_folder, revision,
                                     local_files_only)
            if config:
                break
        hub = {"subfolder": subfolder, "token": token, "cache_dir": cache_folder, "revision": revision,
               "local_files_only": local_files_only, "trust_remote_code": trust_remote_code}
        merged = {}
        for new, old, given in (("model_kwargs", "model_args", model_kwargs),
                                ("processor_kwargs", "tokenizer_args", processor_kwargs),
                                ("config_kwargs", "config_args", config_kwargs)):
            saved = dict(config.pop(new, None) or config.pop(old, None) or {})
            config.pop(old, None)
            saved.pop("trust_remote_code", None)  # a saved file may not grant itself remote code
            merged[new] = {**saved, **hub, **(given or {})}
        if not subfolder:
            for key in merged.values():
                key.pop("subfolder")
        return cls(model_name_or_path, **merged, **config, backend=backend)
