"""Matryoshka loss: train the leading dimensions of the embedding to work on their own.

Registered as ``matryoshka`` (alias ``MatryoshkaLoss``).
"""

from __future__ import annotations

import logging
import random
from typing import Any, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from sentrix.plugin_api import (
    DataNeeds,
    InvalidInputError,
    embed_columns,
    embedding_dimension_of,
    reuse_embeddings,
    uses_gradient_cache,
)

logger = logging.getLogger(__name__)


def _truncate(embeddings: Tensor, dim: int) -> Tensor:
    return F.normalize(embeddings[..., :dim], p=2, dim=-1)


class _CachedForward:
    """Stands in for ``model.forward`` of a loss that calls the model itself: runs the model on the
    first pass, replays (truncated) outputs on the later ones."""

    def __init__(self, forward):
        self.forward = forward
        self.outputs: list[dict[str, Any]] = []
        self.recording = True
        self.position = 0
        self.dim: int | None = None

    def start(self, dim: int) -> None:
        self.recording = not self.outputs
        self.position = 0
        self.dim = dim

    def __call__(self, features, *args, **kwargs):
        if self.recording:
            output = self.forward(features, *args, **kwargs)
            full = output["sentence_embedding"]
            self.outputs.append((output, full))
        else:
            output, full = self.outputs[self.position]
        self.position += 1
        output = dict(output)
        output["sentence_embedding"] = _truncate(full, self.dim)
        return output


