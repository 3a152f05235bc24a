"""Generated code on another array module (CuPy): the fusion rewrite of element-wise runs, the
namespace that binds ``np`` to that module, and the agreement check that keeps it honest.

Runs without a GPU: the rewrite is checked on NumPy with the identity as the "fuse" decorator
(the fused function must give the unfused one's results bit for bit), and the module binding
with a stand-in module that, like CuPy 14, has no ``maximum.reduce``. tests/test_nn_gpu.py runs
the real thing where CuPy sees a GPU."""

from __future__ import annotations

import ast
import functools
import types

import numpy as np
import pytest

import diffkit as dk
from diffkit import nn
from diffkit.backend import generated_code_module
from diffkit.engines.compiler import disagreement
from diffkit.engines.fusion import fuse_runs


def identity(f):
    return f


def _step(make, images=False, l1=0.0, l2=0.0, batch=16):
    nn.manual_seed(0)
    X, y = nn.load_digits(images=images)
    X, y = X[:2 * batch].astype(np.float32), y[:2 * batch]
    model = make()
    trainer = nn.Trainer(model, optimizer=nn.SGD(model.parameters(), lr=0.1), l1=l1, l2=l2,
                         progress=False)
    trainer.fit(nn.DataLoader(X, y, batch, seed=0), epochs=2)
    assert trainer.compiled == "compiled"
    step = trainer._step
    (code, _), = step.codes.values()
    args = [p.node.value for p in step.params]
    args += [X[:batch], np.eye(10, dtype=np.float32)[y[:batch]]]
    return code, args


def _flat(result):
    (loss, out), grads = result
    return [loss, out, *grads]


MODELS = {
    "mlp": (lambda: nn.MLP([64, 32, 10]), False, {}),
    "mlp-penalties": (lambda: nn.MLP([64, 16, 16, 10]), False, {"l1": 1e-3, "l2": 1e-2}),
    "activations": (lambda: nn.Sequential(nn.Linear(64, 24), nn.Tanh(), nn.Linear(24, 24),
                                          nn.LeakyReLU(0.1), nn.Linear(24, 16), nn.Sigmoid(),
                                          nn.Linear(16, 10)), False, {}),
    "layernorm": (lambda: nn.Sequential(nn.Linear(64, 32), nn.LayerNorm(32), nn.ReLU(),
                                        nn.Linear(32, 10)), False, {}),
    "cnn": (lambda: nn.Net(image_size=8, padding=1, channels=(4, 8), hidden=(16,)), True, {}),
}


@pytest.mark.parametrize("name", sorted(MODELS))
def test_fused_training_step_is_the_step_bit_for_bit(name):
    make, images, penalties = MODELS[name]
    code, args = _step(make, images, **penalties)
    _, dtypes = code.recorded("value_and_grad", *args)
    twin = code.on_module(np, fuse=identity, dtypes={"value_and_grad": dtypes})
    fused_text = twin.source_of("value_and_grad")
    assert "_fused0(" in fused_text  # there was something to fuse
    # a fused kernel reads a Python number as float64: every number in a float32 step's
    # kernels is written as a float32 scalar, as NumPy reads it beside float32 arrays
    kernels = "\n".join(twin.fused_sources)
    assert "def _value_and_grad_fused0(" in kernels and "float64" not in kernels
    tree = ast.parse(kernels)
    parents = {id(c): p for p in ast.walk(tree) for c in ast.iter_child_nodes(p)}
    numbers = [n for n in ast.walk(tree) if isinstance(n, ast.Constant) and type(n.value) is float]
    assert numbers  # (an integer beside a bool array, v4 != 0, stays: no float is involved)
    for n in numbers:
        p = parents[id(n)]
        assert isinstance(p, ast.Call) and p.func.attr == "float32", ast.unparse(p)
    want = _flat(code.run("value_and_grad", *args))
    got = _flat(twin.run("value_and_grad", *args))
    for g, w in zip(got, want, strict=True):
        assert np.asarray(g).dtype == np.asarray(w).dtype
        np.testing.assert_array_equal(g, w)


