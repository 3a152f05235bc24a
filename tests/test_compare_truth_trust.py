"""What diffkit reports about its own methods is true (ninth hunt, front h9b).

Every expected number comes from mpmath (at 60+ digits, computed in the test) or from a hand
derivation written next to it; each test failed before its fix.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys

import mpmath as mp
import numpy as np
import pytest
import scipy.special as sc

import diffkit as dk
from diffkit.errors import NonDifferentiableError, TracingError

MP = mp.MPContext()
MP.dps = 60
FAST = {"repeat": 1, "budget": 1e-4}


def _mp_derivative(f, x: float, dps: int = 60) -> float:
    """f'(x) at the exact binary value of x, by mpmath at `dps` digits."""
    ctx = mp.MPContext()
    ctx.dps = dps
    return float(ctx.diff(lambda t: f(ctx, t), ctx.mpf(x)))


# ----- F1: the symbolic engine keeps expm1, log1p and xlog1py as functions --------------------


# rel: 10x what reverse mode reaches on the same float64 formula (its own cancellation of
# exp(x)/x − expm1(x)/x²: 3.6e-8 at 1e-8, 7.3e-11 at 1e-6, 3.2e-13 for log1p(x)/x at 1e-3)
@pytest.mark.parametrize(("expr", "fm", "x", "rel"), [
    ("expm1(x)/x", lambda c, t: c.expm1(t) / t, 1e-8, 1e-6),
    ("log1p(x)/x", lambda c, t: c.log1p(t) / t, 1e-8, 1e-6),
    ("expm1(x)/x", lambda c, t: c.expm1(t) / t, 1e-6, 1e-9),
    ("log1p(x)/x", lambda c, t: c.log1p(t) / t, 1e-6, 1e-9),
    ("expm1(x)/x", lambda c, t: c.expm1(t) / t, 1e-3, 1e-11),
    ("log1p(x)/x", lambda c, t: c.log1p(t) / t, 1e-3, 1e-11),
])
def test_symbolic_gradient_of_expm1_log1p_keeps_its_digits(expr, fm, x, rel):
    """expm1(x) was translated as exp(x) − 1 and log1p(x) as log(1 + x), evaluated in float64:
    wherever the derivative uses their *values* it cancelled — d/dx expm1(x)/x at 1e-8 was
    1.6077 (true 0.5), log1p(x)/x gave +0.1077 (true −0.5), and at 1e-6 and 1e-3 they were
    7.6e-5 and 2.2e-10 relatively off."""
    true = _mp_derivative(fm, x)
    got = dk.grad(dk.parse(expr), method="symbolic")(x)[0]
    assert got == pytest.approx(true, rel=rel, abs=0)


def test_symbolic_gradient_of_numpy_expm1_user_function():
    """The same through a plain NumPy function: 1.6077 for 0.5 at 1e-8."""
    true = _mp_derivative(lambda c, t: c.expm1(t) / t, 1e-8)
    got = dk.grad(lambda x: np.expm1(x) / x, method="symbolic")(1e-8)[0]
    assert got == pytest.approx(true, rel=1e-6, abs=0)  # reverse mode: 3.6e-8


def test_symbolic_gradient_of_xlog1py_in_x():
    """xlog1py(x, y) was x·log(1 + y): ∂/∂x = log1p(y) lost 8 digits at y = 1e-9
    (2.00000008e-9 for d/dx xlog1py(x, x) = log1p(x) + x/(1 + x) = 1.9999999985e-9)."""
    true = _mp_derivative(lambda c, t: t * c.log1p(t), 1e-9)
    got = dk.grad(lambda x: sc.xlog1py(x, x), method="symbolic")(1e-9)[0]
    assert got == pytest.approx(true, rel=1e-9, abs=0)


@pytest.mark.parametrize(("f", "point"), [
    (lambda x, y: dk.softplus(x) * y, (-40.0, 1.0)),
    (lambda x, y: dk.logaddexp(x, 0.0) * y, (-40.0, 1.0)),
])
def test_symbolic_log1p_siblings_keep_their_digits(f, point):
    """softplus and logaddexp were written log(1 + e^−|·|): at x = −40, log(1 + 4.2e-18) is 0 in
    float64, so ∂/∂y of softplus(x)·y was 0 for log1p(e^−40) = 4.248e-18."""
    true = float(MP.log1p(MP.exp(MP.mpf(point[0]))))
    got = dk.grad(f, method="symbolic")(*point)[1]
    assert got == pytest.approx(true, rel=1e-14, abs=0)


