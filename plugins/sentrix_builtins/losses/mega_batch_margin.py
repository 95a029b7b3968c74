"""MegaBatchMargin loss: triplet margins with the hardest in-batch negative, over very large batches.

Registered as ``mega_batch_margin`` (alias ``MegaBatchMarginLoss``).
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from sentrix.plugin_api import (
    CachedLossMixin,
    DataNeeds,
    InvalidInputError,
    check_loss_inputs,
    cos_sim,
    embed_columns,
    has_static_embedding_input,
    validate_mini_batch_options,
)


class MegaBatchMarginLoss(CachedLossMixin, nn.Module):
    """For each (anchor, positive) pair, mine the hardest other positive of the batch and apply two margins.

    For anchor ``a_i`` the hardest negative is the positive ``p_j`` (``j != i``) with the highest
    cosine similarity. The loss per row is
    ``relu(positive_margin - cos(a_i, p_i)) + relu(cos(a_i, p_j) - negative_margin)``, summed
    and divided by the batch size. The negatives only get hard in large batches (500 or more),
    so by default the batch is embedded with a gradient cache: in mini-batches without a graph,
    then re-embedded mini-batch by mini-batch with a graph during the backward pass. The loss and
    gradients do not change; the price is a second forward.

    Inputs:
        ======================  =====
        text columns            label
        ======================  =====
        ``(anchor, positive)``  none
        ======================  =====

    Sampler:
        ``no_duplicates``: a duplicate positive would be mined as the hardest negative.

    Args:
        model: the model to train.
        positive_margin: ``cos(anchor, positive)`` should exceed this; default 0.8.
        negative_margin: ``cos(anchor, hardest negative)`` should stay below this; default 0.3.
        use_mini_batched_version: embed with the gradient cache (memory bounded by ``mini_batch_size``);
            default True. False embeds the whole batch at once (faster, more memory).
        mini_batch_size: rows per chunk of the similarity matrix, and the size of each forward pass: about this
            many rows of the column's mean length (rows grouped by length, see ``sentrix.gradcache``); default 50.
        mini_batch_num_tokens: if set, mini-batches of at most this many real tokens instead; default None.
        show_progress_bar: show a progress bar over the mini-batches; default False.

    Example:
        .. code-block:: python

            from datasets import Dataset
            from sentrix import SentenceTransformer, SentenceTransformerTrainer, SentenceTransformerTrainingArguments
            from sentrix.losses import MegaBatchMarginLoss

            model = SentenceTransformer("sentence-transformers/all-MiniLM-L6-v2")
            train = Dataset.from_dict({
                "anchor": [f"This is sentence number {i}" for i in range(500)],
                "positive": [f"This is sentence number {i}" for i in range(1, 501)],
            })
            args = SentenceTransformerTrainingArguments("out", per_device_train_batch_size=250)
            trainer = SentenceTransformerTrainer(model=model, args=args, train_dataset=train,
                                                 loss=MegaBatchMarginLoss(model, mini_batch_size=32))
            trainer.train()

    References:
        Wieting and Gimpel, "ParaNMT-50M: Pushing the Limits of Paraphrastic Sentence Embeddings with
        Millions of Machine Translations", ACL 2018, https://aclanthology.org/P18-1042
    """

    data_needs = DataNeeds(
        text_columns=2,
        roles=("anchor", "positive"),
        label="none",
        in_batch_negatives=True,
        recommended_sampler="no_duplicates",
    )

    def __init__(
        self,
        model: nn.Module,
        positive_margin: float = 0.8,
        negative_margin: float = 0.3,
        use_mini_batched_version: bool = True,
        mini_batch_size: int = 50,
        mini_batch_num_tokens: int | None = None,
        show_progress_bar: bool = False,
    ) -> None:
        super().__init__()
        if use_mini_batched_version and has_static_embedding_input(model):
            raise InvalidInputError(
                "MegaBatchMarginLoss: the mini-batched version cannot cut the inputs of a StaticEmbedding model into "
                "mini-batches. Fix: pass use_mini_batched_version=False."
            )
        validate_mini_batch_options("MegaBatchMarginLoss", mini_batch_size, mini_batch_num_tokens)
        self.model = model
        self.positive_margin = positive_margin
        self.negative_margin = negative_margin
        self.use_mini_batched_version = use_mini_batched_version
        self.uses_gradient_cache = use_mini_batched_version
        self.mini_batch_size = mini_batch_size
        self.mini_batch_num_tokens = mini_batch_num_tokens
        self.show_progress_bar = show_progress_bar
        # Without the cache the loss reads all its embeddings through the shared helper.
        self.uses_embedding_helper = not use_mini_batched_version

    @classmethod
    def contract_example(cls, model: nn.Module) -> "MegaBatchMarginLoss":
        return cls(model, mini_batch_size=2)

    def calculate_loss(self, reps: list[list[Tensor]], labels: Tensor | None = None, *, with_backward: bool = False) -> Tensor:
        """The margin loss of the whole batch, ``mini_batch_size`` anchors at a time when that frees memory."""
        anchors, positives = torch.cat(reps[0]), torch.cat(reps[1])
        rows = anchors.size(0)
        # Chunking saves memory only when each chunk's graph is released at once (backward here, or no graph).
        chunk = self.mini_batch_size if with_backward or not torch.is_grad_enabled() else rows
        parts = []
        for begin in range(0, rows, chunk):
            end = min(begin + chunk, rows)
            local = torch.arange(end - begin, device=anchors.device)
            scores = cos_sim(anchors[begin:end], positives)
            positive = scores[local, local + begin]
            hardest = scores.index_put((local, local + begin), scores.new_tensor(float("-inf"))).max(dim=1).values
            part = (F.relu(self.positive_margin - positive) + F.relu(hardest - self.negative_margin)).sum() / rows
            if with_backward:
                part.backward()
                part = part.detach()
            parts.append(part)
        return sum(parts)

    def forward(self, sentence_features: list[dict[str, Tensor]], labels: Tensor | None = None) -> Tensor:
        check_loss_inputs(self, sentence_features, labels)
        if self.use_mini_batched_version:
            return self.forward_cached(sentence_features, labels)
        return self.calculate_loss([[e] for e in embed_columns(self.model, sentence_features)])

    def get_config_dict(self) -> dict[str, Any]:
        return {
            "positive_margin": self.positive_margin,
            "negative_margin": self.negative_margin,
            "mini_batch_size": self.mini_batch_size,
            "mini_batch_num_tokens": self.mini_batch_num_tokens,
        }

    @property
    def citation(self) -> str:
        return """
@inproceedings{wieting-gimpel-2018-paranmt,
    title = "{P}ara{NMT}-50{M}: Pushing the Limits of Paraphrastic Sentence Embeddings with Millions of Machine Translations",
    author = "Wieting, John and Gimpel, Kevin",
    editor = "Gurevych, Iryna and Miyao, Yusuke",
    booktitle = "Proceedings of the 56th Annual Meeting of the Association for Computational Linguistics (Volume 1: Long Papers)",
    month = jul,
    year = "2018",
    address = "Melbourne, Australia",
    publisher = "Association for Computational Linguistics",
    url = "https://aclanthology.org/P18-1042",
    doi = "10.18653/v1/P18-1042",
    pages = "451--462",
}
"""
