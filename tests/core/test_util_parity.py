"""``sentrix.util`` against ``sentence_transformers.util`` 6.2 (the oracle), function by function.

Each test calls the sentence-transformers helper and the sentrix one on the same inputs and
compares results, raised errors and logged warnings. Nothing here touches the network: Hub calls
are monkeypatched on both sides, HTTP streams are faked. The two-process test runs this pytest
process as rank 0 of a gloo group and one spawned Python process as rank 1.
"""

from __future__ import annotations

import collections
import csv
import functools
import logging
import os
import posixpath
import subprocess
import sys
import textwrap
import types
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import pytest
import sentence_transformers.util as st_util
import torch
from sentence_transformers.util import distributed as st_distributed
from sentence_transformers.util import environment as st_environment
from sentence_transformers.util import file_io as st_file_io
from sentence_transformers.util import logging as st_logging
from sentence_transformers.util import misc as st_misc
from sentence_transformers.util import retrieval as st_retrieval
from sentence_transformers.util import tensor as st_tensor

import sentrix.util as sx_util
from sentrix.util import distributed as sx_distributed
from sentrix.util import environment as sx_environment
from sentrix.util import file_io as sx_file_io
from sentrix.util import logging as sx_logging
from sentrix.util import misc as sx_misc
from sentrix.util import search as sx_search
from sentrix.util import tensor as sx_tensor

pytestmark = pytest.mark.oracle

#: names of ``sentence_transformers.util.__all__`` that sentrix.util does not serve (see the report
#: to the compat table): multi-vector and sparse helpers, private converters, one dataset helper and
#: one internal decorator.
NOT_PROVIDED = {
    "maxsim", "maxsim_pairwise", "mean_maxsim", "mean_maxsim_pairwise", "stack_padded_token_embeddings",
    "cat_padded_token_embeddings", "repad_flattened_features",
    "to_scipy_coo", "select_max_active_dims", "compute_count_vector",
    "_convert_to_batch", "_convert_to_batch_tensor", "_convert_to_tensor", "_move_tensors_to_cpu",
    "resolve_ids", "save_to_hub_args_decorator",
}


def test_util_all_covers_sentence_transformers_util():
    missing = set(st_util.__all__) - set(sx_util.__all__)
    assert missing == NOT_PROVIDED
    for name in sx_util.__all__:
        assert hasattr(sx_util, name), name
    for module in (sx_distributed, sx_environment, sx_file_io, sx_misc, sx_tensor):
        for name in module.__all__:
            assert hasattr(module, name), (module.__name__, name)


def _raised(fn, *args, **kwargs):
    """(result, None) or (None, exception) of a call."""
    try:
        return fn(*args, **kwargs), None
    except Exception as exc:  # noqa: BLE001 - the test compares what was raised
        return None, exc


def _same_error(ours, theirs) -> bool:
    """Both calls raised nothing, or ours raised the same type (sentrix's own error subclasses allowed)."""
    if theirs is None or ours is None:
        return ours is None and theirs is None
    return isinstance(ours, type(theirs))


# ------------------------------------------------------------------------------------------------
# distributed
# ------------------------------------------------------------------------------------------------


def test_distributed_single_process_matches():
    assert sx_util.is_dist_initialized() is st_util.is_dist_initialized() is False
    assert sx_util.get_rank() == st_util.get_rank() == 0
    assert sx_util.get_world_size() == st_util.get_world_size() == 1
    t = torch.randn(3, 4, dtype=torch.float64, requires_grad=True)
    mask = torch.ones(3, 4, dtype=torch.bool)
    for with_grad in (False, True):
        assert sx_util.all_gather(t, with_grad=with_grad) is t
        assert st_util.all_gather(t, with_grad=with_grad) is t
    assert sx_util.all_gather_with_grad(t) is t and st_util.all_gather_with_grad(t) is t
    tokens, token_mask = torch.randn(2, 3, 4, dtype=torch.float64), mask[:2, :3]
    for with_grad in (False, True):
        ours = sx_util.all_gather_padded(tokens, token_mask, with_grad=with_grad)
        theirs = st_util.all_gather_padded(tokens, token_mask, with_grad=with_grad)
        assert ours[0] is theirs[0] is tokens and ours[1] is theirs[1] is token_mask


