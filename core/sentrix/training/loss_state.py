"""Parameters and state owned by losses (a classifier head, a decoder): optimised, saved and restored.

A loss is an ``nn.Module`` that holds the model being trained and may own parameters or buffers
of its own (SoftmaxLoss's classifier, a denoising decoder, a third-party head). The trainer:

* optimises them with the model: the model and the losses sit under one module
  (:class:`OptimizationTarget`) when the optimiser is built, and their gradients are cleared after
  every step (:class:`ZeroLossGradsCallback`; the base trainer only zeroes the model's);
* keeps them identical on every process under DDP, which wraps only the model
  (:class:`SyncLossStateCallback`);
* saves them in every checkpoint: everything in ``loss.state_dict()`` that is not a tensor of the
  model (per dataset for a dict of losses) goes to ``loss_state.safetensors`` in the checkpoint
  folder (:func:`save_loss_state`); no file is written when no loss owns any state;
* restores them on resume, before the first step (:func:`restore_loss_state`). A checkpoint
  whose loss state does not match the run's losses (another loss, another ``num_labels``, a
  checkpoint written without it) stops the run with an :class:`~sentrix.errors.InvalidInputError`
  listing every difference, instead of silently training a fresh head.
"""

from __future__ import annotations

import json
import logging
import os
from typing import Any

import torch
from torch import nn
from transformers import TrainerCallback

from sentrix.errors import InvalidInputError

logger = logging.getLogger(__name__)

LOSS_STATE_NAME = "loss_state.safetensors"
_FORMAT = "sentrix.loss_state/1"


class ZeroLossGradsCallback(TrainerCallback):
    """Clear gradients of parameters owned by losses (e.g. a classifier head) after every step."""

    def on_train_begin(self, args, state, control, optimizer=None, **kwargs):
        if optimizer is not None:
            optimizer.zero_grad()

    def on_step_end(self, args, state, control, optimizer=None, **kwargs):
        if optimizer is not None:
            optimizer.zero_grad()


class SyncLossStateCallback(TrainerCallback):
    """With several processes (DDP), keep the losses' own parameters identical on every process.

    DDP wraps only the model, so a loss's own parameters (a classifier head) would otherwise start
    from each process's own random init and train on that process's gradients alone. At the start of
    training every process takes process 0's loss state (after a resume: the restored one), and
    before each optimiser step their gradients are averaged over the processes (a parameter a
    process did not use in this step counts with a zero gradient).
    """

    def __init__(self, trainer: Any):
        self.trainer = trainer

    def _own(self) -> list[tuple[str, torch.Tensor]]:
        trainer = self.trainer
        items: list[tuple[str, torch.Tensor]] = []
        for name, state in loss_states(trainer.loss, trainer._unwrapped_model()).items():
            member = trainer.loss[name] if name is not None else trainer.loss
            live = dict(member.named_parameters())
            live.update(dict(member.named_buffers()))
            items.extend((f"{name}/{key}", live[key]) for key in sorted(state) if key in live and torch.is_tensor(live[key]))
        return items

    @staticmethod
    def _distributed(args: Any) -> bool:
        return args.world_size > 1 and torch.distributed.is_available() and torch.distributed.is_initialized()

    def on_train_begin(self, args, state, control, **kwargs):
        if self._distributed(args):
            for _name, tensor in self._own():
                torch.distributed.broadcast(tensor.data, src=0)

    def on_pre_optimizer_step(self, args, state, control, **kwargs):
        if not self._distributed(args):
            return
        world = torch.distributed.get_world_size()
        for _name, tensor in self._own():
            if not isinstance(tensor, nn.Parameter) or not tensor.requires_grad:
                continue
            if tensor.grad is None:
                tensor.grad = torch.zeros_like(tensor)
            torch.distributed.all_reduce(tensor.grad)
            tensor.grad.div_(world)


