"""Bad evaluator inputs stop with a message that names the input, what was expected and the fix:
when the evaluator is built, and again in the trainer's run validation (data changed later)."""

from __future__ import annotations

import math

import pytest

from sentrix.errors import InvalidInputError
from sentrix.evaluation import (
    EmbeddingSimilarityEvaluator,
    InformationRetrievalEvaluator,
    SequentialEvaluator,
    TripletEvaluator,
)
from sentrix.evaluator_base import evaluator_input_problems

S1, S2, SCORES = ["a man plays", "a dog runs", "the sun"], ["a man sings", "a cat sleeps", "it is hot"], [4.0, 1.0, 2.5]
Q, C, R = {"q1": "a question", "q2": "another one"}, {"d1": "a document", "d2": "more text"}, {"q1": {"d1"}, "q2": {"d2"}}

CASES = {
    # embedding_similarity
    "sts length mismatch": (
        lambda: EmbeddingSimilarityEvaluator(S1, S2[:2], SCORES),
        r"sentences1, sentences2 and scores must have the same length, got sentences1=3, sentences2=2, scores=3\. "
        r"Each position i is one pair",
    ),
    "sts empty": (lambda: EmbeddingSimilarityEvaluator([], [], []), r"sentences1 is empty; pass at least one text"),
    "sts None text": (
        lambda: EmbeddingSimilarityEvaluator(S1, ["a", None, "b"], SCORES),
        r"sentences2 has 1 missing or empty text\(s\) \(None or \"\"\) at position\(s\) \[1\].*Fix: drop those rows",
    ),
    "sts empty text": (
        lambda: EmbeddingSimilarityEvaluator(["", *S1[1:]], S2, SCORES),
        r"sentences1 has 1 missing or empty text\(s\) .* at position\(s\) \[0\]",
    ),
    "sts NaN score": (
        lambda: EmbeddingSimilarityEvaluator(S1, S2, [4.0, math.nan, 1.0]),
        r"scores has 1 non-finite value\(s\) \(NaN or inf\) at position\(s\) \[1\]; they would make every metric NaN",
    ),
    "sts inf score": (
        lambda: EmbeddingSimilarityEvaluator(S1, S2, [4.0, 1.0, math.inf]),
        r"scores has 1 non-finite value\(s\) \(NaN or inf\) at position\(s\) \[2\]",
    ),
    "sts score not a number": (
        lambda: EmbeddingSimilarityEvaluator(S1, S2, [4.0, "high", 1.0]),
        r"scores\[1\] is 'high', not a number",
    ),
    "sts constant scores": (
        lambda: EmbeddingSimilarityEvaluator(S1, S2, [3.0, 3.0, 3.0]),
        r"every one of the 3 scores is 3\.0; a correlation with constant gold scores is undefined",
    ),
    "sts unknown main similarity": (
        lambda: EmbeddingSimilarityEvaluator(S1, S2, SCORES, main_similarity="cosin"),
        r"main_similarity='cosin' is not a similarity function\. Use one of \['cosine', 'dot', 'euclidean', 'manhattan'\]",
    ),
    "sts unknown similarity name": (
        lambda: EmbeddingSimilarityEvaluator(S1, S2, SCORES, similarity_fn_names=["cos"]),
        r"similarity_fn_names contains \['cos'\]; each name must be one of",
    ),
    "sts unknown precision": (
        lambda: EmbeddingSimilarityEvaluator(S1, S2, SCORES, precision="int4"),
        r"precision='int4'; use one of",
    ),
    # triplet
    "triplet length mismatch": (
        lambda: TripletEvaluator(["a"], ["b"], ["c", "d"]),
        r"anchors, positives and negatives must have the same length, got anchors=1, positives=1, negatives=2",
    ),
    "triplet empty": (lambda: TripletEvaluator([], [], []), r"anchors is empty; pass at least one text"),
    "triplet None text": (
        lambda: TripletEvaluator(["a", "b"], ["c", "d"], ["e", None]),
        r"negatives has 1 missing or empty text\(s\) .* at position\(s\) \[1\]",
    ),
    "triplet NaN margin": (
        lambda: TripletEvaluator(["a"], ["b"], ["c"], margin=math.nan),
        r"margin \{'cosine': nan.*\} is not a finite number; pass finite margins",
    ),
    "triplet unknown margin key": (
        lambda: TripletEvaluator(["a"], ["b"], ["c"], margin={"cos": 0.1}),
        r"margin has keys \['cos'\]; the keys must be among",
    ),
    "triplet unknown similarity": (
        lambda: TripletEvaluator(["a"], ["b"], ["c"], main_similarity_function="l2"),
        r"main_similarity_function='l2' is not a similarity function",
    ),
    # information_retrieval
    "ir relevant doc missing from corpus": (
        lambda: InformationRetrievalEvaluator(Q, C, {"q1": {"d1", "d9"}, "q2": {"d2"}}),
        r"relevant_docs names 1 document\(s\) that are not in the corpus, for 1 query\(ies\), e\.g\. \{'q1': \['d9'\]\}.*"
        r"Fix: add those documents to `corpus`, or remove them from `relevant_docs`",
    ),
    "ir None query": (
        lambda: InformationRetrievalEvaluator({"q1": None, "q2": "x"}, C, R),
        r"queries has 1 missing or empty text\(s\) \(None or \"\"\) for id\(s\) \['q1'\]",
    ),
    "ir empty document": (
        lambda: InformationRetrievalEvaluator(Q, {"d1": "  ", "d2": "x"}, R),
        r"corpus has 1 missing or empty text\(s\) \(None or \"\"\) for id\(s\) \['d1'\]",
    ),
    "ir relevant docs not a set": (
        lambda: InformationRetrievalEvaluator(Q, C, {"q1": "d1", "q2": {"d2"}}),
        r"relevant_docs\['q1'\] is 'd1'; it must be a set of corpus ids",
    ),
    "ir empty corpus": (lambda: InformationRetrievalEvaluator(Q, {}, R), r"corpus is empty"),
    "ir no relevant query": (
        lambda: InformationRetrievalEvaluator(Q, C, {"d1": {"q1"}}),
        r"no query has a relevant document: the keys of relevant_docs must be query ids",
    ),
    "ir unknown score function": (
        lambda: InformationRetrievalEvaluator(Q, C, R, main_score_function="cosinus"),
        r"main_score_function='cosinus' is not a similarity function",
    ),
    "ir queries not a dict": (
        lambda: InformationRetrievalEvaluator(["a question"], C, R),
        r"queries must be a dict \(id -> text\), got list",
    ),
    "ir bad cut-off": (
        lambda: InformationRetrievalEvaluator(Q, C, R, ndcg_at_k=[0]),
        r"ndcg_at_k must be a non-empty list of positive integers, got \[0\]",
    ),
    "ir bad chunk size": (
        lambda: InformationRetrievalEvaluator(Q, C, R, corpus_chunk_size=0),
        r"corpus_chunk_size must be a positive integer, got 0",
    ),
}


