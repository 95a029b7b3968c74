"""End-to-end training runs on a tiny model: single dataset, several datasets and samplers,
prompts, a Router model, learning-rate mapping, evaluation keys."""

from __future__ import annotations

import os

import pytest
import torch
from trainer_helpers import make_args

from sentrix import SentenceTransformer, SentenceTransformerTrainer


def _weights(model):
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def test_single_dataset_trains_evaluates_and_saves(tmp_path, model, pair_score_dataset):
    before = _weights(model)
    args = make_args(tmp_path, eval_strategy="steps", eval_steps=2)
    trainer = SentenceTransformerTrainer(
        model=model, args=args, train_dataset=pair_score_dataset, eval_dataset=pair_score_dataset
    )
    assert type(trainer.loss).__name__ == "CoSENTLoss"  # the default loss
    output = trainer.train()
    assert output.global_step == 4
    after = _weights(model)
    assert any(not torch.equal(before[k], after[k]) for k in before)
    metrics = trainer.evaluate()
    assert "eval_loss" in metrics and torch.isfinite(torch.tensor(metrics["eval_loss"]))

    final = tmp_path / "final"
    trainer.save_model(str(final))
    assert (final / "modules.json").is_file() and (final / "README.md").is_file()
    assert not [n for n in os.listdir(tmp_path) if n.startswith(".sentrix-tmp")]
    reloaded = SentenceTransformer(str(final), device="cpu")
    texts = ["a cat sat on the mat", "dogs run"]
    torch.testing.assert_close(
        torch.as_tensor(reloaded.encode(texts)), torch.as_tensor(model.encode(texts)), atol=1e-5, rtol=1e-5
    )


class _Recorder:
    """Wraps compute_loss to record which dataset and how many text columns each batch had."""

    def __init__(self, trainer):
        self.seen = []
        original = trainer.compute_loss

        def compute_loss(model, inputs, *args, **kwargs):
            features, labels = trainer.collect_features(inputs)
            self.seen.append((inputs.get("dataset_name"), len(features), labels is not None, len(features[0]["input_ids"])))
            return original(model, inputs, *args, **kwargs)

        trainer.compute_loss = compute_loss


@pytest.mark.parametrize(
    "batch_sampler, multi",
    [
        ("batch_sampler", "proportional"),
        ("no_duplicates", "round_robin"),
        ("no_duplicates_hashed", "proportional"),
    ],
)
def test_three_datasets_with_a_loss_each(tmp_path, model, pair_score_dataset, anchor_positive_dataset, triplet_dataset, batch_sampler, multi):
    train = {"sts": pair_score_dataset, "pairs": anchor_positive_dataset, "triplets": triplet_dataset}
    losses = {"sts": "cosent", "pairs": "MultipleNegativesRankingLoss", "triplets": "multiple_negatives_ranking"}
    args = make_args(tmp_path, batch_sampler=batch_sampler, multi_dataset_batch_sampler=multi, max_steps=-1, num_train_epochs=1)
    trainer = SentenceTransformerTrainer(model=model, args=args, train_dataset=train, loss=losses)
    recorder = _Recorder(trainer)
    trainer.train()
    expected_columns = {"sts": 2, "pairs": 2, "triplets": 3}
    assert recorder.seen, "no batch was trained"
    names = {name for name, *_ in recorder.seen}
    # round robin stops with the smallest dataset, proportional uses every batch: both see all three
    assert names == {"sts", "pairs", "triplets"}
    for name, n_columns, has_label, _size in recorder.seen:
        assert n_columns == expected_columns[name]  # each batch comes from one dataset
        assert has_label == (name == "sts")
    if multi == "proportional" and batch_sampler == "batch_sampler":
        rows = sum(size for *_, size in recorder.seen)
        assert rows == sum(len(d) for d in train.values())


def test_group_by_label_sampler_runs(tmp_path, model):
    from datasets import Dataset

    data = Dataset.from_dict(
        {"sentence1": ["a cat", "a dog", "the sun", "a car"] * 4, "sentence2": ["cats", "dogs", "hot", "road"] * 4,
         "label": [0, 1, 2, 0] * 4}
    )
    args = make_args(tmp_path, batch_sampler="group_by_label", max_steps=2)
    trainer = SentenceTransformerTrainer(model=model, args=args, train_dataset=data, loss=lambda m: _softmax(m))
    batch = next(iter(trainer.get_train_dataloader()))
    labels = batch["label"].tolist()
    assert all(labels.count(v) >= 2 for v in labels)  # every label at least twice in a batch
    trainer.train()


