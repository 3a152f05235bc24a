"""Scalar code's recorders, printed from the table: one Python function per primitive.

Scalar code on a tracing tape records one object per operation (a *scalar record*: see
:meth:`diffkit.tensor.Tape.scalar_record`). Its hot path — Tensor's ``+ − × ÷ **`` and
comparisons, and every one-argument primitive with a float form (``dk.sin(x)``, ``-x``,
``abs(x)``, ``dk.sigmoid(x)``) — is one function per primitive, printed here from the
primitive's record: its float form (``x * y``, ``math.sin(x)``, ``(-v)``, read off the record as
:mod:`diffkit.float_rules` reads it) and its partial rules as float code
(:func:`~diffkit.float_rules.rule_text`), inlined, so that recording an operation and memoizing
its local partials is one Python frame. A rule that cannot be printed is called as it is, as
before; the printed rule computes the same operations on the same floats, and raises where
the rule on floats would leave Python floats (the partial is then left to the sweep, which
gives NumPy's value or the named error).

Only text is made here (from the table: no user text ever reaches it); :mod:`diffkit.tensor`
compiles it with its own names in scope: ``Tensor``, ``_new_tensor``, ``_node_ids``,
``_F64``, ``_NO_PARAMS``, ``TracingError``, ``_ESCAPED``, ``_POW_MODULUS``, ``bind``, ``math``,
``ONE``, ``MINUS_ONE``, and ``_prim``, ``_fn`` and ``_rule0``, ``_rule1`` (the primitive, its float
function and its rules) per function.
"""

from __future__ import annotations

from collections.abc import Sequence

from .float_rules import float_expression, rule_text
from .primitive import Primitive

#: Python's binary operators that Tensor overloads by a printed recorder, by the table's infix
#: symbol: ``x ∘ y`` calls ``__<name>__`` (``y.__r<name>__(x)`` reflected, where Python has one;
#: ``0.5 < x`` calls ``x.__gt__(0.5)``)
OPERATOR_NAMES = {"+": "add", "-": "sub", "*": "mul", "/": "truediv", "**": "pow",
                  "<": "lt", "<=": "le", ">": "gt", ">=": "ge", "==": "eq", "!=": "ne"}
#: the operators Python reflects by a method of their own (``__radd__``)
REFLECTED = ("+", "-", "*", "/", "**")


def _partial_block(prim: Primitive, index: int, names: Sequence[str], printed: bool,
                   indent: str) -> list[str]:
    """Statements that set ``p<index>``, the partial for input `index`: the rule printed as
    float code where `printed` and it prints, else the rule called (``_rule<index>``)."""
    text = rule_text(prim, index, names, f"p{index}_") if printed else None
    if text is None:
        return [f"{indent}p{index} = _rule{index}({', '.join(names)})"]
    lines, result = text
    return [*(indent + line for line in lines), f"{indent}p{index} = {result}"]


def _record(indent: str, inputs: str, active: str, partials: list[str], memo: str) -> list[str]:
    """The statements that make the record ``t`` (``tape.scalar_record``, inlined) of `value`
    over `inputs` and return it: `active` says whether it depends on a value being
    differentiated; then `partials` (statements, one level in) compute the memoized partials
    and `memo` is their tuple (a rule that fails leaves them to the sweep)."""
    i = indent
    if active == "False":  # a comparison: no derivative, nothing memoized
        differentiated = [f"{i}t.requires_grad = False", f"{i}t._partials = None"]
    else:
        differentiated = [
            f"{i}if {active}:",
            f"{i}    t.requires_grad = True",
            f"{i}    try:  # the local partials, memoized (a failing rule: derived later)",
            *partials,
            f"{i}        t._partials = {memo}",
            f"{i}    except Exception:  # noqa: BLE001 - x/0, a domain: the general sweep",
            f"{i}        t._partials = None",
            f"{i}else:",
            f"{i}    t.requires_grad = False",
            f"{i}    t._partials = None"]
    return [
        f"{i}t = _new_tensor(Tensor)",
        f"{i}t._node = None",
        f"{i}t.tape = tape",
        f"{i}t.grad = t._adjoint = None",
        f"{i}t._id = next(_node_ids)",
        f"{i}t._prim = _prim",
        f"{i}t._inputs = {inputs}",
        f"{i}t._value = value",
        *differentiated,
        f"{i}recorded = tape.recorded",
        f"{i}if recorded is not None:",
        f"{i}    recorded.append(t)",
        f"{i}return t",
    ]


