"""Test-suite wide settings.

The suite runs isolated from whatever plugins happen to be installed: only the ``sentrix``
distribution's own entry points are loaded unless a test opts a distribution in with
``SENTRIX_LOAD_PLUGINS``.
"""

import os

os.environ["SENTRIX_DISABLE_PLUGIN_AUTOLOAD"] = "1"
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("WANDB_DISABLED", "true")
