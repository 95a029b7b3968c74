"""The whole hook contract of sentrix, in one module.

A plugin implements any of these hooks in a module it lists under the ``sentrix.plugins``
entry-point group::

    [project.entry-points."sentrix.plugins"]
    acme = "acme_sentrix.hooks"

and marks each implementation with :data:`sentrix.hookimpl` (also exported by
``sentrix.plugin_api``)::

    from sentrix import hookimpl

    @hookimpl
    def sentrix_register_components(register):
        register("losses", "acme.focal_ranking", "acme_sentrix.focal:FocalRankingLoss")

An implementation may take any subset of a hook's parameters, by name. sentrix's own hook
implementations (the model card's built-in sections) are registered exactly like a plugin's; see
``sentrix.hooks.DEFAULT_PLUGINS``.

Hooks are for cross-cutting extension. Per-step training events stay in
``transformers.TrainerCallback``. A hook module must import nothing heavy (no torch) at import
time: ``sentrix plugins list`` and ``sentrix --help`` load it.

``docs/hooks.md`` has one section per hook, checked against this module by
``tests/core/test_hooks.py``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

import pluggy

if TYPE_CHECKING:  # pragma: no cover
    import argparse

    from sentrix.model import SentenceTransformer
    from sentrix.model_card.data import SentenceTransformerModelCardData
    from sentrix.trainer import SentenceTransformerTrainer

PROJECT_NAME = "sentrix"

hookspec = pluggy.HookspecMarker(PROJECT_NAME)
hookimpl = pluggy.HookimplMarker(PROJECT_NAME)


class RegisterComponent(Protocol):
    """The ``register`` callback handed to :func:`sentrix_register_components`."""

    def __call__(self, kind: str, name: str, target: object, aliases: tuple[str, ...] = ()) -> None: ...


#: A model-card section: ``(heading, markdown body)``.
CardSection = tuple[str, str]


@hookspec
def sentrix_register_components(register: RegisterComponent) -> None:
    """Register components from code instead of (or besides) entry points.

    Fires the first time any registry is listed or asked for a name, once per process (and again
    after :func:`sentrix.registry.refresh` or when a hook plugin is registered in-process).

    If it fails: each plugin's call is contained. A ``register`` call with an unknown kind, an
    empty name or a target that is not ``"module:attr"`` is ignored with a warning (the plugin's
    other registrations stand); an implementation that raises loses everything it registered in
    that call, and using one of those names raises an error naming the plugin and its error. Other
    plugins and the built-ins are unaffected; ``sentrix plugins list`` shows the plugin as broken.

    :param register: ``register(kind, name, target, aliases=())``. ``kind`` is one of
        ``sentrix.registry.KINDS``; ``target`` is the component object or, better, a
        ``"module:attr"`` string so nothing is imported until the component is used. The
        components are credited to the distribution that provides the hook module.
    :return: nothing; call ``register`` once per component. A name another provider also uses is
        an error only when that name is used.
    """


@hookspec
def sentrix_add_cli_commands(subparsers: argparse._SubParsersAction) -> None:
    """Add sub-commands to the ``sentrix`` command line.

    Fires while the ``sentrix`` argument parser is built, before arguments are parsed (so on every
    ``sentrix`` invocation, ``--help`` included: keep it cheap).

    If it fails (any exception, a clash with an existing command name included): skipped with a
    warning naming the plugin; every other command works. Commands it added before failing stay.

    :param subparsers: the ``argparse`` sub-parsers action of the top-level parser. Add a parser
        with ``subparsers.add_parser("name", help=...)`` and give it a handler with
        ``parser.set_defaults(func=callable)``; ``func(args)`` returns the exit code.
    :return: nothing.
    """


@hookspec
def sentrix_adjust_trainer(trainer: SentenceTransformerTrainer) -> None:
    """Adjust a ``SentenceTransformerTrainer`` after it is built and before training starts.

    Fires at the start of ``trainer.train()``, after the datasets, loss and arguments are resolved
    and validated and after every :func:`sentrix_validate_run` check passed, before anything is
    written to ``output_dir``.

    If it fails: raising a ``SentrixError`` (e.g. ``InvalidInputError`` from ``sentrix.plugin_api``)
    is deliberate and stops the run before anything is written, with a note naming the plugin. Any
    other exception is a crash: skipped with a warning naming the plugin and its distribution,
    and the run goes on with whatever the implementation changed before it failed (so change the
    trainer only once nothing can fail). ``SENTRIX_STRICT_PLUGINS=1`` makes a crash stop the run.

    :param trainer: the trainer; a plugin may add callbacks, wrap the loss, or change arguments.
    :return: nothing; change ``trainer`` in place.
    """


@hookspec
def sentrix_validate_run(trainer: SentenceTransformerTrainer) -> list[str] | None:
    """Check a training run before its first step and report what is wrong with it.

    Fires at the start of ``trainer.train()``, after the built-in checks (datasets against the
    losses' data needs, ``metric_for_best_model`` against the metric keys that will exist) pass
    and before :func:`sentrix_adjust_trainer`. Every plugin's problems are collected and reported
    together.

    If it fails: raising a ``SentrixError`` (e.g. ``InvalidInputError``) is deliberate and counts
    as one problem (the run stops; the message names the plugin). Any other exception, or a
    return value that is not a list of strings, is a crash: the check did not run, a warning names
    the plugin and the error, and the run goes on. ``SENTRIX_STRICT_PLUGINS=1`` makes a crash
    stop the run.

    :param trainer: the trainer about to run.
    :return: a list of problems, each a message that names the input and the fix; ``None`` or an
        empty list when all is well. Any problem stops the run before anything is written.
    """


@hookspec
def sentrix_model_card_sections(
    model: SentenceTransformer,
    trainer: SentenceTransformerTrainer | None,
    card: SentenceTransformerModelCardData,
) -> list[CardSection] | None:
    """Add sections to the model card (README.md) written with a saved model.

    Fires while the model card is rendered, by ``save_pretrained`` / ``save`` and by the trainer's
    ``save_model``. The card's own sections (Model Details, Usage, Evaluation, Training Details,
    Provenance, and Citation last) come from this same hook, implemented by
    ``sentrix.model_card.sections``; a plugin's sections go after Provenance and before Citation,
    in plugin order.

    If it fails (any exception): that plugin's sections are skipped with a warning naming it; the
    model and every other section are still saved.

    :param model: the ``SentenceTransformer`` being saved.
    :param trainer: the trainer that trained it, or ``None`` outside training.
    :param card: the model's ``SentenceTransformerModelCardData`` (datasets, losses, metrics,
        hyperparameters, training logs), to read from.
    :return: a list of ``(heading, markdown_body)`` pairs; each becomes a ``## heading`` section.
        ``None`` or an empty list for none.
    """


@hookspec
def sentrix_env_info() -> dict[str, str] | None:
    """Add lines to ``sentrix env`` (the report users paste into bug reports).

    Fires when ``sentrix env`` runs, after the core's own lines are collected.

    If it fails (any exception, or a return value that is not a mapping): that plugin's lines are
    skipped and ``sentrix env`` lists the failure with the plugin's name.

    :return: a mapping of label to value, e.g. ``{"acme backend": "cuda 12.4"}``; ``None`` for none.
    """