_RANK1_SCRIPT = textwrap.dedent(
    """
    import importlib.util, sys, types
    from datetime import timedelta
    import torch
    import torch.distributed as dist
    # sentence-transformers' util submodules, without running the package __init__ (which loads
    # every model family and would cost this child process a long import)
    root = importlib.util.find_spec("sentence_transformers").submodule_search_locations[0]
    for name, path in (("sentence_transformers", root), ("sentence_transformers.util", root + "/util")):
        stub = types.ModuleType(name)
        stub.__path__ = [path]
        sys.modules[name] = stub
    import sentence_transformers.util.distributed as st_distributed
    import sentrix.util.distributed as sx_distributed
    import torch.distributed.nn  # the full sentence-transformers import loads it; its with_grad path needs it
    sys.path.insert(0, sys.argv[2])
    from _util_gloo_steps import run_steps
    dist.init_process_group("gloo", init_method="file://" + sys.argv[1], rank=1, world_size=2,
                            timeout=timedelta(seconds=90))
    try:
        run_steps(st_distributed, sx_distributed, rank=1)
    finally:
        dist.destroy_process_group()
    """
)

_STEPS = textwrap.dedent(
    '''
    """The collectives both ranks run, in the same order; each compares ST's result with sentrix's."""
    import torch
    import torch.distributed as dist


    def _inputs(rank):
        g = torch.Generator().manual_seed(100 + rank)
        x = torch.randn(3, 4, generator=g, dtype=torch.float64)
        weights = torch.randn(6, 4, generator=g, dtype=torch.float64)
        tokens = torch.randn(2, 3 + 2 * rank, 4, generator=g, dtype=torch.float64)
        mask = torch.ones(2, 3 + 2 * rank, dtype=torch.bool)
        mask[0, -1] = False
        token_weights = torch.randn(4, 5, 4, generator=g, dtype=torch.float64)
        return x, weights, tokens, mask, token_weights


    def _check(a, b, what):
        torch.testing.assert_close(a, b, rtol=1e-9, atol=0, msg=lambda m: what + ": " + m)


    def run_steps(st, sx, rank):
        x, weights, tokens, mask, token_weights = _inputs(rank)
        assert st.get_rank() == sx.get_rank() == rank
        assert st.get_world_size() == sx.get_world_size() == 2
        for with_grad in (False, True):
            results = []
            for impl in (st, sx):
                leaf = x.clone().requires_grad_(True)
                gathered = impl.all_gather(leaf, with_grad=with_grad)
                (gathered * weights).sum().backward()
                results.append((gathered.detach(), leaf.grad))
            _check(results[1][0], results[0][0], f"all_gather(with_grad={with_grad}) values")
            _check(results[1][1], results[0][1], f"all_gather(with_grad={with_grad}) grad")
        results = []
        for impl in (st, sx):
            leaf = x.clone().requires_grad_(True)
            gathered = impl.all_gather_with_grad(leaf)
            (gathered * weights).sum().backward()
            results.append((gathered.detach(), leaf.grad))
        _check(results[1][0], results[0][0], "all_gather_with_grad values")
        _check(results[1][1], results[0][1], "all_gather_with_grad grad")
        for with_grad in (False, True):
            results = []
            for impl in (st, sx):
                leaf = tokens.clone().requires_grad_(True)
                gathered, gathered_mask = impl.all_gather_padded(leaf, mask, with_grad=with_grad)
                (gathered * token_weights).sum().backward()
                results.append((gathered.detach(), gathered_mask, leaf.grad))
            assert results[1][0].shape == (4, 5, 4), results[1][0].shape
            _check(results[1][0], results[0][0], f"all_gather_padded(with_grad={with_grad}) values")
            assert torch.equal(results[1][1], results[0][1]), "all_gather_padded mask"
            _check(results[1][2], results[0][2], f"all_gather_padded(with_grad={with_grad}) grad")
        dist.barrier()
    '''
)


