"""The word-embedding module types (WordEmbeddings, WordWeights, BoW, CNN, LSTM, WeightedLayerPooling)
and their word tokenizers, against sentence-transformers 6.2 as the oracle.

* each module computes what sentence-transformers' computes from the same weights (within 1e-6);
* a folder saved by either library loads in the other, with the same files, configs and embeddings;
* a WordEmbeddings + Pooling model trains with the sentrix trainer and its saved folder reloads.
"""

from __future__ import annotations

import gzip
import json
import os
import sys
import types

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from sentrix import SentenceTransformer
from sentrix.errors import InvalidInputError, InvalidParameterError
from sentrix.registry import modules as registry

pytestmark = pytest.mark.oracle

import sentence_transformers as st  # noqa: E402
from sentence_transformers.sentence_transformer import modules as STM  # noqa: E402
from sentence_transformers.sentence_transformer.modules import tokenizer as st_tokenizer  # noqa: E402

WORDS = ["cat", "dog", "sat", "mat", "Paris", "france", "capital", "runs", "park", "red", "car", "the"]
TEXTS = [
    "The cat sat on the mat.",
    "a DOG runs in the park!",
    "Paris is the capital of France",
    "red car, red car; (red) car",
    "",
    "nothing here is known",
    "cat dog sat mat Paris france capital runs park red car the cat dog",
]
DIM = 6


def _ours(name):
    return registry.get(name)


def _tok_module():
    return sys.modules[_ours("word_embeddings").__module__]


@pytest.fixture(scope="module")
def vectors_file(tmp_path_factory):
    """A tiny GloVe-style text file: one 'word v1 ... v6' line per word."""
    rng = np.random.default_rng(0)
    path = tmp_path_factory.mktemp("vectors") / "tiny_vectors.txt"
    path.write_text("".join(f"{w} {' '.join(f'{x:.6f}' for x in rng.normal(size=DIM))}\n" for w in WORDS))
    return str(path)


def _same_state(ours, theirs):
    a, b = ours.state_dict(), theirs.state_dict()
    assert a.keys() == b.keys()
    for key in a:
        torch.testing.assert_close(a[key], b[key], rtol=0, atol=0)


def _close(a, b):
    np.testing.assert_allclose(np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64), rtol=1e-6, atol=1e-6)


# ---------------------------------------------------------------------------------------- tokenizers
def test_stop_words_and_whitespace_tokenizer_match(tmp_path):
    tok = _tok_module()
    assert sorted(tok.ENGLISH_STOP_WORDS) == sorted(st_tokenizer.ENGLISH_STOP_WORDS)
    vocab = ["PADDING_TOKEN", *WORDS, "", "Cat", "a", "..."]
    for kwargs in ({}, {"do_lower_case": True}, {"stop_words": []}, {"stop_words": ["cat", "a"], "do_lower_case": True}):
        ours, theirs = tok.WhitespaceTokenizer(vocab, **kwargs), st_tokenizer.WhitespaceTokenizer(vocab, **kwargs)
        for text in [*TEXTS, "... Cat. cat, CAT!! '' a-a", "\t the\nmat  "]:
            assert ours.tokenize(text) == theirs.tokenize(text), (kwargs, text)
    # each library reads the other's saved tokenizer
    ours = tok.WhitespaceTokenizer(vocab, stop_words=["the"], do_lower_case=True)
    ours.save(str(tmp_path))
    theirs = st_tokenizer.WhitespaceTokenizer.load(str(tmp_path))
    assert (theirs.vocab, theirs.stop_words, theirs.do_lower_case) == (vocab, {"the"}, True)
    st_tokenizer.WhitespaceTokenizer(WORDS, do_lower_case=True).save(str(tmp_path))
    back = tok.WhitespaceTokenizer.load(str(tmp_path))
    assert back.vocab == WORDS and back.stop_words == set(st_tokenizer.ENGLISH_STOP_WORDS) and back.do_lower_case


