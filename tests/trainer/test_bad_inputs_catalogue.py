"""A catalogue of bad inputs: data, training arguments, model folders, evaluator inputs, plugins and output
folders. Each one stops with a message that names the input, says what was expected and gives the fix,
before anything is written: ``output_dir`` already holds the user's own files (a README.md, notes, data),
and every file and folder in it, and beside it, is byte-for-byte the same afterwards."""

from __future__ import annotations

import faulthandler
import math
import os
import re
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from datasets import Dataset, Features, IterableDataset, List, Value
from torch import nn
from trainer_helpers import make_args

from sentrix import SentenceTransformer, SentenceTransformerTrainer
from sentrix.data_needs import DataNeeds
from sentrix.errors import InvalidInputError, UnknownComponentError

TEXTS = [
    "a cat sat on the mat", "the dog runs in the park", "a man eats food", "red car on the road",
    "children play football", "the sun is hot today", "she reads a book", "the train is fast",
]
OTHER = [
    "a cat sits on the mat", "dogs run in the park", "the woman drinks water", "blue bus in the city",
    "kids play soccer", "it is cold at night", "a woman reads", "the plane is slow",
]
USER_FILES = {
    "README.md": b"# My experiments\n\nNotes I keep next to the model.\n",
    "notes.txt": b"lr 2e-5 worked best\n",
    "data/train.jsonl": b'{"anchor": "a", "positive": "b"}\n',
}


# -- fixtures and helpers -----------------------------------------------------------------------------
@pytest.fixture(scope="module")
def shared_model(tiny_folder):
    return SentenceTransformer(tiny_folder, device="cpu")


@dataclass
class Ctx:
    tmp: Path
    out: Path
    model: Any
    tiny_folder: str

    def args(self, **overrides: Any) -> Any:
        return make_args(self.tmp, **overrides)

    def trainer(self, train_dataset: Any = None, *, args: dict | None = None, **kwargs: Any) -> Any:
        return SentenceTransformerTrainer(
            model=kwargs.pop("model", self.model), args=self.args(**(args or {})),
            train_dataset=pairs() if train_dataset is None else train_dataset, **kwargs,
        )

    def train(self, train_dataset: Any = None, *, resume: Any = None, **kwargs: Any) -> None:
        self.trainer(train_dataset, **kwargs).train(resume_from_checkpoint=resume)

    def model_copy(self, name: str) -> Path:
        folder = self.tmp / name
        shutil.copytree(self.tiny_folder, folder)
        return folder


def pairs(n: int = 8, **columns: Any) -> Dataset:
    data = {"sentence1": TEXTS[:n], "sentence2": OTHER[:n], "score": [0.1 * (i + 1) for i in range(n)]}
    data.update(columns)
    return Dataset.from_dict({k: v for k, v in data.items() if v is not None})


def anchors(n: int = 8, **columns: Any) -> Dataset:
    data = {"anchor": TEXTS[:n], "positive": OTHER[:n]}
    data.update(columns)
    return Dataset.from_dict({k: v for k, v in data.items() if v is not None})


def nli(labels: list) -> Dataset:
    n = len(labels)
    return Dataset.from_dict({"premise": TEXTS[:n], "hypothesis": OTHER[:n], "label": labels})


def classes(labels: list) -> Dataset:
    return Dataset.from_dict({"text": (TEXTS * 4)[: len(labels)], "label": labels})


def replaced(values: list, at: dict[int, Any]) -> list:
    values = list(values)
    for index, value in at.items():
        values[index] = value
    return values


def softmax(ctx: Ctx, num_labels: int = 3) -> nn.Module:
    from sentrix.losses import SoftmaxLoss

    return SoftmaxLoss(ctx.model, num_labels=num_labels)


def snapshot(root: Path) -> dict[str, bytes | None]:
    """Every folder (None) and file (its bytes) under ``root``, by relative path."""
    found: dict[str, bytes | None] = {}
    for folder, dirs, files in os.walk(root):
        for name in dirs:
            found[os.path.relpath(os.path.join(folder, name), root)] = None
        for name in files:
            path = os.path.join(folder, name)
            found[os.path.relpath(path, root)] = Path(path).read_bytes()
    return found


@dataclass
class Case:
    run: Callable[[Ctx], Any]
    patterns: tuple[str, ...]  # each must be found in the message: the input, the expectation, the fix
    error: type[BaseException] = InvalidInputError


# -- third-party components that fail their own checks ----------------------------------------------
class PickyLoss(nn.Module):
    """A third-party loss whose own ``validate_dataset`` finds a problem."""

    data_needs = DataNeeds(text_columns=2, label="float")

    def __init__(self, model: Any, result: Any = None) -> None:
        super().__init__()
        self.model = model
        self.result = result

    def validate_dataset(self, dataset: Any, dataset_name: str) -> Any:
        if self.result is not None:
            return self.result
        return ["scores must be at most 0.5 for PickyLoss; rescale them, e.g. dataset.map(lambda r: {'score': r['score'] / 2})"]

    def forward(self, features: Any, labels: Any) -> Any:  # pragma: no cover - never reached
        raise AssertionError("trained on input that failed its check")


