"""dk.from_sympy of SymPy's Piecewise (with relational and logical conditions), Heaviside,
polygamma/digamma and the reciprocal trigonometric and hyperbolic functions: refused before
(MissingRuleError), now built, with values and gradients in every method checked against SymPy's
own derivative evaluated at 30 digits (an independent reference)."""

from __future__ import annotations

import pytest
import sympy as sp

import diffkit as dk

x, y = sp.symbols("x y", real=True)

EXPRESSIONS = {
    "piecewise": sp.Piecewise((x**2, x < 1), (sp.sin(x), True)),
    "piecewise of two": sp.Piecewise((x, x > y), (y, True)),
    "piecewise and/or": sp.Piecewise((x, (x > 0) & (y > 0)), (x * y, sp.Or(x < -1, y < -1)),
                                     (x + y, True)),
    "piecewise not": sp.Piecewise((x, sp.Not(x < 1)), (2 * x, True)),
    "huber": sp.Piecewise((x**2 / 2, sp.Abs(x) <= 1), (sp.Abs(x) - sp.Rational(1, 2), True)),
    "heaviside": sp.Heaviside(x - 1) * x + sp.Heaviside(y, 0) * y,
    "reciprocals": sp.sec(x) + sp.cot(y) + sp.csch(x) + sp.sech(y) + sp.coth(x) + sp.csc(y),
    "polygamma": sp.polygamma(1, x) + sp.digamma(x) * y,
    "sign (the differentiable primitive, not signum)": sp.sign(x) * x**3 + sp.gamma(x) * y,
}
POINTS = [(1.3, 0.7), (0.4, 2.0), (-1.5, -2.0), (-0.5, 0.25)]


def _reference(e: sp.Expr, names: tuple[str, ...], point: tuple[float, ...]):
    sub = {sp.Symbol(n, real=True): sp.Float(v, 40) for n, v in zip(names, point)}
    value = float(sp.N(e.subs(sub), 30))
    grad = [float(sp.N(sp.diff(e, sp.Symbol(n, real=True)).subs(sub), 30)) for n in names]
    return value, grad


@pytest.mark.parametrize("point", POINTS)
@pytest.mark.parametrize("method", ["reverse", "forward", "symbolic", "auto"])
@pytest.mark.parametrize("name", sorted(EXPRESSIONS))
def test_built_and_differentiated_as_sympy(name: str, method: str, point) -> None:
    e = EXPRESSIONS[name]
    f = dk.from_sympy(e)
    args = point[: len(f.inputs)]
    value, grad = _reference(e, f.inputs, args)
    assert f(*args) == pytest.approx(value, rel=1e-13, abs=1e-14)
    assert dk.grad(f, method=method)(*args) == pytest.approx(grad, rel=1e-12, abs=1e-13)


def test_warm_generated_code_agrees() -> None:
    e = EXPRESSIONS["piecewise and/or"]
    f = dk.from_sympy(e)
    g = dk.grad(f)
    for point in POINTS * 2:
        assert g(*point) == pytest.approx(_reference(e, f.inputs, point)[1], rel=1e-12)


def test_piecewise_without_a_last_branch_is_refused() -> None:
    with pytest.raises(dk.ParseError, match=r"\(expr, True\)"):
        dk.from_sympy(sp.Piecewise((x, x < 1)))


def test_a_branch_outside_its_domain_is_named_not_a_value() -> None:
    f = dk.from_sympy(sp.Piecewise((sp.log(x), x > 0), (0, True)))
    assert f(2.0) == pytest.approx(0.6931471805599453)
    with pytest.raises(dk.DomainError):
        dk.grad(f)(-1.0)


def test_round_trip_keeps_the_meaning() -> None:
    f = dk.from_sympy(EXPRESSIONS["huber"])
    back = f.to_sympy()
    (symbol,) = back.free_symbols
    for v in (-2.0, -0.3, 0.5, 1.7):
        assert float(back.subs(symbol, v)) == pytest.approx(f(v), rel=1e-14)
