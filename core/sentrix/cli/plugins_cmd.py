"""``sentrix plugins list`` and ``sentrix plugins show``."""

from __future__ import annotations

import argparse
import inspect
import json
import sys
from typing import Any

from sentrix.registry import KINDS, get_registry


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser("plugins", help="list installed components and show one of them")
    sub = parser.add_subparsers(dest="plugins_command", metavar="ACTION")
    parser.set_defaults(func=lambda args: (parser.print_help(), 0)[1])

    list_parser = sub.add_parser("list", help="list components by kind, with aliases and providers")
    list_parser.add_argument("--kind", choices=KINDS, help="only this kind of component")
    list_parser.add_argument("--json", action="store_true", help="machine-readable output")
    list_parser.add_argument(
        "--check", action="store_true",
        help="also import every listed component and report those that fail (exit code 1 if any plugin is broken)",
    )
    list_parser.set_defaults(func=run_list)

    show_parser = sub.add_parser("show", help="docstring, signature and data needs of one component")
    show_parser.add_argument("name", help="canonical name or alias, e.g. cosent or CoSENTLoss")
    show_parser.add_argument("--kind", choices=KINDS, help="the kind, when a name exists in several")
    show_parser.set_defaults(func=run_show)

    catalogue_parser = sub.add_parser("catalogue", help="write a Markdown catalogue of every component (imports them)")
    catalogue_parser.add_argument("--output", "-o", help="file to write (default: print)")
    catalogue_parser.set_defaults(func=run_catalogue)

    coverage_parser = sub.add_parser(
        "coverage", help="write a Markdown table of what is installed of sentence-transformers 6.2 (imports them)"
    )
    coverage_parser.add_argument("--output", "-o", help="file to write (default: print)")
    coverage_parser.set_defaults(func=run_coverage)


def run_list(args: argparse.Namespace) -> int:
    kinds = [args.kind] if args.kind else list(KINDS)
    rows: list[dict[str, Any]] = []
    if getattr(args, "check", False):
        for kind in kinds:
            for entry in get_registry(kind).entries():
                try:
                    entry.load()
                except Exception:  # recorded in entry.load_error, reported below
                    pass
    problems, notes = _plugin_report(kinds)
    for kind in kinds:
        for entry in get_registry(kind).entries():
            rows.append(
                {
                    "kind": kind,
                    "name": entry.name,
                    "aliases": list(entry.aliases),
                    "provider": entry.provider,
                    "version": entry.version or "",
                    "target": entry.target or "",
                }
            )
    failed = 1 if getattr(args, "check", False) and any(p.fatal for p in problems) else 0
    if args.json:
        for problem in problems:
            kind, name = problem.components[0] if problem.components else ("plugins", problem.plugin)
            provider, _, version = problem.distribution.partition(" ")
            rows.append({"kind": kind, "name": name, "aliases": [], "provider": provider, "version": version,
                         "target": "", "problem": problem.describe(), "broken": problem.fatal})
        json.dump(rows, sys.stdout, indent=2)
        print()
        return failed
    headers = ("KIND", "NAME", "ALIASES", "PROVIDER", "VERSION")
    table = [(r["kind"], r["name"], ", ".join(r["aliases"]) or "-", r["provider"], r["version"] or "-") for r in rows]
    widths = [max(len(h), *(len(row[i]) for row in table)) if table else len(h) for i, h in enumerate(headers)]
    widths[2] = min(widths[2], 60)
    print("  ".join(h.ljust(w) for h, w in zip(headers, widths)).rstrip())
    for row in table:
        aliases = row[2] if len(row[2]) <= 60 else row[2][:57] + "..."
        cells = (row[0], row[1], aliases, row[3], row[4])
        print("  ".join(c.ljust(w) for c, w in zip(cells, widths)).rstrip())
    print(f"\n{len(rows)} components.")
    broken = [p for p in problems if p.fatal]
    if broken:
        print(f"\nBroken plugins ({len(broken)}):")
        for problem in broken:
            print(f"  BROKEN  {problem.describe()}")
    others = [p.describe() for p in problems if not p.fatal] + notes
    if others:
        print(f"\nPlugin warnings ({len(others)}):")
        for line in others:
            print(f"  {line}")
    from sentrix.hooks import failed_plugins

    for name, reason in failed_plugins().items():
        print(f"warning: hook plugin {name!r} failed to load: {reason}", file=sys.stderr)
    return failed


