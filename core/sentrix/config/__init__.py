"""Run configs: one YAML (or JSON) file that names a whole training run by registered names.

* :mod:`~sentrix.config.schema`: the sections and keys of the format (documented in docs/config.md);
* :mod:`~sentrix.config.loader`: reading the file and ``--set key=value`` overrides;
* :mod:`~sentrix.config.validate`: checking everything before anything runs;
* :mod:`~sentrix.config.errors`: :class:`ConfigError` / :class:`ConfigIssue`, every message in one place;
* :mod:`~sentrix.config.build` and :mod:`~sentrix.config.run`: building the objects and running.

Example::

    from sentrix.config import prepare, train_from_config

    validated = prepare("examples/quickstart.yaml", ["training_args.max_steps=10"])
    result = train_from_config(validated)
"""

from __future__ import annotations

from sentrix.config.errors import ConfigError, ConfigIssue
from sentrix.config.loader import apply_overrides, read_config_file
from sentrix.config.run import CONFIG_FILE, METRICS_FILE, prepare, train_from_config
from sentrix.config.validate import ValidatedConfig, validate_config

__all__ = [
    "CONFIG_FILE",
    "METRICS_FILE",
    "ConfigError",
    "ConfigIssue",
    "ValidatedConfig",
    "apply_overrides",
    "prepare",
    "read_config_file",
    "train_from_config",
    "validate_config",
]
