"""The evaluators added for issue 10 against sentence-transformers 6.2 itself.

Each test runs our evaluator and sentence-transformers' on the same model object (its own
SentenceTransformer over the tiny test model, so both see the same embeddings) and the same data,
twice (the CSV gets its header once, then rows), and checks: identical metric keys in the same
order, values within 1e-6, the same ``primary_metric``, ``greater_is_better``, ``description`` and
``get_config_dict()``, and identical CSV files. A last group runs ours on the sentrix model loaded
from the same folder.
"""

from __future__ import annotations

import csv
import json
import math
import os
import random
from collections import defaultdict
from pathlib import Path

import numpy as np
import pytest
import sentence_transformers
import sentence_transformers.sentence_transformer.evaluation as st_eval
import torch
from sentence_transformers.sentence_transformer.losses import SoftmaxLoss as STSoftmaxLoss
from sentence_transformers.util import dot_score as st_dot_score
from torch.utils.data import DataLoader

from sentrix.evaluation import (
    BinaryClassificationEvaluator,
    LabelAccuracyEvaluator,
    MSEEvaluator,
    MSEEvaluatorFromDataFrame,
    NanoBEIREvaluator,
    ParaphraseMiningEvaluator,
    RerankingEvaluator,
    TranslationEvaluator,
)
from sentrix.fit_mixin import InputExample
from sentrix.similarity import dot_score

pytestmark = pytest.mark.oracle

assert sentence_transformers.__version__.startswith("6.2"), sentence_transformers.__version__

TOL = 1e-6
DATA = Path(__file__).resolve().parent.parent / "data"


# -- helpers ---------------------------------------------------------------------------------------


def assert_same_metrics(ours: dict, theirs: dict, tol: float = TOL) -> None:
    assert list(ours) == list(theirs)
    for key, value in theirs.items():
        assert math.isclose(ours[key], value, rel_tol=0, abs_tol=tol), (key, ours[key], value)


def _same_field(a: str, b: str) -> bool:
    if a == b:
        return True
    try:
        return math.isclose(float(a), float(b), rel_tol=0, abs_tol=TOL)
    except ValueError:
        return False


def assert_same_files(our_dir, their_dir, byte_identical: bool = True) -> None:
    """Same file names and contents. ``byte_identical=False`` only where sentence-transformers embeds
    in an order that depends on Python's hash seed (a set of sentences): then every byte but the
    last digits of the floats must agree (same header, line endings, rows, values within 1e-6)."""
    assert sorted(os.listdir(our_dir)) == sorted(os.listdir(their_dir))
    for name in os.listdir(their_dir):
        ours = (our_dir / name).read_bytes()
        theirs = (their_dir / name).read_bytes()
        if byte_identical:
            assert ours == theirs, f"{name}:\n{ours!r}\n!=\n{theirs!r}"
            continue
        our_lines, their_lines = ours.splitlines(keepends=True), theirs.splitlines(keepends=True)
        assert len(our_lines) == len(their_lines), name
        if name.endswith(".jsonl"):  # ranked hits: same ids in the same order, scores within 1e-6
            for x, y in zip(our_lines, their_lines):
                x, y = json.loads(x), json.loads(y)
                assert (x["query_id"], x["query"]) == (y["query_id"], y["query"])
                assert [r["corpus_id"] for r in x["results"]] == [r["corpus_id"] for r in y["results"]]
                assert all(_same_field(str(a["score"]), str(b["score"])) for a, b in zip(x["results"], y["results"]))
            continue
        assert our_lines[0] == their_lines[0], name  # header, line ending included
        for x, y in zip(our_lines[1:], their_lines[1:]):
            assert x[-2:] == y[-2:], name  # same line ending
            xs = next(csv.reader([x.decode()]))
            ys = next(csv.reader([y.decode()]))
            assert len(xs) == len(ys) and all(_same_field(a, b) for a, b in zip(xs, ys)), (name, xs, ys)


