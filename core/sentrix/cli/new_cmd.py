"""``sentrix new plugin``: render ``templates/plugin`` into a pip-installable plugin package."""

from __future__ import annotations

import argparse
import re
from pathlib import Path
from typing import Any

from sentrix.errors import InvalidInputError

KIND_CHOICES = {
    "loss": "losses",
    "batch_sampler": "batch_samplers",
    "multi_dataset_batch_sampler": "multi_dataset_batch_samplers",
    "evaluator": "evaluators",
    "router_mapping": "router_mappings",
    "callback": "callbacks",
    "module": "modules",
}
TEMPLATED_KINDS = ("losses", "batch_samplers", "evaluators", "router_mappings", "callbacks", "modules")

USAGE = {
    "losses": "```python\nfrom sentrix import SentenceTransformerTrainer\n\ntrainer = SentenceTransformerTrainer(model=model, train_dataset=pairs, loss=\"{name}\")\n```",
    "batch_samplers": "```python\nargs = SentenceTransformerTrainingArguments(output_dir=\"out\", batch_sampler=\"{name}\")\n```",
    "evaluators": "```python\nfrom sentrix.registry import evaluators\n\nevaluator = evaluators.create(\"{name}\", sentences1=[...], sentences2=[...], name=\"dev\")\nprint(evaluator(model))\n```",
    "router_mappings": "```python\nargs = SentenceTransformerTrainingArguments(output_dir=\"out\", router_mapping=\"{name}\")\n```",
    "callbacks": "```python\ntrainer = SentenceTransformerTrainer(model=model, args=args, train_dataset=data, callbacks=[\"{name}\"])\n```",
    "modules": "```python\nfrom sentrix import SentenceTransformer\nfrom sentrix.registry import modules\n\nmodel = SentenceTransformer(modules=[*base_model, modules.create(\"{name}\", factor=2.0)])\n```",
}

_DIST_NAME = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9._-]*[A-Za-z0-9])?$")
_COMPONENT_NAME = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)*$")


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser("new", help="scaffold a new project from a template")
    sub = parser.add_subparsers(dest="new_command", metavar="TEMPLATE")
    parser.set_defaults(func=lambda args: (parser.print_help(), 0)[1])
    plugin = sub.add_parser("plugin", help="a pip-installable plugin package with one component and its tests")
    plugin.add_argument("dist_name", help="distribution name, e.g. sentrix-acme")
    plugin.add_argument("--kind", default="loss", help=f"component kind: {', '.join(KIND_CHOICES)} (default: loss)")
    plugin.add_argument("--name", help="registered component name (default: <namespace>.example_<kind>, e.g. acme.example_loss)")
    plugin.add_argument("--class-name", help="Python class name (default: derived from --name)")
    plugin.add_argument("--description", default=None, help="one line for the README and pyproject")
    plugin.add_argument("--output", "-o", default=".", help="folder to create the package in (default: .)")
    plugin.set_defaults(func=run_new_plugin)


def templates_root() -> Path:
    """``templates/`` of a source checkout, or the copy shipped inside the wheel."""
    here = Path(__file__).resolve().parent.parent
    for candidate in (here / "_templates", here.parent.parent / "templates"):
        if (candidate / "plugin").is_dir():
            return candidate
    raise FileNotFoundError("sentrix's plugin templates are missing; reinstall sentrix.")


def _camel(name: str) -> str:
    return "".join(part.capitalize() for part in re.split(r"[._\-]", name) if part)


