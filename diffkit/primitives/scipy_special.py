"""scipy.special: erf, erfc, erfinv, erfcinv, gamma, gammaln, digamma, polygamma, beta, betaln,
logit, expit, xlogy, xlog1py, ndtr, log_ndtr, and logsumexp with weights.

Values are SciPy's own (``scipy.special`` on NumPy arrays, ``cupyx.scipy.special`` on CuPy arrays,
both through :func:`diffkit.backend.special_module`, imported on first use), with diffkit's
conventions on top:

* **dtypes**: the result has NumPy's result type of the inputs where that is float32 or float16
  (SciPy computes float16 in float64, and a float32 array with a Python number in float64);
  otherwise it is SciPy's.
* **domains**: SciPy returns inf or nan outside a function's domain without a floating-point
  flag; here a non-finite value from finite inputs raises the flag NumPy would (``divide`` at a
  pole or a boundary, ``invalid`` outside the domain, ``overflow`` for a value too large), so
  inside diffkit's API erfinv(1) and gammaln(0) are ``DomainError``s and gamma(200) a
  ``NumericOverflowError``, and outside it they warn as ``np.log(0)`` does.
* **derivatives** are written with the records, so every derivative of every order works in
  every engine: erf′ = 2/√π·e^(−x²), erfinv′ = √π/2·e^(erfinv(x)²), gammaln′ = digamma,
  digamma′ = polygamma(1, ·), polygamma(n, ·)′ = polygamma(n + 1, ·), Γ′ = Γ·ψ, B′ = B·(ψ(a) −
  ψ(a + b)), ndtr′ = φ, log_ndtr′ = φ/Φ = e^(−x²/2 − log_ndtr(x))/√(2π) (no cancellation far in
  the left tail).
* **xlogy(x, y) = x·log y with 0·log 0 = 0** (SciPy's convention): ∂/∂x = log y and
  ∂/∂y = x/y, taken as 0 at (0, 0), where xlogy(0, y) = 0 is constant in y; ∂/∂x at y = 0 is
  −∞: a ``NonDifferentiableError`` where x is differentiated. xlog1py likewise at y = −1.
* **gammaln is log|Γ(x)|** for real x (also between the poles on the negative axis); its SymPy
  translation is ``loggamma``, whose derivative ψ is the same there.
* **complex numbers**: erf, erfc, ndtr and log_ndtr are holomorphic (SciPy evaluates them at
  complex points; the derivative is the complex one); the others refuse complex inputs by name.
* **expit** is a record of its own, not the ``sigmoid`` record: sigmoid's values differ from
  SciPy's expit in the last bit at about a quarter of all points, and ``scipy.special.expit``
  on plain arrays must give SciPy's values. Both have the same derivative rule.
* **polygamma(n, x)** is a structural record (its order n is an integer, not a differentiable
  input: a number, checked by ``prepare``); every other function here is element-wise.
* **math text**: every function is callable by name in ``dk.parse`` except ``gamma`` and
  ``beta``, which stay free as variable names (``alpha*x + beta``); write ``gammaln``/``betaln``
  or ``dk.gamma`` in Python.

scipy.special ufuncs given a traced value dispatch to these records (``scipy=`` names). SciPy's
Python-level functions do not dispatch: ``scipy.special.softmax`` works through NumPy on object
arrays of traced elements (one node per element), while ``scipy.special.logsumexp``,
``log_softmax`` and ``polygamma`` fail inside SciPy (TypeError): write ``dk.logsumexp``,
``dk.weighted_logsumexp`` (SciPy's ``b=`` and ``return_sign=``), ``dk.log_softmax(x, axis=None)``
(SciPy's default axis) and ``dk.polygamma``.

SymPy translations use subclasses of SymPy's own functions (``erf``, ``erfinv``, ``gamma``,
``loggamma``, ``polygamma``, ``beta``, …) that keep SymPy's derivatives and values and print as
calls of scipy.special, so the symbolic engine can compile them; they are built on first use
(``import diffkit`` loads no SymPy).
"""