class OptimizationTarget(nn.Module):
    """The model and the losses under one module, so parameters owned by losses are optimised too."""

    def __init__(self, model: nn.Module, loss: nn.Module | dict[str, nn.Module]):
        super().__init__()
        self.model = model
        self.loss = nn.ModuleDict(loss) if isinstance(loss, dict) else loss


def _describe(loss: nn.Module) -> str:
    return f"{type(loss).__module__}.{type(loss).__qualname__}"


def own_state(loss: nn.Module, model: nn.Module | None) -> dict[str, Any]:
    """The entries of ``loss.state_dict()`` that are not tensors of ``model`` (the loss's own state)."""
    model_tensors: set[int] = set()
    if isinstance(model, nn.Module):
        model_tensors = {id(t) for t in model.state_dict(keep_vars=True).values()}
        model_tensors.update(id(p) for p in model.parameters())
        model_tensors.update(id(b) for b in model.buffers())
    return {key: value for key, value in loss.state_dict(keep_vars=True).items() if id(value) not in model_tensors}


def _losses(loss: nn.Module | dict[str, nn.Module]) -> dict[str | None, nn.Module]:
    return dict(loss) if isinstance(loss, dict) else {None: loss}


def loss_states(loss: nn.Module | dict[str, nn.Module], model: nn.Module | None) -> dict[str | None, dict[str, Any]]:
    """Own state of each loss: ``{None: state}`` for one loss, ``{dataset_name: state}`` for a dict of losses."""
    return {name: own_state(member, model) for name, member in _losses(loss).items() if isinstance(member, nn.Module)}


def save_loss_state(folder: str, loss: nn.Module | dict[str, nn.Module], model: nn.Module | None) -> str | None:
    """Write the losses' own state to ``folder/loss_state.safetensors``; returns the path, or None if there is none."""
    from safetensors.torch import save_file

    tensors: dict[str, torch.Tensor] = {}
    layout = []
    for index, (name, member) in enumerate(_losses(loss).items()):
        if not isinstance(member, nn.Module):
            continue
        state = own_state(member, model)
        entry: dict[str, Any] = {"dataset": name, "class": _describe(member), "tensors": {}, "values": {}}
        for key, value in state.items():
            if torch.is_tensor(value):
                file_key = f"{index}/{key}"
                # clone: safetensors refuses tensors that share memory
                tensors[file_key] = value.detach().to("cpu").contiguous().clone()
                entry["tensors"][key] = file_key
            else:  # extra state (get_extra_state)
                try:
                    json.dumps(value)
                except (TypeError, ValueError):
                    logger.warning(
                        "Loss %s: state entry %r is neither a tensor nor JSON data; it is not saved in checkpoints.",
                        type(member).__name__, key,
                    )
                    continue
                entry["values"][key] = value
        if entry["tensors"] or entry["values"]:
            layout.append(entry)
    if not layout:
        return None
    path = os.path.join(folder, LOSS_STATE_NAME)
    save_file(tensors, path, metadata={"format": _FORMAT, "losses": json.dumps(layout)})
    return path


def _where(name: str | None) -> str:
    return f"the loss of dataset {name!r}" if name is not None else "the loss"


def read_loss_state(checkpoint: str) -> dict[str | None, tuple[str, dict[str, Any]]] | None:
    """``{dataset_name: (loss class, state)}`` saved in ``checkpoint``, or None when it holds no loss state."""
    path = os.path.join(checkpoint, LOSS_STATE_NAME)
    if not os.path.isfile(path):
        return None
    from safetensors import safe_open

    try:
        with safe_open(path, framework="pt", device="cpu") as fh:
            metadata = fh.metadata() or {}
            if metadata.get("format") != _FORMAT:
                raise ValueError(f"unknown format {metadata.get('format')!r}")
            result: dict[str | None, tuple[str, dict[str, Any]]] = {}
            for entry in json.loads(metadata["losses"]):
                state: dict[str, Any] = {key: fh.get_tensor(file_key) for key, file_key in entry["tensors"].items()}
                state.update(entry.get("values", {}))
                result[entry["dataset"]] = (entry["class"], state)
    except Exception as exc:  # a corrupt or foreign file
        raise InvalidInputError(
            f"{path!r} cannot be read as a sentrix loss state ({exc}). Resume from another checkpoint, or start "
            "without resume_from_checkpoint."
        ) from exc
    return result