def test_distributed_two_process_gloo_matches(tmp_path):
    """Rank 0 is this process, rank 1 a child; both compare ST's gathers with sentrix's (values and grads)."""
    import torch.distributed as dist

    if not dist.is_available() or not dist.is_gloo_available():
        pytest.fail("torch.distributed with gloo is needed for this test")
    (tmp_path / "_util_gloo_steps.py").write_text(_STEPS)
    store = tmp_path / "store"
    env = dict(os.environ, OMP_NUM_THREADS="1")
    child = subprocess.Popen(
        [sys.executable, "-c", _RANK1_SCRIPT, str(store), str(tmp_path)],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    sys.path.insert(0, str(tmp_path))
    problem = None
    try:
        from _util_gloo_steps import run_steps

        dist.init_process_group("gloo", init_method=f"file://{store}", rank=0, world_size=2,
                                timeout=timedelta(seconds=90))
        try:
            run_steps(st_distributed, sx_distributed, rank=0)
        finally:
            dist.destroy_process_group()
    except Exception as exc:  # noqa: BLE001 - reported together with rank 1's output below
        problem = exc
    finally:
        sys.path.remove(str(tmp_path))
        sys.modules.pop("_util_gloo_steps", None)
        try:
            output, _ = child.communicate(timeout=120)
        except subprocess.TimeoutExpired:
            child.kill()
            output, _ = child.communicate()
    assert problem is None and child.returncode == 0, f"rank 0: {problem!r}\n--- rank 1 output ---\n{output}"
    assert not dist.is_initialized()


# ------------------------------------------------------------------------------------------------
# environment
# ------------------------------------------------------------------------------------------------


def test_get_device_name_matches(monkeypatch):
    assert sx_util.get_device_name() == st_util.get_device_name()
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setenv("LOCAL_RANK", "3")
    assert sx_util.get_device_name() == st_util.get_device_name() == "cuda:3"
    monkeypatch.delenv("LOCAL_RANK")
    assert sx_util.get_device_name() == st_util.get_device_name() == "cuda:0"
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: True)
    assert sx_util.get_device_name() == st_util.get_device_name() == "mps"


@pytest.mark.parametrize(
    "package, owner",
    [("datasets", "huggingface"), ("accelerate", "huggingface"), ("datasets", "someone-else"),
     ("no-such-package-xyz", "huggingface"), ("torch", "pytorch"), ("numpy", "numpy")],
)
def test_check_package_availability_matches(package, owner):
    assert sx_util.check_package_availability(package, owner) == st_util.check_package_availability(package, owner)


def test_training_availability_matches():
    assert sx_util.is_accelerate_available() == st_util.is_accelerate_available()
    assert sx_util.is_datasets_available() == st_util.is_datasets_available()
    assert sx_util.is_training_available() == st_util.is_training_available()


@pytest.mark.parametrize("package", ["python", "torch", "numpy", "huggingface-hub", "packaging", "no-such-package-xyz"])
def test_get_installed_version_matches(package):
    assert sx_util.get_installed_version(package) == st_environment.get_installed_version(package)


_REQUIREMENTS = [
    None,
    {},
    "transformers>=4",
    {"torch": ">=1.0"},
    {"torch": "<1.0"},
    {"pytorch": "<1.0", "numpy": ">=1.0"},
    {"python": "<3"},
    {"no-such-package-xyz": ">=1"},
    {"numpy": {"specifier": "<1", "reason": "It needs the old numpy API."}},
    {"numpy": {"reason": "no specifier given"}},
    {"numpy": 3},
    {"numpy": ">=not-a-version"},
    {"torch": "<1.0", "python": "<3", "numpy": ">=1.0", "transformers": "==0.0.1"},
]


@pytest.mark.parametrize("requirements", _REQUIREMENTS)
@pytest.mark.parametrize("source", [None, "org/model"])
def test_check_version_requirements_matches(requirements, source, caplog):
    caplog.set_level(logging.WARNING)
    theirs = _raised(st_util.check_version_requirements, requirements, source)
    st_warnings = [r.getMessage() for r in caplog.records]
    caplog.clear()
    ours = _raised(sx_util.check_version_requirements, requirements, source=source)
    sx_warnings = [r.getMessage() for r in caplog.records]
    assert ours[0] is theirs[0] is None
    assert _same_error(ours[1], theirs[1]), (ours[1], theirs[1])
    assert str(ours[1]) == str(theirs[1])
    assert sx_warnings == st_warnings


