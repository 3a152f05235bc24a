"""scipy.special: erf, erfc, erfinv, erfcinv, gamma, gammaln, digamma, polygamma, beta, betaln,
logit, expit, xlogy, xlog1py, ndtr, log_ndtr, and logsumexp with weights; the Bessel functions
j0, j1, y0, y1, i0, i1, i0e, i1e, jv, yv, iv, ive, kv, yn, kn (and NumPy's np.i0); gammasgn,
rgamma, the regularized incomplete gamma and beta functions gammainc, gammaincc, betainc; and
multigammaln.

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
  ψ(a + b)), ndtr′ = φ, log_ndtr′ = φ/Φ = log_ndtr_derivative(1, x), a structural record of
  integer order n whose ∂/∂x is order n + 1, each order computed without cancellation (far in
  the left tail from the continued fraction of e^(z²)·iⁿerfc(z), z = −x/√2; the closed form
  e^(−x²/2 − log_ndtr(x))/√(2π) cancels there, and each derivative of it again).
* **xlogy(x, y) = x·log y with 0·log 0 = 0** (SciPy's convention): ∂/∂x = log y and
  ∂/∂y = x/y, taken as 0 at (0, 0), where xlogy(0, y) = 0 is constant in y; ∂/∂x at y = 0 is
  −∞: a ``NonDifferentiableError`` where x is differentiated. xlog1py likewise at y = −1.
* **gammaln is log|Γ(x)|** for real x (also between the poles on the negative axis); its SymPy
  translation (and betaln's, written with it) is a function of its own, ``gammaln`` (mpmath's
  log|Γ|, derivative ψ), not SymPy's ``loggamma``, which is complex below 0.
* **complex numbers**: erf, erfc, ndtr and log_ndtr are holomorphic (SciPy evaluates them at
  complex points; the derivative is the complex one); the others refuse complex inputs by name.
* **expit** is a record of its own, not the ``sigmoid`` record: sigmoid's values differ from
  SciPy's expit in the last bit at about a quarter of all points, and ``scipy.special.expit``
  on plain arrays must give SciPy's values. Both have the same derivative rule, σ′ = σ(x)·σ(−x)
  (exact where σ rounds to 1, and smooth at 0, so every higher derivative is right there).
* **polygamma(n, x)**, **yn(n, x)**, **kn(n, x)** and **log_ndtr_derivative(n, x)** are
  structural records (the order n is an integer, not a differentiable input: a number, checked
  by ``prepare``; a fractional n is a DomainError, where SciPy truncates it with a warning);
  every other function here is element-wise.
* **Bessel derivatives** come from the recurrences, written with the records: j0′ = −j1,
  j1′ = (j0 − J₂)/2 (1/2 at 0, and every higher derivative exact there: no division by x),
  y0′ = −y1, y1′ = (y0 − Y₂)/2, i0′ = i1, i1′ = (i0 + I₂)/2, jv′ = (J_{v−1} − J_{v+1})/2,
  yv′ likewise, iv′ = (I_{v−1} + I_{v+1})/2, kv′ = −(K_{v−1} + K_{v+1})/2; the scaled
  i0e = e^(−|x|)·I₀ and its kin add −sign(x)·itself (a kink at 0, derivative taken as 0 there,
  as abs′(0)).
* **orders and shape parameters are not differentiated**: the real order v of jv, yv, iv, ive
  and kv, and the a (and b) of gammainc, gammaincc and betainc have partials that are
  :class:`~diffkit.primitive.NoRule`: differentiating by them is a MissingRuleError naming
  method='fd' (which gives it), never a silent zero. ∂/∂x of the incomplete functions is the
  integrand: x^(a−1)·e^(−x)/Γ(a) and x^(a−1)(1 − x)^(b−1)/B(a, b).
* **rgamma = 1/Γ is entire**: rgamma′ = −ψ·rgamma, written for x < 1/2 with the reflection
  formula, Γ(1 − x)·cos(πx) − ψ(1 − x)·rgamma(x), which is finite at the poles of ψ:
  (−1)ⁿ·n! at x = −n (and the higher derivatives there too). gammasgn is piecewise constant: a
  constant, as sign.
* **np.i0** dispatches to ``dk.numpy_i0``, NumPy's own values (they differ from SciPy's i0 in
  the last bit at a few percent of points); its derivative is SciPy's i1.
* **CuPy**: cupyx.scipy.special has j0, j1, y0, y1, yn, i0, i1, i0e, i1e, gammasgn, rgamma and
  the incomplete gamma functions, not jv, yv, iv, ive, kv or kn: those, and the derivatives
  written with them (j1′, i1′, i1e′), are a BackendError naming the missing function.
* **math text**: every function is callable by name in ``dk.parse`` except ``gamma`` and
  ``beta``, and j0, j1, y0, y1, i0, i1, yn and kn, which stay free as variable names
  (``alpha*x + beta``, ``y0 + y1``); write ``gammaln``/``betaln`` or ``dk.gamma`` in Python.

scipy.special ufuncs given a traced value dispatch to these records (``scipy=`` names). SciPy's
Python-level functions do not dispatch: ``scipy.special.softmax``, ``logsumexp``,
``log_softmax``, ``polygamma`` and ``multigammaln`` refuse a traced value by name: write
``dk.softmax``, ``dk.logsumexp``, ``dk.weighted_logsumexp`` (SciPy's ``b=`` and
``return_sign=``), ``dk.log_softmax(x, axis=None)`` (SciPy's default axis), ``dk.polygamma`` and
``dk.multigammaln`` (a composite of gammaln, SciPy's values bit for bit).

SymPy translations use subclasses of SymPy's own functions (``erf``, ``erfinv``, ``gamma``,
``polygamma``, ``beta``, ``besselj``, ``bessely``, ``besseli``, ``besselk``, …) that
keep SymPy's derivatives and values and print as calls of scipy.special, so the symbolic engine
can compile them; gammaln (SymPy's loggamma means another function below 0), ive, rgamma,
gammasgn, gammainc, gammaincc and betainc, which SymPy lacks (or has only unregularized), are
SymPy functions of their own with mpmath values. All are built on first use (``import diffkit``
loads no SymPy).
"""

from __future__ import annotations

import functools
import inspect
import math
import threading
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from ..backend import special_module
from ..errors import BackendError, DomainError, MissingRuleError, NonDifferentiableError
from ..ir import Traced
from ..primitive import NoRule, raise_flags_as_numpy
from .assembly import stack
from .declare import composite, cut, declared_in, dtype_of, elementwise, shape_of, structural
from .elementwise import (
    abs,
    cos,
    equal,
    exp,
    greater,
    less,
    less_equal,
    log,
    log1p,
    logistic_prime,
    signum,
    sin,
    sqrt,
    stop_gradient,
    where,
)
from .reductions import any as any_
from .special import _row_axes, logsumexp
from .structure import amax, broadcast_to, reshape, sum
from .ufuncs import (
    floor,
    greater_equal,
    isfinite,
    logical_and,
    logical_not,
    logical_or,
    not_equal,
)

_SQRT_PI = math.sqrt(math.pi)
_TWO_OVER_SQRT_PI = 2.0 / _SQRT_PI
_HALF_SQRT_PI = 0.5 * _SQRT_PI
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)
_SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)
_SQRT_HALF = math.sqrt(0.5)

# ----- evaluation: SciPy's values, NumPy's dtype rules and floating-point flags -----------------


def _result_dtype(args: Sequence[Any]) -> np.dtype:
    """NumPy's result type of the arguments (Python numbers are weak, as in NumPy 2)."""
    return np.result_type(*[getattr(a, "dtype", a) for a in args])


def _is_pole(x: Any) -> Any:
    """Where x is 0, −1, −2, … (the poles of Γ, ψ and the polygammas)."""
    x = np.asarray(x)
    return (x <= 0) & (np.floor(x) == x) if x.dtype.kind != "c" else np.zeros(x.shape, bool)


def _finish(xp: Any, name: str, out: Any, args: Sequence[Any],
            overflow: Callable[..., Any] | None = None, hint: str = "") -> Any:
    """SciPy's result with NumPy's dtype for float32/float16 inputs, and the floating-point flags
    NumPy would raise where it is not finite though every input is (on CuPy too)."""
    dtype = _result_dtype(args)
    out_dtype = getattr(out, "dtype", None)
    if (out_dtype is not None and dtype.kind == "f" and out_dtype.kind == "f"
            and dtype.itemsize < out_dtype.itemsize):
        out = out.astype(dtype)
    raise_flags_as_numpy(xp, name, out, args, overflow, hint=hint, ieee=False)
    return out


def _scipy(name: str, *params: str, overflow: Callable[..., Any] | None = None,
           mended: Callable[..., Any] | None = None) -> Callable[..., Any]:
    """An impl ``(xp, *params)`` that calls ``scipy.special.<name>`` (CuPy:
    ``cupyx.scipy.special.<name>``), or on NumPy arrays `mended`, this module's repair of
    SciPy's values; `params` name the arguments (``help(dk.xlogy)`` shows them, and
    ``dk.grad(dk.xlogy)`` names its inputs after them)."""

    def impl(xp: Any, *args: Any) -> Any:
        fn = mended if mended is not None and xp is np else _special(xp, name)
        return _finish(xp, name, fn(*args), args, overflow)

    kind = inspect.Parameter.POSITIONAL_OR_KEYWORD
    impl.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
        [inspect.Parameter(p, kind) for p in ("xp", *params)])
    impl.__name__ = impl.__qualname__ = f"_{name}"
    return impl


def _special(xp: Any, name: str) -> Callable[..., Any]:
    """``scipy.special.<name>`` (CuPy: ``cupyx.scipy.special.<name>``), or a BackendError saying
    that CuPy has no such function (cupyx has j0, …, i1e and the incomplete gammas, not jv, iv,
    kv, …)."""
    module = special_module(xp)
    fn = getattr(module, name, None)
    if fn is None:
        raise BackendError(f"{module.__name__} has no {name} (needed by {name} and by the "
                           f"derivatives written with it, as j1′ = (j0 − jv(2, x))/2): compute "
                           "it on NumPy arrays (cupy.asnumpy)")
    return fn


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
            "polygamma": ("polygamma", None), "beta": ("beta", None)}


_SYMPY_LOCK = threading.Lock()
_SYMPY_BUILT = False  # set once _build_sympy has filled the whole table


def _sym(sp: Any, name: str) -> Any:
    """The SymPy function class `name` of the translations. The table is built on first use,
    whole, under a lock: another thread waits for it instead of reading it half-filled (and an
    exception on the way leaves it to be built again)."""
    global _SYMPY_BUILT
    if not _SYMPY_BUILT:
        with _SYMPY_LOCK:
            if not _SYMPY_BUILT:
                _build_sympy(sp)
                _SYMPY_BUILT = True
    return _SYMPY[name]


def _own_call(name: str, args: Sequence[str]) -> str:
    """Printed code calling this module's `name` (where SciPy's value is mended here)."""
    return (f"__import__('diffkit.primitives.scipy_special').primitives.scipy_special."
            f"{name}({', '.join(args)})")


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
            if _name == "polygamma":  # SciPy's values at x < 0 are wrong: diffkit's (reflected)
                return _own_call("_polygamma_value", args)
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
        """log Φ(x), whose derivatives are log_ndtr_derivative(n, x), as in the AD rules (accurate
        far in the left tail, in every order)."""

        nargs = 1

        def fdiff(self, argindex: int = 1) -> Any:
            return _SYMPY["log_ndtr_derivative"](sp.S.One, self.args[0])

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
    _build_log_ndtr_derivative_sympy(sp, scipy_call)
    _build_bessel_sympy(sp, scipy_call)
    _build_gammaln_sympy(sp, scipy_call)
    _build_gamma_sympy(sp, scipy_call)


def _build_gammaln_sympy(sp: Any, scipy_call: Callable[[str, Sequence[str]], str]) -> None:
    """gammaln(x) = log|Γ(x)| as a SymPy function of its own (not a subclass of SymPy's
    loggamma, the principal branch of log Γ: complex below 0, and SymPy folds it there at a
    Float, loggamma(−0.5) = log(2√π) − iπ, which turned exp(betaln(x, −0.5))′ negative)."""
    from sympy.core.logic import fuzzy_and, fuzzy_not

    polygamma = _SYMPY["polygamma"]

    class gammaln(sp.Function):  # SymPy's naming: the class is the function
        """log|Γ(x)| for real x, SciPy's ``gammaln`` (and diffkit's), printed by that name: real on
        the whole real line, between the poles 0, −1, −2, … too (+∞ at them), where SymPy's
        ``loggamma`` is complex (off by −iπ·k). Its derivative is ψ(x) = polygamma(0, x); its
        numeric value is mpmath's log|Γ| (the real part of ``mpmath.loggamma``) at the precision
        asked for, so a Float argument folds to that real number; an exact argument stays
        unevaluated (a pole is ∞). ``rewrite(gamma)`` gives log(Abs(gamma(x)))."""

        nargs = 1

        @classmethod
        def eval(cls, x: Any) -> Any:
            if x is sp.oo or (x.is_integer and x.is_nonpositive):
                return sp.oo
            return None

        def fdiff(self, argindex: int = 1) -> Any:
            if argindex != 1:
                raise sp.ArgumentIndexError(self, argindex)
            return polygamma(0, self.args[0])

        def _eval_evalf(self, prec: int) -> Any:
            import mpmath

            x = self.args[0] if self.args[0].is_Float else self.args[0]._eval_evalf(prec)
            if x is None or not x.is_Float:  # symbolic, complex or infinite: no value here
                return None
            with mpmath.workprec(prec + 20):
                z = x._to_mpmath(prec + 20)
                if mpmath.isint(z) and z <= 0:
                    return sp.oo
                value = mpmath.loggamma(z).real
            return sp.Float(value, precision=prec)

        def _eval_is_extended_real(self) -> bool | None:
            return True if self.args[0].is_real else None  # ∞ at the poles

        def _eval_is_real(self) -> bool | None:
            x = self.args[0]
            if not x.is_real:
                return None
            return fuzzy_not(fuzzy_and([x.is_integer, x.is_nonpositive]))

        _eval_is_finite = _eval_is_real

        def _eval_rewrite_as_gamma(self, x: Any, **kwargs: Any) -> Any:
            return sp.log(sp.Abs(sp.gamma(x)))

        def _numpycode(self, printer: Any) -> str:
            return scipy_call("gammaln", [printer._print(self.args[0])])

        def _pythoncode(self, printer: Any) -> str:
            return f"math.lgamma({printer._print(self.args[0])})"  # log|Γ| too

    _SYMPY["gammaln"] = gammaln


