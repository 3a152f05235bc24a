"""How a record of the table is declared: element-wise and structural primitives, and composites.

Every declaration registers its record in :data:`diffkit.primitive.REGISTRY` (primitives) or
:data:`diffkit.primitive.COMPOSITES` (functions composed of primitives), with its public name and
the NumPy names that dispatch to it. The family modules of this package call these.
"""

from __future__ import annotations

import builtins
import functools
import inspect
import operator
import sys
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from ..backend import array_namespace
from ..errors import InputTypeError, ShapeError
from ..primitive import (
    COMPOSITES,
    REGISTRY,
    Composite,
    Primitive,
    Rule,
    dtype_of,
    flat_everywhere,  # the families declare steps with it (defined in the core); so does `elementwise`
    plain_value,
    register,
)

#: every public name declared, in declaration order, and the family module declaring it
NAMES: dict[str, str] = {}


def _caller_module() -> str:
    """The module whose code declared the record (the first frame outside this module)."""
    frame = sys._getframe(1)
    while frame is not None and frame.f_globals.get("__name__") == __name__:
        frame = frame.f_back
    return frame.f_globals.get("__name__", "") if frame is not None else ""


def _declare(p: Any) -> Any:
    if p.name in REGISTRY or p.name in COMPOSITES:
        raise ValueError(f"{p.name!r} is declared twice")
    NAMES[p.name] = _caller_module()
    return register(p)


def declared_in(module: str) -> list[str]:
    """The public names a family module declared (its ``__all__``)."""
    return [n for n, m in NAMES.items() if m == module]


def sympy_classes() -> Any:
    """The SymPy classes of the translations that SymPy lacks (imported when SymPy is in use)."""
    from . import _ufunc_sympy

    return _ufunc_sympy


def cut(below: float | None = None, above: float | None = None, *, imaginary: bool = False,
        arg: int = 0) -> Rule:
    """``signed_zero`` of a branch cut: where complex argument `arg` lies on it with a zero part,
    whose sign picks NumPy's side — the real axis at x ≤ `below` and x ≥ `above` with a zero
    imaginary part (sqrt, log: below=0; arcsin: below=−1, above=1), or with `imaginary` the
    imaginary axis at y ≤ `below`, y ≥ `above` with a zero real part (arcsinh, arctan). Branch
    points count (the derivative is infinite there). A real argument is on no cut."""
    def on_cut(*args: Any) -> Any:
        z = np.asarray(args[arg])
        if z.dtype.kind != "c":
            return False
        along, across = (z.imag, z.real) if imaginary else (z.real, z.imag)
        beyond = np.zeros(z.shape, dtype=bool)
        if below is not None:
            beyond |= along <= below
        if above is not None:
            beyond |= along >= above
        return (across == 0) & beyond

    return on_cut


def ties_at_equal(active: Any, a: Any, b: Any, out: Any) -> Any:
    """``ties`` of a comparison of two numbers: where they are equal (x > 0 at x = 0 flips in
    every neighbourhood of a moving x)."""
    return a == b


def elementwise(name: str, impl: Rule, partials: tuple[Rule | None, ...] | None, sympy: Any, *,
                nargs: int | None = None, symbol: str | None = None, unicode: str | None = None,
                latex: str | None = None, numpy: tuple[str, ...] | None = None,
                scipy: tuple[str, ...] = (), aliases: tuple[str, ...] = (),
                parseable: bool = True, scalar: str | None = None,
                unit: tuple[float | None, ...] = (), wirtinger: Rule | None = None,
                domain: tuple[tuple[float, float], ...] | None = None, domain_text: str = "",
                valid: Rule | None = None, holomorphic: bool = True, special: tuple = (),
                prepare: Rule | None = None, kinks: Rule | None = None, flat: Rule | None = None,
                ties: Rule | None = None, signed_zero: tuple[bool | Rule, ...] = (),
                symbolic_inexact: Rule | None = None, affine_pieces: bool | None = None, doc: str = "") -> Primitive:
    """Declare an element-wise primitive from its local partial derivatives (`prepare`, as for
    structural ones: normalizes a call of ``dk.<name>`` before binding, e.g. casts).
    `affine_pieces` (see :class:`~diffkit.primitive.Primitive`) defaults to whether `flat` is
    :func:`flat_everywhere`: piecewise-constant partials make an op affine on each piece."""
    n = nargs or (len(partials) if partials is not None else 1)
    _check_units(name, impl, unit)
    return _declare(Primitive(
        name=name, nargs=n, impl=impl, kind="elementwise", partials=partials, wirtinger=wirtinger,
        differentiable=partials is not None, sympy=sympy,
        numpy=(name,) if numpy is None else numpy, scipy=scipy, aliases=aliases,
        parseable=parseable and partials is not None, scalar=scalar, symbol=symbol or name,
        unicode=unicode or symbol or name,
        latex=latex if latex is not None else rf"\operatorname{{{name}}}", unit=unit,
        domain=domain or ((-2.0, 2.0),) * n, domain_text=domain_text, valid=valid,
        holomorphic=holomorphic, special=special, prepare=prepare, kinks=kinks, flat=flat,
        ties=ties, signed_zero=signed_zero, symbolic_inexact=symbolic_inexact,
        affine_pieces=flat is flat_everywhere if affine_pieces is None else affine_pieces,
        doc=doc or f"Element-wise {name} (a primitive: see diffkit.primitives)."))


