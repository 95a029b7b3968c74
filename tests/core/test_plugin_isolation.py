"""One broken plugin breaks nothing that does not use it, and cannot take over a built-in name.

Every plugin here is a real distribution on ``sys.path`` (a ``.dist-info`` folder with
``entry_points.txt``, see ``conftest.py``), loaded through the same discovery path as an installed
one. Per registry kind: an entry point that fails to import and a hook plugin whose
``sentrix_register_components`` raises. Per hook: an implementation that crashes, and for the
hooks where it means something, one that raises a deliberate ``SentrixError``.
"""

from __future__ import annotations

import json
import re
from types import SimpleNamespace

import pytest

from sentrix import hookspecs, registry
from sentrix.cli.main import main
from sentrix.errors import (
    ComponentCollisionError,
    ComponentLoadError,
    ComponentUnavailableError,
    InvalidInputError,
    PluginHookError,
    UnknownComponentError,
)
from sentrix.hooks import HOOK_FAILURE_POLICY, plugin_problems

HOOKS = sorted(name for name, fn in vars(hookspecs).items() if name.startswith("sentrix_") and callable(fn))

#: one built-in name per kind that must keep resolving while broken plugins are installed
BUILTIN = {
    "losses": "cosent",
    "batch_samplers": "batch_sampler",  # the default batch sampler
    "multi_dataset_batch_samplers": "proportional",
    "evaluators": "embedding_similarity",
    "router_mappings": "query_document",
    "callbacks": "early_stopping",
    "modules": "normalize",
}


def _builtin_name(kind: str) -> str:
    return BUILTIN[kind]


def test_every_kind_and_hook_is_covered():
    assert set(BUILTIN) == set(registry.KINDS)
    for kind, name in BUILTIN.items():
        assert registry.get_registry(kind).info(name).provider == "sentrix"
    assert set(HOOK_FAILURE_POLICY) == set(HOOKS), "every hook needs a documented failure policy"
    for kind in registry.KINDS:
        assert any(e.provider == "sentrix" for e in registry.get_registry(kind).entries()), kind


def _raising_register(kind: str) -> str:
    return f"""
        from sentrix import hookimpl

        @hookimpl
        def sentrix_register_components(register):
            register({kind!r}, "acme.first", "collections:OrderedDict")
            raise RuntimeError("registration blew up")

        @hookimpl
        def sentrix_env_info():
            return {{"acme hooks": "alive"}}
    """


