"""Bad input to the issue-10 evaluators stops when the evaluator is built, with a message that names
the argument and the fix; plus the shared CSV helper and NanoBEIR's local-folder loading."""

from __future__ import annotations

import gzip
import json
import math

import numpy as np
import pytest
from torch.utils.data import DataLoader

from sentrix.errors import InvalidInputError
from sentrix.evaluation import (
    BinaryClassificationEvaluator,
    LabelAccuracyEvaluator,
    MSEEvaluator,
    MSEEvaluatorFromDataFrame,
    NanoBEIREvaluator,
    ParaphraseMiningEvaluator,
    RerankingEvaluator,
    SentenceEvaluator,
    TranslationEvaluator,
)
from sentrix.fit_mixin import InputExample
from sentrix.registry import evaluators

NEW = {
    "binary_classification": "BinaryClassificationEvaluator",
    "mse": "MSEEvaluator",
    "translation": "TranslationEvaluator",
    "reranking": "RerankingEvaluator",
    "paraphrase_mining": "ParaphraseMiningEvaluator",
    "label_accuracy": "LabelAccuracyEvaluator",
    "mse_from_data_frame": "MSEEvaluatorFromDataFrame",
    "nano_beir": "NanoBEIREvaluator",
}


class _NoModel:
    """Stands in for a teacher model in checks that must fail before any encoding."""

    def encode(self, *args, **kwargs):  # pragma: no cover - must not be reached
        raise AssertionError("encoded before the input check")


@pytest.mark.parametrize("name", sorted(NEW))
def test_registered_under_both_names(name):
    import sentrix.evaluation as evaluation

    cls = evaluators.get(name)
    assert cls is evaluators.get(NEW[name]) is getattr(evaluation, NEW[name])
    assert issubclass(cls, SentenceEvaluator)
    from sentrix.testing.contracts._docstrings import docstring_problems

    assert docstring_problems(cls, "evaluators") == []


# -- messages -----------------------------------------------------------------------------------

PAIRS = (["a dog runs", "a cat sleeps"], ["a dog is running", "the sun is hot"])


