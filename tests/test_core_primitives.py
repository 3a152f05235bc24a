"""Every primitive of the rule table, every engine: completeness, agreement, special values.

The tests read the registry (spec as data, like sympy's test_args.py and jax's
lax_autodiff_test.py): adding a primitive without a rule, a SymPy translation, a symbol, a domain,
an export or (for structural primitives) a test case makes them fail.

References are independent of the engines under test: element-wise derivatives are checked against
``sympy.diff`` of the primitive's SymPy translation evaluated with 30 digits; structural Jacobians
against central differences of the plain NumPy evaluation (exact for maps linear in each argument)
or hand-written formulas; structural Hessians against SymPy's Hessian of the whole case function.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest
import sympy as sp
from conftest import EXACT, assert_close, flat_grads, numeric_jacobian, prim_function

import diffkit as dk
from diffkit.parse import FUNCTIONS
from diffkit.primitive import COMPOSITES, Composite, NoRule, read_plain, ruled_inputs
from diffkit.primitives import REGISTRY, Primitive

ELEMENTWISE = [p for p in REGISTRY.values() if p.kind == "elementwise"]
STRUCTURAL = [p for p in REGISTRY.values() if p.kind == "structural"]
DIFFERENTIABLE = [p for p in ELEMENTWISE if p.differentiable]
METHODS = ("reverse", "forward", "symbolic", "fd", "fd-forward", "fd-complex", "fd-richardson")
ENGINE4 = ("reverse", "forward", "symbolic", "fd")


# ----- structural primitives: small cases as data ----------------------------------------------


@dataclass(frozen=True)
class Case:
    """One structural test case: `fn` (written with diffkit ops) applied to `args`.

    `linear`: linear in all inputs jointly (matmul is only bilinear). `reference`: a hand-written
    Jacobian for the nonlinear cases (central differences are exact only for multilinear maps).
    """

    id: str
    prim: str
    fn: Any
    args: tuple[np.ndarray, ...]
    linear: bool = True
    reference: Any = None


def _arr(*shape: int, seed: int = 0) -> np.ndarray:
    """Distinct values (no ties, gaps > 0.01), reproducible."""
    n = int(np.prod(shape))
    vals = np.random.default_rng(seed).permutation(n) * 0.37 - 0.5 * n * 0.37 / 2
    return vals.reshape(shape) + 0.1


CASES = [
    Case("sum-all", "sum", lambda x: dk.sum(x), (_arr(2, 3),)),
    Case("subgradient-smooth", "subgradient",
         lambda x: dk.subgradient(2.0 * x, np.ones((2, 3), dtype=bool), x), (_arr(2, 3),)),
    Case("sum-axis1", "sum", lambda x: dk.sum(x, axis=1), (_arr(2, 3),)),
    Case("sum-axis0-keepdims", "sum", lambda x: dk.sum(x, axis=0, keepdims=True), (_arr(2, 3),)),
    Case("sum-axes-3d", "sum", lambda x: dk.sum(x, axis=(0, -1)), (_arr(2, 3, 2),)),
    Case("mean-all", "mean", lambda x: dk.mean(x), (_arr(2, 3),)),
    Case("mean-axis0", "mean", lambda x: dk.mean(x, axis=0), (_arr(3, 2),)),
    Case("mean-keepdims", "mean", lambda x: dk.mean(x, axis=-1, keepdims=True), (_arr(2, 3),)),
    Case("amax-all", "amax", lambda x: dk.amax(x), (_arr(2, 3, seed=1),)),
    Case("amax-axis1", "amax", lambda x: dk.amax(x, axis=1), (_arr(3, 4, seed=2),)),
    Case("amax-keepdims", "amax", lambda x: dk.amax(x, axis=0, keepdims=True), (_arr(3, 2, seed=3),)),
    Case("reshape", "reshape", lambda x: dk.reshape(x, (3, 2)), (_arr(2, 3),)),
    Case("reshape-infer", "reshape", lambda x: dk.reshape(x, (2, -1)), (_arr(6),)),
    Case("transpose", "transpose", lambda x: dk.transpose(x), (_arr(2, 3),)),
    Case("transpose-3d", "transpose", lambda x: dk.transpose(x, (1, 2, 0)), (_arr(2, 3, 2),)),
    Case("broadcast-row", "broadcast_to", lambda x: dk.broadcast_to(x, (2, 3)), (_arr(3),)),
    Case("broadcast-col", "broadcast_to", lambda x: dk.broadcast_to(x, (2, 3)), (_arr(2, 1),)),
    Case("broadcast-scalar", "broadcast_to", lambda x: dk.broadcast_to(x, (3,)), (np.array(0.7),)),
    Case("getitem-int", "getitem", lambda x: x[1], (_arr(3, 2),)),
    Case("getitem-slices", "getitem", lambda x: x[1:, ::2], (_arr(3, 4),)),
    Case("getitem-reverse", "getitem", lambda x: x[::-1], (_arr(4),)),
    Case("getitem-ellipsis", "getitem", lambda x: x[..., 1], (_arr(2, 3),)),
    Case("getitem-intarray-repeats", "getitem", lambda x: x[np.array([0, 2, 2, 1])], (_arr(3),)),
    Case("getitem-intarray-2d", "getitem", lambda x: x[np.array([0, 1, 1]), np.array([2, 0, 2])],
         (_arr(2, 3),)),
    Case("getitem-list-rows", "getitem", lambda x: x[[1, 1, 0]], (_arr(2, 3),)),
    Case("getitem-bool-mask", "getitem", lambda x: x[np.array([True, False, True])], (_arr(3),)),
    Case("index_add-repeats", "index_add", lambda v: dk.index_add(v, np.array([0, 2, 2]), (4,)),
         (_arr(3),)),
    Case("index_add-rows", "index_add", lambda v: dk.index_add(v, (np.array([1, 0]),), (3, 2)),
         (_arr(2, 2),)),
    Case("concatenate-axis0", "concatenate", lambda a, b: dk.concatenate([a, b]),
         (_arr(2), _arr(3, seed=4))),
    Case("concatenate-axis1-three", "concatenate",
         lambda a, b, c: dk.concatenate([a, b, c], axis=1), (_arr(2, 1), _arr(2, 2), _arr(2, 1))),
    Case("roll-flat", "roll", lambda x: dk.roll(x, 2), (_arr(2, 3),)),
    Case("roll-axes", "roll", lambda x: dk.roll(x, (1, -1), axis=(0, 1)), (_arr(2, 3),)),
    # a mask cast to floats (astype of a comparison: a constant, x·mask is linear near the points)
    Case("astype-mask", "astype", lambda x: x * dk.astype(dk.greater(x, 0.0), np.float64),
         (np.array([-1.5, -0.5, 0.5, 2.0]),)),
    Case("matmul-2d", "matmul", lambda a, b: a @ b, (_arr(2, 3), _arr(3, 2, seed=5)), False),
    Case("matmul-1d-2d", "matmul", lambda a, b: a @ b, (_arr(3), _arr(3, 2, seed=5)), False),
    Case("matmul-2d-1d", "matmul", lambda a, b: a @ b, (_arr(2, 3), _arr(3, seed=5)), False),
    Case("matmul-dot", "matmul", lambda a, b: dk.matmul(a, b), (_arr(3), _arr(3, seed=5)), False),
    Case("matmul-batched", "matmul", lambda a, b: a @ b, (_arr(2, 2, 3), _arr(2, 3, 2, seed=5)),
         False),
    Case("matmul-batch-broadcast", "matmul", lambda a, b: a @ b, (_arr(2, 2, 3), _arr(3, 2, seed=5)),
         False),
]


def _xent_jacobian(z: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Rows of −Σ t·log_softmax(z): ∂/∂z = softmax(z)·Σt − t, ∂/∂t = −log_softmax(z)."""
    z2, t2 = np.atleast_2d(z), np.atleast_2d(t)
    m, n = z2.shape
    J = np.zeros((m, 2 * m * n))
    for i in range(m):
        log_p = z2[i] - np.log(np.sum(np.exp(z2[i])))
        J[i, i * n:(i + 1) * n] = np.exp(log_p) * t2[i].sum() - t2[i]
        J[i, m * n + i * n:m * n + (i + 1) * n] = -log_p
    return J


