"""The compiled method: generated source, agreement with reverse mode on every primitive, caching."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import diffkit as dk
from diffkit.compile import compile_gradient
from diffkit.primitive import NoRule
from diffkit.primitives import REGISTRY


def test_source_is_readable_and_pruned() -> None:
    cg = compile_gradient(dk.parse("ln(x1) + x1*x2 - sin(x2)"), 2.0, 5.0)
    assert "math.log(a0)" in cg.source and "def grad(a0, a1):" in cg.source
    grad_src = cg.source.split("def grad")[1]
    assert "math.sin" not in grad_src  # primal work the gradient does not need is pruned
    assert "math.log" not in grad_src  # ...and log's domain is checked by a comparison
    assert "if not (a0 > 0.0):" in grad_src
    value, grads = cg(2.0, 5.0)
    assert value == pytest.approx(11.652071455223084)
    assert grads == (5.5, 1.7163378145367738)
    assert cg.grad(2.0, 5.0) == grads


def test_compiled_gradient_still_reports_points_outside_the_domain() -> None:
    g = dk.grad(dk.parse("ln(x1) + x1*x2 - sin(x2)"), method="compiled")
    assert g(2.0, 5.0) == (5.5, 1.7163378145367738)
    with pytest.raises(dk.DomainError):
        g(-1.0, 5.0)
    v = dk.grad(dk.function(lambda x: dk.sum(dk.sqrt(x) * dk.sin(x))), method="compiled")
    v(np.ones(3))
    with pytest.raises(dk.DomainError):
        v(np.array([1.0, -1.0, 2.0]))


def test_cached_per_shape() -> None:
    f = dk.parse("x * y")
    assert compile_gradient(f, 1.0, 2.0) is compile_gradient(f, 3.0, 4.0)
    assert compile_gradient(f, np.ones(3), 2.0) is not compile_gradient(f, 1.0, 2.0)


def test_vector_function_uses_numpy_and_in_place_updates() -> None:
    f = dk.function(lambda x: dk.sum(dk.log(x) + x * dk.roll(x, 1) - dk.sin(x)))
    x = np.linspace(1.0, 2.0, 7)
    cg = compile_gradient(f, x)
    assert "np.roll(a0, 1)" in cg.source
    np.testing.assert_allclose(cg.grad(x)[0], dk.grad(f)(x)[0], rtol=1e-15)


def _unary(name: str) -> bool:
    p = REGISTRY[name]
    return p.kind == "elementwise" and p.differentiable


@pytest.mark.parametrize("name", sorted(n for n in REGISTRY if _unary(n)))
def test_every_elementwise_primitive_matches_reverse(name: str) -> None:
    prim = REGISTRY[name]
    rng = np.random.default_rng(1)
    lo_hi = prim.domain or ((-2.0, 2.0),) * prim.nargs
    for shape in ((), (4,)):
        args = [rng.uniform(lo + 0.05, hi - 0.05, size=shape) if shape else
                float(rng.uniform(lo + 0.05, hi - 0.05)) for lo, hi in lo_hi]
        f = dk.function(lambda *xs, p=prim: dk.sum(p(*xs) * 1.5), inputs=[f"x{i}" for i in range(len(args))])
        wrt = [i for i, r in enumerate(prim.partials) if not isinstance(r, NoRule)]  # refused
        want = dk.grad(f, method="reverse", wrt=wrt)(*args)
        got = dk.grad(f, method="compiled", wrt=wrt)(*args)
        for w, g in zip(want, got):
            np.testing.assert_allclose(g, w, rtol=1e-12, atol=1e-14)


def test_structural_ops_and_jacobian() -> None:
    A = np.arange(6.0).reshape(2, 3) / 7
    f = dk.function(lambda x: dk.tanh(A @ x) * dk.mean(x) + dk.reshape(x, (3,))[:2])
    x = np.array([0.3, -0.2, 0.5])
    np.testing.assert_allclose(dk.jacobian(f, method="compiled")(x), dk.jacobian(f)(x), rtol=1e-13)


def test_falls_back_where_it_cannot_compile() -> None:
    def branchy(x):
        return x * 2.0 if x > 0 else -x

    g = dk.grad(branchy, method="compiled")
    assert g(3.0) == (2.0,) and g(-3.0) == (-1.0,)
    assert dk.hessian("x**3 * y", method="compiled")(2.0, 1.0)[0, 0] == pytest.approx(12.0)


def test_domain_errors_are_diffkit_errors() -> None:
    cg = compile_gradient(dk.parse("ln(x)"), 2.0)
    with pytest.raises(dk.DomainError):
        cg(-1.0)


def test_auto_explains_its_choice() -> None:
    jac = dk.jacobian(lambda x: dk.tanh(x * np.arange(50.0)), method="auto")
    jac(0.5)
    assert jac.engine.last_choice == "forward" and "estimated" in jac.engine.explain()


def test_each_generated_function_is_made_when_first_used() -> None:
    cg = compile_gradient(dk.parse("x * sin(y)"), 1.0, 2.0)
    assert cg.stats == {}
    assert cg.grad(1.0, 2.0) == (np.sin(2.0), np.cos(2.0))
    assert set(cg.stats) == {"grad"}
    assert cg(1.0, 2.0)[0] == np.sin(2.0)
    assert set(cg.stats) == {"grad", "value_and_grad"}


def test_domain_checks_are_comparisons_on_arrays_too() -> None:
    f = dk.jit(lambda x: dk.sum(dk.log(x) + dk.log1p(x) + x * x))
    x = np.linspace(0.5, 2.0, 5)
    cg = compile_gradient(f, x)
    grad_src = cg.source.split("def grad")[1]
    assert "np.log(" not in grad_src and "np.log1p(" not in grad_src
    assert "np.all(a0 > 0.0)" in grad_src and "np.all(a0 > (-1.0))" in grad_src
    np.testing.assert_allclose(cg.grad(x)[0], 1 / x + 1 / (1 + x) + 2 * x, rtol=1e-15)
    with pytest.raises(dk.DomainError):
        cg.grad(np.array([0.5, -0.5, 1.0, 2.0, 3.0]))
    g = dk.grad(f)  # the default gradient: compiled code, the interpreter names the error
    for _ in range(3):
        g(x)
    with pytest.raises(dk.DomainError, match="log"):
        g(np.array([0.5, 0.0, 1.0, 2.0, 3.0]))


def test_graphs_above_the_size_limit_run_interpreted(monkeypatch: pytest.MonkeyPatch) -> None:
    from diffkit.engines import compiler

    def chain(x):
        for _ in range(40):
            x = x + 0.25 * dk.sin(x)
        return x

    x, want = 0.3, 1.0
    for _ in range(40):  # by hand: d/dx of x + 0.25 sin x is 1 + 0.25 cos x, chained
        want *= 1 + 0.25 * np.cos(x)
        x = x + 0.25 * np.sin(x)
    monkeypatch.setattr(compiler, "MAX_COMPILED_NODES", 50)
    f = dk.jit(chain)
    with pytest.raises(compiler.TooLargeToCompile, match="120 operations"):
        compile_gradient(f, 0.3)
    g = dk.grad(f)
    for _ in range(4):
        assert g(0.3)[0] == pytest.approx(want, rel=1e-14)
    assert not any(isinstance(v, compiler.CompiledGradient) for v in f.cache.values())


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_compiled_reductions_are_numpys_reductions_bit_for_bit(dtype, monkeypatch) -> None:
    """Generated code calls ufunc.reduce for sum/max/min/prod (NumPy's wrappers call the same):
    the code gives bit for bit what the same code with np.sum/np.max gives, dtype kept, and
    agrees with the interpreted engine."""
    from diffkit.engines import codegen

    def f(x):
        rows = dk.amax(x, axis=1) + dk.amin(x, axis=1, keepdims=False)
        cols = dk.prod(x, axis=0, keepdims=True)
        return dk.sum(rows) * dk.sum(x * cols) + dk.sum(x, axis=(0, 1))

    x = np.random.default_rng(3).uniform(0.5, 1.5, size=(4, 3)).astype(dtype)
    fast = dk.value_and_grad(dk.jit(f))
    v, (g,) = fast(x)
    assert "np.add.reduce(" in fast.source and "np.sum(" not in fast.source
    monkeypatch.setattr(codegen, "_REDUCE", {})
    wrapped = dk.value_and_grad(dk.jit(f))
    v0, (g0,) = wrapped(x)
    assert "np.sum(" in wrapped.source
    assert g.dtype == g0.dtype == dtype and v == v0 and np.array_equal(g, g0)
    want_v, (want_g,) = dk.value_and_grad(f, method="reverse")(x)
    rtol = 1e-6 if dtype == np.float32 else 1e-14
    np.testing.assert_allclose(g, want_g, rtol=rtol)
    assert v == pytest.approx(want_v, rel=rtol)


EXPANDED = [p for p in REGISTRY.values() if p.expand is not None]


@pytest.mark.parametrize("prim", [pytest.param(p, id=p.name) for p in EXPANDED])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_expansions_compute_the_impl_bit_for_bit(prim, dtype) -> None:
    """A record's ``expand`` is what generated code prints in place of the fused impl: evaluated
    on plain arrays it gives the impl's value exactly (same operations, same order), and the
    compiled gradient through it equals the interpreted one (the VJP rule)."""
    assert EXPANDED, "no primitive declares an expansion"
    rng = np.random.default_rng(5)
    z = rng.normal(size=(6, 4)).astype(dtype) * 3
    t = rng.dirichlet(np.ones(4), size=6).astype(dtype)
    args = (z, t)[:prim.nargs]
    want = prim.impl(np, *args)
    got = prim.expand(*args)
    assert got.dtype == want.dtype and np.array_equal(got, want)

    weights = np.arange(1, want.size + 1, dtype=dtype).reshape(want.shape)

    def f(*xs):
        return dk.sum(prim(*xs) * weights)

    names = [f"x{i}" for i in range(prim.nargs)]
    fast = dk.value_and_grad(dk.jit(f, inputs=names), argnums=tuple(range(prim.nargs)))
    v, grads = fast(*args)
    assert f"{prim.name}(" not in fast.source  # printed as its expansion, not called
    want_v, want_g = dk.value_and_grad(dk.function(f, inputs=names), argnums=tuple(
        range(prim.nargs)), method="reverse")(*args)
    assert v == want_v
    for g, w in zip(grads, want_g):
        assert g.dtype == w.dtype and np.array_equal(g, w)


def test_common_subexpressions_are_computed_once() -> None:
    """The same primitive on the same values with the same parameters is one line; different
    parameters (axes) stay apart. Cross-entropy's VJP shares the forward's log-softmax."""
    def f(x):
        return dk.sum(dk.sin(x) * dk.sin(x)) + dk.sum(dk.sum(x, axis=0)) * dk.sum(dk.sum(x, axis=1))

    x = np.random.default_rng(2).normal(size=(3, 4))
    fast = dk.value_and_grad(dk.jit(f))
    v, (g,) = fast(x)
    body = fast.source.split("\ndef ")[1]  # the value_and_grad function
    assert body.startswith("value_and_grad(") and body.count("np.sin(") == 1
    assert "axis=(0,)" in body and "axis=(1,)" in body
    want_v, (want_g,) = dk.value_and_grad(f, method="reverse")(x)
    assert v == pytest.approx(want_v, rel=1e-14)
    np.testing.assert_allclose(g, want_g, rtol=1e-14)
    # by hand: d/dx Σ sin² = sin 2x; d/dx (Σ_rows Σ_cols) products: (Σx)·2 everywhere
    np.testing.assert_allclose(g, np.sin(2 * x) + 2 * x.sum(), rtol=1e-13)

    def xent(z, t):
        return dk.mean(dk.softmax_cross_entropy(z, t))

    z = np.random.default_rng(3).normal(size=(5, 3))
    t = np.eye(3)[[0, 2, 1, 1, 0]]
    step = dk.value_and_grad(dk.jit(xent), wrt=0)  # the logits only, as a training step
    _, (gz,) = step(z, t)
    body = step.source.split("\ndef ")[1]
    # one max, one exp and one log1p, shared by the loss and its VJP (special._softmax_pieces);
    # differentiated in the targets too, t̄ = −log_softmax(z) takes log_softmax's own dominant
    # form (a second log1p: its derivatives keep 1 − p, tests/test_xent_target44.py)
    assert body.count("np.log1p(") == 1 and body.count("np.maximum.reduce(") == 1
    assert body.count("np.exp(") == 1 and "np.log(" not in body
    p = np.exp(z) / np.exp(z).sum(1, keepdims=True)  # softmax − one-hot, over the rows
    np.testing.assert_allclose(gz, (p - t) / 5, rtol=1e-13, atol=1e-16)


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64, np.complex128, np.int64])
@pytest.mark.parametrize("axis", [None, 0, 1, (0, 2)])
def test_compiled_mean_is_numpys_mean_bit_for_bit(dtype, axis) -> None:
    """Generated code writes a float32/float64/complex mean as the sum over the count (what
    np.mean computes for those, without its wrapper); other dtypes keep np.mean (integers and
    float16 accumulate in a wider type there)."""
    from diffkit.engines.compiler import compile_value

    x = (np.random.default_rng(4).uniform(-3, 3, size=(3, 5, 4)) * 1000).astype(dtype)
    for keepdims in (False, True):
        fn = dk.function(lambda x, k=keepdims: dk.mean(x, axis=axis, keepdims=k))
        code = compile_value(fn, [x])
        got, want = code(x), np.mean(x, axis=axis, keepdims=keepdims)
        assert np.shape(got) == np.shape(want) and np.result_type(got) == np.result_type(want)
        assert np.array_equal(got, want)
        wider = np.dtype(dtype).name in ("float16", "int64")
        assert ("mean" in code.__code__.co_names) == wider


@pytest.mark.parametrize("body", [lambda x: 2.0 / dk.mean(x), lambda x: dk.mean(x) ** 2.0,
                                  lambda x: -dk.mean(x), lambda x: 1.0 - dk.sin(dk.mean(x))])
def test_an_inlined_mean_keeps_its_parentheses(body) -> None:
    """A mean printed as ``np.add.reduce(x) / n`` is a quotient, not an atom: written into its
    one use it is parenthesized (2 / (s / n), not 2 / s / n). The renderer says which renderings
    are atomic, so this rests on its word (compile_value refuses code that disagrees with its
    trace: a wrong word raises here)."""
    from diffkit.engines.compiler import compile_value

    x = np.array([1.0, 2.0, 3.0, 4.0])
    code = compile_value(dk.function(body), [x])
    assert code(x) == pytest.approx(body(x), rel=1e-15)
    assert "mean" not in code.__code__.co_names  # the sum-over-count form was generated


def test_a_compiled_gradient_is_never_the_callers_array() -> None:
    """d/dx Σ stop_gradient(x)·x = x: the generated code returns a copy (it returned the input
    array itself, so changing the gradient changed the caller's x)."""
    x = np.array([1.0, 2.0, 3.0])
    vg = dk.value_and_grad(dk.jit(lambda x: dk.sum(dk.stop_gradient(x) * x)))
    v, (g,) = vg(x)
    assert v == 14.0 and not np.shares_memory(g, x)
    np.testing.assert_array_equal(g, x)
    g[0] = 99.0
    assert x[0] == 1.0


def test_slices_of_a_flat_vector_add_their_gradients_in_place() -> None:
    """A function of slices of one parameter vector (a functional model's flat parameters): each
    slice's adjoint is added into one gradient array in place (`g[a:b] += …`), not placed in
    zeros and summed over the whole vector; the values are the interpreter's and a hand
    formula's, for a fresh sum, a constant one and a sum of two slices alone."""
    c = np.linspace(0.5, 2.0, 6)

    def f(theta):
        w, b = dk.reshape(theta[0:4], (2, 2)), theta[4:6]
        return dk.sum(dk.tanh(w @ b) ** 2) + dk.sum(theta * theta) + dk.sum(theta[1:3] * c[:2])

    def g_only_slices(theta):
        return dk.sum(theta[0:3] ** 3) + dk.sum(dk.sin(theta[3:6]))

    def g_constant(theta):
        return dk.sum(theta * c) + theta[2] ** 2

    theta = np.linspace(-1.0, 1.0, 6)
    for fn in (f, g_only_slices, g_constant):
        fast = dk.value_and_grad(dk.jit(fn))
        v, (g,) = fast(theta)
        body = fast.source.split("\ndef ")[1]
        assert "index_add(" not in body and "] += " in body
        want_v, (want_g,) = dk.value_and_grad(fn, method="reverse")(theta)
        assert v == pytest.approx(want_v, rel=1e-14)
        np.testing.assert_allclose(g, want_g, rtol=1e-14, atol=1e-15)
    _, (g,) = dk.value_and_grad(dk.jit(g_only_slices))(theta)
    np.testing.assert_allclose(g, np.r_[3 * theta[:3] ** 2, np.cos(theta[3:])], rtol=1e-14)
    _, (g,) = dk.value_and_grad(dk.jit(g_constant))(theta)
    np.testing.assert_allclose(g, c + np.r_[0, 0, 2 * theta[2], 0, 0, 0], rtol=1e-14)


def _grad_body(fast) -> str:
    """The generated `grad` function's text (the pruned gradient-only code)."""
    return next(part for part in fast.source.split("\ndef ") if part.startswith("grad("))


@pytest.mark.parametrize("order", ["C", "F"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_rolled_adjoints_are_added_in_place_bit_for_bit(order, dtype) -> None:
    """A roll read once by a sum is printed as two slice additions into the sum's buffer
    (`g[k:] += y[:-k]`, `g[:k] += y[-k:]`) instead of a rolled copy added whole: the same
    additions of the same numbers, so the gradient is the interpreter's bit for bit — for shifts
    past the length, negative and whole turns, an axis of a 2-D array (C and Fortran order),
    `roll − a` and `a − roll`, two rolls in one sum, and a flattened 2-D roll (left to
    np.roll). The 1-D case is checked against its hand formula too."""
    rng = np.random.default_rng(0)
    x = rng.uniform(0.5, 2.0, 7).astype(dtype)
    X = np.asarray(rng.uniform(0.5, 2.0, (4, 5)), dtype=dtype, order=order)
    # (function, point, text the gradient's code must show, text it must not)
    cases = [
        (lambda x: dk.sum(dk.log(x) + x * dk.roll(x, 1) - dk.sin(x)), x, "v1[:1] += a0[6:]",
         "np.roll("),
        (lambda x: dk.sum(dk.exp(x)) - dk.sum(dk.roll(x, 9) * x), x, "] -= a0[", "np.roll("),
        (lambda x: dk.sum(dk.roll(x, -3) * dk.sin(x)) - dk.sum(dk.cos(x)), x, "[3:] += v1[:4]",
         "np.roll(v1"),
        (lambda x: dk.sum(dk.roll(x, 7) * x + dk.roll(x, 14) * x), x, "+= a0", "np.roll("),
        (lambda X: dk.sum(dk.sin(X) * dk.roll(X, 2, axis=1)) + dk.sum(X * dk.roll(X, -1, axis=0)),
         X, "[:, 3:] += v2[:, :2]", "np.roll(v2"),
        (lambda X: dk.sum(dk.tanh(X) * dk.roll(X, 3)), X, "np.roll(v1, -3)", "] += "),
    ]
    for fn, point, shown, absent in cases:
        fast = dk.grad(dk.jit(fn))
        kept = point.copy()
        (g,) = fast(point)
        np.testing.assert_array_equal(point, kept)  # the caller's array is never written
        (want,) = dk.grad(fn, method="reverse")(point)
        assert g.dtype == point.dtype
        np.testing.assert_array_equal(g, want)
        body = _grad_body(fast)
        assert shown in body and absent not in body, body
    (g,) = dk.grad(dk.jit(cases[0][0]))(x)
    hand = 1 / x + np.roll(x, 1) + np.roll(x, -1) - np.cos(x)
    np.testing.assert_allclose(g, hand, rtol=1e-6 if dtype == np.float32 else 1e-14)


@settings(max_examples=60, deadline=None)
@given(n=st.integers(1, 9), m=st.integers(1, 5), s1=st.integers(-25, 25), s2=st.integers(-25, 25),
       axis=st.sampled_from([None, 0, 1, -1]), minus=st.booleans(), seed=st.integers(0, 2**16))
def test_rolled_sums_agree_with_the_interpreter_everywhere(n, m, s1, s2, axis, minus, seed) -> None:
    """Any shifts (past the length, negative, whole turns), any axis of a 1-D or 2-D array,
    sums and differences: the generated gradient with rolls added in place is the
    interpreter's, bit for bit."""
    rng = np.random.default_rng(seed)
    x = rng.uniform(0.5, 2.0, (n, m) if axis is not None else n)
    ax = axis if x.ndim == 2 else None

    def f(x):
        a = dk.roll(x, s1, axis=ax) * dk.sin(x)
        b = dk.roll(x * x, s2, axis=ax)
        return dk.sum(a - b if minus else a + b) + dk.sum(dk.exp(x) * dk.roll(x, s2 - s1, axis=ax))

    kept = x.copy()
    (got,) = dk.grad(dk.jit(f))(x)
    (want,) = dk.grad(f, method="reverse")(x)
    np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(x, kept)


PLACE_CASES = {  # record -> (input, params) examples its `place` rule must describe exactly
    "index_add": [(np.arange(1.0, 4.0), {"index": (slice(1, 4),), "shape": (6,)}),
                  (np.arange(1.0, 7.0).reshape(2, 3), {"index": (slice(None), slice(0, 3)),
                                                       "shape": (2, 5)}),
                  (np.float64(2.5), {"index": (3,), "shape": (5,)})],
    "roll": [(np.arange(1.0, 8.0), {"shift": 3, "axis": None}),
             (np.arange(1.0, 8.0), {"shift": -9, "axis": None}),
             (np.arange(1.0, 8.0), {"shift": 14, "axis": None}),
             (np.arange(1.0, 13.0).reshape(3, 4), {"shift": (1,), "axis": (1,)}),
             (np.arange(1.0, 13.0).reshape(3, 4), {"shift": -2, "axis": (0,)})],
}


def test_every_place_rule_describes_its_impl() -> None:
    """A record's `place` pieces, assembled into zeros (or over the whole output when they say
    they cover it), give exactly what its impl computes; every record with a rule is checked."""
    with_rule = {p.name for p in REGISTRY.values() if getattr(p, "place", None) is not None}
    assert with_rule == set(PLACE_CASES)
    for name, examples in PLACE_CASES.items():
        prim = REGISTRY[name]
        for x, params in examples:
            want = prim.impl(np, x, **params)
            pieces, covers = prim.place(np.shape(x), **params)
            got = np.full(want.shape, np.nan if covers else 0.0)
            for out_index, in_index in pieces:
                got[... if out_index is None else out_index] = \
                    x if in_index is None else np.asarray(x)[in_index]
            np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize(("dtype", "c"), [(np.float32, 1e-7), (np.float16, 1e-3)])
def test_low_precision_scalars_keep_their_dtype_in_generated_code(dtype, c) -> None:
    """Scalar code is written with Python's math (float64) only where NumPy computes in float64:
    a float32 or float16 scalar keeps NumPy's arithmetic in its dtype. Before, the third call of
    the default gradient (the first compiled one) raised an internal TracingError and every
    later call silently answered in float64."""
    text = f"sin(x) * ((cos(x) + {c!r}) - cos(x)) / {c!r}"
    x = dtype(2.0)
    g = dk.grad(dk.parse(text))
    cc = dtype(c)
    # d/dx sin(x)·((cos x + c) − cos x)/c in the input's dtype, by hand (the cancellation
    # leaves a few of the dtype's bits); float64 arithmetic gives cos(2) instead
    hand = np.cos(x) * ((np.cos(x) + cc) - np.cos(x)) / cc
    assert abs(float(hand) - np.cos(2.0)) > 1e-3
    first = g(x)[0]
    for _ in range(5):  # interpreted twice, then compiled
        (got,) = g(x)
        assert type(got) is dtype and got == first
        assert abs(float(got) - float(hand)) <= 4 * float(np.spacing(dtype(1.0)))
    jf = dk.jit(lambda x: dk.sin(x) * ((dk.cos(x) + c) - dk.cos(x)) / c)
    np.testing.assert_array_equal(dk.jacobian(jf, method="compiled")(x), [[first]])
    np.testing.assert_array_equal(dk.jacobian(jf)(x), [[first]])


def test_code_that_disagrees_with_its_trace_is_never_used(monkeypatch) -> None:
    """Generated code is run once at its trace point and compared with the trace; code that
    disagrees is refused for good: every later call is interpreted (it used to be kept after
    the first refusal and answered unchecked from the next call on)."""
    from diffkit.engines import compiler

    real = compiler._emit

    def off_by_one(*args, **kwargs):  # a deliberately wrong gradient line
        lines, count = real(*args, **kwargs)
        return [line.replace("return (", "return (1.0 + ", 1) if args[0] == "grad" else line
                for line in lines], count

    monkeypatch.setattr(compiler, "_emit", off_by_one)
    g = dk.grad(dk.parse("x * x"))
    assert [g(3.0)[0] for _ in range(6)] == [6.0] * 6
    g = dk.grad(dk.parse("x * x"), method="compiled")
    assert [g(3.0)[0] for _ in range(3)] == [6.0] * 3


def test_a_0d_gradient_is_never_the_callers_array() -> None:
    """d(x·y)/dx = y: for 0-d array arguments the compiled code returned y itself (shapes () were
    not copied), so changing the gradient changed the caller's y."""
    for f in (dk.parse("x*y"), dk.jit(lambda x, y: x * y)):
        g = dk.grad(f)
        for _ in range(3):  # the third call runs generated code
            x, y = np.array(2.0), np.array(3.0)
            gx, gy = g(x, y)
            assert gx == 3.0 and gy == 2.0
            assert not np.shares_memory(gx, y) and not np.shares_memory(gy, x)
            gx += 100.0
            assert y == 3.0 and x == 2.0


@pytest.mark.parametrize("method", ["reverse", "compiled", "auto", "forward"])
def test_a_pullback_never_returns_the_callers_cotangent(method) -> None:
    """d(a + b) passes the cotangent through to both inputs: the reverse engine returned the
    caller's cotangent array itself for both (changing one gradient changed the other and ct)."""
    f = dk.jit(lambda a, b: a + b) if method == "compiled" else dk.function(lambda a, b: a + b)
    _, pull = dk.vjp(f, np.ones(2), np.ones(2), method=method)
    ct = np.array([5.0, 6.0])
    ga, gb = pull(ct)
    np.testing.assert_array_equal(ga, ct)
    np.testing.assert_array_equal(gb, ct)
    ga[0] = 99.0
    assert gb[0] == 5.0 and ct[0] == 5.0


def test_a_compiled_pullback_checks_the_cotangents_shape() -> None:
    """A cotangent must have the output's shape (a scalar for a one-element output), as the
    reverse engine requires; the compiled pullback broadcast any shape silently."""
    jf = dk.jit(lambda x: dk.sin(x) * 2.0)
    x = np.array([1.0, 2.0, 3.0])
    _, pull = dk.vjp(jf, x, method="compiled")
    (g,) = pull(np.array([1.0, 0.5, 2.0]))
    np.testing.assert_allclose(g, 2 * np.cos(x) * [1.0, 0.5, 2.0], rtol=1e-15)
    for bad in (1.0, np.array([1.0]), np.ones((1, 3)), np.ones(4)):
        with pytest.raises(dk.ShapeError, match="cotangent of shape"):
            pull(bad)


def test_a_compiled_gradient_refuses_other_shapes() -> None:
    """Sizes are printed into generated code (a mean's count): dk.compile_gradient's result
    called at other shapes gave a wrong number (18.33 for mean(x²)'s value at 0..5, not 9.17);
    now a ShapeError names both shapes. Its own shapes still work, checked by hand."""
    cg = dk.compile_gradient("mean(x^2)", np.ones(3))
    x = np.arange(3.0)
    value, (g,) = cg(x)
    assert value == pytest.approx(5 / 3) and np.allclose(g, 2 * x / 3)
    np.testing.assert_allclose(cg.grad(x)[0], 2 * x / 3)
    for call in (cg, cg.grad):
        with pytest.raises(dk.ShapeError, match=r"shapes \(\(3,\),\), got \(\(6,\),\)"):
            call(np.arange(6.0))
    with pytest.raises(dk.ShapeError):
        cg.vjp(np.arange(6.0), 1.0)


_BODIES = {
    "scalar": (lambda x, y: dk.log(x) * y + dk.sin(x * y) / (1.0 + y * y), (2.0, 0.7)),
    "chain": (lambda x: _chain(x, 40), (0.3,)),
    "arrays": (lambda x, a: dk.sum(dk.tanh(a @ x)) + dk.sum(dk.roll(x, 1) * dk.sqrt(x))
               * x[1:3].sum(),
               (np.linspace(0.5, 2.0, 5), np.arange(15.0).reshape(3, 5) / 7.0)),
    "vector": (lambda x: dk.exp(x) * dk.cumsum(x) - x[::-1], (np.array([0.1, -0.4, 0.9]),)),
}


def _chain(x, n):
    for _ in range(n):
        x = dk.sin(x) * 1.0001 + 0.01
    return x


@pytest.mark.parametrize("name", sorted(_BODIES))
def test_lifting_a_trace_prints_what_tracing_it_again_prints(name) -> None:
    """A pure function's gradient is compiled from its one trace lifted onto a tape; any other
    function is traced a second time on Tensors of the tape (nested). Both must print the same
    program: the same primitives applied to the same values record the same graph."""
    body, xs = _BODIES[name]
    lifted = compile_gradient(dk.jit(body), *xs)  # a jit function's replay is pure: lifted
    nested = compile_gradient(dk.function(body), *xs)  # a Python body: traced again, nested
    kinds = ("value_and_grad", "grad") if lifted.out_shape in ((), (1,)) else ("vjp",)
    for kind in kinds:
        assert lifted.source_of(kind) == nested.source_of(kind)
    args = [np.asarray(x) + 0.05 for x in xs]  # another point: the programs run alike
    if kinds[0] == "vjp":
        ct = np.array([0.3, -1.0, 2.0])
        np.testing.assert_array_equal(lifted.vjp(*args, ct)[1][0], nested.vjp(*args, ct)[1][0])
    else:
        assert lifted.grad(*args) == nested.grad(*args) if not args[0].shape else all(
            np.array_equal(a, b) for a, b in zip(lifted.grad(*args), nested.grad(*args)))


def test_a_compiled_step_reads_labels_it_does_not_differentiate_as_arguments() -> None:
    """nn's losses read a label array's values (not differentiated): the compiled step must
    take them from its argument at every call, never from the trace it was compiled at."""
    from diffkit import nn
    from diffkit.engines.compiler import compile_step

    def body(w, x, t):
        z = x @ w
        return nn.cross_entropy(z, t), z

    rng = np.random.default_rng(3)
    w, x = rng.normal(size=(3, 4)), rng.normal(size=(5, 3))
    t1, t2 = np.eye(4)[[0, 1, 2, 3, 0]], np.eye(4)[[3, 3, 1, 0, 2]]
    code = compile_step(body, [w, x, t1], [0], ["w", "x", "t"])
    (loss, _), (g,) = code.run("value_and_grad", w, x, t2)
    p = np.exp(x @ w) / np.exp(x @ w).sum(axis=1, keepdims=True)  # by hand: softmax − t
    assert loss == pytest.approx(-np.mean(np.sum(t2 * np.log(p), axis=1)), rel=1e-13)
    np.testing.assert_allclose(g, x.T @ (p - t2) / 5, rtol=1e-12)
