"""dk.compare tells the truth: each number and label checked against a hand-computed reference."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

import diffkit as dk
from diffkit.comparison import exact_derivative
from diffkit.engines.finite import FiniteDifferenceEngine

FAST = {"repeat": 1, "budget": 0.001}


def test_complex_point_is_not_compared_at_its_real_part() -> None:
    # d/dz z² = 2z = 2 + 4i at z = 1 + 2i; the exact reference once dropped the imaginary part
    cmp = dk.compare("x**2", 1 + 2j, methods=["reverse", "forward"], **FAST)
    np.testing.assert_allclose(cmp.reference, [2 + 4j], rtol=1e-15)
    assert not cmp.reference_kind.startswith("exact")
    for row in cmp.rows:
        np.testing.assert_allclose(row.value, [2 + 4j], rtol=1e-15)
        assert row.abs_error < 1e-14
    assert "2+4j" in cmp.to_text()
    assert json.loads(cmp.to_json())["reference"] == [{"real": 2.0, "imag": 4.0}]
    with pytest.raises(ValueError, match="complex"):
        exact_derivative(dk.parse("x**2"), [np.complex128(1 + 2j)])


def test_fd_step_note_is_the_float32_step_taken() -> None:
    cmp = dk.compare("sin(x)", np.float32(1.0), methods=["fd-central"], **FAST)
    h = float(np.finfo(np.float32).eps) ** (1 / 3)  # 0.0049, not float64's 6.1e-06
    assert cmp.row("fd-central").notes == f"h = {h:.2g}"


def test_zero_reference_has_no_finite_relative_error() -> None:
    # forward difference of x² at 0: ((0 + h)² − 0)/h = h, against an exact derivative of 0
    cmp = dk.compare("x**2", 0.0, methods=["fd-forward", "reverse"], **FAST)
    fwd = cmp.row("fd-forward")
    h = math.sqrt(np.finfo(float).eps)
    assert fwd.abs_error == pytest.approx(h, rel=1e-6)
    assert fwd.rel_error == math.inf  # not the absolute error under the relative heading
    assert cmp.row("reverse").rel_error == 0.0
    text = cmp.to_text().splitlines()
    assert "inf" in next(line for line in text if line.startswith("fd-forward"))
    assert json.loads(cmp.to_json())["rows"][0]["rel_error"] is None


def test_richardson_note_names_the_step_its_answer_came_from() -> None:
    # sin(300x): the tableau from h0 = 0.05 does not converge, and the engine restarts at 0.05/16
    cmp = dk.compare("sin(300*x)", 1.0, methods=["fd-richardson"], **FAST)
    row = cmp.row("fd-richardson")
    assert row.notes.startswith("h0 = 0.0031,")
    fixed = FiniteDifferenceEngine(scheme="richardson", step=0.05 / 16)
    _, jac = fixed.jacobian(dk.parse("sin(300*x)"), [np.float64(1.0)], [0])
    assert row.value[0] == jac[0, 0]
    assert abs(row.value[0] - 300 * math.cos(300.0)) < 1e-10
    # a converging tableau keeps the default step
    plain = dk.compare("ln(x1) + x1*x2 - sin(x2)", 2.0, 5.0, methods=["fd-richardson"], **FAST)
    assert plain.rows[0].notes.startswith("h0 = 0.1…0.25,")


def test_skipped_row_names_the_error_and_the_method() -> None:
    # d/dx exp(x²) = 2x·exp(x²) ≈ 5.3e308 at 26.6: past float64, so every method must refuse
    cmp = dk.compare("exp(x^2)", 26.6, methods=["fd-forward", "reverse"], **FAST)
    fd = cmp.row("fd-forward").skipped
    assert fd.startswith("NumericOverflowError: ") and "method='fd-forward'" in fd
    assert "object at" not in fd
    assert cmp.row("reverse").skipped.startswith("NonDifferentiableError: ")
    assert cmp.row("fd-forward").value is None and cmp.row("fd-forward").abs_error is None


def test_values_and_counts_match_dk_grad_and_counted_calls() -> None:
    calls = [0]

    def f(a, b, c):
        calls[0] += 1
        return dk.sin(a) * b + c * c

    point = (1.0, 2.0, 3.0)
    exact = [2 * math.cos(1.0), math.sin(1.0), 6.0]
    cmp = dk.compare(f, *point, **FAST)
    np.testing.assert_allclose(cmp.reference, exact, rtol=1e-15)
    for row in cmp.rows:
        np.testing.assert_array_equal(row.value, dk.grad(f, method=row.method)(*point))
        assert row.abs_error == pytest.approx(np.max(np.abs(row.value - exact)), abs=1e-16)
    # every call of f: the value (its trace), a plain call at the point that checks f repeats
    # it, two plain calls at one stencil point that check f repeats there too, then 2n
    # (central), 2n·5 levels (Richardson) or n steps, with that plain call as their base, and
    # the trace the one-sided check reads (forward)
    for method, evals in (("fd-central", 10), ("fd-richardson", 34), ("fd-forward", 7)):
        calls[0] = 0
        dk.grad(f, method=method)(*point)
        assert calls[0] == evals == cmp.row(method).evaluations
    assert cmp.row("forward").sweeps == 3 and cmp.row("reverse").sweeps == 1


def test_fd_error_curve_matches_truncation_by_hand() -> None:
    from diffkit.comparison import _reference
    from diffkit.plots import _fd_error

    fn = dk.parse("sin(x)")
    xs = [np.float64(1.0)]
    ref, _ = _reference(fn, xs, scalar=True)
    h = 1e-3
    central = _fd_error(FiniteDifferenceEngine(scheme="central", step=h), fn, xs, [0], ref)
    forward = _fd_error(FiniteDifferenceEngine(scheme="forward", step=h), fn, xs, [0], ref)
    assert central == pytest.approx(h * h / 6 * math.cos(1.0), rel=1e-5)
    assert forward == pytest.approx(h / 2 * math.sin(1.0), rel=1e-3)


def test_fd_plot_marks_the_float32_step() -> None:
    pytest.importorskip("matplotlib")
    fig = dk.plots.plot_fd_error("sin(x)", np.float32(1.0), steps=[1e-3, 1e-2],
                                 schemes=["central"])
    (marker,) = [line for line in fig.axes[0].lines if line.get_marker() == "o"]
    h = float(np.finfo(np.float32).eps) ** (1 / 3)
    assert marker.get_xdata()[0] == pytest.approx(h)


@pytest.mark.parametrize(("text", "x", "errors"), [
    ("sqrt(x)", 0.0, ("NonDifferentiableError", "DomainError")),  # not differentiable at 0
    ("exp(x^2)", 26.6, ("NonDifferentiableError", "NumericOverflowError")),  # overflows
])
def test_a_point_without_a_finite_derivative_still_compares_the_methods(text, x, errors):
    """Where no finite derivative exists, the comparison used to stop with the reference's error
    (sqrt at 0) or to call an infinite value "exact" (exp(x²) at 26.6, every row skipped): now the
    reference is none, said in the header, and every row shows that method's own named error —
    the comparison a user asks for at such a point. Its JSON says null; the FD-error plot, which
    needs a reference, is a named error."""
    from diffkit import plots

    cmp = dk.compare(text, x)
    assert cmp.reference is None and cmp.reference_kind.startswith("none: no finite derivative")
    assert len(cmp.rows) >= 5
    for row in cmp.rows:
        assert row.value is None and row.abs_error is None and row.rel_error is None
        assert row.skipped.split(":")[0] in errors, row.skipped
    shown = str(cmp)
    assert "reference: none" in shown and "=" not in shown.splitlines()[1]
    assert json.loads(cmp.to_json())["reference"] is None
    with pytest.raises(dk.NonDifferentiableError, match="no error to plot against"):
        plots.plot_fd_error(text, x)


# dk.compare printed NumPy's "overflow encountered in scalar divide" on stderr while building
# its reference for x/y at y = 1e-300 (the symbolic trace's float64 partials overflow); the
# table already says there is no finite reference
def test_compare_reference_does_not_leak_numpy_warnings(recwarn):
    cmp = dk.compare("x/y", 1.0, 1e-300, methods=["forward"])
    assert not [w for w in recwarn if issubclass(w.category, RuntimeWarning)]
    assert cmp.reference is None  # ∂/∂y = -x/y² overflows float64
