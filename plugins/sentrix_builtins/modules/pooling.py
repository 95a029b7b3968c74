"""Pooling: turns token embeddings into one fixed-size sentence embedding.

=====================  ==========================================================
reads                  ``token_embeddings``, ``attention_mask``, (``prompt_length``)
writes                 ``sentence_embedding``
modes                  ``cls``, ``max``, ``mean``, ``mean_sqrt_len_tokens``,
                       ``weightedmean``, ``lasttoken``; a tuple of modes
                       concatenates their outputs
saved files            ``config.json``
=====================  ==========================================================

``include_prompt=False`` leaves the prompt's tokens out of the pooled vector (INSTRUCTOR-style
models). Padding tokens never count.

Example::

    from sentrix.models import Pooling
    pooling = Pooling(embedding_dimension=384, pooling_mode="mean")

Reference: sentence-transformers ``Pooling`` (Reimers & Gurevych, 2019); weighted mean from
SGPT (Muennighoff, 2022, https://arxiv.org/abs/2202.08904).
"""

from __future__ import annotations

from typing import Any

import torch

from sentrix.plugin_api import Module

MODES = ("cls", "max", "mean", "mean_sqrt_len_tokens", "weightedmean", "lasttoken")
# Older folders store one boolean per mode; this is also their concatenation order.
_LEGACY_FLAGS = {
    "pooling_mode_cls_token": "cls",
    "pooling_mode_max_tokens": "max",
    "pooling_mode_mean_tokens": "mean",
    "pooling_mode_mean_sqrt_len_tokens": "mean_sqrt_len_tokens",
    "pooling_mode_weightedmean_tokens": "weightedmean",
    "pooling_mode_lasttoken": "lasttoken",
}


def _modes_from_legacy(config: dict[str, Any]) -> None:
    flags = {key: config.pop(key) for key in list(config) if key in _LEGACY_FLAGS}
    if flags and "pooling_mode" not in config:
        active = [mode for key, mode in _LEGACY_FLAGS.items() if flags.get(key)] or ["mean"]
        config["pooling_mode"] = active[0] if len(active) == 1 else tuple(active)


