"""Products: matrix multiplication (NumPy's rules for 1-D and batched operands), einsum, and the
other multilinear products of NumPy (inner, outer, vdot, tensordot, kron, cross).

Their array arguments are declared (``arrays=2``): a list or tuple operand is read as NumPy reads
it (``np.asarray``) before any shape is inspected — a list has no ``shape``, and read as 0-d it
turned dot([1, 2], x) into a product.

``einsum`` is one structural record. Its subscripts are parsed here (:func:`parse_einsum`: explicit
and implicit output, ``...``, repeated labels, broadcasting of size-1 axes) into one label per axis,
and its rules are einsums again: the JVP puts the tangent in place of one operand with a new label
for the k directions, and the VJP with respect to an operand contracts the cotangent with the
other operands (identity matrices restore a repeated label's diagonal, a vector of ones a label
summed away). The other products evaluate with NumPy's own function (so values are NumPy's to the
last bit) and differentiate through an equivalent einsum (:class:`_Lowering`).
"""

from __future__ import annotations

import builtins
import functools
import math
import operator
import string
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import MissingRuleError, ShapeError
from ..ir import Traced
from .declare import composite, declared_in, shape_of, structural
from .declare import plain_value as plain
from .declare import xp_of as namespace_of
from .elementwise import conj, mul
from .structure import _refuse, _sum_rows_to, broadcast_to, reshape, sum_to, transpose


def _as_matrices(a: Any, b: Any) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """Shapes of a and b with 1-D operands promoted to matrices, as matmul does."""
    sa, sb = shape_of(a), shape_of(b)
    return (sa if len(sa) > 1 else (1, *sa)), (sb if len(sb) > 1 else (*sb, 1))


def _swap_last(x: Any) -> Any:
    n = len(shape_of(x))
    return transpose(x, (*range(n - 2), n - 1, n - 2))


def _matmul_shape(sa: tuple[int, ...], sb: tuple[int, ...]) -> tuple[int, ...]:
    return (*np.broadcast_shapes(sa[:-2], sb[:-2]), sa[-2], sb[-1])


def _matmul_vjp(ct: Any, xs: Any, out: Any, dot: bool = False) -> tuple[Any, Any]:
    a, b = xs
    sa, sb = _as_matrices(a, b)
    a2, b2 = reshape(a, sa), reshape(b, sb)
    ct2 = reshape(ct, _matmul_shape(sa, sb))
    return (lambda: reshape(sum_to(matmul(ct2, _swap_last(b2)), sa), shape_of(a)),
            lambda: reshape(sum_to(matmul(_swap_last(a2), ct2), sb), shape_of(b)))


def _matmul_vjp_rows(cts: Any, k: int, xs: Any, out: Any, dot: bool = False) -> tuple[Any, Any]:
    """k stacked cotangents at once: matmul broadcasts over the leading axis."""
    a, b = xs
    sa, sb = _as_matrices(a, b)
    a2, b2 = reshape(a, sa), reshape(b, sb)
    ct2 = reshape(cts, (k, *_matmul_shape(sa, sb)))
    return (lambda: reshape(_sum_rows_to(matmul(ct2, _swap_last(b2)), k, sa), (k, *shape_of(a))),
            lambda: reshape(_sum_rows_to(matmul(_swap_last(a2), ct2), k, sb), (k, *shape_of(b))))


def _matmul_vjp_diagonal(d: Any, xs: Any, out: Any, dot: bool = False) -> tuple[Any, Any]:
    """Diagonal rows dᵢ·eᵢ of a matrix–vector product's output: for out = A @ v (A m × n), row
    i of v̄ is dᵢ·A[i] — the rows of d[:, None] * A; for out = v @ B (B n × m), of d[:, None] * Bᵀ.
    Only the vector's rows (a matrix's would be m × m × n anyway: None, the dense rule)."""
    a, b = xs
    sa, sb = shape_of(a), shape_of(b)
    if len(sa) == 2 and len(sb) == 1:
        return None, lambda: reshape(d, (sa[0], 1)) * a
    if len(sa) == 1 and len(sb) == 2:
        return lambda: reshape(d, (sb[1], 1)) * transpose(b, (1, 0)), None
    return None, None


def _matmul_jvp_diagonal(ds: Any, xs: Any, out: Any, dot: bool = False) -> Any:
    """Diagonal tangents dⱼ·eⱼ of the vector in a matrix–vector product: for out = A @ v
    (A m × n), direction j gives dⱼ·A[:, j] — the rows of d[:, None] * Aᵀ; for out = v @ B, of
    d[:, None] * B. None (dense) when the matrix has tangents too, or for other shapes."""
    (da, db), (a, b) = ds, xs
    sa, sb = shape_of(a), shape_of(b)
    if da is None and len(sa) == 2 and len(sb) == 1:
        return reshape(db, (sb[0], 1)) * transpose(a, (1, 0))
    if db is None and len(sa) == 1 and len(sb) == 2:
        return reshape(da, (sa[0], 1)) * b
    return None


