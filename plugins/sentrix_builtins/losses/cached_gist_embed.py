"""Cached GISTEmbed loss: guide-filtered in-batch negatives with a gradient cache.

Registered as ``cached_gist_embed`` (alias ``CachedGISTEmbedLoss``).
"""

from __future__ import annotations

import copy
from typing import Any

import torch
from torch import Tensor, nn

from sentrix.plugin_api import (
    CachedLossMixin,
    DataNeeds,
    InvalidInputError,
    check_loss_inputs,
    embed_columns,
    has_static_embedding_input,
    validate_mini_batch_options,
)
from sentrix_builtins.losses.gist_embed import (
    GIST_CITATION,
    MarginStrategy,
    gather_gist_candidates,
    gist_chunk_loss,
    gist_config,
    guide_features,
    set_gist_options,
)


class CachedGISTEmbedLoss(CachedLossMixin, nn.Module):
    """GISTEmbedLoss with a gradient cache: guide-filtered in-batch negatives at batch sizes beyond memory.

    The loss of ``gist_embed`` (a frozen guide drops the candidates it rates at least as similar
    to the anchor as the anchor's own positive), computed the GradCache way: the batch is embedded
    in mini-batches without a graph (the guide embeds each mini-batch once, alongside), the loss
    and its gradients with respect to the embeddings are computed in row chunks, and each
    mini-batch is re-embedded with a graph during the backward pass. Same loss and gradients as
    ``gist_embed``; peak memory follows ``mini_batch_size``, not the batch. Unlike ``gist_embed`` it
    accepts any number of negative columns.

    Inputs:
        ===================================================  =====
        text columns                                         label
        ===================================================  =====
        ``(anchor, positive)``                               none
        ``(anchor, positive, negative_1, ..., negative_n)``  none
        ===================================================  =====

    Sampler:
        ``no_duplicates``: exact duplicates in a (large) batch are better avoided than filtered.

    Args:
        model: the model to train.
        guide: a frozen SentenceTransformer that filters false negatives (re-tokenised input if its
            tokenizer or shorter ``max_seq_length`` differs from the model's).
        temperature: divides the cosine similarities; default 0.01; must be > 0.
        mini_batch_size: rows per chunk of the score matrix, and the size of each forward pass: about this many
            rows of the column's mean length (rows grouped by length, see ``sentrix.gradcache``); default 32.
        mini_batch_num_tokens: if set, mini-batches of at most this many real tokens instead; default None.
        show_progress_bar: show a progress bar over the mini-batches; default False.
        margin_strategy: ``"absolute"`` (default) or ``"relative"``.
        margin: how far below the positive's guide similarity a candidate may score before it is dropped; default 0.0.
        contrast_anchors: also contrast each anchor with the other anchors; default True.
        contrast_positives: also contrast each positive with the other positives; default True.
        gather_across_devices: in a distributed run, use every process's candidates; default False.

    Example:
        .. code-block:: python

            from sentrix import SentenceTransformer
            from sentrix.losses import CachedGISTEmbedLoss

            model = SentenceTransformer("sentence-transformers/all-MiniLM-L6-v2")
            guide = SentenceTransformer("sentence-transformers/all-MiniLM-L6-v2")
            loss = CachedGISTEmbedLoss(model, guide, mini_batch_size=32)
            # train with per_device_train_batch_size=1024 and batch_sampler="no_duplicates"

    References:
        Solatorio, 2024, https://arxiv.org/abs/2402.16829 (GISTEmbed); Gao et al., 2021,
        https://arxiv.org/abs/2101.06983 (GradCache).
    """

    data_needs = DataNeeds(
        text_columns=(2, None),
        roles=("anchor", "positive", "negative..."),
        label="none",
        in_batch_negatives=True,
        recommended_sampler="no_duplicates",
    )

    def __init__(
        self,
        model: nn.Module,
        guide: nn.Module,
        temperature: float = 0.01,
        mini_batch_size: int = 32,
        mini_batch_num_tokens: int | None = None,
        show_progress_bar: bool = False,
        margin_strategy: MarginStrategy = "absolute",
        margin: float = 0.0,
        contrast_anchors: bool = True,
        contrast_positives: bool = True,
        gather_across_devices: bool = False,
    ) -> None:
        super().__init__()
        if has_static_embedding_input(model):
            raise InvalidInputError(
                "CachedGISTEmbedLoss cannot cut the inputs of a StaticEmbedding model into mini-batches. "
                "Fix: use GISTEmbedLoss."
            )
        validate_mini_batch_options("CachedGISTEmbedLoss", mini_batch_size, mini_batch_num_tokens)
        self.model = model
        set_gist_options(self, "CachedGISTEmbedLoss", model, guide, temperature, margin_strategy, margin)
        self.mini_batch_size = mini_batch_size
        self.mini_batch_num_tokens = mini_batch_num_tokens
        self.show_progress_bar = show_progress_bar
        self.contrast_anchors = contrast_anchors
        self.contrast_positives = contrast_positives
        self.gather_across_devices = gather_across_devices

    @classmethod
    def contract_example(cls, model: nn.Module) -> "CachedGISTEmbedLoss":
        return cls(model, guide=copy.deepcopy(model), mini_batch_size=2)

    def embed_minibatch_extra(self, minibatch: dict[str, Any]) -> Tensor:
        """The guide's embeddings of one mini-batch (step 1 only, no gradient)."""
        # not packed, so duplicate texts keep bitwise equal guide embeddings (see GISTEmbedLoss.forward)
        return embed_columns(self.guide, [guide_features(self, minibatch)], pack=False)[0]

    def calculate_loss(
        self,
        reps: list[list[Tensor]],
        labels: Tensor | None = None,
        *,
        with_backward: bool = False,
        extra_reps: list[list[Tensor]] | None = None,
    ) -> Tensor:
        """The GIST loss of the whole batch, ``mini_batch_size`` anchors at a time; ``extra_reps`` are the guide's."""
        if extra_reps is None:
            raise InvalidInputError("CachedGISTEmbedLoss.calculate_loss needs the guide's embeddings (extra_reps).")
        embeddings = [torch.cat(column) for column in reps]
        guided = [torch.cat(column) for column in extra_reps]
        rows = embeddings[0].size(0)
        candidates, candidates_guide, offset = gather_gist_candidates(self, embeddings[1:], guided[1:], rows)
        parts = []
        for begin in range(0, rows, self.mini_batch_size):
            end = min(begin + self.mini_batch_size, rows)
            part = gist_chunk_loss(self, embeddings[0], guided[0], candidates, candidates_guide, offset, begin, end) / rows
            if with_backward:
                part.backward(retain_graph=True)
                part = part.detach()
            parts.append(part)
        return sum(parts)

    def forward(self, sentence_features: list[dict[str, Tensor]], labels: Tensor | None = None) -> Tensor:
        check_loss_inputs(self, sentence_features, labels)
        return self.forward_cached(sentence_features, labels)

    def get_config_dict(self) -> dict[str, Any]:
        config = gist_config(self)
        return {
            "guide": config.pop("guide"),
            "temperature": config.pop("temperature"),
            "mini_batch_size": self.mini_batch_size,
            "mini_batch_num_tokens": self.mini_batch_num_tokens,
            **config,
        }

    @property
    def citation(self) -> str:
        return GIST_CITATION
