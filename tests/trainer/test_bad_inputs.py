"""Every wrong input stops before training with a message naming the input, the expectation and the fix,
and nothing is written to output_dir before that check."""

from __future__ import annotations

import math
import os

import pytest
from trainer_helpers import make_args

from sentrix import SentenceTransformerTrainer, SentenceTransformerTrainingArguments
from sentrix.errors import InvalidInputError, UnknownComponentError
from sentrix.trainer import NonFiniteTrainingError


def _assert_nothing_written(tmp_path):
    out = tmp_path / "out"
    assert not out.exists() or os.listdir(out) == [], f"files were written: {os.listdir(out)}"


def test_wrong_number_of_text_columns(tmp_path, model, triplet_dataset):
    with pytest.raises(InvalidInputError) as info:
        SentenceTransformerTrainer(model=model, args=make_args(tmp_path), train_dataset=triplet_dataset.add_column("score", [0.5] * len(triplet_dataset)), loss="cosent")
    message = str(info.value)
    assert "train_dataset has 3 text column(s) ['anchor', 'positive', 'negative']" in message
    assert "the loss CoSENTLoss needs 2 text columns" in message
    assert "dataset.select_columns" in message
    _assert_nothing_written(tmp_path)


def test_label_given_to_a_loss_without_labels(tmp_path, model, pair_score_dataset):
    with pytest.raises(InvalidInputError) as info:
        SentenceTransformerTrainer(model=model, args=make_args(tmp_path), train_dataset=pair_score_dataset, loss="multiple_negatives_ranking")
    message = str(info.value)
    assert "has a label column 'score', but the loss MultipleNegativesRankingLoss takes no label" in message
    assert "dataset.remove_columns('score')" in message


def test_missing_label_for_a_loss_that_needs_one(tmp_path, model, anchor_positive_dataset):
    with pytest.raises(InvalidInputError) as info:
        SentenceTransformerTrainer(model=model, args=make_args(tmp_path), train_dataset={"pairs": anchor_positive_dataset}, loss={"pairs": "cosent"})
    message = str(info.value)
    assert "train dataset 'pairs' (columns ['anchor', 'positive']) has no label column" in message
    assert "needs a float score per row" in message and "rename_column" in message


def test_numeric_column_not_named_as_a_label(tmp_path, model, pair_score_dataset):
    data = pair_score_dataset.rename_column("score", "similarity")
    with pytest.raises(InvalidInputError) as info:
        SentenceTransformerTrainer(model=model, args=make_args(tmp_path), train_dataset=data, loss="cosent")
    message = str(info.value)
    assert "column 'similarity' holds numbers (float64)" in message
    assert "dataset.rename_column('similarity', 'label')" in message


def test_non_finite_labels_name_dataset_and_rows(tmp_path, model, pair_score_dataset):
    scores = list(pair_score_dataset["score"])
    scores[3] = math.nan
    scores[5] = math.inf
    data = pair_score_dataset.remove_columns("score").add_column("score", scores)
    with pytest.raises(InvalidInputError) as info:
        SentenceTransformerTrainer(model=model, args=make_args(tmp_path), train_dataset={"sts": data}, loss={"sts": "cosent"})
    message = str(info.value)
    assert "train dataset 'sts': label column 'score' has 2 non-finite value(s) (NaN or inf) at rows [3, 5]" in message
    _assert_nothing_written(tmp_path)


def test_non_finite_loss_stops_the_run_with_dataset_and_step(tmp_path, model, pair_score_dataset):
    from sentrix.losses import CoSENTLoss

    class ExplodesAtStep3(CoSENTLoss):
        calls = 0

        def forward(self, features, labels):
            type(self).calls += 1
            loss = super().forward(features, labels)
            return loss * float("nan") if type(self).calls == 3 else loss

    trainer = SentenceTransformerTrainer(
        model=model, args=make_args(tmp_path, max_steps=5), train_dataset={"sts": pair_score_dataset},
        loss={"sts": ExplodesAtStep3(model)},
    )
    with pytest.raises(NonFiniteTrainingError) as info:
        trainer.train()
    message = str(info.value)
    assert "Non-finite loss (NaN or inf) in dataset 'sts' at training step 2" in message
    assert "texts: [" in message and "lower the learning rate" in message