def operator_source(prim: Primitive, reflected: bool, printed: bool, general: bool = False
                    ) -> str:
    """Tensor's operator for infix `prim` (``__mul__``, or ``__rmul__`` where `reflected`).

    Scalar code on a tracing tape — this Tensor's value a float, the other operand a Python
    float (a constant, its node made once per tape) or a Tensor of the same tape holding a
    float — is recorded in this one frame: first a lane for the commonest case (a scalar
    record and a constant: ``x * 1.5``), then the general one; an error or a non-finite value
    goes to :meth:`~diffkit.tensor.Tape.binary` (NumPy's value or the named error); an operand
    that handles NumPy's operators itself (:func:`~diffkit.tensor._defers`) gets NotImplemented;
    anything else goes to :func:`~diffkit.primitive.bind`, as every primitive (or, where
    `general`, to ``_general``: the method Tensor declares for it, ``**``'s with NumPy's
    ``bool ** 2``)."""
    name = f"__{'r' if reflected else ''}{OPERATOR_NAMES[prim.symbol]}__"
    mine, theirs = (1, 0) if reflected else (0, 1)  # this Tensor's index among the operands
    operands = "other, self" if reflected else "self, other"

    def ordered(a: str, b: str) -> list[str]:  # (this tensor's, the other's) in operand order
        return [b, a] if reflected else [a, b]

    # Python's operators raise ArithmeticError (x / 0, an overflow); math's functions a
    # ValueError too (math.pow(-8.0, 0.5), where Python's ** gives a complex number)
    errors = "ArithmeticError" if prim.scalar_operator is not None else \
        "(ArithmeticError, ValueError)"
    # a comparison's value is NumPy's bool (as NumPy gives it: a record's value has a dtype;
    # never differentiated); the rest give floats, finite ones recorded
    lane = ordered("v", "other")
    if prim.differentiable:
        lane_value, lane_test = float_expression(prim, lane), \
            "value is not None and value - value == 0.0"
        value, test = float_expression(prim, ["x", "y"]), \
            "type(value) is float and value - value == 0.0"
    else:  # (Python compares an int exactly, NumPy as its float64: 2**53 + 1 == 2.0**53)
        number = "(other if kind is float else float(other))"
        lane_value, lane_test = f"_BOOLS[{float_expression(prim, ordered('v', number))}]", \
            "value is not None"
        value, test = f"_BOOLS[{float_expression(prim, ['float(x)', 'float(y)'])}]", \
            "value is not None"
    lane_active = "self.requires_grad" if prim.differentiable else "False"
    general_active = "self.requires_grad or tensor and other.requires_grad" \
        if prim.differentiable else "False"
    lane_memo = "(" + ", ".join(ordered(f"p{mine}", "None")) + ")"
    lane_partials, general_partials = [], []  # (a comparison memoizes nothing)
    if prim.differentiable:
        lane_partials = _partial_block(prim, mine, [*lane, "value"], printed, " " * 24)
        names = ["x", "y", "value"]
        general_partials = [
            *_partial_block(prim, mine, names, printed, " " * 28),
            "                            if tensor:",
            *_partial_block(prim, theirs, names, printed, " " * 32),
            "                            else:",
            f"                                p{theirs} = None"]
    # pow(x, y, m) calls __pow__ with a third argument: a TypeError naming the modulus
    # (_POW_MODULUS, as Python's for floats), not one about the method's arity
    modulus = [] if name != "__pow__" else [
        "    if modulo is not None:",
        "        raise TypeError(_POW_MODULUS)"]
    return "\n".join([
        f"def {name}(self, other{', modulo=None' if modulus else ''}):",
        *modulus,
        "    if ((kind := type(other)) is float or kind is int) and self._node is None:",
        "        # a scalar record and a number (an int as NumPy reads it beside a float64: its",
        "        # float; Python's float ∘ int is that, exactly, and raises where it overflows)",
        "        tape = self.tape",
        "        v = self._value",
        "        if type(v) is float and not tape.closed:",
        "            try:",
        f"                value = {lane_value}",
        f"            except {errors}:",
        "                value = None",
        f"            if {lane_test}:",
        "                hit = tape.consts.get(id(other))  # tape.const(other), its lookup inlined",
        ("                theirs = hit[1] if hit is not None and hit[0] is other "
         "else tape.const(other)"),
        *_record(" " * 16, "(" + ", ".join(ordered("self", "theirs")) + ")",
                 lane_active, lane_partials, lane_memo),
        "    tape = self.tape",
        "    if tape.level:",
        "        node = self._node",
        "        if node is None:  # a scalar record: itself is the operand",
        "            mine = self",
        "            v = self._value",
        "        else:",
        "            mine = node",
        "            v = node.value",
        "        if type(v) is float or type(v) is _F64:",
        "            if tape.closed:",
        "                raise TracingError(_ESCAPED)",
        "            kind = type(other)",
        "            if kind is float or kind is int:  # a constant: tape.const(other), inlined",
        "                hit = tape.consts.get(id(other))",
        ("                theirs = hit[1] if hit is not None and hit[0] is other "
         "else tape.const(other)"),
        "                w = other",
        "                tensor = False",
        "            elif kind is Tensor and other.tape is tape:",
        "                theirs = other._node",
        "                if theirs is None:",
        "                    theirs = other",
        "                    w = other._value",
        "                else:",
        "                    w = theirs.value",
        "                if type(w) is not float and type(w) is not _F64:",
        "                    theirs = None",
        "                tensor = True",
        "            else:",
        "                theirs = None",
        "            if theirs is not None:",
        *(f"                {n} = float({f}) if type({f}) is _F64 else {f}"
          for n, f in zip("xy", ordered("v", "w"), strict=True)),
        "                try:",
        f"                    value = {value}",
        f"                except {errors}:",
        "                    value = None",
        f"                if {test}:",
        *_record(" " * 20, "(" + ", ".join(ordered("mine", "theirs")) + ")",
                 general_active, general_partials, "(p0, p1)"),
        f"                out = tape.binary(_prim, {operands})  # NumPy's value or error",
        (f"                return out if out is not None else tape.record_general(_prim, "
         f"({operands}), _NO_PARAMS)"),
        "    if type(other) is float:  # scalar code: this tensor's tape, no search",
        f"        out = tape.binary(_prim, {operands})",
        f"        return out if out is not None else tape.record(_prim, ({operands}), _NO_PARAMS)",
        "    if _defers(other):  # NumPy's rule: the operand's own reflected method",
        "        return NotImplemented",
        "    return _general(self, other)" if general else f"    return bind(_prim, {operands})",
        "",
    ])


