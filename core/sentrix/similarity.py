"""Similarity functions between embeddings, and the ``SimilarityFunction`` enum that names them.

Two families, each accepting Python lists, numpy arrays or torch tensors (1-D inputs are treated as
a batch of one):

- matrix functions ``f(a, b) -> (len(a), len(b))``: ``cos_sim``, ``dot_score``, ``euclidean_sim``,
  ``manhattan_sim``;
- pairwise functions ``f(a, b) -> (len(a),)`` scoring ``a[i]`` against ``b[i]``:
  ``pairwise_cos_sim``, ``pairwise_dot_score``, ``pairwise_euclidean_sim``,
  ``pairwise_manhattan_sim``.

Distances are returned negated (``euclidean_sim = -||a - b||``) so that for every function a
higher score means "more similar". Half-precision inputs are scored in float32, since matmul in
float16/bfloat16 rounds nearby scores into spurious ties. Sparse tensors are densified first.

Example::

    from sentrix.similarity import SimilarityFunction, cos_sim

    scores = cos_sim([[1.0, 0.0]], [[1.0, 0.0], [0.0, 1.0]])   # tensor([[1., 0.]])
    fn = SimilarityFunction.to_similarity_fn("dot")
"""

from __future__ import annotations

from enum import Enum
from typing import Callable, Union

import numpy as np
import torch
from torch import Tensor

ArrayLike = Union[list, np.ndarray, Tensor]  # noqa: UP007 (a runtime alias; `|` needs Python 3.10 types here)

__all__ = [
    "SimilarityFunction",
    "cos_sim",
    "dot_score",
    "euclidean_sim",
    "manhattan_sim",
    "pairwise_cos_sim",
    "pairwise_dot_score",
    "pairwise_euclidean_sim",
    "pairwise_manhattan_sim",
    "pairwise_angle_sim",
    "normalize_embeddings",
    "pytorch_cos_sim",
]


# --------------------------------------------------------------------------------------------
# input conversion
# --------------------------------------------------------------------------------------------


def _as_tensor(value: ArrayLike) -> Tensor:
    """Turn a list / numpy array / tensor into a dense floating tensor (float32 for half floats)."""
    if isinstance(value, Tensor):
        out = value
    elif isinstance(value, np.ndarray):
        out = torch.from_numpy(value) if value.flags.writeable else torch.tensor(value)
    elif isinstance(value, (list, tuple)):
        if value and all(isinstance(v, Tensor) for v in value):
            out = torch.stack(list(value))
        elif value and all(isinstance(v, np.ndarray) for v in value):
            out = torch.from_numpy(np.stack(value))
        else:
            out = torch.tensor(value)
    else:
        out = torch.tensor(value)
    if out.is_sparse:
        out = out.to_dense()
    if not torch.is_floating_point(out):
        out = out.float()
    elif torch.finfo(out.dtype).bits < 32:
        out = out.float()
    return out


def _as_batch(value: ArrayLike) -> Tensor:
    out = _as_tensor(value)
    return out.unsqueeze(0) if out.dim() == 1 else out


def normalize_embeddings(embeddings: Tensor) -> Tensor:
    """Scale every row of ``embeddings`` to unit L2 length (rows of zeros stay zero)."""
    return torch.nn.functional.normalize(_as_tensor(embeddings), p=2, dim=-1)


# --------------------------------------------------------------------------------------------
# matrix functions
# --------------------------------------------------------------------------------------------


def cos_sim(a: ArrayLike, b: ArrayLike) -> Tensor:
    """Cosine similarity of every row of ``a`` with every row of ``b``: ``res[i][j] = cos(a[i], b[j])``."""
    a_n = normalize_embeddings(_as_batch(a))
    b_n = normalize_embeddings(_as_batch(b))
    return a_n @ b_n.transpose(0, 1)


def pytorch_cos_sim(a: ArrayLike, b: ArrayLike) -> Tensor:
    """Old name of :func:`cos_sim`, kept for scripts that still use it."""
    return cos_sim(a, b)


def dot_score(a: ArrayLike, b: ArrayLike) -> Tensor:
    """Dot product of every row of ``a`` with every row of ``b``: ``res[i][j] = a[i] . b[j]``."""
    return _as_batch(a) @ _as_batch(b).transpose(0, 1)