from __future__ import annotations

import inspect
import math
import warnings
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from ..backend import special_module
from ..errors import DomainError, NonDifferentiableError
from ..ir import Traced
from .declare import composite, declared_in, elementwise, shape_of, structural
from .elementwise import abs, equal, exp, log, log1p, sign, stop_gradient, where
from .special import logsumexp
from .structure import amax, broadcast_to, reshape, sum

_SQRT_PI = math.sqrt(math.pi)
_TWO_OVER_SQRT_PI = 2.0 / _SQRT_PI
_HALF_SQRT_PI = 0.5 * _SQRT_PI
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)

# ----- evaluation: SciPy's values, NumPy's dtype rules and floating-point flags -----------------


def _result_dtype(args: Sequence[Any]) -> np.dtype:
    """NumPy's result type of the arguments (Python numbers are weak, as in NumPy 2)."""
    return np.result_type(*[getattr(a, "dtype", a) for a in args])


def _flag(kind: str, name: str, hint: str = "") -> None:
    """Raise NumPy's floating-point flag `kind` ("divide", "invalid", "overflow") the way the
    current ``np.errstate`` asks: an exception, a warning, or nothing."""
    mode = np.geterr()[{"divide": "divide", "invalid": "invalid", "overflow": "over"}[kind]]
    what = {"divide": "divide by zero", "invalid": "invalid value", "overflow": "overflow"}[kind]
    message = f"{what} encountered in {name}{hint}"
    if mode == "raise":
        raise FloatingPointError(message)
    if mode != "ignore":
        warnings.warn(message, RuntimeWarning, stacklevel=4)


def _is_pole(x: Any) -> Any:
    """Where x is 0, −1, −2, … (the poles of Γ, ψ and the polygammas)."""
    x = np.asarray(x)
    return (x <= 0) & (np.floor(x) == x) if x.dtype.kind != "c" else np.zeros(x.shape, bool)


def _finish(xp: Any, name: str, out: Any, args: Sequence[Any],
            overflow: Callable[..., Any] | None = None, hint: str = "") -> Any:
    """SciPy's result with NumPy's dtype for float32/float16 inputs, and the floating-point flag
    NumPy would raise where it is not finite though every input is (NumPy only)."""
    dtype = _result_dtype(args)
    out_dtype = getattr(out, "dtype", None)
    if (out_dtype is not None and dtype.kind == "f" and out_dtype.kind == "f"
            and dtype.itemsize < out_dtype.itemsize):
        out = out.astype(dtype)
    if xp is np and not np.isfinite(out).all():
        bad = ~np.isfinite(out)
        for a in args:
            bad = bad & np.isfinite(a)
        if bad.any():
            if np.isnan(out[bad]).any():
                _flag("invalid", name, hint)
            elif overflow is not None and (bad & overflow(*args)).any():
                _flag("overflow", name, hint)
            else:
                _flag("divide", name, hint)
    return out


def _scipy(name: str, *params: str, overflow: Callable[..., Any] | None = None
           ) -> Callable[..., Any]:
    """An impl ``(xp, *params)`` that calls ``scipy.special.<name>`` (CuPy:
    ``cupyx.scipy.special.<name>``); `params` name the arguments (``help(dk.xlogy)`` shows them,
    and ``dk.grad(dk.xlogy)`` names its inputs after them)."""

    def impl(xp: Any, *args: Any) -> Any:
        return _finish(xp, name, getattr(special_module(xp), name)(*args), args, overflow)

    kind = inspect.Parameter.POSITIONAL_OR_KEYWORD
    impl.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
        [inspect.Parameter(p, kind) for p in ("xp", *params)])
    impl.__name__ = impl.__qualname__ = f"_{name}"
    return impl


