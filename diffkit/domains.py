"""What a function built from SymPy assumes of its inputs, checked at every point it meets.

SymPy simplifies an expression under its symbols' assumptions (x positive: ``sqrt(x**2)`` is
``x``; n integer: ``floor(n) + sin(pi*n)`` is ``n``), so the expression diffkit receives is the
function only where they hold. :class:`InputDomain` keeps them, per input, as tests on the values
(``Function.coerce`` runs it: the one place every call and every derivative reads its point), and
prints them as conditions on Python floats for generated code (``float_conditions``). Built by
:mod:`diffkit.sympy_bridge`; this module knows nothing of SymPy.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from .errors import DomainError, NonDifferentiableError
from .ir import Traced, held_value
from .tensor import Tensor

#: sign sets (of −, 0, +) -> (what the value must be, the test on real values, on a Python float
#: named {0} in generated code)
_SIGNS: dict[frozenset[str], tuple[str, Callable[[Any], Any], str]] = {
    frozenset("+"): ("positive", lambda v: v > 0, "{0} > 0.0"),
    frozenset("-"): ("negative", lambda v: v < 0, "{0} < 0.0"),
    frozenset("0"): ("zero", lambda v: v == 0, "{0} == 0.0"),
    frozenset("0+"): ("nonnegative", lambda v: v >= 0, "{0} >= 0.0"),
    frozenset("-0"): ("nonpositive", lambda v: v <= 0, "{0} <= 0.0"),
    frozenset("-+"): ("nonzero", lambda v: v != 0, "{0} != 0.0"),
}

#: integrality facts -> (the test on real finite values, the condition on a Python float; None:
#: not printed, the generated entry then leaves such functions to the full path)
_WHOLE: dict[str, tuple[Callable[[Any], Any], str | None]] = {
    "an integer": (lambda v: v == np.floor(v), "{0} % 1.0 == 0.0"),
    "not an integer": (lambda v: v != np.floor(v), "{0} % 1.0 != 0.0"),
    "even": (lambda v: np.mod(v, 2.0) == 0, "{0} % 2.0 == 0.0"),
    "odd": (lambda v: np.mod(v, 2.0) == 1, "{0} % 2.0 == 1.0"),
    "prime": (lambda v: _primes(v, True), None),
    "composite": (lambda v: _primes(v, False), None),
}

#: the facts that make an input a whole number: it has no derivative in it
INTEGRAL = frozenset({"an integer", "even", "odd", "prime", "composite"})


def _primes(v: Any, prime: bool) -> Any:
    """Element-wise: an integer that is prime (`prime`), or composite (> 1 and not prime)."""
    from sympy import isprime  # a function built from SymPy: SymPy is there

    def one(e: float) -> bool:
        if not (np.isfinite(e) and e == np.floor(e)):
            return False
        n = int(e)
        return isprime(n) if prime else n > 1 and not isprime(n)

    return np.vectorize(one, otypes=[bool])(v)


class InputFacts:
    """One input's checked facts: `declared` (as the user wrote them, for messages), `sign`
    (a key of :data:`_SIGNS` or None), `whole` (keys of :data:`_WHOLE`), `finite`, `real`."""

    __slots__ = ("declared", "finite", "real", "sign", "whole")

    def __init__(self, declared: str, sign: frozenset[str] | None, whole: Sequence[str],
                 finite: bool, real: bool) -> None:
        self.declared, self.sign, self.whole = declared, sign, tuple(whole)
        self.finite, self.real = finite, real

    @property
    def integral(self) -> bool:
        return any(w in INTEGRAL for w in self.whole)


class InputDomain:
    """Per input position, its :class:`InputFacts` (None: nothing assumed)."""

    __slots__ = ("facts",)

    def __init__(self, facts: Sequence[InputFacts | None]) -> None:
        self.facts = tuple(facts)

    def reordered(self, where: Sequence[int]) -> InputDomain:
        """The domain of the same function with old input i at position ``where[i]``."""
        out: list[InputFacts | None] = [None] * len(self.facts)
        for i, j in enumerate(where):
            out[j] = self.facts[i]
        return InputDomain(out)

    def check(self, fname: str, names: Sequence[str], args: Sequence[Any],
              wrt: Sequence[int] | None) -> None:
        """A DomainError where an argument breaks its input's facts; a NonDifferentiableError
        where an input assumed integral is differentiated (in `wrt`; None: all)."""
        for i, (facts, a) in enumerate(zip(self.facts, args, strict=False)):
            if facts is None:
                continue
            name = names[i]
            if facts.integral and (wrt is None or i in wrt):
                raise NonDifferentiableError(
                    f"{name} was declared {facts.declared} in SymPy: {fname} is a function of a "
                    f"whole number there, which has no derivative in {name} (SymPy may have "
                    f"simplified the expression under that assumption, so a slope would be of "
                    f"another function): hold it (leave it out of wrt=/argnums=, or pass None "
                    f"as its tangent), or declare {name} without the assumption")
            while type(a) is Tensor:  # called inside a trace: the test is a branch on the
                a.tape.value_dependent = True  # value, so that trace holds at this point only
                a = held_value(a)  # (a dk.jit caller re-runs, and checks, at every call)
            if isinstance(a, Traced):
                continue  # no value to read
            _check_one(fname, name, facts, a)

    def float_conditions(self, params: Sequence[str]) -> list[str] | None:
        """Conditions on finite Python floats named `params` (every input's), or None where one
        cannot be printed."""
        out = []
        for facts, p in zip(self.facts, params, strict=False):
            if facts is None:
                continue
            if facts.sign is not None:
                out.append(_SIGNS[facts.sign][2].format(p))
            for w in facts.whole:
                text = _WHOLE[w][1]
                if text is None:
                    return None
                out.append(text.format(p))
        return out


def _check_one(fname: str, name: str, facts: InputFacts, a: Any) -> None:
    if type(a) is np.float64 or type(a) is float:
        v: Any = a
        scalar = True
    else:
        v = np.asarray(a)
        scalar = v.ndim == 0
        if v.dtype.kind == "c":
            bad = v.imag != 0
            if (facts.real or facts.sign or facts.whole) and np.any(bad):
                _refuse(fname, name, facts, v, bad, scalar, "real")
            v = v.real
    tests: list[tuple[str, Callable[[Any], Any]]] = []
    if facts.finite:
        tests.append(("finite", np.isfinite))
    if facts.sign is not None:
        label, test, _ = _SIGNS[facts.sign]
        tests.append((label, test))
    tests += [(w, _WHOLE[w][0]) for w in facts.whole]
    for label, test in tests:
        ok = test(v)
        if scalar and not isinstance(ok, np.ndarray):
            if not ok:
                _refuse(fname, name, facts, v, None, True, label)
        elif not np.all(ok):
            _refuse(fname, name, facts, v, ~np.asarray(ok), scalar, label)


def _refuse(fname: str, name: str, facts: InputFacts, v: Any, bad: Any, scalar: bool,
            label: str) -> None:
    if scalar or bad is None:
        where, value = name, np.asarray(v).reshape(-1)[0].item()
    else:
        idx = tuple(int(k) for k in np.argwhere(bad)[0])
        where, value = f"{name}[{', '.join(map(str, idx))}]", np.asarray(v)[idx].item()
    raise DomainError(
        f"{name} was declared {facts.declared} in SymPy, which may have simplified the "
        f"expression of {fname} under that assumption; {where} = {value!r} is not {label}: "
        f"call it where the assumption holds, or build it from a symbol without it")
