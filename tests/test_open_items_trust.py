"""Three open items, each a wrong number or a bare error before:

1. ``order='A'``/``'K'`` (ravel, flatten, reshape) of a traced value was read in C order, but
   NumPy reads the memory order (F for ``x.T`` or ``np.asfortranarray(x)``): a silently permuted
   gradient. A traced value has no memory order diffkit could trust, so it is a named error
   wherever C and F order differ.
2. ``dk.vjp`` of a function returning a tuple: a tuple cotangent was a bare NumPy ValueError
   and nested outputs failed; the pullback now takes one cotangent per output (JAX's form) or
   the flat one, in every method.
3. ``dk.jvp`` read every primal as differentiated floats: integer labels beside the
   differentiated weights failed (a bare IndexError in finite differences). An integer input is
   now held (passed as given) when its tangent is None or zero, as ``grad`` passes one outside
   ``argnums``.

References: central differences of the plain NumPy function, and hand formulas.
"""

from __future__ import annotations

import numpy as np
import pytest

import diffkit as dk
from diffkit.errors import MemoryOrderError

AD = ["reverse", "forward", "symbolic", "compiled", "auto"]
ALL = [*AD, "fd", "fd-forward", "fd-complex", "fd-richardson"]


def _central(f, x, h=1e-6):
    """The gradient of the plain NumPy function f by central differences, at points with x's own
    memory layout (``copy(order="K")``)."""
    g = np.zeros(x.shape)
    for i in np.ndindex(x.shape):
        up, down = x.copy(order="K"), x.copy(order="K")
        up[i] += h
        down[i] -= h
        g[i] = (f(up) - f(down)) / (2 * h)
    return g


def _tol(method):
    return {"rtol": 1e-5, "atol": 1e-7} if method.startswith("fd") else {"rtol": 1e-12, "atol": 0}


# ----- 1. the memory order of a traced value --------------------------------------------------

A = np.arange(6.0).reshape(2, 3) + 1.0
W = np.arange(6.0) + 1.0
MEMORY_ORDER = [  # (name, f, f read in C order, point): NumPy reads x's memory order, F here
    ("x.T.ravel('K')", lambda x: np.sum(x.T.ravel(order="K") * W),
     lambda x: np.sum(x.T.ravel(order="C") * W), A),
    ("np.ravel(F, 'A')", lambda x: np.sum(np.ravel(x, order="A") * W),
     lambda x: np.sum(np.ravel(x, order="C") * W), np.asfortranarray(A)),
    ("x.flatten('A')", lambda x: np.sum(x.flatten("A") * W),
     lambda x: np.sum(x.flatten("C") * W), np.asfortranarray(A)),
    ("np.reshape(F, 'A')", lambda x: np.sum(np.reshape(x, (3, 2), order="A") * W.reshape(3, 2)),
     lambda x: np.sum(np.reshape(x, (3, 2), order="C") * W.reshape(3, 2)), np.asfortranarray(A)),
]


@pytest.mark.parametrize("method", AD)
@pytest.mark.parametrize("name, f, f_c, x", MEMORY_ORDER, ids=[c[0] for c in MEMORY_ORDER])
def test_memory_order_of_a_traced_value_is_a_named_error(name, f, f_c, x, method):
    ref = _central(f, x)  # the plain NumPy function's gradient
    assert not np.allclose(ref, _central(f_c, x))  # reading C order: a wrong gradient
    with pytest.raises(MemoryOrderError, match=r"memory order of a traced value is not defined"
                       r".*pass order='C' or order='F'") as info:
        dk.grad(f, method=method)(x)  # before: the C-order reading, a permuted gradient
    assert isinstance(info.value, dk.ShapeError) and isinstance(info.value, ValueError)


def test_memory_order_error_names_the_call_and_the_shape():
    with pytest.raises(MemoryOrderError, match=r"ravel\(order='K'\) of a traced value of shape "
                                               r"\(3, 2\)"):
        dk.grad(MEMORY_ORDER[0][1])(A)
    with pytest.raises(MemoryOrderError, match=r"reshape\(order='A'\)"):
        dk.jvp(MEMORY_ORDER[3][1], (A,), (np.ones((2, 3)),))