def _check_units(name: str, impl: Rule, unit: tuple[float | None, ...]) -> None:
    """A declared unit u (argument i) must make the op return its other operand x bit for bit
    — signed zeros, subnormals, the largest numbers, infinities and NaN, in float16, float32
    and float64 — for the compiler drops the operation (x + 0.0 is not x at x = −0.0: add's
    unit is −0.0). ValueError at declaration otherwise."""
    for i, u in enumerate(unit):
        if u is None:
            continue
        for dtype in (np.float64, np.float32, np.float16):
            info = np.finfo(dtype)
            x = np.array([0.0, -0.0, info.smallest_subnormal, -info.smallest_subnormal, 1.0, -2.5,
                          info.max, -info.max, np.inf, -np.inf, np.nan], dtype=dtype)
            with np.errstate(all="ignore"):
                out = np.asarray(impl(np, *((dtype(u), x) if i == 0 else (x, dtype(u)))))
            same = ((out == x) & (np.signbit(out) == np.signbit(x))) | (np.isnan(out)
                                                                       & np.isnan(x))
            if out.dtype != x.dtype or not np.all(same):
                bad = x[~same] if out.shape == x.shape else x
                raise ValueError(f"{name}: unit {u!r} of argument {i} does not return the other "
                                 f"operand exactly in {np.dtype(dtype).name} (at {bad.tolist()})")


def as_array(v: Any) -> Any:
    """A list or tuple read as NumPy reads an array argument (``np.asarray``: nested sequences
    become axes; traced elements make an object array of them, which ``bind`` stacks back into
    one traced array); anything else — arrays, traced values, numbers — as it is."""
    return np.asarray(v) if isinstance(v, list | tuple) else v


def reading_arrays(fn: Callable[..., Any], count: int) -> Callable[..., Any]:
    """`fn` with its first `count` parameters (passed by position or by name) read with
    :func:`as_array`, so that code inspecting shapes before binding never sees a list (whose
    ``shape`` it would miss: a 0-d operand, and dot([1, 2], x) a product)."""
    names = [p.name for p in inspect.signature(fn).parameters.values()
             if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)][:count]
    keywords = frozenset(names)

    @functools.wraps(fn)
    def read(*args: Any, **kwargs: Any) -> Any:
        if any(isinstance(a, list | tuple) for a in args[:count]):
            args = tuple(as_array(a) for a in args[:count]) + args[count:]
        if kwargs and not keywords.isdisjoint(kwargs):
            kwargs = {k: as_array(v) if k in keywords else v for k, v in kwargs.items()}
        return fn(*args, **kwargs)

    return read


def structural(name: str, impl: Rule, *, vjp: Rule, jvp: Rule | None = None, linear: bool = False,
               batch: Rule | None = None, vjp_rows: Rule | None = None,
               vjp_diagonal: Rule | None = None, jvp_diagonal: Rule | None = None, nargs: int | None = 1, prepare: Rule | None = None,
               arrays: int = 0,
               sympy: Any = None, numpy: tuple[str, ...] = (), scipy: tuple[str, ...] = (),
               symbol: str | None = None,
               unicode: str | None = None, latex: str | None = None, cost: Rule | None = None,
               parseable: bool = False, differentiable: bool = True, expand: Rule | None = None,
               place: Rule | None = None, holomorphic: bool = False, affine_pieces: bool = False,
               doc: str = "") -> Primitive:
    """Declare a non-element-wise primitive: linear (its transpose as ``vjp``, and a ``batch`` rule)
    or not (a batched ``jvp`` and a ``vjp``). Without ``sympy``, the SymPy translation is ``impl``
    run on NumPy object arrays of SymPy expressions.

    ``holomorphic``: complex-analytic in every argument, everywhere it is defined (f(z + w) =
    f(z) + J·w + o(w) with J complex-linear: sum, matmul, inv, det). The default is False, the
    safe answer: a record that conjugates (vdot's first argument), takes a modulus (norms,
    log|det|), reads a Hermitian matrix (cholesky, eigh, svd, qr, pinv) or drops an imaginary
    part is refused for complex-valued derivatives and by the symbolic engine instead of being
    differentiated as if z̄ were z. tests/test_complex_trust.py checks every record declared
    holomorphic against the Cauchy–Riemann equations.

    ``arrays``: the number of leading arguments of ``prepare`` that are arrays; lists and tuples
    there are read as NumPy reads them (:func:`as_array`) before ``prepare`` inspects their shapes.
    (Without ``prepare``, ``bind`` reads them so.)"""
    if arrays and prepare is not None:
        prepare = reading_arrays(prepare, arrays)
    return _declare(Primitive(
        name=name, nargs=nargs, impl=impl, kind="structural", linear=linear, batch=batch, jvp=jvp,
        vjp=vjp, vjp_rows=vjp_rows, vjp_diagonal=vjp_diagonal,
        jvp_diagonal=jvp_diagonal, prepare=prepare, sympy=sympy, numpy=numpy, scipy=scipy, parseable=parseable,
        differentiable=differentiable, symbol=symbol or name, unicode=unicode or symbol or name,
        latex=latex if latex is not None else rf"\operatorname{{{name}}}", cost=cost, expand=expand,
        place=place, holomorphic=holomorphic, affine_pieces=affine_pieces,
        doc=doc or f"{name} (a primitive: see diffkit.primitives)."))


