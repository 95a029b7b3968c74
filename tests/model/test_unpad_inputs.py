"""``unpad_inputs`` on the Transformer module: never silently ignored.

sentrix's Transformer always pads its batches. ``unpad_inputs=True`` (sentence-transformers' request
to pack texts for flash-attention variable-length kernels) is kept in the saved config, so folders
round-trip with sentence-transformers, but warns at load time; ``None``/``False`` are honoured as is.
"""

from __future__ import annotations

import json
import shutil
import warnings

import numpy as np
import pytest

from sentrix import SentenceTransformer
from sentrix.errors import InvalidInputError


def _folder_with(tmp_path, tiny_folder, value):
    folder = tmp_path / f"unpad_{value}"
    shutil.copytree(tiny_folder, folder)
    config_file = folder / "sentence_bert_config.json"
    config = json.loads(config_file.read_text())
    config["unpad_inputs"] = value
    config_file.write_text(json.dumps(config))
    return folder


def test_unpad_true_warns_at_load_and_encodes_like_padded(tmp_path, tiny_folder, tiny_model, texts):
    folder = _folder_with(tmp_path, tiny_folder, True)
    with pytest.warns(UserWarning, match=r"unpad_inputs=True .* batches are padded"):
        model = SentenceTransformer(str(folder), device="cpu")
    assert model[0].unpad_inputs is True
    np.testing.assert_allclose(model.encode(texts), tiny_model.encode(texts), atol=1e-6)
    saved = tmp_path / "resaved"
    model.save(str(saved))
    assert json.loads((saved / "sentence_bert_config.json").read_text())["unpad_inputs"] is True


def test_unpad_false_and_none_load_quietly_and_round_trip(tmp_path, tiny_folder, tiny_model):
    folder = _folder_with(tmp_path, tiny_folder, False)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model = SentenceTransformer(str(folder), device="cpu")
    assert model[0].unpad_inputs is False
    model.save(str(tmp_path / "false"))
    assert json.loads((tmp_path / "false" / "sentence_bert_config.json").read_text())["unpad_inputs"] is False
    tiny_model.save(str(tmp_path / "none"))
    assert "unpad_inputs" not in json.loads((tmp_path / "none" / "sentence_bert_config.json").read_text())
    with pytest.warns(UserWarning, match="unpad_inputs=True"):
        model[0].unpad_inputs = True  # re-evaluated on assignment, like sentence-transformers
    with pytest.raises(InvalidInputError, match="unpad_inputs must be True, False or None"):
        model[0].unpad_inputs = "yes"


@pytest.mark.oracle
def test_sentence_transformers_reads_the_saved_setting(tmp_path, tiny_folder):
    import sentence_transformers as st

    with pytest.warns(UserWarning):
        model = SentenceTransformer(str(_folder_with(tmp_path, tiny_folder, True)), device="cpu")
    model[0].unpad_inputs = False
    model.save(str(tmp_path / "saved"))
    assert st.SentenceTransformer(str(tmp_path / "saved"), device="cpu")[0].unpad_inputs is False
