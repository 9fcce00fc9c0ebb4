"""Check a parsed expression against a Scope and the function library, once, at load.

Infers a rule type for every node, refusing unknown names and functions, wrong
argument counts and type mismatches, each with its column. The inferred types
also let the compiler pick faster code paths.
"""

from __future__ import annotations

import ast
from collections.abc import Mapping
from itertools import pairwise
from typing import Any

from .errors import ExpressionError
from .functions import FunctionSpec
from .parsing import Parsed, called_name
from .problems import did_you_mean
from .scope import ANY, NUMERIC, FieldType, Scope, assignable, type_of_value

_ORDERED = (NUMERIC, frozenset({"text"}), frozenset({"date", "datetime"}), frozenset({"duration"}))
_OP_SYMBOL = {
    ast.Add: "+",
    ast.Sub: "-",
    ast.Mult: "*",
    ast.Div: "/",
    ast.FloorDiv: "//",
    ast.Mod: "%",
    ast.Pow: "**",
    ast.Lt: "<",
    ast.LtE: "<=",
    ast.Gt: ">",
    ast.GtE: ">=",
    ast.Eq: "==",
    ast.NotEq: "!=",
    ast.In: "in",
    ast.NotIn: "not in",
    ast.Is: "is",
    ast.IsNot: "is not",
}


def _field(type_name: str) -> FieldType:
    return ANY if type_name == "any" else FieldType(type_name)


