"""Hunt 43/c findings 1–8: what users read in traces, tables, drawings and comparisons — complex
values and arrays, a permuted wrt, empty inputs, complex seeds, fd's overflow, fd-forward's
evaluation count, matrix shapes and inputs named like the traces' variables."""

from __future__ import annotations

import ast
import math
import re
import sys
import unicodedata

import mpmath
import numpy as np
import pytest

import diffkit as dk
from diffkit.display import format_value
from diffkit.errors import NonDifferentiableError, NumericOverflowError, ShapeError
from diffkit.function import Function

#: a number as the tables print it: 1.000, -2.00e-05, 1.00e-05+1.00e-05j, 0.000-14.000j
NUMBER = r"-?\d+\.\d+(?:e[+-]\d+)?"
COMPLEX = re.compile(rf"{NUMBER}[+-]{NUMBER[2:]}j|{NUMBER}")


def _shown(line: str) -> complex:
    """The value a table row ends with (after its last ' = '), read back as a number."""
    return complex(line.rsplit("= ", 1)[1].strip().strip("$ |\\"))


def _nfc(text: str) -> str:
    """Composed (Ā is one code point, as a test's literal writes it; a table writes A + U+0304)."""
    return unicodedata.normalize("NFC", text)


def _row(text: str, name: str) -> list[str]:
    """The lines of a text table whose variable column is `name`."""
    return [ln for ln in _nfc(text).splitlines() if ln.split(" ", 1)[0] == _nfc(name)]


def _close(shown: complex, true: complex, digits: int = 3) -> bool:
    """Each part as the table shows it: `digits` decimals, or 3 significant in scientific form
    — and zero only where it is zero (a nonzero part never reads 0.000)."""
    return all(abs(a - b) <= max(0.5 * 10 ** -digits, 1e-2 * abs(b)) and (a == 0) == (b == 0)
               for a, b in ((shown.real, true.real), (shown.imag, true.imag)))


# ----- 1. complex scalars: each part by the real rule (scientific where fixed reads 0.000) ------

@pytest.mark.parametrize("z", [1e-5 + 1e-5j, 2e-10j, 1 - 1e-5j, 3e-7 + 2.0j, -1e20 + 1e-9j,
                               complex(0.5, -0.25)])
def test_format_value_complex_parts_read_back(z: complex) -> None:
    text = format_value(z, 3, fixed=True)
    assert _close(complex(text), z), text  # was 0.000+0.000j for 1e-5+1e-5j


def test_trace_of_small_complex_values_shows_them() -> None:
    # hand: y = 1e-5·z = 1e-5+1e-5j at z = 1+1j, z̄ = 1e-5
    t = dk.trace("z*1e-5", 1 + 1j)
    text = t.to_text()
    assert _close(_shown(_row(text, "y")[0]), 1e-5 + 1e-5j), text
    assert _close(_shown(_row(text, "z̄")[0]), 1e-5), text
    # z² at 1e-5+1e-5j: v₀ = z, v₁ = z² = 2e-10j, z̄ = 2z (hand)
    z = 1e-5 + 1e-5j
    text = dk.trace("z^2", z).to_text()
    assert _close(_shown(_row(text, "v₀")[0]), z)
    assert _close(_shown(_row(text, "y")[0]), z * z)
    assert _close(_shown(_row(text, "z̄")[0]), 2 * z)
    md = dk.trace("z*1e-5", 1 + 1j).to_markdown()
    assert "0.000+0.000j" not in md and "1.00e-05+1.00e-05j" in md
    dot = dk.draw("z*1e-5", 1 + 1j).source
    values = [complex(m) for m in COMPLEX.findall(dot) if "j" in m]
    assert values and all(v != 0 for v in values), dot


# ----- 2. complex arrays: the ranges of both parts, not of the real part alone ------------------

