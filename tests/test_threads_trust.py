"""Threads, re-entrancy and state left behind (hunt 9, h9a): tape levels and grad mode that
another thread cannot confuse, traced values never stored in eager leaves, lazily generated code
and lazily built tables that an interrupt or a second thread cannot catch half-made, and
``backward()`` inside a traced function refused by name.

References are hand formulas (stated in each test) or central differences of the plain NumPy
function. Thread tests are made deterministic with events whose waits are short (WAIT), so a
fix that serializes with a lock only makes them wait, never hang."""

from __future__ import annotations

import builtins
import sys
import threading
import warnings
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

import diffkit as dk
from diffkit import nn
from diffkit.errors import DiffkitError, ShapeError, TracingError

WAIT = 0.5  # seconds any event waits at most


# ----- tape levels: nested derivatives while another thread traces -------------------------------


def _hold_a_trace_open(b_in: threading.Event, a_in: threading.Event, b_done: threading.Event,
                       out: dict) -> None:
    """Thread B: a plain dk.grad whose trace stays open until thread A has started its own."""
    def g(x):
        b_in.set()
        a_in.wait(WAIT)
        return x * x
    try:
        out["b"] = dk.grad(g)(3.0)[0]
    finally:
        b_done.set()


def _with_other_thread(outer, x: float) -> tuple[float, float]:
    """dk.grad(outer)(x) in this thread while thread B's trace starts before it and ends inside
    it, before `outer` runs (so the inner trace starts after B's has ended)."""
    b_in, a_in, b_done = threading.Event(), threading.Event(), threading.Event()
    out: dict = {}
    tb = threading.Thread(target=_hold_a_trace_open, args=(b_in, a_in, b_done, out))
    tb.start()
    b_in.wait(WAIT)

    def synced(x):
        a_in.set()
        b_done.wait(WAIT)
        return outer(x)

    try:
        a = dk.grad(synced)(x)[0]
    finally:
        tb.join()
    return a, out["b"]


def test_nested_grad_while_another_thread_traces_is_not_confused() -> None:
    """Levels counted the tapes open in the whole process and bind() records on the argument
    tape of the highest level: with B's trace open, A's outer tape was level 2, and after B
    ended A's inner tape was level 2 too, so `x * y` went to the outer tape and the inner
    derivative saw a constant. d/dx [x · d/dy (x·y + y²)|y=x] = d/dx 3x² = 6x = 12 at x = 2
    (hand formula); diffkit answered 0.0."""
    def outer(x):
        return x * dk.grad(lambda y: x * y + y * y)(x)[0]

    a, b = _with_other_thread(outer, 2.0)
    assert b == pytest.approx(6.0)
    assert a == pytest.approx(12.0, rel=1e-12)

    # Why levels are creation order, not a count of the tapes open per thread: an inner
    # derivative taken in a thread pool inside a traced function closes over the outer x, and
    # its tape (the worker's first) must still be the inner one. d/dx [x · d/dy (x·y)|y=1] =
    # d/dx x² = 2x = 6 at x = 3 (hand formula); per-thread counts give both tapes level 1: 0.0.
    def outer_pool(x):
        with ThreadPoolExecutor(1) as pool:
            inner = pool.submit(dk.derivative(lambda y: x * y), 1.0).result()
        return x * inner

    assert dk.derivative(outer_pool)(3.0) == pytest.approx(6.0, rel=1e-12)


@pytest.mark.parametrize("inner_method", ["reverse", "forward"])
def test_perturbation_confusion_classic_while_another_thread_traces(inner_method: str) -> None:
    """The classic test d/dx [x · d/dy (x + y)|y=1] = 1 (hand formula) while another thread's
    trace overlaps: diffkit answered 0.0."""
    def outer(x):
        return x * dk.derivative(lambda y: x + y, method=inner_method)(1.0)

    a, _ = _with_other_thread(outer, 2.0)
    assert a == pytest.approx(1.0, rel=1e-12)


# ----- grad mode: nn.no_grad is per thread ---------------------------------------------------


def test_no_grad_in_another_thread_does_not_cut_this_threads_graph() -> None:
    """nn.no_grad was one flag for the process (PyTorch's is per thread): while a validation
    thread sat in `with nn.no_grad():`, the training thread recorded nothing. loss = Σ w·x + Σ w²
    → ∂loss/∂w = x + 2w = [5, 8] (hand formula); diffkit gave 2w = [2, 4]."""
    entered, release = threading.Event(), threading.Event()

    def validation():
        with nn.no_grad():
            entered.set()
            release.wait(WAIT)

    t = threading.Thread(target=validation)
    t.start()
    entered.wait(WAIT)
    try:
        w = dk.tensor(np.array([1.0, 2.0]), requires_grad=True)
        a = (w * np.array([3.0, 4.0])).sum()  # recorded while the other thread is in no_grad
        s = (w * 1.5).sum()  # the scalar path too: ∂/∂w = 1.5
    finally:
        release.set()
        t.join()
    (a + (w * w).sum() + s).backward()
    np.testing.assert_allclose(w.grad, [6.5, 9.5])


