"""`Function`: a differentiable function with named inputs, built by parsing, tracing or SymPy.

A Function wraps a body written with diffkit operations. Called with numbers it evaluates them;
asked for its graph at a point it traces the body into the IR (cached per input shapes unless the
body branched on a traced value).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from .errors import ArityError, DomainError, TracingError
from .evaluate import evaluate, recorded_values
from .ir import Graph, Node, Tensor, new_tape

#: numpy error handling inside diffkit's API: a NaN or a division by zero is an error, not a value.
STRICT = {"divide": "raise", "invalid": "raise", "over": "ignore"}


def as_input(x: Any) -> Any:
    """Coerce one argument: Python numbers and lists to float64, integer arrays to float64."""
    t = type(x)
    if t is Tensor or t is np.float64 or t is np.ndarray and x.dtype.kind in "fc":
        return x
    if isinstance(x, bool | int | float | np.integer | np.floating | np.bool_):
        return np.float64(x)  # a NumPy scalar, so NumPy's error handling applies (not ZeroDivisionError)
    if isinstance(x, complex | np.complexfloating):
        return np.complex128(x)
    if isinstance(x, list | tuple):
        return np.asarray(x, dtype=float)
    if isinstance(x, np.ndarray):
        return x if x.dtype.kind in "fc" else x.astype(float)
    if hasattr(x, "dtype") and hasattr(x, "shape"):  # CuPy and other array types
        return x if x.dtype.kind in "fc" else x.astype(float)
    raise TypeError(f"cannot differentiate with respect to a {type(x).__name__}: pass numbers or arrays")


def _signature(args: Sequence[Any]) -> tuple[Any, ...]:
    return tuple((getattr(a, "shape", ()), type(a), getattr(a, "dtype", None)) for a in args)


class Function:
    """A function of named inputs, differentiable by every engine.

    Example:
        >>> import diffkit as dk
        >>> f = dk.parse("ln(x1) + x1*x2 - sin(x2)")
        >>> f.inputs
        ('x1', 'x2')
        >>> f(2.0, 5.0)
        11.652071455223084
    """

    def __init__(self, body: Callable[..., Any], inputs: Sequence[str], name: str | None = None,
                 text: str | None = None) -> None:
        self.body = body
        self.inputs = tuple(inputs)
        self.name = name or getattr(body, "__name__", "f")
        self.text = text
        self._graphs: dict[tuple[Any, ...], Graph] = {}
        self.cache: dict[Any, Any] = {}  # engines keep derived artefacts here, keyed by their own keys

    @property
    def arity(self) -> int:
        return len(self.inputs)

    def check_arity(self, args: Sequence[Any]) -> None:
        if len(args) != len(self.inputs):
            names = ", ".join(self.inputs)
            raise ArityError(
                f"{self.name} takes {len(self.inputs)} input(s) ({names}), got {len(args)}"
            )

    def __call__(self, *args: Any) -> Any:
        """Evaluate at `args`; a 0-d result comes back as a Python float."""
        self.check_arity(args)
        args = tuple(as_input(a) for a in args)
        if any(type(a) is Tensor for a in args):
            return self.body(*args)
        with np.errstate(**STRICT):
            out = self._call_body(args)
        return to_python(out)

    def _call_body(self, args: Sequence[Any]) -> Any:
        try:
            out = self.body(*args)
        except FloatingPointError as exc:
            raise DomainError(f"{self.name}: point outside the domain ({exc})") from None
        return stack_outputs(out)

    def evaluate(self, *args: Any) -> Any:
        """Evaluate without the float conversion (complex and array results kept as they are)."""
        return self._call_body(tuple(as_input(a) for a in args))

    # ----- tracing ----------------------------------------------------------------------------

    def trace(self, *args: Any) -> Graph:
        """The graph of this function at `args` (values recorded on its nodes)."""
        self.check_arity(args)
        args = tuple(as_input(a) for a in args)
        with new_tape() as tape:
            ins = [Tensor(Node(None, (), {}, a, name=n), tape) for n, a in zip(self.inputs, args, strict=True)]
            out = stack_outputs(self.body(*ins))
            if type(out) is Tensor and out.tape is tape:
                out_node = out.node
            else:
                out_node = Node(None, (), {}, out if type(out) is Tensor else np.asarray(out, dtype=float)
                                if not np.isscalar(out) else float(out))
            return Graph([t.node for t in ins], out_node, tape.value_dependent)

    def graph_at(self, *args: Any, prune: Callable[[Graph], set[Node]] | None = None
                 ) -> tuple[Graph, dict[Node, Any]]:
        """A graph valid at `args` and the values of its nodes there (cached per input shapes).

        A cached graph is replayed; ``prune(graph)`` may name the only nodes worth computing.
        """
        args = tuple(as_input(a) for a in args)
        self.check_arity(args)
        key = _signature(args)
        graph = self._graphs.get(key)
        if graph is not None:
            return graph, evaluate(graph, args, None if prune is None else prune(graph))
        graph = self.trace(*args)
        if not graph.value_dependent:
            self._graphs[key] = graph
        return graph, recorded_values(graph)

    def graph(self, *args: Any) -> Graph:
        """The graph at `args`, or at scalar inputs (values not shown) when no point is given."""
        if args:
            return self.trace(*args)
        with np.errstate(all="ignore"):
            g = self.trace(*([0.5] * self.arity))
        return Graph(g.inputs, g.output, g.value_dependent)

    def listing(self, *args: Any) -> str:
        """The seeds-notation listing: ``v1 = log(v-1)`` … (with values when a point is given)."""
        return self.graph(*args).listing(values=bool(args))

    def to_sympy(self, *args: Any) -> Any:
        """The function as a SymPy expression in symbols named like its inputs (scalars)."""
        from .sympy_bridge import to_sympy

        return to_sympy(self, *args)

    def __repr__(self) -> str:
        what = f" {self.text!r}" if self.text else ""
        return f"<diffkit.Function {self.name}({', '.join(self.inputs)}){what}>"

    def __str__(self) -> str:
        return self.listing()


def stack_outputs(out: Any) -> Any:
    """A tuple/list of outputs becomes one 1-D array (so Jacobians are (m, n))."""
    if isinstance(out, list | tuple):
        from . import ops

        if not out:
            raise TracingError("the function returned an empty sequence")
        return ops.concatenate([ops.reshape(o, (-1,)) for o in out], axis=0)
    return out


def to_python(out: Any) -> Any:
    """0-d arrays and NumPy scalars become Python floats; arrays stay arrays."""
    if isinstance(out, np.ndarray | np.generic) and np.ndim(out) == 0:
        return out.item()
    return out


def function(fn: Callable[..., Any] | None = None, *, inputs: Sequence[str] | None = None) -> Any:
    """Decorator: make a Python function (written with diffkit ops) a :class:`Function`.

    Its positional parameters are the inputs.

    Example:
        >>> import diffkit as dk
        >>> @dk.function
        ... def f(x, y):
        ...     return x**2 * y + y + 2
        >>> dk.grad(f)(3.0, 4.0)
        (24.0, 10.0)
    """

    def wrap(f: Callable[..., Any]) -> Function:
        return Function(f, inputs or _positional_names(f), name=getattr(f, "__name__", "f"))

    return wrap(fn) if fn is not None else wrap


def _positional_names(f: Callable[..., Any]) -> list[str]:
    try:
        params = inspect.signature(f).parameters.values()
    except (TypeError, ValueError) as exc:
        raise TracingError(f"cannot read the parameters of {f!r}: pass inputs=[...]") from exc
    kinds = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    names = [p.name for p in params if p.kind in kinds]
    if any(p.kind is inspect.Parameter.VAR_POSITIONAL for p in params):
        raise TracingError("functions with *args cannot be traced: name the inputs, or pass inputs=[...]")
    return names


def as_function(f: Any) -> Function:
    """A Function from a Function, math text, a SymPy expression or a Python callable."""
    if isinstance(f, Function):
        return f
    if isinstance(f, str):
        from .parse import parse

        return parse(f)
    if type(f).__module__.startswith("sympy"):
        from .sympy_bridge import from_sympy

        return from_sympy(f)
    if callable(f):
        return function(f)
    raise TypeError(f"cannot differentiate a {type(f).__name__}: pass a Function, text, SymPy or a callable")
