"""kill -9 at any moment, resume in a new process, get bitwise the same model as an uninterrupted run.

Each trial runs ``kill_resume_worker.run`` in a child process, kills it (SIGKILL) at a chosen point
(inside a checkpoint write, inside rotation, after the last checkpoint, during the final save) or
after a random delay, and starts it again, resuming from the output folder, until it finishes. The
final model, the loss's own parameters and the checkpoints left must equal those of an
uninterrupted run, tensor by tensor with ``torch.equal`` (CPU), and the user's README.md must be
untouched. Children are forked from the test process (the imports are done once); set
``SENTRIX_KILL_TEST_EXEC=1`` to start each one as a fresh interpreter instead.

Quick version (default run): 3 trials at targeted points. ``-m slow``: 20 trials mixing every
kill point with random-time kills::

    OMP_NUM_THREADS=1 .venv/bin/python -m pytest -q -m slow tests/trainer/test_kill_resume.py -s
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
import traceback

import kill_resume_worker as worker
import pytest
import torch

_EXEC = os.environ.get("SENTRIX_KILL_TEST_EXEC") == "1"


def _start(config: dict, kill_at: str | None):
    log = open(os.path.join(config["work"], "log.txt"), "ab")
    env = dict(os.environ)
    env.pop(worker.KILL_ENV, None)
    if kill_at:
        env[worker.KILL_ENV] = kill_at
    if _EXEC:
        proc = subprocess.Popen([sys.executable, worker.__file__, json.dumps(config)], stdout=log, stderr=log, env=env)
        log.close()
        return proc.pid
    pid = os.fork()
    if pid == 0:  # the child: one run, then leave without running the parent's clean-up
        code = 1
        try:
            os.dup2(log.fileno(), 1)
            os.dup2(log.fileno(), 2)
            os.environ.clear()
            os.environ.update(env)
            worker.run(config)
            code = 0
        except BaseException:
            traceback.print_exc()
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(code)
    log.close()
    return pid


_HUNG = 600.0  # seconds after which a run counts as hung (it is killed and the test fails)


def _wait(pid: int, kill_after: float | None = None) -> int:
    started = time.monotonic()
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return os.waitstatus_to_exitcode(status)
        elapsed = time.monotonic() - started
        if (kill_after is not None and elapsed >= kill_after) or elapsed >= _HUNG:
            os.kill(pid, signal.SIGKILL)
            _, status = os.waitpid(pid, 0)
            assert kill_after is not None and elapsed < _HUNG, f"a run did not finish within {_HUNG:.0f} s"
            return os.waitstatus_to_exitcode(status)
        time.sleep(0.02)


def _run(config: dict, kill_at: str | None = None, kill_after: float | None = None) -> int:
    return _wait(_start(config, kill_at), kill_after)


def _log_tail(work: str) -> str:
    try:
        with open(os.path.join(work, "log.txt"), "rb") as fh:
            return fh.read()[-3000:].decode("utf-8", "replace")
    except OSError:
        return ""


def _finish(config: dict, kills: list, must_kill: bool) -> list[str]:
    """Run with each kill in turn (a point 'name:n' or a delay in seconds), then until the run completes."""
    events = []
    for kill in kills:
        if isinstance(kill, str):
            code = _run(config, kill_at=kill)
        else:
            code = _run(config, kill_after=kill)
        events.append(f"{kill}->{code}")
        assert code in (0, -signal.SIGKILL), f"the run failed ({events}):\n{_log_tail(config['work'])}"
        if must_kill and isinstance(kill, str):
            assert code == -signal.SIGKILL, f"kill point {kill} was never reached ({events})"
    for _ in range(3):
        code = _run(config)
        events.append(f"resume->{code}")
        if code == 0:
            break
    assert code == 0, f"the run does not complete ({events}):\n{_log_tail(config['work'])}"
    return events


def _outcome(work: str) -> dict:
    from safetensors.torch import load_file

    out = os.path.join(work, "out")
    with open(os.path.join(out, "README.md"), encoding="utf-8") as fh:
        readme = fh.read()
    with open(os.path.join(work, "steps.json"), encoding="utf-8") as fh:
        steps = json.load(fh)
    return {
        "model": load_file(os.path.join(out, "model.safetensors")),
        "head": load_file(os.path.join(work, "head.safetensors")),
        "names": sorted(os.listdir(out)),
        "readme": readme,
        "global_step": steps["global_step"],
    }


def _differences(reference: dict, got: dict) -> list[str]:
    problems = []
    for part in ("model", "head"):
        if reference[part].keys() != got[part].keys():
            problems.append(f"{part}: other tensors")
            continue
        unequal = [k for k in reference[part] if not torch.equal(reference[part][k], got[part][k])]
        if unequal:
            problems.append(f"{part}: {len(unequal)} tensors differ, e.g. {unequal[:2]}")
    if got["names"] != reference["names"]:
        problems.append(f"output folder {got['names']} != {reference['names']}")
    if got["readme"] != worker.USER_README:
        problems.append("the user's README.md changed")
    if got["global_step"] != worker.MAX_STEPS:
        problems.append(f"global_step {got['global_step']} != {worker.MAX_STEPS}")
    return problems


@pytest.fixture(scope="module")
def reference(tiny_folder, tmp_path_factory):
    if not _EXEC:
        worker.warm_up()
    work = str(tmp_path_factory.mktemp("uninterrupted"))
    config = {"model": tiny_folder, "work": work}
    started = time.monotonic()
    code = _run(config)
    duration = time.monotonic() - started
    assert code == 0, _log_tail(work)
    outcome = _outcome(work)
    assert not any(n.startswith(".sentrix-t") for n in outcome["names"])
    assert f"checkpoint-{worker.MAX_STEPS}" in outcome["names"] and "README.sentrix.md" in outcome["names"]
    return {"outcome": outcome, "duration": duration, "model": tiny_folder}


def _trial(reference, tmp_path, name: str, kills: list, must_kill: bool) -> tuple[list[str], list[str]]:
    work = str(tmp_path / name)
    os.makedirs(work)
    events = _finish({"model": reference["model"], "work": work}, kills, must_kill)
    return events, _differences(reference["outcome"], _outcome(work))


QUICK_TRIALS = {
    # killed inside the write of checkpoint-4, then while rotation deletes checkpoint-2
    "checkpoint_write_then_rotation": ["ckpt_write:2", "rotation:1"],
    # killed after the last checkpoint (the run had finished), then half-way through the final swap
    "after_last_checkpoint_then_final_swap": ["last_ckpt:1", "final_swap:4"],
    # killed before a complete checkpoint is renamed into place, then while the final model is built
    "checkpoint_publish_then_final_build": ["ckpt_publish:3", "final_build:1"],
}


@pytest.mark.parametrize("name", sorted(QUICK_TRIALS))
def test_kill_at_targeted_points_resumes_bitwise(reference, tmp_path, name):
    events, problems = _trial(reference, tmp_path, name, QUICK_TRIALS[name], must_kill=True)
    assert not problems, f"{name} ({events}): {problems}"


# How often a run from scratch reaches each point (checkpoints at steps 2, 4, 6 and 7; rotation deletes two;
# the final swap moves 11 entries).
_REACHED = {"ckpt_write": 4, "ckpt_publish": 4, "rotation": 2, "last_ckpt": 1, "after_train": 1, "final_build": 1,
            "final_swap": 11, "head": 1}


def _random_kills(rng: random.Random, index: int, duration: float) -> list:
    """One kill at a point (each point in turn), plus one or two more at a random point or after a random delay."""

    def at_point(point: str) -> str:
        return f"{point}:{rng.randint(1, _REACHED[point])}"

    kills: list = [at_point(worker.POINTS[index % len(worker.POINTS)])]
    for _ in range(rng.randint(1, 2)):
        kills.append(round(rng.uniform(0.2, 0.8 * duration), 2) if rng.random() < 0.5 else at_point(rng.choice(worker.POINTS)))
    rng.shuffle(kills)
    return kills


@pytest.mark.slow
def test_kill_at_random_moments_20_trials(reference, tmp_path):
    rng = random.Random(20261202)
    failures = []
    tried = landed = 0
    for index in range(20):
        kills = _random_kills(rng, index, reference["duration"])
        try:
            events, problems = _trial(reference, tmp_path, f"trial{index}", kills, must_kill=False)
        except AssertionError as exc:
            events, problems = [str(kills)], [str(exc)[:500]]
        tried += len(kills)
        landed += sum(str(-signal.SIGKILL) == event.rsplit("->", 1)[1] for event in events)
        print(f"trial {index}: {' '.join(events)}: {'bitwise equal' if not problems else problems}")
        if problems:
            failures.append(f"trial {index} {events}: {problems}")
    print(f"\nkill -9 and resume: bitwise equal to the uninterrupted run in {20 - len(failures)} of 20 trials "
          f"({landed} of {tried} kills landed before the run completed)")
    assert not failures, "\n".join(failures)
