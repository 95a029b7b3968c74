"""The model card (``README.md``) written next to every saved model.

``SentenceTransformerModelCardData`` collects what a card needs while a model is built and
trained; :func:`generate_model_card` renders it. The card records where the model came from:

* the base model, and the datasets it was trained/evaluated on with their columns and a few rows;
* every loss with its parameters, the non-default training arguments and the resolved
  configuration;
* the training log (training and validation loss per logging step) and evaluator metric tables;
* the sentrix plugin distributions and library versions that produced it (provenance);
* citations of the losses and evaluators used;
* extra sections added by plugins through the ``sentrix_model_card_sections`` hook.

A Hub token (or anything that looks like one) never reaches the card: token arguments are left
out and the final text is scrubbed.

Example::

    from sentrix import SentenceTransformer, SentenceTransformerModelCardData

    model = SentenceTransformer(
        "all-MiniLM-L6-v2",
        model_card_data=SentenceTransformerModelCardData(language="en", license="apache-2.0"),
    )
    model.save_pretrained("out")   # writes out/README.md through generate_model_card(model)
"""

from __future__ import annotations

import json
import logging
import platform
import re
import time
from dataclasses import dataclass, field, fields
from importlib import metadata
from typing import Any

logger = logging.getLogger(__name__)

# Training arguments never shown on the card: bookkeeping that says nothing about the model, and secrets.
_IGNORED_ARGS = {
    "output_dir", "logging_dir", "logging_strategy", "logging_first_step", "logging_steps",
    "eval_strategy", "evaluation_strategy", "eval_steps", "eval_delay", "save_strategy", "save_steps",
    "save_total_limit", "report_to", "do_train", "do_eval", "do_predict", "run_name",
    "overwrite_output_dir", "push_to_hub", "hub_model_id", "hub_strategy", "hub_private_repo",
}
_SECRET_KEY = re.compile(r"(token|secret|password|api_key|apikey|credential)", re.IGNORECASE)
# Hugging Face user/organisation tokens and generic bearer-looking secrets.
_SECRET_VALUE = re.compile(r"\b(hf_[A-Za-z0-9]{20,}|api_org_[A-Za-z0-9]{20,})\b")

_SENTRIX_CITATION = """@software{sentrix,
    title = {sentrix: plugin-shaped training of sentence-embedding models},
    year = {2026},
}"""
_SBERT_CITATION = """@inproceedings{reimers-2019-sentence-bert,
    title = "Sentence-BERT: Sentence Embeddings using Siamese BERT-Networks",
    author = "Reimers, Nils and Gurevych, Iryna",
    booktitle = "Proceedings of the 2019 Conference on Empirical Methods in Natural Language Processing",
    month = "11",
    year = "2019",
    publisher = "Association for Computational Linguistics",
    url = "https://arxiv.org/abs/1908.10084",
}"""


def redact_secrets(value: Any) -> Any:
    """Return ``value`` with every secret-looking key dropped and token-looking strings masked."""
    if isinstance(value, dict):
        return {k: redact_secrets(v) for k, v in value.items() if not (isinstance(k, str) and _SECRET_KEY.search(k))}
    if isinstance(value, (list, tuple)):
        return type(value)(redact_secrets(v) for v in value)
    if isinstance(value, str):
        return _SECRET_VALUE.sub("<redacted>", value)
    return value


def _plain(value: Any) -> Any:
    """A JSON-friendly version of ``value`` (enums -> value, classes -> dotted name, tensors -> python)."""
    if hasattr(value, "item") and callable(value.item) and getattr(value, "ndim", 1) == 0:
        try:
            return value.item()
        except Exception:  # pragma: no cover - exotic scalar
            pass
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set)):
        return [_plain(v) for v in value]
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    enum_value = getattr(value, "value", None)
    if enum_value is not None and type(value).__class__.__name__ == "EnumMeta" or isinstance(enum_value, str):
        return enum_value
    if isinstance(value, type) or callable(value):
        return f"{getattr(value, '__module__', '?')}.{getattr(value, '__qualname__', type(value).__name__)}"
    return str(value)


def fullname(obj: Any) -> str:
    cls = obj if isinstance(obj, type) else type(obj)
    module = cls.__module__
    return cls.__qualname__ if module == "builtins" else f"{module}.{cls.__qualname__}"


