"""DenoisingAutoEncoderLoss (TSDAE) and DenoisingAutoEncoderDataset against sentence-transformers 6.2."""

from __future__ import annotations

import sys
import types

import numpy as np
import pytest
import sentence_transformers  # noqa: F401  (the oracle must be installed: fail, never skip)
import torch
from group_c_helpers import assert_grads_close, assert_value_close, named_grads, run_both
from loss_test_helpers import SENTENCES, features_for
from sentence_transformers.sentence_transformer import datasets as st_datasets
from sentence_transformers.sentence_transformer import losses as st

from sentrix.errors import InvalidInputError
from sentrix.registry import losses as registry

pytestmark = pytest.mark.oracle


def _damaged_batches(ours_model, theirs_model, rows=6):
    originals = SENTENCES[:rows]
    damaged = [" ".join(s.split()[::2]) for s in originals]
    return [[features_for(m, damaged), features_for(m, originals)] for m in (ours_model, theirs_model)]


def _rename(name):
    return "encoder." + name[len("model.") :] if name.startswith("model.") else name


def _run_dae(load_tiny, load_reference, ours_kwargs, theirs_kwargs, force_retokenize=False):
    ours_model, theirs_model = load_tiny().double(), load_reference().double()
    ours = registry.create("denoising_auto_encoder", model=ours_model, **ours_kwargs)
    theirs = st.DenoisingAutoEncoderLoss(theirs_model, **theirs_kwargs)
    ours.decoder.load_state_dict(theirs.decoder.state_dict())  # the cross-attention and LM head start random
    ours.double(), theirs.double()
    ours.decoder.eval(), theirs.decoder.eval()
    if force_retokenize:
        ours.need_retokenization = theirs.need_retokenization = True
    ours_value, theirs_value = run_both(
        ours, theirs, ours_model, theirs_model, 2, batches=_damaged_batches(ours_model, theirs_model)
    )
    ours_value.backward()
    theirs_value.backward()
    assert_value_close(ours_value, theirs_value)
    ours_grads, theirs_grads = named_grads(ours, _rename), named_grads(theirs)
    assert any(name.startswith("decoder.") for name in ours_grads)
    assert_grads_close(ours_grads, theirs_grads)
    assert ours.get_config_dict() == theirs.get_config_dict()
    return ours, theirs


def test_dae_tied_matches(load_tiny, load_reference):
    ours, _ = _run_dae(load_tiny, load_reference, {}, {})
    # tied: the encoder's weights are the decoder's own parameters
    encoder_word_embeddings = ours.model[0].auto_model.embeddings.word_embeddings.weight
    assert encoder_word_embeddings is ours.decoder.bert.embeddings.word_embeddings.weight
    assert any(key.startswith("decoder.") for key in ours.state_dict())
    assert ours.encoder is ours.model


def test_dae_untied_separate_decoder_matches(load_tiny, load_reference, tiny_hf_dir):
    kwargs = {"decoder_name_or_path": tiny_hf_dir, "tie_encoder_decoder": False}
    ours, _ = _run_dae(load_tiny, load_reference, kwargs, kwargs)
    assert (
        ours.model[0].auto_model.embeddings.word_embeddings.weight
        is not ours.decoder.bert.embeddings.word_embeddings.weight
    )


def test_dae_retokenization_path_matches(load_tiny, load_reference, tiny_hf_dir):
    kwargs = {"decoder_name_or_path": tiny_hf_dir, "tie_encoder_decoder": False}
    _run_dae(load_tiny, load_reference, kwargs, kwargs, force_retokenize=True)


def test_dae_refuses_untied_without_decoder(tiny_model):
    with pytest.raises(InvalidInputError, match="needs decoder_name_or_path"):
        registry.create("denoising_auto_encoder", model=tiny_model, tie_encoder_decoder=False)


# ------------------------------------------------------------------------------------------ the dataset


@pytest.fixture
def fake_nltk(monkeypatch):
    """A stand-in for NLTK (not installed here, and its tokenizer data cannot be downloaded): whitespace
    tokenisation. Both libraries import it the same way, so the random deletion logic is compared."""
    nltk = types.ModuleType("nltk")
    nltk.word_tokenize = lambda text: text.split()
    tokenize = types.ModuleType("nltk.tokenize")
    treebank = types.ModuleType("nltk.tokenize.treebank")

    class TreebankWordDetokenizer:
        def detokenize(self, tokens):
            return " ".join(tokens)

    treebank.TreebankWordDetokenizer = TreebankWordDetokenizer
    nltk.tokenize = tokenize
    tokenize.treebank = treebank
    for name, module in {"nltk": nltk, "nltk.tokenize": tokenize, "nltk.tokenize.treebank": treebank}.items():
        monkeypatch.setitem(sys.modules, name, module)
    import sentence_transformers.sentence_transformer.datasets.denoising_auto_encoder as st_module

    monkeypatch.setattr(st_module, "is_nltk_available", lambda: True)


def test_dae_dataset_default_noise_matches(fake_nltk):
    from sentrix.losses import DenoisingAutoEncoderDataset

    sentences = SENTENCES + ["", "one", "two words"]
    ours = DenoisingAutoEncoderDataset(sentences)
    theirs = st_datasets.DenoisingAutoEncoderDataset(sentences)
    assert len(ours) == len(theirs)
    for seed in range(3):
        np.random.seed(seed)
        ours_items = [ours[i].texts for i in range(len(ours))]
        np.random.seed(seed)
        theirs_items = [theirs[i].texts for i in range(len(theirs))]
        assert ours_items == theirs_items
    for ratio in (0.0, 0.3, 0.99):
        np.random.seed(4)
        a = [DenoisingAutoEncoderDataset.delete(s, del_ratio=ratio) for s in sentences]
        np.random.seed(4)
        assert a == [st_datasets.DenoisingAutoEncoderDataset.delete(s, del_ratio=ratio) for s in sentences]


def test_dae_dataset_custom_noise_and_missing_nltk(monkeypatch):
    from sentrix.losses import DenoisingAutoEncoderDataset
    from sentrix.sentence_transformer.losses import DenoisingAutoEncoderDataset as deep_path

    assert deep_path is DenoisingAutoEncoderDataset
    assert isinstance(DenoisingAutoEncoderDataset(["a b"], noise_fn=str.upper), torch.utils.data.Dataset)
    dataset = DenoisingAutoEncoderDataset(["a cat", "a dog"], noise_fn=lambda s: s.split()[-1])
    assert [dataset[i].texts for i in range(2)] == [["cat", "a cat"], ["dog", "a dog"]]
    monkeypatch.setitem(sys.modules, "nltk", None)  # as if NLTK were not installed
    with pytest.raises(ImportError, match="pip install nltk"):
        DenoisingAutoEncoderDataset(["a cat"])