#: the SymPy Bessel functions -> (scipy.special names of orders 0 and 1, of an integer order, of
#: a real order)
_BESSEL_PRINTED = {"besselj": ("j0", "j1", "jv", "jv"), "bessely": ("y0", "y1", "yn", "yv"),
                   "besseli": ("i0", "i1", "iv", "iv"), "besselk": ("k0", "k1", "kn", "kv")}


def _order_call(names: tuple[str, str, str, str], args: Sequence[Any],
                printed: Sequence[str]) -> tuple[str, list[str]]:
    """The scipy.special call for an order and x: j0(x)/j1(x) for the integers 0 and 1, yn(n, x)
    or kn(n, x) for other integers, jv(v, x)/yv/iv/kv otherwise."""
    order = args[0]
    if getattr(order, "is_Integer", False):
        if int(order) in (0, 1):
            return names[int(order)], list(printed[1:])
        return names[2], list(printed)
    return names[3], list(printed)


def _build_bessel_sympy(sp: Any, scipy_call: Callable[[str, Sequence[str]], str]) -> None:
    """Subclasses of SymPy's besselj, bessely, besseli and besselk (SymPy's derivative in x and
    mpmath values) that leave their arguments as written (no sign or order rewriting into the
    base classes), refuse a derivative by the order by name, and print as scipy.special calls;
    and ``ive(v, x) = e^(−|x|)·I_v(x)``, which SymPy lacks."""

    def refuse_order(self: Any, argindex: int, base: Any, record: str) -> Any:
        if argindex == 1:
            raise MissingRuleError(_parameter_message(record, "order v"))
        return base.fdiff(self, argindex)

    def real_evalf(self: Any, prec: int) -> Any:
        """mpmath's value; real for an integer order and a real x (mpmath gives I₋₁(−0.5) a
        1e-26 imaginary part)."""
        value = sp.Function._eval_evalf(self, prec)
        order, x = self.args
        if value is not None and order.is_Integer and x.is_extended_real:
            return sp.re(value)
        return value

    for name, names in _BESSEL_PRINTED.items():
        base = getattr(sp, name)

        def numpycode(self: Any, printer: Any, _names: tuple[str, str, str, str] = names) -> str:
            name, args = _order_call(_names, self.args, [printer._print(a) for a in self.args])
            if name == "iv":  # SciPy's iv underflows early at tiny x: diffkit's mends it
                return _own_call("_iv_value", args)
            if name in ("kv", "kn"):  # and kv, kn for x in about 697.9 … 705.3
                return _own_call("_kn_value" if name == "kn" else "_k_value", args)
            return scipy_call(name, args)

        def pythoncode(self: Any, printer: Any, _numpy: Any = numpycode) -> str:
            return f"float({_numpy(self, printer)})"

        _SYMPY[name] = type(name, (base,), {
            "eval": classmethod(lambda cls, *args: None), "_eval_evalf": real_evalf,
            "fdiff": lambda self, argindex=2, _base=base, _record=names[3]: refuse_order(
                self, argindex, _base, _record),
            "_numpycode": numpycode, "_pythoncode": pythoncode, "__module__": __name__})

    def ive_value(mp: Any, v: Any, x: Any) -> Any:
        return mp.besseli(abs(v) if mp.isint(v) else v, x) * mp.exp(-abs(x))  # I₋ₙ = Iₙ

    def ive_fdiff(self: Any, argindex: int = 2) -> Any:
        if argindex == 1:
            raise MissingRuleError(_parameter_message("ive", "order v"))
        v, x = self.args
        cls = type(self)
        d = (cls(v - 1, x) + cls(v + 1, x)) / 2 - sp.sign(x) * self
        if v.is_number:  # as the rules (_ive_prime): no cancellation at large |x|
            bound = _LARGE_X + v * v
            t = 1 / sp.Max(sp.Abs(x), bound)  # no 1/0 where the branch is not taken
            pieces = [(-sp.sign(x) * self * _hankel_slope(v, t), sp.Abs(x) > bound)]
            if float(v) >= _DEBYE_ORDER or (abs(float(v)) >= _DEBYE_ORDER
                                            and float(v) == round(float(v))):
                order = sp.Float(abs(float(v)))  # nor between, for a large order
                slope = _debye_slope(order, sp.Max(sp.Abs(x), order), sp.sqrt,
                                     lambda v, p: debye_ratio(1, v, p))
                pieces.append((sp.sign(x) * self * slope, sp.Abs(x) >= order))
            d = sp.Piecewise(*pieces, (d, True))
        if v.is_number and float(v) == round(float(v)) and abs(float(v)) >= 2:
            return d  # ive″(v, 0) exists for an integer |v| ≥ 2 (as _ive_smooth)
        from ..sympy_program import AtKink  # the kink of e^(−|x|) at 0: a convention there

        return AtKink(d, x, x)

    def debye_value(mp: Any, m: Any, v: Any, p: Any) -> Any:
        coefficients = _debye_polynomial(v)
        derived = [c * math.perm(j, int(m)) for j, c in enumerate(coefficients)][int(m):]
        return (mp.polyval(derived[::-1], p) / mp.polyval(coefficients[::-1], p))

    def debye_fdiff(self: Any, argindex: int = 3) -> Any:
        m, v, p = self.args
        if argindex != 3:
            raise MissingRuleError(_parameter_message("ive", "order v"))
        return debye_ratio(m + 1, v, p) - self * debye_ratio(1, v, p)

    # S⁽ᵐ⁾(p)/S(p) of Debye's expansion for the order v (_debye_slope), m = 1, 2, …
    debye_ratio = _mp_function(sp, lambda name, args: _own_call("debye_ratio_values", args),
                               "debye_ratio", 3, debye_value, debye_fdiff)

    def ive_call(name: str, args: Sequence[str]) -> str:  # SciPy's NaN for |x| ≳ 2e9 mended
        if name != "ive":
            return scipy_call(name, args)
        return _own_call("_ive_value", args)

    _SYMPY["ive"] = _mp_function(
        sp, ive_call, "ive", 2, ive_value, ive_fdiff,
        lambda args, printed: _order_call(("i0e", "i1e", "ive", "ive"), args, printed))


def _mp_function(sp: Any, scipy_call: Callable[[str, Sequence[str]], str], name: str, nargs: int,
                 value: Callable[..., Any], fdiff: Callable[..., Any],
                 printed: Callable[..., tuple[str, list[str]]] | None = None) -> Any:
    """A SymPy function `name` of `nargs` arguments: values from mpmath (``value(mpmath, *mpf)``),
    derivative `fdiff`, printed as a call of scipy.special.`name`, or of the function and
    arguments ``printed(args, printed_args)`` gives."""

    def _eval_evalf(self: Any, prec: int) -> Any:
        import mpmath

        args = [a._eval_evalf(prec) if not a.is_Float else a for a in self.args]
        if any(a is None or not a.is_Number for a in args):
            return None
        with mpmath.workprec(prec + 20):
            out = value(mpmath, *[a._to_mpmath(prec + 20) for a in args])
        return sp.Float(out, precision=prec)

    def numpycode(self: Any, printer: Any) -> str:
        args = [printer._print(a) for a in self.args]
        return scipy_call(*(printed(self.args, args) if printed is not None else (name, args)))

    def pythoncode(self: Any, printer: Any) -> str:
        return f"float({numpycode(self, printer)})"

    return type(name, (sp.Function,), {
        "nargs": nargs, "fdiff": fdiff, "_eval_evalf": _eval_evalf, "_numpycode": numpycode,
        "_pythoncode": pythoncode, "__module__": __name__})


def _build_gamma_sympy(sp: Any, scipy_call: Callable[[str, Sequence[str]], str]) -> None:
    """rgamma, gammasgn and the regularized incomplete gamma and beta functions as SymPy functions
    with mpmath values, printed as scipy.special calls. Their derivatives in x are the integrands
    (SymPy's lowergamma/uppergamma are not regularized, and their derivatives in a are Meijer G
    functions): the derivative by a or b is refused by name."""
    gammaln, polygamma = _SYMPY["gammaln"], _SYMPY["polygamma"]  # a, b > 0: log Γ
    gamma = _SYMPY["gamma"]

    def rgamma_fdiff(self: Any, argindex: int = 1) -> Any:
        """−ψ(x)/Γ(x), written for x < 1/2 with the reflection formula, finite at the poles."""
        x = self.args[0]
        return sp.Piecewise(
            (gamma(1 - x) * sp.cos(sp.pi * x) - polygamma(0, 1 - x) * self, x < sp.S.Half),
            (-polygamma(0, x) * self, True))

    def gammasgn_value(mp: Any, x: Any) -> Any:
        return mp.sign(mp.gamma(x))

    def incomplete(sign: int) -> Callable[..., Any]:
        def fdiff(self: Any, argindex: int = 2) -> Any:
            if argindex == 1:
                raise MissingRuleError(_parameter_message(type(self).__name__, "parameter a"))
            a, x = self.args
            return sign * sp.exp((a - 1) * sp.log(x) - x - gammaln(a))

        return fdiff

    def betainc_fdiff(self: Any, argindex: int = 3) -> Any:
        if argindex in (1, 2):
            raise MissingRuleError(_parameter_message("betainc", "parameter " + "ab"[argindex - 1]))
        a, b, x = self.args
        return sp.exp((a - 1) * sp.log(x) + (b - 1) * sp.log(1 - x) - gammaln(a) - gammaln(b)
                      + gammaln(a + b))

    _SYMPY["rgamma"] = _mp_function(sp, scipy_call, "rgamma", 1, lambda mp, x: mp.rgamma(x),
                                    rgamma_fdiff)
    _SYMPY["gammasgn"] = _mp_function(sp, scipy_call, "gammasgn", 1, gammasgn_value,
                                      lambda self, argindex=1: sp.S.Zero)
    _SYMPY["gammainc"] = _mp_function(
        sp, scipy_call, "gammainc", 2,
        lambda mp, a, x: mp.gammainc(a, 0, x, regularized=True), incomplete(1))
    _SYMPY["gammaincc"] = _mp_function(
        sp, scipy_call, "gammaincc", 2,
        lambda mp, a, x: mp.gammainc(a, x, mp.inf, regularized=True), incomplete(-1))
    _SYMPY["betainc"] = _mp_function(
        sp, scipy_call, "betainc", 3,
        lambda mp, a, b, x: mp.betainc(a, b, 0, x, regularized=True), betainc_fdiff)


def _build_log_ndtr_derivative_sympy(sp: Any, scipy_call: Callable[[str, Sequence[str]], str]
                                     ) -> None:
    """log_ndtr_derivative(n, x) as a SymPy function: mpmath values (mpmath.diff of log Φ), the
    derivative log_ndtr_derivative(n + 1, x), printed as a call of the record's evaluation."""

    def value(mp: Any, n: Any, x: Any) -> Any:
        if mp.im(x) == 0 and x > 0:  # log(1 − Φ(−x)): no cancellation where Φ(x) is near 1
            return mp.diff(lambda t: mp.log1p(-mp.ncdf(-t)), x, int(n))
        return mp.diff(lambda t: mp.log(mp.ncdf(t)), x, int(n))

    def fdiff(self: Any, argindex: int = 2) -> Any:
        if argindex == 1:
            raise MissingRuleError(_parameter_message("log_ndtr_derivative", "order n"))
        n, x = self.args
        return type(self)(n + 1, x)

    def numpycode(self: Any, printer: Any) -> str:
        args = ", ".join(printer._print(a) for a in self.args)
        return (f"__import__('{__name__}', fromlist=['log_ndtr_derivative_values'])"
                f".log_ndtr_derivative_values({args})")

    base = _mp_function(sp, scipy_call, "log_ndtr_derivative", 2, value, fdiff)
    _SYMPY["log_ndtr_derivative"] = type("log_ndtr_derivative", (base,), {
        "_numpycode": numpycode, "_pythoncode": lambda self, p: f"float({numpycode(self, p)})",
        "__module__": __name__})


def log_ndtr_derivative_values(n: Any, x: Any) -> Any:
    """log_ndtr_derivative on NumPy values without floating-point flags (as scipy.special's own
    functions: the code the symbolic engine compiles checks its results itself)."""
    with np.errstate(all="ignore"):
        return _log_ndtr_derivative(np, n, x)


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


def _log_ndtr_prime(x: Any, o: Any) -> Any:
    """log_ndtr′ = φ/Φ: log_ndtr_derivative(1, x), whose own derivatives are the higher orders,
    each computed without cancellation (e^(−x²/2 − log Φ)/√(2π) cancels two numbers of size x²/2
    far in the left tail, and each derivative of it another); for complex z that formula."""
    if np.dtype(getattr(x, "dtype", None) or np.result_type(x)).kind == "c":
        return _INV_SQRT_2PI * exp(-0.5 * (x * x) - o)
    return log_ndtr_derivative(1, x)


log_ndtr = elementwise(
    "log_ndtr", _scipy("log_ndtr", "x"),
    (_log_ndtr_prime,),
    lambda sp, x: _sym(sp, "log_ndtr")(x), numpy=(), scipy=("log_ndtr",),
    unicode="ln Φ", latex=r"\ln\Phi", domain=((-3.0, 3.0),),
    doc="log Φ(x), the log of the standard normal CDF, accurate far into the left tail "
        "(scipy.special.log_ndtr).")

