"""Compile a checked expression tree into one Python function, once, at load.

Like Jinja2 compiling templates, the checked tree is turned into Python source and
compiled, so evaluation costs about what hand-written Python costs. The generated
source is safe by construction: it is produced only from the node types the parser
allowed; no text of the author's ever appears in it as code (every name, literal,
function and helper is bound as a default argument `_k0`, `_f1`, ... and referred
to by that generated identifier); and it runs with empty builtins.
"""

from __future__ import annotations

import ast
from collections import ChainMap
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any

from . import runtime
from .clock import DEFAULT_EVALUATION, evaluation
from .errors import ExpressionError, RuleError
from .functions import FunctionSpec
from .parsing import called_name
from .scope import NUMERIC, FieldType

_BINARY = {
    ast.Add: "add",
    ast.Sub: "sub",
    ast.Mult: "mul",
    ast.Div: "div",
    ast.FloorDiv: "floordiv",
    ast.Mod: "mod",
    ast.Pow: "power",
}
_ORDER_SYMBOL = {ast.Lt: "<", ast.LtE: "<=", ast.Gt: ">", ast.GtE: ">="}
_ORDER_HELPER = {ast.Lt: "lt", ast.LtE: "le", ast.Gt: "gt", ast.GtE: "ge"}
_PLAIN_EQUALITY = NUMERIC | {"text", "boolean"}


def overlay(context: Mapping[str, Any], given: dict[str, Any]) -> Mapping[str, Any]:
    """The context with some names replaced (decide('t', systolic=150))."""
    return ChainMap(given, context)  # type: ignore[arg-type]  # writes go to `given` only; typeshed wants all mutable