def test_symbolic_forms_of_expm1_and_log1p():
    """The derivative's code calls numpy.expm1/log1p, its LaTeX names them, it keeps its digits
    at ordinary points too, and SymPy's own expm1/log1p (sympy.codegen.cfunctions) are accepted
    by from_sympy."""
    import sympy as sp
    from sympy.codegen.cfunctions import expm1, log1p

    f = dk.parse("expm1(x)*log1p(x)")
    d = dk.symbolic(f)
    assert "numpy.expm1(" in d.source and "numpy.log1p(" in d.source
    assert r"\operatorname{expm1}" in d.latex()[0] and r"\operatorname{log1p}" in d.latex()[0]
    for x in (0.7, 3.0, -0.4):
        true = _mp_derivative(lambda c, t: c.expm1(t) * c.log1p(t), x)
        assert dk.grad(f, method="symbolic")(x)[0] == pytest.approx(true, rel=1e-14, abs=0)
    x = sp.Symbol("x")
    g = dk.grad(dk.from_sympy(expm1(x) / x + log1p(x)), method="symbolic")(1e-8)[0]
    true = _mp_derivative(lambda c, t: c.expm1(t) / t + c.log1p(t), 1e-8)
    assert g == pytest.approx(true, rel=1e-6, abs=0)


# ----- F2: the "exact" reference of dk.compare is exact to the digits it claims ----------------


def _reference(cmp: dk.Comparison) -> float:
    return float(np.reshape(cmp.reference, -1)[0])


def test_compare_exact_reference_expm1_over_x():
    """The reference claimed 'mpmath at 50 digits' but froze each assignment at 60 digits: at
    1e-30 it was 0.5333 for 0.5 (at 1e-60: 6.65e58), so fd-central (right) looked 6.7 % off."""
    true = _mp_derivative(lambda c, t: c.expm1(t) / t, 1e-30)  # 0.5
    cmp = dk.compare("expm1(x)/x", 1e-30, methods=["fd-central"], **FAST)
    assert cmp.reference_kind.startswith("exact")
    assert _reference(cmp) == pytest.approx(true, rel=1e-12, abs=0)
    assert cmp.row("fd-central").abs_error < 1e-6  # fd-central answers 0.50000000000261


@pytest.mark.parametrize("x", [1e-16, 1e-20, 1e-40])
def test_compare_exact_reference_one_minus_cos_over_x_squared(x):
    """A cancellation in the user's own formula: d/dx (1 − cos x)/x² = −x/12 (to x³) was
    +8.02e-14 at 1e-16 (true −8.33e-18) and −0.070 at 1e-20. The reference now says at which
    two precisions it agreed."""
    true = _mp_derivative(lambda c, t: (1 - c.cos(t)) / t**2, x, dps=400)
    cmp = dk.compare("(1-cos(x))/x**2", x, methods=["reverse"], **FAST)
    assert re.fullmatch(r"exact \(SymPy program evaluated with mpmath at (\d+) digits, "
                        r"agreeing with (\d+) to 30\)", cmp.reference_kind), cmp.reference_kind
    assert _reference(cmp) == pytest.approx(true, rel=1e-12, abs=0)


@pytest.mark.parametrize(("expr", "x"), [("(1-cos(x))/x**2", 1e-70), ("(exp(x)-1)/x", 1e-130)])
def test_compare_reference_that_does_not_settle_says_so(expr, x):
    """cos(1e-70) is exactly 1 at 60 and at 120 digits (and exp(1e-130) − 1 exactly 0), so two
    evaluations agreed on a wrong 'exact' figure (1e70 for −8.3e-72, and 1e130 for 0.5). Now the
    rounded values are moved by a few units of their last digit, the evaluations disagree up to
    480 digits, and the header says there is no exact reference."""
    cmp = dk.compare(expr, x, methods=["reverse"], **FAST)
    assert cmp.reference_kind.startswith("reverse mode in float64 (no exact reference: the "
                                         "exact derivative did not settle"), cmp.reference_kind


def test_compare_exact_reference_log_expm1():
    """d/dx log(expm1(x)) = exp(x)/expm1(x) ≈ 1/x: at 1e-50 the reference was
    1.0000000000056e50, against which reverse mode (1e50, right) got a relative error of
    5.6e-12."""
    true = _mp_derivative(lambda c, t: c.log(c.expm1(t)), 1e-50)
    cmp = dk.compare("log(expm1(x))", 1e-50, methods=["reverse"], **FAST)
    assert _reference(cmp) == pytest.approx(true, rel=1e-14, abs=0)
    assert cmp.row("reverse").rel_error < 1e-15


