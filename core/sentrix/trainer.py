"""``SentenceTransformerTrainer``: training of embedding models on ``transformers.Trainer``.

The trainer is the sentence-transformers 6.x trainer, rebuilt so that every interchangeable part
is a registered plugin: the loss, the batch samplers, the router mapping, the evaluators and the
callbacks can each be given as an object or by registered name. The engine underneath is
``transformers.Trainer`` (and accelerate), so mixed precision, DDP, FSDP and DeepSpeed come from
there.

What it adds on top of a plain ``transformers.Trainer``:

* **Checks before anything runs.** Each dataset is compared with what its loss declares it
  needs (``sentrix.data_needs``): number of text columns, label column and kind, finite labels.
  ``metric_for_best_model`` is compared with the metric keys the run will produce. Plugins add
  their own checks (``sentrix_validate_run``). A mismatch stops with a message naming dataset,
  columns, loss and the fix, before anything is written to ``output_dir``.
* **Non-finite numbers stop the run**: a NaN/inf label or loss raises
  :class:`NonFiniteTrainingError` naming the dataset, step and rows.
* **Checkpoints in the sentence-transformers layout**, written into a temporary folder and
  renamed into place, so a checkpoint folder is never half-written; ``resume_from_checkpoint=True``
  picks the last complete one. Rotation (``save_total_limit``) only deletes checkpoints of this run.
* **Secrets stay out of files**: the saved ``training_args.bin`` and the model card carry no token.

This module holds the ``transformers.Trainer`` overrides; the helpers they call live in
:mod:`sentrix.training`, one concern per module: ``run_checks`` (checks before training),
``checkpoints`` (atomic writes, rotation, resume selection), ``loss_state`` (parameters and state
owned by losses) and ``hub`` (pushes to the Hub).

Example::

    from datasets import Dataset
    from sentrix import SentenceTransformer, SentenceTransformerTrainer, SentenceTransformerTrainingArguments

    model = SentenceTransformer("sentence-transformers/all-MiniLM-L6-v2")
    train = Dataset.from_dict({"anchor": ["a cat", "a dog"], "positive": ["a kitten", "a puppy"]})
    args = SentenceTransformerTrainingArguments(output_dir="out", batch_sampler="no_duplicates")
    trainer = SentenceTransformerTrainer(model=model, args=args, train_dataset=train,
                                         loss="multiple_negatives_ranking")
    trainer.train()
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import uuid
from collections.abc import Callable
from functools import partial
from typing import Any

import torch
from torch import nn
from torch.utils.data import BatchSampler, ConcatDataset, DataLoader
from transformers import Trainer
from transformers.trainer_utils import PREFIX_CHECKPOINT_DIR

from sentrix.data_collator import SentenceTransformerDataCollator
from sentrix.errors import InvalidInputError, SentrixError
from sentrix.model_card import (
    SentenceTransformerModelCardData,
    generate_model_card,
    make_model_card_callback,
    redact_secrets,
)
from sentrix.training import checkpoints as _checkpoints
from sentrix.training import hub as _hub
from sentrix.training import loss_state as _loss_state
from sentrix.training import run_checks as _run_checks
from sentrix.training.checkpoints import (  # noqa: F401  (names kept importable from sentrix.trainer)
    RUN_MARKER_NAME,
    TMP_PREFIX,
    TRAINER_STATE_NAME,
    TRAINING_ARGS_NAME,
    last_complete_checkpoint,
)
from sentrix.training.devices import accelerator_available as _accelerator_available
from sentrix.training.loss_state import OptimizationTarget as _OptimizationTarget
from sentrix.training.loss_state import ZeroLossGradsCallback as _ZeroLossGradsCallback
from sentrix.training.run_checks import RESERVED_COLUMNS  # noqa: F401  (kept importable from sentrix.trainer)
from sentrix.training.run_checks import is_iterable_dataset as _is_iterable_dataset
from sentrix.training.token_stats import TokenStats as _TokenStats
from sentrix.training.token_stats import describe_forward as _describe_forward
from sentrix.training_args import (
    BatchSamplers,
    MultiDatasetBatchSamplers,
    SentenceTransformerTrainingArguments,
)

logger = logging.getLogger(__name__)

_FEATURE_SUFFIXES = (
    "input_ids",
    "sentence_embedding",
    "pixel_values",
    "input_features",
    "input_values",
    "pixel_values_videos",
)


class NonFiniteTrainingError(SentrixError, FloatingPointError):
    """A label or the loss became NaN or infinite; the run is stopped instead of training on it."""


class SentenceTransformerTrainer(Trainer):
    """Train a ``SentenceTransformer`` with a loss (or one loss per dataset), evaluators and callbacks.

    :param model: the ``SentenceTransformer`` to train; or give ``model_init``.
    :param args: :class:`~sentrix.training_args.SentenceTransformerTrainingArguments`
        (default: ``output_dir="tmp_trainer"``).
    :param train_dataset: a ``datasets.Dataset``, ``DatasetDict``/dict of datasets, or
        ``IterableDataset``. Text columns in the order the loss reads them; an optional label
        column named ``label``, ``labels``, ``score`` or ``scores``.
    :param eval_dataset: the same, for the evaluation loss (one ``eval_<name>_loss`` per dataset).
    :param loss: a loss module, a registered loss name (``"cosent"``, ``"MultipleNegativesRankingLoss"``),
        a loss class, a callable ``model -> loss``, or a dict dataset name -> any of those.
        Default: CoSENT.
    :param evaluator: an evaluator, a registered evaluator name, ``(name, params)``, a dict
        ``{name: params}``, or a list of these (run one after the other in a SequentialEvaluator).
    :param data_collator: default: :class:`~sentrix.data_collator.SentenceTransformerDataCollator`
        over the model's tokeniser, with the arguments' prompts and router mapping.
    :param processing_class: the tokenizer (default: the model's). ``tokenizer=`` is accepted too.
    :param model_init: a function returning a fresh model (hyperparameter search).
    :param compute_metrics: unused (use ``evaluator``); kept for signature compatibility.
    :param callbacks: ``TrainerCallback`` objects or registered callback names.
    :param optimizers: ``(optimizer, scheduler)`` to use instead of the default AdamW + schedule.
    :param preprocess_logits_for_metrics: unused; kept for signature compatibility.
    """

    model_card_data_class = SentenceTransformerModelCardData
    data_collator_class = SentenceTransformerDataCollator
    training_args_class = SentenceTransformerTrainingArguments

    def __init__(
        self,
        model: Any | None = None,
        args: SentenceTransformerTrainingArguments | None = None,
        train_dataset: Any | None = None,
        eval_dataset: Any | None = None,
        loss: Any | None = None,
        evaluator: Any | None = None,
        data_collator: Any | None = None,
        processing_class: Any | None = None,
        model_init: Callable[..., Any] | None = None,
        compute_metrics: Callable[..., dict] | None = None,
        callbacks: list[Any] | None = None,
        optimizers: tuple[Any, Any] = (None, None),
        preprocess_logits_for_metrics: Callable[..., Any] | None = None,
        optimizer_cls_and_kwargs: tuple[type, dict[str, Any]] | None = None,
        tokenizer: Any | None = None,
    ) -> None:
        if tokenizer is not None:
            if processing_class is not None:
                raise InvalidInputError("Give either `processing_class` or its old name `tokenizer`, not both.")
            processing_class = tokenizer

        if args is None:
            args = self.training_args_class(output_dir="tmp_trainer")
        elif not isinstance(args, self.training_args_class):
            raise InvalidInputError(
                f"`args` must be a {self.training_args_class.__name__}; got {type(args).__name__}. Build it with "
                f"`sentrix.{self.training_args_class.__name__}(output_dir=..., ...)`; every "
                "transformers.TrainingArguments field is accepted there."
            )

        if model is None:
            if model_init is None:
                raise InvalidInputError(
                    f"{type(self).__name__} needs a `model` (a SentenceTransformer) or a `model_init` function."
                )
            self.model_init = model_init
            model = self.call_model_init()
        elif model_init is not None:
            logger.warning("Both `model` and `model_init` were given; `model_init` replaces the model in `train()`.")
        self.model_init = model_init

        if compute_metrics is not None:
            logger.warning(
                "`compute_metrics` is not used by %s: use `evaluator` for metrics and `eval_dataset` for the "
                "evaluation loss.", type(self).__name__,
            )

        card = getattr(model, "model_card_data", None)
        if card is not None and args.hub_model_id and not getattr(card, "model_id", None) and hasattr(card, "set_model_id"):
            card.set_model_id(args.hub_model_id)

        if processing_class is None:
            processing_class = getattr(model, "tokenizer", None)

        # -- datasets ------------------------------------------------------------------------------
        train_dataset = self._as_dataset_dict(train_dataset)
        eval_dataset = self._as_dataset_dict(eval_dataset)
        for split, dataset in (("train", train_dataset), ("eval", eval_dataset)):
            if _is_iterable_dataset(dataset) and dataset.column_names is None:
                raise InvalidInputError(
                    f"`{split}_dataset` is an IterableDataset without features, so its columns cannot be checked. "
                    f"Give it features, e.g. `{split}_dataset = {split}_dataset.cast(Features({{...}}))`."
                )
            self.validate_column_names(dataset, dataset_name=None, split=split)

        if eval_dataset is None and evaluator is None and str(getattr(args.eval_strategy, "value", args.eval_strategy)) != "no":
            raise InvalidInputError(
                f"`args.eval_strategy` is {getattr(args.eval_strategy, 'value', args.eval_strategy)!r} but neither an "
                "`eval_dataset` nor an `evaluator` was given. Give one of them, or set `eval_strategy='no'`."
            )

        # -- loss, evaluator, collator -----------------------------------------------------------
        self.args = args  # the resolution helpers read it
        if loss is None:
            loss = self.get_default_loss(model)
        if isinstance(loss, dict):
            if not loss:
                raise InvalidInputError("`loss` is an empty dict; map each dataset name to a loss.")
            self.loss = {name: self.prepare_loss(spec, model, dataset_name=name) for name, spec in loss.items()}
            for split, dataset in (("train", train_dataset), ("eval", eval_dataset)):
                if dataset is None:
                    continue
                if not isinstance(dataset, dict):
                    raise InvalidInputError(
                        f"`loss` is a dict (one loss per dataset: {sorted(loss)}), so `{split}_dataset` must be a "
                        "dict/DatasetDict with the same names; it is a single dataset. Give a single loss, or a "
                        f"dict `{split}_dataset` such as {{{', '.join(repr(k) for k in list(loss)[:2])}: ...}}."
                    )
                missing = sorted(set(dataset) - set(loss))
                if missing:
                    raise InvalidInputError(
                        f"`{split}_dataset` has dataset(s) {missing} with no loss in the `loss` dict (which has "
                        f"{sorted(loss)}). Add a loss for each, e.g. loss[{missing[0]!r}] = 'cosent'."
                    )
        else:
            self.loss = self.prepare_loss(loss, model)

        self.evaluator = self.prepare_evaluator(evaluator)
        self._resolved_router_mapping = self.resolve_router_mapping(args.router_mapping, train_dataset, eval_dataset, model=model)

        if data_collator is None:
            data_collator = self.get_data_collator(model=model, args=args, processing_class=processing_class)

        self._train_dataset_raw = train_dataset
        self._eval_dataset_raw = eval_dataset
        # Checks that need no trainer internals run now, before the base class touches output_dir.
        if model is not None:
            _run_checks.check_trainable_backend(model)
        self.validate_run(train_dataset=train_dataset, eval_dataset=eval_dataset, data_collator=data_collator)

        default_args = self._default_args_dict()
        output_dir_existed = os.path.exists(args.output_dir)
        resolved_callbacks = [self._resolve_callback(cb) for cb in (callbacks or [])]
        super().__init__(
            model=None if self.model_init else model,
            args=args,
            data_collator=data_collator,
            train_dataset=train_dataset,
            eval_dataset=eval_dataset if eval_dataset is not None or evaluator is None else "dummy",
            processing_class=processing_class,
            model_init=model_init,
            compute_metrics=compute_metrics,
            callbacks=resolved_callbacks,
            optimizers=optimizers,
            optimizer_cls_and_kwargs=optimizer_cls_and_kwargs,
            preprocess_logits_for_metrics=preprocess_logits_for_metrics,
        )
        # The base class creates output_dir eagerly; nothing may appear there before the run's checks.
        if not output_dir_existed and os.path.isdir(args.output_dir) and not os.listdir(args.output_dir):
            os.rmdir(args.output_dir)
        if isinstance(self.eval_dataset, str) and self.eval_dataset == "dummy":
            self.eval_dataset = None

        self.accum_loss_components: dict[str, dict[str, torch.Tensor]] = {"train": {}, "eval": {}}
        self.can_return_loss = True
        self._run_id: str = uuid.uuid4().hex
        self._eval_dataloaders: dict[str, DataLoader] = {}

        if self.train_dataset is not None:
            self.train_dataset = self.preprocess_dataset(self.train_dataset, dataset_name="train")
        if self.eval_dataset is not None:
            self.eval_dataset = self.preprocess_dataset(self.eval_dataset, dataset_name="eval")

        self.add_model_card_callback(default_args)
        self.add_callback(_ZeroLossGradsCallback())
        self.add_callback(_loss_state.SyncLossStateCallback(self))

    # ==========================================================================================
    # Resolution of the pluggable parts
    # ==========================================================================================
    @staticmethod
    def _as_dataset_dict(dataset: Any) -> Any:
        if isinstance(dataset, dict):
            from datasets import DatasetDict, IterableDatasetDict

            if not isinstance(dataset, (DatasetDict, IterableDatasetDict)):
                return DatasetDict(dataset)
        return dataset

    def get_default_loss(self, model: Any) -> nn.Module:
        """The loss used when none is given: CoSENT (pairs of texts with a float similarity score)."""
        from sentrix.registry import losses

        logger.info("No `loss` given; using the registered 'cosent' loss.")
        return losses.get("cosent")(model)

    def prepare_loss(self, loss: Any, model: Any, dataset_name: str | None = None) -> nn.Module:
        """Turn a loss given as instance, registered name, class or callable into a loss module on the model's device."""
        where = f" for dataset {dataset_name!r}" if dataset_name else ""
        if isinstance(loss, str):
            from sentrix.registry import losses

            loss = losses.get(loss)(model)
        elif isinstance(loss, nn.Module):
            pass
        elif isinstance(loss, type) or callable(loss):
            loss = loss(model)
        else:
            raise InvalidInputError(
                f"`loss`{where} must be a loss module, a registered loss name (see `sentrix plugins list --kind "
                f"losses`), a loss class or a callable model -> loss; got {type(loss).__name__}."
            )
        if not isinstance(loss, nn.Module):
            raise InvalidInputError(
                f"The `loss`{where} callable returned {type(loss).__name__}, not a torch.nn.Module loss."
            )
        device = getattr(model, "device", None)
        return loss.to(device) if device is not None else loss

    def prepare_evaluator(self, evaluator: Any) -> Any:
        """Resolve registered evaluator names and wrap a list in the registered SequentialEvaluator."""
        if evaluator is None:
            return None
        from sentrix.registry import evaluators

        def one(spec: Any) -> Any:
            if isinstance(spec, str):
                return evaluators.create(spec)
            if isinstance(spec, tuple) and len(spec) == 2 and isinstance(spec[0], str) and isinstance(spec[1], dict):
                return evaluators.create(spec[0], **spec[1])
            if callable(spec):
                return spec
            raise InvalidInputError(
                "Each `evaluator` must be an evaluator object, a registered evaluator name, (name, params) or "
                f"{{name: params}}; got {type(spec).__name__}."
            )

        if isinstance(evaluator, dict):
            items = [evaluators.create(name, **(params or {})) for name, params in evaluator.items()]
            if len(items) == 1:
                return items[0]
        elif isinstance(evaluator, (list, tuple)) and not (
            isinstance(evaluator, tuple) and len(evaluator) == 2 and isinstance(evaluator[0], str)
        ):
            items = [one(e) for e in evaluator]
        else:
            return one(evaluator)
        return evaluators.get("sequential")(items)

    def _resolve_callback(self, callback: Any) -> Any:
        if isinstance(callback, str):
            from sentrix.registry import callbacks

            return callbacks.create(callback)
        return callback

    def resolve_router_mapping(self, router_mapping: Any, *datasets: Any, model: Any = None) -> dict[Any, Any]:
        """Turn ``router_mapping`` (dict, nested dict, registered name, strategy) into concrete routes.

        Returns ``{column: route}`` when every dataset is a single dataset, else
        ``{dataset_name: {column: route}}`` (a single dataset next to a dict of datasets is keyed
        ``None``). Columns and routes are checked against the datasets and the model's Router.
        """
        if not router_mapping:
            return {}
        from sentrix.module_base import is_router
        from sentrix.router_mapping import resolve_router_mapping as resolve

        model = model if model is not None else getattr(self, "model", None)
        routes = None
        for module in (model.modules() if isinstance(model, nn.Module) else []):
            if is_router(module) and hasattr(module, "sub_modules"):
                routes = list(module.sub_modules.keys())
                break
        labels = self._label_column_names()
        parts = [
            (isinstance(ds, dict), resolve(router_mapping, ds, routes=routes, label_columns=labels))
            for ds in datasets
            if ds is not None and not isinstance(ds, str)
        ]
        if not parts:
            return router_mapping if isinstance(router_mapping, dict) else {}
        merged: dict[Any, Any] = {}
        if not any(multi for multi, _ in parts):
            for _, mapping in parts:
                merged.update(mapping)
            return merged
        for multi, mapping in parts:
            if multi:
                merged.update(mapping)
            else:
                merged[None] = mapping
        return merged

    def _label_column_names(self) -> list[str]:
        collator = getattr(self, "data_collator", None)
        return list(getattr(collator, "valid_label_columns", None) or ("label", "labels", "score", "scores"))

    def get_data_collator(self, model: Any, args: SentenceTransformerTrainingArguments, processing_class: Any = None) -> Any:
        """The default collator: the model's tokeniser with the arguments' prompts and router mapping."""
        from sentrix.module_base import is_router

        has_router = any(is_router(m) for m in model.modules()) if isinstance(model, nn.Module) else False
        router_mapping = getattr(self, "_resolved_router_mapping", args.router_mapping)
        if has_router and not router_mapping:
            raise InvalidInputError(
                "The model contains a Router module but `router_mapping` is empty, so the Router cannot know which "
                "route each column takes. Set `router_mapping` in the training arguments, e.g. "
                "{'question': 'query', 'answer': 'document'}, per dataset {'nli': {...}}, or a registered mapping "
                "name such as 'query_document' (first column -> query, the rest -> document)."
            )
        tokenize_fn = getattr(model, "preprocess", None) or getattr(model, "tokenize", None)
        if tokenize_fn is None:
            raise InvalidInputError(
                f"The model ({type(model).__name__}) has neither `preprocess` nor `tokenize`; pass a `data_collator`."
            )
        return self.data_collator_class(
            tokenize_fn=tokenize_fn,
            router_mapping=router_mapping,
            prompts=args.prompts,
            max_length=getattr(args, "max_length", None),
        )

    _DEFAULT_ARGS_CACHE: dict[type, dict[str, Any]] = {}

    def _default_args_dict(self) -> dict[str, Any]:
        """Default values of every training argument (to list the non-default ones on the model card)."""
        cls = self.training_args_class
        if cls not in self._DEFAULT_ARGS_CACHE:
            try:
                defaults = cls(
                    output_dir="unused", use_cpu=self.args.use_cpu, accelerator_config={"use_configured_state": True}
                ).to_dict()
                defaults.pop("accelerator_config", None)
            except Exception:  # pragma: no cover - exotic subclass
                defaults = {}
            self._DEFAULT_ARGS_CACHE[cls] = defaults
        return dict(self._DEFAULT_ARGS_CACHE[cls])

    # ==========================================================================================
    # Checks before the first step
    # ==========================================================================================
    def _loss_for(self, dataset_name: str | None) -> nn.Module:
        if isinstance(self.loss, dict):
            return self.loss[dataset_name]
        return self.loss

    def _iter_datasets(self, train_dataset: Any, eval_dataset: Any):
        return _run_checks.iter_datasets(train_dataset, eval_dataset)

    def validate_run(self, train_dataset: Any = None, eval_dataset: Any = None, data_collator: Any = None) -> None:
        """Check every dataset against its loss's data needs, and ``metric_for_best_model``; raise listing every
        problem (see :mod:`sentrix.training.run_checks`)."""
        _run_checks.validate_run(self, train_dataset=train_dataset, eval_dataset=eval_dataset, data_collator=data_collator)

    def check_dataset(
        self, dataset: Any, loss: nn.Module, split: str, name: str | None, label_names: list[str]
    ) -> list[str]:
        """Problems of one dataset for its loss (an empty list when it fits)."""
        return _run_checks.check_dataset(dataset, loss, split, name, label_names)

    @staticmethod
    def _non_finite_rows(dataset: Any, column: str) -> list[int]:
        return _run_checks.non_finite_rows(dataset, column)

    def expected_metric_keys(self, eval_dataset: Any = None) -> tuple[set[str], list[str]]:
        """(metric keys the run will report, name prefixes of evaluators whose full key set is unknown)."""
        eval_dataset = eval_dataset if eval_dataset is not None else getattr(self, "eval_dataset", None)
        return _run_checks.expected_metric_keys(getattr(self, "evaluator", None), eval_dataset)

    def check_metric_for_best_model(self, eval_dataset: Any = None) -> list[str]:
        if not self.args.metric_for_best_model:
            return []
        keys, open_prefixes = self.expected_metric_keys(eval_dataset)
        return _run_checks.check_metric_for_best_model(self.args.metric_for_best_model, keys, open_prefixes)

    def validate_column_names(self, dataset: Any, dataset_name: str | None = None, split: str = "train") -> None:
        _run_checks.validate_column_names(dataset, dataset_name=dataset_name, split=split)

    def _run_plugin_checks(self) -> None:
        _run_checks.run_plugin_checks(self)

    # ==========================================================================================
    # Loss computation
    # ==========================================================================================
    def collect_features(self, inputs: dict[str, Any]) -> tuple[list[dict[str, Any]], torch.Tensor | None]:
        """Split a collated batch into one feature dict per text column, plus the labels."""
        features = []
        seen: set[str] = set()
        for column in inputs:
            prefix = None
            for suffix in _FEATURE_SUFFIXES:
                if column.endswith("_" + suffix):
                    prefix = column[: -len(suffix)]
                    break
            if prefix is None or prefix in seen:
                continue
            seen.add(prefix)
            features.append({key[len(prefix):]: value for key, value in inputs.items() if key.startswith(prefix)})
        return features, inputs.get("label")

    def override_model_in_loss(self, loss: nn.Module, model: nn.Module) -> nn.Module:
        """Point every ``model`` attribute inside ``loss`` (and its sub-losses) at ``model``."""
        for name, child in loss.named_children():
            if name == "model" and hasattr(child, "encode"):
                for attr in ("tokenize", "preprocess", "get_sentence_embedding_dimension", "get_embedding_dimension"):
                    if hasattr(child, attr) and not hasattr(model, attr):
                        setattr(model, attr, getattr(child, attr))
                loss.model = model
            elif isinstance(child, nn.Module):
                setattr(loss, name, self.override_model_in_loss(child, model))
        return loss

    def compute_loss(
        self,
        model: nn.Module,
        inputs: dict[str, Any],
        return_outputs: bool = False,
        num_items_in_batch: Any = None,
    ) -> Any:
        """Run the loss of the batch's dataset on the tokenised columns; stop on a non-finite label or loss."""
        dataset_name = inputs.pop("dataset_name", None)
        features, labels = self.collect_features(inputs)
        loss_fn = self.loss[dataset_name] if isinstance(self.loss, dict) and dataset_name else self.loss
        if isinstance(loss_fn, dict):
            raise InvalidInputError(
                "`loss` is a dict but the batch carries no dataset name; give the datasets as a dict with the same keys."
            )
        if model is self.model_wrapped and model is not self.model and getattr(loss_fn, "model", None) is not model:
            loss_fn = self.override_model_in_loss(loss_fn, model)

        if labels is not None and torch.is_tensor(labels) and labels.is_floating_point() and not torch.isfinite(labels).all():
            rows = torch.nonzero(~torch.isfinite(labels.reshape(len(labels), -1)).all(dim=1)).flatten().tolist()
            raise NonFiniteTrainingError(self._non_finite_message("label", dataset_name, rows, features))

        token_stats = self.__dict__.setdefault("_token_stats", _TokenStats())
        with token_stats.batch(self.args, features, model.training):  # merge_and_bucket argument; tokens per step
            loss = loss_fn(features, labels)
        if isinstance(loss, dict):
            self.track_loss_components(loss)
            loss = torch.stack(list(loss.values())).sum()
        if not torch.isfinite(loss.detach()).all():
            raise NonFiniteTrainingError(self._non_finite_message("loss", dataset_name, None, features))
        if return_outputs:
            return loss, {}
        return loss

    def _non_finite_message(self, what: str, dataset_name: str | None, rows: list[int] | None, features: list[dict]) -> str:
        split = "training" if self.model.training else "evaluation"
        where = f"dataset {dataset_name!r}" if dataset_name else f"the {split} dataset"
        preview = self._decode_rows(features, rows)
        rows_text = f" batch rows {rows}" if rows else " this batch"
        return (
            f"Non-finite {what} (NaN or inf) in {where} at {split} step {self.state.global_step}"
            f" (epoch {self.state.epoch or 0:.2f}); the run is stopped instead of training on it. Affected:{rows_text}"
            + (f", texts: {preview}" if preview else "")
            + ". Fix: "
            + (
                "drop or repair the non-finite labels in the dataset."
                if what == "label"
                else "lower the learning rate, check the labels' range for this loss, or use bf16/fp32 instead of fp16."
            )
        )

    def _decode_rows(self, features: list[dict], rows: list[int] | None) -> list[str]:
        tokenizer = self.processing_class
        if tokenizer is None or not features or "input_ids" not in features[0] or not hasattr(tokenizer, "decode"):
            return []
        ids = features[0]["input_ids"]
        picked = rows[:3] if rows else list(range(min(3, len(ids))))
        try:
            return [tokenizer.decode(ids[i], skip_special_tokens=True)[:80] for i in picked]
        except Exception:
            return []

    def track_loss_components(self, loss: dict[str, torch.Tensor]) -> None:
        split = "train" if self.model.training else "eval"
        acc = self.accum_loss_components[split]
        for key, value in loss.items():
            value = value.detach()
            acc[key] = acc[key] + value if key in acc else value
        acc["steps"] = acc.get("steps", torch.tensor(0, device=value.device)) + 1

    def log(self, logs: dict[str, float], start_time: float | None = None) -> None:
        """Log like ``transformers.Trainer`` plus the mean of each component of dict-valued losses since the last
        log: ``<component>`` for training, ``eval_<component>`` (``eval_<dataset>_<component>`` per eval dataset)."""
        split, prefix = ("train", "") if "loss" in logs else (None, "")
        if split is None:
            eval_loss = "eval_loss" if "eval_loss" in logs else next(
                (k for k in logs if k.startswith("eval_") and k.endswith("_loss")), None
            )
            if eval_loss is not None:
                split, prefix = "eval", eval_loss[: -len("loss")]
        if split:
            acc = self.accum_loss_components[split]
            self.accum_loss_components[split] = {}
            steps = int(acc["steps"].item()) if acc.get("steps") is not None else 0
            totals = {key: (float(value.sum().item()), steps) for key, value in acc.items() if key != "steps"}
            if self.args.world_size > 1 and torch.distributed.is_available() and torch.distributed.is_initialized():
                # The mean over every process, like the logged loss. Every process logs at the same points, but with
                # one loss per dataset each may have run other losses (other components, or none) since the last log,
                # so the totals travel as objects rather than as tensors of a shape known in advance.
                gathered: list[Any] = [None] * torch.distributed.get_world_size()
                torch.distributed.all_gather_object(gathered, totals)
                totals = {}
                for part in gathered:
                    for key, (total, count) in part.items():
                        before = totals.get(key, (0.0, 0))
                        totals[key] = (before[0] + total, before[1] + count)
            if totals:
                logs = dict(logs)  # the components go to the log only, not into evaluate()'s returned metrics
                for key, (total, count) in totals.items():
                    logs[f"{prefix}{key}"] = round(total / max(count, 1), 4)
        token_stats = self.__dict__.get("_token_stats")
        if split == "train" and token_stats is not None:
            logs = {**logs, **token_stats.log_entries(self.state.global_step)}  # tokens_real, tokens_padding, padding_share
            card = getattr(self.model, "model_card_data", None)
            if card is not None and hasattr(card, "training_tokens"):
                card.training_tokens = token_stats.summary()
        if start_time is not None:
            return super().log(logs, start_time)
        return super().log(logs)

    # ==========================================================================================
    # Data loading
    # ==========================================================================================
    def _sampler_spec(self, value: Any, kind: str) -> Any:
        if isinstance(value, (BatchSamplers, MultiDatasetBatchSamplers)):
            value = value.value
        if isinstance(value, str):
            from sentrix.registry import get_registry

            return get_registry(kind).get(value)
        return value

    def get_batch_sampler(
        self,
        dataset: Any,
        batch_size: int,
        drop_last: bool,
        valid_label_columns: list[str] | None = None,
        generator: torch.Generator | None = None,
        seed: int = 0,
    ) -> BatchSampler | None:
        """Build the batch sampler named by ``args.batch_sampler`` (registered name, class or callable)."""
        if _is_iterable_dataset(dataset):
            if self.args.batch_sampler not in (BatchSamplers.BATCH_SAMPLER, "batch_sampler"):
                logger.warning("An IterableDataset is read in order; `batch_sampler` is ignored for it.")
            return None
        factory = self._sampler_spec(self.args.batch_sampler, "batch_samplers")
        sampler = factory(
            dataset,
            batch_size=batch_size,
            drop_last=drop_last,
            valid_label_columns=valid_label_columns,
            generator=generator,
            seed=seed,
        )
        card = getattr(self.model, "model_card_data", None)
        if card is not None and hasattr(card, "add_component"):
            card.add_component("batch sampler", sampler)
        return sampler

    def get_multi_dataset_batch_sampler(
        self,
        dataset: ConcatDataset,
        batch_samplers: list[BatchSampler],
        generator: torch.Generator | None = None,
        seed: int | None = 0,
    ) -> BatchSampler:
        """Build the sampler named by ``args.multi_dataset_batch_sampler`` over one sampler per dataset."""
        factory = self._sampler_spec(self.args.multi_dataset_batch_sampler, "multi_dataset_batch_samplers")
        sampler = factory(dataset, batch_samplers=batch_samplers, generator=generator, seed=seed)
        card = getattr(self.model, "model_card_data", None)
        if card is not None and hasattr(card, "add_component"):
            card.add_component("multi-dataset batch sampler", sampler)
        return sampler

    def _build_dataloader(self, dataset: Any, batch_size: int, split: str) -> DataLoader:
        from datasets import Dataset, DatasetDict, IterableDatasetDict

        generator = torch.Generator()
        if self.args.seed is not None:
            generator.manual_seed(self.args.seed)
        params: dict[str, Any] = {
            "collate_fn": self.data_collator,
            "num_workers": self.args.dataloader_num_workers,
            "pin_memory": self.args.dataloader_pin_memory and _accelerator_available(),  # pinning needs a GPU
            "persistent_workers": self.args.dataloader_persistent_workers,
            "prefetch_factor": self.args.dataloader_prefetch_factor,
        }
        labels = list(getattr(self.data_collator, "valid_label_columns", None) or [])
        if _is_iterable_dataset(dataset):
            params.update(batch_size=batch_size, drop_last=self.args.dataloader_drop_last)
        elif isinstance(dataset, IterableDatasetDict):
            raise InvalidInputError(
                f"The {split} dataset is an IterableDatasetDict; use a DatasetDict (map-style datasets) for several datasets."
            )
        elif isinstance(dataset, DatasetDict):
            for name, member in dataset.items():
                if _is_iterable_dataset(member):
                    raise InvalidInputError(
                        f"{split} dataset {name!r} is an IterableDataset inside a dict of datasets; with several "
                        "datasets every one must be a map-style datasets.Dataset."
                    )
            samplers = [
                self.get_batch_sampler(
                    member,
                    batch_size=batch_size,
                    drop_last=self.args.dataloader_drop_last,
                    valid_label_columns=labels,
                    generator=generator,
                    seed=self.args.seed,
                )
                for member in dataset.values()
            ]
            concat = ConcatDataset(list(dataset.values()))
            params["batch_sampler"] = self.get_multi_dataset_batch_sampler(
                concat, batch_samplers=samplers, generator=generator, seed=self.args.seed
            )
            dataset = concat
        elif isinstance(dataset, Dataset):
            params["batch_sampler"] = self.get_batch_sampler(
                dataset,
                batch_size=batch_size,
                drop_last=self.args.dataloader_drop_last,
                valid_label_columns=labels,
                generator=generator,
                seed=self.args.seed,
            )
        else:
            raise InvalidInputError(
                f"The {split} dataset is a {type(dataset).__name__}; use a datasets.Dataset, a dict/DatasetDict of "
                "them, or an IterableDataset."
            )
        if params["num_workers"] == 0:
            params.pop("prefetch_factor", None)
            params["persistent_workers"] = False
        return DataLoader(dataset, **params)

    def get_train_dataloader(self) -> DataLoader:
        """The training data loader: the configured batch sampler(s) over the training dataset(s)."""
        if self.train_dataset is None:
            raise InvalidInputError(f"Training needs a `train_dataset`; give one to {type(self).__name__}(...).")
        self.accelerator.even_batches = False
        loader = self._build_dataloader(self.train_dataset, self._train_batch_size, "train")
        self._train_batch_sampler = getattr(loader, "batch_sampler", None)
        resuming_from = getattr(self, "_resuming_from", None)
        if resuming_from and self._train_batch_sampler is not None:
            _checkpoints.load_component_state(resuming_from, _checkpoints.SAMPLER_STATE_NAME, self._train_batch_sampler, "batch sampler")
        self._train_dataloader = self.accelerator.prepare(loader)
        return self._train_dataloader

    def get_eval_dataloader(self, eval_dataset: Any = None) -> DataLoader:
        """The evaluation data loader for ``eval_dataset`` (a name of one of the eval datasets, a dataset, or all)."""
        if eval_dataset is None and self.eval_dataset is None:
            if self.evaluator is not None:
                return DataLoader([])
            raise InvalidInputError("Evaluation needs an `eval_dataset` or an `evaluator`.")
        key = eval_dataset if isinstance(eval_dataset, str) else "eval"
        cacheable = isinstance(eval_dataset, str) or eval_dataset is None
        if cacheable and self.args.dataloader_persistent_workers and key in self._eval_dataloaders:
            return self._eval_dataloaders[key]
        if isinstance(eval_dataset, str):
            eval_dataset = self.eval_dataset[eval_dataset]
        elif eval_dataset is None:
            eval_dataset = self.eval_dataset
        self.accelerator.even_batches = True
        loader = self.accelerator.prepare(self._build_dataloader(eval_dataset, self.args.eval_batch_size, "eval"))
        if cacheable and self.args.dataloader_persistent_workers:
            self._eval_dataloaders[key] = loader
        return loader

    def get_test_dataloader(self, test_dataset: Any) -> DataLoader:
        """The data loader for a test dataset (same batching as evaluation)."""
        self.accelerator.even_batches = True
        return self.accelerator.prepare(self._build_dataloader(test_dataset, self.args.eval_batch_size, "test"))

    # ==========================================================================================
    # Dataset preprocessing (lazy)
    # ==========================================================================================
    def preprocess_dataset(self, dataset: Any = None, dataset_name: str | None = None) -> Any:
        """Lazily add a ``dataset_name`` column where losses, prompts or routes differ per dataset."""
        if dataset is None or getattr(dataset, "_sentrix_preprocessed", False):
            return dataset
        self.validate_column_names(dataset, split=dataset_name or "train")
        if self.should_dataset_name_column_be_added(dataset):
            dataset = self.add_dataset_name_column(dataset)
            try:
                dataset._sentrix_preprocessed = True
            except AttributeError:  # pragma: no cover
                pass
        return dataset

    def should_dataset_name_column_be_added(self, dataset: Any) -> bool:
        from datasets import DatasetDict, IterableDatasetDict

        if not isinstance(dataset, (DatasetDict, IterableDatasetDict)):
            return False
        routes = self._resolved_router_mapping
        nested_routes = bool(routes) and isinstance(next(iter(routes.values())), dict)
        return isinstance(self.loss, dict) or isinstance(self.args.prompts, dict) and bool(self.args.prompts) or nested_routes

    def maybe_add_dataset_name_column(self, dataset: Any, dataset_name: str | None = None) -> Any:
        """Add the ``dataset_name`` column only when the run needs it (see :meth:`preprocess_dataset`)."""
        return self.preprocess_dataset(dataset, dataset_name=dataset_name)

    def add_dataset_name_column(self, dataset: Any, dataset_name: str | None = None) -> Any:
        """Attach a lazy transform (``set_transform``) or a map that adds ``dataset_name`` to every row."""
        from datasets import Dataset, DatasetDict, IterableDatasetDict, Value

        if isinstance(dataset, (DatasetDict, IterableDatasetDict)):
            for name in list(dataset.keys()):
                dataset[name] = self.add_dataset_name_column(dataset[name], dataset_name=name)
            return dataset
        if dataset_name is None:
            return dataset
        if isinstance(dataset, Dataset):
            # with_transform returns a new Dataset object: the caller's dataset (which may also be used under
            # another name, or as the eval dataset) keeps its own format.
            previous = dict(dataset._format_kwargs or {})
            return dataset.with_transform(
                partial(self.add_dataset_name_transform, dataset_name=dataset_name, transform=previous.pop("transform", None)),
                columns=dataset._format_columns,
                output_all_columns=dataset._output_all_columns,
            )
        if _is_iterable_dataset(dataset):
            features = dataset.features
            if features is not None:
                features = features.copy()
                features["dataset_name"] = Value("string")
            return dataset.map(
                partial(self.add_dataset_name_transform, dataset_name=dataset_name), batched=True, features=features
            )
        raise InvalidInputError(
            f"Cannot add a dataset name to a {type(dataset).__name__}; use datasets.Dataset or IterableDataset."
        )

    @staticmethod
    def add_dataset_name_transform(
        batch: dict[str, list[Any]],
        dataset_name: str | None = None,
        transform: Callable[[dict[str, list[Any]]], dict[str, list[Any]]] | None = None,
        **kwargs: Any,
    ) -> dict[str, list[Any]]:
        """The transform itself: apply a previous transform, then add ``dataset_name`` to each row."""
        if transform is not None:
            batch = transform(batch)
        if not batch or not list(batch.values())[0] or dataset_name is None:
            return batch
        batch["dataset_name"] = [dataset_name] * len(list(batch.values())[0])
        return batch

    # ==========================================================================================
    # Evaluation
    # ==========================================================================================
    def evaluate(self, eval_dataset: Any = None, ignore_keys: list[str] | None = None, metric_key_prefix: str = "eval") -> dict[str, float]:
        """Evaluation loss (``eval_loss``, or ``eval_<name>_loss`` per dataset) plus the evaluator's metrics."""
        if eval_dataset is not None and not isinstance(eval_dataset, str):
            eval_dataset = self._as_dataset_dict(eval_dataset)
            eval_dataset = self.preprocess_dataset(eval_dataset, dataset_name="eval")
        return super().evaluate(eval_dataset, ignore_keys, metric_key_prefix)

    def evaluation_loop(self, dataloader, description, prediction_loss_only=None, ignore_keys=None, metric_key_prefix="eval"):
        output = super().evaluation_loop(
            dataloader=dataloader,
            description=description,
            prediction_loss_only=prediction_loss_only,
            ignore_keys=ignore_keys,
            metric_key_prefix=metric_key_prefix,
        )
        if self.evaluator is None:
            return output
        # During training with several eval datasets the evaluator runs once (with the first), under the plain
        # "eval" prefix; an explicit trainer.evaluate() runs it for each, prefixed with that dataset's name.
        if self.is_in_train and isinstance(self.eval_dataset, dict) and metric_key_prefix.startswith("eval_"):
            if metric_key_prefix[5:] == list(self.eval_dataset.keys())[0]:
                metric_key_prefix = "eval"
            else:
                return output
        # Every process runs the evaluator inside one evaluation round: each distinct text is encoded once,
        # split across the processes, and every process gets all embeddings (sentrix.evaluation_round).
        # Only the first process writes result files and the model card data.
        from sentrix.evaluation_round import evaluation_round

        output_path = None
        if self.args.output_dir and self.is_world_process_zero():
            output_path = os.path.join(self.args.output_dir, "eval")
            os.makedirs(output_path, exist_ok=True)
        with evaluation_round(self.model, distributed=True):
            metrics = self.evaluator(self.model, output_path=output_path, epoch=self.state.epoch, steps=self.state.global_step)
        if not isinstance(metrics, dict):
            metrics = {"evaluator": metrics}
        if self.is_world_process_zero():
            card = getattr(self.model, "model_card_data", None)
            if card is not None and hasattr(card, "set_evaluation_metrics"):
                members = list(getattr(self.evaluator, "evaluators", None) or [self.evaluator])
                for member in members:
                    name = getattr(member, "name", "") or ""
                    own = {k: v for k, v in metrics.items() if not name or k.startswith(name + "_")} if len(members) > 1 else metrics
                    card.set_evaluation_metrics(member, own, epoch=self.state.epoch or 0, step=self.state.global_step)
                    card.add_component("evaluator", member)
        if self.args.world_size > 1:
            from accelerate.utils import broadcast_object_list

            metrics = broadcast_object_list([metrics])[0]
        for key in list(metrics):
            if not key.startswith(f"{metric_key_prefix}_"):
                metrics[f"{metric_key_prefix}_{key}"] = metrics.pop(key)
        output.metrics.update(metrics)
        return output

    # ==========================================================================================
    # Optimiser
    # ==========================================================================================
    def _optimization_target(self) -> nn.Module:
        return _OptimizationTarget(self.model, self.loss)

    def create_optimizer(self, model: nn.Module | None = None) -> torch.optim.Optimizer:
        """AdamW (or ``args.optim``) over the model and the losses' own parameters; ``learning_rate_mapping``
        puts parameters whose name matches a pattern in their own group with that learning rate."""
        if self.optimizer is not None:
            return self.optimizer
        target = self._optimization_target()
        decay = set(self.get_decay_parameter_names(target))
        named = [(n, p) for n, p in target.named_parameters() if p.requires_grad]
        assigned: set[int] = set()
        mapped_groups: list[dict[str, Any]] = []
        for pattern, lr in (self.args.learning_rate_mapping or {}).items():
            matched = [(n, p) for n, p in named if re.search(pattern, n) and id(p) not in assigned]
            if not matched:
                examples = ", ".join(n for n, _ in named[:3])
                raise InvalidInputError(
                    f"learning_rate_mapping pattern {pattern!r} matches no trainable parameter. Parameter names look "
                    f"like: {examples}, ... Fix the regular expression (it is searched with re.search), or list them "
                    "with `[n for n, _ in model.named_parameters()]`."
                )
            assigned.update(id(p) for _, p in matched)
            for with_decay in (True, False):
                params = [p for n, p in matched if (n in decay) == with_decay]
                if params:
                    mapped_groups.append(
                        {"params": params, "lr": float(lr), "weight_decay": self.args.weight_decay if with_decay else 0.0,
                         "name": f"lr_mapping:{pattern}:{'decay' if with_decay else 'no_decay'}"}
                    )
        groups = [
            {"params": [p for n, p in named if n in decay and id(p) not in assigned], "weight_decay": self.args.weight_decay},
            {"params": [p for n, p in named if n not in decay and id(p) not in assigned], "weight_decay": 0.0},
            *mapped_groups,
        ]
        if self.optimizer_cls_and_kwargs is not None:
            optimizer_cls, optimizer_kwargs = self.optimizer_cls_and_kwargs
        else:
            optimizer_cls, optimizer_kwargs = self.get_optimizer_cls_and_kwargs(self.args, target)
        optimizer_kwargs = dict(optimizer_kwargs)
        for key in ("params", "model", "optimizer_dict"):
            if key in optimizer_kwargs:
                groups = optimizer_kwargs.pop(key)
        # Optimisers that reject unknown group keys would choke on "name"; it is informational only.
        try:
            self.optimizer = optimizer_cls(groups, **optimizer_kwargs)
        except (TypeError, ValueError):
            for group in groups:
                if isinstance(group, dict):
                    group.pop("name", None)
            self.optimizer = optimizer_cls(groups, **optimizer_kwargs)
        return self.optimizer

    def create_scheduler(self, num_training_steps: int, optimizer: torch.optim.Optimizer | None = None):
        """The learning-rate schedule of ``args.lr_scheduler_type`` (groups keep their own base learning rates)."""
        return super().create_scheduler(num_training_steps=num_training_steps, optimizer=optimizer)

    def create_optimizer_and_scheduler(self, num_training_steps: int) -> None:
        """Create the optimiser (see :meth:`create_optimizer`) and its schedule."""
        return super().create_optimizer_and_scheduler(num_training_steps)

    def get_learning_rates(self) -> list[float]:
        """The current learning rate of every optimiser parameter group."""
        if self.optimizer is None:
            raise InvalidInputError("No optimiser yet: call `trainer.create_optimizer()` or `trainer.train()` first.")
        return [group["lr"] for group in self.optimizer.param_groups]

    def get_optimizer_group(self, param: str | nn.Parameter | None = None) -> Any:
        """The optimiser group holding ``param`` (a parameter or its name), or all groups' parameters."""
        if self.optimizer is None:
            raise InvalidInputError("No optimiser yet: call `trainer.create_optimizer()` or `trainer.train()` first.")
        if param is None:
            return [group["params"] for group in self.optimizer.param_groups]
        if isinstance(param, str):
            named = dict(self._optimization_target().named_parameters())
            found = named.get(param)
            if found is None:
                found = named.get(f"model.{param}")
            if found is None:
                raise InvalidInputError(
                    f"No parameter named {param!r}. Names look like: {', '.join(list(named)[:3])}, ..."
                )
            param = found
        for group in self.optimizer.param_groups:
            if any(p is param for p in group["params"]):
                return group
        return None

    def get_num_trainable_parameters(self) -> int:
        """Trainable parameters of the model and of the losses (e.g. a classifier head), each counted once."""
        return sum(p.numel() for p in self._optimization_target().parameters() if p.requires_grad)

    # ==========================================================================================
    # Model init (hyperparameter search) and training
    # ==========================================================================================
    def call_model_init(self, trial: Any = None) -> Any:
        """A fresh model from ``model_init``; losses are re-created (callables) or re-bound to it."""
        model = super().call_model_init(trial=trial)
        if not hasattr(self, "loss"):
            return model
        if isinstance(self.loss, dict):
            for key, loss_fn in list(self.loss.items()):
                self.loss[key] = loss_fn(model) if not isinstance(loss_fn, nn.Module) else self.override_model_in_loss(loss_fn, model)
        elif not isinstance(self.loss, nn.Module):
            self.loss = self.loss(model)
        else:
            self.loss = self.override_model_in_loss(self.loss, model)
        return model

    def train(self, resume_from_checkpoint: str | bool | None = None, trial: Any = None, ignore_keys_for_eval: list[str] | None = None, **kwargs: Any):
        """Train. ``resume_from_checkpoint``: a checkpoint folder, or ``True`` for the last complete one in
        ``output_dir``. Restores model, optimiser, scheduler, RNG and the position in the data."""
        self.validate_run(
            train_dataset=self._train_dataset_raw,
            eval_dataset=self._eval_dataset_raw,
        )
        self._run_plugin_checks()
        logger.info(_describe_forward(self.model, getattr(self.args, "merge_and_bucket", None)))
        if self.args.should_save and trial is None:  # finish or drop what an interrupted write left behind
            from sentrix.training.model_folder import recover

            recover(self.args.output_dir)
        resume_from_checkpoint = _checkpoints.resolve_resume_checkpoint(resume_from_checkpoint, self.args.output_dir)
        if resume_from_checkpoint:
            self._run_id = _checkpoints.read_run_id(resume_from_checkpoint, self._run_id)
        elif trial is None and not getattr(self.args, "overwrite_output_dir", False):
            self._refuse_other_runs_checkpoints()
        self._resuming_from = resume_from_checkpoint or None
        card = getattr(self.model, "model_card_data", None)
        if card is not None and hasattr(card, "resolved_config"):
            card.resolved_config = self.resolved_config()
        return super().train(resume_from_checkpoint=resume_from_checkpoint, trial=trial, ignore_keys_for_eval=ignore_keys_for_eval, **kwargs)

    def resolved_config(self) -> dict[str, Any]:
        """The configuration this run actually uses, with registered names resolved (for the model card)."""
        from sentrix.model_card import _plain

        def describe(obj: Any) -> Any:
            if obj is None:
                return None
            cfg = {}
            if hasattr(obj, "get_config_dict"):
                try:
                    cfg = _plain(obj.get_config_dict())
                except Exception:
                    cfg = {}
            return {"class": f"{type(obj).__module__}.{type(obj).__qualname__}", **({"params": cfg} if cfg else {})}

        loss = {k: describe(v) for k, v in self.loss.items()} if isinstance(self.loss, dict) else describe(self.loss)
        members = list(getattr(self.evaluator, "evaluators", None) or ([self.evaluator] if self.evaluator else []))
        config = {
            "loss": loss,
            "evaluators": [describe(e) for e in members],
            "batch_sampler": _plain(self.args.batch_sampler),
            "multi_dataset_batch_sampler": _plain(self.args.multi_dataset_batch_sampler),
            "router_mapping": _plain(self._resolved_router_mapping),
            "prompts": _plain(self.args.prompts),
            "learning_rate_mapping": _plain(self.args.learning_rate_mapping),
            "seed": self.args.seed,
            "per_device_train_batch_size": self.args.per_device_train_batch_size,
            "learning_rate": self.args.learning_rate,
            "num_train_epochs": self.args.num_train_epochs,
            "max_steps": self.args.max_steps,
        }
        return redact_secrets(config)

    def hyperparameter_search(
        self,
        hp_space: Callable[[Any], dict[str, float]] | None = None,
        compute_objective: Callable[[dict[str, float]], float] | None = None,
        n_trials: int = 20,
        direction: str | list[str] = "minimize",
        backend: str | None = None,
        hp_name: Callable[[Any], str] | None = None,
        **kwargs: Any,
    ) -> Any:
        """Search hyperparameters (optuna backend by default) over fresh models from ``model_init``.

        Give the loss as a callable ``model -> loss`` (or a dict of them) so each trial builds its
        own; ``hp_space(trial)`` may return training arguments (e.g. ``learning_rate``).
        """
        if self.model_init is None:
            raise InvalidInputError(
                "hyperparameter_search needs `model_init` (a function returning a fresh SentenceTransformer) so "
                "every trial starts from the same weights; pass it to the trainer instead of `model`."
            )
        return super().hyperparameter_search(
            hp_space=hp_space, compute_objective=compute_objective, n_trials=n_trials, direction=direction,
            backend=backend or "optuna", hp_name=hp_name, **kwargs,
        )

    # ==========================================================================================
    # Saving, checkpoints, resuming
    # ==========================================================================================
    def save_model(self, output_dir: str | None = None, _internal_call: bool = False) -> None:
        """Save the model in the sentence-transformers layout (loadable by sentence-transformers).

        The files are first written to a temporary folder and then moved into place with renames,
        so ``output_dir`` never holds a half-written model.
        """
        output_dir = os.fspath(output_dir) if output_dir is not None else self.args.output_dir
        if self.is_deepspeed_enabled or self.is_fsdp_enabled:
            return super().save_model(output_dir, _internal_call=_internal_call)
        if not self.args.should_save:
            return
        if _internal_call and os.path.basename(output_dir).startswith(TMP_PREFIX):
            self._save(output_dir)
        else:
            self._save_atomically(output_dir)
        if self.args.push_to_hub and not _internal_call:
            self.push_to_hub(commit_message="Model save")

    def _save_atomically(self, output_dir: str) -> None:
        _checkpoints.save_atomically(output_dir, self._save, overwrite=bool(getattr(self.args, "overwrite_output_dir", False)))

    def _save(self, output_dir: str | None = None, state_dict: Any = None) -> None:
        output_dir = output_dir if output_dir is not None else self.args.output_dir
        os.makedirs(output_dir, exist_ok=True)
        model = self.accelerator.unwrap_model(self.model) if hasattr(self, "accelerator") else self.model
        model = getattr(model, "_orig_mod", model)
        model.save_pretrained(output_dir)
        readme = generate_model_card(model, trainer=self)
        with open(os.path.join(output_dir, "README.md"), "w", encoding="utf-8") as fh:
            fh.write(readme)
        torch.save(self.args.without_secrets(), os.path.join(output_dir, TRAINING_ARGS_NAME))

    def _save_checkpoint(self, model: nn.Module, trial: Any) -> None:
        """Write ``checkpoint-<step>`` into a temporary folder, then rename it into place."""
        checkpoint_folder = f"{PREFIX_CHECKPOINT_DIR}-{self.state.global_step}"
        if self.hp_search_backend is None and trial is None:
            self.store_flos()
        run_dir = self._get_output_dir(trial=trial)
        final_dir = os.path.join(run_dir, checkpoint_folder)
        tmp_dir = os.path.join(run_dir, f"{TMP_PREFIX}{checkpoint_folder}")
        if self.args.should_save:
            os.makedirs(run_dir, exist_ok=True)
            if os.path.exists(tmp_dir):  # left over by a save that was killed
                shutil.rmtree(tmp_dir)
        self.accelerator.wait_for_everyone()
        self.save_model(tmp_dir, _internal_call=True)
        if self.args.should_save:  # the losses' own state (e.g. a classifier head), restored on resume
            _loss_state.save_loss_state(tmp_dir, self.loss, self._unwrapped_model())

        save_strategy = str(getattr(self.args.save_strategy, "value", self.args.save_strategy))
        if save_strategy in ("steps", "epoch", "best") and self.state.best_global_step:
            best_dir = os.path.join(run_dir, f"{PREFIX_CHECKPOINT_DIR}-{self.state.best_global_step}")
            if self.state.best_global_step == self.state.global_step or os.path.exists(best_dir):
                self.state.best_model_checkpoint = best_dir

        if not self.args.save_only_model:
            self._save_optimizer_and_scheduler(tmp_dir)
            self._save_scaler(tmp_dir)
            self._save_rng_state(tmp_dir)

        if self.args.should_save:
            from transformers.trainer_callback import ExportableState

            for cb in [c for c in self.callback_handler.callbacks + [self.control] if isinstance(c, ExportableState)]:
                name = cb.__class__.__name__
                if isinstance(self.state.stateful_callbacks.get(name), list):
                    self.state.stateful_callbacks[name].append(cb.state())
                else:
                    self.state.stateful_callbacks[name] = cb.state()
            sampler = getattr(self, "_train_batch_sampler", None)
            if sampler is not None:
                _checkpoints.save_component_state(tmp_dir, _checkpoints.SAMPLER_STATE_NAME, sampler)
            if self.evaluator is not None:
                _checkpoints.save_component_state(tmp_dir, _checkpoints.EVALUATOR_STATE_NAME, self.evaluator)
            _checkpoints.write_run_marker(tmp_dir, self._run_id, self.state.global_step)
            # trainer_state.json is written last: its presence marks a complete checkpoint.
            self.state.save_to_json(os.path.join(tmp_dir, TRAINER_STATE_NAME))
        self.accelerator.wait_for_everyone()
        if self.args.should_save:
            owner = (_checkpoints.read_run_marker(final_dir) or {}).get("run_id") if os.path.isdir(final_dir) else self._run_id
            if owner != self._run_id and not getattr(self.args, "overwrite_output_dir", False):
                shutil.rmtree(tmp_dir, ignore_errors=True)
                raise InvalidInputError(
                    f"{final_dir!r} exists and was not written by this run (run {owner or 'unknown: no sentrix run marker'}); "
                    "it is left as it is and this checkpoint was not saved. Move that folder away, or set "
                    "overwrite_output_dir=True to let this run replace it."
                )
            _checkpoints.fsync_tree(tmp_dir)
            _checkpoints.replace_dir(tmp_dir, final_dir)
        self.accelerator.wait_for_everyone()

        if self.args.push_to_hub:
            self._push_from_checkpoint(final_dir)
        if self.args.should_save:
            self._rotate_run_checkpoints(run_dir)

    def _run_checkpoints(self, run_dir: str) -> list[tuple[int, str]]:
        """This run's checkpoints in ``run_dir`` (step, path), oldest first."""
        return _checkpoints.run_checkpoints(run_dir, self._run_id)

    def _rotate_run_checkpoints(self, run_dir: str) -> None:
        _checkpoints.rotate_run_checkpoints(run_dir, self._run_id, self.args.save_total_limit, self.state.best_model_checkpoint)

    def _finalize_training(self, trial: Any, num_train_samples: int, start_time: float) -> Any:
        # The base class deletes every checkpoint folder but the best when save_total_limit == 1, including
        # folders of other runs; here only this run's checkpoints are removed.
        limit = self.args.save_total_limit
        if limit == 1:
            object.__setattr__(self.args, "save_total_limit", None)
        try:
            output = super()._finalize_training(trial, num_train_samples, start_time)
        finally:
            object.__setattr__(self.args, "save_total_limit", limit)
        best = self.state.best_model_checkpoint
        if limit == 1 and self.args.should_save and best and os.path.isdir(best):
            _checkpoints.keep_only_best(self._get_output_dir(trial), self._run_id, best)
        return output

    def _rotate_checkpoints(self, use_mtime: bool = False, output_dir: str | None = None) -> None:
        self._rotate_run_checkpoints(output_dir or self.args.output_dir)

    def _load_model_weights(self, checkpoint: str) -> None:
        model = self.accelerator.unwrap_model(self.model) if hasattr(self, "accelerator") else self.model
        model = getattr(model, "_orig_mod", model)
        device = next((p.device for p in model.parameters()), torch.device("cpu"))
        try:
            loaded = type(model)(checkpoint, device="cpu")
        except TypeError:
            loaded = type(model)(checkpoint)
        state = loaded.state_dict()
        missing, unexpected = model.load_state_dict(state, strict=False)
        if missing or unexpected:
            raise InvalidInputError(
                f"Checkpoint {checkpoint!r} does not match the model being trained (missing: {list(missing)[:5]}, "
                f"unexpected: {list(unexpected)[:5]}). Resume with the same model architecture it was saved from."
            )
        model.to(device)

    def _load_from_checkpoint(self, resume_from_checkpoint: str, model: nn.Module | None = None) -> None:
        self._load_model_weights(resume_from_checkpoint)
        # The losses hold the same model object, whose weights were replaced in place; re-bind anyway in
        # case a loss kept a different reference (e.g. after model_init).
        if isinstance(self.loss, dict):
            for key in self.loss:
                self.loss[key] = self.override_model_in_loss(self.loss[key], self.model)
        elif isinstance(self.loss, nn.Module):
            self.loss = self.override_model_in_loss(self.loss, self.model)
        _loss_state.restore_loss_state(resume_from_checkpoint, self.loss, self._unwrapped_model())
        if self.evaluator is not None:
            _checkpoints.load_component_state(resume_from_checkpoint, _checkpoints.EVALUATOR_STATE_NAME, self.evaluator, "evaluator")

    def _refuse_other_runs_checkpoints(self) -> None:
        """A new run never writes over another run's checkpoints: stop, before anything is written, when
        ``output_dir`` holds complete checkpoints that this run did not write."""
        others = _checkpoints.other_runs_checkpoints(self.args.output_dir, self._run_id)
        if others:
            names = [os.path.basename(p) for p in others]
            raise InvalidInputError(
                f"output_dir {self.args.output_dir!r} holds checkpoints of another run ({', '.join(names[:5])}"
                f"{', ...' if len(names) > 5 else ''}); a new run would replace those with the same step number. "
                "Fix: continue that run with trainer.train(resume_from_checkpoint=True), choose another output_dir, "
                "delete those folders, or set overwrite_output_dir=True in the training arguments to let this run "
                "replace same-numbered checkpoints (the others are left alone)."
            )

    def _run_epoch(self, *args: Any, **kwargs: Any) -> Any:
        # A run resumed from its last checkpoint (it had finished, or was stopped after that checkpoint, e.g.
        # during the final save) has nothing left to train: no step and no checkpoint is added.
        if self.state.max_steps and self.state.global_step >= self.state.max_steps:
            logger.info(
                "The checkpoint is at step %d of %d: training had finished; nothing left to train.",
                self.state.global_step, self.state.max_steps,
            )
            self.control.should_training_stop = True
            return None
        return super()._run_epoch(*args, **kwargs)

    def _unwrapped_model(self) -> nn.Module:
        model = self.accelerator.unwrap_model(self.model) if hasattr(self, "accelerator") else self.model
        return getattr(model, "_orig_mod", model)

    def _load_best_model(self) -> None:
        checkpoint = self.state.best_model_checkpoint
        if not checkpoint:
            return
        card = getattr(self.model, "model_card_data", None)
        step = _checkpoints.checkpoint_step(checkpoint)
        if card is not None and step is not None and hasattr(card, "set_best_model_step"):
            card.set_best_model_step(step)
        logger.info("Loading the best model from %s (score %s).", checkpoint, self.state.best_metric)
        self._load_model_weights(checkpoint)
        if os.path.isfile(os.path.join(checkpoint, _loss_state.LOSS_STATE_NAME)):
            _loss_state.restore_loss_state(checkpoint, self.loss, self._unwrapped_model())

    # ==========================================================================================
    # Model card and Hub
    # ==========================================================================================
    def add_model_card_callback(self, default_args_dict: dict[str, Any]) -> None:
        """Add the callback that records datasets, losses, hyperparameters, logs and metrics on the model card."""
        callback = make_model_card_callback(default_args_dict)
        self.add_callback(callback)
        if getattr(self.model, "model_card_data", None) is not None:
            callback.on_init_end(self.args, self.state, self.control, model=self.model, trainer=self)

    def create_model_card(
        self,
        language: str | None = None,
        license: str | None = None,
        tags: str | list[str] | None = None,
        model_name: str | None = None,
        finetuned_from: str | None = None,
        tasks: str | list[str] | None = None,
        dataset_tags: str | list[str] | None = None,
        dataset: str | list[str] | None = None,
        dataset_args: str | list[str] | None = None,
        **kwargs: Any,
    ) -> None:
        """Write ``README.md`` (the model card) into ``args.output_dir``."""
        if not self.is_world_process_zero():
            return
        card = getattr(self.model, "model_card_data", None)
        if card is not None:
            if language:
                card.set_language(language)
            if license:
                card.set_license(license)
            if tags:
                card.add_tags(tags)
            if model_name:
                card.model_name = model_name
            if finetuned_from:
                card.set_base_model(finetuned_from)
        os.makedirs(self.args.output_dir, exist_ok=True)
        from sentrix.training.model_folder import card_path, write_text_atomically

        path = card_path(self.args.output_dir, overwrite=bool(getattr(self.args, "overwrite_output_dir", False)))
        write_text_atomically(path, generate_model_card(self.model, trainer=self))

    def push_to_hub(
        self,
        commit_message: str | None = "End of training",
        blocking: bool = True,
        token: str | None = None,
        revision: str | None = None,
        private: bool | None = None,
        **kwargs: Any,
    ) -> Any:
        """Save the model (sentence-transformers layout + model card) to ``output_dir`` and upload it to
        ``args.hub_model_id`` with ``huggingface_hub``. Checkpoints and temporary files are not uploaded."""
        return _hub.push_model_folder(
            self, commit_message=commit_message, blocking=blocking, token=token, revision=revision, private=private, **kwargs
        )

    def _push_from_checkpoint(self, checkpoint_folder: str) -> None:
        """During training: copy the checkpoint's model files (full ST layout) to ``output_dir`` and upload."""
        _hub.push_checkpoint(self, checkpoint_folder)


__all__ = ["NonFiniteTrainingError", "SentenceTransformerTrainer", "last_complete_checkpoint"]