def format_log(value: Any) -> Any:
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


def get_versions() -> dict[str, str]:
    """Versions of the libraries a trained model depends on."""
    versions = {"python": platform.python_version()}
    for dist in ("sentrix", "transformers", "torch", "accelerate", "datasets", "tokenizers"):
        try:
            versions[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            pass
    return versions


def distribution_of(obj: Any) -> tuple[str, str | None]:
    """The installed distribution (name, version) that provides ``obj``'s class."""
    cls = obj if isinstance(obj, type) else type(obj)
    top = (cls.__module__ or "").split(".")[0]
    try:
        dists = metadata.packages_distributions().get(top, [])
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
class SentenceTransformerModelCardData:
    """What the model card of a ``SentenceTransformer`` says; filled in while training.

    :param language: the model's language(s), e.g. ``"en"`` or ``["en", "de"]``.
    :param license: the licence identifier, e.g. ``"apache-2.0"``.
    :param model_name: the human-readable title of the card.
    :param model_id: the Hub id the model will be pushed to (``"user/name"``).
    :param train_datasets: descriptions of the training datasets: dicts with ``name`` and/or ``id``
        (and optionally ``revision``); filled in from the datasets when left empty.
    :param eval_datasets: the same for the evaluation datasets.
    :param task_name: what the model is for, used in the card's prose (default "semantic textual
        similarity, semantic search, paraphrase mining, text classification, clustering, and more").
    :param tags: Hub tags.
    :param local_files_only: do not contact the Hub to look up dataset or base-model ids.
    :param generate_widget_examples: take a few rows of the data as widget examples.
    """

    language: str | list[str] | None = field(default_factory=list)
    license: str | None = None
    model_name: str | None = None
    model_id: str | None = None
    train_datasets: list[dict[str, Any]] = field(default_factory=list)
    eval_datasets: list[dict[str, Any]] = field(default_factory=list)
    task_name: str = (
        "semantic textual similarity, semantic search, paraphrase mining, text classification, clustering, and more"
    )
    tags: list[str] | None = field(
        default_factory=lambda: ["sentence-transformers", "sentence-similarity", "feature-extraction", "dense", "sentrix"]
    )
    local_files_only: bool = False
    generate_widget_examples: bool = True

    # Filled in automatically.
    base_model: str | None = field(default=None, init=False)
    base_model_revision: str | None = field(default=None, init=False)
    non_default_hyperparameters: dict[str, Any] = field(default_factory=dict, init=False)
    all_hyperparameters: dict[str, Any] = field(default_factory=dict, init=False)
    resolved_config: dict[str, Any] = field(default_factory=dict, init=False)
    losses: list[dict[str, Any]] = field(default_factory=list, init=False)
    eval_results: list[dict[str, Any]] = field(default_factory=list, init=False)
    training_logs: list[dict[str, Any]] = field(default_factory=list, init=False)
    widget: list[dict[str, Any]] = field(default_factory=list, init=False)
    citations: dict[str, str] = field(default_factory=dict, init=False)
    components: list[dict[str, Any]] = field(default_factory=list, init=False)
    best_model_step: int | None = field(default=None, init=False)
    training_duration: float | None = field(default=None, init=False)
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
                    config = _plain(loss.get_config_dict())
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
        self.add_tags([f"loss:{name}" for name in dict.fromkeys(type(loss).__name__ for loss in _with_inner_losses(items))])

    def add_component(self, kind: str, obj: Any) -> None:
        """Remember a component used to build/train the model, for the provenance table."""
        dist, version = distribution_of(obj)
        row = {"kind": kind, "component": type(obj).__name__ if not isinstance(obj, type) else obj.__name__,
               "distribution": dist, "version": version or "-"}
        if row not in self.components:
            self.components.append(row)

    def set_evaluation_metrics(self, evaluator: Any, metrics: dict[str, Any], epoch: float = 0, step: int = 0) -> None:
        """Keep the latest metrics of ``evaluator`` (the last evaluation wins)."""
        metrics = {k: _plain(v) for k, v in metrics.items()}
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
                examples.append({c: _shorten(rows[c][i]) for c in columns})
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

    def to_yaml_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {}
        if self.language:
            data["language"] = self.language
        if self.license:
            data["license"] = self.license
        data["library_name"] = "sentence-transformers"
        data["pipeline_tag"] = "sentence-similarity"
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
        out = {}
        for f in fields(self):
            if f.name in ("model", "_training_start_time"):
                continue
            out[f.name] = getattr(self, f.name)
        out["eval_results"] = [{k: v for k, v in r.items() if k != "evaluator"} for r in self.eval_results]
        return redact_secrets(_plain(out))


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
        number = _as_float(value)
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


def _as_float(value: Any) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        if isinstance(value, str) and " " in value:
            return _as_float(value.split()[0])
        return None


def _shorten(value: Any, limit: int = 120) -> Any:
    if isinstance(value, str):
        return value if len(value) <= limit else value[: limit - 3] + "..."
    return _plain(value)


# ------------------------------------------------------------------------------------------------
# Rendering
# ------------------------------------------------------------------------------------------------
def _yaml(data: dict[str, Any]) -> str:
    import yaml

    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=1000).strip()