def test_complex_array_summary_has_both_parts() -> None:
    z = np.array([1 + 5j, 2 - 7j, 3 + 1j, 1j, 2, 3])
    text = dk.trace(lambda z: dk.sum(z * z), z).to_text()
    line = _row(text, "z̄")[0]
    m = re.search(rf"array\(6,\) in \[({NUMBER}), ({NUMBER})\] \+ \[({NUMBER}), ({NUMBER})\]j",
                  line)
    assert m is not None, line  # was "array(6,) in [0.000, 6.000]": imaginary parts dropped
    grad = 2 * z  # hand: d Σz²/dz = 2z (JAX's holomorphic grad agrees)
    lo, hi, ilo, ihi = (float(g) for g in m.groups())
    assert (lo, hi, ilo, ihi) == (grad.real.min(), grad.real.max(), grad.imag.min(),
                                  grad.imag.max())


def test_complex_array_summary_significant_digits() -> None:
    z = np.array([1 + 5j, 2 - 7j, 3 + 1j, 1j, 2, 3, 4 + 14j])
    m = re.fullmatch(r"array\(7,\) in \[(\S+), (\S+)\] \+ \[(\S+), (\S+)\]j", format_value(z))
    assert m is not None and [float(g) for g in m.groups()] == [0, 4, -7, 14]


# ----- 3. compare with every input in another order: the title says the order -------------------

@pytest.mark.parametrize("wrt", [["y", "x"], [1, 0]])
def test_compare_title_names_a_permuted_order(wrt: list) -> None:
    c = dk.compare("x^2*y + 3*y", 3.0, 4.0, wrt=wrt, methods=["reverse"])
    x, y = 3.0, 4.0
    np.testing.assert_allclose(c.rows[0].value, [x * x + 3, 2 * x * y])  # (∂f/∂y, ∂f/∂x) by hand
    assert " in y, x " in c.title(), c.title()  # was "gradient of x^2*y + 3*y at x=3, y=4"
    assert " in y, x " in c.to_markdown()
    assert " in " not in dk.compare("x^2*y + 3*y", 3.0, 4.0, wrt=["x", "y"],
                                    methods=["reverse"]).title()


# ----- 4. compare at an empty input: fd rows answer the empty gradient --------------------------

def test_compare_empty_input_with_fd_rows() -> None:
    c = dk.compare("sum(x)", np.array([]))  # was ValueError from np.min of no steps
    assert [r.method for r in c.rows if r.skipped] == []
    for r in c.rows:  # the gradient of a sum over no elements has no elements
        assert np.asarray(r.value).shape == (0,), r
    assert "fd-forward" in c.to_text()


# ----- 5. complex seeds: taken where vjp/jvp take them, one named error where they refuse -------

def test_trace_complex_seed_reverse_and_forward() -> None:
    z, seed = 1 + 1j, 1j
    true = seed * 2 * z  # hand: ȳ·f′(z) for f = z², −2+2j (dk.vjp gives it too)
    (got,) = dk.trace("z*z", z, seed=seed).derivative  # was TypeError
    assert got == pytest.approx(true)
    assert dk.trace("z*z", z, mode="forward", seed=seed).derivative == pytest.approx(true)


def test_trace_complex_array_seed_matches_jax() -> None:
    jax = pytest.importorskip("jax")
    jax.config.update("jax_enable_x64", True)
    z = np.array([1 + 2j, -0.5 + 0.25j, 3.0 + 0j])
    ct = np.array([1j, 2 - 1j, 0.5])
    _, pull = jax.vjp(lambda z: z * jax.numpy.sin(z), z)
    (want,) = pull(ct)
    (got,) = dk.trace(lambda z: z * dk.sin(z), z, seed=ct).derivative
    np.testing.assert_allclose(got, np.asarray(want), rtol=1e-13)


def test_trace_complex_seed_on_real_function_is_vjps_error() -> None:
    with pytest.raises(ShapeError, match="complex cotangent") as by_trace:
        dk.trace("x*y", 2.0, 3.0, seed=1 + 1j)
    with pytest.raises(ShapeError, match="complex cotangent") as by_vjp:
        dk.vjp("x*y", 2.0, 3.0)[1](1 + 1j)
    assert str(by_trace.value) == str(by_vjp.value)
    with pytest.raises(ShapeError, match="real input 'x' is complex"):
        dk.trace("x*y", 2.0, 3.0, mode="forward", seed=[1j, 0.0])
    with pytest.raises(ShapeError, match="not a number"):
        dk.trace("x*y", 2.0, 3.0, seed="one")