def euclidean_sim(a: ArrayLike, b: ArrayLike) -> Tensor:
    """Negative Euclidean distance between every row of ``a`` and every row of ``b``."""
    return -torch.cdist(_as_batch(a), _as_batch(b), p=2.0)


def manhattan_sim(a: ArrayLike, b: ArrayLike) -> Tensor:
    """Negative Manhattan (L1) distance between every row of ``a`` and every row of ``b``."""
    return -torch.cdist(_as_batch(a), _as_batch(b), p=1.0)


# --------------------------------------------------------------------------------------------
# pairwise functions
# --------------------------------------------------------------------------------------------


def pairwise_dot_score(a: ArrayLike, b: ArrayLike) -> Tensor:
    """Dot product of matching rows: ``res[i] = a[i] . b[i]``."""
    return (_as_tensor(a) * _as_tensor(b)).sum(dim=-1)


def pairwise_cos_sim(a: ArrayLike, b: ArrayLike) -> Tensor:
    """Cosine similarity of matching rows: ``res[i] = cos(a[i], b[i])``."""
    return pairwise_dot_score(normalize_embeddings(a), normalize_embeddings(b))


def pairwise_euclidean_sim(a: ArrayLike, b: ArrayLike) -> Tensor:
    """Negative Euclidean distance of matching rows: ``res[i] = -||a[i] - b[i]||``."""
    return -torch.linalg.vector_norm(_as_tensor(a) - _as_tensor(b), dim=-1)


def pairwise_manhattan_sim(a: ArrayLike, b: ArrayLike) -> Tensor:
    """Negative Manhattan (L1) distance of matching rows: ``res[i] = -sum|a[i] - b[i]|``."""
    return -(_as_tensor(a) - _as_tensor(b)).abs().sum(dim=-1)


def pairwise_angle_sim(a: ArrayLike, b: ArrayLike) -> Tensor:
    """AnglE similarity of matching rows (the score ``AnglELoss`` ranks): ``res[i] = |cos + sin|``.

    Both rows are scaled to unit length; the cosine term is their dot product, the sine term pairs
    dimension ``k`` of the first half with dimension ``k`` of the second half
    (``sum(a_hi * b_lo - a_lo * b_hi)``), which is the imaginary part of the complex-number
    comparison of the AnglE paper (https://arxiv.org/abs/2309.12871). An odd dimension gets one
    zero column appended first. The result lies in ``[0, sqrt(2)]`` and is not a geometric angle.
    """
    a_t, b_t = _as_tensor(a), _as_tensor(b)
    if a_t.shape[-1] % 2 == 1:
        a_t = torch.nn.functional.pad(a_t, (0, 1))
        b_t = torch.nn.functional.pad(b_t, (0, 1))
    a_n, b_n = normalize_embeddings(a_t), normalize_embeddings(b_t)
    half = a_n.shape[-1] // 2
    a_lo, a_hi = a_n[..., :half], a_n[..., half:]
    b_lo, b_hi = b_n[..., :half], b_n[..., half:]
    cos_part = (a_n * b_n).sum(dim=-1)
    sin_part = (a_hi * b_lo - a_lo * b_hi).sum(dim=-1)
    return (cos_part + sin_part).abs()


# --------------------------------------------------------------------------------------------
# the enum
# --------------------------------------------------------------------------------------------

SimilarityFn = Callable[[ArrayLike, ArrayLike], Tensor]


