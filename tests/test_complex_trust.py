"""Bug hunt 2: NumPy-written linear-algebra / structural functions differentiated by diffkit.

Every test asserts the right behaviour against an independent reference (hand-derived
formula, NumPy finite differences or JAX's documented convention). Complex convention
(docs/design.md, = JAX): grad f(z) = d(Re f)/dx - i d(Re f)/dy, so grad |z|^2 = 2 conj(z),
grad ||z|| = conj(z)/||z||, grad Re g(z) = g'(z) for holomorphic g. Each structural record of
the table declares whether it is holomorphic (False unless it says so); the last tests check every
record declared holomorphic against the Cauchy–Riemann equations.

(Hunt findings 6-8 — np.linalg of object arrays of traced scalars, ``y[1] = x[0]**2`` and the
np.linalg aliases — are tested elsewhere.)
"""
import math

import numpy as np
import pytest
import sympy as sp

import diffkit as dk
from diffkit.errors import DiffkitError, MissingRuleError

Z3 = np.array([1 + 1j, 2 - 1j, 0.5 + 3j])
ZM = np.array([[1 + 2j, 0.5], [1j, 3 - 1j]])


def _fd_real_grad(f, z, h=1e-6):
    """JAX-convention gradient of a real-valued f by central differences: df/dx - i df/dy."""
    g = np.zeros(z.shape, dtype=complex)
    for idx in np.ndindex(z.shape):
        e = np.zeros(z.shape, dtype=complex)
        e[idx] = h
        dx = (f(z + e) - f(z - e)) / (2 * h)
        dy = (f(z + 1j * e) - f(z - 1j * e)) / (2 * h)
        g[idx] = dx - 1j * dy
    return g


# symbolic engine: np.linalg.norm(z)**2 of a complex vector was silently differentiated as the
# holomorphic Σz² (2z, not 2·conj(z)). docs/design.md: the symbolic engine differentiates
# holomorphic functions of complex numbers only and refuses real-valued ones by name — as it does
# for Σ|z|² written with np.abs; the reverse engine answers the convention's 2·conj(z).
def test_symbolic_norm_squared_complex_vector():
    fn = lambda x: np.linalg.norm(x) ** 2
    ref = 2 * np.conj(Z3)  # docs/design.md: grad of |z|^2 is 2·z̄
    assert np.allclose(_fd_real_grad(fn, Z3), ref, atol=1e-6)
    for f in (fn, lambda x: np.sum(np.abs(x) ** 2)):
        with pytest.raises(MissingRuleError, match="holomorphic"):
            dk.grad(dk.function(f), method="symbolic")(Z3)
    assert np.allclose(dk.grad(dk.function(fn), method="reverse")(Z3)[0], ref)


# symbolic engine: np.linalg.norm / vector_norm (Frobenius) of a complex matrix was silently wrong
# (z/sqrt(Σz²) instead of conj(z)/‖z‖): refused by name now; reverse matches the fd reference
@pytest.mark.parametrize("fn", [lambda x: np.linalg.norm(x), lambda x: np.linalg.vector_norm(x),
                                lambda x: np.sum(np.linalg.norm(x, axis=0) ** 3)],
                         ids=["norm", "vector_norm", "norm-axis0-cubed"])
def test_symbolic_norm_complex_matrix(fn):
    ref = _fd_real_grad(fn, ZM)
    with pytest.raises(MissingRuleError, match="euclidean_norm"):
        dk.grad(dk.function(fn), method="symbolic")(ZM)
    got = dk.grad(dk.function(fn), method="reverse")(ZM)[0]
    assert np.allclose(got, ref, rtol=1e-6, atol=1e-6), (got, ref)


# symbolic engine: slogdet(Z)[1] (log|det|) of a complex matrix silently wrong; reverse/forward refuse by name
def test_symbolic_logabsdet_complex_matrix():
    f = dk.function(lambda a: np.linalg.slogdet(a)[1])
    ref = np.linalg.inv(ZM).T  # log|det Z| = Re log det Z, so grad = (log det)'(Z) = Z^{-T}
    assert np.allclose(_fd_real_grad(lambda z: np.linalg.slogdet(z)[1], ZM), ref, atol=1e-6)
    try:
        got = dk.grad(f, method="symbolic")(ZM)[0]
    except MissingRuleError:
        return  # refusing by name, as the reverse and forward engines do, is also right
    assert np.allclose(got, ref), (got, ref)


