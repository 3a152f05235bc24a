"""The public API's argument checks (hunt 40): each bad call is a named error that says what
to do, and a negative argnums counts from the last argument passed (JAX's reading). References
by hand: d(x²y)/dx = 2xy, d(x²y)/dy = x²; d(x²)/dx = 2x."""

from __future__ import annotations

import numpy as np
import pytest

import diffkit as dk
from diffkit.errors import ArityError, InputTypeError, ShapeError

EXACT = ("reverse", "forward", "symbolic", "fd")


# ----- 1. jvp takes its primals and tangents as tuples or lists ------------------------------

@pytest.mark.parametrize(("primals", "tangents"), [
    (2.0, 1.0),                                   # bare TypeError: no len()
    (np.array([1.0, 2.0]), np.array([1.0, 0.0])),  # iterated: "takes 1 input(s), got 2"
    (np.array([3.0]), np.array([1.0])),           # answered (9.0, 6.0): the shape (1,) lost
    ((2.0,), {"x": 1.0}),                         # "an input is a str" (the dict's key)
    ((2.0,), None),                               # bare TypeError
])
def test_jvp_refuses_primals_or_tangents_that_are_not_a_tuple_or_list(primals, tangents):
    with pytest.raises(InputTypeError, match=r"tuple or list.*dk\.jvp\(f, \(x,\), \(t,\)\)"):
        dk.jvp(lambda x: np.sum(x**2), primals, tangents)


def test_jvp_of_a_one_element_array_keeps_its_shape():
    out, t = dk.jvp(lambda x: x**2, (np.array([3.0]),), [np.array([1.0])])
    assert out.shape == (1,) and t.shape == (1,)
    assert out[0] == 9.0 and t[0] == 6.0  # 2x·1 at 3


# ----- 2. hessian and derivative of a non-scalar f name themselves ---------------------------

@pytest.mark.parametrize("method", [*EXACT, "auto"])
@pytest.mark.parametrize("call", ["hessian", "derivative"])
def test_a_tuple_output_is_refused_by_the_function_called(call, method):
    with pytest.raises(ShapeError, match=rf"^{call} needs a function with a scalar output"):
        getattr(dk, call)(lambda x: (x**2, x**3), method=method)(2.0)


def test_a_scalar_hessian_and_derivative_still_answer():
    assert dk.hessian(lambda x: x**3)(2.0)[0, 0] == 12.0  # 6x
    assert dk.derivative(lambda x: x**3, 2, method="forward")(2.0) == 12.0


# ----- 3. JAX's positional argnums given as the method ---------------------------------------

def f2(x, y):
    return x * y


@pytest.mark.parametrize("method", [1, (0, 1), "y"])
@pytest.mark.parametrize("call", [dk.grad, dk.value_and_grad, dk.jacobian, dk.hessian])
def test_argnums_in_the_method_place_is_named(call, method):
    with pytest.raises(ValueError, match=r"is not a method; to choose the inputs use argnums="):
        call(f2, method)


def test_an_unknown_method_string_keeps_its_message():
    with pytest.raises(ValueError, match="unknown method 'revers'.*did you mean 'reverse'"):
        dk.grad(f2, "revers")


# ----- 4. a negative argnums counts from the last argument passed ----------------------------

def g(x, y=2.0):
    return x**2 * y


@pytest.mark.parametrize("method", EXACT)
def test_negative_argnums_is_the_last_argument_passed(method):
    tol = 1e-6 if method == "fd" else 1e-12
    assert dk.grad(g, method, argnums=-1)(3.0)[0] == pytest.approx(12.0, rel=tol)  # 2xy
    assert dk.grad(g, method, argnums=-1)(3.0, 2.0)[0] == pytest.approx(9.0, rel=tol)  # x²
    assert dk.grad(g, method, wrt=-1)(3.0)[0] == pytest.approx(12.0, rel=tol)


def test_negative_argnums_by_every_derivative():
    assert dk.value_and_grad(g, argnums=-1)(3.0) == (18.0, (12.0,))
    assert dk.jacobian(g, argnums=-1)(3.0)[0, 0] == 12.0
    assert dk.hessian(g, argnums=-1)(3.0)[0, 0] == 4.0  # 2y
    assert dk.vjp(g, 3.0, argnums=-1)[1](1.0) == (12.0,)


