"""The peer suite: HIPS autograd's NumPy test cases, re-expressed for diffkit.

Each :class:`Case` re-expresses one check of one autograd test function (tests/test_numpy.py,
test_systematic.py, test_linalg.py, the scipy.special part of test_scipy.py, test_binary_ops.py,
test_scalar_ops.py, test_complex.py): the user's function written in plain NumPy/SciPy spelling,
seeded random arguments and the arguments to differentiate. The facts carry over from autograd
(which functions, argument shapes, axis/keepdims/ddof/offset variants, special points); the code is
diffkit's own. ``peer_check.classify`` judges a case.

Choices:

* Shapes are the peer's where they are small; larger ones are shrunk keeping their structure
  (non-square stays non-square, stacked stays stacked): (10, 11) -> (3, 4), D = 8 -> 3, ...
* Combination tests (autograd's ``combo_check``, ``stat_check``, ``unary_ufunc_check``,
  ``binary_ufunc_check``) expand into one case per variant; where the product runs to dozens
  (binary ufunc shape pairs, ``np.cross`` axes, ``np.dot`` operand kinds), a subset is taken that
  covers every operand kind and keyword.
* Arguments are drawn per case from a generator seeded by the case's id, so cases are independent
  of each other's order. Points are chosen where the function is differentiable: positive, SPD or
  well-conditioned where it needs it, away from kinks and discontinuities (``_away``).
* Constants of a test (masks, weights, the fixed operand) are closed over by the function, not
  passed: only arguments are arrays, and ``wrt`` says which of them to differentiate.
* Skipped as autograd-only machinery: vspaces, ``primitive``, containers (dict/list/tuple boxes),
  ``np.make_diagonal``, fft, scipy.signal/stats/integrate/linalg, random-number functions,
  ``np.msort`` (gone in NumPy 2) and test_numpy_version.
"""

from __future__ import annotations

import operator as op
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from itertools import product
from typing import Any

import numpy as np
import scipy.special as sp


@dataclass(frozen=True)
class Case:
    """One peer check.

    Attributes:
        id: ``<peer file>::<peer test>`` or ``<peer file>::<peer test>[<variant>]``.
        fn: the user's function, plain NumPy/SciPy code.
        args: the arguments (arrays, Python numbers, lists).
        wrt: indices of the arguments to differentiate.
        smooth: second derivatives are checked (when the inputs are small and real).
        rtol, atol: gradient tolerance against the central-difference reference.
        allow_warnings: NumPy RuntimeWarnings are expected from the user's own code.
        note: what differs from the peer, if anything.
    """

    id: str
    fn: Callable[..., Any]
    args: tuple[Any, ...]
    wrt: tuple[int, ...]
    smooth: bool = True
    rtol: float = 1e-5
    atol: float = 1e-7
    allow_warnings: bool = False
    note: str = ""

    @property
    def file(self) -> str:
        """The peer test file, e.g. ``test_numpy``."""
        return self.id.split("::")[0]


CASES: list[Case] = []
_FILE = ""
_rng = np.random.default_rng(0)


def _seeded(text: str) -> np.random.Generator:
    return np.random.default_rng(zlib.crc32(text.encode()))


def R(*shape: int) -> Any:
    """Standard normal numbers of `shape` (a Python float for no shape)."""
    return float(_rng.standard_normal()) if not shape else _rng.standard_normal(shape)


def C(*shape: int) -> Any:
    """Complex standard normal numbers (real and imaginary parts independent)."""
    return R(*shape) + 1j * R(*shape)


def U(lo: float, hi: float, *shape: int) -> Any:
    """Uniform numbers in [lo, hi)."""
    return float(_rng.uniform(lo, hi)) if not shape else _rng.uniform(lo, hi, shape)


def _away(make: Callable[[], Any], bad: Callable[[Any], Any], margin: float = 0.02) -> Any:
    """Draw with `make` until every element is at least `margin` from a kink (`bad(x)` gives
    each element's distance to its nearest one)."""
    for _ in range(200):
        x = make()
        if np.min(bad(x)) > margin:
            return x
    raise RuntimeError("no point away from the kinks")


def _int_distance(x: Any) -> Any:
    return np.abs(np.asarray(x) - np.round(x))


def _spd(n: int, *batch: int) -> np.ndarray:
    m = R(*batch, n, n)
    return m @ np.swapaxes(m, -1, -2) + n * np.eye(n)


def _conditioned(make: Callable[[], np.ndarray], limit: float = 50.0) -> np.ndarray:
    """Draw matrices until all are well conditioned."""
    for _ in range(200):
        a = make()
        if np.max(np.linalg.cond(a)) < limit:
            return a
    raise RuntimeError("no well-conditioned matrix")


def _kw(**kw: Any) -> str:
    """Keyword arguments as they appear in a case id: ``axis=0,keepdims=True``."""
    return ",".join(f"{k}={v!r}".replace(" ", "") for k, v in kw.items())


def add(test: str, fn: Callable[..., Any], make: Callable[[], Sequence[Any]], variant: str = "",
        wrt: Sequence[int] | None = None, seed: int = 0, **options: Any) -> None:
    """Add a case of peer test `test` (in the current file): `make()` draws its arguments from
    the case's own generator, seeded by the case id (and `seed`, to redraw one case's point);
    `options` are the other :class:`Case` fields."""
    global _rng
    cid = f"{_FILE}::{test}" + (f"[{variant}]" if variant else "")
    _rng = _seeded(cid + ("" if not seed else f"#{seed}"))
    args = tuple(make())
    if any(c.id == cid for c in CASES):
        raise ValueError(f"duplicate case id {cid}")
    CASES.append(Case(cid, fn, args, tuple(range(len(args)) if wrt is None else wrt), **options))


def _file(name: str) -> None:
    global _FILE
    _FILE = name


def _call(f: Callable[..., Any], *pre: Any, **kw: Any) -> Callable[..., Any]:
    """``lambda *xs: f(*pre, *xs, **kw)``, spelled as the user would: ``np.var(x, ddof=1)``."""

    def user(*xs: Any) -> Any:
        return f(*pre, *xs, **kw)

    return user


# ===== test_numpy.py =================================================================================
_file("test_numpy")

for v, mk in {"mat,vec": lambda: (R(3, 4), R(4)), "mat,mat.T": lambda: (R(3, 4), R(3, 4).T),
              "vec,mat": lambda: (R(3), R(3, 4)), "vec,vec": lambda: (R(4), R(4))}.items():
    add("test_dot", lambda x, y: np.dot(x, y), mk, v)
for v, mk in {"mat,float": lambda: (R(3, 4), R()), "float,mat": lambda: (R(), R(3, 4)),
              "vec,float": lambda: (R(3), R()), "float,vec": lambda: (R(), R(3))}.items():
    add("test_dot_with_floats", lambda x, y: np.dot(x, y), mk, v)
add("test_outer", lambda x, y: np.outer(x, y), lambda: (R(4), R(4)))
add("test_outer", lambda x, y: np.outer(x.T, y.T), lambda: (R(4), R(4)), "x.T,y.T")
add("test_max", lambda x: np.max(x), lambda: (R(3, 4),))
add("test_max_axis", lambda x: np.max(x, axis=1), lambda: (R(2, 3, 4),))
add("test_max_axis_keepdims", lambda x: np.max(x, axis=1, keepdims=True), lambda: (R(2, 3, 4),))
add("test_min", lambda x: np.min(x), lambda: (R(3, 4),))
add("test_min_axis", lambda x: np.min(x, axis=1), lambda: (R(2, 3, 4),))
add("test_min_axis_keepdims", lambda x: np.min(x, axis=1, keepdims=True), lambda: (R(2, 3, 4),))
add("test_sum_1", lambda x: np.sum(x), lambda: (R(3, 4),))
add("test_sum_2", lambda x: np.sum(x, axis=0), lambda: (R(3, 4),))
add("test_sum_3", lambda x: np.sum(x, axis=0, keepdims=True), lambda: (R(3, 4),))
add("test_sum_with_axis_tuple", lambda x: np.sum(x, axis=(1, 2)), lambda: (R(2, 3, 4),))
_BASE = np.abs(_seeded("reductions base").standard_normal(5)) + 0.5
for name, red in {"sum": np.sum, "prod": np.prod, "max": np.max, "min": np.min}.items():
    add("test_plain_numpy_reductions_on_box", lambda a, red=red: red(np.exp(a) * _BASE),
        lambda: (0.7,), name)
add("test_flipud", lambda x: np.flipud(x), lambda: (R(3, 4),))
add("test_fliplr", lambda x: np.fliplr(x), lambda: (R(3, 4),))
add("test_rot90", lambda x: np.rot90(x), lambda: (R(3, 4),))
add("test_cumsum_axis0", lambda x: np.cumsum(x, axis=0), lambda: (R(3, 4),))
add("test_cumsum_axis1", lambda x: np.cumsum(x, axis=1), lambda: (R(3, 4),))
add("test_cumsum_1d", lambda x: np.cumsum(x), lambda: (R(4),))
add("test_cumsum_no_axis", lambda x: np.cumsum(x), lambda: (R(3, 4),))
add("test_non_numpy_sum", lambda x, y: sum([x, y]), lambda: (R(3, 4), R(3, 4)))
add("test_mean_1", lambda x: np.mean(x), lambda: (R(3, 4),))
add("test_mean_2", lambda x: np.mean(x, axis=0), lambda: (R(3, 4),))
add("test_mean_3", lambda x: np.mean(x, axis=0, keepdims=True), lambda: (R(3, 4),))
add("test_mean_list_of_boxes", lambda x: np.mean([x, x + 2]), lambda: (0.0,), "list")
add("test_mean_list_of_boxes", lambda x: np.mean((x, x + 2)), lambda: (0.0,), "tuple")
add("test_std_list_of_boxes", lambda x: np.std([x, x + 2]), lambda: (0.0,), "list")
add("test_std_list_of_boxes", lambda x: np.std((x, x + 2)), lambda: (0.0,), "tuple")
add("test_var_list_of_boxes", lambda x: np.var([x, x + 2]), lambda: (0.0,), "list")
add("test_var_list_of_boxes", lambda x: np.var((x, x + 2)), lambda: (0.0,), "tuple")
add("test_index_ints", lambda x: x[3, 0, 1], lambda: (R(4, 3, 2),))
add("test_index_slice", lambda x: x[::-1, 2:4, :], lambda: (R(3, 5, 2),))
add("test_index_lists", lambda x: x[[0, 1, 2], :, :], lambda: (R(4, 3, 2),))
add("test_index_mixed", lambda x: x[3, 2:, [1, 3]], lambda: (R(4, 3, 4),))
add("test_vector_slice", lambda x: x[2:4], lambda: (R(5),))