def _matmul_jvp(ts: Any, k: int, xs: Any, out: Any, dot: bool = False) -> Any:
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


def _prepare_matmul(a: Any, b: Any, dot: bool = False) -> Any:
    """Shapes checked; ``dot=True`` (from :func:`dot`) evaluates by NumPy's ``dot``, the same
    product up to 2-D operands whose bits differ from matmul's for a strided operand (dot
    copies it compact for BLAS; matmul runs its own loop), so dk.dot is np.dot's value."""
    sa, sb = shape_of(a), shape_of(b)
    if not sa or not sb:
        raise ShapeError(f"matmul needs arrays of at least 1 dimension, got shapes {sa} and {sb}")
    inner = sb[-2 if len(sb) > 1 else 0]
    if sa[-1] != inner:
        raise ShapeError(f"matmul: shapes {sa} and {sb} do not align ({sa[-1]} != {inner})")
    return (a, b), {"dot": True} if dot else {}


matmul = structural(
    "matmul", lambda xp, a, b, dot=False: xp.dot(a, b) if dot else xp.matmul(a, b), jvp=_matmul_jvp, vjp=_matmul_vjp, nargs=2,
    vjp_rows=_matmul_vjp_rows, vjp_diagonal=_matmul_vjp_diagonal,
    jvp_diagonal=_matmul_jvp_diagonal,
    prepare=_prepare_matmul, arrays=2, numpy=("matmul", "linalg.matmul"), symbol="@", unicode="@",
    latex=r"\cdot",
    cost=lambda ins, out: math.prod(out) * (ins[0][-1] if ins[0] else 1),
    holomorphic=True,
    doc="Matrix product a @ b (NumPy rules for 1-D and batched operands).")


@composite(numpy=("dot",), arrays=2)
def dot(a: Any, b: Any, out: Any = None) -> Any:
    """NumPy's dot: a product for scalars, matmul up to 2-D operands, and for N-D operands the sum
    over the last axis of `a` and the second-to-last of `b`
    (``dot(a, b)[i, j, k, m] = Σ a[i, j, :]·b[k, :, m]``). A composite of matmul, transpose and
    reshape.

    Example:
        >>> import diffkit as dk, numpy as np
        >>> dk.dot(np.ones((2, 3)), np.ones((4, 3, 5))).shape
        (2, 4, 5)
    """
    _refuse("dot", out=out)
    sa, sb = shape_of(a), shape_of(b)
    if not sa or not sb:
        return mul(a, b)
    if len(sb) < 3 and len(sa) < 3:
        return matmul(a, b, dot=True)  # np.dot's own evaluation (its bits for strided operands)
    if len(sb) < 3:
        return matmul(a, b)
    n = sb[-2]
    if sa[-1] != n:
        raise ShapeError(f"dot: shapes {sa} and {sb} do not align ({sa[-1]} != {n})")
    rest = sb[:-2] + sb[-1:]
    b_first = transpose(b, (len(sb) - 2, *range(len(sb) - 2), len(sb) - 1))  # (n, *rest)
    return reshape(matmul(reshape(a, (-1, n)), reshape(b_first, (n, -1))), sa[:-1] + rest)


# ----- helpers shared with linalg ----------------------------------------------------------------


def real_dtype(*values: Any) -> np.dtype:
    """The floating dtype of the values (float32 stays float32; integers become float64)."""
    dt = np.result_type(*(getattr(plain(v), "dtype", np.float64) for v in values))
    if dt.kind == "c":
        return np.dtype(dt.char.lower()) if dt.char in "FD" else np.dtype(np.float64)
    return dt if dt.kind == "f" else np.dtype(np.float64)


def is_complex(v: Any) -> bool:
    return getattr(plain(v), "dtype", np.dtype(float)).kind == "c" or isinstance(v, complex)


def _as_operand(x: Any) -> Any:
    """Python numbers (and einsum's operands given as lists) as arrays; traced values and arrays
    as they are. (The other products' array arguments are declared ``arrays=2``: a list or tuple
    is read as NumPy reads it before their code runs — see ``declare.reading_arrays``.)"""
    return x if isinstance(x, Traced) or hasattr(x, "shape") else np.asarray(x)


# ----- einsum: the subscripts ---------------------------------------------------------------------

