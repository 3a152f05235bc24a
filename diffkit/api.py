"""The one API over all engines: grad, value_and_grad, derivative, jacobian, hessian, jvp, vjp.

Every function takes ``method=`` — "reverse" (default), "forward", "symbolic", "fd" (with
``scheme=`` and ``step=``), "fd-forward", "fd-central", "fd-complex", "fd-richardson", "auto" — and
accepts a :class:`Function`, math text, a SymPy expression or a Python callable.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from .engines import get_engine
from .errors import ArityError, NonDifferentiableError
from .evaluate import Unevaluated
from .function import STRICT, Function, as_function, as_input, to_python
from .ir import Tensor, paused_gc


def _wrt(fn: Function, wrt: int | str | Sequence[int | str] | None) -> list[int]:
    if wrt is None:
        return list(range(fn.arity))
    items = [wrt] if isinstance(wrt, int | str) else list(wrt)
    out = []
    for w in items:
        if isinstance(w, str):
            if w not in fn.inputs:
                raise ArityError(f"wrt={w!r} is not an input of {fn.name}; its inputs are {fn.inputs}")
            out.append(fn.inputs.index(w))
        else:
            if not -fn.arity <= w < fn.arity:
                raise ArityError(f"wrt={w} is out of range for {fn.name}, which has {fn.arity} input(s)")
            out.append(w % fn.arity)
    return out


def _prepare(fn: Function, args: Sequence[Any]) -> list[Any]:
    fn.check_arity(args)
    return [as_input(a) for a in args]


def _plain(x: Any) -> Any:
    return x if type(x) is Tensor else to_python(x)


def _all_finite(x: Any) -> bool:
    if isinstance(x, float):
        return math.isfinite(x)
    try:
        return type(x) is Tensor or bool(np.all(np.isfinite(x)))
    except TypeError:
        return True


def _finite(result: Any, out: Any, what: str, method: str) -> None:
    """A finite function with a non-finite derivative is not differentiable there: say so."""
    if type(result) is Tensor or type(out) is Tensor:
        return
    if isinstance(result, float) and isinstance(out, float):  # Python and NumPy float scalars
        if math.isfinite(out) and not math.isfinite(result):
            raise NonDifferentiableError(_NOT_FINITE.format(what=what, method=method))
        return
    try:
        ok_out = bool(np.all(np.isfinite(out)))
        ok_res = bool(np.all(np.isfinite(result)))
    except TypeError:
        return
    if ok_out and not ok_res:
        raise NonDifferentiableError(_NOT_FINITE.format(what=what, method=method))


_NOT_FINITE = ("{what} is not finite at this point (method={method!r}): the function is not "
               "differentiable there (e.g. sqrt at 0) or the derivative overflows")


#: calls per input shape that the default reverse mode interprets before compiling: compiling
#: costs ~1-25 ms, which a shape seen once or twice never earns back
COMPILE_AFTER = 2


def _gradient_engine(method: str, options: dict[str, Any]) -> Any:
    """The engine for grad/value_and_grad: the default reverse mode compiles where it pays."""
    if method == "reverse" and not options:
        return get_engine("compiled", after=COMPILE_AFTER)
    return get_engine(method, **options)


class GradientFunction:
    """What ``dk.grad`` and ``dk.value_and_grad`` return: call it with a point.

    Attributes:
        function: the :class:`Function` differentiated.
        engine: the engine doing the work.
        source: the generated Python/NumPy code of the gradient (reverse mode), at the last
            point's shapes (scalars if it was never called).
    """

    def __init__(self, run: Callable[..., Any], engine: Any, function: Function, wrt: list[int]) -> None:
        self._run = run
        self.engine = engine
        self.function = function
        self.wrt = wrt
        self._last_args: tuple[Any, ...] | None = None
        self.__doc__ = run.__doc__

    def __call__(self, *args: Any) -> Any:
        self._last_args = args
        return self._run(*args)

    @property
    def source(self) -> str:
        from .engines.compiled import CompiledEngine

        args = None if self._last_args is None else _prepare(self.function, self._last_args)
        return CompiledEngine().source(self.function, args, self.wrt)

    def __repr__(self) -> str:
        return f"<gradient of {self.function!r} by {self.engine.name}>"


def value_and_grad(f: Any, method: str = "reverse", wrt: Any = None, _need_value: bool = True,
                   **options: Any) -> Callable[..., Any]:
    """``value_and_grad(f)(*args)`` -> (f(args), gradients): one gradient per selected input.

    Example:
        >>> import diffkit as dk
        >>> dk.value_and_grad("x**2 * y")(3.0, 2.0)
        (18.0, (12.0, 9.0))
    """
    fn = as_function(f)
    engine = _gradient_engine(method, options)
    idx = _wrt(fn, wrt)

    def run(*args: Any) -> tuple[Any, tuple[Any, ...]]:
        xs = _prepare(fn, args)
        with np.errstate(**STRICT), paused_gc():
            out, grads = engine.value_and_grad(fn, xs, idx, need_value=_need_value)
            if isinstance(out, Unevaluated) and not all(_all_finite(g) for g in grads):
                out = fn.evaluate(*xs)  # only needed to tell overflow from non-differentiability
        if not isinstance(out, Unevaluated):
            for g in grads:
                _finite(g, out, "the gradient", str(method))
        return _plain(out), tuple(_plain(g) for g in grads)

    return GradientFunction(run, engine, fn, idx)


def grad(f: Any, method: str = "reverse", wrt: Any = None, **options: Any) -> Callable[..., tuple[Any, ...]]:
    """``grad(f, method=m)(*args)`` -> a tuple with one gradient per input (shaped like it).

    Example:
        >>> import diffkit as dk
        >>> f = dk.parse("ln(x1) + x1*x2 - sin(x2)")
        >>> dk.grad(f, method="forward")(2.0, 5.0)
        (5.5, 1.7163378145367738)
    """
    vg = value_and_grad(f, method, wrt, _need_value=False, **options)

    def run(*args: Any) -> tuple[Any, ...]:
        return vg(*args)[1]

    return GradientFunction(run, vg.engine, vg.function, vg.wrt)


def jacobian(f: Any, method: str = "reverse", wrt: Any = None, **options: Any) -> Callable[..., Any]:
    """``jacobian(f)(*args)`` -> J of shape (m, n): m output elements, n = all input elements.

    Example:
        >>> import diffkit as dk, numpy as np
        >>> dk.jacobian(lambda x: dk.sin(x), method="forward")(np.zeros(2))
        array([[1., 0.],
               [0., 1.]])
    """
    fn = as_function(f)
    engine = get_engine(method, **options)
    idx = _wrt(fn, wrt)

    def run(*args: Any) -> Any:
        xs = _prepare(fn, args)
        with np.errstate(**STRICT), paused_gc():
            out, jac = engine.jacobian(fn, xs, idx)
        _finite(jac, out, "the Jacobian", str(method))
        return jac

    run.engine = engine  # type: ignore[attr-defined]
    run.function = fn  # type: ignore[attr-defined]
    return run


def hessian(f: Any, method: str = "reverse", wrt: Any = None, **options: Any) -> Callable[..., Any]:
    """``hessian(f)(*args)`` -> the (n, n) matrix of second derivatives of a scalar f.

    Example:
        >>> import diffkit as dk
        >>> dk.hessian("x**2 * y")(3.0, 2.0)
        array([[4., 6.],
               [6., 0.]])
    """
    fn = as_function(f)
    engine = get_engine(method, **options)
    idx = _wrt(fn, wrt)

    def run(*args: Any) -> Any:
        xs = _prepare(fn, args)
        with np.errstate(**STRICT), paused_gc():
            H = engine.hessian(fn, xs, idx)
        return H

    run.engine = engine  # type: ignore[attr-defined]
    return run


def derivative(f: Any, n: int = 1, method: str = "reverse", **options: Any) -> Callable[..., Any]:
    """``derivative(f, n)(x)`` -> dⁿf/dxⁿ for a function of one input.

    Example:
        >>> import diffkit as dk
        >>> dk.derivative("x**3", n=2)(2.0)
        12.0
    """
    fn = as_function(f)
    if fn.arity != 1:
        raise ArityError(f"derivative needs a function of one input; {fn.name} has {fn.arity}: use grad")
    if n < 0 or int(n) != n:
        raise ValueError(f"the derivative order must be a whole number >= 0, got {n}")
    engine = get_engine(method, **options)

    def run(x: Any) -> Any:
        (x,) = _prepare(fn, [x])
        with np.errstate(**STRICT), paused_gc():
            return _plain(engine.derivative(fn, x, int(n)))

    run.engine = engine  # type: ignore[attr-defined]
    return run


def jvp(f: Any, primals: Sequence[Any], tangents: Sequence[Any], method: str = "reverse",
        **options: Any) -> tuple[Any, Any]:
    """Forward product: (f(primals), J·tangents), one tangent per input.

    Example:
        >>> import diffkit as dk
        >>> dk.jvp("x*y", (2.0, 3.0), (1.0, 0.0), method="forward")
        (6.0, 3.0)
    """
    fn = as_function(f)
    engine = get_engine(method, **options)
    xs = _prepare(fn, primals)
    if len(tangents) != len(xs):
        raise ArityError(f"jvp needs one tangent per input ({len(xs)}), got {len(tangents)}")
    with np.errstate(**STRICT), paused_gc():
        out, t = engine.jvp(fn, xs, [as_input(t) for t in tangents])
    return _plain(out), _plain(t)


def vjp(f: Any, *primals: Any, method: str = "reverse", wrt: Any = None, **options: Any) -> tuple[Any, Callable[..., tuple[Any, ...]]]:
    """Reverse product: (f(primals), pullback) with pullback(ct) = ctᵀ·J, one cotangent per input.

    Example:
        >>> import diffkit as dk
        >>> out, pullback = dk.vjp("x*y", 2.0, 3.0)
        >>> pullback(1.0)
        (3.0, 2.0)
    """
    fn = as_function(f)
    engine = get_engine(method, **options)
    xs = _prepare(fn, primals)
    with np.errstate(**STRICT), paused_gc():
        out, pull = engine.vjp(fn, xs, _wrt(fn, wrt))

    def pullback(ct: Any) -> tuple[Any, ...]:
        with np.errstate(**STRICT), paused_gc():
            return tuple(_plain(c) for c in pull(as_input(ct)))

    return _plain(out), pullback


def symbolic(f: Any, *point: Any, wrt: Any = None, order: int = 1, **options: Any) -> Any:
    """The exact derivative of f as SymPy objects: a :class:`SymbolicDerivative`.

    It has ``.expressions`` (simplified when small), ``.latex()``, ``.expanded()`` (every
    intermediate substituted), ``.replacements``/``.reduced`` (its CSE form), ``.sizes()`` (the
    expression swell: tree, shared DAG, after CSE) and ``.source`` (the generated Python code).
    Without a point, the inputs are taken to be scalars.

    Example:
        >>> import diffkit as dk
        >>> dk.symbolic("ln(x1) + x1*x2 - sin(x2)").expressions
        [x2 + 1/x1, x1 - cos(x2)]
    """
    from .engines.symbolic import SymbolicEngine

    if order not in (1, 2):
        raise ValueError(f"order must be 1 (gradient/Jacobian) or 2 (Hessian), got {order}")
    fn = as_function(f)
    if point:
        args = _prepare(fn, point)
        settings: dict[str, str] = STRICT
    else:
        args, settings = [np.float64(0.5)] * fn.arity, {"all": "ignore"}
    with np.errstate(**settings):
        return SymbolicEngine(**options).derive(fn, args, _wrt(fn, wrt), order=order)
