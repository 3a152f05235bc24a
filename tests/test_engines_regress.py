"""Regressions of the engines and the API (hunt 3): each test asserts the right behaviour against
an independent reference (mpmath at 50+ digits or a hand formula)."""

import mpmath as mp
import numpy as np
import pytest

import diffkit as dk


# fd-complex on a real input whose output is complex: Im f(x+ih)/h mixes f's own imaginary part
# (~1e20, silently). Refused by name; fd-central still answers diag(c) / 1j·exp(1j·x) (hand).
@pytest.mark.parametrize("case", ["x*c", "exp(1j x)", "x @ C"])
def test_fd_complex_complex_valued_output_is_not_garbage(case):
    c = np.array([1 + 2j, 3 - 1j])
    C = np.array([[1 + 1j, 2.0], [0.5j, -1.0]])
    x = np.array([0.5, 1.5])
    f, ref = {"x*c": (lambda x: x * c, np.diag(c)),
              "exp(1j x)": (lambda x: dk.exp(1j * x), np.diag(1j * np.exp(1j * x))),
              "x @ C": (lambda x: x @ C, C.T)}[case]
    with pytest.raises(dk.MissingRuleError, match="real-valued function of real inputs"):
        dk.jacobian(f, method="fd-complex")(x)
    with pytest.raises(dk.MissingRuleError, match="real-valued function of real inputs"):
        dk.jvp(f, (x,), (np.ones(2),), method="fd-complex")
    np.testing.assert_allclose(dk.jacobian(f, method="fd-central")(x), ref, atol=1e-8)


def test_fd_complex_real_output_still_works():
    x = np.array([0.5, 1.5])
    J = dk.jacobian(lambda x: dk.sin(x) * x, method="fd-complex")(x)
    np.testing.assert_allclose(J, np.diag(np.cos(x) * x + np.sin(x)), rtol=1e-14)


def _tanh_derivative(n: int, x: float) -> float:
    """dⁿ tanh/dxⁿ at x by mpmath, with enough digits that 1 − tanh² keeps 20 of them."""
    with mp.workdps(60 + int(abs(x))):
        return float(mp.diff(mp.tanh, mp.mpf(x), n))


# symbolic tanh' = 1 - tanh(x)^2 cancels: 0 at x = 20 (true 1.6993e-17), 1.7e-4 relative at 15
@pytest.mark.parametrize("x", [15.0, 20.0])
def test_symbolic_tanh_derivative_large_argument(x):
    with mp.workdps(50):
        ref = float(mp.sech(x) ** 2)
    v = float(dk.derivative(lambda t: np.tanh(t), 1, method="symbolic")(x))
    assert abs(v - ref) <= 1e-12 * ref


@pytest.mark.parametrize("n", [1, 2, 3, 4])
@pytest.mark.parametrize("x", [0.5, 5.0, 15.0, 20.0, -20.0, 300.0])
def test_symbolic_tanh_derivatives_of_every_order_against_mpmath(n, x):
    ref = _tanh_derivative(n, x)
    sym = float(dk.derivative(lambda t: np.tanh(t), n, method="symbolic")(x))
    rev = float(dk.derivative(lambda t: np.tanh(t), n, method="reverse")(x))
    assert abs(sym - ref) <= 1e-13 * abs(ref)
    assert abs(sym - rev) <= 1e-13 * abs(ref)


def test_tanh_from_sympy_still_maps_to_the_primitive():
    import sympy as sp

    t = sp.Symbol("t")
    (g,) = dk.grad(dk.from_sympy(sp.tanh(t)), method="symbolic")(20.0)
    with mp.workdps(50):
        assert abs(g - float(mp.sech(20) ** 2)) <= 1e-12 * float(mp.sech(20) ** 2)


# dk.grad(method='symbolic'/'fd-*') of an eager Tensor that requires grad: those methods answer
# numbers, which would cut x out of the outer graph, so the API refuses by name (owner's
# decision); reverse and forward nest and keep it.
@pytest.mark.parametrize("method", ["symbolic", "fd-central", "fd-forward", "fd-complex",
                                    "fd-richardson"])
def test_grad_of_requires_grad_tensor_input_every_method(method):
    x = dk.tensor(np.array([1.0, 2.0]), requires_grad=True)
    msg = (f"input 'x' is a Tensor that requires grad on the eager tape: method='{method}' "
           "answers numbers that would cut it out of that graph")
    f = lambda x: (x * x).sum()
    for call in (lambda: dk.grad(f, method=method)(x),
                 lambda: dk.jacobian(lambda x: x * x, method=method)(x),
                 lambda: dk.hessian(f, method=method)(x),
                 lambda: dk.jvp(f, (x,), (np.ones(2),), method=method)):
        with pytest.raises(dk.TracingError, match=msg.replace("(", r"\(")) as info:
            call()
        assert "x.detach()" in str(info.value)
    (g,) = dk.grad(f, method=method)(x.detach())  # the numbers alone are fine
    np.testing.assert_allclose(g, [2.0, 4.0], rtol=1e-6)


@pytest.mark.parametrize("method", ["reverse", "forward"])
def test_grad_of_requires_grad_tensor_nests_in_the_eager_graph(method):
    x = dk.tensor(np.array([1.0, 2.0]), requires_grad=True)
    (g,) = dk.grad(lambda x: (x * x).sum(), method=method)(x)
    np.testing.assert_allclose(np.asarray(g.value), [2.0, 4.0])
    loss = g.sum() + x.sum()  # d/dx (2x + x) = 3 (hand)
    loss.backward()
    np.testing.assert_allclose(x.grad, [3.0, 3.0])


def test_compare_reads_the_numbers_of_a_requires_grad_tensor():
    x = dk.tensor(np.array([1.0, 2.0]), requires_grad=True)
    cmp = dk.compare(lambda x: (x * x).sum(), x, methods=["fd-central", "symbolic", "reverse"])
    for row in cmp.rows:
        assert row.skipped is None, row.skipped
        np.testing.assert_allclose(row.value, [2.0, 4.0], rtol=1e-8)
    assert cmp.to_dict()["point"] == [[1.0, 2.0]]


# FD hessian multiplied an explicit step= by max(1,|x|) while grad/derivative use it as given
def test_fd_hessian_explicit_step_is_absolute_like_grad():
    f = lambda x: np.sin(x[0]) * x[1]
    x = np.array([100.0, 2.0])
    ref = np.array([[-2 * np.sin(100.0), np.cos(100.0)], [np.cos(100.0), 0.0]])
    H = np.asarray(dk.hessian(f, method="fd", step=1e-2)(x))
    # with an absolute step 1e-2 the central second difference is accurate to ~1e-5
    np.testing.assert_allclose(H, ref, atol=1e-3)
    # exactly the hand formula with h = 1e-2 on both axes
    h = 1e-2
    d00 = (f(x + [2 * h, 0]) - 2 * f(x) + f(x - [2 * h, 0])) / (4 * h * h)
    d01 = (f(x + [h, h]) - f(x + [h, -h]) - f(x + [-h, h]) + f(x - [h, h])) / (4 * h * h)
    np.testing.assert_allclose(H[0, 0], d00, rtol=1e-9)
    np.testing.assert_allclose(H[0, 1], d01, rtol=1e-9)
