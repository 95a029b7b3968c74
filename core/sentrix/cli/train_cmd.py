"""``sentrix train CONFIG [--set key=value ...]``: validate a run config, then train it."""

from __future__ import annotations

import argparse
from typing import Any

from sentrix.cli._config_args import add_config_options


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser("train", help="train from a run config (YAML/JSON)",
                                   description="Validate the config completely, then train, evaluate before and "
                                   "after, and save the model, its card, sentrix_config.yaml, metrics.json and a plot.")
    parser.add_argument("config", help="the run config file (.yaml or .json); format: docs/config.md")
    parser.add_argument("-o", "--output-dir", default=None, help="shortcut for --set training_args.output_dir=...")
    add_config_options(parser)
    parser.set_defaults(func=run_train)


def run_train(args: argparse.Namespace) -> int:
    from sentrix.config import prepare, train_from_config

    validated = prepare(args.config, args.overrides, allow_import_paths=args.allow_import_paths, output_dir=args.output_dir)
    train_from_config(validated)
    return 0