def run_both(ours, theirs, model, tmp_path, byte_identical: bool = True, tol: float = TOL) -> dict:
    our_dir, their_dir = tmp_path / "ours", tmp_path / "theirs"
    for epoch, steps in ((1, 10), (2, -1)):
        our_metrics = ours(model, output_path=str(our_dir), epoch=epoch, steps=steps)
        their_metrics = theirs(model, output_path=str(their_dir), epoch=epoch, steps=steps)
        assert_same_metrics(our_metrics, their_metrics, tol)
    assert ours.primary_metric == theirs.primary_metric
    assert ours.primary_metric in our_metrics
    assert ours.greater_is_better == theirs.greater_is_better
    assert ours.get_config_dict() == theirs.get_config_dict()
    assert ours.description == theirs.description
    assert ours.csv_file == theirs.csv_file and ours.csv_headers == theirs.csv_headers
    assert_same_files(our_dir, their_dir, byte_identical)
    return our_metrics


@pytest.fixture(scope="module")
def snli_pairs():
    with open(DATA / "snli_dev_pairs_sample.tsv", encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle, delimiter="\t", quoting=csv.QUOTE_NONE))
    return rows


@pytest.fixture(scope="module")
def teacher_folder(tmp_path_factory) -> str:
    from sentrix.testing.tiny_models import tiny_model_folder

    return str(tiny_model_folder(tmp_path_factory.mktemp("teacher") / "tiny", seed=1))


@pytest.fixture(scope="module")
def st_teacher(teacher_folder):
    return sentence_transformers.SentenceTransformer(teacher_folder, device="cpu")


# -- binary classification -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs",
    [{}, {"similarity_fn_names": ["cosine", "dot", "euclidean", "manhattan"]}, {"truncate_dim": 16, "name": ""}],
)
def test_binary_classification(st_model, snli_pairs, tmp_path, kwargs):
    kwargs = {"name": "snli-dev", **kwargs}
    args = (
        [r["premise"] for r in snli_pairs],
        [r["hypothesis"] for r in snli_pairs],
        [int(r["label"] == "entailment") for r in snli_pairs],
    )
    # sentence-transformers embeds a set of the sentences: batch order follows the hash seed
    metrics = run_both(
        BinaryClassificationEvaluator(*args, **kwargs), st_eval.BinaryClassificationEvaluator(*args, **kwargs),
        st_model, tmp_path, byte_identical=False,
    )
    assert any(key.endswith("_ap") for key in metrics)


def test_binary_classification_threshold_search_matches_on_ties():
    """The threshold searches on scores with many ties, all four orientations, byte for byte."""
    rng = np.random.default_rng(0)
    for trial in range(40):
        size = int(rng.integers(1, 30))
        scores = rng.choice(np.linspace(-1, 1, 7).astype(np.float32), size=size)
        labels = rng.integers(0, 2, size=size)
        for high in (True, False):
            ours = BinaryClassificationEvaluator.find_best_acc_and_threshold(scores, labels, high)
            theirs = st_eval.BinaryClassificationEvaluator.find_best_acc_and_threshold(scores, labels, high)
            assert [str(v) for v in ours] == [str(v) for v in theirs], (trial, high)
            ours = BinaryClassificationEvaluator.find_best_f1_and_threshold(scores, labels, high)
            theirs = st_eval.BinaryClassificationEvaluator.find_best_f1_and_threshold(scores, labels, high)
            assert [str(v) for v in ours] == [str(v) for v in theirs], (trial, high)


# -- MSE -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("kwargs", [{}, {"name": "sts-dev", "truncate_dim": 16}])
def test_mse(st_model, st_teacher, sts_sample, tmp_path, kwargs):
    sentences = sts_sample["sentences1"][:40]
    targets = sts_sample["sentences2"][:40]
    metrics = run_both(
        MSEEvaluator(sentences, targets, teacher_model=st_teacher, **kwargs),
        st_eval.MSEEvaluator(sentences, targets, teacher_model=st_teacher, **kwargs),
        st_model, tmp_path,
    )
    assert list(metrics) == [("sts-dev_" if kwargs else "") + "negative_mse"]


# -- translation -----------------------------------------------------------------------------------


@pytest.mark.parametrize("kwargs", [{}, {"name": "en-xx", "truncate_dim": 16}])
def test_translation(st_model, sts_sample, tmp_path, kwargs):
    # sentence2 as the "translation"; the sample repeats some sentences, which count as matches
    args = (sts_sample["sentences1"], sts_sample["sentences2"])
    run_both(TranslationEvaluator(*args, **kwargs), st_eval.TranslationEvaluator(*args, **kwargs), st_model, tmp_path)