class ThreeColumnLoss(PickyLoss):
    """A third-party loss that declares (anchor, positive, negative) in its data needs."""

    data_needs = DataNeeds(text_columns=3, roles=("anchor", "positive", "negative"), label="none")

    def validate_dataset(self, dataset: Any, dataset_name: str) -> Any:
        return []


def picky_sampler_class() -> type:
    from sentrix.registry import batch_samplers

    base = batch_samplers.get("batch_sampler")

    class EvenRowsSampler(base):  # type: ignore[misc, valid-type]
        """A third-party sampler that only takes datasets with an even number of rows."""

        @classmethod
        def validate_dataset(cls, dataset, dataset_name, *, batch_size):
            if len(dataset) % 2:
                return [f"EvenRowsSampler needs an even number of rows, got {len(dataset)}; drop one row."]
            return []

    return EvenRowsSampler


class PickyEvaluator:
    """A third-party evaluator whose ``check_inputs`` reports a problem."""

    name = "picky"
    primary_metric = "score"

    def check_inputs(self) -> list[str]:
        return ["PickyEvaluator: queries are empty; pass at least one query (queries=[...])."]

    def __call__(self, model: Any, output_path: Any = None, epoch: int = -1, steps: int = -1) -> dict:  # pragma: no cover
        raise AssertionError("evaluated input that failed its check")


def with_validate_plugin(ctx: Ctx) -> None:
    from sentrix import hookimpl
    from sentrix.plugins import register_hook_plugin, unregister_hook_plugin

    class Plugin:
        @hookimpl
        def sentrix_validate_run(self, trainer):
            return [f"acme-policy: max_steps={trainer.args.max_steps} is below 10; set max_steps=10 or more."]

    plugin = Plugin()
    register_hook_plugin(plugin, name="acme-policy")
    try:
        ctx.train(args={"save_strategy": "steps", "save_steps": 1})
    finally:
        unregister_hook_plugin(plugin)


def mutated_evaluator(ctx: Ctx) -> None:
    from sentrix.evaluation import EmbeddingSimilarityEvaluator

    evaluator = EmbeddingSimilarityEvaluator(TEXTS[:3], OTHER[:3], [0.1, 0.5, 0.9], name="sts-dev")
    evaluator.sentences2[1] = ""  # data changed after the evaluator was built
    ctx.train(evaluator=evaluator, args={"eval_strategy": "steps", "eval_steps": 1})


def model_without(*names: str) -> Callable[[Ctx], Any]:
    def load(ctx: Ctx) -> Any:
        folder = ctx.model_copy("broken-model")
        for name in names:
            path = folder / name
            shutil.rmtree(path) if path.is_dir() else path.unlink()
        return SentenceTransformer(str(folder), device="cpu")

    return load


def model_with(name: str, content: bytes) -> Callable[[Ctx], Any]:
    def load(ctx: Ctx) -> Any:
        folder = ctx.model_copy("broken-model")
        (folder / name).write_bytes(content)
        return SentenceTransformer(str(folder), device="cpu")

    return load


def streamed(rows: list[dict]) -> IterableDataset:
    features = Features({key: Value("string") for key in rows[0]})
    return IterableDataset.from_generator(lambda: iter(rows), features=features)


