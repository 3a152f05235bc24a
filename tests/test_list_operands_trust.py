"""Python sequences as operands of the products (dot, matmul, inner, vdot, tensordot, einsum, kron,
outer, cross): NumPy reads a list or tuple as an array, so must diffkit. dot read a list as a 0-d
operand (it has no ``shape``) and multiplied: np.dot([1, 2], x) gave [x0, 2·x1] and its gradient
[2, 16] instead of [10, 20] at x = [1, 2]; matmul refused ("got shapes () and (2,)").

Every plain call is checked against NumPy's own result, every derivative against a hand-derived
Jacobian of the (linear in x) product — J = A for A @ x, Bᵀ for x @ B, the skew matrix [w]× for
w × x, … — and d/dx Σ F(C, x)² against 2 Jᵀ F; never against diffkit itself."""
import numpy as np
import pytest

import diffkit as dk

X = np.array([0.5, -1.5, 2.0])
A = np.array([[1.0, 2.0, 3.0], [4.0, -5.0, 6.0]])  # 2 × 3: A @ x
B = A.T.copy()  # 3 × 2: x @ B
V = np.array([1.0, -2.0, 3.0])  # a 3-vector
W = np.array([2.0, -1.0])  # a 2-vector (kron, outer)
I3 = np.eye(3)


def _skew(w):
    """[w]×: the matrix of x ↦ w × x (by hand)."""
    return np.array([[0.0, -w[2], w[1]], [w[2], 0.0, -w[0]], [-w[1], w[0], 0.0]])


def _nested_tuple(c):
    return tuple(_nested_tuple(r) for r in c) if isinstance(c, list) else c


#: how a constant operand is written: NumPy reads each as the array itself
FORMS = {
    "list": lambda c: c.tolist(),  # a nested list for a matrix
    "tuple": lambda c: _nested_tuple(c.tolist()),
    "list of arrays": lambda c: list(c),  # rows as arrays (a list of numbers for a vector)
}

#: name -> (F(m, c, x) with m = np or dk, the constant C, its Jacobian dF/dx by hand: out × in)
CASES = {
    "dot(A, x)": (lambda m, c, x: m.dot(c, x), A, lambda c, x: c),
    "dot(x, B)": (lambda m, c, x: m.dot(x, c), B, lambda c, x: c.T),
    "dot(v, x)": (lambda m, c, x: m.dot(c, x), V, lambda c, x: c[None, :]),
    "dot(x, v)": (lambda m, c, x: m.dot(x, c), V, lambda c, x: c[None, :]),
    "matmul(A, x)": (lambda m, c, x: m.matmul(c, x), A, lambda c, x: c),
    "matmul(x, B)": (lambda m, c, x: m.matmul(x, c), B, lambda c, x: c.T),
    "matmul(v, x)": (lambda m, c, x: m.matmul(c, x), V, lambda c, x: c[None, :]),
    "inner(A, x)": (lambda m, c, x: m.inner(c, x), A, lambda c, x: c),
    "inner(x, A)": (lambda m, c, x: m.inner(x, c), A, lambda c, x: c),
    "vdot(v, x)": (lambda m, c, x: m.vdot(c, x), V, lambda c, x: c[None, :]),
    "vdot(x, v)": (lambda m, c, x: m.vdot(x, c), V, lambda c, x: c[None, :]),
    "tensordot(A, x, 1)": (lambda m, c, x: m.tensordot(c, x, 1), A, lambda c, x: c),
    "tensordot(x, B, 1)": (lambda m, c, x: m.tensordot(x, c, 1), B, lambda c, x: c.T),
    "tensordot(A, x, ([1], [0]))": (lambda m, c, x: m.tensordot(c, x, ([1], [0])), A,
                                    lambda c, x: c),
    "einsum('ij,j->i', A, x)": (lambda m, c, x: m.einsum("ij,j->i", c, x), A, lambda c, x: c),
    "einsum('i,ij->j', x, B)": (lambda m, c, x: m.einsum("i,ij->j", x, c), B, lambda c, x: c.T),
    "kron(w, x)": (lambda m, c, x: m.kron(c, x), W,
                   lambda c, x: np.concatenate([ci * I3 for ci in c])),
    "kron(x, w)": (lambda m, c, x: m.kron(x, c), W,
                   lambda c, x: np.array([[c[j] * (k == i) for k in range(3)]
                                          for i in range(3) for j in range(2)])),
    "outer(w, x)": (lambda m, c, x: m.outer(c, x), W,
                    lambda c, x: np.concatenate([ci * I3 for ci in c])),
    "outer(x, w)": (lambda m, c, x: m.outer(x, c), W,
                    lambda c, x: np.array([[c[j] * (k == i) for k in range(3)]
                                           for i in range(3) for j in range(2)])),
    "cross(v, x)": (lambda m, c, x: m.cross(c, x), V, lambda c, x: _skew(c)),
    "cross(x, v)": (lambda m, c, x: m.cross(x, c), V, lambda c, x: -_skew(c)),
}