def test_fused_gradient_of_a_vector_function_bit_for_bit():
    def f(x):
        return np.sum(np.log(x) + x * np.roll(x, 1) - np.sin(x) + np.tanh(x) ** 2)

    x = np.linspace(0.5, 3.0, 101)
    cg = dk.compile_gradient(dk.jit(f), x)
    _, dtypes = cg.recorded("value_and_grad", x)
    twin = cg.on_module(np, fuse=identity, dtypes={"value_and_grad": dtypes})
    value, (grad,) = twin.run("value_and_grad", x)
    assert "_fused" in twin.source_of("value_and_grad")
    v0, (g0,) = cg.run("value_and_grad", x)
    assert value == v0
    np.testing.assert_array_equal(grad, g0)
    # independent reference: the hand-derived gradient
    ref = 1 / x + np.roll(x, 1) + np.roll(x, -1) - np.cos(x) + 2 * np.tanh(x) / np.cosh(x) ** 2
    np.testing.assert_allclose(grad, ref, rtol=1e-12)


def _rewrite(src, dtype=np.float64):
    """`src` fused, every value of it taken to be of `dtype`."""
    names = {n.id for n in ast.walk(ast.parse(src)) if isinstance(n, ast.Name)} | \
        {a.arg for a in ast.parse(src).body[0].args.args}
    ns = {"np": np}
    text, helpers = fuse_runs(src, identity, ns, {n: np.dtype(dtype) for n in names})
    return text, len(helpers), ns


def test_rewrite_moves_runs_and_keeps_everything_else():
    src = "\n".join([  # noqa: FLY002 - one line per statement
        "def value_and_grad(a0, a1):",
        "    v1 = a0 @ a1",
        "    v2 = np.exp(v1)",
        "    v2 *= np.float32(0.5)",
        "    np.subtract(a0, v2, out=v2)",
        "    v3 = np.add.reduce(v2, axis=None)",
        "    v4 = np.sign(v2)",
        "    a0 -= v4",
        "    return v3, v4",
    ])
    text, runs, ns = _rewrite(src)
    assert runs == 1
    body = ast.parse(text).body[0].body
    lines = [ast.unparse(s) for s in body]
    assert lines[0] == "v1 = a0 @ a1"  # a matrix product is no element-wise operation
    assert lines[1] == "v2, = _value_and_grad_fused0(v1, a0)"
    assert lines[2].startswith("v3 = np.add.reduce")
    assert lines[3] == "v4 = np.sign(v2)"  # a run of one is left as printed
    assert lines[4] == "a0 -= v4"  # a parameter's in-place update is never moved
    a0, a1 = np.arange(9.0).reshape(3, 3), np.linspace(0, 1, 9).reshape(3, 3)
    want_ns = {"np": np}
    exec(src, want_ns)  # noqa: S102 - the test's own text
    exec(text, ns)  # noqa: S102
    w = want_ns["value_and_grad"](a0.copy(), a1)
    g = ns["value_and_grad"](a0.copy(), a1)
    for x, y in zip(g, w, strict=True):
        np.testing.assert_array_equal(x, y)


def test_rewrite_hoists_only_independent_statements():
    src = "\n".join([  # noqa: FLY002 - one line per statement
        "def f(a0, a1):",
        "    v1 = np.exp(a0)",
        "    v2 = np.add.reduce(a1, axis=(1,), keepdims=True)",  # independent: hoisted
        "    v1 *= v2",
        "    v3 = np.add.reduce(v1, axis=(1,), keepdims=True)",  # reads the run: ends it
        "    v1 -= v3",
        "    return v1",
    ])
    text, _, _ = _rewrite(src)
    lines = [ast.unparse(s) for s in ast.parse(text).body[0].body]
    assert lines[:2] == ["v2 = np.add.reduce(a1, axis=(1,), keepdims=True)",
                         "v1, = _f_fused0(a0, v2)"]
    assert lines[2].startswith("v3 = np.add.reduce(v1")
    assert lines[3] == "v1 -= v3"  # alone after the reduction: not fused


