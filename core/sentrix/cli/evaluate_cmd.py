"""``sentrix evaluate MODEL --config CONFIG``: run a config's evaluators on a model."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from sentrix.cli._config_args import add_config_options


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser("evaluate", help="run the evaluators of a run config on a model",
                                   description="Load MODEL (a folder or Hub id) and run the `evaluators` section of "
                                   "the config on it. Only that section (and the datasets it names) is used.")
    parser.add_argument("model", help="a model folder or Hub id")
    parser.add_argument("--config", required=True, help="a run config with an `evaluators` section")
    parser.add_argument("-o", "--output", default=None, help="write the metrics to this JSON file")
    parser.add_argument("--device", default=None, help="cpu, cuda, mps... (default: the best available)")
    add_config_options(parser)
    parser.set_defaults(func=run_evaluate)


def run_evaluate(args: argparse.Namespace) -> int:
    from sentrix.config import prepare
    from sentrix.config.build import build_evaluators, load_model
    from sentrix.config.run import evaluate_all, primary_metrics
    from sentrix.errors import InvalidInputError

    if args.output is not None and not args.output.endswith(".json"):
        raise InvalidInputError(f"--output {args.output!r} must end in .json (the metrics are written as JSON).")
    validated = prepare(args.config, args.overrides, allow_import_paths=args.allow_import_paths, purpose="evaluate")
    evaluators = build_evaluators(validated)
    model = load_model(args.model, device=args.device)
    results = evaluate_all(evaluators, model)
    primary = primary_metrics(evaluators, results)
    for key, value in results.items():
        print(f"{key}: {value:.4f}{'  (primary)' if key in primary else ''}")
    if args.output:
        Path(args.output).write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
        print(f"wrote {args.output}")
    return 0