def test_phrase_tokenizer_merges_phrases(monkeypatch):
    tok = _tok_module()
    fake_nltk = types.ModuleType("nltk")
    fake_nltk.word_tokenize = lambda text, preserve_line=True: text.replace(",", " ,").split()
    monkeypatch.setitem(sys.modules, "nltk", fake_nltk)
    phrases = tok.PhraseTokenizer(["PADDING_TOKEN", "new_york", "New", "York", "is", "big", "a_b_c_d_e_f", "x__y"])
    assert phrases.ngram_lengths == {2}  # too long and malformed phrases are ignored
    assert phrases.tokenize("New York is big, the New York") == [1, 5, 1]  # "is", "the", "," are stop words
    monkeypatch.setitem(sys.modules, "nltk", None)
    with pytest.raises(ImportError, match="pip install nltk"):
        tok.PhraseTokenizer(["x"])


def test_unknown_tokenizer_class_needs_trust_remote_code():
    tok = _tok_module()
    assert tok.resolve_tokenizer_class(
        "sentence_transformers.models.tokenizer.WhitespaceTokenizer.WhitespaceTokenizer") is tok.WhitespaceTokenizer
    with pytest.raises(InvalidInputError, match="trust_remote_code=True"):
        tok.resolve_tokenizer_class("evil_package.Tokenizer")


# ----------------------------------------------------------------------------------- module forwards
def test_from_text_file_matches(tmp_path, vectors_file):
    WordEmbeddings = _ours("WordEmbeddings")
    lines = open(vectors_file).read().splitlines()
    variants = {
        "plain.txt": "\n".join(lines) + "\n",
        "w2v.txt": f"{len(lines)} {DIM}\n" + "\n".join(lines[:5] + ["broken 1.0 2.0"] + lines[5:]) + "\n",
    }
    paths = []
    for name, content in variants.items():
        (tmp_path / name).write_text(content)
        paths.append(str(tmp_path / name))
    with gzip.open(tmp_path / "vectors.txt.gz", "wt") as handle:
        handle.write(variants["plain.txt"])
    paths.append(str(tmp_path / "vectors.txt.gz"))
    for path in paths:
        for kwargs in ({}, {"max_vocab_size": 4, "update_embeddings": True}):
            ours = WordEmbeddings.from_text_file(path, **kwargs)
            theirs = STM.WordEmbeddings.from_text_file(path, **kwargs)
            assert ours.tokenizer.get_vocab() == theirs.tokenizer.get_vocab()
            _same_state(ours, theirs)
            assert ours.emb_layer.weight.requires_grad == theirs.emb_layer.weight.requires_grad
            a, b = ours.preprocess(TEXTS), theirs.preprocess(TEXTS)
            assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
            _close(ours(a)["token_embeddings"].detach(), theirs(b)["token_embeddings"].detach())
    with pytest.raises(InvalidInputError, match="does not exist"):
        WordEmbeddings.from_text_file(str(tmp_path / "missing.txt"))
    with pytest.raises(InvalidParameterError, match="2-D matrix"):
        WordEmbeddings(ours.tokenizer, np.zeros(3))


def _token_features(seed=0, rows=3, width=5, dim=DIM):
    generator = torch.Generator().manual_seed(seed)
    lengths = torch.tensor([width, 2, 0][:rows])
    mask = (torch.arange(width)[None, :] < lengths[:, None]).long()
    ids = torch.randint(1, len(WORDS) + 1, (rows, width), generator=generator) * mask
    return {"input_ids": ids, "attention_mask": mask, "sentence_lengths": lengths,
            "token_embeddings": torch.randn(rows, width, dim, generator=generator)}


def _copy(features):
    return {k: v.clone() for k, v in features.items()}


