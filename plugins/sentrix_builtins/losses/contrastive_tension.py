"""Contrastive Tension (CT): unsupervised training with two copies of the model.

Registered as ``contrastive_tension`` (alias ``ContrastiveTensionLoss``). Also defines
:class:`ContrastiveTensionDataLoader`, the legacy loader that builds CT's pairs from a list of
sentences (``sentrix.losses.ContrastiveTensionDataLoader``).
"""

from __future__ import annotations

import copy
import random
from typing import Any, Iterator

import torch
from torch import Tensor, nn

from sentrix.plugin_api import DataNeeds, InputExample, InvalidInputError, check_loss_inputs, embed_columns


def identical_inputs(first: dict[str, Tensor], second: dict[str, Tensor]) -> Tensor:
    """1.0 where row ``i`` of the two tokenised columns holds the same tokens (padding ignored), else 0.0."""
    ids_a, ids_b = first["input_ids"], second["input_ids"]
    mask_a, mask_b = first.get("attention_mask"), second.get("attention_mask")
    if mask_a is not None and mask_b is not None:
        same = [torch.equal(a[ma], b[mb]) for a, ma, b, mb in zip(ids_a, mask_a.bool(), ids_b, mask_b.bool())]
        return torch.tensor(same, dtype=torch.float64)
    return (ids_a == ids_b).all(dim=1).double()


class ContrastiveTensionLoss(nn.Module):
    """Train a model against a frozen-start copy of itself on identical and different sentence pairs.

    At construction the loss makes a copy of the model (``model1``); the model itself is the
    second encoder. Each row pairs two sentences: ``model1`` embeds the first, the model the
    second, and the dot product of the two embeddings is a logit for "these are the same
    sentence", trained with a summed binary cross-entropy. Identical pairs are positives, others
    negatives (usually 1 positive in 8 rows). Both encoders are trained; after training, the
    model (the second encoder) is the one to keep. The copy is an ordinary submodule of the loss,
    so it is saved in the trainer's checkpoints and restored on resume.

    The pair labels may be given (1 = same sentence, 0 = different, e.g. from
    :class:`ContrastiveTensionDataLoader`); without labels they are derived from the inputs:
    a pair is positive when both columns hold the same tokens.

    Inputs:
        ===============================  =====================================================
        text columns                     label
        ===============================  =====================================================
        ``(sentence_A, sentence_B)``     optional: 1 if the two are the same sentence, else 0
        ===============================  =====================================================

    Sampler:
        ``batch_sampler`` (the default); the rows are independent pairs. Build the pairs so that
        about one row in ``pos_neg_ratio`` is identical (:class:`ContrastiveTensionDataLoader`
        does this for the legacy ``model.fit`` API).

    Args:
        model: the model to train (the second encoder); a copy of it becomes the first.

    Example:
        .. code-block:: python

            import random
            from datasets import Dataset
            from sentrix import SentenceTransformer, SentenceTransformerTrainer
            from sentrix.losses import ContrastiveTensionLoss

            model = SentenceTransformer("sentence-transformers/all-MiniLM-L6-v2")
            sentences = ["A man is eating food.", "A monkey is playing drums.", "The cat sits on the mat.",
                         "Children play in the park.", "A woman plays the violin.", "It is raining."]
            rows = [(s, s if i % 4 == 0 else random.choice(sentences)) for i, s in enumerate(sentences)]
            train = Dataset.from_dict({"sentence_A": [a for a, _ in rows], "sentence_B": [b for _, b in rows]})
            trainer = SentenceTransformerTrainer(model=model, train_dataset=train, loss=ContrastiveTensionLoss(model))
            trainer.train()

    References:
        Carlsson et al., "Semantic Re-tuning with Contrastive Tension", ICLR 2021,
        https://openreview.net/forum?id=Ov_sMNau-PF
    """

    data_needs = DataNeeds(
        text_columns=2,
        roles=("sentence_A", "sentence_B"),
        label="any",
        label_detail="optional: 1 when the two sentences are the same, else 0; derived from the inputs when absent",
        recommended_sampler="batch_sampler",
    )

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model
        self.model1 = copy.deepcopy(model)

    @property
    def model2(self) -> nn.Module:
        """The model being trained (sentence-transformers' name for the second encoder)."""
        return self.model

    @classmethod
    def contract_example(cls, model: nn.Module) -> "ContrastiveTensionLoss":
        return cls(model)

    def forward(self, sentence_features: list[dict[str, Tensor]], labels: Tensor | None = None) -> Tensor:
        check_loss_inputs(self, sentence_features, labels, require_labels=False)
        first, second = tuple(sentence_features)
        embeddings_1 = embed_columns(self.model1, [first])[0]
        embeddings_2 = embed_columns(self.model, [second])[0]
        logits = torch.matmul(embeddings_1[:, None], embeddings_2[:, :, None]).squeeze(-1).squeeze(-1)
        if labels is None:
            labels = identical_inputs(first, second)
        targets = labels.reshape(-1).to(device=logits.device, dtype=logits.dtype)
        if targets.numel() != logits.numel():
            raise InvalidInputError(
                f"ContrastiveTensionLoss got {targets.numel()} labels for {logits.numel()} pairs. Fix: give one label "
                "per row (1 for identical sentences, 0 otherwise), or none at all."
            )
        return nn.functional.binary_cross_entropy_with_logits(logits, targets, reduction="sum")

    def get_config_dict(self) -> dict[str, Any]:
        return {}

    @property
    def citation(self) -> str:
        return CITATION