def test_rewrite_leaves_calls_that_are_not_elementwise():
    for line in ("v2 = np.reshape(v1, (3, 2))", "v2 = v1.transpose((1, 0))", "v2 = v1[0]",
                 "v2 = np.matmul(v1, v1)", "v2 = im2col(v1, kernel_size=(3, 3))",
                 "v2 = np.maximum.reduce(v1, axis=None)", "v2 = math.exp(v1)",
                 "v2 = np.clip(v1, 0, 1)"):  # np.clip is a function, not a ufunc
        src = f"def f(a0):\n    v1 = np.exp(a0)\n    {line}\n    v3 = np.sin(v2)\n    return v3"
        _, runs, _ = _rewrite(src)
        assert runs == 0, line


def test_disagreement_across_modules_names_what_is_not_rounding():
    w = np.linspace(-1, 1, 50, dtype=np.float32)
    exact = w.astype(np.float64)
    assert disagreement((w * np.float32(1 + 1e-6),), (w,), (exact,)) is None
    assert "off by" in disagreement((w * np.float32(1.05),), (w,), (exact,))  # a wrong value
    assert "off by" in disagreement((w[::-1],), (w,), (exact,))  # another order
    assert "float64" in disagreement((w.astype(np.float64),), (w,))  # a dtype changed
    bad = w.copy()
    bad[3] = np.nan
    assert "NaN" in disagreement((bad,), (w,))  # a NaN NumPy does not have
    assert disagreement((w[:-1],), (w,)) is not None
    d = np.linspace(0, 1, 9)
    assert disagreement(d * (1 + 1e-7), d) is not None  # float64: a 1e-8 share
    assert disagreement(d * (1 + 1e-12), d) is None


def test_disagreement_measures_rounding_against_the_float64_answer():
    """A near-cancelling float32 sum: another order of summation misses NumPy's sum by far
    more than a relative tolerance would allow, yet is as close to the exact sum: accepted.
    A sum that misses a term is refused."""
    rng = np.random.default_rng(0)
    terms = rng.normal(size=(4096, 3)).astype(np.float32)
    terms -= terms.mean(axis=0, dtype=np.float64).astype(np.float32)
    host = np.add.reduce(terms, axis=0)  # NumPy's pairwise order
    other = np.zeros(3, np.float32)
    for t in terms[::-1]:  # another order, as a GPU's
        other += t
    exact = terms.astype(np.float64).sum(axis=0)
    assert np.linalg.norm(other - host) > 1e-4 * np.linalg.norm(host)
    assert disagreement(other, host, exact) is None
    assert disagreement(other - terms[7], host, exact) is not None


def test_rewrite_reads_where_conditions_as_nonzero():
    """NumPy's where reads a float condition as nonzero; a fused where takes booleans only
    (CuPy: "Wrong type (float32, float32, float32) of arguments for cupy_where")."""
    def strict_where(c, a, b):
        assert np.asarray(c).dtype == np.bool_, "a fused where takes a boolean condition"
        return np.where(c, a, b)

    strict = types.SimpleNamespace(where=strict_where, exp=np.exp, float32=np.float32)
    src = "def f(a0, a1):\n    v1 = np.where(a0, a1, 0.0)\n    v2 = np.exp(v1)\n    return v2"
    ns = {"np": strict}
    text, helpers = fuse_runs(src, identity, ns, {n: np.dtype(np.float32) for n in
                                                  ("a0", "a1", "v1", "v2")})
    assert "a0 != np.float32(0.0)" in helpers[0]
    exec(text, ns)  # noqa: S102 - the test's own text
    one_hot = np.array([[0.0, 1.0], [1.0, 0.0], [np.nan, 0.0]], np.float32)
    np.testing.assert_array_equal(ns["f"](one_hot, np.full((3, 2), 2.0, np.float32)),
                                  np.exp(np.where(one_hot, np.float32(2), np.float32(0))))


def _module_without_maximum_reduce():
    """A stand-in array module: NumPy's functions, but, as CuPy 14, no maximum.reduce."""
    mod = types.ModuleType("standin")
    mod.__dict__.update({k: v for k, v in vars(np).items() if not k.startswith("__")})

    class NoReduce:
        def __init__(self, u):
            self.u = u

        def __call__(self, *a, **k):
            return self.u(*a, **k)

        def reduce(self, *a, **k):
            raise NotImplementedError("maximum.reduce is not supported yet")

    mod.maximum = NoReduce(np.maximum)
    return mod