# ----- where the symbolic engine's float64 derivatives cannot be trusted (``symbolic_inexact``) ----
# Measured against mpmath (tests/test_symbolic_beta43.py): SymPy's Γ′ = Γ·ψ, gammaln′ = ψ and
# beta's B·(ψ(a) − ψ(a + b)) read SciPy's ψ, 1e-16/d relative off at x = −n + d (6e-7 at
# d = 1e-10, 6e-12 at 1e-6); ψ(a) − ψ(a + b) cancels where a + b rounds near a pole of Γ(a + b)
# (error ε·max(|a|, |b|)/d: 1e-7 at d = 1e-9, 6e-12 at 1e-6), where a or b is small (1e-10
# at 1e-6) and where |a| is small beside a large |b| (ε·|b|·ln|b|/|a|: 1.2e-7 at (1e-3, 1e5)).
# Second derivatives cancel more: B·((ψ(a) − ψ(s))(ψ(b) − ψ(s)) − ψ′(s)) is 1e-10 off at a
# distance 1e-3 from a pole of Γ(a + b) or at |a| = 1e-3 (1e-12 at 1e-2).
_INEXACT_NEAR = 1e-5  # first derivatives: a tenth of the distance where the error reaches 1e-10
_INEXACT_NEAR2 = 1e-2  # second and higher


def _pole_distance(x: Any) -> Any:
    """The distance from x to the nearest pole of Γ (0, −1, −2, …); ∞ for x > ½ (the nearest
    pole, 0, is then farther than x itself: small x is measured by |x| below ½)."""
    x = np.asarray(x, dtype=np.float64)
    return np.where(x < 0.5, np.abs(x - np.round(x)), np.inf)


def _psi_inexact(order: int, x: Any) -> Any:
    """``symbolic_inexact`` of Γ and ln|Γ|: SciPy's ψ within 1e-5 of a negative pole (either side:
    SciPy is right on the left side today, but nothing promises it)."""
    x = np.asarray(x, dtype=np.float64)
    return (x < -0.5) & (_pole_distance(x) < _INEXACT_NEAR)


def _beta_inexact(order: int, a: Any, b: Any) -> Any:
    """``symbolic_inexact`` of beta and betaln: ψ(a) − ψ(a + b) (and ψ(b) − ψ(a + b)) near poles
    of Γ(a), Γ(b), Γ(a + b), at small a or b and at |a| ≪ |b| (see above)."""
    a, b = np.broadcast_arrays(np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64))
    s = a + b
    scale = np.maximum(1.0, np.maximum(np.abs(a), np.abs(b)))  # a + b rounds by ε·scale
    near = _INEXACT_NEAR
    bad = (_pole_distance(a) < near) | (_pole_distance(b) < near) | (
        _pole_distance(s) < near * scale)
    bad |= np.abs(a) < near * (1.0 + np.abs(b) * (1.0 + np.log1p(np.abs(b))))
    bad |= np.abs(b) < near * (1.0 + np.abs(a) * (1.0 + np.log1p(np.abs(a))))
    if order >= 2:
        near = _INEXACT_NEAR2
        bad |= (np.abs(a) < near) | (np.abs(b) < near) | (_pole_distance(s) < near * scale)
    return bad


# ----- the gamma function and its relatives -----------------------------------------------------

_POLES = "poles at x = 0, -1, -2, ..."

gamma = elementwise(
    "gamma", _scipy("gamma", "x", overflow=_not_at_poles),
    (lambda x, o: o * _digamma_accurate(x),),  # SciPy's ψ is 1e-7 off within 1e-9 of a pole
    lambda sp, x: _sym(sp, "gamma")(x), numpy=(), scipy=("gamma",), parseable=False,
    unicode="Γ", latex=r"\Gamma", domain=((0.2, 4.0),),
    domain_text=f"gamma has {_POLES} and overflows for x > 171.6", holomorphic=False,
    doc="The gamma function Γ(x) (scipy.special.gamma); Γ′ = Γ·ψ.",
    # ±∞ at ±0; SciPy's complex Γ on the negative real axis: an imaginary part ±4e-16
    signed_zero=(lambda x: (np.asarray(x) == 0) | cut(below=0.0)(x),),
    symbolic_inexact=_psi_inexact)
gammaln = elementwise(
    "gammaln", _scipy("gammaln", "x", overflow=_not_at_poles),
    (lambda x, o: _digamma_accurate(x),),
    lambda sp, x: _sym(sp, "gammaln")(x), numpy=(), scipy=("gammaln",),
    unicode="ln|Γ|", latex=r"\ln\lvert\Gamma\rvert", domain=((0.2, 4.0),),
    domain_text=f"gammaln (log|Γ(x)|) has {_POLES}", holomorphic=False,
    doc="log|Γ(x)| for real x (scipy.special.gammaln); its derivative is digamma.",
    symbolic_inexact=_psi_inexact)
digamma = elementwise(
    "digamma", _scipy("psi", "x"), (lambda x, o: polygamma(1, x),),
    lambda sp, x: _sym(sp, "polygamma")(0, x), numpy=(), scipy=("digamma", "psi"),
    unicode="ψ", latex=r"\psi", domain=((0.2, 4.0),),
    domain_text=f"digamma has {_POLES}", holomorphic=False,
    doc="The digamma function ψ(x) = Γ′(x)/Γ(x) (scipy.special.digamma, alias psi); "
        "ψ′ = polygamma(1, x).", signed_zero=(True,))


_COT_POLYS: dict[int, tuple[float, ...]] = {}


def _cot_poly(n: int) -> tuple[float, ...]:
    """The coefficients (of |c|^par, |c|^(par+2), …, par = (n + 1) mod 2) of P_n with
    dⁿ/dzⁿ cot z = P_n(cot z): P_0 = c, P_{k+1} = −(1 + c²)·P_k′. Every coefficient has the sign
    (−1)ⁿ, so P_n(|c|) sums terms of one sign (no cancellation)."""
    if n not in _COT_POLYS:
        p = [0, 1]
        for _ in range(n):
            d = [i * p[i] for i in range(1, len(p))]
            q = [0] * (len(d) + 2)
            for i, a in enumerate(d):
                q[i] -= a
                q[i + 2] -= a
            p = q
        _COT_POLYS[n] = tuple(float(a) for a in p[(n + 1) % 2::2])
    return _COT_POLYS[n]


def _cot_pi(x: Any) -> Any:
    """cot(πx) for non-integer x, accurate to a few ulps: from r = x − round(x) (exact), and as
    −tan(π(r ∓ ½)) near the half-integers (exactly 0 there, where 1/tan(π/2) is 6e-17)."""
    r = x - np.round(x)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(np.abs(r) > 0.25, -np.tan(np.pi * (r - np.copysign(0.5, r))),
                        1.0 / np.tan(np.pi * r))


def _polygamma_reflected(n: int, x: Any) -> Any:
    """ψ⁽ⁿ⁾(x) for x < 0 (not a pole) by the reflection formula
    ψ⁽ⁿ⁾(x) = (−1)ⁿ ψ⁽ⁿ⁾(1 − x) − πⁿ⁺¹·cot⁽ⁿ⁾(πx), cot⁽ⁿ⁾ = P_n(cot) summed without cancellation.
    SciPy's own value there is wrong for n ≥ 8 near half-integers (45× at n = 20, x = −2.5)."""
    c = _cot_pi(x)
    a = np.abs(c)
    s = a * a
    acc = np.zeros_like(a)
    with np.errstate(over="ignore", invalid="ignore"):
        for coefficient in reversed(_cot_poly(n)):
            acc = acc * s + coefficient
        if (n + 1) % 2:  # an odd polynomial: P_n(c) = sign(c)·P_n(|c|)
            acc = np.copysign(acc * a, c)
        return ((-1.0) ** n * special_module(np).polygamma(n, 1.0 - x)
                - math.pi ** (n + 1) * acc)


def _polygamma_negative(n: Any, x: Any, out: Any) -> Any:
    """`out` (SciPy's ψ⁽ⁿ⁾(x)) with the reflection formula's value where x < 0 is not a pole."""
    xa = np.asarray(x)
    if xa.dtype.kind not in "fiu":
        return out
    na, xb = np.broadcast_arrays(np.asarray(n), xa)
    where = (xb < 0) & np.isfinite(xb) & ~_is_pole(xb) & (na <= 170)
    if not where.any():
        return out
    result = np.array(out, dtype=np.result_type(getattr(out, "dtype", np.float64), np.float64))
    result = np.broadcast_to(result, xb.shape).copy()
    for k in np.unique(na[where]):
        m = where & (na == k)
        result[m] = _polygamma_reflected(int(k), xb[m].astype(np.float64))
    return result[()] if result.ndim == 0 else result


def _polygamma_value(n: Any, x: Any) -> Any:
    """ψ⁽ⁿ⁾(x) on NumPy values: SciPy's, reflected where x < 0 (the symbolic engine's printed
    code calls this)."""
    out = special_module(np).polygamma(n, x)
    if getattr(out, "ndim", None) == 0:
        out = out[()]
    return _polygamma_negative(n, x, out)


def _polygamma_impl(xp: Any, n: Any, x: Any) -> Any:
    # CuPy's polygamma tests `n == 0` with cupy.where, which takes no Python bool: n as an array
    out = special_module(xp).polygamma(n if xp is np else xp.asarray(n), x)
    if getattr(out, "ndim", None) == 0:  # SciPy's polygamma gives 0-d arrays for scalars
        out = out[()]
    if xp is np:
        out = _polygamma_negative(n, x, out)
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
    # no scipy=: scipy.special.polygamma is Python code (asarray), not a ufunc, so it never
    # dispatches here; a traced value given to it is a TracingError naming dk.polygamma
    sympy=_sympy_polygamma, parseable=True, unicode="ψ⁽ⁿ⁾",
    latex=r"\psi^{(n)}", holomorphic=False,  # scipy's polygamma takes real x only
    doc="The polygamma function ψ⁽ⁿ⁾(x), the n-th derivative of digamma (scipy.special.polygamma): "
        "n is a non-negative integer (not differentiated); ∂/∂x = polygamma(n + 1, x).")


#: |y| ≤ this·x (x > 0): ψ(x) − ψ(x + y) by its Taylor series in y (terms fall by y/x)
_DIGAMMA_STEP = 1e-3
#: the series' terms, to (y/x)⁶ ≈ 1e-18 of the first at the largest step
_DIGAMMA_TERMS = 6


def _digamma_drop_right(x: Any, y: Any) -> Any:
    """ψ(x) − ψ(x + y) where neither x nor x + y is near a pole of ψ on the negative axis
    (or where the series serves). Where y is small beside x's distance to the nearest pole of ψ
    (x itself for x > 0) the difference of two nearly equal values loses every digit
    (∂betaln/∂b at (1e-17, 2) is −ψ₁(2)·1e-17, the subtraction 0; ∂/∂a at (1e17, 1) is
    −1e-17): there −Σₖ yᵏ/k!·ψ⁽ᵏ⁾(x), k = 1…6, whose terms fall by y/distance ≤ 1e-3;
    elsewhere as written."""
    pole = _pole_gap(x)
    small = logical_and(greater(pole, 0.0), less_equal(abs(y), _DIGAMMA_STEP * pole))
    safe_y = where(small, y, 0.0)  # the series at the points it serves only
    safe_x = where(small, x, 1.0)  # (no pole reached where it does not)
    series = 0.0
    term = 1.0
    for k in range(1, _DIGAMMA_TERMS + 1):
        term = term * safe_y / k
        series = series + term * polygamma(k, safe_x)
    return where(small, -series, digamma(x) - digamma(x + y))


def _pole_gap(x: Any) -> Any:
    """The distance from x to the nearest pole of ψ and Γ (0, −1, −2, …), in records (the rules'
    branch tests): x itself for x > 0. (:func:`_pole_distance` is the symbolic predicates'.)"""
    return where(greater(x, 0.0), abs(x), abs(x - floor(x + 0.5)))


def _sin_pi(x: Any) -> Any:
    """sin(πx) to a few ulps, exactly 0 at the integers: (−1)ⁿ·sin(π·r) with n = round(x) and
    r = x − n, which is exact in floating point (Sterbenz); np.sin(np.pi·x) is 1.2e-16 at x = 1
    and relatively wrong near every other integer."""
    n = floor(x + 0.5)
    return (1.0 - 4.0 * (0.5 * n - floor(0.5 * n))) * sin(math.pi * (x - n))


#: |x − round(x)| below this (x < ½): ψ near a pole of Γ by reflection (:func:`_digamma_accurate`)
_REFLECT_NEAR = 0.25


def _near_pole(x: Any) -> Any:
    """x < ½ within :data:`_REFLECT_NEAR` of an integer: near a pole of Γ (0, −1, −2, …)."""
    return logical_and(less(x, 0.5), less(abs(x - floor(x + 0.5)), _REFLECT_NEAR))


def _digamma_reflected(x: Any) -> Any:
    """ψ(x) near a pole of Γ (:func:`_near_pole`) by the reflection formula
    ψ(x) = ψ(1 − x) − π·cot(πx), cot(πx) = cos(πr)/sin(πr) from the exact reduction
    r = x − round(x), |r| < ¼: accurate to a few ulps up to the poles (SciPy's digamma is good
    to 1e-7…1e-4 within 1e-9 of a negative pole: ψ(−2.999999999999) −999853289969.4 for
    −999911107319.0). Written with the records, so its derivatives (−ψ₁(1 − x) − π²/sin²(πr),
    …) are as accurate: sin and cos have exact derivative rules, and on |r| < ¼ no term of the
    quotient rule's derivatives is large beside the result. (1/tan(πr) was used up to |r| = ½,
    where tan is 1.6e16 and its derivative rule 1 + tan² makes the third derivative of
    1/tan a difference of 1e64-sized terms: ψ″(−0.5) was −83.45 for −0.8288.)"""
    r = math.pi * (x - floor(x + 0.5))
    return digamma(1.0 - x) - math.pi * cos(r) / sin(r)


def _digamma_accurate(x: Any) -> Any:
    """ψ(x): reflected (:func:`_digamma_reflected`) within ¼ of a pole of Γ, SciPy's elsewhere
    (good to a few ulps there, its derivatives polygamma's); each branch at the points it serves
    (no pole reached where it does not)."""
    near = _near_pole(x)
    return where(near, _digamma_reflected(where(near, x, 0.125)), digamma(where(near, 1.0, x)))