@pytest.mark.parametrize(
    "build, match",
    [
        # binary classification
        (lambda: BinaryClassificationEvaluator(["a", "b"], ["c"], [1, 0]), r"sentences1, sentences2, labels must have the same length, got sentences1=2, sentences2=1, labels=2"),
        (lambda: BinaryClassificationEvaluator([], [], []), r"sentences1 is empty; pass at least one entry"),
        (lambda: BinaryClassificationEvaluator(["a", None], ["c", "d"], [1, 0]), r"sentences1\[1\] is None; every entry must be a non-empty text"),
        (lambda: BinaryClassificationEvaluator(["a", "b"], ["c", "  "], [1, 0]), r"sentences2\[1\] is an empty string"),
        (lambda: BinaryClassificationEvaluator(*PAIRS, [1, float("nan")]), r"labels\[1\] = nan is not finite"),
        (lambda: BinaryClassificationEvaluator(*PAIRS, [1, 2]), r"labels\[1\] = 2; each value must be one of \[0, 1\]"),
        (lambda: BinaryClassificationEvaluator(*PAIRS, [1, 0], similarity_fn_names=["cos"]), r"similarity_fn_names contains \['cos'\]; each name must be one of"),
        (lambda: BinaryClassificationEvaluator("a dog runs", ["x"], [1]), r"sentences1 must be a list, got str \(a single string; wrap it in a list\)"),
        # MSE
        (lambda: MSEEvaluator(["a", "b"], ["c"], teacher_model=_NoModel()), r"source_sentences, target_sentences must have the same length"),
        (lambda: MSEEvaluator([], [], teacher_model=_NoModel()), r"source_sentences is empty"),
        (lambda: MSEEvaluator(["a", ""], ["c", "d"], teacher_model=_NoModel()), r"source_sentences\[1\] is an empty string"),
        (lambda: MSEEvaluator(["a"], ["c"]), r"teacher_model must be a model with an `encode` method.*Pass teacher_model="),
        # translation
        (lambda: TranslationEvaluator(["a", "b"], ["c"]), r"source_sentences, target_sentences must have the same length"),
        (lambda: TranslationEvaluator(["a"], [None]), r"target_sentences\[0\] is None"),
        (lambda: TranslationEvaluator([], []), r"source_sentences is empty"),
        # reranking
        (lambda: RerankingEvaluator([]), r"samples is empty"),
        (lambda: RerankingEvaluator([{"query": "q", "positive": ["p"]}]), r"samples\[0\] has no \['negative'\]"),
        (lambda: RerankingEvaluator([{"query": "", "positive": ["p"], "negative": ["n"]}]), r"samples\[0\]\['query'\]\[0\] is an empty string"),
        (lambda: RerankingEvaluator([{"query": "q", "positive": ["p", None], "negative": ["n"]}]), r"samples\[0\]\['positive'\]\[1\] is None"),
        (lambda: RerankingEvaluator([{"query": "q", "positive": [], "negative": ["n"]}]), r"no sample has both a positive and a negative document"),
        (lambda: RerankingEvaluator([{"query": "q", "positive": "p", "negative": "n"}], at_k=0), r"at_k must be a positive integer, got 0"),
        (lambda: RerankingEvaluator([{"query": "q", "positive": "p", "negative": "n"}], similarity_fct="cosine"), r"similarity_fct must be a function"),
        # paraphrase mining
        (lambda: ParaphraseMiningEvaluator({"a": "x"}, [("a", "a")]), r"sentences_map has 1 sentence\(s\); mining pairs needs at least two"),
        (lambda: ParaphraseMiningEvaluator({"a": "x", "b": None}, [("a", "b")]), r"sentences_map\['b'\] is None"),
        (lambda: ParaphraseMiningEvaluator({"a": "x", "b": "y"}), r"no gold duplicates given; pass duplicates_list"),
        (lambda: ParaphraseMiningEvaluator({"a": "x", "b": "y"}, [("a", "b", "c")]), r"duplicates_list\[0\] = \('a', 'b', 'c'\); each entry must be a pair"),
        (lambda: ParaphraseMiningEvaluator({"a": "x", "b": "y"}, [("a", "b")], top_k=0), r"top_k must be a positive integer"),
        (lambda: ParaphraseMiningEvaluator(["x", "y"], [(0, 1)]), r"sentences_map must be a dict"),
        # label accuracy
        (lambda: LabelAccuracyEvaluator(DataLoader([InputExample(texts=["a", "b"], label=0)])), r"softmax_model must be the classification head"),
        (lambda: LabelAccuracyEvaluator(DataLoader([]), softmax_model=lambda *a, **k: None), r"dataset is empty"),
        (lambda: LabelAccuracyEvaluator(DataLoader([InputExample(texts=["a", ""], label=0)]), softmax_model=lambda *a, **k: None), r"dataset\[0\]\.texts\[1\] is an empty string"),
        (lambda: LabelAccuracyEvaluator(DataLoader([InputExample(texts=["a", "b"], label=float("inf"))]), softmax_model=lambda *a, **k: None), r"dataset\[0\]\.label = inf; a label must be a class index"),
        (lambda: LabelAccuracyEvaluator([InputExample(texts=["a", "b"], label=0)], softmax_model=lambda *a, **k: None), r"dataloader has no `collate_fn`"),
        # MSE from a data frame
        (lambda: MSEEvaluatorFromDataFrame([{"en": "a"}], _NoModel(), [("en", "de")]), r"dataframe\[0\] has no 'de' column"),
        (lambda: MSEEvaluatorFromDataFrame([{"en": "a", "de": None}], _NoModel(), [("en", "de")]), r"dataframe\[0\]\['de'\] = None; each cell must be a text"),
        (lambda: MSEEvaluatorFromDataFrame([{"en": "a", "de": ""}], _NoModel(), [("en", "de")]), r"no row has both a 'en' and a 'de' sentence"),
        (lambda: MSEEvaluatorFromDataFrame([], _NoModel(), [("en", "de")]), r"dataframe is empty"),
        (lambda: MSEEvaluatorFromDataFrame([{"en": "a", "de": "b"}], _NoModel(), [("en", "de", "fr")]), r"combinations\[0\] = \('en', 'de', 'fr'\); each entry must be a \(source_language, target_language\) pair"),
        (lambda: MSEEvaluatorFromDataFrame([{"en": "a", "de": "b"}], None, [("en", "de")]), r"teacher_model must be a model with an `encode` method"),
        # NanoBEIR
        (lambda: NanoBEIREvaluator([]), r"dataset_names is empty; name at least one dataset, or pass None for all 13"),
        (lambda: NanoBEIREvaluator(["scifact", "mmarco"]), r"dataset_names contains \['mmarco'\], which are not NanoBEIR datasets"),
        (lambda: NanoBEIREvaluator("scifact"), r"dataset_names must be a list"),
        (lambda: NanoBEIREvaluator(["scifact", "nq"], query_prompts={"scifact": "q: "}), r"query_prompts has no prompt for \['nq'\]"),
        (lambda: NanoBEIREvaluator(["scifact"], main_score_function="cosinus"), r"main_score_function='cosinus' is not a similarity function"),
        (lambda: NanoBEIREvaluator(["scifact"], aggregate_fn="mean"), r"aggregate_fn must be a function"),
    ],
)
def test_bad_input_is_refused_with_a_clear_message(build, match):
    with pytest.raises(InvalidInputError, match=match):
        build()


