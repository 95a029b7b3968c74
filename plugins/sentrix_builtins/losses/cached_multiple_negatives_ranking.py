"""Cached multiple negatives ranking loss: MNRL with a gradient cache, for batches far larger than memory.

Registered as ``cached_multiple_negatives_ranking`` (alias ``CachedMultipleNegativesRankingLoss``).
"""

from __future__ import annotations

from typing import Any, Callable, Literal

import torch
from torch import Tensor, nn

from sentrix.plugin_api import (
    CachedLossMixin,
    DataNeeds,
    InvalidInputError,
    check_loss_inputs,
    cos_sim,
    function_name,
    has_static_embedding_input,
    resolve_similarity_fn,
    validate_mini_batch_options,
)
from sentrix_builtins.losses.multiple_negatives_ranking import (
    Direction,
    gather_candidates,
    mnrl_row_losses,
    set_mnrl_options,
)


class CachedMultipleNegativesRankingLoss(CachedLossMixin, nn.Module):
    """MultipleNegativesRankingLoss with a gradient cache: the same loss, in memory bounded by the mini-batch.

    In-batch-negative losses improve with the batch size, but a plain forward keeps the whole
    batch's activations until the backward pass. This loss embeds the batch in mini-batches
    without a graph, computes the MNRL loss (in row chunks) and its gradients with respect to the
    embeddings, then re-embeds each mini-batch with a graph during the backward pass and feeds it
    the cached gradient (GradCache). Loss and gradients equal ``multiple_negatives_ranking``'s with
    the same options; each step costs roughly one extra forward pass.

    Inputs:
        ===================================================  =====
        text columns                                         label
        ===================================================  =====
        ``(anchor, positive)``                               none
        ``(anchor, positive, negative_1, ..., negative_n)``  none
        ===================================================  =====

    Sampler:
        ``no_duplicates``: duplicates in a batch become false negatives, and large batches (the
        point of this loss) make duplicates likely.

    Args:
        model: the model to train.
        scale: inverse temperature multiplying the similarities; default 20.0; must be > 0.
        similarity_fct: matrix similarity, a callable or a name; default ``cos_sim``.
        mini_batch_size: rows per chunk of the score matrix, and the size of each forward pass: about this many
            rows of the column's mean length (rows grouped by length, see ``sentrix.gradcache``); default 32.
            Bounds memory; larger is faster.
        mini_batch_num_tokens: if set, cut each column into mini-batches of at most this many real
            (non-padding) tokens instead of ``mini_batch_size`` rows (a longer single row still gets its own);
            default None.
        gather_across_devices: in a distributed run, score this process's rows against every process's
            candidates; default False.
        directions: as for ``multiple_negatives_ranking``; default ``("query_to_doc",)``.
        partition_mode: ``"joint"`` (default) or ``"per_direction"``.
        show_progress_bar: show a progress bar over the mini-batches; default False.
        hardness_mode: None (default), ``"in_batch_negatives"``, ``"hard_negatives"`` or ``"all_negatives"``.
        hardness_strength: weight of the hardness term, >= 0; default 0.0.

    Example:
        .. code-block:: python

            from datasets import Dataset
            from sentrix import SentenceTransformer, SentenceTransformerTrainer, SentenceTransformerTrainingArguments
            from sentrix.losses import CachedMultipleNegativesRankingLoss

            model = SentenceTransformer("sentence-transformers/all-MiniLM-L6-v2")
            train = Dataset.from_dict({
                "anchor": ["What is the capital of France?", "Who wrote Hamlet?"],
                "positive": ["Paris is the capital of France.", "Hamlet was written by Shakespeare."],
            })
            args = SentenceTransformerTrainingArguments("out", per_device_train_batch_size=1024,
                                                        batch_sampler="no_duplicates")
            loss = CachedMultipleNegativesRankingLoss(model, mini_batch_size=32)
            trainer = SentenceTransformerTrainer(model=model, args=args, train_dataset=train, loss=loss)
            trainer.train()

    References:
        Gao et al., "Scaling Deep Contrastive Learning Batch Size under Memory Limited Setup", 2021,
        https://arxiv.org/abs/2101.06983; Henderson et al., 2017, https://arxiv.org/abs/1705.00652.
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
        scale: float = 20.0,
        similarity_fct: Callable[[Tensor, Tensor], Tensor] = cos_sim,
        mini_batch_size: int = 32,
        mini_batch_num_tokens: int | None = None,
        gather_across_devices: bool = False,
        directions: tuple[Direction, ...] = ("query_to_doc",),
        partition_mode: Literal["joint", "per_direction"] = "joint",
        show_progress_bar: bool = False,
        hardness_mode: Literal["in_batch_negatives", "hard_negatives", "all_negatives"] | None = None,
        hardness_strength: float = 0.0,
    ) -> None:
        super().__init__()
        name = type(self).__name__
        if has_static_embedding_input(model):
            raise InvalidInputError(
                f"{name} cannot cut the inputs of a StaticEmbedding model into mini-batches (they have no batch axis). "
                "Fix: use MultipleNegativesRankingLoss, which needs no mini-batches."
            )
        validate_mini_batch_options(name, mini_batch_size, mini_batch_num_tokens)
        self.model = model
        self.similarity_fct = resolve_similarity_fn(similarity_fct, pairwise=False)
        self.gather_across_devices = gather_across_devices
        set_mnrl_options(self, name, scale, directions, partition_mode, hardness_mode, hardness_strength)
        self.mini_batch_size = mini_batch_size
        self.mini_batch_num_tokens = mini_batch_num_tokens
        self.show_progress_bar = show_progress_bar

    @classmethod
    def contract_example(cls, model: nn.Module) -> "CachedMultipleNegativesRankingLoss":
        return cls(model, mini_batch_size=2)

    def calculate_loss(self, reps: list[list[Tensor]], labels: Tensor | None = None, *, with_backward: bool = False) -> Tensor:
        """The MNRL loss of the whole batch, built ``mini_batch_size`` rows of the score matrix at a time."""
        embeddings = [torch.cat(column) for column in reps]
        anchors, documents, offset = gather_candidates(embeddings, self.gather_across_devices)
        rows = embeddings[0].size(0)
        parts = []
        for begin in range(0, rows, self.mini_batch_size):
            end = min(begin + self.mini_batch_size, rows)
            part = mnrl_row_losses(self, anchors, documents, offset, begin, end).sum() / rows
            if with_backward:
                part.backward(retain_graph=True)  # the gathered candidates are shared by every chunk
                part = part.detach()
            parts.append(part)
        return sum(parts)

    def forward(self, sentence_features: list[dict[str, Tensor]], labels: Tensor | None = None) -> Tensor:
        check_loss_inputs(self, sentence_features, labels)
        return self.forward_cached(sentence_features, labels)

    @property
    def temperature(self) -> float:
        return 1.0 / self.scale

    def get_config_dict(self) -> dict[str, Any]:
        return {
            "scale": self.scale,
            "similarity_fct": function_name(self.similarity_fct),
            "mini_batch_size": self.mini_batch_size,
            "mini_batch_num_tokens": self.mini_batch_num_tokens,
            "gather_across_devices": self.gather_across_devices,
            "directions": self.directions,
            "partition_mode": self.partition_mode,
            "hardness_mode": self.hardness_mode,
            "hardness_strength": self.hardness_strength,
        }

    @property
    def citation(self) -> str:
        return """
@misc{gao2021scaling,
    title={Scaling Deep Contrastive Learning Batch Size under Memory Limited Setup},
    author={Luyu Gao and Yunyi Zhang and Jiawei Han and Jamie Callan},
    year={2021},
    eprint={2101.06983},
    archivePrefix={arXiv},
    primaryClass={cs.LG}
}
"""
