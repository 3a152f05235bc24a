"""How functions are called with the user's data (hunt 9, h9d findings 1–7, 10, 12; h9b F6).

* A plain (untraced) evaluation gives the body its own copy of every array argument: an
  in-place update in the body (``x -= 1``, ``y += x``) rebinds, as docs/design.md says it does in
  traced code, and moves neither the caller's data nor an engine's point — finite differences'
  stencil, the VJP of forward/symbolic/fd, the symbolic engine's cached path, the compiled
  engine's VJP and ``dk.compare`` all evaluate the body so.
* An argument that is not differentiated reaches the function as the caller gave it (a list of
  floats stays a list, a str, None, a dict or any object is passed through), as in JAX.
* A ragged list to differentiate is a named InputTypeError naming the input.

Every expected number is a hand formula, stated beside it (JAX x64 agrees where cited).
"""

import numpy as np
import pytest

import diffkit as dk
from diffkit.errors import InputTypeError, TracingError

FD = ["fd", "fd-forward", "fd-central", "fd-richardson"]
ALL = ["reverse", "forward", "symbolic", "compiled", "auto", "fd", "fd-forward", "fd-complex",
       "fd-richardson"]


def _shift(x):
    x -= 1.0  # rebinds in traced code: f(x) = Σ (x − 1)²
    return np.sum(x**2)


def _accumulate(x, y):
    y += x  # rebinds in traced code: f(x, y) = Σ (y + x)²
    return np.sum(y**2)


@pytest.mark.parametrize("method", FD)
def test_fd_stencil_when_a_non_differentiated_array_is_updated_in_place(method):
    """Every stencil point got the caller's y, and `y += x` piled up over them: −1.4e6 for
    2(y + x) = [3, 4.5], and y changed. The FD Hessian (2·I) likewise."""
    x, y = np.array([1.0, 2.0]), np.array([0.5, 0.25])
    (g,) = dk.grad(_accumulate, argnums=0, method=method)(x, y)
    np.testing.assert_allclose(g, 2 * (y + x), rtol=1e-5)
    if method != "fd-forward":  # its second differences settle to ~1e-4 only (a warning)
        np.testing.assert_allclose(dk.hessian(_accumulate, argnums=0, method=method)(x, y),
                                   2 * np.eye(2), atol=1e-6)
    np.testing.assert_array_equal(y, [0.5, 0.25])
    np.testing.assert_array_equal(x, [1.0, 2.0])


@pytest.mark.parametrize("what", ["grad", "jacobian"])
def test_fd_forward_when_the_input_is_updated_in_place(what):
    """fd-forward's f(x0) ran on a view of the engine's own x0, which `x -= 1` moved: −2.2e8
    for 2(x − 1) = [4, 8]."""
    x = np.array([3.0, 5.0])
    got = getattr(dk, what)(_shift, method="fd-forward")(x)
    np.testing.assert_allclose(np.reshape(got, -1), [4.0, 8.0], rtol=1e-5)
    np.testing.assert_array_equal(x, [3.0, 5.0])


@pytest.mark.parametrize("method", ["forward", "symbolic", "fd", "fd-forward"])
def test_vjp_when_the_input_is_updated_in_place(method):
    """Engine.vjp ran the body on the caller's x before the pullback, which was then taken at
    the moved point: [2, 6] for 2(x − 1) = [4, 8] (reverse mode's answer), and x changed."""
    x = np.array([3.0, 5.0])
    out, pullback = dk.vjp(_shift, x, method=method)
    assert out == pytest.approx(20.0)  # (3 − 1)² + (5 − 1)²
    np.testing.assert_allclose(pullback(1.0)[0], [4.0, 8.0], rtol=1e-5)
    np.testing.assert_array_equal(x, [3.0, 5.0])


