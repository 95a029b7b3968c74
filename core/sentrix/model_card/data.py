"""``SentenceTransformerModelCardData``: what a model card says, collected while training.

It is a ``huggingface_hub.CardData``: :meth:`to_yaml` is the card's front matter (the Hub's
metadata block) and :meth:`to_dict` is what the card template sees.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from huggingface_hub import CardData

from sentrix.model_card.formatting import (
    as_float,
    distribution_of,
    fullname,
    plain,
    redact_secrets,
    shorten,
    yaml_text,
)

TEMPLATE_PATH = Path(__file__).with_name("template.md")

DEFAULT_TASK_NAME = (
    "semantic textual similarity, semantic search, paraphrase mining, text classification, clustering, and more"
)
DEFAULT_TAGS = ("sentence-transformers", "sentence-similarity", "feature-extraction", "dense", "sentrix")


def _registered_name(kind: str, obj: Any) -> str | None:
    """The registry name a component was registered under, or ``None`` (reads metadata only)."""
    try:
        from sentrix.registry import get_registry

        cls = obj if isinstance(obj, type) else type(obj)
        target = f"{cls.__module__}:{cls.__qualname__}"
        for entry in get_registry(kind).entries():
            if getattr(entry, "target", None) == target or getattr(entry, "obj", None) is cls:
                return entry.name
    except Exception:
        return None
    return None


@dataclass
class SentenceTransformerModelCardData(CardData):
    """What the model card of a ``SentenceTransformer`` says; filled in while training.

    Args:
        language: the model's language(s), e.g. ``"en"`` or ``["en", "de"]``.
        license: the licence identifier, e.g. ``"apache-2.0"``.
        model_name: the human-readable title of the card.
        model_id: the Hub id the model will be pushed to (``"user/name"``).
        train_datasets: descriptions of the training datasets: dicts with ``name`` and/or ``id``
            (and optionally ``revision``); filled in from the datasets when left empty.
        eval_datasets: the same for the evaluation datasets.
        task_name: what the model is for, used in the card's prose (default "semantic textual
            similarity, semantic search, paraphrase mining, text classification, clustering, and
            more").
        tags: Hub tags.
        local_files_only: do not contact the Hub to look up dataset or base-model ids.
        generate_widget_examples: take a few rows of the data as widget examples.

    Example:
        .. code-block:: python

            from sentrix import SentenceTransformer, SentenceTransformerModelCardData

            model = SentenceTransformer(
                "all-MiniLM-L6-v2",
                model_card_data=SentenceTransformerModelCardData(language="en", license="apache-2.0"),
            )
            model.save_pretrained("out")  # writes out/README.md
    """

    language: str | list[str] | None = field(default_factory=list)
    license: str | None = None
    model_name: str | None = None
    model_id: str | None = None
    train_datasets: list[dict[str, Any]] = field(default_factory=list)
    eval_datasets: list[dict[str, Any]] = field(default_factory=list)
    task_name: str = DEFAULT_TASK_NAME
    tags: list[str] | None = field(default_factory=lambda: list(DEFAULT_TAGS))
    local_files_only: bool = False
    generate_widget_examples: bool = True

    # Filled in automatically.
    base_model: str | None = field(default=None, init=False)
    base_model_revision: str | None = field(default=None, init=False)
    non_default_hyperparameters: dict[str, Any] = field(default_factory=dict, init=False)
    all_hyperparameters: dict[str, Any] = field(default_factory=dict, init=False)
    resolved_config: dict[str, Any] = field(default_factory=dict, init=False)
    plots: list[str] = field(default_factory=list, init=False)  # image files saved next to the model
    losses: list[dict[str, Any]] = field(default_factory=list, init=False)
    eval_results: list[dict[str, Any]] = field(default_factory=list, init=False)
    training_logs: list[dict[str, Any]] = field(default_factory=list, init=False)
    widget: list[dict[str, Any]] = field(default_factory=list, init=False)
    citations: dict[str, str] = field(default_factory=dict, init=False)
    components: list[dict[str, Any]] = field(default_factory=list, init=False)
    best_model_step: int | None = field(default=None, init=False)
    training_duration: float | None = field(default=None, init=False)
    training_tokens: dict[str, Any] | None = field(default=None, init=False)  # real/padding tokens per step
    pipeline_tag: str = field(default="sentence-similarity", init=False)
    library_name: str = field(default="sentence-transformers", init=False)
    template_path: Path = field(default=TEMPLATE_PATH, init=False, repr=False)
    _training_start_time: float | None = field(default=None, init=False, repr=False)
    model: Any = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        if isinstance(self.language, str):
            self.language = [self.language]
        self.tags = list(self.tags or [])

    # -- setters used by the model and the trainer -------------------------------------------------
    def register_model(self, model: Any) -> None:
        self.model = model

    def set_model_id(self, model_id: str) -> None:
        self.model_id = model_id

    def set_base_model(self, model_id: str | None, revision: str | None = None) -> bool:
        if not model_id:
            return False
        self.base_model = str(model_id)
        self.base_model_revision = revision
        return True

    def set_language(self, language: str | list[str]) -> None:
        self.language = [language] if isinstance(language, str) else list(language)

    def set_license(self, license: str) -> None:
        self.license = license

    def add_tags(self, tags: str | list[str]) -> None:
        for tag in [tags] if isinstance(tags, str) else tags:
            if tag not in self.tags:
                self.tags.append(tag)

    def set_best_model_step(self, step: int) -> None:
        self.best_model_step = step

    def set_losses(self, losses: Any) -> None:
        """Record each loss with its parameters (``get_config_dict``) and citation."""
        if isinstance(losses, dict):
            items = list(losses.items())
        elif isinstance(losses, (list, tuple)):
            items = [(None, loss) for loss in losses]
        else:
            items = [(None, losses)]
        self.losses = []
        for dataset_name, loss in items:
            config: dict[str, Any] = {}
            if hasattr(loss, "get_config_dict"):
                try:
                    config = plain(loss.get_config_dict())
                except Exception:  # a loss's config must not break saving
                    config = {}
            self.losses.append(
                {
                    "dataset": dataset_name,
                    "class": fullname(loss),
                    "name": type(loss).__name__,
                    "registered_as": _registered_name("losses", loss),
                    "config": redact_secrets(config),
                }
            )
            citation = getattr(loss, "citation", None)
            if citation:
                self.citations[type(loss).__name__] = citation
            self.add_component("loss", loss)
        names = dict.fromkeys(type(loss).__name__ for loss in _with_inner_losses(items))
        self.add_tags([f"loss:{name}" for name in names])

    def add_component(self, kind: str, obj: Any) -> None:
        """Remember a component used to build/train the model, for the provenance table."""
        dist, version = distribution_of(obj)
        row = {"kind": kind, "component": type(obj).__name__ if not isinstance(obj, type) else obj.__name__,
               "distribution": dist, "version": version or "-"}
        if row not in self.components:
            self.components.append(row)

    def set_evaluation_metrics(self, evaluator: Any, metrics: dict[str, Any], epoch: float = 0, step: int = 0) -> None:
        """Keep the latest metrics of ``evaluator`` (the last evaluation wins)."""
        metrics = {k: plain(v) for k, v in metrics.items()}
        name = getattr(evaluator, "name", "") or ""
        self.eval_results = [r for r in self.eval_results if r["evaluator"] is not evaluator]
        self.eval_results.append(
            {
                "evaluator": evaluator,
                "class": fullname(evaluator),
                "name": name,
                "description": getattr(evaluator, "description", type(evaluator).__name__),
                "primary_metric": getattr(evaluator, "primary_metric", None),
                "metrics": metrics,
                "epoch": epoch,
                "step": step,
            }
        )
        citation = getattr(evaluator, "citation", None)
        if citation:
            self.citations[type(evaluator).__name__] = citation

    def infer_datasets(self, dataset: Any, dataset_name: str | None = None) -> list[dict[str, Any]]:
        """Describe a Dataset / DatasetDict: name, size, columns with types, and a few example rows."""
        if isinstance(dataset, dict):
            out: list[dict[str, Any]] = []
            for name, sub in dataset.items():
                out.extend(self.infer_datasets(sub, dataset_name=name))
            return out
        info: dict[str, Any] = {"name": dataset_name or "unnamed"}
        try:
            info["size"] = len(dataset)
        except TypeError:
            info["size"] = None
        columns = [c for c in (getattr(dataset, "column_names", None) or []) if c != "dataset_name"]
        info["columns"] = columns
        features = getattr(dataset, "features", None) or {}
        info["column_types"] = {c: getattr(features.get(c), "dtype", str(features.get(c))) for c in columns}
        examples = []
        try:
            n = min(3, len(dataset))
            rows = dataset.select_columns(columns)[:n] if hasattr(dataset, "select_columns") else dataset[:n]
            for i in range(n):
                examples.append({c: shorten(rows[c][i]) for c in columns})
        except Exception:  # iterable or exotic dataset: no examples
            pass
        info["examples"] = examples
        cache_files = getattr(dataset, "cache_files", None) or []
        for cache in cache_files:
            match = re.search(r"datasets/([^/]+)___([^/]+)/", cache.get("filename", ""))
            if match and not self.local_files_only:
                info["id"] = f"{match.group(1)}/{match.group(2)}"
                break
        return [info]

    def set_widget_examples(self, dataset: Any) -> None:
        if not self.generate_widget_examples:
            return
        infos = self.infer_datasets(dataset)
        for info in infos:
            for row in info.get("examples", [])[:1]:
                texts = [v for v in row.values() if isinstance(v, str)]
                if len(texts) >= 2:
                    self.widget.append({"source_sentence": texts[0], "sentences": texts[1:]})
            if len(self.widget) >= 3:
                break

    # -- what the card shows -------------------------------------------------------------------------
    def to_yaml_dict(self) -> dict[str, Any]:
        """The card's front matter (Hub metadata), secrets removed."""
        data: dict[str, Any] = {}
        if self.language:
            data["language"] = self.language
        if self.license:
            data["license"] = self.license
        data["library_name"] = self.library_name
        data["pipeline_tag"] = self.pipeline_tag
        data["tags"] = self.tags
        if self.base_model:
            data["base_model"] = self.base_model
        ids = [d["id"] for d in self.train_datasets + self.eval_datasets if d.get("id")]
        if ids:
            data["datasets"] = sorted(set(ids))
        if self.widget:
            data["widget"] = self.widget
        metrics: list[str] = []
        model_index_results = []
        for result in self.eval_results:
            short = self.short_metric_names(result)
            metrics.extend(key for key in short if key not in metrics)
            model_index_results.extend(_model_index_results(result, short))
        if metrics:
            data["metrics"] = metrics
        if model_index_results:
            from huggingface_hub.repocard_data import eval_results_to_model_index

            data["model-index"] = eval_results_to_model_index(self.card_title(), model_index_results)
        return redact_secrets(data)

    def to_yaml(self, line_break: str | None = None, original_order: list[str] | None = None) -> str:
        """The front matter as YAML (``CardData`` API; ``ModelCard.from_template`` calls it)."""
        text = yaml_text(self.to_yaml_dict())
        return text.replace("\n", line_break) if line_break else text

    def card_title(self) -> str:
        """The card's title: ``model_name``, else "SentenceTransformer based on <base model>"."""
        if self.model_name:
            return self.model_name
        return f"SentenceTransformer based on {self.base_model}" if self.base_model else "SentenceTransformer"

    @staticmethod
    def short_metric_names(result: dict[str, Any]) -> dict[str, Any]:
        """An evaluator's metrics without its ``<name>_`` prefix (when every key carries it)."""
        name, metrics = result["name"], result["metrics"]
        if name and all(key.startswith(name + "_") for key in metrics):
            return {key[len(name) + 1 :]: value for key, value in metrics.items()}
        return dict(metrics)

    def to_dict(self) -> dict[str, Any]:
        """Every field as plain data, secrets removed (``CardData`` API; the template's variables)."""
        out = {}
        for f in fields(self):
            if f.name in ("model", "_training_start_time", "template_path"):
                continue
            out[f.name] = getattr(self, f.name)
        out["eval_results"] = [{k: v for k, v in r.items() if k != "evaluator"} for r in self.eval_results]
        return redact_secrets(plain(out))


