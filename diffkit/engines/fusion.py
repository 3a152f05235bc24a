"""Fuse runs of element-wise lines of generated code into one kernel each (CuPy's ``fuse``).

On a GPU every array operation is a kernel launch (~10 µs of host time in CuPy, whatever the
array's size), so a chain such as a softmax cross-entropy's backward, ``exp(z)·s − y`` then a
scale, costs four launches and four passes over memory where one would do. This pass reads a
generated function (:mod:`diffkit.engines.compiler` prints only its own identifiers, so its text
has a small grammar) with :mod:`ast`, finds the runs of consecutive statements that are
element-wise — operators other than ``@``, comparisons, NumPy ufuncs with one output, ``where``,
typed scalar constants — and moves each run of two or more into a helper function that the
caller wraps (``cupy.fuse``): the run's line becomes ``v7, v9 = _grad_fused2(v3, a1)``.

Why the rewritten function computes what the original does: each helper runs the run's own
operations in their order on the same operands; an in-place update inside a run
(``v15 *= v16``, ``np.subtract(a, b, out=b)``) becomes the assignment of the same value to the
same name, which is equivalent because the compiler writes in place only into arrays that this
function allocated and nothing else views; updates of the function's parameters are never
moved; Python numbers are typed as NumPy reads them (a fused kernel reads them as float64),
and a statement where that cannot be read off the recorded dtypes is not fused. The caller
keeps fused code only where its first results agree with NumPy's
(:func:`diffkit.engines.compiler.on_device`).
"""

from __future__ import annotations

import ast
import copy
from collections.abc import Callable

import numpy as np

#: binary operators a fused kernel computes element by element (``@`` is not one)
_ELEMENTWISE_OPS = (ast.Add, ast.Sub, ast.Mult, ast.Div, ast.Pow)
#: NumPy's scalar types, which the code names for typed constants (``np.float32(0.5)``)
_SCALAR_TYPES = frozenset({"float16", "float32", "float64", "int32", "int64", "bool_"})
#: ``np.subtract(a, b, out=b)``: the compiler's in-place form of a − b into b's buffer
_OUT_FORMS = {"subtract": ast.Sub(), "divide": ast.Div()}


def _np_name(call: ast.Call) -> str | None:
    f = call.func
    if isinstance(f, ast.Attribute) and isinstance(f.value, ast.Name) and f.value.id == "np":
        return f.attr
    return None


def _is_ufunc(name: str) -> bool:
    """Whether ``np.<name>`` is an element-wise ufunc of one output (``np.matmul`` is a
    generalized ufunc, with a signature: not element-wise)."""
    u = getattr(np, name, None)
    return isinstance(u, np.ufunc) and u.nout == 1 and u.signature is None


def _elementwise(e: ast.expr) -> bool:
    """Whether expression `e` computes element by element from names and numbers."""
    if isinstance(e, ast.Name):
        return True
    if isinstance(e, ast.Constant):
        return type(e.value) in (int, float, bool)
    if isinstance(e, ast.UnaryOp):
        return isinstance(e.op, ast.USub | ast.UAdd) and _elementwise(e.operand)
    if isinstance(e, ast.BinOp):
        return isinstance(e.op, _ELEMENTWISE_OPS) and _elementwise(e.left) and \
            _elementwise(e.right)
    if isinstance(e, ast.Compare):
        return len(e.ops) == 1 and _elementwise(e.left) and _elementwise(e.comparators[0])
    if isinstance(e, ast.Call) and not e.keywords:
        name = _np_name(e)
        if name in _SCALAR_TYPES:  # a typed constant
            return len(e.args) == 1 and isinstance(e.args[0], ast.Constant | ast.UnaryOp)
        if name == "where":
            return len(e.args) == 3 and all(_elementwise(a) for a in e.args)
        return name is not None and _is_ufunc(name) and all(_elementwise(a) for a in e.args)
    return False


def _temporary(target: ast.expr) -> bool:
    """A value the generated function made itself (v1, v2, …): never a parameter."""
    return isinstance(target, ast.Name) and target.id.startswith("v") and target.id[1:].isdigit()


