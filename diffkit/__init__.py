"""diffkit: differentiate functions four ways over one expression IR, and train neural networks."""

from .api import derivative, grad, hessian, jacobian, jvp, symbolic, value_and_grad, vjp
from .errors import (ArityError, BackendError, DiffkitError, DomainError, MissingRuleError,
                     NonDifferentiableError, ParseError, ShapeError, TracingError)
from .function import Function, function
from .ir import Graph, Node, Tensor, tensor
from .parse import parse
from .sympy_bridge import from_sympy
from .testing import check_grads
from .ops import *  # noqa: F403
from .ops import __all__ as _ops_all

__version__ = "0.1.0"

__all__ = [
    "derivative", "grad", "hessian", "jacobian", "jvp", "symbolic", "value_and_grad", "vjp",
    "parse", "from_sympy", "check_grads", "Function", "function", "Graph", "Node", "Tensor", "tensor",
    "DiffkitError", "ArityError", "BackendError", "DomainError", "MissingRuleError",
    "NonDifferentiableError", "ParseError", "ShapeError", "TracingError",
    *_ops_all,
]

#: Public names provided by modules loaded on first use (they pull in Graphviz, matplotlib, …).
_LAZY = {
    "trace": "traces", "Trace": "traces", "draw": "drawing", "render": "drawing",
    "compare": "comparison", "Comparison": "comparison", "nn": None,
}


def __getattr__(name: str):  # noqa: ANN202 - module-level lazy attribute hook (PEP 562)
    if name in _LAZY:
        import importlib

        module = importlib.import_module(f".{_LAZY[name] or name}", __name__)
        value = module if _LAZY[name] is None else getattr(module, name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'diffkit' has no attribute {name!r}")