def _softmax(model):
    from sentrix.losses import SoftmaxLoss

    return SoftmaxLoss(model, embedding_dimension=model.get_sentence_embedding_dimension(), num_labels=3)


class _TokenizerSpy:
    def __init__(self, fn):
        self.fn = fn
        self.calls = []

    def __call__(self, texts, prompt=None, **kwargs):
        self.calls.append((list(texts), prompt))
        return self.fn(texts, prompt=prompt, **kwargs)


@pytest.mark.parametrize(
    "prompts, multi, expected",
    [
        ("query: ", False, {"sentence1": "query: ", "sentence2": "query: "}),
        ({"sentence1": "query: "}, False, {"sentence1": "query: ", "sentence2": None}),
        ({"sts": "search: ", "other": "x: "}, True, {"sentence1": "search: ", "sentence2": "search: "}),
        ({"sts": {"sentence2": "passage: "}}, True, {"sentence1": None, "sentence2": "passage: "}),
    ],
    ids=["one-string", "column-to-prompt", "dataset-to-prompt", "dataset-to-column-to-prompt"],
)
def test_prompts_in_each_form_reach_the_tokenizer(tmp_path, model, pair_score_dataset, prompts, multi, expected):
    train = {"sts": pair_score_dataset, "other": pair_score_dataset} if multi else pair_score_dataset
    args = make_args(tmp_path, prompts=prompts)
    trainer = SentenceTransformerTrainer(model=model, args=args, train_dataset=train, loss="cosent")
    spy = _TokenizerSpy(trainer.data_collator.tokenize_fn)
    trainer.data_collator.tokenize_fn = spy
    collator = trainer.data_collator
    log = []

    def recording_collator(rows):
        start = len(spy.calls)
        out = collator(rows)
        log.append((rows, spy.calls[start:], out))
        return out

    trainer.data_collator = recording_collator
    for batch in trainer.get_train_dataloader():
        if not multi or batch.get("dataset_name") == "sts":
            break
    rows, calls, _ = next(
        entry for entry in log
        if entry[2].get("dataset_name") == batch.get("dataset_name")
        and torch.equal(entry[2]["sentence1_input_ids"], batch["sentence1_input_ids"])
    )
    assert [prompt for _texts, prompt in calls] == [expected["sentence1"], expected["sentence2"]]
    # the tokenizer got the raw texts; the label column is neither prompted nor tokenised
    assert calls[0][0] == [r["sentence1"] for r in rows]
    assert batch["label"].tolist() == pytest.approx([r["score"] for r in rows])
    assert not any(key.startswith("score") for key in batch)
    # the prompt is in the token ids the model sees
    word = (expected["sentence1"] or expected["sentence2"]).split(":")[0]
    col = "sentence1" if expected["sentence1"] else "sentence2"
    decoded = model.tokenizer.decode(batch[f"{col}_input_ids"][0], skip_special_tokens=True)
    assert decoded.startswith(word)


def _router_model(tiny_folder):
    from sentrix.models import Pooling, Router, Transformer

    def branch():
        transformer = Transformer(tiny_folder)
        return [transformer, Pooling(transformer.get_embedding_dimension(), pooling_mode="mean")]

    return SentenceTransformer(modules=[Router.for_query_document(branch(), branch())], device="cpu")


@pytest.mark.parametrize("router_mapping", [{"anchor": "query", "positive": "document"}, "query_document"])
def test_router_model_with_router_mapping(tmp_path, tiny_folder, anchor_positive_dataset, router_mapping):
    model = _router_model(tiny_folder)
    query_before = _weights(model[0].sub_modules["query"])
    doc_before = _weights(model[0].sub_modules["document"])
    args = make_args(tmp_path, router_mapping=router_mapping, max_steps=2)
    trainer = SentenceTransformerTrainer(model=model, args=args, train_dataset=anchor_positive_dataset, loss="multiple_negatives_ranking")
    batch = next(iter(trainer.get_train_dataloader()))
    assert batch["anchor_task"] == "query" and batch["positive_task"] == "document"
    trainer.train()
    query_after = _weights(model[0].sub_modules["query"])
    doc_after = _weights(model[0].sub_modules["document"])
    assert any(not torch.equal(query_before[k], query_after[k]) for k in query_before)
    assert any(not torch.equal(doc_before[k], doc_after[k]) for k in doc_before)