def test_metric_for_best_model_that_no_one_produces(tmp_path, model, pair_score_dataset):
    from sentrix.evaluation import EmbeddingSimilarityEvaluator

    evaluator = EmbeddingSimilarityEvaluator(
        pair_score_dataset["sentence1"], pair_score_dataset["sentence2"], pair_score_dataset["score"], name="sts-dev"
    )
    args = make_args(tmp_path, eval_strategy="steps", eval_steps=2, metric_for_best_model="eval_sts_spearman_cosine")
    with pytest.raises(InvalidInputError) as info:
        SentenceTransformerTrainer(model=model, args=args, train_dataset=pair_score_dataset, eval_dataset=pair_score_dataset, evaluator=evaluator)
    message = str(info.value)
    assert "metric_for_best_model='eval_sts_spearman_cosine' is not a metric this run produces" in message
    assert "The metrics will be: loss, sts-dev_<metric> (any metric of evaluator 'sts-dev')" in message
    # the right names pass
    for good in ("eval_sts-dev_spearman_cosine", "sts-dev_pearson_cosine", "loss"):
        args = make_args(tmp_path, eval_strategy="steps", eval_steps=2, metric_for_best_model=good)
        SentenceTransformerTrainer(model=model, args=args, train_dataset=pair_score_dataset, eval_dataset=pair_score_dataset, evaluator=evaluator)


def test_loss_dict_with_a_single_dataset(tmp_path, model, pair_score_dataset):
    with pytest.raises(InvalidInputError, match=r"`loss` is a dict .*\['sts'\].*`train_dataset` must be a dict"):
        SentenceTransformerTrainer(model=model, args=make_args(tmp_path), train_dataset=pair_score_dataset, loss={"sts": "cosent"})


def test_dataset_without_a_loss_in_the_loss_dict(tmp_path, model, pair_score_dataset):
    with pytest.raises(InvalidInputError, match=r"has dataset\(s\) \['other'\] with no loss .*loss\['other'\] = 'cosent'"):
        SentenceTransformerTrainer(
            model=model, args=make_args(tmp_path), train_dataset={"sts": pair_score_dataset, "other": pair_score_dataset},
            loss={"sts": "cosent"},
        )


def test_unknown_loss_name(tmp_path, model, pair_score_dataset):
    with pytest.raises(UnknownComponentError, match=r"(?s)Unknown loss 'cosnet'.*Did you mean 'cosent'"):
        SentenceTransformerTrainer(model=model, args=make_args(tmp_path), train_dataset=pair_score_dataset, loss="cosnet")


def test_unknown_batch_sampler_name(tmp_path):
    with pytest.raises(UnknownComponentError, match=r"(?s)Unknown batch sampler 'no_duplicate'.*Did you mean 'no_duplicates'"):
        make_args(tmp_path, batch_sampler="no_duplicate")


def test_router_model_without_router_mapping(tmp_path, tiny_folder, anchor_positive_dataset):
    from test_training_runs import _router_model

    with pytest.raises(InvalidInputError, match=r"contains a Router module but `router_mapping` is empty.*'query_document'"):
        SentenceTransformerTrainer(model=_router_model(tiny_folder), args=make_args(tmp_path), train_dataset=anchor_positive_dataset, loss="multiple_negatives_ranking")


def test_learning_rate_mapping_matching_nothing(tmp_path, model, pair_score_dataset):
    trainer = SentenceTransformerTrainer(
        model=model, args=make_args(tmp_path, learning_rate_mapping={r"decoder\.": 1e-3}), train_dataset=pair_score_dataset
    )
    with pytest.raises(InvalidInputError, match=r"pattern 'decoder\\\\.' matches no trainable parameter.*look like: model\."):
        trainer.create_optimizer()
    with pytest.raises(InvalidInputError, match="is not a valid regular expression"):
        make_args(tmp_path, learning_rate_mapping={"(": 1e-3})


def test_eval_strategy_without_anything_to_evaluate(tmp_path, model, pair_score_dataset):
    with pytest.raises(InvalidInputError, match=r"`args.eval_strategy` is 'steps' but neither an `eval_dataset` nor an `evaluator`"):
        SentenceTransformerTrainer(model=model, args=make_args(tmp_path, eval_strategy="steps"), train_dataset=pair_score_dataset)


