"""Discrete Fourier transforms (numpy.fft) and np.piecewise on traced values.

Three records carry every transform; NumPy's spellings are composites over them, with NumPy's
values bit for bit (each record calls ``xp.fft.*`` with NumPy's own arguments, in NumPy's order
of axes):

* ``fft_c2c(x, axes, s, inverse, norm)``: y = c·F·P x, the complex transform over `axes`
  (F_{jk} = e^{∓2πi·jk/n}, − forward, + inverse), each axis first cut or zero-padded at its end
  to s (P) and c the `norm` scale (1, 1/√n or 1/n, by NumPy's rule for the direction).
  Holomorphic and linear: the JVP is the transform of the tangent; the DFT matrix is symmetric
  (Fᵀ = F), so the VJP (JAX's convention: the transpose, no conjugate) is Pᵀ·c·F·ȳ — the same
  transform of ȳ, then cut or padded back to the input's length.
* ``fft_r2c(x, axis, n, norm)``: NumPy's rfft, the first m = n//2 + 1 rows of the transform of
  real x. VJP: Pᵀ·c·F_n·[ȳ; 0], ȳ zero-padded to n (complex: the API keeps the real part at a
  real input, as for x·c with a complex constant).
* ``fft_c2r(X, axis, n, norm)``: NumPy's irfft, y_k = c·Σ_{j<m} d_j·Re(X_j·e^{2πi·jk/n}) with
  the Hermitian weights d_0 = 1, d_j = 2, d_{n/2} = 1 (n even), X cut or padded to m entries.
  Real-linear, not holomorphic (Im X_0 is dropped): with ȳ real, X̄_j = d_j·conj(c·rfft(ȳ)_j)
  (JAX's X̄ = ∂L/∂Re X − i·∂L/∂Im X), cut or padded back; for real X (the real matrix Re A)
  X̄_j = d_j·Re(c·rfft(ȳ)_j), real, and complex-linear in a complex ȳ.

``hfft``/``ihfft`` are NumPy's conjugations around them, the shifts rolls, the frequencies
constants times 1/(n·d). ``piecewise`` repeats NumPy's steps: each condition is a constant mask
(a traced condition is read from its value: the trace holds at this point only), each function
is traced on the selected elements ``x[cond]``, and its values are placed with ``where``.
"""

from __future__ import annotations

import builtins
import math
import operator
import sys
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np

from ..errors import IndexOutOfRangeError, ShapeError, TracingError
from ..ir import Traced
from ..primitive import PUBLIC, read_plain
from .assembly import _as_array
from .declare import composite, declared_in, shape_of, structural
from .declare import dtype_of as _dtype
from .declare import xp_of as _xp
from .elementwise import conj, imag, real, where
from .structure import broadcast_to, getitem, index_add, reshape, roll

_NORMS = {None: "backward", "backward": "backward", "ortho": "ortho", "forward": "forward"}
_SWAP = {"backward": "forward", "ortho": "ortho", "forward": "backward"}

# ----- arguments, by NumPy's rules -----------------------------------------------------------------


def _norm(norm: Any) -> str:
    if not isinstance(norm, str | type(None)) or norm not in _NORMS:
        raise ShapeError(f'Invalid norm value {norm}; should be "backward", "ortho" or "forward".')
    return _NORMS[norm]


def _axis(axis: Any, ndim: int) -> int:
    a = operator.index(axis)
    if not -ndim <= a < ndim:
        raise IndexOutOfRangeError(f"axis {a} is out of bounds for array of dimension {ndim}")
    return a % ndim


def _points(n: Any) -> int:
    n = operator.index(n)
    if n < 1:
        raise ShapeError(f"Invalid number of FFT data points ({n}) specified.")
    return n


def _refuse_out(name: str, out: Any) -> None:
    if out is not None:
        raise TracingError(f"numpy.fft.{name} with out= is not supported by diffkit: leave it "
                           "out (write the result to a new variable)")


