"""2D Matryoshka loss: train shallower layers and shorter embeddings at once.

Registered as ``matryoshka_2d`` (alias ``Matryoshka2dLoss``).
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

from torch import nn

from sentrix_builtins.losses.adaptive_layer import AdaptiveLayerLoss, resolve_inner_loss
from sentrix_builtins.losses.matryoshka import MatryoshkaLoss


class Matryoshka2dLoss(AdaptiveLayerLoss):
    """Matryoshka over embedding sizes inside an adaptive-layer loss over depths (2D Matryoshka).

    ``matryoshka_2d(model, loss, dims)`` is ``adaptive_layer(model, matryoshka(model, loss, dims))``:
    each step the inner loss is computed on truncated embeddings (``n_dims_per_step`` of the
    ``matryoshka_dims``, chosen at random) of the last layer and of ``n_layers_per_step`` randomly
    chosen shallower layers, plus the KL term that pulls the shallower layers towards the last.
    The resulting model can be cut in depth and in width at inference. The transformer runs once
    per step; every depth and width is served from that forward.

    Inputs:
        Whatever the wrapped ``loss`` needs (its data needs are copied).

    Sampler:
        The wrapped loss's (``no_duplicates`` for in-batch-negative losses).

    Args:
        model: the model to train; its first module must be a Transformer.
        loss: the inner loss instance (built with the same model) or a registered loss name.
            Gradient-cache losses (``Cached...``) cannot be wrapped.
        matryoshka_dims: the embedding sizes to train, e.g. ``[768, 512, 256, 128, 64]``; include
            the full size.
        matryoshka_weights: one weight per size, default all 1.
        n_layers_per_step: shallower layers trained per step, default 1; ``-1`` = all.
        n_dims_per_step: sizes trained per step, default 1; ``-1`` = all.
        last_layer_weight: weight of the last layer's loss, default 1.0.
        prior_layers_weight: weight of the shallower layers' losses, default 1.0.
        kl_div_weight: weight of the KL term, default 1.0.
        kl_temperature: temperature of the KL term, default 0.3; ``0`` turns it off.
        layer_weighting: ``"uniform"`` (default), ``"log"``, ``"linear"`` or a callable
            ``layer -> weight`` (see ``adaptive_layer``).

    Example:
        .. code-block:: python

            from datasets import Dataset
            from sentrix import SentenceTransformer, SentenceTransformerTrainer
            from sentrix.losses import Matryoshka2dLoss, MultipleNegativesRankingLoss

            model = SentenceTransformer("sentence-transformers/all-MiniLM-L6-v2")
            train = Dataset.from_dict({
                "anchor": ["What is the capital of France?", "Who wrote Hamlet?"],
                "positive": ["Paris is the capital of France.", "Hamlet was written by Shakespeare."],
            })
            loss = Matryoshka2dLoss(model, MultipleNegativesRankingLoss(model), matryoshka_dims=[384, 256, 128, 64])
            trainer = SentenceTransformerTrainer(model=model, train_dataset=train, loss=loss)
            trainer.train()

    References:
        Li et al., "2D Matryoshka Sentence Embeddings", 2024, https://arxiv.org/abs/2402.14776
    """

    def __init__(
        self,
        model: nn.Module,
        loss: nn.Module | str,
        matryoshka_dims: Sequence[int],
        matryoshka_weights: Sequence[float] | Sequence[int] | None = None,
        n_layers_per_step: int = 1,
        n_dims_per_step: int = 1,
        last_layer_weight: float = 1.0,
        prior_layers_weight: float = 1.0,
        kl_div_weight: float = 1.0,
        kl_temperature: float = 0.3,
        layer_weighting: str | Callable[[int], float] = "uniform",
    ) -> None:
        inner = resolve_inner_loss(model, loss, "Matryoshka2dLoss")
        matryoshka = MatryoshkaLoss(
            model, inner, matryoshka_dims, matryoshka_weights=matryoshka_weights, n_dims_per_step=n_dims_per_step
        )
        super().__init__(
            model,
            matryoshka,
            n_layers_per_step=n_layers_per_step,
            last_layer_weight=last_layer_weight,
            prior_layers_weight=prior_layers_weight,
            kl_div_weight=kl_div_weight,
            kl_temperature=kl_temperature,
            layer_weighting=layer_weighting,
        )

    @classmethod
    def contract_example(cls, model: nn.Module) -> "Matryoshka2dLoss":
        from sentrix.plugin_api import embedding_dimension_of, get_registry

        full = embedding_dimension_of(model) or 32
        inner = get_registry("losses").create("multiple_negatives_ranking", model=model)
        return cls(model, inner, matryoshka_dims=sorted({full, max(1, full // 2), max(1, full // 4)}, reverse=True))

    def get_config_dict(self) -> dict[str, Any]:
        return {**super().get_config_dict(), **self.loss.get_config_dict()}
