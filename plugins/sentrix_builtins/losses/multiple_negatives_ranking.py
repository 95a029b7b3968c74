"""Multiple negatives ranking loss (InfoNCE with in-batch negatives).

Registered as ``multiple_negatives_ranking`` (alias ``MultipleNegativesRankingLoss``). The
option checks and the chunkable score computation here are shared with the cached and symmetric
variants (``cached_multiple_negatives_ranking``, ``multiple_negatives_symmetric_ranking``).
"""

from __future__ import annotations

import logging
from typing import Any, Callable, Literal

import torch
from torch import Tensor, nn

from sentrix.plugin_api import (
    DataNeeds,
    InvalidInputError,
    check_loss_inputs,
    cos_sim,
    embed_columns,
    function_name,
    gather_with_grad,
    process_rank,
    resolve_similarity_fn,
)

logger = logging.getLogger(__name__)

Direction = Literal["query_to_doc", "query_to_query", "doc_to_query", "doc_to_doc"]
_DIRECTIONS = ("query_to_doc", "query_to_query", "doc_to_query", "doc_to_doc")
_HARDNESS_MODES = (None, "in_batch_negatives", "hard_negatives", "all_negatives")



def set_mnrl_options(
    loss: Any,
    owner: str,
    scale: float,
    directions: Any,
    partition_mode: str,
    hardness_mode: str | None,
    hardness_strength: float,
) -> None:
    """Check the options shared by the in-batch-negatives losses and store them on ``loss``."""
    if not scale > 0:
        raise InvalidInputError(f"{owner}: scale must be > 0 (an inverse temperature such as 20.0), got {scale!r}.")
    loss.scale = scale
    directions = tuple([directions] if isinstance(directions, str) else directions)
    unknown = [d for d in directions if d not in _DIRECTIONS]
    if not directions or unknown:
        raise InvalidInputError(
            f"{owner}: invalid directions {list(unknown) or directions!r}; choose from {list(_DIRECTIONS)} and "
            "include 'query_to_doc'."
        )
    if "query_to_doc" not in directions:
        raise InvalidInputError(
            f"{owner}: directions must include 'query_to_doc' (the term that holds the positive pair), got {list(directions)}."
        )
    loss.directions = directions
    if partition_mode not in ("joint", "per_direction"):
        raise InvalidInputError(f"{owner}: partition_mode must be 'joint' or 'per_direction', got {partition_mode!r}.")
    if partition_mode == "per_direction" and {"query_to_query", "doc_to_doc"} & set(directions):
        raise InvalidInputError(
            f"{owner}: partition_mode='per_direction' needs every direction's pool to contain the positive, which "
            "'query_to_query' and 'doc_to_doc' never do. Fix: use partition_mode='joint'."
        )
    loss.partition_mode = partition_mode
    if hardness_mode not in _HARDNESS_MODES:
        raise InvalidInputError(f"{owner}: hardness_mode must be one of {list(_HARDNESS_MODES)}, got {hardness_mode!r}.")
    if hardness_strength < 0.0:
        raise InvalidInputError(f"{owner}: hardness_strength must be >= 0, got {hardness_strength!r}.")
    if hardness_mode is not None and hardness_strength == 0.0:
        logger.warning(
            "%s: hardness_mode=%r has no effect while hardness_strength=0.0; set hardness_strength > 0 to weight "
            "hard negatives.",
            owner,
            hardness_mode,
        )
    loss.hardness_mode = hardness_mode
    loss.hardness_strength = hardness_strength


def gather_candidates(embeddings: list[Tensor], gather: bool) -> tuple[Tensor, list[Tensor], int]:
    """``(anchors, documents, offset)``: all processes' rows when ``gather``, and where this process's rows start."""
    anchors, documents = embeddings[0], list(embeddings[1:])
    if not gather:
        return anchors, documents, 0
    rows = anchors.size(0)
    return gather_with_grad(anchors), [gather_with_grad(d) for d in documents], process_rank() * rows