def _slice_fanout(x: Any) -> Any:
    y = x[::-1, 2:4, :]
    z = x[::-1, 3:5, :]
    return y + z


def _multiple_slices(x: Any) -> Any:
    y = x[2:6]
    z = y[1:3]
    return z


add("test_index_slice_fanout", _slice_fanout, lambda: (R(3, 5, 2),))
add("test_index_multiple_slices", _multiple_slices, lambda: (R(7),))
add("test_reshape_method", lambda x: x.reshape((3 * 2, 4)), lambda: (R(3, 4, 2),))
add("test_reshape_call", lambda x: np.reshape(x, (3 * 2, 4)), lambda: (R(3, 4, 2),))
add("test_reshape_method_nolist", lambda x: x.reshape(3 * 2, 4), lambda: (R(3, 4, 2),))
add("test_ravel_method", lambda x: x.ravel(), lambda: (R(3, 4, 2),))
add("test_ravel_call", lambda x: np.ravel(x), lambda: (R(3, 4, 2),))
add("test_flatten_method", lambda x: x.flatten(), lambda: (R(3, 4, 2),))
add("test_simple_append_list", lambda a, b: np.append(a, b), lambda: ([1.0, 2.0, 3.0], 4.0))
add("test_simple_append_arr", lambda a, b: np.append(a, b),
    lambda: (np.array([1.0, 2.0, 3.0]), 4.0))
add("test_simple_append_list_2D", lambda a, b: np.append(a, b, axis=0),
    lambda: ([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]], [[7.0, 8.0, 9.0]]))
_A342, _B342 = _seeded("concatenate A").standard_normal((3, 4, 2)), \
    _seeded("concatenate B").standard_normal((3, 4, 2))
add("test_simple_concatenate", lambda x: np.concatenate((_A342, x)), lambda: (R(2, 4, 2),))
add("test_concatenate_axis_0", lambda x: np.concatenate((_B342, x, _B342)), lambda: (R(3, 4, 2),))
add("test_concatenate_axis_1", lambda x: np.concatenate((_B342, x, _B342), axis=1),
    lambda: (R(3, 4, 2),))
add("test_concatenate_axis_1_unnamed", lambda x: np.concatenate((_B342, x, _B342), 1),
    lambda: (R(3, 4, 2),))
add("test_trace", lambda x: np.trace(x, offset=1), lambda: (R(3, 4),))
add("test_trace2", lambda x: np.trace(x, offset=-1), lambda: (R(4, 3),))
add("test_trace_extradims", lambda x: np.trace(x, offset=1), lambda: (R(3, 4, 2, 2),))
add("test_diag", lambda x: np.diag(x), lambda: (R(3, 3),))
add("test_transpose", lambda x: x.T, lambda: (R(3, 3),))
add("test_roll", lambda x: np.roll(x, 2, axis=1), lambda: (R(3, 4),))
add("test_roll_no_axis", lambda x: np.roll(x, 2), lambda: (R(3, 4),),
    note="the peer's body passes axis=1 like test_roll; here without an axis, as its name says")
add("test_triu", lambda x: np.triu(x, k=2), lambda: (R(4, 4),))
add("test_tril", lambda x: np.tril(x, k=2), lambda: (R(4, 4),))
add("test_clip", lambda x: np.clip(x, a_min=0.1, a_max=1.1),
    lambda: (_away(lambda: R(3, 3), lambda x: np.minimum(abs(x - 0.1), abs(x - 1.1))),),
    smooth=False)
add("test_prod_1", lambda x: np.prod(x), lambda: (R(2, 3) ** 2 / 10.0 + 0.1,))
add("test_prod_2", lambda x: np.prod(x, axis=0), lambda: (R(2, 3) ** 2 + 0.1,))
add("test_prod_3", lambda x: np.prod(x, axis=0, keepdims=True), lambda: (R(2, 3) ** 2 + 0.1,))
add("test_prod_4", lambda x: np.prod(x), lambda: (R(5) ** 2 + 0.1,))
add("test_1d_array", lambda x: np.array([x, x * 1.0, x + 2.5]), lambda: (3.0,))
add("test_2d_array", lambda x: np.array([[x, x * 1.0, x + 2.5], [x**2, x, x / 2.0]]),
    lambda: (3.0,))


def _array_fanout_1d(x: Any) -> Any:
    a = np.array([x, x * 1.0, x + 2.5])
    return a + a


def _array_fanout_2d(x: Any) -> Any:
    a = np.array([[x, x * 1.0, x + 2.5], [x**2, x, x / 2.0]])
    return a + a


def _box_attributes(x: Any) -> Any:
    assert x.shape == ()
    assert x.ndim == 0
    assert x.size == 1
    assert x.dtype == np.float64
    return x**2


def _len3(x: Any) -> Any:
    assert len(x) == 3
    return x


add("test_1d_array_fanout", _array_fanout_1d, lambda: (3.0,))
add("test_2d_array_fanout", _array_fanout_2d, lambda: (3.0,))
add("test_array_from_scalar", lambda x: np.array(x), lambda: (3.0,))
# (a plain call hands a Python float to the body as the number, which has no .shape, as in
# plain Python; derivatives trace it as a 0-d value with array attributes either way)
add("test_scalar_array_box_attributes", _box_attributes, lambda: (np.float64(3.0),))
add("test_array_from_arrays", lambda x: np.array([x, x]), lambda: (R(3, 2),))
add("test_array_from_arrays_2", lambda x: np.array([[2 * x, x + 1], [x, x]]), lambda: (R(3, 2),))
add("test_len", _len3, lambda: (R(3, 2),))
_C32 = _seeded("r_ constant").standard_normal((3, 2))
_C4 = _seeded("r_ slicing constant").standard_normal(4)
add("test_r_basic", lambda x: np.r_[x], lambda: (R(3, 2),))
add("test_r_double", lambda x: np.r_[x, x], lambda: (R(3, 2),))
add("test_no_relation", lambda x: _C32, lambda: (R(3, 2),))
add("test_r_no_relation", lambda x: np.r_[_C32], lambda: (R(3, 2),))
add("test_r_node_and_const", lambda x: np.r_[x, _C32], lambda: (R(3, 2),))
add("test_r_mixed", lambda x: np.r_[x, _C32, x], lambda: (R(3, 2),))
add("test_r_slicing", lambda x: np.r_[x, _C4, 1:10], lambda: (R(4),))
add("test_c_", lambda x: np.c_[x, _C32, x], lambda: (R(3, 2),))
add("test_c_mixed", lambda x: np.c_[x, _C32, x], lambda: (R(3, 2),))
for f in (np.var, np.std):
    for shape, kw in [((3,), {"axis": None, "keepdims": False, "ddof": 0}),
                      ((3,), {"axis": None, "keepdims": True, "ddof": 1}),
                      ((3, 4), {"axis": None, "keepdims": False, "ddof": 1}),
                      ((1, 3), {"axis": None, "keepdims": True, "ddof": 0}),
                      ((3, 4), {"axis": 1, "keepdims": False, "ddof": 2}),
                      ((1, 3), {"axis": 1, "keepdims": True, "ddof": 2}),
                      ((1, 3), {"axis": None, "keepdims": False, "ddof": 2})]:
        add(f"test_{f.__name__}_ddof", _call(f, **kw), lambda shape=shape: (R(*shape),),
            f"{shape},{_kw(**kw)}".replace(" ", ""))
_MASK = _seeded("where mask").standard_normal((3, 4)) > 0
add("test_where", lambda x, y: np.where(_MASK, x, y), lambda: (R(3, 4), R(3, 4)))
add("test_squeeze_func", lambda x: np.squeeze(x), lambda: (R(3, 1, 2),))
add("test_squeeze_method", lambda x: x.squeeze(), lambda: (R(3, 1, 2),))
add("test_repeat", lambda x: np.repeat(x, 2, axis=1), lambda: (R(3, 2, 2),))
add("test_repeat_axis1_rep1", lambda x: np.repeat(x, 1, axis=1), lambda: (R(3, 2, 2),))
add("test_repeat_axis0", lambda x: np.repeat(x, 2, axis=0), lambda: (R(3, 2),))
add("test_repeat_1d_axis0", lambda x: np.repeat(x, 2, axis=0), lambda: (R(4),))
add("test_repeat_axis0_rep1", lambda x: np.repeat(x, 1, axis=0), lambda: (R(3, 1),))
add("test_expand_dims", lambda x: np.expand_dims(x, 2), lambda: (R(3, 1, 2),))
add("test_tensordot_kwargs_by_position",
    lambda x: np.tensordot(x * np.ones((2, 2)), x * np.ones((2, 2)), 2), lambda: (1.0,))
