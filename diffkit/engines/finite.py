"""Finite differences: forward, central, complex step and Richardson extrapolation.

The function is a black box evaluated at perturbed points, in the inputs' own dtype (float16, whose
ε ≈ 1e-3 leaves a difference quotient no digits, in float32; the derivative is float16). Default
steps balance truncation against rounding (ε = that dtype's machine epsilon, scaled by
max(1, |xᵢ|)):

* forward  (f(x+h) − f(x))/h,              error O(h),  h = √ε
* central  (f(x+h) − f(x−h))/2h,           error O(h²), h = ε^(1/3)
* complex  Im f(x + ih)/h,                 error O(h²) with no cancellation, h = 1e-20
* richardson: central differences at h, h/2, h/4, h/8, h/16 (h = 0.05·max(1, |xᵢ|)) combined to
  cancel h², h⁴, …, h⁸ (error estimate from the last two diagonals of the tableau)

Where the function is pure (parsed text, SymPy) with scalar inputs and element-wise operations, all
perturbed points are evaluated in one vectorized call (``evaluations`` still counts points).
Otherwise ``evaluations`` counts every call of the function: the value — a traced call wherever f
can be traced, which the checks read (a plain one for a black box: float(x), math.*) —, a forward
difference's plain f(x) beside a traced value, and each perturbed point: fd-forward n + 2,
fd-central 2n + 1, fd-complex n + 1, fd-richardson 2n·levels + 1 — and for a Python function
the repeatability check's plain call (which fd-forward's base reuses) and its two plain calls
at one point the quotient uses (:meth:`FiniteDifferenceEngine._check_stencil_repeatable`), in
every scheme, and for fd-complex with an explicit step above :data:`TINY_IMAGINARY` one more
complex evaluation.

A complex input is stepped along its real and imaginary axes, giving ∂f/∂x and ∂f/∂y; the result
follows JAX's convention like every engine (f′(z) for holomorphic f, ∂f/∂x − i·∂f/∂y for a
real-valued f). A real input beside it stays real: it is stepped along its real axis only. A
forward difference shares one f(x) between both axes (the plain call's, where one was made).

What a black box cannot honour is refused by name: an operation declared constant
(dk.stop_gradient, x.detach()) that the steps move and the derivative reads (the plain function
applies it as the identity; found in the value's trace), and a value an enclosing derivative is
differentiating (finite differences answer numbers and do not nest: a TracingError).

The complex step needs a complex-analytic function of real inputs, and NumPy is not one on complex
numbers where it conjugates, takes a modulus or drops an imaginary part (norm, var, vdot, eigh,
``astype(float)``: on real inputs these look analytic). So each complex-step evaluation is traced
and its own graph checked: every operation on the derivative's path that sees a complex value must
be a record the table declares holomorphic, complex in and complex out, and — a structural record,
whose flag cannot know (cholesky reads a Hermitian matrix, vdot conjugates) — pass a Cauchy–Riemann
check against a real central difference; one that does not, or an evaluation that cannot take
complex numbers at all, is a MissingRuleError naming it. Where a
perturbed value meets an infinite local partial (sqrt at 0: a branch point, where Im f(x+ih)/h is
finite but meaningless) it is a NonDifferentiableError, as in the AD engines. The one-sided forward
difference cannot see such a point either: where the trace at x shows an infinite local partial it
also looks backward, and refuses unless both sides agree.

A difference quotient has no way to know that its step spans a pole (1/x at 1e-6 by a central
step of 6e-6: the wrong sign), a jump, a domain edge or a feature narrower than itself, and
central, forward and complex quotients carry no error estimate. So a first derivative by default
steps is compared, entry by entry, with the derivative of the operations traced at x (sweeps of
the value's own trace: no evaluation added), and higher derivatives and Hessians with forward
mode's; one far from it is a RuntimeWarning (:meth:`FiniteDifferenceEngine._check_against_trace`,
:meth:`~FiniteDifferenceEngine._check_higher`), one warning per answer (:meth:`_answer`).
"""

from __future__ import annotations

import numbers
import threading
import warnings
from collections.abc import Callable, Sequence
from math import comb
from typing import Any

import numpy as np

from ..errors import (
    DiffkitError,
    DomainError,
    InputTypeError,
    MissingRuleError,
    NonDifferentiableError,
    NotRepeatableError,
    NumericOverflowError,
    ShapeError,
    TracingError,
    warn_user,
)
from ..function import Function, passed_as_given, signature
from ..ir import Graph
from ..primitives.declare import dtype_of, working_dtype
from ..primitives.elementwise import stop_gradient
from .base import (
    Engine,
    Pullback,
    check_cotangent,
    check_pointwise,
    check_tangent,
    differentiated_outside,
    nonholomorphic,
    nth_of_elementwise,
    require_elementwise,
    require_scalar,
    size_of,
    split_flat,
)
from .forward import ForwardEngine
from .reverse import ReverseEngine
from .step_checks import (
    carrying,
    cauchy_riemann,
    failing_primitive,
    infinite_partial,
    moved_constant,
    not_analytic,
    refusal,
    traced_pullback,
    traced_tangents,
)

#: held while the complex step changes the process's warning filters (catch_warnings is not
#: thread-safe); re-entrant: a complex step may run inside another's trace
_FILTERS_LOCK = threading.RLock()

SCHEMES = ("forward", "central", "complex", "richardson")

#: the largest imaginary step whose evaluation's real part is compared with f(x): its h²f″/2
#: (< 1e-24·f″) is below the repeatability check's tolerance (1000 ulps); a larger explicit
#: step= costs one more evaluation at x + 1e-20i for that comparison
TINY_IMAGINARY = 1e-12

#: how far (relative to max(1, |reference|)) an entry of a derivative by default steps may lie
#: from the trace's own before it is a warning: 30× the scheme's error in the precision f
#: computes in, at least this (a quotient across a pole, a jump or a feature narrower than the
#: step is off by O(1) or more; a smooth f's by 1e-6 or less)
TRACE_AGREEMENT = 1e-3

#: how many of a Jacobian's columns one tangent sweep of the check carries (its memory: that
#: many times the trace's values)
CHECKED_COLUMNS = 64

#: a difference quotient and, for Richardson, the error estimate of each of its entries
Estimate = tuple[np.ndarray, "np.ndarray | None"]


def _numeric(y: Any) -> np.ndarray:
    """A flat float (or complex) vector of f's output; booleans count as 0/1."""
    y = np.asarray(y)
    return np.reshape(y.astype(float) if y.dtype == bool else y, (-1,))


def _owned(value: Any) -> Any:
    """`value` with each ndarray in it (a tuple's or list's pieces too) copied."""
    if type(value) is np.ndarray:
        return value.copy()
    if type(value) in (tuple, list):
        return type(value)(_owned(v) for v in value)
    return value


def _eps(dtype: np.dtype) -> float:
    return float(np.finfo(dtype).eps)


def _common_dtype(args: Sequence[Any], wrt: Sequence[int]) -> np.dtype:
    """The dtype of the derivative: the wrt inputs' common one (float64 for integers)."""
    dtype = np.result_type(*[np.asarray(args[i]).dtype for i in wrt]) if wrt else np.dtype(float)
    return dtype if dtype.kind in "fc" else np.dtype(float)


def _precision(graph: Graph | None, wrt: Sequence[int], x0: np.ndarray, out: Any) -> float:
    """ε of the precision f computes its derivative in, which sizes the steps: the coarsest
    floating dtype on the derivative's path in f's trace (a float64 input cast to float32 in f
    is differenced with float32's ε: float64's √ε rounds away there, and fd-forward answered
    [0, 24.6] for [2.29, 0.80]), never finer than x0's. A node in the dtype of a float16 input
    counts as float32, the dtype the points are evaluated in (:func:`working_dtype`). Without a
    trace (a black box), the coarser of x0's and f's value's dtypes (float16 read as float32)."""
    eps = _eps(x0.dtype) if x0.dtype.kind in "fc" else _eps(np.dtype(float))
    if graph is None:
        dt = np.asarray(_numeric(out)).dtype
        return max(eps, _eps(working_dtype(dt))) if dt.kind in "fc" else eps
    given = {np.dtype(graph.inputs[k].dtype) for k in wrt}
    live = {graph.inputs[k].id for k in wrt}
    for node in graph.nodes:
        if node.prim is None or not any(i.id in live for i in node.inputs):
            continue
        live.add(node.id)
        dt = np.dtype(node.dtype)
        if dt.kind in "fc":
            eps = max(eps, _eps(working_dtype(dt) if dt in given else dt))
    return eps


def _reference(taken: Callable[[Any], Any], engine: Engine, shape: tuple[int, ...]
               ) -> np.ndarray | None:
    """An AD engine's derivative (``taken(engine)``) as a float array of `shape`; None where it
    cannot be taken (a missing rule) or is not finite: then nothing is checked. The engine's
    NonDifferentiableError (a kink differentiated again, or 0·∞ in f's own operations: the
    derivative may not exist here) is raised."""
    try:
        with warnings.catch_warnings():  # the reference's words are not the answer's
            warnings.simplefilter("ignore")
            ref = np.asarray(taken(engine), dtype=float)
    except NonDifferentiableError:
        raise
    except Exception:  # noqa: BLE001 - no reference: unchecked
        return None
    if ref.size != int(np.prod(shape)) or not np.all(np.isfinite(ref)):
        return None
    return ref.reshape(shape)


def _checked_step(step: Any, scheme: str) -> float:
    """``step=`` as a float: one positive finite real number, the absolute step h (ValueError,
    not the TypeError that get_engine reads as an option the method does not take)."""
    try:
        h = float(step) if np.ndim(step) == 0 and np.isrealobj(step) and \
            not isinstance(step, bool | str | bytes) else None
    except (TypeError, ValueError, OverflowError):  # (an int beyond a float: 10**400)
        h = None
    if h is None or not np.isfinite(h) or h <= 0:
        raise ValueError(
            f"finite differences ({scheme}): step= must be one positive finite real number (the "
            f"absolute step h, the same for every input; leave it out for the default, scaled to each "
            f"|xᵢ|), got {step!r}")
    return h


def _probe_elementwise(flat: Callable[[np.ndarray], np.ndarray], x0: np.ndarray,
                       out: Any) -> None:
    """derivative(f) at an array x of a function that could not be traced (so
    :func:`require_elementwise` cannot read it): one evaluation with x's first element moved
    alone must leave every other output as it was, bit for bit, as an element-wise f does (a
    sum, a cumulative sum, a filter, a reversal move them: a ShapeError, not the directional
    derivative read as each element's)."""
    if x0.size < 2:
        return
    moved = x0.copy()
    moved[0] = x0[0] + 1e-3 * max(1.0, float(np.abs(x0[0])))
    before, after = _numeric(out).reshape(-1), flat(moved).reshape(-1)
    if before.size != after.size or not np.array_equal(before[1:], after[1:], equal_nan=True):
        raise ShapeError(
            "a derivative at an array x is that of an element-wise f; f could not be traced, "
            "and moving x[0] alone moved other outputs, so it mixes elements: use dk.jacobian "
            "(or dk.grad of a scalar function)")


def _agrees(first: np.ndarray, again: np.ndarray, graph: Graph | None) -> bool:
    """Whether two flat values of f at one point agree: equal, or within 1000 ulps (of
    `first`'s working dtype) of the largest finite |v| among `graph`'s values (the two values'
    own without a trace), NaNs in the same places (math and NumPy scalar code differ in the
    last bits; a value near zero by cancellation is measured against the terms that
    cancelled)."""
    if first.shape == again.shape and np.array_equal(first, again, equal_nan=True):
        return True
    scale = 0.0
    for v in ([n.value for n in graph.nodes] if graph is not None else [first, again]):
        if isinstance(v, np.ndarray | np.generic | float | complex) and \
                dtype_of(v).kind in "fc" and np.size(v):
            finite = np.abs(v)[np.isfinite(v)]
            if finite.size:
                scale = max(scale, float(np.max(finite)))
    # in the coarser of the two dtypes (a float16 value beside a complex step's float64 one)
    tol = 1e3 * max(_eps(working_dtype(first.dtype)), *(_eps(d) for d in (first.dtype, again.dtype)
                                                        if d.kind in "fc")) * scale
    return first.shape == again.shape and np.array_equal(np.isnan(first), np.isnan(again)) and \
        bool(np.all(np.abs(np.where(np.isnan(first), 0, first - again)) <= tol))


def _shown(first: np.ndarray, again: np.ndarray) -> str:
    """Two values that disagree, for a message."""
    if first.shape != again.shape:
        return f"shapes {first.shape} then {again.shape}"
    if first.size == 1:
        return f"{first.item()!r} then {again.item()!r}"
    return f"values differing by up to {float(np.nanmax(np.abs(first - again))):.3g}"


