"""Hunt 43/p findings 1, 3 and 4: clip with equal bounds in every engine, refusals where the
derivatives of x/x or x − x meet an infinite partial, and the names of listings and traces."""

from __future__ import annotations

import re
import warnings

import numpy as np
import pytest

import diffkit as dk
from diffkit.errors import NonDifferentiableError

# ----- 1. clip(x, lo, hi) with lo == hi: the table's tie split (JAX's) in every engine -----------

#: text, point, and JAX's clip with the same arguments (minimum(maximum(x, lo), hi))
CLIP_TIES = [
    ("clip(x, 2, 2)", (2.0,), lambda x: (x, 2.0, 2.0)),
    ("clip(y, x, x)", (-2.0, -2.0), lambda y, x: (y, x, x)),
    ("clip(2, x, x)", (2.0,), lambda x: (2.0, x, x)),
    ("clip(x, 2, x)", (2.0,), lambda x: (x, 2.0, x)),
    ("clip(x, y, x)", (1.0, 1.0), lambda x, y: (x, y, x)),
    ("clip(x, y, y)", (1.0, 1.0), lambda x, y: (x, y, y)),
    ("clip(x, y, z)", (1.0, 1.0, 1.0), lambda x, y, z: (x, y, z)),
    ("clip(x, 3, 2)", (3.0,), lambda x: (x, 3.0, 2.0)),
]


def _jax_clip_grad(args_of: object, point: tuple[float, ...]) -> tuple[float, ...]:
    jax = pytest.importorskip("jax")
    jax.config.update("jax_enable_x64", True)
    jnp = jax.numpy

    def f(*v: object) -> object:
        a, lo, hi = args_of(*v)
        return jnp.clip(a, lo, hi)

    g = jax.grad(f, argnums=tuple(range(len(point))))(*point)
    return tuple(float(v) for v in g)


@pytest.mark.parametrize(("text", "point", "args_of"), CLIP_TIES)
def test_clip_ties_agree_in_every_engine_with_jax(text: str, point: tuple[float, ...],
                                                  args_of: object) -> None:
    """Was: the symbolic engine 0 / (0, 1) / 1.0 (SymPy evaluated Min(Max(x, 2), 2) to 2 and
    Min(Max(y, x), x) to x), the AD engines ¼ / (¼, ¾) / ¾ (the table's tie split, JAX's)."""
    f = dk.parse(text)
    want = _jax_clip_grad(args_of, point)
    for method in ("reverse", "forward", "compiled", "symbolic"):
        got = dk.grad(f, method=method)(*point)
        np.testing.assert_allclose(got, want, rtol=0, atol=1e-15, err_msg=method)


def test_clip_tie_downstream_and_hand_formula() -> None:
    """clip(x, 1, 1)·x at 1: ¼·x + clip = ¼ + 1 (maximum's ½ times minimum's ½ at the tie)."""
    f = dk.parse("clip(x, 1, 1)*x")
    for method in ("reverse", "forward", "compiled", "symbolic"):
        assert dk.grad(f, method=method)(1.0) == (1.25,), method
    # the trace's formula column is printed from the same SymPy form: it shows ¼ too (was 0)
    text = dk.trace(f, 1.0).to_text()
    accumulate = [line for line in text.splitlines() if line.startswith("v̄₀ = v̄₀ +")]
    assert len(accumulate) == 1 and "= 0.250" in accumulate[0] and accumulate[0].endswith("1.250")


def test_clip_tie_compare_agrees_and_symbolic_hessian_refuses() -> None:
    f = dk.parse("clip(x, 2, 2)")
    table = dk.compare(f, 2.0, methods=["reverse", "symbolic", "forward"])
    assert all(table.row(m).abs_error == 0 for m in ("reverse", "symbolic", "forward")), \
        table.to_text()
    with pytest.raises(NonDifferentiableError):
        dk.hessian(f, method="symbolic")(2.0)
    assert dk.hessian(f, method="symbolic")(5.0) == [[0.0]]


def test_clip_tie_finite_differences_warn() -> None:
    """The quotient sees the constant (0); the traced convention is ¼: a warning, as at ties."""
    with pytest.warns(RuntimeWarning, match="far from the derivative"):
        assert dk.grad(dk.parse("clip(x, 2, 2)"), method="fd-central")(2.0) == (0.0,)


# ----- 3. ∞ − ∞ where the paths of x/x or x − x meet: named, and finite differences refuse -------

