"""sentrix.util: search, mining, quantization, tensor helpers (checked against brute force)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from sentrix import util
from sentrix.errors import InvalidInputError


@pytest.fixture()
def vectors():
    generator = torch.Generator().manual_seed(0)
    return torch.randn(40, 8, generator=generator)


def test_similarity_functions_are_reexported():
    from sentrix import similarity

    assert util.cos_sim is similarity.cos_sim and util.pairwise_dot_score is similarity.pairwise_dot_score
    assert util.manhattan_sim is similarity.manhattan_sim


def test_semantic_search_matches_brute_force(vectors):
    queries, corpus = vectors[:5], vectors[5:]
    hits = util.semantic_search(queries, corpus, top_k=4, corpus_chunk_size=7, query_chunk_size=2)
    scores = util.cos_sim(queries, corpus)
    for row, row_hits in enumerate(hits):
        expected = torch.topk(scores[row], 4)
        assert [h["corpus_id"] for h in row_hits] == expected.indices.tolist()
        np.testing.assert_allclose([h["score"] for h in row_hits], expected.values.numpy(), atol=1e-6)
    dot_hits = util.semantic_search(queries.numpy(), corpus.numpy(), top_k=1, score_function=util.dot_score)
    assert dot_hits[0][0]["corpus_id"] == int((queries[0] @ corpus.T).argmax())


def test_paraphrase_mining_matches_brute_force(vectors):
    pairs = util.paraphrase_mining_embeddings(vectors, top_k=39, corpus_chunk_size=9, query_chunk_size=6)
    scores = util.cos_sim(vectors, vectors)
    expected = sorted(((float(scores[i, j]), i, j) for i in range(40) for j in range(i + 1, 40)), reverse=True)
    assert len(pairs) == len(expected)
    assert [(i, j) for _, i, j in pairs[:10]] == [(i, j) for _, i, j in expected[:10]]
    top3 = util.paraphrase_mining_embeddings(vectors, max_pairs=3)
    assert [(i, j) for _, i, j in top3] == [(i, j) for _, i, j in pairs[:3]]


def test_paraphrase_mining_with_a_model(tiny_model):
    sentences = ["a cat sat on the mat", "the cat sits on the mat", "the stock market fell"]
    pairs = util.paraphrase_mining(tiny_model, sentences)
    emb = tiny_model.encode(sentences, convert_to_tensor=True)
    score, i, j = pairs[0]
    assert score == pytest.approx(float(util.cos_sim(emb[i], emb[j])), abs=1e-5)
    assert len(pairs) == 3


def test_community_detection():
    base = torch.eye(3)
    points = torch.cat([base[0] + 0.01 * torch.arange(4).unsqueeze(1), base[1].repeat(3, 1), base[2:3]])
    communities = util.community_detection(points, threshold=0.9, min_community_size=2)
    assert [sorted(c) for c in communities] == [[0, 1, 2, 3], [4, 5, 6]]


def test_quantize_embeddings(vectors):
    ubinary = util.quantize_embeddings(vectors, "ubinary")
    assert ubinary.dtype == np.uint8 and ubinary.shape == (40, 1)
    np.testing.assert_array_equal(np.unpackbits(ubinary, axis=1).astype(bool), vectors.numpy() > 0)
    binary = util.quantize_embeddings(vectors, "binary")
    np.testing.assert_array_equal(binary.astype(np.int16) + 128, ubinary)
    ranges = np.stack([np.full(8, -1.0), np.full(8, 1.0)])
    int8 = util.quantize_embeddings(np.array([[-1.0] * 8, [0.0] * 8, [0.999] * 8]), "int8", ranges=ranges)
    assert int8[0].tolist() == [-128] * 8 and int8[1].tolist() == [-1] * 8 and int8[2].tolist() == [126] * 8
    with pytest.raises(InvalidInputError, match="Cannot compute int8 ranges from a single embedding"):
        util.quantize_embeddings(vectors[:1], "int8")
    with pytest.raises(InvalidInputError, match="precision must be one of"):
        util.quantize_embeddings(vectors, "fp8")


def test_batch_to_device_and_truncate():
    batch = util.batch_to_device({"input_ids": torch.ones(2, 3), "task": "query"}, "cpu")
    assert batch["task"] == "query" and batch["input_ids"].device.type == "cpu"
    assert util.truncate_embeddings(np.ones((2, 8)), 3).shape == (2, 3)
    torch.testing.assert_close(util.normalize_embeddings(torch.tensor([[3.0, 4.0]])), torch.tensor([[0.6, 0.8]]))


@pytest.fixture(scope="module")
def pairs_dataset():
    from datasets import Dataset

    return Dataset.from_dict({
        "query": ["a cat", "a dog", "the car", "red car", "a big dog", "music"],
        "answer": ["cats", "dogs", "car", "red", "big dogs", "song"],
    })


def _brute_force_negatives(model, dataset):
    queries, answers = dataset["query"], dataset["answer"]
    q = model.encode(queries, normalize_embeddings=True, convert_to_tensor=True)
    d = model.encode(answers, normalize_embeddings=True, convert_to_tensor=True)
    scores = q @ d.T
    best = []
    for row in range(len(queries)):
        order = [int(i) for i in torch.argsort(scores[row], descending=True) if int(i) != row]
        best.append(order)
    return best, scores


def test_mine_hard_negatives_triplets_and_ntuples(tiny_model, pairs_dataset):
    best, _ = _brute_force_negatives(tiny_model, pairs_dataset)
    answers = pairs_dataset["answer"]
    triplets = util.mine_hard_negatives(pairs_dataset, tiny_model, num_negatives=1, verbose=False)
    assert triplets.column_names == ["query", "answer", "negative"]
    assert triplets["negative"] == [answers[order[0]] for order in best]
    skipped = util.mine_hard_negatives(pairs_dataset, tiny_model, num_negatives=2, range_min=1,
                                       output_format="n-tuple", verbose=False)
    assert skipped.column_names == ["query", "answer", "negative_1", "negative_2"]
    assert skipped["negative_1"] == [answers[order[1]] for order in best]
    assert skipped["negative_2"] == [answers[order[2]] for order in best]


def test_mine_hard_negatives_margin_and_formats(tiny_model, pairs_dataset):
    best, scores = _brute_force_negatives(tiny_model, pairs_dataset)
    answers = pairs_dataset["answer"]
    strict = util.mine_hard_negatives(pairs_dataset, tiny_model, num_negatives=1, absolute_margin=0.0,
                                      output_scores=True, verbose=False)
    for _query, _negative, (pos, neg) in zip(strict["query"], strict["negative"], strict["scores"]):
        assert neg <= pos + 1e-6
    expected_rows = sum(any(scores[r, c] <= scores[r, r] for c in order) for r, order in enumerate(best))
    assert len(strict) == expected_rows
    pairs = util.mine_hard_negatives(pairs_dataset, tiny_model, num_negatives=2, output_format="labeled-pair",
                                     verbose=False)
    assert pairs.column_names == ["query", "answer", "label"] and pairs["label"][:3] == [1, 0, 0]
    lists = util.mine_hard_negatives(pairs_dataset, tiny_model, num_negatives=2, output_format="labeled-list",
                                     verbose=False)
    assert lists["labels"][0] == [1, 0, 0] and lists["answer"][0][0] == answers[0]
    with pytest.raises(InvalidInputError, match="output_format must be one of triplet, n-tuple"):
        util.mine_hard_negatives(pairs_dataset, tiny_model, output_format="pairs")
