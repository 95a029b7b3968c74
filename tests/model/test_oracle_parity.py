"""Parity with sentence-transformers 6.2 (test-only oracle) on tiny models.

* folders saved by sentrix load in sentence-transformers, in a process that never imports sentrix;
* folders saved by sentence-transformers (Dense, Normalize, LayerNorm, Router, StaticEmbedding) load
  in sentrix;
* every encode option gives the same numbers.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import torch

from sentrix import SentenceTransformer
from sentrix.registry import modules as registry

pytestmark = pytest.mark.oracle

import sentence_transformers as st


def encode_in_st_subprocess(jobs, texts, tmp_path) -> dict[str, dict[str, np.ndarray]]:
    """Load each folder of ``jobs`` ({folder: [method, ...]}) with sentence-transformers, in one fresh
    interpreter that never imports sentrix; return ``{folder: {method: model.<method>(texts)}}``."""
    script = textwrap.dedent(f"""
        import json, sys
        import numpy as np
        from sentence_transformers import SentenceTransformer
        payload = json.loads(sys.stdin.read())
        for index, (folder, methods) in enumerate(payload["jobs"].items()):
            model = SentenceTransformer(folder, device="cpu")
            assert type(model[0]).__module__.startswith("sentence_transformers"), type(model[0])
            outputs = {{m: getattr(model, m)(payload["texts"]) for m in methods}}
            np.savez({str(tmp_path)!r} + f"/st_{{index}}.npz", **outputs)
        assert not any(name.split(".")[0] == "sentrix" for name in sys.modules), "sentrix was imported"
        print("ok")
    """)
    jobs = {str(folder): list(methods) for folder, methods in jobs.items()}
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_VERBOSITY": "error"}
    result = subprocess.run([sys.executable, "-c", script], input=json.dumps({"jobs": jobs, "texts": texts}),
                            capture_output=True, text=True, env=env, timeout=600)
    assert result.returncode == 0 and result.stdout.strip() == "ok", result.stderr[-3000:]
    out = {}
    for index, (folder, methods) in enumerate(jobs.items()):
        with np.load(tmp_path / f"st_{index}.npz") as arrays:
            out[folder] = {m: arrays[m] for m in methods}
    return out


@pytest.fixture(scope="module")
def saved_by_sentrix(tmp_path_factory, tiny_folder, texts):
    """Two folders saved by sentrix (a Dense/LayerNorm/Dropout/Normalize stack and a Router with a
    StaticEmbedding route), their sentrix embeddings, and what sentence-transformers computes from them."""
    tmp_path = tmp_path_factory.mktemp("saved_by_sentrix")
    stack = SentenceTransformer(str(tiny_folder), device="cpu", prompts={"query": "query: "})
    torch.manual_seed(3)
    stack.append(registry.get("dense")(32, 24))
    stack.append(registry.get("layer_norm")(24))
    stack.append(registry.get("dropout")(0.1))
    stack.append(registry.get("normalize")())
    with torch.no_grad():
        stack[3].norm.bias.uniform_(-0.5, 0.5)
    stack.save(str(tmp_path / "stack"))

    base = SentenceTransformer(str(tiny_folder), device="cpu")
    torch.manual_seed(4)
    static = registry.get("static_embedding")(base.tokenizer, embedding_dim=32)
    router = registry.get("router").for_query_document([static], [base[0], base[1]])
    routed = SentenceTransformer(modules=[router, registry.get("normalize")()], device="cpu")
    routed.save(str(tmp_path / "router"))

    ours = {
        str(tmp_path / "stack"): {"encode": stack.encode(texts), "encode_query": stack.encode_query(texts)},
        str(tmp_path / "router"): {"encode_query": routed.encode_query(texts),
                                   "encode_document": routed.encode_document(texts)},
    }
    theirs = encode_in_st_subprocess({folder: list(out) for folder, out in ours.items()}, texts, tmp_path)
    return ours, theirs


def test_sentrix_saved_folder_loads_in_sentence_transformers(saved_by_sentrix):
    ours, theirs = saved_by_sentrix
    folder = next(f for f in ours if f.endswith("stack"))
    for method in ("encode", "encode_query"):
        np.testing.assert_allclose(theirs[folder][method], ours[folder][method], atol=1e-6)


def test_sentrix_saved_router_loads_in_sentence_transformers(saved_by_sentrix):
    ours, theirs = saved_by_sentrix
    folder = next(f for f in ours if f.endswith("router"))
    for method in ("encode_query", "encode_document"):
        np.testing.assert_allclose(theirs[folder][method], ours[folder][method], atol=1e-6)
    assert not np.allclose(ours[folder]["encode_query"], ours[folder]["encode_document"], atol=1e-3)


def _st_model(tiny_folder):
    return st.SentenceTransformer(str(tiny_folder), device="cpu")


def test_st_saved_dense_layer_norm_normalize_load_in_sentrix(tmp_path, tiny_folder, texts):
    from sentence_transformers.sentence_transformer import modules as M

    theirs = _st_model(tiny_folder)
    torch.manual_seed(5)
    theirs.append(M.Dense(32, 16, activation_function=torch.nn.ReLU()))
    theirs.append(M.LayerNorm(16))
    theirs.append(M.Normalize())
    theirs.save(str(tmp_path / "st"))
    ours = SentenceTransformer(str(tmp_path / "st"), device="cpu")
    assert [type(m).__name__ for m in ours] == ["Transformer", "Pooling", "Dense", "LayerNorm", "Normalize"]
    np.testing.assert_allclose(ours.encode(texts), theirs.encode(texts), atol=1e-6)


def test_st_saved_router_with_static_embedding_loads_in_sentrix(tmp_path, tiny_folder, texts):
    from sentence_transformers.sentence_transformer import modules as M
    from tokenizers import Tokenizer

    base = _st_model(tiny_folder)
    torch.manual_seed(6)
    # An own copy of the tokenizer: sentence-transformers' StaticEmbedding shares the Transformer's backend
    # tokenizer, and saving the Transformer turns padding on for it (pad ids then enter the query mean).
    own_tokenizer = Tokenizer.from_str(base.tokenizer.backend_tokenizer.to_str())
    static = M.StaticEmbedding(own_tokenizer, embedding_dim=32)
    router = M.Router.for_query_document([static], [base[0], base[1]])
    theirs = st.SentenceTransformer(modules=[router, M.Normalize()], device="cpu")
    theirs.save(str(tmp_path / "st_router"))
    ours = SentenceTransformer(str(tmp_path / "st_router"), device="cpu")
    np.testing.assert_allclose(ours.encode_query(texts), theirs.encode_query(texts), atol=1e-6)
    np.testing.assert_allclose(ours.encode_document(texts), theirs.encode_document(texts), atol=1e-6)
    np.testing.assert_allclose(ours.encode(texts), theirs.encode(texts), atol=1e-6)


def test_st_saved_static_embedding_loads_in_sentrix(tmp_path, tiny_folder, texts):
    from sentence_transformers.sentence_transformer import modules as M

    torch.manual_seed(7)
    static = M.StaticEmbedding(_st_model(tiny_folder).tokenizer, embedding_dim=24)
    theirs = st.SentenceTransformer(modules=[static], device="cpu")
    theirs.save(str(tmp_path / "static"))
    ours = SentenceTransformer(str(tmp_path / "static"), device="cpu")
    np.testing.assert_allclose(ours.encode(texts), theirs.encode(texts), atol=1e-6)


@pytest.mark.parametrize("options", [
    {}, {"normalize_embeddings": True}, {"batch_size": 3}, {"truncate_dim": 7}, {"precision": "int8"},
    {"precision": "uint8"}, {"precision": "binary"}, {"precision": "ubinary"}, {"prompt": "query: "},
    {"convert_to_tensor": True}, {"prompt_name": "query"},
], ids=lambda o: ",".join(f"{k}={v}" for k, v in o.items()) or "default")
def test_encode_options_match(tiny_folder, texts, options):
    ours = SentenceTransformer(str(tiny_folder), device="cpu", prompts={"query": "query: "})
    theirs = st.SentenceTransformer(str(tiny_folder), device="cpu", prompts={"query": "query: "})
    a, b = ours.encode(texts, **options), theirs.encode(texts, **options)
    assert type(a) is type(b) and a.dtype == b.dtype and a.shape == b.shape
    np.testing.assert_allclose(np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64), atol=1e-6)


def test_token_embeddings_and_single_input_match(tiny_folder, texts):
    ours = SentenceTransformer(str(tiny_folder), device="cpu")
    theirs = st.SentenceTransformer(str(tiny_folder), device="cpu")
    for a, b in zip(ours.encode(texts, output_value="token_embeddings"),
                    theirs.encode(texts, output_value="token_embeddings")):
        torch.testing.assert_close(a, b)
    np.testing.assert_allclose(ours.encode(texts[0]), theirs.encode(texts[0]), atol=1e-6)
