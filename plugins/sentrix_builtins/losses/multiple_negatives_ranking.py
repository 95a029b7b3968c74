"""Multiple negatives ranking loss (InfoNCE with in-batch negatives).

Registered as ``multiple_negatives_ranking`` (alias ``MultipleNegativesRankingLoss``).
"""

from __future__ import annotations

import logging
from typing import Any, Callable, Literal

import torch
from torch import Tensor, nn

from sentrix.data_needs import DataNeeds
from sentrix.embedding import check_loss_inputs, embed_columns, gather_with_grad, process_rank
from sentrix.similarity import cos_sim, function_name, resolve_similarity_fn

logger = logging.getLogger(__name__)

Direction = Literal["query_to_doc", "query_to_query", "doc_to_query", "doc_to_doc"]
_DIRECTIONS = ("query_to_doc", "query_to_query", "doc_to_query", "doc_to_doc")
_HARDNESS_MODES = (None, "in_batch_negatives", "hard_negatives", "all_negatives")


class MultipleNegativesRankingLoss(nn.Module):
    """Rank each anchor's own positive above every other document in the batch.

    **What it optimises.** For anchor ``a_i`` the candidates are all positives (and hard
    negatives, if given) of the batch; the loss is the cross-entropy of picking its own positive
    ``p_i`` from ``softmax(scale * sim(a_i, candidates))``. Every other row is a free negative, so
    bigger batches give a harder task and usually a better model.

    Optional extra terms (``directions``) add other candidate pools to the softmax:
    ``query_to_query`` (other anchors), ``doc_to_query`` (the positive ranks its own anchor above
    the other anchors) and ``doc_to_doc`` (other documents). ``partition_mode="joint"`` puts all
    pools in one softmax, ``"per_direction"`` averages one softmax per pool. ``hardness_mode``
    with ``hardness_strength > 0`` adds ``strength * stop_grad(sim)`` to the chosen negatives'
    logits, weighting harder negatives more.

    **Data it needs.**

    ===================================================  =====
    text columns                                         label
    ===================================================  =====
    ``(anchor, positive)``                               none
    ``(anchor, positive, negative_1, ..., negative_n)``  none
    ===================================================  =====

    **Sampler.** ``no_duplicates``: a duplicate text in a batch becomes a false negative.
    Gradient accumulation adds no negatives; raise the per-device batch size instead.

    **Parameters.** ``scale`` (20.0, inverse temperature; must be > 0), ``similarity_fct``
    (``cos_sim``; a matrix similarity callable or name), ``gather_across_devices`` (False; share
    candidates across processes in distributed runs), ``directions`` (``("query_to_doc",)``,
    which must be included), ``partition_mode`` (``"joint"``), ``hardness_mode`` (None),
    ``hardness_strength`` (0.0).

    **Related.** ``cached_multiple_negatives_ranking`` (same loss, large batches in little memory),
    ``multiple_negatives_symmetric_ranking``, ``gist_embed``; ``triplet`` for one negative and a margin.

    **Example.**

    .. code-block:: python

        from datasets import Dataset
        from sentrix import SentenceTransformer, SentenceTransformerTrainer, SentenceTransformerTrainingArguments
        from sentrix.losses import MultipleNegativesRankingLoss

        model = SentenceTransformer("sentence-transformers/all-MiniLM-L6-v2")
        train = Dataset.from_dict({
            "anchor": ["What is the capital of France?", "Who wrote Hamlet?"],
            "positive": ["Paris is the capital of France.", "Hamlet was written by Shakespeare."],
        })
        args = SentenceTransformerTrainingArguments("out", batch_sampler="no_duplicates")
        trainer = SentenceTransformerTrainer(model=model, args=args, train_dataset=train,
                                             loss=MultipleNegativesRankingLoss(model))
        trainer.train()

    **Reference.** Henderson et al., "Efficient Natural Language Response Suggestion for Smart
    Reply", 2017, https://arxiv.org/abs/1705.00652; van den Oord et al., "Representation Learning
    with Contrastive Predictive Coding", 2018 (InfoNCE).
    """

    data_needs = DataNeeds(
        text_columns=(2, None),
        roles=("anchor", "positive", "negative..."),
        label="none",
        in_batch_negatives=True,
        recommended_sampler="no_duplicates",
    )
    uses_embedding_helper = True

    def __init__(
        self,
        model: nn.Module,
        scale: float = 20.0,
        similarity_fct: Callable[[Tensor, Tensor], Tensor] = cos_sim,
        gather_across_devices: bool = False,
        directions: tuple[Direction, ...] = ("query_to_doc",),
        partition_mode: Literal["joint", "per_direction"] = "joint",
        hardness_mode: Literal["in_batch_negatives", "hard_negatives", "all_negatives"] | None = None,
        hardness_strength: float = 0.0,
    ) -> None:
        super().__init__()
        self.model = model
        if not scale > 0:
            raise ValueError(f"MultipleNegativesRankingLoss: scale must be > 0, got {scale!r}.")
        self.scale = scale
        self.similarity_fct = resolve_similarity_fn(similarity_fct, pairwise=False)
        self.gather_across_devices = gather_across_devices

        directions = tuple([directions] if isinstance(directions, str) else directions)
        unknown = [d for d in directions if d not in _DIRECTIONS]
        if not directions or unknown:
            raise ValueError(
                f"MultipleNegativesRankingLoss: invalid directions {list(unknown) or directions!r}; "
                f"choose from {list(_DIRECTIONS)} and include 'query_to_doc'."
            )
        if "query_to_doc" not in directions:
            raise ValueError(
                "MultipleNegativesRankingLoss: directions must include 'query_to_doc' (the term that holds the positive pair)."
            )
        self.directions = directions

        if partition_mode not in ("joint", "per_direction"):
            raise ValueError(
                f"MultipleNegativesRankingLoss: partition_mode must be 'joint' or 'per_direction', got {partition_mode!r}."
            )
        if partition_mode == "per_direction" and {"query_to_query", "doc_to_doc"} & set(directions):
            raise ValueError(
                "MultipleNegativesRankingLoss: partition_mode='per_direction' needs every direction's pool to contain "
                "the positive, which 'query_to_query' and 'doc_to_doc' never do. Use partition_mode='joint'."
            )
        self.partition_mode = partition_mode

        if hardness_mode not in _HARDNESS_MODES:
            raise ValueError(
                f"MultipleNegativesRankingLoss: hardness_mode must be one of {list(_HARDNESS_MODES)}, got {hardness_mode!r}."
            )
        if hardness_strength < 0.0:
            raise ValueError(f"MultipleNegativesRankingLoss: hardness_strength must be >= 0, got {hardness_strength!r}.")
        if hardness_mode is not None and hardness_strength == 0.0:
            logger.warning(
                "MultipleNegativesRankingLoss: hardness_mode=%r has no effect while hardness_strength=0.0; "
                "set hardness_strength > 0 to weight hard negatives.",
                hardness_mode,
            )
        self.hardness_mode = hardness_mode
        self.hardness_strength = hardness_strength

    @classmethod
    def contract_example(cls, model: nn.Module) -> "MultipleNegativesRankingLoss":
        return cls(model)

    def forward(self, sentence_features: list[dict[str, Tensor]], labels: Tensor | None = None) -> Tensor:
        check_loss_inputs(self, sentence_features, labels)
        embeddings = embed_columns(self.model, sentence_features)
        return self.compute_loss_from_embeddings(embeddings, labels)

    def compute_loss_from_embeddings(self, embeddings: list[Tensor], labels: Tensor | None = None) -> Tensor:
        """The loss for already computed ``[anchors, positives, *negatives]`` embeddings."""
        if len(embeddings) < 2:
            raise ValueError(f"MultipleNegativesRankingLoss needs at least 2 embedding columns, got {len(embeddings)}.")
        anchors, documents = embeddings[0], list(embeddings[1:])
        rows = anchors.size(0)
        offset = 0
        if self.gather_across_devices:
            anchors = gather_with_grad(anchors)
            documents = [gather_with_grad(d) for d in documents]
            offset = process_rank() * rows
        total = anchors.size(0)
        device = anchors.device
        mine = torch.arange(offset, offset + rows, device=device)
        local_rows = torch.arange(rows, device=device)
        my_anchors = anchors[mine]
        my_positives = documents[0][mine]
        all_documents = torch.cat(documents, dim=0)

        logits: dict[str, Tensor] = {"query_to_doc": self.similarity_fct(my_anchors, all_documents)}
        if "query_to_query" in self.directions:
            q2q = self.similarity_fct(my_anchors, anchors)
            logits["query_to_query"] = q2q.index_put((local_rows, mine), q2q.new_tensor(float("-inf")))
        if "doc_to_query" in self.directions:
            logits["doc_to_query"] = self.similarity_fct(anchors, my_positives).T
        if "doc_to_doc" in self.directions:
            d2d = self.similarity_fct(all_documents, my_positives).T
            own = torch.eye(total, device=device, dtype=torch.bool)[mine].repeat(1, len(documents))
            logits["doc_to_doc"] = d2d.masked_fill(own, float("-inf"))

        penalty = None
        if self.hardness_mode is not None and self.hardness_strength > 0.0:
            penalty = self.hardness_strength * logits["query_to_doc"].detach()
            own_docs = torch.eye(total, device=device, dtype=torch.bool)[mine].repeat(1, len(documents))
            if self.hardness_mode == "hard_negatives":
                keep = own_docs.clone()
                keep[:, :total] = False  # only the row's own hard negatives
            elif self.hardness_mode == "in_batch_negatives":
                keep = ~own_docs  # only other rows' documents
            else:  # all_negatives
                keep = torch.ones_like(own_docs)
                keep[:, :total] = ~own_docs[:, :total]  # everything but the positives
            penalty = penalty.masked_fill(~keep, 0.0)

        for key in logits:
            logits[key] = logits[key] * self.scale
        if penalty is not None:
            logits["query_to_doc"] = logits["query_to_doc"] + penalty

        positive = logits["query_to_doc"][local_rows, mine]
        if self.partition_mode == "joint":
            log_partition = torch.logsumexp(torch.cat(list(logits.values()), dim=1), dim=1)
        else:
            log_partition = sum(torch.logsumexp(value, dim=1) for value in logits.values()) / len(logits)
        return (log_partition - positive).mean()

    @property
    def temperature(self) -> float:
        return 1.0 / self.scale

    def get_config_dict(self) -> dict[str, Any]:
        return {
            "scale": self.scale,
            "similarity_fct": function_name(self.similarity_fct),
            "gather_across_devices": self.gather_across_devices,
            "directions": self.directions,
            "partition_mode": self.partition_mode,
            "hardness_mode": self.hardness_mode,
            "hardness_strength": self.hardness_strength,
        }

    @property
    def citation(self) -> str:
        return """
@misc{henderson2017efficient,
    title={Efficient Natural Language Response Suggestion for Smart Reply},
    author={Matthew Henderson and Rami Al-Rfou and Brian Strope and Yun-hsuan Sung and Laszlo Lukacs and Ruiqi Guo and Sanjiv Kumar and Balint Miklos and Ray Kurzweil},
    year={2017},
    eprint={1705.00652},
    archivePrefix={arXiv},
    primaryClass={cs.CL}
}
"""