def test_learning_rate_mapping_changes_one_group(tmp_path, model, pair_score_dataset):
    pattern = r"encoder\.layer\.0\."
    args = make_args(tmp_path, learning_rate=1e-4, learning_rate_mapping={pattern: 5e-2}, lr_scheduler_type="constant", max_steps=2)
    trainer = SentenceTransformerTrainer(model=model, args=args, train_dataset=pair_score_dataset, loss="cosent")
    trainer.train()
    names = {id(p): n for n, p in trainer._optimization_target().named_parameters()}
    seen_mapped = seen_other = False
    for group in trainer.optimizer.param_groups:
        group_names = [names[id(p)] for p in group["params"]]
        if not group_names:
            continue
        if all("encoder.layer.0." in n for n in group_names):
            assert group["lr"] == pytest.approx(5e-2)
            seen_mapped = True
        else:
            assert not any("encoder.layer.0." in n for n in group_names)
            assert group["lr"] == pytest.approx(1e-4)
            seen_other = True
    assert seen_mapped and seen_other
    assert sorted(set(trainer.get_learning_rates())) == pytest.approx([1e-4, 5e-2])
    some_name = next(n for n in names.values() if "encoder.layer.0." in n)
    assert trainer.get_optimizer_group(some_name)["lr"] == pytest.approx(5e-2)
    n_model = sum(p.numel() for p in model.parameters() if p.requires_grad)
    assert trainer.get_num_trainable_parameters() == n_model


def test_loss_parameters_are_optimised_and_counted(tmp_path, model):
    from datasets import Dataset

    data = Dataset.from_dict({"premise": ["a cat", "a dog"] * 4, "hypothesis": ["cats", "dogs"] * 4, "label": [0, 1] * 4})
    args = make_args(tmp_path, max_steps=2)
    trainer = SentenceTransformerTrainer(model=model, args=args, train_dataset=data, loss=_softmax)
    head = dict(trainer.loss.named_parameters())
    head = {k: v.detach().clone() for k, v in head.items() if not k.startswith("model.")}
    assert head, "SoftmaxLoss should own a classifier"
    n_model = sum(p.numel() for p in model.parameters())
    assert trainer.get_num_trainable_parameters() == n_model + sum(v.numel() for v in head.values())
    trainer.train()
    after = {k: v for k, v in trainer.loss.named_parameters() if k in head}
    assert any(not torch.equal(head[k], after[k]) for k in head)


def test_eval_loss_per_eval_dataset_and_evaluator_keys(tmp_path, model, pair_score_dataset):
    from sentrix.evaluation import EmbeddingSimilarityEvaluator

    evaluator = EmbeddingSimilarityEvaluator(
        pair_score_dataset["sentence1"], pair_score_dataset["sentence2"], pair_score_dataset["score"], name="sts-dev"
    )
    args = make_args(tmp_path, eval_strategy="steps", eval_steps=2, max_steps=2)
    trainer = SentenceTransformerTrainer(
        model=model,
        args=args,
        train_dataset=pair_score_dataset,
        eval_dataset={"sts_a": pair_score_dataset, "sts_b": pair_score_dataset.select(range(8))},
        loss="cosent",
        evaluator=evaluator,
    )
    # Outside training, as in sentence-transformers: the evaluator runs once per eval dataset, its keys
    # prefixed with that dataset's name.
    metrics = trainer.evaluate()
    assert "eval_sts_a_loss" in metrics and "eval_sts_b_loss" in metrics
    for name in ("sts_a", "sts_b"):
        assert f"eval_{name}_sts-dev_spearman_cosine" in metrics and f"eval_{name}_sts-dev_pearson_cosine" in metrics
    assert metrics["eval_sts_a_loss"] != metrics["eval_sts_b_loss"]
    # During training: one loss per eval dataset, and the evaluator once, under the plain "eval_" prefix.
    history = trainer.train()
    assert history.global_step == 2
    logged = [entry for entry in trainer.state.log_history if "eval_sts_a_loss" in entry]
    logged_keys = {k for e in trainer.state.log_history for k in e}
    assert logged and "eval_sts-dev_spearman_cosine" in logged_keys
    assert "eval_sts_b_sts-dev_spearman_cosine" not in logged_keys