def restore_loss_state(checkpoint: str, loss: nn.Module | dict[str, nn.Module], model: nn.Module | None) -> None:
    """Load the losses' own state saved in ``checkpoint`` into ``loss``; raise listing every mismatch."""
    expected = {name: state for name, state in loss_states(loss, model).items() if state}
    saved = read_loss_state(checkpoint) or {}
    members = _losses(loss)
    problems: list[str] = []
    if expected and not saved:
        problems.append(
            f"the checkpoint holds no {LOSS_STATE_NAME}, but "
            + ", ".join(f"{_where(n)} ({type(members[n]).__name__}) owns state {sorted(s)[:5]}" for n, s in expected.items())
            + "; it was written by a run with other losses, or by a version that did not save loss state"
        )
    elif saved:
        for name in saved.keys() - expected.keys():
            cls, state = saved[name]
            now = f"{type(members[name]).__name__}, which owns no state" if name in members else "no such loss"
            problems.append(
                f"the checkpoint holds state of {_where(name)} ({cls.rsplit('.', 1)[-1]}: {sorted(state)[:5]}), but "
                f"this run has {now}"
            )
        for name in expected.keys() - saved.keys():
            problems.append(
                f"{_where(name)} ({type(members[name]).__name__}) owns state {sorted(expected[name])[:5]}, but the "
                "checkpoint holds none for it"
            )
        for name in expected.keys() & saved.keys():
            cls, state = saved[name]
            mine = expected[name]
            missing, unexpected = sorted(mine.keys() - state.keys()), sorted(state.keys() - mine.keys())
            shapes = [
                f"{key}: checkpoint {tuple(state[key].shape)} vs loss {tuple(mine[key].shape)}"
                for key in sorted(mine.keys() & state.keys())
                if torch.is_tensor(mine[key]) and torch.is_tensor(state[key]) and state[key].shape != mine[key].shape
            ]
            if missing or unexpected or shapes:
                problems.append(
                    f"{_where(name)} ({type(members[name]).__name__}) does not match the saved "
                    f"{cls.rsplit('.', 1)[-1]} state"
                    + (f"; missing in the checkpoint: {missing[:5]}" if missing else "")
                    + (f"; not in the loss: {unexpected[:5]}" if unexpected else "")
                    + (f"; different shapes: {shapes[:5]}" if shapes else "")
                )
    if problems:
        raise InvalidInputError(
            f"Cannot resume from {checkpoint!r}: the losses' saved state does not match the losses of this run:\n- "
            + "\n- ".join(problems)
            + "\nFix: resume with the same loss(es) and loss parameters (e.g. num_labels) as the run that wrote the "
            "checkpoint, or start without resume_from_checkpoint."
        )
    for name, (_cls, state) in saved.items():
        member = members[name]
        own_keys = set(expected[name])
        result = member.load_state_dict(state, strict=False)
        leftover = [k for k in result.missing_keys if k in own_keys] + list(result.unexpected_keys)
        if leftover:  # pragma: no cover - guarded by the checks above
            raise InvalidInputError(f"Cannot resume from {checkpoint!r}: {_where(name)} did not take keys {leftover[:5]}.")
    if saved:
        logger.info("Restored the losses' own state from %s.", os.path.join(checkpoint, LOSS_STATE_NAME))


__all__ = [
    "LOSS_STATE_NAME",
    "OptimizationTarget",
    "SyncLossStateCallback",
    "ZeroLossGradsCallback",
    "loss_states",
    "own_state",
    "read_loss_state",
    "restore_loss_state",
    "save_loss_state",
]
