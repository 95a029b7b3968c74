"""``sentrix validate CONFIG``: check a run config completely, run nothing, write nothing."""

from __future__ import annotations

import argparse
from typing import Any

from sentrix.cli._config_args import add_config_options


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser("validate", help="check a run config (YAML/JSON) without running it",
                                   description="Check every section of a run config: registered names, parameters, "
                                   "data columns, training arguments. Runs nothing and writes nothing.")
    parser.add_argument("config", help="the run config file (.yaml or .json)")
    add_config_options(parser)
    parser.set_defaults(func=run_validate)


def run_validate(args: argparse.Namespace) -> int:
    from sentrix.config import prepare

    validated = prepare(args.config, args.overrides, allow_import_paths=args.allow_import_paths)
    for warning in validated.warnings:
        print(f"warning: {warning}")
    cfg = validated.config
    sizes = ", ".join(f"{name} ({len(data)} rows)" for name, data in validated.train_datasets.items())
    print(f"{args.config}: valid. Training data: {sizes}; {len(cfg.get('evaluators') or [])} evaluator(s); "
          f"output_dir {validated.output_dir}")
    return 0