#: the labels of einsum's string form
_LETTERS = string.ascii_letters
#: NumPy's labels for the integers 0…51 of the sublist form (``einsum(a, [0, 1], b, [1, 2])``)
_SUBLIST_LETTERS = string.ascii_uppercase + string.ascii_lowercase


@dataclass(frozen=True)
class EinsumSpec:
    """Parsed einsum subscripts: one label (a letter) per axis of every operand and of the output,
    ``...`` replaced by fresh labels (right-aligned, so that ellipsis axes broadcast), and the size
    of every label (the largest: size-1 axes broadcast)."""

    ins: tuple[tuple[str, ...], ...]
    out: tuple[str, ...]
    sizes: tuple[tuple[str, int], ...]

    @property
    def size(self) -> dict[str, int]:
        return dict(self.sizes)

    def fresh(self, count: int = 1) -> tuple[str, ...]:
        """`count` labels not used by this spec."""
        free = [c for c in _LETTERS if c not in self.size]
        if len(free) < count:
            raise ShapeError("einsum: its derivative needs more than the 52 labels einsum has")
        return tuple(free[:count])


def einsum_text(ins: Sequence[Sequence[str]], out: Sequence[str]) -> str:
    """Explicit subscripts from labels: ``("ij", "jk"), "ik"`` -> ``"ij,jk->ik"``."""
    return ",".join("".join(t) for t in ins) + "->" + "".join(out)


def _terms(text: str, subscripts: str) -> list[str | None]:
    """One term's labels, None standing for ``...``."""
    out: list[str | None] = []
    j = 0
    while j < len(text):
        if text.startswith("...", j):
            if None in out:
                raise ShapeError(f"einsum: more than one '...' in a term of {subscripts!r}")
            out.append(None)
            j += 3
        elif text[j] in _LETTERS:
            out.append(text[j])
            j += 1
        else:
            raise ShapeError(f"einsum: invalid character {text[j]!r} in subscripts {subscripts!r} "
                             "(labels are letters; '...' for broadcast axes)")
    return out


@functools.lru_cache(maxsize=1024)
def parse_einsum(subscripts: str, shapes: tuple[tuple[int, ...], ...]) -> EinsumSpec:
    """Parse einsum `subscripts` for operands of `shapes` (NumPy's rules), or raise ShapeError."""
    text = subscripts.replace(" ", "")
    lhs, arrow, rhs = text.partition("->")
    if not arrow and ("-" in text or ">" in text) or "->" in rhs:
        raise ShapeError(f"einsum: malformed subscripts {subscripts!r}")
    terms = [_terms(t, subscripts) for t in lhs.split(",")]
    if len(terms) != len(shapes):
        raise ShapeError(f"einsum: {subscripts!r} names {len(terms)} operand(s), but "
                         f"{len(shapes)} were given")
    ell_dims = []
    for i, (term, shape) in enumerate(zip(terms, shapes)):
        named = builtins.sum(t is not None for t in term)
        extra = len(shape) - named
        if extra < 0 or (extra > 0 and None not in term):
            raise ShapeError(f"einsum: operand {i} of shape {shape} has {len(shape)} axes, but "
                             f"{subscripts!r} gives it {named} label(s)")
        ell_dims.append(extra)
    used = set(lhs) | set(rhs)
    count = builtins.max(ell_dims, default=0)
    free = [c for c in _LETTERS if c not in used]
    if len(free) < count:
        raise ShapeError(f"einsum: {subscripts!r} leaves too few free labels for its '...' axes")
    ell = tuple(free[:count])
    ins = []
    for term, extra in zip(terms, ell_dims):
        labels: list[str] = []
        for t in term:
            labels.extend(ell[count - extra:] if t is None else (t,))
        ins.append(tuple(labels))
    sizes: dict[str, int] = {}
    for i, (labels, shape) in enumerate(zip(ins, shapes)):
        own: dict[str, int] = {}
        for label, n in zip(labels, shape):
            if own.setdefault(label, n) != n:
                raise ShapeError(f"einsum: label {label!r} repeats in operand {i} (shape {shape}) "
                                 "over axes of different lengths")
        for label, n in own.items():
            m = sizes.get(label)
            if m is None or m == 1:
                sizes[label] = n
            elif n not in (1, m):
                raise ShapeError(f"einsum: label {label!r} has length {m} in one operand and {n} "
                                 f"in operand {i} ({subscripts!r}, shapes {shapes})")
    if not arrow:  # implicit output: the ellipsis axes, then labels used once, sorted
        counts = Counter(t for term in terms for t in term if t is not None)
        out = ell + tuple(sorted(c for c, n in counts.items() if n == 1))
    else:
        rterms = _terms(rhs, subscripts)
        if None not in rterms and count:
            raise ShapeError(f"einsum: {subscripts!r} has broadcast ('...') axes but no '...' in "
                             "its output")
        out = tuple(c for t in rterms for c in (ell if t is None else (t,)))
        if len(set(out)) != len(out):
            raise ShapeError(f"einsum: a label repeats in the output of {subscripts!r}")
        missing = [c for c in out if c not in sizes]
        if missing:
            raise ShapeError(f"einsum: output label(s) {''.join(missing)!r} of {subscripts!r} "
                             "appear in no operand")
    return EinsumSpec(tuple(ins), out, tuple(sizes.items()))