# symbolic engine: complex-valued sum(cholesky(H)) of a Hermitian matrix (not holomorphic) gets a number instead of a MissingRuleError
def test_symbolic_cholesky_complex_not_holomorphic_refused():
    H = ZM @ ZM.conj().T + np.eye(2)
    fnp = lambda a: np.sum(np.linalg.cholesky(a))
    # independent check that f is not complex-analytic: derivatives along 1 and i differ by more than a factor i
    h, E = 1e-6, np.zeros((2, 2), complex)
    E[1, 0] = 1
    d_re = (fnp(H + h * E) - fnp(H - h * E)) / (2 * h)
    d_im = (fnp(H + 1j * h * E) - fnp(H - 1j * h * E)) / (2 * h)
    assert abs(d_im - 1j * d_re) > 1e-3
    with pytest.raises(MissingRuleError):
        dk.grad(dk.function(fnp), method="symbolic")(H)


# np.vdot(x, c) (= Σ conj(x)·c, anti-holomorphic in x): reverse gives conj(c), forward gives c — should be refused like np.sum(np.conj(x)*c)
@pytest.mark.parametrize("method", ["reverse", "forward"])
def test_vdot_first_argument_complex_output_refused(method):
    c = np.array([1.0 - 2j, 0.5j, 2.0])
    fnp = lambda x: np.vdot(x, c)
    h = 1e-6
    e = np.array([1.0, 0, 0])
    d_re = (fnp(Z3 + h * e) - fnp(Z3 - h * e)) / (2 * h)
    d_im = (fnp(Z3 + 1j * h * e) - fnp(Z3 - 1j * h * e)) / (2 * h)
    assert abs(d_im - 1j * d_re) > 1  # not holomorphic (Cauchy–Riemann fails)
    with pytest.raises(MissingRuleError):
        dk.grad(dk.function(fnp), method=method)(Z3)


# symbolic engine: vdot(x, c) and slogdet(Z)[0] of complex inputs crash with SymPy's bare PrintMethodNotImplementedError
@pytest.mark.parametrize("fn,arg", [(lambda x: np.vdot(x, np.array([1.0 - 2j, 0.5j, 2.0])), Z3),
                                    (lambda a: np.linalg.slogdet(a)[0], ZM)], ids=["vdot", "slogdet-sign"])
def test_symbolic_complex_nonholomorphic_named_error(fn, arg):
    with pytest.raises(DiffkitError):
        dk.grad(dk.function(fn), method="symbolic")(arg)


# real-valued uses of vdot keep working: Re vdot(x, c) = Re Σ conj(x)·c has gradient conj(c) by the
# convention (∂/∂x = Re c, ∂/∂y = Im c); Re vdot(c, z) = Re g(z), g holomorphic, has g′ = conj(c)
@pytest.mark.parametrize("method", ["reverse", "forward", "fd"])
def test_vdot_real_part_still_differentiable(method):
    c = np.array([1.0 - 2j, 0.5j, 2.0])
    for fn in (lambda x: np.real(np.vdot(x, c)), lambda x: np.real(np.vdot(c, x))):
        assert np.allclose(_fd_real_grad(fn, Z3), np.conj(c), atol=1e-6)
        got = dk.grad(dk.function(fn), method=method)(Z3)[0]
        assert np.allclose(got, np.conj(c), atol=1e-6), got


# the symbolic engine's code writer: a SymPy form with no code is a named diffkit error, never
# SymPy's PrintMethodNotImplementedError
def test_symbolic_code_writer_refuses_unprintable_forms_by_name():
    from diffkit.engines.symbolic import _Printer, _Writer

    z = sp.Symbol("z")
    write = _Writer({z: "a0"}, False, _Printer({"fully_qualified_modules": True}))
    for e in (sp.conjugate(z), sp.Derivative(sp.Function("f")(z), z)):
        with pytest.raises(MissingRuleError, match="symbolic engine"):
            write(e)


# ----- every structural record declares whether it is holomorphic ---------------------------------

_RNG = np.random.default_rng(7)


def _c(*shape):
    return _RNG.normal(size=shape) + 1j * _RNG.normal(size=shape)


_SQ = np.array([[2.0 + 1j, 0.5 - 0.3j, 0.1j], [0.4, 3.0 - 0.5j, 1.0 + 0.2j],
                [-0.3j, 0.6 + 0.1j, 2.5 + 0.7j]])

