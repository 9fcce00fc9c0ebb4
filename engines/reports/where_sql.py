"""A `where` in the rules language, compiled to a SQL condition.

Filtered measures (`status == 'no_show'`) and fixed filters must hold in the
database query itself, never in Python per row. Only a safe subset translates:
comparisons of field paths (across links too) with literals or other paths,
`in` lists, `is_empty(...)`, combined with and/or/not. Comparisons follow the
rules engine's meaning of an empty value: `status != 'done'` is true when the
status is empty, and an order comparison with an empty value is false.
The expression is parsed by the rules engine's parser, so the language (and its
refusals of unsafe constructs) stays one.
"""

from __future__ import annotations

import ast
import datetime as dt
from collections.abc import Callable
from typing import Any

import sqlalchemy as sa

from engines.rules import ExpressionError
from engines.rules.parsing import parse

Resolve = Callable[[str], Any]  # a dotted field path -> its SQL column


class WhereError(ValueError):
    """The expression uses something a report filter cannot express in SQL; `column` is where."""

    def __init__(self, message: str, column: int = 0, hint: str | None = None):
        super().__init__(message)
        self.column = column
        self.hint = hint


_ORDER = {
    ast.Lt: lambda a, b: a < b,
    ast.LtE: lambda a, b: a <= b,
    ast.Gt: lambda a, b: a > b,
    ast.GtE: lambda a, b: a >= b,
}


def path_of(node: ast.AST) -> str | None:
    """`a.b.c` as text when `node` is a name or a chain of attributes on one, else None."""
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        root = path_of(node.value)
        return None if root is None else f"{root}.{node.attr}"
    return None


def compile_where(source: str, resolve: Resolve) -> sa.ColumnElement[bool]:
    """The SQL condition of `source`; raises WhereError (with the column) when it cannot translate."""
    try:
        parsed = parse(source)
    except ExpressionError as exc:
        raise WhereError(exc.message, exc.column, exc.hint) from None

    def fail(node: ast.AST, message: str, hint: str | None = None) -> WhereError:
        return WhereError(message, parsed.column(node), hint)

    def column(node: ast.AST) -> Any:
        path = path_of(node)
        if path is None:
            raise fail(node, f"`{ast.unparse(node)}` cannot be used in a report filter")
        try:
            return resolve(path)
        except WhereError as exc:
            raise WhereError(str(exc), parsed.column(node), exc.hint) from None

    def literal(node: ast.AST, against: Any) -> Any:
        if isinstance(node, ast.Constant):
            return _constant(_typed(node.value, against))
        if isinstance(node, (ast.List, ast.Tuple)):
            return [literal(item, against) for item in node.elts]
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub) and isinstance(node.operand, ast.Constant):
            number = node.operand.value
            return _constant(-number) if isinstance(number, (int, float)) and not isinstance(number, bool) else None
        return None

    def operand(node: ast.AST, against: Any = None) -> tuple[Any, bool]:
        """(value, is_column)."""
        if path_of(node) is not None:
            return column(node), True
        value = literal(node, against)
        if value is None and not (isinstance(node, ast.Constant) and node.value is None):
            raise fail(node, f"`{ast.unparse(node)}` cannot be used in a report filter", "compare a field with a value")
        return value, False

    def compare(left_node: ast.AST, op: ast.cmpop, right_node: ast.AST) -> sa.ColumnElement[bool]:
        left, left_is_column = operand(left_node)
        right, right_is_column = operand(right_node, left if left_is_column else None)
        if not left_is_column and right_is_column:
            left, right = right, left
            op = _MIRROR.get(type(op), op)
            left_is_column, right_is_column = True, False
        if not left_is_column:
            raise fail(left_node, "a report filter compares a field", "name a field of the source entity")
        if isinstance(op, (ast.In, ast.NotIn)):
            if not isinstance(right, list):
                raise fail(right_node, "`in` needs a list of values here")
            inside = left.in_(right)
            return sa.or_(left.is_(None), sa.not_(inside)) if isinstance(op, ast.NotIn) else inside
        if right is None and not right_is_column:
            is_null = left.is_(None)
            return sa.not_(is_null) if isinstance(op, (ast.IsNot, ast.NotEq)) else is_null
        if isinstance(op, ast.Eq):
            return left == right
        if isinstance(op, ast.NotEq):
            if right_is_column:
                return left.is_distinct_from(right)
            return sa.or_(left.is_(None), left != right)
        if type(op) in _ORDER:
            return sa.and_(left.is_not(None), _ORDER[type(op)](left, right))
        raise fail(left_node, "this comparison cannot be used in a report filter")

    def clause(node: ast.AST) -> sa.ColumnElement[bool]:
        if isinstance(node, ast.BoolOp):
            parts = [clause(value) for value in node.values]
            return sa.and_(*parts) if isinstance(node.op, ast.And) else sa.or_(*parts)
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
            return sa.not_(clause(node.operand))
        if isinstance(node, ast.Compare):
            pairs = zip([node.left, *node.comparators], node.ops, node.comparators)
            return sa.and_(*(compare(a, op, b) for a, op, b in pairs))
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "is_empty":
            if len(node.args) != 1 or node.keywords:
                raise fail(node, "is_empty() takes one field")
            return column(node.args[0]).is_(None)
        if isinstance(node, ast.Constant) and isinstance(node.value, bool):
            return sa.true() if node.value else sa.false()
        if path_of(node) is not None:
            return column(node) == sa.true()
        raise fail(node, f"`{ast.unparse(node)}` cannot be used in a report filter", _HINT)

    return clause(parsed.tree.body)


_HINT = "use comparisons of fields with values, `in [...]`, is_empty(field), and/or/not"
_MIRROR: dict[type, ast.cmpop] = {ast.Lt: ast.Gt(), ast.Gt: ast.Lt(), ast.LtE: ast.GtE(), ast.GtE: ast.LtE()}


def _constant(value: Any) -> Any:
    """A value written in the blueprint, put in the SQL text rather than sent as a parameter.

    Then two measures with the same condition (`due`, and `no_show_rate` over it)
    read as the same aggregate, which SQLite and PostgreSQL compute once per row;
    as parameters (`?1`, `?5`) they differ and each is computed again. The value
    is rendered by SQLAlchemy's literal renderer for its type (quotes escaped);
    the viewer's parameters (dates, a doctor) stay parameters.
    """
    if value is None or isinstance(value, bool):
        return value  # compared with IS / rendered by the column's own boolean
    return sa.bindparam(None, value, literal_execute=True)


def _typed(value: Any, against: Any) -> Any:
    """An ISO date text compared with a date or datetime column becomes that value."""
    kind = getattr(against, "type", None)
    if isinstance(value, str) and isinstance(kind, (sa.Date, sa.DateTime)):
        try:
            moment = dt.datetime.fromisoformat(value)
        except ValueError:
            raise WhereError(f"`{value}` is not an ISO date (2026-03-01)") from None
        return moment if isinstance(kind, sa.DateTime) else moment.date()
    return value