@pytest.mark.parametrize(
    "error",
    [
        ImportError("No module named 'PIL'"),
        AttributeError("module 'torchvision.io' has no attribute 'read_video'"),
        ImportError("torchvision is required"),
        ImportError("No module named 'torchcodec'"),
        ImportError("soundfile is missing"),
        ImportError("No module named 'foo'"),
        AttributeError("'Foo' object has no attribute 'bar'"),
        ValueError("pillow"),
    ],
)
def test_suggest_extra_on_exception_matches(error):
    outcomes = []
    for impl in (st_environment, sx_environment):
        try:
            with impl.suggest_extra_on_exception():
                raise error
        except Exception as exc:  # noqa: BLE001
            outcomes.append(exc)
    theirs, ours = outcomes
    assert type(ours) is type(theirs)
    assert (ours is error) == (theirs is error)
    if ours is not error:  # an install hint was added: same original text, a pip command after it
        assert str(ours).startswith(str(error).strip() + "\n\nTo install the required dependencies, run:\npip install")
        assert ours.__cause__ is error


# ------------------------------------------------------------------------------------------------
# misc
# ------------------------------------------------------------------------------------------------


class _Outer:
    class Inner:
        pass


@pytest.mark.parametrize(
    "obj",
    [3, "x", int, dict(), _Outer, _Outer.Inner(), torch.nn.Linear(1, 1), functools.partial(print), logging.Logger],
)
def test_fullname_matches(obj):
    assert sx_util.fullname(obj) == st_util.fullname(obj)


class _Metric:
    def __call__(self, a, b):
        return a

    def get_config_dict(self):
        return {"p": 2, "name": "l2"}


class _FakeModel:
    similarity_fn_name = "dot"

    def similarity(self, a, b):
        return a

    def similarity_pairwise(self, a, b):
        return a


def test_similarity_fct_name_matches():
    for st_fn, sx_fn in [
        (st_util.cos_sim, sx_util.cos_sim),
        (st_util.pairwise_angle_sim, sx_util.pairwise_angle_sim),
        (functools.partial(st_util.cos_sim), functools.partial(sx_util.cos_sim)),
        (functools.partial(st_util.manhattan_sim, b=1.5), functools.partial(sx_util.manhattan_sim, b=1.5)),
    ]:
        assert sx_util.similarity_fct_name(sx_fn) == st_util.similarity_fct_name(st_fn)
    model = _FakeModel()
    for fn in (model.similarity, model.similarity_pairwise, _Metric(), lambda a, b: a, torch.nn.CosineSimilarity()):
        assert sx_util.similarity_fct_name(fn) == st_util.similarity_fct_name(fn)


def test_check_teacher_targets_matches(caplog):
    caplog.set_level(logging.WARNING)
    nan_logits = torch.tensor([[1.0, float("nan")]])
    for impl in (st_misc, sx_misc):
        with pytest.raises(ValueError, match="NaN"):
            impl.check_teacher_targets(torch.softmax(nan_logits, -1), nan_logits, 1.0, "DistillKLDivLoss")
    for logits in (torch.tensor([[1.0, 2.0], [0.5, -0.5]]), torch.tensor([[0.0, float("-inf")], [0.0, 500.0]])):
        for impl in (st_misc, sx_misc):
            impl.check_teacher_targets(torch.softmax(logits, -1), logits, 1.0, "L")
        assert caplog.records == []
    logits = torch.tensor([[0.0, 200.0, 1.0], [0.0, 0.5, 1.0]], dtype=torch.float64)
    probs = torch.softmax(logits.float() / 1.5, -1)
    messages = []
    for impl in (st_misc, sx_misc):
        caplog.clear()
        impl.check_teacher_targets(probs, logits, 1.5, "DistillKLDivLoss")
        assert len(caplog.records) == 1
        messages.append(caplog.records[0].getMessage())
    zeros = int((probs == 0).sum())
    assert zeros == 2
    for message in messages:
        assert message.startswith("DistillKLDivLoss:")
        assert f"{zeros} of 6" in message and "teacher_temperature above 2" in message and "spans 200.0" in message


@pytest.mark.parametrize(
    "path",
    ["collections.OrderedDict", "json.decoder.JSONDecodeError", "os.path", "os.path.join", "nodots",
     "collections.NoSuchThing", "no_such_pkg_xyz.Thing", "torch.nn.Linear"],
)
def test_import_from_string_matches(path):
    theirs, ours = _raised(st_util.import_from_string, path), _raised(sx_util.import_from_string, path)
    assert ours[0] is theirs[0]
    assert _same_error(ours[1], theirs[1]), (ours[1], theirs[1])