def _json_block(data: Any) -> str:
    try:
        text = json.dumps(_plain(data), indent=2, ensure_ascii=False)
    except TypeError:
        text = str(data)
    return f"```json\n{text}\n```"


def _model_architecture(model: Any) -> str:
    try:
        return "```\n" + repr(model) + "\n```"
    except Exception:
        return ""


def _dataset_section(title: str, infos: list[dict[str, Any]], losses: list[dict[str, Any]]) -> list[str]:
    out = [f"### {title}", ""]
    for info in infos:
        heading = info.get("name", "unnamed")
        if info.get("id"):
            heading += f" ([{info['id']}](https://huggingface.co/datasets/{info['id']}))"
        out += [f"#### {heading}", ""]
        if info.get("size") is not None:
            out.append(f"* Size: {info['size']} rows")
        if info.get("columns"):
            cols = ", ".join(f"`{c}` ({info.get('column_types', {}).get(c, '?')})" for c in info["columns"])
            out.append(f"* Columns: {cols}")
        loss = next((l for l in losses if l["dataset"] in (info.get("name"), None)), None)
        if loss:
            out.append(f"* Loss: `{loss['class']}`")
        out.append("")
        if info.get("examples"):
            out += ["Examples:", "", markdown_table(info["examples"]), ""]
    return out