def _from_sublists(args: Sequence[Any]) -> tuple[str, list[Any]]:
    """NumPy's sublist form ``einsum(a, [0, 1], b, [1, 2], [0, 2])`` as subscripts + operands."""
    def term(sub: Any) -> str:
        out = []
        for s in sub:
            if s is Ellipsis:
                out.append("...")
            else:
                s = operator.index(s)
                if not 0 <= s < 52:
                    raise ShapeError(f"einsum: sublist labels are integers 0…51, got {s}")
                out.append(_SUBLIST_LETTERS[s])
        return "".join(out)

    args = list(args)
    out = args.pop() if len(args) % 2 else None
    operands, subs = args[0::2], args[1::2]
    text = ",".join(term(t) for t in subs)
    if out is not None:
        text += "->" + term(out)
    return text, operands


# ----- einsum: the record and its rules ----------------------------------------------------------


def _rule_optimize(operands: Sequence[Any]) -> Any:
    """einsum's contraction-order search pays for itself on large or many operands only."""
    big = builtins.max((math.prod(shape_of(o)) for o in operands), default=0)
    return "greedy" if big >= 4096 or len(operands) > 3 else False


def einsum_jvp(ts: Sequence[Any], k: int, ops: Sequence[Any], spec: EinsumSpec) -> Any:
    """Σᵢ einsum with tangent ṫᵢ (leading axis k) in place of operand i: a new label for k."""
    (lead,) = spec.fresh()
    total = None
    for i, t in enumerate(ts):
        if t is None:
            continue
        ins = list(spec.ins)
        ins[i] = (lead, *ins[i])
        operands = list(ops)
        operands[i] = t
        term = einsum(einsum_text(ins, (lead, *spec.out)), *operands,
                      optimize=_rule_optimize(operands))
        total = term if total is None else total + term
    return total


def einsum_cotangent(i: int, ct: Any, ops: Sequence[Any], spec: EinsumSpec) -> Any:
    """The VJP of einsum with respect to operand i: the cotangent contracted with the other
    operands, an identity matrix per repeated label of operand i (its diagonal) and a vector of
    ones per label only operand i has (summed away in the product); broadcast axes summed."""
    sizes = spec.size
    xp, dtype = namespace_of(ct), np.result_type(getattr(plain(ct), "dtype", np.float64))
    ins = [spec.out] + [t for j, t in enumerate(spec.ins) if j != i]
    operands = [ct] + [o for j, o in enumerate(ops) if j != i]
    mine = spec.ins[i]
    repeats = [c for c, n in Counter(mine).items() if n > 1]
    fresh = iter(spec.fresh(len(mine) - len(set(mine))))
    target, seen = [], set()
    for c in mine:
        if c in seen:
            d = next(fresh)
            target.append(d)
            ins.append((c, d))
            operands.append(xp.eye(sizes[c], dtype=dtype))
        else:
            seen.add(c)
            target.append(c)
    elsewhere = set().union(*ins[:len(spec.ins)]) if ins else set()
    for c in dict.fromkeys(mine):
        if c not in elsewhere and c not in repeats:
            ins.append((c,))
            operands.append(xp.ones(sizes[c], dtype=dtype))
    g = einsum(einsum_text(ins, target), *operands, optimize=_rule_optimize(operands))
    shape, had = shape_of(ops[i]), shape_of(g)
    if len(had) == len(shape) and any(a == 1 and b != 1 for a, b in zip(had, shape)):
        # a label of size 1 here that another operand has at size n (NumPy broadcasts it):
        # the product reached this operand's n entries alike
        g = broadcast_to(g, tuple(builtins.max(a, b) for a, b in zip(had, shape)))
    return sum_to(g, shape)