def _not_at_poles(*args: Any) -> Any:
    """An infinite value is an overflow where no argument is at a pole of Γ."""
    out = True
    for a in args:
        out = out & ~_is_pole(a)
    return out


# ----- SymPy: SymPy's functions, printed as calls of scipy.special ------------------------------

_SYMPY: dict[str, Any] = {}

#: SymPy function -> (scipy.special name, math-module name or None) of its printed code
_PRINTED = {"erf": ("erf", "erf"), "erfc": ("erfc", "erfc"), "erfinv": ("erfinv", None),
            "erfcinv": ("erfcinv", None), "gamma": ("gamma", "gamma"),
            "loggamma": ("gammaln", "lgamma"), "polygamma": ("polygamma", None),
            "beta": ("beta", None)}


def _sym(sp: Any, name: str) -> Any:
    """The SymPy function class `name` of the translations (built on first use)."""
    if not _SYMPY:
        _build_sympy(sp)
    return _SYMPY[name]


def _build_sympy(sp: Any) -> None:
    """Subclasses of SymPy's special functions: SymPy's derivatives (with these classes in them)
    and values, printed as scipy.special calls (the NumPy program) and, where the math module has
    the function, as math calls (the fast program of real inputs)."""
    ours: dict[type, type] = {}

    def to_ours(e: Any) -> Any:
        return e.replace(lambda a: type(a) in ours, lambda a: ours[type(a)](*a.args))

    def scipy_call(name: str, args: Sequence[str]) -> str:
        return f"__import__('scipy.special').special.{name}({', '.join(args)})"

    for name, (scipy_name, math_name) in _PRINTED.items():
        base = getattr(sp, name)

        def fdiff(self: Any, argindex: int = 1, _base: Any = base) -> Any:
            return to_ours(_base.fdiff(self, argindex))

        def numpycode(self: Any, printer: Any, _name: str = scipy_name) -> str:
            args = [printer._print(a) for a in self.args]
            if _name == "polygamma" and self.args[0] == 0:
                return scipy_call("psi", args[1:])
            return scipy_call(_name, args)

        def pythoncode(self: Any, printer: Any, _name: str = scipy_name,
                       _math: str | None = math_name) -> str:
            if _math is not None:
                return f"math.{_math}({printer._print(self.args[0])})"
            return f"float({numpycode(self, printer, _name)})"

        attrs = {"fdiff": fdiff, "_numpycode": numpycode, "_pythoncode": pythoncode,
                 "__module__": __name__}
        if name in ("erf", "erfc"):  # keep erfc(−x/√2) as written: SymPy's 2 − erfc(x/√2) cancels
            attrs["eval"] = classmethod(
                lambda cls, arg, _base=base: _base.eval(arg) if arg.is_Number else None)
        if name == "erfcinv":  # mpmath has no erfcinv: erfcinv(x) = erfinv(1 − x)
            attrs["_eval_evalf"] = lambda self, prec: sp.erfinv(1 - self.args[0])._eval_evalf(prec)
        ours[base] = type(name, (base,), attrs)
        _SYMPY[name] = ours[base]

    class log_ndtr(sp.Function):  # SymPy's naming: the class is the function
        """log Φ(x), with the derivative e^(−x²/2 − log Φ(x))/√(2π) (no cancellation, no
        underflow of Φ² in the second derivative far in the left tail)."""

        nargs = 1

        def fdiff(self, argindex: int = 1) -> Any:
            x = self.args[0]
            return sp.exp(-x * x / 2 - self) / sp.sqrt(2 * sp.pi)

        def _eval_evalf(self, prec: int) -> Any:
            import mpmath

            x = self.args[0]._eval_evalf(prec)
            if x is None or not x.is_Number:
                return None
            with mpmath.workprec(prec + 20):
                value = mpmath.log(mpmath.ncdf(x._to_mpmath(prec + 20)))
            return sp.Float(value, precision=prec)

        def _eval_rewrite_as_erfc(self, x: Any, **kwargs: Any) -> Any:
            return sp.log(sp.erfc(-x / sp.sqrt(2)) / 2)

        def _numpycode(self, printer: Any) -> str:
            return scipy_call("log_ndtr", [printer._print(self.args[0])])

        def _pythoncode(self, printer: Any) -> str:
            return f"float({self._numpycode(printer)})"

    _SYMPY["log_ndtr"] = log_ndtr


