"""Row-level `where` filters compiled from an expression to SQL.

A permission's `where` (``consent_marketing == true``, ``doctor.user == user.id``)
must hold in the database query itself, so counts, search, links and pages all see
the same rows. Only a safe subset is translatable: comparisons of fields (one link
hop allowed) with literals or `user.*`, combined with and/or/not.

A link's `filter:` is compiled the same way, with `record.*` (the record being
written, or the form being filled) as constants: an empty `record` value compares
false with a column, and `record.x == null` asks whether it is empty. `pinned_columns` reads
a filter the same way for the values it fixes on a new target record (a quick-create's prefill).
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


class RowFilters:
    """The row filters of one schema compiled, kept by (source, entity, user values).

    Every list and read asks for its actor's filter; compiling it again each time cost
    more than the SQL it adds. A clause is immutable, so one serves every query of the
    same user. At most `size` are kept (then all are dropped and kept afresh).
    """

    def __init__(self, tables: TableLookup, link_target: LinkTarget, size: int = 4096) -> None:
        self.tables, self.link_target, self.size = tables, link_target, size
        self._kept: dict[tuple[str, str, frozenset], sa.ColumnElement[bool]] = {}

    def clause(self, source: str, entity: str, user: dict[str, Any]) -> sa.ColumnElement[bool]:
        try:
            key = (source, entity, frozenset(user.items()))
            found = self._kept.get(key)
        except TypeError:  # a user value that cannot be a key (a list): compiled each time
            return compile_row_filter(source, entity, self.tables, self.link_target, user)
        if found is None:
            found = compile_row_filter(source, entity, self.tables, self.link_target, user)
            if len(self._kept) >= self.size:
                self._kept.clear()
            self._kept[key] = found
        return found


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


_OPEN: dict[str, Any] = {}  # a part that may hold or not: it pins nothing
_MISSING = object()


def pinned_columns(source: str, user: Mapping[str, Any], record: Mapping[str, Any]) -> dict[str, Any]:
    """The target fields the filter fixes to one value for this `user` and `record` (a quick-create's prefill).

    Read the same way `compile_row_filter` reads it: parts that compare constants are
    decided here (`record.department == null` is false once a department is chosen), an
    `and` joins what its parts pin, an `or` pins only what all its open parts agree on,
    and `field == value` (or `value == field`, `field in [value]`, a bare boolean
    `field`) pins `field`. Anything else (ranges, `!=`, `not`, a linked record's field)
    pins nothing; the write still checks the whole filter.
    """

    def constant(node: ast.AST) -> tuple[bool, Any]:
        if isinstance(node, ast.Constant):
            return True, node.value
        if isinstance(node, ast.Name) and node.id in ("true", "True", "false", "False", "none", "None", "null"):
            return True, {"t": True, "T": True, "f": False, "F": False}.get(node.id[0])
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in ("user", "record"):
            value = (user if node.value.id == "user" else record).get(node.attr)
            empty = value is None or value == "" or value == []
            return True, (_UNKNOWN if node.value.id == "user" else _EMPTY) if empty else value
        if isinstance(node, (ast.List, ast.Tuple)):
            items = [constant(item) for item in node.elts]
            return all(known for known, _ in items), [value for _, value in items]
        return False, None

    def column(node: ast.AST) -> str | None:
        if isinstance(node, ast.Name) and node.id not in ("true", "True", "false", "False", "none", "None", "null"):
            return node.id
        return None

    def pins(node: ast.AST) -> bool | dict[str, Any]:
        """True or False when decided without the database, else what the part pins."""
        if isinstance(node, ast.BoolOp):
            parts = [pins(v) for v in node.values]
            if isinstance(node.op, ast.And):
                if any(p is False for p in parts):
                    return False
                joined: dict[str, Any] = {}
                for part in parts:
                    if isinstance(part, dict):
                        for key, pinned in part.items():
                            if key in joined and joined[key] != pinned:
                                return False
                            joined[key] = pinned
                return joined if any(isinstance(p, dict) for p in parts) else True
            if any(p is True for p in parts):
                return True
            open_parts = [p for p in parts if isinstance(p, dict)]
            if not open_parts:
                return False
            return {k: v for k, v in open_parts[0].items() if all(p.get(k, _MISSING) == v for p in open_parts[1:])}
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
            inner = pins(node.operand)
            return (not inner) if isinstance(inner, bool) else dict(_OPEN)
        if isinstance(node, ast.Compare) and len(node.ops) == 1:
            op = node.ops[0]
            (left_known, left), (right_known, right) = constant(node.left), constant(node.comparators[0])
            if left_known and right_known:
                if left is _UNKNOWN or right is _UNKNOWN:
                    return False
                return _constant_compare(op, left, right)
            name = column(node.left) if right_known else column(node.comparators[0]) if left_known else None
            value = right if right_known else left
            if value is _UNKNOWN or value is _EMPTY:
                return False  # compares false with any column, as in SQL
            if name is None:
                return dict(_OPEN)
            if isinstance(op, ast.Eq) and value is not None and not isinstance(value, list):
                return {name: value}
            if isinstance(op, ast.In) and right_known and isinstance(value, list) and len(value) == 1:
                return {name: value[0]}
            return dict(_OPEN)
        bare = column(node)
        return {bare: True} if bare is not None else dict(_OPEN)

    found = pins(_parsed(source))
    return found if isinstance(found, dict) else {}