add("test_multi_index", lambda x: np.sum(x[[0, 0]]), lambda: (R(3),))
add("test_multi_index2", lambda x: np.sum(x[[0, 1, 0]]), lambda: (R(3),))
add("test_index_dot_slices", lambda x: np.dot(x[:2], x[2:]), lambda: (R(4),))


def _cast_to_int(w: Any) -> Any:
    inds = np.ones(4)[:, None]
    glued_together = np.concatenate((w, inds), axis=1)  # noqa: F841 - as in the peer test
    new_w = w[:, :-1]
    new_inds = np.int64(w[:, -1])
    assert new_inds.dtype == np.int64
    return new_w[new_inds].sum()


add("test_cast_to_int", _cast_to_int,
    lambda: (_away(lambda: R(4, 5), lambda w: _int_distance(w[:, -1])),))
add("test_diagonal", lambda d: np.diagonal(d, axis1=-1, axis2=-2), lambda: (R(3, 3),), "(3,3)")
add("test_diagonal", lambda d: np.diagonal(d, axis1=-1, axis2=-2), lambda: (R(2, 3, 3),),
    "(2,3,3)")
_NONFINITE = np.array([0.0, np.nan, np.inf, -np.inf])
add("test_nan_to_num", lambda x: np.sum(np.sin(np.nan_to_num(x + _NONFINITE))), lambda: (R(4),))
add("test_max_equal_values", lambda x: np.max(np.array([x, x])), lambda: (1.0,))
for x0 in (1.0, -1.0):
    add("test_max_equal_values_2d",
        lambda x: np.max(np.array([[x, x], [x, 0.5]]), axis=1), lambda x0=x0: (x0,), f"x={x0}")
    add("test_min_3_way_equality",
        lambda x: np.min(np.array([[x, x, x], [x, 0.5, 0.5], [0.5, 0.5, 0.5], [x, x, 0.5]]),
                         axis=0), lambda x0=x0: (x0,), f"x={x0}")
add("test_maximum_equal_values", lambda x: np.maximum(x, x), lambda: (1.0,))
for x0 in (1.0, -1.0, 2.0):
    add("test_maximum_equal_values_2d",
        lambda x: np.maximum(np.array([x, x, 0.5]), np.array([[x, 0.5, x], [x, x, 0.5]])),
        lambda x0=x0: (x0,), f"x={x0}")
for num, points in [(0, [(1.2, 3.4)]), (1, [(1.2, 3.4), (1.2, 1.2)]),
                    (5, [(1.2, 3.4), (1.2, -3.4), (1.2, 1.2)])]:
    for pt in points:
        add("test_linspace", lambda x, y, num=num: np.linspace(x, y, num), lambda pt=pt: pt,
            f"num={num},x={pt[0]},y={pt[1]}")
add("test_astype", lambda x: np.sum(np.sin(x.astype("float64"))),
    lambda: (np.arange(3, dtype="float32"),), note="the gradient must be float32, as the input")
for shape, kw in [((4,), {}), ((3, 4), {}), ((3, 3, 3), {}), ((3, 3, 3), {"axis": 0}),
                  ((3, 3, 3), {"axis": (0, 1)}), ((3, 3, 3), {"axis": -1})]:
    add("test_gradient", _call(np.gradient, **kw), lambda shape=shape: (R(*shape),),
        f"{shape}{',' if kw else ''}{_kw(**kw)}".replace(" ", ""))


# ===== test_systematic.py ============================================================================
_file("test_systematic")

# --- stat_check: scalars, vectors and matrices, axis None/0/1, keepdims, complex inputs
_STAT_VARIANTS: list[tuple[Callable[[], Any], dict[str, Any]]] = [
    (lambda: 3.5, {}),
    (lambda: R(3), {"axis": None, "keepdims": False}),
    (lambda: R(3), {"axis": 0, "keepdims": True}),
    (lambda: R(2, 3), {"axis": None, "keepdims": False}),
    (lambda: R(2, 3), {"axis": None, "keepdims": True}),
    (lambda: R(2, 3), {"axis": 0, "keepdims": False}),
    (lambda: R(2, 3), {"axis": 0, "keepdims": True}),
    (lambda: R(2, 3), {"axis": 1, "keepdims": False}),
    (lambda: R(2, 3), {"axis": 1, "keepdims": True}),
    (lambda: R(1, 3), {"axis": None, "keepdims": False}),
    (lambda: R(1, 3), {"axis": 0, "keepdims": False}),
    (lambda: R(1, 3), {"axis": 1, "keepdims": True}),
    (lambda: R() + 0.1j * R(), {}),
    (lambda: R(2, 3) + 0.1j * R(2, 3), {"axis": None, "keepdims": False}),
    (lambda: R(2, 3) + 0.1j * R(2, 3), {"axis": 0, "keepdims": True}),
]
_STAT_NAMES = ["scalar", "(3)", "(3)", "(2,3)", "(2,3)", "(2,3)", "(2,3)", "(2,3)", "(2,3)",
               "(1,3)", "(1,3)", "(1,3)", "complex", "c(2,3)", "c(2,3)"]
for f in (np.max, np.mean, np.min, np.sum, np.prod, np.var, np.std):
    for (mk, kw), nm in zip(_STAT_VARIANTS, _STAT_NAMES, strict=True):
        add(f"test_{f.__name__}", _call(f, **kw), lambda mk=mk: (mk(),),
            nm + ("," + _kw(**kw) if kw else ""), smooth=f not in (np.max, np.min))


# --- unary_ufunc_check: a scalar and a (3, 2) matrix in `lims`, and complex ones
def _unary(test: str, f: Callable[..., Any], lims: tuple[float, float] = (-2.0, 2.0),
           test_complex: bool = True, kinks: Callable[[Any], Any] | None = None,
           **options: Any) -> None:
    lo, hi = lims

    def t(u: Any) -> Any:
        return u * (hi - lo) + lo

    def draw(shape: tuple[int, ...]) -> Any:
        make = (lambda: t(U(0.0, 1.0, *shape))) if shape else (lambda: t(0.4))
        return make() if kinks is None else _away(make, kinks)

    add(test, f, lambda: (draw(()),), "scalar", **options)
    add(test, f, lambda: (draw((3, 2)),), "(3,2)", **options)
    if test_complex:
        add(test, f, lambda: (t(0.4) + 0.1j * t(0.3),), "complex", **options)
        add(test, f, lambda: (t(U(0.0, 1.0, 3, 2)) + 0.1j * U(0.0, 1.0, 3, 2),), "c(3,2)",
            **options)


_unary("test_sin", lambda x: np.sin(x))
_unary("test_abs", lambda x: np.abs(x), (0.1, 4.0))
_unary("test_absolute", lambda x: np.absolute(x), (0.1, 4.0))
_unary("test_arccosh", lambda x: np.arccosh(x), (1.1, 4.0))
_unary("test_arcsinh", lambda x: np.arcsinh(x), (-0.9, 0.9))
_unary("test_arctanh", lambda x: np.arctanh(x), (-0.9, 0.9))
_unary("test_ceil", lambda x: np.ceil(x), (-1.5, 1.5), False, _int_distance)
_unary("test_cos", lambda x: np.cos(x))
_unary("test_cosh", lambda x: np.cosh(x))
_unary("test_deg2rad", lambda x: np.deg2rad(x), test_complex=False)
_unary("test_degrees", lambda x: np.degrees(x) / 50.0, test_complex=False)
_unary("test_exp", lambda x: np.exp(x))
_unary("test_exp2", lambda x: np.exp2(x))
_unary("test_expm1", lambda x: np.expm1(x))
_unary("test_fabs", lambda x: np.fabs(x), test_complex=False, kinks=np.abs)
_unary("test_floor", lambda x: np.floor(x), (-1.5, 1.5), False, _int_distance)
_unary("test_log", lambda x: np.log(x), (0.2, 2.0))
_unary("test_log10", lambda x: np.log10(x), (0.2, 2.0))
_unary("test_log1p", lambda x: np.log1p(x), (0.2, 2.0))
_unary("test_log2", lambda x: np.log2(x), (0.2, 2.0))
_unary("test_rad2deg", lambda x: np.rad2deg(x) / 50.0, test_complex=False)
_unary("test_radians", lambda x: np.radians(x), test_complex=False)
_unary("test_sign", lambda x: np.sign(x), test_complex=False, kinks=np.abs)
_unary("test_sinh", lambda x: np.sinh(x))
_unary("test_sqrt", lambda x: np.sqrt(x), (1.0, 3.0))
_unary("test_square", lambda x: np.square(x), test_complex=False)
_unary("test_tan", lambda x: np.tan(x), (-1.1, 1.1))
_unary("test_tanh", lambda x: np.tanh(x))
_unary("test_real", lambda x: np.real(x))
_unary("test_real_ic", lambda x: np.real_if_close(x))
_unary("test_imag", lambda x: np.imag(x))
_unary("test_conj", lambda x: np.conj(x))
_unary("test_conjugate", lambda x: np.conjugate(x))
_unary("test_angle", lambda x: np.angle(x), kinks=np.abs)


