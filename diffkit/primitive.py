"""The primitive record and how its rules are applied: binding (evaluate or record) and linearizing.

A :class:`Primitive` declares one operation once: evaluation through an array module ``xp``, its
derivative rules, its SymPy translation, its names (NumPy, math text, scalar code, listings) and
its test domain. The table of every primitive is :mod:`diffkit.primitives`; this module is the
machinery every engine shares:

* :func:`bind` applies a primitive: plain arrays are evaluated at once; a traced value
  (:class:`~diffkit.ir.Traced`) among the arguments records a node on its tape instead.
* :meth:`Primitive.linearize` gives the linear map of one application at a point, as a
  :class:`Linearization` with ``jvp`` (tangents forward, k directions at once) and ``vjp``
  (cotangent backward). Forward mode, reverse mode, traces and the compiler all go through it.

Three kinds of rule sets produce a linearization:

* **element-wise**: the local partials ``∂out/∂xᵢ`` (memoized; the reverse sweep multiplies,
  the forward sweep sums products; broadcasting is undone by the driver);
* **linear** structural ops (sum, reshape, getitem, …): the map itself is its JVP, applied to the
  k stacked tangents by a ``batch`` rule, and a ``vjp`` rule (its transpose);
* **other** structural ops (matmul, amax, …): a batched ``jvp`` rule and a ``vjp`` rule.

Complex numbers follow JAX's convention (see docs/design.md): for holomorphic primitives the
partial is the complex derivative f′(z) and x̄ = ȳ·f′(z); non-holomorphic ones that accept complex
inputs declare Wirtinger derivatives (∂f/∂z, ∂f/∂z̄), giving ż ↦ ∂ż + ∂̄·conj(ż) forward and
ȳ ↦ ȳ·∂ + conj(ȳ·∂̄) backward; the rest refuse complex inputs by name.

An infinite local partial is a named error where it is used, except that an exactly zero tangent
or cotangent times it gives zero ("strong zero": relu(x)**0.5 at x = −1 has derivative 0).
"""

from __future__ import annotations

import contextvars
import inspect
import math
import operator
import os
import re
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .backend import array_namespace
from .display import format_value
from .errors import (
    KINK,
    ArityError,
    DiffkitError,
    DomainError,
    InputTypeError,
    MissingRuleError,
    NonDifferentiableError,
    NumericOverflowError,
    ShapeError,
)
from .ir import Node, Traced, held_value

Rule = Callable[..., Any]
_F64 = np.float64
_NO_PARAMS: dict[str, Any] = {}

#: NumPy's floating-point errors inside diffkit's API: a NaN, a division by zero or an overflow is
#: a named error, never a value.
STRICT = {"divide": "raise", "invalid": "raise", "over": "raise", "under": "ignore"}

#: Marker partials that the engines apply without multiplying.
ONE = 1
MINUS_ONE = -1

#: What a ``prepare`` rule returns when the application is the identity (reshape to the same shape).
IDENTITY = object()

#: the dtypes wider than float64 (where NumPy has them), whose constants a Python float rounds
_LONG_DTYPES = frozenset({np.dtype(np.longdouble), np.dtype(np.clongdouble)}) - {
    np.dtype(np.float64), np.dtype(np.complex128)}


class Constant:
    """A mathematical constant a rule computes with (ln 2, ln 10, π, π/180), at the precision of
    the value it meets: ``c(x)`` is a Python float (weak: a float32 x keeps float32) for x up to
    float64 and complex128, a long double for a long double x (ln 10 as a float64 put 869
    ε(longdouble) into log10′, in every engine). The same rule as :func:`_at_precision_of` for
    the Python numbers among a rule's arguments, for the numbers inside it."""

    __slots__ = ("long", "value")

    def __init__(self, value: float, digits: str) -> None:
        self.value = value  # the float64 NumPy's own float64 loops use (math.pi / 180)
        self.long = np.longdouble(digits)  # correctly rounded from 36 significant digits

    def __call__(self, x: Any) -> Any:
        dtype = getattr(x, "dtype", None)
        return self.long if dtype is not None and dtype in _LONG_DTYPES else self.value


class NoRule:
    """An element-wise partial the table does not give, though the derivative exists (the order
    v of a Bessel function, the shape a of gammainc): differentiating by that input raises
    MissingRuleError with `message`, which names method='fd'. (A None partial means the input
    is a constant: its derivative would be a silent zero.) The rule is called only where that
    input carries a derivative, so the other inputs differentiate as usual; the tests read the
    marker to differentiate by the other inputs and to check the refusal."""

    __slots__ = ("message",)

    def __init__(self, message: str) -> None:
        self.message = message

    def __call__(self, *args: Any) -> Any:
        raise MissingRuleError(self.message)

    def __repr__(self) -> str:
        return f"NoRule({self.message!r})"


def ruled_inputs(p: Any) -> list[int]:
    """The inputs of an element-wise record that its partials differentiate: a rule that is
    neither None (a constant) nor :class:`NoRule` (refused by name)."""
    rules = p.partials or ()
    return [i for i, r in enumerate(rules) if r is not None and not isinstance(r, NoRule)]


def flat_everywhere(active: Any, steady: Any, *args: Any) -> tuple[bool, ...]:
    """``flat`` of a piecewise-constant partial (a step, a selection): each of its zeros holds
    near the point (the op's ``kinks``, where declared, are excluded)."""
    return (True,) * (len(args) - 1)


