"""The run config format: its sections and the keys each one accepts.

One table, used by the validator (unknown keys get close-name suggestions) and by ``docs/config.md``.
Every component is named by its registered name (``sentrix plugins list``); see ``docs/config.md``.
"""

from __future__ import annotations

FORMAT_VERSION = 1

#: Top-level sections -> what they hold.
TOP_LEVEL: dict[str, str] = {
    "version": "config format version (1)",
    "allow_import_paths": "true to let component names be dotted import paths (module.attr or module:attr)",
    "model": "the model to train: a path or Hub id, or modules to build it from, or a query/document router",
    "train_datasets": "training data: dataset name -> dataset spec",
    "eval_datasets": "evaluation-loss data: dataset name -> dataset spec",
    "loss": "one loss spec for every dataset, or dataset name -> loss spec",
    "evaluators": "a list of evaluator specs, each with its own data",
    "batch_sampler": "registered batch sampler name (e.g. no_duplicates)",
    "multi_dataset_batch_sampler": "registered multi-dataset batch sampler name (proportional, round_robin)",
    "router_mapping": "column -> route, dataset -> {column -> route}, or a registered router mapping name",
    "prompts": "one prompt, column -> prompt, dataset -> prompt, or dataset -> {column -> prompt}",
    "callbacks": "a list of callback specs (registered names)",
    "training_args": "SentenceTransformerTrainingArguments fields (parsed by transformers' HfArgumentParser)",
    "evaluate_before_training": "run the evaluators before training too (default true)",
    "plugins": "distribution -> version that produced a saved config (written by sentrix; checked, never installed)",
}

MODEL_KEYS: dict[str, str] = {
    "name_or_path": "a local folder (relative to the config file) or a Hugging Face Hub id",
    "revision": "Hub revision (branch, tag or commit)",
    "modules": "build the model from these modules instead: a list of {type, params}",
    "add_modules": "modules appended after the loaded model's own: a list of {type, params}",
    "router": "a query/document model: {routes: {query: path, document: path}, default_route: document}",
    "max_seq_length": "truncate inputs to this many tokens",
    "prompts": "named prompts stored with the model, e.g. {query: 'query: '}",
    "default_prompt_name": "the prompt used when encode() gets none",
    "similarity_fn_name": "cosine, dot, euclidean or manhattan",
    "truncate_dim": "truncate embeddings to this many dimensions",
    "model_kwargs": "keyword arguments for the Hugging Face model",
    "processor_kwargs": "keyword arguments for the tokenizer",
    "config_kwargs": "keyword arguments for the Hugging Face config",
    "trust_remote_code": "allow code from the model repository (off by default)",
    "device": "cpu, cuda, mps... (default: the best available)",
}

DATASET_KEYS: dict[str, str] = {
    "path": "a local csv/tsv/json/jsonl/parquet file (relative to the config file)",
    "hub": "a Hugging Face Hub dataset id (instead of path)",
    "subset": "the Hub dataset's configuration (subset) name",
    "split": "which split to read (default train)",
    "revision": "Hub dataset revision",
    "format": "csv, tsv, json, jsonl or parquet (default: from the file suffix)",
    "columns": "keep these columns, in this order (the order gives the column roles)",
    "rename": "old column name -> new name, applied after `columns`",
    "limit": "keep the first N rows",
    "teacher": "distillation labels from a teacher model: {model, column, output} or {model, mode: margin, columns, output}",
}

COMPONENT_KEYS: dict[str, str] = {
    "name": "the registered name (sentrix plugins list)",
    "params": "keyword arguments checked against the component's signature",
}

EVALUATOR_KEYS: dict[str, str] = {
    **COMPONENT_KEYS,
    "data": "a dataset spec, or the name of a train_datasets/eval_datasets entry",
    "inputs": "evaluator parameter -> column of `data` (e.g. {sentences1: sentence1, scores: score})",
    "mappings": "a JSON file (relative to the config file) of evaluator parameter -> mapping, e.g. {queries, corpus, relevant_docs}",
}

ROUTER_KEYS: dict[str, str] = {
    "routes": "route name -> model path or Hub id whose modules make that route (query, document)",
    "default_route": "the route used when no task is given (default document)",
}

TEACHER_KEYS: dict[str, str] = {
    "model": "the teacher: a local folder or Hub id",
    "mode": "embedding (teacher embeddings of `column`, for MSE) or margin (score margins, for MarginMSE)",
    "column": "the text column the teacher embeds (mode embedding)",
    "columns": "query, positive, negative... columns (mode margin)",
    "output": "the label column to write (default label)",
    "batch_size": "teacher encode batch size (default 32)",
}

# Training-argument fields that have their own top-level section.
TOP_LEVEL_TRAINING_FIELDS = ("batch_sampler", "multi_dataset_batch_sampler", "router_mapping", "prompts")

__all__ = [
    "FORMAT_VERSION",
    "TOP_LEVEL",
    "MODEL_KEYS",
    "DATASET_KEYS",
    "COMPONENT_KEYS",
    "EVALUATOR_KEYS",
    "ROUTER_KEYS",
    "TEACHER_KEYS",
    "TOP_LEVEL_TRAINING_FIELDS",
]