def _prepare_einsum(*args: Any, optimize: Any = False, **kwargs: Any) -> Any:
    if kwargs:
        raise MissingRuleError(f"einsum: {', '.join(kwargs)}= is not supported by diffkit (no "
                               "out=, dtype=, order= or casting=): leave it out, or use "
                               "method='fd' on plain NumPy code")
    if not args:
        raise ShapeError("einsum needs subscripts and operands")
    if isinstance(args[0], str):
        subscripts, operands = args[0], list(args[1:])
    else:
        subscripts, operands = _from_sublists(args)
    operands = [_as_operand(x) for x in operands]
    parse_einsum(subscripts, tuple(shape_of(x) for x in operands))
    return tuple(operands), {"subscripts": subscripts, "optimize": optimize}


def _einsum_spec(xs: Sequence[Any], subscripts: str) -> EinsumSpec:
    return parse_einsum(subscripts, tuple(shape_of(x) for x in xs))


def _einsum_sympy(sp: Any, *xs: Any, subscripts: str, optimize: Any = False) -> Any:
    return np.einsum(subscripts, *[np.asarray(x, dtype=object) for x in xs])


einsum = structural(
    "einsum", lambda xp, *ops, subscripts, optimize=False: xp.einsum(subscripts, *ops,
                                                                      optimize=optimize),
    jvp=lambda ts, k, xs, out, subscripts, optimize=False: einsum_jvp(
        ts, k, xs, _einsum_spec(xs, subscripts)),
    vjp=lambda ct, xs, out, subscripts, optimize=False: tuple(
        functools.partial(einsum_cotangent, i, ct, xs, _einsum_spec(xs, subscripts))
        for i in range(len(xs))),
    nargs=None, prepare=_prepare_einsum, numpy=("einsum",), sympy=_einsum_sympy,
    latex=r"\operatorname{einsum}",
    holomorphic=True,
    doc="Einstein summation (NumPy's einsum: explicit or implicit output, '...', repeated labels, "
        "any number of operands); its derivatives are einsums again.")


# ----- products as one einsum of reshaped operands ----------------------------------------------


@dataclass(frozen=True)
class _Lowering:
    """A multilinear product as ``post(einsum(spec, pre₀(x₀), pre₁(x₁), *consts))``: each ``pre``
    permutes an operand's axes (perms), reshapes it (shapes) and conjugates it (conj); ``post``
    permutes the einsum's output axes (out_perm) and reshapes it to the product's shape (final).
    The record evaluates with NumPy's own function; the lowering gives its JVP and VJP."""

    perms: tuple[tuple[int, ...] | None, ...]
    shapes: tuple[tuple[int, ...], ...]
    spec: str
    final: tuple[int, ...]
    conj: tuple[bool, ...] = (False, False)
    consts: tuple[Any, ...] = ()
    out_perm: tuple[int, ...] | None = None

    def parsed(self) -> EinsumSpec:
        return parse_einsum(self.spec, self.shapes + tuple(np.shape(c) for c in self.consts))

    def pre(self, x: Any, i: int, k: int | None = None) -> Any:
        perm = self.perms[i]
        if perm is not None:
            x = transpose(x, perm if k is None else (0, *(p + 1 for p in perm)))
        x = reshape(x, self.shapes[i] if k is None else (k, *self.shapes[i]))
        return conj(x) if self.conj[i] and is_complex(x) else x

    def pre_transpose(self, g: Any, i: int, shape: tuple[int, ...]) -> Any:
        perm = self.perms[i]
        if self.conj[i] and is_complex(g):
            g = conj(g)
        if perm is None:
            return reshape(g, shape)
        g = reshape(g, tuple(shape[p] for p in perm))
        return transpose(g, tuple(int(p) for p in np.argsort(perm)))

    def post(self, y: Any, k: int) -> Any:
        if self.out_perm is not None:
            y = transpose(y, (0, *(p + 1 for p in self.out_perm)))
        return reshape(y, (k, *self.final))

    def post_transpose(self, ct: Any) -> Any:
        spec = self.parsed()
        size = spec.size
        shape = tuple(size[c] for c in spec.out)
        if self.out_perm is None:
            return reshape(ct, shape)
        ct = reshape(ct, tuple(shape[p] for p in self.out_perm))
        return transpose(ct, tuple(int(p) for p in np.argsort(self.out_perm)))

    def constants(self, like: Any) -> list[Any]:
        xp, dtype = namespace_of(like), real_dtype(like)
        return [xp.asarray(c, dtype=dtype) for c in self.consts]