def _digamma_drop(x: Any, y: Any) -> Any:
    """ψ(x) − ψ(x + y), the partials of betaln (and of beta, times B), without cancellation:

    * y small beside x's distance to its nearest pole: the Taylor series
      (:func:`_digamma_drop_right`);
    * x and s = x + y both below ½ at signed distances ε = x − round(x), δ = s − round(s)
      within a factor 2 of each other in size, either sign (y near an integer, or x and s at
      alike distances from two poles): ψ(1 − x) − ψ(1 − s) − π·sin(πy)/(sin(πx)·sin(πs)), the
      difference of the pole parts −π·(cot(πx) − cot(πs)) formed as one product from the
      exact y. Near two poles at once (∂betaln/∂b at (2, −2.999999999999): each ψ −1e12, the
      difference 0.8333333333336945, SciPy's values gave 0.8333740234375) the pole terms
      cancel exactly where y is an integer (sin(πy) = 0: B(n, b) is rational, ψ(b) − ψ(b + n)
      = −Σ_{k<n} 1/(b + k)) and are formed without loss where it is not; away from the poles
      the product keeps the rounding of s out of the small difference (∂²betaln/∂b² at
      (−2.9999999, −80.3): 8.9e-10 as a difference of ψ₁ values, 1e-14 so);
    * otherwise ψ(x) − ψ(s), each ψ reflected near a pole (:func:`_digamma_accurate`).

    The product serves only where the plain difference or its derivative would cancel
    (|ε| ≈ |δ|: at ε ≈ −δ the values do not cancel but the x-derivatives' π²/sin² terms do, csc²
    being even; ∂²betaln/∂b² was 0 at (2 − 2⁻³⁰, −3 + 2⁻³¹) for 0.3611 so, the regular parts
    ψ₁(1 − x) − ψ₁(1 − s) lost beside two 4.6e18 terms): its y-derivative −π²/sin²(πs) comes out
    as two terms of size π²/(sin(πx)·sin(πs)) that cancel by sin(πs)/sin(πx), at most 2 so,
    but 1e4…1e10 where it was taken for every x, s < ½: ∂²betaln/∂a∂b was 3.7e-6 off at
    (−2.99999999999, 1.3) and 5.7e-8 at (−2.9999999, −79.9), the Hessian asymmetric (there
    ψ(x) − ψ(s)'s y-derivative −ψ₁(s) has no cancellation at all).
    """
    s = x + y
    pole = _pole_gap(x)
    small = logical_and(greater(pole, 0.0), less_equal(abs(y), _DIGAMMA_STEP * pole))
    ex, es = x - floor(x + 0.5), s - floor(s + 0.5)  # the signed distances ε, δ (exact)
    alike = logical_and(not_equal(ex, 0.0),  # |ε|, |δ| within 2 of each other, either sign
                        logical_and(less_equal(abs(es), 2.0 * abs(ex)),
                                    less_equal(abs(ex), 2.0 * abs(es))))
    both = logical_and(logical_and(logical_not(small), alike),
                       logical_and(less(x, 0.5), less(s, 0.5)))
    xb, yb = where(both, x, 0.25), where(both, y, 0.0)  # the reflected branch where it serves
    # the pole parts read x and y through nodes of their own (not xb, yb): their x-derivative
    # is two terms of size π²/(sin(πx)·sin(πs)) that cancel, and a reverse sweep sums a node's
    # adjoint over its uses in the order it meets them: with the regular part's ψ₁ among them
    # the sum was (−4.6e18 + 0.36) + 4.6e18 = 0 at (2 − 2⁻³⁰, −3 + 2⁻³¹) (∂²betaln/∂b² by
    # reverse over reverse, method='compiled'); on their own nodes the pair meets first
    xp, yp = where(both, x, 0.25), where(both, y, 0.0)
    reflected = (_digamma_drop_right(1.0 - xb, -yb)
                 - math.pi * _sin_pi(yp) / (_sin_pi(xp) * _sin_pi(xp + yp)))
    xo, yo = where(both, 1.0, x), where(both, 0.0, y)
    other = where(small, _digamma_drop_right(xo, yo),
                  _digamma_accurate(xo) - _digamma_accurate(xo + yo))
    return where(both, reflected, other)


def _beta_partial(which: int) -> Callable[..., Any]:
    """∂B/∂a = B·(ψ(a) − ψ(a + b)), ∂B/∂b likewise, in the form that keeps its digits (and its
    derivatives' digits) at each kind of point; for ∂B/∂x with y the other argument, s = x + y:

    * **near a pole of Γ(s) only** (|s − n| < ¼, n ≤ 0; a and b not near one and |a|, |b| <
      100; or s at the pole): B = 0 at the pole and B·(ψ(x) − ψ(s)) is 0·∞ (or reads ψ at the
      rounded s beside B at the exact a, b: B′ 6e-4 off, B″ 1e10 off at 1e-13 from it); there
      Γ(a)Γ(b)·(ψ(x)·rgamma(s) + rgamma′(s)), smooth through the pole (−53.6165… at (−2.5, −1.5)),
      whose first term is 0 at the pole but not its derivative (a Hessian needs it);
    * **x and s both near poles** (|x|, |y| < 80, x and s within ¼ of non-positive integers):
      B(1, b) = 1/b at (1, −1.999999999): B·(ψ(b) − ψ(s)) cancels two 1e9 terms read from
      SciPy's digamma (good to 1e-7 there) and gave 4.10 for −0.25000000025. With the
      reflection ψ(z) = ψ(1 − z) − π·cot(πz) for z = x and s and the reflected B =
      Γ(y)·sin(πs)·Γ(1 − s)/(sin(πx)·Γ(1 − x)), ∂B/∂x = B·(ψ(1 − x) − ψ(1 − s)) −
      π·Γ(y)sin(πy)·Γ(1 − s)/(Γ(1 − x)·sin²(πx)): the pole parts' difference is one product,
      exactly 0 for an integer y (B(n, b) is rational), finite at the pole of Γ(s);
      Γ(y)sin(πy) is π/Γ(1 − y) for y < ½. The sines are reduced exactly (:func:`_sin_pi`);
    * **a and b both small** (|a|, |b| ≤ :data:`_BETA_SMALL`): B = 1/a + 1/b + R(a, b), R
      smooth, from the series of ln Γ(1 + x) (:func:`_beta_small_rest`): ∂B/∂x = −1/x² +
      ∂R/∂x, whose own derivative in y has no pole part. B·(ψ(a)−ψ(s))·(ψ(b)−ψ(s)) −
      B·ψ₁(s) cancelled two 5e23 terms at (1e-8, 1e-8): −1.3e8 for 2.4041137522;
    * **one argument t alone near its pole 0** (0 < |t| ≤ 0.05 and ≤ 1e-3 of the other's pole
      distance, :func:`_beta_lone`): B = 1/t + Q(g, t) with Q a smooth series
      (:func:`_beta_lone_partial`); the forms above wrote ∂²B/∂a∂b as two 2³¹·ψ₁-sized terms
      at (−3.25, 2⁻³¹): −7589.68 for 36.2398;
    * elsewhere B·(ψ(x) − ψ(s)) with :func:`_digamma_drop`.

    "Near a pole of Γ(s) only" requires neither a nor b near one (the same < ¼ test for a, b
    and s). Each branch is evaluated where it is finite. Not covered: a small beside b's pole distance
    with b not small ((1e-8, 0.5): ∂²B/∂a∂b 1.2e-7 relative off, as before), and the symbolic
    engine, which differentiates SymPy's beta (B·(ψ(a) − ψ(a + b)) in float64) and still
    cancels near the poles and at small a, b (no refusal yet)."""
    def rule(a: Any, b: Any, o: Any) -> Any:
        x, y = (a, b) if which == 0 else (b, a)
        s = a + b
        n = floor(s + 0.5)
        m = floor(x + 0.5)
        near_s = logical_and(less_equal(n, 0.0), less(abs(s - n), 0.25))
        near_x = logical_and(less_equal(m, 0.0), less(abs(x - m), 0.25))
        finite = logical_and(less(abs(a), 100.0), less(abs(b), 100.0))
        tiny = logical_and(less_equal(abs(a), _BETA_SMALL), less_equal(abs(b), _BETA_SMALL))
        tiny = logical_and(tiny, logical_and(not_equal(a, 0.0), not_equal(b, 0.0)))
        two = logical_and(logical_and(near_x, near_s),
                          logical_and(less(abs(a), 80.0), less(abs(b), 80.0)))
        two = logical_and(two, logical_not(tiny))
        pole = logical_or(logical_and(logical_and(near_s, finite), logical_not(near_x)),
                          logical_and(less_equal(s, 0.0), equal(s, floor(s))))
        pole = logical_and(logical_and(pole, logical_not(two)), logical_not(tiny))
        plain = logical_not(logical_or(logical_or(pole, two), tiny))
        # near a pole of Γ(s) only: Γ(a)Γ(b)·(ψ(x)·rgamma(s) + rgamma′(s))
        pa, pb = where(pole, a, 0.5), where(pole, b, 0.5)
        ps = pa + pb
        r = rgamma(ps)
        at_pole = gamma(pa) * gamma(pb) * (digamma(pa if which == 0 else pb) * r
                                           + _rgamma_prime(ps, r))
        # x and s near poles: the reflected form
        tx, ty = where(two, x, -0.5), where(two, y, 0.0)
        ts = tx + ty
        left = less(ty, 0.5)
        ty_left, ty_right = where(left, ty, 0.0), where(left, 1.0, ty)
        gy = where(left, math.pi * rgamma(1.0 - ty_left), gamma(ty_right) * _sin_pi(ty_right))
        sx = _sin_pi(tx)
        reflected = (where(two, o, 0.0) * _digamma_drop_right(1.0 - tx, -ty)
                     - math.pi * gy * gamma(1.0 - ts) / (gamma(1.0 - tx) * (sx * sx)))
        # a and b small: −1/x² + ∂R/∂x
        ux, uy = where(tiny, x, 1e-3), where(tiny, y, 1e-3)
        small = _beta_small_rest(ux, uy) - 1.0 / (ux * ux)
        # elsewhere
        na, nb = where(plain, a, 1.0), where(plain, b, 1.0)
        rest = where(plain, o, 0.0) * (_digamma_drop(na, nb) if which == 0
                                       else _digamma_drop(nb, na))
        # x or y alone small beside the other's pole distance: 1/t + Q(g, t)
        lone_x = logical_and(_beta_lone(x, y), logical_not(tiny))
        lone_y = logical_and(_beta_lone(y, x), logical_not(tiny))
        lx, ly = where(lone_x, x, 1e-3), where(lone_x, y, 1.0)
        gx, gy_ = where(lone_y, x, 1.0), where(lone_y, y, 1e-3)
        lone = where(lone_x, _beta_lone_partial(ly, lx, True),
                     _beta_lone_partial(gx, gy_, False))
        return where(logical_or(lone_x, lone_y), lone,
                     where(pole, at_pole, where(two, reflected, where(tiny, small, rest))))

    return rule


#: |a|, |b| ≤ this: beta's partials as −1/x² + ∂R/∂x (:func:`_beta_small_rest`)
_BETA_SMALL = 0.05
#: the terms of that series, to (2·_BETA_SMALL)^k ≈ 1e-18 of the first
_BETA_SMALL_TERMS = 20
_ZETA: list[float] = []


def _zeta_values() -> list[float]:
    """ζ(k) for k = 0 … :data:`_BETA_SMALL_TERMS` (SciPy's, computed on first use): the
    coefficients of the series of ln Γ(1 + z) that beta's small-argument forms read."""
    if not _ZETA:
        zeta = special_module(np).zeta
        _ZETA.extend(float(zeta(k, 1.0)) for k in range(_BETA_SMALL_TERMS + 1))
    return _ZETA


def _beta_small_rest(x: Any, y: Any) -> Any:
    """∂R/∂x for R = B(x, y) − 1/x − 1/y at small x, y (|x|, |y|, |x + y| < 1). With s = x + y,
    ln Γ(1 + z) = −γz + Σₖ (−1)ᵏζ(k)/k·zᵏ (k ≥ 2) gives ln(Γ(1 + x)Γ(1 + y)/Γ(1 + s)) = −xy·Q,
    Q = Σₖ (−1)ᵏζ(k)/k·Pₖ, Pₖ = (sᵏ − xᵏ − yᵏ)/(xy) (P₂ = 2, Pₖ₊₁ = s·Pₖ + x^(k−1) + y^(k−1)),
    and B = (s/(xy))·e^(−xyQ) = 1/x + 1/y − s·Q·φ(−xyQ), φ(u) = (eᵘ − 1)/u. The polynomial
    series have no pole part, so the derivatives of ∂R/∂x (the mixed second derivative of B
    above all: 2ζ(3) at the origin) keep their digits."""
    zeta_ = _zeta_values()
    s = x + y
    p, px = 2.0, 0.0  # P₂ and ∂P₂/∂x
    xk, yk = 1.0, 1.0  # x^(k−2), y^(k−2)
    q, qx = zeta_[2], 0.0  # Q and ∂Q/∂x, from c₂·P₂ = ζ(2)/2·2
    for k in range(2, _BETA_SMALL_TERMS):
        # P_{k+1} = s·Pₖ + x^(k−1) + y^(k−1); ∂/∂x: Pₖ + s·∂Pₖ/∂x + (k−1)·x^(k−2)
        px = p + s * px + (k - 1) * xk
        xk, yk = xk * x, yk * y
        p = s * p + xk + yk
        c = (-1.0) ** (k + 1) * zeta_[k + 1] / (k + 1)
        q = q + c * p
        qx = qx + c * px
    u = -(x * y) * q
    ux = -(y * q) - (x * y) * qx
    phi = 1.0 + u * (1.0 / 2 + u * (1.0 / 6 + u * (1.0 / 24 + u * (1.0 / 120 + u / 720))))
    dphi = 1.0 / 2 + u * (2.0 / 6 + u * (3.0 / 24 + u * (4.0 / 120 + u * 5.0 / 720)))
    return -(q * phi) - s * (qx * phi + q * dphi * ux)


#: the terms of :func:`_beta_lone_partial`'s series in t (ratio |t|/pole distance ≤ 1e-3)
_BETA_LONE_TERMS = 9