def test_positive_argnums_and_names_keep_the_default_differentiated():
    assert dk.grad(g, argnums=1)(3.0) == (9.0,)  # x², at the default y
    assert dk.grad(g, wrt="y")(3.0) == (9.0,)


def test_negative_argnums_out_of_the_passed_range_or_twice_is_named():
    with pytest.raises(ArityError, match="argnums=-2 is out of range for the 1 argument"):
        dk.grad(g, argnums=-2)(3.0)
    with pytest.raises(ArityError, match="chooses input 'x' twice"):
        dk.grad(g, argnums=(0, -1))(3.0)


# ----- 5. messages name what the caller wrote ------------------------------------------------

def test_a_dict_leaf_is_named_by_its_keys():
    with pytest.raises(InputTypeError, match=r"the dict entry p\['name'\] is a str") as err:
        dk.grad(lambda p: p["a"] ** 2)({"a": 2.0, "name": "hi"})
    assert "p_name" not in str(err.value)


def test_a_none_cotangent_is_named_the_cotangent():
    _, pullback = dk.vjp(lambda x: x**2, 2.0)
    with pytest.raises(InputTypeError, match=r"the cotangent passed to the pullback is a NoneType"):
        pullback(None)
    assert pullback(1.0) == (4.0,)  # 2x


def test_a_ragged_tuple_primal_in_jvp_gets_grads_advice():
    piece = (1.0, np.array([1.0, 2.0]))
    with pytest.raises(InputTypeError, match="pieces of different shapes.*as an input of its own"):
        dk.jvp(lambda x: x[0] ** 2, (piece,), (piece,))


# ----- 6. symbolic: an overflowing derivative says it may overflow ---------------------------

def test_symbolic_names_an_overflowing_derivative():
    f = dk.parse("x*1e200*1e200")  # f′ = 1e400: finite, beyond float64 — NumericOverflowError,
    # as reverse and forward name it (hunt 43/r6 F5: not NonDifferentiableError)
    with pytest.raises(dk.errors.NumericOverflowError, match="overflows"):
        dk.grad(f, method="symbolic")(1e-300)


def test_compare_reads_a_negative_argnums_from_the_last_argument_passed():
    """dk.compare counts a negative position as dk.grad does (JAX's reading): d/dx of x²·y at
    x = 3 with y left at its default 2 is 2·3·2 = 12 (by hand); argnums=1 is y at its default,
    x² = 9."""
    def f(x, y=2.0):
        return x ** 2 * y

    (row,) = dk.compare(f, 3.0, argnums=-1, methods=["reverse"], repeat=1).rows
    assert float(np.ravel(row.value)[0]) == 12.0
    (row,) = dk.compare(f, 3.0, argnums=1, methods=["reverse"], repeat=1).rows
    assert float(np.ravel(row.value)[0]) == 9.0


def test_a_list_of_method_names_is_not_taken_for_argnums():
    """dk.grad(h, ["reverse", "forward"]) names unknown methods; it said argnums=[...]."""
    def h(x, y):
        return x * y

    with pytest.raises(ValueError, match="unknown method") as info:
        dk.grad(h, ["reverse", "forward"])(1.0, 2.0)
    assert "argnums" not in str(info.value)


def test_an_input_with_a_none_tangent_is_held_as_grad_holds_one_outside_argnums():
    """jvp of w**k with k's tangent None at w = -2 (k = 3.0 a float): dk.grad(f, wrt=0) answers
    3w² = 12, so must jvp (it asked pow's partial in k, log of a negative base: a
    NonDifferentiableError); a held input's number may be read (f"{y:.2f}"): 3x²y = 36 at
    (2, 3), by hand."""
    def g(x, y):
        assert f"{y:.2f}" == "3.00"
        return x ** 3 * y

    for method in ("reverse", "forward", "symbolic"):
        assert dk.jvp(lambda w, k: w ** k, (-2.0, 3.0), (1.0, None), method=method) == \
            (-8.0, 12.0)
        assert dk.jvp(g, (2.0, 3.0), (1.0, None), method=method) == (24.0, 36.0)