@pytest.mark.parametrize("name, build", [
    ("cnn", lambda lib: lib.CNN(DIM, out_channels=4, kernel_sizes=[1, 3, 5], stride_sizes=None)),
    ("lstm", lambda lib: lib.LSTM(DIM, hidden_dim=3, num_layers=2)),
    ("lstm", lambda lib: lib.LSTM(DIM, hidden_dim=4, bidirectional=False)),
    ("word_weights", lambda lib: lib.WordWeights(["PADDING_TOKEN", *WORDS], {"cat": 2.5, "The": 0.5, "paris": 3.0}, 0.75)),
], ids=["cnn", "lstm_bi_2_layers", "lstm_uni", "word_weights"])
def test_module_forward_matches(name, build):
    torch.manual_seed(1)
    theirs = build(STM)
    ours = build(types.SimpleNamespace(**{n: _ours(n) for n in ("CNN", "LSTM", "WordWeights")}))
    ours.load_state_dict(theirs.state_dict())
    features = _token_features()
    a, b = ours(_copy(features)), theirs(_copy(features))
    assert set(a) == set(b)
    for key in a:
        _close(a[key].detach(), b[key].detach())
    if hasattr(theirs, "get_embedding_dimension"):
        assert ours.get_embedding_dimension() == theirs.get_embedding_dimension()
    assert ours.get_config_dict() == theirs.get_config_dict()


def test_weighted_layer_pooling_matches():
    ours, theirs = _ours("weighted_layer_pooling")(DIM, 4, 2), STM.WeightedLayerPooling(DIM, 4, 2)
    with torch.no_grad():
        theirs.layer_weights.copy_(torch.tensor([0.5, 2.0, 1.0]))
    ours.load_state_dict(theirs.state_dict())
    generator = torch.Generator().manual_seed(2)
    layers = tuple(torch.randn(2, 5, DIM, generator=generator) for _ in range(5))
    a, b = ours({"all_layer_embeddings": layers}), theirs({"all_layer_embeddings": layers})
    _close(a["token_embeddings"].detach(), b["token_embeddings"].detach())
    assert ours({"token_embeddings": layers[0]})["token_embeddings"] is layers[0]  # no hidden states: unchanged
    assert ours.get_config_dict() == theirs.get_config_dict()


def test_bow_matches():
    vocab = [*WORDS, "cat", "Red"]
    for kwargs in ({}, {"word_weights": {"cat": 2.0, "red": 0.5}, "unknown_word_weight": 0.25},
                   {"word_weights": {"car": 3.0}, "cumulative_term_frequency": False}):
        ours, theirs = _ours("bow")(vocab, **kwargs), STM.BoW(vocab, **kwargs)
        _close(ours(ours.preprocess(TEXTS))["sentence_embedding"], theirs(theirs.preprocess(TEXTS))["sentence_embedding"])
        assert ours.get_config_dict() == theirs.get_config_dict()
        assert ours.get_embedding_dimension() == theirs.get_embedding_dimension() == len(WORDS) + 1


# ------------------------------------------------------------------------------ whole models, both ways
def _pipeline(lib, kind, vectors_file):
    """The same model built from the ``lib`` namespace (sentence-transformers' or sentrix's modules)."""
    if kind == "bow":
        return [lib.BoW(["PADDING_TOKEN", *WORDS], {"cat": 2.0, "red": 0.5})]
    words = lib.WordEmbeddings.from_text_file(vectors_file, update_embeddings=True)
    vocab = words.tokenizer.get_vocab()
    if kind == "mean":
        return [words, lib.Pooling(DIM, "mean")]
    if kind == "word_weights":
        return [words, lib.WordWeights(vocab, {"cat": 2.0, "the": 0.1, "paris": 4.0}, 0.5), lib.Pooling(DIM, "mean_sqrt_len_tokens")]
    if kind == "cnn":
        cnn = lib.CNN(DIM, out_channels=3, kernel_sizes=[1, 3])
        return [words, cnn, lib.Pooling(cnn.get_embedding_dimension(), ("mean", "max"))]
    if kind == "lstm":
        lstm = lib.LSTM(DIM, hidden_dim=4)
        return [words, lstm, lib.Pooling(lstm.get_embedding_dimension(), "max"), lib.Normalize()]
    raise AssertionError(kind)