class Codegen:
    """Turns one checked tree into the source of `_rule(_c, _e)` and its bindings."""

    def __init__(
        self, types: Mapping[int, FieldType], specs: Mapping[str, FunctionSpec], tables: Mapping[str, Any] | None
    ):
        self.types, self.specs, self.tables = types, specs, tables or {}
        self.bindings: dict[str, Any] = {}
        self._temps = 0
        self.uses_context = False

    def bind(self, value: Any, prefix: str = "_k") -> str:
        name = f"{prefix}{len(self.bindings)}"
        self.bindings[name] = value
        return name

    def helper(self, name: str) -> str:
        key = f"_h_{name}"
        self.bindings[key] = getattr(runtime, name) if name != "overlay" else overlay
        return key

    def temp(self) -> str:
        self._temps += 1
        return f"_t{self._temps}"

    def type_of(self, node: ast.AST) -> str:
        found = self.types.get(id(node))
        return found.type if found else "any"

    def emit(self, node: ast.AST) -> str:
        return getattr(self, "_" + type(node).__name__)(node)

    # -- leaves ----------------------------------------------------------------------
    def _Constant(self, node: ast.Constant) -> str:
        if node.value is None or node.value is True or node.value is False:
            return repr(node.value)
        return self.bind(node.value)

    def _Name(self, node: ast.Name) -> str:
        self.uses_context = True
        return f"_g({self.bind(node.id)})"

    def _Attribute(self, node: ast.Attribute) -> str:
        keys: list[str] = []
        base: ast.AST = node
        while isinstance(base, ast.Attribute):
            keys.append(base.attr)
            base = base.value
        keys.reverse()
        if len(keys) == 1:
            return f"{self.helper('attr')}({self.emit(base)}, {self.bind(keys[0])})"
        return f"{self.helper('attrs')}({self.emit(base)}, {self.bind(tuple(keys))})"

    # -- operators -------------------------------------------------------------------
    def _BoolOp(self, node: ast.BoolOp) -> str:
        joiner = " and " if isinstance(node.op, ast.And) else " or "
        return "(" + joiner.join(self.emit(value) for value in node.values) + ")"

    def _UnaryOp(self, node: ast.UnaryOp) -> str:
        if isinstance(node.op, ast.Not):
            return f"(not {self.emit(node.operand)})"
        operand = node.operand
        if (
            isinstance(operand, ast.Constant)
            and isinstance(operand.value, (int, float))
            and not isinstance(operand.value, bool)
        ):
            return self.bind(-operand.value if isinstance(node.op, ast.USub) else operand.value)
        name = "neg" if isinstance(node.op, ast.USub) else "pos"
        return f"{self.helper(name)}({self.emit(operand)})"

    def _BinOp(self, node: ast.BinOp) -> str:
        return f"{self.helper(_BINARY[type(node.op)])}({self.emit(node.left)}, {self.emit(node.right)})"

    def _IfExp(self, node: ast.IfExp) -> str:
        return f"({self.emit(node.body)} if {self.emit(node.test)} else {self.emit(node.orelse)})"

    def _List(self, node: ast.List) -> str:
        return "[" + ", ".join(self.emit(item) for item in node.elts) + "]"

    def _Tuple(self, node: ast.Tuple) -> str:
        return "(" + "".join(self.emit(item) + ", " for item in node.elts) + ")"

    # -- comparisons -----------------------------------------------------------------
    def _Compare(self, node: ast.Compare) -> str:
        if len(node.ops) > 1:
            names = tuple(type(op).__name__ for op in node.ops)
            values = ", ".join(self.emit(item) for item in [node.left, *node.comparators])
            return f"{self.helper('compare_chain')}({self.bind(names)}, [{values}])"
        op, left, right = node.ops[0], node.left, node.comparators[0]
        a, b = self.emit(left), self.emit(right)
        if isinstance(op, (ast.Is, ast.IsNot)):
            return f"({a} {'is' if isinstance(op, ast.Is) else 'is not'} {b})"
        if isinstance(op, (ast.Eq, ast.NotEq)):
            if self._plain_equality(left, right):
                return f"({a} {'==' if isinstance(op, ast.Eq) else '!='} {b})"
            return f"{self.helper('eq' if isinstance(op, ast.Eq) else 'ne')}({a}, {b})"
        if isinstance(op, (ast.In, ast.NotIn)):
            return f"{self.helper('is_in' if isinstance(op, ast.In) else 'not_in')}({a}, {b})"
        symbol = _ORDER_SYMBOL[type(op)]
        if self._plain_order(left, right):
            parts, operands = [], []
            for side, code in ((left, a), (right, b)):
                if _is_constant(side):
                    operands.append(code)
                else:
                    temp = self.temp()
                    parts.append(f"({temp} := {code}) is not None")
                    operands.append(temp)
            parts.append(f"{operands[0]} {symbol} {operands[1]}")
            return "(" + " and ".join(parts) + ")"
        return f"{self.helper(_ORDER_HELPER[type(op)])}({a}, {b})"

    def _plain_equality(self, left: ast.AST, right: ast.AST) -> bool:
        """Python's == is exactly our == unless dates and datetimes may meet."""
        kinds = {self.type_of(left), self.type_of(right)}
        if _is_plain_literal(left) or _is_plain_literal(right):
            return True
        return kinds <= _PLAIN_EQUALITY

    def _plain_order(self, left: ast.AST, right: ast.AST) -> bool:
        """Inline `<` when both sides are numbers or texts (or one is a number literal)."""
        kinds = (self.type_of(left), self.type_of(right))
        if any(_is_number_literal(side) for side in (left, right)):
            return not any(kind in ("date", "datetime", "duration", "decimal") for kind in kinds)
        return (kinds[0] in NUMERIC - {"decimal"} and kinds[1] in NUMERIC - {"decimal"}) or kinds == ("text", "text")

    # -- calls -----------------------------------------------------------------------
    def _Call(self, node: ast.Call) -> str:
        name = called_name(node)
        if name == "decide" and name not in self.specs:
            return self._decide(node)
        spec = self.specs[name]
        function = self.bind(spec.fn, "_f")
        arguments = [self.emit(argument) for argument in node.args]
        keywords = ""
        if node.keywords:
            pairs = ", ".join(f"{self.bind(k.arg)}: {self.emit(k.value)}" for k in node.keywords)
            keywords = f"**{{{pairs}}}"
        prefix = ["_e"] if spec.needs_env else []
        if spec.null_safe and arguments:
            temps = [self.temp() for _ in arguments]
            tests = " or ".join(f"({t} := {a}) is None" for t, a in zip(temps, arguments))
            call = f"{function}({', '.join(prefix + temps + ([keywords] if keywords else []))})"
            return f"(None if {tests} else {call})"
        return f"{function}({', '.join(prefix + arguments + ([keywords] if keywords else []))})"

    def _decide(self, node: ast.Call) -> str:
        first = node.args[0]
        if not (isinstance(first, ast.Constant) and isinstance(first.value, str)):  # the checker saw to it
            raise ExpressionError("expression.arity", "decide() takes the table name as a quoted text")
        table = self.bind(self.tables[first.value], "_d")
        self.uses_context = True
        if not node.keywords:
            return f"{table}.evaluate_in(_c, _e)"
        pairs = ", ".join(f"{self.bind(k.arg)}: {self.emit(k.value)}" for k in node.keywords)
        return f"{table}.evaluate_in({self.helper('overlay')}(_c, {{{pairs}}}), _e)"