# -- the catalogue ------------------------------------------------------------------------------------------
DATA = {
    # labels: kinds and ranges
    "softmax string labels": Case(
        lambda c: c.trainer(nli(["entailment", "neutral", "contradiction", "neutral"]), loss=softmax(c)),
        ("train_dataset: label column 'label' holds strings", r"needs integer class ids in \[0, 3\)", "class_encode_column"),
    ),
    "softmax class id above num_labels": Case(
        lambda c: c.trainer(nli([0, 1, 2, 7]), loss=softmax(c)),
        (r"label column 'label' holds class ids outside \[0, 3\) \(7\)", "num_labels=3", "pass num_labels=8"),
    ),
    "softmax negative class id": Case(
        lambda c: c.trainer(nli([0, 1, -2, 1]), loss=softmax(c)),
        (r"class ids outside \[0, 3\) \(-2\)", "renumber the labels from 0"),
    ),
    "softmax float labels": Case(
        lambda c: c.trainer(nli([0.0, 1.0, 2.0, 0.5]), loss=softmax(c)),
        ("label column 'label' holds floats", "needs integer class ids", r"cast_column\('label'"),
    ),
    "batch hard triplet string labels": Case(
        lambda c: c.trainer(classes(["cat", "dog"] * 4), loss="batch_hard_triplet"),
        ("label column 'label' holds strings", "BatchHardTripletLoss needs integer class ids", "class_encode_column"),
    ),
    "batch all triplet string labels": Case(
        lambda c: c.trainer(classes(["cat", "dog"] * 4), loss="batch_all_triplet"),
        ("holds strings", "BatchAllTripletLoss needs integer class ids", "class_encode_column"),
    ),
    "batch triplet single class": Case(
        lambda c: c.trainer(classes([3] * 8), loss="batch_semi_hard_triplet"),
        (r"has a single class \(3\)", "finds no negative", "add rows of other classes"),
    ),
    "batch triplet singleton classes": Case(
        lambda c: c.trainer(classes(list(range(8))), loss="batch_hard_soft_margin_triplet"),
        ("8 classes with one row each", "finds no positive", "at least 2 rows"),
    ),
    "batch triplet batch too small": Case(
        lambda c: c.trainer(classes([0, 1] * 4), loss="batch_hard_triplet", args={"per_device_train_batch_size": 2}),
        ("a batch of 2 rows cannot hold two rows of one class", "per_device_train_batch_size to at least 4"),
    ),
    "cosent string scores": Case(
        lambda c: c.trainer(pairs(score=None).add_column("score", ["0.5"] * 8), loss="cosent"),
        ("label column 'score' holds strings", "CoSENTLoss needs a float score", r"float\(r\['score'\]\)"),
    ),
    "cosent NaN score": Case(
        lambda c: c.trainer(pairs(score=replaced([0.5] * 8, {2: math.nan})), loss="cosent"),
        (r"label column 'score' has 1 non-finite value\(s\) \(NaN or inf\) at rows \[2\]", "math.isfinite"),
    ),
    "cosine similarity inf score": Case(
        lambda c: c.trainer(pairs(score=replaced([0.5] * 8, {5: math.inf})), loss="cosine_similarity"),
        (r"at rows \[5\]", "would make the loss NaN", "drop or repair them"),
    ),
    "label for a loss without labels": Case(
        lambda c: c.trainer(pairs(), loss="multiple_negatives_ranking"),
        ("has a label column 'score'", "MultipleNegativesRankingLoss takes no label", r"remove_columns\('score'\)"),
    ),
    "no label for a loss that needs one": Case(
        lambda c: c.trainer(anchors(), loss="cosent"),
        ("has no label column", "needs a float score per row", "rename_column"),
    ),
    "no label for a class loss": Case(
        lambda c: c.trainer(anchors(), loss=softmax(c)),
        ("has no label column", "needs an integer class per row", "rename_column"),
    ),
    "numeric column not named as label": Case(
        lambda c: c.trainer(pairs(score=None).add_column("similarity", [0.5] * 8), loss="cosent"),
        (r"column 'similarity' holds numbers \(float64\)", "only texts can be input columns", r"rename_column\('similarity', 'label'\)"),
    ),
    # columns and their roles
    "three text columns for a pair loss": Case(
        lambda c: c.trainer(anchors(negative=TEXTS[::-1], score=[0.5] * 8), loss="cosent"),
        (r"has 3 text column\(s\) \['anchor', 'positive', 'negative'\]", "CoSENTLoss needs 2 text columns", "select_columns"),
    ),
    "one text column for a triplet loss": Case(
        lambda c: c.trainer(anchors(positive=None), loss="triplet"),
        (r"has 1 text column\(s\) \['anchor'\]", r"TripletLoss needs 3 text columns \(anchor, positive, negative\)"),
    ),
    "one text column for in-batch negatives": Case(
        lambda c: c.trainer(anchors(positive=None), loss="multiple_negatives_ranking"),
        ("MultipleNegativesRankingLoss needs 2 or more text columns", "choose a loss that takes 1 text column"),
    ),
    "third-party loss column count": Case(
        lambda c: c.trainer(anchors(), loss=ThreeColumnLoss(c.model)),
        (r"has 2 text column\(s\) \['anchor', 'positive'\]", r"ThreeColumnLoss needs 3 text columns \(anchor, positive, negative\)"),
    ),
    "record column for a text model": Case(
        lambda c: c.trainer(anchors(details=[{"source": "web", "rank": i} for i in range(8)]), loss="multiple_negatives_ranking"),
        (r"column 'details' holds records with fields \['rank', 'source'\]", "the model takes only texts", r"remove_columns\('details'\)"),
    ),
    "list-of-numbers column for a text model": Case(
        lambda c: c.trainer(anchors(tokens=[[1, 2, 3]] * 8), loss="multiple_negatives_ranking"),
        ("column 'tokens' holds lists of numbers", "read as an input text", r"remove_columns\('tokens'\)"),
    ),
    "reserved column dataset_name": Case(
        lambda c: c.trainer(pairs(dataset_name=["x"] * 8)),
        (r"has column\(s\) \['dataset_name'\], names the trainer reserves", "rename_column"),
    ),
    "reserved column return_loss": Case(
        lambda c: c.trainer(pairs(return_loss=["x"] * 8)),
        (r"\['return_loss'\], names the trainer reserves", r"rename_column\('return_loss', 'return_loss_'\)"),
    ),
    # rows and texts
    "empty training dataset": Case(
        lambda c: c.trainer(pairs().select([])),
        ("train_dataset has no rows", "nothing to train on", "check the filtering or split"),
    ),
    "empty eval dataset": Case(
        lambda c: c.trainer(eval_dataset=pairs().select([])),
        ("eval_dataset has no rows", "nothing to evaluate on"),
    ),
    "empty dataset in a dict": Case(
        lambda c: c.trainer({"sts": pairs(), "nli": pairs().select([])}),
        ("train dataset 'nli' has no rows", "leave it out of the dict of datasets"),
    ),
    "empty anchor text": Case(
        lambda c: c.trainer(anchors(anchor=replaced(TEXTS, {1: ""})), loss="multiple_negatives_ranking"),
        (r"train_dataset: text column 'anchor' has 1 empty or whitespace-only text\(s\) at rows \[1\]", r"\.strip\(\) != ''"),
    ),
    "whitespace-only texts": Case(
        lambda c: c.trainer({"qa": anchors(positive=replaced(OTHER, {0: "   ", 6: "\t\n"}))}, loss={"qa": "multiple_negatives_ranking"}),
        (r"train dataset 'qa': text column 'positive' has 2 empty or whitespace-only text\(s\) at rows \[0, 6\]", "dataset.filter"),
    ),
    "empty text in the eval dataset": Case(
        lambda c: c.trainer(eval_dataset=pairs(sentence2=replaced(OTHER, {4: " "}))),
        (r"eval_dataset: text column 'sentence2' has 1 empty or whitespace-only text\(s\) at rows \[4\]",),
    ),
    "empty text after a selection": Case(
        lambda c: c.trainer(pairs(sentence1=replaced(TEXTS, {6: ""})).select([7, 6, 5, 4])),
        (r"text column 'sentence1' has 1 empty or whitespace-only text\(s\) at rows \[1\]",),
    ),
    "missing text": Case(
        lambda c: c.trainer(pairs(sentence2=replaced(OTHER, {3: None}))),
        (r"text column 'sentence2' has 1 missing value\(s\) \(None\) at rows \[3\]", "is not None"),
    ),
    "empty text in a streamed dataset": Case(
        lambda c: c.train(
            streamed([{"anchor": t, "positive": "" if i == 2 else o} for i, (t, o) in enumerate(zip(TEXTS, OTHER))]),
            loss="multiple_negatives_ranking", args={"max_steps": 2},
        ),
        ("Text column 'positive' has an empty or whitespace-only text", r"\.strip\(\) != ''"),
    ),
    "empty streamed dataset": Case(
        lambda c: c.trainer(streamed([{"anchor": t, "positive": o} for t, o in zip(TEXTS, OTHER)]).filter(lambda r: False),
                            loss="multiple_negatives_ranking", args={"max_steps": 2}),
        ("is a streamed dataset that yields no rows", "check the files, filter or split"),
    ),
    "streamed dataset without features": Case(
        lambda c: c.trainer(IterableDataset.from_generator(lambda: iter([{"a": "x"}])).map(lambda r: r)),
        ("IterableDataset without features", r"cast\(Features"),
    ),
    # duplicates against the sampler and batch size
    "duplicates make every no_duplicates batch short": Case(
        lambda c: c.trainer(anchors(anchor=["the same question"] * 8), loss="multiple_negatives_ranking",
                            args={"batch_sampler": "no_duplicates"}),
        ("column 'anchor' has only 1 distinct value", "no batch can reach batch_size=4", "per_device_train_batch_size to at most 1"),
    ),
    "too few distinct positives for the batch size": Case(
        lambda c: c.trainer(anchors(positive=["yes", "no", "maybe"] * 2 + ["yes", "no"]), loss="multiple_negatives_ranking",
                            args={"batch_sampler": "no_duplicates_hashed", "per_device_train_batch_size": 8}),
        ("column 'positive' has only 3 distinct value", "batch_size=8", "deduplicate the rows"),
    ),
    "group_by_label sampler without a label column": Case(
        lambda c: c.train(anchors(), loss="multiple_negatives_ranking", args={"batch_sampler": "group_by_label"}),
        ("GroupByLabelBatchSampler: none of the label columns", "Add a 'label' column"),
    ),
    "group_by_label sampler with float scores": Case(
        lambda c: c.train(pairs(), loss="cosent", args={"batch_sampler": "group_by_label"}),
        ("needs at least 2 labels with at least 2 rows each in column 'score'", "another batch sampler"),
    ),
    "batch of one for in-batch negatives": Case(
        lambda c: c.trainer(anchors(), loss="cached_multiple_negatives_ranking", args={"per_device_train_batch_size": 1}),
        ("per_device_train_batch_size=1 with the in-batch-negatives loss CachedMultipleNegativesRankingLoss",
         "the loss is always 0", "raise per_device_train_batch_size"),
    ),
    "fewer rows than a batch with drop_last": Case(
        lambda c: c.trainer(anchors(3), loss="multiple_negatives_ranking", args={"dataloader_drop_last": True}),
        ("train_dataset has 3 rows, fewer than per_device_train_batch_size=4", "never be trained on",
         "per_device_train_batch_size to 3 or less"),
    ),
    "teacher embeddings of the wrong size": Case(
        lambda c: c.trainer(Dataset.from_dict({"text": TEXTS, "label": [[0.5] * 12] * 8}), loss="mse"),
        ("label column 'label' holds teacher embeddings of size 12", "student's 32-dimensional embeddings", "projection_dim=12"),
    ),
    # datasets against losses
    "loss dict with a single dataset": Case(
        lambda c: c.trainer(pairs(), loss={"sts": "cosent"}),
        (r"`loss` is a dict", r"`train_dataset` must be a dict"),
    ),
    "dataset without a loss in the loss dict": Case(
        lambda c: c.trainer({"sts": pairs(), "other": pairs()}, loss={"sts": "cosent"}),
        (r"has dataset\(s\) \['other'\] with no loss", r"loss\['other'\] = 'cosent'"),
    ),
    "empty loss dict": Case(lambda c: c.trainer({"sts": pairs()}, loss={}), (r"`loss` is an empty dict", "map each dataset name")),
    "unknown loss name": Case(
        lambda c: c.trainer(pairs(), loss="cosnet"), ("Unknown loss 'cosnet'", "Did you mean 'cosent'", "sentrix plugins list"),
        error=UnknownComponentError,
    ),
    "every problem of every dataset at once": Case(
        lambda c: c.trainer({"a": pairs(sentence1=replaced(TEXTS, {0: ""})), "b": pairs(score=replaced([0.5] * 8, {1: math.nan}))},
                            loss={"a": "cosent", "b": "cosent"}),
        ("train dataset 'a': text column 'sentence1'", "train dataset 'b': label column 'score'"),
    ),
}