def mnrl_row_losses(loss: Any, anchors: Tensor, documents: list[Tensor], offset: int, begin: int, end: int) -> Tensor:
    """Per-row InfoNCE losses of this process's rows ``begin:end`` (global rows ``offset + begin ...``).

    ``anchors`` and ``documents`` hold every candidate (all processes' when gathered); ``loss``
    carries ``scale``, ``similarity_fct``, ``directions``, ``partition_mode``, ``hardness_mode``
    and ``hardness_strength``. Only ``end - begin`` rows of each score matrix are built, so the
    cached losses call this chunk by chunk.
    """
    total = anchors.size(0)
    device = anchors.device
    mine = torch.arange(offset + begin, offset + end, device=device)
    local = torch.arange(end - begin, device=device)
    my_anchors = anchors[mine]
    my_positives = documents[0][mine]
    all_documents = torch.cat(documents, dim=0) if len(documents) > 1 else documents[0]
    own = None
    if "doc_to_doc" in loss.directions or (loss.hardness_mode is not None and loss.hardness_strength > 0.0):
        own = torch.zeros(end - begin, total, dtype=torch.bool, device=device)
        own[local, mine] = True
        own = own.repeat(1, len(documents))

    logits: dict[str, Tensor] = {"query_to_doc": loss.similarity_fct(my_anchors, all_documents)}
    if "query_to_query" in loss.directions:
        q2q = loss.similarity_fct(my_anchors, anchors)
        logits["query_to_query"] = q2q.index_put((local, mine), q2q.new_tensor(float("-inf")))
    if "doc_to_query" in loss.directions:
        logits["doc_to_query"] = loss.similarity_fct(anchors, my_positives).T
    if "doc_to_doc" in loss.directions:
        logits["doc_to_doc"] = loss.similarity_fct(all_documents, my_positives).T.masked_fill(own, float("-inf"))

    penalty = None
    if loss.hardness_mode is not None and loss.hardness_strength > 0.0:
        penalty = loss.hardness_strength * logits["query_to_doc"].detach()
        if loss.hardness_mode == "hard_negatives":
            keep = own.clone()
            keep[:, :total] = False  # only the row's own hard negatives
        elif loss.hardness_mode == "in_batch_negatives":
            keep = ~own  # only other rows' documents
        else:  # all_negatives
            keep = torch.ones_like(own)
            keep[:, :total] = ~own[:, :total]  # everything but the positives
        penalty = penalty.masked_fill(~keep, 0.0)

    for key in logits:
        logits[key] = logits[key] * loss.scale
    if penalty is not None:
        logits["query_to_doc"] = logits["query_to_doc"] + penalty

    positive = logits["query_to_doc"][local, mine]
    if loss.partition_mode == "joint":
        log_partition = torch.logsumexp(torch.cat(list(logits.values()), dim=1), dim=1)
    else:
        log_partition = sum(torch.logsumexp(value, dim=1) for value in logits.values()) / len(logits)
    return log_partition - positive