class Pooling(Module):
    """Pools token embeddings into a sentence embedding.

    Reads ``features["token_embeddings"]`` and the attention mask and writes
    ``features["sentence_embedding"]``. Modes: ``cls`` (the first token), ``max``, ``mean``,
    ``mean_sqrt_len_tokens``, ``weightedmean`` (later tokens weigh more) and ``lasttoken``; a tuple
    of modes concatenates their outputs. The old ``pooling_mode_*_tokens=True`` keywords are
    accepted.

    Args:
        embedding_dimension: size of each token embedding (``word_embedding_dimension`` also
            accepted); default ``None``.
        pooling_mode: one mode name or a tuple of them (default ``"mean"``).
        include_prompt: whether prompt tokens take part in pooling (default ``True``).

    Example:
        .. code-block:: python

            from sentrix import SentenceTransformer
            from sentrix.registry import modules

            transformer = modules.create("transformer", model_name_or_path="sentence-transformers/all-MiniLM-L6-v2")
            pooling = modules.create("pooling", embedding_dimension=384, pooling_mode="cls")
            model = SentenceTransformer(modules=[transformer, pooling])
    """

    config_keys = ["embedding_dimension", "pooling_mode", "include_prompt"]
    config_key_renames = {"word_embedding_dimension": "embedding_dimension"}
    module_type = "sentence_transformers.sentence_transformer.modules.pooling.Pooling"
    rows_independent = True

    def __init__(
        self,
        embedding_dimension: int | None = None,
        pooling_mode: str | tuple[str, ...] | list[str] = "mean",
        include_prompt: bool = True,
        **legacy: Any,
    ) -> None:
        super().__init__()
        if "word_embedding_dimension" in legacy:
            embedding_dimension = legacy.pop("word_embedding_dimension")
        if any(key in _LEGACY_FLAGS for key in legacy):
            _modes_from_legacy(legacy)
            pooling_mode = legacy.pop("pooling_mode", pooling_mode)
        if legacy:
            raise TypeError(f"Pooling got unexpected arguments: {sorted(legacy)}")
        if embedding_dimension is None:
            raise TypeError("Pooling needs embedding_dimension (the size of the token embeddings).")
        if isinstance(pooling_mode, (list, tuple)):
            pooling_mode = pooling_mode[0] if len(pooling_mode) == 1 else tuple(pooling_mode)
        modes = (pooling_mode,) if isinstance(pooling_mode, str) else pooling_mode
        for mode in modes:
            if mode not in MODES:
                raise ValueError(f"Unknown pooling mode {mode!r}; expected one of {', '.join(MODES)}.")
        self.embedding_dimension = embedding_dimension
        self.pooling_mode = pooling_mode
        self.include_prompt = include_prompt
        self.pooling_output_dimension = len(modes) * embedding_dimension

    @property
    def word_embedding_dimension(self) -> int:
        return self.embedding_dimension

    @classmethod
    def load_config(cls, *args, **kwargs) -> dict[str, Any]:
        config = super().load_config(*args, **kwargs)
        _modes_from_legacy(config)
        return config

    def get_config_dict(self) -> dict[str, Any]:
        config = super().get_config_dict()
        if isinstance(config["pooling_mode"], tuple):
            config["pooling_mode"] = list(config["pooling_mode"])
        return config

    def get_embedding_dimension(self) -> int:
        return self.pooling_output_dimension

    get_sentence_embedding_dimension = get_embedding_dimension

    @classmethod
    def contract_example(cls) -> Pooling:
        """A small instance for the module contract tests."""
        return cls(8, ("cls", "mean"), include_prompt=False)

    def forward(self, features: dict[str, Any], **kwargs) -> dict[str, Any]:
        tokens = features["token_embeddings"]
        mask = features.get("attention_mask")
        if mask is None or mask.shape[-1] != tokens.shape[1]:
            mask = torch.ones(tokens.shape[:-1], dtype=torch.long, device=tokens.device)
        original_mask = mask
        prompt_length = features.get("prompt_length") if not self.include_prompt else None
        if prompt_length is not None:
            prompt_length = int(prompt_length.flatten()[0]) if torch.is_tensor(prompt_length) else int(prompt_length)
            mask = self._drop_prompt(mask, prompt_length)
        modes = (self.pooling_mode,) if isinstance(self.pooling_mode, str) else self.pooling_mode
        features["sentence_embedding"] = torch.cat(
            [self._pool(mode, tokens, mask, original_mask, features) for mode in modes], dim=-1
        )
        return features

    @staticmethod
    def _drop_prompt(mask: torch.Tensor, prompt_length: int) -> torch.Tensor:
        mask = mask.clone()  # callers may reuse their features
        first = mask.to(torch.int32).argmax(dim=1)  # > 0 only with left padding
        positions = torch.arange(mask.shape[1], device=mask.device).unsqueeze(0)
        mask[positions < (first + prompt_length).unsqueeze(1)] = 0
        return mask

    @staticmethod
    def _pool(mode: str, tokens, mask, original_mask, features) -> torch.Tensor:
        acc_dtype = torch.float32 if tokens.dtype in (torch.float16, torch.bfloat16) else tokens.dtype
        if mode == "cls":
            if "cls_token_embeddings" in features:
                return features["cls_token_embeddings"]
            first = mask.to(torch.int).argmax(dim=1)
            return tokens[torch.arange(tokens.shape[0], device=tokens.device), first]
        if mode == "max":
            keep = mask.unsqueeze(-1).to(tokens.dtype)
            return tokens.masked_fill(keep == 0, float("-inf")).max(dim=1).values
        if mode in ("mean", "mean_sqrt_len_tokens"):
            keep = mask.unsqueeze(-1).to(tokens.dtype)
            total = (tokens * keep).sum(dim=1, dtype=acc_dtype)
            count = keep.sum(dim=1, dtype=acc_dtype)
            if "token_weights_sum" in features:
                count = features["token_weights_sum"].unsqueeze(-1).to(acc_dtype)
            count = count.clamp(min=1e-9)
            out = total / (count if mode == "mean" else count.sqrt())
            return out.to(tokens.dtype)
        if mode == "weightedmean":
            keep = mask.unsqueeze(-1).to(acc_dtype)
            weights = torch.arange(1, tokens.shape[1] + 1, device=tokens.device, dtype=acc_dtype).view(1, -1, 1)
            weights = weights - original_mask.to(torch.int32).argmax(dim=1).view(-1, 1, 1)
            weighted = keep * weights
            out = (tokens * weighted).sum(dim=1) / weighted.sum(dim=1).clamp(min=1e-9)
            return out.to(tokens.dtype)
        # lasttoken: the last position the mask keeps (works for left and right padding)
        seq_len = tokens.shape[1]
        values, from_end = mask.flip(1).max(1)
        from_end = torch.where(values == 0, seq_len - 1, from_end)
        last = seq_len - from_end - 1
        keep = mask.unsqueeze(-1).to(tokens.dtype)
        return (tokens * keep)[torch.arange(tokens.shape[0], device=tokens.device), last]

    def save(self, output_path: str, *args, safe_serialization: bool = True, **kwargs) -> None:
        self.save_config(output_path)