def _resized(g: Any, sizes: dict[int, int], lead: int = 0) -> Any:
    """`g` with each axis a (+ lead) cut or zero-padded at its end to sizes[a]: the transpose of
    the pad or cut that made it (a cut's transpose pads, a pad's cuts)."""
    shape = list(shape_of(g))
    cut = [slice(None)] * len(shape)
    for a, n in sizes.items():
        if shape[a + lead] > n:
            cut[a + lead], shape[a + lead] = slice(0, n), n
    if builtins.any(c != slice(None) for c in cut):
        g = getitem(g, tuple(cut))
    place, target = [slice(None)] * len(shape), list(shape)
    for a, n in sizes.items():
        if shape[a + lead] < n:
            place[a + lead], target[a + lead] = slice(0, shape[a + lead]), n
    if target != shape:
        g = index_add(g, tuple(place), tuple(target))
    return g


def _cost(ins: Any, out: Any) -> float:
    """n·log₂ n per transformed element, roughly."""
    return (math.prod(ins[0]) + math.prod(out)) * builtins.max(1.0, math.log2(builtins.max(
        (*out, 2))))


# ----- SymPy: the O(n²) sums, on object arrays ------------------------------------------------------


def _root(sp: Any, r: int, n: int, sign: int) -> Any:
    """e^{sign·2πi·r/n} (exact at the quarter turns)."""
    r %= n
    if 4 * r % n == 0:
        return (1, sign * sp.I, -1, -sign * sp.I)[4 * r // n]
    angle = 2 * math.pi * r / n
    return sp.Float(math.cos(angle)) + sign * sp.I * sp.Float(math.sin(angle))


def _scale(sp: Any, n: int, inverse: bool, norm: str) -> Any:
    if norm == "ortho":
        return 1 / sp.sqrt(n)
    return sp.Rational(1, n) if (norm == "forward") != inverse else 1


def _lanes(a: Any, axis: int, size: int, fn: Callable[[list[Any]], list[Any]]) -> Any:
    """fn(lane) (a list of `size` entries) for every lane of the object array along `axis`."""
    moved = np.moveaxis(np.asarray(a, dtype=object), axis, -1)
    out = np.empty(moved.shape[:-1] + (size,), dtype=object)
    for idx in np.ndindex(*moved.shape[:-1]):
        out[idx] = fn(list(moved[idx]))
    return np.moveaxis(out, -1, axis)


def _dft_lane(sp: Any, n: int, inverse: bool, norm: str) -> Callable[[list[Any]], list[Any]]:
    sign, c = (1 if inverse else -1), _scale(sp, n, inverse, norm)

    def lane(v: list[Any]) -> list[Any]:
        v = (v + [0] * n)[:n]
        return [c * sp.Add(*(v[j] * _root(sp, j * k, n, sign) for j in range(n)))
                for k in range(n)]

    return lane


def _c2c_sympy(sp: Any, x: Any, axes: tuple[int, ...], s: tuple[int, ...], inverse: bool,
               norm: str) -> Any:
    for a, n in reversed(list(zip(axes, s))):  # NumPy's order: the last axis first
        x = _lanes(x, a, n, _dft_lane(sp, n, inverse, norm))
    return x


def _r2c_sympy(sp: Any, x: Any, axis: int, n: int, norm: str) -> Any:
    full = _dft_lane(sp, n, False, norm)
    return _lanes(x, axis, n // 2 + 1, lambda v: full(v)[:n // 2 + 1])


def _c2r_sympy(sp: Any, x: Any, axis: int, n: int, norm: str) -> Any:
    m, c = n // 2 + 1, _scale(sp, n, True, norm)

    d = [1 if j == 0 or 2 * j == n else 2 for j in range(m)]

    def lane(v: list[Any]) -> list[Any]:
        v = (v + [0] * m)[:m]
        return [c * sp.Add(*(d[j] * sp.re(v[j] * _root(sp, j * k, n, 1)) for j in range(m)))
                for k in range(n)]

    return _lanes(x, axis, n, lane)


# ----- the records ---------------------------------------------------------------------------------


def _c2c_impl(xp: Any, x: Any, axes: tuple[int, ...], s: tuple[int, ...], inverse: bool,
              norm: str) -> Any:
    if len(axes) == 1:
        return (xp.fft.ifft if inverse else xp.fft.fft)(x, s[0], axes[0], norm)
    return (xp.fft.ifftn if inverse else xp.fft.fftn)(x, s, axes, norm)


def _prepare_c2c(x: Any, axes: Any, s: Any, inverse: bool = False, norm: Any = None) -> Any:
    x = _as_array(x)
    nd = len(shape_of(x))
    axes = tuple(_axis(a, nd) for a in axes)
    s = tuple(_points(n) for n in s)
    if len(set(axes)) != len(axes) or len(s) != len(axes) or not axes:
        raise ShapeError(f"fft_c2c: needs distinct axes and one size each, got axes {axes} and "
                         f"sizes {s} (np.fft.fftn takes repeated axes)")
    return (x,), {"axes": axes, "s": s, "inverse": builtins.bool(inverse), "norm": _norm(norm)}


def _c2c_vjp(ct: Any, xs: Any, out: Any, axes: tuple[int, ...], s: tuple[int, ...],
             inverse: bool, norm: str, lead: int = 0) -> tuple[Any]:
    g = fft_c2c(ct, tuple(a + lead for a in axes), s, inverse, norm)  # Fᵀ = F
    return (_resized(g, {a: shape_of(xs[0])[a] for a in axes}, lead),)


fft_c2c = structural(
    "fft_c2c", _c2c_impl, linear=True, prepare=_prepare_c2c, sympy=_c2c_sympy, cost=_cost,
    batch=lambda ts, k, xs, out, axes, s, inverse, norm: fft_c2c(
        ts[0], tuple(a + 1 for a in axes), s, inverse, norm),
    vjp=_c2c_vjp,
    vjp_rows=lambda cts, k, xs, out, axes, s, inverse, norm: _c2c_vjp(
        cts, xs, out, axes, s, inverse, norm, lead=1),
    symbol="fft", latex=r"\mathcal{F}", holomorphic=True,
    doc="The complex DFT over distinct `axes`, each cut or zero-padded to its size in `s` first: "
        "y = c·F·P x with F_jk = exp(∓2πi·jk/n) (+ for `inverse`) and c NumPy's `norm` scale; "
        "its transpose is the same transform, then the pad or cut undone.")


def _prepare_r2c(x: Any, axis: Any, n: Any, norm: Any = None) -> Any:
    x = _as_array(x)
    if _dtype(x).kind == "c":
        raise TypeError(f"rfft, rfftn and ihfft take real data, got {_dtype(x)} (NumPy "
                        "raises TypeError too): use np.fft.fft or fftn for complex input")
    return _prepare_c2r(x, axis, n, norm)


def _r2c_vjp(ct: Any, xs: Any, out: Any, axis: int, n: int, norm: str, lead: int = 0
             ) -> tuple[Any]:
    g = fft_c2c(ct, (axis + lead,), (n,), False, norm)  # ȳ zero-padded to n, then Fᵀ = F
    return (_resized(g, {axis: shape_of(xs[0])[axis]}, lead),)


fft_r2c = structural(
    "fft_r2c", lambda xp, x, axis, n, norm: xp.fft.rfft(x, n, axis, norm), linear=True,
    prepare=_prepare_r2c, sympy=_r2c_sympy, cost=_cost,
    batch=lambda ts, k, xs, out, axis, n, norm: fft_r2c(ts[0], axis + 1, n, norm),
    vjp=_r2c_vjp,
    vjp_rows=lambda cts, k, xs, out, axis, n, norm: _r2c_vjp(cts, xs, out, axis, n, norm, 1),
    symbol="rfft", latex=r"\mathcal{F}_r",
    doc="NumPy's rfft along `axis`: the first n//2 + 1 entries of the DFT of real x cut or "
        "zero-padded to n; the transpose zero-pads ȳ to n, transforms it, undoes the pad or cut.")


def _prepare_c2r(x: Any, axis: Any, n: Any, norm: Any = None) -> Any:
    """The arguments of a one-axis transform (rfft's and irfft's), checked by NumPy's rules."""
    x = _as_array(x)
    return (x,), {"axis": _axis(axis, len(shape_of(x))), "n": _points(n), "norm": _norm(norm)}


def _hermitian_weights(ct: Any, axis: int, n: int) -> Any:
    """d_0 = 1, d_j = 2, d_{n/2} = 1 (n even), shaped to broadcast along `axis` of `ct`, in
    ct's real precision."""
    m = n // 2 + 1
    w = np.full(m, 2.0)
    w[0] = 1.0
    if n % 2 == 0:
        w[-1] = 1.0
    w = w.reshape((m,) + (1,) * (len(shape_of(ct)) - axis - 1))
    return _xp(ct).asarray(w, dtype=np.finfo(_dtype(ct)).dtype)


def _c2r_vjp(ct: Any, xs: Any, out: Any, axis: int, n: int, norm: str, lead: int = 0
             ) -> tuple[Any]:
    """X̄ = d·conj(c·rfft(Re ȳ)) for complex X (Im ȳ of a real output is no cotangent); for real
    X the map is the real matrix Re A, so X̄ = d·Re(c·rfft(ȳ)), linear in a complex ȳ too (the
    adjoint of a complex output's Jacobian row, as for x·c)."""
    def back(v: Any) -> Any:  # c·rfft of a real cotangent: c is irfft's scale
        return fft_r2c(v, axis + lead, n, _SWAP[norm])

    w = _hermitian_weights(ct, axis + lead, n)
    if _dtype(xs[0]).kind == "c":
        g = conj(back(real(ct) if _dtype(ct).kind == "c" else ct)) * w
    elif _dtype(ct).kind == "c":
        g = (real(back(real(ct))) + 1j * real(back(imag(ct)))) * w
    else:
        g = real(back(ct)) * w
    return (_resized(g, {axis: shape_of(xs[0])[axis]}, lead),)


fft_c2r = structural(
    "fft_c2r", lambda xp, x, axis, n, norm: xp.fft.irfft(x, n, axis, norm), linear=True,
    prepare=_prepare_c2r, sympy=_c2r_sympy, cost=_cost,
    batch=lambda ts, k, xs, out, axis, n, norm: fft_c2r(ts[0], axis + 1, n, norm),
    vjp=_c2r_vjp,
    vjp_rows=lambda cts, k, xs, out, axis, n, norm: _c2r_vjp(cts, xs, out, axis, n, norm, 1),
    symbol="irfft", latex=r"\mathcal{F}_r^{-1}",
    doc="NumPy's irfft along `axis`: y_k = c·Σ_j d_j·Re(X_j·exp(2πi·jk/n)) over the first "
        "n//2 + 1 entries (d = 1, 2, …, 2, [1]); real-linear, not holomorphic: "
        "X̄ = d·conj(c·rfft(ȳ)) (d·Re(c·rfft(ȳ)) for real X).")


# ----- NumPy's spellings ---------------------------------------------------------------------------


def _one_axis(name: str, a: Any, n: Any, axis: Any, out: Any, default: Callable[[int], int]
              ) -> tuple[Any, int, int]:
    _refuse_out(name, out)
    a = _as_array(a)
    if not shape_of(a):  # NumPy: an IndexError
        raise IndexOutOfRangeError(f"numpy.fft.{name} needs an array with at least one axis, "
                                   "got a 0-d value")
    ax = _axis(axis, len(shape_of(a)))
    return a, ax, _points(default(shape_of(a)[ax]) if n is None else n)


@composite(numpy=("fft.fft",))
def fft(a: Any, n: Any = None, axis: int = -1, norm: Any = None, out: Any = None) -> Any:
    """NumPy's 1-D DFT y_k = Σ_j x_j·exp(−2πi·jk/n), x cut or zero-padded to n first."""
    a, ax, n = _one_axis("fft", a, n, axis, out, lambda m: m)
    return fft_c2c(a, (ax,), (n,), False, norm)


@composite(numpy=("fft.ifft",))
def ifft(a: Any, n: Any = None, axis: int = -1, norm: Any = None, out: Any = None) -> Any:
    """NumPy's 1-D inverse DFT y_k = (1/n)·Σ_j x_j·exp(2πi·jk/n) (scale by `norm`)."""
    a, ax, n = _one_axis("ifft", a, n, axis, out, lambda m: m)
    return fft_c2c(a, (ax,), (n,), True, norm)


@composite(numpy=("fft.rfft",))
def rfft(a: Any, n: Any = None, axis: int = -1, norm: Any = None, out: Any = None) -> Any:
    """NumPy's DFT of real input: the n//2 + 1 non-negative frequencies."""
    a, ax, n = _one_axis("rfft", a, n, axis, out, lambda m: m)
    return fft_r2c(a, ax, n, norm)


@composite(numpy=("fft.irfft",))
def irfft(a: Any, n: Any = None, axis: int = -1, norm: Any = None, out: Any = None) -> Any:
    """NumPy's inverse of rfft: n real values (default n = 2·(m − 1)) from m frequencies."""
    a, ax, n = _one_axis("irfft", a, n, axis, out, lambda m: 2 * (m - 1))
    return fft_c2r(a, ax, n, norm)


@composite(numpy=("fft.hfft",))
def hfft(a: Any, n: Any = None, axis: int = -1, norm: Any = None, out: Any = None) -> Any:
    """NumPy's DFT of a Hermitian-symmetric signal: irfft(conj(a)) with the norm swapped."""
    a, ax, n = _one_axis("hfft", a, n, axis, out, lambda m: 2 * (m - 1))
    return fft_c2r(conj(a), ax, n, _SWAP[_norm(norm)])


@composite(numpy=("fft.ihfft",))
def ihfft(a: Any, n: Any = None, axis: int = -1, norm: Any = None, out: Any = None) -> Any:
    """NumPy's inverse of hfft: conj(rfft(a)) with the norm swapped."""
    a, ax, n = _one_axis("ihfft", a, n, axis, out, lambda m: m)
    return conj(fft_r2c(a, ax, n, _SWAP[_norm(norm)]))


def _deprecated(message: str) -> None:
    """NumPy's DeprecationWarning, attributed to the caller's line (outside diffkit and NumPy)."""
    frame, level = sys._getframe(1), 2
    while frame is not None and frame.f_globals.get("__name__", "").split(".")[0] in (
            "diffkit", "numpy"):
        frame, level = frame.f_back, level + 1
    warnings.warn(message, DeprecationWarning, stacklevel=level)


def _cooked(name: str, a: Any, s: Any, axes: Any, out: Any, inverse_real: bool = False
            ) -> tuple[Any, list[int], list[int | None]]:
    """NumPy's _cook_nd_args: the axes (non-negative, in the order given) and one size each
    (None: the 1-D default), with NumPy's deprecation warnings."""
    _refuse_out(name, out)
    a = _as_array(a)
    shape = shape_of(a)
    given = s is not None
    if axes is None:
        if given:
            _deprecated("`axes` should not be `None` if `s` is not `None` (Deprecated in NumPy "
                        "2.0): pass the axes too")
        axes = list(range(-len(s), 0)) if given else list(range(len(shape)))
    axes = [_axis(ax, len(shape)) for ax in axes]
    s = list(s) if given else [shape[ax] for ax in axes]
    if len(s) != len(axes):
        raise ShapeError(f"numpy.fft.{name}: Shape and axes have different lengths.")
    if inverse_real and not given and axes:
        s[-1] = (shape[axes[-1]] - 1) * 2
    if None in s:
        _deprecated("Passing an array containing `None` values to `s` is deprecated in NumPy "
                    "2.0: pass each size (or -1 for the whole axis)")
    s = [shape[ax] if n == -1 else n for n, ax in zip(s, axes)]
    return a, axes, s


def _transforms(a: Any, steps: list[tuple[int, Any]], inverse: bool, norm: Any) -> Any:
    """The 1-D transforms (axis, n) in the order given: one record when the axes are distinct
    (fftn transforms its axes last first, so they are given reversed), else one each."""
    if not steps:
        return a
    if len({ax for ax, _ in steps}) == len(steps):
        steps = [(ax, shape_of(a)[ax] if n is None else n) for ax, n in reversed(steps)]
        return fft_c2c(a, [ax for ax, _ in steps], [n for _, n in steps], inverse, norm)
    for ax, n in steps:
        a = fft_c2c(a, (ax,), (shape_of(a)[ax] if n is None else n,), inverse, norm)
    return a


def _nd(name: str, a: Any, s: Any, axes: Any, norm: Any, out: Any, inverse: bool) -> Any:
    a, axes, s = _cooked(name, a, s, axes, out)
    return _transforms(a, list(zip(axes, s))[::-1], inverse, norm)


@composite(numpy=("fft.fftn",))
def fftn(a: Any, s: Any = None, axes: Any = None, norm: Any = None, out: Any = None) -> Any:
    """NumPy's n-D DFT: the 1-D transform along each of `axes` (last first), sizes `s`."""
    return _nd("fftn", a, s, axes, norm, out, False)


@composite(numpy=("fft.ifftn",))
def ifftn(a: Any, s: Any = None, axes: Any = None, norm: Any = None, out: Any = None) -> Any:
    """NumPy's n-D inverse DFT along `axes` (last first), sizes `s`."""
    return _nd("ifftn", a, s, axes, norm, out, True)


@composite(numpy=("fft.fft2",))
def fft2(a: Any, s: Any = None, axes: Any = (-2, -1), norm: Any = None, out: Any = None) -> Any:
    """NumPy's 2-D DFT: fftn over the last two axes."""
    return _nd("fft2", a, s, axes, norm, out, False)


@composite(numpy=("fft.ifft2",))
def ifft2(a: Any, s: Any = None, axes: Any = (-2, -1), norm: Any = None, out: Any = None) -> Any:
    """NumPy's 2-D inverse DFT: ifftn over the last two axes."""
    return _nd("ifft2", a, s, axes, norm, out, True)


@composite(numpy=("fft.rfftn",))
def rfftn(a: Any, s: Any = None, axes: Any = None, norm: Any = None, out: Any = None) -> Any:
    """NumPy's n-D DFT of real input: rfft along the last of `axes`, then fft along the rest."""
    a, axes, s = _cooked("rfftn", a, s, axes, out)
    if not axes:
        raise IndexOutOfRangeError("numpy.fft.rfftn needs at least one axis (NumPy: an "
                                   "IndexError)")
    ax = axes[-1]
    a = fft_r2c(a, ax, _points(shape_of(a)[ax] if s[-1] is None else s[-1]), norm)
    return _transforms(a, list(zip(axes[:-1], s[:-1]))[::-1], False, norm)


@composite(numpy=("fft.irfftn",))
def irfftn(a: Any, s: Any = None, axes: Any = None, norm: Any = None, out: Any = None) -> Any:
    """NumPy's inverse of rfftn: ifft along all but the last of `axes` (in order), then irfft."""
    a, axes, s = _cooked("irfftn", a, s, axes, out, inverse_real=True)
    if not axes:
        raise IndexOutOfRangeError("numpy.fft.irfftn needs at least one axis (NumPy: an "
                                   "IndexError)")
    a = _transforms(a, list(zip(axes[:-1], s[:-1])), True, norm)
    ax = axes[-1]
    return fft_c2r(a, ax, _points(2 * (shape_of(a)[ax] - 1) if s[-1] is None else s[-1]), norm)


@composite(numpy=("fft.rfft2",))
def rfft2(a: Any, s: Any = None, axes: Any = (-2, -1), norm: Any = None, out: Any = None) -> Any:
    """NumPy's 2-D DFT of real input: rfftn over the last two axes."""
    return rfftn(a, s, axes, norm, out)


@composite(numpy=("fft.irfft2",))
def irfft2(a: Any, s: Any = None, axes: Any = (-2, -1), norm: Any = None, out: Any = None) -> Any:
    """NumPy's inverse of rfft2: irfftn over the last two axes."""
    return irfftn(a, s, axes, norm, out)


# ----- shifts and frequencies ----------------------------------------------------------------------


def _shifted(x: Any, axes: Any, sign: int) -> Any:
    x = _as_array(x)
    shape = shape_of(x)
    if axes is None:
        axes = tuple(range(len(shape)))
    elif isinstance(axes, int | np.integer):
        axes = (axes,)
    axes = tuple(axes)
    if not axes:
        return x
    return roll(x, [sign * (shape[_axis(ax, len(shape))] // 2) for ax in axes], axes)


@composite(numpy=("fft.fftshift",))
def fftshift(x: Any, axes: Any = None) -> Any:
    """NumPy's fftshift: a roll by n//2 along `axes` (all by default), frequency 0 centred."""
    return _shifted(x, axes, 1)


@composite(numpy=("fft.ifftshift",))
def ifftshift(x: Any, axes: Any = None) -> Any:
    """NumPy's ifftshift: a roll by −(n//2) along `axes`, fftshift undone."""
    return _shifted(x, axes, -1)


def _spacing(n: Any, d: Any) -> Any:
    if not isinstance(n, int | np.integer):
        raise ShapeError(f"n should be an integer, got {n!r}")
    return 1.0 / (n * d)  # NumPy's val (d may be a traced value: 1/d is differentiated)


@composite(numpy=("fft.fftfreq",))
def fftfreq(n: Any, d: Any = 1.0, device: Any = None) -> Any:
    """NumPy's sample frequencies [0, 1, …, −1]/(n·d): integers times 1/(n·d)."""
    val = _spacing(n, d)
    half = (n - 1) // 2 + 1
    results = np.concatenate([np.arange(0, half, dtype=int), np.arange(-(n // 2), 0, dtype=int)])
    return results * val


@composite(numpy=("fft.rfftfreq",))
def rfftfreq(n: Any, d: Any = 1.0, device: Any = None) -> Any:
    """NumPy's non-negative sample frequencies [0, 1, …, n//2]/(n·d)."""
    val = _spacing(n, d)
    return np.arange(0, n // 2 + 1, dtype=int) * val


# ----- piecewise ---------------------------------------------------------------------------------


def _plain_conditions(condlist: Any) -> Any:
    """Conditions as constants: a traced one is read from its value (the trace is marked), a
    0-d one as the NumPy scalar a comparison of plain values gives."""
    def read(c: Any) -> Any:
        if not isinstance(c, Traced):
            return c
        v = read_plain(c)
        return v[()] if v.ndim == 0 else v

    return [read(c) for c in condlist] if isinstance(condlist, list | tuple) else read(condlist)


def _assign(y: Any, cond: np.ndarray, value: Any) -> Any:
    """NumPy's ``y[cond] = value`` (cast to y's dtype) as a new value: one number placed with
    where, or one value per selected element; NumPy's errors for any other shape."""
    if cond.ndim and cond.shape != shape_of(y):  # NumPy's IndexError of y[cond]
        raise IndexOutOfRangeError(f"piecewise: a condition of shape {cond.shape} does not "
                                   f"match x of shape {shape_of(y)}")
    value = _as_array(value)
    if _dtype(value) != _dtype(y):  # (the table's astype, declared after this family)
        value = PUBLIC["astype"](value, _dtype(y))
    if not cond.ndim and shape_of(y):  # a 0-d condition selects all of x, on a new axis
        return reshape(broadcast_to(value, (1, *shape_of(y))), shape_of(y)) if cond else y
    shape, count = shape_of(value), int(np.count_nonzero(cond))
    if len(shape) > 1:  # NumPy's TypeError
        raise TypeError(f"piecewise: NumPy boolean array indexing assignment requires a 0 or "
                        f"1-dimensional input, a function returned shape {shape}")
    mask = _xp(y).asarray(cond)  # where's condition in y's array module
    if math.prod(shape) == 1:
        return where(mask, reshape(value, ()), y)
    if shape != (count,):
        raise ShapeError(f"piecewise: cannot assign {shape[0]} input values to the {count} "
                         "output values where the mask is true")
    return where(mask, index_add(value, (cond,), shape_of(y)), y)


@composite(numpy=("piecewise",))
def piecewise(x: Any, condlist: Any, funclist: Any, *args: Any, **kw: Any) -> Any:
    """NumPy's piecewise: each function on the elements its condition selects, 0 elsewhere.

    funclist[i](x[condlist[i]], *args, **kw) where condlist[i] holds (a later condition wins),
    a scalar entry as a constant, one extra function for "otherwise", in x's dtype. Conditions
    are constants (a traced one is read from its value: the trace holds at this point only)."""
    x = _as_array(x)
    shape = shape_of(x)
    funclist = list(funclist)
    condlist = _plain_conditions(condlist)
    if np.isscalar(condlist) or (not isinstance(condlist[0], list | np.ndarray) and shape):
        condlist = [condlist]
    conds = np.asarray(condlist, dtype=bool)
    if len(conds) == len(funclist) - 1:
        conds = np.concatenate([conds, ~np.any(conds, axis=0, keepdims=True)], axis=0)
    elif len(conds) != len(funclist):
        raise ShapeError(f"piecewise: with {len(conds)} condition(s), either {len(conds)} or "
                         f"{len(conds) + 1} functions are expected")
    y: Any = _xp(x).zeros(shape, dtype=_dtype(x))
    for cond, func in zip(conds, funclist):
        if not callable(func):
            y = _assign(y, cond, func)
        elif np.any(cond):
            y = _assign(y, cond, func(getitem(x, (cond,)), *args, **kw))
    return y


__all__ = declared_in(__name__)
