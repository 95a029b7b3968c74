"""Tiny, deterministic sentence-embedding models for tests. No network, no Hub.

Every test in sentrix (and in a plugin) that needs a model should use this factory instead of
downloading one. The model is a randomly initialised 2-layer BERT (hidden size 32, 4 attention
heads, intermediate size 64) with a real WordPiece tokenizer built from a small English word
list, saved in the sentence-transformers folder layout (Transformer + Pooling [+ Normalize]).
The same ``seed`` always gives the same weights, so embeddings are reproducible.

Usage::

    from sentrix.testing.tiny_models import tiny_model_folder, tiny_sentence_transformer

    model = tiny_sentence_transformer()                 # sentrix.SentenceTransformer, dim 32
    emb = model.encode(["a cat sat on the mat", "dogs run"])

    folder = tiny_model_folder(tmp_path / "tiny", normalize=True)   # a folder on disk
    model = sentrix.SentenceTransformer(str(folder))                # load it like any model

    plain = tiny_hf_folder(tmp_path / "hf")   # a plain Hugging Face folder (no modules.json)

A folder made here also loads in sentence-transformers, which makes it handy for parity tests.
"""

from __future__ import annotations

import json
import string
import tempfile
from pathlib import Path
from typing import Any

__all__ = [
    "TINY_HIDDEN_SIZE",
    "tiny_vocab",
    "tiny_tokenizer",
    "tiny_hf_folder",
    "tiny_model_folder",
    "tiny_sentence_transformer",
]

TINY_HIDDEN_SIZE = 32

_SPECIAL = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
_WORDS = """
the a an and or but of to in on at for with from by as is are was were be been being it this that
these those there here what which who whom whose when where why how all any both each few more most
other some such no nor not only own same so than too very can will just do does did doing have has
had having i me my we our you your he him his she her they them their its cat cats dog dogs man men
woman women child children people person bird fish horse car cars bus train plane road street house
home city park tree trees water sea river lake beach sun moon sky rain snow day night time year
today week morning food eat eats eating drink drinks play plays playing run runs running walk walks
walking sit sits sitting stand stands ride rides riding read reads write writes talk talks said say
says go goes going went come comes make makes made see sees look looks like likes love loves want
good bad big small large little new old young long short high low hot cold fast slow happy sad
red blue green black white yellow brown one two three four five six seven ten hundred first last
guitar piano music song game ball football soccer team player match school student teacher book
question answer query document what's capital france paris london weather lovely sunny outside
stadium drove computer phone money market price stock news government police president country world
""".split()


def tiny_vocab() -> list[str]:
    """The tokenizer vocabulary: special tokens, single characters, ``##`` pieces, common words."""
    chars = list(string.ascii_lowercase + string.digits + string.punctuation)
    vocab = _SPECIAL + chars + ["##" + c for c in string.ascii_lowercase + string.digits] + _WORDS
    return list(dict.fromkeys(vocab))


def tiny_tokenizer(model_max_length: int = 128) -> Any:
    """A real WordPiece ``BertTokenizerFast`` over :func:`tiny_vocab` (lower-cases its input)."""
    import inspect

    from transformers import BertTokenizerFast

    vocab = {token: idx for idx, token in enumerate(tiny_vocab())}
    if "vocab" in inspect.signature(BertTokenizerFast.__init__).parameters:  # transformers >= 5
        return BertTokenizerFast(vocab=vocab, model_max_length=model_max_length)
    with tempfile.TemporaryDirectory() as tmp:  # transformers 4.x reads a vocab file
        vocab_file = Path(tmp) / "vocab.txt"
        vocab_file.write_text("\n".join(vocab) + "\n", encoding="utf-8")
        return BertTokenizerFast(vocab_file=str(vocab_file), model_max_length=model_max_length)