def composite(fn: Callable[..., Any] | None = None, *, name: str | None = None,
              numpy: tuple[str, ...] = (), scipy: tuple[str, ...] = (),
              aliases: tuple[str, ...] = (), parseable: bool = False,
              nargs: int | None = None, domain: tuple[tuple[float, float], ...] = (),
              arrays: int = 0) -> Any:
    """Declare a function composed of primitives (exactly: no approximation): every engine
    differentiates it through the primitives it records. Use as a decorator.

    ``arrays``: the number of leading arguments that are arrays; lists and tuples there are read
    as NumPy reads them (:func:`as_array`) before the function sees them."""

    def wrap(f: Callable[..., Any]) -> Composite:
        if arrays:
            f = reading_arrays(f, arrays)
        c = Composite(name=name or f.__name__, fn=f, numpy=numpy, scipy=scipy, aliases=aliases,
                      parseable=parseable, nargs=nargs, domain=domain, doc=f.__doc__ or "")
        return _declare(c)

    return wrap(fn) if fn is not None else wrap


def shape_of(v: Any) -> tuple[int, ...]:
    return tuple(getattr(v, "shape", ()))


def xp_of(*values: Any) -> Any:
    """The array module (NumPy or CuPy) of the plain values under `values`."""
    return array_namespace(*(plain_value(v) for v in values))


def working_dtype(dtype: Any) -> np.dtype:
    """The dtype float16 work is done in: float32 (its ε ≈ 1e-3 leaves a central difference
    two digits; (x − μ)² overflows from |x − μ| = 256; Adam's ε = 1e-8 rounds to 0 — PyTorch
    accumulates half precision in float32 too), any other dtype itself."""
    dt = np.dtype(dtype)
    return np.dtype(np.float32) if dt == np.float16 else dt


def unit_cotangent(v: Any) -> Any:
    """The seed 1 of a scalar output's pullback, in the output's floating dtype (a float32 loss
    is differentiated in float32, also where it is traced inside ``dk.jit``); a Python 1.0 for
    float64, complex128 and non-floating outputs."""
    dt = dtype_of(plain_value(v))
    return dt.type(1.0) if dt.kind in "fc" and dt.itemsize < 8 * (1 + (dt.kind == "c")) else 1.0


def normalize_axes(axis: int | Sequence[int] | None, ndim: int, *, lists: bool = False
                   ) -> tuple[int, ...] | None:
    """Axes as a sorted tuple of non-negative ints (None: all axes), by NumPy's rules: an int or
    a tuple (also a list where `lists`, as np.median and np.average take), each axis once."""
    if axis is None:
        return None
    items = tuple(axis) if isinstance(axis, tuple) or lists and isinstance(axis, list) else (
        axis,)
    out = []
    for a in items:
        try:
            a = operator.index(a)
        except TypeError:  # NumPy's TypeError, by name ("'float' object cannot be interpreted …")
            raise InputTypeError(f"axis must be an integer or a tuple of integers, got "
                                 f"{axis!r}") from None
        if not -ndim <= a < builtins.max(ndim, 1) or (ndim == 0 and a not in (0, -1)):
            raise ShapeError(f"axis {a} is out of bounds for an array with {ndim} dimension(s)")
        out.append(a % builtins.max(ndim, 1))
    if len(set(out)) != len(out):
        raise ShapeError(f"duplicate value in 'axis': {axis!r}")
    return tuple(sorted(out))


_CASTINGS = ("no", "equiv", "safe", "same_kind", "unsafe")


def check_casting(sources: Sequence[np.dtype], to: Any, casting: str) -> np.dtype:
    """The dtype `to` (None: the sources' result type) after NumPy's casting check: every source
    must cast to it under the rule `casting` (np.can_cast); NumPy's TypeError where one cannot."""
    if casting not in _CASTINGS:
        raise ValueError("casting must be one of 'no', 'equiv', 'safe', 'same_kind', 'unsafe' "
                         f"(got {casting!r})")
    target = np.result_type(*sources) if to is None else np.dtype(to)
    for src in sources:
        if not np.can_cast(src, target, casting):
            raise TypeError(f"Cannot cast array data from {np.dtype(src)!r} to {target!r} "
                            f"according to the rule {casting!r}")
    return target