def test_nano_beir_local_folder_errors(tmp_path):
    NanoBEIREvaluator.save_local_dataset(tmp_path, "scifact", {"d1": "x"}, {"q1": "y"}, {"q1": {"d1"}})
    with pytest.raises(InvalidInputError, match=r"has no sub-folder for 'nq'; expected .*NanoNQ"):
        NanoBEIREvaluator(["scifact", "nq"], dataset_id=str(tmp_path))
    (tmp_path / "NanoSciFact" / "qrels.jsonl").unlink()
    with pytest.raises(InvalidInputError, match=r"no qrels file for NanoSciFact in .*qrels/test.tsv"):
        NanoBEIREvaluator(["scifact"], dataset_id=str(tmp_path))
    (tmp_path / "NanoSciFact" / "qrels.jsonl").write_text(json.dumps({"query-id": "q1"}) + "\n")
    with pytest.raises(InvalidInputError, match=r"row 0 has no \['corpus-id'\]"):
        NanoBEIREvaluator(["scifact"], dataset_id=str(tmp_path))
    with pytest.raises(FileExistsError):  # never overwrites
        NanoBEIREvaluator.save_local_dataset(tmp_path, "scifact", {"d1": "x"}, {"q1": "y"}, {"q1": {"d1"}})


def test_nano_beir_hub_loading_goes_through_datasets(monkeypatch):
    """Without a local folder, each subset is loaded with datasets.load_dataset(id, subset, split=Nano<Name>)."""
    import datasets

    calls = []

    def fake_load_dataset(path, name, split):
        calls.append((path, name, split))
        rows = {
            "corpus": [{"_id": "d1", "text": "a dog runs"}, {"_id": "d2", "text": ""}],
            "queries": [{"_id": "q1", "text": "dogs"}],
            "qrels": [{"query-id": "q1", "corpus-id": "d1"}],
        }[name]
        return datasets.Dataset.from_list(rows)

    monkeypatch.setattr(datasets, "load_dataset", fake_load_dataset)
    evaluator = NanoBEIREvaluator(["SciFact"], dataset_id="some-org/NanoBEIR-xx")
    assert calls == [("some-org/NanoBEIR-xx", s, "NanoSciFact") for s in ("corpus", "queries", "qrels")]
    assert evaluator.evaluators[0].corpus == ["a dog runs"]  # empty texts dropped, as sentence-transformers does

    def failing(path, name, split):
        raise ConnectionError("no network")

    monkeypatch.setattr(datasets, "load_dataset", failing)
    with pytest.raises(InvalidInputError, match=r"could not load subset 'corpus' split 'NanoSciFact'.*pass as dataset_id a local folder"):
        NanoBEIREvaluator(["scifact"], dataset_id="some-org/NanoBEIR-xx")


def test_nano_beir_reads_a_beir_style_folder(tmp_path, sentrix_model):
    """BEIR layout (corpus.jsonl.gz, queries.jsonl, qrels/test.tsv with scores; int ids) in a folder
    named by the short dataset name."""
    folder = tmp_path / "scifact"
    (folder / "qrels").mkdir(parents=True)
    with gzip.open(folder / "corpus.jsonl.gz", "wt", encoding="utf-8") as handle:
        for i, text in enumerate(["paris is the capital of france", "a dog runs", "the sun is hot"]):
            handle.write(json.dumps({"_id": i, "title": "", "text": text}) + "\n")
    (folder / "queries.jsonl").write_text(
        "".join(json.dumps({"_id": q, "text": t}) + "\n" for q, t in [(10, "capital of france"), (11, "hot weather")])
    )
    (folder / "qrels" / "test.tsv").write_text("query-id\tcorpus-id\tscore\n10\t0\t1\n11\t2\t1\n11\t1\t0\n")
    evaluator = NanoBEIREvaluator(["scifact"], dataset_id=str(tmp_path))
    inner = evaluator.evaluators[0]
    assert inner.name == "NanoSciFact" and inner.corpus_ids == ["0", "1", "2"]
    assert inner.relevant_docs == {"10": {"0"}, "11": {"2"}}  # score 0 is not relevant
    metrics = evaluator(sentrix_model, output_path=str(tmp_path / "out"))
    assert evaluator.primary_metric == "NanoBEIR_mean_cosine_ndcg@10"
    assert metrics["NanoBEIR_mean_cosine_ndcg@10"] == metrics["NanoSciFact_cosine_ndcg@10"]
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [
        "Information-Retrieval_evaluation_NanoSciFact_results.csv",
        "NanoBEIR_evaluation_mean_results.csv",
    ]


