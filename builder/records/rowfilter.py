"""Row-level `where` filters compiled from an expression to SQL.

A permission's `where` (``consent_marketing == true``, ``doctor.user == user.id``)
must hold in the database query itself, so counts, search, links and pages all see
the same rows. Only a safe subset is translatable: comparisons of fields (one link
hop allowed) with literals or `user.*`, combined with and/or/not.

A link's `filter:` is compiled the same way, with `record.*` (the record being
written, or the form being filled) as constants: an empty `record` value compares
false with a column, and `record.x == null` asks whether it is empty.
"""

from __future__ import annotations

import ast
import functools
from collections.abc import Callable, Mapping
from typing import Any

import sqlalchemy as sa

_COMPARE = {
    ast.Eq: lambda a, b: a == b,
    ast.NotEq: lambda a, b: a != b,
    ast.Lt: lambda a, b: a < b,
    ast.LtE: lambda a, b: a <= b,
    ast.Gt: lambda a, b: a > b,
    ast.GtE: lambda a, b: a >= b,
}


_UNKNOWN = object()  # a `user.*` value the user does not have: compares false, never "is null"
_EMPTY = object()  # an empty `record.*` value: compares false with a column, equal to null as a constant


class UntranslatableFilter(ValueError):
    """The expression uses something a row filter cannot express in SQL."""


TableLookup = Callable[[str], sa.Table]
LinkTarget = Callable[[str, str], str | None]  # (entity, field) -> linked entity or None


@functools.lru_cache(maxsize=256)
def _parsed(source: str) -> ast.AST:
    """Parse a filter once; only the user's values differ between requests."""
    return ast.parse(source.strip(), mode="eval").body


def compile_row_filter(
    source: str,
    entity: str,
    tables: TableLookup,
    link_target: LinkTarget,
    user: dict[str, Any],
    record: Mapping[str, Any] | None = None,
) -> sa.ColumnElement[bool]:
    """A SQL clause true for exactly the rows the expression admits for `user` (and `record`, for a link filter)."""
    tree = _parsed(source)

    def operand(node: ast.AST) -> Any:
        if isinstance(node, ast.Constant):
            return node.value
        if isinstance(node, ast.Name):
            if node.id in ("true", "True"):
                return True
            if node.id in ("false", "False"):
                return False
            if node.id in ("none", "None", "null"):
                return None
            return tables(entity).c[node.id]
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
            root, attr = node.value.id, node.attr
            if root == "user":
                value = user.get(attr)
                return _UNKNOWN if value is None else value
            if root == "record" and record is not None:
                value = record.get(attr)
                return _EMPTY if value is None or value == "" or value == [] else value
            target = link_target(entity, root)
            if target is None:
                raise UntranslatableFilter(f"`{root}` is not a link")
            other = tables(target)
            return sa.select(other.c[attr]).where(other.c.id == tables(entity).c[root]).scalar_subquery()
        if isinstance(node, (ast.List, ast.Tuple)):
            return [operand(item) for item in node.elts]
        raise UntranslatableFilter(f"`{ast.unparse(node)}` cannot be used in a row filter")

    def clause(node: ast.AST) -> sa.ColumnElement[bool]:
        if isinstance(node, ast.BoolOp):
            parts = [clause(v) for v in node.values]
            return sa.and_(*parts) if isinstance(node.op, ast.And) else sa.or_(*parts)
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
            return sa.not_(clause(node.operand))
        if isinstance(node, ast.Compare) and len(node.ops) == 1:
            left, right, op = operand(node.left), operand(node.comparators[0]), node.ops[0]
            if left is _UNKNOWN or right is _UNKNOWN:
                return sa.false()
            if not _is_sql(left) and not _is_sql(right):
                return sa.true() if _constant_compare(op, left, right) else sa.false()
            if left is _EMPTY or right is _EMPTY:
                return sa.false()
            if isinstance(op, (ast.In, ast.NotIn)):
                if not isinstance(right, list):
                    raise UntranslatableFilter("`in` needs a list in a row filter")
                expr = left.in_(right)
                return sa.not_(expr) if isinstance(op, ast.NotIn) else expr
            if isinstance(op, (ast.Is, ast.IsNot)) or right is None:
                expr = left.is_(None) if right is None else left == right
                return sa.not_(expr) if isinstance(op, (ast.IsNot, ast.NotEq)) else expr
            if type(op) in _COMPARE:
                return (
                    sa.and_(left.is_not(None), _COMPARE[type(op)](left, right))
                    if hasattr(left, "is_not")
                    else _COMPARE[type(op)](left, right)
                )
        if isinstance(node, (ast.Name, ast.Attribute)):
            value = operand(node)
            if _is_sql(value):
                return value == sa.true()
            return sa.true() if value not in (_EMPTY, _UNKNOWN) and bool(value) else sa.false()
        raise UntranslatableFilter(f"`{ast.unparse(node)}` cannot be used in a row filter")

    return clause(tree)


def _is_sql(value: Any) -> bool:
    return isinstance(value, sa.ColumnElement) or hasattr(value, "is_not")


def _constant_compare(op: ast.cmpop, left: Any, right: Any) -> bool:
    """Two constants (`record.department == null`, `user.role == 'admin'`): decided here, not in SQL."""
    left, right = (None if v is _EMPTY else v for v in (left, right))
    if isinstance(op, (ast.In, ast.NotIn)):
        hit = isinstance(right, list) and left in right
        return hit if isinstance(op, ast.In) else not hit
    if isinstance(op, (ast.Eq, ast.Is)):
        return left == right
    if isinstance(op, (ast.NotEq, ast.IsNot)):
        return left != right
    if left is None or right is None or type(op) not in _COMPARE:
        return False
    try:
        return bool(_COMPARE[type(op)](left, right))
    except TypeError:
        return False