@pytest.mark.parametrize("make", [
    lambda f: lambda x: dk.vjp(f, x, method="compiled")[1](1.0)[0],
    lambda f: dk.jacobian(f, method="compiled"),
    lambda f: lambda x: dk.grad(f, method="symbolic")(x)[0],
], ids=["compiled-vjp", "compiled-jacobian", "symbolic-grad"])
def test_jit_derivatives_repeated_calls_when_the_input_is_updated_in_place(make):
    """The compiled engine's VJP and the symbolic engine's cached derivative ran the body on the
    caller's x: three calls at x = [3, 5] gave [4, 8], [2, 6], [0, 4] (or [2, 6], [0, 4],
    [−2, 2]) for 2(x − 1) = [4, 8] each time."""
    x = np.array([3.0, 5.0])
    call = make(dk.jit(_shift))  # one jit function: its derivative is cached after one call
    for _ in range(3):
        np.testing.assert_allclose(np.reshape(call(x), -1), [4.0, 8.0])
    np.testing.assert_array_equal(x, [3.0, 5.0])


def test_compare_reports_the_point_the_user_gave():
    """dk.compare ran the body on the caller's x first: the table, its rows and the mpmath
    reference were at the moved point [2, 4] ([2, 6]) for the user's [3, 5] ([4, 8])."""
    x = np.array([3.0, 5.0])
    cmp = dk.compare(_shift, x, methods=["reverse", "fd-forward"])
    np.testing.assert_allclose(cmp.reference, [4.0, 8.0])
    for row in cmp.rows:
        np.testing.assert_allclose(row.value, [4.0, 8.0], rtol=1e-5)
    np.testing.assert_array_equal(x, [3.0, 5.0])


@pytest.mark.parametrize("method", ["reverse", "symbolic", "fd"])
def test_arguments_passed_as_given_are_the_bodys_own(method):
    """An integer label array and a list reach the body as given, and the body's own: its
    `labels += 1` and `c.append(1.0)` did change the caller's (and piled up over FD's stencil).
    f = len(c + [1])·Σ w[labels + 1]², ∂f/∂w = 2·2·w at positions 1 and 2 = [0, 8, 12]."""
    def f(w, labels, c):
        labels += 1
        c.append(1.0)
        return np.sum(w[labels] ** 2) * len(c)

    w, labels, c = np.array([1.0, 2.0, 3.0]), np.array([0, 1]), [2.0]
    (g,) = dk.grad(f, argnums=0, method=method)(w, labels, c)
    np.testing.assert_allclose(g, [0.0, 8.0, 12.0], rtol=1e-6)
    np.testing.assert_array_equal(labels, [0, 1])
    assert c == [2.0]


def _append_constant(x, c):
    c = c + [1.0]  # a Python list: append the constant coefficient
    return sum(ci * x**i for i, ci in enumerate(c))


@pytest.mark.parametrize("method", ALL)
def test_float_list_argument_keeps_list_semantics(method):
    """A list of floats not differentiated was turned into an array, so `c + [1.0]` added 1 to
    each coefficient: 14 and 5 where Python and JAX x64 give f = 3 + 4·2 + 1·2² = 15 and
    f′ = 4 + 2·2 = 8 (a list of ints passed as given already gave 8)."""
    assert dk.function(_append_constant)(2.0, [3.0, 4.0]) == pytest.approx(15.0)
    value, (g,) = dk.value_and_grad(_append_constant, argnums=0, method=method)(2.0, [3.0, 4.0])
    assert value == pytest.approx(15.0)
    assert g == pytest.approx(8.0, rel=1e-6)


def test_ragged_list_to_differentiate_is_a_named_error():
    """A list of arrays of different shapes was a bare NumPy ValueError ('setting an array
    element with a sequence'); it names the input and what to pass."""
    with pytest.raises(InputTypeError, match=r"input 'p'.*different shapes.*input of its own"):
        dk.grad(lambda p: np.sum(p[0]) + np.sum(p[1]))([np.array([1.0, 2.0]), np.array([3.0])])