def _is_constant(node: ast.AST) -> bool:
    return isinstance(node, ast.Constant) and node.value is not None


def _is_plain_literal(node: ast.AST) -> bool:
    return isinstance(node, ast.Constant) and isinstance(node.value, (str, int, float, bool, type(None)))


def _is_number_literal(node: ast.AST) -> bool:
    return (
        isinstance(node, ast.Constant)
        and isinstance(node.value, (int, float, Decimal))
        and not isinstance(node.value, bool)
    )


def compile_tree(
    tree: ast.Expression,
    types: Mapping[int, FieldType],
    specs: Mapping[str, FunctionSpec],
    tables: Mapping[str, Any] | None,
    on_error: Callable[[Exception], Exception],
) -> tuple[Callable[..., Any], Callable[..., Any], str]:
    """Two functions for a checked tree, and their generated source.

    `run(context, evaluation)` is the bare compiled body (tables and decide() call it);
    `evaluate(context, *, related=None, now=None, timezone=None)` is the public entry:
    it builds the Evaluation and turns any failure into `on_error(exc)` (a RuleError),
    all in one Python frame because evaluation speed matters.
    """
    generator = Codegen(types, specs, tables)
    body = generator.emit(tree.body)
    bindings = {
        **generator.bindings,
        "_D": DEFAULT_EVALUATION,
        "_mk": evaluation,
        "_RuleError": RuleError,
        "_Exception": Exception,
        "_wrap": on_error,
    }
    read = "    _g = _c.get\n" if generator.uses_context else ""
    inner = (
        f"def _run(_c, _e):\n{read}    return {body}\n"
        f"def _evaluate(_c, related=None, now=None, timezone=None):\n"
        f"    _e = _D if related is None and now is None and timezone is None else _mk(related, now, timezone)\n"
        f"    try:\n"
        f"    {read}        return {body}\n"
        f"    except _RuleError:\n        raise\n"
        f"    except _Exception as _x:\n        raise _wrap(_x) from None\n"
        f"return _run, _evaluate\n"
    )
    # Bindings become closure cells of a factory: cheaper per call than default arguments.
    source = f"def _make({', '.join(bindings)}):\n" + "".join(f"    {line}\n" for line in inner.splitlines())
    namespace: dict[str, Any] = {"__builtins__": {}}
    exec(compile(source, "<rule>", "exec"), namespace)  # noqa: S102 - generated from a checked tree, see module doc
    run, evaluate = namespace["_make"](**bindings)
    return run, evaluate, source