def test_import_module_class_matches(tmp_path, monkeypatch):
    import transformers.dynamic_module_utils as dmu

    assert sx_util.import_module_class("collections.OrderedDict") is st_util.import_module_class("collections.OrderedDict")
    for ref in ("sentence_transformers.models.Pooling", "sentence_transformers.sentence_transformer.modules.pooling.Pooling"):
        assert sx_util.import_module_class(ref).__name__ == st_util.import_module_class(ref).__name__ == "Pooling"
        assert sx_util.import_module_class(ref).__module__.startswith("sentrix")
    for folder in (str(tmp_path), "org/remote-model"):
        for impl in (st_util, sx_util):
            with pytest.raises(ValueError, match="trust_remote_code=True"):
                impl.import_module_class("modeling_custom.CustomModule", folder)
            with pytest.raises(ValueError, match="trust_remote_code=True"):
                impl.import_module_class("modeling_custom.CustomModule", folder, trust_remote_code=None)

    class Custom:
        pass

    calls = []

    def fake_dynamic(class_ref, model_name_or_path, **kwargs):
        calls.append((class_ref, model_name_or_path, kwargs))
        if class_ref == "modeling_custom.Custom":
            return Custom
        raise OSError("no such file")

    monkeypatch.setattr(dmu, "get_class_from_dynamic_module", fake_dynamic)
    kwargs = dict(trust_remote_code=True, revision="r1", code_revision="c1", token="tok", cache_folder="/c",
                  local_files_only=True)
    for impl in (st_util, sx_util):
        assert impl.import_module_class("modeling_custom.Custom", str(tmp_path), **kwargs) is Custom
        assert impl.import_module_class("collections.OrderedDict", str(tmp_path), **kwargs) is collections.OrderedDict
    assert len(calls) == 4 and calls[:2] == calls[2:]


def test_disable_datasets_caching_matches():
    import datasets

    assert datasets.is_caching_enabled()
    for impl in (st_misc, sx_misc):
        with impl.disable_datasets_caching():
            assert not datasets.is_caching_enabled()
        assert datasets.is_caching_enabled()
        datasets.disable_caching()
        try:
            with impl.disable_datasets_caching():
                assert not datasets.is_caching_enabled()
            assert not datasets.is_caching_enabled()
        finally:
            datasets.enable_caching()


def test_disable_logging_matches():
    before = logging.root.manager.disable
    for level in (logging.CRITICAL, logging.INFO):
        seen = []
        for impl in (st_misc, sx_misc):
            with impl.disable_logging(level):
                seen.append(logging.root.manager.disable)
            assert logging.root.manager.disable == before
        assert seen[0] == seen[1] == level
    with sx_util.disable_logging():
        assert logging.root.manager.disable == logging.CRITICAL


@pytest.mark.parametrize(
    "rows", [[], [["a", "b"]], [["a", "b"], ["1", "2"]], [["a", "b"], ["1", "2"], ["3", "x,y"]]]
)
def test_append_to_last_row_matches(rows, tmp_path):
    contents = []
    for impl in (st_misc, sx_misc):
        path = tmp_path / f"{impl.__name__}.csv"
        with open(path, "w", newline="", encoding="utf-8") as handle:
            csv.writer(handle).writerows(rows)
        returned = impl.append_to_last_row(str(path), [0.5, "extra"])
        contents.append((returned, path.read_text(encoding="utf-8")))
    assert contents[0] == contents[1]


def test_original_transformer_models_match():
    assert len(set(sx_util.ORIGINAL_TRANSFORMER_MODELS)) == len(sx_util.ORIGINAL_TRANSFORMER_MODELS)
    assert sorted(sx_util.ORIGINAL_TRANSFORMER_MODELS) == sorted(st_util.ORIGINAL_TRANSFORMER_MODELS)


def test_deprecated_kwargs_matches():
    from sentence_transformers.util.decorators import deprecated_kwargs as st_deprecated_kwargs

    results = []
    for decorator in (st_deprecated_kwargs, sx_misc.deprecated_kwargs):

        @decorator(old_dim="dim", old_name="name")
        def build(dim: int = 1, name: str = "n", **rest):
            return dim, name, rest

        results.append([build(), build(old_dim=4), build(old_dim=4, dim=5), build(3, old_name="m", other=1)])
        assert build.__name__ == "build"
    assert results[0] == results[1]