ARGUMENTS = {
    "unknown batch sampler": Case(
        lambda c: c.args(batch_sampler="no_duplicate"), ("Unknown batch sampler 'no_duplicate'", "Did you mean 'no_duplicates'"),
        error=UnknownComponentError,
    ),
    "unknown multi-dataset sampler": Case(
        lambda c: c.args(multi_dataset_batch_sampler="round-robin"),
        ("Unknown multi-dataset batch sampler 'round-robin'", "Did you mean 'round_robin'"), error=UnknownComponentError,
    ),
    "learning rate mapping with a bad pattern": Case(
        lambda c: c.args(learning_rate_mapping={"(": 1e-3}), (r"`learning_rate_mapping` key '\(' is not a valid regular expression",),
    ),
    "learning rate mapping that is not JSON": Case(
        lambda c: c.args(learning_rate_mapping="{pooler: 1}"), ("looks like JSON but does not parse", "regular expression -> learning rate"),
    ),
    "learning rate mapping matching nothing": Case(
        lambda c: c.train(args={"learning_rate_mapping": {r"decoder\.": 1e-3}}),
        (r"pattern 'decoder\\\\.' matches no trainable parameter", "look like: model."),
    ),
    "warmup ratio above 1": Case(
        lambda c: c.args(warmup_ratio=2), (r"`warmup_ratio` must be a number between 0 and 1; got 2", "warmup_steps"),
    ),
    "negative learning rate": Case(
        lambda c: c.trainer(args={"learning_rate": -1e-3}), ("learning_rate=-0.001", "finite number of 0 or more", "2e-5"),
    ),
    "zero gradient accumulation steps": Case(
        lambda c: c.trainer(args={"gradient_accumulation_steps": 0}),
        ("gradient_accumulation_steps=0", "must be 1 or more", "gradient_accumulation_steps=1"),
    ),
    "zero save steps": Case(
        lambda c: c.trainer(args={"save_strategy": "steps", "save_steps": 0}),
        ("save_steps=0 with save_strategy='steps'", "positive number of steps", "save_strategy='no'"),
    ),
    "negative eval steps": Case(
        lambda c: c.trainer(eval_dataset=pairs(), args={"eval_strategy": "steps", "eval_steps": -1}),
        ("eval_steps=-1 with eval_strategy='steps'", "set eval_steps to e.g. 500"),
    ),
    "nothing to train": Case(
        lambda c: c.trainer(args={"max_steps": -1, "num_train_epochs": 0}),
        ("num_train_epochs=0 and max_steps=-1", "would train 0 steps", "num_train_epochs to 1 or more"),
    ),
    "args of the wrong type": Case(
        lambda c: SentenceTransformerTrainer(model=c.model, args=__import__("transformers").TrainingArguments(
            output_dir=str(c.out), report_to="none"), train_dataset=pairs()),
        ("`args` must be a SentenceTransformerTrainingArguments; got TrainingArguments",),
    ),
    "eval strategy with nothing to evaluate": Case(
        lambda c: c.trainer(args={"eval_strategy": "steps"}), ("neither an `eval_dataset` nor an `evaluator`", "eval_strategy='no'"),
    ),
    "metric for best model nobody produces": Case(
        lambda c: c.trainer(eval_dataset=pairs(), args={"eval_strategy": "steps", "eval_steps": 2, "metric_for_best_model": "sts_spearman"}),
        ("metric_for_best_model='sts_spearman' is not a metric this run produces", "The metrics will be: loss"),
    ),
    "prompt for a column that does not exist": Case(
        lambda c: c.trainer(args={"prompts": {"query": "query: "}}),
        ("prompts key 'query' is neither a text column nor a dataset name", r"\['sentence1', 'sentence2'\]"),
    ),
    "prompts for an unknown dataset": Case(
        lambda c: c.trainer({"sts": pairs()}, loss={"sts": "cosent"}, args={"prompts": {"nli": {"sentence1": "q: "}}}),
        (r"prompts\['nli'\] names a dataset, but the datasets are \['sts'\]",),
    ),
    "router mapping for an unknown column": Case(
        lambda c: c.trainer(args={"router_mapping": {"question": "query"}}),
        (r"column \['question'\] is not a text column of the dataset", r"\['sentence1', 'sentence2'\]"),
    ),
    "router model without a router mapping": Case(
        lambda c: c.trainer(anchors(), model=__import__("test_training_runs")._router_model(c.tiny_folder), loss="multiple_negatives_ranking"),
        ("contains a Router module but `router_mapping` is empty", "'query_document'"),
    ),
    "batch size zero": Case(
        lambda c: c.train(args={"per_device_train_batch_size": 0}), ("batch_size must be a positive integer, got 0", "per_device_train_batch_size"),
    ),
}