def generate_model_card(model: Any, trainer: Any | None = None) -> str:
    """Render the ``README.md`` for ``model`` (and the ``trainer`` that trained it, if any)."""
    card: SentenceTransformerModelCardData | None = getattr(model, "model_card_data", None)
    if card is None:
        card = SentenceTransformerModelCardData()
    if trainer is not None and not card.losses and getattr(trainer, "loss", None) is not None:
        card.set_losses(trainer.loss)

    title = card.card_title()
    lines: list[str] = ["---", _yaml(card.to_yaml_dict()), "---", "", f"# {title}", ""]
    trained_on = ", ".join(d["name"] for d in card.train_datasets if d.get("name") not in (None, "train", "unnamed")) or None
    lines.append(
        "This is a [sentence-transformers](https://www.SBERT.net) model"
        + (f" fine-tuned from [{card.base_model}](https://huggingface.co/{card.base_model})" if card.base_model else "")
        + (f" on {trained_on}" if trained_on else "")
        + ", trained with sentrix. It maps sentences and paragraphs to a "
        f"dense vector space and can be used for {card.task_name}."
    )
    lines.append("")

    # Model details
    lines += ["## Model Details", "", "### Model Description", ""]
    details = {"Model Type": "Sentence Transformer"}
    if card.base_model:
        rev = f" <!-- at revision {card.base_model_revision} -->" if card.base_model_revision else ""
        details["Base model"] = f"[{card.base_model}](https://huggingface.co/{card.base_model}){rev}"
    for attr, label in (("max_seq_length", "Maximum Sequence Length"),):
        value = getattr(model, attr, None)
        if value is not None:
            details[label] = f"{value} tokens"
    dim = None
    for getter in ("get_sentence_embedding_dimension", "get_embedding_dimension"):
        if hasattr(model, getter):
            try:
                dim = getattr(model, getter)()
            except Exception:
                dim = None
            break
    if dim:
        details["Output Dimensionality"] = f"{dim} dimensions"
    sim = getattr(model, "similarity_fn_name", None)
    if sim:
        details["Similarity Function"] = str(getattr(sim, "value", sim))
    if card.train_datasets:
        details["Training Datasets"] = ", ".join(d.get("name", "?") for d in card.train_datasets)
    if card.language:
        details["Language"] = ", ".join(card.language)
    if card.license:
        details["License"] = card.license
    lines += [f"- **{k}:** {v}" for k, v in details.items()] + [""]
    arch = _model_architecture(model)
    if arch:
        lines += ["### Full Model Architecture", "", arch, ""]

    # Usage
    model_ref = card.model_id or "path/to/this/model"
    examples = (card.widget[0]["sentences"][:2] if card.widget else []) or ["The weather is lovely today.", "It's so sunny outside!"]
    first = card.widget[0]["source_sentence"] if card.widget else "He drove to the stadium."
    sentences = [first, *examples]
    lines += [
        "## Usage",
        "",
        "```python",
        "from sentence_transformers import SentenceTransformer",
        "",
        f'model = SentenceTransformer("{model_ref}")',
        "sentences = [",
        *[f"    {json.dumps(s, ensure_ascii=False)}," for s in sentences],
        "]",
        "embeddings = model.encode(sentences)",
        "similarities = model.similarity(embeddings, embeddings)",
        "```",
        "",
    ]

    # Evaluation
    if card.eval_results:
        lines += ["## Evaluation", "", "### Metrics", ""]
        for result in card.eval_results:
            name = result["name"]
            metrics = result["metrics"]
            primary = result["primary_metric"]
            rows = []
            for key, value in metrics.items():
                short = key[len(name) + 1 :] if name and key.startswith(name + "_") else key
                is_primary = primary in (key, short)
                shown = f"**{format_log(value)}**" if is_primary else format_log(value)
                rows.append({"Metric": f"**{short}**" if is_primary else short, "Value": shown})
            label = f"#### {result['description']}" + (f" (`{name}`)" if name else "")
            lines += [label, "", f"* Evaluated with `{result['class']}`", "", markdown_table(rows), ""]

    # Training details
    if card.train_datasets or card.losses or card.non_default_hyperparameters or card.training_logs:
        lines += ["## Training Details", ""]
        if card.train_datasets:
            lines += _dataset_section("Training Datasets", card.train_datasets, card.losses)
        if card.eval_datasets:
            lines += _dataset_section("Evaluation Datasets", card.eval_datasets, card.losses)
        if card.losses:
            lines += ["### Losses", ""]
            for loss in card.losses:
                where = f" (dataset `{loss['dataset']}`)" if loss["dataset"] else ""
                reg = f", registered as `{loss['registered_as']}`" if loss.get("registered_as") else ""
                lines += [f"* `{loss['class']}`{where}{reg} with these parameters:", "", _json_block(loss["config"]), ""]
        if card.non_default_hyperparameters:
            lines += ["### Training Hyperparameters", "", "#### Non-Default Hyperparameters", ""]
            lines += [f"- `{k}`: {_plain(v)}" for k, v in redact_secrets(card.non_default_hyperparameters).items()] + [""]
        if card.training_logs:
            lines += ["### Training Logs", "", markdown_table(card.training_logs), ""]
            if card.best_model_step is not None:
                lines += [f"The saved checkpoint is the best one, from step {card.best_model_step}.", ""]
        if card.training_duration is not None:
            lines += [f"Training took {card.training_duration:.1f} seconds.", ""]

    # Provenance
    lines += ["## Provenance", "", "### Framework Versions", ""]
    lines += [f"- {k}: {v}" for k, v in get_versions().items()] + [""]
    if card.components:
        lines += ["### Components and the distributions that provided them", "", markdown_table(card.components), ""]
    if card.resolved_config:
        lines += ["### Resolved Configuration", "", _json_block(redact_secrets(card.resolved_config)), ""]

    # Plugin sections
    try:
        from sentrix.plugins import get_plugin_manager

        results = get_plugin_manager().hook.sentrix_model_card_sections(model=model, trainer=trainer)
    except Exception as exc:  # a broken plugin must not block saving
        logger.warning("A sentrix_model_card_sections hook failed and was skipped: %s", exc)
        results = []
    for sections in results or []:
        for heading, body in sections or []:
            lines += [f"## {heading}", "", str(body).rstrip(), ""]

    # Citations
    lines += ["## Citation", "", "### BibTeX", "", "#### Sentence Transformers", "", "```bibtex", _SBERT_CITATION, "```", ""]
    lines += ["#### sentrix", "", "```bibtex", _SENTRIX_CITATION, "```", ""]
    for name, citation in card.citations.items():
        lines += [f"#### {name}", "", "```bibtex", citation.strip(), "```", ""]

    text = "\n".join(lines).rstrip() + "\n"
    return redact_secrets(text)