def _narrow(value: Any, dtype: np.dtype) -> Any:
    """A derivative taken in the working dtype, back in the inputs' dtype (docs/design.md)."""
    if dtype == np.float16 and np.asarray(value).dtype.kind == "f":
        return np.asarray(value).astype(dtype)
    return value


def _below_resolution(x: Any, step: float, axis: complex = 1.0) -> DomainError:
    """The error for a step that x's dtype rounds away (x ± h is x again), where the difference
    quotient would divide 0 by 0 (or read one side only): not a point where f is not
    differentiable, but a step below the input's resolution."""
    part = np.real(x) if axis == 1.0 else np.imag(x)
    dtype = np.asarray(part).dtype
    return DomainError(
        f"the finite-difference step {abs(step):.3g} is below the resolution of the input "
        f"{part.item()!r} in {dtype} (the spacing of {dtype} numbers there is "
        f"{float(np.spacing(abs(part))):.3g}): x + h rounds back to x, so no difference "
        "quotient can be taken; pass a larger step= (or none: the default is scaled to |x| and "
        "to the dtype's ε)")


def _require_taken(x0: np.ndarray, intended: np.ndarray, taken: np.ndarray) -> None:
    """DomainError (:func:`_below_resolution`) where a nonzero step of an element of x0 was
    rounded away in x0's dtype."""
    lost = (np.asarray(intended) != 0) & (np.asarray(taken) == 0)
    if np.any(lost):
        k = int(np.flatnonzero(lost)[0])
        raise _below_resolution(x0[k], float(np.broadcast_to(intended, x0.shape)[k]))


def _contracted(est: Estimate, ct: np.ndarray | None) -> Estimate:
    """A column (m,) or Jacobian (m, n) of differences, with its error estimate, contracted with
    the cotangent: ctᵀ·D, and |ct|ᵀ·err (the bound its entries' estimates give); as it is
    without `ct`. Differences first, then the sum: each output's change keeps its own digits."""
    if ct is None:
        return est
    d, err = est
    lead = np.atleast_1d if np.ndim(d) == 1 else (lambda v: v[None, :])  # a column, or (1, n)
    return lead(ct @ d), None if err is None else lead(np.abs(ct) @ err)


def _outputs_kept(flat: Callable[[np.ndarray], np.ndarray], keep: np.ndarray
                  ) -> Callable[[np.ndarray], np.ndarray]:
    """`flat` with the outputs outside `keep` (a flat mask) set to 0."""

    def kept(x: np.ndarray) -> np.ndarray:
        f = flat(x)
        return np.where(keep.reshape(np.shape(f)), f, 0)

    return kept


def _in_dtype_of(jt: np.ndarray, out: Any) -> np.ndarray:
    """A JVP in the dtype of the primal output (docs/design.md: tangents live in the primal's
    space, in every method): the complex step's Im f(x + ih)/h, taken in complex128, made float32
    again for a float32 f; a float16 f's, taken in float32, float16."""
    dt = _numeric(out).dtype
    if dt.kind != "c" and jt.dtype.kind == "c":
        jt = jt.real  # a real output's J·t is real
    return jt.astype(dt) if dt.kind in "fc" and jt.dtype != dt else jt