MODEL_FOLDERS = {
    "model folder without tokenizer files": Case(
        model_without("tokenizer.json", "tokenizer_config.json"),
        ("has no tokenizer files", "every word would become the unknown token", "save_pretrained", "tokenizer_name_or_path"),
    ),
    "model folder without config.json": Case(
        model_without("config.json"), ("has no config.json", "copy config.json back"),
    ),
    "model folder without a module folder": Case(
        model_without("1_Pooling"), ("has no '1_Pooling' folder, which modules.json names", "copy that folder back"),
    ),
    "damaged modules.json": Case(model_with("modules.json", b"{not json"), ("modules.json' is not valid JSON", "repair or re-create")),
    "damaged weights": Case(
        model_with("model.safetensors", b"garbage"), ("Could not read the weights file", "restore or re-download"),
    ),
    "model path that does not exist": Case(
        lambda c: SentenceTransformer(str(c.tmp / "no-such-model"), device="cpu"), ("does not exist", "check the path"),
    ),
    "model path that is a file": Case(
        lambda c: SentenceTransformer(str(c.out / "notes.txt"), device="cpu"), ("is a file; expected a folder holding a model",),
    ),
}


def _evaluation(name: str, *args: Any, **kwargs: Any) -> Callable[[Ctx], Any]:
    def build(ctx: Ctx) -> Any:
        import sentrix.evaluation as evaluation

        return getattr(evaluation, name)(*args, **kwargs)

    return build


