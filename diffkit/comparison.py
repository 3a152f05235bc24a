"""Every differentiation method side by side at one point: value, error, time, evaluations, memory.

The reference is exact where the graph has a SymPy form: the symbolic engine's derivative program
evaluated with mpmath at the exact binary values of the point, at 60, 120, 240, … digits until two
successive evaluations agree to 30 digits. Elsewhere (and where they never agree) the reference is
the reverse engine (float64), and the table says so.

Example:
    >>> import diffkit as dk
    >>> cmp = dk.compare("ln(x1) + x1*x2 - sin(x2)", 2.0, 5.0)
    >>> cmp.row("reverse").abs_error < 1e-12
    True
"""

from __future__ import annotations

import html
import json
import statistics
import time
import tracemalloc
import warnings
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from .build import as_function
from .display import markdown_text
from .errors import DiffkitError, MissingRuleError, NonDifferentiableError, NumericOverflowError
from .function import STRICT, Function
from .tensor import Tensor

#: The methods compared by default, in table order.
DEFAULT_METHODS = ("fd-forward", "fd-central", "fd-complex", "fd-richardson", "symbolic", "forward",
                   "reverse", "auto", "compiled")
#: the precisions (decimal digits) at which the exact reference is evaluated, in turn, until two
#: successive ones agree to SETTLED_DIGITS (float64 holds 16): a cancellation of d digits needs
#: about d + 30 of them
REFERENCE_DIGITS = (60, 120, 240, 480)
SETTLED_DIGITS = 30


@dataclass
class MethodResult:
    """One row: what a method returned at the point and what it cost.

    Attributes:
        method: the ``method=`` name.
        value: the gradient (flattened over all inputs) or the (m, n) Jacobian; None if skipped.
        abs_error: max |value − reference| over all elements (against an exact reference at its
            full precision, so a correctly rounded answer shows its rounding error, not 0).
        rel_error: abs_error / max |reference| (normwise).
        time: seconds per call, median of repeats (after the first call).
        setup: one-time seconds spent by the first call beyond a normal call (tracing,
            symbolic derivation, code generation).
        evaluations: calls of the function in one derivative (finite differences): the value,
            the traced calls its checks read and every perturbed point (a pure function's
            vectorized call counts its points), as the engine's ``evaluations`` counts them.
        sweeps: directions carried: forward mode's tangents (n, in one pass), reverse mode's
            cotangent rows (m, in one sweep).
        memory: peak bytes allocated during one call (tracemalloc).
        notes: the step chosen, the mode auto picked and why, expression sizes, why it was skipped.
        skipped: the reason the method could not run here (then value is None).
    """

    method: str
    value: Any = None
    abs_error: float | None = None
    rel_error: float | None = None
    time: float | None = None
    setup: float | None = None
    evaluations: int | None = None
    sweeps: int | None = None
    memory: int | None = None
    notes: str = ""
    skipped: str | None = None

    def cost(self) -> str:
        """Evaluations or sweeps in words ("9 evals", "2 sweeps")."""
        if self.evaluations is not None:
            return f"{self.evaluations} evals"
        if self.sweeps is not None:
            return f"{self.sweeps} sweep{'s' if self.sweeps != 1 else ''}"
        return "—"


