"""The `sentrix` command: listing, showing, env, help; and what it must not import."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from sentrix.cli.main import main
from sentrix.registry import KINDS, get_registry

LOSS_SOURCE = """
    from sentrix.data_needs import DataNeeds

    class FocalLoss:
        '''Down-weights easy pairs.

        Needs (anchor, positive) pairs.
        '''
        data_needs = DataNeeds(text_columns=2, roles=("anchor", "positive"), label="none",
                               in_batch_negatives=True, recommended_sampler="no_duplicates")

        def __init__(self, model, gamma: float = 2.0):
            self.model = model
"""


def run_cli(*args: str, **env: str) -> subprocess.CompletedProcess:
    environment = {**os.environ, **env}
    return subprocess.run([sys.executable, "-m", "sentrix", *args], capture_output=True, text=True, env=environment)


def test_plugins_list_shows_name_aliases_provider_version(fake_dists, capsys):
    fake_dists.add("acme-losses", {"sentrix.losses": {"acme.focal": "acme_losses:FocalLoss",
                                                      "FocalLoss": "acme_losses:FocalLoss"}},
                   {"acme_losses": LOSS_SOURCE}, version="1.2.3")
    assert main(["plugins", "list", "--kind", "losses"]) == 0
    out = capsys.readouterr().out
    header, *rows = out.splitlines()
    assert header.split() == ["KIND", "NAME", "ALIASES", "PROVIDER", "VERSION"]
    assert any(row.split() == ["losses", "acme.focal", "FocalLoss", "acme-losses", "1.2.3"] for row in rows)
    assert f"\n{len(get_registry('losses'))} components.\n" in out


def test_plugins_list_json_covers_every_kind(capsys):
    assert main(["plugins", "list", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert len(rows) == sum(len(get_registry(kind)) for kind in KINDS)
    assert all(set(row) == {"kind", "name", "aliases", "provider", "version", "target"} for row in rows)


def test_plugins_show_prints_docstring_signature_and_data_needs(fake_dists, capsys):
    fake_dists.add("acme-losses", {"sentrix.losses": {"acme.focal": "acme_losses:FocalLoss",
                                                      "FocalLoss": "acme_losses:FocalLoss"}},
                   {"acme_losses": LOSS_SOURCE}, version="1.2.3")
    assert main(["plugins", "show", "FocalLoss"]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[:5] == [
        "acme.focal  (losses)",
        "  aliases:  FocalLoss",
        "  provider: acme-losses 1.2.3",
        "  object:   acme_losses:FocalLoss",
        "  signature: FocalLoss(model, gamma: float = 2.0)",
    ]
    assert (
        "  data needs: needs 2 text columns (anchor, positive) and no label column; uses in-batch negatives "
        "(duplicates in a batch hurt; gradient accumulation adds no negatives); recommended batch sampler: "
        "no_duplicates." in out
    )
    assert "Down-weights easy pairs." in out


def test_plugins_show_unknown_name_exits_2_with_the_message(capsys):
    assert main(["plugins", "show", "definitely_not_here"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: Unknown component 'definitely_not_here'.\n")
    assert "List them with `sentrix plugins list`" in err


def test_unknown_kind_is_rejected_by_argparse(capsys):
    with pytest.raises(SystemExit) as info:
        main(["plugins", "list", "--kind", "lossez"])
    assert info.value.code == 2
    assert "invalid choice: 'lossez'" in capsys.readouterr().err


def test_env_reports_versions_and_plugin_distributions(capsys):
    assert main(["env"]) == 0
    out = capsys.readouterr().out
    for label in ("sentrix", "plugin API", "python", "torch", "transformers", "plugin distributions:"):
        assert f"- {label}" in out
    if any(len(get_registry(kind)) for kind in KINDS):
        assert "    sentrix 0.1.0: " in out


def test_help_and_plugins_list_do_not_import_torch():
    code = (
        "import sys\n"
        "from sentrix.cli.main import main\n"
        "main(['plugins', 'list'])\n"
        "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
        "heavy = sorted(m for m in ('torch', 'transformers', 'datasets', 'numpy', 'sentrix_builtins') if m in sys.modules)\n"
        "print('HEAVY', heavy)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "HEAVY []"


def test_console_script_runs():
    result = run_cli("--version")
    assert result.returncode == 0 and result.stdout.strip().startswith("sentrix ")


def test_plugins_show_asks_for_kind_when_a_name_exists_in_several(capsys):
    # `triplet` is both a loss and an evaluator among the built-ins
    assert main(["plugins", "show", "triplet"]) == 2
    assert capsys.readouterr().err == (
        "error: 'triplet' names a component of several kinds (losses, evaluators).\n"
        "Fix: add --kind, e.g. `sentrix plugins show triplet --kind losses`.\n"
    )
    assert main(["plugins", "show", "triplet", "--kind", "evaluators"]) == 0
    assert capsys.readouterr().out.startswith("triplet  (evaluators)\n")