#: per record declared holomorphic: (complex arguments, how the record is called with them)
CALLS = {
    "sum": ([_c(2, 3)], lambda f, x: f(x, axis=0)),
    "mean": ([_c(2, 3)], lambda f, x: f(x)),
    "amax": ([_c(4)], lambda f, x: f(x)),
    "amin": ([_c(4)], lambda f, x: f(x)),
    "reshape": ([_c(2, 3)], lambda f, x: f(x, (3, 2))),
    "subgradient": ([_c(3)], lambda f, g: f(g * g, np.array([True, True, True]))),
    "transpose": ([_c(2, 3)], lambda f, x: f(x, (1, 0))),
    "broadcast_to": ([_c(3)], lambda f, x: f(x, (2, 3))),
    "getitem": ([_c(5)], lambda f, x: f(x, np.array([3, 0, 3]))),
    "index_add": ([_c(3)], lambda f, v: f(v, (np.array([0, 2, 0]),), (4,))),
    "concatenate": ([_c(2), _c(3)], lambda f, a, b: f([a, b])),
    "roll": ([_c(4)], lambda f, x: f(x, 1)),
    "matmul": ([_c(2, 3), _c(3, 2)], lambda f, a, b: f(a, b)),
    "einsum": ([_c(2, 3), _c(3)], lambda f, a, b: f("ij,j->i", a, b)),
    "inner": ([_c(3), _c(3)], lambda f, a, b: f(a, b)),
    "outer": ([_c(2), _c(3)], lambda f, a, b: f(a, b)),
    "tensordot": ([_c(2, 3), _c(3, 2)], lambda f, a, b: f(a, b, 1)),
    "kron": ([_c(2), _c(2, 2)], lambda f, a, b: f(a, b)),
    "cross": ([_c(3), _c(3)], lambda f, a, b: f(a, b)),
    "prod": ([_c(4)], lambda f, x: f(x)),
    "cumsum": ([_c(4)], lambda f, x: f(x)),
    "cumprod": ([_c(4)], lambda f, x: f(x)),
    "sort": ([_c(4)], lambda f, x: f(x)),
    "partition": ([_c(5)], lambda f, x: f(x, 2)),
    "all": ([_c(4)], lambda f, x: f(x)),
    "any": ([_c(4)], lambda f, x: f(x)),
    "count_nonzero": ([_c(4)], lambda f, x: f(x)),
    "inv": ([_SQ], lambda f, a: f(a)),
    "solve": ([_SQ, _c(3)], lambda f, a, b: f(a, b)),
    "det": ([_SQ], lambda f, a: f(a)),
    "linear": ([_c(2, 3), _c(4, 3), _c(4)], lambda f, x, w, b: f(x, w, b)),
    "im2col": ([_c(1, 2, 4, 4)], lambda f, x: f(x, 2, 1, 1)),
    "col2im": ([_c(1, 5, 5, 8)], lambda f, c: f(c, 2, 1, 1, (1, 2, 4, 4))),
    "fft_c2c": ([_c(2, 4)], lambda f, x: f(x, (1, 0), (5, 3), False, "ortho")),
}

#: records that are not complex-analytic (they conjugate, take a modulus, read a Hermitian matrix)
NOT_HOLOMORPHIC = (
    "euclidean_norm", "logabsdet", "slogdet_sign", "slogdet_packed", "cholesky",
    "eigh_packed", "eigh_values", "eigh_vectors", "eigvalsh", "svd_packed", "svd_s", "svd_u",
    "svd_vh", "svdvals", "qr_packed", "qr_q", "qr_r", "pinv")


def _structural():
    from diffkit.primitive import REGISTRY

    return {n: p for n, p in REGISTRY.items() if p.kind == "structural"}


def test_every_structural_record_declared_holomorphic_is_sampled():
    holo = {n for n, p in _structural().items() if p.holomorphic}
    assert holo <= set(CALLS), f"holomorphic records without a Cauchy–Riemann sample: {holo - set(CALLS)}"


def test_non_holomorphic_records_say_so():
    recs = _structural()
    assert [n for n in NOT_HOLOMORPHIC if recs[n].holomorphic] == []