@dataclass
class Comparison:
    """The methods compared at one point. Render with str(), to_markdown(), to_html(), to_json()."""

    function: Function
    point: tuple[Any, ...]
    reference: Any
    reference_kind: str
    rows: list[MethodResult] = field(default_factory=list)
    shape: tuple[int, ...] = ()  # (n,) for a gradient, (m, n) for a Jacobian
    wrt: tuple[int, ...] | None = None  # the inputs differentiated (None: all)

    def row(self, method: str) -> MethodResult:
        """The row of one method."""
        for r in self.rows:
            if r.method == method:
                return r
        raise KeyError(f"no row for method {method!r}; rows: {[r.method for r in self.rows]}")

    # ----- rendering ---------------------------------------------------------------------------
    COLUMNS = ("method", "value", "abs error", "rel error", "time/call", "setup", "evals/sweeps",
               "peak mem", "notes")

    def _cells(self, r: MethodResult) -> list[str]:
        if r.skipped:
            return [r.method, "skipped", "", "", "", "", "", "", r.skipped]
        return [r.method, _short(r.value), _err(r.abs_error), _err(r.rel_error), _secs(r.time),
                _secs(r.setup), r.cost(), _bytes(r.memory), r.notes]

    def title(self) -> str:
        where = ", ".join(f"{n}={_short(v)}" for n, v in zip(self.function.inputs, self.point))
        what = "gradient" if len(self.shape) == 1 else "Jacobian"
        names = self.function.inputs
        # the inputs named whenever the entries are not the function's own inputs in its own
        # order (a subset, or every input in another order: "in y, x")
        by = "" if self.wrt is None or list(self.wrt) == list(range(len(names))) else (
            f" in {', '.join(names[i] for i in self.wrt)}")
        return f"{what} of {self.function.text or self.function.name}{by} at {where}"

    def to_text(self) -> str:
        """A plain fixed-width table."""
        cells = [list(self.COLUMNS)] + [self._cells(r) for r in self.rows]
        widths = [max(len(row[i]) for row in cells) for i in range(len(self.COLUMNS) - 1)]
        ref = "" if self.reference is None else f" = {_short(self.reference)}"
        lines = [self.title(), f"reference: {self.reference_kind}{ref}", ""]
        for k, row in enumerate(cells):
            lines.append("  ".join(c.ljust(w) for c, w in zip(row, widths)) + "  " + row[-1])
            if k == 0:
                lines.append("  ".join("-" * w for w in widths) + "  -----")
        return "\n".join(lines)

    __str__ = to_text

    def __repr__(self) -> str:
        """One line per method (error, time, cost); ``str()`` or a notebook shows the table."""
        if not self.rows:
            return _fit(f"<diffkit.Comparison: {self.title()} (no methods)") + ">"
        lines = [_fit(f"<diffkit.Comparison: {self.title()}")]
        width = max(len(r.method) for r in self.rows)
        for r in self.rows:
            if r.skipped:
                detail = f"skipped: {r.skipped}"
            else:
                cost = r.cost()
                detail = (f"rel error {_err(r.rel_error):<8} {_secs(r.time):>9}/call"
                          + (f"  {cost}" if cost != "—" else ""))
            lines.append(_fit(f"  {r.method:<{width}}  {detail}"))
        return "\n".join(lines) + ">"

    def __rich__(self) -> Any:
        from rich.table import Table

        table = Table(title=self.title(), caption=f"reference: {self.reference_kind}")
        for c in self.COLUMNS:
            table.add_column(c, justify="right" if c in ("abs error", "rel error", "time/call",
                                                         "setup", "peak mem") else "left")
        for r in self.rows:
            style = "dim" if r.skipped else ("red" if (r.rel_error or 0) > 1e-6 else None)
            table.add_row(*self._cells(r), style=style)
        return table

    def to_markdown(self) -> str:
        """A GitHub-flavoured Markdown table; names and notes show as text, never as markup."""
        title = f"**{markdown_text(self.title())}**"
        lines = [f"{title} (reference: {markdown_text(self.reference_kind)})", "",
                 "| " + " | ".join(self.COLUMNS) + " |",
                 "|" + "|".join("---" for _ in self.COLUMNS) + "|"]
        lines += ["| " + " | ".join(markdown_text(c) for c in self._cells(r)) + " |" for r in self.rows]
        return "\n".join(lines) + "\n"

    def to_html(self) -> str:
        """An HTML table (also what Jupyter shows)."""
        head = "".join(f"<th>{html.escape(c)}</th>" for c in self.COLUMNS)
        body = "".join("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in self._cells(r)) + "</tr>"
                       for r in self.rows)
        return (f"<table><caption>{html.escape(self.title())} (reference: "
                f"{html.escape(self.reference_kind)})</caption><thead><tr>{head}</tr></thead>"
                f"<tbody>{body}</tbody></table>")

    _repr_html_ = to_html

    def to_dict(self) -> dict[str, Any]:
        """Plain data (lists and numbers), ready for json.dumps."""
        rows = []
        for r in self.rows:
            d = asdict(r)
            d["value"] = None if r.value is None else np.asarray(r.value).tolist()
            rows.append(d)
        inputs = list(self.function.inputs)
        wrt = inputs if self.wrt is None else [inputs[i] for i in self.wrt]
        return {"function": self.function.text or self.function.name, "inputs": inputs,
                "wrt": wrt, "point": [np.asarray(p).tolist() for p in self.point],
                "reference": np.asarray(self.reference).tolist(), "reference_kind": self.reference_kind,
                "rows": rows}

    def to_json(self, indent: int | None = 2) -> str:
        """The comparison as JSON (an infinite relative error, against a zero reference, is
        null: JSON has no infinity)."""
        return json.dumps(_json_ready(self.to_dict()), indent=indent, allow_nan=False)

    def to_pandas(self) -> Any:
        """A pandas DataFrame, one row per method (needs pandas)."""
        try:
            import pandas as pd
        except ImportError as exc:
            raise ImportError("to_pandas needs pandas: pip install pandas") from exc
        return pd.DataFrame([asdict(r) for r in self.rows]).set_index("method")


