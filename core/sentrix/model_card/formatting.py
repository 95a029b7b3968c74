"""Small, dependency-free helpers the model card uses to turn Python values into card text.

Also the one place that keeps secrets off the card: :func:`redact_secrets`.
"""

from __future__ import annotations

import functools
import json
import platform
import re
from importlib import metadata
from typing import Any

_SECRET_KEY = re.compile(r"(token|secret|password|api_key|apikey|credential)", re.IGNORECASE)
# Hugging Face user/organisation tokens.
_SECRET_VALUE = re.compile(r"\b(hf_[A-Za-z0-9]{20,}|api_org_[A-Za-z0-9]{20,})\b")


def redact_secrets(value: Any) -> Any:
    """Return ``value`` with every secret-looking key dropped and token-looking strings masked."""
    if isinstance(value, dict):
        return {k: redact_secrets(v) for k, v in value.items() if not (isinstance(k, str) and _SECRET_KEY.search(k))}
    if isinstance(value, (list, tuple)):
        return type(value)(redact_secrets(v) for v in value)
    if isinstance(value, str):
        return _SECRET_VALUE.sub("<redacted>", value)
    return value


def plain(value: Any) -> Any:
    """A JSON-friendly version of ``value`` (enums -> value, classes -> dotted name, tensors -> python)."""
    if hasattr(value, "item") and callable(value.item) and getattr(value, "ndim", 1) == 0:
        try:
            return value.item()
        except Exception:  # pragma: no cover - exotic scalar
            pass
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set)):
        return [plain(v) for v in value]
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    enum_value = getattr(value, "value", None)
    if enum_value is not None and type(value).__class__.__name__ == "EnumMeta" or isinstance(enum_value, str):
        return enum_value
    if isinstance(value, type) or callable(value):
        return f"{getattr(value, '__module__', '?')}.{getattr(value, '__qualname__', type(value).__name__)}"
    return str(value)


def fullname(obj: Any) -> str:
    """``module.QualName`` of ``obj``'s class (or of ``obj`` if it is a class)."""
    cls = obj if isinstance(obj, type) else type(obj)
    module = cls.__module__
    return cls.__qualname__ if module == "builtins" else f"{module}.{cls.__qualname__}"


def format_log(value: Any) -> Any:
    """Round floats to 4 decimals for tables."""
    if isinstance(value, float):
        return round(value, 4)
    return value


def markdown_table(rows: list[dict[str, Any]]) -> str:
    """A GitHub-flavoured markdown table with the union of the rows' keys as header."""
    if not rows:
        return ""
    header: list[str] = []
    for row in rows:
        header.extend(k for k in row if k not in header)
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(":---" for _ in header) + "|"]
    for row in rows:
        cells = [str(format_log(row.get(k, "-"))).replace("|", "\\|").replace("\n", " ") for k in header]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def json_block(data: Any) -> str:
    """``data`` as an indented JSON code block."""
    try:
        text = json.dumps(plain(data), indent=2, ensure_ascii=False)
    except TypeError:
        text = str(data)
    return f"```json\n{text}\n```"


def yaml_text(data: dict[str, Any]) -> str:
    """``data`` as YAML in insertion order (the card's front matter)."""
    import yaml

    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=1000).strip()


def shorten(value: Any, limit: int = 120) -> Any:
    """A string cut to ``limit`` characters (with "..."), anything else made JSON-friendly."""
    if isinstance(value, str):
        return value if len(value) <= limit else value[: limit - 3] + "..."
    return plain(value)


def as_float(value: Any) -> float | None:
    """``value`` as a float, or ``None``; reads the number in front of strings like ``"0.5 (n=3)"``."""
    try:
        return float(value)
    except (TypeError, ValueError):
        if isinstance(value, str) and " " in value:
            return as_float(value.split()[0])
        return None


def get_versions() -> dict[str, str]:
    """Versions of the libraries a trained model depends on."""
    versions = {"python": platform.python_version()}
    for dist in ("sentrix", "transformers", "torch", "accelerate", "datasets", "tokenizers"):
        try:
            versions[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            pass
    return versions


@functools.lru_cache(maxsize=1)
def _packages_distributions() -> dict[str, list[str]]:
    # Reads the metadata of every installed distribution (seconds in a large environment): once per process.
    return metadata.packages_distributions()


def distribution_of(obj: Any) -> tuple[str, str | None]:
    """The installed distribution (name, version) that provides ``obj``'s class."""
    cls = obj if isinstance(obj, type) else type(obj)
    top = (cls.__module__ or "").split(".")[0]
    try:
        dists = _packages_distributions().get(top, [])
    except Exception:  # pragma: no cover - broken metadata
        dists = []
    if top == "sentrix_builtins":
        dists = dists or ["sentrix"]
    if not dists:
        return ("<local code>" if top in ("__main__", "") else top, None)
    name = dists[0]
    try:
        return name, metadata.version(name)
    except metadata.PackageNotFoundError:
        return name, None


def format_duration(seconds: float) -> str:
    """A duration in the largest unit that keeps it at least 1: ``"42.0 seconds"``, ``"1.5 hours"``."""
    for unit, size in (("days", 86400), ("hours", 3600), ("minutes", 60)):
        if seconds >= size:
            return f"{seconds / size:.1f} {unit}"
    return f"{seconds:.1f} seconds"
