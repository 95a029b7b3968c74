"""The model card's built-in sections, registered as an ordinary ``sentrix_model_card_sections`` plugin.

:mod:`sentrix.hooks` registers this module before any third-party plugin (see
``sentrix.hooks.DEFAULT_PLUGINS``), so the card is assembled by one mechanism:

* :func:`builtin_sections` (``tryfirst``): Model Details, Usage, Evaluation, Training Details,
  Provenance;
* then every plugin's sections, in plugin order;
* :func:`citation_section` (``trylast``): the BibTeX entries of sentence-transformers, sentrix and
  the losses and evaluators used.

Each built-in section is a function ``(card, model, trainer) -> markdown body | None`` listed in
:data:`SECTIONS`; ``None`` leaves the section out.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from sentrix.hookspecs import hookimpl
from sentrix.model_card.formatting import (
    format_log,
    get_versions,
    json_block,
    markdown_table,
    plain,
    redact_secrets,
)

SENTRIX_CITATION = """@software{sentrix,
    title = {sentrix: plugin-shaped training of sentence-embedding models},
    year = {2026},
}"""
SBERT_CITATION = """@inproceedings{reimers-2019-sentence-bert,
    title = "Sentence-BERT: Sentence Embeddings using Siamese BERT-Networks",
    author = "Reimers, Nils and Gurevych, Iryna",
    booktitle = "Proceedings of the 2019 Conference on Empirical Methods in Natural Language Processing",
    month = "11",
    year = "2019",
    publisher = "Association for Computational Linguistics",
    url = "https://arxiv.org/abs/1908.10084",
}"""


def _join(blocks: list[str]) -> str:
    return "\n\n".join(block.strip("\n") for block in blocks if block)


# ------------------------------------------------------------------------------------------------
# Model Details
# ------------------------------------------------------------------------------------------------
def _embedding_dimension(model: Any) -> int | None:
    for getter in ("get_sentence_embedding_dimension", "get_embedding_dimension"):
        if hasattr(model, getter):
            try:
                return getattr(model, getter)()
            except Exception:
                return None
    return None


def model_details(card: Any, model: Any, trainer: Any) -> str:
    details = {"Model Type": "Sentence Transformer"}
    if card.base_model:
        rev = f" <!-- at revision {card.base_model_revision} -->" if card.base_model_revision else ""
        details["Base model"] = f"[{card.base_model}](https://huggingface.co/{card.base_model}){rev}"
    max_seq_length = getattr(model, "max_seq_length", None)
    if max_seq_length is not None:
        details["Maximum Sequence Length"] = f"{max_seq_length} tokens"
    dim = _embedding_dimension(model)
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
    blocks = ["### Model Description", "\n".join(f"- **{k}:** {v}" for k, v in details.items())]
    try:
        blocks += ["### Full Model Architecture", "```\n" + repr(model) + "\n```"]
    except Exception:
        pass
    return _join(blocks)


# ------------------------------------------------------------------------------------------------
# Usage
# ------------------------------------------------------------------------------------------------
def usage(card: Any, model: Any, trainer: Any) -> str:
    model_ref = card.model_id or "path/to/this/model"
    examples = (card.widget[0]["sentences"][:2] if card.widget else []) or [
        "The weather is lovely today.", "It's so sunny outside!"
    ]
    first = card.widget[0]["source_sentence"] if card.widget else "He drove to the stadium."
    code = [
        "```python",
        "from sentence_transformers import SentenceTransformer",
        "",
        f'model = SentenceTransformer("{model_ref}")',
        "sentences = [",
        *[f"    {json.dumps(s, ensure_ascii=False)}," for s in (first, *examples)],
        "]",
        "embeddings = model.encode(sentences)",
        "similarities = model.similarity(embeddings, embeddings)",
        "```",
    ]
    return "\n".join(code)


# ------------------------------------------------------------------------------------------------
# Evaluation
# ------------------------------------------------------------------------------------------------
def evaluation(card: Any, model: Any, trainer: Any) -> str | None:
    if not card.eval_results:
        return None
    blocks = ["### Metrics"]
    for result in card.eval_results:
        name, primary = result["name"], result["primary_metric"]
        rows = []
        for key, value in result["metrics"].items():
            short = key[len(name) + 1 :] if name and key.startswith(name + "_") else key
            is_primary = primary in (key, short)
            rows.append({
                "Metric": f"**{short}**" if is_primary else short,
                "Value": f"**{format_log(value)}**" if is_primary else format_log(value),
            })
        label = f"#### {result['description']}" + (f" (`{name}`)" if name else "")
        blocks += [label, f"* Evaluated with `{result['class']}`", markdown_table(rows)]
    return _join(blocks)


# ------------------------------------------------------------------------------------------------
# Training Details
# ------------------------------------------------------------------------------------------------
def _datasets(title: str, infos: list[dict[str, Any]], losses: list[dict[str, Any]]) -> list[str]:
    blocks = [f"### {title}"]
    for info in infos:
        heading = info.get("name", "unnamed")
        if info.get("id"):
            heading += f" ([{info['id']}](https://huggingface.co/datasets/{info['id']}))"
        blocks.append(f"#### {heading}")
        facts = []
        if info.get("size") is not None:
            facts.append(f"* Size: {info['size']} rows")
        if info.get("columns"):
            types = info.get("column_types", {})
            facts.append("* Columns: " + ", ".join(f"`{c}` ({types.get(c, '?')})" for c in info["columns"]))
        loss = next((entry for entry in losses if entry["dataset"] in (info.get("name"), None)), None)
        if loss:
            facts.append(f"* Loss: `{loss['class']}`")
        blocks.append("\n".join(facts))
        if info.get("examples"):
            blocks += ["Examples:", markdown_table(info["examples"])]
    return blocks


def training_details(card: Any, model: Any, trainer: Any) -> str | None:
    if not (card.train_datasets or card.losses or card.non_default_hyperparameters or card.training_logs):
        return None
    blocks: list[str] = []
    if card.train_datasets:
        blocks += _datasets("Training Datasets", card.train_datasets, card.losses)
    if card.eval_datasets:
        blocks += _datasets("Evaluation Datasets", card.eval_datasets, card.losses)
    if card.losses:
        blocks.append("### Losses")
        for loss in card.losses:
            where = f" (dataset `{loss['dataset']}`)" if loss["dataset"] else ""
            reg = f", registered as `{loss['registered_as']}`" if loss.get("registered_as") else ""
            blocks += [f"* `{loss['class']}`{where}{reg} with these parameters:", json_block(loss["config"])]
    if card.non_default_hyperparameters:
        hyper = redact_secrets(card.non_default_hyperparameters)
        blocks += ["### Training Hyperparameters", "#### Non-Default Hyperparameters",
                   "\n".join(f"- `{k}`: {plain(v)}" for k, v in hyper.items())]
    if card.training_logs:
        blocks += ["### Training Logs", markdown_table(card.training_logs)]
        if card.best_model_step is not None:
            blocks.append(f"The saved checkpoint is the best one, from step {card.best_model_step}.")
    if card.training_duration is not None:
        blocks.append(f"Training took {card.training_duration:.1f} seconds.")
    tokens = getattr(card, "training_tokens", None)
    if tokens:
        blocks.append(
            f"Tokens per training step: {tokens['real_tokens_per_step']:,.0f} real and "
            f"{tokens['padding_tokens_per_step']:,.0f} padding ({tokens['padding_share']:.1%} of the tokens the model ran)."
        )
    for image in getattr(card, "plots", None) or ():
        blocks += ["### Training Curves", f"![Training loss and evaluation metrics over steps]({image})"]
    return _join(blocks)


# ------------------------------------------------------------------------------------------------
# Provenance
# ------------------------------------------------------------------------------------------------
def provenance(card: Any, model: Any, trainer: Any) -> str:
    blocks = ["### Framework Versions", "\n".join(f"- {k}: {v}" for k, v in get_versions().items())]
    if card.components:
        blocks += ["### Components and the distributions that provided them", markdown_table(card.components)]
    if card.resolved_config:
        blocks += ["### Resolved Configuration", json_block(redact_secrets(card.resolved_config))]
        if "train_datasets" in card.resolved_config:  # a run config: replayable as it stands
            blocks.append("This configuration is a run config: save it as `config.json` and run `sentrix train config.json -o NEW_DIR`, "
                          "or run `sentrix reproduce <this folder>` (it reads `sentrix_config.yaml`). The `plugins` entry "
                          "lists the distributions and versions that provided the components.")
    return _join(blocks)


# ------------------------------------------------------------------------------------------------
# Citation
# ------------------------------------------------------------------------------------------------
def citation(card: Any, model: Any, trainer: Any) -> str:
    entries = {"Sentence Transformers": SBERT_CITATION, "sentrix": SENTRIX_CITATION, **card.citations}
    blocks = ["### BibTeX"]
    for name, bibtex in entries.items():
        blocks += [f"#### {name}", f"```bibtex\n{bibtex.strip()}\n```"]
    return _join(blocks)


Section = Callable[[Any, Any, Any], "str | None"]

#: The built-in sections, in card order: heading -> function(card, model, trainer).
SECTIONS: dict[str, Section] = {
    "Model Details": model_details,
    "Usage": usage,
    "Evaluation": evaluation,
    "Training Details": training_details,
    "Provenance": provenance,
}


def _render(sections: dict[str, Section], card: Any, model: Any, trainer: Any) -> list[tuple[str, str]]:
    out = []
    for heading, function in sections.items():
        body = function(card, model, trainer)
        if body:
            out.append((heading, body))
    return out


@hookimpl(specname="sentrix_model_card_sections", tryfirst=True)
def builtin_sections(model: Any, trainer: Any, card: Any) -> list[tuple[str, str]]:
    """The built-in sections, before any plugin's."""
    return _render(SECTIONS, card, model, trainer)


@hookimpl(specname="sentrix_model_card_sections", trylast=True)
def citation_section(model: Any, trainer: Any, card: Any) -> list[tuple[str, str]]:
    """The citations, after every plugin's sections."""
    return _render({"Citation": citation}, card, model, trainer)
