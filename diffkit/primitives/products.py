"""Products: matrix multiplication (NumPy's rules for 1-D and batched operands)."""

from __future__ import annotations

import builtins
import math
from typing import Any

import numpy as np

from ..errors import ShapeError
from .declare import composite, declared_in, shape_of, structural
from .elementwise import mul
from .structure import _sum_rows_to, reshape, sum_to, transpose


def _as_matrices(a: Any, b: Any) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """Shapes of a and b with 1-D operands promoted to matrices, as matmul does."""
    sa, sb = shape_of(a), shape_of(b)
    return (sa if len(sa) > 1 else (1, *sa)), (sb if len(sb) > 1 else (*sb, 1))


def _swap_last(x: Any) -> Any:
    n = len(shape_of(x))
    return transpose(x, (*range(n - 2), n - 1, n - 2))


def _matmul_shape(sa: tuple[int, ...], sb: tuple[int, ...]) -> tuple[int, ...]:
    return (*np.broadcast_shapes(sa[:-2], sb[:-2]), sa[-2], sb[-1])


def _matmul_vjp(ct: Any, xs: Any, out: Any) -> tuple[Any, Any]:
    a, b = xs
    sa, sb = _as_matrices(a, b)
    a2, b2 = reshape(a, sa), reshape(b, sb)
    ct2 = reshape(ct, _matmul_shape(sa, sb))
    return (lambda: reshape(sum_to(matmul(ct2, _swap_last(b2)), sa), shape_of(a)),
            lambda: reshape(sum_to(matmul(_swap_last(a2), ct2), sb), shape_of(b)))


def _matmul_vjp_rows(cts: Any, k: int, xs: Any, out: Any) -> tuple[Any, Any]:
    """k stacked cotangents at once: matmul broadcasts over the leading axis."""
    a, b = xs
    sa, sb = _as_matrices(a, b)
    a2, b2 = reshape(a, sa), reshape(b, sb)
    ct2 = reshape(cts, (k, *_matmul_shape(sa, sb)))
    return (lambda: reshape(_sum_rows_to(matmul(ct2, _swap_last(b2)), k, sa), (k, *shape_of(a))),
            lambda: reshape(_sum_rows_to(matmul(_swap_last(a2), ct2), k, sb), (k, *shape_of(b))))


def _matmul_jvp(ts: Any, k: int, xs: Any, out: Any) -> Any:
    """(a + ȧ)(b + ḃ) − ab = ȧb + aḃ, with the k tangent axis kept in front of every batch axis."""
    a, b = xs
    sa, sb = _as_matrices(a, b)
    nb = builtins.max(len(sa), len(sb)) - 2  # batch axes of the product

    def lead(shape: tuple[int, ...], tangent: bool) -> tuple[int, ...]:
        pad = (1,) * (nb - (len(shape) - 2))
        return (k, *pad, *shape) if tangent else (1, *pad, *shape)

    total = None
    if ts[0] is not None:
        total = matmul(reshape(ts[0], lead(sa, True)), reshape(b, lead(sb, False)))
    if ts[1] is not None:
        term = matmul(reshape(a, lead(sa, False)), reshape(ts[1], lead(sb, True)))
        total = term if total is None else total + term
    return reshape(total, (k, *shape_of(out)))


def _prepare_matmul(a: Any, b: Any) -> Any:
    sa, sb = shape_of(a), shape_of(b)
    if not sa or not sb:
        raise ShapeError(f"matmul needs arrays of at least 1 dimension, got shapes {sa} and {sb}")
    inner = sb[-2 if len(sb) > 1 else 0]
    if sa[-1] != inner:
        raise ShapeError(f"matmul: shapes {sa} and {sb} do not align ({sa[-1]} != {inner})")
    return (a, b), {}


matmul = structural(
    "matmul", lambda xp, a, b: xp.matmul(a, b), jvp=_matmul_jvp, vjp=_matmul_vjp, nargs=2,
    vjp_rows=_matmul_vjp_rows,
    prepare=_prepare_matmul, numpy=("matmul",), symbol="@", unicode="@", latex=r"\cdot",
    cost=lambda ins, out: math.prod(out) * (ins[0][-1] if ins[0] else 1),
    doc="Matrix product a @ b (NumPy rules for 1-D and batched operands).")


@composite(numpy=("dot",))
def dot(a: Any, b: Any) -> Any:
    """NumPy's dot: a product for scalars, matmul up to 2-D operands, and for N-D operands the sum
    over the last axis of `a` and the second-to-last of `b`
    (``dot(a, b)[i, j, k, m] = Σ a[i, j, :]·b[k, :, m]``). A composite of matmul, transpose and
    reshape.

    Example:
        >>> import diffkit as dk, numpy as np
        >>> dk.dot(np.ones((2, 3)), np.ones((4, 3, 5))).shape
        (2, 4, 5)
    """
    sa, sb = shape_of(a), shape_of(b)
    if not sa or not sb:
        return mul(a, b)
    if len(sb) < 3:
        return matmul(a, b)
    n = sb[-2]
    if sa[-1] != n:
        raise ShapeError(f"dot: shapes {sa} and {sb} do not align ({sa[-1]} != {n})")
    rest = sb[:-2] + sb[-1:]
    b_first = transpose(b, (len(sb) - 2, *range(len(sb) - 2), len(sb) - 1))  # (n, *rest)
    return reshape(matmul(reshape(a, (-1, n)), reshape(b_first, (n, -1))), sa[:-1] + rest)


__all__ = declared_in(__name__)