def _plugin_report(kinds: list[str]) -> tuple[list[Any], list[str]]:
    """Every recorded plugin problem, and one line per built-in name a third-party entry tried to take."""
    from sentrix.errors import _singular
    from sentrix.registry import broken_plugins

    notes = []
    for kind in kinds:
        for entry, name in get_registry(kind).shadowed():
            notes.append(
                f"{entry.provider_label} registers the {_singular(kind)} name {name!r}, which is a built-in name: the "
                f"built-in is used; name theirs '{entry.provider}:{name}'."
            )
    return broken_plugins(), notes


def _find(name: str, kind: str | None):
    from sentrix.errors import UnknownComponentError

    kinds = [kind] if kind else list(KINDS)
    found = []
    for k in kinds:
        registry = get_registry(k)
        if name in registry or (":" in name and name.split(":", 1)[1] in registry):
            found.append(registry.info(name))
    if not found:
        entries = [e for k in kinds for e in get_registry(k).entries()]
        raise UnknownComponentError(kind or "components", name, [n for e in entries for n in e.all_names], len(entries))
    if len(found) > 1:
        from sentrix.errors import InvalidInputError

        raise InvalidInputError(
            f"{name!r} names a component of several kinds ({', '.join(e.kind for e in found)}).\n"
            f"Fix: add --kind, e.g. `sentrix plugins show {name} --kind {found[0].kind}`."
        )
    return found[0]


def describe(entry: Any) -> str:
    """The text ``sentrix plugins show`` prints for one registry entry (imports the component)."""
    from sentrix.data_needs import data_needs_of

    obj = entry.load()
    lines = [
        f"{entry.name}  ({entry.kind})",
        f"  aliases:  {', '.join(entry.aliases) or '-'}",
        f"  provider: {entry.provider_label}",
        f"  object:   {entry.target or getattr(obj, '__module__', '?') + ':' + getattr(obj, '__qualname__', '?')}",
    ]
    try:
        target = obj.__init__ if inspect.isclass(obj) else obj
        signature = str(inspect.signature(target)).replace("(self, ", "(").replace("(self)", "()")
        lines.append(f"  signature: {getattr(obj, '__name__', entry.name)}{signature}")
    except (TypeError, ValueError):
        pass
    needs = data_needs_of(obj)
    if needs is not None:
        lines.append(f"  data needs: {needs.describe()}")
    elif entry.kind == "losses":
        lines.append("  data needs: not declared (the trainer cannot check datasets against this loss)")
    doc = inspect.getdoc(obj)
    lines.append("")
    lines.append(doc if doc else "(no docstring)")
    return "\n".join(lines)


def run_show(args: argparse.Namespace) -> int:
    print(describe(_find(args.name, args.kind)))
    return 0


def catalogue_markdown() -> str:
    """The component catalogue (docs/catalogue.md), generated from the registries."""
    from sentrix.data_needs import data_needs_of

    lines = [
        "# Component catalogue",
        "",
        "Generated by `sentrix plugins catalogue -o docs/catalogue.md` from the installed entry points;",
        "`sentrix plugins show NAME` prints the full docstring of each.",
    ]
    for kind in KINDS:
        entries = get_registry(kind).entries()
        lines += ["", f"## {kind.replace('_', ' ').capitalize()} (`sentrix.{kind}`)", ""]
        if not entries:
            lines.append("None installed.")
            continue
        lines += ["| name | aliases | provider | summary |", "|---|---|---|---|"]
        for entry in entries:
            obj = entry.load()
            summary = (inspect.getdoc(obj) or "").strip().split("\n\n")[0].replace("\n", " ")
            needs = data_needs_of(obj)
            if needs is not None:
                summary += f" *Data:* {needs.describe()}"
            aliases = ", ".join(f"`{a}`" for a in entry.aliases) or "-"
            summary = summary.replace("|", "\\|")
            lines.append(f"| `{entry.name}` | {aliases} | {entry.provider} | {summary} |")
    return "\n".join(lines) + "\n"


def run_catalogue(args: argparse.Namespace) -> int:
    text = catalogue_markdown()
    if args.output:
        from pathlib import Path

        Path(args.output).write_text(text, encoding="utf-8")
        print(f"wrote {args.output}")
    else:
        print(text, end="")
    return 0


def run_coverage(args: argparse.Namespace) -> int:
    from sentrix._compat.coverage import coverage_markdown

    text = coverage_markdown()
    if args.output:
        from pathlib import Path

        Path(args.output).write_text(text, encoding="utf-8")
        print(f"wrote {args.output}")
    else:
        print(text, end="")
    return 0
