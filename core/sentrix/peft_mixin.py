"""PEFT adapters (LoRA and friends) on a ``SentenceTransformer``: add, train, save, load, switch.

``SentenceTransformer`` inherits :class:`PeftAdapterMixin`, so a model whose encoder is a Hugging
Face ``transformers`` model (the ``Transformer`` module) gets the adapter methods of
sentence-transformers: ``add_adapter``, ``load_adapter``, ``set_adapter``, ``disable_adapters``,
``enable_adapters``, ``active_adapters``, ``active_adapter``, ``get_adapter_state_dict`` and
``delete_adapter``. Each one forwards to the same-named method of the encoder
(``transformers.integrations.PeftAdapterMixin``), so arguments and results are those of
``transformers``.

Adapters need the optional ``peft`` package (``pip install peft``); sentrix imports it only when an
adapter is used, never at ``import sentrix``.

Example::

    from peft import LoraConfig, TaskType
    from sentrix import SentenceTransformer, SentenceTransformerTrainer
    from sentrix.losses import MultipleNegativesRankingLoss

    model = SentenceTransformer("sentence-transformers/all-MiniLM-L6-v2")
    model.add_adapter(LoraConfig(task_type=TaskType.FEATURE_EXTRACTION, r=8, lora_alpha=16, lora_dropout=0.1))
    # only the LoRA weights are trainable now; train as usual
    trainer = SentenceTransformerTrainer(model=model, train_dataset=pairs, loss=MultipleNegativesRankingLoss(model))
    trainer.train()
    model.save_pretrained("out/minilm-lora")      # adapter_config.json + adapter_model.safetensors
    again = SentenceTransformer("out/minilm-lora")  # base model (from adapter_config.json) + the adapter

The saved folder holds only the adapter weights; its ``adapter_config.json`` names the base model
(``base_model_name_or_path``), which must still be reachable (a folder or Hub id) when the adapter
folder is loaded. The folder loads in sentence-transformers too, and adapter folders written by
sentence-transformers load here.
"""

from __future__ import annotations

from typing import Any

from sentrix.errors import InvalidInputError

PEFT_INSTALL_FIX = "pip install peft"


def require_peft() -> None:
    """Raise :class:`~sentrix.errors.InvalidInputError` naming the fix unless a usable ``peft`` is installed."""
    try:
        import peft  # noqa: F401  (optional dependency, imported only when adapters are used)
    except ImportError as exc:
        raise InvalidInputError(
            "PEFT adapters need the optional `peft` package, which is not installed. "
            f"Fix: `{PEFT_INSTALL_FIX}`."
        ) from exc
    import importlib.metadata

    import transformers
    from packaging.version import Version

    needed = getattr(_transformers_peft_module(), "MIN_PEFT_VERSION", None)
    try:
        installed = importlib.metadata.version("peft")
    except importlib.metadata.PackageNotFoundError:
        return
    if needed and Version(installed) < Version(needed):
        raise InvalidInputError(
            f"PEFT adapters need peft >= {needed} with transformers {transformers.__version__}, but peft "
            f"{installed} is installed. Fix: `pip install -U 'peft>={needed}'` (or install a transformers release "
            "that supports this peft)."
        )


def _transformers_peft_module() -> Any:
    import transformers.integrations.peft as transformers_peft

    return transformers_peft


class PeftAdapterMixin:
    """Adapter methods for a model with a ``transformers`` encoder; see the module docstring.

    The host class provides ``transformers_model`` (the encoder, or None).
    """

    def has_peft_compatible_model(self) -> bool:
        """True when the model has a ``transformers`` encoder that can carry PEFT adapters."""
        encoder = getattr(self, "transformers_model", None)
        if encoder is None:
            return False
        return isinstance(encoder, _transformers_peft_module().PeftAdapterMixin)

    def check_peft_compatible_model(self) -> None:
        """Raise :class:`~sentrix.errors.InvalidInputError` unless :meth:`has_peft_compatible_model`."""
        if self.has_peft_compatible_model():
            return
        modules = [type(module).__name__ for module in getattr(self, "children", lambda: [])()]
        raise InvalidInputError(
            "PEFT adapters are only supported on models whose encoder is a Hugging Face `transformers` model "
            f"(the Transformer module); this model's modules are {modules}. Fix: build the model on a "
            "Transformer module, e.g. SentenceTransformer(modules=[Transformer(name), Pooling(dim)])."
        )

    def _encoder_method(self, name: str) -> Any:
        self.check_peft_compatible_model()
        require_peft()
        encoder = self.transformers_model
        method = getattr(encoder, name, None)
        if method is None:
            raise AttributeError(
                f"The transformers model {type(encoder).__name__} has no `{name}` method; the installed "
                "transformers or peft is too old or too new for it. Fix: `pip install -U transformers peft`."
            )
        return method

    def add_adapter(self, *args: Any, **kwargs: Any) -> None:
        """Attach a new, trainable adapter (e.g. a ``peft.LoraConfig``) to the encoder and make it active.

        Afterwards only the adapter weights require gradients. Takes the arguments of
        ``transformers.PreTrainedModel.add_adapter(adapter_config, adapter_name=None)``; the
        default name is ``"default"``.
        """
        return self._encoder_method("add_adapter")(*args, **kwargs)

    def load_adapter(self, *args: Any, **kwargs: Any) -> None:
        """Load adapter weights from a folder or Hub id (``peft_model_id``) onto the encoder.

        Arguments are those of ``transformers.PreTrainedModel.load_adapter``, e.g.
        ``model.load_adapter("out/lora", adapter_name="lora")``.
        """
        return self._encoder_method("load_adapter")(*args, **kwargs)

    def set_adapter(self, *args: Any, **kwargs: Any) -> None:
        """Make the named adapter(s) the active one(s); the others are switched off."""
        return self._encoder_method("set_adapter")(*args, **kwargs)

    def disable_adapters(self) -> None:
        """Run the plain base model: every attached adapter is bypassed until :meth:`enable_adapters`."""
        return self._encoder_method("disable_adapters")()

    def enable_adapters(self) -> None:
        """Switch the active adapter(s) back on after :meth:`disable_adapters`."""
        return self._encoder_method("enable_adapters")()

    def active_adapters(self) -> list[str]:
        """Names of the adapters in use, e.g. ``["default"]``."""
        return self._encoder_method("active_adapters")()

    def active_adapter(self) -> str:
        """Name of the adapter in use (older single-adapter spelling of :meth:`active_adapters`).

        transformers 5 dropped this method from its models; sentrix then answers with the first
        of :meth:`active_adapters`.
        """
        self.check_peft_compatible_model()
        if hasattr(self.transformers_model, "active_adapter"):
            return self._encoder_method("active_adapter")()
        return self._encoder_method("active_adapters")()[0]

    def get_adapter_state_dict(self, *args: Any, **kwargs: Any) -> dict:
        """The weights of one adapter (default: the active one), keyed as in the saved adapter file."""
        return self._encoder_method("get_adapter_state_dict")(*args, **kwargs)

    def delete_adapter(self, *args: Any, **kwargs: Any) -> None:
        """Remove the named adapter(s) and their layers from the encoder."""
        return self._encoder_method("delete_adapter")(*args, **kwargs)