class _Sentrix:
    def __getattr__(self, name):
        return _ours(name)


KINDS = ["mean", "word_weights", "cnn", "lstm", "bow"]


def _json_files(folder):
    out = {}
    for root, _dirs, files in os.walk(folder):
        for name in files:
            rel = os.path.relpath(os.path.join(root, name), folder)
            if name.endswith("_config.json") or (name == "config.json" and root != str(folder)):
                config = json.load(open(os.path.join(root, name)))
                if "stop_words" in config:
                    config["stop_words"] = sorted(config["stop_words"])
                out[rel] = config
    return out


def _module_files(folder):
    skip = {"README.md", "config_sentence_transformers.json", "modules.json"}
    return sorted(os.path.relpath(os.path.join(r, f), folder) for r, _d, fs in os.walk(folder) for f in fs if f not in skip)


@pytest.mark.parametrize("kind", KINDS)
def test_folders_load_across_libraries(kind, tmp_path, vectors_file):
    # sentence-transformers builds and saves; sentrix loads, encodes the same and saves the same layout
    torch.manual_seed(3)
    theirs = st.SentenceTransformer(modules=_pipeline(STM, kind, vectors_file), device="cpu")
    theirs.save(str(tmp_path / "st"))
    ours = SentenceTransformer(str(tmp_path / "st"), device="cpu")
    assert [type(m).__module__.split(".")[0] for m in ours] == ["sentrix_builtins"] * len(theirs)
    _close(ours.encode(TEXTS), theirs.encode(TEXTS))
    ours.save(str(tmp_path / "sentrix"))
    assert _module_files(tmp_path / "sentrix") == _module_files(tmp_path / "st")
    assert _json_files(tmp_path / "sentrix") == _json_files(tmp_path / "st")
    assert [m["type"] for m in json.load(open(tmp_path / "sentrix" / "modules.json"))] == \
           [m["type"] for m in json.load(open(tmp_path / "st" / "modules.json"))]
    for rel in _module_files(tmp_path / "st"):
        if rel.endswith(".safetensors"):
            a, b = load_file(tmp_path / "sentrix" / rel), load_file(tmp_path / "st" / rel)
            assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)

    # sentrix builds and saves; sentence-transformers loads its own classes and encodes the same
    torch.manual_seed(4)
    ours = SentenceTransformer(modules=_pipeline(_Sentrix(), kind, vectors_file), device="cpu")
    ours.save(str(tmp_path / "ours"))
    theirs = st.SentenceTransformer(str(tmp_path / "ours"), device="cpu")
    assert all(type(m).__module__.startswith("sentence_transformers.") for m in theirs)
    _close(theirs.encode(TEXTS), ours.encode(TEXTS))
    _close(ours.encode(TEXTS, batch_size=2), theirs.encode(TEXTS, batch_size=2))
    if kind != "bow":
        for a, b in zip(ours.encode(TEXTS, output_value="token_embeddings"),
                        theirs.encode(TEXTS, output_value="token_embeddings")):
            _close(a, b)


def test_folder_with_old_type_paths_and_config_keys_loads(tmp_path, vectors_file):
    """Folders written by older sentence-transformers versions: ``sentence_transformers.models.*`` types,
    the old tokenizer path and the old ``word_embedding_dimension`` config key."""
    torch.manual_seed(8)
    theirs = st.SentenceTransformer(modules=_pipeline(STM, "lstm", vectors_file), device="cpu")
    theirs.save(str(tmp_path))
    modules_json = json.load(open(tmp_path / "modules.json"))
    for entry in modules_json:
        entry["type"] = "sentence_transformers.models." + entry["type"].rpartition(".")[2]
    json.dump(modules_json, open(tmp_path / "modules.json", "w"))
    config = json.load(open(tmp_path / "wordembedding_config.json"))
    config["tokenizer_class"] = "sentence_transformers.models.tokenizer.WhitespaceTokenizer.WhitespaceTokenizer"
    json.dump(config, open(tmp_path / "wordembedding_config.json", "w"))
    lstm_folder = tmp_path / modules_json[1]["path"]
    config = json.load(open(lstm_folder / "lstm_config.json"))
    config["word_embedding_dimension"] = config.pop("embedding_dimension")
    json.dump(config, open(lstm_folder / "lstm_config.json", "w"))
    _close(SentenceTransformer(str(tmp_path), device="cpu").encode(TEXTS), theirs.encode(TEXTS))