# --- binary_ufunc_check: operand kinds scalar, (2,), (3,2), (1,2), and complex ones
def _binary(test: str, f: Callable[..., Any], lims_a: tuple[float, float] = (-2.0, 2.0),
            lims_b: tuple[float, float] = (-2.0, 2.0), test_complex: bool = True,
            kinks: Callable[[Any, Any], Any] | None = None, **options: Any) -> None:
    def ta(u: Any) -> Any:
        return u * (lims_a[1] - lims_a[0]) + lims_a[0]

    def tb(u: Any) -> Any:
        return u * (lims_b[1] - lims_b[0]) + lims_b[0]

    kinds: dict[str, Callable[[], Any]] = {
        "scalar": lambda: 0.6, "(2)": lambda: U(0.0, 1.0, 2), "(3,2)": lambda: U(0.0, 1.0, 3, 2),
        "(1,2)": lambda: U(0.0, 1.0, 1, 2), "complex": lambda: 0.6 + 0.3j,
        "c(3,2)": lambda: U(0.0, 1.0, 3, 2) + 0.1j * U(0.0, 1.0, 3, 2)}
    pairs = [("scalar", "scalar"), ("(2)", "(3,2)"), ("(3,2)", "(1,2)"), ("(3,2)", "(3,2)"),
             ("(1,2)", "scalar")]
    if test_complex:
        pairs += [("complex", "c(3,2)"), ("c(3,2)", "(2)")]
    for a, b in pairs:
        def make(a: str = a, b: str = b) -> tuple[Any, Any]:
            if kinks is None:
                return ta(kinds[a]()), tb(kinds[b]())
            for _ in range(200):
                x, y = ta(kinds[a]()), tb(kinds[b]())
                if np.min(kinks(x, y)) > 0.02:
                    return x, y
            raise RuntimeError("no point away from the kinks")

        add(test, f, make, f"{a},{b}", **options)


def _mod_kinks(x: Any, y: Any) -> Any:
    return _int_distance(np.asarray(x) / np.asarray(y))


_binary("test_add", lambda x, y: np.add(x, y))
_binary("test_logaddexp", lambda x, y: np.logaddexp(x, y), test_complex=False)
_binary("test_logaddexp2", lambda x, y: np.logaddexp2(x, y), test_complex=False)
_binary("test_remainder", lambda x, y: np.remainder(x, y), (-0.9, 0.9), (0.7, 1.9), False,
        _mod_kinks)
_binary("test_true_divide", lambda x, y: np.true_divide(x, y), lims_b=(0.8, 1.2),
        test_complex=False)
_binary("test_mod", lambda x, y: np.mod(x, y), lims_b=(0.8, 2.1), test_complex=False,
        kinks=_mod_kinks)
_binary("test_true_divide_neg", lambda x, y: np.true_divide(x, y), lims_b=(-0.3, -2.0),
        test_complex=False)
_binary("test_mod_neg", lambda x, y: np.mod(x, y), lims_b=(-0.3, -2.0), test_complex=False,
        kinks=_mod_kinks)
_binary("test_op_mul", lambda x, y: op.mul(x, y))
_binary("test_op_add", lambda x, y: op.add(x, y))
_binary("test_op_sub", lambda x, y: op.sub(x, y))
_binary("test_op_mod", lambda x, y: op.mod(x, y), lims_b=(0.3, 2.0), test_complex=False,
        kinks=_mod_kinks)
_binary("test_op_mod_neg", lambda x, y: op.mod(x, y), lims_b=(-0.3, -2.0), test_complex=False,
        kinks=_mod_kinks)

# --- shapes and assembly
for axes in [None, [0, 1, 2], [0, 2, 1], [2, 0, 1], [2, 1, 0], [1, 0, 2], [1, 2, 0]]:
    add("test_transpose", _call(np.transpose, axes=axes), lambda: (R(2, 3, 4),),
        _kw(axes=axes))
for s, d in product(range(3), range(3)):
    add("test_moveaxis", _call(np.moveaxis, source=s, destination=d), lambda: (R(2, 3, 4),),
        _kw(source=s, destination=d))
for shape, reps, axis in product([(2, 3, 4), (3, 1)], [0, 1, 2], [None, 0, 1]):
    add("test_repeat", _call(np.repeat, repeats=reps, axis=axis), lambda shape=shape: (R(*shape),),
        f"{shape},{_kw(repeats=reps, axis=axis)}".replace(" ", ""))
for shape, n, axis in [*product([(4, 3), (2, 4, 3)], [1, 2], [0, 1]), ((1,), 1, 0),
                       ((1, 1), 1, 0), ((1, 1), 1, 1), ((3, 1), 1, 1)]:
    add("test_diff", _call(np.diff, n=n, axis=axis), lambda shape=shape: (R(*shape),),
        f"{shape},{_kw(n=n, axis=axis)}".replace(" ", ""))
for shape, axis in [*product([(3, 4), (2, 3, 4)], [None, 0, 1, -1]), ((2, 3, 4), (0, 1)),
                    ((2, 3, 4), (0, -1))]:
    add("test_gradient", _call(np.gradient, axis=axis), lambda shape=shape: (R(*shape),),
        f"{shape},{_kw(axis=axis)}".replace(" ", ""))
for shape, reps in [((2, 1, 3, 1), (1, 4, 1, 2)), ((1, 2), (1, 2)), ((1, 2), (2, 3)),
                    ((1, 2), (3, 2, 1)), ((1,), (2,)), ((1,), 2)]:
    add("test_tile", _call(np.tile, reps=reps), lambda shape=shape: (R(*shape),),
        f"{shape},{_kw(reps=reps)}".replace(" ", ""))

# --- products
for name, mk in {"(3,3),(2,2)": lambda: (R(3, 3), R(2, 2)), "(3),(2)": lambda: (R(3), R(2)),
                 "(3,1),(1,2)": lambda: (R(3, 1), R(1, 2)),
                 "(1,3),(2,1)": lambda: (R(1, 3), R(2, 1)), "scalar,scalar": lambda: (R(), R()),
                 "(3),(2,2)": lambda: (R(3), R(2, 2)),
                 "c(2,2),c(2,2)": lambda: (C(2, 2), C(2, 2))}.items():
    add("test_kron", lambda x, y: np.kron(x, y), mk, name)
_INNER_A = {"scalar": lambda: 1.5, "(3)": lambda: R(3), "(2,3)": lambda: R(2, 3)}
_INNER_B = {"scalar": lambda: 0.3, "(3)": lambda: R(3), "(4,3)": lambda: R(4, 3)}
for (na, ma), (nb, mb) in product(_INNER_A.items(), _INNER_B.items()):
    add("test_inner", lambda x, y: np.inner(x, y), lambda ma=ma, mb=mb: (ma(), mb()), f"{na},{nb}")
_DOT_A = {"scalar": lambda: 1.5, "(3)": lambda: R(3), "(2,3)": lambda: R(2, 3),
          "(2,2,3)": lambda: R(2, 2, 3), "c(3)": lambda: C(3), "c(2,3)": lambda: C(2, 3)}
_DOT_B = {"scalar": lambda: 0.3, "(3)": lambda: R(3), "(3,4)": lambda: R(3, 4),
          "(2,3,4)": lambda: R(2, 3, 4), "c(3)": lambda: C(3)}
for (na, ma), (nb, mb) in product(_DOT_A.items(), _DOT_B.items()):
    if (na, nb) in {("scalar", "(2,3,4)"), ("(2,2,3)", "scalar"), ("c(2,3)", "(3,4)"),
                    ("c(2,3)", "(2,3,4)"), ("(2,2,3)", "c(3)"), ("c(3)", "(2,3,4)")}:
        continue  # the subset: every operand kind with every other, minus six large repeats
    add("test_dot", lambda x, y: np.dot(x, y), lambda ma=ma, mb=mb: (ma(), mb()), f"{na},{nb}")
for na, nb in product(["(3)", "c(3)"], ["(3)", "c(3)"]):
    add("test_outer", lambda x, y: np.outer(x, y),
        lambda na=na, nb=nb: (C(3) if na[0] == "c" else R(3), C(3) if nb[0] == "c" else R(3)),
        f"{na},{nb}")
_MM_A = {"(3)": lambda: R(3), "(2,3)": lambda: R(2, 3), "(2,2,3)": lambda: R(2, 2, 3),
         "c(3)": lambda: C(3), "c(2,3)": lambda: C(2, 3)}
_MM_B = {"(3)": lambda: R(3), "(3,4)": lambda: R(3, 4), "(2,3,4)": lambda: R(2, 3, 4),
         "c(3)": lambda: C(3), "c(3,4)": lambda: C(3, 4)}
for (na, ma), (nb, mb) in product(_MM_A.items(), _MM_B.items()):
    if na[0] == "c" and nb[0] == "c" and na != "c(3)":
        continue
    add("test_matmul", lambda x, y: np.matmul(x, y), lambda ma=ma, mb=mb: (ma(), mb()),
        f"{na},{nb}")
add("test_matmul_broadcast", lambda x, y: np.matmul(x, y), lambda: (R(1, 2, 2), R(3, 2, 1)))
_TD: list[tuple[str, list[tuple[int, ...]], list[tuple[int, ...]], list[Any]]] = [
    ("test_tensordot_1", [(1, 3), (2, 3, 2), (-1, 3)], [(3,), (3, 1), (3, 4, 2), (-3,)],
     [[(1,), (0,)]]),
    ("test_tensordot_2", [(3,), (3, 1), (3, 4, 2)], [(1, 3), (2, 3, 2)], [[(0,), (1,)]]),
    ("test_tensordot_3", [(2, 3), (2, 3, 4)], [(1, 2, 3), (2, 2, 3, 4)],
     [[(0, 1), (1, 2)], [(1, 0), (2, 1)]]),
    ("test_tensordot_4", [(2, 2), (4, 2, 2)], [(2, 2), (2, 2, 4)], [1, 2]),
    ("test_tensordot_5", [(4,)], [()], [0]),
    ("test_tensordot_6", [(2, 6)], [(6, 3)], [[[-1], [0]]]),
    ("test_tensordot_7", [(2, 6)], [(6, 3)], [[-1, 0]]),
    ("test_tensordot_8", [(2,)], [(2, 2)], [[0, 1]]),
]


