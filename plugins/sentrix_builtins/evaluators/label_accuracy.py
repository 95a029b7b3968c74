"""``label_accuracy``: accuracy of a softmax classification head on labelled sentence pairs.

Documented on the class below (``sentrix plugins show NAME`` prints it).
"""

from __future__ import annotations

import logging
import math
from typing import Any

import torch

from sentrix.plugin_api import InvalidInputError, SentenceEvaluator
from sentrix_builtins.evaluators._checks import problems_of

logger = logging.getLogger(__name__)

__all__ = ["LabelAccuracyEvaluator"]


class LabelAccuracyEvaluator(SentenceEvaluator):
    """Accuracy of a softmax classification head (e.g. ``SoftmaxLoss``) on labelled examples.

    Sets the model's collate function on ``dataloader`` (``model.smart_batching_collate``: texts
    tokenised per column, labels as a tensor), runs ``softmax_model(features, labels=None)`` on
    every batch without gradients, and counts the examples whose highest logit is the gold
    label. ``softmax_model`` is the classification loss trained alongside the model, typically
    ``SoftmaxLoss`` (``sentrix.losses.SoftmaxLoss``), which returns ``(embeddings, logits)`` when no
    labels are given. Results equal sentence-transformers 6.2's ``LabelAccuracyEvaluator``, CSV
    file included.

    With ``output_path`` and ``write_csv=True`` a row ``epoch, steps, accuracy`` is appended to
    ``accuracy_evaluation[_<name>]_results.csv``.

    Args:
        dataloader: a ``torch.utils.data.DataLoader`` over ``InputExample`` objects (``.texts`` and
            an integer class ``.label``); its ``collate_fn`` is replaced by the model's at each call.
        name: metric-key and file-name prefix, e.g. ``"nli-dev"``; default ``""``.
        softmax_model: the classification head: called as ``softmax_model(features, labels=None)``
            and returning ``(embeddings, logits)``; required (``None`` only keeps the argument
            order of sentence-transformers).
        write_csv: append results to a CSV file when ``output_path`` is given; default ``True``.

    Metrics:
        ``accuracy`` (share of examples whose arg-max logit equals the label), prefixed with
        ``name + "_"``, e.g. ``nli-dev_accuracy``. It is the ``primary_metric``; higher is better.

    Example:
        .. code-block:: python

            from torch.utils.data import DataLoader
            from sentrix import InputExample, SentenceTransformer
            from sentrix.evaluation import LabelAccuracyEvaluator
            from sentrix.losses import SoftmaxLoss

            model = SentenceTransformer("sentence-transformers/all-MiniLM-L6-v2")
            head = SoftmaxLoss(model, num_labels=3)
            examples = [
                InputExample(texts=["A man eats.", "A man is eating."], label=0),
                InputExample(texts=["A man eats.", "A woman sleeps."], label=2),
            ]
            evaluator = LabelAccuracyEvaluator(DataLoader(examples, batch_size=16), name="nli-dev", softmax_model=head)
            print(evaluator(model))      # {"nli-dev_accuracy": ...}

    References:
        sentence-transformers 6.2 ``LabelAccuracyEvaluator`` (same arguments, keys and CSV); Reimers &
        Gurevych, "Sentence-BERT", EMNLP 2019 (the softmax classification objective).
    """

    def __init__(self, dataloader: Any, name: str = "", softmax_model: Any = None, write_csv: bool = True) -> None:
        super().__init__()
        owner = type(self).__name__
        if dataloader is None or not hasattr(dataloader, "__iter__"):
            raise InvalidInputError(
                f"{owner}: dataloader must be a torch DataLoader over InputExample objects, got {dataloader!r}."
            )
        if not hasattr(dataloader, "collate_fn"):
            raise InvalidInputError(
                f"{owner}: dataloader has no `collate_fn`; wrap your examples in torch.utils.data.DataLoader(examples, "
                "batch_size=...) so the model's collate function can tokenise them."
            )
        if softmax_model is None or not callable(softmax_model):
            raise InvalidInputError(
                f"{owner}: softmax_model must be the classification head to evaluate (e.g. the SoftmaxLoss you train "
                f"with), got {softmax_model!r}. Pass softmax_model=SoftmaxLoss(model, ...)."
            )
        self._check_examples(owner, getattr(dataloader, "dataset", None))
        self.dataloader = dataloader
        self.name = name
        self.softmax_model = softmax_model
        self.write_csv = write_csv
        self.csv_file = "accuracy_evaluation" + (f"_{name}" if name else "") + "_results.csv"
        self.csv_headers = ["epoch", "steps", "accuracy"]
        self.primary_metric = "accuracy"

    @staticmethod
    def _check_examples(owner: str, dataset: Any) -> None:
        """When the loader's dataset is a plain sequence of examples, check texts and labels now."""
        if dataset is None or not hasattr(dataset, "__len__") or not hasattr(dataset, "__getitem__"):
            return
        if len(dataset) == 0:
            raise InvalidInputError(f"{owner}: the dataloader's dataset is empty; pass at least one InputExample.")
        if not isinstance(dataset, (list, tuple)):
            return
        for index, example in enumerate(dataset):
            texts = getattr(example, "texts", None)
            if texts is None or not hasattr(example, "label"):
                raise InvalidInputError(
                    f"{owner}: dataloader.dataset[{index}] is a {type(example).__name__}; each item must be an "
                    "InputExample with `texts` and an integer `label`."
                )
            for position, text in enumerate(texts):
                if text is None or (isinstance(text, str) and not text.strip()):
                    raise InvalidInputError(
                        f"{owner}: dataloader.dataset[{index}].texts[{position}] is "
                        f"{'None' if text is None else 'an empty string'}; every text must be non-empty. "
                        "Fill it in or drop that example."
                    )
            label = example.label
            try:
                number = float(label)
            except (TypeError, ValueError):
                number = math.nan
            if not math.isfinite(number) or number != int(number) or number < 0:
                raise InvalidInputError(
                    f"{owner}: dataloader.dataset[{index}].label = {label!r}; a label must be a class index "
                    "(an integer 0, 1, 2, ...). Map your labels to class indices first."
                )

    def check_inputs(self) -> list[str]:
        """Non-empty texts and class-index labels (run again by the trainer before training)."""
        return problems_of(self._check_examples, type(self).__name__, getattr(self.dataloader, "dataset", None))

    def __call__(self, model: Any, output_path: str | None = None, epoch: int = -1, steps: int = -1) -> dict[str, float]:
        model.eval()
        if epoch == -1:
            when = ":"
        elif steps == -1:
            when = f" after epoch {epoch}:"
        else:
            when = f" in epoch {epoch} after {steps} steps:"
        logger.info("Evaluation on the %s dataset%s", self.name, when)

        self.dataloader.collate_fn = model.smart_batching_collate
        device = model.device
        total = correct = 0
        for features, label_ids in self.dataloader:
            features = [{key: value.to(device) if hasattr(value, "to") else value for key, value in f.items()}
                        for f in features]
            label_ids = label_ids.to(device)
            with torch.no_grad():
                _, logits = self.softmax_model(features, labels=None)
            total += logits.size(0)
            correct += torch.argmax(logits, dim=1).eq(label_ids).sum().item()
        if total == 0:
            raise InvalidInputError(
                f"{type(self).__name__}: the dataloader yielded no examples; pass a DataLoader with at least one."
            )
        accuracy = correct / total
        logger.info("Accuracy: %.4f (%d/%d)\n", accuracy, correct, total)
        self.write_csv_row(output_path, [epoch, steps, accuracy])

        metrics = self.prefix_name_to_metrics({"accuracy": accuracy}, self.name)
        self.store_metrics_in_model_card_data(model, metrics, epoch, steps)
        return metrics

    @classmethod
    def contract_example(cls) -> "LabelAccuracyEvaluator":
        """Six labelled pairs and a 3-way ``softmax`` loss head on a tiny ``sentrix.testing`` model."""
        from torch.utils.data import DataLoader

        from sentrix.plugin_api import InputExample, get_registry, testing

        model = testing.tiny_models.tiny_sentence_transformer()
        torch.manual_seed(0)
        head = get_registry("losses").create("softmax", model=model, num_labels=3)
        rows = [
            (["a man is eating food", "a man eats"], 0),
            (["a man is eating food", "a woman sleeps"], 2),
            (["children play football", "kids play a game"], 0),
            (["children play football", "children are outside"], 1),
            (["the cat sits on the mat", "a dog runs"], 2),
            (["the cat sits on the mat", "an animal sits"], 1),
        ]
        examples = [InputExample(texts=texts, label=label) for texts, label in rows]
        return cls(DataLoader(examples, batch_size=4), name="label-accuracy-example", softmax_model=head)