EVALUATORS = {
    "similarity evaluator lengths differ": Case(
        _evaluation("EmbeddingSimilarityEvaluator", TEXTS[:3], OTHER[:2], [0.1, 0.2, 0.3]),
        ("must have the same length", "sentences2=2"),
    ),
    "similarity evaluator NaN score": Case(
        _evaluation("EmbeddingSimilarityEvaluator", TEXTS[:3], OTHER[:3], [0.1, math.nan, 0.3]), (r"non-finite value\(s\)",),
    ),
    "similarity evaluator empty text": Case(
        _evaluation("EmbeddingSimilarityEvaluator", ["", *TEXTS[1:3]], OTHER[:3], [0.1, 0.2, 0.3]),
        (r"sentences1 has 1 missing or empty text\(s\)", "drop those rows"),
    ),
    "binary evaluator labels not 0/1": Case(
        _evaluation("BinaryClassificationEvaluator", TEXTS[:3], OTHER[:3], [0, 1, 2]), ("labels",),
    ),
    "triplet evaluator missing negative": Case(
        _evaluation("TripletEvaluator", TEXTS[:2], OTHER[:2], ["x", None]), ("negatives",),
    ),
    "retrieval evaluator unknown relevant document": Case(
        _evaluation("InformationRetrievalEvaluator", {"q1": "a question"}, {"d1": "a document"}, {"q1": {"d9"}}), ("d9",),
    ),
    "evaluator data changed after it was built": Case(
        mutated_evaluator, ("sentences2", "empty"),
    ),
}

PLUGINS = {
    "plugin validate hook finds a problem": Case(
        with_validate_plugin, ("stopped before it started by a plugin check", "acme-policy: max_steps=4 is below 10", "set max_steps=10"),
    ),
    "third-party loss fails its own dataset check": Case(
        lambda c: c.trainer(pairs(), loss=PickyLoss(c.model)), ("train_dataset: scores must be at most 0.5 for PickyLoss", "rescale them"),
    ),
    "third-party loss check returns a bare string": Case(
        lambda c: c.trainer(pairs(), loss=PickyLoss(c.model, result="scores too high")),
        ("PickyLoss.validate_dataset must return a list of problem messages",), error=TypeError,
    ),
    "third-party sampler fails its own dataset check": Case(
        lambda c: c.trainer(pairs(7), args={"batch_sampler": picky_sampler_class()}),
        ("train_dataset: EvenRowsSampler needs an even number of rows, got 7", "drop one row"),
    ),
    "third-party evaluator fails its own input check": Case(
        lambda c: c.trainer(evaluator=PickyEvaluator(), args={"eval_strategy": "steps", "eval_steps": 1}),
        ("PickyEvaluator: queries are empty", "pass at least one query"),
    ),
    "third-party loss given as an unknown name in a dict": Case(
        lambda c: c.trainer({"sts": pairs()}, loss={"sts": "acme.focal"}), ("Unknown loss 'acme.focal'",), error=UnknownComponentError,
    ),
}