METHODS = ("reverse", "forward", "symbolic")


def _params():
    out = []
    for case, (_, c, _) in CASES.items():
        for form in FORMS:
            if form == "list of arrays" and c.ndim == 1:
                continue  # the same as "list"
            out.append(pytest.param(case, form, id=f"{case}-{form}"))
    return out


def _grad(g):
    return g[0] if isinstance(g, tuple) else g


@pytest.mark.parametrize("case,form", _params())
def test_plain_call_is_numpys(case, form):
    f, c, _ = CASES[case]
    want = f(np, FORMS[form](c), X)
    got = f(dk, FORMS[form](c), X)
    assert np.shape(got) == np.shape(want)
    np.testing.assert_allclose(got, want, rtol=1e-14, atol=0)


@pytest.mark.parametrize("form", FORMS)
@pytest.mark.parametrize("fn", ["dot", "matmul", "inner", "vdot", "kron", "outer"])
def test_plain_call_both_sequences(fn, form):
    """Both operands sequences (no array at all): NumPy's value."""
    c = V if fn not in ("kron", "outer") else W
    a, b = FORMS[form](c), FORMS[form](c[::-1].copy())
    want = getattr(np, fn)(a, b)
    got = getattr(dk, fn)(a, b)
    assert np.shape(got) == np.shape(want)
    np.testing.assert_allclose(got, want, rtol=1e-14, atol=0)


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("module", ["np", "dk"])
@pytest.mark.parametrize("case,form", _params())
def test_jacobian_by_hand(case, form, module, method):
    f, c, jac = CASES[case]
    m = np if module == "np" else dk
    got = dk.jacobian(lambda x: f(m, FORMS[form](c), x), method=method)(X.copy())
    want = jac(c, X)
    np.testing.assert_allclose(np.reshape(got, want.shape), want, rtol=1e-12, atol=1e-12)
    assert np.size(got) == want.size


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("case,form", _params())
def test_grad_of_squares_by_hand(case, form, method):
    """d/dx Σ F(C, x)² = 2 Jᵀ F(C, x), F taken as NumPy computes it on arrays."""
    f, c, jac = CASES[case]
    got = _grad(dk.grad(lambda x: np.sum(f(np, FORMS[form](c), x) ** 2), method=method)(X.copy()))
    J = jac(c, X)
    F = np.reshape(f(np, c, X), -1)
    np.testing.assert_allclose(got, 2 * J.T @ F, rtol=1e-12, atol=1e-12)


def test_the_reported_example():
    x = np.array([1.0, 2.0])
    for method in METHODS:
        g = _grad(dk.grad(lambda x: np.sum(np.dot([1.0, 2.0], x) ** 2), method=method)(x))
        np.testing.assert_allclose(g, [10.0, 20.0])
        j = dk.jacobian(lambda x: np.dot([[1.0, 2.0], [3.0, 4.0]], x), method=method)(x)
        np.testing.assert_allclose(j, [[1.0, 2.0], [3.0, 4.0]])
    assert dk.dot([1.0, 2.0], x) == 5.0


# ----- lists mixing traced values and numbers ----------------------------------------------------

