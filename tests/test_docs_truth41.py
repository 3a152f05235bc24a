"""What a documentation hunt found: dk.sum_to's shape check, the fd warning's advice."""

import warnings

import numpy as np
import pytest

import diffkit as dk

X = np.arange(6.0).reshape(2, 3)


@pytest.mark.parametrize("shape, expected", [
    ((1, 3), [[3.0, 5.0, 7.0]]), ((3,), [3.0, 5.0, 7.0]), ((2, 1), [[3.0], [12.0]]), ((), 15.0)])
def test_sum_to_sums_a_broadcast_back(shape, expected):
    np.testing.assert_array_equal(dk.sum_to(X, shape), expected)


@pytest.mark.parametrize("x, shape", [(X, (3, 2)), (X, (4,)), (np.arange(6.0), (2, 3)),
                                      (X, (2, 3, 1))])
def test_sum_to_refuses_a_shape_that_does_not_broadcast(x, shape):
    # (3, 2) and (6,) -> (2, 3) have the right sizes: they were reshaped silently
    with pytest.raises(dk.ShapeError, match=r"does not broadcast to the array's shape"):
        dk.sum_to(x, shape)


def _warning(method):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        dk.grad(lambda x: 1 / x, method=method)(1e-6)
    texts = [str(w.message) for w in caught if "lies far" in str(w.message)]
    assert texts, f"{method} did not warn"
    return texts[0]


def test_fd_warning_does_not_suggest_the_scheme_in_use():
    assert "fd-central" not in _warning("fd")  # fd is the central scheme
    assert "'fd-richardson'" in _warning("fd")
    assert "fd-central" in _warning("fd-forward")


def test_compiled_gradient_names_an_overflowing_value_as_dk_grad_does():
    cg = dk.compile_gradient(dk.parse("x*y"), 1.0, 1.0)
    with pytest.raises(dk.NumericOverflowError, match="overflows"):
        cg(1e308, 5.0)
    with pytest.raises(dk.NumericOverflowError):
        dk.value_and_grad(dk.parse("x*y"))(1e308, 5.0)


def test_complex_step_on_a_parsed_function_does_not_blame_formatting():
    # (1 − cos x)/x² at 1e-16: Re f(x + ih) rounds away from f(x); a parsed function neither
    # formats its input nor branches on its type
    with pytest.raises(dk.NotRepeatableError) as caught:
        dk.grad(dk.parse("(1 - cos(x))/x^2"), method="fd-complex")(1e-16)
    message = str(caught.value)
    assert "round differently" in message and "formats its input" not in message


@pytest.mark.parametrize("name", ["solve_triangular", "cho_solve"])
def test_scipy_function_behind_a_decorator_is_named(name):
    sl = pytest.importorskip("scipy.linalg")
    S = np.triu(np.ones((3, 3))) + np.eye(3)
    call = {"solve_triangular": lambda b: sl.solve_triangular(S, b),
            "cho_solve": lambda b: sl.cho_solve((np.linalg.cholesky(S @ S.T), True), b)}[name]
    with pytest.raises(dk.TracingError, match=rf"scipy\.linalg\.{name} converts its input"):
        dk.jacobian(call)(np.ones(3))


def test_richardson_warning_reads_as_a_sentence():
    f = dk.function(lambda x: np.sqrt(np.abs(x) + 1e-14) * np.sign(x) + 1e-3 * np.sin(1e6 * x))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        dk.grad(f, method="fd-richardson")(1e-9)
    text = " ".join(str(w.message) for w in caught)
    assert "Pass a smaller step= or use an AD method" in text and "use or" not in text


def test_scipy_quad_reading_a_traced_float_is_named():
    si = pytest.importorskip("scipy.integrate")
    with pytest.raises(dk.TracingError, match=r"scipy\.integrate\.quad takes float\(\)"):
        dk.grad(lambda x: si.quad(lambda t: t * x[0], 0, 1)[0])(np.array([1.1]))


def test_a_huge_number_literal_is_named_briefly():
    with pytest.raises(dk.ParseError, match=r"too large for a float") as caught:
        dk.parse("x+" + "1" * 9990)
    assert len(str(caught.value)) < 300 and "9990 characters" in str(caught.value)
    with pytest.raises(dk.ParseError, match=r"the number 1e400 is too large"):
        dk.parse("x+1e400")