def _json_ready(value: Any) -> Any:
    """`value` with NaN and infinities as None, and complex numbers as {"real", "imag"}."""
    if isinstance(value, dict):
        return {k: _json_ready(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_json_ready(v) for v in value]
    if isinstance(value, complex):
        return {"real": _json_ready(value.real), "imag": _json_ready(value.imag)}
    if isinstance(value, float) and not np.isfinite(value):
        return None
    return value


# ----- measuring ---------------------------------------------------------------------------------


def compare(f: Any, *point: Any, methods: Sequence[str] | None = None, repeat: int = 5,
            budget: float = 0.05, wrt: Any = None, argnums: Any = None) -> Comparison:
    """Differentiate `f` at `point` with every method; measure error, time, evaluations and memory.

    Args:
        f: a Function, math text, a SymPy expression or a Python callable.
        point: one value per input.
        methods: method names, or one name (default: :data:`DEFAULT_METHODS`).
        repeat: timing repeats (the median is reported).
        budget: about how many seconds one repeat of one method may take. A method whose one
            call takes longer than ``repeat × budget`` (symbolic or Richardson steps on large
            arrays) is timed by that call alone, so a comparison costs a few calls of its
            slowest method, not ``repeat`` more.
        wrt: the inputs differentiated, as in ``dk.grad`` (positions or names; None: all);
            ``argnums=`` is its alias. The others reach `f` as ``dk.grad`` passes them (integer
            and boolean arrays, labels and indices, as given).

    Example:
        >>> import diffkit as dk
        >>> cmp = dk.compare("x**2 * y", 3.0, 2.0, methods=["forward", "reverse"])
        >>> [r.sweeps for r in cmp.rows]
        [2, 1]
    """
    if isinstance(methods, str):  # one method by name, not its letters
        methods = [methods]
    if isinstance(repeat, bool) or not isinstance(repeat, int | np.integer) or repeat < 1:
        raise ValueError(f"compare: repeat must be a whole number >= 1, got {repeat!r}")
    if isinstance(budget, bool) or not isinstance(budget, int | float) or not budget > 0:
        raise ValueError(f"compare: budget must be a number of seconds > 0, got {budget!r}")
    fn = as_function(f)
    from .api import _completed, _positions

    chosen, back = _positions(fn, wrt, argnums)
    point, idx = _completed(fn, point, chosen, wrt is None and argnums is None, back)
    fn.check_arity(point)
    point = tuple(_detached(p) for p in point)
    xs = fn.coerce(point, idx)
    from .api import traced_as

    fn = traced_as(fn, xs)  # a jit function: its first trace, which its call evaluates
    with np.errstate(**STRICT):  # the value, as a plain call reads the arguments
        out = fn.evaluate(*point)
        if not fn.pure:
            _check_repeats(fn, point, out, idx)
    scalar = np.size(out) == 1 and np.ndim(out) == 0
    n = int(sum(np.size(xs[i]) for i in idx))
    m = int(np.size(out))
    reference, kind, exact = _full_reference(fn, xs, scalar, idx)
    cmp = Comparison(fn, tuple(point), reference, kind, shape=(n,) if scalar else (m, n),
                     wrt=tuple(idx))
    for method in methods or DEFAULT_METHODS:
        row = _measure(fn, xs, idx, method, scalar, n, m, repeat, budget)
        if reference is not None and row.value is not None:
            row.abs_error, row.rel_error = _errors(row.value, reference, exact)
        cmp.rows.append(row)
    return cmp


def _check_repeats(fn: Function, point: Sequence[Any], out: Any, idx: Sequence[int]
                   ) -> None:
    """Refuse a Python function that gives another value when called again at the point: every
    method evaluates it on its own (a trace each, a stencil), so a function that draws random
    numbers or keeps state would have each row differentiate another function, and the error
    column would measure the draws, not the methods (x·uniform(1, 2): errors 0.1 to 0.5 for
    three methods each right for its own draw)."""
    from .errors import NotRepeatableError

    again = fn.evaluate(*point)
    if not (np.shape(again) == np.shape(out) and np.array_equal(again, out, equal_nan=True)):
        raise NotRepeatableError(
            f"{fn.name} gave another value when called again at the same point: it may draw "
            "random numbers or keep state between calls. dk.compare runs every method on its "
            "own, so each row would differentiate another function and the errors would "
            "measure the draws: fix the draw (a seeded generator made inside the function, or "
            "the noise passed as an argument), or wrap the function in dk.jit (one frozen trace "
            "for every method)")
    try:  # what the AD methods and the reference see
        traced = fn.trace(*point, wrt=idx).output.value
    except DiffkitError:  # no trace (a black box for finite differences): the rows say so
        return
    if not _same_value(traced, out):
        raise NotRepeatableError(
            f"{fn.name} gave another value traced than called plainly at the point "
            f"({_shown(traced)} then {_shown(out)}): its traced call takes another path — a "
            "branch on isinstance(x, float), np.isscalar(x) or type(x), which a traced value "
            "fails (branch on np.ndim(x) instead), or a copy or view that NumPy and a trace "
            "treat differently. Every method would differentiate the traced path, not the "
            "function that the plain call evaluates")


def _same_value(a: Any, b: Any) -> bool:
    """Whether a traced and a plain value agree (to ~1000 ulps of the larger: scalar code may
    differ from NumPy's loops in the last bits)."""
    a, b = np.asarray(a), np.asarray(b)
    if a.shape != b.shape or not np.array_equal(np.isnan(a), np.isnan(b)):
        return False
    with np.errstate(all="ignore"):  # ∞ − ∞ where both are infinite: compared below
        return _close(a, b)


def _close(a: np.ndarray, b: np.ndarray) -> bool:
    finite = np.isfinite(a) & np.isfinite(b)
    if not np.array_equal(np.where(finite, 0, a), np.where(finite, 0, b), equal_nan=True):
        return False
    scale = float(np.max(np.abs(np.where(finite, b, 0)), initial=0.0))
    eps = np.finfo(np.result_type(a.dtype, b.dtype, np.float16)).eps
    tol = min(1e3 * float(eps), 1e-2)  # (float16: 1000 ulps would be the value itself)
    return bool(np.all(np.abs(np.where(finite, a - b, 0)) <= tol * scale))


def _shown(v: Any) -> str:
    v = np.asarray(v)
    return repr(v.item()) if v.size == 1 else f"an array of shape {v.shape}"


def _detached(p: Any) -> Any:
    """A point's value: a Tensor of the eager tape (one that requires grad included) gives its
    numbers — a comparison is a table of numbers, and methods that answer numbers (symbolic,
    finite differences) refuse a Tensor that requires grad."""
    if type(p) is Tensor and p.tape.level == 0:
        return p.node.value
    return p


def _fresh(fn: Function) -> Function:
    """A copy with empty caches, so one method's setup is not paid by another."""
    return fn.carry(Function(fn.body, fn.inputs, name=fn.name, text=fn.text, pure=fn.pure,
                             jit=fn.jit))


def _measure(fn: Function, xs: list[Any], wrt: list[int], method: str, scalar: bool,
             n: int, m: int, repeat: int, budget: float) -> MethodResult:
    from . import api
    from .engines import get_engine

    row = MethodResult(method)
    g = _fresh(fn)
    # the engine itself, never dk.grad's default policy (which compiles "reverse" after 2 calls)
    eng = get_engine(method)
    call = (api.grad if scalar else api.jacobian)(g, method=eng, wrt=wrt)
    engine = call.engine
    try:
        with warnings.catch_warnings(record=True) as said:  # the row's note, not the console:
            warnings.simplefilter("always")  # the table's error column measures it
            t0 = time.perf_counter()
            value = call(*xs)
            first = time.perf_counter() - t0
    except (DiffkitError, ValueError, NotImplementedError, TypeError) as exc:
        # the error's name, and the method by its name (the engine object was passed as method=)
        row.skipped = f"{type(exc).__name__}: {str(exc).replace(repr(eng), repr(method))}"
        return row
    row.value = _flat(value, scalar)
    checked = getattr(engine, "check_trace", None)
    if checked is not None:  # the finite-difference method itself is timed, not its check
        engine.check_trace = False  # against the trace (said by the first call)
    try:
        with warnings.catch_warnings():  # (said once, by the first call)
            warnings.simplefilter("ignore", RuntimeWarning)
            if hasattr(engine, "evaluations"):  # one call counted (and its step noted)
                engine.evaluations = 0
                call(*xs)
                row.evaluations = engine.evaluations
            row.sweeps, row.notes = _explain(engine, method, [xs[i] for i in wrt], n, m)
            row.time = _median_time(lambda: call(*xs), repeat, budget)
            row.setup = max(first - row.time, 0.0)
            row.memory = _peak_memory(lambda: call(*xs))
    finally:  # (an engine passed as method= is the caller's)
        if checked is not None:
            engine.check_trace = checked
    warned = [str(w.message) for w in said if issubclass(w.category, RuntimeWarning)]
    if warned:
        row.notes = "; ".join([*filter(None, [row.notes]), f"warned: {_gist(warned[0])}"])
    return row


def _errors(value: Any, reference: Any, exact: Exact | None) -> tuple[float, float]:
    """(max |value − reference|, that / max |reference|) over all elements: against the exact
    reference at its full precision where there is one (a correctly rounded answer then shows
    its rounding error, ≤ ½ ulp, not 0), else against the float64 `reference`. A zero reference
    has no relative error: 0 where the value is exact too, else infinite."""
    value, ref = np.reshape(value, -1), np.reshape(np.asarray(reference), -1)
    if exact is not None and len(exact.values) == value.size and np.all(np.isfinite(value)):
        import mpmath

        with mpmath.workdps(exact.digits):
            true = [v._to_mpmath(mpmath.mp.prec) for v in exact.values]
            err = max((abs(mpmath.mpmathify(complex(v) if np.iscomplexobj(v) else float(v)) - t)
                       for v, t in zip(value, true)), default=mpmath.mpf(0))
            scale = max((abs(t) for t in true), default=mpmath.mpf(0))
            rel = err / scale if scale else (0.0 if not err else float("inf"))
            return float(err), float(rel)
    err = np.abs(value - ref)
    abs_error = float(np.max(err)) if err.size else 0.0
    scale = float(np.max(np.abs(ref))) if ref.size else 0.0
    return abs_error, (abs_error / scale if scale > 0 else (
        0.0 if abs_error == 0 else float("inf")))


def _gist(message: str) -> str:
    """A warning's first sentence, for a table's note (the table's error column has the rest)."""
    if "lies far from the derivative of the operations traced" in message:
        return "far from the traced derivative (the step spans a pole, jump or fast change)"
    head = message.split(". ")[0].split(" (relative")[0]
    return head.split(": ", 1)[1] if head.startswith("finite differences") else head


def step_taken(engine: Any, xs: Sequence[Any]) -> np.ndarray:
    """The step of a finite-difference engine's last answer at the differentiated inputs `xs`:
    for Richardson the first step of the tableau that answer came from (it restarts from
    smaller steps, ÷16, ÷256, …, where its own error estimate says the tableau did not converge,
    and keeps the best: the default step is then not the one used), else the automatic step."""
    used = getattr(engine, "step_used", None)
    if engine.scheme == "richardson" and used is not None:
        return np.asarray(used)
    return engine.default_step(_fd_point(xs))


def _explain(engine: Any, method: str, xs: list[Any], n: int, m: int) -> tuple[int | None, str]:
    """Sweeps and the note for a row, after a call (`xs`: the differentiated inputs)."""
    name = getattr(engine, "name", method)
    if name == "fd":
        h = step_taken(engine, xs)
        if h.size == 0:  # empty inputs: an empty gradient, as every engine answers, no step
            return None, "no step (the differentiated inputs have no elements)"
        step = _steps(h)
        if engine.scheme == "richardson":
            est = engine.error_estimate
            extra = f", error estimate {est:.1e}" if est is not None else ""
            return None, f"h0 = {step}, {engine.levels} levels{extra}"
        return None, f"h = {step}"
    if name == "forward":
        return n, f"one pass carrying {n} tangent{'s' if n != 1 else ''} (one per input)"
    if name == "reverse":
        rows = f" carrying {m} cotangent rows (one per output)" if m != 1 else ""
        return m, f"1 adjoint sweep{rows}"
    if name == "auto":
        chosen = engine.last_choice or "reverse"
        return (n if chosen == "forward" else m), f"chose {chosen}: {engine.explain()}"
    if name == "symbolic" and engine.last is not None:
        s = engine.last.sizes()
        return None, f"ops: tree {s['tree']}, DAG {s['dag']}, after CSE {s['cse']}"
    if name == "compiled":
        cg = engine.last
        if cg is None:
            return m, "ran on the reverse engine (not compilable here)"
        lines = max(cg.stats.values())
        return m, f"generated code, {lines} lines (see .source)"
    return None, ""


def _fd_point(xs: Sequence[Any]) -> np.ndarray:
    """The flat point in the dtype the FD engine steps in (float32 inputs: float32 steps)."""
    from .primitives.declare import working_dtype

    if not xs:
        return np.zeros(0)
    dtype = working_dtype(np.result_type(*[np.asarray(x).dtype for x in xs]))
    x0 = np.concatenate([np.reshape(np.asarray(x).astype(dtype), -1) for x in xs])
    x0 = x0.real if x0.dtype.kind == "c" else x0  # complex inputs: real steps, as the engine
    return x0 if x0.dtype.kind == "f" else x0.astype(float)


def _steps(h: np.ndarray) -> str:
    lo, hi = float(np.min(h)), float(np.max(h))
    return f"{lo:.2g}" if np.isclose(lo, hi) else f"{lo:.2g}…{hi:.2g}"


def _median_time(call: Callable[[], Any], repeat: int, budget: float) -> float:
    t0 = time.perf_counter()
    call()
    once = max(time.perf_counter() - t0, 1e-7)
    if once >= budget * max(repeat, 1):  # a slow call: its one timing is what repeats would
        return once  # cost `repeat` times over (see compare's `budget`)
    number = max(1, min(10_000, int(budget / once)))
    times = []
    for _ in range(max(repeat, 1)):
        t0 = time.perf_counter()
        for _ in range(number):
            call()
        times.append((time.perf_counter() - t0) / number)
    return statistics.median(times)


def _peak_memory(call: Callable[[], Any]) -> int:
    started = tracemalloc.is_tracing()
    if not started:
        tracemalloc.start()
    tracemalloc.reset_peak()
    base = tracemalloc.get_traced_memory()[0]
    call()
    peak = tracemalloc.get_traced_memory()[1] - base
    if not started:
        tracemalloc.stop()
    return max(int(peak), 0)


def _flat(value: Any, scalar: bool) -> np.ndarray:
    """The value as one float (or, for complex inputs, complex) array: never a dropped
    imaginary part."""
    parts = value if scalar else [value]
    dtype = np.result_type(float, *[np.asarray(v).dtype for v in parts])
    if scalar:
        return np.concatenate([np.reshape(np.asarray(v, dtype=dtype), -1) for v in value])
    return np.asarray(value, dtype=dtype)


# ----- the reference -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Exact:
    """The exact reference at full precision: its elements in row-major order (SymPy Floats of
    `digits` digits), against which the error columns are measured."""

    values: list[Any]
    digits: int


def _reference(fn: Function, xs: list[Any], scalar: bool, wrt: Sequence[int] | None = None
               ) -> tuple[np.ndarray | None, str]:
    """:func:`_full_reference` without its full-precision values (float64 and what it is)."""
    return _full_reference(fn, xs, scalar, wrt)[:2]


def _full_reference(fn: Function, xs: list[Any], scalar: bool, wrt: Sequence[int] | None = None
                    ) -> tuple[np.ndarray | None, str, Exact | None]:
    """The exact derivative (SymPy + mpmath, settled to SETTLED_DIGITS) rounded to float64 and
    at full precision, or reverse mode where there is none (then no full-precision value);
    (None, why, None) where reverse mode has no answer either: no finite derivative at the point
    (sqrt at 0, an overflow), or no rule for a primitive (the derivative may well exist). The
    rows then show each method's own answer or named error, and no error columns."""
    from . import api

    wrt = list(range(fn.arity)) if wrt is None else list(wrt)
    try:
        values, (before, digits), exact = _settled_derivative(fn, xs, wrt)
        if not np.all(np.isfinite(values)):
            raise ValueError("the exact derivative is not finite in float64 here")
        return (values.reshape(-1) if scalar else values), (
            f"exact (SymPy program evaluated with mpmath at {digits} digits, agreeing with "
            f"{before} to {SETTLED_DIGITS})"), Exact(exact, digits)
    except (DiffkitError, ValueError, TypeError, NotImplementedError, ZeroDivisionError) as exc:
        why = str(exc).split(":")[0]
    try:
        with np.errstate(**STRICT):
            ref = api.jacobian(fn, method="reverse", wrt=wrt)(*xs)
    except DiffkitError as exc:
        said = f"{type(exc).__name__} from reverse mode: {str(exc).split(':')[0]}"
        if isinstance(exc, NonDifferentiableError | NumericOverflowError):
            what = "no finite derivative here"
        elif isinstance(exc, MissingRuleError):
            what = "no reference, diffkit has no rule for this derivative"
        else:
            what = "no reference, reverse mode cannot differentiate this"
        return None, f"none: {what} ({said}); rows show each method's own answer", None
    return (np.reshape(ref, -1) if scalar else np.asarray(ref)), (
        f"reverse mode in float64 (no exact reference: {why}); errors against this rounded "
        "value (an answer equal to it shows 0)"), None


def exact_derivative(fn: Function, xs: Sequence[Any], digits: Sequence[int] = REFERENCE_DIGITS,
                     wrt: Sequence[int] | None = None) -> np.ndarray:
    """The (m, n) Jacobian from the symbolic engine's program, evaluated with mpmath at each of
    `digits` in turn until two successive evaluations agree to :data:`SETTLED_DIGITS` (a
    ValueError where none do: a cancellation deeper than the last precision).

    Inputs and the function's constants enter at their exact binary values; each assignment is
    evaluated in order, so shared subexpressions are evaluated once (no expression swell).
    """
    return _settled_derivative(fn, xs, list(range(fn.arity)) if wrt is None else list(wrt),
                               digits)[0]


def _settled_derivative(fn: Function, xs: Sequence[Any], wrt: list[int],
                        digits: Sequence[int] = REFERENCE_DIGITS
                        ) -> tuple[np.ndarray, tuple[int, int], list[Any]]:
    """:func:`exact_derivative`, the two precisions that agreed (it is the second's) and its
    elements at that precision (row-major)."""
    from .engines.symbolic import SymbolicEngine
    from .sympy_program import at_point, exact_constants

    if any(np.iscomplexobj(x) for x in xs):  # its real part would be a different point
        raise ValueError("complex inputs: SymPy's derivative is not diffkit's convention for "
                         "them")
    # only the program is used: the trace's float64 partials may overflow where the mpmath
    # evaluation below does not (x/y at y = 1e-300); its comparisons are decided as the float64
    # program decides them at this point (at_point), only the arithmetic is exact
    with np.errstate(all="ignore"), exact_constants(), at_point():
        deriv = SymbolicEngine().derive(_fresh(fn), list(xs), wrt)
    flat = [float(v) for x in xs for v in np.reshape(np.asarray(x, dtype=float), -1)]
    last: list[Any] | None = None
    for before, p in zip((0, *digits), digits):
        values = _evaluated(deriv, flat, p)
        if last is not None and _agree(last, values):
            return _float64(values, deriv.shape), (before, p), values
        last = values
    raise ValueError(f"the exact derivative did not settle (mpmath at {digits[-2]} and "
                     f"{digits[-1]} digits disagree beyond {SETTLED_DIGITS} digits; a "
                     "cancellation deeper than that)")


def _evaluated(deriv: Any, flat: list[float], digits: int) -> list[Any]:
    """The derivative program's results at the point (`flat`, every input element in order),
    every assignment evaluated in turn at `digits` digits.

    A value that was rounded is moved by a few units of its last digit (:func:`_nudged`): a
    rounding that happens to be exact at two precisions (cos(1e-70) is 1 at 60 and at 120
    digits, so 1 − cos(x) is 0 at both) would otherwise hide the cancellation that follows it,
    and the two evaluations would agree on a wrong number. A value computed without rounding
    (x·x, a tie, 0) is kept, so kinks and ties are decided as written."""
    import sympy as sp

    env: dict[Any, Any] = {s: sp.Float(v, digits) for s, v in zip(deriv.program.inputs, flat)}
    for sym, e in deriv.assignments:
        value = e.xreplace(env).evalf(digits)
        if value.is_Float and not value.is_zero and not _computed_exactly(e, env, value):
            value = _nudged(value, digits)
        env[sym] = value
    return [r.xreplace(env).evalf(digits) for r in deriv.results]


def _computed_exactly(e: Any, env: dict[Any, Any], value: Any) -> bool:
    """Whether `value` is `e` at `env` exactly: `e` takes only rational operations (+ − × ÷,
    integer powers, square roots, comparisons, max and min) and its value in exact rational
    arithmetic (Floats are binary fractions) is `value`."""
    import sympy as sp

    for a in sp.preorder_traversal(e):
        if isinstance(a, sp.Pow):
            if not (a.exp.is_Integer or a.exp == sp.S.Half):
                return False
        elif isinstance(a, sp.Function) and type(a).__name__ not in _RATIONAL_FUNCTIONS:
            return False
    # the symbols `e` reads (not every value computed so far: that made the reference
    # quadratic in the program's length)
    exact = {s: sp.Rational(env[s]) for s in e.free_symbols
             if s in env and (env[s].is_Float or env[s].is_Rational)}
    exact.update({f: sp.Rational(f) for f in e.atoms(sp.Float)})
    q = e.xreplace(exact)
    return bool(q.is_Rational) and q == sp.Rational(value)


#: functions that map rationals to rationals (checked by :func:`_computed_exactly`)
_RATIONAL_FUNCTIONS = frozenset({"Abs", "sign", "Max", "Min", "TieMax", "StrongMul", "NonZero",
                                 "floor", "ceiling", "rint", "Heaviside"})


def _nudged(value: Any, digits: int) -> Any:
    """`value`·(1 ± ~10^(5 − digits)): moved by a few units of the last of its `digits` digits,
    in a direction and by an amount that depend on the value only (equal values stay equal)."""
    import sympy as sp

    man, exp = value._mpf_[1], value._mpf_[2]
    k = (man * 2654435761 + exp) % 1999  # a hash of the value, 0 … 1998
    step = sp.Rational(500 + k // 2, 1000) * (1 if k % 2 else -1)  # ±(0.5 … 1.5)
    return value * (1 + step * sp.Rational(1, 10 ** (digits - 5)))


def _agree(a: list[Any], b: list[Any]) -> bool:
    """Two evaluations agree to SETTLED_DIGITS, normwise (as the error columns measure): real
    numbers within 10^−SETTLED_DIGITS of the largest, anything else (zoo, nan) identical."""
    if not all(x.is_number and x.is_real and x.is_finite for x in (*a, *b)):
        return list(a) == list(b)
    scale = max((abs(y) for y in b), default=0)
    return all(abs(x - y) <= scale * 10 ** -SETTLED_DIGITS for x, y in zip(a, b))


def _float64(values: list[Any], shape: tuple[int, ...]) -> np.ndarray:
    out = []
    for v in values:
        if not v.is_number or not v.is_real:
            raise ValueError(f"the exact derivative is not a real number here ({v})")
        out.append(float(v))
    return np.asarray(out, dtype=float).reshape(shape)


# ----- formatting ----------------------------------------------------------------------------------


def _short(v: Any) -> str:
    if v is None:
        return "—"
    arr = np.asarray(v)
    num = complex if arr.dtype.kind == "c" else float  # never a dropped imaginary part
    if arr.ndim == 0:
        return f"{num(arr):.10g}"
    flat = [f"{num(x):.10g}" for x in arr.reshape(-1)[:3]]
    more = ", …" if arr.size > 3 else ""
    return f"[{', '.join(flat)}{more}]" + (f" {arr.shape}" if arr.ndim > 1 else "")


def _fit(line: str, width: int = 99) -> str:
    """A line cut to `width` characters (with an ellipsis), for reprs."""
    return line if len(line) <= width else line[:width - 1] + "…"


def _err(e: float | None) -> str:
    return "" if e is None else ("0" if e == 0 else f"{e:.1e}")


def _secs(t: float | None) -> str:
    if t is None:
        return ""
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("µs", 1e-6)):
        if t >= scale:
            return f"{t / scale:.3g} {unit}"
    return f"{t / 1e-9:.3g} ns"


def _bytes(b: int | None) -> str:
    if b is None:
        return ""
    for unit, scale in (("MB", 1 << 20), ("kB", 1 << 10)):
        if b >= scale:
            return f"{b / scale:.3g} {unit}"
    return f"{b} B"


__all__ = ["DEFAULT_METHODS", "Comparison", "MethodResult", "compare", "exact_derivative"]