def _as_assignment(s: ast.stmt, dtypes: dict[str, np.dtype] | None = None
                   ) -> ast.Assign | None:
    """Statement `s` as ``name = element-wise expression`` (a copy: the original is kept for
    the unfused code), or None where it is not one. With `dtypes`, its numbers typed
    (:func:`_typed`), and an in-place update ``x op= y`` only where ``x op y`` has x's dtype:
    NumPy casts an in-place result back into the buffer (float16 ``+=`` float64 stays float16),
    an assignment would not."""
    a = None
    if isinstance(s, ast.Assign) and len(s.targets) == 1 and _temporary(s.targets[0]) and \
            _elementwise(s.value):
        a = copy.deepcopy(s)
    elif isinstance(s, ast.AugAssign) and _temporary(s.target) and \
            isinstance(s.op, _ELEMENTWISE_OPS) and _elementwise(s.value):
        name = s.target.id
        if dtypes is not None and not _keeps_dtype(name, s.value, dtypes):
            return None
        a = ast.Assign([ast.Name(name, ast.Store())],
                       ast.BinOp(ast.Name(name, ast.Load()), s.op, copy.deepcopy(s.value)))
    elif isinstance(s, ast.Expr) and isinstance(s.value, ast.Call):
        call = s.value
        name = _np_name(call)
        if name in _OUT_FORMS and len(call.args) == 2 and len(call.keywords) == 1 and \
                call.keywords[0].arg == "out" and _temporary(call.keywords[0].value) and \
                all(isinstance(a, ast.Name) for a in call.args) and \
                call.keywords[0].value.id == call.args[1].id:
            out = call.keywords[0].value.id
            if dtypes is not None and not _keeps_dtype(out, call.args[0], dtypes):
                return None
            a = ast.Assign([ast.Name(out, ast.Store())],
                           ast.BinOp(copy.deepcopy(call.args[0]), _OUT_FORMS[name],
                                     ast.Name(out, ast.Load())))
    if a is None or dtypes is None:
        return a
    _bool_conditions(a, dtypes)
    return a if _typed(a, dtypes) else None


def _keeps_dtype(target: str, operand: ast.expr, dtypes: dict[str, np.dtype]) -> bool:
    """Whether ``target op operand`` has the target's recorded dtype (a number beside it is
    read in that dtype, as NumPy reads it)."""
    mine = dtypes.get(target)
    if mine is None:
        return False
    if isinstance(operand, ast.UnaryOp) and isinstance(operand.op, ast.USub | ast.UAdd):
        operand = operand.operand
    if isinstance(operand, ast.Constant) and type(operand.value) in (int, float):
        return mine.kind in "fc" or type(operand.value) is int and mine.kind in "iu"
    if isinstance(operand, ast.Call) and _np_name(operand) in _SCALAR_TYPES:
        other = np.dtype(_np_name(operand))
    elif isinstance(operand, ast.Name):
        other = dtypes.get(operand.id)
        if other is None:
            return False
    else:
        return False
    return np.result_type(mine, other) == mine


def _independent(s: ast.stmt, run: list[ast.Assign]) -> bool:
    """Whether assignment `s`, met inside a run, may run before it: it reads no name the run
    assigns, and assigns no name the run reads or assigns."""
    if not (isinstance(s, ast.Assign) and len(s.targets) == 1 and
            isinstance(s.targets[0], ast.Name)):
        return False
    made = {a.targets[0].id for a in run}
    read = _loads(list(run))
    return not (_loads([s]) & made) and s.targets[0].id not in made | read


def _loads(nodes: list[ast.stmt]) -> set[str]:
    return {n.id for s in nodes for n in ast.walk(s)
            if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}