def _sympy_polygamma(sp: Any, n: Any, x: Any) -> Any:
    """polygamma on object arrays (a structural record's translation), element by element."""
    fn = np.frompyfunc(lambda a, b: _sym(sp, "polygamma")(a, b), 2, 1)
    return np.asarray(fn(np.asarray(n, dtype=object), np.asarray(x, dtype=object)), dtype=object)


# ----- the error function and its inverses ------------------------------------------------------

erf = elementwise(
    "erf", _scipy("erf", "x"), (lambda x, o: _TWO_OVER_SQRT_PI * exp(-(x * x)),),
    lambda sp, x: _sym(sp, "erf")(x), numpy=(), scipy=("erf",), latex=r"\operatorname{erf}",
    doc="The error function erf(x) = 2/√π ∫₀ˣ e^(−t²) dt (scipy.special.erf).")
erfc = elementwise(
    "erfc", _scipy("erfc", "x"), (lambda x, o: -_TWO_OVER_SQRT_PI * exp(-(x * x)),),
    lambda sp, x: _sym(sp, "erfc")(x), numpy=(), scipy=("erfc",), latex=r"\operatorname{erfc}",
    doc="The complementary error function erfc(x) = 1 − erf(x), accurate for large x "
        "(scipy.special.erfc).")
erfinv = elementwise(
    "erfinv", _scipy("erfinv", "x"), (lambda x, o: _HALF_SQRT_PI * exp(o * o),),
    lambda sp, x: _sym(sp, "erfinv")(x), numpy=(), scipy=("erfinv",),
    latex=r"\operatorname{erf}^{-1}", domain=((-0.9, 0.9),),
    domain_text="erfinv needs -1 < x < 1", holomorphic=False,
    doc="The inverse error function: erf(erfinv(x)) = x for -1 < x < 1 (scipy.special.erfinv).")
erfcinv = elementwise(
    "erfcinv", _scipy("erfcinv", "x"), (lambda x, o: -_HALF_SQRT_PI * exp(o * o),),
    lambda sp, x: _sym(sp, "erfcinv")(x), numpy=(), scipy=("erfcinv",),
    latex=r"\operatorname{erfc}^{-1}", domain=((0.1, 1.9),),
    domain_text="erfcinv needs 0 < x < 2", holomorphic=False,
    doc="The inverse complementary error function: erfc(erfcinv(x)) = x for 0 < x < 2 "
        "(scipy.special.erfcinv).")
ndtr = elementwise(
    "ndtr", _scipy("ndtr", "x"), (lambda x, o: _INV_SQRT_2PI * exp(-0.5 * (x * x)),),
    lambda sp, x: _sym(sp, "erfc")(-x / sp.sqrt(2)) / 2, numpy=(), scipy=("ndtr",),
    unicode="Φ", latex=r"\Phi", domain=((-3.0, 3.0),),
    doc="The standard normal CDF Φ(x) = erfc(−x/√2)/2 (scipy.special.ndtr).")
log_ndtr = elementwise(
    "log_ndtr", _scipy("log_ndtr", "x"),
    (lambda x, o: _INV_SQRT_2PI * exp(-0.5 * (x * x) - o),),  # φ/Φ without cancellation
    lambda sp, x: _sym(sp, "log_ndtr")(x), numpy=(), scipy=("log_ndtr",),
    unicode="ln Φ", latex=r"\ln\Phi", domain=((-3.0, 3.0),),
    doc="log Φ(x), the log of the standard normal CDF, accurate far into the left tail "
        "(scipy.special.log_ndtr).")

