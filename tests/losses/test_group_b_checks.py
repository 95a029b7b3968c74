"""The run checks of group B losses (``validate_dataset``), the docstring layout, and ``plugins show``.

``validate_dataset(dataset, dataset_name, ...) -> list[str]`` is what the trainer's run checks call
before anything is written: each message names the dataset and column, what is wrong, and the fix.
"""

from __future__ import annotations

import inspect
import re

import pytest
import torch
from datasets import ClassLabel, Dataset, Features, Value

from sentrix.registry import losses as registry
from sentrix.training_args import BatchSamplers

GROUP_B = {
    "angle": "AnglELoss",
    "contrastive": "ContrastiveLoss",
    "online_contrastive": "OnlineContrastiveLoss",
    "batch_hard_triplet": "BatchHardTripletLoss",
    "batch_hard_soft_margin_triplet": "BatchHardSoftMarginTripletLoss",
    "batch_semi_hard_triplet": "BatchSemiHardTripletLoss",
    "batch_all_triplet": "BatchAllTripletLoss",
}
BATCH_TRIPLET = [name for name in GROUP_B if name.startswith("batch_")]
CONVERTED = ["cosent", "cosine_similarity", "softmax", "triplet"]


def texts(n):
    return [f"sentence number {i}" for i in range(n)]


def one_problem(problems, *needles):
    assert len(problems) == 1, problems
    message = problems[0]
    assert "Fix" in message, message
    for needle in needles:
        assert needle in message, f"{needle!r} not in: {message}"
    return message


# ------------------------------------------------------------------------------------------------
# SoftmaxLoss
# ------------------------------------------------------------------------------------------------


@pytest.fixture
def softmax(tiny_model):
    return registry.create("softmax", model=tiny_model, num_labels=3)


def test_softmax_accepts_class_ids_in_range(softmax):
    assert softmax.validate_dataset(Dataset.from_dict({"a": texts(4), "b": texts(4), "label": [0, 1, 2, 1]}), "nli") == []


def test_softmax_accepts_class_label_features(softmax):
    features = Features({"a": Value("string"), "b": Value("string"), "label": ClassLabel(names=["e", "n", "c"])})
    dataset = Dataset.from_dict({"a": texts(3), "b": texts(3), "label": [0, 2, 1]}, features=features)
    assert softmax.validate_dataset(dataset, "nli") == []


def test_softmax_ignores_the_ignore_index(softmax):
    assert softmax.validate_dataset(Dataset.from_dict({"a": texts(2), "b": texts(2), "label": [0, -100]}), "nli") == []


def test_softmax_rejects_string_labels(softmax):
    dataset = Dataset.from_dict({"a": texts(3), "b": texts(3), "label": ["entailment", "neutral", "contradiction"]})
    one_problem(softmax.validate_dataset(dataset, "nli"), "nli", "'label'", "strings", "'contradiction'", "class_encode_column")


def test_softmax_rejects_ids_outside_num_labels(softmax):
    dataset = Dataset.from_dict({"a": texts(4), "b": texts(4), "score": [0, 3, 4, -1]})
    one_problem(softmax.validate_dataset(dataset, "train"), "'score'", "outside [0, 3)", "-1, 3, 4", "num_labels=5")


# ------------------------------------------------------------------------------------------------
# contrastive / online contrastive: labels 0 or 1
# ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["contrastive", "online_contrastive"])
@pytest.mark.parametrize("labels", [[0, 1, 1, 0], [0.0, 1.0, 1.0, 0.0], [True, False, True, False]], ids=["int", "float", "bool"])
def test_contrastive_accepts_binary_labels(tiny_model, name, labels):
    loss = registry.create(name, model=tiny_model)
    assert loss.validate_dataset(Dataset.from_dict({"a": texts(4), "b": texts(4), "label": labels}), "quora") == []


@pytest.mark.parametrize("name", ["contrastive", "online_contrastive"])
def test_contrastive_rejects_graded_labels(tiny_model, name):
    loss = registry.create(name, model=tiny_model)
    dataset = Dataset.from_dict({"a": texts(4), "b": texts(4), "score": [0.0, 0.3, 1.0, 4.0]})
    one_problem(loss.validate_dataset(dataset, "sts"), "sts", "'score'", "other than 0 and 1", "0.3, 4", ">= 0.5", "cosent")


@pytest.mark.parametrize("name", ["contrastive", "online_contrastive"])
def test_contrastive_rejects_string_labels(tiny_model, name):
    loss = registry.create(name, model=tiny_model)
    dataset = Dataset.from_dict({"a": texts(2), "b": texts(2), "label": ["duplicate", "different"]})
    one_problem(loss.validate_dataset(dataset, "quora"), "strings", "'duplicate'", "dataset.map")


# ------------------------------------------------------------------------------------------------
# batch triplet losses: class labels, two rows of a class per batch
# ------------------------------------------------------------------------------------------------


def class_dataset(labels):
    return Dataset.from_dict({"sentence": texts(len(labels)), "label": labels})


@pytest.mark.parametrize("name", BATCH_TRIPLET)
def test_batch_triplet_accepts_class_labels(tiny_model, name):
    loss = registry.create(name, model=tiny_model)
    dataset = class_dataset([0, 1, 2, 3] * 8)
    assert loss.validate_dataset(dataset, "trec") == []
    assert loss.validate_dataset(dataset, "trec", batch_size=16, batch_sampler="batch_sampler") == []
    assert loss.validate_dataset(dataset, "trec", batch_size=8, batch_sampler=BatchSamplers.GROUP_BY_LABEL) == []