CITATION = """
@inproceedings{carlsson2021semantic,
    title={Semantic Re-tuning with Contrastive Tension},
    author={Fredrik Carlsson and Amaru Cuba Gyllensten and Evangelia Gogoulou and Erik Ylip{\\"a}{\\"a} Hellqvist and Magnus Sahlgren},
    booktitle={International Conference on Learning Representations},
    year={2021},
    url={https://openreview.net/forum?id=Ov_sMNau-PF}
}
"""


class ContrastiveTensionDataLoader:
    """Batches of Contrastive Tension pairs from a plain list of sentences (legacy ``model.fit`` API).

    Every epoch shuffles ``sentences`` in place with Python's ``random`` and walks through them:
    in each batch, rows ``0, pos_neg_ratio, 2 * pos_neg_ratio, ...`` pair a sentence with itself
    (label 1), the other rows pair it with the next sentence (label 0). Batches are lists of
    ``InputExample`` (or whatever ``collate_fn`` makes of them, when set). Only full batches are
    produced; ``len()`` says how many.

    Args:
        sentences: the training sentences (shuffled in place every epoch).
        batch_size: pairs per batch; must be a multiple of ``pos_neg_ratio``.
        pos_neg_ratio: one identical pair every this many rows, default 8.

    Example:
        .. code-block:: python

            from sentrix import SentenceTransformer
            from sentrix.losses import ContrastiveTensionDataLoader, ContrastiveTensionLoss

            model = SentenceTransformer("sentence-transformers/all-MiniLM-L6-v2")
            sentences = [f"Sentence number {i}." for i in range(100)]
            loader = ContrastiveTensionDataLoader(sentences, batch_size=16, pos_neg_ratio=4)
            model.fit(train_objectives=[(loader, ContrastiveTensionLoss(model))], epochs=1)
    """

    def __init__(self, sentences: list[str], batch_size: int, pos_neg_ratio: int = 8) -> None:
        if not isinstance(batch_size, int) or batch_size < 1:
            raise InvalidInputError(
                f"ContrastiveTensionDataLoader: batch_size={batch_size!r} must be a positive integer."
            )
        if not isinstance(pos_neg_ratio, int) or pos_neg_ratio < 1:
            raise InvalidInputError(
                f"ContrastiveTensionDataLoader: pos_neg_ratio={pos_neg_ratio!r} must be a positive integer (one identical "
                "pair every pos_neg_ratio rows)."
            )
        if batch_size % pos_neg_ratio != 0:
            raise InvalidInputError(
                f"ContrastiveTensionDataLoader: batch_size={batch_size} is not a multiple of pos_neg_ratio={pos_neg_ratio}. "
                f"Fix: use a batch size such as {max(pos_neg_ratio, batch_size - batch_size % pos_neg_ratio)}."
            )
        self.sentences = sentences
        self.batch_size = batch_size
        self.pos_neg_ratio = pos_neg_ratio
        self.collate_fn = None

    def __iter__(self) -> Iterator[Any]:
        random.shuffle(self.sentences)
        stream = iter(self.sentences)
        for _ in range(len(self)):
            batch = []
            for row in range(self.batch_size):
                sentence = next(stream)
                same = row % self.pos_neg_ratio == 0
                batch.append(InputExample(texts=[sentence, sentence if same else next(stream)], label=int(same)))
            yield self.collate_fn(batch) if self.collate_fn is not None else batch

    def __len__(self) -> int:
        per_batch = 2 * self.batch_size - self.batch_size // self.pos_neg_ratio
        return len(self.sentences) // per_batch