def test_compare_exact_reference_keeps_constants_exact():
    """d/dx 0.1**x·10**x = 0.1ˣ10ˣ(ln 0.1 + ln 10): with 0.1's binary value, ln 0.1 + ln 10 is
    5.55e-17 — a cancellation of SymPy's 18-digit ln(Float(0.1)) gave 5.70e-17 (2.7 % off),
    called exact at every precision."""
    true = _mp_derivative(lambda c, t: c.mpf(0.1) ** t * c.mpf(10) ** t, 2.0)  # 5.5511151e-17
    cmp = dk.compare(lambda x: 0.1**x * 10.0**x, 2.0, methods=["reverse"], **FAST)
    assert cmp.reference_kind.startswith("exact")
    assert _reference(cmp) == pytest.approx(true, rel=1e-12, abs=0)


# ----- F3: traces name the error where every method names it -------------------------------------


@pytest.mark.parametrize(("expr", "x"), [("sqrt(x)", 0.0), ("x**0.5", 0.0), ("asin(x)", 1.0),
                                         ("cbrt(x)", 0.0)])
@pytest.mark.parametrize("mode", ["reverse", "forward"])
def test_trace_of_infinite_derivative_is_named(expr, x, mode):
    """dk.grad of sqrt at 0 is a NonDifferentiableError with every method (design.md), but
    dk.trace answered t.derivative = inf (the CLI printed x̄ = inf and exited 0)."""
    f = dk.parse(expr)
    with pytest.raises(NonDifferentiableError):
        dk.grad(f, method=mode)(x)  # what the engines say
    name = {"x**0.5": "pow", "asin(x)": "arcsin"}.get(expr, expr.split("(")[0])
    with pytest.raises(NonDifferentiableError, match=f"^{name} is not differentiable at"):
        dk.trace(f, x, mode=mode)


@pytest.mark.parametrize("mode", ["reverse", "forward"])
def test_trace_inf_minus_inf_is_named(mode):
    """dk.trace("sqrt(x) - sqrt(x)", 0) raised a bare FloatingPointError from the sweep (the
    CLI: 'internal error ... please report this'); dk.grad names it NonDifferentiableError."""
    with pytest.raises(NonDifferentiableError, match="^sqrt is not differentiable at 0"):
        dk.trace(dk.parse("sqrt(x) - sqrt(x)"), 0.0, mode=mode)
    # an infinite partial that meets a zero derivative is no error (0·∞ = 0): relu(x)**0.5 at
    # −1 is constant near −1, derivative 0, as dk.grad answers
    t = dk.trace(dk.parse("relu(x)**0.5"), -1.0, mode=mode)
    assert np.ravel(t.derivative).tolist() == [0.0]


@pytest.mark.parametrize("expr", ["sqrt(x)", "sqrt(x)-sqrt(x)"])
def test_cli_trace_of_infinite_derivative_is_one_named_error(expr):
    run = subprocess.run([sys.executable, "-m", "diffkit", "trace", expr, "--at", "x=0"],
                         capture_output=True, text=True, timeout=120, check=False)
    assert run.returncode == 1, run.stdout
    # one line, naming sqrt at 0 (where two infinite derivatives meet as ∞ − ∞, it says so)
    err = run.stderr.strip()
    assert "\n" not in err and err.startswith(
        "diffkit trace: error: sqrt is not differentiable at 0: its local derivative is not "
        "finite there"), err


# ----- F4: the FD-error plot marks Richardson's answer at the step it came from ----------------


def test_plot_fd_error_richardson_marker_at_the_step_used():
    """The marker was drawn at the default step (h = 50 for sin(50x) at 1000, with the answer's
    5e-14 error), though the answer came from a tableau restarted 4096× smaller (the table's
    h0 = 0.012)."""
    pytest.importorskip("matplotlib")
    cmp = dk.compare("sin(50*x)", 1000.0, methods=["fd-richardson"], **FAST)
    h0 = float(re.search(r"h0 = ([0-9.e+-]+)", cmp.row("fd-richardson").notes).group(1))
    assert h0 == pytest.approx(0.05 * 1000 / 4096, rel=0.05)  # the note has 2 digits
    fig = dk.plots.plot_fd_error("sin(50*x)", 1000.0, steps=[1e-3, 1e-2],
                                 schemes=("richardson",))
    marker = fig.axes[0].get_lines()[1]  # the curve, then the automatic answer's marker
    assert float(marker.get_xdata()[0]) == pytest.approx(h0, rel=0.05, abs=0)


# ----- F5: no "no finite derivative" where diffkit only lacks a rule -----------------------------


