"""diffkit: differentiate functions four ways over one expression IR, and train neural networks."""

from . import ops
from .api import derivative, grad, hessian, jacobian, jvp, symbolic, value_and_grad, vjp
from .errors import (
    ArityError,
    BackendError,
    DiffkitError,
    DomainError,
    MissingRuleError,
    NonDifferentiableError,
    ParseError,
    ShapeError,
    TracingError,
)
from .function import Function, function
from .ir import Graph, Node, Tensor, tensor
from .ops import *
from .parse import parse
from .sympy_bridge import from_sympy
from .testing import check_grads

__version__ = "0.1.0"

__all__ = [
    "ArityError",
    "BackendError",
    "DiffkitError",
    "DomainError",
    "Function",
    "Graph",
    "MissingRuleError",
    "Node",
    "NonDifferentiableError",
    "ParseError",
    "ShapeError",
    "Tensor",
    "TracingError",
    "check_grads",
    "derivative",
    "from_sympy",
    "function",
    "grad",
    "hessian",
    "jacobian",
    "jvp",
    "parse",
    "symbolic",
    "tensor",
    "value_and_grad",
    "vjp",
]
__all__ += ops.__all__

#: Public names provided by modules loaded on first use (they pull in Graphviz, matplotlib, …).
_LAZY = {
    "trace": "traces", "Trace": "traces", "draw": "drawing", "render": "drawing",
    "compare": "comparison", "Comparison": "comparison", "nn": None,
}


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        module = importlib.import_module(f".{_LAZY[name] or name}", __name__)
        value = module if _LAZY[name] is None else getattr(module, name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'diffkit' has no attribute {name!r}")