CASES += [
    Case("linear-batch", "linear", lambda x, w, b: dk.linear(x, w, b),
         (_arr(2, 3), _arr(4, 3, seed=6), _arr(4, seed=7)), False),
    Case("linear-vector", "linear", lambda x, w, b: dk.linear(x, w, b),
         (_arr(3), _arr(2, 3, seed=6), _arr(2, seed=7)), False),
    Case("im2col", "im2col", lambda x: dk.im2col(x, 2), (_arr(1, 2, 3, 3),)),
    Case("im2col-stride-pad", "im2col", lambda x: dk.im2col(x, 2, stride=2, padding=1),
         (_arr(2, 1, 3, 3),)),
    Case("col2im", "col2im", lambda c: dk.col2im(c, 2, 1, 0, (1, 1, 3, 3)), (_arr(1, 2, 2, 4),)),
    Case("softmax_cross_entropy", "softmax_cross_entropy",
         lambda z, t: dk.softmax_cross_entropy(z, t), (_arr(4), np.array([0.1, 0.2, 0.3, 0.4])),
         False, _xent_jacobian),
    Case("softmax_cross_entropy-batch", "softmax_cross_entropy",
         lambda z, t: dk.softmax_cross_entropy(z, t), (_arr(2, 3), np.eye(3)[[2, 0]]), False,
         _xent_jacobian),
]


