"""StaticEmbedding: a bag of learned token vectors; the sentence vector is their mean.

No attention, no context: hundreds of times faster than a Transformer on CPU, at some cost in
quality. It is its own first module (it tokenizes) and directly writes the sentence embedding.

=====================  ==========================================================
reads                  ``input_ids`` (flat), ``offsets`` (one start per text)
writes                 ``sentence_embedding``
saved files            ``model.safetensors`` (``embedding.weight``), ``tokenizer.json``
=====================  ==========================================================

Example::

    from tokenizers import Tokenizer
    from sentrix import SentenceTransformer
    from sentrix.models import StaticEmbedding

    tokenizer = Tokenizer.from_pretrained("bert-base-uncased")
    model = SentenceTransformer(modules=[StaticEmbedding(tokenizer, embedding_dim=256)])

Reference: sentence-transformers ``StaticEmbedding``; model2vec (Tulkens & van Dongen, 2024).
"""

from __future__ import annotations

import inspect
import logging
import math
import os
from typing import Any

import numpy as np
import torch
from torch import nn

from sentrix.plugin_api import InputModule, InvalidParameterError, load_weights_file, resolve_dir

logger = logging.getLogger(__name__)

_MODEL2VEC_FIX = "Fix: `pip install sentrix[model2vec]` (model2vec, plus skeletoken for distillation)."
# Arguments of older model2vec ``distill`` versions, and what newer versions use instead.
_OLD_DISTILL_ARGUMENTS = {
    "apply_zipf": (True, "Zipf weighting is set by sif_coefficient (None turns it off)"),
    "use_subword": (True, "subword tokens are always kept"),
}


def _fold_model2vec(embeddings: Any, mapping: Any = None, weights: Any = None) -> torch.Tensor:
    """One row per token id: ``embeddings[mapping[id]] * weights[id]``, as model2vec averages them."""
    vectors = torch.as_tensor(np.asarray(embeddings) if not torch.is_tensor(embeddings) else embeddings)
    if mapping is not None:
        vectors = vectors[torch.as_tensor(np.asarray(mapping), dtype=torch.long)]
    if weights is not None:
        vectors = vectors.to(torch.promote_types(vectors.dtype, torch.float32))
        vectors = (vectors * torch.as_tensor(np.asarray(weights))[:, None]).to(vectors.dtype)
    return vectors.contiguous()