@pytest.mark.parametrize("case", list(CASES))
def test_bad_input_is_refused_when_built(case):
    build, message = CASES[case]
    with pytest.raises(InvalidInputError, match=message):
        build()


def test_data_changed_after_building_is_caught_by_run_validation():
    sts = EmbeddingSimilarityEvaluator(S1, S2, list(SCORES), name="sts")
    ir = InformationRetrievalEvaluator(Q, C, R, name="ir")
    both = SequentialEvaluator([sts, ir])
    assert evaluator_input_problems(both) == []
    sts.scores[0] = math.nan
    ir.corpus_ids[0] = "renamed"
    problems = evaluator_input_problems(both)
    assert len(problems) == 2
    assert "EmbeddingSimilarityEvaluator: scores has 1 non-finite value(s)" in problems[0]
    assert "InformationRetrievalEvaluator: relevant_docs names 1 document(s) that are not in the corpus" in problems[1]


def test_trainer_run_validation_reports_bad_evaluator_inputs(tmp_path):
    from datasets import Dataset

    from sentrix import SentenceTransformerTrainer, SentenceTransformerTrainingArguments
    from sentrix.testing.tiny_models import tiny_sentence_transformer

    model = tiny_sentence_transformer()
    sts = EmbeddingSimilarityEvaluator(S1, S2, list(SCORES), name="sts")
    train = Dataset.from_dict({"anchor": ["a cat", "a dog"], "positive": ["cats", "dogs"]})
    args = SentenceTransformerTrainingArguments(output_dir=str(tmp_path / "out"), max_steps=1, report_to=[])
    trainer = SentenceTransformerTrainer(
        model=model, args=args, train_dataset=train, loss="multiple_negatives_ranking", evaluator=sts
    )
    sts.scores[1] = math.nan
    with pytest.raises(InvalidInputError, match=r"stopped before it started[\s\S]*scores has 1 non-finite value\(s\)"):
        trainer.train()
    assert not (tmp_path / "out").exists()