def test_generated_code_runs_on_a_module_without_ufunc_reductions():
    standin = _module_without_maximum_reduce()
    with pytest.raises(NotImplementedError):
        standin.maximum.reduce(np.ones(3), axis=0)
    code_np = generated_code_module(standin)
    x = np.arange(12.0).reshape(3, 4)
    np.testing.assert_array_equal(code_np.maximum.reduce(x, axis=(1,), keepdims=True),
                                  np.max(x, axis=1, keepdims=True))
    np.testing.assert_array_equal(code_np.maximum(x, 5.0), np.maximum(x, 5.0))
    code, args = _step(*MODELS["cnn"][:2])  # the CNN's pooling reduces with maximum
    twin = code.on_module(standin)
    assert twin._ns["np"] is not np
    want = _flat(code.run("value_and_grad", *args))
    got = _flat(twin.run("value_and_grad", *args))
    assert disagreement(tuple(got), tuple(want)) is None
    for g, w in zip(got, want, strict=True):
        np.testing.assert_array_equal(g, w)


def test_zero_d_numpy_operands_reach_another_module_as_scalars():
    """CuPy refuses a 0-d NumPy array beside its arrays (TypeError: Unsupported type); the
    tie weights of max/min passed np.ones((), dtype) there, so a CNN's max pooling and
    np.max of a CuPy array failed in backward on a GPU."""
    from diffkit.primitives import where

    seen = []

    def strict_where(c, a, b):
        for v in (c, a, b):
            if type(v) is np.ndarray and v.ndim == 0:
                raise TypeError(f"Unsupported type {type(v)}")
            seen.append(type(v))
        return np.where(c, a, b)

    standin = types.SimpleNamespace(where=strict_where)
    out = where.evaluate(standin, [np.array([True, False]), np.ones((), np.float32),
                                   np.zeros((), np.float32)], {})
    np.testing.assert_array_equal(out, [1.0, 0.0])
    assert out.dtype == np.float32 and np.float32 in seen


def _standin(**changed):
    """NumPy as another array module (with a `fuse` that fuses nothing), some functions changed."""
    mod = types.ModuleType("standin")
    mod.__dict__.update({k: v for k, v in vars(np).items() if not k.startswith("__")})
    mod.fuse = lambda: identity
    mod.__dict__.update(changed)
    return mod


def _log_roll_sin():
    def f(x):
        return np.sum(np.log(x) + x * np.roll(x, 1) - np.sin(x) + np.tanh(x) ** 2)

    x = np.linspace(0.5, 3.0, 101)
    return dk.compile_gradient(dk.jit(f), x), x


def test_on_device_keeps_code_that_agrees_and_fuses_it():
    from diffkit.engines.compiler import on_device

    code, x = _log_roll_sin()
    twin = on_device(code, _standin(), [x], [x.copy()], ("value_and_grad", "grad"))
    assert not isinstance(twin, str), twin
    assert twin.fused and twin.fused_sources
    np.testing.assert_array_equal(twin.run("grad", x)[0], code.run("grad", x)[0])


def test_on_device_refuses_code_that_computes_otherwise():
    """A module whose function computes something else than NumPy's (here a sine off by 1e-3,
    far above rounding) is refused by name, fused or not: the caller interprets."""
    from diffkit.engines.compiler import on_device

    code, x = _log_roll_sin()
    why = on_device(code, _standin(sin=lambda v: np.sin(v) * (1 + 1e-3)), [x], [x.copy()],
                    ("value_and_grad", "grad"))
    assert isinstance(why, str) and "off by" in why and "value_and_grad" in why
    why = on_device(code, _standin(roll=lambda v, k: v), [x], [x.copy()])  # no roll at all
    assert isinstance(why, str) and "off by" in why


def test_a_first_trace_on_device_arrays_is_not_this_host_point():
    """dk.grad of a jit function on CuPy arrays: its first trace (made on CuPy values) was
    compared bit for bit with the NumPy copies the code is generated from, and NumPy's implicit
    conversion of a CuPy array raised TypeError out of dk.grad (seen on an H200). A value that
    refuses conversion to the host is another point."""

    class DeviceValue:  # as a CuPy array: no implicit copy to the host
        shape, dtype = (3,), np.dtype(np.float64)

        def __array__(self, *args, **kwargs):
            raise TypeError("Implicit conversion to a NumPy array is not allowed")

    made, _ = dk.jit(lambda x: np.sum(x * x)).freeze(np.ones(3))
    made._first = types.SimpleNamespace(inputs=[types.SimpleNamespace(value=DeviceValue())])
    assert made._take_first([np.ones(3)]) is None


