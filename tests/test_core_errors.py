"""Errors say what went wrong and what to do next, with the documented classes."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import ENGINES

import diffkit as dk


def test_error_hierarchy() -> None:
    assert issubclass(dk.ParseError, ValueError)
    assert issubclass(dk.ShapeError, ValueError)
    assert issubclass(dk.MissingRuleError, NotImplementedError)
    for cls in (dk.ParseError, dk.ShapeError, dk.ArityError, dk.DomainError,
                dk.NonDifferentiableError, dk.MissingRuleError):
        assert issubclass(cls, dk.DiffkitError)


@pytest.mark.parametrize("method", ENGINES)
def test_wrong_arity(method: str) -> None:
    f = dk.parse("x*y")
    with pytest.raises(dk.ArityError, match=r"takes 2 input\(s\) \(x, y\), got 1"):
        dk.grad(f, method=method)(1.0)
    with pytest.raises(dk.ArityError, match="got 3"):
        dk.jacobian(f, method=method)(1.0, 2.0, 3.0)
    with pytest.raises(dk.ArityError):
        f(1.0)


def test_wrong_wrt_and_derivative_arity() -> None:
    with pytest.raises(dk.ArityError, match="'z' is not an input"):
        dk.grad("x*y", wrt="z")
    with pytest.raises(dk.ArityError, match="out of range"):
        dk.grad("x*y", wrt=5)
    with pytest.raises(dk.ArityError, match="use grad"):
        dk.derivative("x*y")
    with pytest.raises(ValueError, match="whole number"):
        dk.derivative("x", n=-1)
    with pytest.raises(dk.ArityError, match="one tangent per input"):
        dk.jvp("x*y", (1.0, 2.0), (1.0,))


@pytest.mark.parametrize("method", ENGINES)
def test_shape_mismatch_names_the_shapes(method: str) -> None:
    with pytest.raises(dk.ShapeError, match=r"\(3,\).*\(4,\)"):
        dk.grad(lambda a, b: dk.sum(a * b), method=method)(np.ones(3), np.ones(4))


@pytest.mark.parametrize("method", ENGINES)
def test_matmul_shape_mismatch(method: str) -> None:
    with pytest.raises(dk.ShapeError, match=r"\(2, 3\) and \(4,\)"):
        dk.grad(lambda A, x: dk.sum(A @ x), method=method)(np.ones((2, 3)), np.ones(4))


def test_structural_shape_errors() -> None:
    with pytest.raises(dk.ShapeError, match=r"\(6,\).*\(4,\)"):
        dk.reshape(np.ones(6), (4,))
    with pytest.raises(dk.ShapeError, match=r"\(3,\) to \(2, 4\)"):
        dk.broadcast_to(np.ones(3), (2, 4))
    with pytest.raises(dk.ShapeError, match="axis 2"):
        dk.sum(np.ones(3), axis=2)
    with pytest.raises(dk.ShapeError, match="index 5"):
        dk.grad(lambda x: x[5])(np.ones(3))
    with pytest.raises(dk.ShapeError, match="cotangent"):
        dk.vjp(lambda x: dk.sin(x), np.ones(3))[1](np.ones(4))


@pytest.mark.parametrize("method", ENGINES)
def test_log_of_negative_is_a_domain_error(method: str) -> None:
    with pytest.raises(dk.DomainError, match=r"log\(-1"):
        dk.grad("log(x)", method=method)(-1.0)
    with pytest.raises(dk.DomainError, match="log needs x > 0"):
        dk.parse("log(x)")(-1.0)


@pytest.mark.parametrize("method", ("reverse", "forward", "symbolic"))
def test_sqrt_at_zero_is_not_differentiable(method: str) -> None:
    with pytest.raises(dk.NonDifferentiableError):
        dk.grad("sqrt(x)", method=method)(0.0)
    assert dk.parse("sqrt(x)")(0.0) == 0.0


@pytest.mark.parametrize("text", ["abs(x) * x", "relu(x)", "max(x, 1)", "softplus(x)"])
def test_complex_step_through_a_non_analytic_primitive(text: str) -> None:
    with pytest.raises(dk.MissingRuleError) as info:
        dk.grad(text, method="fd-complex")(0.5)
    msg = str(info.value)
    assert "complex" in msg and "fd-central" in msg and "reverse" in msg


def test_symbolic_refuses_a_million_elements() -> None:
    with pytest.raises(dk.MissingRuleError) as info:
        dk.grad(lambda x: dk.sum(x * x), method="symbolic")(np.ones(10**6))
    assert "method='reverse'" in str(info.value)
    assert isinstance(info.value, NotImplementedError)


@pytest.mark.parametrize(("name", "suggestion"), [("revers", "reverse"), ("symbolc", "symbolic"),
                                                  ("fd-centrl", "fd-central")])
def test_unknown_method_suggests(name: str, suggestion: str) -> None:
    with pytest.raises(ValueError, match=f"did you mean '{suggestion}'"):
        dk.grad("x", method=name)


def test_bad_fd_options() -> None:
    with pytest.raises(ValueError, match="scheme"):
        dk.grad("x", method="fd", scheme="backward")
    with pytest.raises(ValueError, match="positive"):
        dk.grad("x", method="fd", step=-1.0)


@pytest.mark.parametrize("method", ENGINES)
def test_grad_of_a_vector_function_points_to_jacobian(method: str) -> None:
    with pytest.raises(dk.ShapeError, match="jacobian"):
        dk.grad(lambda x: dk.sin(x), method=method)(np.ones(3))
    with pytest.raises(dk.ShapeError, match=r"\(3,\)"):
        dk.grad(lambda x: dk.sin(x), method=method)(np.ones(3))


def test_non_numeric_argument() -> None:
    with pytest.raises(TypeError, match="str"):
        dk.grad("x")("a")
