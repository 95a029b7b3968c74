"""``sequential``: run several evaluators one after the other and merge their metrics.

Documented on the class below (``sentrix plugins show NAME`` prints it).
"""

from __future__ import annotations

from typing import Any, Callable, Iterable

from sentrix.plugin_api import EncodeRequest, InvalidInputError, SentenceEvaluator

__all__ = ["SequentialEvaluator"]


def _last(scores: list[float]) -> float:
    return scores[-1]


class SequentialEvaluator(SentenceEvaluator):
    """``sequential``: run several evaluators one after the other and merge their metrics.

    What it does
        Calls every evaluator with the same ``(model, output_path, epoch, steps)`` and returns the
        union of their metric dicts, plus ``sequential_score``: ``main_score_function`` applied to
        the list of each evaluator's primary score (default: the last evaluator's). The trainer
        wraps a list of evaluators in one of these.

        All evaluators run in one evaluation round (``sentrix.evaluation_round``): the texts they
        declare (``texts_to_encode``) are encoded together first, each distinct text once, and a
        text asked for again by another evaluator comes from that round's cache. The metrics are
        those of running each evaluator on its own, bit for bit.

    Data it needs
        =============================  ===============================================
        input                          requirement
        =============================  ===============================================
        evaluators                     a list of evaluators (instances)
        main_score_function            optional ``fn(list_of_scores) -> float``
        =============================  ===============================================

    Args:
        evaluators: the evaluators to run.
        main_score_function: turns the list of primary scores into ``sequential_score``;
            default: the last one.

    Metrics:
        Every sub-evaluator's keys unchanged (an evaluator that returns a bare float appears as
        ``evaluator_<i>``), and ``sequential_score``, the ``primary_metric``. Higher is better.

    Example:
        .. code-block:: python

            from sentrix.evaluation import EmbeddingSimilarityEvaluator, SequentialEvaluator, TripletEvaluator

            sts = EmbeddingSimilarityEvaluator(["a b", "c d"], ["a c", "d e"], [0.9, 0.1], name="sts-dev")
            nli = TripletEvaluator(["a"], ["b"], ["c"], name="nli-dev")
            both = SequentialEvaluator([sts, nli], main_score_function=lambda scores: sum(scores) / len(scores))
            metrics = both(model)    # sts-dev_* keys, nli-dev_* keys and "sequential_score"

    References:
        Registered as ``sequential`` with the alias ``SequentialEvaluator``. Reference:
        sentence-transformers 6.2 ``SequentialEvaluator``.
    """

    def __init__(
        self,
        evaluators: Iterable[Any],
        main_score_function: Callable[[list[float]], float] = _last,
    ) -> None:
        super().__init__()
        self.evaluators = list(evaluators)
        for position, evaluator in enumerate(self.evaluators):
            if not callable(evaluator):
                raise InvalidInputError(
                    f"SequentialEvaluator: evaluators[{position}] is a {type(evaluator).__name__}, not an "
                    "evaluator. Pass evaluator instances, e.g. [EmbeddingSimilarityEvaluator(...), ...]."
                )
        self.main_score_function = main_score_function

    def texts_to_encode(self, model: Any) -> list[EncodeRequest]:
        """What every member declares, so one pass encodes the texts of all of them."""
        requests: list[EncodeRequest] = []
        for evaluator in self.evaluators:
            declare = getattr(evaluator, "texts_to_encode", None)
            if callable(declare):
                requests.extend(declare(model) or [])
        return requests

    def __call__(self, model: Any, output_path: str | None = None, epoch: int = -1, steps: int = -1) -> dict[str, float]:
        results: dict[str, float] = {}
        primary_scores: list[float] = []
        for position, evaluator in enumerate(self.evaluators):
            outcome = evaluator(model, output_path, epoch, steps)
            if not isinstance(outcome, dict):
                primary_scores.append(outcome)
                outcome = {f"evaluator_{position}": outcome}
            else:
                key = getattr(evaluator, "primary_metric", None)
                primary_scores.append(outcome[key] if key is not None else next(iter(outcome.values())))
            results.update(outcome)
        self.primary_metric = "sequential_score"
        results["sequential_score"] = self.main_score_function(primary_scores) if primary_scores else 0.0
        return results

    @classmethod
    def contract_example(cls) -> "SequentialEvaluator":
        """One small ``embedding_similarity`` evaluator, wrapped."""
        from sentrix_builtins.evaluators.embedding_similarity import EmbeddingSimilarityEvaluator

        return cls([EmbeddingSimilarityEvaluator.contract_example()])