def fuse_runs(source: str, wrap: Callable[[Callable[..., object]], Callable[..., object]],
              namespace: dict[str, object], dtypes: dict[str, np.dtype],
              shortest: int = 2) -> tuple[str, list[str]]:
    """The generated function `source` (one ``def``) with each run of at least `shortest`
    element-wise statements moved into a helper: helpers are compiled into `namespace`,
    wrapped by `wrap` (``cupy.fuse()``; the identity in tests), as ``_<function>_fused<k>``
    (the generated functions share one namespace: each keeps its own kernels). Returns the
    new source and each helper's source.

    `dtypes` (each value's dtype, :func:`record_dtypes`) types the numbers the run writes
    (``np.maximum(v1, 0.0)`` → ``np.maximum(v1, np.float32(0.0))``): NumPy reads a Python
    number beside a float32 array as float32, where a fused kernel reads it as float64 (and
    ``where`` of float32 and float64 has no kernel); a statement whose numbers or in-place
    casts cannot be read off `dtypes` is not fused (:func:`_as_assignment`)."""
    fn = ast.parse(source).body[0]
    assert isinstance(fn, ast.FunctionDef)
    body: list[ast.stmt] = []
    helpers: list[str] = []
    i, stmts = 0, fn.body
    while i < len(stmts):
        j, run, hoisted = i, [], []
        while j < len(stmts):
            a = _as_assignment(stmts[j], dtypes)
            if a is not None:
                run.append(a)
            elif run and _independent(stmts[j], run) and \
                    any(_as_assignment(s, dtypes) is not None for s in stmts[j + 1:j + 2]):
                hoisted.append(stmts[j])  # runs before the helper: it reads nothing the run makes
            else:
                break
            j += 1
        if len(run) < shortest:
            body.extend(stmts[i:max(j, i + 1)])
            i = max(j, i + 1)
            continue
        body.extend(hoisted)
        made: list[str] = []
        needs: list[str] = []
        for a in run:
            for n in _read_in_order(a.value):
                if n not in made and n not in needs and n != "np":
                    needs.append(n)
            target = a.targets[0].id
            if target not in made:
                made.append(target)
        later = _loads(stmts[j:])
        outs = [n for n in made if n in later]
        i = j
        if not outs:  # nothing of the run is read later (cannot happen in live code)
            body.extend(run)
            continue
        name = f"_{fn.name}_fused{len(helpers)}"  # (functions made into one namespace)
        helper = ast.FunctionDef(
            name=name, args=ast.arguments(posonlyargs=[], args=[ast.arg(n) for n in needs],
                                          kwonlyargs=[], kw_defaults=[], defaults=[]),
            body=[*run, ast.Return(ast.Tuple([ast.Name(n, ast.Load()) for n in outs],
                                             ast.Load()))],
            decorator_list=[], returns=None, type_params=[])
        module = ast.fix_missing_locations(ast.Module([helper], type_ignores=[]))
        helpers.append(ast.unparse(module))
        exec(compile(module, f"<diffkit fused {name}>", "exec"), namespace)  # noqa: S102 - ours
        namespace[name] = wrap(namespace[name])
        body.append(ast.Assign([ast.Tuple([ast.Name(n, ast.Store()) for n in outs], ast.Store())],
                               ast.Call(ast.Name(name, ast.Load()),
                                        [ast.Name(n, ast.Load()) for n in needs], [])))
    fn.body = body
    return ast.unparse(ast.fix_missing_locations(fn)), helpers


def _read_in_order(e: ast.expr) -> list[str]:
    """The names expression `e` reads, in a fixed order (the helper's parameters)."""
    return [n.id for n in ast.walk(e) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)]


def _bool_conditions(a: ast.Assign, dtypes: dict[str, np.dtype]) -> None:
    """``np.where(c, x, y)`` with a condition not known to be boolean as ``np.where(c != 0, x,
    y)``: NumPy's where reads any condition as "nonzero" (a one-hot float row), a fused where
    takes booleans only; ``c != 0`` is that reading (NaN is nonzero in both)."""
    for node in ast.walk(a.value):
        if isinstance(node, ast.Call) and _np_name(node) == "where" and \
                not (isinstance(c := node.args[0], ast.Name) and dtypes.get(c.id) == np.bool_) \
                and not isinstance(node.args[0], ast.Compare):
            node.args[0] = ast.Compare(node.args[0], [ast.NotEq()], [ast.Constant(0)])