def _draw(shape: tuple[int, ...]) -> Any:
    """A shape with a negative first entry is complex (autograd's C(...))."""
    if shape and shape[0] < 0:
        return C(-shape[0], *shape[1:])
    return R(*shape)


for test, sa, sb, axes_list in _TD:
    for a, b, axes in product(sa, sb, axes_list):
        if test == "test_tensordot_4" and a == (4, 2, 2) and b == (2, 2, 4) and axes == 2:
            continue  # as large as it gets; the other seven combinations cover its parts
        name = f"{a},{b},axes={axes}".replace(" ", "").replace("(-", "c(")
        add(test, _call(np.tensordot, axes=axes), lambda a=a, b=b: (_draw(a), _draw(b)), name)
for f in (np.maximum, np.fmax, np.minimum, np.fmin):
    for sa, sb in [((1,), (1,)), ((1, 4), (3, 4)), ((3, 4), (1,)), ((3, 4), (3, 4))]:
        add(f"test_{f.__name__}", lambda x, y, f=f: f(x, y),
            lambda sa=sa, sb=sb: _away(lambda: (R(*sa), R(*sb)),
                                       lambda p: np.abs(p[0] - p[1]), 0.02),
            f"{sa},{sb}".replace(" ", ""), smooth=False)

# --- sorting and selection
for n in (1, 7):
    add("test_sort", lambda x: np.sort(x), lambda n=n: (R(n),), f"({n})", smooth=False)
for n, kth in [(7, 0), (7, 3), (7, 6), (14, 3)]:
    add("test_partition", _call(np.partition, kth=kth), lambda n=n: (R(n),),
        f"({n}),kth={kth}", smooth=False,
        note="the value is NumPy's arrangement; only the kth element's place is defined")
for f, shapes in [(np.atleast_1d, [(), (1,), (7,), (1, 4), (2, 4), (2, 4, 5)]),
                  (np.atleast_2d, [(), (1,), (7,), (1, 4), (2, 4), (2, 4, 5)]),
                  (np.atleast_3d, [(), (1,), (7,), (1, 4), (2, 4), (2, 4, 3), (2, 4, 3, 2)])]:
    for shape in shapes:
        add(f"test_{f.__name__}", lambda x, f=f: f(x),
            lambda shape=shape: (1.2 if not shape else R(*shape),),
            "scalar" if not shape else str(shape).replace(" ", ""))

# --- einsum, subscripts and sublists
_ES: list[tuple[str, list[str], list[list[tuple[int, ...]]]]] = [
    ("test_einsum_transpose", ["ij->ji"], [[(1, 1), (4, 4), (3, 4)]]),
    ("test_einsum_matmult", ["ij,jk->ik"], [[(2, 3), (-2, 3)], [(3, 4), (-3, 4)]]),
    ("test_einsum_matmult_broadcast", ["...ij,...jk->...ik"], [[(2, 3), (2, 2, 3)],
                                                               [(3, 4), (2, 3, 4)]]),
    ("test_einsum_matmult_broadcast_leadzero", ["...ij,...jk->...ik"], [[(0, 2, 3)], [(0, 3, 4)]]),
    ("test_einsum_covsum", ["ijk,lji->lki"], [[(3, 4, 4)], [(4, 4, 3)]]),
    ("test_einsum_ellipses", ["...jk,...lj->...lk", "...,...->..."], [[(4, 4), (3, 4, 4)],
                                                                      [(4, 4), (3, 4, 4)]]),
    ("test_einsum_ellipses_tail", ["jk...,lj...->lk..."], [[(3, 2), (3, 2, 4)],
                                                          [(2, 3), (2, 3, 4)]]),
    ("test_einsum_ellipses_center", ["j...k,lj...->lk..."], [[(2, 2), (2, 2, 2)],
                                                            [(2, 2), (2, 2, 2)]]),
    ("test_einsum_three_args", ["ijk,lji,lli->lki"], [[(3, 4, 4)], [(4, 4, 3)], [(4, 4, 3)]]),
    ("test_einsum_naked_sum", ["k,nk->"], [[(5,)], [(10, 5)]]),
    ("test_einsum_naked_sum2", ["abcd->bd"], [[(3, 2, 3, 2)]]),
    ("test_einsum_naked_sum_ellipsis", ["...k,...nk->..."], [[(3, 5)], [(3, 10, 5)]]),
    ("test_einsum_no_output_indices", ["ij,k"], [[(3, 4)], [(3,)]]),
]
for test, subs, operand_shapes in _ES:
    for sub, shapes in product(subs, product(*operand_shapes)):
        if test == "test_einsum_ellipses" and sub == "...jk,...lj->...lk" and shapes[0] != \
                shapes[1]:
            continue  # the two mixed-rank broadcasts are covered by "...,...->..."
        if test in ("test_einsum_matmult", "test_einsum_matmult_broadcast",
                    "test_einsum_ellipses_tail", "test_einsum_ellipses_center") and \
                len({len(s) for s in shapes}) > 1:
            continue  # one rank with the other is covered by the same-rank pairs and broadcasts
        add(test, _call(np.einsum, sub), lambda shapes=shapes: tuple(_draw(s) for s in shapes),
            sub + "," + ",".join(str(s) for s in shapes).replace(" ", "").replace("(-", "c("))
_E = Ellipsis
_ES2: list[tuple[str, list[tuple[int, ...]], list[Any]]] = [
    ("test_einsum2_transpose", [(1, 1)], [[0, 1], [1, 0]]),
    ("test_einsum2_transpose", [(4, 4)], [[0, 1], [1, 0]]),
    ("test_einsum2_transpose", [(3, 4)], [[0, 1], [1, 0]]),
    ("test_einsum2_matmult", [(2, 3), (3, 4)], [[0, 1], [1, 2], [0, 2]]),
    ("test_einsum2_matmult_broadcast", [(2, 3), (3, 4)], [[_E, 0, 1], [_E, 1, 2], [_E, 0, 2]]),
    ("test_einsum2_matmult_broadcast", [(2, 2, 3), (2, 3, 4)],
     [[_E, 0, 1], [_E, 1, 2], [_E, 0, 2]]),
    ("test_einsum2_covsum", [(3, 4, 4), (4, 4, 3)], [[0, 1, 2], [3, 1, 0], [3, 2, 0]]),
    ("test_einsum2_three_args", [(3, 4, 4), (4, 4, 3), (4, 4, 3)],
     [[0, 1, 2], [3, 1, 0], [3, 3, 0], [3, 2, 0]]),
]


def _sublist_einsum(sublists: list[Any]) -> Callable[..., Any]:
    """np.einsum(x, [0, 1], y, [1, 2], [0, 2]): operands interleaved with their sublists."""

    def user(*xs: Any) -> Any:
        interleaved: list[Any] = []
        for x, s in zip(xs, sublists, strict=False):
            interleaved += [x, s]
        return np.einsum(*interleaved, *sublists[len(xs):])

    return user


for test, shapes, sublists in _ES2:
    add(test, _sublist_einsum(sublists), lambda shapes=shapes: tuple(R(*s) for s in shapes),
        ",".join(str(s) for s in shapes).replace(" ", ""))

# --- diagonals and triangles
for shape, offset in product([(3, 3), (2, 3), (3, 2), (2, 3, 4)], [-1, 0, 1]):
    add("test_trace", _call(np.trace, offset=offset), lambda shape=shape: (R(*shape),),
        f"{shape},offset={offset}".replace(" ", ""))
for k in (-1, 0, 1):
    add("test_diag", _call(np.diag, k=k), lambda: (R(3, 3),), f"k={k}")
    add("test_diag_flat", _call(np.diag, k=k), lambda: (R(3),), f"k={k}")
    add("test_tril", _call(np.tril, k=k), lambda: (R(3, 3),), f"k={k}")
    add("test_triu", _call(np.triu, k=k), lambda: (R(3, 3),), f"k={k}")
    add("test_tril_3d", _call(np.tril, k=k), lambda: (R(3, 3, 2),), f"k={k}")
    add("test_triu_3d", _call(np.triu, k=k), lambda: (R(3, 3, 2),), f"k={k}")
for a1, a2 in product(range(3), range(3)):
    add("test_swapaxes", _call(np.swapaxes, axis1=a1, axis2=a2), lambda: (R(2, 3, 4),),
        _kw(axis1=a1, axis2=a2))
    add("test_rollaxis", _call(np.rollaxis, axis=a1, start=a2), lambda: (R(2, 3, 4),),
        _kw(axis=a1, start=a2))
for kw in [{"axisa": -1, "axisb": -1, "axisc": -1, "axis": None}, {"axisa": 0, "axisb": -1, "axisc": -1},
           {"axisa": -1, "axisb": 0, "axisc": -1}, {"axisa": -1, "axisb": -1, "axisc": 0},
           {"axisa": 1, "axisb": 0, "axisc": 1}, {"axisa": 0, "axisb": 1, "axisc": 0},
           {"axisa": 0, "axisb": 0, "axisc": 0}, {"axisa": 1, "axisb": 1, "axisc": 1},
           {"axis": -1}, {"axis": 0}, {"axis": 1}, {"axisa": 0, "axisb": 1, "axisc": -1, "axis": 0}]:
    add("test_cross", _call(np.cross, **kw), lambda: (R(3, 3), R(3, 3)), _kw(**kw))

