"""GISTEmbed loss: in-batch negatives filtered by a guide model.

Registered as ``gist_embed`` (alias ``GISTEmbedLoss``). The helpers here (guide checks, guide
features, the chunkable scores) are shared with ``cached_gist_embed``.
"""

from __future__ import annotations

import copy
from typing import Any, Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from sentrix.plugin_api import (
    DataNeeds,
    InvalidInputError,
    check_loss_inputs,
    embed_columns,
    gather_with_grad,
    model_device,
    process_rank,
)

MarginStrategy = Literal["absolute", "relative"]


def set_gist_options(loss: Any, owner: str, model: Any, guide: Any, temperature: float, margin_strategy: str, margin: float) -> None:
    """Check the guide and the margin options shared by the GIST losses and store them on ``loss``."""
    if not isinstance(guide, nn.Module) or not callable(guide):
        raise InvalidInputError(
            f"{owner}: guide must be a SentenceTransformer model (the frozen model that filters false negatives), got "
            f"{type(guide).__name__}. Fix: guide=SentenceTransformer('sentence-transformers/all-MiniLM-L6-v2')."
        )
    for who, m in (("model", model), ("guide", guide)):
        tokenizer = getattr(m, "tokenizer", None)
        if tokenizer is None or not hasattr(tokenizer, "get_vocab") or not hasattr(tokenizer, "batch_decode"):
            raise InvalidInputError(
                f"{owner}: the {who} needs a Hugging Face tokenizer (a `tokenizer` with get_vocab and batch_decode), so "
                "the guide can read the batch's texts. Fix: use transformer-based models for both."
            )
    if not temperature > 0:
        raise InvalidInputError(f"{owner}: temperature must be > 0 (e.g. 0.01), got {temperature!r}.")
    if margin_strategy not in ("absolute", "relative"):
        raise InvalidInputError(f"{owner}: margin_strategy must be 'absolute' or 'relative', got {margin_strategy!r}.")
    loss.guide = guide
    loss.temperature = temperature
    loss.margin_strategy = margin_strategy
    loss.margin = margin
    guide_length, model_length = getattr(guide, "max_seq_length", None), getattr(model, "max_seq_length", None)
    shorter = guide_length is not None and model_length is not None and guide_length < model_length
    loss.must_retokenize = model.tokenizer.get_vocab() != guide.tokenizer.get_vocab() or shorter
    if loss.must_retokenize:
        loss.tokenizer = model.tokenizer
        if type(model[0]).__name__ == "StaticEmbedding":
            raise InvalidInputError(
                f"{owner}: the guide tokenises differently from the model, so the batch's texts must be decoded and "
                "re-tokenised, which a StaticEmbedding model's inputs do not allow. Fix: use a guide with the same "
                "tokenizer and max_seq_length."
            )


def guide_features(loss: Any, features: dict[str, Any]) -> dict[str, Any]:
    """The features to embed ``features``' texts with the guide: a shallow copy, or re-tokenised texts."""
    if not loss.must_retokenize:
        return dict(features)
    texts = loss.tokenizer.batch_decode(features["input_ids"], skip_special_tokens=True)
    guide = loss.guide
    tokenised = guide.preprocess(texts) if hasattr(guide, "preprocess") else guide.tokenize(texts)
    device = model_device(guide)
    return {k: (v.to(device) if isinstance(v, Tensor) else v) for k, v in tokenised.items()}


def _sim(a: Tensor, b: Tensor) -> Tensor:
    return F.cosine_similarity(a.unsqueeze(1), b.unsqueeze(0), dim=-1)


def gist_chunk_loss(
    loss: Any,
    anchors: Tensor,
    anchors_guide: Tensor,
    candidates: list[Tensor],
    candidates_guide: list[Tensor],
    offset: int,
    begin: int,
    end: int,
) -> Tensor:
    """Summed cross-entropy of this process's anchors ``begin:end`` (candidates may be gathered; anchors are local)."""
    rows = end - begin
    device = anchors.device
    local = torch.arange(rows, device=device)
    targets = offset + begin + local

    guided_ap = _sim(anchors_guide[begin:end], candidates_guide[0])
    threshold = guided_ap[local, targets].view(-1, 1)
    if loss.margin_strategy == "absolute":
        limit = threshold - loss.margin
    else:
        limit = threshold - threshold.abs() * loss.margin

    def filtered(scores: Tensor, guided: Tensor, protect: Tensor | None = None) -> Tensor:
        drop = guided > limit
        if protect is not None:
            drop = drop & ~protect
        return scores.masked_fill(drop, float("-inf"))

    positive = torch.zeros_like(guided_ap, dtype=torch.bool)
    positive[local, targets] = True
    scores = [filtered(_sim(anchors[begin:end], candidates[0]), guided_ap, positive)]
    if loss.contrast_anchors:
        scores.append(filtered(_sim(anchors[begin:end], anchors), _sim(anchors_guide[begin:end], anchors_guide)))
    if loss.contrast_positives:
        mine = slice(offset + begin, offset + end)
        scores.append(filtered(_sim(candidates[0][mine], candidates[0]), _sim(candidates_guide[0][mine], candidates_guide[0])))
    for negatives, negatives_guide in zip(candidates[1:], candidates_guide[1:]):
        scores.append(filtered(_sim(anchors[begin:end], negatives), _sim(anchors_guide[begin:end], negatives_guide)))
    logits = torch.cat(scores, dim=1) / loss.temperature
    return F.cross_entropy(logits, targets, reduction="sum")


def gather_gist_candidates(loss: Any, candidates: list[Tensor], candidates_guide: list[Tensor], rows: int):
    if not loss.gather_across_devices:
        return candidates, candidates_guide, 0
    return (
        [gather_with_grad(c) for c in candidates],
        [gather_with_grad(c) for c in candidates_guide],
        process_rank() * rows,
    )