def _lowered(lower: Callable[..., _Lowering]) -> tuple[Callable[..., Any], Callable[..., Any]]:
    """The JVP and VJP rules of a record whose product `lower(shapes, **params)` describes."""

    def get(xs: Sequence[Any], params: dict[str, Any]) -> _Lowering:
        return lower(tuple(shape_of(x) for x in xs), **params)

    def jvp(ts: Any, k: int, xs: Any, out: Any, **params: Any) -> Any:
        low = get(xs, params)
        consts = low.constants(xs[0])
        ops = [low.pre(x, i) for i, x in enumerate(xs)] + consts
        tangents = [None if t is None else low.pre(t, i, k) for i, t in enumerate(ts)]
        y = einsum_jvp(tangents + [None] * len(consts), k, ops, low.parsed())
        return low.post(y, k)

    def vjp(ct: Any, xs: Any, out: Any, **params: Any) -> Any:
        low = get(xs, params)

        def one(i: int) -> Any:
            ops = [low.pre(x, j) for j, x in enumerate(xs)] + low.constants(xs[0])
            g = einsum_cotangent(i, low.post_transpose(ct), ops, low.parsed())
            return low.pre_transpose(g, i, shape_of(xs[i]))

        return tuple(functools.partial(one, i) for i in range(len(xs)))

    return jvp, vjp


def _labels(n: int, skip: str = "") -> str:
    return "".join([c for c in _LETTERS if c not in skip][:n])


@functools.lru_cache(maxsize=256)
def _lower_inner(shapes: tuple[tuple[int, ...], ...]) -> _Lowering:
    sa, sb = shapes
    if not sa or not sb:  # a scalar operand: the product
        la, lb = _labels(len(sa)), _labels(len(sb), "".join(_labels(len(sa))))
        return _Lowering((None, None), (sa, sb), f"{la},{lb}->{la}{lb}", sa + sb)
    a = _labels(len(sa))
    b = _labels(len(sb) - 1, a)
    return _Lowering((None, None), (sa, sb), f"{a},{b}{a[-1]}->{a[:-1]}{b}", sa[:-1] + sb[:-1])


def _prepare_inner(a: Any, b: Any) -> Any:
    a, b = _as_operand(a), _as_operand(b)
    sa, sb = shape_of(a), shape_of(b)
    if sa and sb and sa[-1] != sb[-1]:
        raise ShapeError(f"inner: the last axes of shapes {sa} and {sb} differ")
    return (a, b), {}


_inner_jvp, _inner_vjp = _lowered(_lower_inner)
inner = structural(
    "inner", lambda xp, a, b: xp.inner(a, b), jvp=_inner_jvp, vjp=_inner_vjp, nargs=2,
    prepare=_prepare_inner, arrays=2, numpy=("inner",), latex=r"\operatorname{inner}",
    holomorphic=True,
    doc="NumPy's inner: Σ over the last axes of a and b (a product if either is a scalar).")


@functools.lru_cache(maxsize=256)
def _lower_outer(shapes: tuple[tuple[int, ...], ...]) -> _Lowering:
    m, n = (math.prod(s) for s in shapes)
    return _Lowering((None, None), ((m,), (n,)), "a,b->ab", (m, n))


def _prepare_outer(a: Any, b: Any, out: Any = None) -> Any:
    """NumPy's signature ``outer(a, b, out)``."""
    _refuse("outer", out=out)
    return (_as_operand(a), _as_operand(b)), {}


outer = structural(
    "outer", lambda xp, a, b: xp.outer(a, b), jvp=_lowered(_lower_outer)[0],
    vjp=_lowered(_lower_outer)[1], nargs=2,
    prepare=_prepare_outer, arrays=2, numpy=("outer",),
    latex=r"\otimes", holomorphic=True,
    doc="Outer product of the flattened a and b: out[i, j] = a[i]·b[j].")


@composite(numpy=("vdot",), arrays=2)
def vdot(a: Any, b: Any) -> Any:
    """Σ conj(a)·b over the flattened arrays (the first argument is conjugated): inner(conj(a),
    b) of the flattened operands, so the table's conj decides what is holomorphic — vdot(c, z)
    of a constant c is, vdot(z, c) is not (its real part is differentiable by the convention)."""
    a, b = _as_operand(a), _as_operand(b)
    if math.prod(shape_of(a)) != math.prod(shape_of(b)):
        raise ShapeError(f"vdot: shapes {shape_of(a)} and {shape_of(b)} have different sizes")
    n = math.prod(shape_of(a))
    a, b = reshape(a, (n,)), reshape(b, (n,))
    if np.iscomplexobj(plain(a)):
        a = conj(a)
    return inner(a, b)