def plan_plugin(dist_name: str, kind: str = "loss", name: str | None = None, class_name: str | None = None,
                description: str | None = None) -> dict[str, str]:
    """Validate the inputs and return the template variables. Raises before anything is written."""
    if not _DIST_NAME.match(dist_name):
        raise InvalidInputError(
            f"Plugin distribution name {dist_name!r} is not a valid package name.\n"
            "Expected letters, digits, '-', '_' or '.', starting and ending with a letter or digit, e.g. sentrix-acme."
        )
    kind_plural = KIND_CHOICES.get(kind, kind)
    if kind_plural not in TEMPLATED_KINDS:
        raise InvalidInputError(
            f"--kind {kind!r} has no template.\nExpected one of: "
            + ", ".join(k for k, v in KIND_CHOICES.items() if v in TEMPLATED_KINDS)
            + "."
        )
    package = re.sub(r"[-.]+", "_", dist_name).lower()
    namespace = re.sub(r"^sentrix[_]", "", package) or package
    singular = next(k for k, v in KIND_CHOICES.items() if v == kind_plural)
    component_name = name or f"{namespace}.example_{singular}"
    if not _COMPONENT_NAME.match(component_name):
        raise InvalidInputError(
            f"--name {component_name!r} is not a valid component name.\n"
            "Expected lower-case snake_case, namespaced with dots, e.g. acme.focal_ranking."
        )
    if class_name is None:
        suffix = {
            "losses": "Loss", "batch_samplers": "BatchSampler", "evaluators": "Evaluator",
            "router_mappings": "RouterMapping", "callbacks": "Callback", "modules": "Module",
        }[kind_plural]
        class_name = _camel(component_name.split(".")[-1])
        if not class_name.endswith(suffix):
            class_name += suffix
    if not class_name.isidentifier():
        raise InvalidInputError(f"--class-name {class_name!r} is not a Python identifier; pass e.g. --class-name FocalLoss.")
    from sentrix import __version__
    from sentrix.plugin_api import API_VERSION

    major, minor = (int(x) for x in __version__.split(".")[:2])
    return {
        "dist_name": dist_name,
        "package": package,
        "kind": kind_plural,
        "kind_singular": singular.replace("_", " "),
        "component_name": component_name,
        "class_name": class_name,
        "module": re.sub(r"(?<!^)(?=[A-Z])", "_", class_name).lower(),
        "description": description or f"A sentrix {singular.replace('_', ' ')} plugin.",
        "sentrix_min": f"{major}.{minor}",
        "plugin_api": API_VERSION,
        "sentrix_next_major": f"{major + 1}",
        "usage": USAGE[kind_plural].format(name=component_name),
    }


def _render(text: str, variables: dict[str, str]) -> str:
    return re.sub(r"\{\{(\w+)\}\}", lambda m: variables[m.group(1)], text)


def render_plugin(variables: dict[str, str], output: Path) -> Path:
    """Write the package to ``output/<dist_name>``; refuses to touch an existing folder."""
    target = output / variables["dist_name"]
    if target.exists():
        raise InvalidInputError(
            f"{target} already exists; sentrix new plugin never overwrites files.\n"
            "Fix: choose another --output folder or distribution name, or remove that folder yourself."
        )
    root = templates_root() / "plugin"
    files = {
        "pyproject.toml": root / "pyproject.toml.tmpl",
        "README.md": root / "README.md.tmpl",
        f"src/{variables['package']}/__init__.py": root / "__init__.py.tmpl",
        f"src/{variables['package']}/{variables['module']}.py": root / "components" / f"{variables['kind']}.py.tmpl",
        f"tests/test_{variables['module']}.py": root / "tests" / "test_component.py.tmpl",
    }
    rendered = {
        rel: (_render(src.read_text(encoding="utf-8"), variables) if src else f'"""{variables["description"]}"""\n')
        for rel, src in files.items()
    }
    staging = output / f".{variables['dist_name']}.partial"
    if staging.exists():
        raise InvalidInputError(f"{staging} exists (left by an interrupted run); remove it and retry.")
    for rel, text in rendered.items():
        path = staging / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    staging.rename(target)
    return target


def run_new_plugin(args: argparse.Namespace) -> int:
    variables = plan_plugin(args.dist_name, args.kind, args.name, args.class_name, args.description)
    output = Path(args.output)
    if not output.is_dir():
        raise InvalidInputError(f"--output {str(output)!r} is not an existing folder; create it first.")
    target = render_plugin(variables, output)
    print(f"Created {target} with {variables['kind_singular']} {variables['component_name']!r} ({variables['class_name']}).")
    print("Next:")
    print(f"  pip install -e {target}")
    print(f"  sentrix plugins list --kind {variables['kind']}")
    print(f"  pytest {target / 'tests'}")
    return 0