class MultipleNegativesRankingLoss(nn.Module):
    """Rank each anchor's own positive above every other document in the batch (InfoNCE).

    For anchor ``a_i`` the candidates are all positives (and hard negatives, if given) of the
    batch; the loss is the cross-entropy of picking its own positive ``p_i`` from
    ``softmax(scale * sim(a_i, candidates))``. Every other row is a free negative, so bigger
    batches give a harder task and usually a better model.

    ``directions`` adds other candidate pools: ``query_to_query`` (other anchors),
    ``doc_to_query`` (the positive ranks its own anchor above the other anchors) and ``doc_to_doc``
    (other documents). ``partition_mode="joint"`` puts all pools in one softmax,
    ``"per_direction"`` averages one softmax per pool (the symmetric InfoNCE of Jina/GTE). With
    ``hardness_mode`` and ``hardness_strength > 0``, ``strength * stop_grad(sim)`` is added to the
    chosen negatives' logits, so harder negatives weigh more.

    Inputs:
        ===================================================  =====
        text columns                                         label
        ===================================================  =====
        ``(anchor, positive)``                               none
        ``(anchor, positive, negative)``                     none
        ``(anchor, positive, negative_1, ..., negative_n)``  none
        ===================================================  =====

    Sampler:
        ``no_duplicates``: a duplicate text in a batch becomes a false negative. Gradient
        accumulation adds no negatives; raise the batch size instead (``cached_multiple_negatives_ranking``
        does so in bounded memory).

    Args:
        model: the model to train.
        scale: inverse temperature multiplying the similarities; default 20.0 (temperature 0.05); must be > 0.
        similarity_fct: matrix similarity, a callable or a name (``"cos_sim"``, ``"dot_score"``...); default ``cos_sim``.
        gather_across_devices: in a distributed run, score this process's rows against the candidates of
            every process (more negatives); default False.
        directions: tuple of ``"query_to_doc"`` (required), ``"query_to_query"``, ``"doc_to_query"``,
            ``"doc_to_doc"``; default ``("query_to_doc",)``.
        partition_mode: ``"joint"`` (default, one softmax) or ``"per_direction"`` (one softmax per direction,
            averaged; not with ``query_to_query``/``doc_to_doc``).
        hardness_mode: None (default), ``"in_batch_negatives"`` (other rows' documents), ``"hard_negatives"``
            (the row's own negative columns) or ``"all_negatives"`` (both).
        hardness_strength: weight ``alpha`` of the hardness term, >= 0; default 0.0 (no effect).

    Example:
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

    References:
        Henderson et al., "Efficient Natural Language Response Suggestion for Smart Reply", 2017,
        https://arxiv.org/abs/1705.00652; van den Oord et al., "Representation Learning with
        Contrastive Predictive Coding", 2018 (InfoNCE); Li et al., "Towards General Text Embeddings
        with Multi-stage Contrastive Learning", 2023 (joint directions); Lan et al., 2025,
        https://arxiv.org/abs/2503.04812 (hardness weighting).
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
        self.similarity_fct = resolve_similarity_fn(similarity_fct, pairwise=False)
        self.gather_across_devices = gather_across_devices
        set_mnrl_options(self, "MultipleNegativesRankingLoss", scale, directions, partition_mode, hardness_mode, hardness_strength)

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
            raise InvalidInputError(
                f"MultipleNegativesRankingLoss needs at least 2 embedding columns (anchor, positive), got {len(embeddings)}."
            )
        anchors, documents, offset = gather_candidates(embeddings, self.gather_across_devices)
        rows = embeddings[0].size(0)
        return mnrl_row_losses(self, anchors, documents, offset, 0, rows).mean()

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
        """The paper of the variant the options select: GTE (all directions, joint), Jina (symmetric), else InfoNCE."""
        if set(self.directions) == set(_DIRECTIONS) and self.partition_mode == "joint":
            return """
@misc{li2023generaltextembeddingsmultistage,
      title={Towards General Text Embeddings with Multi-stage Contrastive Learning},
      author={Zehan Li and Xin Zhang and Yanzhao Zhang and Dingkun Long and Pengjun Xie and Meishan Zhang},
      year={2023},
      eprint={2308.03281},
      archivePrefix={arXiv},
      primaryClass={cs.CL},
      url={https://arxiv.org/abs/2308.03281},
}
"""
        if set(self.directions) == {"query_to_doc", "doc_to_query"} and self.partition_mode == "per_direction":
            return """
@misc{günther2024jinaembeddings28192token,
      title={Jina Embeddings 2: 8192-Token General-Purpose Text Embeddings for Long Documents},
      author={Michael Günther and Jackmin Ong and Isabelle Mohr and Alaeddine Abdessalem and Tanguy Abel and Mohammad Kalim Akram and Susana Guzman and Georgios Mastrapas and Saba Sturua and Bo Wang and Maximilian Werk and Nan Wang and Han Xiao},
      year={2024},
      eprint={2310.19923},
      archivePrefix={arXiv},
      primaryClass={cs.CL},
      url={https://arxiv.org/abs/2310.19923},
}
"""
        return """
@misc{oord2019representationlearningcontrastivepredictive,
      title={Representation Learning with Contrastive Predictive Coding},
      author={Aaron van den Oord and Yazhe Li and Oriol Vinyals},
      year={2019},
      eprint={1807.03748},
      archivePrefix={arXiv},
      primaryClass={cs.LG},
      url={https://arxiv.org/abs/1807.03748},
}
"""
