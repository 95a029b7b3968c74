"""Multi-process encoding: ``start_multi_process_pool`` / ``encode(..., pool=...)`` / ``stop_multi_process_pool``.

One 2-process CPU pool is shared by the module (each spawned worker imports torch, a few seconds);
the stop / dead-worker test starts its own small pool.
"""

from __future__ import annotations

import gzip
import os
import signal
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
import torch

from sentrix import SentenceTransformer, multi_process
from sentrix.errors import InvalidInputError

DATA = Path(__file__).resolve().parents[1] / "data"


def sts_sentences(n: int) -> list[str]:
    # read here, not imported from conftest: "conftest" is ambiguous when tests/core is collected too
    with gzip.open(DATA / "sts_test_sentences_1000.txt.gz", "rt", encoding="utf-8") as handle:
        return handle.read().splitlines()[:n]


TIMEOUT = 60  # seconds; a hang fails the test instead of blocking the suite


def within_timeout(fn, *args, **kwargs):
    """Run ``fn`` in a thread and give up after TIMEOUT seconds (a hung pool fails the test)."""
    with ThreadPoolExecutor(max_workers=1) as executor:
        future = executor.submit(fn, *args, **kwargs)
        return future.result(timeout=TIMEOUT)


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.fixture(scope="module")
def model(tiny_folder):
    # its own model: start_multi_process_pool moves the model to the CPU and shares its memory
    return SentenceTransformer(str(tiny_folder), device="cpu")


@pytest.fixture(scope="module")
def pool(model):
    pool = model.start_multi_process_pool(["cpu", "cpu"])
    yield pool
    SentenceTransformer.stop_multi_process_pool(pool)


@pytest.fixture(scope="module")
def sentences():
    return sts_sentences(50)


@pytest.mark.parametrize(
    "options",
    [
        {},
        {"normalize_embeddings": True},
        {"convert_to_tensor": True},
        {"precision": "int8"},
        {"truncate_dim": 8, "batch_size": 4},
        {"prompt": "query: "},
    ],
    ids=["default", "normalize", "tensor", "int8", "truncate", "prompt"],
)
def test_pool_encode_equals_single_process(model, pool, sentences, options):
    single = model.encode(sentences, **options)
    pooled = within_timeout(model.encode, sentences, pool=pool, **options)
    assert type(pooled) is type(single)
    assert pooled.shape == single.shape and pooled.dtype == single.dtype
    diff = np.abs(np.asarray(pooled, dtype=np.float64) - np.asarray(single, dtype=np.float64)).max()
    assert diff <= 1e-6, diff


def test_pool_single_string_returns_one_vector(model, pool, sentences):
    pooled = within_timeout(model.encode, sentences[3], pool=pool)
    assert pooled.shape == (model.get_embedding_dimension(),)
    np.testing.assert_allclose(pooled, model.encode(sentences[3]), atol=1e-6)


def test_pool_other_outputs_and_empty_input(model, pool, sentences):
    tokens = within_timeout(model.encode, sentences[:6], pool=pool, output_value="token_embeddings", chunk_size=2)
    expected = model.encode(sentences[:6], output_value="token_embeddings")
    assert [t.shape for t in tokens] == [t.shape for t in expected]
    assert all(torch.allclose(a, b, atol=1e-6) for a, b in zip(tokens, expected))
    as_list = within_timeout(model.encode, sentences[:5], pool=pool, convert_to_numpy=False)
    assert isinstance(as_list, list) and len(as_list) == 5 and isinstance(as_list[0], torch.Tensor)
    assert within_timeout(model.encode, [], pool=pool).shape == (0,)


def test_chunks_come_back_in_input_order(model, pool, sentences, monkeypatch):
    # 50 inputs in chunks of 3: 17 chunks for 2 workers, answered in whatever order they finish
    sent = []
    real_put = pool["input"].put
    monkeypatch.setitem(pool, "input", type("Spy", (), {"put": lambda self, item: (sent.append(item), real_put(item))})())
    pooled = within_timeout(model.encode, sentences, pool=pool, chunk_size=3)
    assert [len(chunk) for _, chunk, _ in sent] == [3] * 16 + [2]
    assert [chunk_id for chunk_id, _, _ in sent] == list(range(17))
    np.testing.assert_allclose(pooled, model.encode(sentences), atol=1e-6)
    reversed_texts = sentences[::-1]
    np.testing.assert_allclose(
        within_timeout(model.encode, reversed_texts, pool=pool, chunk_size=7), model.encode(sentences)[::-1], atol=1e-6
    )


def test_default_chunk_size_like_sentence_transformers(model, pool):
    sent = []
    real_put = pool["input"].put
    pool_spy = dict(pool, input=type("Spy", (), {"put": lambda self, item: (sent.append(item), real_put(item))})())
    within_timeout(model.encode, [f"text number {i}" for i in range(45)], pool=pool_spy)
    # ceil(45 / 2 workers / 10) = 3 inputs per chunk
    assert [len(chunk) for _, chunk, _ in sent] == [3] * 15