# -- reranking -------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def rerank_samples(scifact_sample):
    rng = random.Random(0)
    corpus_ids = sorted(scifact_sample["corpus"])
    samples = []
    for qid, query in scifact_sample["queries"].items():
        relevant = sorted(scifact_sample["relevant_docs"][qid])
        others = rng.sample([c for c in corpus_ids if c not in relevant], 6)
        positive = [scifact_sample["corpus"][c] for c in relevant]
        samples.append({"query": query, "positive": positive[0] if len(positive) == 1 else positive,
                        "negative": [scifact_sample["corpus"][c] for c in others]})
    samples.append({"query": "dropped: no negatives", "positive": ["x"], "negative": []})
    return samples


@pytest.mark.parametrize(
    "kwargs",
    [{}, {"at_k": 3}, {"use_batched_encoding": False, "name": ""}, {"mrr_at_k": 5}, {"truncate_dim": 16}, {"dot": True}],
)
def test_reranking(st_model, rerank_samples, tmp_path, kwargs):
    kwargs = {"name": "scifact-rerank", **kwargs}
    theirs_kwargs = dict(kwargs)
    if kwargs.pop("dot", False):
        kwargs["similarity_fct"] = dot_score
        theirs_kwargs.pop("dot")
        theirs_kwargs["similarity_fct"] = st_dot_score
    run_both(RerankingEvaluator(rerank_samples, **kwargs), st_eval.RerankingEvaluator(rerank_samples, **theirs_kwargs),
             st_model, tmp_path)


# -- paraphrase mining -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def mining_data(sts_sample):
    sentences = list(dict.fromkeys(sts_sample["sentences1"] + sts_sample["sentences2"]))
    ids = {s: f"s{i:03d}" for i, s in enumerate(sentences)}
    duplicates = [
        (ids[a], ids[b])
        for a, b, score in zip(sts_sample["sentences1"], sts_sample["sentences2"], sts_sample["scores"])
        if score >= 3.5 and a != b
    ]
    return {ids[s]: s for s in sentences}, duplicates


@pytest.mark.parametrize(
    "kwargs",
    [
        {},
        {"top_k": 3, "max_pairs": 40},
        {"query_chunk_size": 7, "corpus_chunk_size": 11, "top_k": 5},
        {"add_transitive_closure": True, "truncate_dim": 16, "name": ""},
        {"dict": True},
    ],
)
def test_paraphrase_mining(st_model, mining_data, tmp_path, kwargs):
    sentences_map, duplicates = mining_data
    kwargs = {"name": "sts-mining", **kwargs}
    if kwargs.pop("dict", False):
        def as_dict():
            table = defaultdict(lambda: defaultdict(bool))
            for a, b in duplicates:
                table[a][b] = table[b][a] = True
            return table

        ours = ParaphraseMiningEvaluator(sentences_map, duplicates_dict=as_dict(), **kwargs)
        theirs = st_eval.ParaphraseMiningEvaluator(sentences_map, duplicates_dict=as_dict(), **kwargs)
    else:
        ours = ParaphraseMiningEvaluator(sentences_map, duplicates, **kwargs)
        theirs = st_eval.ParaphraseMiningEvaluator(sentences_map, duplicates, **kwargs)
    assert ours.total_num_duplicates == theirs.total_num_duplicates > 0
    run_both(ours, theirs, st_model, tmp_path)


# -- label accuracy --------------------------------------------------------------------------------

_NLI = {"entailment": 0, "neutral": 1, "contradiction": 2}


@pytest.mark.parametrize("name", ["snli-dev", ""])
def test_label_accuracy(st_model, snli_pairs, tmp_path, name):
    torch.manual_seed(0)
    head = STSoftmaxLoss(st_model, sentence_embedding_dimension=st_model.get_sentence_embedding_dimension(), num_labels=3)
    examples = [sentence_transformers.InputExample(texts=[r["premise"], r["hypothesis"]], label=_NLI[r["label"]])
                for r in snli_pairs]
    run_both(
        LabelAccuracyEvaluator(DataLoader(examples, batch_size=16), name=name, softmax_model=head),
        st_eval.LabelAccuracyEvaluator(DataLoader(examples, batch_size=16), name=name, softmax_model=head),
        st_model, tmp_path,
    )


# -- MSE from a data frame -------------------------------------------------------------------------