class FiniteDifferenceEngine(Engine):
    """Finite differences. Options: ``scheme`` (default "central"), ``step`` (absolute step h),
    ``levels`` (Richardson tableau size), ``step_scale`` (a factor on the default steps:
    dk.check_grads takes each quotient at 1× and 2× them to estimate its error)."""

    name = "fd"
    nests = False  # answers numbers: an outer tape cannot see through them
    at_the_point_only = False  # it evaluates f at other points: a branched trace is not f there

    def __init__(self, scheme: str = "central", step: Any = None, levels: int = 5,
                 step_scale: float = 1.0) -> None:
        if scheme not in SCHEMES:
            raise ValueError(f"unknown finite-difference scheme {scheme!r}: choose from {', '.join(SCHEMES)}")
        if step is not None:
            step = _checked_step(step, scheme)
        if int(levels) != levels or levels < 1:
            raise ValueError(f"levels must be a whole number >= 1, got {levels}")
        if not (isinstance(step_scale, numbers.Real) and not isinstance(step_scale, bool)
                and np.isfinite(float(step_scale)) and step_scale > 0):
            raise ValueError(f"finite differences ({scheme}): step_scale= must be one positive "
                             f"finite number (a factor on the default steps), got {step_scale!r}")
        step_scale = float(step_scale)
        if step is not None and step_scale != 1.0:
            raise ValueError(f"finite differences ({scheme}): step_scale= multiplies the default "
                             "steps; with an explicit step= pass the step you want instead")
        super().__init__()
        self.options = {"scheme": scheme, "step": step, "levels": levels, "step_scale": step_scale}
        self.scheme = scheme
        self.step = step
        #: the factor on the default steps (not on an explicit step)
        self.step_scale = step_scale
        self.levels = int(levels)
        self.evaluations = 0  # how many times the function was evaluated (for comparisons)
        self.error_estimate: Any = None
        #: f at the point by a plain call (the repeatability check's), which a forward
        #: difference's base reuses; None where none was made
        self.plain_at_point: Any = None
        #: the step the last answer's differences started from (Richardson may restart smaller)
        self.step_used: np.ndarray | None = None
        #: the complex step's trace of f at the real point (:meth:`_check_complex_step`), which
        #: the checks of a first derivative read as the other schemes read the value's
        self.point_trace: Graph | None = None
        #: whether the last answer came with a warning already (one warning per answer)
        self.warned = False
        #: an unsettled estimate's warning, held until the trace check has compared
        self.pending: str | None = None
        #: the largest relative gap the trace check found (None: it did not compare)
        self.verified: float | None = None
        #: whether answers by default steps are checked against the trace's derivative
        #: (dk.compare turns it off while it times the method itself, after the first call)
        self.check_trace = True
        #: why the last function differenced had no trace (a black box), else None
        self.untraced: Exception | None = None
        #: the stencil-point repeatability check of the last Python function differenced
        #: (:meth:`_check_stencil_repeatable`), None for a pure one
        self.repeat_probe: Callable[[], None] | None = None

    # ----- the black box -----------------------------------------------------------------------

    def _flat_function(self, fn: Function, args: Sequence[Any], wrt: Sequence[int],
                       value: Any = None, order: int = 1
                       ) -> tuple[Callable[[np.ndarray], np.ndarray], np.ndarray, Any,
                                  Graph | None]:
        """f as a map from the flat vector of the wrt inputs to a flat output vector, the point
        x0, f's value there (`value` when the caller has it already: no second call) and f's
        trace there (None where the caller checked one, or where f cannot be traced). A Python
        function is checked to repeat its value at x and at a point the quotients of
        derivatives of this `order` use (:meth:`_check_stencil_repeatable`).

        A complex input makes x0 complex; the real inputs beside it stay real in every call (a
        step along the imaginary axis is a complex input's only: :meth:`_complex_jacobian`)."""
        args = fn.coerce(args, wrt)
        shapes = [np.shape(args[i]) for i in wrt]
        # a number (not a 0-d array, whose array methods the function may call: x.dot(...))
        scalar = [not np.ndim(args[i]) and not isinstance(args[i], np.ndarray) for i in wrt]
        real = [dtype_of(args[i]).kind != "c" for i in wrt]
        dtype = working_dtype(np.result_type(*[np.asarray(args[i]).dtype for i in wrt])
                         if wrt else np.dtype(np.float64))
        x0 = (np.concatenate([np.reshape(np.asarray(args[i], dtype=dtype), (-1,)) for i in wrt])
              if wrt else np.zeros(0))
        like = [np.empty(s) for s in shapes]
        mixed = dtype.kind == "c" and any(real)
        at_point: list[np.ndarray] = []  # f(x0), which a complex step's real part must give

        def flat(x: np.ndarray) -> np.ndarray:
            full = list(args)
            for i, piece, is_scalar, is_real in zip(wrt, split_flat(x, like), scalar, real):
                if mixed and is_real and np.iscomplexobj(piece):
                    piece = piece.real
                full[i] = piece.reshape(())[()] if is_scalar else piece.reshape(np.shape(
                    args[i]))  # as as_input gives it
            if self.scheme == "complex" and np.iscomplexobj(x):
                # Re f(x + ih) = f(x) − h²f″/2 + …: compared where h² is below rounding
                tiny = float(np.max(np.abs(x.imag), initial=0.0)) <= TINY_IMAGINARY
                return _numeric(self._complex_call(fn, full, wrt, at_point[0] if tiny else None))
            return _numeric(self._call(fn, full))

        if value is not None:  # the complex step's checked value (:meth:`_check_complex_step`),
            # beside its plain call where one was made
            base = value if self.plain_at_point is None else self.plain_at_point
            at_point.append(_numeric(base))
            if self.scheme == "complex" and x0.size and (self.step or 0.0) > TINY_IMAGINARY:
                flat(x0.astype(np.complex128) + 1e-20j)  # a step too large to compare with: one
                # more evaluation compares Re f(x + ih) with f(x)
            self._check_stencil_repeatable(fn, flat, x0, wrt, self.point_trace, value, order)
            return flat, x0, value, None
        self.plain_at_point = None  # f(x) by a plain call, where one was made (see below)
        graph, failure = self._base_trace(fn, args, wrt)
        self.untraced = failure  # why there is no trace to check against (a black box)
        if graph is None:
            try:
                value = self._run(fn, args)
            except Exception:
                if isinstance(failure, DiffkitError):  # it names the cause: an argument being
                    raise failure from None  # differentiated read as a number (w[labels]), …
                raise
            at_point.append(_numeric(value))
            self._check_stencil_repeatable(fn, flat, x0, wrt, None, value, order)
            return flat, x0, self._numbers(value, fn), None
        out = self._numbers(graph.output.value, fn)
        self._check_constants(fn, graph, wrt)
        self._check_repeatable(fn, args, out, graph)
        at_point.append(_numeric(out if self.plain_at_point is None else self.plain_at_point))
        self._check_stencil_repeatable(fn, flat, x0, wrt, graph, out, order)
        return flat, x0, (np.asarray(out)[()] if not np.ndim(out) else out), graph

    def _check_repeatable(self, fn: Function, args: Sequence[Any], value: Any,
                          graph: Graph) -> None:
        """Refuse a function whose plain call at the point does not give the value its trace
        there gave (one more evaluation, for Python functions only: a pure or jit-frozen one is
        a function of its arguments by construction; :meth:`_check_stencil_repeatable` then
        calls it twice at a point the quotient uses). The stencil's points are plain calls, so
        a function that draws random numbers, keeps state between calls, or updates in place an
        array another name holds (NumPy's aliasing, which traced code does not share) would have
        its difference quotients subtract values of different functions: garbage of size
        1/h (x·uniform(1, 2) gave −18348 for a derivative in [1, 2]). Agreement is required to
        a few thousand ulps of the largest value the trace computed (math and NumPy scalar code
        may differ in the last bits; a value near zero by cancellation is measured against the
        terms that cancelled)."""
        if fn.pure:
            return
        self.plain_at_point = raw = self._numbers(self._run(fn, args), fn)
        again, first = _numeric(raw), _numeric(value)
        if _agrees(first, again, graph):
            return
        raise NotRepeatableError(
            f"{fn.name} gave another value when called again at the same point "
            f"({_shown(first, again)}). "
            "Either it differs between calls — it draws random numbers or keeps state: fix the "
            "draw (a seeded generator made inside the function, or the noise passed as an "
            "argument), or use an AD method, which differentiates the one evaluation it traces "
            "(method='reverse') — or its traced call takes another path than its plain one: a "
            "branch on isinstance(x, float), np.isscalar(x) or type(x), which a traced value "
            "fails (branch on np.ndim(x) instead), where every method would differentiate the "
            "traced path. Finite differences subtract values of several calls, so they need the "
            "same function at every call")

    def _check_stencil_repeatable(self, fn: Function, flat: Callable[[np.ndarray], np.ndarray],
                                  x0: np.ndarray, wrt: Sequence[int], graph: Graph | None,
                                  out: Any, order: int = 1) -> None:
        """Call a Python function twice at one point the quotient uses, x + h·s (h: the first
        steps of derivatives of this `order`, :meth:`_probe_steps`; s: +1 for every element
        forward, +1, −1, +1, … otherwise; where f fails there, x + h₀e₀), and refuse it if
        the two values disagree (:func:`_agrees`, as at x). Its value at x may be the same at
        every call while it draws at every call elsewhere ((x − 1)·uniform(1, 2) at 1;
        dropout at zero weights): the check at x passes, and each stencil point is another
        draw's function. Two evaluations per answer, none for a pure or jit-frozen function;
        kept in :attr:`repeat_probe`, which a warning that the answer is far off runs twice
        more (:meth:`_probed_again`).

        A draw from a continuous distribution is caught with high probability; one with few
        outcomes (a choice of {0, 1}) repeats by chance (½ per probe), so it is not caught
        with certainty. The AD methods differentiate the one draw they trace."""
        self.repeat_probe = None
        if fn.pure or not x0.size:
            return
        real = x0.real if np.iscomplexobj(x0) else x0
        eps = _precision(graph, wrt, real, out)
        h = self._probe_steps(real, eps, order)
        signs = np.ones(x0.size) if self.scheme == "forward" else \
            np.where(np.arange(x0.size) % 2, -1.0, 1.0)
        first = np.zeros(x0.size)
        first[0] = h[0]
        points = [(x0 + h * signs).astype(x0.dtype), (x0 + first).astype(x0.dtype)]
        where = ("at a real point near x" if self.scheme == "complex" else
                 "at a point the quotient uses")

        def probe() -> None:
            for point in points:
                try:
                    value = flat(point)
                except Exception:  # noqa: BLE001, S112 - not defined there: the next point; the
                    continue  # quotient raises its own error where it steps outside
                again = flat(point)
                if not _agrees(value, again, graph):
                    raise NotRepeatableError(
                        f"{fn.name} gave another value when called again {where} (x moved "
                        f"by up to {float(np.max(np.abs(point - x0))):.3g}: "
                        f"{_shown(value, again)}), though its value at x repeated: it differs "
                        "between calls — it draws random numbers or keeps state (a dropout mask "
                        "drawn at each call). Finite differences subtract values of several "
                        "calls, so they need the same function at every call: fix the draw (a "
                        "seeded generator made inside the function, or the noise passed as an "
                        "argument), or use an AD method, which differentiates the one "
                        "evaluation it traces (method='reverse')")
                return

        self.repeat_probe = probe
        probe()

    def _probe_steps(self, x: np.ndarray, eps: float, order: int) -> np.ndarray:
        """The first steps of the quotients of an `order`-th derivative (a Hessian: 2), per
        element of x: ``step=`` as given; else ε^(1/(n+1)) forward, ε^(1/(n+2)) central,
        0.05·2ⁿ⁻¹ Richardson, times max(1, |x|) (first derivatives: :meth:`default_step`).
        The complex step's own values differ between draws by h·Δ only (h = 1e-20), below any
        tolerance: its check is at a real point, the central one's."""
        complex_step = self.scheme == "complex"
        if order == 1 and not complex_step:
            return self.default_step(x, eps)
        if self.step is not None and not complex_step:
            return np.full(x.shape, self.step)
        scale = np.maximum(1.0, np.abs(x)) * self.step_scale
        if self.scheme == "richardson":
            return 0.05 * 2.0 ** (order - 1) * scale
        return eps ** (1.0 / (order + (1 if self.scheme == "forward" else 2))) * scale

    def _probed_again(self) -> str:
        """Before a warning that the quotient lies far from the trace's derivative: the
        stencil-point check of a Python function twice more (a NotRepeatableError where it
        disagrees), and the words the warning adds; "" for a pure function."""
        if self.repeat_probe is None:
            return ""
        for _ in range(2):
            self.repeat_probe()
        return (" Or f differs between calls (random draws, state), which the repeated calls "
                "did not catch (a draw with few outcomes repeats by chance).")

    def _run(self, fn: Function, args: Sequence[Any], points: int = 1) -> Any:
        """One call of the user's function, at `points` points at once (a vectorized call of a
        pure function), counted in ``evaluations``. NumPy's errors in it are named as
        :meth:`Function.evaluate` names them (log(−1): a DomainError). Arrays in the result are
        copies of their own: f may hand back a buffer it reuses (``buf[:] = …; return buf``),
        which the next call would change under the values already taken."""
        self.evaluations += points
        return _owned(fn.evaluate(*args))

    def _numbers(self, value: Any, fn: Function, what: str | None = None) -> Any:
        """`value` (f's output, or an input with `what` naming it) if it holds numbers; a value
        being differentiated by an enclosing derivative (a Tensor of an outer trace, passed in or
        closed over) is a TracingError: finite differences answer numbers and do not nest."""
        items = (np.ravel(value) if isinstance(value, np.ndarray) and value.dtype == object
                 else (value,))
        if any(differentiated_outside(v) for v in items):
            shown = what or f"the value of {fn.name}, which depends on a closed-over value,"
            raise TracingError(
                f"{shown} is being differentiated by an enclosing derivative, and finite "
                f"differences (method='fd-{self.scheme}') answer numbers that would cut it out of "
                "that derivative: use method='reverse' or 'forward' for the inner derivative "
                "(they nest)")
        return value

    def _inputs(self, fn: Function, args: Sequence[Any], wrt: Sequence[int] | None = None
                ) -> list[Any]:
        """The coerced arguments, none of them a value an enclosing derivative differentiates."""
        args = fn.coerce(args, wrt)
        for name, a in zip(fn.inputs, args):
            self._numbers(a, fn, f"input {name!r}")
        return args

    def _base_trace(self, fn: Function, args: Sequence[Any], wrt: Sequence[int]
                    ) -> tuple[Graph | None, Exception | None]:
        """f traced at x, which serves as the value call and as the trace the checks read
        (:meth:`_check_constants`, fd-forward's one-sided check), and why there is none: None
        where f cannot be traced (a black box only: float(x), math.*, NumPy functions with no
        rule — the plain call then gives the value; where that fails too, the trace's named
        error is raised, not the plain call's bare one) or where a pure function's trace for
        this signature showed nothing to check and an explicit ``step`` is given (by default
        steps the trace at x is the reference :meth:`_check_against_trace` reads)."""
        if fn.pure and (self.step is not None or not self.check_trace) and \
                ("fd-constants", signature(args), tuple(wrt)) in fn.cache:
            return None, None
        try:
            return self._trace(fn, args, wrt), None
        except Exception as exc:  # noqa: BLE001 — the checks need a trace; a black box has none
            return None, exc

    def _check_constants(self, fn: Function, graph: Graph, wrt: Sequence[int]) -> None:
        """Refuse a function that applies an operation declared constant (dk.stop_gradient,
        x.detach()) whose output the steps would move and whose move reaches the derivative
        (:func:`~.step_checks.moved_constant`): the black box evaluates the plain function, where
        stop_gradient(x) is x, and would count the derivative the convention drops. A pure
        function whose trace has no such operation is not traced again for its signature."""
        node = moved_constant(graph, [graph.inputs[i] for i in wrt])
        if node is not None:
            raise MissingRuleError(
                f"finite differences (method='fd-{self.scheme}') evaluate {fn.name} as a black "
                f"box, where {node.prim.name!r} is the plain value: it is declared constant (no "
                "derivative flows through it, as dk.stop_gradient and x.detach() say), but here "
                "the steps move it and the derivative depends on it, so a difference quotient "
                "would count what every other method drops; use an AD method (method='reverse')")
        if fn.pure and not any(n.prim is not None and not n.prim.differentiable
                               for n in graph.nodes):
            fn.cache[("fd-constants", signature([i.value for i in graph.inputs]),
                      tuple(wrt))] = True

    def _trace(self, fn: Function, args: Sequence[Any], wrt: Sequence[int] | None = None) -> Any:
        """One traced call of the user's function (counted in ``evaluations`` too)."""
        self.evaluations += 1
        return fn.trace(*args, wrt=wrt)

    def _call(self, fn: Function, args: Sequence[Any], points: int = 1) -> Any:
        """f at a perturbed point: one outside the domain is named as such."""
        try:
            return self._run(fn, args, points)
        except (DomainError, NumericOverflowError) as exc:
            raise type(exc)(
                f"finite differences ({self.scheme}) stepped outside the domain: {exc}; use a "
                "smaller step=, a one-sided scheme, or an AD method (method='reverse')") from None

    def _complex_call(self, fn: Function, args: Sequence[Any], wrt: Sequence[int],
                      expected: np.ndarray | None) -> Any:
        """f at a complex point x + ih, traced, and the trace checked: the complex step is exact
        only if every operation on the derivative's path is complex-analytic there, and if f
        computes at x + ih the function it computes at x: Re f(x + ih) = f(x) − h²f″/2 + … must
        give `expected`, f(x) (its plain call's value where one was made; None: h too large to
        compare, :data:`TINY_IMAGINARY`), as
        :meth:`_check_repeatable` requires of the traced call (else NotRepeatableError: an
        f-string of x, isinstance(x, complex) or a draw at each call)."""
        try:
            # a cast that drops the imaginary part is refused below; the filter list is the
            # process's, so threads take turns (else one restored another's filter for good)
            with _FILTERS_LOCK, warnings.catch_warnings():
                warnings.simplefilter("ignore", np.exceptions.ComplexWarning)
                graph = self._trace(fn, args, wrt)
        except (DomainError, NumericOverflowError) as exc:
            raise type(exc)(f"finite differences (complex) stepped outside the domain: {exc}; "
                            "use method='fd-central' or an AD method (method='reverse')") from None
        except InputTypeError as exc:  # a primitive with no complex loop (Primitive.evaluate)
            prim = getattr(exc, "primitive", None)
            if prim is None:
                raise
            raise not_analytic(f"applies {prim.name!r}, which is not defined for complex "
                               f"numbers ({exc})") from None
        except DiffkitError:
            raise
        except (TypeError, ValueError) as exc:  # an operation that takes no complex numbers
            prim = failing_primitive(exc)
            name = f"{prim.name!r}" if prim is not None else "an operation"
            raise not_analytic(f"applies {name}, which is not defined for complex numbers "
                                f"({exc})") from None
        carries = carrying(graph)
        for node in graph.nodes:
            prim = node.prim
            if prim is None or node not in carries or not any(
                    i.dtype.kind == "c" for i in node.inputs):
                continue
            if prim.differentiable and not prim.holomorphic and prim.kind == "elementwise":
                raise not_analytic(f"applies {prim.name!r}, which is not complex-analytic")
            if prim.differentiable and node.dtype.kind != "c":
                raise not_analytic(f"applies {prim.name!r} with a complex input and a real "
                                    "result (it drops the imaginary part: not analytic)")
            # a decomposition's pack (eigh_packed, …) is not differentiable but carries the step
            if prim.kind != "elementwise" and not prim.linear and node.dtype.kind == "c" \
                    and not cauchy_riemann(node):
                raise not_analytic(f"applies {prim.name!r}, which is not complex-analytic "
                                    "on complex numbers (it conjugates, or reads a Hermitian "
                                    "matrix: its complex step disagrees with a real one)")
        node = infinite_partial(graph, lambda v: bool(np.any(np.imag(v.value))), real=True)
        if node is not None:
            raise NonDifferentiableError(
                f"the derivative is not finite at this point (method='fd-complex'): "
                f"{node.prim.name!r} has an infinite local derivative here (e.g. sqrt at 0), so "
                "the function is not differentiable there")
        real = np.real(_numeric(graph.output.value))
        if expected is not None and not _agrees(expected, real, graph):
            self._overflow_at_point(wrt)  # a derivative too large for the dtype, not f's fault
            # a pure function (parsed, SymPy) computes the same operations at both points: its
            # complex arithmetic rounds differently (a cancellation such as 1 − cos x near 0)
            rounding = ("its operations round differently at complex numbers: a cancellation "
                        "(1 − cos x near 0) or a feature of f narrower than the complex step's "
                        "reach makes Re f(x + ih) differ from f(x) by more than h²f″/2")
            why = rounding if fn.pure else (
                "it computes another function at complex numbers (it formats its input, "
                "f\"{x:.3f}\", or branches on its type, isinstance(x, complex) or "
                f"np.iscomplexobj(x)), differs between calls, or {rounding}")
            raise NotRepeatableError(
                f"{fn.name} at the complex point x + ih of the complex step gave a real part "
                f"other than its value at x ({_shown(expected, real)}), which differ by "
                f"h²f″/2 (h = 1e-20) in exact arithmetic: {why}, and Im f(x + ih)/h would not "
                "be its derivative. Use method='fd-central' or an AD method (method='reverse')")
        return graph.output.value

    def _check_complex_step(self, fn: Function, args: Sequence[Any],
                            wrt: Sequence[int] | None = None) -> Any:
        """Refuse a function whose graph at the (real) point applies an operation that is not
        complex-analytic to a value the step reaches (from the inputs in `wrt`, all by default),
        or whose plain call there disagrees with its trace (:meth:`_check_repeatable`, as the
        other schemes check it); returns f's value there (the traced call serves as the value
        call)."""
        if any(not passed_as_given(a) and dtype_of(a).kind == "c" for a in args):
            raise MissingRuleError("the complex-step method needs real inputs: use "
                                   "method='fd-central' or an AD method for complex inputs")
        graph = self._trace(fn, args, wrt)
        stepped = {graph.inputs[i] for i in (range(len(args)) if wrt is None else wrt)}
        for node in graph.nodes:
            if node.prim is not None and node.prim is not stop_gradient and any(
                    i in stepped for i in node.inputs):  # stop_gradient: a constant to the step
                stepped.add(node)  # (whether stopping it matters: _check_constants below)
            if node in stepped and node.prim is not None and not node.prim.holomorphic \
                    and node.prim.kind == "elementwise" and not _decided_apart(node):
                # structural operations are measured per step
                raise MissingRuleError(
                    f"the complex-step method needs complex-analytic operations and cannot pass "
                    f"through {node.prim.name!r}: use method='fd-central' or an AD method "
                    "(method='reverse')")
        value = self._numbers(graph.output.value, fn)
        self._check_constants(fn, graph, range(len(args)) if wrt is None else wrt)
        if dtype_of(value).kind == "c":  # Im f(x + ih)/h would mix in f's own imaginary part
            raise MissingRuleError(
                f"the complex step needs a real-valued function of real inputs: {fn.name} has a "
                "complex value at this real point, and Im f(x + ih)/h would divide its own "
                "imaginary part by h; use method='fd-central' or an AD method (method='reverse')")
        self.plain_at_point = None  # set by the repeatability check's plain call, if made
        self._check_repeatable(fn, args, value, graph)
        self.point_trace = graph
        return np.asarray(value)[()] if not np.ndim(value) else value

    # ----- first derivatives -------------------------------------------------------------------

    def default_step(self, x: np.ndarray, eps: float | None = None) -> np.ndarray:
        """The step per element of x: scaled to max(1, |xᵢ|) and to the precision f computes
        in (`eps`: :func:`_precision`; x's dtype's ε by default). The complex step's 1e-20 is
        taken in complex128 (:meth:`_column`), where h·f′ underflows only below 1e-288."""
        scale = np.maximum(1.0, np.abs(x)) * self.step_scale
        if self.step is not None:
            return np.full(x.shape, self.step)
        if self.scheme == "complex":
            return np.full(x.shape, 1e-20 * self.step_scale)
        if self.scheme == "richardson":  # tuned: 5 levels from h0 = 0.05 reach ~1e-14 on smooth f
            return 0.05 * scale
        if eps is None:
            eps = _eps(x.dtype if x.dtype.kind in "fc" else np.dtype(float))
        return eps ** (0.5 if self.scheme == "forward" else 1.0 / 3.0) * scale

    def jacobian(self, fn: Function, args: Sequence[Any], wrt: Sequence[int]) -> tuple[Any, Any]:
        return self._answer(lambda: self._jacobian(fn, args, wrt))

    def _answer(self, compute: Callable[[], Any]) -> Any:
        """One answer, with at most one warning: the trace check's, or — where the check did
        not confirm the answer within :data:`SETTLED` (or could not compare: a black box, an
        explicit step) — the unsettled estimate's that :meth:`_settled` held back. The
        estimate's rounding bound is pessimistic (x² + 10's forward Hessian: an estimate of
        3.2e-4 for an error of 2.6e-5), so an answer the trace confirms is not warned about."""
        self.warned, self.pending, self.verified = False, None, None
        self.repeat_probe = None  # (set by this answer's :meth:`_flat_function`)
        result = compute()
        pending, self.pending = self.pending, None
        if pending is not None and not self.warned and (
                self.verified is None or self.verified > SETTLED):
            pending += self._probed_again()  # (a NotRepeatableError where a call disagrees)
            self.warned = True
            warn_user(pending)
        return result

    def _jacobian(self, fn: Function, args: Sequence[Any], wrt: Sequence[int],
                  ct: np.ndarray | None = None) -> tuple[Any, Any]:
        """(f(x), J), or with a flat cotangent `ct` (f(x), ctᵀ·J) of shape (1, n): each column's
        differences (f(x + hⱼeⱼ) − f(x − hⱼeⱼ))/2hⱼ taken output by output and then contracted,
        Σᵢ ctᵢ·Dᵢⱼ (one column held at a time), so that no output's change is lost in the
        rounding of another's."""
        args = self._inputs(fn, args, wrt)
        value = self._check_complex_step(fn, args, wrt) if self.scheme == "complex" else None
        flat, x0, out, graph = self._flat_function(fn, args, wrt, value)
        eps = _precision(graph, wrt, x0.real if np.iscomplexobj(x0) else x0, out)
        h = self.default_step(x0.real if np.iscomplexobj(x0) else x0, eps)
        traced = graph if value is None else self.point_trace  # the trace at x, for the checks
        # f(x0) of a forward difference is the value's, where a plain call at x0 as it is gave it
        plain = value is None and graph is None
        dtype = _common_dtype(args, wrt)
        base = out if plain else self.plain_at_point  # the repeatability check's call serves
        f0 = _numeric(base) if base is not None and all(np.asarray(args[i]).dtype == x0.dtype
                                                        for i in wrt) else None
        if np.iscomplexobj(x0):
            stepped = np.concatenate([np.full(np.size(args[i]), dtype_of(args[i]).kind == "c")
                                      for i in wrt])
            # a trace with no non-holomorphic operation on the derivative's path is holomorphic
            # whatever the quotients say (1/z near its pole: their truncation misses the
            # Cauchy–Riemann equations by (h/|z|)²); the trace check then judges the answer
            jac = self._complex_jacobian(flat, x0, h, out, stepped, holomorphic=traced is not None
                                         and nonholomorphic(traced) is None, f0=f0)
            found = jac if ct is None else (ct @ jac)[None, :]
            self._check_against_trace(traced, wrt, x0, found, eps, h, ct=ct)
            if plain:
                self._check_black_box(flat, x0, np.asarray(h, dtype=float), ct=ct)
            return out, _narrow(found, dtype)
        batch = self._batched(fn, args, wrt)
        if ct is not None and ct.size > 1 and not np.all(ct):
            # an output whose cotangent is 0 contributes nothing: it is not differenced (one
            # that overflows under the step would make the whole VJP an error)
            flat, f0 = _outputs_kept(flat, ct != 0), None if f0 is None else \
                np.where(ct.reshape(np.shape(f0)) != 0, f0, 0)
        jac = self._real_jacobian(flat, x0, h, out, batch, f0=f0, eps=eps, ct=ct)
        if self.scheme == "forward" and x0.size:
            self._check_one_sided(fn, args, wrt, lambda: jac, lambda: self._real_jacobian(
                flat, x0, -h, out, batch, f0=f0, eps=eps, ct=ct), graph)
        self._check_against_trace(traced, wrt, x0, jac, eps, h, ct=ct)
        if plain:
            self._check_black_box(flat, x0, np.asarray(h, dtype=float), ct=ct)
        return out, _narrow(jac, dtype)

    def _overflow_at_point(self, wrt: Sequence[int]) -> None:
        """The AD engines' NumericOverflowError where a local partial of the trace at the real
        point x overflows its dtype (:func:`~.step_checks.infinite_partial`): there the complex
        step's h reaches past a pole near x (1/x² at 1e-110, h = 1e-20: Re f(x + ih) = −1e40
        for f(x) = 1e220) and its mismatch is the derivative's size, not an impure f."""
        graph = self.point_trace
        if graph is None:
            return
        live = {graph.inputs[k] for k in wrt}
        for node in graph.nodes:
            if node.prim is not None and node.prim.differentiable and live.intersection(
                    node.inputs):
                live.add(node)
        infinite_partial(graph, live.__contains__)

    def _check_one_sided(self, fn: Function, args: Sequence[Any], wrt: Sequence[int],
                         forward: Callable[[], np.ndarray], backward: Callable[[], np.ndarray],
                         graph: Graph | None = None) -> None:
        """A forward difference at a point where the derivative is infinite (sqrt at 0, the edge
        of its domain) is a finite number. Where the trace at x has an infinite local partial on
        the derivative's path, look backward too: a point outside the domain, or a backward
        difference that disagrees, is a NonDifferentiableError (agreement — relu(x)**0.5 at −1,
        whose infinite partial meets a zero derivative — keeps the answer). `graph`: the trace at
        x when the caller has it."""
        if graph is None:
            try:
                graph = self._trace(fn, args, wrt)
            except Exception:  # noqa: BLE001 — a black box (float(x), math.*) has no trace to
                return  # read: answered as the other schemes answer it, unchecked
        live = {graph.inputs[k] for k in wrt}
        for node in graph.nodes:
            if node.prim is not None and node.prim.differentiable and live.intersection(
                    node.inputs):
                live.add(node)
        node = infinite_partial(graph, live.__contains__)
        if node is None:
            return
        why = (f"the derivative is not finite at this point (method='fd-forward'): "
               f"{node.prim.name!r} has an infinite local derivative here (e.g. sqrt at 0)")
        try:
            back = backward()
        except (DomainError, NumericOverflowError):
            raise NonDifferentiableError(f"{why}, and the function is not defined just below "
                                         "it") from None
        fwd = forward()
        tol = 1e-4 * max(1.0, float(np.max(np.abs(fwd), initial=0.0)),
                         float(np.max(np.abs(back), initial=0.0)))
        if not np.all(np.abs(fwd - back) <= tol):
            raise NonDifferentiableError(f"{why}, and the differences from either side "
                                         "disagree") from None

    def _real_jacobian(self, flat: Callable[[np.ndarray], np.ndarray], x0: np.ndarray,
                       h: np.ndarray, out: Any, batch: Any = None, axis: complex = 1.0,
                       f0: np.ndarray | None = None, only: np.ndarray | None = None,
                       eps: float | None = None, ct: np.ndarray | None = None) -> np.ndarray:
        """Columns ∂f/∂(axis·xᵢ): the derivative along real (axis 1) or imaginary (axis i) steps.
        `f0`: f(x0) when the caller has it (a forward difference then costs n evaluations).
        `only`: a mask of the columns to take (the others are 0, and cost nothing). `ct`: a flat
        cotangent each column is contracted with as it is taken (:func:`_contracted`): the
        (1, n) row ctᵀ·J."""
        rows = size_of(out) if ct is None else 1

        def at(h: np.ndarray) -> Estimate:
            if batch is not None and x0.size:
                return _contracted(self._batched_jacobian(batch, x0, h, f0), ct)
            base = f0
            if base is None and self.scheme == "forward" and x0.size:
                base = flat(x0)  # once, not per column
            cols = [_contracted(self._column(flat, x0, i, h[i], axis, base), ct)
                    if only is None or only[i] else None for i in range(x0.size)]
            if not cols:
                return np.zeros((rows, 0)), None
            zero = np.zeros(rows, dtype=x0.dtype)
            jac = np.stack([zero if c is None else c[0] for c in cols], axis=1)
            if self.scheme != "richardson":
                return jac, None
            err = np.stack([np.zeros(rows) if c is None else c[1] for c in cols], axis=1)
            return jac, err

        self.step_used = h
        return self._refine(at, x0, h, eps)

    def _complex_jacobian(self, flat: Callable[[np.ndarray], np.ndarray], x0: np.ndarray,
                          h: np.ndarray, out: Any, stepped: np.ndarray,
                          holomorphic: bool = False, f0: np.ndarray | None = None
                          ) -> np.ndarray:
        """∂f/∂x and ∂f/∂y combined by the convention; a complex output must be holomorphic.
        Only the elements of complex inputs (`stepped`, a mask of x0) are stepped along the
        imaginary axis: a real input's column is ∂f/∂x alone (its cotangent space is real).
        `f0`: f(x0) when the caller has it; else a forward difference evaluates it once, for
        both halves."""
        if f0 is None and self.scheme == "forward" and x0.size:
            f0 = flat(x0)
        jx = self._real_jacobian(flat, x0, h, out, f0=f0)
        x_error = self.error_estimate
        jy = self._real_jacobian(flat, x0, h, out, axis=1j, only=stepped, f0=f0)
        if x_error is not None:  # the worse of the two halves
            self.error_estimate = max(x_error, self.error_estimate or 0.0)
        if not np.iscomplexobj(_numeric(out)):
            return jx - 1j * jy
        scale = max(1.0, float(np.max(np.abs(jx)))) if jx.size else 1.0
        gap = np.abs(jy - 1j * jx)[:, stepped]
        if np.max(gap, initial=0.0) > self._cr_tolerance(x0.dtype) * scale and not holomorphic:
            raise MissingRuleError(
                "the Jacobian of a complex-valued function needs it holomorphic, and this one "
                "breaks the Cauchy–Riemann equations (fd engine): differentiate its real and "
                "imaginary parts separately, or use dk.vjp — or, where f is holomorphic here, "
                "the step spans a pole or a branch cut next to the point (1/z at 1e-6): use an "
                "AD method (method='reverse')")
        return jx

    def _cr_tolerance(self, dtype: np.dtype) -> float:
        """How far apart ∂f/∂y and i·∂f/∂x may be for a holomorphic f: 30× the scheme's own
        error in `dtype` (√ε forward, ε^⅔ central; float32: ~1e-2 and ~7e-4), at least 1e-5.
        A non-holomorphic function misses by O(1): conj(z) by 2·|∂f/∂x|."""
        eps = float(np.finfo(dtype).eps)
        own = eps ** 0.5 if self.scheme == "forward" else eps ** (2 / 3)
        return max(1e-5, 30 * own)

    def _check_against_trace(self, graph: Graph | None, wrt: Sequence[int], x0: np.ndarray,
                             found: np.ndarray, eps: float, h: np.ndarray,
                             ct: np.ndarray | None = None, tangent: np.ndarray | None = None,
                             unit: np.ndarray | None = None) -> None:
        """Warn where a first derivative taken by default steps (`h`, per element of x0, or
        along `tangent`), `found`, lies far from the derivative of the operations traced at
        x: the Jacobian (m, n), ctᵀ·J (1, n) with a cotangent `ct`, or J·t (m,) along a
        `tangent`, entry by entry against the trace's — ctᵀ·J and a gradient by one adjoint
        sweep (:func:`~.step_checks.traced_pullback`), J·t and the columns of a Jacobian by
        tangent sweeps (:func:`~.step_checks.traced_tangents`, :data:`CHECKED_COLUMNS` at a
        time). An entry is far beyond :data:`TRACE_AGREEMENT` (30× the scheme's own error in
        the precision `eps`, at most 10 %; 5 % in float32, where the trace's own derivative is
        no finer) relative to max(`unit`, |reference|) — `unit` 1 for a derivative, |t| or
        |ct| for a product with a direction (a tangent of 1e-4 hid a 100 % error under a floor
        of 1), w = max(1, |x|) per element for derivative at an array — and beyond the
        reference's own rounding, 16ε·|ct|ᵀ·|J| (the size of the terms its sweep adds). The
        message says whether the gap is within the quotient's rounding, 2ε·R/h (R: the size
        f's rounding scales with; none for the complex step, which subtracts nothing): a step
        too small for f's cancelling values, or one that spans something.

        The quotient then spans a pole (1/x at 1e-6, stepped by 6e-6 across 0: the wrong
        sign), a jump (floor at 2), a feature narrower than the step (tanh(1e21·x) at 0; sin at
        1e8 by Richardson's 0.05·|x|) or a domain edge a one-sided step runs along (log at
        1e-10) — or f is not differentiable at x (a kink, where the trace's convention and the
        quotient's average differ) — or a Python f differs between calls: before the warning
        the stencil-point repeatability check runs twice more (:meth:`_probed_again`: a
        NotRepeatableError where a call disagrees, else the warning names that cause too).
        Otherwise no evaluation of f is added: the trace at x is the value's. Complex inputs are checked as their answers are given — a real output's
        ∂f/∂x − i·∂f/∂y (JAX's convention: the adjoint sweep's), a holomorphic output's ∂f/∂x
        (tangent sweeps along the real axis, and for a real output the imaginary one too).
        Nothing is checked without a trace (a black box, which :meth:`_check_black_box` looks
        at from both sides), or for an explicit ``step`` (used as given: an error-against-step
        plot walks into these on purpose). Where the trace's derivative is not finite or cannot
        be taken and the AD engines refuse it with NonDifferentiableError (sqrt(x²) at 0:
        :func:`~.step_checks.refusal`), it may not exist: :meth:`_undefined` refuses."""
        if graph is None or self.step is not None or not x0.size or self.warned or \
                not self.check_trace:
            return
        nodes = [graph.inputs[i] for i in wrt]
        shapes = [np.empty(n.shape) for n in nodes]
        out_shape = graph.output.shape
        m, n = int(np.prod(out_shape)), x0.size
        stepped = np.concatenate([np.full(int(np.prod(node.shape)), np.dtype(node.dtype).kind
                                          == "c") for node in nodes])  # complex inputs' elements
        real_out = np.dtype(graph.output.dtype).kind != "c"
        found = np.asarray(found, dtype=complex if np.iscomplexobj(found) or stepped.any()
                           else float)
        seed = np.ones(out_shape) if ct is None else np.reshape(ct, out_shape)
        back = traced_pullback(graph, nodes, seed)
        if back is None or isinstance(back, str):  # no reference: AD may say why (a kink)
            refused = refusal(graph, nodes, seed, None if tangent is None else
                              [p[None] for p in split_flat(tangent, shapes)])
            if isinstance(refused, NumericOverflowError):  # fd refuses where AD refuses
                raise NumericOverflowError(f"finite differences ({self.scheme}): {refused}") \
                    from None
            if refused is not None:
                raise self._undefined("derivative", refused)
        if back is None:
            return
        if isinstance(back, str):  # the trace's derivative overflows: no reference to read
            self.warned = True
            warn_user(f"finite differences ({self.scheme}): the answer could not be checked "
                      f"against the derivative of the operations traced at this point: {back}; "
                      "it may be far off. Compute in a wider dtype, rescale the inputs, or use "
                      "an AD method, which names the cause (method='reverse')")
            return
        grad, size, terms = back
        steps = np.broadcast_to(np.asarray(h, dtype=float), (n,) if tangent is None else ())
        rounding = 2 * eps * size * self._finest() / steps  # per column (or along t)
        own_rounding: Any = 0.0  # the reference's own, where its sweep's terms are known
        floor: Any = 1.0
        if tangent is not None:  # J·t, one entry per output
            rows = traced_tangents(graph, nodes, [p[None] for p in split_flat(tangent, shapes)])
            if rows is None:
                return
            ref, found = rows[0], found.reshape(-1)
            floor = float(np.max(np.abs(tangent))) if unit is None else \
                np.reshape(unit, (-1,)).astype(float)
        elif ct is not None or m == 1:  # a row: ctᵀ·J, a gradient
            ref, found, own_rounding = grad, found.reshape(-1), 16 * eps * terms
            if np.iscomplexobj(found) and found.shape == stepped.shape:  # a real input's
                # entry of a complex output: the sweep's reference is Re(ctᵀ·J) (a VJP's
                # answer); a Jacobian's row, complex there, is compared on its real part
                found = np.where(stepped, found, found.real)
            if ct is not None:
                floor = float(np.max(np.abs(ct)))
        else:  # the whole Jacobian, CHECKED_COLUMNS tangents per sweep
            ref = np.empty((m, n))
            for first in range(0, n, CHECKED_COLUMNS):
                k = min(CHECKED_COLUMNS, n - first)  # these k columns of the identity only
                cols = np.zeros((k, n))
                cols[np.arange(k), first + np.arange(k)] = 1.0
                pieces, start = [], 0
                for like in shapes:  # the identity's columns of each input, (k, *its shape)
                    pieces.append(cols[:, start:start + like.size].reshape((len(cols),
                                                                            *like.shape)))
                    start += like.size
                rows = traced_tangents(graph, nodes, pieces)
                if rows is None:
                    return
                if real_out and stepped[first:first + k].any():  # − i·∂f/∂y of complex inputs
                    along = traced_tangents(graph, nodes, [1j * p for p in pieces])
                    if along is None:
                        return
                    rows = rows - 1j * np.where(stepped[first:first + k, None], along, 0.0)
                if np.iscomplexobj(rows) and ref.dtype.kind != "c":
                    ref = ref.astype(complex)
                ref[:, first:first + len(cols)] = rows.T
            found = found.reshape(m, n)
        if ref.shape != found.shape:
            return
        own = {"forward": 0.5, "complex": 1.0}.get(self.scheme, 2.0 / 3.0)
        tol = max(TRACE_AGREEMENT if eps < 1e-10 else 0.05, min(0.1, 30 * eps ** own))
        scale = np.maximum(floor, np.abs(ref))
        if np.any(scale == 0):
            return
        gap = np.abs(found - ref)
        self.verified = float(np.max(np.maximum(gap - own_rounding, 0.0) / scale, initial=0.0))
        off = gap > tol * scale + own_rounding
        if not np.any(off):
            return
        k = np.unravel_index(int(np.argmax(np.where(off, gap / scale, -1.0))), found.shape)
        step = float(np.max(self.step_used)) if self.step_used is not None else float("nan")
        lost = gap[k] <= np.broadcast_to(rounding, found.shape)[k]  # within f's own rounding
        # the schemes of higher order than this one (none for Richardson's extrapolation)
        better = {"forward": "method='fd-central' or 'fd-richardson'",
                  "central": "method='fd-richardson'",
                  "complex": "method='fd-richardson'"}.get(self.scheme)
        instead = (f"Pass a smaller step=, use {better}, or an AD method (method='reverse')."
                   if better else "Pass a smaller step= or use an AD method (method='reverse').")
        why = (f"The step ({step:.3g}) moves f by little more than its own rounding (ε "
               "times the size of the values it computes, which cancel): the quotient keeps "
               "few digits. Use an AD method (method='reverse').") if lost else (
               f"The step ({step:.3g}) is too large for f here: it spans something the "
               "quotient cannot resolve — a pole, a jump, a domain edge, a feature narrower "
               "than the step, or curvature the scheme's truncation error (O(h) forward, "
               f"O(h²) central) does not keep small — or f is not differentiable here. {instead}")
        why += self._probed_again()  # (a NotRepeatableError where a call disagrees)
        self.warned = True
        warn_user(
            f"finite differences ({self.scheme}): the answer {found[k]:.6g} lies far from the "
            f"derivative of the operations traced at this point, {ref[k]:.6g} (relative "
            f"{gap[k] / scale[k]:.2g}; {int(np.count_nonzero(off))} of {found.size} "
            f"entries). {why}")

    def _check_black_box(self, flat: Callable[[np.ndarray], np.ndarray], x0: np.ndarray,
                         h: np.ndarray, ct: np.ndarray | None = None,
                         direction: np.ndarray | None = None) -> None:
        """An answer by default steps for a function that could not be traced (a black box:
        int(x), math.floor, float(x) with math.*) has no derivative to be checked against; one
        probe looks at f from both sides instead. The central quotient along one direction d
        — the tangent, or the steps times a fixed mix of signs and sizes over every element —
        at the step and at half of it, Q(s) = (f(x + s·d) − f(x − s·d))/2s: four evaluations,
        however many inputs. Where f is differentiable near x the two agree to O(h²) (they
        are J·d); a jump within the step doubles Q (int(x)·x at 3: 82,573 for a derivative
        that does not exist), a kink, a feature narrower than the step or noise (a solver's
        tolerance) moves it. A gap beyond :data:`TRACE_AGREEMENT` of max(|Q|, |d|) (the
        derivative's unit), past Q's own rounding, is a warning."""
        if self.step is not None or self.warned or not self.check_trace or not x0.size:
            return  # (a complex x is probed along a real direction)
        if direction is None:
            rng = np.random.default_rng(20261205)  # fixed: the same probe at every call
            d = h * rng.uniform(0.5, 1.0, x0.size) * rng.choice([-1.0, 1.0], x0.size)
        else:
            d = float(h) * np.asarray(direction, dtype=float)
        seen: list[float] = []

        def quotient(s: float) -> np.ndarray:
            up, down = flat((x0 + s * d).astype(x0.dtype)), flat((x0 - s * d).astype(x0.dtype))
            seen.append(float(np.max(np.abs(np.concatenate([up, down])), initial=0.0)))
            q = (up - down) / (2 * s)
            return q if ct is None else np.atleast_1d(np.reshape(ct, -1) @ q)

        try:
            whole, half = quotient(1.0), quotient(0.5)
        except DiffkitError:  # the probe left the domain: the answer stands as computed
            return
        eps = _eps(np.dtype(x0.dtype))
        unit = float(np.max(np.abs(d))) * (1.0 if ct is None else
                                           float(np.max(np.abs(ct), initial=1.0)))
        scale = np.maximum(np.abs(half), unit)
        rounding = 4 * eps * max(seen) * (1.0 if ct is None else
                                          float(np.sum(np.abs(ct), initial=1.0)))
        gap = np.abs(whole - half)
        if not np.all(np.isfinite(gap)) or np.all(gap <= TRACE_AGREEMENT * scale + rounding):
            return
        k = int(np.argmax(np.where(np.isfinite(gap), gap / scale, np.inf)))
        reason = self.untraced
        why = f" ({type(reason).__name__}: {str(reason).split(' would ')[0]})" if reason else ""
        again = self._probed_again()  # (a NotRepeatableError where a call disagrees)
        self.warned = True
        warn_user(
            f"finite differences ({self.scheme}): f could not be traced{why}, so the answer "
            "was not checked against a derivative; a probe along one direction at the step and "
            f"at half of it disagrees ({whole[k] / unit:.6g} against {half[k] / unit:.6g} per "
            "unit step): f jumps, bends or is noisy within the step (int(), math.floor, round, a "
            "branch, a solver's tolerance), where a difference quotient is no derivative. Make f "
            f"traceable (np/dk functions, not math.* or int()), or pass a step= suited to f.{again}")

    def _check_higher(self, graph: Graph | None, taken: Callable[[Any], Any], found: Any,
                      units: Any, eps: float, n: int) -> None:
        """:meth:`_check_against_trace` for an n-th derivative or a Hessian (n = 2), `found`,
        by default steps: the reference is forward mode's (``taken(engine)`` over f's own
        operations), and before a warning reverse mode's too — where the two disagree beyond
        the tolerance (a derivative that cancels in the trace itself: x/(cx) at 5e-11),
        nothing is said — measured in the units of the steps (`units`: their 1/max(1, |x|)ⁿ, or
        1/(max(1, |xᵢ|)·max(1, |xⱼ|)), the floor of the scale in x's units), as the estimate
        is settled: beyond 1e-3, or 30× the
        scheme's own error ε^(2/(n+2)) central, ε^(1/(n+1)) forward, at most 10 %, relative
        to max(1, |reference|), it is a warning. Richardson's tableau over steps that span
        whole periods (sin″ at 1000 from a first step of 100) converges cleanly to the wrong
        limit with an estimate of 1e-11; a stencil that leaves x out (odd n, the Hessian's
        corners) can see a narrow feature's flat sides only. Where a consulted AD reference
        refuses with NonDifferentiableError (heaviside(x, ½)·x² at 0), the derivative may not
        exist: :meth:`_undefined`, not a number. Not for a black box or an explicit step; no
        warning for an answer that warned already (its estimate said so). Before a warning, a
        Python f's stencil-point repeatability check runs twice more (:meth:`_probed_again`)."""
        if graph is None or self.step is not None or not self.check_trace:
            return
        found = np.asarray(found, dtype=float)
        what = "Hessian" if found.ndim == 2 else f"derivative of order {n}"
        try:
            ref = _reference(taken, ForwardEngine(), found.shape)
        except NonDifferentiableError as exc:
            raise self._undefined(what, exc) from None
        if ref is None or self.warned:
            return
        own = 1.0 / (n + 1) if self.scheme == "forward" else 2.0 / (n + 2)
        tol = max(TRACE_AGREEMENT, min(0.1, 30 * eps ** own))
        # max(1, |D|·units) in x's units: max(1/units, |D|) (units = wⁿ overflows at 1e160)
        floor = np.broadcast_to(np.asarray(units, dtype=float), found.shape)
        scale = np.maximum(floor, np.abs(ref))
        if np.any(scale == 0):  # (1/wⁿ underflowed beside a derivative of 0: no relative gap)
            return
        gap = np.abs(found - ref)
        off = gap > tol * scale
        if np.any(off):  # before it says so: reverse mode must agree (a derivative that
            try:  # cancels in the trace is no reason)
                again = _reference(taken, ReverseEngine(), found.shape)
            except NonDifferentiableError as exc:
                raise self._undefined(what, exc) from None
            if again is None or np.any(np.abs(again - ref) > tol * scale):  # is no reason)
                return
        self.verified = float(np.max(gap / scale, initial=0.0))
        if not np.any(off):
            return
        k = np.unravel_index(int(np.argmax(np.where(off, gap / scale, -1.0))), found.shape)
        again = self._probed_again()  # (a NotRepeatableError where a call disagrees)
        self.warned = True
        warn_user(
            f"finite differences ({self.scheme}): the {what} {found[k]:.6g} lies far from the "
            f"derivative of the operations traced at this point, {ref[k]:.6g} (relative "
            f"{gap[k] / scale[k]:.2g} in the steps' units; {int(np.count_nonzero(off))} of "
            f"{found.size} entries). The steps span something the quotients cannot resolve — "
            "whole periods of an oscillation, a narrow feature, a kink or a jump — or f is not "
            f"differentiable here. Pass a smaller step= or use an AD method (method='forward')."
            f"{again}")

    def _undefined(self, what: str, exc: NonDifferentiableError) -> NonDifferentiableError:
        """The error for an answer by default steps where the AD engines refuse the derivative
        at the traced point (`exc`): a kink differentiated again (heaviside(x, ½)·x² at 0:
        one-sided second derivatives 0 and 2, the quotient 1), or a 0·∞ of f's own operations
        where the derivative may exist (cbrt(x³) at 0). A difference quotient cannot tell the
        two apart — one-sided quotients agree at |x|″ (both 0) and at cbrt′ (both growing as
        the step shrinks) — so by default steps it is not taken."""
        return NonDifferentiableError(
            f"finite differences ({self.scheme}): the AD engines find no {what} at this point "
            f"({exc}). It may not exist (a kink), or exist where f's own operations meet 0·∞ "
            "(cbrt(x**3) at 0); a difference quotient cannot tell the two apart, and where it "
            "does not exist its number is an artefact of the step. Differentiate at another "
            "point, or pass an explicit step= to take the quotient anyway")

    def _finest(self) -> float:
        """How much smaller than the first step the finest quotient's is (Richardson's last
        row: 2^(levels − 1); 1 for one quotient; 0 for the complex step, which subtracts
        nothing and so has no rounding to allow for)."""
        return {"complex": 0.0, "richardson": 2.0 ** (self.levels - 1)}.get(self.scheme, 1.0)

    def finest_steps(self, order: int = 1) -> np.ndarray | None:
        """The smallest steps, per differentiated element, that the quotients of the last answer
        (a Jacobian at `order` 1, a Hessian at 2) took: :attr:`step_used` over Richardson's
        2^(levels − 1); None for the complex step's first derivatives, which subtract nothing
        (its Hessian is the central stencil's)."""
        ratio = self._finest() or (None if order == 1 else 1.0)
        if ratio is None or self.step_used is None:
            return None
        return np.asarray(self.step_used, dtype=float) / ratio

    def _refine(self, at: Callable[[np.ndarray], Estimate], x0: np.ndarray,
                h: np.ndarray, eps: float | None = None) -> np.ndarray:
        """`at(h)`, and for Richardson (no explicit step) its restarts: where an entry's error
        estimate says its tableau did not converge (a kink or a fast feature within h), start
        again from smaller steps and keep, entry by entry, the estimate that is best (each entry
        of a Jacobian or a directional derivative is its own limit, so its steps are its own:
        one shared choice let a large element's garbage stand beside a small one's digits) —
        never from steps that the input's dtype rounds away (their differences are all 0, with
        an error estimate of 0). An entry still above :data:`SETTLED` (relative to max(1, |D|))
        after the last restart is a RuntimeWarning naming its estimate (with an explicit
        ``step``, used as given, the estimate is only recorded).

        Restarts aim at a relative estimate of 1e-9 in float64, scaled as ε^(4/7) for the
        precision f computes in (`eps`, :func:`_precision`: ~1e-4 in float32) and never take steps below
        √ε·max(1, |x|), where a central difference is rounding more than difference: there its
        quantized rows make a flat tableau whose tiny estimate kept garbage (float32 answers
        1000× worse than fd-central, with no warning)."""
        if eps is None:
            eps = _eps(x0.dtype) if x0.dtype.kind in "fc" else _eps(np.dtype(float))
        target = 1e-9 * (eps / _eps(np.dtype(np.float64))) ** (4.0 / 7.0)
        floor = np.sqrt(eps) * np.maximum(1.0, np.abs(x0))
        failure: Exception | None = None
        try:
            best, err = at(h)
        except (DomainError, NumericOverflowError) as exc:  # Richardson's first steps are large:
            if self.scheme != "richardson" or self.step is not None:  # near a domain edge they
                raise  # may leave it, where smaller ones do not (as derivative(n ≥ 2) restarts)
            best, err, failure = None, None, exc
        if best is not None and (err is None or self.step is not None):  # a step as given
            self.error_estimate = None if err is None else float(np.max(err, initial=0.0))
            return best
        for shrink in (16.0, 256.0, 4096.0):
            if best is not None and np.all(err <= target * np.maximum(1.0, np.abs(best))):
                break
            smallest = h / shrink / 2.0 ** (self.levels - 1)
            if np.any(smallest < floor) or np.any((x0 + smallest).astype(x0.dtype) == x0):
                break
            try:
                candidate, cand_err = at(h / shrink)
            except (DomainError, NumericOverflowError) as exc:
                failure = exc
                continue
            if best is None:
                best, err = candidate, cand_err
                self.step_used = h / shrink
                continue
            better = cand_err < err
            if np.any(better):
                best, err = np.where(better, candidate, best), np.where(better, cand_err, err)
                self.step_used = h / shrink
        if best is None:
            assert failure is not None
            raise failure
        return self._settled(best, err)

    # ----- many perturbed points in one evaluation ----------------------------------------------

    def _batched(self, fn: Function, args: Sequence[Any], wrt: Sequence[int]
                 ) -> Callable[[np.ndarray], np.ndarray] | None:
        """f at many points at once, X (K, n) -> (K,), where that is exact: a pure function of
        scalar inputs with a scalar output and only element-wise operations (then arrays of points
        just broadcast through the same code)."""
        if not fn.pure or self.scheme == "complex" or any(np.ndim(a) for a in args):
            return None
        key = ("fd-batchable", signature(args))
        if key not in fn.cache:  # pure: one trace per signature tells
            graph = self._trace(fn, args)
            fn.cache[key] = not graph.output.shape and all(
                n.prim is None or n.prim.kind == "elementwise" for n in graph.nodes)
        if not fn.cache[key]:
            return None

        def many(X: np.ndarray) -> np.ndarray:
            full: list[Any] = list(args)
            for col, i in enumerate(wrt):
                full[i] = X[:, col]
            return np.broadcast_to(_numeric(self._call(fn, full, X.shape[0])), (X.shape[0],))

        return many

    def _batched_jacobian(self, many: Callable[[np.ndarray], np.ndarray], x0: np.ndarray,
                          h: np.ndarray, f0: Any = None) -> Estimate:
        """The (1, n) Jacobian from one batched evaluation of every perturbed point, with
        Richardson's error estimate per entry (None for the other schemes). `f0`: f(x0) where
        the caller has it (its plain call): a forward difference then evaluates the n stepped
        points only (n + 2 in all with the value and the trace, as the module says)."""
        n = x0.size
        eye = np.eye(n, dtype=x0.dtype)
        if self.scheme == "forward":  # divided by the steps taken (points rounded to the dtype)
            taken = (x0 + h).astype(x0.dtype) - x0
            _require_taken(x0, h, taken)
            stepped = x0 + taken[:, None] * eye
            if f0 is not None and np.size(f0) == 1:
                return ((many(stepped) - np.reshape(f0, ())) / taken)[None, :], None
            f = many(np.vstack([x0, stepped]))
            return ((f[1:] - f[0]) / taken)[None, :], None
        levels = self.levels if self.scheme == "richardson" else 1
        hs = h[None, :] / 2.0 ** np.arange(levels)[:, None]  # (levels, n)
        up = (x0 + hs).astype(x0.dtype) - x0
        down = x0 - (x0 - hs).astype(x0.dtype)
        _require_taken(x0, hs[-1], np.minimum(up[-1], down[-1]))
        pts = np.concatenate([(x0 + up[:, :, None] * eye[None]).reshape(-1, n),
                              (x0 - down[:, :, None] * eye[None]).reshape(-1, n)])
        f = many(pts.astype(x0.dtype)).reshape(2, levels, n)
        central = (f[0] - f[1]) / (up + down)  # (levels, n)
        if self.scheme == "central":
            return central[:1], None
        value, err = self._tableau(list(central))
        return value[None, :], None if err is None else err[None, :]

    def _column(self, flat: Callable[[np.ndarray], np.ndarray], x0: np.ndarray, i: int, h: float,
                axis: complex = 1.0, f0: Any = None) -> Estimate:
        """One Jacobian column ∂f/∂(axis·xᵢ), with Richardson's error estimate per entry (None for
        the other schemes). Points are rounded to the input's dtype first and the
        step actually taken is divided by (the standard trick that keeps the rounding out). `f0`:
        f(x0), shared by a forward difference's columns (n + 1 evaluations, not 2n)."""
        e = np.zeros_like(x0)
        e[i] = axis

        def point(s: float) -> tuple[np.ndarray, float]:
            x = (x0 + s * e).astype(x0.dtype)
            taken = float(((x - x0)[i] / axis).real)
            if taken == 0.0:
                raise _below_resolution(x0[i], s, axis)
            return x, taken

        if self.scheme == "forward":
            xp, hp = point(h)
            return (flat(xp) - (flat(x0) if f0 is None else f0)) / hp, None
        if self.scheme == "central":
            (xp, hp), (xm, hm) = point(h), point(-h)
            return (flat(xp) - flat(xm)) / (hp - hm), None
        if self.scheme == "complex":
            # complex128 whatever x0's dtype: Im f(x + ih) = h·f′ underflowed in complex64 once
            # |f′| < 1e-18 (exp(−80x)′ at 1 in float32 was −0.0); the result is narrowed to the
            # input's dtype after
            wide = np.result_type(x0.dtype, np.complex128)  # (clongdouble for longdouble)
            return np.imag(flat(x0.astype(wide) + 1j * h * e)) / h, None

        def central(hh: float) -> np.ndarray:
            (xp, hp), (xm, hm) = point(hh), point(-hh)
            return (flat(xp) - flat(xm)) / (hp - hm)

        return self._richardson(central, h)

    def _richardson(self, central: Callable[[float], np.ndarray], h: float) -> Estimate:
        """Neville–Richardson tableau over central differences with steps h, h/2, h/4, …"""
        return self._tableau([central(h / 2**level) for level in range(self.levels)])

    def _tableau(self, rows: list[np.ndarray]) -> Estimate:
        """Combine central differences at h, h/2, h/4, …: T[l][j] = T[l][j-1] + (T[l][j-1] −
        T[l-1][j-1]) / (4ʲ − 1) cancels the h²ʲ error term. With the error estimate of each
        entry, |T[L][L] − T[L-1][L-1]| (None for a single row)."""
        table = [rows[0]]
        previous = table
        for level in range(1, len(rows)):
            row = [rows[level]]
            for j in range(1, level + 1):
                row.append(row[j - 1] + (row[j - 1] - table[j - 1]) / (4**j - 1))
            previous, table = table, row
        if len(rows) == 1:
            return table[-1], None
        return table[-1], np.abs(table[-1] - previous[-1])

    def jvp(self, fn: Function, args: Sequence[Any], tangents: Sequence[Any]) -> tuple[Any, Any]:
        """Directional derivative along the tangents: two evaluations (central)."""
        return self._answer(lambda: self._jvp(fn, args, tangents))

    def _jvp(self, fn: Function, args: Sequence[Any], tangents: Sequence[Any],
             pointwise: bool = False) -> tuple[Any, Any]:
        """:meth:`jvp`; where `pointwise` (derivative at an array x, read element by element),
        f must be element-wise (:func:`require_elementwise`)."""
        args = self._inputs(fn, args)
        wrt = list(range(len(args)))
        for name, a, v in zip(fn.inputs, args, tangents):  # as forward mode checks them
            check_tangent(v, name, np.shape(a), real=not np.iscomplexobj(a))
        value = self._check_complex_step(fn, args) if self.scheme == "complex" else None
        flat, x0, out, graph = self._flat_function(fn, args, wrt, value)
        traced = graph if value is None else self.point_trace  # the trace at x, for the checks
        if pointwise:
            check_pointwise(np.shape(out), np.shape(args[0]))
            require_elementwise(traced, wrt)
            if traced is None and value is None:
                _probe_elementwise(flat, x0, out)
        t = np.concatenate([np.reshape(np.asarray(v, dtype=x0.dtype), (-1,)) for v in tangents])
        norm = np.linalg.norm(t)
        if norm == 0:
            return out, np.zeros(np.shape(out), dtype=_numeric(out).dtype)
        # the step of the elements the direction moves (a large element it does not move must
        # not size it), divided by the direction's length
        moved = t != 0
        # the step along t that moves no element by more than its own step: the smallest
        # element's (the largest's, divided by |t|, made sin(x0) + x1 at (1, 1e6) 0.885 for 1.54)
        eps = _precision(graph, wrt, x0, out)
        h = float(np.min(self.default_step(np.abs(x0[moved]), eps) / np.abs(t[moved])))
        # f(x0) of a forward difference is the value's, where a plain call at x0 as it is gave it
        base = out if graph is None else self.plain_at_point
        f0 = _numeric(base) if base is not None and all(np.asarray(a).dtype == x0.dtype
                                                        for a in args) else None

        def at(s: np.ndarray) -> np.ndarray:
            # an element the step does not move drops its term of J·t (all of them: J·t = 0);
            # the default step, sized for the smallest element's, moves the others less
            x = x0 + s[0] * t
            stuck = moved & (x == x0) if s[0] else np.zeros(x0.shape, dtype=bool)
            # a stuck element matters where its tangent does (t = [1, 1e-20] loses nothing)
            lost = stuck & (np.abs(t) > _eps(x0.dtype) * float(np.max(np.abs(t))))
            if np.all(stuck[moved]) or np.any(lost):
                k = int(np.argmax(np.where(stuck, np.abs(t), -1.0)))
                raise _below_resolution(x0[k], float(s[0] * t[k]))
            return flat(x)

        def along(step: float) -> Estimate:
            return self._column(at, np.zeros(1, dtype=x0.dtype), 0, step, f0=f0)

        # Richardson's restarts as grad's columns have them, the rounding test on the moved
        # elements' own steps
        size = np.abs(t[moved])
        self.step_used = np.asarray(h)
        col = self._refine(lambda hs: along(float(hs[0] / size[0])), x0[moved], h * size, eps)
        if self.scheme == "forward":
            self._check_one_sided(fn, args, wrt, lambda: col, lambda: along(-h)[0], graph)
        self._check_against_trace(traced, wrt, x0, col, eps, np.asarray(h), tangent=t,
                                  unit=t if pointwise else None)
        if traced is None and value is None:
            self._check_black_box(flat, x0, np.asarray(h, dtype=float), direction=t)
        return out, _in_dtype_of(np.reshape(col, np.shape(out)), out)

    def vjp(self, fn: Function, args: Sequence[Any], wrt: Sequence[int]) -> tuple[Any, Pullback]:
        """ctᵀ·J by differencing the outputs first and contracting each column with ct after,
        Σᵢ ctᵢ·(fᵢ(x + hⱼeⱼ) − fᵢ(x − hⱼeⱼ))/2hⱼ (:meth:`_jacobian`): the evaluations of the
        gradient of Σ ct·f(x), without its rounding — a column whose change is below the
        rounding of the sum (x·[1, 1e17] at [1, 1]) came out 0. The function a pullback steps
        is the first trace's where it did not branch (:meth:`Engine._first_trace`)."""
        fn, out = self._first_trace(fn, args, wrt)
        like = [args[i] for i in wrt]

        def pullback(ct: Any) -> tuple[Any, ...]:  # the cotangent checked as reverse mode does
            check_cotangent(ct, np.shape(out))
            self.refuse_traced(ct, "cotangent")
            _, row = self._answer(lambda: self._jacobian(fn, args, wrt,
                                                         np.reshape(np.asarray(ct), (-1,))))
            return split_flat(np.reshape(row, (-1,)), like)

        return out, pullback

    # ----- higher derivatives ------------------------------------------------------------------

    def hessian(self, fn: Function, args: Sequence[Any], wrt: Sequence[int]) -> Any:
        """:meth:`_hessian`, with at most one warning (:meth:`_answer`)."""
        return self._answer(lambda: self._hessian(fn, args, wrt))

    def _hessian(self, fn: Function, args: Sequence[Any], wrt: Sequence[int]) -> Any:
        """Second differences by this engine's scheme, settled as :meth:`derivative` settles
        them for n = 2 (the same error estimate, restarts and warning): each Hᵢⱼ from the
        four-point stencil with steps hᵢ = h·max(1, |xᵢ|) (an explicit ``step``: h itself, the
        absolute step, as for grad and derivative),

        * central (and complex, whose step gives first derivatives only): (f(x+hᵢ+hⱼ) −
          f(x+hᵢ−hⱼ) − f(x−hᵢ+hⱼ) + f(x−hᵢ−hⱼ))/(4hᵢhⱼ), error O(h²), h = ε^(1/4);
        * forward: (f(x+hᵢ+hⱼ) − f(x+hᵢ) − f(x+hⱼ) + f(x))/(hᵢhⱼ), error O(h), h = ε^(1/3);
        * richardson: the central stencil at h, h/2, … combined by the tableau, h = 0.05.

        On the diagonal (i = j) these are the second differences with step 2hᵢ and hᵢ."""
        args = self._inputs(fn, args, wrt)
        flat, x0, out, graph = self._flat_function(fn, args, wrt, order=2)
        require_scalar(out, "hessian")
        if np.iscomplexobj(x0) or np.iscomplexobj(_numeric(out)):
            raise MissingRuleError("finite-difference Hessians need real inputs and outputs")
        n = x0.size
        eps = _precision(graph, wrt, x0, out)
        scale = np.maximum(1.0, np.abs(x0))
        forward = self.scheme == "forward"
        signs = ((1, 1, 1), (1, 0, -1), (0, 1, -1), (0, 0, 1)) if forward else (
            (1, 1, 1), (1, -1, -1), (-1, 1, -1), (-1, -1, 1))
        H = np.empty((n, n), dtype=x0.dtype)
        worst, used = 0.0, np.inf
        for i in range(n):
            for j in range(i, n):

                def cross(hh: float, i: int = i, j: int = j) -> tuple[np.ndarray, Any]:
                    hi, hj = (hh, hh) if self.step else (hh * scale[i], hh * scale[j])
                    values = []
                    for si, sj, _ in signs:
                        off = np.zeros(n)
                        off[i] += si * hi
                        off[j] += sj * hj
                        x = (x0 + off).astype(x0.dtype)
                        _require_taken(x0, off, x - x0)
                        values.append(flat(x)[0])
                    # in the units of the steps s = h/max(1, |x|) (as derivative(n = 2) takes
                    # it): settled against max(1, |∂²f/∂sᵢ∂sⱼ|), the function's own scale — in
                    # x's units a derivative near 0 at |x| = 1e6 passed any estimate below 1e-4
                    denominator = hh * hh * (1.0 if forward else 4.0)
                    d = sum(c * v for (_, _, c), v in zip(signs, values)) / denominator
                    return np.asarray(d), eps * sum(abs(v) for v in values) / denominator

                units = 1.0 if self.step else float(scale[i] * scale[j])
                H[i, j] = H[j, i] = self._difference_by_scheme(
                    cross, 0.05, eps ** (1.0 / 3.0 if forward else 0.25)) / units
                worst = max(worst, float(self.error_estimate or 0.0) / units)
                used = min(used, float(np.min(self.step_used)))
        self.error_estimate = worst
        # the smallest first step any entry's stencil took, per element in x's units
        self.step_used = used * (np.ones(n) if self.step else scale) if n else None
        inverse = np.ones(n) if self.step else 1.0 / scale
        with np.errstate(under="ignore"):
            floor = np.outer(inverse, inverse)
        self._check_higher(graph, lambda ad: ad.hessian(fn, args, wrt), H, floor, eps, 2)
        return _narrow(H, _common_dtype(args, wrt))

    def derivative(self, fn: Function, x: Any, n: int) -> Any:
        """:meth:`_derivative`, with at most one warning (:meth:`_answer`)."""
        return self._answer(lambda: self._derivative(fn, x, n))

    def _derivative(self, fn: Function, x: Any, n: int) -> Any:
        """dⁿf/dxⁿ by this engine's scheme, along all of x at once (for an array x: the
        derivative of an element-wise f).

        * n = 1: the scheme's first derivative with its checks (the complex step's analyticity
          and branch-point checks, the forward difference's one-sided check, Richardson's
          restarts), as ``grad`` takes it.
        * n ≥ 2, central: δⁿf(x)/hⁿ = Σₖ (−1)ᵏ C(n,k) f(x + (n/2 − k)h)/hⁿ, error O(h²),
          h = ε^(1/(n+2))·max(1, |x|); forward: Σₖ (−1)ⁿ⁻ᵏ C(n,k) f(x + kh)/hⁿ, error O(h),
          h = ε^(1/(n+1))·max(1, |x|). Each is also taken at h/2, and |D(h) − D(h/2)| gives the
          error estimate (×4/3, ×2); above :data:`SETTLED` relative to max(1, |D|) the steps
          restart 16×, 256×, 4096× smaller (the best estimate is kept).
        * n ≥ 2, richardson: the central δⁿ/hⁿ at h, h/2, …, h/2^(levels−1) (its error is a
          series in h², h⁴, …) combined by the same tableau as first derivatives, from
          h = 0.05·2ⁿ⁻¹·max(1, |x|), restarted from smaller steps as for n = 1.
        * n ≥ 2, complex: refused (the complex step gives first derivatives only).

        ``error_estimate`` holds the estimate; one still above SETTLED is a RuntimeWarning
        naming it (never a silently wrong digit count). An explicit ``step`` is used as given,
        once."""
        (x,) = self._inputs(fn, [x])
        if n == 0:
            return self._numbers(self._run(fn, [x]), fn)
        if n == 1:  # a complex x too: its Jacobian (grad's numbers), checked as grad checks it
            return self._first_derivative(fn, x)
        if np.iscomplexobj(x):
            raise MissingRuleError(f"finite-difference derivatives of order {n} need a real "
                                   "input: use an AD method")
        if self.scheme == "complex":
            raise MissingRuleError(
                f"the complex step Im f(x + ih)/h gives first derivatives only, not order {n}: "
                "use method='fd-richardson' or 'fd-central', or an AD method (method='forward')")
        flat, x0, out, graph = self._flat_function(fn, [x], [0], order=n)
        check_pointwise(np.shape(out), np.shape(x))
        if np.ndim(x):
            require_elementwise(graph, [0])
            if graph is None:
                _probe_elementwise(flat, x0, out)
        # each element's own scale w = max(1, |x|) (see _first_derivative): the n-th derivative
        # in s of f(x + s·w), divided by wⁿ (its error estimate too, at most by min(w)ⁿ)
        w = np.maximum(1.0, np.abs(x0))

        def g(s: float) -> np.ndarray:
            x = (x0 + s * w).astype(x0.dtype)
            _require_taken(x0, s * w, x - x0)
            return flat(x)

        value = self._nth_derivative(g, n, 1.0, x0.dtype, _precision(graph, [0], x0, out))
        # divided by w n times, not by wⁿ: wⁿ overflows (a float power raises) for |x| ≳ 1e154 at
        # n = 2 where the quotient is representable, or underflows to its true 0
        scale = w.reshape(np.shape(value)) if np.ndim(value) else w[0]
        for _ in range(n):
            if self.error_estimate is not None:
                self.error_estimate = self.error_estimate / float(np.min(w))
            value = value / scale
        with np.errstate(under="ignore"):
            floor = np.ones_like(w)
            for _ in range(n):  # 1/wⁿ, divided n times (wⁿ overflows where 1/wⁿ is 0)
                floor = floor / w
        self._check_higher(graph, lambda ad: nth_of_elementwise(ad, fn, x, n), value,
                           np.reshape(floor, np.shape(value)) if np.ndim(value) else floor[0],
                           _precision(graph, [0], x0, out), n)
        res = _narrow(value, _common_dtype([x], [0]))
        return res.reshape(np.shape(x)) if np.shape(x) else res.reshape(np.shape(out))

    def _first_derivative(self, fn: Function, x: Any) -> Any:
        """f′ by the scheme: the 1×1 Jacobian for a scalar x (Richardson's restarts included),
        the directional derivative along all of x (ones) for an array."""
        if not np.ndim(x):
            out, jac = self.jacobian(fn, [x], [0])
            check_pointwise(np.shape(out), ())
            return np.reshape(jac, np.shape(out))
        if np.iscomplexobj(x):  # each element's derivative as grad gives it (JAX's convention:
            # f′ where holomorphic), which no one real direction gives: the Jacobian's diagonal
            out, jac = self.jacobian(fn, [x], [0])
            check_pointwise(np.shape(out), np.shape(x))
            jac = np.reshape(jac, (x.size, x.size))
            if np.any(jac[~np.eye(x.size, dtype=bool)] != 0):
                raise ShapeError("a derivative at an array x is that of an element-wise f, but "
                                 "f mixes elements: use dk.jacobian (or dk.grad of a scalar "
                                 "function)")
            return np.reshape(np.diagonal(jac), np.shape(x))
        # along w = max(1, |x|), divided by w: each element stepped in proportion to its own
        # size (one step sized for the largest element was 50 % off for log at [1e4, 0.05])
        w = np.maximum(1.0, np.abs(x)).astype(x.dtype if x.dtype.kind == "f" else float)
        out, d = self._jvp(fn, [x], [w], pointwise=True)  # (checked per element, in w's units)
        return (d / w).astype(d.dtype)

    def _nth_derivative(self, g: Callable[[float], np.ndarray], n: int, scale: float,
                        dtype: np.dtype, eps: float | None = None) -> np.ndarray:
        """The n-th derivative of g at 0 (n ≥ 2) by the scheme, with its error estimate (`eps`:
        the precision g computes in, :func:`_precision`; its dtype's ε by default)."""
        if eps is None:
            eps = _eps(dtype if dtype.kind == "f" else np.dtype(float))
        nth = _nth_forward if self.scheme == "forward" else _nth_central
        order = n + 1 if self.scheme == "forward" else n + 2
        return self._difference_by_scheme(lambda hh: nth(g, n, hh, eps),
                                          0.05 * 2.0 ** (n - 1) * scale,
                                          eps ** (1.0 / order) * scale)

    def _difference_by_scheme(self, difference: Callable[[float], tuple[np.ndarray, Any]],
                              h_richardson: float, h: float) -> np.ndarray:
        """A higher difference quotient (`difference(h)`: the quotient at step h and its rounding
        bound) by the scheme, settled by :meth:`_settle`: Richardson's tableau over h, h/2, …,
        h/2^(levels−1) from `h_richardson`; the others at `h` and h/2, whose gap ×4/3 (central,
        error O(h²)) or ×2 (forward, O(h)) is the error estimate. An explicit ``step`` is used
        as given, once."""
        if self.scheme == "richardson":

            def extrapolated(hh: float) -> tuple[np.ndarray, np.ndarray]:
                rows = [difference(hh / 2**k) for k in range(self.levels)]
                d, err = self._tableau([r for r, _ in rows])
                return d, (0.0 if err is None else err) + rows[-1][1]  # and the rounding

            return self._settle(extrapolated, self.step or h_richardson * self.step_scale, 1e-9)
        factor = 2.0 if self.scheme == "forward" else 4.0 / 3.0  # D(h) − f ≈ a·hᵖ: error =
        # |D(h) − D(h/2)|·2ᵖ/(2ᵖ−1)

        def at(hh: float) -> tuple[np.ndarray, np.ndarray]:
            (d, noise), (half, _) = difference(hh), difference(hh / 2)
            return d, factor * np.abs(d - half) + noise

        return self._settle(at, self.step or h * self.step_scale, SETTLED)

    def _settle(self, at: Callable[[float], tuple[np.ndarray, np.ndarray]], h: float,
                good: float) -> np.ndarray:
        """The difference `at(h)` with its error estimate per entry; where an entry's is above
        `good` relative to max(1, |D|) (or a value is not finite, or a point is outside the
        domain), again from 16×, 256×, 4096× smaller steps, keeping each entry's best (each is
        its own limit). Still above SETTLED: a warning."""
        best: np.ndarray | None = None
        err: np.ndarray | None = None
        failure: Exception | None = None
        for shrink in (1.0, 16.0, 256.0, 4096.0) if self.step is None else (1.0,):
            try:
                d, e = at(h / shrink)
            except (DomainError, NumericOverflowError) as exc:  # a point outside the domain
                failure = exc
                continue
            except FloatingPointError as exc:  # NumPy's own operators in f, or the arithmetic
                failure = DomainError(
                    f"finite differences ({self.scheme}) stepped outside the domain or "
                    f"overflowed ({exc}); use a one-sided scheme (method='fd-forward'), a smaller "
                    "step=, or an AD method")
                continue
            e = np.broadcast_to(e, np.shape(d))
            ok = np.isfinite(d) & np.isfinite(e)
            better = ok if err is None else ok & (e < err)
            if np.any(better):
                best = np.where(better, d, np.nan if best is None else best)
                err = np.where(better, e, np.inf if err is None else err)
                self.step_used = np.asarray(h / shrink)
            if err is not None and np.all(err <= good * np.maximum(1.0, np.abs(best))):
                break
        if best is None or err is None or not np.all(np.isfinite(err)):
            if failure is not None:
                raise failure
            raise NumericOverflowError(f"finite differences ({self.scheme}): every step tried "
                                       "gave a value that is not finite; use an AD method")
        return self._settled(best, err)

    def _settled(self, best: np.ndarray, err: np.ndarray) -> np.ndarray:
        """Record the largest error estimate, and warn where an entry's is still above SETTLED
        relative to max(1, |D|): never a silently wrong digit count."""
        self.error_estimate = float(np.max(err, initial=0.0))
        unsettled = err > SETTLED * np.maximum(1.0, np.abs(best))
        if np.any(unsettled) and self.pending is None:  # (a Hessian settles entry by entry)
            worst = float(np.max(np.where(unsettled, err, 0.0)))
            size = float(np.max(np.where(unsettled, np.maximum(1.0, np.abs(best)), 0.0)))
            advice = ("a smaller step= or an AD method" if self.scheme == "richardson"
                      else "method='fd-richardson' or an AD method")
            # said by :meth:`_answer` unless the trace confirms the answer
            self.pending = (f"finite differences ({self.scheme}): the derivative did not settle; "
                            f"its error estimate is {worst:.2g} (relative {worst / size:.2g}) "
                            f"in {int(np.count_nonzero(unsettled))} of {best.size} entries: use "
                            f"{advice} (method='forward').")
        return best


