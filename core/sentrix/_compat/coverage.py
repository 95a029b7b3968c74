"""What sentrix covers of sentence-transformers 6.2, as a page: ``docs/coverage.md``.

The page is generated, never written by hand, so it cannot claim more than is installed:

* the component lists below name what sentence-transformers 6.2 exports (its losses, evaluators,
  batch samplers, module types and the training arguments it adds to ``transformers``);
  ``tests/core/test_coverage_inventory.py`` compares them with the installed wheel;
* each row's status comes from the component registries (what is installed now, and from which
  distribution) and from :mod:`sentrix._compat.table` (where core names are served, and why
  something is not provided);
* ``tests/core/test_docs_site.py`` fails when the committed page differs from
  :func:`coverage_markdown`.

Regenerate with ``sentrix plugins coverage -o docs/coverage.md``.
"""

from __future__ import annotations

import dataclasses

from sentrix._compat.table import CORE_NAMES, NOT_PROVIDED_MODULES, NOT_PROVIDED_NAMES, not_provided_name_reason

ST_VERSION = "6.2"

#: ``sentence_transformers.sentence_transformer.losses``: the loss classes.
ST_LOSSES: tuple[str, ...] = (
    "AdaptiveLayerLoss", "AnglELoss", "BatchAllTripletLoss", "BatchHardSoftMarginTripletLoss",
    "BatchHardTripletLoss", "BatchSemiHardTripletLoss", "CachedGISTEmbedLoss",
    "CachedMultipleNegativesRankingLoss", "CachedMultipleNegativesSymmetricRankingLoss", "CoSENTLoss",
    "ContrastiveLoss", "ContrastiveTensionLoss", "ContrastiveTensionLossInBatchNegatives",
    "CosineSimilarityLoss", "DenoisingAutoEncoderLoss", "DistillKLDivLoss", "EmbedDistillLoss",
    "GISTEmbedLoss", "GlobalOrthogonalRegularizationLoss", "MSELoss", "MarginMSELoss",
    "Matryoshka2dLoss", "MatryoshkaLoss", "MegaBatchMarginLoss", "MultipleNegativesRankingLoss",
    "MultipleNegativesSymmetricRankingLoss", "OnlineContrastiveLoss", "SoftmaxLoss", "TripletLoss",
)
#: ``sentence_transformers.sentence_transformer.evaluation``: the evaluator classes.
ST_EVALUATORS: tuple[str, ...] = (
    "BaseEvaluator", "BinaryClassificationEvaluator", "EmbeddingSimilarityEvaluator",
    "InformationRetrievalEvaluator", "LabelAccuracyEvaluator", "MSEEvaluator", "MSEEvaluatorFromDataFrame",
    "NanoBEIREvaluator", "ParaphraseMiningEvaluator", "RerankingEvaluator", "SentenceEvaluator",
    "SequentialEvaluator", "TranslationEvaluator", "TripletEvaluator",
)
#: ``BatchSamplers`` and ``MultiDatasetBatchSamplers`` values.
ST_BATCH_SAMPLERS: tuple[str, ...] = ("batch_sampler", "no_duplicates", "no_duplicates_hashed", "group_by_label")
ST_MULTI_DATASET_BATCH_SAMPLERS: tuple[str, ...] = ("round_robin", "proportional")
#: ``sentence_transformers.sentence_transformer.modules.__all__``: the module types.
ST_MODULES: tuple[str, ...] = (
    "Transformer", "StaticEmbedding", "Asym", "BoW", "CNN", "Dense", "Dropout", "LayerNorm", "LSTM",
    "Normalize", "Pooling", "WeightedLayerPooling", "WordEmbeddings", "WordWeights", "CLIPModel", "Module",
    "InputModule", "Router",
)
#: the fields ``SentenceTransformerTrainingArguments`` adds to ``transformers.TrainingArguments``.
ST_TRAINING_ARGUMENTS: tuple[str, ...] = (
    "prompts", "batch_sampler", "multi_dataset_batch_sampler", "router_mapping", "learning_rate_mapping",
    "warmup_ratio",
)

_SECTIONS = (
    # title, registry kind, inventory, the old module path of the class names, the namespace of core names
    ("Losses", "losses", ST_LOSSES, "losses", "sentrix.losses"),
    ("Evaluators", "evaluators", ST_EVALUATORS, "evaluation", "sentrix.evaluation"),
    ("Batch samplers", "batch_samplers", ST_BATCH_SAMPLERS, "", "sentrix.sampler"),
    ("Multi-dataset batch samplers", "multi_dataset_batch_samplers", ST_MULTI_DATASET_BATCH_SAMPLERS, "", "sentrix.sampler"),
    ("Module types", "modules", ST_MODULES, "models", "sentrix.models"),
)