def _beta_lone_partial(g: Any, t: Any, by_t: bool) -> Any:
    """∂B/∂t (``by_t``) or ∂B/∂g for B = B(g, t) with t small beside 0.05 and beside g's
    distance to its nearest pole (:func:`_beta_lone`): B = 1/t + Q(g, t), Q = M·φ(tM),
    φ(u) = (eᵘ − 1)/u, M = ln Γ(1 + t)/t − (ln|Γ(g + t)| − ln|Γ(g)|)/t
    = −γ + Σₖ (−1)ᵏζ(k)/k·t^(k−1) − Σₖ t^(k−1)/k!·ψ⁽ᵏ⁻¹⁾(g). The pole part 1/t has no g in it,
    so ∂²B/∂a∂b and ∂²B/∂g² come from smooth series: B·(ψ(a) − ψ(s))·(ψ(b) − ψ(s)) − B·ψ₁(s)
    cancelled two 2³¹·ψ₁ terms at (−3.25, 2⁻³¹) (and the reflected form two 1/t² terms)."""
    zeta_ = _zeta_values()
    # ln Γ(1 + t)/t and its t-derivative: −γ + Σ_{k≥2} (−1)ᵏζ(k)/k·t^(k−1)
    lt, lt_t = -0.5772156649015329, 0.0
    tk, tk1 = 1.0, 0.0  # t^(k−1), t^(k−2) at k = 1
    for k in range(2, _BETA_SMALL_TERMS + 1):
        tk1, tk = tk, tk * t
        c = (-1.0) ** k * zeta_[k] / k
        lt = lt + c * tk
        lt_t = lt_t + c * (k - 1) * tk1
    # F = Σ_{k≥1} t^(k−1)/k!·ψ⁽ᵏ⁻¹⁾(g), F_g = Σ t^(k−1)/k!·ψ⁽ᵏ⁾(g), F_t = Σ (k−1)t^(k−2)/k!·ψ⁽ᵏ⁻¹⁾(g)
    f, f_g, f_t = _digamma_accurate(g), polygamma(1, g), 0.0  # (SciPy's ψ: 2e-6 off by a pole)
    tk, tk1, fact = 1.0, 0.0, 1.0
    for k in range(2, _BETA_LONE_TERMS + 1):
        tk1, tk = tk, tk * t
        fact = fact * k
        pk1, pk = polygamma(k - 1, g), polygamma(k, g)
        f = f + tk / fact * pk1
        f_g = f_g + tk / fact * pk
        f_t = f_t + (k - 1) * tk1 / fact * pk1
    m, m_g, m_t = lt - f, -f_g, lt_t - f_t
    u = t * m
    phi, dphi, c = 1.0, 0.0, 1.0
    for k in range(1, 14):  # φ = Σ uᵏ/(k+1)!, |u| < 0.3 where it serves
        c = c / (k + 1)
        dphi = dphi + k * c * u ** (k - 1)
        phi = phi + c * u ** k
    if by_t:
        return m_t * phi + m * dphi * (m + t * m_t) - 1.0 / (t * t)
    return m_g * (phi + u * dphi)


def _beta_lone(t: Any, g: Any) -> Any:
    """t ≠ 0 small (|t| ≤ 0.05) beside g's distance to its nearest pole (≤ 1e-3 of it), |g| <
    100: B(g, t) near its pole in t only (:func:`_beta_lone_partial`)."""
    pole = _pole_gap(g)
    return logical_and(logical_and(not_equal(t, 0.0), less_equal(abs(t), _BETA_SMALL)),
                       logical_and(less_equal(abs(t), _DIGAMMA_STEP * pole), less(abs(g), 100.0)))


def _betaln_partial(which: int) -> Callable[..., Any]:
    """∂betaln/∂a = ψ(a) − ψ(a + b), ∂/∂b likewise."""
    def rule(a: Any, b: Any, o: Any) -> Any:
        return _digamma_drop(a, b) if which == 0 else _digamma_drop(b, a)

    return rule


beta = elementwise(
    "beta", _scipy("beta", "a", "b", overflow=_not_at_poles), (_beta_partial(0), _beta_partial(1)),
    lambda sp, a, b: _sym(sp, "beta")(a, b), numpy=(), scipy=("beta",), parseable=False,
    unicode="B", latex=r"\operatorname{B}", domain=((0.2, 3.0), (0.2, 3.0)),
    domain_text="beta has poles where a or b is 0, -1, -2, ...", holomorphic=False,
    doc="The beta function B(a, b) = Γ(a)Γ(b)/Γ(a + b) (scipy.special.beta).",
    symbolic_inexact=_beta_inexact)
betaln = elementwise(
    "betaln", _scipy("betaln", "a", "b", overflow=_not_at_poles),
    (_betaln_partial(0), _betaln_partial(1)),
    lambda sp, a, b: (_sym(sp, "gammaln")(a) + _sym(sp, "gammaln")(b)
                      - _sym(sp, "gammaln")(a + b)),  # log|Γ(a)Γ(b)/Γ(a + b)|
    numpy=(), scipy=("betaln",), latex=r"\ln\lvert\operatorname{B}\rvert",
    domain=((0.2, 3.0), (0.2, 3.0)),
    domain_text="betaln has poles where a or b is 0, -1, -2, ...", holomorphic=False,
    doc="log|B(a, b)| (scipy.special.betaln).", symbolic_inexact=_beta_inexact)

# ----- logistic functions -----------------------------------------------------------------------


def _logit_prime(x: Any) -> Any:
    """logit′ = 1/(x(1 − x)); as (1/x)/(1 − x) below ¼, whose derivative −1/(x²(1 − x)) + … shows
    an overflow near 0 as one (logit″(1e-300) = −1e600), where (x(1 − x))⁻² meets (1 − x) − x as
    ∞ − ∞; above ¼ as written, whose derivative keeps (1 − x) − x exact near ½."""
    return where(less(x, 0.25), (1.0 / x) / (1.0 - x), 1.0 / (x * (1.0 - x)))


logit = elementwise(
    "logit", _scipy("logit", "p"), (lambda x, o: _logit_prime(x),),
    lambda sp, x: sp.log(x) - sp.log(1 - x), numpy=(), scipy=("logit",),
    latex=r"\operatorname{logit}", domain=((0.05, 0.95),), domain_text="logit needs 0 < p < 1",
    holomorphic=False, doc="log(p/(1 − p)), the inverse of expit (scipy.special.logit).")
expit = elementwise(
    "expit", _scipy("expit", "x"), (lambda x, o: logistic_prime(x),),  # σ(x)·σ(−x)
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
        "∂/∂x at y = 0 does not exist.", signed_zero=(False, cut(below=0.0, arg=1)))
xlog1py = elementwise(
    "xlog1py", _scipy("xlog1py", "x", "y", overflow=lambda x, y: np.asarray(y) != -1),
    (lambda x, y, o: log1p(y), _xlog1py_dy), lambda sp, x, y: x * log1p.to_sympy(y),
    numpy=(),
    scipy=("xlog1py",), latex=r"\operatorname{xlog1py}", domain=((-2.0, 2.0), (-0.5, 3.0)),
    domain_text="xlog1py needs y > -1 (y = -1 only where x = 0)", holomorphic=False,
    special=(((0.0, 1.0), (math.log(2.0), 0.0)), ((0.0, -1.0), "nondifferentiable")),
    doc="x·log(1 + y), 0 where x = 0 (also at y = −1) (scipy.special.xlog1py).",
    signed_zero=(False, cut(below=-1.0, arg=1)))

# ----- logsumexp with SciPy's weights and sign ----------------------------------------------------


@composite
def weighted_logsumexp(a: Any, b: Any = None, axis: int | Sequence[int] | None = None,
                       keepdims: bool = False, return_sign: bool = False) -> Any:
    """log|Σ b·exp(a)| along `axis` (all axes when None), SciPy's ``logsumexp(a, axis, b,
    keepdims, return_sign)``: with ``return_sign`` the pair (value, sign of the sum), the sign a
    constant; without it a negative sum is a DomainError (SciPy: nan). Computed stably around
    m = max a (a constant to the derivative); a and b broadcast together and both are
    differentiable. Without b it is dk.logsumexp.

    Where max a is not finite the sum is taken as it is, Σ b·exp(a) (exp(+∞) = ∞), as SciPy
    does: a row of −∞ only is (−∞, sign 0), a +∞ with positive weights (+∞, 1); the stable form,
    which would take ∞ − ∞ there, sees zeros instead (no RuntimeWarning from a branch not taken).
    An empty reduction is (−∞, 0)."""
    if b is None and not return_sign:
        return logsumexp(a, axis=axis, keepdims=keepdims)
    a, b = (v if v is None or hasattr(v, "shape") else np.asarray(v, dtype=float) for v in (a, b))
    shape = tuple(np.broadcast_shapes(shape_of(a), shape_of(b))) if b is not None else shape_of(a)
    if shape_of(a) != shape:
        a = broadcast_to(a, shape)
    axis, empty = _row_axes("weighted_logsumexp", a, axis)
    if empty:  # Σ over no element: 0 of the reduced shape, whose log is −∞ (its sign 0)
        s = sum(a if b is None else b * a, axis=axis, keepdims=True)
        out, sgn = s + float("-inf"), signum(s)
    elif b is None:
        m = stop_gradient(amax(a, axis=axis, keepdims=True))
        finite = isfinite(m)
        m0 = where(finite, m, 0.0)
        d = where(finite, a, 0.0) - m0
        s = sum(exp(d), axis=axis, keepdims=True)
        sf = where(finite, s, 1.0)
        # the rows of a non-finite max: the sum as it is (0 where every a is −∞)
        an = where(finite, float("-inf"), a)
        direct = sum(exp(an), axis=axis, keepdims=True)
    else:
        # SciPy's masking: an entry with b = 0 is out of the value (its term is 0, also where a
        # is ±∞ or NaN), so the shift m is the max over b ≠ 0 only ([800, 1] with b [0, 1] is 1,
        # where the max over all entries underflowed every kept term: −∞)
        kept = not_equal(b, 0.0)
        m = stop_gradient(amax(where(kept, a, float("-inf")), axis=axis, keepdims=True))
        finite = isfinite(m)
        m0 = where(finite, m, 0.0)
        d = where(finite, a, 0.0) - m0
        # ∂/∂b at a masked entry stays e^(a − m)/Σ; where that is not a float (a = +∞, NaN, or
        # e^(a − m) overflows) the term is xlogy(b, ∞) = 0 at b = 0, whose b-partial log ∞ = ∞
        # makes a derivative by b there a named refusal rather than a number (elsewhere
        # xlogy(b, 1): 0 with partial 0, no infinity met by a zero cotangent)
        big = logical_not(less_equal(d, math.log(np.finfo(np.result_type(dtype_of(a), np.float16)).max)))
        term = where(big, xlogy(b, where(big, float("inf"), 1.0)), b * exp(where(big, 0.0, d)))
        s = sum(term, axis=axis, keepdims=True)
        sf = where(finite, s, 1.0)
        # the rows of a non-finite max (over b ≠ 0): the sum as it is, masked entries 0
        an = where(logical_or(finite, logical_not(kept)), float("-inf"), a)
        direct = sum(b * exp(an), axis=axis, keepdims=True)
    if not empty:
        low = equal(m, float("-inf"))
        dn = where(logical_or(finite, low), 1.0, direct)
        out = where(finite, (log(abs(sf)) if return_sign else log(sf)) + m0,
                    where(low, m, log(abs(dn)) if return_sign else log(dn)))
        sgn = signum(where(finite, s, direct))  # a constant: sign has no derivative
    if not keepdims:
        nd = len(shape)
        drop = set(range(nd)) if axis is None else {
            x % max(nd, 1) for x in ((axis,) if isinstance(axis, int) else tuple(axis))}
        kept = tuple(n for i, n in enumerate(shape) if i not in drop)
        out, sgn = reshape(out, kept), reshape(sgn, kept)
    return (out, sgn) if return_sign else out


# ----- Bessel functions -------------------------------------------------------------------------


def _parameter_message(function: str, argument: str) -> str:
    return (f"{function} has no derivative rule for its {argument}: differentiate by the other "
            "inputs only (leave it out of wrt=), or use method='fd', which treats the function "
            "as a black box")


def _off_zero(*args: Any) -> Any:
    """An infinite value is an overflow where x (the last argument) is not 0; at x = 0 it is the
    pole of y0, k0, … (a division by zero)."""
    return np.asarray(args[-1]) != 0


def _order_rule(function: str) -> NoRule:
    return NoRule(_parameter_message(function, "order v"))


# ----- the derivatives of log_ndtr ---------------------------------------------------------------


def _log_ndtr_riccati(xp: Any, x: Any, orders: int) -> list[Any]:
    """log Φ′, …, log Φ⁽ᵒʳᵈᵉʳˢ⁾ at x from the Taylor coefficients of r = log Φ′ = φ/Φ, which solves
    r′ = −r·(x + r): c₀ = r, (k + 1)·cₖ₊₁ = −(x·cₖ + cₖ₋₁ + Σᵢ cᵢcₖ₋ᵢ). r is √(2/π)/erfcx(−x/√2)
    for x < 0 and e^(−x²/2 − log Φ)/√(2π) for x ≥ 0 (and complex x). Accurate for x > −1; far in
    the left tail x + r cancels (see _log_ndtr_tail)."""
    special = special_module(xp)
    if xp.iscomplexobj(x):
        r = _INV_SQRT_2PI * xp.exp(-0.5 * (x * x) - special.log_ndtr(x))
    else:
        left = x < 0
        xl, xr = xp.where(left, x, 0.0), xp.where(left, 0.0, x)
        r = xp.where(left, _SQRT_2_OVER_PI / special.erfcx(-_SQRT_HALF * xl),
                     _INV_SQRT_2PI * xp.exp(-0.5 * (xr * xr) - special.log_ndtr(xr)))
    c = [r]
    for k in range(orders - 1):
        square = c[0] * c[k]
        for i in range(1, k + 1):
            square = square + c[i] * c[k - i]
        c.append(-(x * c[k] + (c[k - 1] if k else 0.0) + square) / (k + 1))
    return [math.factorial(k) * ck for k, ck in enumerate(c)]