@pytest.mark.parametrize("name", sorted(n for n, p in _structural().items() if p.holomorphic))
def test_holomorphic_records_satisfy_cauchy_riemann(name):
    """D_{iE} f = i·D_E f for a random complex direction E (central differences, plain NumPy on
    the record's values): what ``holomorphic=True`` promises every engine."""
    prim = _structural()[name]
    args, call = CALLS[name]
    dirs = [_c(*np.shape(a)) for a in args]
    h = 1e-6

    def f(step):
        return np.asarray(call(prim, *[a + step * d for a, d in zip(args, dirs)])).astype(complex)

    d_re = (f(h) - f(-h)) / (2 * h)
    d_im = (f(1j * h) - f(-1j * h)) / (2 * h)
    assert np.allclose(d_im, 1j * d_re, rtol=1e-6, atol=1e-6 * max(1.0, np.max(np.abs(d_re)))), (
        d_im, 1j * d_re)


# vdot(a, z) with a constant first argument is holomorphic in z (Σ conj(a)·z): the record-wide flag
# refused it; vdot is now inner(conj(a), b), so the table's conj decides (JAX: grad = conj(a))
@pytest.mark.parametrize("method", ["reverse", "forward", "symbolic", "fd-central"])
def test_vdot_of_a_constant_and_z_is_holomorphic(method):
    a = np.array([1, 2, 3j])
    z = np.array([1 + 1j, 2 - 0.5j, -0.3 + 0.7j])
    (g,) = dk.grad(lambda z: np.vdot(a, z), method=method)(z)
    np.testing.assert_allclose(g, np.conj(a), atol=1e-8)  # d/dz Σ conj(a)·z, by hand


# where() with a constant mask is holomorphic in its branches (partials 0 and 1): it was refused
@pytest.mark.parametrize("method", ["reverse", "forward", "symbolic", "fd-central"])
def test_where_with_a_constant_mask_is_holomorphic(method):
    z = np.array([1 + 1j, 2 - 1j, 0.5 + 0.3j])
    mask = np.array([True, False, True])
    jac = dk.jacobian(lambda z: np.where(mask, z * z, 2 * z), method=method)(z)
    np.testing.assert_allclose(np.diag(jac), np.where(mask, 2 * z, 2.0), atol=1e-8)  # by hand


@pytest.mark.parametrize("method", ["reverse", "forward", "symbolic", "fd", "auto"])
def test_grad_of_a_complex_output_at_a_real_input_is_refused_not_its_real_part(method) -> None:
    """grad of e^{ix} at a real x answered Re f′(x) = −sin x, silently dropping Im f′(x) = cos x,
    while dk.derivative gave f′(x): refused by name, as JAX refuses it. A real output through
    complex values is still answered; f′ of the curve stays dk.derivative's."""
    x = 0.5
    curve = dk.function(lambda x: np.exp(1j * x))
    for call in (dk.grad(curve, method=method), dk.value_and_grad(curve, method=method)):
        with pytest.raises(dk.InputTypeError, match="complex-valued .* real input 'x'"):
            call(x)
    if method != "symbolic":  # (the symbolic engine refuses np.real of a complex value by name)
        assert dk.grad(lambda x: np.real(np.exp(1j * x)), method=method)(x)[0] == \
            pytest.approx(-math.sin(x), rel=1e-6)  # d/dx cos x
    if method in ("reverse", "forward"):
        with pytest.raises(dk.InputTypeError, match="the Hessian of the complex-valued"):
            dk.hessian(curve, method=method)(x)
        assert dk.derivative(curve, method=method)(x) == pytest.approx(1j * complex(
            math.cos(x), math.sin(x)), rel=1e-12)  # f′ = i·e^{ix}
    assert dk.grad(curve, method=method)(complex(x)) == pytest.approx(  # holomorphic in z
        (1j * complex(math.cos(x), math.sin(x)),), rel=1e-6)


def test_the_norms_pullback_of_a_complex_cotangent_uses_its_real_part() -> None:
    """Re(‖z‖·c) with a complex constant c: ‖z‖ is real, so only Re(c) reaches it and the
    gradient is Re(c)·z̄/‖z‖ in JAX's convention (x̄ = ȳ∂f + conj(ȳ∂̄f)). Reverse mode multiplied
    the whole complex cotangent into z̄/‖z‖ ([2, −0.6+0.8j] here; found with the fft records)."""
    z, c = np.array([1 + 2j, 0.5 - 1j]), 1 + 2j
    want = c.real * np.conj(z) / math.sqrt(float(np.sum(np.abs(z) ** 2)))  # by hand
    for method in ("reverse", "forward"):
        (g,) = dk.grad(lambda z: np.real(np.linalg.norm(z) * c), method=method)(z)
        np.testing.assert_allclose(g, want, rtol=1e-14)