@functools.lru_cache(maxsize=256)
def _lower_tensordot(shapes: tuple[tuple[int, ...], ...], axes: tuple[tuple[int, ...], ...]
                     ) -> _Lowering:
    sa, sb = shapes
    la = _labels(len(sa))
    lb = list(_labels(len(sb), la))
    for i, j in zip(*axes):
        lb[j] = la[i]
    out = [c for i, c in enumerate(la) if i not in axes[0]]
    out += [c for j, c in enumerate(lb) if j not in axes[1]]
    final = tuple(n for i, n in enumerate(sa) if i not in axes[0]) + tuple(
        n for j, n in enumerate(sb) if j not in axes[1])
    return _Lowering((None, None), (sa, sb), f"{la},{''.join(lb)}->{''.join(out)}", final)


def _prepare_tensordot(a: Any, b: Any, axes: Any = 2) -> Any:
    a, b = _as_operand(a), _as_operand(b)
    sa, sb = shape_of(a), shape_of(b)
    if isinstance(axes, int | np.integer):
        n = int(axes)
        if n < 0 or n > len(sa) or n > len(sb):
            raise ShapeError(f"tensordot: cannot contract {n} axes of shapes {sa} and {sb}")
        pair = (tuple(range(len(sa) - n, len(sa))), tuple(range(n)))
    else:
        try:
            xa, xb = axes
        except (TypeError, ValueError):
            raise ShapeError(f"tensordot: axes must be an int or a pair of sequences, got "
                             f"{axes!r}") from None
        xa = (xa,) if isinstance(xa, int | np.integer) else tuple(xa)
        xb = (xb,) if isinstance(xb, int | np.integer) else tuple(xb)
        if len(xa) != len(xb):
            raise ShapeError(f"tensordot: {len(xa)} axes of a against {len(xb)} axes of b")
        try:
            pair = (tuple(operator.index(i) % builtins.max(len(sa), 1) for i in xa),
                    tuple(operator.index(j) % builtins.max(len(sb), 1) for j in xb))
        except TypeError:
            raise ShapeError(f"tensordot: axes must be integers, got {axes!r}") from None
        for i, j in zip(xa, xb):
            if not (-len(sa) <= i < len(sa) and -len(sb) <= j < len(sb)):
                raise ShapeError(f"tensordot: axes {axes!r} are out of range for shapes {sa} "
                                 f"and {sb}")
    if len(set(pair[0])) != len(pair[0]) or len(set(pair[1])) != len(pair[1]):
        raise ShapeError(f"tensordot: an axis repeats in {axes!r}")
    for i, j in zip(*pair):
        if sa[i] != sb[j]:
            raise ShapeError(f"tensordot: shape-mismatch for sum: axis {i} of {sa} against axis "
                             f"{j} of {sb}")
    return (a, b), {"axes": pair}


_tensordot_jvp, _tensordot_vjp = _lowered(_lower_tensordot)
tensordot = structural(
    "tensordot", lambda xp, a, b, axes: xp.tensordot(a, b, axes), jvp=_tensordot_jvp,
    vjp=_tensordot_vjp, nargs=2, prepare=_prepare_tensordot, arrays=2,
    numpy=("tensordot", "linalg.tensordot"),
    latex=r"\operatorname{tensordot}",
    holomorphic=True,
    doc="Σ over the paired axes of a and b (axes: an int N — the last N of a with the first N of "
        "b — or a pair of sequences).")


@functools.lru_cache(maxsize=256)
def _lower_kron(shapes: tuple[tuple[int, ...], ...]) -> _Lowering:
    sa, sb = shapes
    nd = builtins.max(len(sa), len(sb))
    pa, pb = (1,) * (nd - len(sa)) + sa, (1,) * (nd - len(sb)) + sb
    la = _labels(nd)
    lb = _labels(nd, la)
    out = "".join(a + b for a, b in zip(la, lb))
    final = tuple(m * n for m, n in zip(pa, pb))
    return _Lowering((None, None), (pa, pb), f"{la},{lb}->{out}", final)


kron = structural(
    "kron", lambda xp, a, b: xp.kron(a, b), jvp=_lowered(_lower_kron)[0],
    vjp=_lowered(_lower_kron)[1], nargs=2,
    prepare=lambda a, b: ((_as_operand(a), _as_operand(b)), {}), arrays=2, numpy=("kron",),
    latex=r"\otimes", holomorphic=True,
    doc="Kronecker product (blocks a[i]·b), NumPy's rules for different ndims.")


def _levi_civita(da: int, db: int) -> np.ndarray:
    """ε restricted to vectors of lengths da and db (a 2-vector has a zero third component); for
    two 2-vectors only the third component of the product."""
    eps = np.zeros((3, 3, 3))
    for i, j, c in ((0, 1, 2), (1, 2, 0), (2, 0, 1)):
        eps[i, j, c], eps[j, i, c] = 1.0, -1.0
    eps = eps[:da, :db]
    return eps[..., 2] if da == db == 2 else eps


