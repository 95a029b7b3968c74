"""Small helpers: class names for configs, importing by dotted path, quiet blocks, CSV appends.

The same helpers as ``sentence_transformers.util.misc``, plus ``deprecated_kwargs`` (of
``sentence_transformers.util.decorators``) and ``DEFAULT_LABEL_COLUMNS`` (the label column names
the data collator looks for, as in ``sentence_transformers.util.dataset``).

Example::

    from sentrix.util import disable_logging, fullname, import_from_string

    name = fullname(loss)                      # "sentrix_builtins.losses.....MultipleNegativesRankingLoss"
    cls = import_from_string("collections.OrderedDict")
    with disable_logging():                    # nothing is logged inside the block
        ...
"""

from __future__ import annotations

import csv
import functools
import importlib
import logging
import os
import warnings
from contextlib import contextmanager
from inspect import isclass
from typing import TYPE_CHECKING, Any, Callable, Iterator, TypeVar

from sentrix.data_collator import DEFAULT_LABEL_COLUMNS
from sentrix.errors import InvalidInputError

if TYPE_CHECKING:
    from torch import Tensor

logger = logging.getLogger(__name__)

__all__ = [
    "DEFAULT_LABEL_COLUMNS",
    "ORIGINAL_TRANSFORMER_MODELS",
    "append_to_last_row",
    "check_teacher_targets",
    "deprecated_kwargs",
    "disable_datasets_caching",
    "disable_logging",
    "fullname",
    "import_from_string",
    "import_module_class",
    "similarity_fct_name",
]

_F = TypeVar("_F", bound=Callable[..., Any])


def fullname(obj: Any) -> str:
    """``module.ClassName`` of ``obj``'s class (or of ``obj`` itself when it is a class).

    Builtins are given by their bare name (``fullname(3) == "int"``). Used to write the class of a
    loss or evaluator into configs and model cards.
    """
    cls = obj if isclass(obj) else type(obj)
    module = cls.__module__
    if module is None or module == "builtins":
        return cls.__name__
    return f"{module}.{cls.__name__}"


def similarity_fct_name(similarity_fct: Callable) -> str:
    """How a loss's scoring callable is written in its config dict (and so in the model card).

    A function gives its name (``"cos_sim"``); ``functools.partial`` adds its keywords
    (``"cos_sim(eps=0.1)"``); ``model.similarity`` / ``model.similarity_pairwise`` give the function
    the model's ``similarity_fn_name`` stands for; an object with ``get_config_dict()`` adds its
    settings (``"MyMetric(p=2)"``).
    """
    from sentrix.similarity import function_name

    name = getattr(similarity_fct, "__name__", type(similarity_fct).__name__)
    resolved_by_model = name in ("similarity", "similarity_pairwise") and hasattr(
        getattr(similarity_fct, "__self__", None), "similarity_fn_name"
    )
    get_config = getattr(similarity_fct, "get_config_dict", None)
    if get_config is None or resolved_by_model or isinstance(similarity_fct, functools.partial):
        return function_name(similarity_fct)
    settings = ", ".join(f"{key}={value!r}" for key, value in get_config().items())
    return f"{name}({settings})"


def check_teacher_targets(
    teacher_probabilities: Tensor, teacher_logits: Tensor, teacher_temperature: float, loss_name: str
) -> None:
    """Check a distillation loss's teacher target (call it once, on the loss's first batch).

    Raises :class:`~sentrix.errors.InvalidInputError` (a ValueError) when ``teacher_logits``
    contain NaN, which would make the loss and every gradient NaN. When some of
    ``teacher_probabilities`` (the softmax the loss will use) are exactly zero although no score is
    infinite (an infinite score is a deliberate exclusion), logs a warning with the temperature to
    raise: a float32 softmax underflows once a row's spread / temperature exceeds about 100.
    Reading these values off an accelerator synchronises it, hence once per loss.
    """
    scores = teacher_logits.detach().float()
    if scores.isnan().any():
        raise InvalidInputError(
            f"{loss_name}: the teacher scores contain NaN, so the loss and every gradient would be NaN after the "
            "first backward. Fix: repair or drop the rows of the column that holds the teacher scores."
        )
    if scores.isinf().any():
        return
    zeros = int((teacher_probabilities == 0).sum())
    if zeros == 0:
        return
    widest = (scores.max(dim=-1).values - scores.min(dim=-1).values).max().item()
    logger.warning(
        f"{loss_name}: with teacher_temperature={teacher_temperature}, {zeros} of {teacher_probabilities.numel()} "
        "teacher probabilities are exactly zero (the float32 softmax underflows), so those candidates give no "
        f"gradient. The widest row of teacher scores spans {widest:.1f}; underflow starts once a row's spread "
        f"divided by the temperature exceeds about 100. Fix: raise teacher_temperature above {widest / 100:.3g}."
    )