# ------------------------------------------------------------------------------------------------
# per registry kind: a component entry point that fails to import, a hook registration that raises
# ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("kind", registry.KINDS)
def test_broken_plugins_of_one_kind_break_nothing_else(kind, fake_dists, capsys, recwarn, monkeypatch):
    fake_dists.add("acme-broken", {f"sentrix.{kind}": {"acme.broken": "acme_broken_mod:Thing"}},
                   {"acme_broken_mod": "raise ImportError('needs libfoo.so')\n"}, version="0.3.0")
    fake_dists.add("acme-hooks", {"sentrix.plugins": {"acme": "acme_hooks_mod"}}, {"acme_hooks_mod": _raising_register(kind)},
                   version="1.1.0")
    reg = registry.get_registry(kind)

    # the built-ins of this kind still resolve and load
    builtin = _builtin_name(kind)
    assert reg.info(builtin).provider == "sentrix"
    assert reg.get(builtin) is not None

    # the broken entry point names its distribution and the error when used ...
    with pytest.raises(ComponentLoadError, match=r"from distribution acme-broken 0\.3\.0 .*ImportError: needs libfoo\.so"):
        reg.get("acme.broken")
    # ... and so does the name the raising hook registered before it failed
    with pytest.raises(ComponentUnavailableError) as info:
        reg.get("acme.first")
    assert str(info.value).startswith(
        f"{_singular(kind).capitalize()} 'acme.first' is unavailable because plugin 'acme' (acme-hooks 1.1.0) failed to load: "
        "RuntimeError: registration blew up\n"
    )
    assert any("sentrix_register_components hook of plugin 'acme' (acme-hooks 1.1.0) failed" in str(w.message) for w in recwarn)
    # the plugin's other hooks still run
    assert main(["env"]) == 0
    env = capsys.readouterr().out
    assert re.search(r"^- acme hooks +alive$", env, flags=re.M)
    assert "BROKEN  plugin 'acme' (acme-hooks 1.1.0) [sentrix_register_components]: RuntimeError: registration blew up" in env

    # `plugins list` works and names both; --check finds the import failure in a fresh process state
    registry.refresh()
    assert main(["plugins", "list", "--kind", kind]) == 0
    out = capsys.readouterr().out
    assert re.search(rf"^{kind} +{re.escape(builtin)} ", out, flags=re.M)
    assert "BROKEN  plugin 'acme' (acme-hooks 1.1.0) [sentrix_register_components]: RuntimeError: registration blew up" in out
    assert "acme-broken" in out and "needs libfoo" not in out  # not imported without --check
    monkeypatch.setenv("SENTRIX_BLOCK_PLUGINS", "sentrix")  # --check imports every listed component: only the plugins here
    assert main(["plugins", "list", "--kind", kind, "--check"]) == 1
    out = capsys.readouterr().out
    assert (f"BROKEN  plugin 'acme-broken' (acme-broken 0.3.0) [load]: ImportError: needs libfoo.so; "
            f"unavailable: {kind} 'acme.broken'") in out
    monkeypatch.delenv("SENTRIX_BLOCK_PLUGINS")
    assert main(["plugins", "list", "--kind", kind, "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert any(row["name"] == builtin and "problem" not in row for row in rows)
    assert any(row.get("problem", "").startswith("plugin 'acme' (acme-hooks 1.1.0)") and row["broken"] for row in rows)


def _singular(kind: str) -> str:
    from sentrix.errors import _singular as singular

    return singular(kind)


@pytest.mark.parametrize("kind", registry.KINDS)
def test_unknown_kind_and_malformed_registrations_lose_only_themselves(kind, fake_dists):
    source = f"""
        from sentrix import hookimpl

        @hookimpl
        def sentrix_register_components(register):
            register({kind[:-1]!r}, "acme.typo_kind", "collections:OrderedDict")
            register({kind!r}, "", "collections:OrderedDict")
            register({kind!r}, "acme.no_target", "not a target")
            register({kind!r}, "acme.good", "collections:OrderedDict")
    """
    fake_dists.add("acme-sloppy", {"sentrix.plugins": {"sloppy": "acme_sloppy"}}, {"acme_sloppy": source})
    reg = registry.get_registry(kind)
    with pytest.warns(RuntimeWarning, match=rf"registered 'acme.typo_kind' under unknown kind '{kind[:-1]}'"):
        from collections import OrderedDict

        assert reg.get("acme.good") is OrderedDict
    assert reg.get(_builtin_name(kind)) is not None
    with pytest.raises(ComponentUnavailableError, match="with target 'not a target'; expected the component object"):
        reg.get("acme.no_target")
    problems = [p for p in registry.broken_plugins() if p.plugin == "sloppy"]
    assert len(problems) == 3 and not any(p.fatal for p in problems)


# ------------------------------------------------------------------------------------------------
# sentrix_register_components: a mis-declared signature, and an unknown hook
# ------------------------------------------------------------------------------------------------
MISDECLARED = """
    from sentrix import hookimpl

    @hookimpl
    def sentrix_register_components(register, registry):   # 'registry' is not a parameter of the hook
        register("losses", "acme.never", "collections:OrderedDict")

    @hookimpl
    def sentrix_validate_runs(trainer):                     # typo: no such hook
        return ["never called"]

    @hookimpl
    def sentrix_env_info():
        return {"acme misdeclared": "still here"}
"""


def test_misdeclared_register_hook_is_contained(fake_dists, capsys):
    fake_dists.add("acme-misdeclared", {"sentrix.plugins": {"mis": "acme_mis"}}, {"acme_mis": MISDECLARED}, version="2.0.0")
    assert registry.batch_samplers.info("batch_sampler").provider == "sentrix"
    assert registry.losses.get("cosent").__name__ == "CoSENTLoss"
    with pytest.raises(UnknownComponentError) as info:
        registry.losses.get("acme.never")
    message = str(info.value)
    assert message.startswith("Unknown loss 'acme.never'.")
    assert "Note: plugin 'mis' (acme-misdeclared 2.0.0) failed to load (PluginValidationError: " in message
    assert "'registry'" in message
    assert main(["env"]) == 0  # the plugin's well-declared hook still registered and runs
    out = capsys.readouterr().out
    assert re.search(r"^- acme misdeclared +still here$", out, flags=re.M)
    assert main(["plugins", "list"]) == 0
    out = capsys.readouterr().out
    assert "BROKEN  plugin 'mis' (acme-misdeclared 2.0.0) [register]: PluginValidationError:" in out
    assert "implements 'sentrix_validate_runs', which is not a sentrix hook" in out


def test_hook_module_that_fails_to_import_is_named_when_a_name_is_unknown(fake_dists):
    fake_dists.add("acme-gone", {"sentrix.plugins": {"gone": "acme_gone"}}, {"acme_gone": "import no_such_module_abc\n"})
    with pytest.warns(RuntimeWarning, match="sentrix plugin 'gone' from acme-gone 1.0.0 failed to load"):
        with pytest.raises(UnknownComponentError, match=r"Note: plugin 'gone' \(acme-gone 1\.0\.0\) failed to load "
                                                      r"\(ModuleNotFoundError: No module named 'no_such_module_abc'\)"):
            registry.losses.get("acme.from_gone")
    assert registry.batch_samplers.info("batch_sampler").provider == "sentrix"


def test_strict_switch_turns_a_crash_into_an_error(fake_dists, monkeypatch):
    fake_dists.add("acme-hooks", {"sentrix.plugins": {"acme": "acme_hooks_mod"}}, {"acme_hooks_mod": _raising_register("losses")})
    monkeypatch.setenv("SENTRIX_STRICT_PLUGINS", "1")
    with pytest.raises(PluginHookError, match=r"sentrix_register_components hook of plugin 'acme' \(acme-hooks 1\.0\.0\) failed"):
        registry.losses.get("cosent")


# ------------------------------------------------------------------------------------------------
# the other hooks: a crash is reported with the plugin's name and skipped; deliberate errors count
# ------------------------------------------------------------------------------------------------
RUN_HOOKS = """
    from sentrix import hookimpl
    from sentrix.plugin_api import InvalidInputError

    MODE = {"validate": "ok", "adjust": "ok"}

    @hookimpl
    def sentrix_validate_run(trainer):
        if MODE["validate"] == "crash":
            raise KeyError("missing_column")
        if MODE["validate"] == "refuse":
            raise InvalidInputError("acme: per_device_train_batch_size must be at least 8; set it to 8.")
        if MODE["validate"] == "wrong type":
            return 42
        return None

    @hookimpl
    def sentrix_adjust_trainer(trainer):
        if MODE["adjust"] == "crash":
            raise ZeroDivisionError("division by zero")
        if MODE["adjust"] == "refuse":
            raise InvalidInputError("acme: this run needs a GPU; set use_cpu=False.")
        trainer.seen.append("acme adjusted")
"""

GOOD_RUN_HOOKS = """
    from sentrix import hookimpl

    @hookimpl
    def sentrix_validate_run(trainer):
        trainer.seen.append("good validated")

    @hookimpl
    def sentrix_adjust_trainer(trainer):
        trainer.seen.append("good adjusted")
"""


@pytest.fixture
def run_plugins(fake_dists):
    fake_dists.add("acme-run", {"sentrix.plugins": {"acme-run": "acme_run_hooks"}}, {"acme_run_hooks": RUN_HOOKS}, version="0.9.0")
    fake_dists.add("good-run", {"sentrix.plugins": {"good-run": "good_run_hooks"}}, {"good_run_hooks": GOOD_RUN_HOOKS})
    import importlib

    from sentrix.hooks import get_plugin_manager

    get_plugin_manager()
    return importlib.import_module("acme_run_hooks").MODE


def _run_plugin_checks():
    from sentrix.training.run_checks import run_plugin_checks

    trainer = SimpleNamespace(seen=[])
    run_plugin_checks(trainer)
    return trainer.seen


def test_validate_hook_crash_is_skipped_with_the_plugin_named(run_plugins):
    run_plugins["validate"] = "crash"
    with pytest.warns(RuntimeWarning, match=r"The sentrix_validate_run hook of plugin 'acme-run' failed "
                                            r"and was skipped: KeyError: 'missing_column' \[plugin from acme-run 0\.9\.0\]"):
        seen = _run_plugin_checks()
    assert set(seen) == {"good validated", "acme adjusted", "good adjusted"}
    assert any(p.stage == "sentrix_validate_run" and p.plugin == "acme-run" for p in plugin_problems())


def test_strict_switch_stops_the_run_on_a_validate_crash(run_plugins, monkeypatch):
    run_plugins["validate"] = "crash"
    monkeypatch.setenv("SENTRIX_STRICT_PLUGINS", "1")
    with pytest.raises(PluginHookError, match=r"The sentrix_validate_run hook of plugin 'acme-run' \(acme-run 0\.9\.0\) failed: "
                                              r"KeyError: 'missing_column'\nFix: .*SENTRIX_BLOCK_PLUGINS=acme-run"):
        _run_plugin_checks()


def test_validate_hook_deliberate_error_still_stops_the_run(run_plugins):
    run_plugins["validate"] = "refuse"
    with pytest.raises(InvalidInputError) as info:
        _run_plugin_checks()
    assert ("- acme: per_device_train_batch_size must be at least 8; set it to 8. "
            "(raised by plugin 'acme-run', acme-run 0.9.0)") in str(info.value)


def test_validate_hook_returning_the_wrong_type_is_a_crash(run_plugins):
    run_plugins["validate"] = "wrong type"
    with pytest.warns(RuntimeWarning, match=r"sentrix_validate_run hook of plugin 'acme-run' .* TypeError: returned int 42"):
        assert "good adjusted" in _run_plugin_checks()


def test_adjust_hook_crash_is_skipped_and_other_plugins_still_adjust(run_plugins):
    run_plugins["adjust"] = "crash"
    with pytest.warns(RuntimeWarning, match=r"The sentrix_adjust_trainer hook of plugin 'acme-run' failed "
                                            r"and was skipped: ZeroDivisionError: division by zero \[plugin from acme-run 0\.9\.0\]"):
        seen = _run_plugin_checks()
    assert "good adjusted" in seen and "acme adjusted" not in seen


def test_adjust_hook_deliberate_error_stops_the_run(run_plugins):
    run_plugins["adjust"] = "refuse"
    with pytest.raises(InvalidInputError, match="this run needs a GPU") as info:
        _run_plugin_checks()
    assert "Raised by the sentrix_adjust_trainer hook of plugin 'acme-run' (acme-run 0.9.0)." in getattr(info.value, "__notes__", [])


CLI_HOOKS = """
    from sentrix import hookimpl

    @hookimpl
    def sentrix_add_cli_commands(subparsers):
        subparsers.add_parser("env", help="takes over env")   # clashes with a built-in command

    @hookimpl
    def sentrix_env_info():
        raise OSError("cannot query the accelerator")
"""


def test_cli_and_env_hook_crashes_break_no_command(fake_dists, capsys):
    fake_dists.add("acme-cli", {"sentrix.plugins": {"acme-cli": "acme_cli_hooks"}}, {"acme_cli_hooks": CLI_HOOKS})
    fake_dists.add("acme-hooks", {"sentrix.plugins": {"acme": "acme_hooks_mod"}}, {"acme_hooks_mod": _raising_register("losses")})
    with pytest.warns(RuntimeWarning) as caught:
        assert main(["env"]) == 0
        out = capsys.readouterr().out
        assert main(["plugins", "list", "--kind", "batch_samplers"]) == 0
    messages = [str(w.message) for w in caught]
    assert any(m.startswith("The sentrix_add_cli_commands hook of plugin 'acme-cli' failed and was skipped: ArgumentError: ")
               and m.endswith("[plugin from acme-cli 1.0.0]") for m in messages)
    assert ("The sentrix_env_info hook of plugin 'acme-cli' failed and was skipped: OSError: cannot query the accelerator "
            "[plugin from acme-cli 1.0.0]") in messages
    assert re.search(r"^- acme hooks +alive$", out, flags=re.M)
    assert "- plugin API" in out
    assert "warning plugin 'acme-cli' (acme-cli 1.0.0) [sentrix_env_info]: OSError: cannot query the accelerator" in out
    listing = capsys.readouterr().out
    assert re.search(r"^batch_samplers +batch_sampler ", listing, flags=re.M)


CARD_HOOKS = """
    from sentrix import hookimpl

    @hookimpl
    def sentrix_model_card_sections(model, card):
        raise AttributeError("'NoneType' object has no attribute 'metrics'")
"""

GOOD_CARD_HOOKS = """
    from sentrix import hookimpl

    @hookimpl
    def sentrix_model_card_sections():
        return [("Acme Notes", "Trained with acme.")]
"""


def test_model_card_hook_crash_skips_only_its_sections(fake_dists, tmp_path):
    from sentrix.testing.tiny_models import tiny_sentence_transformer

    fake_dists.add("acme-card", {"sentrix.plugins": {"acme-card": "acme_card_hooks"}}, {"acme_card_hooks": CARD_HOOKS})
    fake_dists.add("good-card", {"sentrix.plugins": {"good-card": "good_card_hooks"}}, {"good_card_hooks": GOOD_CARD_HOOKS})
    model = tiny_sentence_transformer(tmp_path / "tiny")
    with pytest.warns(RuntimeWarning, match=r"The sentrix_model_card_sections hook of plugin 'acme-card' failed and "
                                            r"was skipped: AttributeError: .* \[plugin from acme-card 1\.0\.0\]"):
        model.save(str(tmp_path / "saved"))
    card = (tmp_path / "saved" / "README.md").read_text(encoding="utf-8")
    assert "## Acme Notes" in card and "Trained with acme." in card
    assert "## Model Details" in card


# ------------------------------------------------------------------------------------------------
# name takeover
# ------------------------------------------------------------------------------------------------
THEIR_LOSS = """
    class TheirCoSENT:
        '''Not the built-in.'''
"""

TAKEOVER_HOOK = """
    from sentrix import hookimpl

    @hookimpl
    def sentrix_register_components(register):
        register("batch_samplers", "acme.sampler", "acme_takeover_mod:TheirCoSENT", aliases=("DefaultBatchSampler",))
"""


def test_third_party_cannot_take_over_a_built_in_name(fake_dists, capsys):
    fake_dists.add("acme-takeover", {"sentrix.losses": {"cosent": "acme_takeover_mod:TheirCoSENT",
                                                       "CoSENTLoss": "acme_takeover_mod:TheirCoSENT"},
                                     "sentrix.plugins": {"takeover": "acme_takeover_hooks"}},
                   {"acme_takeover_mod": THEIR_LOSS, "acme_takeover_hooks": TAKEOVER_HOOK}, version="0.5.0")
    import sentrix.losses

    with pytest.warns(RuntimeWarning) as caught:
        assert registry.losses.info("cosent").provider == "sentrix"
        assert registry.losses.get("cosent").__name__ == "CoSENTLoss"
        assert sentrix.losses.CoSENTLoss is registry.losses.get("cosent")
        assert registry.batch_samplers.get("DefaultBatchSampler").__name__ == "DefaultBatchSampler"
    messages = [str(w.message) for w in caught]
    assert ("Distribution acme-takeover 0.5.0 registers the loss name 'cosent', which is sentrix's built-in 'cosent'; "
            "the built-in is used. To use the component from 'acme-takeover', name it 'acme-takeover:cosent'.") in messages
    assert ("Distribution acme-takeover 0.5.0 registers the batch sampler name 'DefaultBatchSampler', which is sentrix's "
            "built-in 'batch_sampler'; the built-in is used. To use the component from 'acme-takeover', name it "
            "'acme-takeover:DefaultBatchSampler' or its own name 'acme.sampler'.") in messages
    # theirs stays reachable under its namespace (PEP 503 spellings included)
    assert registry.losses.get("acme-takeover:cosent").__name__ == "TheirCoSENT"
    assert registry.losses.get("acme_takeover:CoSENTLoss").__name__ == "TheirCoSENT"
    assert registry.batch_samplers.get("acme.sampler").__name__ == "TheirCoSENT"
    # each name warns once per process
    with _no_warning():
        registry.losses.get("cosent")
    assert main(["plugins", "list", "--kind", "losses"]) == 0
    out = capsys.readouterr().out
    assert ("acme-takeover 0.5.0 registers the loss name 'cosent', which is a built-in name: the built-in is used; "
            "name theirs 'acme-takeover:cosent'.") in out


class _no_warning:
    def __enter__(self):
        import warnings

        self._catch = warnings.catch_warnings(record=True)
        self._caught = self._catch.__enter__()
        warnings.simplefilter("always")

    def __exit__(self, *exc):
        self._catch.__exit__(*exc)
        assert not [w for w in self._caught if issubclass(w.category, RuntimeWarning)], [str(w.message) for w in self._caught]


def test_two_third_parties_with_one_name_are_both_reachable(fake_dists):
    fake_dists.add("acme-one", {"sentrix.evaluators": {"shared.eval": "collections:OrderedDict"}})
    fake_dists.add("acme-two", {"sentrix.plugins": {"two": "acme_two_hooks"}}, {"acme_two_hooks": """
        from sentrix import hookimpl

        @hookimpl
        def sentrix_register_components(register):
            register("evaluators", "shared.eval", "collections:Counter")
    """})
    with pytest.raises(ComponentCollisionError) as info:
        registry.evaluators.get("shared.eval")
    message = str(info.value)
    assert "acme-one 1.0.0 (collections:OrderedDict) and acme-two 1.0.0 (collections:Counter)" in message
    assert "pick one explicitly as 'acme-one:shared.eval' or 'acme-two:shared.eval'" in message
    from collections import Counter, OrderedDict

    assert registry.evaluators.get("acme-one:shared.eval") is OrderedDict
    assert registry.evaluators.get("acme-two:shared.eval") is Counter


# ------------------------------------------------------------------------------------------------
# training with the built-ins while a broken plugin of every kind and every hook is installed
# ------------------------------------------------------------------------------------------------
CRASHING_HOOKS = """
    from sentrix import hookimpl

    @hookimpl
    def sentrix_register_components(register):
        register("losses", "acme.crashing_loss", "collections:OrderedDict")
        raise RuntimeError("register crashed")

    @hookimpl
    def sentrix_validate_run(trainer):
        raise KeyError("validate crashed")

    @hookimpl
    def sentrix_adjust_trainer(trainer):
        raise ValueError("adjust crashed")

    @hookimpl
    def sentrix_model_card_sections(model):
        raise TypeError("card crashed")
"""


def test_training_with_built_ins_is_untouched_by_broken_plugins(fake_dists, tmp_path):
    from datasets import Dataset

    from sentrix import SentenceTransformerTrainer, SentenceTransformerTrainingArguments
    from sentrix.testing.tiny_models import tiny_sentence_transformer

    fake_dists.add("acme-all-broken", {f"sentrix.{kind}": {f"acme.{kind}": "acme_all_broken_mod:Thing"} for kind in registry.KINDS},
                   {"acme_all_broken_mod": "raise ImportError('libacme.so: cannot open shared object file')\n"})
    fake_dists.add("acme-crashing", {"sentrix.plugins": {"crashing": "acme_crashing_hooks"}}, {"acme_crashing_hooks": CRASHING_HOOKS})
    model = tiny_sentence_transformer(tmp_path / "tiny")
    pairs = Dataset.from_dict({"sentence1": ["a cat sat", "dogs run", "red car", "kids play"] * 2,
                               "sentence2": ["a cat sits", "a dog runs", "blue bus", "children play"] * 2,
                               "score": [0.9, 0.8, 0.1, 0.85] * 2})
    args = SentenceTransformerTrainingArguments(
        output_dir=str(tmp_path / "out"), per_device_train_batch_size=4, max_steps=2, report_to="none", use_cpu=True,
        disable_tqdm=True, save_strategy="no", seed=7,
    )
    with pytest.warns(RuntimeWarning) as caught:
        trainer = SentenceTransformerTrainer(model=model, args=args, train_dataset=pairs, loss="cosent")
        trainer.train()
        trainer.save_model()
    assert trainer.state.global_step == 2
    assert type(trainer.get_train_dataloader().batch_sampler).__name__ == "DefaultBatchSampler"
    messages = "\n".join(str(w.message) for w in caught)
    for hook, error in [("sentrix_validate_run", "KeyError: 'validate crashed'"), ("sentrix_adjust_trainer", "ValueError: adjust crashed"),
                        ("sentrix_model_card_sections", "TypeError: card crashed")]:
        assert f"The {hook} hook of plugin 'crashing' failed and was skipped: {error} [plugin from acme-crashing 1.0.0]" in messages
    assert "## Model Details" in (tmp_path / "out" / "README.md").read_text(encoding="utf-8")
    with pytest.raises(ComponentLoadError, match="acme-all-broken 1.0.0 .*libacme.so"):
        SentenceTransformerTrainer(model=model, args=args, train_dataset=pairs, loss="acme.losses")
    with pytest.raises(ComponentUnavailableError, match=r"^Loss 'acme.crashing_loss' is unavailable because plugin 'crashing' "
                                                       r"\(acme-crashing 1\.0\.0\) failed to load: RuntimeError: register crashed\n"):
        SentenceTransformerTrainer(model=model, args=args, train_dataset=pairs, loss="acme.crashing_loss")


WRAPPER_AND_BAD_ENTRY = """
    from sentrix import hookimpl

    @hookimpl(wrapper=True)
    def sentrix_validate_run(trainer):
        raise RuntimeError("a wrapper that fails before it yields")
        yield

    @hookimpl
    def sentrix_adjust_trainer(trainer):
        trainer.seen.append("adjusted")
"""


def test_wrappers_and_malformed_entry_points_lose_only_themselves(fake_dists):
    fake_dists.add("acme-odd", {"sentrix.plugins": {"odd": "acme_odd_hooks"},
                                "sentrix.losses": {"acme.malformed": "not a module path", "acme.fine": "collections:OrderedDict"}},
                   {"acme_odd_hooks": WRAPPER_AND_BAD_ENTRY})
    from collections import OrderedDict

    assert registry.losses.get("acme.fine") is OrderedDict
    with pytest.raises(ComponentUnavailableError, match=r"Loss 'acme.malformed' is unavailable because plugin 'acme-odd' "
                                                       r".*is not of the form 'package.module:Attribute'"):
        registry.losses.get("acme.malformed")
    assert _run_plugin_checks() == ["adjusted"]  # the wrapper was refused; its other hook runs
    assert any("implements 'sentrix_validate_run' as a wrapper" in p.error for p in registry.broken_plugins())


def test_in_process_hook_plugin_cannot_take_over_a_built_in_either(capsys):
    from sentrix import hookimpl
    from sentrix.hooks import register_hook_plugin, unregister_hook_plugin

    class Notebook:
        @hookimpl
        def sentrix_register_components(self, register):
            register("multi_dataset_batch_samplers", "proportional", "collections:OrderedDict")

    registry.refresh()  # each name warns once per process, until a refresh
    plugin = Notebook()
    register_hook_plugin(plugin, name="notebook")
    try:
        with pytest.warns(RuntimeWarning, match=r"Distribution <in-process> registers the multi-dataset batch sampler name "
                                                r"'proportional', which is sentrix's built-in 'proportional'"):
            assert registry.multi_dataset_batch_samplers.info("proportional").provider == "sentrix"
        from collections import OrderedDict

        assert registry.multi_dataset_batch_samplers.get("<in-process>:proportional") is OrderedDict
        assert main(["plugins", "show", "proportional", "--kind", "multi_dataset_batch_samplers"]) == 0
        assert "provider: sentrix " in capsys.readouterr().out
    finally:
        unregister_hook_plugin(plugin)