def _log_ndtr_tail(xp: Any, x: Any, orders: int) -> list[Any]:
    """log Φ′, …, log Φ⁽ᵒʳᵈᵉʳˢ⁾ at x ≤ −1 (z = −x/√2 ≥ 1/√2), without cancellation at any order.

    log Φ(x) = log E₀(z) − z² − log 2 with Eₖ(z) = e^(z²)·iᵏerfc(z) (E₀ = erfcx), and
    Eₖ′ = −2(k + 1)·Eₖ₊₁, so E₀⁽ᵏ⁾/E₀ = (−2)ᵏ·k!·Eₖ/E₀ =: mₖ: moments, whose cumulants
    Lₙ = mₙ − Σₖ C(n−1, k−1)·Lₖ·mₙ₋ₖ are the derivatives of log E₀. The ratios ρₖ = Eₖ/Eₖ₋₁ come
    from the continued fraction ρₖ = 1/(2z + 2(k + 1)ρₖ₊₁) (all terms positive; started deep
    enough, 200/z² levels, for 1e-16)."""
    z = -_SQRT_HALF * x
    depth = orders + 10 + math.ceil(200.0 / float(xp.min(z)) ** 2)
    rho, rhos = xp.zeros_like(z), [None] * (orders + 1)
    for k in range(depth, 0, -1):
        rho = 1.0 / (2.0 * z + (2.0 * (k + 1)) * rho)
        if k <= orders:
            rhos[k] = rho
    moments, ratio = [None], xp.ones_like(z)
    for k in range(1, orders + 1):
        ratio = ratio * rhos[k]
        moments.append(((-2.0) ** k * math.factorial(k)) * ratio)
    cumulants: list[Any] = [None]
    for n in range(1, orders + 1):
        value = moments[n]
        for k in range(1, n):
            value = value - math.comb(n - 1, k - 1) * cumulants[k] * moments[n - k]
        cumulants.append(value)
    cumulants[1] = cumulants[1] - 2.0 * z  # the −z² of log Φ: 2E₁/E₀ + 2z, both positive
    if orders >= 2:
        cumulants[2] = cumulants[2] - 2.0
    return [(-_SQRT_HALF) ** n * cumulants[n] for n in range(1, orders + 1)]


def _log_ndtr_derivative(xp: Any, n: Any, x: Any) -> Any:
    """The n-th derivative of log Φ at x: _log_ndtr_tail for real x ≤ −1, _log_ndtr_riccati
    elsewhere; NaN (a DomainError) where n is not an integer ≥ 1."""
    order = xp.asarray(n)
    x = xp.asarray(x)
    dtype = _result_dtype((x,))
    wide = x.astype(xp.complex128 if dtype.kind == "c" else xp.float64)
    valid = (order >= 1) & (order == xp.floor(order))
    orders = int(xp.max(xp.where(valid, order, 1)))
    with np.errstate(all="ignore"):
        tail = (wide <= -1.0) if dtype.kind != "c" else xp.zeros(wide.shape, bool)
        values = _log_ndtr_riccati(xp, xp.where(tail, 0.0, wide), orders)
        if bool(xp.any(tail)):
            far = _log_ndtr_tail(xp, xp.where(tail, wide, -1.0), orders)
            values = [xp.where(tail, f, v) for f, v in zip(far, values)]
        out = xp.full(xp.broadcast_shapes(order.shape, wide.shape), xp.nan, dtype=wide.dtype)
        for k, v in enumerate(values, start=1):
            out = xp.where(valid & (order == k), v, out)
    return _finish(xp, "log_ndtr_derivative", out[()] if out.ndim == 0 else out, (x,),
                   overflow=np.isfinite, hint=" (log_ndtr_derivative needs an integer order n >= 1)")


_X_POSITIVE = "needs x > 0"
_REAL_ORDER = "x >= 0 where the order v is not an integer"

j0 = elementwise(
    "j0", _scipy("j0", "x"), (lambda x, o: -j1(x),), lambda sp, x: _sym(sp, "besselj")(0, x),
    numpy=(), scipy=("j0",), parseable=False, unicode="J₀", latex="J_0",
    domain=((-10.0, 10.0),), holomorphic=False,
    doc="The Bessel function of the first kind of order 0 (scipy.special.j0); j0′ = −j1.")
j1 = elementwise(
    "j1", _scipy("j1", "x"), (lambda x, o: (j0(x) - jv(2.0, x)) * 0.5,),
    lambda sp, x: _sym(sp, "besselj")(1, x), numpy=(), scipy=("j1",), parseable=False,
    unicode="J₁", latex="J_1", domain=((-10.0, 10.0),), holomorphic=False,
    special=(((0.0,), (0.5,)),),
    doc="The Bessel function of the first kind of order 1 (scipy.special.j1); "
        "j1′ = (j0 − J₂)/2, 1/2 at x = 0.")
y0 = elementwise(
    "y0", _scipy("y0", "x", overflow=_off_zero), (lambda x, o: -y1(x),),
    lambda sp, x: _sym(sp, "bessely")(0, x), numpy=(), scipy=("y0",), parseable=False,
    unicode="Y₀", latex="Y_0", domain=((0.3, 10.0),), domain_text=f"y0 {_X_POSITIVE}",
    holomorphic=False,
    doc="The Bessel function of the second kind of order 0 (scipy.special.y0); y0′ = −y1.")
y1 = elementwise(
    "y1", _scipy("y1", "x", overflow=_off_zero), (lambda x, o: (y0(x) - yn(2, x)) * 0.5,),
    lambda sp, x: _sym(sp, "bessely")(1, x), numpy=(), scipy=("y1",), parseable=False,
    unicode="Y₁", latex="Y_1", domain=((0.3, 10.0),), domain_text=f"y1 {_X_POSITIVE}",
    holomorphic=False,
    doc="The Bessel function of the second kind of order 1 (scipy.special.y1); "
        "y1′ = (y0 − Y₂)/2.")
i0 = elementwise(
    "i0", _scipy("i0", "x", overflow=_off_zero), (lambda x, o: i1(x),),
    lambda sp, x: _sym(sp, "besseli")(0, x), numpy=(), scipy=("i0",), parseable=False,
    unicode="I₀", latex="I_0", domain=((-4.0, 4.0),), domain_text="i0 overflows for |x| > 713",
    holomorphic=False,
    doc="The modified Bessel function of the first kind of order 0 (scipy.special.i0); "
        "i0′ = i1. np.i0 is dk.numpy_i0 (NumPy's own values).")
i1 = elementwise(
    "i1", _scipy("i1", "x", overflow=_off_zero), (lambda x, o: (i0(x) + iv(2.0, x)) * 0.5,),
    lambda sp, x: _sym(sp, "besseli")(1, x), numpy=(), scipy=("i1",), parseable=False,
    unicode="I₁", latex="I_1", domain=((-4.0, 4.0),), domain_text="i1 overflows for |x| > 713",
    holomorphic=False, special=(((0.0,), (0.5,)),),
    doc="The modified Bessel function of the first kind of order 1 (scipy.special.i1); "
        "i1′ = (i0 + I₂)/2, 1/2 at x = 0.")
numpy_i0 = elementwise(
    "numpy_i0", lambda xp, x: xp.i0(x), (lambda x, o: i1(x),),
    lambda sp, x: _sym(sp, "besseli")(0, x), numpy=("i0",), parseable=False, unicode="I₀",
    latex="I_0", domain=((-4.0, 4.0),), domain_text="np.i0 overflows for |x| > 713",
    holomorphic=False,
    doc="The modified Bessel function I₀ with NumPy's values (np.i0, bit for bit; SciPy's "
        "dk.i0 differs from it in the last bit at a few percent of points); its derivative is "
        "SciPy's i1.")
#: beyond |x| = 35 + v², Hankel's expansion gives ive′/ive to below ~1e-15 relative in 16 terms
_LARGE_X = 35.0
_HANKEL_TERMS = 16


def _hankel_slope(v: Any, t: Any) -> Any:
    """−ive′(v, x)/ive(v, x)·sign(x) for large |x|, t = 1/|x|: from Hankel's expansion
    ive(v, x) ~ S(t)/√(2π|x|), S(t) = Σₖ cₖtᵏ, cₖ = cₖ₋₁·((2k − 1)² − 4v²)/(8k), it is
    t/2 + t²S′(t)/S(t) = t·(1/2 + Σₖ k·cₖtᵏ / Σₖ cₖtᵏ), 16 terms. Only + − × ÷ on v and t: the
    same code serves floats, arrays, traced values and SymPy expressions."""
    mu = 4.0 * v * v
    term, total, weighted = 1.0, 1.0, 0.0
    for k in range(1, _HANKEL_TERMS + 1):
        term = term * (((2.0 * k - 1.0) ** 2 - mu) / (8.0 * k)) * t
        total, weighted = total + term, weighted + k * term
    return t * (0.5 + weighted / total)


#: from order |v| = 10 up, Debye's uniform expansion in 20 terms gives ive′/ive and its first
#: derivatives to ~1e-14 relative (2e-12 at v = 10, below 1e-15 from v = 20) for every x
_DEBYE_ORDER = 10.0
_DEBYE_TERMS = 20


@functools.cache
def _debye_coefficients() -> tuple[tuple[tuple[int, float], ...], ...]:
    """Debye's polynomials Uₖ(p) = Σⱼ uₖⱼpʲ, k = 0 … 20 (U₀ = 1, Uₖ₊₁ = ½p²(1 − p²)Uₖ′ +
    ⅛∫₀ᵖ (1 − 5t²)Uₖ(t) dt, DLMF 10.41.10, exact in fractions), gathered by power: for each
    j = 0 … 60 the pairs (k, uₖⱼ)."""
    from fractions import Fraction

    polys = [{0: Fraction(1)}]
    for _ in range(_DEBYE_TERMS):
        nxt: dict[int, Fraction] = {}
        for j, c in polys[-1].items():
            for power, add in ((j + 1, c * j / 2 + c / (8 * (j + 1))),
                               (j + 3, -c * j / 2 - 5 * c / (8 * (j + 3)))):
                nxt[power] = nxt.get(power, Fraction(0)) + add
        polys.append(nxt)
    return tuple(tuple((k, float(u[j])) for k, u in enumerate(polys) if u.get(j))
                 for j in range(3 * _DEBYE_TERMS + 1))


def _debye_polynomial(v: Any) -> list[Any]:
    """The coefficients cⱼ = Σₖ uₖⱼ/vᵏ of S(p) = Σₖ Uₖ(p)/vᵏ = Σⱼ cⱼpʲ, j = 0 … 60."""
    w = 1.0 / v
    powers = [1.0, w]
    for _ in range(_DEBYE_TERMS - 1):
        powers.append(powers[-1] * w)
    coefficients = []
    for pairs in _debye_coefficients():
        c = 0.0
        for k, u in pairs:
            c = c + u * powers[k]
        coefficients.append(c)
    return coefficients


def _horner(coefficients: Sequence[Any], p: Any) -> tuple[Any, Any]:
    """S(p) = Σⱼ cⱼpʲ and S′(p) by Horner's scheme."""
    total, slope = 0.0, 0.0
    for j in range(len(coefficients) - 1, -1, -1):
        if j:
            slope = slope * p + j * coefficients[j]
        total = total * p + coefficients[j]
    return total, slope


def _horner_ratio(v: Any, p: Any) -> Any:
    """S′(p)/S(p) for the order v, by Horner's scheme (records, arrays, floats)."""
    total, slope = _horner(_debye_polynomial(v), p)
    return slope / total


def debye_ratio_values(m: Any, v: Any, p: Any) -> Any:
    """S⁽ᵐ⁾(p)/S(p) on NumPy values (the symbolic engine's printed code calls this)."""
    coefficients = _debye_polynomial(np.asarray(v, dtype=np.float64))
    derived = [c * math.perm(j, int(m)) for j, c in enumerate(coefficients)][int(m):]
    return _horner(derived, p)[0] / _horner(coefficients, p)[0]


def _debye_slope(v: Any, a: Any, root: Callable[[Any], Any],
                 ratio: Callable[[Any, Any], Any] = _horner_ratio) -> Any:
    """ive′(v, x)/ive(v, x)·sign(x) at a = |x| > 0 for an order v >= 10, from Debye's uniform
    expansion Iᵥ(vz) ~ e^(vη)/(√(2πv)(1 + z²)^¼)·S, S = Σₖ Uₖ(p)/vᵏ, p = v/√(v² + a²):
    v²/(a(√(a² + v²) + a)) − a/(2(a² + v²)) − (a·p³/v²)·S′(p)/S(p). The first term is
    √(1 + z²)/z − 1 written without the difference (the recurrence's
    (ive(v − 1) + ive(v + 1))/2 − ive cancels for v < x < v², and more in each derivative),
    and each of its derivatives is a sum of terms of one sign; the others are small
    corrections. `root` is the square root and `ratio(v, p)` gives S′/S (the record and
    Horner's scheme; SymPy's root and a function of its own, whose derivative in p is
    S″/S − (S′/S)², as SymPy differentiating the 60-term polynomial in p(x) takes minutes):
    the same code serves floats, arrays, traced values and SymPy expressions."""
    vv = v * v
    s = root(a * a + vv)
    p = v / s
    return vv / (a * (s + a)) - a / (2.0 * (s * s)) - (a * p * p * p / vv) * ratio(v, p)


def _scaled_bessel_prime(v: Any, x: Any, o: Any, near: Any) -> Any:
    """ive′(v, x) (i0e′, i1e′ for v = 0, 1; o = ive(v, x)): `near` (the recurrence
    (ive(v − 1) + ive(v + 1))/2 − sign(x)·ive) for |x| <= 35 + v², and −sign(x)·o·(Hankel's
    ratio) beyond, where the recurrence's difference of nearly equal terms loses digits in
    proportion to x (ive′(0, 1e10) off by 1.8e-7, ive″(0, 1e10) = 0). Each derivative of this
    rule is again a product of o and a function of t = 1/|x|: stable in every order."""
    bound = _LARGE_X + v * v
    large = greater(abs(x), bound)
    t = 1.0 / where(large, abs(x), bound)
    return where(large, -signum(x) * o * _hankel_slope(v, t), near)


i0e = elementwise(
    "i0e", _scipy("i0e", "x"),
    (lambda x, o: _scaled_bessel_prime(0.0, x, o, i1e(x) - signum(x) * o),),
    lambda sp, x: _sym(sp, "ive")(0, x), numpy=(), scipy=("i0e",), unicode="I₀ₑ",
    latex=r"I_0^{e}", domain=((-6.0, 6.0),), holomorphic=False, special=(((0.0,), (0.0,)),),
    kinks=lambda x, o: not_equal(x, 0.0),  # e^(−|x|): i0e′ jumps from 1 to −1 at 0
    doc="e^(−|x|)·I₀(x), the exponentially scaled i0 (scipy.special.i0e); "
        "i0e′ = i1e − sign(x)·i0e: a kink at 0, where the derivative is taken as 0 (as abs′(0)).")
