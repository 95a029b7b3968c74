"""The whole hook contract of sentrix, in one module.

A plugin implements any of these hooks in a module it lists under the ``sentrix.plugins``
entry-point group::

    [project.entry-points."sentrix.plugins"]
    acme = "acme_sentrix.hooks"

and marks each implementation with :data:`sentrix.hookimpl`::

    from sentrix import hookimpl

    @hookimpl
    def sentrix_register_components(register):
        register("losses", "acme.focal_ranking", "acme_sentrix.focal:FocalRankingLoss")

Hooks are for cross-cutting extension. Per-step training events stay in
``transformers.TrainerCallback``. A hook module must import nothing heavy (no torch) at import
time: ``sentrix plugins list`` and ``sentrix --help`` load it.
"""

from __future__ import annotations

from typing import Any

import pluggy

PROJECT_NAME = "sentrix"

hookspec = pluggy.HookspecMarker(PROJECT_NAME)
hookimpl = pluggy.HookimplMarker(PROJECT_NAME)


@hookspec
def sentrix_register_components(register: Any) -> None:
    """Register components from code instead of (or besides) entry points.

    Fires the first time any registry is listed or asked for a name, once per process (and again
    after :func:`sentrix.registry.refresh`).

    :param register: ``register(kind, name, target, aliases=())``. ``kind`` is one of
        ``sentrix.registry.KINDS``; ``target`` is the component object or, better, a
        ``"module:attr"`` string so nothing is imported until the component is used.
    :return: nothing; call ``register`` for each component.
    """


@hookspec
def sentrix_add_cli_commands(subparsers: Any) -> None:
    """Add sub-commands to the ``sentrix`` command line.

    Fires while the ``sentrix`` argument parser is built, before arguments are parsed.

    :param subparsers: the ``argparse`` sub-parsers action of the top-level parser. Add a parser
        with ``subparsers.add_parser("name", help=...)`` and give it a handler with
        ``parser.set_defaults(func=callable)``; ``func(args)`` returns the exit code.
    :return: nothing.
    """


@hookspec
def sentrix_adjust_trainer(trainer: Any) -> None:
    """Adjust a ``SentenceTransformerTrainer`` after it is built and before training starts.

    Fires at the start of ``trainer.train()``, after the datasets, loss and arguments are resolved
    and validated, before anything is written to ``output_dir``.

    :param trainer: the trainer; a plugin may add callbacks, wrap the loss, or change arguments.
    :return: nothing.
    """


@hookspec
def sentrix_validate_run(trainer: Any) -> list[str] | None:
    """Check a training run before its first step and report what is wrong with it.

    Fires at the start of ``trainer.train()``, after the built-in checks (datasets against the
    losses' data needs, ``metric_for_best_model`` against the metric keys that will exist) pass.

    :param trainer: the trainer about to run.
    :return: a list of problems, each a message that names the input and the fix; ``None`` or an
        empty list when all is well. Any problem stops the run before anything is written.
    """


@hookspec
def sentrix_model_card_sections(model: Any, trainer: Any | None) -> list[tuple[str, str]] | None:
    """Add sections to the model card (README.md) written with a saved model.

    Fires while the model card is rendered, by ``save_pretrained`` and by the trainer.

    :param model: the ``SentenceTransformer`` being saved.
    :param trainer: the trainer that trained it, or ``None`` outside training.
    :return: a list of ``(heading, markdown_body)`` pairs, appended in plugin order; ``None`` for
        none.
    """


@hookspec
def sentrix_env_info() -> dict[str, str] | None:
    """Add lines to ``sentrix env`` (the report users paste into bug reports).

    Fires when ``sentrix env`` runs.

    :return: a mapping of label to value, e.g. ``{"acme backend": "cuda 12.4"}``; ``None`` for none.
    """