# ----- the gamma function and its relatives -----------------------------------------------------

_POLES = "poles at x = 0, -1, -2, ..."

gamma = elementwise(
    "gamma", _scipy("gamma", "x", overflow=_not_at_poles), (lambda x, o: o * digamma(x),),
    lambda sp, x: _sym(sp, "gamma")(x), numpy=(), scipy=("gamma",), parseable=False,
    unicode="Γ", latex=r"\Gamma", domain=((0.2, 4.0),),
    domain_text=f"gamma has {_POLES} and overflows for x > 171.6", holomorphic=False,
    doc="The gamma function Γ(x) (scipy.special.gamma); Γ′ = Γ·ψ.")
gammaln = elementwise(
    "gammaln", _scipy("gammaln", "x", overflow=_not_at_poles), (lambda x, o: digamma(x),),
    lambda sp, x: _sym(sp, "loggamma")(x), numpy=(), scipy=("gammaln",),
    unicode="ln|Γ|", latex=r"\ln\lvert\Gamma\rvert", domain=((0.2, 4.0),),
    domain_text=f"gammaln (log|Γ(x)|) has {_POLES}", holomorphic=False,
    doc="log|Γ(x)| for real x (scipy.special.gammaln); its derivative is digamma.")
digamma = elementwise(
    "digamma", _scipy("psi", "x"), (lambda x, o: polygamma(1, x),),
    lambda sp, x: _sym(sp, "polygamma")(0, x), numpy=(), scipy=("digamma", "psi"),
    unicode="ψ", latex=r"\psi", domain=((0.2, 4.0),),
    domain_text=f"digamma has {_POLES}", holomorphic=False,
    doc="The digamma function ψ(x) = Γ′(x)/Γ(x) (scipy.special.digamma, alias psi); "
        "ψ′ = polygamma(1, x).")


def _polygamma_impl(xp: Any, n: Any, x: Any) -> Any:
    out = special_module(xp).polygamma(n, x)
    if getattr(out, "ndim", None) == 0:  # SciPy's polygamma gives 0-d arrays for scalars
        out = out[()]
    return _finish(xp, "polygamma", out, (x,), overflow=lambda x: ~_is_pole(x),
                   hint=f" (polygamma has {_POLES})")


def _prepare_polygamma(n: Any, x: Any) -> Any:
    """n: a non-negative integer (or an integer array broadcasting with x), never differentiated."""
    if isinstance(n, Traced):
        if getattr(n, "requires_grad", False):
            raise NonDifferentiableError(
                "polygamma(n, x) is not differentiable in its order n (a non-negative integer): "
                "pass n as a number, or leave it out of wrt=")
        n = n.concrete("polygamma's order n")
    values = np.asarray(getattr(n, "get", lambda: n)())
    if values.dtype.kind not in "biuf" or not np.all(np.isfinite(values)) or np.any(
            values < 0) or np.any(np.floor(values) != values):
        raise DomainError(f"polygamma needs a non-negative integer order n, got {n!r}")
    order = int(values) if values.ndim == 0 else values.astype(np.int64)
    return (order, x), {}


def _polygamma_tangent(t: Any, k: int, n: Any, x: Any, out: Any) -> Any:
    """ẏ = polygamma(n + 1, x)·ẋ, with ẋ's axes lined up with the output's (n may broadcast x)."""
    sx, so = shape_of(x), shape_of(out)
    if len(sx) < len(so):
        t = reshape(t, (k,) + (1,) * (len(so) - len(sx)) + sx)
    return broadcast_to(t * polygamma(n + 1, x), (k, *so))