def test_reserved_column_name(tmp_path, model, pair_score_dataset):
    data = pair_score_dataset.add_column("dataset_name", ["x"] * len(pair_score_dataset))
    with pytest.raises(InvalidInputError, match=r"has column\(s\) \['dataset_name'\], names the trainer reserves"):
        SentenceTransformerTrainer(model=model, args=make_args(tmp_path), train_dataset=data)


def test_args_of_the_wrong_type(tmp_path, model, pair_score_dataset):
    from transformers import TrainingArguments

    with pytest.raises(InvalidInputError, match="`args` must be a SentenceTransformerTrainingArguments; got TrainingArguments"):
        SentenceTransformerTrainer(model=model, args=TrainingArguments(output_dir=str(tmp_path / "o"), report_to="none"), train_dataset=pair_score_dataset)


def test_gradient_accumulation_with_in_batch_negatives_warns(tmp_path, model, anchor_positive_dataset):
    with pytest.warns(UserWarning, match=r"gradient_accumulation_steps=2 with the in-batch-negatives loss MultipleNegativesRankingLoss: accumulation adds no negatives"):
        SentenceTransformerTrainer(
            model=model, args=make_args(tmp_path, gradient_accumulation_steps=2), train_dataset=anchor_positive_dataset,
            loss="multiple_negatives_ranking",
        )


def test_plugin_validation_hook_stops_the_run_before_writing(tmp_path, model, pair_score_dataset):
    from sentrix import hookimpl
    from sentrix.plugins import register_hook_plugin, unregister_hook_plugin

    class Plugin:
        adjusted = False

        @hookimpl
        def sentrix_validate_run(self, trainer):
            return [f"acme: batch size {trainer.args.per_device_train_batch_size} is below 8; set per_device_train_batch_size=8."]

    plugin = Plugin()
    register_hook_plugin(plugin, name="acme-check")
    try:
        trainer = SentenceTransformerTrainer(model=model, args=make_args(tmp_path, save_strategy="steps", save_steps=1), train_dataset=pair_score_dataset)
        with pytest.raises(InvalidInputError, match=r"stopped before it started by a plugin check:\n- acme: batch size 4 is below 8"):
            trainer.train()
    finally:
        unregister_hook_plugin(plugin)
    _assert_nothing_written(tmp_path)


def test_adjust_trainer_hook_runs_before_training(tmp_path, model, pair_score_dataset):
    from transformers import TrainerCallback

    from sentrix import hookimpl
    from sentrix.plugins import register_hook_plugin, unregister_hook_plugin

    seen = []

    class Marker(TrainerCallback):
        def on_train_begin(self, args, state, control, **kwargs):
            seen.append("train_begin")

    class Plugin:
        @hookimpl
        def sentrix_adjust_trainer(self, trainer):
            seen.append("adjust")
            trainer.add_callback(Marker())

    plugin = Plugin()
    register_hook_plugin(plugin, name="acme-adjust")
    try:
        SentenceTransformerTrainer(model=model, args=make_args(tmp_path, max_steps=1), train_dataset=pair_score_dataset).train()
    finally:
        unregister_hook_plugin(plugin)
    assert seen == ["adjust", "train_begin"]


def test_training_args_from_the_command_line(tmp_path):
    from transformers import HfArgumentParser

    from sentrix import BatchSamplers, MultiDatasetBatchSamplers

    (args,) = HfArgumentParser(SentenceTransformerTrainingArguments).parse_args_into_dataclasses(
        [
            "--output_dir", str(tmp_path / "o"), "--report_to", "none",
            "--batch_sampler", "no_duplicates", "--multi_dataset_batch_sampler", "round_robin",
            "--prompts", '{"query": "query: "}', "--router_mapping", '{"query": "query", "answer": "document"}',
            "--learning_rate_mapping", '{"pooler": 0.001}',
        ]
    )
    assert args.batch_sampler is BatchSamplers.NO_DUPLICATES
    assert args.multi_dataset_batch_sampler is MultiDatasetBatchSamplers.ROUND_ROBIN
    assert args.prompts == {"query": "query: "}
    assert args.router_mapping == {"query": "query", "answer": "document"}
    assert args.learning_rate_mapping == {"pooler": 0.001}
    plain = make_args(tmp_path, prompts="query: ")
    assert plain.prompts == "query: "
    with pytest.raises(InvalidInputError, match=r"`learning_rate_mapping` looks like JSON but does not parse .*regular expression -> learning rate"):
        make_args(tmp_path, learning_rate_mapping="{pooler: 1}")