ONE_AXIS = [  # at most one axis longer than 1: every order reads the same elements
    ("ravel-K-row", lambda x: np.sum(x.ravel("K") * W[:3]), np.asfortranarray(A[:1])),
    ("ravel-A-column", lambda x: np.sum(np.ravel(x.T, order="A") * W[:3]), A[:1]),
    ("flatten-K-3d", lambda x: np.sum(x.flatten("K") * W[:3]), A[:1, :, None]),
    ("reshape-A", lambda x: np.sum(np.reshape(x, (1, 3, 1), order="A")[0, :, 0] * W[:3]),
     A[:1].T),
    ("ravel-K-reversed", lambda x: np.sum(x[::-1].ravel("K") * W[:3]), A[0]),
]


@pytest.mark.parametrize("method", AD)
@pytest.mark.parametrize("name, f, x", ONE_AXIS, ids=[c[0] for c in ONE_AXIS])
def test_memory_order_where_c_and_f_agree_keeps_answering(name, f, x, method):
    np.testing.assert_allclose(dk.grad(f, method=method)(x)[0], _central(f, x), rtol=1e-7)
    assert dk.function(f)(x) == f(x)


@pytest.mark.parametrize("order", "CFAK")
def test_memory_order_one_axis_values_and_jacobian(order):
    """The test_numpy_assembly sweep's ravel in every order, on shapes whose C and F orders
    agree: NumPy's values, and the Jacobian (a permutation) of every AD method."""
    for shape in ((1, 3, 1), (4,), (2, 1)):
        x = np.arange(float(np.prod(shape))).reshape(shape) + 1.0
        op = dk.function(lambda v, o=order: np.ravel(v, order=o), inputs=["v"])
        np.testing.assert_array_equal(op(x), np.ravel(x, order=order))
        for method in ("reverse", "forward", "symbolic"):
            np.testing.assert_array_equal(dk.jacobian(op, method=method)(x), np.eye(x.size))


def test_plain_arrays_keep_numpys_memory_order():
    F = np.asfortranarray(A)
    np.testing.assert_array_equal(dk.ravel(F, "A"), np.ravel(F, order="A"))
    np.testing.assert_array_equal(dk.ravel(A.T, "K"), np.ravel(A.T, order="K"))
    np.testing.assert_array_equal(dk.flatten(F, "K"), F.flatten("K"))
    # the plain call of a traced-dispatching function is NumPy's own
    for _, f, _, x in MEMORY_ORDER:
        assert dk.function(f)(x) == f(x)


# ----- 2. vjp of a function returning a tuple -------------------------------------------------

X = np.array([1.0, 2.0, 3.0])


def _pair(x):
    return x * 2.0, np.sum(x) ** 2


def _pair_vjp(c1, c2):
    """(x·2, (Σx)²) has ctᵀJ = 2·c1 + 2·Σx·c2 (hand)."""
    return 2.0 * np.asarray(c1) + 2.0 * np.sum(X) * c2


@pytest.mark.parametrize("method", ALL)
def test_vjp_of_a_tuple_takes_one_cotangent_per_output(method):
    out, pull = dk.vjp(_pair, X, method=method)
    np.testing.assert_array_equal(out, [2.0, 4.0, 6.0, 36.0])  # one flat output, as f(x)
    c1 = np.array([0.5, -1.0, 2.0])
    want = _pair_vjp(c1, 3.0)  # [13, 34, 40]
    for ct in ((c1, 3.0), [c1, 3.0], (list(c1), np.float64(3.0)), (c1, np.array(3.0)),
               np.append(c1, 3.0)):  # before: a bare NumPy ValueError (the flat one worked)
        np.testing.assert_allclose(pull(ct)[0], want, **_tol(method))


