"""numpy.fft and np.piecewise in NumPy's spelling on traced values, against mpmath.

* ``SPECS`` go through :func:`numpy_check.check`: values equal NumPy's and an O(n²) DFT written
  in mpmath from the definition (Σ_j x_j·exp(∓2πi·jk/n), the Hermitian extension for the real
  transforms), Jacobians by reverse, forward, symbolic (or its refusal by name) and fd against
  80-digit central differences of that reference, Hessians of scalar losses, float32. Complex
  inputs enter as a + i·b of two real arrays, so their derivatives are checked too.
* Complex Jacobians against the DFT matrix written in mpmath; gradients of real losses of
  complex inputs against mpmath differentiation (JAX's ∂L/∂x − i·∂L/∂y); every record's VJP
  against its JVP (⟨ȳ, J·ẋ⟩ = Re⟨J̄ᵀȳ, ẋ⟩) over many sizes, crops, pads, axes and norms.
* NumPy's values and dtypes bit for bit (plain and traced), dk.jit against eager calls, the
  value-dependent traces of piecewise, and every refusal by name.
"""

from __future__ import annotations

import warnings
from typing import Any

import mpmath
import numpy as np
import pytest
from numpy_check import Spec, check, grid, reference_hessian

import diffkit as dk
from diffkit.primitive import COMPOSITES, REGISTRY

#: every composite and record this family declares (read by tests/test_core_primitives.py)
COVERS = ("fft", "ifft", "rfft", "irfft", "hfft", "ihfft", "fftn", "ifftn", "fft2", "ifft2",
          "rfftn", "irfftn", "rfft2", "irfft2", "fftshift", "ifftshift", "fftfreq", "rfftfreq",
          "piecewise", "fft_c2c", "fft_r2c", "fft_c2r")

MP = mpmath.mp
NORMS = (None, "ortho", "forward")

# ----- mpmath references: the definitions, written independently ---------------------------------


def mp_scale(n: int, inverse: bool, norm: Any) -> Any:
    """NumPy's documented scale: 1/n on the inverse ('backward'), on the forward ('forward'),
    1/√n on both ('ortho')."""
    if norm == "ortho":
        return 1 / MP.sqrt(n)
    return MP.mpf(1) / n if (norm == "forward") != inverse else MP.mpf(1)


def mp_dft(v: list[Any], n: int, inverse: bool = False, norm: Any = None) -> list[Any]:
    """c·Σ_j v_j·exp(∓2πi·jk/n) for k < n, v cut or zero-padded to n (− forward)."""
    v = (list(v) + [0] * n)[:n]
    sign = 1 if inverse else -1
    c = mp_scale(n, inverse, norm)
    return [c * MP.fsum(v[j] * MP.expjpi(MP.mpf(2 * sign * j * k) / n) for j in range(n))
            for k in range(n)]


def mp_hermitian(v: list[Any], n: int) -> list[Any]:
    """The length-n spectrum whose first n//2 + 1 entries are v (cut or padded), Y_{n−j} = Ȳ_j."""
    m = n // 2 + 1
    v = (list(v) + [0] * m)[:m]
    return [v[j] if j < m else MP.conj(v[n - j]) for j in range(n)]


def mp_lanes(x: Any, axis: int, fn: Any) -> np.ndarray:
    """fn(lane) -> list along `axis` of an object array (the lane's length may change)."""
    moved = np.moveaxis(np.asarray(x, dtype=object), axis, -1)
    rows = {idx: fn(list(moved[idx])) for idx in np.ndindex(*moved.shape[:-1])}
    size = len(next(iter(rows.values())))
    out = np.empty(moved.shape[:-1] + (size,), dtype=object)
    for idx, row in rows.items():
        out[idx] = row
    return np.moveaxis(out, -1, axis)


def mp_fft(x: Any, n: Any = None, axis: int = -1, norm: Any = None, inverse: bool = False) -> Any:
    n = np.shape(x)[axis] if n is None else n
    return mp_lanes(x, axis, lambda v: mp_dft(v, n, inverse, norm))