# ----- 6. an overflowing derivative in fd-forward and fd-complex: NumericOverflowError ----------

@pytest.mark.parametrize("method", ["fd-forward", "fd-complex"])
def test_fd_names_an_overflowing_derivative(method: str) -> None:
    x = 1e-160
    true = -1 / mpmath.mpf(x) ** 2  # (1/x)′ by hand, in mpmath: −1e320, finite beyond float64
    assert mpmath.isfinite(true) and abs(true) > sys.float_info.max
    with pytest.raises(NumericOverflowError, match="overflows"):  # was NonDifferentiableError
        dk.grad("1/x", method=method)(x)
    with pytest.raises(NonDifferentiableError):  # an infinite one still is not differentiable
        dk.grad("sqrt(x)", method=method)(0.0)


# ----- 7. fd-forward on a pure function: f(x) once, n + 2 evaluations ---------------------------

def test_fd_forward_counts_and_makes_n_plus_2_evaluations(monkeypatch: pytest.MonkeyPatch) -> None:
    points = []
    evaluate, trace = Function.evaluate, Function.trace

    def counted_evaluate(self: Function, *args: object) -> object:
        points.append(max([np.size(a) for a in args], default=1))
        return evaluate(self, *args)

    def counted_trace(self: Function, *args: object, **kw: object) -> object:
        points.append(1)
        return trace(self, *args, **kw)

    f = dk.parse("ln(x1) + x1*x2 - sin(x2)")
    g = dk.grad(f, method="fd-forward")
    g(2.0, 5.0)  # traces cached by the first call
    monkeypatch.setattr(Function, "evaluate", counted_evaluate)
    monkeypatch.setattr(Function, "trace", counted_trace)
    value = g(2.0, 5.0)
    monkeypatch.undo()
    np.testing.assert_allclose(value, (1 / 2.0 + 5.0, 2.0 - math.cos(5.0)), rtol=1e-6)
    assert sum(points) <= 2 + 2, points  # n + 2 (was n + 3: f(x) again in the batch)
    c = dk.compare(f, 2.0, 5.0, methods=["fd-forward"])
    assert c.rows[0].evaluations == 2 + 2


# ----- 8. matrices keep their shape; inputs named v0, v1 beside the traces' variables ------------

def test_trace_shows_a_small_matrix_as_a_matrix() -> None:
    a = np.array([[1.0, 2.0], [3.0, 4.0]])
    t = dk.trace(lambda A: dk.sum(A * A), a)
    text = t.to_text()
    shown = np.array(ast.literal_eval(_row(text, "Ā")[0].rsplit("= ", 1)[1].strip()))
    np.testing.assert_array_equal(shown, 2 * a)  # hand: dΣA²/dA = 2A, shape (2, 2)
    assert "at A = [[1, 2], [3, 4]]" in text.splitlines()[0]


def test_trace_variables_are_not_named_like_inputs() -> None:
    t = dk.trace("v1*v0 + sin(v1)", 1.0, 2.0)
    text = t.to_text()
    names = {ln.split(" ", 1)[0] for ln in text.splitlines() if " = " in ln[:12]}
    # v₋₁, v₀, v₁ … read as the inputs v1, v0: the listing's letter (w) instead
    assert not names & {"v₋₁", "v₀", "v₁", "v̄₋₁", "v̄₀", "v̄₁"}, names
    assert {"w₋₁", "w₀", "w₁", "w̄₁"} <= names
    listing = dk.parse("v1*v0 + sin(v1)").listing()
    assert listing.splitlines()[0] == "w-1 = v1"
    assert t.derivative == pytest.approx((2.0 + math.cos(1.0), 1.0))  # (v0 + cos v1, v1) by hand
    fwd = dk.trace("v1*v0 + sin(v1)", 1.0, 2.0, mode="forward").to_text()
    assert _row(fwd, "ẇ₋₁")[0].split()[:3] == ["ẇ₋₁", "=", _nfc("v̇1")], fwd