OUTPUT_FOLDERS = {
    "output_dir is a file": Case(
        lambda c: c.trainer(args={"output_dir": str(c.out / "notes.txt")}),
        ("notes.txt' is a file, not a folder", "choose another output_dir"),
    ),
    "output_dir under a file": Case(
        lambda c: c.trainer(args={"output_dir": str(c.out / "notes.txt" / "run")}),
        ("which is a file, so the folder cannot be created", "whose parents are folders"),
    ),
    "resume from a folder that does not exist": Case(
        lambda c: c.train(resume=str(c.out / "checkpoint-99")), ("checkpoint-99' is not a folder",),
    ),
    "resume with no checkpoint in output_dir": Case(
        lambda c: c.train(resume=True), ("resume_from_checkpoint=True but", "holds no complete checkpoint", "Start without resuming"),
    ),
}

CATALOGUE = {
    **{f"data: {k}": v for k, v in DATA.items()},
    **{f"arguments: {k}": v for k, v in ARGUMENTS.items()},
    **{f"model folder: {k}": v for k, v in MODEL_FOLDERS.items()},
    **{f"evaluator: {k}": v for k, v in EVALUATORS.items()},
    **{f"plugin: {k}": v for k, v in PLUGINS.items()},
    **{f"output folder: {k}": v for k, v in OUTPUT_FOLDERS.items()},
}


def test_the_catalogue_is_large_enough():
    assert len(CATALOGUE) >= 60
    assert all(len(group) >= 4 for group in (DATA, ARGUMENTS, MODEL_FOLDERS, EVALUATORS, PLUGINS, OUTPUT_FOLDERS))


@pytest.mark.parametrize("case", list(CATALOGUE.values()), ids=list(CATALOGUE))
def test_bad_input_stops_before_anything_is_written(tmp_path, shared_model, tiny_folder, case):
    out = tmp_path / "out"
    for relative, content in USER_FILES.items():
        (out / relative).parent.mkdir(parents=True, exist_ok=True)
        (out / relative).write_bytes(content)
    ctx = Ctx(tmp=tmp_path, out=out, model=shared_model, tiny_folder=tiny_folder)
    before, beside = snapshot(out), sorted(os.listdir(tmp_path))
    with pytest.raises(case.error) as info:
        case.run(ctx)
    message = str(info.value)
    for pattern in case.patterns:
        assert re.search(pattern, message), f"{pattern!r} not in:\n{message}"
    assert snapshot(out) == before, "output_dir or the user's files in it changed"
    assert sorted(set(os.listdir(tmp_path)) - {"broken-model"}) == beside, "something was written beside output_dir"


# -- warnings: inputs that are legal but probably not meant ---------------------------------------------
def test_a_metadata_column_for_a_variable_column_loss_warns_once_and_names_its_role(tmp_path, shared_model):
    data = anchors(doc_id=[f"doc-{i}" for i in range(8)])
    with pytest.warns(UserWarning) as caught:
        trainer = SentenceTransformerTrainer(model=shared_model, args=make_args(tmp_path), train_dataset=data,
                                             loss="multiple_negatives_ranking")
    messages = [str(w.message) for w in caught if "doc_id" in str(w.message)]
    assert len(messages) == 1, messages
    assert "column 'doc_id' will be read as input text 3 (the 'negative 1' of MultipleNegativesRankingLoss)" in messages[0]
    assert "its name suggests metadata" in messages[0] and "remove_columns('doc_id')" in messages[0]
    # the same trainer does not repeat it when train() checks again
    import warnings

    with warnings.catch_warnings(record=True) as again:
        warnings.simplefilter("always")
        trainer.validate_run(train_dataset=data)
    assert not [w for w in again if "doc_id" in str(w.message)]


@pytest.mark.parametrize(
    "column, values, reason",
    [
        ("ref", [f"Q{1000 + i}" for i in range(8)], "its values look like identifiers"),
        ("origin", [f"https://example.org/{i}" for i in range(8)], "its values look like identifiers or links"),
        ("region", ["north", "south"] * 12, "it holds only 2 distinct value(s)"),
    ],
)
def test_metadata_is_recognised_by_its_values(tmp_path, shared_model, column, values, reason):
    n = len(values)
    data = Dataset.from_dict({"anchor": (TEXTS * 3)[:n], "positive": (OTHER * 3)[:n], column: values})
    with pytest.warns(UserWarning, match=re.escape(reason)):
        SentenceTransformerTrainer(model=shared_model, args=make_args(tmp_path), train_dataset=data, loss="multiple_negatives_ranking")


def test_a_real_third_text_column_does_not_warn(tmp_path, shared_model):
    import warnings

    data = anchors(negative=TEXTS[::-1])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        SentenceTransformerTrainer(model=shared_model, args=make_args(tmp_path), train_dataset=data, loss="multiple_negatives_ranking")
    assert not [w for w in caught if "will be read as input text" in str(w.message)]


def test_a_value_shared_by_too_many_rows_warns_with_the_fix(tmp_path, shared_model):
    positives = ["a shared answer"] * 4 + OTHER[4:]
    with pytest.warns(UserWarning, match=r"the text 'a shared answer' is in 4 of 8 rows.*about 2 full batches of 4.*deduplicate"):
        SentenceTransformerTrainer(model=shared_model, args=make_args(tmp_path, batch_sampler="no_duplicates"),
                                   train_dataset=anchors(positive=positives), loss="multiple_negatives_ranking")