@pytest.mark.oracle
def test_evaluator_metric_keys_match_sentence_transformers(tmp_path, tiny_folder, model, pair_score_dataset):
    import sentence_transformers
    from sentence_transformers.sentence_transformer.evaluation import EmbeddingSimilarityEvaluator as STEval

    from sentrix.evaluation import EmbeddingSimilarityEvaluator

    columns = (pair_score_dataset["sentence1"], pair_score_dataset["sentence2"], pair_score_dataset["score"])
    args = make_args(tmp_path, max_steps=1)
    trainer = SentenceTransformerTrainer(
        model=model, args=args, train_dataset=pair_score_dataset, loss="cosent",
        evaluator=[EmbeddingSimilarityEvaluator(*columns, name="sts-dev")],
    )
    ours = set(trainer.evaluate())
    st_model = sentence_transformers.SentenceTransformer(tiny_folder, device="cpu")
    st_args = sentence_transformers.SentenceTransformerTrainingArguments(
        output_dir=str(tmp_path / "st"), report_to="none", use_cpu=True, disable_tqdm=True
    )
    st_trainer = sentence_transformers.SentenceTransformerTrainer(
        model=st_model, args=st_args, train_dataset=pair_score_dataset,
        evaluator=[STEval(*columns, name="sts-dev")],
    )
    theirs = set(st_trainer.evaluate())
    timing = {"eval_runtime", "eval_samples_per_second", "eval_steps_per_second", "epoch"}
    assert ours - timing == theirs - timing


def test_evaluators_by_registered_name_with_params(tmp_path, model, pair_score_dataset):
    params = {
        "sentences1": pair_score_dataset["sentence1"],
        "sentences2": pair_score_dataset["sentence2"],
        "scores": pair_score_dataset["score"],
        "name": "sts-dev",
    }
    args = make_args(tmp_path)
    one = SentenceTransformerTrainer(model=model, args=args, train_dataset=pair_score_dataset, evaluator=("embedding_similarity", params))
    assert type(one.evaluator).__name__ == "EmbeddingSimilarityEvaluator"
    several = SentenceTransformerTrainer(
        model=model, args=args, train_dataset=pair_score_dataset,
        evaluator=[("embedding_similarity", params), ("EmbeddingSimilarityEvaluator", {**params, "name": "sts-copy"})],
    )
    assert type(several.evaluator).__name__ == "SequentialEvaluator"
    metrics = several.evaluate()
    assert "eval_sts-dev_spearman_cosine" in metrics and "eval_sts-copy_spearman_cosine" in metrics
    mapping = SentenceTransformerTrainer(model=model, args=args, train_dataset=pair_score_dataset, evaluator={"embedding_similarity": params})
    assert type(mapping.evaluator).__name__ == "EmbeddingSimilarityEvaluator"


def test_iterable_dataset_trains(tmp_path, model, pair_score_dataset):
    stream = pair_score_dataset.to_iterable_dataset()
    trainer = SentenceTransformerTrainer(model=model, args=make_args(tmp_path, max_steps=2), train_dataset=stream, loss="cosent")
    assert trainer.train().global_step == 2


@pytest.mark.oracle
def test_bf16_autocast_on_cpu_gives_the_losses_of_sentence_transformers(tmp_path, tiny_folder):
    """`bf16=True` on CPU (the mixed-precision path accelerate sets up): the run works and gives the same
    per-step losses as sentence-transformers 6.2 with the same seed, data and dropout-free model."""
    import json
    import shutil

    import sentence_transformers
    from datasets import Dataset

    import sentrix

    folder = tmp_path / "no-dropout"
    shutil.copytree(tiny_folder, folder)
    config = json.loads((folder / "config.json").read_text())
    config.update(hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)
    (folder / "config.json").write_text(json.dumps(config))
    data = Dataset.from_dict({"anchor": [f"a text {i}" for i in range(32)], "positive": [f"other {i}" for i in range(32)]})

    def losses(lib, bf16=True):
        import importlib

        model = lib.SentenceTransformer(str(folder), device="cpu")
        mnrl = importlib.import_module(f"{lib.__name__}.losses").MultipleNegativesRankingLoss
        args = lib.SentenceTransformerTrainingArguments(
            output_dir=str(tmp_path / lib.__name__), max_steps=4, per_device_train_batch_size=8, bf16=bf16,
            use_cpu=True, report_to="none", disable_tqdm=True, seed=1, logging_steps=1, save_strategy="no",
        )
        trainer = lib.SentenceTransformerTrainer(
            model=model, args=args, train_dataset=data, loss=mnrl(model)
        )
        trainer.train()
        return [entry["loss"] for entry in trainer.state.log_history if "loss" in entry]

    ours, theirs = losses(sentrix), losses(sentence_transformers)
    assert len(ours) == len(theirs) == 4
    assert ours == pytest.approx(theirs, rel=1e-3)