def import_from_string(dotted_path: str) -> Any:
    """The object named by ``"package.module.Name"`` (imported); ImportError if there is none.

    ``dotted_path`` may also name a module itself. DeprecationWarnings raised while importing are
    silenced: such paths come from saved configs, not from the caller's code.
    """
    module_path, dot, attribute = dotted_path.rpartition(".")
    if not dot or not module_path:
        raise ImportError(f"{dotted_path} doesn't look like a module path")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        try:
            module = importlib.import_module(dotted_path)
        except Exception:
            module = importlib.import_module(module_path)
    try:
        return getattr(module, attribute)
    except AttributeError:
        raise ImportError(f'Module "{module_path}" does not define a "{attribute}" attribute/class') from None


def import_module_class(
    class_ref: str,
    model_name_or_path: str | None = None,
    *,
    trust_remote_code: bool = False,
    revision: str | None = None,
    code_revision: str | None = None,
    token: bool | str | None = None,
    cache_folder: str | None = None,
    local_files_only: bool = False,
) -> type:
    """The class a model config names for one of its modules (``modules.json`` ``type``).

    Registered module types (every built-in and installed module plugin, under their
    sentence-transformers paths too) come from the ``sentrix.modules`` registry, other
    ``sentence_transformers.<path>`` and ``sentrix.<path>`` references from ``sentrix.<path>``;
    none of these runs third-party code. Any other reference (a ``modeling_x.MyModule`` shipped
    with the model, an installed package) runs code chosen by the model, so with
    ``model_name_or_path`` given it needs ``trust_remote_code=True``; it is then looked up with
    transformers' dynamic-module loader in that folder or Hub repository (``revision``,
    ``code_revision``, ``token``, ``cache_folder`` and ``local_files_only`` are passed on),
    falling back to a plain import.

    Raises:
        InvalidInputError (a ValueError): a third-party reference with ``model_name_or_path`` but
            without ``trust_remote_code=True``.
        ImportError: the reference cannot be imported.
    """
    from sentrix.errors import UnknownComponentError
    from sentrix.registry import modules

    try:
        return modules.get(class_ref)
    except UnknownComponentError:
        pass
    for prefix in ("sentence_transformers.", "sentrix."):
        if class_ref.startswith(prefix):
            return import_from_string("sentrix." + class_ref[len(prefix):])
    if model_name_or_path is not None:
        if not trust_remote_code:
            where = (
                os.path.abspath(model_name_or_path)
                if os.path.isdir(model_name_or_path)
                else f"https://hf.co/{model_name_or_path}"
            )
            raise InvalidInputError(
                f"The model {model_name_or_path} names the module class {class_ref!r}, which is not part of "
                f"sentrix or sentence-transformers; importing it runs third-party code (inspect it at {where}). "
                "Fix: pass trust_remote_code=True if you trust that code."
            )
        from transformers.dynamic_module_utils import get_class_from_dynamic_module

        try:
            return get_class_from_dynamic_module(
                class_ref,
                model_name_or_path,
                revision=revision,
                code_revision=code_revision,
                token=token,
                cache_dir=cache_folder,
                local_files_only=local_files_only,
            )
        except (OSError, ValueError):
            pass  # no such file in the model, or not a "file.Class" reference: try a normal import
    return import_from_string(class_ref)


@contextmanager
def disable_datasets_caching() -> Iterator[None]:
    """Turn off the ``datasets`` cache inside the block (restored afterwards if it was on)."""
    from datasets import disable_caching, enable_caching, is_caching_enabled

    was_enabled = is_caching_enabled()
    if was_enabled:
        disable_caching()
    try:
        yield
    finally:
        if was_enabled:
            enable_caching()