def test_batches_that_can_still_be_mostly_full_only_warn(tmp_path, shared_model):
    positives = OTHER[:5] * 2  # 5 distinct values in 10 rows: batches of 5 at most instead of 8
    data = Dataset.from_dict({"anchor": (TEXTS * 2)[:10], "positive": positives})
    with pytest.warns(UserWarning, match=r"column 'positive' has only 5 distinct value\(s\) in 10 rows.*at most 5"):
        SentenceTransformerTrainer(model=shared_model, args=make_args(tmp_path, batch_sampler="no_duplicates", per_device_train_batch_size=8),
                                   train_dataset=data, loss="multiple_negatives_ranking")


def test_text_pairs_as_lists_are_accepted(tmp_path, shared_model):
    data = Dataset.from_dict({"pair": [[a, b] for a, b in zip(TEXTS, OTHER)], "positive": OTHER},
                             features=Features({"pair": List(Value("string")), "positive": Value("string")}))
    SentenceTransformerTrainer(model=shared_model, args=make_args(tmp_path), train_dataset=data, loss="multiple_negatives_ranking")


# -- errors raised in data loader workers ------------------------------------------------------------------
@pytest.fixture
def no_hang():
    """Fail loudly (dump the stacks and exit) instead of hanging if a worker error is never delivered."""
    faulthandler.dump_traceback_later(240, exit=True)
    yield
    faulthandler.cancel_dump_traceback_later()


def test_an_error_in_a_dataloader_worker_reaches_the_user_with_its_message(tmp_path, shared_model, no_hang):
    def transform(batch):
        if any("park" in text for text in batch["anchor"]):
            raise ValueError("acme transform: row mentions a park; park rows need a 'location' column")
        return batch

    data = anchors().with_transform(transform)
    args = make_args(tmp_path, dataloader_num_workers=1, max_steps=4, per_device_train_batch_size=2)
    trainer = SentenceTransformerTrainer(model=shared_model, args=args, train_dataset=data, loss="multiple_negatives_ranking")
    with pytest.raises(ValueError, match="acme transform: row mentions a park; park rows need a 'location' column"):
        trainer.train()


def test_an_empty_text_found_in_a_worker_reaches_the_user(tmp_path, shared_model, no_hang):
    rows = [{"anchor": t, "positive": "  " if i == 5 else o} for i, (t, o) in enumerate(zip(TEXTS, OTHER))]
    args = make_args(tmp_path, dataloader_num_workers=1, max_steps=4)
    trainer = SentenceTransformerTrainer(model=shared_model, args=args, train_dataset=streamed(rows), loss="multiple_negatives_ranking")
    with pytest.raises(InvalidInputError, match=r"Text column 'positive' has an empty or whitespace-only text in 1 row"):
        trainer.train()


def _die_in_worker(batch):
    import signal

    from torch.utils.data import get_worker_info

    if get_worker_info() is not None:
        os.kill(os.getpid(), signal.SIGKILL)
    return batch


def test_a_dataloader_worker_that_dies_stops_the_run_instead_of_hanging(tmp_path, shared_model, no_hang):
    args = make_args(tmp_path, dataloader_num_workers=1, max_steps=2)
    trainer = SentenceTransformerTrainer(model=shared_model, args=args, train_dataset=anchors().with_transform(_die_in_worker),
                                         loss="multiple_negatives_ranking")
    with pytest.raises(RuntimeError, match=r"DataLoader worker \(pid.*\) (is killed by signal|exited unexpectedly)"):
        trainer.train()
    assert not (tmp_path / "out").exists() or not os.listdir(tmp_path / "out")


# -- model folders that must keep loading -------------------------------------------------------------------
def test_a_module_without_files_loads_without_its_folder(tmp_path):
    from sentrix.testing.tiny_models import tiny_model_folder

    folder = Path(tiny_model_folder(tmp_path / "m", normalize=True))
    module_dirs = [p for p in folder.iterdir() if p.is_dir() and p.name.endswith("_Normalize")]
    assert module_dirs, sorted(os.listdir(folder))
    for path in module_dirs:  # a Hub snapshot has no empty folders
        shutil.rmtree(path)
    model = SentenceTransformer(str(folder), device="cpu")
    assert model.encode(["a cat"]).shape == (1, 32)


def test_tokenizer_files_from_elsewhere_are_accepted(tmp_path, tiny_folder):
    from sentrix_builtins.modules.transformer import _check_tokenizer_files

    only_config = tmp_path / "byte-level"
    only_config.mkdir()
    (only_config / "tokenizer_config.json").write_text("{}")
    _check_tokenizer_files(str(only_config))  # byte-level tokenizers need no vocabulary file
    bare = tmp_path / "bare"
    shutil.copytree(tiny_folder, bare)
    for name in ("tokenizer.json", "tokenizer_config.json"):
        (bare / name).unlink()
    from sentrix.models import Transformer

    module = Transformer(str(bare), tokenizer_name_or_path=tiny_folder)
    assert module.tokenizer.convert_ids_to_tokens(module.tokenizer("a cat")["input_ids"])[1:3] == ["a", "cat"]
