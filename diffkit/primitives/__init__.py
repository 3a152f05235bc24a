"""THE rule table: one record per primitive, read by every engine, the parser, the printers and tests.

Each record (a :class:`~diffkit.primitive.Primitive`) declares in one place how the operation is
evaluated (through the array module ``xp``, so NumPy and CuPy both work), its derivative rules,
its SymPy translation, its names (NumPy, math text, scalar code, listings, LaTeX), its algebraic
unit, its test domain and its values at special points. The record is also the public function:
``dk.sin`` *is* the ``sin`` record. Adding a primitive means adding one record to one family module
of this package; the engines, the parser, ``from_sympy``, the code generator, the docs and the
registry tests read it. Functions that are exact compositions of primitives are declared here too,
as composites (:func:`~diffkit.primitives.declare.composite`).

Families, each a module (imports flow down this list): ``elementwise`` (arithmetic, elementary
functions, complex parts, comparisons), ``structure`` (the core reductions, shapes, indexing),
``products`` (matmul, dot, einsum, …), ``special`` (logsumexp, softmax), ``neural`` (the fused
operations of diffkit.nn), ``ufuncs`` (more NumPy ufuncs), ``reductions`` (more reductions,
sorting), ``assembly`` (stacking, splitting, padding, …), ``linalg``, ``scipy_special``,
``polynomials`` (polyval, convolution, interpolation, grids), ``nanfunctions`` (NaN-ignoring
reductions, quantiles), ``fft`` (numpy.fft's transforms, shifts and frequencies; piecewise).

Rules are written with the records and Python operators (``-sin(x)``, ``1.0 / x``): on arrays
they run at NumPy speed, on traced values they record nodes, so rules can be differentiated again.
That is how second derivatives work in every engine.
"""

from __future__ import annotations

from ..primitive import COMPOSITES, REGISTRY, Composite, Primitive
from .assembly import *
from .declare import NAMES, composite, elementwise, shape_of, structural
from .elementwise import *
from .fft import *
from .linalg import *
from .nanfunctions import *
from .neural import *
from .polynomials import *
from .products import *
from .reductions import *
from .scipy_special import *
from .special import *
from .structure import *
from .structure import sum_to
from .ufuncs import *

__all__ = [*NAMES, "power", "sum_to"]

#: the declaration tools and registries, for the tests and for adding a primitive
TOOLS = (COMPOSITES, REGISTRY, Composite, Primitive, composite, elementwise, shape_of, structural)