def unary_source(prim: Primitive, printed: bool) -> str:
    """The recorder of one-argument `prim` with a float form: ``record(a)`` for a Tensor `a`
    (what ``dk.sin(x)`` calls). Scalar code on a tracing tape is recorded in this one frame;
    everything else is :meth:`~diffkit.tensor.Tape.unary_numpy`'s (which answers None where
    the general path records it)."""
    value = float_expression(prim, ["v"]) or "_fn(v)"
    as_float = []
    if not value.startswith(("math.", "_fn(")):  # an operator's form: Python's, on a float
        as_float = ["                u = v if type(v) is float else float(v)  # (not float64)"]
        value = float_expression(prim, ["u"])
    partials = [
        "                        if type(v) is float:  # the rule as float code, as it runs on one",
        *_partial_block(prim, 0, ["v", "value"], printed, " " * 28),
        "                        else:  # an input's np.float64: the rule itself",
        "                            p0 = _rule0(v, value)"]
    differentiable = "a.requires_grad" if prim.differentiable else "False"
    return "\n".join([
        "def record(a):",
        "    tape = a.tape",
        "    if tape.level and not tape.closed:",
        "        node = a._node",
        "        if node is None:  # a scalar record: itself is the operand",
        "            entry = a",
        "            v = a._value",
        "        else:",
        "            entry = node",
        "            v = node.value",
        "        if type(v) is float or type(v) is _F64:",
        "            try:",
        *as_float,
        f"                value = {value}",
        "            except (ArithmeticError, ValueError):",
        "                value = None",
        "            if type(value) is float and value - value == 0.0:",
        *_record(" " * 16, "(entry,)", differentiable, partials, "(p0,)"),
        "    return tape.unary_numpy(_prim, a)",
        "",
    ])
