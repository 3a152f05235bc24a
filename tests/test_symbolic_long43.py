"""The symbolic engine at long double precision, its signed-zero check at any point, and the
cross-entropy Hessian at a tie of the largest logits.

Long double closure constants reached SymPy as float64s: 1e400 as inf and 1e-330 as 0 (so
log(t·1e400)′ came out 0, silently), the long double 0.3 as the float64 0.3, and folded constants
(exp(0.5)) with float64 digits (1e-17 relative: 100–300 ε of long double). References: mpmath at
50 digits, at the exact long double inputs and constants (as_integer_ratio).

``dk.symbolic(f)`` called at a point skipped the signed-zero check that ``dk.grad(...,
method='symbolic')`` makes: copysign(1, ceil(x/2))·y at x = −1 gave ∂/∂y = +1 (NumPy: −1).
"""

import mpmath as mp
import numpy as np
import pytest

import diffkit as dk
from diffkit.errors import MissingRuleError

L, C = np.longdouble, np.clongdouble
EPS = float(np.finfo(L).eps)

long_only = pytest.mark.skipif(np.finfo(L).nmant <= 52,
                               reason="np.longdouble is float64 on this platform")


def exact(v):
    """A long double (or complex long double) as the mpmath number it is."""
    if np.iscomplexobj(v):
        return mp.mpc(exact(L(np.real(v))), exact(L(np.imag(v))))
    p, q = L(v).as_integer_ratio()
    return mp.mpf(p) / q


def rel(got, ref):
    return abs(exact(got) - ref) / abs(ref)


X = L("0.7")
SUB = np.ldexp(L(3), -16440)  # a subnormal long double (x87: below 3.4e-4932)


@long_only
@pytest.mark.parametrize("f, ref", [
    (lambda t: np.log(t * L("1e400")), lambda t: 1 / t),
    (lambda t: t / L("1e-330") * L("1e-330"), lambda t: mp.mpf(1)),
    (lambda t: np.exp(t) * L("1e-330"), lambda t: mp.exp(t) * exact(L("1e-330"))),
    (lambda t: (t * L("1e400")) ** 2 / L("1e400"), lambda t: 2 * t * exact(L("1e400"))),
    (lambda t: t * L("1e-320"), lambda t: exact(L("1e-320"))),
    (lambda t: t * L("1e400"), lambda t: exact(L("1e400"))),
    (lambda t: t * SUB, lambda t: exact(SUB)),  # a subnormal long double
])
def test_long_constants_beyond_float64(f, ref):
    mp.mp.dps = 50
    g = dk.grad(dk.function(f), method="symbolic")(X)
    assert isinstance(g[0], L)
    assert rel(g[0], ref(exact(X))) <= 2 * EPS


@long_only
def test_long_constant_hessian():
    mp.mp.dps = 50
    h = dk.hessian(dk.function(lambda t: np.log(t * L("1e400"))), method="symbolic")(X)
    assert rel(np.asarray(h).reshape(-1)[0], -1 / exact(X) ** 2) <= 2 * EPS


@long_only
@pytest.mark.parametrize("f, ref", [
    (lambda t: (t + L("0.3")) ** 2, lambda t: (t + exact(L("0.3"))) ** 2),
    (lambda t: np.logaddexp(t, L(0.5)), lambda t: mp.log(mp.exp(t) + mp.exp(mp.mpf(0.5)))),
    (lambda t: t ** (L(1) / 3), lambda t: t ** exact(L(1) / 3)),
    # a Python float in a long double graph: NumPy computes exp(0.5) in long double
    (lambda t: np.logaddexp(t, 0.5), lambda t: mp.log(mp.exp(t) + mp.exp(mp.mpf(0.5)))),
    (lambda t: np.exp(t * 0.1), lambda t: mp.exp(t * mp.mpf(0.1))),
])
@pytest.mark.parametrize("jit", [False, True])
def test_long_constants_keep_long_double_digits(f, ref, jit):
    mp.mp.dps = 50
    fn = dk.jit(f) if jit else dk.function(f)
    for n in (1, 2):
        got = dk.derivative(fn, n=n, method="symbolic")(X)
        assert rel(got, mp.diff(ref, exact(X), n)) <= 4 * EPS, n


