"""The "compiled" method: reverse mode run as generated straight-line code (see diffkit.compile).

The first call at new input shapes traces the reverse engine and compiles it (the one-time setup);
later calls at those shapes run the generated Python/NumPy function. Anything the generator does
not take (Tensors while nesting derivatives, complex or CuPy arrays, value-dependent branches)
runs on the reverse engine instead, so every call still gets an answer.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from ..errors import TracingError
from ..evaluate import Unevaluated
from ..function import Function
from ..ir import Tensor
from .base import Engine, Pullback
from .reverse import ReverseEngine


class CompiledEngine(Engine):
    """Reverse mode as generated code. Option ``after``: interpret this many calls per shape first.

    ``after=0`` (the default for ``method="compiled"``) compiles on the first call; ``after=2``
    is the "where it pays" policy: a shape seen only once or twice never pays for compilation.
    """

    name = "compiled"

    def __init__(self, after: int = 0) -> None:
        super().__init__(after=after)
        self.after = after
        self.reverse = ReverseEngine()
        self.last: Any = None  # the CompiledGradient used by the last call (None: interpreted)
        self._seen: dict[Any, int] = {}

    def compiled(self, fn: Function, args: Sequence[Any], wrt: Sequence[int]) -> Any:
        """The CompiledGradient for this call, or None where it must (or should) be interpreted."""
        from ..compile import compile_gradient, signature

        if any(type(a) is Tensor or not isinstance(a, np.ndarray | np.generic | float)
               or np.asarray(a).dtype.kind != "f" for a in args):
            return None
        key = ("compiled", signature(args), tuple(wrt))
        cg = fn.cache.get(key)
        if cg is None:
            if key in fn.cache.get("compiled-refused", ()):
                return None
            seen = self._seen[(id(fn), key)] = self._seen.get((id(fn), key), 0) + 1
            if seen <= self.after:
                return None
            try:
                cg = compile_gradient(fn, *args, wrt=wrt)
            except TracingError:
                fn.cache.setdefault("compiled-refused", set()).add(key)
                return None
        self.last = cg
        return cg

    def value_and_grad(self, fn: Function, args: Sequence[Any], wrt: Sequence[int],
                       need_value: bool = True) -> tuple[Any, tuple[Any, ...]]:
        """(f(args), grads); with ``need_value=False`` the pruned gradient-only code runs."""
        cg = self.compiled(fn, args, wrt)
        if cg is None or cg._vg is None:
            self.last = None
            return self.reverse.value_and_grad(fn, args, wrt)
        if need_value:
            return cg(*args)
        return Unevaluated(cg.out_shape), cg.grad(*args)  # the value was not asked for

    def vjp(self, fn: Function, args: Sequence[Any], wrt: Sequence[int]) -> tuple[Any, Pullback]:
        cg = self.compiled(fn, args, wrt)
        if cg is None:
            self.last = None
            return self.reverse.vjp(fn, args, wrt)
        out = fn.evaluate(*args)

        def pullback(ct: Any) -> tuple[Any, ...]:
            ct = np.broadcast_to(np.asarray(ct, dtype=float), cg.out_shape)
            return cg.vjp(*args, ct if cg.out_shape else float(ct))[1]

        return out, pullback

    def source(self, fn: Function, args: Sequence[Any] | None = None, wrt: Sequence[int] | None = None) -> str:
        """The generated source for `fn` at the shapes of `args` (scalars 0.5 when not given)."""
        from ..compile import compile_gradient

        args = list(args) if args is not None else [0.5] * fn.arity
        return compile_gradient(fn, *args, wrt=wrt).source