def test_sampler_arguments_accept_enum_name_class_and_callable(tmp_path, model, pair_score_dataset):
    from sentrix import BatchSamplers
    from sentrix.registry import batch_samplers

    cls = batch_samplers.get("no_duplicates")
    made = []

    def factory(dataset, **kwargs):
        made.append(kwargs["batch_size"])
        return cls(dataset, **kwargs)

    for spec in (BatchSamplers.NO_DUPLICATES, "NoDuplicatesBatchSampler", cls, factory):
        trainer = SentenceTransformerTrainer(model=model, args=make_args(tmp_path, batch_sampler=spec), train_dataset=pair_score_dataset)
        loader = trainer.get_train_dataloader()
        assert type(loader.batch_sampler).__name__ == cls.__name__ or type(getattr(loader, "batch_sampler", None)).__name__.endswith("Shard")
    assert made == [4]
    args = make_args(tmp_path, batch_sampler=factory, hub_token="hf_" + "x" * 30)
    dumped = args.to_json_string()
    assert "hf_xxx" not in dumped and "<HUB_TOKEN>" in dumped
    assert args.without_secrets().hub_token is None and args.hub_token.startswith("hf_")


def test_iterable_dataset_without_features(tmp_path, model):
    from datasets import IterableDataset

    def gen():
        yield {"sentence1": "a", "sentence2": "b", "score": 1.0}

    data = IterableDataset.from_generator(gen).map(lambda row: row)  # a map without features forgets them
    assert data.column_names is None
    with pytest.raises(InvalidInputError, match="IterableDataset without features"):
        SentenceTransformerTrainer(model=model, args=make_args(tmp_path), train_dataset=data)


def test_warmup_ratio_is_accepted_and_moved_into_warmup_steps(tmp_path, caplog):
    import logging

    from sentrix import SentenceTransformerTrainingArguments

    with caplog.at_level(logging.WARNING, logger="sentrix.training_args"):
        args = SentenceTransformerTrainingArguments(output_dir=str(tmp_path), warmup_ratio=0.25, report_to="none")
    assert args.warmup_steps == 0.25 and args.warmup_ratio is None
    assert "Pass `warmup_steps=0.25`" in caplog.text
    both = SentenceTransformerTrainingArguments(output_dir=str(tmp_path), warmup_ratio=0.25, warmup_steps=3, report_to="none")
    assert both.warmup_steps == 3
    with pytest.raises(InvalidInputError, match=r"`warmup_ratio` must be a number between 0 and 1; got 2"):
        SentenceTransformerTrainingArguments(output_dir=str(tmp_path), warmup_ratio=2, report_to="none")


def test_missing_texts_are_found_before_training_with_their_rows(tmp_path, model, pair_score_dataset):
    rows = pair_score_dataset.to_dict()
    rows["sentence2"][3] = None
    rows["sentence2"][5] = None
    from datasets import Dataset

    data = Dataset.from_dict(rows).select(range(1, len(rows["score"])))  # an index mapping shifts the rows
    with pytest.raises(InvalidInputError, match=r"text column 'sentence2' has 2 missing value\(s\) \(None\) at rows \[2, 4\].*dataset.filter"):
        SentenceTransformerTrainer(model=model, args=make_args(tmp_path), train_dataset=data)
    assert not os.path.exists(tmp_path / "out")


def test_missing_text_in_a_streamed_dataset_reaches_the_user_from_a_worker(tmp_path, model):
    from datasets import Features, IterableDataset, Value

    def rows():
        for i in range(12):
            yield {"sentence1": f"text {i}", "sentence2": None if i == 9 else f"other {i}", "score": 0.5}

    features = Features({"sentence1": Value("string"), "sentence2": Value("string"), "score": Value("float64")})
    data = IterableDataset.from_generator(rows, features=features)
    args = make_args(tmp_path, dataloader_num_workers=1, max_steps=3)
    trainer = SentenceTransformerTrainer(model=model, args=args, train_dataset=data, loss="cosent")
    with pytest.raises(InvalidInputError, match=r"Text column 'sentence2' has a missing value \(None\) in 1 row"):
        trainer.train()