def make_model_card_callback(default_args: dict[str, Any]) -> Any:
    """A TrainerCallback that records datasets, losses, hyperparameters, logs and metrics on the card."""
    from transformers import TrainerCallback

    class _ModelCardCallback(TrainerCallback):
        def __init__(self) -> None:
            self.default_args = default_args

        def on_init_end(self, args, state, control, model=None, trainer=None, **kwargs):
            card = getattr(model, "model_card_data", None)
            if card is None or trainer is None:
                return
            card.add_tags("generated_from_trainer")
            if trainer.train_dataset is not None and not card.train_datasets:
                card.train_datasets = card.infer_datasets(trainer.train_dataset, None if isinstance(trainer.train_dataset, dict) else "train")
                size = sum(d.get("size") or 0 for d in card.train_datasets)
                if size:
                    card.add_tags(f"dataset_size:{size}")
            if trainer.eval_dataset is not None and not card.eval_datasets:
                card.eval_datasets = card.infer_datasets(trainer.eval_dataset, None if isinstance(trainer.eval_dataset, dict) else "eval")
            card.set_losses(trainer.loss)
            if not card.widget and (trainer.eval_dataset is not None or trainer.train_dataset is not None):
                card.set_widget_examples(trainer.eval_dataset if trainer.eval_dataset is not None else trainer.train_dataset)

        def on_train_begin(self, args, state, control, model=None, **kwargs):
            card = getattr(model, "model_card_data", None)
            if card is None:
                return
            args_dict = redact_secrets(_plain(args.to_dict()))
            card.all_hyperparameters = {k: v for k, v in args_dict.items() if k not in _IGNORED_ARGS}
            card.non_default_hyperparameters = {
                k: v for k, v in card.all_hyperparameters.items()
                if k in self.default_args and v != self.default_args[k]
            }
            card._training_start_time = time.time()

        def on_train_end(self, args, state, control, model=None, **kwargs):
            card = getattr(model, "model_card_data", None)
            if card is not None and card._training_start_time is not None:
                card.training_duration = time.time() - card._training_start_time

        def on_evaluate(self, args, state, control, model=None, metrics=None, **kwargs):
            card = getattr(model, "model_card_data", None)
            if card is None or not metrics:
                return
            losses = {
                " ".join(k.split("_")[1:]): v for k, v in metrics.items() if k.startswith("eval_") and k.endswith("_loss")
            }
            if list(losses) == ["loss"]:
                losses = {"Validation Loss": losses["loss"]}
            row = _log_row(card, state)
            row.update(losses)
            for key, value in metrics.items():
                if key.startswith("eval_") and not key.endswith(("_loss", "_runtime", "_per_second")) and key != "eval_epoch":
                    row[key[5:]] = value

        def on_log(self, args, state, control, model=None, logs=None, **kwargs):
            card = getattr(model, "model_card_data", None)
            if card is None or not logs or "loss" not in logs:
                return
            _log_row(card, state)["Training Loss"] = logs["loss"]

    return _ModelCardCallback()


def _log_row(card: SentenceTransformerModelCardData, state: Any) -> dict[str, Any]:
    if card.training_logs and card.training_logs[-1].get("Step") == state.global_step:
        return card.training_logs[-1]
    row = {"Epoch": round(state.epoch or 0.0, 4), "Step": state.global_step}
    card.training_logs.append(row)
    return row


__all__ = [
    "SentenceTransformerModelCardData",
    "generate_model_card",
    "make_model_card_callback",
    "redact_secrets",
    "get_versions",
]