# --- splitting (the output is a list of arrays)
_SPLITS: list[tuple[str, Callable[..., Any], list[tuple[int, ...]], list[Any], list[Any]]] = [
    ("test_vsplit_2d", np.vsplit, [(4, 4)], [4, [1, 2]], [None]),
    ("test_vsplit_3d", np.vsplit, [(2, 2, 2)], [2, [1, 2]], [None]),
    ("test_hsplit_2d", np.hsplit, [(2, 4)], [4, [1, 2]], [None]),
    ("test_hsplit_3d", np.hsplit, [(2, 2, 2)], [2, [1, 2]], [None]),
    ("test_dsplit_3d", np.dsplit, [(2, 2, 2)], [2, [1, 2]], [None]),
    ("test_split_1d", np.split, [(1,), (7,)], [1], [0]),
    ("test_split_2d", np.split, [(4, 4)], [4, [1, 2]], [0, 1]),
    ("test_split_3d", np.split, [(2, 2, 2)], [2, [1, 2]], [0, 1, 2]),
    ("test_array_split_1d", np.array_split, [(1,), (7,)], [1, 3], [0]),
    ("test_array_split_2d", np.array_split, [(5, 5)], [4, [3, 5]], [0, 1]),
    ("test_array_split_3d", np.array_split, [(5, 3, 2)], [4, [3, 5]], [0, 1, 2]),
]
for test, f, shapes, sections, axes in _SPLITS:
    for shape, sec, axis in product(shapes, sections, axes):
        kw = {} if axis is None else {"axis": axis}
        add(test, lambda x, f=f, sec=sec, kw=kw: f(x, sec, **kw), lambda shape=shape: (R(*shape),),
            f"{shape},{sec!r}{',' + _kw(**kw) if kw else ''}".replace(" ", ""))

# --- assembly (the arrays being joined are the arguments)
add("test_concatenate_1ist", lambda a, b: np.concatenate((a, b), axis=0), lambda: (R(1), R(3)))
add("test_concatenate_tuple", lambda a, b: np.concatenate([a, b], axis=0), lambda: (R(1), R(3)))
for axis in (0, 1):
    add("test_concatenate_2d", lambda a, b, axis=axis: np.concatenate((a, b), axis=axis),
        lambda: (R(2, 2), R(2, 2)), f"axis={axis}")
for axis in (0, 1, 2):
    add("test_concatenate_3d", lambda a, b, axis=axis: np.concatenate((a, b), axis=axis),
        lambda: (R(2, 2, 2), R(2, 2, 2)), f"axis={axis}")
for f in (np.vstack, np.hstack, np.row_stack, np.column_stack):
    name = f.__name__ if f is not np.row_stack else "row_stack"
    one = {"vstack": [(2,), (2, 3), (2, 3, 4)], "hstack": [(2,), (3, 2), (2, 3, 4)],
           "row_stack": [(2,), (2, 3)], "column_stack": [(2,), (2, 2)]}[name]
    two = {"vstack": [((2,), (2,)), ((2, 4), (1, 4)), ((2, 3, 4), (3, 3, 4))],
           "hstack": [((2,), (2,)), ((3, 4), (3, 5)), ((2, 1, 4), (2, 5, 4))],
           "row_stack": [((2,), (2,)), ((2, 4), (1, 4))],
           "column_stack": [((2,), (2,)), ((2, 2), (2, 2))]}[name]
    for dim, (s1, (sa, sb)) in enumerate(zip(one, two, strict=True), start=1):
        add(f"test_{name}_{dim}d", lambda x, f=f: f(x), lambda s1=s1: (R(*s1),),
            f"{s1}".replace(" ", ""))
        add(f"test_{name}_{dim}d", lambda a, b, f=f: f((a, b)), lambda sa=sa, sb=sb: (R(*sa), R(*sb)),
            f"({sa},{sb})".replace(" ", ""))
for axis in (0, 1):
    add("test_stack_1d", lambda a, axis=axis: np.stack((a,), axis=axis), lambda: (R(2),),
        f"((2,),),axis={axis}")
    add("test_stack_1d", lambda a, b, axis=axis: np.stack((a, b), axis=axis),
        lambda: (R(2), R(2)), f"((2,),(2,)),axis={axis}")
_CONDS = [_seeded(f"select condition {i}").standard_normal((2, 3, 2)) > 0 for i in range(3)]
for default in (0.0, 1.1):
    add("test_select", lambda a, b, c, d=default: np.select(_CONDS, [a, b, c], default=d),
        lambda: (R(2, 3, 2), R(2, 3, 2), R(2, 3, 2)), f"default={default}")
for width in [0, 3, (3,), (3, 2), ((3, 2),), ((1, 2), (3, 4)), ((0, 0), (0, 0))]:
    add("test_pad", lambda x, w=width: np.pad(x, w, "constant"), lambda: (R(2, 2),),
        f"pad_width={width!r}".replace(" ", ""))


# ===== test_linalg.py ================================================================================
_file("test_linalg")


def _sym(a: Any) -> Any:
    return 0.5 * (a + np.swapaxes(a, -1, -2))


def _square_plus_eye() -> np.ndarray:
    m = R(3, 3)
    return m @ m + np.eye(3)


add("test_inv", lambda x: np.linalg.inv(x), lambda: (_conditioned(_square_plus_eye),))
for name, mk in {"(3,2)": lambda: R(3, 2), "(3,4)": lambda: R(3, 4),
                 "(2,3,2)": lambda: R(2, 3, 2)}.items():
    add("test_pinv", lambda x: np.linalg.pinv(x), lambda mk=mk: (mk(),), name)
for name, mk in {"low rank (2,3)": lambda: R(2, 3), "(3,2)": lambda: R(3, 2)}.items():
    add("test_pinv", lambda x: np.linalg.pinv(x.T @ x), lambda mk=mk: (mk(),), "x.T@x," + name)
add("test_inv_3d", lambda x: np.linalg.inv(x), lambda: (R(3, 3, 3) + 5 * np.eye(3),), "(3,3,3)")
add("test_inv_3d", lambda x: np.linalg.inv(x), lambda: (R(2, 2, 3, 3) + 5 * np.eye(3),),
    "(2,2,3,3)")
_B32 = _seeded("solve B").standard_normal((3, 2))
_B3 = _seeded("solve B 1d").standard_normal(3)
_A33 = _conditioned(lambda: _seeded("solve A").standard_normal((3, 3)) + np.eye(3))
_B43 = _seeded("solve B 3d").standard_normal((4, 3))
_B435 = _seeded("solve B 3d 3d").standard_normal((4, 3, 5))
add("test_solve_arg1", lambda a: np.linalg.solve(a, _B32), lambda: (R(3, 3) + 3.0 * np.eye(3),))
add("test_solve_arg1_1d", lambda a: np.linalg.solve(a, _B3), lambda: (R(3, 3) + 3.0 * np.eye(3),))
add("test_solve_arg2", lambda b: np.linalg.solve(_A33, b), lambda: (R(3, 2),))
add("test_solve_arg1_3d", lambda a: np.linalg.solve(a, _B43[..., None])[..., 0],
    lambda: (R(4, 3, 3) + 5 * np.eye(3),))
add("test_solve_arg1_3d_3d", lambda a: np.linalg.solve(a, _B435),
    lambda: (R(4, 3, 3) + 5 * np.eye(3),))
add("test_det", lambda x: np.linalg.det(x), lambda: (R(3, 3),))
add("test_det_3d", lambda x: np.linalg.det(x), lambda: (R(3, 3, 3),))


def _logdet(x: Any) -> Any:
    _sign, logdet = np.linalg.slogdet(x)
    return logdet


add("test_slogdet", _logdet, lambda: (R(3, 3),), "x")
add("test_slogdet", _logdet, lambda: (-R(3, 3),), "-x")
add("test_slogdet_3d", lambda x: np.sum(np.linalg.slogdet(x)[1]),
    lambda: (np.stack([_spd(3) + 5 * np.eye(3) for _ in range(3)]),))
add("test_vector_2norm", lambda x: np.linalg.norm(x), lambda: (R(4),))
add("test_norm_list_of_boxes", lambda x: np.linalg.norm([x, x + 2]), lambda: (0.0,), "list")
add("test_norm_list_of_boxes", lambda x: np.linalg.norm((x, x + 2)), lambda: (0.0,), "tuple")
add("test_vector_2norm_complex", lambda x: np.linalg.norm(x), lambda: (C(4),))
add("test_frobenius_norm", lambda x: np.linalg.norm(x), lambda: (R(3, 2),))
add("test_frobenius_norm_complex", lambda x: np.linalg.norm(x), lambda: (C(3, 2),))
add("test_frobenius_norm_axis", lambda x: np.linalg.norm(x, axis=(0, 1)), lambda: (R(3, 2, 2),))
add("test_frobenius_norm_axis_complex", lambda x: np.linalg.norm(x, axis=(0, 1)),
    lambda: (C(3, 2, 2),))
for k in (2, 3, 4):
    add("test_vector_norm_ord", _call(np.linalg.norm, ord=k), lambda: (R(4),), f"ord={k}")
    add("test_vector_norm_ord_complex", _call(np.linalg.norm, ord=k), lambda: (C(4),), f"ord={k}")
for axis in (0, 1, 2):
    add("test_norm_axis", _call(np.linalg.norm, axis=axis), lambda: (R(3, 2, 2),), f"axis={axis}")
    add("test_norm_axis_complex", _call(np.linalg.norm, axis=axis), lambda: (C(3, 2, 2),),
        f"axis={axis}")
add("test_norm_nuclear", lambda x: np.linalg.norm(x, ord="nuc"), lambda: (R(3, 2),))
add("test_norm_nuclear_complex", lambda x: np.linalg.norm(x, ord="nuc"), lambda: (C(3, 2),))
add("test_norm_nuclear_axis", lambda x: np.linalg.norm(x, ord="nuc", axis=(0, 1)),
    lambda: (R(3, 2, 2),))