def test_encode_multi_process_is_a_deprecated_alias(model, pool, sentences):
    with pytest.warns(DeprecationWarning, match="encode_multi_process.*deprecated"):
        old = within_timeout(model.encode_multi_process, sentences, pool, normalize_embeddings=True, chunk_size=5)
    new = within_timeout(model.encode, sentences, pool=pool, normalize_embeddings=True, chunk_size=5)
    assert isinstance(old, np.ndarray)
    np.testing.assert_array_equal(old, new)


def test_encode_query_and_document_pass_the_pool_through(model, pool, sentences, monkeypatch):
    calls = []
    real_run = multi_process.run
    monkeypatch.setattr(multi_process, "run", lambda *a, **k: (calls.append(k), real_run(*a, **k))[1])
    query = within_timeout(model.encode_query, sentences[:10], pool=pool, chunk_size=4)
    document = within_timeout(model.encode_document, sentences[:10], pool=pool)
    assert [call["pool"] is pool for call in calls] == [True, True]
    assert [call["task"] for call in calls] == ["query", "document"]
    np.testing.assert_allclose(query, model.encode_query(sentences[:10]), atol=1e-6)
    np.testing.assert_allclose(document, model.encode_document(sentences[:10]), atol=1e-6)


def test_bad_input_raises_the_plain_encode_error_in_the_caller(model, pool):
    with pytest.raises(InvalidInputError) as plain:
        model.encode(["fine", 5])
    started = time.monotonic()
    with pytest.raises(InvalidInputError) as pooled:
        within_timeout(model.encode, ["fine", 5], pool=pool)
    assert str(pooled.value) == str(plain.value)
    assert "input 1 is int" in str(pooled.value)
    with pytest.raises(InvalidInputError, match="chunk_size must be a positive integer, got 0"):
        model.encode(["fine"], pool=pool, chunk_size=0)
    assert time.monotonic() - started < TIMEOUT


def test_worker_error_reaches_the_caller_and_pool_stays_usable(model, pool, sentences):
    # bypass encode's checks so the failure happens inside a worker (the tokenizer rejects an int)
    with pytest.raises(ValueError, match="text input must be of type"):
        within_timeout(multi_process.run, model, ["fine", "also fine", 7, "ok"], pool=pool, chunk_size=1)
    # every chunk was answered, so the next call is not confused by leftovers
    np.testing.assert_allclose(within_timeout(model.encode, sentences[:8], pool=pool), model.encode(sentences[:8]),
                               atol=1e-6)


def test_stop_terminates_processes_and_dead_workers_raise(tiny_folder):
    model = SentenceTransformer(str(tiny_folder), device="cpu")
    pool = model.start_multi_process_pool(["cpu", "cpu"])
    try:
        assert all(p.is_alive() and type(p).__name__ == "SpawnProcess" for p in pool["processes"])
        assert [p.daemon for p in pool["processes"]] == [True, True]
        assert within_timeout(model.encode, ["one", "two", "three"], pool=pool).shape == (3, 32)
        first, second = pool["processes"]
        os.kill(first.pid, signal.SIGKILL)  # one worker dies ...
        os.kill(second.pid, signal.SIGSTOP)  # ... and the other can not answer
        try:
            with pytest.raises(RuntimeError, match=r"1 multi-process pool worker\(s\) died unexpectedly: pid \d+"):
                within_timeout(model.encode, ["one", "two"], pool=pool)
        finally:
            os.kill(second.pid, signal.SIGCONT)
        pids = [process.pid for process in pool["processes"]]
        assert pid_alive(second.pid)
    finally:
        SentenceTransformer.stop_multi_process_pool(pool)
    assert not any(pid_alive(pid) for pid in pids)
    assert model.device.type == "cpu"


def test_default_devices_on_cpu(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    if hasattr(torch, "npu"):
        monkeypatch.setattr(torch.npu, "is_available", lambda: False, raising=False)
    assert multi_process.default_target_devices() == ["cpu"] * 4


def test_empty_target_devices_rejected(model):
    with pytest.raises(InvalidInputError, match="target_devices is empty"):
        model.start_multi_process_pool([])


def test_device_list_starts_and_stops_a_pool_for_the_call(model, pool, sentences, monkeypatch):
    events = []
    monkeypatch.setattr(multi_process, "start_pool", lambda m, devices: (events.append(("start", devices)), pool)[1])
    monkeypatch.setattr(multi_process, "stop_pool", lambda p: events.append(("stop", p is pool)))
    pooled = within_timeout(model.encode, sentences[:10], device=["cpu", "cpu"])
    assert events == [("start", ["cpu", "cpu"]), ("stop", True)]
    np.testing.assert_allclose(pooled, model.encode(sentences[:10]), atol=1e-6)
    events.clear()
    with pytest.raises(ValueError, match="text input must be of type"):  # stopped also when the call fails
        within_timeout(multi_process.run, model, ["x", 5], devices=["cpu"])
    assert events == [("start", ["cpu"]), ("stop", True)]


def test_cpu_workers_share_the_cores(monkeypatch):
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    monkeypatch.setattr(os, "cpu_count", lambda: 8)
    assert [multi_process._cpu_threads_per_worker(n) for n in (0, 1, 2, 3, 16)] == [None, 8, 4, 2, 1]
    monkeypatch.setenv("OMP_NUM_THREADS", "3")
    assert multi_process._cpu_threads_per_worker(2) is None  # the user's setting wins