def mp_rfft(x: Any, n: Any = None, axis: int = -1, norm: Any = None) -> Any:
    n = np.shape(x)[axis] if n is None else n
    return mp_lanes(x, axis, lambda v: mp_dft(v, n, False, norm)[:n // 2 + 1])


def mp_irfft(x: Any, n: Any = None, axis: int = -1, norm: Any = None) -> Any:
    """Re of the inverse DFT of the Hermitian extension (Im X_0, Im X_{n/2} drop out)."""
    n = 2 * (np.shape(x)[axis] - 1) if n is None else n
    return mp_lanes(x, axis, lambda v: [MP.re(t) for t in mp_dft(mp_hermitian(v, n), n, True,
                                                                   norm)])


def mp_hfft(x: Any, n: Any = None, axis: int = -1, norm: Any = None) -> Any:
    """The (real) forward DFT of the Hermitian extension."""
    n = 2 * (np.shape(x)[axis] - 1) if n is None else n
    return mp_lanes(x, axis, lambda v: [MP.re(t) for t in mp_dft(mp_hermitian(v, n), n, False,
                                                                   norm)])


def mp_ihfft(x: Any, n: Any = None, axis: int = -1, norm: Any = None) -> Any:
    """The first n//2 + 1 entries of the inverse DFT of real x."""
    n = np.shape(x)[axis] if n is None else n
    return mp_lanes(x, axis, lambda v: mp_dft(v, n, True, norm)[:n // 2 + 1])


def mp_fftn(x: Any, s: Any, axes: Any, norm: Any = None, inverse: bool = False) -> Any:
    for a, n in zip(axes, s, strict=True):  # the 1-D transforms commute: any order
        x = mp_fft(x, n, a, norm, inverse)
    return x


def mp_rfftn(x: Any, s: Any, axes: Any, norm: Any = None) -> Any:
    """The full n-D DFT, then the first s[-1]//2 + 1 entries along the last axis."""
    y = mp_fftn(x, s, axes, norm)
    return np.take(y, range(s[-1] // 2 + 1), axis=axes[-1])


def mp_irfftn(x: Any, s: Any, axes: Any, norm: Any = None) -> Any:
    x = mp_fftn(x, s[:-1], axes[:-1], norm, inverse=True)
    return mp_irfft(x, s[-1], axes[-1], norm)


def mp_complex(a: Any, b: Any) -> Any:
    return a + MP.mpc(0, 1) * b


def mp_parts(y: Any) -> np.ndarray:
    """[Re y, Im y] stacked (the real output the checker compares)."""
    y = np.asarray(y, dtype=object)
    re = np.vectorize(MP.re, otypes=[object])(y)
    im = np.vectorize(MP.im, otypes=[object])(y)
    return np.stack([re, im])


def parts(y: Any) -> Any:
    return np.stack([np.real(y), np.imag(y)])


def mp_roll(x: Any, shifts: Any, axes: Any) -> Any:
    out = np.asarray(x, dtype=object)
    for k, a in zip(shifts, axes, strict=True):
        out = np.roll(out, k, axis=a)  # object arrays: moving references, no arithmetic
    return out


# ----- points -------------------------------------------------------------------------------------

X6 = grid(((6,), (-1.0, 1.0)), seed=1)[:1]
Z5 = grid(((5,), (-1.0, 1.0)), ((5,), (-1.0, 1.0)), seed=2)[:1]
Z4 = grid(((4,), (-1.0, 1.0)), ((4,), (-1.0, 1.0)), seed=3)[:1]
M34 = grid(((3, 4), (-1.0, 1.0)), seed=4)[:1]
ZM34 = grid(((3, 4), (-1.0, 1.0)), ((3, 4), (-1.0, 1.0)), seed=5)[:1]
T234 = grid(((2, 3, 4), (-1.0, 1.0)), seed=6)[:1]
ZT233 = grid(((2, 3, 3), (-1.0, 1.0)), ((2, 3, 3), (-1.0, 1.0)), seed=7)[:1]
W5 = np.array([0.7, -1.1, 0.4, 1.6, -0.3])
W8 = np.linspace(-1.0, 1.2, 8)
PW = [(np.array([-1.3, -0.7, -0.2, 0.3, 0.8, 1.4]),)]
PW_W = [(np.array([-1.3, -0.7, 0.3, 0.8, 1.4]), 0.6)]
PW_2D = [(np.array([[-1.3, 0.4, 0.9], [0.2, -0.8, 1.7]]),)]


def _c(fn: Any) -> Any:
    """fn on z = a + i·b (NumPy spelling and mpmath alike)."""
    return lambda a, b: fn(a + 1j * b)


def _mc(fn: Any) -> Any:
    return lambda a, b: fn(mp_complex(a, b))


def _one_d_specs() -> list[Spec]:
    specs = []
    for name, mp in (("fft", lambda z, n, norm: mp_fft(z, n, -1, norm)),
                     ("ifft", lambda z, n, norm: mp_fft(z, n, -1, norm, True))):
        for n in (None, 3, 8):
            for norm in NORMS:
                specs.append(Spec(
                    f"np.fft.{name} n={n} norm={norm}",
                    _c(lambda z, name=name, n=n, norm=norm: parts(
                        getattr(np.fft, name)(z, n, norm=norm))),
                    Z5, ref=_mc(lambda z, mp=mp, n=n, norm=norm: mp_parts(mp(z, n, norm))),
                    symbolic="refuse"))
    specs.append(Spec("np.fft.fft real input", lambda x: parts(np.fft.fft(x, 4)), X6,
                      ref=lambda x: mp_parts(mp_fft(x, 4)), symbolic="refuse"))
    for n in (None, 4, 7, 9):
        for norm in NORMS:
            specs.append(Spec(f"np.fft.rfft n={n} norm={norm}",
                              lambda x, n=n, norm=norm: parts(np.fft.rfft(x, n, norm=norm)), X6,
                              ref=lambda x, n=n, norm=norm: mp_parts(mp_rfft(x, n, -1, norm)),
                              symbolic="refuse"))
    for n in (None, 4, 5, 9):
        for norm in NORMS:
            specs.append(Spec(f"np.fft.irfft n={n} norm={norm}",
                              _c(lambda z, n=n, norm=norm: np.fft.irfft(z, n, norm=norm)), Z5,
                              ref=_mc(lambda z, n=n, norm=norm: mp_irfft(z, n, -1, norm)),
                              symbolic="refuse"))
    specs += [
        Spec("np.fft.irfft real input", lambda x: np.fft.irfft(x, 7), X6,
             ref=lambda x: mp_irfft(x, 7)),  # no complex value: the symbolic engine too
        Spec("np.fft.hfft", _c(lambda z: np.fft.hfft(z)), Z4, ref=_mc(mp_hfft), symbolic="refuse"),
        Spec("np.fft.hfft n=7 ortho", _c(lambda z: np.fft.hfft(z, 7, norm="ortho")), Z5,
             ref=_mc(lambda z: mp_hfft(z, 7, -1, "ortho")), symbolic="refuse"),
        Spec("np.fft.hfft n=3 forward", _c(lambda z: np.fft.hfft(z, 3, norm="forward")), Z5,
             ref=_mc(lambda z: mp_hfft(z, 3, -1, "forward")), symbolic="refuse"),
        Spec("np.fft.ihfft", lambda x: parts(np.fft.ihfft(x)), X6,
             ref=lambda x: mp_parts(mp_ihfft(x)), symbolic="refuse"),
        Spec("np.fft.ihfft n=5 forward", lambda x: parts(np.fft.ihfft(x, 5, norm="forward")), X6,
             ref=lambda x: mp_parts(mp_ihfft(x, 5, -1, "forward")), symbolic="refuse"),
        # along the first axis of a matrix
        Spec("np.fft.fft axis=0 n=5", _c(lambda z: parts(np.fft.fft(z, 5, axis=0))), ZM34,
             ref=_mc(lambda z: mp_parts(mp_fft(z, 5, 0))), symbolic="refuse"),
        Spec("np.fft.rfft axis=0 n=2", lambda x: parts(np.fft.rfft(x, 2, axis=0, norm="ortho")),
             M34, ref=lambda x: mp_parts(mp_rfft(x, 2, 0, "ortho")), symbolic="refuse"),
        Spec("np.fft.irfft axis=-2 n=3", _c(lambda z: np.fft.irfft(z, 3, axis=-2)), ZM34,
             ref=_mc(lambda z: mp_irfft(z, 3, 0)), symbolic="refuse"),
    ]
    return specs


def _n_d_specs() -> list[Spec]:
    return [
        Spec("np.fft.fftn", _c(lambda z: parts(np.fft.fftn(z))), ZT233,
             ref=_mc(lambda z: mp_parts(mp_fftn(z, (2, 3, 3), (0, 1, 2)))), symbolic="refuse"),
        Spec("np.fft.fftn s axes", _c(lambda z: parts(np.fft.fftn(z, (4, 2), (2, 0), "ortho"))),
             ZT233, ref=_mc(lambda z: mp_parts(mp_fftn(z, (4, 2), (2, 0), "ortho"))),
             symbolic="refuse"),
        Spec("np.fft.fftn repeated axis", _c(lambda z: parts(np.fft.fftn(z, (2, 4), (1, 1)))),
             ZM34, ref=_mc(lambda z: mp_parts(mp_fft(mp_fft(z, 4, 1), 2, 1))),
             symbolic="refuse"),
        Spec("np.fft.ifftn", _c(lambda z: parts(np.fft.ifftn(z, axes=(1,), norm="forward"))),
             ZT233, ref=_mc(lambda z: mp_parts(mp_fftn(z, (3,), (1,), "forward", True))),
             symbolic="refuse"),
        Spec("np.fft.ifftn s", _c(lambda z: parts(np.fft.ifftn(z, (1, 2, 5), (0, 1, 2)))),
             ZT233, ref=_mc(lambda z: mp_parts(mp_fftn(z, (1, 2, 5), (0, 1, 2), None, True))),
             symbolic="refuse"),
        Spec("np.fft.fft2", _c(lambda z: parts(np.fft.fft2(z, (2, 5)))), ZM34,
             ref=_mc(lambda z: mp_parts(mp_fftn(z, (2, 5), (0, 1)))), symbolic="refuse"),
        Spec("np.fft.ifft2", _c(lambda z: parts(np.fft.ifft2(z, norm="ortho"))), ZM34,
             ref=_mc(lambda z: mp_parts(mp_fftn(z, (3, 4), (0, 1), "ortho", True))),
             symbolic="refuse"),
        Spec("np.fft.rfftn", lambda x: parts(np.fft.rfftn(x)), T234,
             ref=lambda x: mp_parts(mp_rfftn(x, (2, 3, 4), (0, 1, 2))), symbolic="refuse"),
        Spec("np.fft.rfftn s axes", lambda x: parts(np.fft.rfftn(x, (3, 5), (0, 2), "forward")),
             T234, ref=lambda x: mp_parts(mp_rfftn(x, (3, 5), (0, 2), "forward")),
             symbolic="refuse"),
        Spec("np.fft.irfftn", _c(lambda z: np.fft.irfftn(z)), ZT233,
             ref=_mc(lambda z: mp_irfftn(z, (2, 3, 4), (0, 1, 2))), symbolic="refuse"),
        Spec("np.fft.irfftn s axes", _c(lambda z: np.fft.irfftn(z, (4, 5), (0, 2), "ortho")),
             ZT233, ref=_mc(lambda z: mp_irfftn(z, (4, 5), (0, 2), "ortho")),
             symbolic="refuse"),
        Spec("np.fft.rfft2", lambda x: parts(np.fft.rfft2(x, (3, 3))), M34,
             ref=lambda x: mp_parts(mp_rfftn(x, (3, 3), (0, 1))), symbolic="refuse"),
        Spec("np.fft.irfft2", _c(lambda z: np.fft.irfft2(z, (2, 5), norm="forward")), ZM34,
             ref=_mc(lambda z: mp_irfftn(z, (2, 5), (0, 1), "forward")), symbolic="refuse"),
    ]


def _other_specs() -> list[Spec]:
    def mp_piece(fns: Any, conds: Any) -> Any:
        def ref(x: Any, *rest: Any) -> Any:
            out = np.empty(np.shape(x), dtype=object)
            for idx in np.ndindex(*np.shape(x)):
                t, value = x[idx], MP.mpf(0)
                for cond, fn in zip(conds, fns, strict=True):
                    if cond(t):
                        value = fn(t, *rest)
                out[idx] = value
            return out

        return ref

    return [
        Spec("np.fft.fftshift", lambda x: np.fft.fftshift(x), M34,
             ref=lambda x: mp_roll(x, (1, 2), (0, 1))),
        Spec("np.fft.fftshift axes=1", lambda x: np.fft.fftshift(x, axes=1), M34,
             ref=lambda x: mp_roll(x, (2,), (1,))),
        Spec("np.fft.ifftshift", lambda x: np.fft.ifftshift(x, axes=(0,)), M34,
             ref=lambda x: mp_roll(x, (-1,), (0,))),
        Spec("np.fft.ifftshift odd", lambda x: np.fft.ifftshift(np.fft.fft(x, 5).real), X6,
             ref=lambda x: mp_roll([MP.re(t) for t in mp_dft(list(x), 5)], (-2,), (0,)),
             symbolic="refuse"),
        # frequencies: constants times 1/(n·d), d differentiated
        Spec("np.fft.fftfreq", lambda d: np.fft.fftfreq(5, d), [(0.3,)],
             ref=lambda d: np.array([k / (5 * d) for k in (0, 1, 2, -2, -1)], dtype=object),
             float32=False),
        Spec("np.fft.fftfreq even", lambda d: np.fft.fftfreq(6, d), [(1.7,)],
             ref=lambda d: np.array([k / (6 * d) for k in (0, 1, 2, -3, -2, -1)], dtype=object),
             float32=False),
        Spec("np.fft.rfftfreq", lambda d: np.fft.rfftfreq(7, d), [(0.45,)],
             ref=lambda d: np.array([k / (7 * d) for k in range(4)], dtype=object),
             float32=False),
        # piecewise: traced conditions, "otherwise", scalars, extra arguments, closures
        Spec("np.piecewise", lambda x: np.piecewise(
            x, [x < 0, x >= 0], [lambda t: -t ** 3, lambda t: np.sin(t)]), PW,
             ref=mp_piece([lambda t: -t ** 3, MP.sin], [lambda t: t < 0, lambda t: t >= 0])),
        Spec("np.piecewise otherwise and scalar", lambda x: np.piecewise(
            x, [x < -0.5, x > 0.5], [lambda t: t * t, 0.25, lambda t: np.exp(t)]), PW,
             ref=mp_piece([lambda t: t * t, lambda t: MP.mpf(0.25), MP.exp],
                          [lambda t: t < -0.5, lambda t: t > 0.5,
                           lambda t: not (t < -0.5 or t > 0.5)])),
        Spec("np.piecewise args kw overlapping", lambda x: np.piecewise(
            x, [x < 0.5, x > -0.5], [lambda t, a, k=1.0: a * t ** 2 + k * t,
                                     lambda t, a, k=1.0: a * np.cos(t) * k], 2.0, k=3.0), PW,
             ref=mp_piece([lambda t: 2 * t ** 2 + 3 * t, lambda t: 6 * MP.cos(t)],
                          [lambda t: t < 0.5, lambda t: t > -0.5])),
        Spec("np.piecewise closure and traced scalar", lambda x, w: np.piecewise(
            x, [x > 0, x < -1.0], [lambda t: w * t ** 2, w, lambda t: w ** 2 * t]), PW_W,
             ref=mp_piece([lambda t, w: w * t ** 2, lambda t, w: w, lambda t, w: w ** 2 * t],
                          [lambda t: t > 0, lambda t: t < -1.0,
                           lambda t: not (t > 0 or t < -1.0)])),
        Spec("np.piecewise 2-d", lambda x: np.piecewise(
            x, [x > 0.5], [lambda t: np.log(t), lambda t: t ** 3]), PW_2D,
             ref=mp_piece([MP.log, lambda t: t ** 3], [lambda t: t > 0.5,
                                                       lambda t: not t > 0.5])),
        Spec("np.piecewise 0-d", lambda x: np.piecewise(
            x, [x < 0, x >= 0], [lambda t: t ** 2, lambda t: np.sin(t)]), [(-0.4,), (0.9,)],
             ref=lambda x: x ** 2 if x < 0 else MP.sin(x), order=2),
    ]


#: scalar losses through complex values: their Hessians (test_hessians_through_complex_values)
LOSSES = [
    ("Σ sin(Re fft(z, 6)) + (Im ifft)³",
     _c(lambda z: np.sum(np.sin(np.fft.fft(z, 6, norm="ortho").real))
        + np.sum(np.fft.ifft(z, 4).imag ** 3)), Z5,
     _mc(lambda z: sum(MP.sin(MP.re(t)) for t in mp_fft(z, 6, -1, "ortho"))
         + sum(MP.im(t) ** 3 for t in mp_fft(z, 4, -1, None, True)))),
    ("Σ w·|rfft(x, 9)|²", lambda x: np.sum(W5 * np.abs(np.fft.rfft(x, 9)) ** 2), X6,
     lambda x: sum(w * abs(t) ** 2 for w, t in zip(W5, mp_rfft(x, 9)))),
    ("Σ w·cos(irfft(z, 8))", _c(lambda z: np.sum(W8 * np.cos(np.fft.irfft(z, 8)))), Z4,
     _mc(lambda z: sum(w * MP.cos(t) for w, t in zip(W8, mp_irfft(z, 8))))),
    ("Σ hfft(z)³", _c(lambda z: np.sum(np.fft.hfft(z, 5) ** 3)), Z4,
     _mc(lambda z: sum(t ** 3 for t in mp_hfft(z, 5)))),
    ("Σ |rfft2(x)|³", lambda x: np.sum(np.abs(np.fft.rfft2(x, (2, 5))) ** 3), M34,
     lambda x: MP.fsum(abs(t) ** 3 for t in mp_rfftn(x, (2, 5), (0, 1)).ravel())),
    ("Σ |ifftn(z)|⁴ ortho", _c(lambda z: np.sum(np.abs(np.fft.ifftn(z, norm="ortho")) ** 4)),
     ZM34, _mc(lambda z: MP.fsum(abs(t) ** 4 for t in mp_fftn(z, (3, 4), (0, 1), "ortho",
                                                              True).ravel()))),
]


def _second_order_specs() -> list[Spec]:
    specs = [Spec(name, fn, points, ref=ref, symbolic="refuse") for name, fn, points, ref in LOSSES]
    # real values only (irfft of real data): Hessians in every engine, the symbolic one too
    specs.append(Spec("Σ sin(irfft(x, 5))", lambda x: np.sum(np.sin(np.fft.irfft(
        x, 5, norm="ortho"))), X6, ref=lambda x: sum(MP.sin(t) for t in mp_irfft(
            x, 5, -1, "ortho")), order=2))
    specs.append(Spec("Σ hfft(x, 6)·fftshift(x)²", lambda x: np.sum(
        np.fft.hfft(x[:4], 6) * np.fft.fftshift(x) ** 2), X6, ref=lambda x: MP.fsum(
            h * t ** 2 for h, t in zip(mp_hfft(x[:4], 6), mp_roll(x, (3,), (0,)))), order=2))
    return specs


SPECS = [*_one_d_specs(), *_n_d_specs(), *_other_specs(), *_second_order_specs()]


@pytest.mark.parametrize("spec", SPECS, ids=[s.name for s in SPECS])
def test_numpy_spelling_every_engine(spec: Spec) -> None:
    check(spec)


def test_each_function_has_a_spec() -> None:
    """Every composite is checked by a spec named after its NumPy spelling; every record is
    linear (its JVP is itself) and says its transpose."""
    names = {s.name.split(" ")[0] for s in SPECS}
    for name in COVERS:
        if name in COMPOSITES:
            assert f"np.fft.{name}" in names or f"np.{name}" in names, name
            assert len(COMPOSITES[name].doc) > 40
        else:
            assert REGISTRY[name].linear and ("transpose" in REGISTRY[name].doc
                                              or "X̄" in REGISTRY[name].doc), name


@pytest.mark.parametrize(("name", "fn", "points", "ref"), LOSSES, ids=[c[0] for c in LOSSES])
def test_hessians_through_complex_values(name: str, fn: Any, points: Any, ref: Any) -> None:
    """Second derivatives of real losses through complex transforms: forward over forward and
    reverse over forward against second differences of the mpmath reference. Reverse over
    reverse gives the same or refuses by name: today diffkit refuses it for every real loss
    with complex intermediates, FFT or not (dk.hessian(lambda x: np.sum(np.sin(np.real(x * c))),
    method="reverse") with a complex constant c too), as the inner gradient of a real input
    stays complex until the API takes its real part."""
    point = points[0]
    wrt = list(range(len(point)))
    want = reference_hessian(ref, point, wrt)
    f = dk.function(fn, inputs=[f"x{i}" for i in wrt])
    scale = max(1.0, float(np.max(np.abs(want))))
    got = {"forward": dk.hessian(f, method="forward", wrt=wrt)(*point)}

    def gradient(*xs: Any) -> Any:
        return np.concatenate([np.reshape(g, -1) for g in dk.grad(f, method="forward",
                                                                     wrt=wrt)(*xs)])

    outer = dk.function(gradient, inputs=[f"x{i}" for i in wrt])
    got["reverse over forward"] = dk.jacobian(outer, method="reverse", wrt=wrt)(*point)
    try:
        got["reverse"] = dk.hessian(f, method="reverse", wrt=wrt)(*point)
    except dk.MissingRuleError as exc:
        assert "holomorphic" in str(exc) and "dk.vjp" in str(exc)
    for how, h in got.items():
        np.testing.assert_allclose(np.reshape(h, want.shape), want, rtol=1e-7,
                                   atol=1e-8 * scale, err_msg=f"{name}: {how}")


# ----- complex derivatives against the DFT matrix and mpmath differentiation -------------------

RNG = np.random.default_rng(42)
Z = RNG.normal(size=5) + 1j * RNG.normal(size=5)
ZZ = RNG.normal(size=(3, 3)) + 1j * RNG.normal(size=(3, 3))
XR = RNG.normal(size=6)


def mp_matrix(rows: int, cols: int, n: int, inverse: bool = False, norm: Any = None
              ) -> np.ndarray:
    """The first `rows` rows of c·F_n applied to a length-`cols` input cut or zero-padded to n:
    J[k, j] = c·exp(∓2πi·jk/n) for j < min(cols, n), else 0 (the DFT matrix, in mpmath)."""
    sign = 1 if inverse else -1
    c = mp_scale(n, inverse, norm)
    with MP.workdps(40):
        return np.array([[complex(c * MP.expjpi(MP.mpf(2 * sign * j * k) / n)) if j < n else 0
                          for j in range(cols)] for k in range(rows)])


def mp_irfft_matrix(n: int, cols: int, norm: Any = None) -> np.ndarray:
    """irfft's real matrix on real input: J[k, j] = c·d_j·cos(2π·jk/n), d = 1, 2, …, 2, [1]."""
    c = mp_scale(n, True, norm)
    with MP.workdps(40):
        return np.array([[float(c * (1 if j == 0 or 2 * j == n else 2) * MP.cospi(
            MP.mpf(2 * j * k) / n)) if j <= n // 2 else 0.0 for j in range(cols)]
            for k in range(n)])


HOLOMORPHIC = [
    ("fft n=7 ortho", lambda z: np.fft.fft(z, 7, norm="ortho"), Z, mp_matrix(7, 5, 7, False,
                                                                            "ortho")),
    ("ifft n=3", lambda z: np.fft.ifft(z, 3), Z, mp_matrix(3, 5, 3, True)),
    ("fft forward", lambda z: np.fft.fft(z, norm="forward"), Z, mp_matrix(5, 5, 5, False,
                                                                         "forward")),
    ("rfft n=8 of real x", lambda x: np.fft.rfft(x, 8), XR, mp_matrix(5, 6, 8)),
    ("rfft n=4 of real x", lambda x: np.fft.rfft(x, 4, norm="ortho"), XR,
     mp_matrix(3, 6, 4, False, "ortho")),
    ("fft2 s=(2, 4)", lambda z: np.fft.fft2(z, (2, 4)), ZZ,
     np.kron(mp_matrix(2, 3, 2), mp_matrix(4, 3, 4))),
    ("ifftn axes=(1, 0)", lambda z: np.fft.ifftn(z, axes=(1, 0), norm="ortho"), ZZ,
     np.kron(mp_matrix(3, 3, 3, True, "ortho"), mp_matrix(3, 3, 3, True, "ortho"))),
    # a complex-valued function through irfft of real data: its real matrix times i
    ("i·irfft(x, 7) of real x", lambda x: 1j * np.fft.irfft(x, 7, norm="ortho"), XR,
     1j * mp_irfft_matrix(7, 6, "ortho")),
    ("i·irfft(x, 4) of real x", lambda x: (2 + 1j) * np.fft.irfft(x, 4), XR,
     (2 + 1j) * mp_irfft_matrix(4, 6)),
]


@pytest.mark.parametrize("method", ("reverse", "forward", "symbolic", "fd"))
@pytest.mark.parametrize(("name", "fn", "point", "matrix"), HOLOMORPHIC,
                         ids=[c[0] for c in HOLOMORPHIC])
def test_complex_jacobian_is_the_dft_matrix(name: str, fn: Any, point: Any, matrix: Any,
                                            method: str) -> None:
    """Holomorphic (complex input) or complex-valued of real input: the Jacobian is c·F·P."""
    jac = dk.jacobian(fn, method=method)(point)
    tol = 1e-6 if method == "fd" else 1e-13
    np.testing.assert_allclose(np.reshape(jac, matrix.shape), matrix, rtol=tol, atol=tol)


def _mp_gradient(loss: Any, z: np.ndarray) -> np.ndarray:
    """JAX's convention by mpmath differentiation: ∂L/∂x − i·∂L/∂y at each entry (40 digits)."""
    with MP.workdps(40):
        zs = np.array([MP.mpc(complex(v)) for v in z.reshape(-1)], dtype=object)
        out = []
        for j in range(zs.size):
            def along(t: Any, unit: Any, j: int = j) -> Any:
                w = zs.copy()
                w[j] = w[j] + unit * t
                return loss(w.reshape(z.shape))

            dx = MP.diff(lambda t: along(t, 1), 0)
            dy = MP.diff(lambda t: along(t, MP.mpc(0, 1)), 0)
            out.append(complex(dx - MP.mpc(0, 1) * dy))
    return np.array(out).reshape(z.shape)


C5 = np.array([0.5, -1.0, 2.0, 0.25, 1.5])
REAL_LOSSES = [
    ("Σ c·|fft(z, 7)|²", lambda z: np.sum(np.abs(np.fft.fft(z, 7, norm="ortho")[:5]) ** 2 * C5),
     lambda z: sum(c * abs(t) ** 2 for c, t in zip(C5, mp_fft(z, 7, -1, "ortho")))),
    ("Σ c·irfft(z, 9)", lambda z: np.sum(np.fft.irfft(z, 9)[:5] * C5),
     lambda z: sum(c * t for c, t in zip(C5, mp_irfft(z, 9)))),
    ("Σ c·irfft(z, 4) forward", lambda z: np.sum(np.fft.irfft(z, 4, norm="forward") * C5[:4]),
     lambda z: sum(c * t for c, t in zip(C5, mp_irfft(z, 4, -1, "forward")))),
    ("Σ c·hfft(z, 6) ortho", lambda z: np.sum(np.fft.hfft(z, 6, norm="ortho")[:5] * C5),
     lambda z: sum(c * t for c, t in zip(C5, mp_hfft(z, 6, -1, "ortho")))),
    ("Re Σ (c + 2i)·irfft(z, 7)", lambda z: np.real(np.sum(np.fft.irfft(z, 7)[:5] * (C5 + 2j))),
     lambda z: sum(c * t for c, t in zip(C5, mp_irfft(z, 7)))),
    ("Re Σ c·ifft(z)²", lambda z: np.real(np.sum(np.fft.ifft(z) ** 2 * C5)),
     lambda z: MP.re(sum(c * t ** 2 for c, t in zip(C5, mp_fft(z, None, -1, None, True))))),
    ("Σ |fftshift(z)·c|", lambda z: np.sum(np.abs(np.fft.fftshift(z) * C5)),
     lambda z: sum(abs(t * c) for t, c in zip(mp_roll(z, (2,), (0,)), C5))),
]


@pytest.mark.parametrize("method", ("reverse", "forward", "fd"))
@pytest.mark.parametrize(("name", "loss", "ref"), REAL_LOSSES, ids=[c[0] for c in REAL_LOSSES])
def test_real_loss_of_complex_input_follows_jax(name: str, loss: Any, ref: Any,
                                                method: str) -> None:
    """grad L(z) = ∂L/∂x − i·∂L/∂y (docs/design.md), irfft's dropped Im X_0 and Im X_{n/2}
    included (their derivative is 0), against mpmath differentiation of the definition."""
    want = _mp_gradient(ref, Z)
    (got,) = dk.grad(loss, method=method)(Z)
    tol = 1e-6 if method == "fd" else 1e-12
    np.testing.assert_allclose(got, want, rtol=tol, atol=tol)


def test_irfft_ignores_the_imaginary_parts_numpy_ignores() -> None:
    """Im X_0 and (n even) Im X_{n/2} do not reach irfft's value: their derivative is exactly 0,
    while (n odd) the last entry's imaginary part counts."""
    (even,) = dk.grad(lambda z: np.sum(np.fft.irfft(z, 8) * W8))(Z)
    assert even[0].imag == 0 and even[4].imag == 0 and abs(even[2].imag) > 0.1
    (odd,) = dk.grad(lambda z: np.sum(np.fft.irfft(z, 9)[:8] * W8))(Z)
    assert odd[0].imag == 0 and abs(odd[4].imag) > 0.01


# ----- every record's VJP is the transpose of its JVP ---------------------------------------------

def _records_grid() -> list[tuple[str, tuple[int, ...], dict[str, Any], bool]]:
    cases = []
    for norm in ("backward", "ortho", "forward"):
        for shape, axes, s in (((5,), (0,), (5,)), ((5,), (0,), (3,)), ((5,), (0,), (8,)),
                               ((3, 4), (1, 0), (2, 6)), ((2, 3, 4), (2,), (1,)),
                               ((2, 3, 4), (0, 2), (3, 4)), ((2, 3, 4), (2, 1, 0), (4, 3, 2))):
            for inverse in (False, True):
                cases.append(("fft_c2c", shape, {"axes": axes, "s": s, "inverse": inverse,
                                                 "norm": norm}, True))
        for shape, axis, n in (((6,), 0, 6), ((6,), 0, 7), ((6,), 0, 4), ((6,), 0, 11),
                               ((3, 4), 0, 5), ((3, 4), 1, 1), ((3, 4), 1, 2)):
            cases.append(("fft_r2c", shape, {"axis": axis, "n": n, "norm": norm}, False))
            for complex_input in (True, False):
                cases.append(("fft_c2r", shape, {"axis": axis, "n": n, "norm": norm},
                              complex_input))
    return cases


@pytest.mark.parametrize(("name", "shape", "params", "complex_input"), _records_grid(),
                         ids=lambda v: str(v))
def test_record_vjp_is_the_transpose_of_its_jvp(name: str, shape: tuple[int, ...],
                                                 params: dict[str, Any],
                                                 complex_input: bool) -> None:
    """⟨ȳ, J·ẋ⟩ = Re Σ x̄·ẋ for a real cotangent and real or complex inputs (JAX: x̄ = ∂/∂Re −
    i·∂/∂Im), and Σ ȳ·J·ẋ = Σ x̄·ẋ for a complex ȳ where the record is complex-linear — the
    VJP rule against the record applied to the tangent (the JVP), over crops, pads, axes and
    norms. The JVP is checked against the DFT definition in the specs above."""
    rng = np.random.default_rng(len(str(params)) * 7 + len(shape))
    prim = REGISTRY[name]

    def draw(shape: Any, cplx: bool) -> np.ndarray:
        v = rng.normal(size=shape)
        return v + 1j * rng.normal(size=shape) if cplx else v

    x, dx = draw(shape, complex_input), draw(shape, complex_input)
    y = prim(x, **params)
    lin = prim.linearize([x], y, params, [True])
    jvp = lin.jvp([dx[None]], 1)[0]
    np.testing.assert_array_equal(jvp, prim(dx, **params))
    ybar = np.real(draw(y.shape, False)) if y.dtype.kind != "c" else draw(y.shape, False)
    (xbar,) = lin.vjp(ybar)
    assert xbar.shape == x.shape
    np.testing.assert_allclose(np.sum(ybar * np.real(jvp)) if y.dtype.kind != "c" else
                               np.real(np.sum(ybar * jvp)), np.real(np.sum(xbar * dx)),
                               rtol=1e-12, atol=1e-12)
    if name == "fft_c2r" and complex_input:  # real output: Im ȳ is no cotangent
        np.testing.assert_array_equal(lin.vjp(ybar + 1j * draw(y.shape, False))[0], xbar)
    if name == "fft_c2c" or not complex_input:  # complex-linear: a complex ȳ too
        ybar = draw(y.shape, True)
        (xbar,) = lin.vjp(ybar)
        np.testing.assert_allclose(np.sum(ybar * jvp), np.sum(xbar * dx), rtol=1e-12,
                                   atol=1e-12)
    rows = lin.vjp_rows(np.stack([ybar, 2 * ybar]), 2)[0]  # k rows at once: each row's VJP
    np.testing.assert_allclose(rows, np.stack([xbar, 2 * xbar]), rtol=1e-13, atol=1e-13)


def test_fft_c2c_satisfies_cauchy_riemann() -> None:
    """What holomorphic=True promises (tests/test_complex_trust.py's check, here for this record):
    D_{iE} f = i·D_E f along a random complex direction."""
    x, e = ZZ, RNG.normal(size=(3, 3)) + 1j * RNG.normal(size=(3, 3))
    assert REGISTRY["fft_c2c"].holomorphic and not REGISTRY["fft_c2r"].holomorphic

    def f(t: complex) -> np.ndarray:
        return dk.fft_c2c(x + t * e, (1, 0), (4, 2), False, "ortho")

    h = 1e-6
    np.testing.assert_allclose((f(1j * h) - f(-1j * h)) / (2 * h),
                               1j * (f(h) - f(-h)) / (2 * h), rtol=1e-7, atol=1e-8)


# ----- NumPy's values and dtypes, bit for bit -----------------------------------------------------


def _traced_value(call: Any, *args: Any) -> Any:
    """`call(*args)` on traced arguments: the value diffkit recorded."""
    seen: list[Any] = []

    def f(*xs: Any) -> Any:
        seen.append(call(*xs))
        return sum(np.sum(np.real(x)) for x in xs)

    dk.grad(dk.function(f, inputs=[f"a{i}" for i in range(len(args))]),
            wrt=list(range(len(args))))(*args)
    return getattr(seen[0], "value", seen[0])  # a constant where nothing traced reaches it


def _same(got: Any, want: Any) -> None:
    assert type(got) is type(want) and got.dtype == want.dtype and got.shape == want.shape, (
        type(got), got.dtype, got.shape, want.dtype, want.shape)
    bits = [np.ascontiguousarray(v).reshape(-1).view(np.uint8) for v in (got, want)]
    np.testing.assert_array_equal(*bits, err_msg=f"{got!r} is not {want!r} bit for bit")


VALUE_CASES = [
    *[(name, {"n": n, "norm": norm}) for name in ("fft", "ifft", "rfft", "irfft", "hfft", "ihfft")
      for n in (None, 3, 10) for norm in NORMS],
    ("fft", {"axis": 0}), ("rfft", {"axis": -2, "n": 5}), ("irfft", {"axis": 1, "n": 1}),
    *[(name, kw) for name in ("fftn", "ifftn", "rfftn", "irfftn")
      for kw in ({}, {"axes": (0, 2)}, {"s": (4, 6), "axes": (2, 0), "norm": "ortho"},
                 {"s": (3, 2, 8), "axes": (0, 1, 2), "norm": "forward"}, {"axes": (1, 1)},
                 {"s": (5, -1), "axes": (-1, 0)}, {"axes": (2, 0, 1)})],
    *[(name, kw) for name in ("fft2", "ifft2", "rfft2", "irfft2")
      for kw in ({}, {"s": (2, 7)}, {"axes": (0, 2), "norm": "ortho"})],
    ("fftshift", {}), ("fftshift", {"axes": 1}), ("ifftshift", {"axes": (0, 2)}),
]


@pytest.mark.parametrize("dtype", (np.float64, np.float32, np.complex128, np.complex64))
@pytest.mark.parametrize(("name", "kw"), VALUE_CASES, ids=lambda v: str(v))
def test_values_and_dtypes_are_numpys(name: str, kw: dict[str, Any], dtype: Any) -> None:
    """Plain (dk.<name>) and traced (np.fft.<name>): NumPy's values, dtype and shape bit for bit
    (NumPy ≥ 2 keeps single precision: float32 → complex64 and back)."""
    x = RNG.normal(size=(3, 4, 5))
    if np.dtype(dtype).kind == "c":
        x = x + 1j * RNG.normal(size=x.shape)
    x = x.astype(dtype)
    np_fn = getattr(np.fft, name)
    if name in ("rfft", "ihfft", "rfftn", "rfft2") and x.dtype.kind == "c":
        with pytest.raises(TypeError):
            np_fn(x, **kw)
        with pytest.raises(TypeError, match="real data"):
            getattr(dk, name)(x, **kw)
        return
    want = np_fn(x, **kw)
    _same(getattr(dk, name)(x, **kw), want)
    _same(_traced_value(lambda t: np_fn(t, **kw), x), want)


def test_single_precision_gradients_and_jacobians() -> None:
    """float32 in, float32 gradient (complex64 for complex64 input), every exact engine."""
    x = XR.astype(np.float32)
    z = Z.astype(np.complex64)
    for method in ("reverse", "forward"):
        (g,) = dk.grad(lambda x: np.sum(np.abs(np.fft.rfft(x, 8)) ** 2), method=method)(x)
        assert g.dtype == np.float32
        (g64,) = dk.grad(lambda x: np.sum(np.abs(np.fft.rfft(x, 8)) ** 2), method=method)(XR)
        np.testing.assert_allclose(g, g64, rtol=1e-5, atol=1e-5)
        (gz,) = dk.grad(lambda z: np.sum(np.fft.irfft(z, 7) ** 2), method=method)(z)
        assert gz.dtype == np.complex64
        j = dk.jacobian(lambda z: np.fft.ifft(z, 4), method=method)(z)
        assert j.dtype == np.complex64
        np.testing.assert_allclose(j, mp_matrix(4, 5, 4, True), rtol=1e-6, atol=1e-6)


def test_frequencies_are_numpys_and_constants() -> None:
    for n, d in ((5, 0.3), (6, 1.0), (1, 2.5), (8, np.float32(0.1))):
        _same(dk.fftfreq(n, d), np.fft.fftfreq(n, d))
        _same(dk.rfftfreq(n, d), np.fft.rfftfreq(n, d))
    # a traced spacing: np.fft.fftfreq has no dispatcher, it computes with the traced d
    (g,) = dk.grad(lambda d: np.sum(np.fft.fftfreq(5, d) * [1.0, 2.0, 3.0, 4.0, 5.0]))(0.5)
    (h,) = dk.grad(lambda d: np.sum(dk.fftfreq(5, d) * [1.0, 2.0, 3.0, 4.0, 5.0]))(0.5)
    assert g == h == pytest.approx(-(0 * 1 + 1 * 2 + 2 * 3 - 2 * 4 - 1 * 5) / (5 * 0.25))


def test_deprecated_s_without_axes_warns_as_numpy() -> None:
    x = RNG.normal(size=(3, 4))
    with pytest.warns(DeprecationWarning):
        want = np.fft.fftn(x, (2, 3))
    with pytest.warns(DeprecationWarning, match="axes"):
        got = dk.fftn(x, (2, 3))
    _same(got, want)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        dk.fftn(x, (2, 3), (0, 1))  # no warning with axes


# ----- graphs, dk.jit -------------------------------------------------------------------------


def _graph(fn: Any, *args: Any) -> Any:
    return dk.function(fn, inputs=[f"a{i}" for i in range(len(args))]).trace(*args)


def test_graphs_are_small_and_hold_everywhere() -> None:
    """One record per transform (fftn over distinct axes included); no value is read (the
    trace holds at every point); piecewise reads its traced conditions (a branch)."""
    x = RNG.normal(size=(3, 4, 5))
    for fn, count in ((lambda a: np.fft.fftn(a, axes=(0, 2)), 1), (lambda a: np.fft.rfftn(a), 2),
                      (lambda a: np.fft.irfftn(a, (3, 4, 6), (0, 1, 2)), 2),
                      (lambda a: np.fft.fftn(a, (2, 3), (1, 1)), 2),
                      (lambda a: np.fft.hfft(a), 1)):
        g = _graph(fn, x)
        assert not g.value_dependent
        assert sum(n.prim is not None and n.prim.name.startswith("fft_") for n in g.nodes) \
            == count
    assert _graph(lambda a: np.piecewise(a, [a > 0], [np.sin, np.cos]), x).value_dependent
    assert not _graph(lambda a: np.piecewise(a, [x > 0], [np.sin, np.cos]), x).value_dependent


JIT_CASES = [
    (lambda x: np.sum(np.abs(np.fft.rfft(x)) ** 2), (XR,)),
    (lambda a, b: np.sum(np.fft.irfft(a + 1j * b, 9) * np.arange(9.0)), (XR[:5], XR[1:])),
    (lambda x: np.sum(np.real(np.fft.fft2(x, (2, 5), norm="ortho")) ** 3), (XR.reshape(2, 3),)),
    (lambda x: np.sum(np.fft.hfft(x, 7) * np.fft.fftshift(np.fft.irfft(x, 7))), (XR[:4],)),
    (lambda x: np.sum(np.imag(np.fft.ifftn(x, axes=(1, 0))) ** 2), (XR.reshape(3, 2),)),
    (lambda x: np.sum(np.piecewise(x, [x < 0, x > 1.0], [np.sin, 2.0, lambda t: t ** 3])),
     (XR,)),
]


@pytest.mark.parametrize(("fn", "args"), JIT_CASES, ids=[str(i) for i in range(len(JIT_CASES))])
def test_jit_agrees_with_eager(fn: Any, args: tuple[Any, ...]) -> None:
    """dk.jit: the same values and gradients as eager calls, over repeated calls at moving
    points (piecewise's conditions move: its trace is taken again)."""
    j = dk.jit(fn)
    wrt = list(range(len(args)))
    for shift in (0.0, 0.31, 0.77, 0.31, -1.2):
        point = tuple(a + shift for a in args)
        np.testing.assert_array_equal(j(*point), fn(*point))
        want = dk.value_and_grad(fn, wrt=wrt)(*point)
        got = dk.value_and_grad(j, wrt=wrt)(*point)
        np.testing.assert_allclose(got[0], want[0], rtol=1e-14)
        for g, w in zip(got[1], want[1], strict=True):
            np.testing.assert_allclose(g, w, rtol=1e-13, atol=1e-14)


# ----- piecewise: NumPy's semantics -------------------------------------------------------------

PIECEWISE_CASES = [
    (np.array([-1.5, -0.2, 0.4, 2.0]), lambda x: [x < 0, x >= 0], [lambda t: -t, lambda t: t * t]),
    (np.array([-1.5, -0.2, 0.4, 2.0]), lambda x: [x < 0], [lambda t: -t, 7.0]),  # otherwise
    (np.array([-1.5, -0.2, 0.4, 2.0]), lambda x: [x < 1, x > -1], [1.0, 2.0]),  # overlap: last
    (np.array([-1.5, -0.2, 0.4, 2.0]), lambda x: x > 0, [np.exp]),  # one condition, promoted
    (np.array([-1.5, -0.2, 0.4, 2.0]), lambda x: [x > 5], [np.exp]),  # nothing selected: 0
    (np.array(0.7), lambda x: [x < 0, x >= 0], [np.sin, np.cos]),  # 0-d
    (np.array(-0.7), lambda x: [x < 0], [lambda t: t * 3.0, lambda t: t]),
    (np.array([[1.0, -2.0], [3.5, -0.5]]), lambda x: [x > 0], [lambda t: t ** 0.5, 1.25]),
    (np.array([1, -2, 3, 4]), lambda x: [x > 2], [lambda t: t * 1.5, 0]),  # ints: cast
    (np.array([0.5, -1.0], dtype=np.float32), lambda x: [x > 0], [lambda t: t * 2.0,
                                                                   np.float64(3.3)]),
    (np.array([0.5, -1.0, 2.0]), lambda x: [x > 0], [lambda t: np.sum(t), 0.0]),  # a reduction
    (np.array([0.5, -1.0, 2.0]), lambda x: True, [lambda t: t * 2.0]),  # 0-d: all, x[True]
    (np.array([0.5, -1.0, 2.0]), lambda x: False, [lambda t: t * 2.0, 7.0]),
]


@pytest.mark.parametrize(("x", "conds", "funcs"), PIECEWISE_CASES,
                         ids=[str(i) for i in range(len(PIECEWISE_CASES))])
def test_piecewise_values_are_numpys(x: Any, conds: Any, funcs: Any) -> None:
    want = np.piecewise(x, conds(x), funcs)
    _same(dk.piecewise(x, conds(x), funcs), want)
    if x.dtype.kind == "f":
        _same(_traced_value(lambda t: np.piecewise(t, conds(t), funcs), x), want)


def test_piecewise_traced_scalar_conditions() -> None:
    """A 0-d x with one traced condition (not in a list), as NumPy reads x < 0 of a 0-d array:
    one condition, promoted; the value and derivative of the piece selected."""
    for t, want in ((-0.5, 3 * 0.25), (0.5, 0.0)):
        f = dk.function(lambda x: np.piecewise(x, x < 0, [lambda u: u ** 3]))
        np.testing.assert_array_equal(f(np.array(t)), np.piecewise(np.array(t), np.array(t) < 0,
                                                                    [lambda u: u ** 3]))
        for method in ("reverse", "forward", "symbolic", "fd"):
            assert dk.grad(f, method=method)(np.array(t))[0] == pytest.approx(want, abs=1e-8)


def test_piecewise_derivative_is_the_selected_piece() -> None:
    """d/dx of each piece where it is selected, 0 where a constant is, in every engine."""
    x = np.array([-1.5, -0.2, 0.4, 2.0])
    for method in ("reverse", "forward", "symbolic", "fd"):
        (g,) = dk.grad(lambda x: np.sum(np.piecewise(x, [x < 0, x > 1], [np.sin, 4.0,
                                                                         lambda t: t ** 3])),
                       method=method)(x)
        np.testing.assert_allclose(g, [np.cos(-1.5), np.cos(-0.2), 3 * 0.4 ** 2, 0.0],
                                   atol=1e-8)


# ----- refusals by name ---------------------------------------------------------------------------

REFUSALS = [
    (lambda t: np.fft.fft(t, out=np.empty(3, complex)), dk.TracingError, "out="),
    (lambda t: np.fft.rfftn(t, out=np.empty(2, complex)), dk.TracingError, "out="),
    (lambda t: np.fft.fft(t, norm="unitary"), dk.ShapeError, "Invalid norm"),
    (lambda t: np.fft.ifftn(t, norm=1), dk.ShapeError, "Invalid norm"),
    (lambda t: np.fft.rfft(t, 0), dk.ShapeError, "Invalid number of FFT data points"),
    (lambda t: np.fft.irfft(t[:1]), dk.ShapeError, r"Invalid number of FFT data points \(0\)"),
    (lambda t: np.fft.fftn(t, (3, 2), (0,)), dk.ShapeError, "Shape and axes"),
    (lambda t: np.fft.fft(t, axis=1), IndexError, "out of bounds"),
    (lambda t: np.fft.fft2(t), IndexError, "out of bounds"),
    (lambda t: np.fft.fft(t[0]), IndexError, "0-d"),
    (lambda t: np.fft.rfftn(t, axes=()), IndexError, "at least one axis"),
    (lambda t: np.piecewise(t, [np.array([True, False])], [1.0]), IndexError, "shape"),
    (lambda t: np.fft.rfft(t * 1j), TypeError, "real data"),
    (lambda t: np.fft.ihfft(t * (1 + 1j)), TypeError, "real data"),
    (lambda t: dk.fftfreq(2.5, t[0]), dk.ShapeError, "integer"),
    (lambda t: np.piecewise(t, [t > 0, t < 0], [np.sin]), dk.ShapeError,
     "either 2 or 3 functions"),
    (lambda t: np.piecewise(t, [t > 0], [lambda s: np.stack([s, s])]), TypeError,
     "0 or 1-dimensional"),
    (lambda t: np.piecewise(t, [t > 0], [lambda s: np.concatenate([s, s])]), dk.ShapeError,
     "cannot assign 4 input values to the 2"),
]


@pytest.mark.parametrize(("call", "error", "match"), REFUSALS,
                         ids=[f"{r[2]}-{i}" for i, r in enumerate(REFUSALS)])
def test_refused_by_name(call: Any, error: type, match: str) -> None:
    t = np.array([0.5, -1.0, 2.0])
    with pytest.raises(error, match=match):
        dk.grad(lambda t: np.sum(np.abs(call(t))))(t)
    if error is not dk.TracingError:  # NumPy refuses the same call with the same builtin
        with pytest.raises(error if issubclass(error, TypeError | IndexError) else ValueError):
            call(t)


def test_engines_refuse_what_they_cannot_do_by_name() -> None:
    """Complex-valued results of complex inputs through a non-holomorphic record (irfft) and the
    symbolic engine on a modulus or a real part: MissingRuleError naming the alternative; the
    complex step through an FFT of real data: it is not analytic there (NumPy's rfft refuses
    complex numbers, irfft drops imaginary parts)."""
    with pytest.raises(dk.MissingRuleError, match="holomorphic.*'fft_c2r'"):
        dk.jacobian(lambda z: 1j * np.fft.irfft(z))(Z)
    # from real inputs alone a complex output's Jacobian ∂f/∂x is defined, holomorphic or not:
    # ihfft(x) = conj(rfft(x))/n, whose Jacobian is the conjugate rfft matrix over n
    want = np.conj(np.fft.rfft(np.eye(XR.size), axis=0)) / XR.size
    for method in ("reverse", "forward"):
        np.testing.assert_allclose(dk.jacobian(lambda x: np.fft.ihfft(x), method=method)(XR),
                                   want, rtol=1e-12, atol=1e-15)
    with pytest.raises(dk.MissingRuleError, match="holomorphic.*method="):
        dk.grad(lambda x: np.sum(np.abs(np.fft.rfft(x)) ** 2), method="symbolic")(XR)
    for fn in (lambda x: np.sum(np.real(np.fft.rfft(x))), lambda x: np.sum(np.fft.irfft(x))):
        with pytest.raises(dk.MissingRuleError, match="complex"):
            dk.grad(fn, method="fd-complex")(XR)
    # the same functions by a method that can: central differences agree with reverse mode
    (fd,) = dk.grad(lambda x: np.sum(np.fft.irfft(x) * np.arange(10.0)), method="fd")(XR)
    (rev,) = dk.grad(lambda x: np.sum(np.fft.irfft(x) * np.arange(10.0)))(XR)
    np.testing.assert_allclose(fd, rev, rtol=1e-7, atol=1e-8)


def test_records_are_declared_in_this_family() -> None:
    from diffkit.primitives.declare import NAMES

    for name in COVERS:
        assert NAMES[name] == "diffkit.primitives.fft"
        assert getattr(dk, name) is (COMPOSITES.get(name) or REGISTRY[name])
    assert dk.fft_c2c.holomorphic and not dk.fft_r2c.holomorphic