def _typed(a: ast.Assign, dtypes: dict[str, np.dtype]) -> bool:
    """Write each Python number of assignment `a` (in place) as a NumPy scalar of the dtype
    NumPy reads it in: its operation's other operand's, which must be a name whose dtype was
    recorded (a parameter, a constant, a value). False where some number has no such operand
    (a nested expression beside it, a Python float operand): the statement is not fused, as
    typing it by a guess could change a comparison's outcome (``s <= -0.3`` in float32 against
    float64). Booleans beside an integer stay (``mask != 0``)."""

    def number(node: ast.expr) -> bool:
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub | ast.UAdd):
            node = node.operand
        return isinstance(node, ast.Constant) and type(node.value) in (int, float)

    def typed(node: ast.expr, siblings: list[ast.expr]) -> ast.expr | None:
        if not number(node):
            return node
        if isinstance(node, ast.UnaryOp):
            inner = typed(node.operand, siblings)
            return None if inner is None else ast.UnaryOp(node.op, inner)
        others = [n for n in siblings if not number(n)]
        known = [dtypes.get(n.id) for n in others if isinstance(n, ast.Name)]
        if not others or len(known) != len(others) or any(d is None for d in known):
            # (`None in known` is no test: NumPy's float64 dtype compares equal to None)
            return None  # beside an expression, or only numbers: no dtype to read
        dtype = np.result_type(*known)  # NumPy's: the arrays' dtype, the number cast to it
        if dtype.kind == "b" and type(node.value) is int:
            return node  # a mask against 0 or 1: compared exactly, whatever the integer type
        if dtype.kind not in "fiu" or dtype.kind in "iu" and type(node.value) is not int:
            return None
        value = float(node.value) if dtype.kind == "f" else int(node.value)
        return ast.Call(ast.Attribute(ast.Name("np", ast.Load()), dtype.name, ast.Load()),
                        [ast.Constant(value)], [])

    ok = True
    for node in list(ast.walk(a.value)):
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Pow) and number(node.right):
            # NumPy computes x ** 0.5 as sqrt and x ** 2 as a square for a Python number only
            # (x ** np.float16(0.5) is power: +0.0 at −0.0): a literal exponent stays as printed
            ok = False
            continue
        if isinstance(node, ast.BinOp):
            left, right = typed(node.left, [node.right]), typed(node.right, [node.left])
            ok = ok and left is not None and right is not None
            node.left, node.right = left or node.left, right or node.right
        elif isinstance(node, ast.Compare):
            left = typed(node.left, node.comparators)
            rest = [typed(c, [node.left]) for c in node.comparators]
            ok = ok and left is not None and all(r is not None for r in rest)
            node.left = left or node.left
            node.comparators = [r or c for r, c in zip(rest, node.comparators, strict=True)]
        elif isinstance(node, ast.Call) and _np_name(node) not in _SCALAR_TYPES:
            # (where's condition selects: it is no operand whose dtype a branch is read in)
            operands = node.args[1:] if _np_name(node) == "where" else node.args
            args = [typed(x, [y for y in operands if y is not x]) for x in node.args]
            ok = ok and all(x is not None for x in args)
            node.args = [x or y for x, y in zip(args, node.args, strict=True)]
        elif isinstance(node, ast.UnaryOp) and number(node) and node is a.value:
            ok = False  # a bare number assigned: nothing to read its dtype from
    return ok


def record_dtypes(source: str, namespace: dict[str, object], args: list[object]
                  ) -> tuple[object, dict[str, np.dtype]]:
    """Run generated function `source` on `args` (NumPy arrays) with every value's dtype
    recorded: (its result, name → dtype), for :func:`fuse_runs`."""
    fn = ast.parse(source).body[0]
    assert isinstance(fn, ast.FunctionDef)
    body: list[ast.stmt] = [  # the parameters' dtypes first (Python floats have none)
        ast.parse(f"_dtypes[{p.arg!r}] = getattr({p.arg}, 'dtype', None)").body[0]
        for p in fn.args.args]
    for s in fn.body:
        body.append(s)
        for name in _stored(s):
            body.append(ast.parse(f"_dtypes[{name!r}] = getattr({name}, 'dtype', None)").body[0])
    fn.body = body
    seen: dict[str, np.dtype] = {}
    ns = dict(namespace, _dtypes=seen)
    module = ast.fix_missing_locations(ast.Module([fn], type_ignores=[]))
    exec(compile(module, "<diffkit dtypes>", "exec"), ns)  # noqa: S102 - our own text
    result = ns[fn.name](*args)
    constants = {k: v.dtype for k, v in namespace.items()  # the arrays and scalars it reads
                 if isinstance(v, np.ndarray | np.generic)}
    return result, {k: v for k, v in {**constants, **seen}.items() if isinstance(v, np.dtype)}


def _stored(s: ast.stmt) -> list[str]:
    """The names statement `s` assigns or writes into."""
    if isinstance(s, ast.Assign):
        return [n.id for t in s.targets for n in ast.walk(t) if isinstance(n, ast.Name)]
    if isinstance(s, ast.AugAssign) and isinstance(s.target, ast.Name):
        return [s.target.id]
    if isinstance(s, ast.Expr) and isinstance(s.value, ast.Call):
        return [k.value.id for k in s.value.keywords if k.arg == "out" and
                isinstance(k.value, ast.Name)]
    return []