add("test_norm_nuclear_axis_complex", lambda x: np.linalg.norm(x, ord="nuc", axis=(0, 1)),
    lambda: (C(3, 2, 2),))


def _eigh_lower(x: Any) -> Any:
    w, v = np.linalg.eigh(x)
    return w, v


def _eigh_upper(x: Any) -> Any:
    w, v = np.linalg.eigh(x, "U")
    return w, v


def _eigh_lower_abs(x: Any) -> Any:
    w, v = np.linalg.eigh(x)
    return w, np.abs(v)


def _eigh_upper_abs(x: Any) -> Any:
    w, v = np.linalg.eigh(x, "U")
    return w, np.abs(v)


def _eig_real(x: Any) -> Any:
    w, v = np.linalg.eig(x)
    return np.abs(w), np.abs(v)


def _eig_complex(x: Any) -> Any:
    w, v = np.linalg.eig(x)
    return w, np.abs(v)


def _gram(m: np.ndarray) -> np.ndarray:
    return np.einsum("...ij,...kj->...ik", m, m)


add("test_eigvalh_lower", _eigh_lower, lambda: (R(3, 3),))
add("test_eigvalh_upper", _eigh_upper, lambda: (R(3, 3),))
add("test_eigvalh_lower_broadcasting", _eigh_lower, lambda: (_gram(R(2, 3, 3) + 10 * np.eye(3)),))
add("test_eigvalh_upper_broadcasting", _eigh_upper, lambda: (_gram(R(2, 3, 3) + 10 * np.eye(3)),))
add("test_eigvalh_lower_complex", _eigh_lower_abs, lambda: (C(3, 3),))
add("test_eigvalh_upper_complex", _eigh_upper_abs, lambda: (C(3, 3),))
add("test_eig_real", _eig_real, lambda: (R(3, 3),))
add("test_eig_complex", _eig_complex, lambda: (C(3, 3),))
add("test_eig_batched", _eig_complex, lambda: (C(2, 3, 3),))
_Z3 = _seeded("reparameterization noise").standard_normal(3)
add("test_cholesky", lambda a: np.linalg.cholesky(_sym(a)), lambda: (_spd(3),),
    note="the argument is symmetrized, as in the peer, so differences see a function of it all")
add("test_cholesky_broadcast", lambda a: np.linalg.cholesky(_sym(a)), lambda: (_spd(3, 3),))
add("test_cholesky_reparameterization_trick",
    lambda a: np.linalg.norm(np.dot(np.linalg.cholesky(_sym(a)), _Z3)), lambda: (_spd(3),))


def _svd(x: Any) -> Any:
    u, s, v = np.linalg.svd(x, full_matrices=False)
    return u, s, v


def _svd_abs(x: Any) -> Any:
    u, s, v = np.linalg.svd(x, full_matrices=False)
    return np.abs(u), s, np.abs(v)


for kind, shape2, shape3 in [("wide", (2, 3), (2, 2, 3)), ("square", (3, 3), (2, 3, 3)),
                             ("tall", (3, 2), (2, 3, 2))]:
    add(f"test_svd_{kind}_2d", _svd, lambda shape2=shape2: (R(*shape2),))
    add(f"test_svd_{kind}_2d_complex", _svd_abs, lambda shape2=shape2: (C(*shape2),))
    add(f"test_svd_{kind}_3d", _svd, lambda shape3=shape3: (R(*shape3),))
    add(f"test_svd_{kind}_3d_complex", _svd_abs, lambda shape3=shape3: (C(*shape3),))
_svd_s = _call(np.linalg.svd, full_matrices=False, compute_uv=False)
add("test_svd_only_s_2d", _svd_s, lambda: (R(3, 2),))
add("test_svd_only_s_2d_complex", _svd_s, lambda: (C(3, 2),))
add("test_svd_only_s_3d", _svd_s, lambda: (R(2, 3, 2),))
add("test_svd_only_s_3d_complex", _svd_s, lambda: (C(2, 3, 2),))


# ===== test_scipy.py (scipy.special) =================================================================
_file("test_scipy")

add("test_beta", lambda a, b: sp.beta(a, b), lambda: (R(4) ** 2 + 1.1, R(4) ** 2 + 1.1))
add("test_betainc", lambda a, b, x: sp.betainc(a, b, x),
    lambda: (R(4) ** 2 + 1.1, R(4) ** 2 + 1.1, U(0.05, 0.95, 4)), wrt=(2,))
add("test_betaln", lambda a, b: sp.betaln(a, b), lambda: (R(4) ** 2 + 1.1, R(4) ** 2 + 1.1))
add("test_gammainc", lambda x: sp.gammainc(1, x), lambda: (R(4) ** 2 + 1.3,))
add("test_gammaincc", lambda x: sp.gammaincc(1, x), lambda: (R(4) ** 2 + 1.3,))
add("test_polygamma", lambda x: sp.polygamma(0, x), lambda: (R(4) ** 2 + 1.3,))
add("test_jn", lambda x: sp.jn(2, x), lambda: (R(4) ** 2 + 1.3,))
add("test_yn", lambda x: sp.yn(2, x), lambda: (R(4) ** 2 + 1.3,))
_unary("test_psi", lambda x: sp.psi(x), (0.3, 2.0), False)
_unary("test_digamma", lambda x: sp.digamma(x), (0.3, 2.0), False)
_unary("test_gamma", lambda x: sp.gamma(x), (0.3, 2.0), False)
_unary("test_gammaln", lambda x: sp.gammaln(x), (0.3, 2.0), False)
_unary("test_gammasgn", lambda x: sp.gammasgn(x), (0.3, 2.0), False)
_unary("test_rgamma", lambda x: sp.rgamma(x), (0.3, 2.0), False)
for mk, d in [(lambda: U(4.0, 5.0), 1), (lambda: U(4.0, 5.0, 2, 3), 2), (lambda: U(4.0, 5.0), 3)]:
    add("test_multigammaln", lambda a, d=d: sp.multigammaln(a, d), lambda mk=mk: (mk(),),
        f"{'scalar' if d != 2 else '(2,3)'},d={d}")
_unary("test_j0", lambda x: sp.j0(x), (0.2, 20.0), False)
_unary("test_j1", lambda x: sp.j1(x), (0.2, 20.0), False)
_unary("test_y0", lambda x: sp.y0(x), (0.2, 20.0), False)
_unary("test_y1", lambda x: sp.y1(x), (0.2, 20.0), False)
_unary("test_i0", lambda x: sp.i0(x), (0.2, 20.0), False)
_unary("test_i1", lambda x: sp.i1(x), (0.2, 20.0), False)
add("test_iv", lambda v, x: sp.iv(v, x), lambda: (U(1.0, 50.0, 4), R(4) ** 2 + 1.3), wrt=(1,))
add("test_ive", lambda v, x: sp.ive(v, x), lambda: (U(1.0, 50.0, 4), R(4) ** 2 + 1.3), wrt=(1,))
_unary("test_erf", lambda x: sp.erf(x), (-3.0, 3.0))
_unary("test_erfc", lambda x: sp.erfc(x), (-3.0, 3.0))
_unary("test_erfinv", lambda x: sp.erfinv(x), (-0.95, 0.95), False, smooth=False,
       note="no Hessian: near ±0.95 second differences are not accurate enough to judge one")
_unary("test_erfcinv", lambda x: sp.erfcinv(x), (0.05, 1.95), False)
_unary("test_logit", lambda x: sp.logit(x), (0.10, 0.90), False)
_unary("test_expit", lambda x: sp.expit(x), (-4.05, 4.95), False)
for mk, kw in [(lambda: np.array([1.1]), {"axis": None, "keepdims": False}),
               (lambda: R(4), {"axis": 0, "keepdims": True}),
               (lambda: R(3, 4), {"axis": None, "keepdims": False}),
               (lambda: R(3, 4), {"axis": 0, "keepdims": True}),
               (lambda: R(3, 4), {"axis": None, "keepdims": True})]:
    add("test_logsumexp1", _call(sp.logsumexp, **kw), lambda mk=mk: (mk(),),
        f"{np.shape(mk())},{_kw(**kw)}".replace(" ", ""))
for shape, kw in [((3, 4), {"axis": 1, "keepdims": False}), ((2, 3, 4), {"axis": 0}),
                  ((2, 3, 4), {"axis": 1, "keepdims": True}), ((1, 5), {"axis": None}),
                  ((1, 5), {"axis": 0, "keepdims": False})]:
    add("test_logsumexp2", _call(sp.logsumexp, **kw), lambda shape=shape: (R(*shape),),
        f"{shape},{_kw(**kw)}".replace(" ", ""))
for test, shape, axes in [("test_logsumexp3", (4,), [None, 0]),
                          ("test_logsumexp4", (3, 4), [None, 0, 1]),
                          ("test_logsumexp5", (2, 3, 4), [None, 0, 1])]:
    b = np.exp(_seeded(test + " b").standard_normal(shape))
    for axis, keepdims in zip(axes, [False, True, False], strict=False):
        add(test, lambda x, b=b, axis=axis, keepdims=keepdims:
            sp.logsumexp(x, b=b, axis=axis, keepdims=keepdims),
            lambda shape=shape: (R(*shape),), _kw(axis=axis, keepdims=keepdims))
add("test_logsumexp6", lambda a: sp.logsumexp(a, axis=1, keepdims=True), lambda: (R(1, 5),),
    note="the peer checks the gradient of the gradient: here the Hessian (5 elements)")


# ===== test_binary_ops.py ============================================================================
_file("test_binary_ops")