def tiny_hf_folder(path: str | Path, *, seed: int = 0, max_seq_length: int = 128, num_layers: int = 2) -> Path:
    """Save a random tiny BERT and its tokenizer as a plain Hugging Face folder; return the path."""
    import torch
    from transformers import BertConfig, BertModel

    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    tokenizer = tiny_tokenizer(model_max_length=max_seq_length)
    config = BertConfig(
        vocab_size=len(tokenizer),
        hidden_size=TINY_HIDDEN_SIZE,
        num_hidden_layers=num_layers,
        num_attention_heads=4,
        intermediate_size=64,
        max_position_embeddings=max(512, max_seq_length),
        pad_token_id=0,
    )
    state = torch.random.get_rng_state()
    torch.manual_seed(seed)
    try:
        model = BertModel(config)
    finally:
        torch.random.set_rng_state(state)
    model.save_pretrained(path, safe_serialization=True)
    tokenizer.save_pretrained(path)
    return path


def _write_json(path: Path, data: Any) -> None:
    path.write_text(json.dumps(data, indent=2), encoding="utf-8")


def tiny_model_folder(
    path: str | Path,
    *,
    normalize: bool = False,
    pooling_mode: str = "mean",
    seed: int = 0,
    max_seq_length: int = 128,
    prompts: dict[str, str] | None = None,
    default_prompt_name: str | None = None,
    similarity_fn_name: str = "cosine",
) -> Path:
    """Save a tiny model in the sentence-transformers layout and return its folder.

    Args:
        path: folder to create (may already exist; files in it are overwritten).
        normalize: append a Normalize module (unit-length embeddings).
        pooling_mode: Pooling mode (``"mean"``, ``"cls"``, ``"max"``, ...).
        seed: weight initialisation seed; the same seed gives the same model.
        max_seq_length: tokenizer truncation length.
        prompts, default_prompt_name, similarity_fn_name: written to
            ``config_sentence_transformers.json``.
    """
    import torch
    import transformers

    path = tiny_hf_folder(path, seed=seed, max_seq_length=max_seq_length)
    modules = [
        {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.base.modules.transformer.Transformer"},
        {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.sentence_transformer.modules.pooling.Pooling"},
    ]
    _write_json(
        path / "sentence_bert_config.json",
        {
            "transformer_task": "feature-extraction",
            "modality_config": {"text": {"method": "forward", "method_output_name": "last_hidden_state"}},
            "module_output_name": "token_embeddings",
        },
    )
    (path / "1_Pooling").mkdir(exist_ok=True)
    _write_json(
        path / "1_Pooling" / "config.json",
        {"embedding_dimension": TINY_HIDDEN_SIZE, "pooling_mode": pooling_mode, "include_prompt": True},
    )
    if normalize:
        modules.append(
            {"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.base.modules.normalize.Normalize"}
        )
        (path / "2_Normalize").mkdir(exist_ok=True)
        _write_json(
            path / "2_Normalize" / "config.json",
            {"module_input_name": "sentence_embedding", "module_output_name": "sentence_embedding"},
        )
    _write_json(path / "modules.json", modules)
    from sentrix import __version__

    _write_json(
        path / "config_sentence_transformers.json",
        {
            "__version__": {"sentrix": __version__, "transformers": transformers.__version__, "pytorch": torch.__version__},
            "model_type": "SentenceTransformer",
            "prompts": {"query": "", "document": "", **(prompts or {})},
            "default_prompt_name": default_prompt_name,
            "similarity_fn_name": similarity_fn_name,
        },
    )
    return path


def tiny_sentence_transformer(path: str | Path | None = None, *, device: str = "cpu", **folder_kwargs: Any) -> Any:
    """A :class:`sentrix.SentenceTransformer` over a :func:`tiny_model_folder` (created in ``path``,
    or in a fresh temporary folder when ``path`` is None). ``folder_kwargs`` go to
    :func:`tiny_model_folder`."""
    from sentrix.model import SentenceTransformer

    if path is None:
        path = tempfile.mkdtemp(prefix="sentrix-tiny-")
    folder = tiny_model_folder(path, **folder_kwargs)
    return SentenceTransformer(str(folder), device=device)