class _SilentModule(types.ModuleType):
    """NumPy as another array module that, as CuPy, never raises floating-point errors."""

    def __getattr__(self, name):
        fn = getattr(np, name)
        if not callable(fn) or isinstance(fn, type):
            return fn

        def run(*args, **kwargs):
            with np.errstate(all="ignore"):
                return fn(*args, **kwargs)
        return run


@pytest.mark.parametrize("name, args, error", [
    ("log", [np.array([-0.5, 2.0])], dk.DomainError),
    ("log", [np.array([0.0, 2.0])], dk.DomainError),
    ("log", [np.array([-1.0, np.nan])], dk.DomainError),  # one element NaN, the other invalid
    ("sqrt", [np.array([-4.0, 1.0])], dk.DomainError),
    ("sin", [np.array([np.inf, 1.0])], dk.DomainError),  # NaN from ∞: 'invalid', as NumPy
    ("exp", [np.array([1000.0, 1.0])], dk.NumericOverflowError),
    ("exp", [np.array([0.0, 1000.0])], dk.NumericOverflowError),  # a zero elsewhere: overflow
    ("exp", [np.array([1000.0, np.inf])], dk.NumericOverflowError),
    ("div", [np.array([1.0, 2.0]), np.array([0.0, 1.0])], dk.DomainError),
    ("div", [np.array([1.0, 2.0]), np.array([0, 1])], dk.DomainError),  # an integer zero
    ("sub", [np.array([np.inf, 1.0]), np.array([np.inf, 1.0])], dk.DomainError),  # ∞ − ∞
])
def test_another_module_gets_numpys_errors_under_strict(name, args, error):
    """CuPy computes log(−0.5) = NaN without a word; under STRICT (dk.grad & co.) NumPy raises,
    and dk.grad of a jit function at a point outside the domain on CuPy answered a finite
    gradient (d log x = 1/x), seen on an H200. NumPy's flags, element by element, on any array
    module (the cases with NaN/∞ operands and zeros elsewhere came from a hunt)."""
    from diffkit import primitives
    from diffkit.function import STRICT

    prim = getattr(primitives, name)
    silent = _SilentModule("silent")
    with np.errstate(**STRICT):
        with pytest.raises(error):
            prim.evaluate(np, args, {})  # NumPy's own error: the reference
        with pytest.raises(error):
            prim.evaluate(silent, args, {})
    with np.errstate(all="ignore"):  # outside STRICT (a Trainer's step): NumPy's NaN, no check
        prim.evaluate(silent, args, {})
    with np.errstate(**STRICT):  # NaN in, NaN out: no error, as in NumPy
        prim.evaluate(silent, [np.array([np.nan, 1.0])] * len(args), {})


def test_each_flag_raises_only_where_numpy_raises_it():
    """Tensor.backward's sweeps raise divide and invalid, not overflow (STRONG_ZERO): an
    overflow there is NumPy's inf, on any module."""
    from diffkit import primitives
    from diffkit.primitive import STRONG_ZERO

    silent = _SilentModule("silent")
    with np.errstate(all="ignore", **STRONG_ZERO):
        got = primitives.exp.evaluate(silent, [np.array([1000.0])], {})
        assert np.isinf(got).all()
        with pytest.raises(dk.DomainError):
            primitives.log.evaluate(silent, [np.array([-1.0])], {})


def test_each_generated_function_keeps_its_own_fused_kernels():
    """value_and_grad and grad share one namespace: the kernels of the one made second
    replaced the first one's (both `_fused0`), and value_and_grad then called grad's kernel
    (on an H200: "_fused0() takes 1 positional argument but 2 were given"; with equal arities
    it would have computed something else)."""
    from diffkit.engines.compiler import on_device

    code, x = _log_roll_sin()
    twin = on_device(code, _standin(), [x], [x.copy()], ("value_and_grad", "grad"))
    assert not isinstance(twin, str), twin
    for kind in ("value_and_grad", "grad", "value_and_grad"):  # each after the other was made
        got, want = twin.run(kind, x), code.run(kind, x)
        if kind == "grad":
            np.testing.assert_array_equal(got[0], want[0])
        else:
            assert got[0] == want[0]
            np.testing.assert_array_equal(got[1][0], want[1][0])