@pytest.mark.parametrize("name", BATCH_TRIPLET)
def test_batch_triplet_rejects_string_labels(tiny_model, name):
    loss = registry.create(name, model=tiny_model)
    one_problem(loss.validate_dataset(class_dataset(["sports", "economy"] * 2), "news"), "strings", "class_encode_column")


@pytest.mark.parametrize("name", BATCH_TRIPLET)
def test_batch_triplet_rejects_a_single_class(tiny_model, name):
    loss = registry.create(name, model=tiny_model)
    one_problem(loss.validate_dataset(class_dataset([3] * 6), "news"), "single class", "no negative")


@pytest.mark.parametrize("name", BATCH_TRIPLET)
def test_batch_triplet_rejects_classes_of_one_row(tiny_model, name):
    loss = registry.create(name, model=tiny_model)
    one_problem(loss.validate_dataset(class_dataset(list(range(6))), "news"), "one row each", "no positive", "at least 2 rows")


@pytest.mark.parametrize("name", BATCH_TRIPLET)
def test_batch_triplet_rejects_a_batch_too_small_for_two_rows_of_a_class(tiny_model, name):
    loss = registry.create(name, model=tiny_model)
    problems = loss.validate_dataset(class_dataset([0, 1] * 8), "news", batch_size=2, batch_sampler="group_by_label")
    one_problem(problems, "batch of 2 rows", "at least 4", "group_by_label")


@pytest.mark.parametrize("name", BATCH_TRIPLET)
def test_batch_triplet_random_batches_over_many_classes_point_to_group_by_label(tiny_model, name):
    loss = registry.create(name, model=tiny_model)
    dataset = class_dataset([i % 50 for i in range(200)])  # 50 classes, batches of 8: ~13% find a positive
    message = one_problem(loss.validate_dataset(dataset, "news", batch_size=8), "batch_size=8", "50 classes", "group_by_label")
    assert re.search(r"about \d+%", message)
    assert loss.validate_dataset(dataset, "news", batch_size=8, batch_sampler="GroupByLabelBatchSampler") == []


def test_streaming_datasets_are_left_to_the_per_batch_checks(tiny_model):
    streamed = class_dataset(["a", "b"]).to_iterable_dataset()
    assert registry.create("batch_all_triplet", model=tiny_model).validate_dataset(streamed, "s") == []
    assert registry.create("contrastive", model=tiny_model).validate_dataset(streamed, "s") == []


# ------------------------------------------------------------------------------------------------
# AnglE
# ------------------------------------------------------------------------------------------------


def test_angle_needs_a_score_for_pairs_but_not_for_tuples(tiny_model):
    loss = registry.create("angle", model=tiny_model)
    assert loss.validate_dataset(Dataset.from_dict({"a": texts(2), "b": texts(2), "score": [0.2, 0.9]}), "sts") == []
    assert loss.validate_dataset(Dataset.from_dict({"a": texts(2), "p": texts(2), "n": texts(2)}), "nli") == []
    one_problem(loss.validate_dataset(Dataset.from_dict({"a": texts(2), "b": texts(2)}), "sts"), "['a', 'b']", "no score column")


def test_angle_pairs_without_labels_fail_with_the_fix(tiny_model):
    from loss_test_helpers import make_batch

    from sentrix.plugin_api import InvalidInputError

    with pytest.raises(InvalidInputError, match="without a score. Fix"):
        registry.create("angle", model=tiny_model)(make_batch(tiny_model, 2, rows=3), None)


def test_batch_triplet_rejects_extra_text_columns(tiny_model):
    from loss_test_helpers import make_batch

    from sentrix.plugin_api import InvalidInputError

    with pytest.raises(InvalidInputError, match=r"needs 1 text column"):
        registry.create("batch_hard_triplet", model=tiny_model)(make_batch(tiny_model, 2, rows=4), torch.tensor([0, 0, 1, 1]))


# ------------------------------------------------------------------------------------------------
# self-description: docstring layout, plugins show
# ------------------------------------------------------------------------------------------------

SECTIONS = ["Inputs:", "Sampler:", "Args:", "Example:", "References:"]


@pytest.mark.parametrize("name", sorted(GROUP_B) + CONVERTED)
def test_docstring_follows_the_component_layout(name):
    cls = registry.get(name)
    doc = inspect.getdoc(cls)
    lines = doc.splitlines()
    assert lines[0].endswith(".") and lines[1] == "", "one-line summary ending with a period, then a blank line"
    positions = [lines.index(section) for section in SECTIONS]  # each header alone on its line
    assert positions == sorted(positions), f"sections out of order: {SECTIONS}"
    args = lines[positions[2] + 1 : positions[3]]
    for parameter in inspect.signature(cls.__init__).parameters:
        if parameter != "self":
            assert any(line.startswith(f"    {parameter}: ") for line in args), f"Args: lacks {parameter}"
    assert ".. code-block:: python" in "\n".join(lines[positions[3] :])


@pytest.mark.parametrize("name, alias", sorted(GROUP_B.items()))
def test_plugins_show_prints_data_needs(name, alias, capsys):
    from sentrix.cli.main import main

    assert main(["plugins", "show", alias]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"{name}  (losses)")
    needs = registry.get(name).data_needs
    assert f"  data needs: {needs.describe()}" in out
    if name in BATCH_TRIPLET:
        assert "recommended batch sampler: group_by_label" in out