@pytest.mark.parametrize("method", ALL)
def test_vjp_of_nested_outputs(method):
    def f(x):
        return (x * 2.0, np.sum(x) ** 2), [x[0], x[1:] ** 2]

    out, pull = dk.vjp(f, X, method=method)  # before: a bare ValueError
    np.testing.assert_array_equal(out, [2.0, 4.0, 6.0, 36.0, 1.0, 4.0, 9.0])
    c1, c4 = np.array([0.5, -1.0, 2.0]), np.array([1.0, -2.0])
    want = _pair_vjp(c1, 3.0) + np.array([1.5, 2 * 2.0 * 1.0, 2 * 3.0 * -2.0])  # hand
    np.testing.assert_allclose(pull(((c1, 3.0), (1.5, c4)))[0], want, **_tol(method))
    np.testing.assert_allclose(pull(np.concatenate([c1, [3.0, 1.5], c4]))[0], want,
                               **_tol(method))


@pytest.mark.parametrize("method", ["reverse", "forward", "compiled", "fd"])
def test_vjp_tuple_cotangents_of_the_wrong_shape_are_named(method):
    _, pull = dk.vjp(_pair, X, method=method)
    for bad in ((np.ones(2), 1.0),  # a piece of another shape
                (np.ones(3), np.ones(3)),  # a vector for the scalar output: never broadcast
                (1.0, 1.0),  # a number for the vector output: never broadcast
                (np.ones(3), 1.0, 1.0),  # three pieces for two outputs, ragged
                np.ones(3), np.ones(5)):  # flat of another size
        with pytest.raises(dk.ShapeError, match=r"outputs, of shapes \[\(3,\), \(\)\].*flat "
                                                r"vector of their 4 elements"):
            pull(bad)
    _, pull = dk.vjp(lambda x: ((x, x[0]), x[1]), X, method=method)
    with pytest.raises(dk.ShapeError, match=r"for 2 outputs \[\(3,\), \(\)\]"):
        pull((np.ones(3), 1.0))  # the nesting must match: ((x, x0), x1)


def test_vjp_tuple_one_element_outputs_take_numbers_and_singles_stay_as_they_were():
    _, pull = dk.vjp(lambda x: (x[:1] * 3.0, x[1:2]), X)  # pieces of shape (1,)
    np.testing.assert_array_equal(pull((2.0, 5.0))[0], [6.0, 5.0, 0.0])
    np.testing.assert_array_equal(pull([2.0, 5.0])[0], [6.0, 5.0, 0.0])  # = the flat vector
    _, pull = dk.vjp(lambda x: [x * 3.0], X)  # a list of one output
    np.testing.assert_array_equal(pull([np.ones(3)])[0], [3.0, 3.0, 3.0])
    np.testing.assert_array_equal(pull([1.0, 2.0, 0.0])[0], [3.0, 6.0, 0.0])  # flat
    _, pull = dk.vjp(lambda x: x * 3.0, X)  # one output: a list is an array, as before
    np.testing.assert_array_equal(pull([1.0, 2.0, 0.0])[0], [3.0, 6.0, 0.0])


def test_vjp_tuple_of_a_jit_function_shares_its_compiled_code():
    f = dk.jit(lambda x: (np.sin(x) * 2.0, np.sum(x)))
    for _ in range(3):
        _, pull = dk.vjp(f, X, method="compiled")
        np.testing.assert_allclose(pull((np.ones(3), 2.0))[0], 2 * np.cos(X) + 2.0, rtol=1e-15)
    # kept with the jit function's first trace at this signature, which every method uses
    assert any(type(v).__name__ == "CompiledGradient" for v in f.frozen(X).cache.values())


@pytest.mark.parametrize("method", ["reverse", "forward"])
def test_vjp_tuple_cotangent_differentiated_through(method):
    """d/dc Σ (pullback((c, 1))²) = 2·J₁·(J₁ᵀc + J₂ᵀ): J₁ = 2I, J₂ᵀ = 2Σx (hand)."""
    _, pull = dk.vjp(_pair, X, method=method)
    c = np.array([0.5, -1.0, 2.0])
    (g,) = dk.grad(lambda c: np.sum(pull((c, 1.0))[0] ** 2), method=method)(c)
    np.testing.assert_allclose(g, 2 * 2.0 * _pair_vjp(c, 1.0), rtol=1e-14)


