"""Arguments shared by the config-driven commands (train, validate, reproduce, evaluate)."""

from __future__ import annotations

from typing import Any


def add_config_options(parser: Any, *, overrides: bool = True) -> None:
    if overrides:
        parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                            help="override a config entry, e.g. --set training_args.max_steps=10 (repeatable)")
    parser.add_argument("--allow-import-paths", action="store_true",
                        help="let component names be dotted import paths (runs unregistered code; off by default)")