polygamma = structural(
    "polygamma", _polygamma_impl, nargs=2, prepare=_prepare_polygamma,
    jvp=lambda ts, k, xs, out: (None if ts[1] is None
                                else _polygamma_tangent(ts[1], k, xs[0], xs[1], out)),
    vjp=lambda ct, xs, out: (None, lambda: ct * polygamma(xs[0] + 1, xs[1])),
    sympy=_sympy_polygamma, scipy=("polygamma",), parseable=True, unicode="ψ⁽ⁿ⁾",
    latex=r"\psi^{(n)}",
    doc="The polygamma function ψ⁽ⁿ⁾(x), the n-th derivative of digamma (scipy.special.polygamma): "
        "n is a non-negative integer (not differentiated); ∂/∂x = polygamma(n + 1, x).")


def _beta_partial(which: int) -> Callable[..., Any]:
    def rule(a: Any, b: Any, o: Any) -> Any:
        return o * (digamma(a if which == 0 else b) - digamma(a + b))

    return rule


def _betaln_partial(which: int) -> Callable[..., Any]:
    def rule(a: Any, b: Any, o: Any) -> Any:
        return digamma(a if which == 0 else b) - digamma(a + b)

    return rule


beta = elementwise(
    "beta", _scipy("beta", "a", "b", overflow=_not_at_poles), (_beta_partial(0), _beta_partial(1)),
    lambda sp, a, b: _sym(sp, "beta")(a, b), numpy=(), scipy=("beta",), parseable=False,
    unicode="B", latex=r"\operatorname{B}", domain=((0.2, 3.0), (0.2, 3.0)),
    domain_text="beta has poles where a or b is 0, -1, -2, ...", holomorphic=False,
    doc="The beta function B(a, b) = Γ(a)Γ(b)/Γ(a + b) (scipy.special.beta).")
betaln = elementwise(
    "betaln", _scipy("betaln", "a", "b", overflow=_not_at_poles),
    (_betaln_partial(0), _betaln_partial(1)),
    lambda sp, a, b: (_sym(sp, "loggamma")(a) + _sym(sp, "loggamma")(b)
                      - _sym(sp, "loggamma")(a + b)),
    numpy=(), scipy=("betaln",), latex=r"\ln\lvert\operatorname{B}\rvert",
    domain=((0.2, 3.0), (0.2, 3.0)),
    domain_text="betaln has poles where a or b is 0, -1, -2, ...", holomorphic=False,
    doc="log|B(a, b)| (scipy.special.betaln).")

# ----- logistic functions -----------------------------------------------------------------------


def _expit_prime(x: Any, o: Any) -> Any:
    """expit′ = e/(1 + e)² with e = exp(−|x|): exact also where expit(x) rounds to 1."""
    e = exp(-abs(x))
    return e / ((1.0 + e) * (1.0 + e))


logit = elementwise(
    "logit", _scipy("logit", "p"), (lambda x, o: 1.0 / (x * (1.0 - x)),),
    lambda sp, x: sp.log(x) - sp.log(1 - x), numpy=(), scipy=("logit",),
    latex=r"\operatorname{logit}", domain=((0.05, 0.95),), domain_text="logit needs 0 < p < 1",
    holomorphic=False, doc="log(p/(1 − p)), the inverse of expit (scipy.special.logit).")
expit = elementwise(
    "expit", _scipy("expit", "x"), (_expit_prime,),
    lambda sp, x: sp.Piecewise((1 / (1 + sp.exp(-x)), x >= 0),  # no overflow either side
                               (sp.exp(x) / (1 + sp.exp(x)), True)),
    numpy=(), scipy=("expit",), latex=r"\operatorname{expit}", domain=((-4.0, 4.0),),
    holomorphic=False,
    doc="The logistic function 1/(1 + e^(−x)) with SciPy's values (scipy.special.expit); "
        "dk.sigmoid is the same function with diffkit's own evaluation.")

# ----- x·log y with 0·log 0 = 0 -----------------------------------------------------------------


def _xlogy_dy(x: Any, y: Any, o: Any) -> Any:
    """∂(x log y)/∂y = x/y, and 0 at (0, 0): xlogy(0, y) = 0 for every y ≥ 0."""
    origin = where(equal(x, 0.0), equal(y, 0.0), False)
    return x / where(origin, 1.0, y)


