"""The sentence-transformers names that docs/coverage.md lists are exactly those of the installed 6.2 wheel.

``sentrix._compat.coverage`` keeps the lists (sentrix never imports sentence-transformers); this
test reads the wheel, so a loss, evaluator, batch sampler, module type or training argument that
sentence-transformers has and the coverage page does not list (or the reverse) fails here.
"""

from __future__ import annotations

import dataclasses
import inspect

import pytest
import sentence_transformers
import torch
import transformers
from sentence_transformers.sentence_transformer import evaluation, losses, modules
from sentence_transformers.sentence_transformer.training_args import (
    BatchSamplers,
    MultiDatasetBatchSamplers,
    SentenceTransformerTrainingArguments,
)

from sentrix._compat import coverage

pytestmark = pytest.mark.oracle


def test_the_oracle_is_the_version_the_page_names():
    assert sentence_transformers.__version__.startswith(coverage.ST_VERSION + ".")


def test_losses_are_the_wheels_loss_classes():
    wheel = {
        name for name in losses.__all__
        if inspect.isclass(getattr(losses, name)) and issubclass(getattr(losses, name), torch.nn.Module)
    }
    assert wheel == set(coverage.ST_LOSSES)


def test_evaluators_are_the_wheels_evaluator_classes():
    wheel = {
        name for name in evaluation.__all__
        if inspect.isclass(getattr(evaluation, name)) and issubclass(getattr(evaluation, name), evaluation.BaseEvaluator)
    }
    assert wheel == set(coverage.ST_EVALUATORS)


def test_batch_samplers_are_the_wheels_enum_values():
    assert [member.value for member in BatchSamplers] == list(coverage.ST_BATCH_SAMPLERS)
    assert [member.value for member in MultiDatasetBatchSamplers] == list(coverage.ST_MULTI_DATASET_BATCH_SAMPLERS)


def test_module_types_are_the_wheels_modules():
    assert list(modules.__all__) == list(coverage.ST_MODULES)


def test_training_arguments_are_the_wheels_additions_to_transformers():
    base = {f.name for f in dataclasses.fields(transformers.TrainingArguments)}
    added = [f.name for f in dataclasses.fields(SentenceTransformerTrainingArguments) if f.name not in base]
    assert added == list(coverage.ST_TRAINING_ARGUMENTS)


def test_every_wheel_name_has_a_row_on_the_page():
    page = coverage.coverage_markdown()
    for name in (*coverage.ST_LOSSES, *coverage.ST_EVALUATORS, *coverage.ST_MODULES, *coverage.ST_BATCH_SAMPLERS):
        assert f"| `{name}` |" in page, name
    for name in dataclasses.fields(SentenceTransformerTrainingArguments):
        assert f"`{name.name}`" in page, name.name
    assert "**missing**" not in page, "a sentence-transformers component is neither installed nor explained"