def get_losses(loss: Any) -> list[Any]:
    """Every loss of ``loss`` (a loss or a ``{dataset: loss}`` dict) and the losses they wrap, each once."""
    items = list(loss.items()) if isinstance(loss, dict) else [(None, loss)]
    return _with_inner_losses(items)


def _with_inner_losses(items: list[tuple[Any, Any]]) -> list[Any]:
    """The losses of ``items`` plus the losses they wrap (e.g. MatryoshkaLoss(loss=...)), each once."""
    losses = [loss for _, loss in items]
    index = 0
    while index < len(losses):
        for attribute in ("loss", "document_regularizer", "query_regularizer"):
            inner = getattr(losses[index], attribute, None)
            if inner is not None and callable(inner) and not any(inner is known for known in losses):
                losses.append(inner)
        index += 1
    return losses


def _model_index_results(result: dict[str, Any], metrics: dict[str, Any]) -> list[Any]:
    """The Hub ``model-index`` entries (huggingface_hub ``EvalResult``) of one evaluator's numeric metrics."""
    from huggingface_hub.repocard_data import EvalResult

    description = str(result["description"])
    name = result["name"] or None
    entries = []
    for key, value in metrics.items():
        number = as_float(value)
        if number is None:
            continue
        entries.append(
            EvalResult(
                task_name=description,
                task_type=description.lower().replace(" ", "-"),
                dataset_type=name or "unknown",
                dataset_name=name.replace("_", " ").replace("-", " ") if name else "Unknown",
                metric_name=key.replace("_", " ").title(),
                metric_type=key,
                metric_value=number,
            )
        )
    return entries