def test_overlapping_no_grad_in_two_threads_leaves_gradients_on() -> None:
    """Each block saved and restored the one flag: A enters (saves on), B enters (saves off),
    A leaves (on), B leaves (restores off): gradients stayed off in every thread afterwards."""
    a_in, b_in, a_out = threading.Event(), threading.Event(), threading.Event()

    def ta():
        with nn.no_grad():
            a_in.set()
            b_in.wait(WAIT)
        a_out.set()

    def tb():
        a_in.wait(WAIT)
        with nn.no_grad():
            b_in.set()
            a_out.wait(WAIT)

    threads = [threading.Thread(target=ta), threading.Thread(target=tb)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    try:
        assert nn.is_grad_enabled()
        w = dk.tensor(np.array([1.0, 2.0]), requires_grad=True)
        (w * w).sum().backward()
        np.testing.assert_allclose(w.grad, [2.0, 4.0])  # 2w
        with nn.no_grad():  # nested in one thread: off in both blocks, on after the outer one
            with nn.no_grad():
                assert not nn.is_grad_enabled()
            assert not nn.is_grad_enabled() and not (w * 2.0).requires_grad
        assert nn.is_grad_enabled() and (w * 2.0).requires_grad
    finally:
        tensor_module = sys.modules["diffkit.tensor"]  # (dk.tensor is the function)
        legacy = getattr(tensor_module, "GRAD_MODE", None)  # the process-wide flag before the fix
        if legacy is not None:
            legacy["enabled"] = True  # do not leak the defect into other tests


# ----- a traced value written into an eager leaf ---------------------------------------------


T0 = np.array([1.0, 2.0])


@pytest.mark.parametrize("how", ["assign_", "data", "isub"])
def test_traced_value_written_into_eager_leaf_is_refused(how: str) -> None:
    """Inside a differentiated function, `nn.assign_(t, t * x)` or `t.data = t * x` stored a
    Tensor of the trace in the eager leaf, and `t * t` then read as a constant: dk.grad
    answered 0.0 where f(x) = Σ (t0·x)² gives 2x·Σ t0² = 30 at x = 3 (hand formula); `t -= …`
    rebound the name and left the leaf unchanged. A TracingError that says what to do (as
    torch.func.grad refuses to mutate a captured tensor)."""
    t = dk.tensor(T0.copy(), requires_grad=True)

    def f(x):
        if how == "assign_":
            nn.assign_(t, t * x)
        elif how == "data":
            t.data = t * x
        else:
            with nn.no_grad():
                for p in [t]:  # as an optimizer loop over parameters
                    p -= p * x
        return dk.sum(t * t)

    with pytest.raises(TracingError, match="functionally"):
        dk.grad(f)(3.0)
    np.testing.assert_array_equal(t.node.value, T0)  # the leaf is as it was


def test_eager_leaf_is_not_left_holding_a_dead_traced_value() -> None:
    """After such a call the leaf held a Tensor of the closed trace, and every later use of it
    (a forward pass, state_dict) raised 'a traced value from a trace that has ended was used':
    one dk.grad call ruined the model. Whatever the call answers, the leaf keeps an array."""
    t = dk.tensor(T0.copy(), requires_grad=True)

    def f(x):
        nn.assign_(t, t * x)
        return dk.sum(t * t)

    try:
        dk.grad(f)(3.0)
    except DiffkitError:
        pass
    assert isinstance(t.node.value, np.ndarray)
    assert float(dk.sum(t * t).value) == pytest.approx(5.0)  # Σ t0², usable afterwards


def test_meta_gradient_through_manual_sgd_step_is_refused_not_silently_zero() -> None:
    """A learning-rate meta-gradient written the PyTorch way: backward(), then
    `with nn.no_grad(): p -= lr * p.grad`, then the loss again. With lr traced, `p -= …` rebound
    the loop variable, the model was never stepped, and dk.grad answered 0.0 where central
    differences of the same loss in float64 NumPy give −2.63579. A TracingError naming the
    functional form; written so (nn.functional_call), the meta-gradient matches."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(8, 2))
    Y = rng.normal(size=(8, 1))
    nn.manual_seed(0)
    model = nn.Linear(2, 1, dtype=np.float64)
    W0, b0 = model.weight.value.astype(float), model.bias.value.astype(float)

    def meta(lr):
        for p in model.parameters():
            p.grad = None
        nn.mse_loss(model(X), Y).backward()
        with nn.no_grad():
            for p in model.parameters():
                p -= lr * p.grad
        return nn.mse_loss(model(X), Y)

    r = X @ W0.T + b0 - Y
    gW, gb = 2 * (r.T @ X) / r.size, 2 * r.sum(0) / r.size

    def plain(lr):
        return np.mean((X @ (W0 - lr * gW).T + (b0 - lr * gb) - Y) ** 2)

    h = 1e-6
    ref = (plain(0.1 + h) - plain(0.1 - h)) / (2 * h)
    with pytest.raises(TracingError, match="functional_call"):
        dk.grad(meta)(0.1)
    np.testing.assert_array_equal(model.weight.value, W0)  # not stepped

    def meta_functional(lr):
        new = {"weight": model.weight - lr * gW, "bias": model.bias - lr * gb}
        return nn.mse_loss(nn.functional_call(model, new, X), Y)

    assert float(dk.grad(meta_functional)(0.1)[0]) == pytest.approx(ref, rel=1e-7)


# ----- backward() inside a traced function ---------------------------------------------------


def test_backward_inside_a_traced_function_is_refused_by_name() -> None:
    """Inside dk.grad(f), `y = dk.sum(t * x * x); y.backward()` with t an eager leaf requiring
    grad raised ShapeError('backward(): nothing in this graph requires a gradient') — both t and
    x do (t entered the trace as a constant). A TracingError saying what to do instead, as
    torch.func.grad refuses .backward() inside a transform; the derivative of f is still 2·t·x."""
    t = dk.tensor(np.array([1.0, 2.0]), requires_grad=True)

    def f(x):
        y = dk.sum(t * x * x)
        with pytest.raises(TracingError, match="backward"):
            y.backward()
        return y

    g = dk.grad(f)(np.array([3.0, 4.0]))[0]
    np.testing.assert_allclose(getattr(g, "value", g), [6.0, 16.0])  # 2·t·x (eager, of t)
    assert t.grad is None


# ----- generated code: built whole, then published -------------------------------------------


F_TEXT = "x^2*y + sin(y)"
F_GRAD = (12.0, 9.0 + np.cos(2.0))  # (2xy, x² + cos y) at (3, 2), hand formula


def test_compiled_gradient_survives_an_interrupt_while_its_code_is_generated(monkeypatch) -> None:
    """CompiledGradient._function deleted its maker before compiling, running and checking the
    code, and stored the code only at the end: a KeyboardInterrupt in between left the cached
    object with neither, and from then on `.grad` raised ShapeError('grad needs a scalar output:
    use .vjp') and `.source` a bare KeyError('grad'), for the life of the function."""
    import diffkit.engines.compiler as C

    f = dk.parse(F_TEXT)
    cg = dk.compile_gradient(f, 3.0, 2.0)
    real = builtins.compile
    fired = []

    def interrupted(*a, **k):
        if not fired:
            fired.append(1)
            raise KeyboardInterrupt
        return real(*a, **k)

    monkeypatch.setattr(C, "compile", interrupted, raising=False)
    with pytest.raises(KeyboardInterrupt):
        cg.grad(3.0, 2.0)
    monkeypatch.delattr(C, "compile")
    np.testing.assert_allclose(dk.compile_gradient(f, 3.0, 2.0).grad(3.0, 2.0), F_GRAD,
                               rtol=1e-14)
    assert "def grad" in cg.source


def test_compiled_gradient_first_use_from_two_threads() -> None:
    """Two threads generating the same function: both saw the maker, and the second `del` was a
    bare KeyError('grad') (a shared dk.grad(dk.jit(f)) in a thread pool). Deterministic here:
    the first thread is held inside the maker until the second one has had its chance."""
    f = dk.parse(F_TEXT)
    cg = dk.compile_gradient(f, 3.0, 2.0)
    real_maker = cg._makers["grad"]
    second_done = threading.Event()
    calls = []

    def maker():
        calls.append(1)
        if len(calls) == 1:
            second_done.wait(WAIT)
        return real_maker()

    cg._makers["grad"] = maker
    results: dict = {}

    def first():
        try:
            results["first"] = cg.grad(3.0, 2.0)
        except Exception as exc:  # noqa: BLE001 - reported below
            results["first"] = exc

    t = threading.Thread(target=first)
    t.start()
    while not calls and t.is_alive():
        pass
    try:
        results["second"] = cg.grad(3.0, 2.0)
    finally:
        second_done.set()
        t.join()
    for k in ("first", "second"):
        assert not isinstance(results[k], Exception), f"{k}: {results[k]!r}"
        np.testing.assert_allclose(results[k], F_GRAD, rtol=1e-14)
    assert len(calls) == 1  # generated once


# ----- the symbolic special-function table: built whole, then used -----------------------------


def test_symbolic_special_functions_first_used_from_two_threads(monkeypatch) -> None:
    """scipy_special._sym built its table of SymPy classes on first use (`if not _SYMPY:
    _build_sympy(sp)`), one entry at a time and without a lock: a second thread that came after
    the first entry read one not there yet, a bare KeyError('gamma') from
    dk.grad(lambda x: scipy.special.gamma(x), method='symbolic'). Reference: Γ′(x) = Γ(x)ψ(x)."""
    import scipy.special as sc
    import sympy as sp

    import diffkit.primitives.scipy_special as S

    saved = dict(S._SYMPY)
    S._SYMPY.clear()
    monkeypatch.setattr(S, "_SYMPY_BUILT", False, raising=False)  # a fresh process's table
    paused, go = threading.Event(), threading.Event()

    class SlowItems(dict):
        def items(self):
            items = list(dict.items(self))
            yield items[0]
            if threading.current_thread() is builder:
                paused.set()
                go.wait(WAIT)
            yield from items[1:]

    monkeypatch.setattr(S, "_PRINTED", SlowItems(S._PRINTED))
    builder = threading.Thread(target=lambda: S._sym(sp, "erf"))
    try:
        builder.start()
        paused.wait(WAIT)
        g = dk.grad(lambda x: sc.gamma(x), method="symbolic")(0.7)  # waits for the builder
    finally:
        go.set()
        builder.join()
        S._SYMPY.clear()
        S._SYMPY.update(saved)
    assert g[0] == pytest.approx(sc.gamma(0.7) * sc.digamma(0.7), rel=1e-12)
# ----- 6. a warnings filter leaked by concurrent complex steps --------------------------------


def test_concurrent_complex_step_does_not_leak_a_warning_filter() -> None:
    """FiniteDifferenceEngine._complex_call wraps each traced complex evaluation in
    warnings.catch_warnings() + simplefilter('ignore', ComplexWarning). catch_warnings saves
    and restores the process-wide filter list, so two threads interleaving (A enters, B enters,
    A leaves, B leaves) restore B's copy, which holds A's 'ignore': ComplexWarning is then
    silenced for the whole process (every run of 8 threads × 400 calls left it behind), and a
    user's np.float64(complex) drops its imaginary part without a word."""
    before = list(warnings.filters)
    a_in, b_in, a_done = threading.Event(), threading.Event(), threading.Event()

    def fa(x):
        if np.dtype(x.dtype).kind == "c":
            a_in.set()
            b_in.wait(WAIT)
        return x * x

    def fb(x):
        if np.dtype(x.dtype).kind == "c":
            a_in.wait(WAIT)
            b_in.set()
            a_done.wait(WAIT)
        return x * x * x

    out: dict = {}

    def run_a():
        try:
            out["a"] = dk.grad(fa, method="fd-complex")(2.0)[0]
        finally:
            a_done.set()

    ta = threading.Thread(target=run_a)
    ta.start()
    out["b"] = dk.grad(fb, method="fd-complex")(2.0)[0]
    ta.join()
    assert out["a"] == pytest.approx(4.0) and out["b"] == pytest.approx(12.0)
    after = list(warnings.filters)
    warnings.filters[:] = before  # do not leak into other tests
    assert after == before


# ----- 7. a user's own ValueError relabelled a ShapeError -------------------------------------


@pytest.mark.parametrize("call", ["jit", "function", "fd"])
def test_users_own_value_error_is_not_relabelled_a_shape_error(call: str) -> None:
    """Function.evaluate turns every ValueError raised while the body runs into
    ShapeError('f: inputs of shapes (2,) do not fit (radius must be positive)'): a user's own
    validation error (or NumPy's 'Cannot take a larger sample than population') is reported as
    a shape mismatch of the inputs — only under a plain call of a dk.jit/dk.function and under
    finite differences; reverse mode lets it through unchanged."""
    def f(r):
        raise ValueError("radius must be positive")

    x = np.array([1.0, 2.0])
    runs = {"jit": lambda: dk.jit(f)(x), "function": lambda: dk.function(f)(x),
            "fd": lambda: dk.grad(f, method="fd")(x)}
    with pytest.raises(ValueError) as info:
        runs[call]()
    assert not isinstance(info.value, ShapeError), str(info.value)
    assert "radius must be positive" in str(info.value)