class Checker:
    """Walks one parsed expression; afterwards `types`, `names`, `paths`, `functions`, `tables` hold what it read."""

    def __init__(
        self, parsed: Parsed, scope: Scope, specs: Mapping[str, FunctionSpec], tables: Mapping[str, Any] | None
    ):
        self.parsed, self.scope, self.specs, self.tables = parsed, scope, specs, tables
        self.types: dict[int, FieldType] = {}
        self.names: set[str] = set()
        self.paths: set[tuple[str, ...]] = set()
        self.functions: set[str] = set()
        self.tables_used: set[str] = set()

    def error(self, code: str, message: str, node: ast.AST, hint: str | None = None) -> ExpressionError:
        return ExpressionError(code, message, self.parsed.column(node), hint)

    def check(self) -> FieldType:
        return self.infer(self.parsed.tree.body)

    def infer(self, node: ast.AST) -> FieldType:
        method = getattr(self, "_" + type(node).__name__)
        result = method(node)
        self.types[id(node)] = result
        return result

    # -- leaves and reads ------------------------------------------------------------
    def _Constant(self, node: ast.Constant) -> FieldType:
        return _field(type_of_value(node.value))

    def _Name(self, node: ast.Name) -> FieldType:
        found = self.scope.lookup(node.id)
        if found is None:
            raise self.error(
                "expression.unknown_name", f"unknown name `{node.id}`", node, did_you_mean(node.id, self.scope.names())
            )
        self.names.add(node.id)
        self.paths.add((node.id,))
        return found

    def _Attribute(self, node: ast.Attribute) -> FieldType:
        base = self.infer(node.value)
        path = _dotted(node)
        if path:
            self.paths.discard(path[:-1])
            self.paths.add(path)
        if base.type in ("any", "null"):
            return ANY
        if base.type != "record":
            raise self.error(
                "expression.type",
                f"a {base.type} has no field `{node.attr}`",
                node,
                "only links (records) have fields; use a function such as lower(x) for values",
            )
        if base.record is None:
            return ANY
        linked = base.record.scope
        found = linked.lookup(node.attr)
        if found is None:
            where = ".".join(path[:-1]) if path else "the record"
            raise self.error(
                "expression.unknown_name",
                f"`{where}` has no field `{node.attr}`",
                node,
                did_you_mean(node.attr, linked.names()),
            )
        return found

    # -- operators -------------------------------------------------------------------
    def _BoolOp(self, node: ast.BoolOp) -> FieldType:
        kinds = {self.infer(value).type for value in node.values}
        return _field(kinds.pop()) if len(kinds) == 1 else ANY

    def _UnaryOp(self, node: ast.UnaryOp) -> FieldType:
        operand = self.infer(node.operand)
        if isinstance(node.op, ast.Not):
            return FieldType("boolean")
        if operand.type not in NUMERIC | {"any", "null", "duration"}:
            raise self.error("expression.type", f"cannot use a sign on a {operand.type}", node)
        return operand if operand.type != "null" else ANY

    def _BinOp(self, node: ast.BinOp) -> FieldType:
        left, right = self.infer(node.left).type, self.infer(node.right).type
        result = _binary_result(type(node.op), left, right)
        if result is None:
            symbol = _OP_SYMBOL[type(node.op)]
            raise self.error(
                "expression.type",
                f"cannot compute {left} {symbol} {right}",
                node,
                "arithmetic works on numbers, and on dates with days(), hours(), months()",
            )
        return _field(result)

    def _Compare(self, node: ast.Compare) -> FieldType:
        operands = [node.left, *node.comparators]
        types = [self.infer(operand) for operand in operands]
        for op, (a, b), (na, nb) in zip(node.ops, pairwise(types), pairwise(operands)):
            self._check_comparison(op, a, b, na, nb, node)
        return FieldType("boolean")

    def _check_comparison(
        self, op: ast.cmpop, a: FieldType, b: FieldType, na: ast.AST, nb: ast.AST, node: ast.Compare
    ) -> None:
        symbol = _OP_SYMBOL[type(op)]
        if isinstance(op, (ast.In, ast.NotIn)):
            if b.type not in ("list", "text", "record", "any", "null"):
                raise self.error("expression.type", f"cannot look inside a {b.type} with `{symbol}`", nb)
            if isinstance(nb, (ast.List, ast.Tuple)):
                for item in nb.elts:
                    self._check_choice(a, item)
            return
        if isinstance(op, (ast.Is, ast.IsNot)):
            return
        unknown = {"any", "null"}
        if a.type in unknown or b.type in unknown:
            self._check_choice(a, nb)
            self._check_choice(b, na)
            return
        same_family = any(a.type in family and b.type in family for family in _ORDERED) or a.type == b.type
        if not same_family:
            hint = (
                "write a date as date('2024-01-31')"
                if "text" in (a.type, b.type) and {"date", "datetime"} & {a.type, b.type}
                else None
            )
            raise self.error("expression.type", f"cannot compare a {a.type} with a {b.type} using {symbol}", node, hint)
        if isinstance(op, (ast.Lt, ast.LtE, ast.Gt, ast.GtE)) and a.type in ("boolean", "list", "record"):
            raise self.error("expression.type", f"a {a.type} cannot be ordered with {symbol}", node)
        self._check_choice(a, nb)
        self._check_choice(b, na)

    def _check_choice(self, field: FieldType, literal: ast.AST) -> None:
        """`gender == 'femal'`: the literal must be one of the select's options."""
        if field.choices is None or not isinstance(literal, ast.Constant) or literal.value is None:
            return
        if literal.value not in field.choices:
            options = ", ".join(sorted(map(str, field.choices)))
            hint = did_you_mean(str(literal.value), map(str, field.choices)) or f"the options are: {options}"
            raise self.error(
                "expression.choice", f"{literal.value!r} is not one of the options ({options})", literal, hint
            )

    def _IfExp(self, node: ast.IfExp) -> FieldType:
        self.infer(node.test)
        a, b = self.infer(node.body), self.infer(node.orelse)
        if a.type == b.type:
            return _field(a.type)
        if a.type == "null":
            return _field(b.type)
        if b.type == "null":
            return _field(a.type)
        if a.type in NUMERIC and b.type in NUMERIC:
            return FieldType("number")
        return ANY

    def _List(self, node: ast.List | ast.Tuple) -> FieldType:
        for item in node.elts:
            self.infer(item)
        return FieldType("list")

    _Tuple = _List

    # -- calls -----------------------------------------------------------------------
    def _Call(self, node: ast.Call) -> FieldType:
        name = called_name(node)
        if name == "decide" and "decide" not in self.specs:
            return self._decide(node)
        spec = self.specs.get(name)
        if spec is None:
            hint = did_you_mean(name, [*self.specs, "decide"] if self.tables is not None else self.specs)
            raise self.error("expression.unknown_function", f"unknown function `{name}`", node, hint)
        self.functions.add(name)
        count = len(node.args)
        if count < spec.min_args or (spec.max_args is not None and count > spec.max_args):
            wanted = (
                str(spec.min_args)
                if spec.max_args == spec.min_args
                else f"{spec.min_args} or more"
                if spec.max_args is None
                else f"{spec.min_args} to {spec.max_args}"
            )
            raise self.error(
                "expression.arity",
                f"{name}() takes {wanted} argument(s), got {count}",
                node,
                f"example: {spec.example}" if spec.example else None,
            )
        if node.keywords and not spec.keywords:
            raise self.error("expression.arity", f"{name}() takes no named arguments", node.keywords[0])
        for index, argument in enumerate(node.args):
            actual = self.infer(argument).type
            expected = spec.param_type(index)
            if not assignable(actual, expected):
                wanted = " or ".join(expected) if isinstance(expected, tuple) else expected
                raise self.error(
                    "expression.type",
                    f"{name}() needs a {wanted} here, not a {actual}",
                    argument,
                    f"example: {spec.example}" if spec.example else None,
                )
        for keyword in node.keywords:
            self.infer(keyword.value)
        return _field(spec.returns)

    def _decide(self, node: ast.Call) -> FieldType:
        if self.tables is None:
            raise self.error("expression.unknown_table", "decide() needs decision tables, and none are defined", node)
        if len(node.args) != 1 or not isinstance(node.args[0], ast.Constant) or not isinstance(node.args[0].value, str):
            raise self.error(
                "expression.arity", "decide() takes the table name as a quoted text, e.g. decide('bp_risk')", node
            )
        name = node.args[0].value
        table = self.tables.get(name)
        if table is None:
            raise self.error(
                "expression.unknown_table",
                f"unknown decision table `{name}`",
                node.args[0],
                did_you_mean(name, self.tables),
            )
        given = set()
        for keyword in node.keywords:
            if keyword.arg not in table.input_names:
                raise self.error(
                    "expression.unknown_name",
                    f"decision table `{name}` has no input `{keyword.arg}`",
                    keyword,
                    did_you_mean(keyword.arg or "", table.input_names),
                )
            given.add(keyword.arg)
            self.infer(keyword.value)
        self.functions.add("decide")
        self.tables_used.add(name)
        self.names.update(n for n in table.names if n not in given)
        self.paths.update(p for p in table.paths if p[0] not in given)
        return _field(table.output_type)