_KINDS: dict[str, Callable[[], Any]] = {"scalar": lambda: 2.0, "(4)": lambda: R(4),
                                        "(3,4)": lambda: R(3, 4), "(1,4)": lambda: R(1, 4)}
_PAIRS = [("scalar", "scalar"), ("scalar", "(4)"), ("(4)", "(3,4)"), ("(3,4)", "(1,4)"),
          ("(1,4)", "(3,4)"), ("(3,4)", "(3,4)")]


def _gap(x: Any) -> Any:
    return np.sqrt(np.asarray(x) ** 2 + 0.5) if np.ndim(x) else float(np.sqrt(x**2 + 0.5))


def _positive(x: Any) -> Any:
    return np.abs(x) + 1.1


for test, f, prep, kinks in [
        ("test_mul", lambda x, y: x * y, None, None),
        ("test_add", lambda x, y: x + y, None, None),
        ("test_sub", lambda x, y: x - y, None, None),
        ("test_div", lambda x, y: x / y, (_gap, _gap), None),
        ("test_mod", lambda x, y: x % y, (_gap, _gap), _mod_kinks),
        ("test_pow", lambda x, y: x**y, (_positive, None), None),
        ("test_arctan2", lambda x, y: np.arctan2(x, y), None, None),
        ("test_hypot", lambda x, y: np.hypot(x, y), None, None)]:
    for a, b in _PAIRS:
        if test == "test_mod" and a == b == "scalar":
            continue  # the peer skips identical arguments (x % x)

        def make(a: str = a, b: str = b, prep: Any = prep, kinks: Any = kinks) -> tuple[Any, Any]:
            for _ in range(200):
                x, y = _KINDS[a](), _KINDS[b]()
                if prep is not None:
                    x = prep[0](x) if prep[0] else x
                    y = prep[1](y) if prep[1] else y
                if kinks is None or np.min(kinks(x, y)) > 0.02:
                    return x, y
            raise RuntimeError("no point away from the kinks")

        add(test, f, make, f"{a},{b}", smooth=kinks is None)
_COMPARE: dict[str, Callable[[Any, Any], Any]] = {
    "<": lambda x, y: np.sum(x < y) + 0.0, "<=": lambda x, y: np.sum(x <= y) + 0.0,
    ">": lambda x, y: np.sum(x > y) + 0.0, ">=": lambda x, y: np.sum(x >= y) + 0.0,
    "==": lambda x, y: np.sum(x == y) + 0.0, "!=": lambda x, y: np.sum(x != y) + 0.0}
for sym, f in _COMPARE.items():
    add("test_comparison_grads", f, lambda: (R(3, 4), R(1, 4)), f"{sym},(3,4),(1,4)")
    add("test_comparison_values", f, lambda: (R(4), 2.0), f"{sym},(4),scalar")


# ===== test_scalar_ops.py ============================================================================
_file("test_scalar_ops")


def _rand(lo: float = 0.2) -> float:
    """autograd's npr.rand(), kept away from 0."""
    return U(lo, 1.0)


def _randn_away(kink: float = 0.0) -> float:
    return float(_away(lambda: R(), lambda x: abs(x - kink), 0.05))


for x0 in (1.1, -1.1, 0.0):
    add("test_abs", lambda x: 3.0 * np.abs(x), lambda x0=x0: (x0,), f"x={x0}",
        smooth=x0 != 0.0, note="" if x0 else "at the kink: abs'(0) = 0, the central difference")
    add("test_absolute", lambda x: 3.0 * np.absolute(x), lambda x0=x0: (x0,), f"x={x0}",
        smooth=x0 != 0.0)
add("test_sin", lambda x: 3.0 * np.sin(x), lambda: (R(),))
for x0 in (1.1, -1.1):
    add("test_sign", lambda x: 3.0 * np.sign(x), lambda x0=x0: (x0,), f"x={x0}")
add("test_exp", lambda x: 3.0 * np.exp(x), lambda: (R(),))
add("test_log", lambda x: 3.0 * np.log(x), lambda: (abs(_randn_away()),))
add("test_log2", lambda x: 3.0 * np.log2(x), lambda: (abs(_randn_away()),))
add("test_log10", lambda x: 3.0 * np.log10(x), lambda: (abs(_randn_away()),))
add("test_log1p", lambda x: 3.0 * np.log1p(x), lambda: (abs(R()),))
add("test_expm1", lambda x: 3.0 * np.expm1(x), lambda: (abs(R()),))
add("test_exp2", lambda x: 3.0 * np.exp2(x), lambda: (abs(R()),))
add("test_neg", lambda x: 3.0 * -x, lambda: (R(),))
add("test_cos", lambda x: 3.0 * np.cos(x), lambda: (R(),))
add("test_tan", lambda x: 3.0 * np.tan(x), lambda: (float(_away(lambda: R(), lambda x: 1.0 - abs(x))),))
add("test_cosh", lambda x: 3.0 * np.cosh(x), lambda: (R(),))
add("test_sinh", lambda x: 3.0 * np.sinh(x), lambda: (R(),))
add("test_tanh", lambda x: 3.0 * np.tanh(x), lambda: (R(),))
add("test_arccos", lambda x: 3.0 * np.arccos(x), lambda: (0.1,))
add("test_arcsin", lambda x: 3.0 * np.arcsin(x), lambda: (0.1,))
add("test_arctan", lambda x: 3.0 * np.arctan(x), lambda: (0.2,))
add("test_arccosh", lambda x: 3.0 * np.arccosh(x), lambda: (R() ** 2 + 1.2,))
add("test_arcsinh", lambda x: 3.0 * np.arcsinh(x), lambda: (R(),))
add("test_arctanh", lambda x: 3.0 * np.arctanh(x), lambda: (0.2,))
add("test_sqrt", lambda x: 3.0 * np.sqrt(x), lambda: (10.0 * _rand(),))
_Y0 = _seeded("power exponent").standard_normal() ** 2 + 1.0
add("test_power_arg0", lambda x: np.power(x, _Y0), lambda: (_rand(0.0) ** 2 + 1.0,))
add("test_power_arg0", lambda x: np.power(x, 0.0), lambda: (0.0,), "y=0,x=0",
    note="the peer's special case (autograd #116): d/dx x**0 at 0 is 0, and so is the second")
_X0 = _seeded("power base").standard_normal() ** 2
add("test_power_arg1", lambda y: np.power(_X0, y), lambda: (_rand() ** 2,))
add("test_power_arg1_zero", lambda y: np.power(0.0, y), lambda: (_rand(0.35) ** 2,))


def _mod_pair() -> tuple[float, float]:
    return _away(lambda: (_rand(), _rand()), lambda p: _int_distance(p[0] / p[1]))


add("test_mod_arg0", lambda x, y: np.mod(x, y), _mod_pair, wrt=(0,), smooth=False)
add("test_mod_arg1", lambda x, y: np.mod(x, y), _mod_pair, wrt=(1,), smooth=False)
add("test_divide_arg0", lambda x, y: np.divide(x, y), lambda: (_rand(), _rand()), wrt=(0,))
add("test_divide_arg1", lambda x, y: np.divide(x, y), lambda: (_rand(), _rand()), wrt=(1,))
add("test_multiply_arg0", lambda x, y: np.multiply(x, y), lambda: (_rand(), _rand()), wrt=(0,))
add("test_multiply_arg1", lambda x, y: np.multiply(x, y), lambda: (_rand(), _rand()), wrt=(1,))
add("test_true_divide_arg0", lambda x, y: np.true_divide(x, y), lambda: (_rand(), _rand()),
    wrt=(0,))
add("test_true_divide_arg1", lambda x, y: np.true_divide(x, y), lambda: (_rand(), _rand()),
    wrt=(1,))
add("test_reciprocal", lambda x: np.reciprocal(x), lambda: (_rand(0.1),))
add("test_negative", lambda x: np.negative(x), lambda: (_rand(),))
add("test_rad2deg", lambda x: 3.0 * np.rad2deg(x), lambda: (10.0 * _rand(),))
add("test_deg2rad", lambda x: 3.0 * np.deg2rad(x), lambda: (10.0 * _rand(),))
add("test_radians", lambda x: 3.0 * np.radians(x), lambda: (10.0 * _rand(),))
add("test_degrees", lambda x: 3.0 * np.degrees(x), lambda: (10.0 * _rand(),))
add("test_sinc", lambda x: 3.0 * np.sinc(x), lambda: (10.0 * _rand(),))


# ===== test_complex.py ===============================================================================
_file("test_complex")

for x0 in (2.0, 1.0j):
    add("test_real_type", lambda x: np.sum(np.real(x)), lambda x0=x0: (x0,), f"x={x0}",
        note="the gradient is real for a real input, complex for a complex one")
for x0 in (1.0, 1.0j):
    add("test_real_if_close_type", lambda x: np.sum(np.real(x)), lambda x0=x0: (x0,), f"x={x0}",
        note="the peer's body uses np.real, as test_real_type")
add("test_angle_real", lambda x: np.angle(x), lambda: (_rand(),),
    note="the peer also checks the derivative of the gradient: the Hessian here")
add("test_angle_complex", lambda x: np.angle(x), lambda: (_rand() + 1j * _rand(),))
add("test_abs_real", lambda x: np.abs(x), lambda: (1.1,), "x=1.1")
add("test_abs_real", lambda x: np.abs(x), lambda: (2.1,), "x=2.1")
add("test_abs_complex", lambda x: np.abs(x), lambda: (1.1 + 1.2j,), "x=1.1+1.2j")
add("test_abs_complex", lambda x: np.abs(x), lambda: (1.1 + 1.3j,), "x=1.1+1.3j")

#: case ids by peer file, in the order the files appear above
FILES = list(dict.fromkeys(c.file for c in CASES))
