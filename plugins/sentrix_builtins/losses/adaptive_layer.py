"""Adaptive layer loss: train the shallower transformer layers to give usable embeddings too.

Registered as ``adaptive_layer`` (alias ``AdaptiveLayerLoss``).
"""

from __future__ import annotations

import math
import random
from typing import Any, Callable

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from sentrix.plugin_api import DataNeeds, InvalidInputError

_WEIGHTINGS = ("uniform", "log", "linear")


def resolve_inner_loss(model: nn.Module, loss: Any, owner: str) -> nn.Module:
    """The inner loss of a wrapper: a loss module, or a registered loss name built with ``model``."""
    if isinstance(loss, str):
        from sentrix.plugin_api import get_registry

        loss = get_registry("losses").create(loss, model=model)
    if not isinstance(loss, nn.Module):
        raise InvalidInputError(
            f"{owner}: loss must be a loss module (e.g. MultipleNegativesRankingLoss(model)) or a registered loss "
            f"name, got {type(loss).__name__}."
        )
    if getattr(loss, "uses_gradient_cache", False):
        raise InvalidInputError(
            f"{owner} cannot wrap {type(loss).__name__}: a gradient-cache loss embeds its mini-batches again during "
            "backward, after the layer outputs this wrapper serves are gone, so the layer losses would be computed "
            "on the wrong embeddings (sentence-transformers warns and trains on them anyway). Fix: wrap the "
            "non-cached version of the loss (e.g. MultipleNegativesRankingLoss instead of "
            "CachedMultipleNegativesRankingLoss) and lower the batch size if memory is short."
        )
    return loss


def unwrap_model(model: nn.Module) -> nn.Module:
    """The model inside DistributedDataParallel / torch.compile wrappers."""
    seen = 0
    while seen < 8:
        if hasattr(model, "_orig_mod"):
            model = model._orig_mod
        elif isinstance(getattr(model, "module", None), nn.Module) and not hasattr(model, "_first_module"):
            model = model.module
        else:
            break
        seen += 1
    return model


def transformer_of(model: nn.Module, owner: str) -> nn.Module:
    """The model's first module when it is a transformer encoder that can return every layer's output."""
    inner = unwrap_model(model)
    first = None
    try:
        first = inner[0]
    except (TypeError, IndexError, KeyError):
        pass
    config = getattr(getattr(first, "auto_model", None), "config", None)
    if first is None or config is None or not hasattr(config, "output_hidden_states"):
        raise InvalidInputError(
            f"{owner} needs a model whose first module is a Transformer (a Hugging Face encoder that can return the "
            f"output of every layer); this model starts with {type(first).__name__}. Fix: use a transformer-based "
            "model, or train with the wrapped loss alone."
        )
    return first


class _LayerTap:
    """For one training step: records every transformer call's per-layer outputs on the first pass of the
    inner loss, then serves the calls of later passes from a chosen layer, and records the sentence
    embeddings each pass produced (for the KL term)."""

    def __init__(self, model: nn.Module, transformer: nn.Module) -> None:
        self.model, self.transformer = model, transformer
        self.model_forward, self.transformer_forward = model.forward, transformer.forward
        self.output_name = getattr(transformer, "module_output_name", "token_embeddings")
        self.layers: list[tuple[Tensor, ...]] = []
        self.layer: int | None = None
        self.position = 0
        self.embeddings: list[Tensor] = []

    def __enter__(self) -> "_LayerTap":
        self.transformer.forward = self._transformer_call
        self.model.forward = self._model_call
        return self

    def __exit__(self, *exc: Any) -> None:
        # remove the instance attributes: the class's forward is visible again
        for module, original in ((self.transformer, self.transformer_forward), (self.model, self.model_forward)):
            if getattr(original, "__self__", None) is module and type(module).forward is original.__func__:
                module.__dict__.pop("forward", None)
            else:
                module.forward = original

    @property
    def num_layers(self) -> int | None:
        return len(self.layers[0]) if self.layers else None

    def serve_layer(self, layer: int) -> None:
        self.layer, self.position = layer, 0

    def take_embeddings(self) -> Tensor:
        if not self.embeddings:
            raise InvalidInputError(
                "AdaptiveLayerLoss: the inner loss did not call the model, so there is nothing to compare."
            )
        embeddings = torch.cat(self.embeddings, dim=0)
        self.embeddings = []
        return embeddings

    def _transformer_call(self, features: dict[str, Any], *args: Any, **kwargs: Any) -> dict[str, Any]:
        if self.layer is None:
            config = self.transformer.auto_model.config
            before = config.output_hidden_states
            config.output_hidden_states = True
            try:
                output = self.transformer_forward(features, *args, **kwargs)
            finally:
                config.output_hidden_states = before
            layers = output.get("all_layer_embeddings") if isinstance(output, dict) else None
            if layers is None:
                raise InvalidInputError(
                    f"AdaptiveLayerLoss: the model's {type(self.transformer).__name__} did not return the output of "
                    "every layer ('all_layer_embeddings') when asked to; it cannot serve the shallower layers."
                )
            self.layers.append(tuple(layers))
            return output
        if self.position >= len(self.layers):
            raise InvalidInputError(
                "AdaptiveLayerLoss: the inner loss ran the model more often for a shallower layer than for the last "
                "layer; it must embed the same inputs in the same order on every call."
            )
        layers = self.layers[self.position]
        self.position += 1
        return {**features, self.output_name: layers[self.layer]}

    def _model_call(self, features: dict[str, Any], *args: Any, **kwargs: Any) -> dict[str, Any]:
        output = self.model_forward(features, *args, **kwargs)
        self.embeddings.append(output["sentence_embedding"])
        return output