i1e = elementwise(
    "i1e", _scipy("i1e", "x"),
    (lambda x, o: _scaled_bessel_prime(1.0, x, o,
                                       (i0e(x) + ive(2.0, x)) * 0.5 - signum(x) * o),),
    lambda sp, x: _sym(sp, "ive")(1, x), numpy=(), scipy=("i1e",), unicode="I₁ₑ",
    latex=r"I_1^{e}", domain=((-6.0, 6.0),), holomorphic=False, special=(((0.0,), (0.5,)),),
    kinks=lambda x, o: not_equal(x, 0.0),  # i1e′(0) = ½ exists, i1e″ jumps from −1 to 1 at 0
    doc="e^(−|x|)·I₁(x), the exponentially scaled i1 (scipy.special.i1e); "
        "i1e′ = (i0e + ive(2, x))/2 − sign(x)·i1e, 1/2 at 0.")
jv = elementwise(
    "jv", _scipy("jv", "v", "x", overflow=_off_zero),
    (_order_rule("jv"), lambda v, x, o: (jv(v - 1.0, x) - jv(v + 1.0, x)) * 0.5),
    lambda sp, v, x: _sym(sp, "besselj")(v, x), numpy=(), scipy=("jv",), unicode="Jᵥ",
    latex="J", domain=((-2.5, 3.0), (0.3, 10.0)), domain_text=f"jv needs {_REAL_ORDER}",
    holomorphic=False,
    doc="The Bessel function of the first kind of real order v (scipy.special.jv); "
        "∂/∂x = (J_{v−1} − J_{v+1})/2; the order v is not differentiated (MissingRuleError).")
yv = elementwise(
    "yv", _scipy("yv", "v", "x", overflow=_off_zero),
    (_order_rule("yv"), lambda v, x, o: (yv(v - 1.0, x) - yv(v + 1.0, x)) * 0.5),
    lambda sp, v, x: _sym(sp, "bessely")(v, x), numpy=(), scipy=("yv",), unicode="Yᵥ",
    latex="Y", domain=((-2.5, 3.0), (0.3, 10.0)), domain_text=f"yv {_X_POSITIVE}",
    holomorphic=False,
    doc="The Bessel function of the second kind of real order v (scipy.special.yv); "
        "∂/∂x = (Y_{v−1} − Y_{v+1})/2; the order v is not differentiated (MissingRuleError).")
#: below this |x|, scipy.special.iv may answer 0 where Iᵥ(x) is a normal number
_IV_TINY = 1e-100


def _iv_value(v: Any, x: Any) -> Any:
    """scipy.special.iv(v, x), mended where SciPy underflows early: for 0 < |x| < 1e-100 it
    gives 0 where Iᵥ(x) ≈ (x/2)^|v|/Γ(|v| + 1) (an integer v; (x/2)^v/Γ(v + 1) otherwise) is
    representable (iv(1, 1e-200) = 0 for 5e-201, and so i1″ came out ⅔ of itself); there that
    first term of the series, whose next is (x/2)²/(v + 1) ≈ 1e-200 of it."""
    import scipy.special as ss

    out = ss.iv(v, x)
    vv, xx, oo = np.broadcast_arrays(np.asarray(v, dtype=float), np.asarray(x), np.asarray(out))
    tiny = (oo == 0) & (np.abs(xx) < _IV_TINY) & (xx != 0) & np.isfinite(vv)
    if not tiny.any():
        return out
    whole = np.floor(vv) == vv
    n = np.where(whole, np.abs(vv), vv)  # I₋ₙ = Iₙ
    with np.errstate(all="ignore"):
        size = np.power(np.abs(xx) / 2.0, n) / ss.gamma(n + 1.0)
        sign = np.where((xx < 0) & whole, np.where(np.mod(n, 2.0) == 1.0, -1.0, 1.0), 1.0)
    fixed = np.where(tiny, sign * size, oo).astype(oo.dtype)
    return fixed if np.ndim(out) else fixed[()]


iv = elementwise(
    "iv", _scipy("iv", "v", "x", overflow=_off_zero, mended=_iv_value),
    (_order_rule("iv"), lambda v, x, o: (iv(v - 1.0, x) + iv(v + 1.0, x)) * 0.5),
    lambda sp, v, x: _sym(sp, "besseli")(v, x), numpy=(), scipy=("iv",), unicode="Iᵥ",
    latex="I", domain=((-2.5, 3.0), (0.2, 6.0)), domain_text=f"iv needs {_REAL_ORDER}",
    holomorphic=False,
    doc="The modified Bessel function of the first kind of real order v (scipy.special.iv); "
        "∂/∂x = (I_{v−1} + I_{v+1})/2; the order v is not differentiated (MissingRuleError).")
def _ive_large(v: Any, x: Any) -> Any:
    """ive(v, x) for |x| ≫ v² by Hankel's expansion e^(−x)·I_v(x) ~ Σₖ (−1)ᵏ aₖ(v)/xᵏ / √(2πx),
    aₖ(v) = (4v² − 1²)(4v² − 3²)…(4v² − (2k − 1)²)/(k!·8ᵏ); ive(n, −x) = (−1)ⁿ ive(n, x) for an
    integer n. NaN where the terms do not fall below 1e-17 of the sum within 40 terms."""
    ax = np.abs(x)
    mu = 4.0 * v * v
    term = np.ones_like(ax)
    total = np.ones_like(ax)
    done = np.zeros(ax.shape, bool)
    for k in range(1, 41):
        term = term * -(mu - (2.0 * k - 1.0) ** 2) / (8.0 * k * ax)
        total = total + np.where(done, 0.0, term)
        done = done | (np.abs(term) <= 1e-17 * np.abs(total))
        if done.all():
            break
    value = total / np.sqrt(2.0 * np.pi * ax)
    odd = (x < 0) & (np.fmod(v, 2.0) != 0)
    return np.where(done, np.where(odd, -value, value), np.nan)


def _ive_impl(xp: Any, v: Any, x: Any) -> Any:
    """scipy.special.ive, whose NaN for |x| ≳ 2e9 (every order: ive(0, 1e10)) is replaced by
    Hankel's asymptotic expansion there (NumPy only)."""
    out = _ive_value(v, x) if xp is np else _special(xp, "ive")(v, x)
    hint = _IVE_HINT if xp is np and _far_nan(out, v, x)[2].any() else ""
    return _finish(xp, "ive", out, (v, x), hint=hint)


def _ive_value(v: Any, x: Any) -> Any:
    """scipy.special.ive on NumPy values, with Hankel's expansion where it gives NaN for a large
    |x| (the symbolic engine's printed code calls this)."""
    out = special_module(np).ive(v, x)
    va, xa, bad = _far_nan(out, v, x)
    if bad.any():
        out = np.array(out, dtype=np.result_type(out, np.float64))
        out[bad] = _ive_large(va[bad].astype(np.float64), xa[bad].astype(np.float64))
        out = out[()] if out.ndim == 0 else out
    return out


def _far_nan(out: Any, v: Any, x: Any) -> tuple[Any, Any, Any]:
    """The orders and points broadcast, and where SciPy's ive gave NaN at a finite point far out
    (|x| >= 1e8; a negative x only for an integer order): where Hankel's expansion may stand in
    (:func:`_ive_large` says where it does)."""
    va, xa = np.broadcast_arrays(np.asarray(v), np.asarray(x))
    return va, xa, (np.isnan(out) & np.isfinite(va) & np.isfinite(xa) & (np.abs(xa) >= 1e8)
                    & ((xa > 0) | (np.floor(va) == va)))


_IVE_HINT = (": not a domain error: scipy.special.ive gives NaN for |x| >= 2e9, and its "
             "asymptotic expansion here needs v² << |x|")


def _ive_smooth(v: Any, x: Any, o: Any) -> Any:
    """ive(v, x) = e^(−|x|)·I_v(x) ~ |x|·xᵛ at 0: its (|v| + 1)-th derivative jumps there. The
    first derivative's rule is a convention at x = 0 (differentiated again: an error) unless v is
    an integer with |v| ≥ 2 (then ive″(v, 0) exists; a deeper one meets ive(v − 1)'s kink)."""
    return logical_or(not_equal(x, 0.0),
                      logical_and(greater_equal(abs(v), 2.0), equal(floor(v), v)))


def _debye_order(v: Any) -> Any:
    """Where the order v is one for Debye's expansion: v >= 10, or an integer v <= −10."""
    return logical_or(greater_equal(v, _DEBYE_ORDER),
                      logical_and(greater_equal(abs(v), _DEBYE_ORDER), equal(floor(v), v)))


def _ive_prime(v: Any, x: Any, o: Any) -> Any:
    """ive′(v, x): _scaled_bessel_prime's recurrence and Hankel's ratio, and between, for
    |v| <= |x| <= 35 + v² and an order v >= 10 (or an integer one <= −10: I₋ₙ = Iₙ),
    sign(x)·o·(Debye's ratio, :func:`_debye_slope`), where the recurrence's difference
    (ive(v − 1) + ive(v + 1))/2 − ive of terms ~1e-3 for 1e-12 … 1e-9 of them cancelled in
    the derivatives (ive‴(200.5, 1e4) was 10 % off). Below |x| = |v| the recurrence does not
    cancel (ive(v − 1) dominates) and is kept. Untaken branches see safe arguments."""
    near = (ive(v - 1.0, x) + ive(v + 1.0, x)) * 0.5 - signum(x) * o
    constant = not isinstance(v, Traced)
    if constant and not _debye_order(np.asarray(getattr(v, "get", lambda: v)())).any():
        return _scaled_bessel_prime(v, x, o, near)  # a constant small order: no Debye branch
    debye = logical_and(
        logical_and(greater_equal(abs(x), abs(v)), less_equal(abs(x), _LARGE_X + v * v)),
        _debye_order(v))
    order = where(debye, abs(v), _DEBYE_ORDER)
    slope = _debye_slope(order, where(debye, abs(x), 1.0), sqrt)
    return where(debye, signum(x) * o * slope, _scaled_bessel_prime(v, x, o, near))


ive = elementwise(
    "ive", _ive_impl,
    (_order_rule("ive"), _ive_prime),
    lambda sp, v, x: _sym(sp, "ive")(v, x), numpy=(), scipy=("ive",), unicode="Iᵥₑ",
    latex=r"I^{e}", domain=((-2.5, 3.0), (0.2, 8.0)), domain_text=f"ive needs {_REAL_ORDER}",
    holomorphic=False, kinks=_ive_smooth,
    doc="e^(−|x|)·I_v(x), the exponentially scaled iv (scipy.special.ive); ∂/∂x = "
        "(ive(v − 1, x) + ive(v + 1, x))/2 − sign(x)·ive(v, x), beyond |x| = 35 + v² "
        "−sign(x)·ive(v, x)·(Hankel's ratio in 1/|x|), and for an order v >= 10 at "
        "|v| <= |x| <= 35 + v² sign(x)·ive(v, x)·(Debye's uniform ratio), which do not cancel; "
        "the order v is not differentiated (MissingRuleError).")
def _k_value(v: Any, x: Any, name: str = "kv") -> Any:
    """scipy.special.kv (or kn, `name`), mended where SciPy underflows early: for x in about
    697.9 … 705.3 it gives 0 where Kᵥ(x) is a normal number (K₀(700) = 4.67e-306); there
    kve(v, x)·e^(−x/2)·e^(−x/2), whose factors stay normal, so that the only rounding into the
    subnormal range (x ≳ 705) is the last product's."""
    import scipy.special as ss

    out = getattr(ss, name)(v, x)
    vv, xx, oo = np.broadcast_arrays(np.asarray(v, dtype=float), np.asarray(x), np.asarray(out))
    low = (oo == 0) & (xx > 0) & np.isfinite(xx) & np.isfinite(vv)
    if not low.any():
        return out
    with np.errstate(all="ignore"):
        half = np.exp(-np.where(low, xx, 0.0) / 2.0)
        scaled = ss.kve(np.where(low, vv, 0.0), np.where(low, xx, 1.0))
        fixed = np.where(low, scaled * half * half, oo).astype(oo.dtype)
    return fixed if np.ndim(out) else fixed[()]


def _kn_value(n: Any, x: Any) -> Any:
    """scipy.special.kn, mended as :func:`_k_value` mends kv."""
    return _k_value(n, x, "kn")


kv = elementwise(
    "kv", _scipy("kv", "v", "x", overflow=_off_zero, mended=_k_value),
    (_order_rule("kv"), lambda v, x, o: (kv(v - 1.0, x) + kv(v + 1.0, x)) * -0.5),
    lambda sp, v, x: _sym(sp, "besselk")(v, x), numpy=(), scipy=("kv",), unicode="Kᵥ",
    latex="K", domain=((-2.5, 3.0), (0.2, 6.0)), domain_text=f"kv {_X_POSITIVE}",
    holomorphic=False,
    doc="The modified Bessel function of the second kind of real order v (scipy.special.kv); "
        "∂/∂x = −(K_{v−1} + K_{v+1})/2; the order v is not differentiated (MissingRuleError).")


def _prepare_integer_order(name: str, least: int | None = None) -> Callable[..., Any]:
    """n: an integer (or an integer array broadcasting with x), never differentiated, at least
    `least` where given. SciPy truncates a fractional n with a warning; here it is a
    DomainError, as for polygamma."""

    def prepare(n: Any, x: Any) -> Any:
        if isinstance(n, Traced):
            if getattr(n, "requires_grad", False):
                raise NonDifferentiableError(
                    f"{name}(n, x) is not differentiable in its order n (an integer): pass n as "
                    "a number, or leave it out of wrt=")
            n = n.concrete(f"{name}'s order n")
        values = np.asarray(getattr(n, "get", lambda: n)())
        if values.dtype.kind not in "biuf" or not np.all(np.isfinite(values)) or np.any(
                np.floor(values) != values):
            raise DomainError(f"{name} needs an integer order n, got {n!r}")
        if least is not None and np.any(values < least):
            raise DomainError(f"{name} needs an integer order n >= {least}, got {n!r}")
        order = int(values) if values.ndim == 0 else values.astype(np.int64)
        return (order, x), {}

    return prepare