def _fused_twin(f, *args, wrt=None):
    cg = dk.compile_gradient(dk.jit(f), *args, wrt=wrt)
    _, dtypes = cg.recorded("value_and_grad", *args)
    return cg, cg.on_module(np, fuse=identity, dtypes={"value_and_grad": dtypes})


def test_fused_numbers_take_their_own_operations_dtype():
    """A number in an inlined sub-expression was typed by its line's target: s + 2 of a
    float32 s ran in float64 once fused (0.5585389334943862 for 0.558539405659972), and a
    threshold beside a float64 scalar was made float32 (s <= -0.3 flipped at s = -0.3). A
    number is typed by the operand beside it, and a statement whose numbers have no operand
    with a known dtype is not fused (hunt 35a)."""
    c = np.linspace(0.001, 0.002, 4)

    def f(s):
        return np.sum(np.sin((s + 2) + c))

    s = np.float32(1.0000001)  # s + 2 is no float32
    cg, twin = _fused_twin(f, s)
    (v0, g0), (v1, g1) = cg.run("value_and_grad", s), twin.run("value_and_grad", s)
    assert v0 == v1 == np.sum(np.sin((s + 2) + c)) and g0[0] == g1[0]

    def g(s, x):
        return np.sum(np.sin(np.where(s <= -0.3, x, 2 * x))) + s

    x = np.linspace(-1, 1, 5, dtype=np.float32)
    for s in (np.float64(-0.5), np.float64(-0.3), np.float64(-0.1)):
        cg, twin = _fused_twin(g, s, x, wrt=[0])
        (v0, g0), (v1, g1) = cg.run("value_and_grad", s, x), twin.run("value_and_grad", s, x)
        assert v0 == v1 == g(s, x) and g0 == g1


def test_fused_in_place_updates_keep_the_buffers_dtype():
    """`v17 += v33` into a float16 buffer casts back to float16; as `v17 = v17 + v33` it
    stayed float64 (the compiler allocates a float64 placed sum among float16 values): with
    the recorded dtypes such an update is not fused (hunt 35a)."""
    def f(x):
        t = np.broadcast_to(np.arctan(np.sinh(np.tanh(x))), (4, 3)) * 1.0
        return (np.concatenate([t[:2], t[2:] * 2.0]) / x + x).ravel()

    x = np.array([[0.4, -1.3, 2.1]], np.float16)
    ct = np.linspace(-1, 1, 12).astype(np.float16)
    cg = dk.compile_gradient(dk.jit(f), x)
    _, dtypes = cg.recorded("vjp", x, ct)
    twin = cg.on_module(np, fuse=identity, dtypes={"vjp": dtypes})
    (_, (g0,)), (_, (g1,)) = cg.run("vjp", x, ct), twin.run("vjp", x, ct)
    assert g0.dtype == g1.dtype == np.float16 and g0.tobytes() == g1.tobytes()



def test_a_literal_exponent_is_not_typed():
    """NumPy takes x ** 0.5 with a Python 0.5 as sqrt; typed, x ** np.float16(0.5) is power,
    which differs at −0.0 (+0.0) and −inf (inf for NaN) in float16 (hunt 35c): a statement with
    a literal exponent is left unfused, its number as printed."""
    def f(x):
        return x ** 0.5 * 2.0

    x = np.array([1.0, 2.0, 3.0], np.float16)
    cg = dk.compile_gradient(dk.jit(f), x)
    _, dtypes = cg.recorded("vjp", x, np.ones(3, np.float16))
    twin = cg.on_module(np, fuse=identity, dtypes={"vjp": dtypes})
    for point in ([-0.0, 2.0, 3.0], [-np.inf, 2.0, 3.0], [1.0, 2.0, 3.0]):
        p = np.array(point, np.float16)
        ct = np.ones(3, np.float16)
        with np.errstate(all="ignore"):
            (v0, g0), (v1, g1) = cg.run("vjp", p, ct), twin.run("vjp", p, ct)
        assert v0.tobytes() == v1.tobytes() and g0[0].tobytes() == g1[0].tobytes(), point