@functools.lru_cache(maxsize=256)
def _lower_cross(shapes: tuple[tuple[int, ...], ...], axisa: int, axisb: int, axisc: int
                 ) -> _Lowering:
    sa, sb = shapes
    perm_a = tuple(i for i in range(len(sa)) if i != axisa) + (axisa,)
    perm_b = tuple(i for i in range(len(sb)) if i != axisb) + (axisb,)
    ma, mb = tuple(sa[p] for p in perm_a), tuple(sb[p] for p in perm_b)
    nb = builtins.max(len(ma), len(mb)) - 1
    pa, pb = (1,) * (nb + 1 - len(ma)) + ma, (1,) * (nb + 1 - len(mb)) + mb
    batch = _labels(nb, "ijc")
    da, db = ma[-1], mb[-1]
    final_batch = tuple(np.broadcast_shapes(pa[:-1], pb[:-1]))
    if da == db == 2:
        return _Lowering((perm_a, perm_b), (pa, pb), f"{batch}i,{batch}j,ij->{batch}",
                         final_batch, consts=(_levi_civita(2, 2),))
    nd = nb + 1
    out_perm = tuple(range(nd - 1))
    out_perm = out_perm[:axisc] + (nd - 1,) + out_perm[axisc:]
    final = tuple((*final_batch, 3)[p] for p in out_perm)
    return _Lowering((perm_a, perm_b), (pa, pb), f"{batch}i,{batch}j,ijc->{batch}c", final,
                     consts=(_levi_civita(da, db),), out_perm=out_perm)


def _prepare_cross(a: Any, b: Any, axisa: int = -1, axisb: int = -1, axisc: int = -1,
                   axis: int | None = None) -> Any:
    a, b = _as_operand(a), _as_operand(b)
    sa, sb = shape_of(a), shape_of(b)
    if axis is not None:
        axisa = axisb = axisc = axis
    if not sa or not sb:
        raise ShapeError(f"cross: needs vectors, got shapes {sa} and {sb}")
    try:
        axisa = operator.index(axisa)
        axisb = operator.index(axisb)
        axisc = operator.index(axisc)
    except TypeError:
        raise ShapeError("cross: axes must be integers") from None
    if not (-len(sa) <= axisa < len(sa) and -len(sb) <= axisb < len(sb)):
        raise ShapeError(f"cross: axisa={axisa} or axisb={axisb} is out of bounds for shapes "
                         f"{sa} and {sb}")
    axisa, axisb = axisa % len(sa), axisb % len(sb)
    da, db = sa[axisa], sb[axisb]
    if da not in (2, 3) or db not in (2, 3):
        raise ShapeError(f"cross: incompatible dimensions for cross product (dimension must be 2 "
                         f"or 3), got {da} and {db}")
    rest_a = tuple(n for i, n in enumerate(sa) if i != axisa)
    rest_b = tuple(n for i, n in enumerate(sb) if i != axisb)
    try:
        batch = np.broadcast_shapes(rest_a, rest_b)
    except ValueError:
        raise ShapeError(f"cross: shapes {sa} and {sb} do not broadcast") from None
    if da == db == 2:
        axisc = 0
    else:
        nd = len(batch) + 1
        if not -nd <= axisc < nd:
            raise ShapeError(f"cross: axisc={axisc} is out of bounds for a result of {nd} "
                             "dimension(s)")
        axisc %= nd
    return (a, b), {"axisa": axisa, "axisb": axisb, "axisc": axisc}


def _cross_impl(xp: Any, a: Any, b: Any, axisa: int, axisb: int, axisc: int) -> Any:
    return xp.cross(a, b, axisa=axisa, axisb=axisb, axisc=axisc)


def _lower_cross_params(shapes: tuple[tuple[int, ...], ...], axisa: int, axisb: int, axisc: int
                        ) -> _Lowering:
    return _lower_cross(shapes, axisa, axisb, axisc)


cross = structural(
    "cross", _cross_impl, jvp=_lowered(_lower_cross_params)[0],
    vjp=_lowered(_lower_cross_params)[1], nargs=2, prepare=_prepare_cross, arrays=2,
    numpy=("cross",),
    symbol="cross", unicode="×", latex=r"\times",
    holomorphic=True,
    doc="Cross product of 3-vectors (or 2-vectors, whose third component is 0) along axisa, axisb "
        "(result along axisc; `axis` sets all three), broadcast over the other axes.")

__all__ = declared_in(__name__)