@long_only
def test_folded_constant_third_derivative_at_symmetry():
    """logaddexp(t, c)‴ is 0 at t = c (it is odd about c); float64 folding gave −7.8e-17."""
    c = L("0.3")
    got = dk.derivative(dk.function(lambda t: np.logaddexp(t, c)), n=3, method="symbolic")(c)
    assert abs(float(got)) <= 4 * EPS


CZ = C(L("0.7") - 1j * L("0.4"))
CC = C(L(1) / 3 + 1j * L("0.7"))


@long_only
@pytest.mark.parametrize("f, ref, orders", [
    (lambda z: z * CC, lambda z: z * exact(CC), (1,)),  # (its second derivative is 0)
    (lambda z: np.exp(CC * z), lambda z: mp.exp(exact(CC) * z), (1, 2)),
    (lambda z: np.log(z) * CC, lambda z: mp.log(z) * exact(CC), (1, 2)),
    (lambda z: np.sqrt(z + CC), lambda z: mp.sqrt(z + exact(CC)), (1, 2)),
    (lambda z: z**CC, lambda z: mp.power(z, exact(CC)), (1, 2)),
])
def test_complex_long_constants(f, ref, orders):
    mp.mp.dps = 50
    fn = dk.function(f)
    for n in orders:
        got = dk.derivative(fn, n=n, method="symbolic")(CZ)
        assert isinstance(got, C)
        assert rel(got, mp.diff(ref, exact(CZ), n)) <= 8 * EPS, n


def test_float64_program_has_no_long_doubles():
    """The float64 program is as before: Python floats, no long double constants."""
    d = dk.symbolic(lambda t: np.logaddexp(t, 0.5) + np.log(t * 1e300), 0.7)
    assert "longdouble" not in d.source
    assert d([0.7])[0, 0] == pytest.approx(1 / (1 + np.exp(0.5 - 0.7)) + 1 / 0.7, rel=1e-15)


def _copysign_ceil(x, y):
    return dk.copysign(1.0, dk.ceil(x * 0.5)) * y


@pytest.mark.parametrize("point", [(), (3.0, 2.0)])
def test_symbolic_derivative_call_checks_signed_zeros(point):
    """ceil(−0.5) is −0.0 and copysign(1, −0.0) = −1 (NumPy); the fast code's math.ceil gave
    the int 0, so +1. At that point the symbolic engine refuses by name, as dk.grad does."""
    assert np.copysign(1.0, np.ceil(-0.5)) == -1.0  # the value the derivative must not miss
    sd = dk.symbolic(_copysign_ceil, *point)
    with pytest.raises(MissingRuleError, match="sign of a zero"):
        sd([-1.0, 2.0])
    with pytest.raises(MissingRuleError, match="sign of a zero"):
        dk.grad(_copysign_ceil, method="symbolic")(-1.0, 2.0)
    # where no zero reaches copysign, the derivative is NumPy's: ∂/∂y = copysign(1, ceil(x/2))
    for x in (-3.0, 3.0):
        want = [0.0, float(np.copysign(1.0, np.ceil(x * 0.5)))]
        assert sd([x, 2.0]).reshape(-1).tolist() == want


@pytest.mark.parametrize("z, label", [([5.0, 5.0, 0.0], 0), ([40.0, 40.0, 0.0], 1),
                                      ([40.0, 40.0, 0.0], 2), ([3.0, -1.0, 3.0], 1)])
def test_cross_entropy_hessian_at_a_tie(z, label):
    """−log softmax(z)[label] is smooth where the two largest logits tie: its Hessian is
    diag(p) − ppᵀ (mpmath). Its SymPy form's max z (a shift the value does not depend on) had
    Max′'s kink there, so the symbolic Hessian refused."""
    from diffkit import nn

    mp.mp.dps = 50
    e = [mp.exp(mp.mpf(v)) for v in z]
    p = [v / mp.fsum(e) for v in e]
    want = np.array([[float((p[i] if i == j else 0) - p[i] * p[j]) for j in range(3)]
                     for i in range(3)])
    f = dk.function(lambda x: nn.cross_entropy(x, np.array([label])))
    got = np.asarray(dk.hessian(f, method="symbolic")(np.array([z]))).reshape(3, 3)
    np.testing.assert_allclose(got, want, rtol=1e-13, atol=1e-300)
    g = np.asarray(dk.grad(f, method="symbolic")(np.array([z]))).reshape(-1)
    onehot = np.eye(3)[label]
    np.testing.assert_allclose(g, [float(v) for v in p] - onehot, rtol=1e-13, atol=1e-300)