@dataclass(frozen=True, eq=False)
class Primitive:
    """One primitive operation and everything every engine, printer and test needs to know.

    Evaluation and rules:
        name: the operation's name (``dk.<name>``, its name in math text and listings).
        nargs: number of array arguments (None: any number, e.g. concatenate).
        impl: ``impl(xp, *values, **params)`` evaluates it with array module ``xp``.
        kind: "elementwise" or "structural".
        partials: element-wise: one ``(*inputs, out) -> ∂out/∂input_i`` per input (None: that
            input is not differentiable, e.g. where's condition); ``ONE``/``MINUS_ONE`` markers.
        wirtinger: element-wise, non-holomorphic ops defined on complex numbers: ``(x, out) ->
            (∂f/∂z, ∂f/∂z̄)``.
        linear: structural ops that are linear in their inputs: the JVP is the op applied to the
            tangents (by ``batch``), the ``vjp`` is its transpose.
        batch: ``batch(ts, k, xs, out, **params)`` applies the op to inputs with a leading axis
            of k directions (linear ops; without it, one direction at a time).
        jvp: non-linear structural ops: ``jvp(tangents, k, xs, out, **params)``; tangents have a
            leading axis of k directions or are None (zero).
        vjp: structural ops: ``vjp(ct, xs, out, **params)`` -> one cotangent per input; a
            cotangent may be a zero-argument function, called only if that input needs one.
        vjp_rows: optional, structural ops: ``vjp_rows(cts, k, xs, out, **params)``, the VJP of
            k stacked cotangents (leading axis k) at once — reverse mode's Jacobian in one
            sweep; without it, one row at a time. (For a linear op this is its transpose's
            ``batch`` rule.)
        vjp_diagonal: optional, structural ops: ``vjp_diagonal(d, xs, out, **params)``, the VJP
            of the diagonal rows dᵢ·eᵢ (one per output element, d shaped like the output): the
            seeds of a reverse-mode Jacobian kept diagonal through element-wise ops. One
            cotangent stack (leading axis out.size) per input, None where it has no such rule
            (the sweep then builds the dense rows).
        jvp_diagonal: optional, structural ops: ``jvp_diagonal(ds, xs, out, **params)``, the
            dual for forward mode: the output's k stacked tangents when each input's tangents are
            diagonal rows dᵢ·eᵢ (``ds``: one d per input, None for no tangent), or None (dense).
        differentiable: False for comparisons, sign, stop_gradient: outputs are constants.
        prepare: ``prepare(*args, **params) -> (args, params)`` checks and normalizes a call of
            ``dk.<name>`` (axes, shapes, indices) before binding; may return ``IDENTITY``.
        expand: optional, fused ops: ``expand(*inputs, **params)``, the same value written with
            other primitives, operation for operation as ``impl`` computes it (so bit for bit
            the same). Generated code prints the expansion instead of calling ``impl``, so the
            parts its ``vjp`` computes again (a log-softmax) are computed once; the eager tape
            and the other engines keep the one fused node.
        place: optional, linear ops that only move elements: ``place(in_shape, **params)``,
            ``(pieces, covers)`` with ``out[o] = x[i]`` for each (o, i) in pieces (indices of
            slices and integers; None for the whole array) and the rest of the output zero
            unless ``covers``; None where the parameters do not say it with slices. Generated
            code adds such a value into a sum in place (``a[o] += x[i]``).

    Translations and names:
        sympy: the SymPy translation: a SymPy function name ("sin"), or
            ``(sympy_module, *args, **params) -> expr``; element-wise ones map scalars,
            structural ones NumPy object arrays (default: ``impl`` run on object arrays).
            ``False``: no translation (the symbolic engine refuses by name).
        numpy: NumPy ufuncs and functions (names) that dispatch here from traced values.
        scipy: ``scipy.special`` ufuncs (names) that dispatch here.
        aliases: other names accepted in math text (``ln`` for log).
        parseable: callable by name in ``dk.parse``.
        scalar: Python code for an application to scalars, a format string over the operands
            (``"math.sin({0})"``, ``"max({0}, {1})"``); None: rendered from ``impl``. Written
            without NumPy (``math``, builtins and operators only) it is also the primitive's
            *float form* (``on_floats``): what scalar code on Python floats runs — calls of
            ``dk.<name>`` on floats, the tracing tape's recorders and the printed rules
            (:mod:`diffkit.float_rules`) — so it must give NumPy's value wherever that is
            finite (a ``math`` function: up to the last bit), and NumPy's value or an
            exception elsewhere.
        symbol: the listing symbol: an infix operator ("+") or a function name.
        unicode, latex: how traces write it.
        unit: per argument, the value that makes the op return the other argument (x·1 = x).
        cost: array work of one application in element operations, ``cost(in_shapes,
            out_shape)`` (default: every element read or written once), for ``method="auto"``.

    Test and documentation data:
        domain: per input, the interval (lo, hi) tests sample from; domain_text: in words.
        valid: ``valid(*inputs) -> bool`` (or a bool array), written with Python operators:
            where the op is defined (log: ``x > 0``). Generated gradient code that does not
            need the op's value checks this comparison instead of computing the op.
        holomorphic: complex-analytic in every argument (the complex-step method may pass
            through it; complex-valued derivatives and the symbolic engine may use f′(z)).
            False by default — the safe answer for a record that does not say: it is then
            refused where analyticity is needed, never differentiated as if z̄ were z.
        special: documented values at special points: ``(point, expected partials)`` or
            ``(point, "nondifferentiable")``.
        kinks: ``kinks(*inputs, out) -> bool array``, for an element-wise op whose partials are a
            convention somewhere (abs′(0) = 0, maximum's ½–½ at ties): False there. A product
            with such a partial that is differentiated again is wrapped in ``subgradient``, so
            that a second derivative through the kink is a NonDifferentiableError, never the
            convention's derivative (|x|² at 0 would give 0 for 2).
        flat: ``flat(active, steady, *inputs, out) -> one entry per partial``, for an element-wise op
            some of whose partials are zero on a whole neighbourhood (a step's 0, relu′ left of
            0, the unselected side of ``maximum`` or ``where``, x·c with a constant c = 0): True
            (or a mask) where a zero of that partial holds near the point too. Only such a zero
            may win over an infinite derivative (0·∞ = 0, the strong zero); a zero that holds at
            the point alone (2x at 0) makes 0·∞ a NonDifferentiableError (sqrt(x)² at 0 is 1,
            not 0). `active[j]`: whether input j depends on the values being differentiated.
            Where the op also has ``kinks``, zeros at a kink are never flat. `steady[j]`: True,
            or a mask false where input j may change in every neighbourhood of the point (a
            comparison at a tie: see ``ties``); a zero that such a value makes (a mask's 0) is
            not flat there.
        ties: ``ties(active, *inputs, out) -> bool array``, for a comparison (a boolean output
            of numbers) or a step (sign, heaviside, floor, rint, …): True where the output
            jumps in every neighbourhood of the point when the inputs that are `active` move
            (x > 0 at x = 0: the operands are equal; sign at 0; floor at an integer). Such an
            element is not locally constant, so a zero it makes, itself or through a
            comparison (``where``'s unselected side, x·(x > 0), x·(sign(x) > 0.5)), is not
            flat there (see :func:`diffkit.sweeps.unsteady_masks`). A step may return
            ``(mask, left, right)``: its values just left and right of the jump (floor at n:
            n − 1, n), so that a comparison of it that no side flips (floor(x) > 5) is steady.
        affine_pieces: the op is affine on each piece of its domain, with the partials the
            table's rules give there as its constant coefficients — a selection (maximum, fmax,
            clip, amax: which argument, or the ½–½ of a tie), a kink (abs, relu, copysign: which
            side, abs′(0) = 0), a step or remainder (floor, sign, heaviside, mod, fmod: which
            whole number). The piece is a *decision* the float64 program takes at a point; the
            exact reference of ``dk.compare`` takes it from there and computes only the
            arithmetic exactly: out = Σ ∂ᵢ·xᵢ + c, the ∂ᵢ (element-wise: ``partials``;
            structural: ``vjp``) and c = out − Σ ∂ᵢ·xᵢ at the float64 values
            (:func:`diffkit.sympy_program.scalar_program` under ``at_point``). Element-wise ops
            whose ``flat`` is :func:`flat_everywhere` have it by default (piecewise-constant
            partials).
        signed_zero: per argument of an element-wise op, where its value or derivative reads
            the sign of a zero: False (nowhere), True (wherever the argument is a zero:
            copysign's y, signbit, 1/x, x//y's divisor, Γ — NumPy gives −1 and 1, −∞ and ∞ for
            −0.0 and +0.0), or a rule ``(*inputs) -> bool array`` saying where, at these
            argument values, a zero in it decides (arctan2's y: a zero y with x ≤ 0, ±π; a
            power's base: a zero base with a negative exponent; a branch cut: a complex
            argument on the cut with a zero part, sqrt(−1 ∓ 0j) = ∓i — declared with
            :func:`diffkit.primitives.declare.cut`). SymPy and mpmath have one unsigned 0, and
            their branch cuts are not NumPy's sides, so the symbolic engine refuses by name at
            a point where a flagged argument holds such a value (see
            :meth:`sign_of_zero_read` and :func:`diffkit.sympy_program.scalar_program`).
            Checked against NumPy by tests/test_symbolic_signed_zero42.py.
        symbolic_inexact: a rule ``(order, *inputs) -> bool array`` saying where the symbolic
            engine's float64 evaluation of SymPy's derivatives of this op, to `order`, cannot
            be trusted (relative error above ~1e-10 against mpmath) although the derivative
            exists: beta's B·(ψ(a) − ψ(a + b)) cancels near poles of Γ(a + b) and at small or
            lopsided arguments, and SciPy's ψ, which SymPy's Γ′ = Γ·ψ reads, is 1e-7 off just
            right of a negative pole. The reverse and forward rules use stable forms there.
            Checked, like ``signed_zero``, at each point the symbolic engine evaluates (a
            cached derivation too): a MissingRuleError naming method='reverse' (see
            :meth:`symbolic_inexact_at`, :func:`diffkit.sympy_program.check_point`). Exact
            expressions (``dk.symbolic(f).expressions``, dk.compare's mpmath reference) are
            not refused. Measured by tests/test_symbolic_beta43.py.
        doc: one line for ``help(dk.<name>)``.
    """

    name: str
    nargs: int | None
    impl: Rule
    kind: str
    partials: tuple[Rule | None, ...] | None = None
    wirtinger: Rule | None = None
    linear: bool = False
    batch: Rule | None = None
    jvp: Rule | None = None
    vjp: Rule | None = None
    vjp_rows: Rule | None = None
    vjp_diagonal: Rule | None = None
    jvp_diagonal: Rule | None = None
    differentiable: bool = True
    prepare: Rule | None = None
    expand: Rule | None = None
    place: Rule | None = None
    sympy: Any = None
    numpy: tuple[str, ...] = ()
    scipy: tuple[str, ...] = ()
    aliases: tuple[str, ...] = ()
    parseable: bool = False
    scalar: str | None = None
    symbol: str = ""
    unicode: str = ""
    latex: str = ""
    unit: tuple[float | None, ...] = ()
    cost: Rule | None = None
    domain: tuple[tuple[float, float], ...] = ()
    domain_text: str = ""
    valid: Rule | None = None
    holomorphic: bool = False
    special: tuple[tuple[tuple[float, ...], Any], ...] = field(default=())
    kinks: Rule | None = None
    flat: Rule | None = None
    ties: Rule | None = None
    signed_zero: tuple[bool | Rule, ...] = ()
    symbolic_inexact: Rule | None = None
    affine_pieces: bool = False
    doc: str = ""

    def __post_init__(self) -> None:
        # NumPy scalars under the infix operator give what the ufunc gives (same IEEE result,
        # same dtype, same errstate), ~10× cheaper than ``np.multiply(x, 1.5)``: the tape uses it
        # for scalar code where at least one operand is a NumPy scalar.
        op = _SCALAR_OPERATORS.get(self.symbol) if self.kind == "elementwise" and self.nargs == 2 \
            else None
        object.__setattr__(self, "scalar_operator", op)
        object.__setattr__(self, "on_floats", _float_function(self))
        #: scalar code's recorder of a one-argument primitive with a float form
        #: (diffkit.recorders), made on first use
        object.__setattr__(self, "scalar_recorder", None)

    def sign_of_zero_read(self, values: Sequence[Any]) -> int | None:
        """The first argument (its position) whose sign of a zero this op reads at `values`
        (its inputs' values at a point; ``signed_zero``), or None: True flags a zero of either
        sign, a rule says where; integer and boolean arguments have no signed zero."""
        for i, rule in enumerate(self.signed_zero):
            if rule is False or np.asarray(values[i]).dtype.kind not in "fc":
                continue
            with np.errstate(all="ignore"):
                hit = np.asarray(values[i]) == 0 if rule is True else rule(*values)
            if bool(np.any(hit)):
                return i
        return None

    def symbolic_inexact_at(self, values: Sequence[Any], order: int) -> bool:
        """Whether the symbolic engine's float64 derivatives of this op to `order` cannot be
        trusted at `values` (its inputs' values at a point; ``symbolic_inexact``)."""
        if self.symbolic_inexact is None or not all(
                np.asarray(v).dtype.kind in "fiu" for v in values):
            return False
        with np.errstate(all="ignore"):
            return bool(np.any(self.symbolic_inexact(order, *values)))

    @property
    def infix(self) -> bool:
        return self.symbol in INFIX

    def __call__(self, *args: Any, **params: Any) -> Any:
        if self.prepare is None and not params:
            if len(args) == 1:  # the common unary call: one type test decides
                a = args[0]
                if isinstance(a, Traced) and self.nargs == 1:  # scalar code first, then the
                    record = self.scalar_recorder  # general path
                    out = record(a) if record is not None else a.tape.unary(self, a)
                    return out if out is not None else a.tape.record(self, args, _NO_PARAMS)
                t = type(a)
                if t is float and self.on_floats is not None:  # Python floats stay Python floats
                    try:
                        r = self.on_floats(a)
                    except (ArithmeticError, ValueError):
                        r = None
                    if type(r) is float and r - r == 0.0:
                        return r
                    return self.evaluate(np, (_F64(a),), _NO_PARAMS)  # NumPy's value or error
                if t is _F64 or t is float:
                    try:
                        return self.impl(np, a)
                    except Exception:  # noqa: BLE001 - evaluate names the error
                        return self.evaluate(np, args, _NO_PARAMS)
            if self.on_floats is not None and args:  # Python floats and bools (a where's
                bools = 0  # condition): the float form, as for one argument above
                for a in args:
                    t = type(a)
                    if t is not float:
                        if t is not bool and t is not np.bool_:
                            break
                        bools += 1
                else:
                    try:
                        r = self.on_floats(*args)
                    except (ArithmeticError, ValueError, TypeError):
                        r = None
                    # NumPy's type: a float from a float operand (bools alone give float16),
                    # NumPy's bool from floats alone or bools alone (max(True, 0.5) is its
                    # 1.0; ~ of a comparison is NumPy's logical not, where Python's ~True is -2)
                    if type(r) is float and r - r == 0.0 and bools < len(args):
                        return r
                    if (type(r) is bool or type(r) is np.bool_) and bools in (0, len(args)):
                        return np.True_ if r else np.False_
                    args = tuple(_F64(a) if type(a) is float else a for a in args)
            for a in args:  # plain scalars (the rules of scalar code): NumPy directly
                t = type(a)
                if t is not _F64 and t is not float:
                    break
            else:
                return self.evaluate(np, args, _NO_PARAMS)
        if self.prepare is not None:
            prepared = self.prepare(*args, **params)
            if prepared is IDENTITY:
                return args[0]
            args, params = prepared
        return bind(self, *args, **params)

    @property
    def __signature__(self) -> inspect.Signature:  # what help() and IDEs show for dk.<name>
        fn = self.prepare or self.impl
        sig = inspect.signature(fn)
        params = list(sig.parameters.values())
        return sig.replace(parameters=params if self.prepare else params[1:])

    def evaluate(self, xp: Any, args: Sequence[Any], params: dict[str, Any]) -> Any:
        """``impl`` on plain arrays, with NumPy's floating-point errors turned into named ones
        (another array module: :meth:`_evaluate_elsewhere`)."""
        if xp is not np:
            return self._evaluate_elsewhere(xp, args, params)
        try:
            return self.impl(xp, *args, **params)
        except DiffkitError:
            raise
        except FloatingPointError as exc:
            raise numeric_error(self, args, exc) from None
        except ValueError as exc:  # NumPy: operands that do not broadcast, or values it refuses
            raise _value_error(self, args, exc) from None
        except TypeError as exc:  # NumPy/SciPy: a dtype the ufunc has no loop for
            named = dtype_error(self, args, exc)
            if named is None:
                raise
            raise named from None

    def _evaluate_elsewhere(self, xp: Any, args: Sequence[Any], params: dict[str, Any]) -> Any:
        """:meth:`evaluate` on another array module (CuPy). A 0-d NumPy array among the
        operands (a rule's constant) is passed as its NumPy scalar, which CuPy takes beside its
        arrays (it refuses the array: ``TypeError: Unsupported type``); where an error is set to
        raise, the flags NumPy would have set are read off the result
        (:func:`_check_as_numpy_would`), unless the impl raised them itself (SciPy's)."""
        args = [a[()] if type(a) is np.ndarray and not a.ndim else a for a in args]
        emulated = [False]
        token = _EMULATED.set(emulated)
        try:
            out = self.impl(xp, *args, **params)
            if not emulated[0] and _strict_now():  # NumPy would raise; CuPy is silent
                _EMULATED.set(None)  # (the check is no impl: see raise_flags_as_numpy)
                _check_as_numpy_would(self, xp, args, out)
        except DiffkitError:
            raise
        except FloatingPointError as exc:
            raise numeric_error(self, args, exc) from None
        except ValueError as exc:
            raise _value_error(self, args, exc) from None
        except TypeError as exc:
            named = dtype_error(self, args, exc)
            if named is None:
                raise
            raise named from None
        finally:
            _EMULATED.reset(token)
        return out

    def linearize(self, xs: Sequence[Any], out: Any, params: dict[str, Any],
                  active: Sequence[bool]) -> Linearization:
        """The linear map of this application at the point (`xs`, `out`); only the `active`
        inputs get tangents and cotangents."""
        if self.partials is not None:
            if not self.holomorphic and any(a and _is_complex(x) for x, a in zip(xs, active)):
                if self.wirtinger is None:
                    raise MissingRuleError(
                        f"{self.name} is not differentiable for complex inputs (it is not "
                        "complex-analytic and has no Wirtinger rule): split the number with "
                        "dk.real and dk.imag, or use real inputs")
                return WirtingerLinearization(self, xs, out, active)
            return ElementwiseLinearization(self, xs, out, active)
        return StructuralLinearization(self, xs, out, params, active)

    def to_sympy(self, *args: Any, **params: Any) -> Any:
        """The SymPy translation applied to `args` (scalars or object arrays)."""
        import sympy

        if self.sympy is False:
            raise MissingRuleError(f"{self.name} has no SymPy translation: use method='reverse'")
        if isinstance(self.sympy, str):
            return getattr(sympy, self.sympy)(*args)
        if self.sympy is None:
            return self.impl(np, *args, **params)
        return self.sympy(sympy, *args, **params)

    def __repr__(self) -> str:
        return f"<primitive {self.name}>"


