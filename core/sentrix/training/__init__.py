"""The trainer's helpers, one concern per module (the ``Trainer`` overrides stay in :mod:`sentrix.trainer`).

- :mod:`sentrix.training.run_checks`: checks before training (datasets against their losses'
  data needs, columns, labels, ``metric_for_best_model``, plugin checks).
- :mod:`sentrix.training.checkpoints`: atomic checkpoints, complete-checkpoint detection,
  rotation of this run's checkpoints, which checkpoint to resume from.
- :mod:`sentrix.training.model_folder`: the final model save, swapped into ``output_dir`` as a
  whole, without stale files and never over the user's own files.
- :mod:`sentrix.training.loss_state`: parameters and state owned by losses (a classifier head):
  optimised with the model, kept identical across processes, saved in every checkpoint and
  restored on resume.
- :mod:`sentrix.training.hub`: pushes to the Hugging Face Hub.

The sub-modules are imported on use; importing this package imports nothing heavy.
"""
