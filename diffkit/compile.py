"""``diffkit.compile``: the public home of :func:`compile_gradient` (also ``dk.compile_gradient``).

The compiler itself lives with the compiled engine, in :mod:`diffkit.engines.compiler`.
"""

from .engines.compiler import CompiledGradient, compile_gradient

__all__ = ["CompiledGradient", "compile_gradient"]
