"""Hub pushes: the final model folder, and checkpoints during training (``args.push_to_hub``).

What is uploaded is the model in the sentence-transformers layout plus its model card; never the
checkpoints' optimiser/scheduler/RNG files, temporary folders or evaluation outputs. The token
comes from the call or ``args.hub_token`` and is never written to a file.

The trainer's ``push_to_hub`` and ``_push_from_checkpoint`` overrides call these functions.
"""

from __future__ import annotations

import os
import shutil
from typing import TYPE_CHECKING, Any

from transformers.trainer_utils import PREFIX_CHECKPOINT_DIR

from sentrix.training.checkpoints import (
    EVALUATOR_STATE_NAME,
    RUN_MARKER_NAME,
    SAMPLER_STATE_NAME,
    TRAINER_STATE_NAME,
)
from sentrix.training.loss_state import LOSS_STATE_NAME

if TYPE_CHECKING:  # pragma: no cover
    from sentrix.trainer import SentenceTransformerTrainer

#: Files of a checkpoint that only matter for resuming; never copied next to the model nor uploaded with it.
RESUME_ONLY_FILES = {
    "optimizer.pt", "scheduler.pt", "scaler.pt", TRAINER_STATE_NAME, RUN_MARKER_NAME, LOSS_STATE_NAME,
    SAMPLER_STATE_NAME, EVALUATOR_STATE_NAME,
}


def push_model_folder(
    trainer: SentenceTransformerTrainer,
    commit_message: str | None = "End of training",
    blocking: bool = True,
    token: str | None = None,
    revision: str | None = None,
    private: bool | None = None,
    **kwargs: Any,
) -> Any:
    """Save the model and card to ``output_dir`` and upload that folder to ``args.hub_model_id``."""
    from huggingface_hub import HfApi

    args = trainer.args
    repo_id = args.hub_model_id or os.path.basename(os.path.abspath(args.output_dir))
    token = token if token is not None else args.hub_token
    trainer.callback_handler.on_push_begin(args, trainer.state, trainer.control)
    trainer.save_model(_internal_call=True)
    if not trainer.is_world_process_zero():
        return None
    trainer.create_model_card(model_name=kwargs.pop("model_name", None), **kwargs)
    api = HfApi(endpoint=kwargs.pop("endpoint", None), token=token)
    private = args.hub_private_repo if private is None else private
    repo = api.create_repo(repo_id=repo_id, private=private, exist_ok=True, token=token)
    repo_id = getattr(repo, "repo_id", repo_id)
    trainer._finish_current_push()
    return api.upload_folder(
        repo_id=repo_id,
        folder_path=args.output_dir,
        commit_message=commit_message,
        token=token,
        revision=revision if revision is not None else args.hub_revision,
        run_as_future=not blocking,
        ignore_patterns=["_*", f"{PREFIX_CHECKPOINT_DIR}-*", ".sentrix-*", "**/.sentrix-*", "eval/*"],
    )


def copy_model_files(checkpoint_folder: str, output_dir: str, overwrite: bool = False) -> None:
    """Copy a checkpoint's model files (full sentence-transformers layout) to ``output_dir``, swapped in as a
    whole like a final save (:func:`sentrix.training.model_folder.save_model_folder`: the user's files stay)."""
    from sentrix.training.model_folder import save_model_folder

    def write(folder: str) -> None:
        os.makedirs(folder, exist_ok=True)
        for name in os.listdir(checkpoint_folder):
            if name in RESUME_ONLY_FILES or name.startswith("rng_state"):
                continue
            src, dst = os.path.join(checkpoint_folder, name), os.path.join(folder, name)
            if os.path.isdir(src):
                shutil.copytree(src, dst)
            else:
                shutil.copy(src, dst)

    save_model_folder(output_dir, write, overwrite=overwrite)


def push_checkpoint(trainer: SentenceTransformerTrainer, checkpoint_folder: str) -> None:
    """During training: copy the checkpoint's model files to ``output_dir`` and upload them (in the background)."""
    args = trainer.args
    if not trainer.is_world_process_zero() or str(getattr(args.hub_strategy, "value", args.hub_strategy)) == "end":
        return
    copy_model_files(checkpoint_folder, args.output_dir, overwrite=bool(getattr(args, "overwrite_output_dir", False)))
    from huggingface_hub import HfApi
    from transformers.utils.hub import PushInProgress

    in_progress = getattr(trainer, "push_in_progress", None)
    if not args.hub_always_push and in_progress is not None and not in_progress.is_done():
        return
    api = HfApi(token=args.hub_token)
    repo_id = trainer.hub_model_id or args.hub_model_id
    message = f"Training in progress, step {trainer.state.global_step}"
    jobs = [
        api.upload_folder(
            repo_id=repo_id, folder_path=args.output_dir, commit_message=message, token=args.hub_token,
            run_as_future=True, revision=args.hub_revision,
            ignore_patterns=["_*", f"{PREFIX_CHECKPOINT_DIR}-*", ".sentrix-*", "eval/*"],
        )
    ]
    strategy = str(getattr(args.hub_strategy, "value", args.hub_strategy))
    if strategy in ("checkpoint", "all_checkpoints"):
        jobs.append(
            api.upload_folder(
                repo_id=repo_id, folder_path=checkpoint_folder,
                path_in_repo="last-checkpoint" if strategy == "checkpoint" else os.path.basename(checkpoint_folder),
                commit_message=message + ", checkpoint", token=args.hub_token, run_as_future=True,
                revision=args.hub_revision,
            )
        )
    if in_progress is None or in_progress.is_done():
        trainer.push_in_progress = PushInProgress(jobs)
    else:
        in_progress.jobs.extend(jobs)


__all__ = ["RESUME_ONLY_FILES", "copy_model_files", "push_checkpoint", "push_model_folder"]