def test_default_label_columns_match():
    from sentence_transformers.util.dataset import DEFAULT_LABEL_COLUMNS

    assert sx_misc.DEFAULT_LABEL_COLUMNS == DEFAULT_LABEL_COLUMNS


# ------------------------------------------------------------------------------------------------
# file_io
# ------------------------------------------------------------------------------------------------


def test_disabled_tqdm_matches():
    for cls in (st_util.disabled_tqdm, sx_util.disabled_tqdm):
        bar = cls(range(3), disable=False)
        assert bar.disable is True
        assert list(bar) == [0, 1, 2]
        del bar._lock  # a disabled bar never had one: no error
        with pytest.raises(AttributeError):
            del bar.no_such_attribute
        bar.close()


@pytest.fixture
def model_dir(tmp_path):
    folder = tmp_path / "model"
    (folder / "1_Pooling").mkdir(parents=True)
    (folder / "modules.json").write_text("[]")
    (folder / "1_Pooling" / "config.json").write_text("{}")
    (folder / "empty").mkdir()
    return folder


@pytest.mark.parametrize(
    "filename, subfolder",
    [("modules.json", ""), ("config.json", "1_Pooling"), ("missing.json", ""), ("config.json", "nope"),
     (Path("1_Pooling/config.json"), ""), ("/etc/passwd", ""), ("../x.json", ""), ("x.json", "../up"),
     ("C:\\x.json", ""), ("a\\..\\..\\x", ""), (3, "")],
)
def test_load_file_path_local_matches(model_dir, filename, subfolder):
    theirs = _raised(st_util.load_file_path, str(model_dir), filename, subfolder)
    ours = _raised(sx_util.load_file_path, str(model_dir), filename, subfolder)
    assert ours[0] == theirs[0]
    assert _same_error(ours[1], theirs[1]), (ours[1], theirs[1])


@pytest.mark.parametrize("subfolder", ["1_Pooling", "", ".", "nope", Path("1_Pooling"), "../up", "/abs"])
def test_load_dir_path_local_matches(model_dir, subfolder):
    theirs = _raised(st_util.load_dir_path, str(model_dir), subfolder)
    ours = _raised(sx_util.load_dir_path, str(model_dir), subfolder)
    assert ours[0] == theirs[0]
    assert _same_error(ours[1], theirs[1]), (ours[1], theirs[1])


def test_is_sentence_transformer_model_local_matches(model_dir):
    for folder in (model_dir, model_dir / "empty"):
        assert sx_util.is_sentence_transformer_model(str(folder)) == st_util.is_sentence_transformer_model(str(folder))
    # neither a folder nor a valid Hub id: "not found", without any network call
    for name in ("not//a valid id", "/no/such/folder"):
        assert sx_util.is_sentence_transformer_model(name) is st_util.is_sentence_transformer_model(name) is False


@contextmanager
def _fake_hub_download(monkeypatch, behaviour):
    """Patch hf_hub_download for both libraries; yields the list of (normalised path, kwargs) calls."""
    import huggingface_hub

    calls = []

    def fake(repo_id, filename, subfolder=None, **kwargs):
        path = posixpath.normpath(posixpath.join(subfolder or "", filename))
        calls.append((repo_id, path, {k: kwargs.get(k) for k in ("revision", "token", "cache_dir", "local_files_only")}))
        return behaviour(path)

    monkeypatch.setattr(st_file_io, "hf_hub_download", fake)
    monkeypatch.setattr(huggingface_hub, "hf_hub_download", fake)
    yield calls


def test_load_file_path_hub_matches(monkeypatch):
    from huggingface_hub.errors import EntryNotFoundError, LocalEntryNotFoundError

    def behaviour(path):
        if path == "modules.json" or path == "1_Pooling/config.json":
            return "/cache/" + path
        if path.startswith("offline"):
            raise LocalEntryNotFoundError("not cached")
        if path == "rate.json":
            raise RuntimeError("429 rate limited")
        raise EntryNotFoundError("no such file")

    with _fake_hub_download(monkeypatch, behaviour) as calls:
        hub_kwargs = dict(token="tok", cache_folder="/c", revision="main", local_files_only=False)
        for filename, subfolder in [("modules.json", ""), ("config.json", "1_Pooling"), ("missing.json", ""),
                                    ("offline.json", ""), ("rate.json", "")]:
            theirs = _raised(st_util.load_file_path, "org/model", filename, subfolder, **hub_kwargs)
            ours = _raised(sx_util.load_file_path, "org/model", filename, subfolder, **hub_kwargs)
            assert ours[0] == theirs[0]
            assert _same_error(ours[1], theirs[1]), (ours[1], theirs[1])
        for impl in (st_util, sx_util):
            assert impl.is_sentence_transformer_model("org/model", token="tok") is True
        assert len(calls) == 12 and calls[0::2] == calls[1::2]