@contextmanager
def disable_logging(highest_level: int = logging.CRITICAL) -> Iterator[None]:
    """Drop every log record at or below ``highest_level`` inside the block (``logging.disable``)."""
    previous = logging.root.manager.disable
    logging.disable(highest_level)
    try:
        yield
    finally:
        logging.disable(previous)


def append_to_last_row(csv_path: str, additional_data: list) -> bool:
    """Extend the last row of a CSV file with ``additional_data`` and rewrite the file.

    Returns False (and leaves the file alone) when the file has no data row after its header.
    """
    with open(csv_path, newline="", encoding="utf-8") as handle:
        rows = list(csv.reader(handle))
    if len(rows) < 2:
        return False
    rows[-1].extend(additional_data)
    with open(csv_path, "w", newline="", encoding="utf-8") as handle:
        csv.writer(handle).writerows(rows)
    return True


def deprecated_kwargs(**renames: str) -> Callable[[_F], _F]:
    """Decorator: accept old keyword names, ``@deprecated_kwargs(old_name="new_name")``.

    A call with ``old_name=`` warns once per name and passes the value on as ``new_name``; if the
    caller gave both, the new one wins and the old one is dropped.
    """
    warned: set[str] = set()

    def decorator(func: _F) -> _F:
        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            for old, new in renames.items():
                if old not in kwargs:
                    continue
                if old not in warned:
                    warned.add(old)
                    logger.warning(f"The `{old}` argument was renamed and is now deprecated. Please use `{new}` instead.")
                value = kwargs.pop(old)
                kwargs.setdefault(new, value)
            return func(*args, **kwargs)

        return wrapper  # type: ignore[return-value]

    return decorator


#: Hub model ids without an organisation (``bert-base-uncased``...) that name plain transformers
#: checkpoints; loaders do not prefix them with ``sentence-transformers/``.
ORIGINAL_TRANSFORMER_MODELS: list[str] = [
    *(f"albert-{size}-{v}" for size in ("base", "large", "xlarge", "xxlarge") for v in ("v1", "v2")),
    "bert-base-cased",
    "bert-base-cased-finetuned-mrpc",
    "bert-base-chinese",
    "bert-base-german-cased",
    "bert-base-german-dbmdz-cased",
    "bert-base-german-dbmdz-uncased",
    "bert-base-multilingual-cased",
    "bert-base-multilingual-uncased",
    "bert-base-uncased",
    "bert-large-cased",
    "bert-large-cased-whole-word-masking",
    "bert-large-cased-whole-word-masking-finetuned-squad",
    "bert-large-uncased",
    "bert-large-uncased-whole-word-masking",
    "bert-large-uncased-whole-word-masking-finetuned-squad",
    "camembert-base",
    "ctrl",
    "distilbert-base-cased",
    "distilbert-base-cased-distilled-squad",
    "distilbert-base-german-cased",
    "distilbert-base-multilingual-cased",
    "distilbert-base-uncased",
    "distilbert-base-uncased-distilled-squad",
    "distilbert-base-uncased-finetuned-sst-2-english",
    "distilgpt2",
    "distilroberta-base",
    "gpt2",
    "gpt2-large",
    "gpt2-medium",
    "gpt2-xl",
    "openai-gpt",
    "roberta-base",
    "roberta-base-openai-detector",
    "roberta-large",
    "roberta-large-mnli",
    "roberta-large-openai-detector",
    *(f"t5-{size}" for size in ("small", "base", "large", "3b", "11b")),
    "transfo-xl-wt103",
    "xlm-clm-ende-1024",
    "xlm-clm-enfr-1024",
    "xlm-mlm-100-1280",
    "xlm-mlm-17-1280",
    "xlm-mlm-en-2048",
    "xlm-mlm-ende-1024",
    "xlm-mlm-enfr-1024",
    "xlm-mlm-enro-1024",
    "xlm-mlm-tlm-xnli15-1024",
    "xlm-mlm-xnli15-1024",
    "xlm-roberta-base",
    "xlm-roberta-large",
    *(f"xlm-roberta-large-finetuned-conll0{n}" for n in ("2-dutch", "2-spanish", "3-english", "3-german")),
    "xlnet-base-cased",
    "xlnet-large-cased",
]