class MatryoshkaLoss(nn.Module):
    """Apply another loss to several truncations of the embedding at once.

    Optimises ``sum_d weight_d * loss(normalise(embeddings[:, :d]))`` over the ``matryoshka_dims``
    ``d``, so that the first 64 (or 128, 256...) dimensions are a usable embedding by themselves
    and a deployed model can be truncated for speed and storage.

    The model runs **once** per step: the embeddings come from the shared embedding helper and
    every dimension's inner loss is served from them; an inner loss that calls the model itself
    is served by replaying the first forward's outputs. A gradient-cache inner loss
    (``cached_multiple_negatives_ranking``, ``cached_multiple_negatives_symmetric_ranking``,
    ``cached_gist_embed``, ``mega_batch_margin``) keeps its memory bound: its cached embeddings are
    truncated per dimension inside its loss step. A loss that declares ``uses_gradient_cache`` but
    has no ``calculate_loss`` is refused when MatryoshkaLoss is built.

    Inputs:
        Whatever the wrapped ``loss`` needs (its ``data_needs`` are copied); embedding-shaped labels
        (distillation targets) are truncated with the embeddings.

    Sampler:
        The wrapped loss's (``no_duplicates`` for in-batch-negative losses).

    Args:
        model: the model to train.
        loss: the inner loss instance, or a registered loss name built with the same model.
        matryoshka_dims: the dimensions to train, e.g. ``[768, 512, 256, 128, 64]``; include the full size.
        matryoshka_weights: one weight per dimension; default all 1.
        n_dims_per_step: -1 (default) trains every dimension each step; ``k > 0`` trains ``k`` randomly chosen ones.

    Example:
        .. code-block:: python

            from datasets import Dataset
            from sentrix import SentenceTransformer, SentenceTransformerTrainer
            from sentrix.losses import MatryoshkaLoss, MultipleNegativesRankingLoss

            model = SentenceTransformer("sentence-transformers/all-MiniLM-L6-v2")
            train = Dataset.from_dict({
                "anchor": ["What is the capital of France?", "Who wrote Hamlet?"],
                "positive": ["Paris is the capital of France.", "Hamlet was written by Shakespeare."],
            })
            loss = MatryoshkaLoss(model, MultipleNegativesRankingLoss(model), matryoshka_dims=[384, 256, 128, 64])
            trainer = SentenceTransformerTrainer(model=model, train_dataset=train, loss=loss)
            trainer.train()

    References:
        Kusupati et al., "Matryoshka Representation Learning", NeurIPS 2022, https://arxiv.org/abs/2205.13147
    """

    data_needs = DataNeeds()  # replaced per instance by the wrapped loss's needs

    def __init__(
        self,
        model: nn.Module,
        loss: nn.Module | str,
        matryoshka_dims: Sequence[int],
        matryoshka_weights: Sequence[float] | Sequence[int] | None = None,
        n_dims_per_step: int = -1,
    ) -> None:
        super().__init__()
        self.model = model
        if isinstance(loss, str):
            from sentrix.plugin_api import get_registry
            loss_registry = get_registry("losses")

            loss = loss_registry.create(loss, model=model)
        if not isinstance(loss, nn.Module):
            raise InvalidInputError(
                f"MatryoshkaLoss: loss must be a loss module (e.g. MultipleNegativesRankingLoss(model)) or a registered "
                f"loss name, got {type(loss).__name__}."
            )
        if uses_gradient_cache(loss) and not callable(getattr(loss, "calculate_loss", None)):
            raise InvalidInputError(
                f"MatryoshkaLoss: {type(loss).__name__} says it uses a gradient cache (uses_gradient_cache=True) but has "
                "no calculate_loss(reps, labels, *, with_backward) method, which MatryoshkaLoss needs to truncate the "
                "cached embeddings. Fix: build the loss on sentrix.plugin_api.CachedLossMixin, or wrap its non-cached twin."
            )
        self.loss = loss
        inner_needs = getattr(loss, "data_needs", None)
        if isinstance(inner_needs, DataNeeds):
            self.data_needs = inner_needs

        dims = [int(d) for d in (matryoshka_dims or [])]
        if not dims:
            raise InvalidInputError("MatryoshkaLoss: matryoshka_dims is empty; give the dimensions to train, e.g. [768, 256, 64].")
        if any(d <= 0 for d in dims):
            raise InvalidInputError(f"MatryoshkaLoss: every value in matryoshka_dims must be > 0, got {dims}.")
        if matryoshka_weights is None:
            matryoshka_weights = [1] * len(dims)
        elif len(matryoshka_weights) != len(dims):
            raise InvalidInputError(
                f"MatryoshkaLoss: matryoshka_weights has {len(matryoshka_weights)} values but matryoshka_dims has "
                f"{len(dims)}; give one weight per dimension."
            )
        full = embedding_dimension_of(model)
        if full is not None:
            too_big = [d for d in dims if d > full]
            if too_big:
                raise InvalidInputError(
                    f"MatryoshkaLoss: matryoshka_dims {too_big} exceed the model's embedding dimension {full}."
                )
            if full not in dims:
                logger.warning(
                    "MatryoshkaLoss: the full embedding dimension %d is not in matryoshka_dims %s, so the untruncated "
                    "embedding is not trained; include %d unless the model will always be truncated.",
                    full,
                    dims,
                    full,
                )
        pairs = sorted(zip(dims, matryoshka_weights), key=lambda pair: pair[0], reverse=True)
        self.matryoshka_dims: tuple[int, ...] = tuple(d for d, _ in pairs)
        self.matryoshka_weights: tuple[float, ...] = tuple(w for _, w in pairs)
        self.n_dims_per_step = n_dims_per_step

    @classmethod
    def contract_example(cls, model: nn.Module) -> "MatryoshkaLoss":
        from sentrix.plugin_api import get_registry
        loss_registry = get_registry("losses")

        full = embedding_dimension_of(model) or 32
        inner = loss_registry.create("multiple_negatives_ranking", model=model)
        return cls(model, inner, matryoshka_dims=sorted({full, max(1, full // 2), max(1, full // 4)}, reverse=True))

    def _chosen_dims(self) -> list[int]:
        indices = list(range(len(self.matryoshka_dims)))
        if 0 < self.n_dims_per_step < len(indices):
            indices = sorted(random.sample(indices, self.n_dims_per_step))
        return indices

    def _labels_for(self, labels: Any, dim: int) -> Any:
        # Distillation-style labels (teacher embeddings) are truncated along with the embeddings.
        full = embedding_dimension_of(self.model)
        if isinstance(labels, Tensor) and labels.ndim in (2, 3) and full is not None and labels.size(-1) == full:
            return labels[..., :dim]
        return labels

    def forward(self, sentence_features: list[dict[str, Tensor]], labels: Tensor | None) -> Tensor:
        sentence_features = list(sentence_features)
        indices = self._chosen_dims()
        if uses_gradient_cache(self.loss):
            return self._forward_cached_inner(sentence_features, labels, indices)
        if getattr(self.loss, "uses_embedding_helper", False):
            embeddings = embed_columns(self.model, sentence_features)
            total: Tensor | float = 0.0
            for index in indices:
                dim, weight = self.matryoshka_dims[index], self.matryoshka_weights[index]
                truncated = [_truncate(e, dim) for e in embeddings]
                with reuse_embeddings(sentence_features, truncated):
                    total = total + weight * self.loss(sentence_features, self._labels_for(labels, dim))
            return total

        original = self.model.forward
        cached = _CachedForward(original)
        self.model.forward = cached
        try:
            total = 0.0
            for index in indices:
                dim, weight = self.matryoshka_dims[index], self.matryoshka_weights[index]
                cached.start(dim)
                total = total + weight * self.loss(sentence_features, self._labels_for(labels, dim))
        finally:
            self.model.forward = original
        return total

    def _forward_cached_inner(self, sentence_features: list, labels: Any, indices: list[int]) -> Tensor:
        """A gradient-cache inner loss: wrap its ``calculate_loss`` (for this call) to score every truncation.

        Its step 3 re-embeds during the backward pass, after this forward has returned, so the
        model's forward cannot be served here; the cached embeddings are truncated instead, each
        truncation's loss is back-propagated to it, and the weighted gradients flow on to the full
        embeddings (the cached gradients).
        """
        inner = self.loss
        calculate = inner.calculate_loss
        own = inner.__dict__.get("calculate_loss")

        def calculate_per_dim(reps: list[list[Tensor]], *args: Any, **kwargs: Any) -> Tensor:
            backward = bool(kwargs.get("with_backward", False)) and torch.is_grad_enabled()
            total: Tensor | float = 0.0
            for index in indices:
                dim, weight = self.matryoshka_dims[index], self.matryoshka_weights[index]
                truncated = [[_truncate(r, dim) for r in column] for column in reps]
                if not backward:
                    total = total + weight * calculate(truncated, *args, **kwargs)
                    continue
                leaves = [[t.detach().requires_grad_() for t in column] for column in truncated]
                total = total + weight * calculate(leaves, *args, **kwargs)
                for t_column, l_column in zip(truncated, leaves):
                    for t, leaf in zip(t_column, l_column):
                        if leaf.grad is not None:
                            t.backward(weight * leaf.grad)
            return total

        inner.calculate_loss = calculate_per_dim
        try:
            return self.loss(sentence_features, labels)
        finally:
            if own is None:
                del inner.calculate_loss
            else:
                inner.calculate_loss = own

    def get_config_dict(self) -> dict[str, Any]:
        return {
            "loss": type(self.loss).__name__,
            "matryoshka_dims": self.matryoshka_dims,
            "matryoshka_weights": self.matryoshka_weights,
            "n_dims_per_step": self.n_dims_per_step,
        }

    @property
    def citation(self) -> str:
        return """
@misc{kusupati2024matryoshka,
    title={Matryoshka Representation Learning},
    author={Aditya Kusupati and Gantavya Bhatt and Aniket Rege and Matthew Wallingford and Aditya Sinha and Vivek Ramanujan and William Howard-Snyder and Kaifeng Chen and Sham Kakade and Prateek Jain and Ali Farhadi},
    year={2024},
    eprint={2205.13147},
    archivePrefix={arXiv},
    primaryClass={cs.LG}
}
"""