#: name -> (F(x), its Jacobian by hand at x)
MIXED = {
    # x0² + x1·1 + x2·2
    "dot([x0, 1, 2], x)": (lambda x: np.dot([x[0], 1.0, 2.0], x),
                           lambda x: np.array([[2 * x[0], 1.0, 2.0]])),
    "dk.dot(x, (x2, 1, 0))": (lambda x: dk.dot(x, (x[2], 1.0, 0.0)),
                              lambda x: np.array([[x[2], 1.0, x[0]]])),
    # [x0² + x1, x1 + x2²]
    "matmul([[x0, 1, 0], [0, 1, x2]], x)": (
        lambda x: np.matmul([[x[0], 1.0, 0.0], [0.0, 1.0, x[2]]], x),
        lambda x: np.array([[2 * x[0], 1.0, 0.0], [0.0, 1.0, 2 * x[2]]])),
    # rows x and 2x (arrays in a list): [x·x, 2 x·x]
    "dot([x, 2x], x)": (lambda x: np.dot([x, 2 * x], x), lambda x: np.array([2 * x, 4 * x])),
    "inner([x0, 1, 1], x)": (lambda x: np.inner([x[0], 1.0, 1.0], x),
                             lambda x: np.array([[2 * x[0], 1.0, 1.0]])),
    "vdot([x0, 1, 1], x)": (lambda x: np.vdot([x[0], 1.0, 1.0], x),
                            lambda x: np.array([[2 * x[0], 1.0, 1.0]])),
    "tensordot([x1, 0, 1], x, 1)": (lambda x: np.tensordot([x[1], 0.0, 1.0], x, 1),
                                    lambda x: np.array([[x[1], x[0], 1.0]])),
    "einsum('i,i', [x0, 1, 1], x)": (lambda x: np.einsum("i,i", [x[0], 1.0, 1.0], x),
                                     lambda x: np.array([[2 * x[0], 1.0, 1.0]])),
    # [x0·x0, x0·x1, x0·x2, x0, x1, x2]
    "outer([x0, 1], x)": (lambda x: np.outer([x[0], 1.0], x),
                          lambda x: np.concatenate([[[2 * x[0], 0.0, 0.0], [x[1], x[0], 0.0],
                                                     [x[2], 0.0, x[0]]], I3])),
    # (x0, 1, 0) × x = [x2, −x0·x2, x0·x1 − x0]
    "cross([x0, 1, 0], x)": (lambda x: np.cross([x[0], 1.0, 0.0], x),
                             lambda x: np.array([[0.0, 0.0, 1.0], [-x[2], 0.0, -x[0]],
                                                 [x[1] - 1.0, x[0], 0.0]])),
}


@pytest.mark.parametrize("method", ["reverse", "forward"])
@pytest.mark.parametrize("case", MIXED)
def test_lists_of_traced_values(case, method):
    f, jac = MIXED[case]
    got = dk.jacobian(f, method=method)(X.copy())
    want = jac(X)
    np.testing.assert_allclose(np.reshape(got, want.shape), want, rtol=1e-12, atol=1e-12)
    assert np.size(got) == want.size


# ----- arrays, numbers and tensors unchanged ----------------------------------------------------


def test_numbers_and_arrays_unchanged():
    assert dk.dot(2.0, 3.0) == 6.0
    np.testing.assert_array_equal(dk.dot(2.0, X), 2.0 * X)
    np.testing.assert_array_equal(dk.dot(A, X), A @ X)
    np.testing.assert_array_equal(dk.matmul(A, X), A @ X)
    g = _grad(dk.grad(lambda x: dk.dot(x, x))(X.copy()))
    np.testing.assert_allclose(g, 2 * X)


def test_keyword_operands_are_read_too():
    np.testing.assert_allclose(dk.dot(a=[1.0, 2.0], b=[3.0, 4.0]), 11.0)
    np.testing.assert_allclose(dk.tensordot([[1.0, 2.0]], b=(3.0, 4.0), axes=1), [11.0])


def test_sublists_of_einsum_stay_labels():
    """einsum's sublist form: its lists are labels, not operands."""
    want = np.einsum(A, [0, 1], X, [1], [0])
    np.testing.assert_allclose(dk.einsum(A, [0, 1], X, [1], [0]), want)
    j = dk.jacobian(lambda x: np.einsum(A.tolist(), [0, 1], x, [1], [0]))(X.copy())
    np.testing.assert_allclose(j, A)


@pytest.mark.parametrize("side", ["left", "right"])
def test_numpy_linalg_outer_and_cross_read_list_operands(side):
    """numpy.linalg.outer/cross took a list for a 0-d value (a misleading ShapeError)."""
    if not hasattr(np.linalg, "outer"):
        pytest.skip("numpy.linalg.outer is NumPy 2's")
    x = np.array([1.0, 2.0, 3.0])
    u = [1.0, -2.0, 0.5]

    def outer(x):
        return np.linalg.outer(u, x) if side == "left" else np.linalg.outer(x, u)

    def cross(x):
        return np.linalg.cross(u, x) if side == "left" else np.linalg.cross(x, u)

    np.testing.assert_allclose(dk.function(outer)(x), np.outer(u, x) if side == "left"
                               else np.outer(x, u))
    (g,) = dk.grad(lambda x: np.sum(outer(x) ** 2))(x)
    # Σᵢⱼ (uᵢxⱼ)² = |u|²|x|²: gradient 2|u|²x
    np.testing.assert_allclose(g, 2.0 * np.dot(u, u) * x, rtol=1e-13)
    skew = np.array([[0.0, -u[2], u[1]], [u[2], 0.0, -u[0]], [-u[1], u[0], 0.0]])  # u × x = [u]× x
    jac = np.asarray(dk.jacobian(cross)(x)).reshape(3, 3)
    np.testing.assert_allclose(jac, skew if side == "left" else -skew, atol=1e-15)