def _status(kind: str, name: str, old_path: str, namespace: str) -> tuple[str, str, str]:
    """(sentrix name, provider, status) of one sentence-transformers component."""
    from sentrix.registry import get_registry

    registry = get_registry(kind)
    if name in registry:
        entry = registry.info(name)
        return f"`{entry.name}`", entry.provider, "provided"
    core = CORE_NAMES.get(namespace, {})
    if name in core:
        return f"`{namespace}.{name}`", "sentrix (core)", f"base class, served from `{core[name]}`"
    reason = not_provided_name_reason(old_path, name)
    if reason is not None:
        return "-", "-", f"**not provided**: {reason}"
    return "-", "-", "**missing**: not installed, and no reason is listed in `sentrix._compat.table`"


def _escape(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _training_argument_rows() -> list[str]:
    import transformers

    from sentrix.training_args import SentenceTransformerTrainingArguments

    ours = {f.name for f in dataclasses.fields(SentenceTransformerTrainingArguments)}
    base = {f.name for f in dataclasses.fields(transformers.TrainingArguments)}
    lines = ["| argument | status |", "|---|---|"]
    for name in ST_TRAINING_ARGUMENTS:
        lines.append(f"| `{name}` | {'provided' if name in ours else '**missing**'} |")
    extra = sorted(ours - base - set(ST_TRAINING_ARGUMENTS))
    for name in extra:
        lines.append(f"| `{name}` | sentrix only |")
    inherited = sorted(name for name in base if not name.startswith("_"))
    missing = sorted(set(inherited) - ours)
    lines += [
        "",
        f"Inherited from `transformers.TrainingArguments` ({len(inherited) - len(missing)} of {len(inherited)}"
        " fields of the installed transformers, used as `transformers.Trainer` uses them): "
        + ", ".join(f"`{name}`" for name in inherited if name not in missing)
        + ".",
    ]
    if missing:
        lines += ["", "**Missing**: " + ", ".join(f"`{name}`" for name in missing) + "."]
    return lines


def coverage_markdown() -> str:
    """The coverage page (docs/coverage.md), generated from the registries and the compatibility table."""
    from sentrix.registry import get_registry

    lines = [
        f"# Coverage of sentence-transformers {ST_VERSION}",
        "",
        "Generated by `sentrix plugins coverage -o docs/coverage.md` from the installed component",
        "registries and the compatibility table (`sentrix._compat.table`); a test fails when this page",
        "is stale, and another when the lists of sentence-transformers names below differ from the",
        f"installed sentence-transformers {ST_VERSION}.",
        "",
        "*sentrix name* is the canonical registered name (the sentence-transformers class name is an",
        "alias, so both work everywhere a component is accepted); *provider* is the distribution whose",
        "entry point registers it. How the provided components differ in behaviour, where they do, is on",
        "the [migration page](migrating.md#what-differs).",
    ]
    counted: set[tuple[str, str]] = set()
    for title, kind, inventory, old_path, namespace in _SECTIONS:
        lines += ["", f"## {title}", "", "| sentence-transformers | sentrix name | provider | status |", "|---|---|---|---|"]
        for name in inventory:
            ours, provider, status = _status(kind, name, old_path, namespace)
            if ours.startswith("`") and provider != "sentrix (core)":
                counted.add((kind, get_registry(kind).info(name).name))
            lines.append(f"| `{name}` | {ours} | {provider} | {_escape(status)} |")
    lines += ["", "## Training arguments", "", *_training_argument_rows()]

    lines += [
        "",
        "## Installed beyond sentence-transformers",
        "",
        "Registered components with no sentence-transformers counterpart (router mappings and callbacks",
        "by name, and whatever other plugins add).",
        "",
    ]
    extra_rows = []
    for kind in ("losses", "evaluators", "batch_samplers", "multi_dataset_batch_samplers", "modules",
                 "router_mappings", "callbacks"):
        for entry in get_registry(kind).entries():
            if (kind, entry.name) not in counted:
                aliases = ", ".join(f"`{a}`" for a in entry.aliases if not a.startswith("sentence_transformers.")) or "-"
                extra_rows.append(f"| {kind} | `{entry.name}` | {aliases} | {entry.provider} |")
    if extra_rows:
        lines += ["| kind | name | aliases | provider |", "|---|---|---|---|", *extra_rows]
    else:
        lines.append("None installed.")

    lines += [
        "",
        "## Not provided",
        "",
        "Whole parts of sentence-transformers that sentrix does not provide; importing them from",
        "`sentrix` fails with the reason given here.",
        "",
        "| sentence-transformers path | reason |",
        "|---|---|",
    ]
    by_reason: dict[str, list[str]] = {}
    for path, reason in sorted(NOT_PROVIDED_MODULES.items()):
        by_reason.setdefault(reason, []).append(f"sentence_transformers.{path}")
    for name, reason in sorted(NOT_PROVIDED_NAMES[""].items()):
        by_reason.setdefault(reason, []).append(f"sentence_transformers.{name}")
    for reason, paths in by_reason.items():
        lines.append(f"| {', '.join(f'`{p}`' for p in paths)} | {_escape(reason)} |")
    return "\n".join(lines) + "\n"