@pytest.mark.parametrize(("f", "x", "true"), [
    (lambda x: sc.ellipk(x), 0.3, lambda c, t: c.ellipk(t)),
    (lambda x: sc.zeta(x, 1.0), 3.0, lambda c, t: c.zeta(t)),
    (lambda x: sc.expi(x), 1.3, lambda c, t: c.ei(t)),
])
def test_compare_header_does_not_deny_a_finite_derivative(f, x, true):
    """For a function diffkit has no rule for, the header said 'none: no finite derivative here'
    though the derivative is finite (Ei′(1.3) = e^1.3/1.3) and the fd rows computed it."""
    cmp = dk.compare(f, x, methods=["fd-central"], **FAST)
    assert cmp.reference is None
    assert cmp.reference_kind.startswith("none: no reference, diffkit has no rule"), \
        cmp.reference_kind
    assert "MissingRuleError" in cmp.reference_kind
    assert cmp.row("fd-central").value[0] == pytest.approx(_mp_derivative(true, x), rel=1e-8)


# ----- F6: compare takes wrt=, and integer labels reach the function as given --------------------


def _loss(w, labels):
    return np.sum(w[labels] ** 2)


@pytest.mark.parametrize("how", [{"wrt": 0}, {"argnums": 0}, {"wrt": "w"}])
def test_compare_with_integer_labels_and_wrt(how):
    """dk.compare had no wrt= and cast every argument to float64: the function's own w[labels]
    raised a bare IndexError. ∂/∂w Σ w[labels]² = (2·1, 0, 2·2·3) = (2, 0, 12) by hand."""
    w, labels = np.array([1.0, 2.0, 3.0]), np.array([0, 2, 2])
    cmp = dk.compare(_loss, w, labels, methods=["fd-central", "reverse", "symbolic"], **FAST,
                     **how)
    assert cmp.reference_kind.startswith("exact")
    np.testing.assert_array_equal(cmp.reference, [2.0, 0.0, 12.0])
    for row in cmp.rows:
        assert row.abs_error < 1e-8, (row.method, row.skipped)
    assert cmp.title() == "gradient of _loss in w at w=[1, 2, 3], labels=[0, 2, 2]"
    assert cmp.to_dict()["wrt"] == ["w"]
    np.testing.assert_array_equal(labels, [0, 2, 2])  # the caller's labels, untouched


def test_compare_differentiating_integer_labels_names_the_error():
    """Without wrt= every input is differentiated, labels too (as dk.grad): each method says
    why it cannot (TracingError), never a bare IndexError."""
    w, labels = np.array([1.0, 2.0, 3.0]), np.array([0, 2, 2])
    with pytest.raises(TracingError):
        dk.grad(_loss)(w, labels)
    cmp = dk.compare(_loss, w, labels, methods=["reverse", "forward", "symbolic"], **FAST)
    assert cmp.reference is None
    for row in cmp.rows:
        assert row.skipped.startswith("TracingError: "), row.skipped


# ----- F7: dk.plots, as documented, is there after `import diffkit as dk` ----------------------


def test_dk_plots_is_an_attribute_after_import_diffkit():
    """docs/compare.md writes dk.plots.plot_fd_error(...) after `import diffkit as dk`; a fresh
    session got AttributeError. Importing diffkit still does not import matplotlib."""
    code = ("import sys, diffkit as dk; name = dk.plots.plot_fd_error.__name__; "
            "print(name, 'matplotlib' in sys.modules)")
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env=dict(os.environ), timeout=60, check=False)
    assert run.returncode == 0, run.stderr[-300:]
    assert run.stdout.split() == ["plot_fd_error", "False"]


# ----- F8: auto's explanation shows the estimates its choice was based on -----------------------


@pytest.mark.parametrize(("text", "point"), [
    ("ln(x1) + x1*x2 - sin(x2)", (2.0, 5.0)),
    ("x*y", (1.0, 2.0)),
    ("sin(x)", (1.0,)),
])
def test_auto_note_estimates_support_its_choice(text, point):
    """The auto row said 'chose reverse: ...; estimated forward 70 µs vs reverse 70 µs' (and
    equal figures in every small case): the model's difference, (n − m)·W·0.3 ns, was rounded
    away at 3 digits."""
    cmp = dk.compare(text, *point, methods=["auto"], **FAST)
    notes = cmp.row("auto").notes
    chosen = re.search(r"chose (\w+)", notes).group(1)
    tie = re.search(r"forward ([0-9.]+) µs = reverse \1 µs \(a tie: forward\)", notes)
    if tie:
        assert chosen == "forward", notes
        return
    fwd, rev = (float(v) for v in re.search(r"forward ([0-9.]+) µs vs reverse ([0-9.]+) µs",
                                              notes).groups())
    assert (fwd > rev) if chosen == "reverse" else (fwd < rev), notes