#: the arithmetic infix symbols whose Python operator is the ufunc on NumPy scalars
_SCALAR_OPERATORS: dict[str, Callable[[Any, Any], Any]] = {
    "+": operator.add, "-": operator.sub, "*": operator.mul, "/": operator.truediv}

#: the same operators as Python float's methods (a Python float out, also for a NumPy float64
#: operand; x/0 is a ZeroDivisionError, not a NumPy error)
_FLOAT_OPERATORS: dict[str, Callable[[Any, Any], Any]] = {
    symbol: getattr(float, f"__{op.__name__}__") for symbol, op in _SCALAR_OPERATORS.items()}


def _float_function(prim: Primitive) -> Callable[..., Any] | None:
    """The primitive on Python floats (its *float form*), read off its declared scalar code:
    ``+ − × ÷`` are Python float's operators, ``math.<f>(…)`` is ``math.<f>``, and any other
    template written without NumPy (``(-{0})``, ``abs({0})``, ``({0} < {1})``) is compiled as a
    function of its operands; None for everything else (those run through NumPy). Scalar code
    in the tape and in partial rules runs on it (10× cheaper than a NumPy scalar). A ``math``
    function may differ from NumPy's array loops in the last bit, as generated scalar code
    always has; operators and comparisons are exact. Callers hand errors and non-finite results
    to NumPy (its value or the named error)."""
    if prim.kind != "elementwise" or not prim.nargs:
        return None
    if prim.nargs == 2 and prim.symbol in _FLOAT_OPERATORS:
        return _FLOAT_OPERATORS[prim.symbol]
    template = prim.scalar
    if template is None or "np." in template:
        return None
    names = [f"_{i}" for i in range(prim.nargs)]
    operands = ", ".join(f"{{{i}}}" for i in range(prim.nargs))
    call = re.fullmatch(r"math\.(\w+)\((.*)\)", template)
    if call and call[2] == operands and hasattr(math, call[1]):
        return getattr(math, call[1])
    source = f"lambda {', '.join(names)}: {template.format(*names)}"
    # the table's own text (no user text reaches it), with math alone in scope
    function = eval(compile(source, f"<diffkit float form of {prim.name}>", "eval"),
                    {"__builtins__": {"abs": abs, "max": max, "min": min}, "math": math})
    function.source = source
    return function