def _xent_grad_jacobian(z: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Σt·p − t by rows, p = softmax(z): ∂/∂z = Σt·(diag p − ppᵀ), ∂/∂t = p·1ᵀ − I (by hand)."""
    z2, t2 = np.atleast_2d(z), np.atleast_2d(t)
    m, n = z2.shape
    J = np.zeros((m * n, 2 * m * n))
    for i in range(m):
        p = np.exp(z2[i] - np.max(z2[i]))
        p /= p.sum()
        rows = slice(i * n, (i + 1) * n)
        J[rows, i * n:(i + 1) * n] = t2[i].sum() * (np.diag(p) - np.outer(p, p))
        J[rows, m * n + i * n:m * n + (i + 1) * n] = np.outer(p, np.ones(n)) - np.eye(n)
    return J


CASES += [
    Case("softmax_cross_entropy_grad", "softmax_cross_entropy_grad",
         lambda z, t: dk.softmax_cross_entropy_grad(z, t),
         (_arr(4), np.array([0.1, 0.2, 0.3, 0.4])), False, _xent_grad_jacobian),
    Case("softmax_cross_entropy_grad-batch", "softmax_cross_entropy_grad",
         lambda z, t: dk.softmax_cross_entropy_grad(z, t), (_arr(2, 3), np.eye(3)[[2, 0]]), False,
         _xent_grad_jacobian),
]
CASES_BY_ID = {c.id: c for c in CASES}



def case_function(case: Case) -> dk.Function:
    return dk.Function(case.fn, [f"a{i}" for i in range(len(case.args))], name=case.id)


# ----- the completeness meta-test ----------------------------------------------------------------


def covered_elsewhere() -> set[str]:
    """Names the NumPy/SciPy coverage test modules say they test (their module-level COVERS)."""
    import importlib
    from pathlib import Path

    names: set[str] = set()
    for path in sorted(Path(__file__).parent.glob("test_*.py")):
        if path.stem.startswith(("test_numpy_", "test_scipy_")):
            names |= set(getattr(importlib.import_module(path.stem), "COVERS", ()))
    return names


@pytest.mark.parametrize("c", [pytest.param(c, id=c.name) for c in COMPOSITES.values()])
def test_every_composite_is_complete(c: Composite) -> None:
    """A composite is public, documented, its NumPy names exist, and a test covers it."""
    missing = []
    if not (getattr(dk, c.name, None) is c and c.name in dk.__all__):
        missing.append(f"an export dk.{c.name}")
    if not c.doc:
        missing.append("a docstring")
    if any(_numpy_object(n) is None for n in c.numpy):
        missing.append(f"NumPy names that exist ({c.numpy})")
    if c.name not in covered_elsewhere() and c.name not in COMPOSITES_TESTED_HERE:
        missing.append("a test (COVERS of a tests/test_numpy_*.py)")
    assert not missing, f"composite {c.name!r} lacks: {', '.join(missing)}"


def _numpy_object(name: str) -> Any:
    obj: Any = np
    for part in name.split("."):
        obj = getattr(obj, part, None)
    return obj


#: composites this file or the core tests check (test_api_symbolic: dot, square, softmax, …)
COMPOSITES_TESTED_HERE = {"square", "dot", "logsumexp", "log_softmax", "softmax", "leaky_relu"}


def _sympy_probe(p: Primitive) -> Any:
    if p.sympy is False:  # declared untranslatable: the symbolic engine must refuse by name
        try:
            p.to_sympy()
        except dk.MissingRuleError as exc:
            return None if "method=" not in str(exc) else "refused by name"
        return None
    if p.kind == "elementwise":
        syms = sp.symbols(f"s0:{p.nargs}", real=True)
        return p.to_sympy(*syms)
    case = next((c for c in CASES if c.prim == p.name), None)
    if case is None:  # a family's test module (COVERS) checks its translation with every engine
        return "covered elsewhere" if p.name in covered_elsewhere() else None
    return dk.Function(case.fn, [f"a{i}" for i in range(len(case.args))]).to_sympy(*case.args)


@pytest.mark.parametrize("p", [pytest.param(p, id=p.name) for p in REGISTRY.values()])
def test_every_primitive_is_complete(p: Primitive) -> None:
    missing = []
    if p.kind == "elementwise":
        if p.differentiable:
            if p.partials is None or len(p.partials) != p.nargs:
                missing.append("one partial per input")
            elif not any(callable(r) for r in p.partials):
                missing.append("at least one differentiable input")
        elif p.partials is not None:
            missing.append("partials=None for a non-differentiable primitive")
        if len(p.domain) != p.nargs or not all(lo < hi for lo, hi in p.domain):
            missing.append("a test domain (lo < hi) per input")
        for point, expected in p.special:
            if len(point) != p.nargs or (expected != "nondifferentiable" and len(expected) != p.nargs):
                missing.append(f"a well-formed special value at {point}")
    elif p.kind == "structural":
        if p.differentiable and (not callable(p.vjp) or not (callable(p.jvp) or p.linear)):
            missing.append("a vjp rule and a jvp rule (or linear=True, which derives it)")
        if not any(c.prim == p.name for c in CASES) and p.name not in covered_elsewhere():
            missing.append("a test case in CASES (or in COVERS of a tests/test_numpy_*.py)")
    else:
        missing.append(f"a known kind (got {p.kind!r})")
    if not callable(p.impl):
        missing.append("an implementation")
    if not all(isinstance(t, str) and t for t in (p.symbol, p.unicode, p.latex)):
        missing.append("a display symbol, a Unicode symbol and a LaTeX symbol")
    if any(_numpy_object(name) is None for name in p.numpy):
        missing.append(f"NumPy names that exist ({p.numpy})")
    if p.scalar is not None:
        try:
            p.scalar.format(*(f"x{i}" for i in range(p.nargs or 1)))
        except (IndexError, KeyError):
            missing.append("a scalar code template over its operands")
    if p.unit and len(p.unit) != p.nargs:
        missing.append("one unit entry per input")
    if not (callable(getattr(dk, p.name, None)) and p.name in dk.__all__):
        missing.append(f"an export dk.{p.name}")
    try:
        translated = _sympy_probe(p)
        if translated is None:
            missing.append("a SymPy translation")
    except Exception as exc:  # noqa: BLE001 - any failure here means the translation is missing
        missing.append(f"a SymPy translation ({type(exc).__name__}: {exc})")
    assert not missing, f"primitive {p.name!r} lacks: {', '.join(missing)}"


@pytest.mark.parametrize("p", [p for p in DIFFERENTIABLE if p.parseable], ids=lambda p: p.name)
def test_every_differentiable_function_parses_by_name(p: Primitive) -> None:
    assert p.name in FUNCTIONS and all(a in FUNCTIONS for a in p.aliases)
    args = ", ".join(f"x{i}" for i in range(p.nargs))
    f = dk.parse(f"{p.name}({args})")
    point = [0.5 * (lo + hi) for lo, hi in p.domain]
    assert f(*point) == pytest.approx(float(getattr(dk, p.name)(*point)), rel=1e-15)


# ----- element-wise: random points of the domain, every engine ---------------------------------


def _points(p: Primitive, count: int = 3) -> list[list[float]]:
    rng = np.random.default_rng(zlib.crc32(p.name.encode()))
    return [[float(rng.uniform(lo, hi)) for lo, hi in p.domain] for _ in range(count)]


def _sample_function(p: Primitive) -> dk.Function:
    if p.name == "where":  # a float condition is always truthy: make both branches reachable
        return dk.Function(lambda c, a, b: dk.where(dk.greater(c, 0.0), a, b), ["c", "a", "b"],
                           name="where")
    return prim_function(p.name)


def _reference(p: Primitive, point: list[float], order: int) -> np.ndarray:
    """Gradient (order 1) or Hessian (order 2) from sympy.diff of the translation, 30 digits."""
    syms = list(sp.symbols(f"s0:{p.nargs}", real=True))
    diff_idx = ruled_inputs(p)
    args: list[Any] = list(syms)
    if p.name == "where":
        args[0] = sp.sympify(point[0] > 0)
    if not p.differentiable:
        n = p.nargs
        return np.zeros(n) if order == 1 else np.zeros((n, n))
    expr = p.to_sympy(*args)
    subs = {s: sp.Float(v, 30) for s, v in zip(syms, point)}
    n = p.nargs

    def ev(e: sp.Expr) -> float:
        return float(sp.N(e.subs(subs), 30))

    if order == 1:
        return np.array([ev(sp.diff(expr, syms[i])) if i in diff_idx else 0.0 for i in range(n)])
    H = np.zeros((n, n))
    for i in diff_idx:
        for j in diff_idx:
            H[i, j] = ev(sp.diff(expr, syms[i], syms[j]))
    return H


def _skip_reason(p: Primitive, method: str) -> str | None:
    if p.name == "stop_gradient" and method.startswith("fd"):
        return "finite differences see stop_gradient as the identity (a black box)"
    try:
        p.impl(np, *_points(p)[0])
    except TypeError:  # & | ^ ~ take booleans and integers, as NumPy's (refusals: test_numpy_*)
        return f"{p.name} refuses float operands, as NumPy does: no float point to differentiate"
    return None


def _elementwise_params(methods: tuple[str, ...]) -> list[Any]:
    return [pytest.param(p, m, id=f"{p.name}-{m}") for p in ELEMENTWISE for m in methods]


@pytest.mark.parametrize(("p", "method"), _elementwise_params(METHODS))
def test_elementwise_first_derivative_matches_sympy(p: Primitive, method: str) -> None:
    reason = _skip_reason(p, method)
    if reason:
        pytest.skip(reason)
    f = _sample_function(p)
    # a comparison (a boolean of two real operands) the complex step passes away from its ties,
    # where x + ih compares as x does (NumPy orders complex numbers by real part first)
    comparison = p.nargs == 2 and np.asarray(p.impl(np, *_points(p)[0])).dtype == bool
    if method == "fd-complex" and not p.holomorphic and not comparison:
        with pytest.raises(dk.MissingRuleError, match="complex"):
            dk.grad(f, method=method)(*_points(p)[0])
        return
    wrt = _differentiated(p)
    if method == "fd-complex" and p.name == "where":  # a complex step through the condition's
        wrt = [1, 2]  # comparison is refused (not analytic): the branches are what it steps
    for point in _points(p):
        got = flat_grads(dk.grad(f, method=method, wrt=wrt)(*point))
        assert_close(got, _reference(p, point, 1)[wrt], method, 1, f"{p.name}' at {point}")


@pytest.mark.parametrize(("p", "method"), _elementwise_params(ENGINE4))
def test_elementwise_second_derivative_matches_sympy(p: Primitive, method: str) -> None:
    reason = _skip_reason(p, method)
    if reason:
        pytest.skip(reason)
    f = _sample_function(p)
    wrt = _differentiated(p)
    for point in _points(p, 2):
        got = dk.hessian(f, method=method, wrt=wrt)(*point)
        assert_close(got, _reference(p, point, 2)[np.ix_(wrt, wrt)], method, 2,
                     f"{p.name}'' at {point}")


def _differentiated(p: Primitive) -> list[int]:
    """The inputs the tests differentiate by: all but those whose partial is a NoRule (refused
    by name: see test_inputs_without_a_rule_are_refused_by_name)."""
    return [i for i in range(p.nargs) if not isinstance((p.partials or (None,) * p.nargs)[i],
                                                         NoRule)]


REFUSED = [(p, i) for p in ELEMENTWISE for i, r in enumerate(p.partials or ())
           if isinstance(r, NoRule)]


@pytest.mark.parametrize(("p", "i"), REFUSED, ids=[f"{p.name}-{i}" for p, i in REFUSED])
def test_inputs_without_a_rule_are_refused_by_name(p: Primitive, i: int) -> None:
    """A NoRule partial (the order of a Bessel function, ...): the exact engines refuse the
    derivative by that input by name, never a silent zero, and name method='fd', which gives it."""
    f = prim_function(p.name)
    point = _points(p)[0]
    for method in EXACT:
        with pytest.raises(dk.MissingRuleError, match="method='fd'"):
            dk.grad(f, method=method, wrt=[i])(*point)
    assert np.isfinite(dk.grad(f, method="fd", wrt=[i])(*point)[0])


BINARY = [p for p in DIFFERENTIABLE if p.nargs == 2]


@pytest.mark.parametrize("method", EXACT)
@pytest.mark.parametrize("p", BINARY, ids=lambda p: p.name)
def test_elementwise_broadcasting_jacobian(p: Primitive, method: str) -> None:
    """x of shape (3,) with a scalar y: the scalar's column sums the broadcast partials."""
    rng = np.random.default_rng(zlib.crc32(p.name.encode()) + 1)
    (lo0, hi0), (lo1, hi1) = p.domain
    x = rng.uniform(lo0, hi0, size=3)
    y = float(rng.uniform(lo1, hi1))
    refs = np.array([_reference(p, [xi, y], 1) for xi in x])  # (3, 2): ∂/∂x_i, ∂/∂y
    wrt = _differentiated(p)
    expected = np.hstack([np.diag(refs[:, 0])] * (0 in wrt) + [refs[:, 1:]] * (1 in wrt))
    got = dk.jacobian(prim_function(p.name), method=method, wrt=wrt)(x, y)
    assert got.shape == expected.shape
    assert_close(got, expected, method, 1, f"broadcast {p.name}")
    if 1 not in wrt:
        return
    # and with the roles swapped: the cotangent of the scalar is reduced back to shape ()
    gy = dk.grad(lambda a, b: dk.sum(getattr(dk, p.name)(a, b)), method=method, wrt=wrt)(x, y)[-1]
    assert np.shape(gy) == ()
    assert_close(gy, refs[:, 1].sum(), method, 1, f"sum-to-scalar {p.name}")


# ----- special values: kinks and singular points (Primitive.special) ---------------------------

SPECIALS = [(p, point, expected) for p in ELEMENTWISE for point, expected in p.special]


def _reads_a_signed_zero(p: Primitive, point: tuple[float, ...]) -> bool:
    """Whether the record's value reads the sign of a zero at `point` (its ``signed_zero``):
    SymPy's one 0 is unsigned, so the symbolic engine refuses there by name."""
    return p.sign_of_zero_read([np.float64(v) for v in point]) is not None


@pytest.mark.parametrize("method", EXACT)
@pytest.mark.parametrize(("p", "point", "expected"), SPECIALS,
                         ids=[f"{p.name}{point}" for p, point, _ in SPECIALS])
def test_special_values_are_the_documented_ones(p: Primitive, point: tuple[float, ...],
                                                expected: Any, method: str) -> None:
    f = prim_function(p.name)
    if method == "symbolic" and _reads_a_signed_zero(p, point):
        with pytest.raises(dk.MissingRuleError, match="method='reverse'"):
            dk.grad(f, method=method)(*point)
        return
    if expected == "nondifferentiable":
        with pytest.raises(dk.NonDifferentiableError, match=p.name if method != "symbolic" else None):
            dk.grad(f, method=method)(*point)
        return
    got = dk.grad(f, method=method)(*point)
    np.testing.assert_allclose(flat_grads(got), np.asarray(expected, dtype=float), rtol=1e-15,
                               atol=0, err_msg=f"{p.name} at {point} ({method})")


@pytest.mark.parametrize(("p", "point", "expected"),
                         [s for s in SPECIALS if s[2] != "nondifferentiable"],
                         ids=[f"{p.name}{pt}" for p, pt, e in SPECIALS if e != "nondifferentiable"])
def test_special_values_second_order_engines_agree(p: Primitive, point: tuple[float, ...],
                                                   expected: Any) -> None:
    """Every exact engine gives the same Hessian at a special point — or, at a kink whose first
    derivative is a convention (the record's `kinks` false there), the same NonDifferentiableError
    (the convention's own derivative is no piece's: abs″(0) would be 0, max(x, 1)²″ at 1 ½)."""
    f = prim_function(p.name)
    # every input is differentiated here: the kinks rule sees them as moving values (heaviside's
    # jump is a kink only where x1 moves)
    moving = [dk.tensor(np.float64(v), requires_grad=True) for v in point]
    at_kink = p.kinks is not None and not bool(np.all(read_plain(p.kinks(*moving,
                                                                         p.impl(np, *point)))))
    if at_kink:
        for m in EXACT:
            with pytest.raises(dk.NonDifferentiableError):
                dk.hessian(f, method=m)(*point)
        return
    exact = list(EXACT)
    if _reads_a_signed_zero(p, point):
        with pytest.raises(dk.MissingRuleError, match="method='reverse'"):
            dk.hessian(f, method="symbolic")(*point)
        exact.remove("symbolic")
    hs = {m: dk.hessian(f, method=m)(*point) for m in exact}
    for m in exact:
        assert_close(hs[m], hs["reverse"], m, 2, f"{p.name}'' at {point}")


def test_special_value_hand_checks() -> None:
    """Second derivatives at the special points, by hand: (x**y)'' wrt x at (0, 2) is 2; abs″(0)
    does not exist (sign jumps there): a NonDifferentiableError, not the 0 of sign's convention."""
    for m in EXACT:
        np.testing.assert_allclose(dk.hessian(prim_function("pow"), method=m)(0.0, 2.0),
                                   [[2.0, 0.0], [0.0, 0.0]], atol=1e-15)
        np.testing.assert_allclose(dk.hessian(prim_function("pow"), method=m)(2.0, 0.0),
                                   [[0.0, 0.5], [0.5, np.log(2.0) ** 2]], rtol=1e-15, atol=1e-15)
        with pytest.raises(dk.NonDifferentiableError):
            dk.derivative(prim_function("abs"), 2, method=m)(0.0)
        assert dk.grad(lambda x: dk.amax(x), method=m)(np.array([1.0, 3.0, 3.0, 2.0]))[0].tolist() \
            == [0.0, 0.5, 0.5, 0.0]


# ----- structural primitives --------------------------------------------------------------------


def _params(cases: list[Case], methods: tuple[str, ...]) -> list[Any]:
    return [pytest.param(c, m, id=f"{c.id}-{m}") for c in cases for m in methods]



@pytest.mark.parametrize(("case", "method"), _params(CASES, ENGINE4))
def test_structural_jacobian(case: Case, method: str) -> None:
    if case.reference is not None:
        expected = case.reference(*case.args)
    else:
        expected = numeric_jacobian(case.fn, case.args, h=0.1)
    got = dk.jacobian(case_function(case), method=method)(*case.args)
    assert got.shape == expected.shape
    assert_close(got, expected, method, 1, case.id)


@pytest.mark.parametrize(("case", "method"), _params(CASES, ENGINE4))
def test_structural_second_order(case: Case, method: str) -> None:
    """Hessian of g = Σ c·op(args)²: for a linear op it is 2 Jᵀ diag(c) J."""
    out = np.asarray(case.fn(*case.args), dtype=float)
    c = np.linspace(0.5, 1.5, out.size).reshape(out.shape)

    def g(*xs: Any) -> Any:
        y = case.fn(*xs)
        return dk.sum(c * y * y)

    fn = dk.Function(g, [f"a{i}" for i in range(len(case.args))], name=f"sq_{case.id}")
    got = dk.hessian(fn, method=method)(*case.args)
    if case.linear:
        J = numeric_jacobian(case.fn, case.args, h=0.1)
        expected = 2 * J.T @ (c.reshape(-1, 1) * J)
    else:
        expected = _sympy_hessian(fn, case.args)
    assert_close(got, expected, method, 2, case.id)


def _sympy_hessian(fn: dk.Function, args: tuple[np.ndarray, ...]) -> np.ndarray:
    """SymPy's Hessian of the whole function's expression, at 30 digits (independent of every
    derivative rule of the table: only the translations of the values are shared)."""
    expr = fn.to_sympy(*args)
    syms = sorted(expr.free_symbols, key=lambda s: s.name)
    names = [f"{n}_{'_'.join(map(str, i))}" if a.ndim else n
             for n, a in zip(fn.inputs, args) for i in np.ndindex(*a.shape)]
    by_name = {s.name: s for s in syms}
    order = [by_name.get(n, sp.Symbol(n, real=True)) for n in names]
    values = [float(v) for a in args for v in np.reshape(a, -1)]
    subs = {s: sp.Float(v, 30) for s, v in zip(order, values)}
    n = len(order)
    grads = [sp.diff(expr, s) for s in order]
    return np.array([[float(sp.N(sp.diff(grads[i], order[j]).subs(subs), 30)) for j in range(n)]
                     for i in range(n)])


@pytest.mark.parametrize(("case", "method"), _params(
    [c for c in CASES if c.prim == "matmul"], EXACT))
def test_matmul_hessian_by_hand(case: Case, method: str) -> None:
    """For f(A, B) = Σ (A @ B) ⊙ W, the Hessian's only nonzero blocks are the cross terms."""
    a, b = case.args
    w = np.linspace(-1.0, 1.0, np.matmul(a, b).size).reshape(np.matmul(a, b).shape)
    fn = dk.Function(lambda x, y: dk.sum(case.fn(x, y) * w), ["a", "b"])

    def hand_gradient(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """∂/∂A = W Bᵀ, ∂/∂B = Aᵀ W (summed over broadcast batch axes), in plain NumPy."""
        a2 = a.reshape(1, -1) if a.ndim == 1 else a
        b2 = b.reshape(-1, 1) if b.ndim == 1 else b
        w2 = w.reshape(a2.shape[:-1] + b2.shape[-1:]) if a.ndim > 1 or b.ndim > 1 else w.reshape(1, 1)
        ga = np.matmul(w2, np.swapaxes(b2, -1, -2))
        gb = np.matmul(np.swapaxes(a2, -1, -2), w2)
        while ga.ndim > a2.ndim:
            ga = ga.sum(axis=0)
        while gb.ndim > b2.ndim:
            gb = gb.sum(axis=0)
        return ga.reshape(a.shape), gb.reshape(b.shape)

    # the hand gradient is linear in (A, B): its central differences are exact
    expected = numeric_jacobian(lambda x, y: flat_grads(hand_gradient(x, y)), case.args, h=1.0)
    assert_close(dk.hessian(fn, method=method)(a, b), expected, method, 1, case.id)
    ga, gb = dk.grad(fn, method=method)(a, b)
    ga_hand, gb_hand = hand_gradient(a, b)
    assert_close(ga, ga_hand, method, 1, f"{case.id} dA")
    assert_close(gb, gb_hand, method, 1, f"{case.id} dB")