def _decided_apart(node: Any) -> bool:
    """Whether the complex step passes through comparison `node` (a boolean of two real
    operands) exactly: NumPy orders complex numbers by their real parts first, so x + ih
    compares as x does wherever the operands differ at the point — the same branch, whose
    imaginary part carries the derivative. At a tie the step's imaginary part would decide (a
    one-sided branch): refused there, as every other operation that is not analytic."""
    if node.dtype != np.bool_ or len(node.inputs) != 2:
        return False
    a, b = (np.asarray(i.value) for i in node.inputs)
    return a.dtype.kind in "fiu" and b.dtype.kind in "fiu" and bool(np.all(a != b))


#: relative error estimate (to max(1, |D|)) below which an n-th difference is accepted; above it
#: the steps restart smaller, and an answer still above it comes with a RuntimeWarning
SETTLED = 1e-4


def _difference(g: Callable[[float], np.ndarray], n: int, h: float, eps: float,
                offsets: Sequence[float], signs: Sequence[int]) -> tuple[np.ndarray, np.ndarray]:
    """Σₖ signₖ C(n,k) g(offsetₖ·h)/hⁿ, and its rounding bound ε·Σₖ C(n,k)|g(offsetₖ·h)|/hⁿ per
    entry (which keeps a step the dtype rounds away — all differences 0 — from looking exact)."""
    values = [g(o * h) for o in offsets]
    d = sum(s * comb(n, k) * v for k, (s, v) in enumerate(zip(signs, values))) / h**n
    noise = eps * sum(comb(n, k) * np.abs(v) for k, v in enumerate(values)) / h**n
    return d, noise


def _nth_central(g: Callable[[float], np.ndarray], n: int, h: float, eps: float
                 ) -> tuple[np.ndarray, np.ndarray]:
    """δⁿg(0)/hⁿ = Σₖ (−1)ᵏ C(n,k) g((n/2 − k)h)/hⁿ: error c₁h² + c₂h⁴ + … (a symmetric
    stencil); with its rounding bound."""
    return _difference(g, n, h, eps, [n / 2 - k for k in range(n + 1)],
                       [(-1) ** k for k in range(n + 1)])


def _nth_forward(g: Callable[[float], np.ndarray], n: int, h: float, eps: float
                 ) -> tuple[np.ndarray, np.ndarray]:
    """Δⁿg(0)/hⁿ = Σₖ (−1)ⁿ⁻ᵏ C(n,k) g(kh)/hⁿ: error O(h); with its rounding bound."""
    return _difference(g, n, h, eps, list(range(n + 1)), [(-1) ** (n - k) for k in range(n + 1)])