@pytest.mark.parametrize("method", ALL)
def test_ragged_list_not_differentiated_is_passed_as_given(method):
    """A list of weights of different shapes that is not differentiated reaches the function as
    given (a bare ValueError before): ∂/∂x Σ(1·x) + Σ(2·x) = 3 per element."""
    f = lambda x, ws: np.sum(ws[0] * x) + np.sum(ws[1] * x)
    (g,) = dk.grad(f, argnums=0, method=method)(np.array([1.0, 2.0]), [np.ones(2), 2.0])
    np.testing.assert_allclose(g, [3.0, 3.0], rtol=1e-6)


class _Scaled:
    def __init__(self, k):
        self.k = k

    def m(self, x):
        return self.k * x**2


@pytest.mark.parametrize("method", ALL)
def test_non_numeric_arguments_not_differentiated_are_passed_as_given(method):
    """A str, None, a dict, a function or an object not differentiated was refused as 'cannot
    differentiate with respect to a str' (also in a plain call, which differentiates nothing).
    They reach the function as given: ∂/∂x of k·Σx² = 2k·x at x = [1, 2]."""
    def loss(x, mode, extra, opts, fn):
        s = np.sum(fn(x) ** 2) if mode == "sum" else np.mean(x**2)
        return s * opts["k"] if extra is None else s

    x = np.array([1.0, 2.0])
    args = (x, "sum", None, {"k": 3.0}, np.negative)
    assert dk.function(loss)(*args) == pytest.approx(15.0)
    (g,) = dk.grad(loss, argnums=0, method=method)(*args)
    np.testing.assert_allclose(g, [6.0, 12.0], rtol=1e-6)
    a = _Scaled(2.5)  # an unbound method with an instance as `self`: 2·2.5·2 = 10
    assert dk.grad(_Scaled.m, wrt=1, method=method)(a, 2.0)[0] == pytest.approx(10.0, rel=1e-6)


def test_a_str_to_differentiate_says_how_to_pass_it():
    """Differentiated (every argument, by default) a str is an InputTypeError naming the input
    and the fix (leave it out of argnums)."""
    def loss(x, mode):
        return np.sum(x**2) if mode == "sum" else np.mean(x**2)

    with pytest.raises(InputTypeError, match=r"input 'mode' is a str.*argnums"):
        dk.grad(loss)(np.array([1.0, 2.0]), "sum")


def test_forward_jvp_result_is_not_the_callers_tangent():
    """Forward mode's J·t of a pass-through function (identity, reshape) was the caller's
    tangent array itself: `jt *= 2` doubled the user's t."""
    x, t = np.array([1.0, 2.0]), np.array([5.0, 6.0])
    for f in (lambda x: x, lambda x: np.reshape(x, (2, 1))):
        for method in ("forward", "auto"):
            _, jt = dk.jvp(f, (x,), (t,), method=method)
            np.testing.assert_array_equal(np.reshape(jt, -1), [5.0, 6.0])
            assert not np.shares_memory(jt, t)


@pytest.mark.parametrize("method", ["fd", "fd-forward", "fd-richardson"])
def test_fd_with_integer_labels_differentiated_is_a_named_error(method):
    """dk.grad(loss, method='fd-central')(w, labels) differentiates the labels too (read as
    floats): the plain call's w[labels] was a bare IndexError, where reverse and symbolic name
    the problem (a TracingError: 'labels' is an argument being differentiated). With argnums=0
    the labels pass as given (fd-complex, which traces, named it already): ∂/∂w Σ w[labels]² = 2·w·count = [2, 0, 12] for labels [0, 2, 2]."""
    def loss(w, labels):
        return np.sum(w[labels] ** 2)

    w, labels = np.array([1.0, 2.0, 3.0]), np.array([0, 2, 2])
    with pytest.raises(TracingError, match="'labels' is itself an argument being differentiated"):
        dk.grad(loss, method=method)(w, labels)
    np.testing.assert_allclose(dk.grad(loss, argnums=0, method=method)(w, labels)[0],
                               [2.0, 0.0, 12.0], rtol=1e-6)
