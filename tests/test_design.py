"""The design's promises that keep bugs out: one-way imports, lazy heavy imports, the registry
declaring every name, explicit engine options, no leaks in the eager tape."""

from __future__ import annotations

import ast
import gc
import subprocess
import sys
import weakref
from pathlib import Path

import numpy as np
import pytest

import diffkit as dk
from diffkit import nn
from diffkit.primitive import NUMPY_NAMES, NUMPY_OBJECTS, PUBLIC, REGISTRY, dispatch_numpy
from diffkit.tensor import leaf_tensor

PACKAGE = Path(dk.__file__).parent


def _module_name(path: Path) -> str:
    rel = path.relative_to(PACKAGE.parent).with_suffix("")
    parts = list(rel.parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _import_graph() -> dict[str, set[str]]:
    """module -> diffkit modules it imports anywhere (functions included; TYPE_CHECKING excluded)."""
    modules = {_module_name(p): p for p in PACKAGE.rglob("*.py")}
    graph: dict[str, set[str]] = {m: set() for m in modules}
    for mod, path in modules.items():
        tree = ast.parse(path.read_text())
        typing_only = {id(n) for node in ast.walk(tree) if isinstance(node, ast.If)
                       and "TYPE_CHECKING" in ast.unparse(node.test) for n in ast.walk(node)}
        package = mod if path.name == "__init__.py" else mod.rpartition(".")[0]
        for node in ast.walk(tree):
            if id(node) in typing_only or not isinstance(node, ast.ImportFrom):
                continue
            if node.level:
                base = package.split(".")
                base = base[:len(base) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            elif (node.module or "").startswith("diffkit"):
                target = node.module
            else:
                continue
            for alias in node.names:
                name = f"{target}.{alias.name}"
                hit = name if name in modules else target
                if hit in modules and hit != mod:
                    graph[mod].add(hit)
    return graph


def test_imports_flow_one_way():
    graph = _import_graph()
    index, low, stack, on, cycles, counter = {}, {}, [], set(), [], [0]

    def visit(v: str) -> None:  # Tarjan's strongly connected components, small graph
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                cycles.append(sorted(comp))

    for v in graph:
        if v not in index:
            visit(v)
    assert not cycles, f"import cycles: {cycles}"
    outside = [k for k, deps in graph.items() for m in deps if m.startswith("diffkit.cli")
               and not k.startswith(("diffkit.cli", "diffkit.__main__"))]
    assert not outside, f"nothing imports the command line: {outside}"


def test_importing_diffkit_loads_no_heavy_dependency():
    code = ("import sys, diffkit; print([m for m in ('sympy', 'scipy', 'matplotlib', 'graphviz', "
            "'cupy', 'mpi4py') if m in sys.modules])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_every_primitive_is_its_own_public_function_and_declares_its_names():
    for name, p in REGISTRY.items():
        assert getattr(dk, name) is p and PUBLIC[name] is p
        for np_name in p.numpy:
            assert NUMPY_NAMES[np_name] is p
    assert dk.sin.__doc__ and "sin" in repr(dk.sin)
    assert "axis" in str(dk.sum.__signature__)


@pytest.mark.parametrize("method", ["reverse", "forward", "symbolic", "fd", "auto", "compiled"])
def test_unknown_engine_options_are_rejected_by_name(method):
    with pytest.raises(TypeError, match="does not take the option"):
        dk.grad("x*x", method=method, colour="red")


def test_a_leaf_belongs_to_its_tensor_only_while_it_is_the_current_value():
    # no global registry to grow: the leaf node refers to its Tensor weakly. A graph recorded
    # before an update still reaches the parameter and gives it the gradient at the values it
    # recorded (as PyTorch does where backward needs no modified value; it silently dropped it)
    model = nn.Linear(4, 3)
    opt = nn.SGD(model.parameters(), lr=0.1)
    x = np.ones((2, 4), np.float32)
    old = model.weight.node
    loss = dk.sum(model(x))
    loss.backward()
    g0 = model.weight.grad.copy()
    opt.step()
    assert leaf_tensor(old) is model.weight and leaf_tensor(model.weight.node) is model.weight
    loss.backward()  # the graph of the old values: accumulates the same gradient again
    np.testing.assert_array_equal(model.weight.grad, 2 * g0)
    ref = weakref.ref(model.weight)
    node = model.weight.node
    del model, opt, loss
    gc.collect()
    assert ref() is None and leaf_tensor(node) is None  # the Tensor is free to go


def test_numpy_dispatch_resolves_its_table_once():
    # the NumPy-object table was rebuilt on every np.* call on a traced value (~140 µs each):
    # its staleness test compared its own size, which aliases and missing names keep smaller.
    # Now the registry resolves each name once, when it is registered.
    f = dk.function(lambda v: np.sum(np.roll(v, 1) * v))
    g = dk.grad(f)(np.arange(1.0, 4.0))
    assert np.allclose(g, np.roll(np.arange(1.0, 4.0), 1) + np.roll(np.arange(1.0, 4.0), -1))
    marker = object()
    NUMPY_OBJECTS[marker] = None
    dk.grad(f)(np.arange(1.0, 4.0))
    assert marker in NUMPY_OBJECTS  # not resolved again
    del NUMPY_OBJECTS[marker]


def test_a_numpy_name_registered_again_dispatches_to_its_new_function():
    # a size-keyed cache would keep the first function: the table's size does not change
    old, size = NUMPY_NAMES["sin"], len(NUMPY_NAMES)
    f = dk.function(lambda v: np.sin(v))
    assert dk.grad(f)(0.5)[0] == pytest.approx(np.cos(0.5))
    try:
        dispatch_numpy("sin", lambda v: 3.0 * v)
        assert len(NUMPY_NAMES) == size  # the table did not grow
        assert dk.grad(f)(0.5)[0] == 3.0
    finally:
        dispatch_numpy("sin", old)
    assert dk.grad(f)(0.5)[0] == pytest.approx(np.cos(0.5))