@pytest.mark.parametrize("name, args, errstate, error", [
    ("arctanh", [np.array([1.0, 0.5])], "strong", dk.DomainError),  # a pole: 'divide'
    ("log1p", [np.array([-1.0, 0.5])], {"divide": "raise"}, dk.DomainError),
    ("log", [np.array([0.0, 1.0])], {"invalid": "raise", "divide": "ignore"}, None),  # -inf
    ("solve", [np.eye(3), np.array([np.inf, 1.0, 2.0])], "strict", None),  # LAPACK: silent
])
def test_another_module_flags_poles_and_structures_as_numpy(name, args, errstate, error):
    """Hunt 35d: a pole at a non-zero operand was an 'overflow' (silent under STRONG_ZERO,
    which raises divide and invalid only); log(0) was also flagged 'invalid' by its domain
    rule; a structural operation's NaN from an inf operand was a DomainError where NumPy's
    LAPACK answers NaN."""
    from diffkit import primitives
    from diffkit.function import STRICT
    from diffkit.primitive import STRONG_ZERO

    state = errstate if isinstance(errstate, dict) else \
        {"strict": STRICT, "strong": {**STRONG_ZERO, "over": "ignore"}}[errstate]
    prim = getattr(primitives, name)
    silent = _SilentModule("silent")
    for module in (np, silent):
        with np.errstate(**{"all": "ignore", **state}):
            if error is None:
                prim.evaluate(module, args, {})
            else:
                with pytest.raises(error):
                    prim.evaluate(module, args, {})


def test_an_impl_that_raises_numpys_flags_itself_is_not_checked_twice(monkeypatch):
    """SciPy's functions emulate NumPy's flags in the impl (`_finish`); the generic check on
    top read gamma(−inf) = NaN as 'invalid' and gammaln(−1)'s pole as an overflow, where NumPy
    answers silently (hunt 35d)."""
    import scipy.special

    from diffkit import primitives
    from diffkit.function import STRICT
    from diffkit.primitives import scipy_special

    monkeypatch.setattr(scipy_special, "_special",  # SciPy's functions, silent as CuPy's
                        lambda xp, name: functools.partial(_silently, getattr(scipy.special, name)))
    silent = _SilentModule("silent")
    with np.errstate(**STRICT):
        for module in (np, silent):
            out = primitives.gamma.evaluate(module, [np.array([-np.inf, 2.0])], {})
            assert np.isnan(out[0]) and out[1] == 1.0
    with np.errstate(all="ignore", over="raise"):
        for module in (np, silent):
            assert np.isinf(primitives.gammaln.evaluate(module, [np.array([-1.0])], {})[0])
    with np.errstate(**STRICT), pytest.raises(dk.DomainError):  # a pole under STRICT: named
        primitives.gammaln.evaluate(silent, [np.array([-1.0])], {})


def _silently(fn, *args):
    with np.errstate(all="ignore"):
        return fn(*args)


def test_a_where_branch_is_typed_by_the_other_branch_not_the_condition():
    """A number in np.where(mask, x, 0.1) is read in x's dtype; the condition (a bool mask)
    is no operand of it: such a line was left unfused (the mask's dtype came first)."""
    src = "def f(a0, a1):\n    v1 = np.where(a0, a1, 0.1)\n    v2 = np.exp(v1)\n    return v2"
    for dtype in (np.float32, np.float64):
        dtypes = {"a0": np.dtype(bool), "a1": np.dtype(dtype), "v1": np.dtype(dtype),
                  "v2": np.dtype(dtype)}
        ns = {"np": np}
        text, helpers = fuse_runs(src, identity, ns, dtypes)
        assert helpers and f"np.{np.dtype(dtype).name}(0.1)" in helpers[0]
        exec(text, ns)  # noqa: S102 - the test's own text
        mask, x = np.array([True, False, True]), np.linspace(0, 1, 3).astype(dtype)
        want = np.exp(np.where(mask, x, 0.1))
        got = ns["f"](mask, x)
        assert got.dtype == want.dtype and got.tobytes() == want.tobytes()