class SimilarityFunction(Enum):
    """The similarity functions a model can declare (``model.similarity_fn_name``).

    =====================================  ===============  ===========================
    member                                 value            function
    =====================================  ===============  ===========================
    ``SimilarityFunction.COSINE``          ``"cosine"``     :func:`cos_sim`
    ``SimilarityFunction.DOT_PRODUCT``     ``"dot"``        :func:`dot_score`
    ``SimilarityFunction.EUCLIDEAN``       ``"euclidean"``  :func:`euclidean_sim`
    ``SimilarityFunction.MANHATTAN``       ``"manhattan"``  :func:`manhattan_sim`
    =====================================  ===============  ===========================

    ``SimilarityFunction.DOT`` is another name for ``DOT_PRODUCT``; the string ``"dot_product"`` is
    accepted too.
    """

    COSINE = "cosine"
    DOT_PRODUCT = "dot"
    DOT = "dot"  # second name for DOT_PRODUCT
    EUCLIDEAN = "euclidean"
    MANHATTAN = "manhattan"

    @classmethod
    def _missing_(cls, value: object):
        if isinstance(value, str):
            lowered = value.strip().lower()
            if lowered == "dot_product":
                return cls.DOT_PRODUCT
            for member in cls:
                if member.value == lowered:
                    return member
        return None

    @classmethod
    def _parse(cls, similarity_function: "str | SimilarityFunction") -> "SimilarityFunction":
        try:
            return cls(similarity_function)
        except ValueError:
            raise ValueError(
                f"Unknown similarity function {similarity_function!r}. "
                f"Use one of: {', '.join(repr(v) for v in cls.possible_values())}."
            ) from None

    @staticmethod
    def to_similarity_fn(similarity_function: "str | SimilarityFunction") -> SimilarityFn:
        """The matrix function (``(n, m)`` scores) for a name or member, e.g. ``"cosine"`` -> :func:`cos_sim`."""
        member = SimilarityFunction._parse(similarity_function)
        return _MATRIX[member]

    @staticmethod
    def to_similarity_pairwise_fn(similarity_function: "str | SimilarityFunction") -> SimilarityFn:
        """The pairwise function (``(n,)`` scores of ``a[i]`` vs ``b[i]``) for a name or member."""
        member = SimilarityFunction._parse(similarity_function)
        return _PAIRWISE[member]

    @staticmethod
    def possible_values() -> list[str]:
        """The accepted string values: ``['cosine', 'dot', 'euclidean', 'manhattan']``."""
        return [member.value for member in SimilarityFunction]


_MATRIX: dict[SimilarityFunction, SimilarityFn] = {
    SimilarityFunction.COSINE: cos_sim,
    SimilarityFunction.DOT_PRODUCT: dot_score,
    SimilarityFunction.EUCLIDEAN: euclidean_sim,
    SimilarityFunction.MANHATTAN: manhattan_sim,
}
_PAIRWISE: dict[SimilarityFunction, SimilarityFn] = {
    SimilarityFunction.COSINE: pairwise_cos_sim,
    SimilarityFunction.DOT_PRODUCT: pairwise_dot_score,
    SimilarityFunction.EUCLIDEAN: pairwise_euclidean_sim,
    SimilarityFunction.MANHATTAN: pairwise_manhattan_sim,
}


# --------------------------------------------------------------------------------------------
# helpers for components that take a similarity function as a parameter
# --------------------------------------------------------------------------------------------

_BY_NAME: dict[str, SimilarityFn] = {
    fn.__name__: fn
    for fn in (
        cos_sim,
        dot_score,
        euclidean_sim,
        manhattan_sim,
        pairwise_cos_sim,
        pairwise_dot_score,
        pairwise_euclidean_sim,
        pairwise_manhattan_sim,
        pairwise_angle_sim,
    )
}


def resolve_similarity_fn(value: "str | SimilarityFunction | SimilarityFn", pairwise: bool) -> SimilarityFn:
    """A similarity callable from a callable, a function name (``"cos_sim"``) or a ``SimilarityFunction`` value.

    Lets configs spell ``similarity_fct: cosine``; ``pairwise`` picks the pairwise or the matrix form
    for enum values.
    """
    if callable(value) and not isinstance(value, SimilarityFunction):
        return value
    if isinstance(value, str) and value in _BY_NAME:
        return _BY_NAME[value]
    try:
        member = SimilarityFunction(value)
    except ValueError:
        raise ValueError(
            f"Unknown similarity function {value!r}. Use a callable, one of the functions "
            f"{sorted(_BY_NAME)}, or one of {SimilarityFunction.possible_values()}."
        ) from None
    return (_PAIRWISE if pairwise else _MATRIX)[member]


def function_name(fn: object) -> str:
    """How a similarity/distance callable is written in a loss's config (and so in the model card)."""
    import functools

    if isinstance(fn, functools.partial):
        inner = getattr(fn.func, "__name__", type(fn.func).__name__)
        args = ", ".join(f"{k}={v!r}" for k, v in fn.keywords.items())
        return f"{inner}({args})" if args else inner
    owner = getattr(fn, "__self__", None)
    name = getattr(fn, "__name__", type(fn).__name__)
    if name in ("similarity", "similarity_pairwise") and hasattr(owner, "similarity_fn_name"):
        resolve = SimilarityFunction.to_similarity_fn if name == "similarity" else SimilarityFunction.to_similarity_pairwise_fn
        return resolve(owner.similarity_fn_name).__name__
    return name