@contextmanager
def _fake_snapshot(monkeypatch, behaviour):
    import huggingface_hub

    calls = []

    def fake(**kwargs):
        calls.append({k: v for k, v in kwargs.items() if k not in ("library_name", "tqdm_class")})
        assert kwargs["tqdm_class"](range(1)).disable is True
        return behaviour(len(calls), kwargs)

    monkeypatch.setattr(st_file_io, "snapshot_download", fake)
    monkeypatch.setattr(huggingface_hub, "snapshot_download", fake)
    yield calls


def test_load_dir_path_hub_matches(monkeypatch, model_dir):
    from huggingface_hub.errors import HFValidationError, IncompleteSnapshotError, LocalEntryNotFoundError

    root = str(model_dir)

    def scenario(name):
        def behaviour(call_number, kwargs):
            online = not kwargs["local_files_only"]
            if name == "ok":
                return root
            if name == "invalid":
                raise HFValidationError("bad id")
            if name == "not cached":
                raise LocalEntryNotFoundError("not cached")
            if name == "incomplete":
                raise IncompleteSnapshotError("partial", snapshot_path=root)
            if name in ("flaky, cached", "flaky, not cached", "flaky, cache lacks it"):
                if online:
                    raise RuntimeError("503 unavailable")
                if name == "flaky, not cached":
                    raise LocalEntryNotFoundError("not cached")
                return root if name == "flaky, cached" else str(model_dir / "empty")
            if name == "stale cache":
                return str(model_dir / "empty")
            raise AssertionError(name)

        return behaviour

    for name in ("ok", "invalid", "not cached", "incomplete", "flaky, cached", "flaky, not cached",
                 "flaky, cache lacks it", "stale cache"):
        for subfolder in ("1_Pooling", ""):
            outcomes = []
            for impl in (st_util, sx_util):
                with _fake_snapshot(monkeypatch, scenario(name)) as calls:
                    result = _raised(impl.load_dir_path, "org/model", subfolder, token="t", cache_folder="/c",
                                     revision="v1")
                outcomes.append((result[0], type(result[1]), str(result[1]) if result[1] else None, calls))
            (st_result, st_type, st_message, st_calls), (sx_result, sx_type, sx_message, sx_calls) = outcomes
            assert (sx_result, sx_type) == (st_result, st_type), (name, subfolder)
            assert st_calls and sx_calls == st_calls, (name, subfolder)
            if st_type is RuntimeError:
                assert sx_message == st_message


class _FakeResponse:
    def __init__(self, chunks, status=200, length=True, fail_after=None):
        self.chunks = chunks
        self.status = status
        self.headers = {"Content-Length": str(sum(map(len, chunks)))} if length else {}
        self.fail_after = fail_after

    def raise_for_status(self):
        if self.status >= 400:
            raise RuntimeError(f"HTTP {self.status}")

    def iter_bytes(self, chunk_size=1024):
        for i, chunk in enumerate(self.chunks):
            if self.fail_after is not None and i == self.fail_after:
                raise ConnectionError("connection reset")
            yield chunk


@pytest.mark.parametrize(
    "response",
    [dict(chunks=[b"abc", b"", b"def" * 500]), dict(chunks=[b"x"], length=False), dict(chunks=[], status=404),
     dict(chunks=[b"abc", b"def"], fail_after=1)],
)
def test_http_get_matches(response, monkeypatch, tmp_path):
    from huggingface_hub.utils import httpx

    requests = []

    @contextmanager
    def fake_stream(method, url, **kwargs):
        requests.append((method, url, kwargs))
        yield _FakeResponse(**response)

    monkeypatch.setattr(httpx, "stream", fake_stream)
    outcomes = []
    for impl in (st_file_io, sx_file_io):
        target = tmp_path / impl.__name__ / "deep" / "file.bin"
        _, error = _raised(impl.http_get, "https://example.invalid/file.bin", str(target))
        files = sorted(p.name for p in target.parent.iterdir()) if target.parent.exists() else None
        outcomes.append((type(error), files, target.read_bytes() if target.exists() else None))
    assert outcomes[0] == outcomes[1]
    assert requests[0] == requests[1] == ("GET", "https://example.invalid/file.bin", {"follow_redirects": True})


