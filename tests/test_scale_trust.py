"""Scale: named errors, never a bare RecursionError or MemoryError from deep inside (tenth
hunt, h10c)."""

import numpy as np
import pytest

import diffkit as dk
from diffkit.errors import DiffkitError


def _chain(n):
    @dk.jit
    def f(x):
        y = x
        for _ in range(n):
            y = dk.sin(y)
        return y
    return f



def test_to_sympy_of_a_deep_chain_is_not_a_recursion_error():
    """f.to_sympy() of a 600-deep chain sin(sin(…(x))) (a Python or jit function; the parser
    stops at 256 levels) lets SymPy's RecursionError (from Expr.is_number inside the
    construction) escape. The symbolic engine turns the same RecursionError into a
    MissingRuleError that names the cause; to_sympy should too (or return the expression)."""
    f = _chain(600)
    escaped = None
    try:
        f.to_sympy()
    except RecursionError as exc:  # the snapshot
        escaped = str(exc)
    except DiffkitError:
        pass
    if escaped is not None:  # failed outside the except: a 1000-frame traceback prints slowly
        pytest.fail(f"bare RecursionError: {escaped}", pytrace=False)


def test_forward_mode_gradient_of_many_inputs_is_a_named_error_not_memoryerror():
    """dk.grad(f, method="forward") of a function of a 10⁶-element array carries a dense 10⁶×10⁶
    tangent (DiagonalRows.dense(), primitive.py:506): NumPy's bare MemoryError ("Unable to
    allocate 7.28 TiB") escapes from deep inside sweeps.tangent_sweep. (At 10⁵ elements it asks
    for 74.5 GiB, which a machine with overcommit may grant and then be OOM-killed filling.)
    Expected: a named error that says forward mode needs n tangents and to use reverse/auto
    (or chunking and the right answer)."""
    x = np.linspace(-1.0, 1.0, 10**6)
    escaped = None
    try:
        g = dk.grad(lambda x: np.sum(np.sin(x)), method="forward")(x)[0]
    except MemoryError as exc:  # the snapshot: numpy._core._exceptions._ArrayMemoryError
        escaped = f"{type(exc).__name__}: {exc}"
    except DiffkitError:
        return
    else:
        np.testing.assert_allclose(g, np.cos(x), rtol=1e-15)
        return
    pytest.fail(f"bare {escaped}", pytrace=False)




def _swelling(n):
    """y ← sin(y)·cos(y) + 0.1, n times: 4n graph nodes, a substituted tree of ~4ⁿ operations."""
    @dk.jit
    def f(x):
        y = x
        for _ in range(n):
            y = dk.sin(y) * dk.cos(y) + 0.1
        return y
    return f


def test_notebook_formula_of_a_small_swelling_function_is_dropped_at_once():
    """_repr_latex_/_repr_html_ (what Jupyter shows for a function) built the SymPy tree of an
    80-node function and walked it with sp.count_ops: ~4²⁰ operations, over a minute. The
    tree's size is counted over the graph first: no formula (the listing still shows)."""
    import time

    f = _swelling(20)
    t = time.perf_counter()
    assert f._repr_latex_() is None
    assert "<div>" in f._repr_html_() or "<p>" in f._repr_html_()
    assert time.perf_counter() - t < 5.0
    small = _swelling(2)
    assert small._repr_latex_() is not None  # a small one keeps its formula
