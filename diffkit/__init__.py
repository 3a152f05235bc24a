"""diffkit: differentiate functions four ways over one expression IR, and train neural networks."""

from . import numpy_polynomial as _numpy_polynomial  # noqa: F401 - wraps np.polynomial's *val
from . import ops as _ops
from .api import (
    derivative,
    grad,
    hessian,
    jacobian,
    jvp,
    symbolic,
    value_and_grad,
    vjp,
)
from .build import function, jit
from .engines import compiled as _compiled  # noqa: F401 - registers dk.jit's evaluator
from .engines.compiler import compile_gradient
from .errors import (
    ArityError,
    BackendError,
    DiffkitError,
    DomainError,
    InputTypeError,
    InvalidNameError,
    MemoryOrderError,
    MissingRuleError,
    NonDifferentiableError,
    NotRepeatableError,
    NumericOverflowError,
    ObjectArrayError,
    ParseError,
    ShapeError,
    TracedHashError,
    TracedMutationError,
    TracingError,
)
from .function import Function
from .ir import Graph, Node
from .ops import *
from .parse import parse
from .tensor import Tensor, tensor
from .testing import check_grads

__version__ = "0.2.0"

__all__ = [
    "ArityError",
    "BackendError",
    "DiffkitError",
    "DomainError",
    "Function",
    "Graph",
    "InputTypeError",
    "InvalidNameError",
    "MemoryOrderError",
    "MissingRuleError",
    "Node",
    "NonDifferentiableError",
    "NotRepeatableError",
    "NumericOverflowError",
    "ObjectArrayError",
    "ParseError",
    "ShapeError",
    "Tensor",
    "TracedHashError",
    "TracedMutationError",
    "TracingError",
    "check_grads",
    "compile_gradient",
    "derivative",
    "from_sympy",
    "function",
    "grad",
    "hessian",
    "jacobian",
    "jit",
    "jvp",
    "parse",
    "symbolic",
    "tensor",
    "value_and_grad",
    "vjp",
]
__all__ += _ops.__all__

#: Public names provided by modules loaded on first use (SymPy, Graphviz, matplotlib, …); None:
#: the module itself (dk.nn, dk.plots — which imports matplotlib only when it draws).
_LAZY = {
    "from_sympy": "sympy_bridge", "trace": "traces", "Trace": "traces", "draw": "traces",
    "render": "traces", "compare": "comparison", "Comparison": "comparison", "nn": None,
    "plots": None,
}


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        module = importlib.import_module(f".{_LAZY[name] or name}", __name__)
        value = module if _LAZY[name] is None else getattr(module, name)
        globals()[name] = value
        return value
    from .primitive import PUBLIC  # a record declared after import (docs/adding-a-primitive.md)

    if name in PUBLIC:
        return PUBLIC[name]
    raise AttributeError(f"module 'diffkit' has no attribute {name!r}")