# ----- 3. jvp with integer inputs ---------------------------------------------------------------

WEIGHTS = np.array([[0.2, -0.1, 0.3], [0.5, 0.3, -0.2], [-0.4, 0.1, 0.6]])
FEATURES = np.array([[1.0, 2.0, 0.5], [0.3, -1.0, 2.0]])
LABELS = np.array([0, 2])
TANGENT = np.array([[0.3, -0.2, 0.5], [0.1, 0.4, -0.6], [0.2, -0.3, 0.7]])


def _loss(w, y):
    z = FEATURES @ w
    z = z - np.log(np.sum(np.exp(z), axis=1, keepdims=True))
    return -np.sum(z[np.arange(len(y)), y])


def _loss_jvp():
    """J·t by a central difference of the plain NumPy function along t."""
    h = 1e-6
    return (_loss(WEIGHTS + h * TANGENT, LABELS) - _loss(WEIGHTS - h * TANGENT, LABELS)) / (2 * h)


@pytest.mark.parametrize("method", ALL)
@pytest.mark.parametrize("held", [None, np.zeros(2, int), np.zeros(2, bool), np.zeros(2)],
                         ids=["None", "int-zeros", "bool-zeros", "float-zeros"])
def test_jvp_holds_integer_labels(method, held):
    value, jt = dk.jvp(_loss, (WEIGHTS, LABELS), (TANGENT, held), method=method)
    assert value == pytest.approx(_loss(WEIGHTS, LABELS), rel=1e-14)
    assert jt == pytest.approx(_loss_jvp(), rel=1e-6 if method.startswith("fd") else 1e-8)


@pytest.mark.parametrize("method", ALL)
def test_jvp_nonzero_tangent_for_an_integer_input_is_named(method):
    for primals, tangents in (((WEIGHTS, LABELS), (TANGENT, np.ones(2, int))),
                              ((WEIGHTS, LABELS), (TANGENT, np.array([0.0, 0.5]))),
                              ((3,), (1.0,)), ((np.True_,), (True,))):
        f = _loss if len(primals) == 2 else (lambda x: x * 2.0)
        with pytest.raises(dk.errors.InputTypeError, match="no tangent.*None.*as floats"):
            dk.jvp(f, primals, tangents, method=method)
    with pytest.raises(dk.ShapeError, match="tangent of shape"):  # a zero of another shape
        dk.jvp(_loss, (WEIGHTS, LABELS), (TANGENT, np.zeros(3, int)), method=method)


@pytest.mark.parametrize("method", ALL)
def test_jvp_integer_count_stays_an_integer(method):
    """x**k with an integer k held: d/dx = k·x^(k−1) (hand); the count keeps its integer."""
    def f(x, k):
        assert isinstance(k, int)  # as given: a plain Python int
        return x**k

    value, jt = dk.jvp(f, (1.5, 3), (2.0, None), method=method)
    assert value == 1.5**3
    assert jt == pytest.approx(2.0 * 3 * 1.5**2, rel=1e-6 if method.startswith("fd") else 1e-14)


@pytest.mark.parametrize("method", ALL)
def test_jvp_none_holds_a_float_input_and_floats_stay_differentiated(method):
    rel = 1e-6 if method.startswith("fd") else 1e-14
    def f(x, y):
        return np.sin(x) * y

    assert dk.jvp(f, (0.5, 2.0), (None, 1.0), method=method)[1] == pytest.approx(
        np.sin(0.5), rel=rel)
    assert dk.jvp(f, (0.5, 2.0), (1.0, 1.0), method=method)[1] == pytest.approx(
        2.0 * np.cos(0.5) + np.sin(0.5), rel=rel)
    value, jt = dk.jvp(f, (0.5, 2.0), (None, None), method=method)
    assert value == pytest.approx(np.sin(0.5) * 2.0, rel=1e-15) and jt == 0.0
    # a parsed function's inputs are real variables: integers are read as floats, as before
    assert dk.jvp("x*y", (2, 3), (1, 0), method=method) == pytest.approx((6.0, 3.0), rel=rel)
