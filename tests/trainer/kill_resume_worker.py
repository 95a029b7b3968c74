"""One training run of the kill -9 harness (``test_kill_resume.py``), optionally killed at a chosen point.

The run: a tiny model trained on two datasets with the ``proportional`` multi-dataset sampler and
the ``no_duplicates`` batch sampler; CachedMultipleNegativesRankingLoss on one dataset and
SoftmaxLoss (a loss with its own classifier parameters) on the other; an evaluator every few
steps with best-model tracking; small ``save_steps`` with ``save_total_limit``. It resumes from
the output folder's checkpoints when there are any, then saves the final model into the output
folder (beside a README.md of the "user", which must survive) and the loss's own parameters into
``head.safetensors`` beside it.

``SENTRIX_TEST_KILL_AT=<point>:<n>`` sends SIGKILL to the process the n-th time (1-based) it
reaches ``<point>``:

``ckpt_write``     inside a checkpoint write (model files written, trainer_state.json not yet)
``ckpt_publish``   a complete checkpoint in its temporary folder, before the rename publishing it
``rotation``       ``save_total_limit`` rotation: a checkpoint renamed to trash, part of it deleted
``last_ckpt``      right after the checkpoint of the last step was written
``after_train``    ``train()`` returned, the final save not started
``final_build``    the final save: the new model (with its card) written into the temporary folder
``final_swap``     the final save: in the middle of moving old files out and new files in
``head``           everything saved but ``head.safetensors``

Run as a script: ``python kill_resume_worker.py '<json config>'`` (keys: model, work).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import sys

KILL_ENV = "SENTRIX_TEST_KILL_AT"
POINTS = ("ckpt_write", "ckpt_publish", "rotation", "last_ckpt", "after_train", "final_build", "final_swap", "head")

MAX_STEPS = 7
SAVE_STEPS = 2
SAVE_TOTAL_LIMIT = 2
USER_README = "# My project\n\nNotes of the user: this file must never be overwritten.\n"

_WORDS = (
    "a cat sat on the mat|the dog runs in the park|a man eats food|red car on the road|children play football|"
    "the sun is hot today|she reads a book|the train is fast|a bird sings in the tree|people walk in the city|"
    "the river is cold|a woman drinks water|kids play soccer|the plane is slow|a horse runs on the beach|"
    "the student reads|a teacher talks|music in the house|the team wins the match|snow in the morning"
).split("|")
_OTHER = (
    "a cat sits on the mat|dogs run in the park|the man eats|a car on the street|kids play a game|"
    "it is hot outside|a woman reads|the train goes fast|birds in the trees|people in the city|"
    "cold water in the river|the woman drinks|children play ball|planes are slow|a horse on the sand|"
    "a student with a book|the teacher says|a song at home|the team plays|cold snow today"
).split("|")


def _counter():
    counts: dict[str, int] = {}
    spec = os.environ.get(KILL_ENV, "")
    point, _, nth = spec.partition(":")
    nth_value = int(nth or 1)

    def hit(name: str) -> None:
        counts[name] = counts.get(name, 0) + 1
        if name == point and counts[name] == nth_value:
            sys.stdout.flush()
            sys.stderr.flush()
            os.kill(os.getpid(), signal.SIGKILL)

    return hit


def datasets():
    from datasets import Dataset, DatasetDict

    n = len(_WORDS)
    # repeated values, so no_duplicates has to skip rows
    pairs = Dataset.from_dict({"anchor": _WORDS + _WORDS[:4], "positive": _OTHER + _OTHER[4:8]})
    nli = Dataset.from_dict(
        {"premise": _WORDS[:12], "hypothesis": [_OTHER[(i * 7) % n] for i in range(12)], "label": [i % 3 for i in range(12)]}
    )
    sts = {"sentences1": _WORDS[:10], "sentences2": _OTHER[:10], "scores": [((i * 37) % 10) / 10 for i in range(10)]}
    return DatasetDict({"pairs": pairs, "nli": nli}), sts


def instrument(hit) -> None:
    """Wrap the library functions at the kill points (no test hook lives in the library)."""
    from sentrix.trainer import SentenceTransformerTrainer
    from sentrix.training import checkpoints, model_folder

    original_save = SentenceTransformerTrainer._save

    def _save(self, output_dir=None, state_dict=None):
        original_save(self, output_dir, state_dict)
        base = os.path.basename(str(output_dir))
        hit("ckpt_write" if "checkpoint" in base else "final_build")

    SentenceTransformerTrainer._save = _save

    original_replace_dir = checkpoints.replace_dir

    def replace_dir(src, dst):
        hit("ckpt_publish")
        return original_replace_dir(src, dst)

    checkpoints.replace_dir = replace_dir

    original_rmtree = shutil.rmtree

    def remove_dir(path):
        def dying_rmtree(target, *args, **kwargs):
            for root, _dirs, files in os.walk(target):
                if files:
                    os.remove(os.path.join(root, sorted(files)[0]))  # part of the folder is gone
                    break
            hit("rotation")
            return original_rmtree(target, *args, **kwargs)

        shutil.rmtree = dying_rmtree
        try:
            return original_remove_dir(path)
        finally:
            shutil.rmtree = original_rmtree

    original_remove_dir = checkpoints.remove_dir
    checkpoints.remove_dir = remove_dir

    original_apply = model_folder._apply
    original_os_replace = os.replace

    def _apply(output_dir, build):
        def dying_replace(src, dst, *args, **kwargs):
            result = original_os_replace(src, dst, *args, **kwargs)
            hit("final_swap")
            return result

        os.replace = dying_replace
        try:
            return original_apply(output_dir, build)
        finally:
            os.replace = original_os_replace

    model_folder._apply = _apply


def warm_up() -> None:
    """The imports and one-off look-ups of a run, done once in the process that forks the runs."""
    import scipy.stats  # noqa: F401  (imported by the evaluator)

    from sentrix.evaluation import EmbeddingSimilarityEvaluator
    from sentrix.losses import CachedMultipleNegativesRankingLoss, SoftmaxLoss
    from sentrix.model_card.formatting import distribution_of
    from sentrix.registry import get_registry
    from sentrix.trainer import SentenceTransformerTrainer

    get_registry("batch_samplers").get("no_duplicates")
    get_registry("multi_dataset_batch_samplers").get("proportional")
    for component in (EmbeddingSimilarityEvaluator, CachedMultipleNegativesRankingLoss, SoftmaxLoss, SentenceTransformerTrainer):
        distribution_of(component)


def run(config: dict) -> None:
    import torch

    torch.set_num_threads(1)
    hit = _counter()
    instrument(hit)

    from safetensors.torch import save_file
    from transformers import TrainerCallback

    from sentrix import SentenceTransformer, SentenceTransformerTrainer, SentenceTransformerTrainingArguments
    from sentrix.evaluation import EmbeddingSimilarityEvaluator
    from sentrix.losses import CachedMultipleNegativesRankingLoss, SoftmaxLoss
    from sentrix.training.checkpoints import choose_resume_checkpoint

    work = config["work"]
    out = os.path.join(work, "out")
    os.makedirs(out, exist_ok=True)
    readme = os.path.join(out, "README.md")
    if not os.path.exists(readme):
        with open(readme, "w", encoding="utf-8") as fh:
            fh.write(USER_README)

    class LastCheckpoint(TrainerCallback):
        def on_save(self, args, state, control, **kwargs):
            if state.global_step >= state.max_steps:
                hit("last_ckpt")

    model = SentenceTransformer(config["model"], device="cpu")
    train, sts = datasets()
    loss = {
        "pairs": CachedMultipleNegativesRankingLoss(model, mini_batch_size=2),
        "nli": SoftmaxLoss(model, embedding_dimension=model.get_sentence_embedding_dimension(), num_labels=3),
    }
    evaluator = EmbeddingSimilarityEvaluator(sts["sentences1"], sts["sentences2"], sts["scores"], name="sts")
    args = SentenceTransformerTrainingArguments(
        output_dir=out,
        per_device_train_batch_size=4,
        max_steps=MAX_STEPS,
        learning_rate=5e-3,
        warmup_steps=2,
        weight_decay=0.01,
        batch_sampler="no_duplicates",
        multi_dataset_batch_sampler="proportional",
        eval_strategy="steps",
        eval_steps=SAVE_STEPS,
        save_strategy="steps",
        save_steps=SAVE_STEPS,
        save_total_limit=SAVE_TOTAL_LIMIT,
        metric_for_best_model="eval_sts_spearman_cosine",
        greater_is_better=True,
        logging_steps=1,
        seed=11,
        data_seed=11,
        report_to="none",
        use_cpu=True,
        disable_tqdm=True,
    )
    trainer = SentenceTransformerTrainer(
        model=model, args=args, train_dataset=train, loss=loss, evaluator=evaluator, callbacks=[LastCheckpoint()]
    )
    resume = choose_resume_checkpoint(out) is not None
    trainer.train(resume_from_checkpoint=True if resume else None)
    hit("after_train")
    trainer.save_model()
    head = {k: v.detach().clone().contiguous() for k, v in loss["nli"].classifier.state_dict().items()}
    hit("head")
    tmp = os.path.join(work, "head.safetensors.part")
    save_file(head, tmp)
    os.replace(tmp, os.path.join(work, "head.safetensors"))
    with open(os.path.join(work, "steps.json"), "w", encoding="utf-8") as fh:
        json.dump({"global_step": trainer.state.global_step, "resumed": resume}, fh)


if __name__ == "__main__":
    run(json.loads(sys.argv[1]))