class StaticEmbedding(InputModule):
    """Mean of per-token embeddings (``nn.EmbeddingBag``).

    Tokenises with a fast tokenizer and averages one learned vector per token: no attention, so it is
    much faster than a transformer, at lower quality. It is an input module (it
    tokenises) and saves its tokenizer and weights in the sentence-transformers layout.

    Args:
        tokenizer: a ``tokenizers.Tokenizer`` or a fast ``transformers`` tokenizer.
        embedding_weights: initial vectors (vocab x dim), numpy or torch; default ``None``.
        embedding_dim: size of randomly initialised vectors, when no weights are given.

    Two other ways to start (``pip install sentrix[model2vec]``): ``StaticEmbedding.from_model2vec(path_or_id)``
    loads a pre-distilled model2vec model, and ``StaticEmbedding.from_distillation(model_name, pca_dims=256)``
    distils one from a transformer (its token embeddings, PCA-reduced and SIF-weighted).

    Example:
        .. code-block:: python

            from tokenizers import Tokenizer
            from sentrix import SentenceTransformer
            from sentrix.registry import modules

            tokenizer = Tokenizer.from_pretrained("bert-base-uncased")
            static = modules.create("static_embedding", tokenizer=tokenizer, embedding_dim=256)
            model = SentenceTransformer(modules=[static])
    """

    module_type = "sentence_transformers.sentence_transformer.modules.static_embedding.StaticEmbedding"
    rows_independent = True

    def __init__(self, tokenizer: Any, embedding_weights: Any = None, embedding_dim: int | None = None,
                 **kwargs: Any) -> None:
        super().__init__()
        from tokenizers import Tokenizer

        if hasattr(tokenizer, "backend_tokenizer"):  # a private copy: its padding state is not shared
            tokenizer = Tokenizer.from_str(tokenizer.backend_tokenizer.to_str())
        if not isinstance(tokenizer, Tokenizer):
            raise ValueError("StaticEmbedding needs a fast tokenizer (tokenizers.Tokenizer or a *TokenizerFast).")
        if embedding_weights is not None:
            weights = torch.as_tensor(np.asarray(embedding_weights) if not torch.is_tensor(embedding_weights)
                                      else embedding_weights)
            self.embedding = nn.EmbeddingBag.from_pretrained(weights, freeze=False)
        elif embedding_dim is not None:
            self.embedding = nn.EmbeddingBag(tokenizer.get_vocab_size(), embedding_dim)
        else:
            raise ValueError("StaticEmbedding needs embedding_weights or embedding_dim.")
        self.num_embeddings = self.embedding.num_embeddings
        self.embedding_dim = self.embedding.embedding_dim
        self.tokenizer = tokenizer
        self.tokenizer.no_padding()
        self.base_model = kwargs.get("base_model")

    def preprocess(self, inputs: list, prompt: str | None = None, **kwargs) -> dict[str, torch.Tensor]:
        if prompt:
            inputs = self._prepend_prompt(inputs, prompt)
        ids = [encoding.ids for encoding in self.tokenizer.encode_batch(list(inputs), add_special_tokens=False)]
        offsets = torch.from_numpy(np.cumsum([0] + [len(row) for row in ids[:-1]]))
        flat = torch.tensor([token for row in ids for token in row], dtype=torch.long)
        return {"input_ids": flat, "offsets": offsets}

    def forward(self, features: dict[str, Any], **kwargs) -> dict[str, Any]:
        features["sentence_embedding"] = self.embedding(features["input_ids"], features["offsets"])
        return features

    @property
    def max_seq_length(self) -> float:
        return math.inf

    def get_embedding_dimension(self) -> int:
        return self.embedding_dim

    def get_config_dict(self) -> dict[str, Any]:
        return {}

    # ------------------------------------------------------------------ model2vec
    @classmethod
    def from_model2vec(cls, model_id_or_path: str) -> StaticEmbedding:
        """Build from a model2vec ``StaticModel`` (a Hub id or a folder saved with ``save_pretrained``):
        its tokenizer and its token vectors (with any token mapping and per-token weights folded in).
        Needs ``pip install sentrix[model2vec]``."""
        try:
            from model2vec import StaticModel
        except ImportError as exc:
            raise ImportError(f"StaticEmbedding.from_model2vec needs the model2vec package. {_MODEL2VEC_FIX}") from exc
        return cls._from_static_model(StaticModel.from_pretrained(model_id_or_path), model_id_or_path)

    @classmethod
    def from_distillation(
        cls,
        model_name: str,
        vocabulary: list[str] | None = None,
        device: str | None = None,
        pca_dims: int | None = 256,
        apply_zipf: bool = True,
        sif_coefficient: float | None = 1e-4,
        token_remove_pattern: str | None = r"\[unused\d+\]",
        quantize_to: str = "float32",
        use_subword: bool = True,
        **kwargs: Any,
    ) -> StaticEmbedding:
        """Distil a static model from the transformer ``model_name`` with model2vec's ``distill``
        (``vocabulary`` adds words, ``pca_dims`` reduces the dimension, ``sif_coefficient`` weights
        frequent tokens down, ``quantize_to`` sets the dtype); extra ``kwargs`` go to ``distill``.
        Needs ``pip install sentrix[model2vec]``. ``apply_zipf`` and ``use_subword`` belong to older
        model2vec versions: when the installed ``distill`` does not take them they are dropped (a
        non-default value warns). An argument ``distill`` does not take raises ``InvalidParameterError``."""
        try:
            from model2vec.distill import distill
        except ImportError as exc:
            raise ImportError(
                f"StaticEmbedding.from_distillation needs model2vec with its distillation dependencies ({exc}). "
                f"{_MODEL2VEC_FIX}"
            ) from exc
        accepted = set(inspect.signature(distill).parameters) - {"model_name"}
        arguments = {"vocabulary": vocabulary, "device": device, "pca_dims": pca_dims, "apply_zipf": apply_zipf,
                     "sif_coefficient": sif_coefficient, "token_remove_pattern": token_remove_pattern,
                     "quantize_to": quantize_to, "use_subword": use_subword, **kwargs}
        for name, (default, replacement) in _OLD_DISTILL_ARGUMENTS.items():
            if name not in accepted:
                value = arguments.pop(name)
                if value != default:
                    logger.warning("The installed model2vec's distill has no %r argument, so %s=%r is not applied: "
                                   "%s.", name, name, value, replacement)
        unknown = sorted(set(arguments) - accepted)
        if unknown:
            raise InvalidParameterError(
                f"StaticEmbedding.from_distillation got {unknown}, which the installed model2vec's distill does not "
                f"accept (it takes {sorted(accepted)}). Fix: drop or rename them, or upgrade model2vec."
            )
        return cls._from_static_model(distill(model_name, **arguments), model_name)

    @classmethod
    def _from_static_model(cls, static_model: Any, base_model: str) -> StaticEmbedding:
        embedding = static_model.embedding
        if hasattr(embedding, "weight"):  # a torch embedding layer
            vectors = embedding.weight.detach()
        else:
            vectors = _fold_model2vec(embedding, getattr(static_model, "token_mapping", None),
                                      getattr(static_model, "weights", None))
        return cls(static_model.tokenizer, embedding_weights=vectors, base_model=base_model)

    @classmethod
    def contract_example(cls) -> StaticEmbedding:
        """A small instance (tiny WordPiece vocabulary, 8 dimensions) for the module contract tests."""
        from sentrix.plugin_api import testing
        tiny_tokenizer = testing.tiny_models.tiny_tokenizer

        return cls(tiny_tokenizer(), embedding_dim=8)

    def save(self, output_path: str, *args, safe_serialization: bool = True, **kwargs) -> None:
        if safe_serialization:
            from safetensors.torch import save_file

            save_file(self.state_dict(), os.path.join(output_path, "model.safetensors"))
        else:
            torch.save(self.state_dict(), os.path.join(output_path, "pytorch_model.bin"))
        self.tokenizer.save(os.path.join(output_path, "tokenizer.json"))

    @classmethod
    def load(cls, model_name_or_path: str, subfolder: str = "", token=None, cache_folder=None, revision=None,
             local_files_only: bool = False, **kwargs) -> StaticEmbedding:
        from tokenizers import Tokenizer

        folder = resolve_dir(model_name_or_path, subfolder, token, cache_folder, revision, local_files_only)
        tokenizer = Tokenizer.from_file(os.path.join(folder, "tokenizer.json"))
        allow_pickle = (kwargs.get("model_kwargs") or {}).get("use_safetensors") is False
        weights = load_weights_file(folder, allow_pickle=allow_pickle)
        if "embedding.weight" in weights:
            vectors = weights["embedding.weight"]
        else:  # a model2vec folder: vectors (optionally remapped and weighted per token)
            vectors = _fold_model2vec(weights["embeddings"], weights.get("mapping"), weights.get("weights"))
        return cls(tokenizer, embedding_weights=vectors.contiguous())
