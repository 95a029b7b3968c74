"""``sentrix reproduce MODEL_DIR``: re-run the training that produced a saved model (same config, same data)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from sentrix.cli._config_args import add_config_options


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser("reproduce", help="re-run the training recorded in a model folder",
                                   description="Read MODEL_DIR/sentrix_config.yaml (written by `sentrix train`) and "
                                   "train it again into a new folder. The data files it names must still exist.")
    parser.add_argument("model_dir", help="a folder written by `sentrix train`")
    parser.add_argument("-o", "--output-dir", default=None, help="where to write the new run (default MODEL_DIR-reproduced)")
    add_config_options(parser)
    parser.set_defaults(func=run_reproduce)


def run_reproduce(args: argparse.Namespace) -> int:
    from sentrix.config import CONFIG_FILE, ConfigError, ConfigIssue, prepare, train_from_config

    folder = Path(args.model_dir)
    config = folder / CONFIG_FILE
    if not config.is_file():
        raise ConfigError([ConfigIssue("", f"{folder} has no {CONFIG_FILE}, so it was not trained by `sentrix train`.",
                                       "give a folder written by `sentrix train` (it holds sentrix_config.yaml).")])
    output_dir = args.output_dir or str(folder.with_name(folder.name + "-reproduced"))
    validated = prepare(config, args.overrides, allow_import_paths=args.allow_import_paths, output_dir=output_dir)
    train_from_config(validated)
    return 0
