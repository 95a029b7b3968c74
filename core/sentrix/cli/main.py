"""The ``sentrix`` command line.

Sub-commands are built here and by plugins (``sentrix_add_cli_commands`` hook). Nothing heavy is
imported until a command that needs it runs: ``sentrix --help`` and ``sentrix plugins list`` never
import torch.
"""

from __future__ import annotations

import argparse
import sys
from typing import Sequence

from sentrix import __version__


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="sentrix",
        description="Train and evaluate sentence-embedding models; every component is a plugin.",
    )
    parser.add_argument("--version", action="version", version=f"sentrix {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")

    from sentrix.cli import (
        encode_cmd,
        env_cmd,
        evaluate_cmd,
        new_cmd,
        plugins_cmd,
        reproduce_cmd,
        train_cmd,
        validate_cmd,
    )

    plugins_cmd.add_parser(subparsers)
    env_cmd.add_parser(subparsers)
    new_cmd.add_parser(subparsers)
    validate_cmd.add_parser(subparsers)
    train_cmd.add_parser(subparsers)
    evaluate_cmd.add_parser(subparsers)
    encode_cmd.add_parser(subparsers)
    reproduce_cmd.add_parser(subparsers)

    from sentrix.hooks import get_plugin_manager

    get_plugin_manager().hook.sentrix_add_cli_commands(subparsers=subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    func = getattr(args, "func", None)
    if func is None:
        parser.print_help()
        return 0
    from sentrix.errors import SentrixError

    try:
        return int(func(args) or 0)
    except SentrixError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