# ------------------------------------------------------------------------------------------------
# logging, tensor, search
# ------------------------------------------------------------------------------------------------


def test_install_logger_matches_with_coloredlogs(monkeypatch):
    calls = []
    fake = types.ModuleType("coloredlogs")
    fake.DEFAULT_FIELD_STYLES = {"asctime": {"color": "green"}, "levelname": {"bold": True}}
    fake.DEFAULT_LEVEL_STYLES = {"debug": {"color": "green"}, "info": {}, "warning": {"color": "yellow"}}
    fake.install = lambda **kwargs: calls.append(dict(kwargs, logger=kwargs["logger"].name))
    monkeypatch.setitem(sys.modules, "coloredlogs", fake)
    monkeypatch.setattr(logging.Logger, "notice", getattr(logging.Logger, "notice", None), raising=False)
    for level, fmt in ((logging.WARNING, "%(levelname)s:%(name)s:%(message)s"), (logging.DEBUG, "%(message)s")):
        st_logging.install_logger(logging.getLogger("util-parity"), level, fmt)
        sx_logging.install_logger(logging.getLogger("util-parity"), level=level, fmt=fmt)
    st_logging.install_logger(logging.getLogger("util-parity"))
    sx_logging.install_logger(logging.getLogger("util-parity"))
    assert calls[0::2] == calls[1::2]
    assert logging.getLevelName(25) == "NOTICE"
    assert callable(logging.Logger.notice)


def test_install_logger_without_coloredlogs(monkeypatch, capsys):
    """sentence-transformers needs ``coloredlogs`` here; sentrix falls back to a plain handler."""
    monkeypatch.setitem(sys.modules, "coloredlogs", None)  # import fails
    monkeypatch.setattr(logging.Logger, "notice", getattr(logging.Logger, "notice", None), raising=False)
    with pytest.raises(ImportError):
        st_logging.install_logger(logging.getLogger("util-parity-st"))
    log = logging.getLogger("util-parity-plain")
    log.propagate = False
    try:
        sx_util.install_logger(log, level=25, fmt="[%(levelname)s] %(message)s")
        sx_util.install_logger(log, level=25, fmt="[%(levelname)s] %(message)s")
        assert len(log.handlers) == 1
        log.info("hidden")
        log.notice("shown")
        assert capsys.readouterr().err == "[NOTICE] shown\n"
    finally:
        log.handlers.clear()
        log.propagate = True


def test_normalize_embeddings_matches():
    g = torch.Generator().manual_seed(0)
    for x in (torch.randn(5, 7, generator=g, dtype=torch.float64), torch.randn(7, generator=g, dtype=torch.float64),
              torch.zeros(2, 3, dtype=torch.float64)):
        torch.testing.assert_close(sx_tensor.normalize_embeddings(x), st_tensor.normalize_embeddings(x), rtol=1e-9, atol=0)
    assert sx_util.normalize_embeddings is sx_tensor.normalize_embeddings


def test_information_retrieval_matches():
    g = torch.Generator().manual_seed(1)
    queries = torch.randn(4, 8, generator=g, dtype=torch.float64)
    corpus = torch.randn(30, 8, generator=g, dtype=torch.float64)
    for kwargs in ({}, {"top_k": 3, "query_chunk_size": 3, "corpus_chunk_size": 7}, {"score_function": sx_util.dot_score}):
        theirs = st_retrieval.information_retrieval(queries, corpus, **kwargs)
        ours = sx_search.information_retrieval(queries, corpus, **kwargs)
        assert [[h["corpus_id"] for h in row] for row in ours] == [[h["corpus_id"] for h in row] for row in theirs]
        for row_ours, row_theirs in zip(ours, theirs):
            for a, b in zip(row_ours, row_theirs):
                assert a["score"] == pytest.approx(b["score"], rel=1e-9)
    assert sx_util.information_retrieval is sx_search.information_retrieval