def _dotted(node: ast.AST) -> tuple[str, ...] | None:
    parts: list[str] = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        parts.append(node.id)
        return tuple(reversed(parts))
    return None


def _binary_result(op: type, left: str, right: str) -> str | None:
    """The result type of `left op right`, or None when the combination is a mistake."""
    unknown = {"any", "null"}
    if left in unknown and right in unknown:
        return "any"
    if left in NUMERIC and right in NUMERIC:
        if op is ast.Div:
            return "number"
        return left if left == right else "number"
    dates = {"date", "datetime"}
    if op is ast.Add:
        if left == right and left in ("text", "list", "duration"):
            return left
        if left in dates and right == "duration":
            return left
        if left == "duration" and right in dates:
            return right
    if op is ast.Sub:
        if left in dates and right == "duration":
            return left
        if left in dates and right in dates:
            return "duration"
        if left == right == "duration":
            return "duration"
    if op in (ast.Mult, ast.Div) and {left, right} <= NUMERIC | {"duration"} and "duration" in (left, right):
        return "duration"
    known = right if left in unknown else left if right in unknown else None
    if known is not None:
        if known in NUMERIC:
            return "any"
        if op in (ast.Add, ast.Sub) and known in dates | {"duration"}:
            return "any"
        if op is ast.Add and known in ("text", "list"):
            return known
    return None