# -- the shared CSV helper -----------------------------------------------------------------------


class _ThirdParty(SentenceEvaluator):
    def __init__(self, write_csv=True):
        super().__init__()
        self.name, self.write_csv = "acme", write_csv
        self.csv_file, self.csv_headers = "acme_results.csv", ["epoch", "steps", "score"]


def test_write_csv_row_appends_and_writes_the_header_once(tmp_path):
    evaluator = _ThirdParty()
    assert evaluator.write_csv_row(None, [0, 0, 1.0]) is None
    path = evaluator.write_csv_row(str(tmp_path / "out"), [1, 10, np.float32(0.8352)])
    evaluator.write_csv_row(str(tmp_path / "out"), [2, -1, 0.5])
    assert open(path, "rb").read() == b"epoch,steps,score\r\n1,10,0.8352\r\n2,-1,0.5\r\n"
    other = evaluator.write_csv_row(str(tmp_path), ["x,y", 1], csv_file="other.csv", headers=["a", "b"], lineterminator="\n")
    assert open(other, "rb").read() == b'a,b\n"x,y",1\n'
    assert _ThirdParty(write_csv=False).write_csv_row(str(tmp_path / "none"), [1]) is None
    assert not (tmp_path / "none").exists()


@pytest.mark.parametrize("name", sorted(NEW))
def test_contract_example_runs_on_the_sentrix_model(name, sentrix_model, tmp_path):
    evaluator = evaluators.get(name).contract_example()
    metrics = evaluator(sentrix_model, output_path=str(tmp_path), epoch=0, steps=3)
    assert metrics and all(isinstance(v, float) and math.isfinite(v) for v in metrics.values())
    assert evaluator.primary_metric in metrics
    assert any(p.suffix == ".csv" for p in tmp_path.iterdir())


# -- checks again before training, and shared encoding ---------------------------------------------


def test_check_inputs_sees_data_changed_after_construction():
    from sentrix.evaluator_base import evaluator_input_problems

    evaluator = BinaryClassificationEvaluator(*PAIRS, [1, 0])
    assert evaluator.check_inputs() == []
    evaluator.labels[1] = float("nan")
    assert evaluator_input_problems(evaluator) == [
        "BinaryClassificationEvaluator: labels[1] = nan is not finite; every value must be a finite number. Fix or drop that row."
    ]
    reranking = RerankingEvaluator([{"query": "q", "positive": ["p"], "negative": ["n"]}])
    reranking.samples[0]["negative"][0] = None
    assert "samples[0]['negative'][0] is None" in reranking.check_inputs()[0]


def test_evaluators_share_one_encoding_of_each_text(sentrix_model, monkeypatch):
    """In one SequentialEvaluator round, texts used by several evaluators are encoded once."""
    from sentrix.evaluation import SequentialEvaluator

    encoded = []
    original = sentrix_model.encode

    def counting_encode(sentences, *args, **kwargs):
        encoded.extend([sentences] if isinstance(sentences, str) else list(sentences))
        return original(sentences, *args, **kwargs)

    monkeypatch.setattr(sentrix_model, "encode", counting_encode)
    first, second = ["a dog runs", "a cat sleeps", "the sun is hot"], ["a dog is running", "a cat naps", "it is cold"]
    sequential = SequentialEvaluator([
        BinaryClassificationEvaluator(first, second, [1, 1, 0], name="b"),
        TranslationEvaluator(first, second, name="t"),
        ParaphraseMiningEvaluator(dict(enumerate(first + second)), [(0, 3)], name="p"),
    ])
    metrics = sequential(sentrix_model)
    assert {"b_cosine_ap", "t_mean_accuracy", "p_average_precision"} <= set(metrics)
    assert sorted(encoded) == sorted(first + second)