def test_trained_word_weights_reach_sentence_transformers(tmp_path, vectors_file):
    ours = SentenceTransformer(modules=_pipeline(_Sentrix(), "word_weights", vectors_file), device="cpu")
    with torch.no_grad():
        ours[1].emb_layer.weight.mul_(torch.linspace(0.5, 2.0, ours[1].emb_layer.weight.shape[0])[:, None])
    ours.save(str(tmp_path / "trained"))
    theirs = st.SentenceTransformer(str(tmp_path / "trained"), device="cpu")
    _close(theirs.encode(TEXTS), ours.encode(TEXTS))
    _close(SentenceTransformer(str(tmp_path / "trained"), device="cpu").encode(TEXTS), ours.encode(TEXTS))


def test_hugging_face_tokenizer_folder_loads_across_libraries(tmp_path, tiny_folder):
    from transformers import AutoTokenizer

    hf_tokenizer = AutoTokenizer.from_pretrained(str(tiny_folder))
    weights = np.random.default_rng(5).normal(size=(len(hf_tokenizer), DIM))
    ours = SentenceTransformer(modules=[_ours("WordEmbeddings")(hf_tokenizer, weights), _ours("Pooling")(DIM)], device="cpu")
    ours.save(str(tmp_path / "ours"))
    theirs = st.SentenceTransformer(str(tmp_path / "ours"), device="cpu")
    assert type(theirs[0].tokenizer).__name__ == "TransformersTokenizerWrapper"
    _close(theirs.encode(TEXTS), ours.encode(TEXTS))
    theirs.save(str(tmp_path / "st"))
    _close(SentenceTransformer(str(tmp_path / "st"), device="cpu").encode(TEXTS), ours.encode(TEXTS))


def test_transformer_with_weighted_layer_pooling_loads_across_libraries(tmp_path, tiny_folder):
    hidden = {"output_hidden_states": True}
    theirs = st.SentenceTransformer(modules=[
        STM.Transformer(str(tiny_folder), config_kwargs=hidden), STM.WeightedLayerPooling(32, num_hidden_layers=2, layer_start=1),
        STM.Pooling(32)], device="cpu")
    with torch.no_grad():
        theirs[1].layer_weights.copy_(torch.tensor([0.5, 2.0]))
    theirs.save(str(tmp_path / "st"))
    ours = SentenceTransformer(str(tmp_path / "st"), device="cpu")
    assert type(ours[1]).__name__ == "WeightedLayerPooling"
    with torch.no_grad():
        assert "all_layer_embeddings" in ours(ours.preprocess(TEXTS[:2]))  # the weighted mean really ran
    _close(ours.encode(TEXTS), theirs.encode(TEXTS))
    ours = SentenceTransformer(modules=[
        _ours("Transformer")(str(tiny_folder), config_kwargs=hidden), _ours("WeightedLayerPooling")(32, 2, 0),
        _ours("Pooling")(32)], device="cpu")
    ours.save(str(tmp_path / "ours"))
    _close(st.SentenceTransformer(str(tmp_path / "ours"), device="cpu").encode(TEXTS), ours.encode(TEXTS))