def _integer_order_impl(name: str, mended: Callable[..., Any] | None = None) -> Callable[..., Any]:
    def impl(xp: Any, n: Any, x: Any) -> Any:
        fn = mended if mended is not None and xp is np else _special(xp, name)
        return _finish(xp, name, fn(n, x), (x,), overflow=_off_zero,
                       hint=f" ({name} {_X_POSITIVE})")

    impl.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
        [inspect.Parameter(p, inspect.Parameter.POSITIONAL_OR_KEYWORD) for p in ("xp", "n", "x")])
    return impl


def _integer_order_record(name: str, derivative: Callable[[Any, Any], Any], sympy_name: str,
                          doc: str, impl: Callable[..., Any] | None = None,
                          scipy: tuple[str, ...] | None = None, least: int | None = None) -> Any:
    """yn, kn or log_ndtr_derivative: a structural record whose order n is prepared as a number
    (like polygamma's); `impl` (default: scipy.special.<name>) evaluates it."""

    def jvp(ts: Sequence[Any], k: int, xs: Sequence[Any], out: Any) -> Any:
        if ts[1] is None:
            return None
        t, sx, so = ts[1], shape_of(xs[1]), shape_of(out)
        if len(sx) < len(so):
            t = reshape(t, (k,) + (1,) * (len(so) - len(sx)) + sx)
        return broadcast_to(t * derivative(xs[0], xs[1]), (k, *so))

    def translate(sp: Any, n: Any, x: Any) -> Any:
        fn = np.frompyfunc(lambda a, b: _sym(sp, sympy_name)(a, b), 2, 1)
        return np.asarray(fn(np.asarray(n, dtype=object), np.asarray(x, dtype=object)),
                          dtype=object)

    return structural(
        name, impl or _integer_order_impl(name), nargs=2, prepare=_prepare_integer_order(name, least),
        jvp=jvp, vjp=lambda ct, xs, out: (None, lambda: ct * derivative(xs[0], xs[1])),
        sympy=translate, scipy=(name,) if scipy is None else scipy, parseable=False,
        unicode=name, doc=doc, holomorphic=False)  # real x only (scipy's yn, kn)


yn = _integer_order_record(
    "yn", lambda n, x: (yn(n - 1, x) - yn(n + 1, x)) * 0.5, "bessely",
    "The Bessel function of the second kind of integer order n (scipy.special.yn): n an "
    "integer, not differentiated (a fractional n is a DomainError); ∂/∂x = (Y_{n−1} − Y_{n+1})/2.")
kn = _integer_order_record(
    "kn", lambda n, x: (kn(n - 1, x) + kn(n + 1, x)) * -0.5, "besselk",
    "The modified Bessel function of the second kind of integer order n (scipy.special.kn): n "
    "an integer, not differentiated (a fractional n is a DomainError); "
    "∂/∂x = −(K_{n−1} + K_{n+1})/2.", impl=_integer_order_impl("kn", _kn_value))
log_ndtr_derivative = _integer_order_record(
    "log_ndtr_derivative", lambda n, x: log_ndtr_derivative(n + 1, x), "log_ndtr_derivative",
    "The n-th derivative of log_ndtr, n = 1, 2, … (an integer, not differentiated; a fractional "
    "n is a DomainError), accurate far into the left tail in every order; ∂/∂x = "
    "log_ndtr_derivative(n + 1, x). The derivatives of log_ndtr are written with it.",
    impl=_log_ndtr_derivative, scipy=(), least=1)

# ----- more of the gamma function: its sign, its reciprocal, the incomplete functions ------------


def _rgamma_prime(x: Any, o: Any) -> Any:
    """rgamma′ = −ψ(x)·rgamma(x). 1/Γ is entire, but ψ has poles where rgamma = 0; for x < 1/2
    the reflection formulas (1/Γ(x) = Γ(1 − x)·sin(πx)/π, ψ(x) = ψ(1 − x) − π·cot(πx)) give
    Γ(1 − x)·cos(πx) − ψ(1 − x)·rgamma(x), finite there: (−1)ⁿ·n! at x = −n, and its own
    derivatives at the poles too. Each branch is evaluated where it is finite (x → 0 or 1)."""
    left = less(x, 0.5)
    xl, xr = where(left, x, 0.0), where(left, 1.0, x)
    reflected = gamma(1.0 - xl) * cos(math.pi * xl) - digamma(1.0 - xl) * o
    return where(left, reflected, -digamma(xr) * o)


gammasgn = elementwise(
    "gammasgn", _scipy("gammasgn", "x"), None, lambda sp, x: _sym(sp, "gammasgn")(x), numpy=(),
    scipy=("gammasgn",), unicode="sgn Γ", latex=r"\operatorname{sgn}\Gamma",
    domain=((-3.5, 4.0),), domain_text="gammasgn is undefined at x = -1, -2, ... (poles of Γ)",
    holomorphic=False,
    doc="The sign of Γ(x), ±1 (scipy.special.gammasgn): piecewise constant, so its derivative "
        "is 0 (a constant, as sign).", signed_zero=(True,))
rgamma = elementwise(
    "rgamma", _scipy("rgamma", "x", overflow=np.isfinite), (_rgamma_prime,),
    lambda sp, x: _sym(sp, "rgamma")(x), numpy=(), scipy=("rgamma",), unicode="1/Γ",
    latex=r"\frac{1}{\Gamma}", domain=((-3.5, 4.0),),
    domain_text="rgamma overflows for x < -171.6 (between the poles of Γ)", holomorphic=False,
    special=(((0.0,), (1.0,)), ((-1.0,), (-1.0,)), ((-2.0,), (2.0,)), ((-3.0,), (-6.0,))),
    doc="1/Γ(x), entire (scipy.special.rgamma): 0 at the poles of Γ; rgamma′ = −ψ·rgamma, "
        "(−1)ⁿ·n! at x = −n.", signed_zero=(cut(below=0.0),))


def _edge_power(t: Any, p: Any) -> Any:
    """t^p where t = 0 (0 for p > 0, 1 for p = 0, infinite for p < 0: a NonDifferentiableError,
    and the power's own derivatives there), 0 elsewhere (where the log form is used instead)."""
    zero = equal(t, 0.0)
    return where(zero, t, 0.0) ** where(zero, p, 1.0)


def _plain_powers(like: Any, *exponents_logs: tuple[Any, Any], scale: Any) -> Any:
    """Where the powers t^p = exp(p·log t) of the pairs (p, log t), the scale e^(−s) and their
    product lie well inside the float range of `like`'s dtype (Σ|p·log t| + |s| ≤ 0.8·ln of the
    largest float: 567 in float64, 71 in float32): there the density is written with the powers
    themselves, whose derivatives carry no cancellation — exp(p·log t)'s k-th derivative sums
    terms ~t^(−k) that cancel to ~t^(p−k), every digit lost near t = 0 by the third."""
    kind = np.dtype(dtype_of(like))
    limit = 0.8 * math.log(float(np.finfo(kind if kind.kind in "fc" else np.float64).max))
    size = abs(scale)
    for p, log_t in exponents_logs:
        size = size + abs(p * log_t)
    return less_equal(size, limit)


def _gammainc_dx(a: Any, x: Any) -> Any:
    """x^(a−1)·e^(−x)/Γ(a): as the power x^(a−1)·e^(−x − ln Γ(a)) where neither factor leaves
    the float range (:func:`_plain_powers`), else as exp((a − 1)·log x − x − ln Γ(a)) for x > 0
    (neither x^(a−1) nor Γ(a) overflows alone), and as the power x^(a−1) at x = 0 (log 0 = −inf
    would make 0 for a > 1 an error); 0 where a = 0, where the regularized functions are
    constant in x."""
    positive = greater(a, 0.0)
    safe = where(positive, a, 1.0)
    zero = equal(x, 0.0)
    inner = where(zero, 1.0, x)
    lng = gammaln(safe)
    plain = _plain_powers(x, (safe - 1.0, log(inner)), scale=inner + lng)
    base, tail = where(plain, inner, 1.0), where(plain, 1.0, inner)
    power = base ** (safe - 1.0) * exp(-base - lng)
    logform = exp(xlogy(safe - 1.0, tail) - tail - lng)
    interior = where(plain, power, logform)
    edge = _edge_power(x, safe - 1.0) * exp(-x - lng)
    return where(positive, where(zero, edge, interior), 0.0)


def _betainc_dx(a: Any, b: Any, x: Any) -> Any:
    """x^(a−1)·(1 − x)^(b−1)/B(a, b): with the powers themselves where they and 1/B stay inside
    the float range (:func:`_plain_powers`), else as exp((a − 1)·log x + (b − 1)·log(1 − x) −
    ln B(a, b)) inside (0, 1); with the powers x^(a−1) at x = 0 and (1 − x)^(b−1) at x = 1 (0 for
    a > 1, resp. b > 1; a/B(a, 1)… finite for 1; infinite below)."""
    at0, at1 = equal(x, 0.0), equal(x, 1.0)
    inner = where(at0, 0.5, where(at1, 0.5, x))
    lnb = betaln(a, b)
    plain = _plain_powers(x, (a - 1.0, log(inner)), (b - 1.0, log1p(-inner)), scale=lnb)
    base, tail = where(plain, inner, 0.5), where(plain, 0.5, inner)
    power = base ** (a - 1.0) * (1.0 - base) ** (b - 1.0) * exp(-lnb)
    logform = exp(xlogy(a - 1.0, tail) + xlog1py(b - 1.0, -tail) - lnb)
    interior = where(plain, power, logform)
    x0, x1 = where(at0, x, 0.0), where(at1, x, 1.0)
    left = _edge_power(x, a - 1.0) * exp(xlog1py(b - 1.0, -x0) - lnb)
    right = exp(xlogy(a - 1.0, x1) - lnb) * _edge_power(1.0 - x, b - 1.0)
    return where(at0, left, where(at1, right, interior))


_INCOMPLETE = "needs a >= 0 and x >= 0 (not both 0)"

gammainc = elementwise(
    "gammainc", _scipy("gammainc", "a", "x"),
    (NoRule(_parameter_message("gammainc", "parameter a")), lambda a, x, o: _gammainc_dx(a, x)),
    lambda sp, a, x: _sym(sp, "gammainc")(a, x), numpy=(), scipy=("gammainc",), unicode="P",
    latex="P", domain=((0.3, 6.0), (0.1, 8.0)), domain_text=f"gammainc {_INCOMPLETE}",
    holomorphic=False,
    doc="The regularized lower incomplete gamma function P(a, x) = γ(a, x)/Γ(a) "
        "(scipy.special.gammainc); ∂/∂x = x^(a−1)·e^(−x)/Γ(a); a is not differentiated "
        "(MissingRuleError).")
gammaincc = elementwise(
    "gammaincc", _scipy("gammaincc", "a", "x"),
    (NoRule(_parameter_message("gammaincc", "parameter a")),
     lambda a, x, o: -_gammainc_dx(a, x)),
    lambda sp, a, x: _sym(sp, "gammaincc")(a, x), numpy=(), scipy=("gammaincc",), unicode="Q",
    latex="Q", domain=((0.3, 6.0), (0.1, 8.0)), domain_text=f"gammaincc {_INCOMPLETE}",
    holomorphic=False,
    doc="The regularized upper incomplete gamma function Q(a, x) = Γ(a, x)/Γ(a) = 1 − P(a, x) "
        "(scipy.special.gammaincc); ∂/∂x = −x^(a−1)·e^(−x)/Γ(a); a is not differentiated "
        "(MissingRuleError).")
betainc = elementwise(
    "betainc", _scipy("betainc", "a", "b", "x"),
    (NoRule(_parameter_message("betainc", "parameter a")),
     NoRule(_parameter_message("betainc", "parameter b")),
     lambda a, b, x, o: _betainc_dx(a, b, x)),
    lambda sp, a, b, x: _sym(sp, "betainc")(a, b, x), numpy=(), scipy=("betainc",),
    unicode="Iₓ", latex="I", domain=((0.3, 5.0), (0.3, 5.0), (0.05, 0.95)),
    domain_text="betainc needs a > 0, b > 0 and 0 <= x <= 1", holomorphic=False,
    doc="The regularized incomplete beta function I_x(a, b) (scipy.special.betainc); "
        "∂/∂x = x^(a−1)·(1 − x)^(b−1)/B(a, b); a and b are not differentiated "
        "(MissingRuleError).")


def _dimension(d: Any) -> int:
    """multigammaln's d: a positive integer, never differentiated."""
    if isinstance(d, Traced):
        if getattr(d, "requires_grad", False):
            raise NonDifferentiableError(
                "multigammaln(a, d) is not differentiable in its dimension d (a positive "
                "integer): pass d as a number")
        d = d.concrete("multigammaln's dimension d")
    value = np.asarray(getattr(d, "get", lambda: d)())
    if (value.ndim or value.dtype.kind not in "biuf" or not np.isfinite(value)
            or value != np.floor(value) or value < 1):
        raise DomainError(f"multigammaln needs a positive integer dimension d, got {d!r}")
    return int(value)


@composite
def multigammaln(a: Any, d: Any) -> Any:
    """log Γ_d(a), the log of the multivariate gamma function (scipy.special.multigammaln).

    d(d − 1)/4·log π + Σⱼ gammaln(a − (j − 1)/2), j = 1, …, d, for a > (d − 1)/2: SciPy's values
    bit for bit. Composed of gammaln, so its derivative is Σⱼ digamma(a − (j − 1)/2); d, a
    positive integer, is not differentiated. SciPy's multigammaln is Python code that refuses
    traced values: write dk.multigammaln."""
    d = _dimension(d)
    if any_(less_equal(a, 0.5 * (d - 1))):  # reads the values: the trace holds at this point
        raise DomainError(f"multigammaln needs a > (d - 1)/2 = {0.5 * (d - 1)} (d = {d})")
    terms = [gammaln(a - (j - 1.0) / 2) for j in range(1, d + 1)]
    constant = (d * (d - 1) * 0.25) * float(np.log(np.pi))  # SciPy's constant, bit for bit
    return constant + sum(stack(terms), axis=0)


__all__ = declared_in(__name__)
