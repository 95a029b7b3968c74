"""Helpers shared by the trainer tests."""

from __future__ import annotations


def make_args(tmp_path, **overrides):
    from sentrix import SentenceTransformerTrainingArguments

    params = dict(
        output_dir=str(tmp_path / "out"),
        per_device_train_batch_size=4,
        per_device_eval_batch_size=4,
        max_steps=4,
        learning_rate=1e-3,
        report_to="none",
        use_cpu=True,
        disable_tqdm=True,
        save_strategy="no",
        logging_steps=1,
        seed=7,
        data_seed=7,
    )
    params.update(overrides)
    return SentenceTransformerTrainingArguments(**params)