def test_weighted_layer_pooling_folder_loads_across_libraries(tmp_path):
    theirs = STM.WeightedLayerPooling(DIM, num_hidden_layers=3, layer_start=1)
    with torch.no_grad():
        theirs.layer_weights.copy_(torch.tensor([1.0, 0.25, 3.0]))
    theirs.save(str(tmp_path))
    ours = _ours("WeightedLayerPooling").load(str(tmp_path))
    _same_state(ours, theirs)
    ours.layer_weights.data.mul_(2)
    ours.save(str(tmp_path))
    _same_state(STM.WeightedLayerPooling.load(str(tmp_path)), ours)


# ----------------------------------------------------------------------------------------- training
def test_word_embeddings_model_trains_saves_and_reloads(tmp_path, vectors_file):
    from datasets import Dataset

    from sentrix import SentenceTransformerTrainer, SentenceTransformerTrainingArguments

    words = _ours("WordEmbeddings").from_text_file(vectors_file, update_embeddings=True)
    model = SentenceTransformer(modules=[words, _ours("Pooling")(DIM, "mean")], device="cpu")
    before = words.emb_layer.weight.detach().clone()
    data = Dataset.from_dict({
        "anchor": ["the cat sat", "a dog runs", "Paris is big", "red car", "the park", "capital of france"],
        "positive": ["cat on the mat", "dog in the park", "capital of France", "a red car", "park runs", "Paris"],
    })
    args = SentenceTransformerTrainingArguments(
        output_dir=str(tmp_path / "out"), per_device_train_batch_size=3, max_steps=3, learning_rate=0.1,
        report_to="none", use_cpu=True, disable_tqdm=True, save_strategy="steps", save_steps=2, seed=7, data_seed=7,
    )
    trainer = SentenceTransformerTrainer(model=model, args=args, train_dataset=data, loss="multiple_negatives_ranking")
    trainer.train()
    after = words.emb_layer.weight.detach()
    assert not torch.equal(before, after)
    assert torch.equal(before[0], after[0])  # the padding row never receives a gradient under mean pooling
    checkpoint = SentenceTransformer(str(tmp_path / "out" / "checkpoint-2"), device="cpu")
    assert type(checkpoint[0]).__name__ == "WordEmbeddings"
    trainer.save_model(str(tmp_path / "final"))
    reloaded = SentenceTransformer(str(tmp_path / "final"), device="cpu")
    _close(reloaded.encode(TEXTS), model.encode(TEXTS))
    _close(st.SentenceTransformer(str(tmp_path / "final"), device="cpu").encode(TEXTS), model.encode(TEXTS))


def test_names_resolve():
    from sentrix.module_base import resolve_module_class

    for file, cls in [("word_embeddings", "WordEmbeddings"), ("word_weights", "WordWeights"), ("bow", "BoW"),
                      ("cnn", "CNN"), ("lstm", "LSTM"), ("weighted_layer_pooling", "WeightedLayerPooling")]:
        target = registry.get(file)
        for name in (cls, f"sentence_transformers.models.{cls}", f"sentence_transformers.models.{cls}.{cls}",
                     f"sentence_transformers.sentence_transformer.modules.{file}.{cls}",
                     f"sentence_transformers.sentence_transformer.modules.{cls}"):
            assert resolve_module_class(name) is target, name
        assert target.type_string() == f"sentence_transformers.sentence_transformer.modules.{file}.{cls}"


def test_bad_inputs_get_clear_errors(tmp_path):
    with pytest.raises(InvalidParameterError, match="odd kernel sizes"):
        _ours("cnn")(DIM, out_channels=2, kernel_sizes=[1, 2])(_token_features())
    with pytest.raises(InvalidInputError, match="sentence_lengths"):
        _ours("lstm")(DIM, hidden_dim=2)({"token_embeddings": torch.zeros(1, 2, DIM)})
    with pytest.raises(InvalidParameterError, match="word tokenizer"):
        _ours("word_embeddings")("not a tokenizer", np.zeros((2, DIM)))
    with pytest.raises(InvalidInputError, match="WordWeights config"):
        _ours("word_weights").load(str(tmp_path))
    with pytest.raises(InvalidParameterError, match="one string"):
        _tok_module().WhitespaceTokenizer("cat dog")