#: infix listing symbols (``a + b``)
INFIX = ("+", "-", "*", "/", "**", "@", ">", "<", ">=", "<=", "==", "!=")

@dataclass(frozen=True, eq=False)
class Composite:
    """A function of the table that is an exact composition of primitives (``logaddexp``, ``dot``,
    ``softmax``): engines differentiate it through the primitives it records, so it has no rules of
    its own. It is declared like a primitive — public name, NumPy names, math-text names — and the
    registry tests and the coverage page read it.

    Attributes:
        name, fn: its public name and the function.
        numpy, aliases, parseable: names that dispatch here (NumPy, math text).
        nargs: array arguments taken by name in math text (None: not fixed).
        domain: per input, the interval tests sample from (empty: (-2, 2) each).
        doc: one line for ``help(dk.<name>)``.
    """

    name: str
    fn: Callable[..., Any]
    numpy: tuple[str, ...] = ()
    scipy: tuple[str, ...] = ()
    aliases: tuple[str, ...] = ()
    parseable: bool = False
    nargs: int | None = None
    domain: tuple[tuple[float, float], ...] = ()
    doc: str = ""
    kind: str = "composite"

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.fn(*args, **kwargs)

    @property
    def __signature__(self) -> inspect.Signature:
        return inspect.signature(self.fn)

    def __repr__(self) -> str:
        return f"<composite {self.name}>"


#: every primitive by name (filled by :mod:`diffkit.primitives`)
REGISTRY: dict[str, Primitive] = {}
#: every composite by name
COMPOSITES: dict[str, Composite] = {}

#: public names of primitives and composites, and the NumPy / scipy.special names that dispatch
#: to them
PUBLIC: dict[str, Callable[..., Any]] = {}
NUMPY_NAMES: dict[str, Callable[..., Any]] = {}
SCIPY_NAMES: dict[str, Callable[..., Any]] = {}
#: the NumPy objects themselves (ufuncs, functions) -> what they dispatch to, resolved from the
#: names as they are registered (what ``__array_function__``/``__array_ufunc__`` look up)
NUMPY_OBJECTS: dict[Any, Callable[..., Any]] = {}
#: called with (np_name, fn) for every name :func:`dispatch_numpy` registers, also later ones
#: (the Tensor class installs its ``x.<name>()`` methods from it)
NUMPY_NAME_LISTENERS: list[Callable[[str, Callable[..., Any]], None]] = []


def dispatch_numpy(np_name: str, fn: Callable[..., Any]) -> None:
    """Make ``numpy.<np_name>`` ("linalg.norm" for a submodule) applied to traced values call
    `fn`. Names this NumPy lacks are kept by name only (``x.<name>()`` methods)."""
    NUMPY_NAMES[np_name] = fn
    for listener in NUMPY_NAME_LISTENERS:
        listener(np_name, fn)
    target: Any = np
    for part in np_name.split("."):
        target = getattr(target, part, None)
    if target is not None:
        NUMPY_OBJECTS[target] = fn


def register(p: Any) -> Any:
    """Add a record (primitive or composite) to its registry, with its public and NumPy names."""
    (COMPOSITES if isinstance(p, Composite) else REGISTRY)[p.name] = p
    PUBLIC[p.name] = p
    for np_name in p.numpy:
        dispatch_numpy(np_name, p)
    for sp_name in p.scipy:
        SCIPY_NAMES[sp_name] = p
    if p.__doc__ is not p.doc and p.doc:
        object.__setattr__(p, "__doc__", p.doc)
    return p


def bind(prim: Primitive, *args: Any, **params: Any) -> Any:
    """Apply `prim`: evaluate plain arrays now, or record on the innermost tape among the arguments."""
    top = None
    for a in args:
        t = type(a)
        if t is _F64 or t is float or t is int:
            continue
        if isinstance(a, Traced):
            if top is None or a.tape.level > top.tape.level:
                top = a
        elif type(a) is np.ndarray and a.dtype.kind == "O" and a.size:
            args = tuple(from_objects(b) for b in args)  # np.array([traced, …]) of traced values
            return bind(prim, *args, **params)
        elif type(a) is list or type(a) is tuple:  # NumPy reads a sequence as an array
            args = tuple(np.asarray(b) if type(b) is list or type(b) is tuple else b for b in args)
            return bind(prim, *args, **params)
    if prim.nargs is not None and len(args) != prim.nargs:
        raise ArityError(f"{prim.name} takes {prim.nargs} argument(s), got {len(args)}")
    if top is None:
        return prim.evaluate(array_namespace(*args), args, params)
    return top.tape.record(prim, args, params)


def from_objects(a: Any) -> Any:
    """A NumPy object array of numbers and traced values as one traced array (stacked elements);
    anything else as it is."""
    if not (type(a) is np.ndarray and a.dtype.kind == "O" and a.size):
        return a
    items = list(a.reshape(-1))
    if not any(isinstance(v, Traced) for v in items):
        return np.asarray(a.tolist())
    reshape, concatenate = REGISTRY["reshape"], REGISTRY["concatenate"]
    parts = [reshape(v, (1,)) if isinstance(v, Traced) else np.reshape(np.asarray(v, float), (1,))
             for v in items]
    return reshape(concatenate(parts, axis=0), a.shape)


# ----- linearizations ---------------------------------------------------------------------------


class Linearization:
    """The linear map of one primitive application at a point.

    ``jvp(ts, k)``: the output tangent (leading axis k) from input tangents (None: zero).
    ``vjp(ct)``: one cotangent per input (None where inactive or zero), shaped like the inputs or
    broadcastable to them (the driver sums broadcast axes away).
    ``partials``: the local partials for element-wise ops (what traces and drawings show), else
    None.
    """

    __slots__ = ()
    partials: Any = None

    def jvp(self, ts: Sequence[Any], k: int) -> Any:
        raise NotImplementedError

    def vjp(self, ct: Any) -> list[Any]:
        raise NotImplementedError

    def vjp_rows(self, cts: Any, k: int) -> list[Any]:
        """The VJP of k cotangents stacked on a leading axis (results keep that axis). Element-wise
        rules broadcast over it as they are."""
        return self.vjp(cts)

    def vjp_diagonal(self, rows: DiagonalRows) -> list[Any] | None:
        """The VJP of diagonal rows without building them (see :class:`DiagonalRows`), or None
        where this application has no such rule: the sweep then uses ``rows.dense()``."""
        return None

    def jvp_diagonal(self, ts: Sequence[Any]) -> Any:
        """Forward mode's dual: the output tangents when the input tangents include diagonal
        rows (a Jacobian's identity seeds), or None where this application has no such rule."""
        return None