@pytest.mark.parametrize("kwargs", [{}, {"name": "sts-df", "truncate_dim": 16, "batch_size": 5}])
def test_mse_from_data_frame(st_model, st_teacher, sts_sample, tmp_path, kwargs):
    rows = [
        {"en": a, "xx": b, "yy": "" if i % 4 == 0 else b.lower()}
        for i, (a, b) in enumerate(zip(sts_sample["sentences1"][:30], sts_sample["sentences2"][:30]))
    ]
    combinations = [("en", "xx"), ("en", "yy"), ("xx", "en")]
    # sentence-transformers embeds a set of the source sentences: batch order follows the hash seed
    run_both(
        MSEEvaluatorFromDataFrame(rows, st_teacher, combinations, **kwargs),
        st_eval.MSEEvaluatorFromDataFrame(rows, st_teacher, combinations, **kwargs),
        st_model, tmp_path, byte_identical=False,
    )


# -- NanoBEIR --------------------------------------------------------------------------------------


def _nano_data(scifact_sample):
    """Two small "NanoBEIR" datasets cut from the SciFact sample."""
    queries = dict(sorted(scifact_sample["queries"].items()))
    qids = list(queries)
    corpus_ids = sorted(scifact_sample["corpus"])
    halves = {"scifact": (qids[:10], corpus_ids[: len(corpus_ids) // 2 + 20]),
              "nfcorpus": (qids[10:], corpus_ids[len(corpus_ids) // 2 - 20 :])}
    data = {}
    for name, (q_ids, c_ids) in halves.items():
        relevant = {q: {d for d in scifact_sample["relevant_docs"][q] if d in c_ids} for q in q_ids}
        data[name] = {
            "corpus": {c: scifact_sample["corpus"][c] for c in c_ids},
            "queries": {q: queries[q] for q in q_ids},
            "relevant_docs": {q: docs for q, docs in relevant.items() if docs},
        }
    return data


def _write_hub_layout(folder, data) -> str:
    """A local Hugging Face dataset repo in the NanoBEIR-en layout (configs corpus / queries / qrels,
    one split per dataset), which ``datasets.load_dataset(folder, subset, split=...)`` reads offline."""
    import json

    from sentrix_builtins.evaluators.nano_beir import DATASET_NAME_TO_HUMAN_READABLE

    config_lines = ["---", "configs:"]
    for subset in ("corpus", "queries", "qrels"):
        config_lines += [f"- config_name: {subset}", "  data_files:"]
        for name, parts in data.items():
            split = "Nano" + DATASET_NAME_TO_HUMAN_READABLE[name]
            path = folder / subset / f"{split}.jsonl"
            path.parent.mkdir(parents=True, exist_ok=True)
            if subset == "qrels":
                rows = [{"query-id": q, "corpus-id": d} for q, docs in parts["relevant_docs"].items() for d in sorted(docs)]
            else:
                rows = [{"_id": k, "text": v} for k, v in parts[subset].items()]
            path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
            config_lines += [f"  - split: {split}", f"    path: {subset}/{split}.jsonl"]
    config_lines.append("---")
    (folder / "README.md").write_text("\n".join(config_lines) + "\n", encoding="utf-8")
    return str(folder)


@pytest.fixture(scope="module")
def nano_folders(tmp_path_factory, scifact_sample):
    data = _nano_data(scifact_sample)
    hub = _write_hub_layout(tmp_path_factory.mktemp("nanobeir-hub"), data)
    local = tmp_path_factory.mktemp("nanobeir-local")
    for name, parts in data.items():
        NanoBEIREvaluator.save_local_dataset(local, name, parts["corpus"], parts["queries"], parts["relevant_docs"])
    return hub, str(local)


_NANO_OPTIONS = [
    {},
    {"truncate_dim": 16, "query_prompts": "query: ", "corpus_prompts": {"scifact": "doc: ", "nfcorpus": "passage: "}},
    {"score_functions": "both", "main_score_function": "dot", "ndcg_at_k": [3, 10], "write_predictions": True},
    {"aggregate_fn": np.median, "aggregate_key": "median", "map_at_k": [5]},
]


# the local layout only changes loading: two option sets cover it
@pytest.mark.parametrize(
    "layout, kwargs", [("hub", kw) for kw in _NANO_OPTIONS] + [("local", kw) for kw in _NANO_OPTIONS[:2]]
)
def test_nano_beir(st_model, nano_folders, tmp_path, kwargs, layout):
    hub, local = nano_folders
    kwargs = dict(kwargs)
    their_kwargs = dict(kwargs)
    if kwargs.get("score_functions") == "both":
        from sentence_transformers.util import cos_sim as st_cos_sim

        from sentrix.similarity import cos_sim

        kwargs["score_functions"] = {"cosine": cos_sim, "dot": dot_score}
        their_kwargs["score_functions"] = {"cosine": st_cos_sim, "dot": st_dot_score}
    ours = NanoBEIREvaluator(["scifact", "NFCorpus".lower()], dataset_id=hub if layout == "hub" else local, **kwargs)
    theirs = st_eval.NanoBEIREvaluator(["scifact", "nfcorpus"], dataset_id=hub, **their_kwargs)
    theirs.dataset_id = ours.dataset_id  # only the config dicts' dataset_id differs for the local layout
    our_dir, their_dir = tmp_path / "ours", tmp_path / "theirs"
    for epoch, steps in ((1, 10), (2, -1)):
        our_metrics = ours(st_model, output_path=str(our_dir), epoch=epoch, steps=steps)
        their_metrics = theirs(st_model, output_path=str(their_dir), epoch=epoch, steps=steps)
        assert_same_metrics(our_metrics, their_metrics)
    assert ours.primary_metric == theirs.primary_metric in our_metrics
    assert ours.greater_is_better == theirs.greater_is_better
    assert ours.get_config_dict() == theirs.get_config_dict()
    assert ours.description == theirs.description
    assert [e.name for e in ours.evaluators] == [e.name for e in theirs.evaluators]
    # The per-dataset files come from the built-in information_retrieval evaluator, whose means can
    # differ from sentence-transformers' in the last bit (np.mean vs. sum / n), so values to 1e-6 here.
    assert_same_files(our_dir, their_dir, byte_identical=False)


# -- ours on the sentrix model ---------------------------------------------------------------------


def test_on_the_sentrix_model(sentrix_model, st_model, st_teacher, snli_pairs, sts_sample, rerank_samples, mining_data):
    """Ours on sentrix's model against the reference on sentence-transformers' model (same folder)."""
    pair_args = ([r["premise"] for r in snli_pairs], [r["hypothesis"] for r in snli_pairs],
                 [int(r["label"] == "entailment") for r in snli_pairs])
    sentences_map, duplicates = mining_data
    pairs = [
        (BinaryClassificationEvaluator(*pair_args, name="d"), st_eval.BinaryClassificationEvaluator(*pair_args, name="d")),
        (MSEEvaluator(sts_sample["sentences1"][:20], sts_sample["sentences2"][:20], teacher_model=st_teacher),
         st_eval.MSEEvaluator(sts_sample["sentences1"][:20], sts_sample["sentences2"][:20], teacher_model=st_teacher)),
        (TranslationEvaluator(sts_sample["sentences1"], sts_sample["sentences2"]),
         st_eval.TranslationEvaluator(sts_sample["sentences1"], sts_sample["sentences2"])),
        (RerankingEvaluator(rerank_samples), st_eval.RerankingEvaluator(rerank_samples)),
        (ParaphraseMiningEvaluator(sentences_map, duplicates), st_eval.ParaphraseMiningEvaluator(sentences_map, duplicates)),
    ]
    for ours, theirs in pairs:
        assert_same_metrics(ours(sentrix_model), theirs(st_model), tol=1e-5)
        assert ours.primary_metric == theirs.primary_metric


def test_label_accuracy_on_the_sentrix_model(sentrix_model, st_model, snli_pairs):
    """Our evaluator with the sentrix SoftmaxLoss (same classifier weights) on the sentrix model."""
    from sentrix.losses import SoftmaxLoss

    torch.manual_seed(0)
    theirs_head = STSoftmaxLoss(st_model, sentence_embedding_dimension=32, num_labels=3)
    ours_head = SoftmaxLoss(sentrix_model, num_labels=3)
    ours_head.classifier.load_state_dict(theirs_head.classifier.state_dict())
    rows = [(r["premise"], r["hypothesis"], _NLI[r["label"]]) for r in snli_pairs]
    ours = LabelAccuracyEvaluator(DataLoader([InputExample(texts=[a, b], label=y) for a, b, y in rows], batch_size=8),
                                  name="nli", softmax_model=ours_head)
    theirs = st_eval.LabelAccuracyEvaluator(
        DataLoader([sentence_transformers.InputExample(texts=[a, b], label=y) for a, b, y in rows], batch_size=8),
        name="nli", softmax_model=theirs_head,
    )
    assert_same_metrics(ours(sentrix_model), theirs(st_model))
