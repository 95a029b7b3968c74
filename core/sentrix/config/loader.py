"""Reading a run config file (YAML or JSON) and applying ``--set key=value`` overrides."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from sentrix.config.errors import ConfigError, ConfigIssue

CONFIG_SUFFIXES = (".yaml", ".yml", ".json")


def read_config_file(path: str | Path) -> dict[str, Any]:
    """Parse ``path`` (``.yaml``/``.yml``/``.json``) into a dict. Raises :class:`ConfigError` naming the file."""
    path = Path(path)
    source = str(path)
    if not path.is_file():
        raise ConfigError(
            [ConfigIssue("", f"config file {source!r} does not exist.", "give the path of a .yaml or .json run config, "
                         "e.g. `sentrix train examples/quickstart.yaml`.")],
            source,
        )
    if path.suffix.lower() not in CONFIG_SUFFIXES:
        raise ConfigError(
            [ConfigIssue("", f"config file {source!r} has suffix {path.suffix!r}; expected one of {', '.join(CONFIG_SUFFIXES)}.",
                         "rename the file to .yaml (or .json for JSON).")],
            source,
        )
    text = path.read_text(encoding="utf-8")
    data = parse_config_text(text, json_only=path.suffix.lower() == ".json", source=source)
    return data


def parse_config_text(text: str, *, json_only: bool = False, source: str | None = None) -> dict[str, Any]:
    """Parse YAML (a superset of JSON) or, with ``json_only``, strict JSON text into a dict."""
    if json_only:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ConfigError(
                [ConfigIssue("", f"not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}.",
                             "fix the JSON syntax (double-quoted keys, no trailing commas), or write the config as YAML.")],
                source,
            ) from exc
    else:
        import yaml

        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
            problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
            raise ConfigError(
                [ConfigIssue("", f"not valid YAML{where}: {problem}.",
                             "check the indentation (spaces, not tabs) and that every `key: value` has a space after the colon.")],
                source,
            ) from exc
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(
            [ConfigIssue("", f"the config must be a mapping of sections (model, train_datasets, loss, ...); got a "
                         f"{type(data).__name__}.", "start the file with `model:` and the other sections at the top level.")],
            source,
        )
    return data


def apply_overrides(config: dict[str, Any], overrides: list[str] | None, source: str | None = None) -> dict[str, Any]:
    """Apply ``key.path=value`` overrides (values parsed as YAML: ``3``, ``1e-5``, ``true``, ``[a, b]``, ``{a: 1}``).

    Intermediate mappings are created as needed; list items are addressed by index (``evaluators.0.name``).
    """
    import yaml

    issues = []
    for raw in overrides or ():
        key, sep, text = raw.partition("=")
        key = key.strip()
        if not sep or not key:
            issues.append(ConfigIssue(f"--set {raw}", "an override must look like `key.path=value`.",
                                      "e.g. `--set training_args.max_steps=10`."))
            continue
        try:
            value = yaml.safe_load(text) if text.strip() else ""
        except yaml.YAMLError:
            value = text
        value = _number_or_text(value)
        node: Any = config
        parts = key.split(".")
        ok = True
        for index, part in enumerate(parts[:-1]):
            if isinstance(node, list) and part.isdigit() and int(part) < len(node):
                node = node[int(part)]
                continue
            if not isinstance(node, dict):
                issues.append(ConfigIssue(key, f"cannot set {key!r}: {'.'.join(parts[:index]) or 'the config'} is not a mapping.",
                                          "address a key inside a mapping, or a list item by index."))
                ok = False
                break
            node = node.setdefault(part, {})
        if not ok:
            continue
        last = parts[-1]
        if isinstance(node, list) and last.isdigit() and int(last) < len(node):
            node[int(last)] = value
        elif isinstance(node, dict):
            node[last] = value
        else:
            issues.append(ConfigIssue(key, f"cannot set {key!r}: its parent is not a mapping.", "check the key path."))
    if issues:
        raise ConfigError(issues, source)
    return config


def _number_or_text(value: Any) -> Any:
    """YAML 1.1 reads ``1e-5`` as text; a command-line override means the number."""
    if isinstance(value, str):
        try:
            return float(value) if any(c in value for c in ".eE") else int(value)
        except ValueError:
            return value
    return value


__all__ = ["read_config_file", "parse_config_text", "apply_overrides", "CONFIG_SUFFIXES"]