def gist_config(loss: Any) -> dict[str, Any]:
    return {
        "guide": loss.guide,
        "temperature": loss.temperature,
        "margin_strategy": loss.margin_strategy,
        "margin": loss.margin,
        "contrast_anchors": loss.contrast_anchors,
        "contrast_positives": loss.contrast_positives,
        "gather_across_devices": loss.gather_across_devices,
    }


GIST_CITATION = """
@misc{solatorio2024gistembed,
    title={GISTEmbed: Guided In-sample Selection of Training Negatives for Text Embedding Fine-tuning},
    author={Aivin V. Solatorio},
    year={2024},
    eprint={2402.16829},
    archivePrefix={arXiv},
    primaryClass={cs.LG}
}
"""


class GISTEmbedLoss(nn.Module):
    """In-batch-negatives contrastive loss whose false negatives are removed by a frozen guide model.

    Like ``multiple_negatives_ranking``, each anchor must pick its positive among the batch's
    candidates (softmax over cosine similarities divided by ``temperature``). A guide model
    scores the same pairs; every candidate the guide finds more similar to the anchor than the
    anchor's own positive (``absolute``: above ``guide_sim(anchor, positive) - margin``;
    ``relative``: above ``guide_sim - |guide_sim| * margin``) is treated as a likely duplicate and
    dropped from the softmax. Optionally the other anchors and the other positives join the pool
    (``contrast_anchors``, ``contrast_positives``), filtered the same way. The guide is not trained.

    Inputs:
        ================================  =====
        text columns                      label
        ================================  =====
        ``(anchor, positive)``            none
        ``(anchor, positive, negative)``  none
        ================================  =====

    Sampler:
        ``no_duplicates``: the guide catches near-duplicates, exact duplicates are better avoided.

    Args:
        model: the model to train.
        guide: a frozen SentenceTransformer that filters false negatives; if its tokenizer or a shorter
            ``max_seq_length`` differs from the model's, the texts are decoded and re-tokenised for it.
        temperature: divides the cosine similarities; default 0.01 (scale 100); must be > 0.
        margin_strategy: ``"absolute"`` (default) or ``"relative"``, how ``margin`` lowers the filter threshold.
        margin: how far below the positive's guide similarity a candidate may score before it is dropped;
            default 0.0 (drop candidates the guide rates above the positive).
        contrast_anchors: also contrast each anchor with the other anchors; default True.
        contrast_positives: also contrast each positive with the other positives; default True.
        gather_across_devices: in a distributed run, use every process's candidates; default False.

    Example:
        .. code-block:: python

            from datasets import Dataset
            from sentrix import SentenceTransformer, SentenceTransformerTrainer
            from sentrix.losses import GISTEmbedLoss

            model = SentenceTransformer("sentence-transformers/all-MiniLM-L6-v2")
            guide = SentenceTransformer("sentence-transformers/all-MiniLM-L6-v2")
            train = Dataset.from_dict({
                "anchor": ["What is the capital of France?", "Who wrote Hamlet?"],
                "positive": ["Paris is the capital of France.", "Hamlet was written by Shakespeare."],
            })
            trainer = SentenceTransformerTrainer(model=model, train_dataset=train, loss=GISTEmbedLoss(model, guide))
            trainer.train()

    References:
        Solatorio, "GISTEmbed: Guided In-sample Selection of Training Negatives for Text Embedding
        Fine-tuning", 2024, https://arxiv.org/abs/2402.16829
    """

    data_needs = DataNeeds(
        text_columns=(2, 3),
        roles=("anchor", "positive", "negative"),
        label="none",
        in_batch_negatives=True,
        recommended_sampler="no_duplicates",
    )
    uses_embedding_helper = True

    def __init__(
        self,
        model: nn.Module,
        guide: nn.Module,
        temperature: float = 0.01,
        margin_strategy: MarginStrategy = "absolute",
        margin: float = 0.0,
        contrast_anchors: bool = True,
        contrast_positives: bool = True,
        gather_across_devices: bool = False,
    ) -> None:
        super().__init__()
        self.model = model
        set_gist_options(self, "GISTEmbedLoss", model, guide, temperature, margin_strategy, margin)
        self.contrast_anchors = contrast_anchors
        self.contrast_positives = contrast_positives
        self.gather_across_devices = gather_across_devices

    @classmethod
    def contract_example(cls, model: nn.Module) -> "GISTEmbedLoss":
        return cls(model, guide=copy.deepcopy(model))

    def forward(self, sentence_features: list[dict[str, Tensor]], labels: Tensor | None = None) -> Tensor:
        check_loss_inputs(self, sentence_features, labels)
        sentence_features = list(sentence_features)
        # The guide gets its own dicts: a model writes its outputs into the dict it is given.
        guide_inputs = [guide_features(self, f) for f in sentence_features]
        embeddings = embed_columns(self.model, sentence_features)
        with torch.no_grad():
            # Not packed: the guide's similarities are compared with a threshold, so a text that appears
            # twice in the batch must get bitwise equal guide embeddings (a tie stays a tie). Packed rows sit
            # at different offsets and can differ in the last bit; bucketed rows of equal length cannot.
            guide_embeddings = embed_columns(self.guide, guide_inputs, pack=False)
        rows = embeddings[0].size(0)
        candidates, candidates_guide, offset = gather_gist_candidates(self, embeddings[1:], guide_embeddings[1:], rows)
        total = gist_chunk_loss(self, embeddings[0], guide_embeddings[0], candidates, candidates_guide, offset, 0, rows)
        return total / rows

    def get_config_dict(self) -> dict[str, Any]:
        return gist_config(self)

    @property
    def citation(self) -> str:
        return GIST_CITATION