def _xlog1py_dy(x: Any, y: Any, o: Any) -> Any:
    """∂(x log(1 + y))/∂y = x/(1 + y), and 0 at (0, −1)."""
    origin = where(equal(x, 0.0), equal(y, -1.0), False)
    return x / where(origin, 1.0, 1.0 + y)


xlogy = elementwise(
    "xlogy", _scipy("xlogy", "x", "y", overflow=lambda x, y: np.asarray(y) != 0),
    (lambda x, y, o: log(y), _xlogy_dy), lambda sp, x, y: x * sp.log(y), numpy=(),
    scipy=("xlogy",), latex=r"\operatorname{xlogy}", domain=((-2.0, 2.0), (0.2, 4.0)),
    domain_text="xlogy needs y > 0 (y = 0 only where x = 0)", holomorphic=False,
    special=(((0.0, 2.0), (math.log(2.0), 0.0)), ((0.0, 0.0), "nondifferentiable")),
    doc="x·log(y), 0 where x = 0 (also at y = 0) (scipy.special.xlogy); ∂/∂y = 0 at (0, 0), "
        "∂/∂x at y = 0 does not exist.")
xlog1py = elementwise(
    "xlog1py", _scipy("xlog1py", "x", "y", overflow=lambda x, y: np.asarray(y) != -1),
    (lambda x, y, o: log1p(y), _xlog1py_dy), lambda sp, x, y: x * sp.log(1 + y), numpy=(),
    scipy=("xlog1py",), latex=r"\operatorname{xlog1py}", domain=((-2.0, 2.0), (-0.5, 3.0)),
    domain_text="xlog1py needs y > -1 (y = -1 only where x = 0)", holomorphic=False,
    special=(((0.0, 1.0), (math.log(2.0), 0.0)), ((0.0, -1.0), "nondifferentiable")),
    doc="x·log(1 + y), 0 where x = 0 (also at y = −1) (scipy.special.xlog1py).")

# ----- logsumexp with SciPy's weights and sign ----------------------------------------------------


@composite
def weighted_logsumexp(a: Any, b: Any = None, axis: int | Sequence[int] | None = None,
                       keepdims: bool = False, return_sign: bool = False) -> Any:
    """log|Σ b·exp(a)| along `axis` (all axes when None), SciPy's ``logsumexp(a, axis, b,
    keepdims, return_sign)``: with ``return_sign`` the pair (value, sign of the sum), the sign a
    constant; without it a negative sum is a DomainError (SciPy: nan). Computed stably around
    m = max a (a constant to the derivative); a and b broadcast together and both are
    differentiable. Without b it is dk.logsumexp."""
    if b is None and not return_sign:
        return logsumexp(a, axis=axis, keepdims=keepdims)
    a, b = (v if v is None or hasattr(v, "shape") else np.asarray(v, dtype=float) for v in (a, b))
    shape = tuple(np.broadcast_shapes(shape_of(a), shape_of(b))) if b is not None else shape_of(a)
    if shape_of(a) != shape:
        a = broadcast_to(a, shape)
    m = stop_gradient(amax(a, axis=axis, keepdims=True))
    s = sum(exp(a - m) if b is None else b * exp(a - m), axis=axis, keepdims=True)
    out = (log(abs(s)) if return_sign else log(s)) + m
    sgn = sign(s)  # a constant: sign has no derivative
    if not keepdims:
        nd = len(shape)
        drop = set(range(nd)) if axis is None else {
            x % max(nd, 1) for x in ((axis,) if isinstance(axis, int) else tuple(axis))}
        kept = tuple(n for i, n in enumerate(shape) if i not in drop)
        out, sgn = reshape(out, kept), reshape(sgn, kept)
    return (out, sgn) if return_sign else out


__all__ = declared_in(__name__)
