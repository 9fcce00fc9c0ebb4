"""Meaning checks of an entity's `permissions`: declared roles, real fields, no blind writes, valid row filters."""

from __future__ import annotations

from collections.abc import Iterator

from engines.rules import Loc, Problem, Scope

from .checks_common import CheckContext, unknown
from .checks_expressions import compile_checked, row_filter_problems
from .models import EntitySpec, PermissionSpec
from .scope import entity_scope


def check_permissions(ctx: CheckContext, entity: str, spec: EntitySpec, scope: Scope) -> Iterator[Problem]:
    """Every problem of the `permissions` block of `entity`."""
    where_scope = entity_scope(ctx.entities, entity, user=True, roles=ctx.roles, row_filter=True)
    for role, permission in spec.permissions.items():
        loc = ("entities", entity, "permissions", role)
        if role not in ctx.roles:
            hint_problem = unknown("role", role, ctx.roles, loc, "permission.unknown_role")
            hint = hint_problem.hint or ("declare it under `roles:`" if not ctx.roles else None)
            yield Problem(loc, "permission.unknown_role", f"unknown role `{role}`", hint)
        yield from _check_field_lists(entity, spec, permission, loc)
        if permission.where is not None:
            expression, problems = compile_checked(permission.where, where_scope, loc + ("where",), ctx.decision_tables)
            yield from problems
            if expression is not None:
                yield from row_filter_problems(permission.where, loc + ("where",))


def _check_field_lists(entity: str, spec: EntitySpec, permission: PermissionSpec, loc: Loc) -> Iterator[Problem]:
    for key in ("read", "write"):
        names = getattr(permission, key)
        if not isinstance(names, list):
            continue
        seen: set[str] = set()
        for index, name in enumerate(names):
            if name not in spec.fields:
                yield unknown(
                    "field", name, spec.fields, loc + (key, index), "permission.unknown_field", f" in entity `{entity}`"
                )
            elif name in seen:
                yield Problem(loc + (key, index), "permission.duplicate_field", f"`{name}` is listed twice")
            seen.add(name)
    read, write = permission.read, permission.write
    if read == "all" or write is None:
        return
    readable = set(read or [])
    if write == "all":
        if set(spec.fields) - readable:
            yield Problem(
                loc + ("write",),
                "permission.write_not_read",
                "`write: all` needs `read: all`: a role cannot change fields it cannot see",
                "list the writable fields, or make them readable",
            )
        return
    for index, name in enumerate(write):
        if name in spec.fields and name not in readable:
            yield Problem(
                loc + ("write", index),
                "permission.write_not_read",
                f"`{name}` is writable but not readable",
                f"add `{name}` to `read`",
            )