def _physical_memory() -> int:
    """The machine's memory in bytes (no bound where the system does not say)."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, OSError, ValueError):
        return 2**63


class DiagonalRows:
    """The k = size stacked cotangents dᵢ·eᵢ of a node shaped `d`: a k × k diagonal, kept as its
    diagonal. A reverse-mode Jacobian's seeds are these rows with d = 1 (the identity); an
    element-wise op with a same-shaped input maps them to the diagonal rows d·∂out/∂x — the same
    products the dense rows would take, without their k² zeros — and a rule that knows the
    structure (matmul against a matrix) makes its dense result from d directly."""

    __slots__ = ("d",)
    __array_ufunc__ = None  # ndarray + DiagonalRows: NumPy defers to __radd__ (never an object array)

    def __init__(self, d: Any) -> None:
        self.d = d

    @property
    def shape(self) -> tuple[int, ...]:
        return _shape(self.d)

    def dense(self) -> Any:
        """The rows as one array of shape (k, *shape)."""
        d = self.d
        xp = array_namespace(d)
        k = int(np.prod(_shape(d), dtype=np.int64))
        need = k * k * np.dtype(d.dtype).itemsize
        try:
            if need > _physical_memory():
                raise MemoryError
            out = xp.zeros(k * k, dtype=d.dtype)
        except MemoryError:  # NumPy's bare one, or what overcommit would grant and then kill
            raise MissingRuleError(
                f"forward mode carries one tangent per input element: {k} tangents of {k} "
                f"elements need {need / 2**30:.3g} GiB; use method='reverse' (one sweep for a "
                "gradient) or 'auto'") from None
        out[::k + 1] = d.reshape(-1)
        return out.reshape((k, *_shape(d)))

    def __add__(self, other: Any) -> Any:
        if type(other) is DiagonalRows:
            return DiagonalRows(self.d + other.d)
        return self.dense() + other

    __radd__ = __add__


def _at_precision_of(xs: Sequence[Any], out: Any) -> Sequence[Any]:
    """An element-wise rule's arguments at its output's precision. NumPy computed `out` with
    its inputs promoted (``x / c`` for a float64 x and a float16 c divides in float64), so the
    partials are taken there too: ∂(x/c)/∂x = 1/c in float16 put float16's rounding (3·10⁻⁴)
    into a float64 gradient. A float or complex array, NumPy scalar or traced value of a
    narrower type is cast (exactly), and so is a Python number beside a long double output
    (∂(s/3)/∂s = 1/3 was the float64 third: 512 ε(longdouble) in var's and std's gradients);
    anything else is left as it is."""
    wide = getattr(out, "dtype", None)
    if wide is None or wide.kind not in "fc":
        return xs
    real = wide if wide.kind == "f" else np.finfo(wide).dtype
    cast = None
    for i, x in enumerate(xs):
        narrow = getattr(x, "dtype", None)
        if narrow is None:  # a Python number: float64 precision, narrower than a long double
            t = type(x)
            if real.itemsize > 8 and (t is int or t is float or t is complex):
                cast = list(xs) if cast is None else cast
                cast[i] = (wide if t is complex else real).type(x)
            continue
        if narrow == wide or narrow.kind not in "fc":
            continue
        target = real if narrow.kind == "f" else wide
        if narrow != target and np.can_cast(narrow, target, "safe"):
            cast = list(xs) if cast is None else cast
            cast[i] = target.type(x) if isinstance(x, np.generic) else x.astype(target)
    return xs if cast is None else cast


class ElementwiseLinearization(Linearization):
    """Memoized local partials: x̄ᵢ = ȳ·∂out/∂xᵢ, ṫ = Σᵢ ∂out/∂xᵢ·ẋᵢ.

    A partial that is infinite here (sqrt′ at 0) marks the linearization ``singular``; products
    with it take 0·∞ = 0, and an infinity that survives reaches the result, where the engine
    names the primitive (see :meth:`message`)."""

    __slots__ = ("dtype", "out", "partials", "prim", "shape", "singular", "xs")

    def __init__(self, prim: Primitive, xs: Sequence[Any], out: Any, active: Sequence[bool]) -> None:
        self.prim, self.xs, self.out = prim, xs, out
        self.shape = () if type(out) is _F64 else _shape(out)
        #: the output's dtype: a Python-float partial or cotangent of scalar code is a number of
        #: it (a float64 output's is strong beside float32 values, as NumPy's float64 is)
        self.dtype = out.dtype.type if type(out) is not float and hasattr(out, "dtype") \
            else _F64 if type(out) is not complex else np.complex128  # (no dtype built per node)
        if type(out) is not float and type(out) is not _F64:
            xs = _at_precision_of(xs, out)
        else:
            for x in xs:  # a float64 scalar beside a narrower constant (x·1.0 / np.float32(3)):
                if type(x) is not float and type(x) is not _F64:  # the partials at float64
                    # too (1/c in float32 put 3·10⁻⁸ into every method's gradient)
                    xs = _at_precision_of(xs, _F64(out) if type(out) is float else out)
                    break
        args = (*xs, out)
        rules = prim.partials
        try:
            try:
                self.partials = [r(*args) if a and r is not None else None
                                 for r, a in zip(rules, active)]
            except FloatingPointError:
                raise
            except (ArithmeticError, ValueError):
                if not any(type(a) is float for a in args):
                    raise
                # scalar code on Python floats (x/0, 0.0 ** −0.5, math domain errors): NumPy
                # scalars instead, whose infinities are the singular partials handled below
                args = tuple(_F64(a) if type(a) is float else a for a in args)
                self.partials = [r(*args) if a and r is not None else None
                                 for r, a in zip(rules, active)]
            self.singular = False
        except FloatingPointError as exc:
            with np.errstate(all="ignore"):  # an infinite local partial: decided where it is used
                self.partials = [r(*args) if a and r is not None else None
                                 for r, a in zip(rules, active)]
            self.singular = True
            if "overflow" in str(exc) and not self._finite():
                # a derivative too large for its type (at a finite value of the function)
                raise NumericOverflowError(self.overflow_message(exc)) from None
        except NumericOverflowError as exc:  # the same, while tracing derivatives
            raise NumericOverflowError(self.overflow_message(exc)) from None
        except DomainError:
            raise NonDifferentiableError(self.message()) from None

    def vjp(self, ct: Any) -> list[Any]:
        if type(ct) is float:  # scalar code's Python float: a number of the output's dtype
            ct = self.dtype(ct)  # (a float64's times a float32 partial stays float64, as in NumPy)
        if type(ct) is _F64 and not self.singular:  # scalar code: plain products
            out = [None if p is None else ct if p is ONE else -ct if p is MINUS_ONE
                   else _product(ct, p) for p in self.partials]
            return out if self.prim.kinks is None else [self._kinked(t, (ct,)) for t in out]
        uniform = _uniform(ct)
        out = []
        for p in self.partials:
            if p is None:
                out.append(None)
            elif p is ONE:
                out.append(ct)
            elif p is MINUS_ONE:
                out.append(-ct if uniform is None else np.broadcast_to(-uniform, ct.shape))
            elif self.singular:
                out.append(strong_product(ct, p))
            elif uniform is None:
                out.append(_product(ct, p))
            else:  # ȳ is one number broadcast (the adjoint of a sum): scale, don't multiply
                out.append(_scaled(uniform, p, ct.shape))
        return out if self.prim.kinks is None else [self._kinked(t, (ct,)) for t in out]

    def _kinked(self, term: Any, seeds: Sequence[Any]) -> Any:
        """`term` (a product with this op's partials, `seeds` the derivatives it multiplies),
        marked where the partials are a convention (:attr:`Primitive.kinks`) and it will be
        differentiated again: there it has no derivative (see ``at_kink``)."""
        if term is None:
            return None
        at = next((x for x in self.xs if isinstance(x, Traced)), None)
        if at is None and not isinstance(term, Traced):  # a derivative being answered
            return term
        return at_kink(term, lambda: self.prim.kinks(*self.xs, self.out), self.prim.name, at,
                       seeds)

    def vjp_diagonal(self, rows: DiagonalRows) -> list[Any] | None:
        """Rows dᵢ·eᵢ through an element-wise op: the rows (d·∂out/∂x)ᵢ·eᵢ for every active input
        shaped like the output (None when one is broadcast, or a partial is infinite)."""
        if self.singular or rows.shape != self.shape or (
                self.prim.kinks is not None and isinstance(rows.d, Traced)):
            return None
        out: list[Any] = []
        for p, x in zip(self.partials, self.xs):
            if p is None:
                out.append(None)
            elif _shape(x) != self.shape or isinstance(p, Traced):
                return None
            else:
                d = rows.d
                out.append(DiagonalRows(d if p is ONE else -d if p is MINUS_ONE
                                        else _product(d, p)))
        return out

    def jvp_diagonal(self, ts: Sequence[Any]) -> Any:
        """Diagonal tangents dᵢ·eᵢ through an element-wise op: Σ ∂out/∂x·d, still diagonal,
        when every tangent is diagonal and shaped like the output (else None: dense)."""
        if self.singular or (self.prim.kinks is not None and any(
                type(t) is DiagonalRows and isinstance(t.d, Traced) for t in ts)):
            return None
        total = None
        for p, x, t in zip(self.partials, self.xs, ts):
            if t is None or p is None:
                continue
            if type(t) is not DiagonalRows or _shape(x) != self.shape or t.shape != self.shape \
                    or isinstance(p, Traced):
                return None
            d = t.d
            term = d if p is ONE else -d if p is MINUS_ONE else _product(p, d)
            total = term if total is None else total + term
        return None if total is None else DiagonalRows(total)

    def jvp(self, ts: Sequence[Any], k: int) -> Any:
        total = None
        nd = len(self.shape)
        for p, x, t in zip(self.partials, self.xs, ts):
            if t is None or p is None:
                continue
            t = _lead(t, k, _shape(x), nd)
            if type(p) is float:  # a number of the output's dtype (see vjp)
                p = self.dtype(p)
            term = t if p is ONE else -t if p is MINUS_ONE else (
                strong_product(t, p) if self.singular else _product(p, t))
            total = term if total is None else total + term
        if total is not None and _shape(total) != (k, *self.shape):
            total = REGISTRY["broadcast_to"](total, (k, *self.shape))
        return total if self.prim.kinks is None else self._kinked(total, ts)

    def message(self) -> str:
        return (f"{self.prim.name} is not differentiable at {self._point()}: its local derivative "
                "is not finite there")

    def overflow_message(self, exc: Exception) -> str:
        """A local derivative that overflows where the function has a finite value (Γ′ at 171.5):
        the function is differentiable, the derivative does not fit its floating-point type."""
        return (f"the derivative of {self.prim.name} at {self._point()} overflows its "
                f"floating-point type ({exc}): rescale the inputs or compute in a stabler form")

    def _finite(self) -> bool:
        """Whether every local partial is finite (an overflow on the way did no harm)."""
        return all(p is None or isinstance(p, Traced) or bool(np.all(np.isfinite(p)))
                   for p in self.partials)

    def _point(self) -> str:
        return ", ".join(format_value(plain_value(x)) for x in self.xs)



def overflow_error(prim: Primitive, xs: Sequence[Any], out: Any, params: dict[str, Any],
                   active: Sequence[bool]) -> NumericOverflowError | None:
    """The NumericOverflowError of a local partial of `prim` at (`xs`, `out`) that is finite in
    exact arithmetic but too large for its floating-point type (div's −o/b at b = 1e-220:
    −1e440), else None — an infinite partial (sqrt′ at 0: NumPy's 'divide'), finite partials,
    or a rule that cannot say. Decided by the table's own linearization at the values as NumPy
    arrays under :data:`STRICT` (Python floats overflow silently to ±inf in a rule's ``/``
    and ``*``, where NumPy raises 'overflow'): the AD engines' rule, used where a derivative
    that is not finite is named (``sweeps.require_finite``, the FD engines' step checks)."""
    if any(isinstance(x, Traced) for x in (*xs, out)):
        return None
    try:
        with np.errstate(**STRICT):
            prim.linearize([np.asarray(x) for x in xs], np.asarray(out), params, active)
    except NumericOverflowError as exc:
        return exc
    except (DiffkitError, ArithmeticError, ValueError, TypeError):
        pass  # an infinite partial (sqrt′ at 0), or a rule that cannot say
    return None

#: NumPy's error state that the strong zero needs: an infinite local partial (1/0: 'divide')
#: marks its linearization singular, and a product 0·∞ ('invalid') is taken as 0. ``dk.grad``'s
#: strict state includes it; ``Tensor.backward`` sets it around its sweeps, so that neither
#: depends on the caller's ``np.errstate`` (under 'warn' or 'ignore' nothing would be raised, and
#: 0·∞ would silently be NaN).
STRONG_ZERO = {"divide": "raise", "invalid": "raise"}


def _product(a: Any, b: Any) -> Any:
    """a·b; where an infinite factor meets an exact zero (NumPy raises 'invalid'), 0·∞ = 0."""
    try:
        return a * b
    except FloatingPointError:
        return strong_product(a, b)


# ----- kinks: derivatives taken by a convention ----------------------------------------------------


def read_plain(v: Any) -> Any:
    """The plain value under `v`, as a NumPy array on the host. Reading a traced value is a
    branch: each trace it passes through then holds at this point only (no compiled code
    replays it elsewhere)."""
    while isinstance(v, Traced):
        v.tape.value_dependent = True
        v = held_value(v)
    if hasattr(v, "get") and not isinstance(v, np.ndarray):  # CuPy: decisions on the host
        v = v.get()
    return np.asarray(v)


def require_smooth(smooth: Any, seed: Any, what: str) -> None:
    """``dk.subgradient``'s rule: NonDifferentiableError where `smooth` is false anywhere,
    unless the derivative that multiplied the convention there (`seed`) is exactly 0 at every
    such place — then nothing flowed through the kink."""
    m = read_plain(smooth)
    if bool(np.all(m)):
        return
    try:
        passed = bool(np.all(np.where(m, True, read_plain(seed) == 0)))
    except ValueError:  # shapes that do not line up: no claim
        passed = False
    if not passed:
        raise NonDifferentiableError(f"{what} is not differentiated again here: {KINK}")


def moves(v: Any) -> bool:
    """Whether `v` depends on a value being differentiated (a traced value that requires grad)."""
    return isinstance(v, Traced) and bool(getattr(v, "requires_grad", True))


def at_kink(term: Any, smooth: Callable[[], Any], what: str, at: Any = None,
            seeds: Sequence[Any] = ()) -> Any:
    """`term`, a derivative at the point `at` that is a convention where ``smooth()`` is false,
    wrapped in the record ``subgradient`` when it will be differentiated again; a derivative
    being answered (nothing in it moves) as it is, at no cost. Nothing is read here (the trace
    stays valid at other points): the record decides when it is differentiated.

    It is differentiated again where it depends on the values being differentiated, or where
    its point does: a convention that is a constant (sign(0) = 0) still jumps with its point,
    by seed·δ — zero only where the one derivative flowing in (`seeds`, when it does not move)
    is exactly 0 at the kink (a branch of ``where`` not taken)."""
    if moves(term):
        return REGISTRY["subgradient"](term, smooth(), at if isinstance(at, Traced) else 0.0,
                                       1.0, what=what)
    if not moves(at):
        return term
    given = [s for s in seeds if s is not None]
    seed = given[0] if len(given) == 1 and not moves(given[0]) else 1.0
    return REGISTRY["subgradient"](term, smooth(), at, seed, what=what)


def strong_product(a: Any, b: Any) -> Any:
    """a·b with 0·∞ = 0: a derivative that is exactly zero upstream wins over an infinite local
    partial (relu(x)**0.5 at x = −1 has derivative 0)."""
    with np.errstate(all="ignore"):
        c = a * b
    if isinstance(c, Traced):
        return c
    xp = array_namespace(c)
    zero = (a == 0) | (b == 0)
    if not bool(xp.any(zero)):
        return c
    return xp.where(zero, xp.zeros((), dtype=xp.result_type(c)), c)


class WirtingerLinearization(Linearization):
    """A non-holomorphic op on complex numbers: ż ↦ ∂·ż + ∂̄·conj(ż), ȳ ↦ ȳ·∂ + conj(ȳ·∂̄)."""

    __slots__ = ("pair", "real_out")

    def __init__(self, prim: Primitive, xs: Sequence[Any], out: Any, active: Sequence[bool]) -> None:
        self.pair = prim.wirtinger(*xs, out)
        self.real_out = not _is_complex(out)

    def vjp(self, ct: Any) -> list[Any]:
        d, dbar = self.pair
        return [ct * d + REGISTRY["conj"](ct * dbar)]

    def jvp(self, ts: Sequence[Any], k: int) -> Any:
        d, dbar = self.pair
        t = ts[0]
        out = d * t + dbar * REGISTRY["conj"](t)
        return REGISTRY["real"](out) if self.real_out else out


class StructuralLinearization(Linearization):
    """A structural op's rules at a point: its (batched) JVP and its VJP."""

    __slots__ = ("active", "out", "params", "prim", "xs")

    def __init__(self, prim: Primitive, xs: Sequence[Any], out: Any, params: dict[str, Any],
                 active: Sequence[bool]) -> None:
        if not all(active):  # constants narrower than the output, at its precision (exactly):
            # NumPy computed `out` with them promoted, and the rules run at that precision too
            # (lstsq's pinv of a float32 matrix, cross-entropy's sum of float32 targets put
            # float32 rounding, ~5·10⁻⁸, into float64 gradients); differentiated inputs keep
            # their dtype (their cotangents' dtype)
            wide = _at_precision_of(xs, out)
            if wide is not xs:
                xs = [w if not a else x for x, w, a in zip(xs, wide, active)]
        self.prim, self.xs, self.out, self.params, self.active = prim, xs, out, params, active

    def jvp(self, ts: Sequence[Any], k: int) -> Any:
        prim = self.prim
        if not prim.linear:
            return prim.jvp(ts, k, self.xs, self.out, **self.params)
        filled = [t if t is not None else _zeros((k, *_shape(x)), x) for t, x in zip(ts, self.xs)]
        if prim.batch is not None:
            return prim.batch(filled, k, self.xs, self.out, **self.params)
        return _one_at_a_time(prim, filled, k, self.params, _shape(self.out))

    def vjp(self, ct: Any) -> list[Any]:
        cts = self.prim.vjp(ct, self.xs, self.out, **self.params)
        return [(c() if callable(c) else c) if a else None for c, a in zip(cts, self.active)]

    def jvp_diagonal(self, ts: Sequence[Any]) -> Any:
        rule = self.prim.jvp_diagonal
        if rule is None or any(t is not None and type(t) is not DiagonalRows for t in ts):
            return None
        return rule([None if t is None else t.d for t in ts], self.xs, self.out, **self.params)

    def vjp_diagonal(self, rows: DiagonalRows) -> list[Any] | None:
        rule = self.prim.vjp_diagonal
        if rule is None:
            return None
        got = rule(rows.d, self.xs, self.out, **self.params)
        out = []
        for c, a in zip(got, self.active):
            if not a:
                out.append(None)
            elif c is None:
                return None
            else:
                out.append(c() if callable(c) else c)
        return out

    def vjp_rows(self, cts: Any, k: int) -> list[Any]:
        prim = self.prim
        if prim.vjp_rows is not None:
            got = prim.vjp_rows(cts, k, self.xs, self.out, **self.params)
            return [(c() if callable(c) else c) if a else None for c, a in zip(got, self.active)]
        rows = [self.vjp(cts[i]) for i in range(k)]  # the generic rule: one row at a time
        out: list[Any] = []
        for j, (x, a) in enumerate(zip(self.xs, self.active)):
            if not a:
                out.append(None)
                continue
            column = [r[j] if r[j] is not None else _zeros(_shape(x), x) for r in rows]
            out.append(_stack(column, _shape(x)))
        return out


def _stack(items: Sequence[Any], like: tuple[int, ...]) -> Any:
    """k cotangents of one input (each shaped like it, or like a broadcast of it), stacked on a
    new leading axis (recorded if traced); the sweep sums broadcast axes away afterwards."""
    concatenate, reshape, broadcast_to = (REGISTRY[n] for n in ("concatenate", "reshape",
                                                                "broadcast_to"))
    shape = np.broadcast_shapes(like, *(_shape(i) for i in items))
    if not any(isinstance(i, Traced) for i in items):
        xp = array_namespace(*items)
        return xp.stack([xp.broadcast_to(i, shape) for i in items])
    return concatenate([reshape(broadcast_to(i, shape), (1, *shape)) for i in items], axis=0)


def _one_at_a_time(prim: Primitive, ts: Sequence[Any], k: int, params: dict[str, Any],
                   out_shape: tuple[int, ...]) -> Any:
    """A linear op applied to k stacked directions by applying it to each (the generic batch)."""
    concatenate, reshape = REGISTRY["concatenate"], REGISTRY["reshape"]
    rows = [reshape(prim(*[t[i] for t in ts], **params), (1, *out_shape)) for i in range(k)]
    return rows[0] if k == 1 else concatenate(rows, axis=0)


# ----- helpers shared by the rules ---------------------------------------------------------------


def _shape(v: Any) -> tuple[int, ...]:
    return tuple(getattr(v, "shape", ()))


def _is_complex(v: Any) -> bool:
    dt = getattr(v, "dtype", None)
    return (dt.kind == "c") if dt is not None else isinstance(v, complex)


def _lead(t: Any, k: int, shape: tuple[int, ...], nd: int) -> Any:
    """A tangent (k, *shape) with its axes lined up with an output of `nd` dimensions."""
    if len(shape) < nd:
        return REGISTRY["reshape"](t, (k,) + (1,) * (nd - len(shape)) + shape)
    return t


def _zeros(shape: tuple[int, ...], like: Any) -> Any:
    value = like
    while isinstance(value, Traced):
        value = held_value(value)
    xp = array_namespace(value)
    return xp.zeros(shape, dtype=getattr(like, "dtype", None) or np.asarray(value).dtype)


def _uniform(g: Any) -> Any:
    """The number a zero-stride NumPy broadcast holds (None for anything else)."""
    if type(g) is np.ndarray and g.ndim and g.size and not any(g.strides):
        return g.reshape(-1)[0]
    return None


def _scaled(u: Any, p: Any, shape: tuple[int, ...]) -> Any:
    """u·p broadcast to `shape`, without a pass over memory when p is an array and u is 1.

    u is a NumPy scalar, so u·p follows NumPy's type rules (float32 stays float32); only an
    array p of that same type may be handed back as it is."""
    if u == 1 and type(p) is np.ndarray and p.dtype == np.result_type(u, p):
        c = p
    else:
        try:
            c = u * p
        except FloatingPointError:  # an infinite ȳ meets an exact zero: 0·∞ = 0, as elsewhere
            c = strong_product(u, p)
    return c if _shape(c) == shape else np.broadcast_to(c, shape)


def _strict_now() -> bool:
    """Whether one of NumPy's floating-point errors raises here (``dk.grad`` & co. run under
    STRICT, ``Tensor.backward``'s sweeps under STRONG_ZERO)."""
    err = np.geterr()
    return err["invalid"] == "raise" or err["divide"] == "raise" or err["over"] == "raise"


def _check_as_numpy_would(prim: Primitive, xp: Any, args: Sequence[Any], out: Any) -> None:
    """On another array module (CuPy), NumPy's floating-point flags for `out`
    (:func:`raise_flags_as_numpy`): without them, a gradient at a point outside the domain came
    out finite (log at −0.5 is NaN there, silently, and the derivative 1/x is −2) where NumPy
    names the error. One wait for the device per checked operation, only where an error is set
    to raise (the Trainer's steps run without)."""
    if getattr(out, "dtype", None) is None or out.dtype.kind not in "fc":
        return
    elementwise = prim.kind == "elementwise"
    raise_flags_as_numpy(xp, prim.name, out, args, per_element=elementwise,
                         valid=prim.valid if elementwise else None,
                         restricted=bool(prim.domain_text))


#: the current evaluation's "flags emulated" box (see Primitive.evaluate, raise_flags_as_numpy)
_EMULATED: contextvars.ContextVar[list[bool] | None] = contextvars.ContextVar(
    "diffkit_flags_emulated", default=None)


def fp_flag(kind: str, name: str, hint: str = "") -> None:
    """Raise NumPy's floating-point flag `kind` ("divide", "invalid", "overflow") the way the
    current ``np.errstate`` asks: an exception, a warning, or nothing."""
    mode = np.geterr()[{"divide": "divide", "invalid": "invalid", "overflow": "over"}[kind]]
    what = {"divide": "divide by zero", "invalid": "invalid value", "overflow": "overflow"}[kind]
    message = f"{what} encountered in {name}{hint}"
    if mode == "raise":
        raise FloatingPointError(message)
    if mode != "ignore":
        warnings.warn(message, RuntimeWarning, stacklevel=4)


def raise_flags_as_numpy(xp: Any, name: str, out: Any, args: Sequence[Any],
                         overflow: Callable[..., Any] | None = None, per_element: bool = True,
                         valid: Callable[..., Any] | None = None, restricted: bool = False,
                         hint: str = "", ieee: bool = True) -> None:
    """The floating-point flags NumPy's own loop would set for result `out` of `args`, for
    results computed without them (SciPy's functions; CuPy, which sets none), each raised,
    warned or ignored as ``np.errstate`` says (:func:`fp_flag`).

    IEEE's rules, element by element where the operands broadcast to `out` (`per_element`):
    a NaN where no operand is NaN is 'invalid' (sqrt(−1), ∞ − ∞, sin ∞, 0·∞); ±inf where every
    operand is finite is 'divide' — a pole: beside a 0 operand (1/0, log 0), outside the
    record's `valid` rule, anywhere for a record with a restricted domain (`restricted`:
    arctanh 1, log1p −1) — else 'overflow' (exp 1000). NumPy checks divide, overflow, invalid
    in that order. For a structural operation (not `per_element`: LAPACK, reductions) only a
    NaN from operands that are all finite is flagged ('invalid'): NumPy's own flags there
    depend on the routine. With `ieee` False (SciPy's functions, which NumPy's flags never
    reach): only elements whose operands are all finite, invalid first, one flag, and ±inf is
    'divide' unless `overflow(*args)` says overflow."""
    box = _EMULATED.get()
    if box is not None:
        box[0] = True  # the evaluation calling this impl reads no flags of its own
    finite = xp.isfinite(out)
    if bool(xp.all(finite)):
        return
    shape = tuple(out.shape)
    numbers = [xp.asarray(a) for a in args if isinstance(a, int | float | complex | np.generic)
               or getattr(a, "dtype", None) is not None and a.dtype.kind in "biufc"]
    whole = not per_element or any(a.ndim > len(shape) for a in numbers)
    nan_in, finite_in, zero_in = (xp.zeros(shape, bool), xp.ones(shape, bool),
                                  xp.zeros(shape, bool))
    for a in numbers:
        floating = a.dtype.kind in "fc"
        if whole:
            nan_in = nan_in | (floating and bool(xp.any(xp.isnan(a))))
            finite_in = finite_in & (not floating or bool(xp.all(xp.isfinite(a))))
            zero_in = zero_in | bool(xp.any(a == 0))
            continue
        try:
            a = xp.broadcast_to(a, shape)
        except ValueError:
            continue
        if floating:
            nan_in = nan_in | xp.isnan(a)
            finite_in = finite_in & xp.isfinite(a)
        zero_in = zero_in | (a == 0)
    nan = xp.isnan(out)
    inf = ~finite & ~nan & finite_in
    none = xp.zeros(shape, bool)
    if overflow is not None:
        over = inf & overflow(*args)
        divide = inf & ~over
    elif not ieee:  # a SciPy function's ±inf at finite arguments: a pole
        divide, over = inf, none
    elif whole:
        divide, over = none, none
    else:
        pole = zero_in | restricted
        if valid is not None and bool(xp.any(inf & ~pole)):
            pole = pole | ~xp.asarray(valid(*args))
        divide, over = inf & pole, inf & ~pole
    invalid = nan & (finite_in if whole or not ieee else ~nan_in)
    if not ieee:
        kind = "invalid" if bool(xp.any(invalid)) else "overflow" if bool(xp.any(over)) \
            else "divide" if bool(xp.any(divide)) else None
        if kind is not None:
            fp_flag(kind, name, hint)
        return
    for kind, where in (("divide", divide), ("overflow", over), ("invalid", invalid)):
        if bool(xp.any(where)):
            fp_flag(kind, name, hint)


def numeric_error(prim: Primitive, args: Sequence[Any], exc: Exception) -> DiffkitError:
    """NumPy's FloatingPointError as diffkit's named error: overflow, or a point outside the domain."""
    shown = ", ".join(_short(a) for a in args)
    if "overflow" in str(exc):
        return NumericOverflowError(
            f"{prim.name}({shown}) overflows its floating-point type ({exc}): rescale the "
            "inputs or compute in a stabler form (e.g. logsumexp, log1p)")
    hint = f" ({prim.domain_text})" if prim.domain_text else ""
    return DomainError(f"point outside the domain: {prim.name}({shown}) is not finite ({exc}){hint}")


def dtype_error(prim: Primitive, args: Sequence[Any], exc: TypeError) -> InputTypeError | None:
    """NumPy's (or SciPy's) TypeError for operands of a dtype a ufunc has no loop for (complex
    into floor, longdouble into erf) as an InputTypeError naming the primitive, the dtypes and
    what to pass instead; None for any other TypeError, and where an operand is an object array
    (traced numbers in np.array([...]): the caller names that)."""
    if "not supported for the input types" not in str(exc):
        return None
    dtypes = [dtype_of(a) for a in args]
    if any(d.kind == "O" for d in dtypes):
        return None
    if any(d.kind == "c" for d in dtypes):
        fix = ("pass real values where it takes real ones, or split a complex number "
               "with dk.real and dk.imag (np.real, np.imag)")
    else:
        fix = "convert the input first, x.astype(np.float64)"
    shown = ", ".join(dict.fromkeys(str(d) for d in dtypes))
    err = InputTypeError(f"{prim.name} does not take {shown} input (its NumPy/SciPy function "
                         f"has no loop for that dtype): {fix}")
    err.primitive = prim  # type: ignore[attr-defined]  # (the complex step names it)
    return err


def dtype_of(v: Any) -> np.dtype:
    """The dtype of an array, a traced value or a Python number (as NumPy reads it)."""
    dt = getattr(v, "dtype", None)
    return np.dtype(dt) if dt is not None else np.asarray(v).dtype


def _value_error(prim: Primitive, args: Sequence[Any], exc: Exception) -> ShapeError | DomainError:
    """NumPy's ValueError as a named one: a ShapeError naming the shapes, or, where the operands
    of an element-wise record do broadcast, a DomainError with NumPy's own message (integers to
    negative integer powers)."""
    shapes = [_shape(a) for a in args]
    if prim.kind == "elementwise":
        try:
            np.broadcast_shapes(*shapes)
        except ValueError:
            pass
        else:
            return DomainError(str(exc))
    return ShapeError(f"{prim.name}: arguments of shapes {', '.join(map(str, shapes))} do not "
                      f"fit ({exc})")


def _short(a: Any) -> str:
    """An operand in an error message: its values (up to 16 of them: a finite-difference
    batch, Richardson's 10 points, shows the one outside the domain; beyond, the first and last
    three and the shape), on one line."""
    if isinstance(a, Traced):
        a = held_value(a)
    arr = np.asarray(a.get() if hasattr(a, "get") and not isinstance(a, np.ndarray) else a)
    if not arr.ndim:
        return repr(arr.item())
    text = np.array2string(arr, precision=6, threshold=16, edgeitems=3,
                           max_line_width=10**9).replace("\n", "")
    return text if arr.size <= 16 else f"{text} (shape {tuple(arr.shape)})"


def finite(x: Any) -> bool:
    """True when every element of a plain number or array is finite."""
    if isinstance(x, float):  # Python floats and NumPy float64 scalars: the common scalar case
        return math.isfinite(x)
    if isinstance(x, np.ndarray | np.generic):
        return bool(np.isfinite(x).all())
    xp = array_namespace(x)
    return bool(xp.all(xp.isfinite(x)))


def plain_value(v: Any) -> Any:
    """The innermost plain value under a (possibly nested) traced value or a node: a Tensor's
    node value (its public ``.value`` would count as reading a traced number), through every
    nesting level (a higher derivative's values are Tensors of the outer trace)."""
    while True:
        if isinstance(v, Node):
            v = v.value
        elif isinstance(v, Traced):
            v = held_value(v)
        else:
            return v