CANCELLING = [
    ("asin(x/x)", (0.5,), "arcsin"),
    ("sqrt(x-x) + x", (1.5,), "sqrt"),
    ("acos(y*x/(x*y)) + y", (0.5, 3.0), "arccos"),
]


@pytest.mark.parametrize(("text", "point", "prim"), CANCELLING)
def test_cancelling_paths_are_refused_by_name(text: str, point: tuple[float, ...],
                                              prim: str) -> None:
    """Was: reverse and compiled said only NumPy's "invalid value encountered in scalar add",
    and finite differences answered (0 or 1) with a RuntimeWarning where the AD engines refuse."""
    f = dk.parse(text)
    for method in ("reverse", "compiled", "forward"):
        with pytest.raises(NonDifferentiableError, match=f"^{prim} is not differentiable") as e:
            dk.grad(f, method=method)(*point)
        assert "invalid value" not in str(e.value), method
    for method in ("fd-central", "fd-forward", "fd-richardson"):
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # a refusal, not a number with a warning
            with pytest.raises(NonDifferentiableError, match=prim):
                dk.grad(f, method=method)(*point)


def test_cancelling_paths_away_from_the_singular_point_answer() -> None:
    """Nothing changes where no partial is infinite: d/dx asin(x/x·0.5) = 0 at 2 (hand)."""
    assert dk.grad(dk.parse("asin(x/x * 0.5)"), method="reverse")(2.0) == (0.0,)
    assert dk.grad(dk.parse("sqrt(x - x + 4) + x"), method="reverse")(1.5) == (1.0,)


# ----- 4. names in listings and traces that no input has ---------------------------------------

_LINE = re.compile(r"^(\S+) = (.*?)(?:\s+= (\S+))?$")


def _listing(text: str, *point: float) -> tuple[list[str], list[str], str]:
    f = dk.parse(text)
    lines = f.listing(*point).splitlines()
    parsed = [_LINE.match(line) for line in lines]
    assert all(parsed), lines
    names = [m.group(1) for m in parsed[:-1]]
    return list(f.inputs), names, parsed[-1].group(1)


@pytest.mark.parametrize("text", ["y*f + 1", "v1 + 2*v2", "v1 + w0*2 + v0", "y + f*out"])
def test_listing_names_are_fresh(text: str) -> None:
    """Was: 'y = v2' with an input y; 'v1 = 2 * v0' where v1 also named an input."""
    inputs, names, out = _listing(text, *range(2, 2 + len(dk.parse(text).inputs)))
    assert len(set(names)) == len(names)
    assert not set(names) & set(inputs)
    assert out not in inputs and out not in names
    # every variable used on the right is a listed name or a number: nothing reads as an input
    f = dk.parse(text)
    body = f.listing().splitlines()
    for line in body[len(inputs):-1]:
        rhs = line.split(" = ", 1)[1]
        for word in re.findall(r"[^\W\d][\w-]*", rhs):
            assert word in names, (word, line)
    assert [line.split(" = ")[1] for line in body[:len(inputs)]] == inputs


@pytest.mark.parametrize(("text", "mode", "accent"), [("x̄ + x", "reverse", "\u0304"),
                                                     ("ȳ * x", "reverse", "\u0304"),
                                                     ("ẋ * x", "forward", "\u0307")])
def test_trace_accented_names_name_no_input(text: str, mode: str, accent: str) -> None:
    """Was: the adjoint of x shown as x̄, also an input's name (and ȳ the seed beside an input ȳ)."""
    import unicodedata

    f = dk.parse(text)
    t = dk.trace(f, 2.0, 3.0, mode=mode)
    lines = t.to_text().splitlines()
    section = lines.index("Reverse adjoint (derivative) trace" if mode == "reverse" else
                          "Forward tangent (derivative) trace")
    shown_inputs = {unicodedata.normalize("NFC", n) for n in f.inputs}
    defined = [unicodedata.normalize("NFC", line.split(" = ")[0].strip())
               for line in lines[section + 2:] if " = " in line]
    assert len(set(defined)) == len(defined)
    assert not set(defined) & shown_inputs, defined
    seed = unicodedata.normalize("NFC", lines[section + 2].split(" = ")[1].strip())
    assert seed not in shown_inputs or mode == "forward"
    grad = dk.grad(f, method="forward")(2.0, 3.0)  # the trace's seeds: (1, 0) forward
    assert (t.derivative == grad[0]) if mode == "forward" else (t.derivative == grad)