class AdaptiveLayerLoss(nn.Module):
    """Apply another loss to the last layer and to shallower layers of the transformer, so the model can be cut short.

    The inner ``loss`` is computed on the normal embeddings (weight ``last_layer_weight``) and again
    on embeddings pooled from shallower layers: every step picks ``n_layers_per_step`` of the
    layers below the last (the embedding layer counts as layer 0) at random, and each adds
    ``prior_layers_weight * layer_weight(layer) * loss(layer) / n_layers_per_step``. With
    ``kl_temperature > 0`` each of those layers is also pulled towards the last layer's output
    distribution by ``kl_div_weight * kl_temperature * KL(softmax(last / T) || softmax(layer / T))``.
    A model trained this way can drop its top layers at inference (``model[0].auto_model.encoder.layer``
    truncated) for speed, with a modest loss in quality.

    The transformer runs **once** per step with every layer's output kept; the shallower layers'
    embeddings reuse those outputs, so only pooling and the modules after it run again. The inner
    loss keeps the shared embedding helper's merged, length-bucketed forward.

    Inputs:
        Whatever the wrapped ``loss`` needs (its data needs are copied).

    Sampler:
        The wrapped loss's (``no_duplicates`` for in-batch-negative losses).

    Args:
        model: the model to train; its first module must be a Transformer.
        loss: the inner loss instance (built with the same model) or a registered loss name.
            Gradient-cache losses (``Cached...``) cannot be wrapped.
        n_layers_per_step: how many shallower layers to train each step, default 1; ``-1`` or a
            number at least the count of shallower layers trains all of them every step.
        last_layer_weight: weight of the inner loss on the last layer, default 1.0.
        prior_layers_weight: weight of the shallower layers' losses, default 1.0.
        kl_div_weight: weight of the KL term, default 1.0.
        kl_temperature: temperature of the KL term, default 0.3; ``0`` turns the KL term off.
        layer_weighting: how a shallower layer's loss is weighted: ``"uniform"`` (default, 1),
            ``"log"`` (``1 / (1 + ln(1 + layer))``), ``"linear"`` (``1 / (1 + layer)``) or a callable
            ``layer -> weight``.

    Example:
        .. code-block:: python

            from datasets import Dataset
            from sentrix import SentenceTransformer, SentenceTransformerTrainer
            from sentrix.losses import AdaptiveLayerLoss, MultipleNegativesRankingLoss

            model = SentenceTransformer("sentence-transformers/all-MiniLM-L6-v2")
            train = Dataset.from_dict({
                "anchor": ["What is the capital of France?", "Who wrote Hamlet?"],
                "positive": ["Paris is the capital of France.", "Hamlet was written by Shakespeare."],
            })
            loss = AdaptiveLayerLoss(model, MultipleNegativesRankingLoss(model))
            trainer = SentenceTransformerTrainer(model=model, train_dataset=train, loss=loss)
            trainer.train()

    References:
        Li et al., "2D Matryoshka Sentence Embeddings", 2024, https://arxiv.org/abs/2402.14776
    """

    data_needs = DataNeeds()  # replaced per instance by the wrapped loss's needs

    def __init__(
        self,
        model: nn.Module,
        loss: nn.Module | str,
        n_layers_per_step: int = 1,
        last_layer_weight: float = 1.0,
        prior_layers_weight: float = 1.0,
        kl_div_weight: float = 1.0,
        kl_temperature: float = 0.3,
        layer_weighting: str | Callable[[int], float] = "uniform",
    ) -> None:
        super().__init__()
        name = type(self).__name__
        self.model = model
        self.loss = resolve_inner_loss(model, loss, name)
        inner_needs = getattr(self.loss, "data_needs", None)
        if isinstance(inner_needs, DataNeeds):
            self.data_needs = inner_needs
        if not callable(layer_weighting) and layer_weighting not in _WEIGHTINGS:
            raise InvalidInputError(
                f"{name}: layer_weighting={layer_weighting!r} is not supported; use one of {list(_WEIGHTINGS)} or a "
                "callable taking the layer index and returning its weight."
            )
        if kl_temperature < 0:
            raise InvalidInputError(
                f"{name}: kl_temperature={kl_temperature!r} must be >= 0 (0 turns the KL term off)."
            )
        transformer_of(model, name)
        self.n_layers_per_step = n_layers_per_step
        self.last_layer_weight = last_layer_weight
        self.prior_layers_weight = prior_layers_weight
        self.kl_div_weight = kl_div_weight
        self.kl_temperature = kl_temperature
        self.layer_weighting = layer_weighting

    @classmethod
    def contract_example(cls, model: nn.Module) -> "AdaptiveLayerLoss":
        from sentrix.plugin_api import get_registry

        return cls(model, get_registry("losses").create("multiple_negatives_ranking", model=model))

    def get_layer_weight(self, layer_idx: int) -> float:
        """The weight of layer ``layer_idx``'s loss under ``layer_weighting``."""
        if callable(self.layer_weighting):
            return self.layer_weighting(layer_idx)
        if self.layer_weighting == "log":
            return 1.0 / (1.0 + math.log(1 + layer_idx))
        if self.layer_weighting == "linear":
            return 1.0 / (1 + layer_idx)
        return 1.0

    def _inner(self, sentence_features: list[dict[str, Any]], labels: Any) -> Tensor:
        value = self.loss(sentence_features, labels)
        if isinstance(value, dict):
            raise InvalidInputError(
                f"{type(self).__name__} needs an inner loss that returns one tensor, but {type(self.loss).__name__} "
                f"returns named parts {sorted(value)}. Fix: wrap a loss that returns a single value."
            )
        return value

    def forward(self, sentence_features: list[dict[str, Tensor]], labels: Tensor | None) -> Tensor:
        features = list(sentence_features)
        # later passes get fresh copies of the inputs as they are now: the first pass may add outputs to the
        # dicts, and every pass must plan the same model calls
        pristine = [dict(f) for f in features]
        model = unwrap_model(self.model)
        transformer = transformer_of(model, type(self).__name__)
        use_kl = self.kl_temperature > 0
        with _LayerTap(model, transformer) as tap:
            loss = self._inner(features, labels) * self.last_layer_weight
            if tap.num_layers is None:
                raise InvalidInputError(
                    f"{type(self).__name__}: {type(self.loss).__name__} never ran the model's transformer, so there "
                    "are no layer outputs to train."
                )
            if use_kl:
                target = F.softmax(tap.take_embeddings() / self.kl_temperature, dim=-1).detach()
            else:
                tap.embeddings = []
            layers: list[int] = list(range(tap.num_layers - 1))
            if 0 < self.n_layers_per_step < len(layers):
                layers = random.sample(layers, self.n_layers_per_step)
            for layer in layers:
                tap.serve_layer(layer)
                layer_loss = self._inner([dict(f) for f in pristine], labels)
                loss = loss + layer_loss * self.get_layer_weight(layer) / len(layers) * self.prior_layers_weight
                if use_kl:
                    log_probs = F.log_softmax(tap.take_embeddings() / self.kl_temperature, dim=-1)
                    kl = F.kl_div(log_probs, target, reduction="batchmean")
                    loss = loss + kl * self.kl_temperature * self.kl_div_weight
                else:
                    tap.embeddings = []
        return loss

    def get_config_dict(self) -> dict[str, Any]:
        weighting = (
            self.layer_weighting
            if isinstance(self.layer_weighting, str)
            else getattr(self.layer_weighting, "__name__", "custom")
        )
        return {
            "loss": type(self.loss).__name__,
            "n_layers_per_step": self.n_layers_per_step,
            "last_layer_weight": self.last_layer_weight,
            "prior_layers_weight": self.prior_layers_weight,
            "kl_div_weight": self.kl_div_weight,
            "kl_temperature": self.kl_temperature,
            "layer_weighting": weighting,
        }

    @property
    def citation(self) -> str:
        return """
@misc{li20242d,
    title={2D Matryoshka Sentence Embeddings},
    author={Xianming Li and Zongxi Li and Jing Li and Haoran Xie and Qing Li},
    year={2024},
    eprint={2402.14776},
    archivePrefix={arXiv},
    primaryClass={cs.CL}
}
"""
