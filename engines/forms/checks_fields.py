"""Meaning checks of one field: its type and options, flags that cannot go together, defaults, limits, expressions."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from engines.rules import Loc, Problem, Scope

from .checks_common import (
    CHILD_SYSTEM_COLUMNS,
    IDENTIFIER_LIMIT,
    SYSTEM_COLUMNS,
    CheckContext,
    check_localized,
    check_name,
    unknown,
)
from .checks_expressions import compile_checked, fits, row_filter_problems
from .fieldtypes import FIELD_TYPES, FieldValueError
from .messages import message
from .models import FieldSpec
from .schema import TYPE_OPTIONS
from .scope import default_is_expression, link_filter_scope, rule_type

TEXT_LIKE = frozenset({"text", "long_text", "phone", "email", "cn_resident_id"})
ENCRYPTABLE = TEXT_LIKE
NOT_UNIQUE = frozenset({"table", "multi_select", "long_text", "boolean"})
MAX_LENGTH_TYPES = frozenset({"text", "long_text", "phone", "email"})
NUMBER_TYPES = frozenset({"integer", "decimal"})
DATE_TYPES = frozenset({"date", "datetime"})


@dataclass(frozen=True)
class FieldScopes:
    """The record a field belongs to: its sibling names, and the scopes its expressions compile in."""

    field_names: frozenset[str]
    plain: Scope
    with_user: Scope


def searchable_type(type_name: str) -> bool:
    """Text kept in the entity's own table can be searched (select and state values too)."""
    kind = FIELD_TYPES.get(type_name)
    return kind is not None and kind.stored and kind.rule_type == "text"


def _takers(option: str) -> str:
    return ", ".join(sorted(name for name, kind in FIELD_TYPES.items() if option in kind.options_allowed))


def check_field(
    ctx: CheckContext, entity: str, name: str, spec: FieldSpec, loc: Loc, scopes: FieldScopes, in_table: bool = False
) -> Iterator[Problem]:
    """Every problem of one field (`loc` is the field's own path)."""
    reserved = CHILD_SYSTEM_COLUMNS + ("parent",) if in_table else SYSTEM_COLUMNS
    yield from check_name(name, loc, "field", reserved)
    for key in ("label", "help"):
        if getattr(spec, key) is not None:
            yield from check_localized(getattr(spec, key), loc + (key,), ctx.locales)
    yield from _check_renamed_from(name, spec, loc, scopes)
    kind = FIELD_TYPES.get(spec.type)
    if kind is None:
        yield unknown("field type", spec.type, FIELD_TYPES, loc + ("type",), "field.unknown_type")
        return
    for option in TYPE_OPTIONS:
        if getattr(spec, option) is not None and option not in kind.options_allowed:
            yield Problem(
                loc + (option,),
                "field.option_not_allowed",
                f"`{option}` does not apply to a `{spec.type}` field",
                f"it applies to: {_takers(option)}",
            )
    yield from (p.at(*loc) for p in kind.check(spec))
    yield from _check_type_specific(ctx, entity, name, spec, loc, scopes, in_table)
    yield from _check_flags(spec, loc)
    yield from _check_last4_search(spec, loc, in_table)
    yield from _check_default(ctx, spec, loc, scopes)
    yield from _check_limits(ctx, spec, loc, scopes)
    if spec.compute is not None:
        expression, problems = compile_checked(spec.compute, scopes.plain, loc + ("compute",), ctx.decision_tables)
        yield from problems
        yield from _check_result(expression, spec, loc + ("compute",), "computes")
        if expression is not None and name in expression.names:
            yield Problem(loc + ("compute",), "field.compute_cycle", f"`{name}` is computed from itself")
    for option in ("visible_if", "required_if", "readonly_if"):
        source = getattr(spec, option)
        if source is not None:
            yield from compile_checked(source, scopes.with_user, loc + (option,), ctx.decision_tables)[1]
    if spec.filter is not None and spec.type == "link":
        yield from check_link_filter(ctx, entity, spec, loc + ("filter",), in_table)


def _check_renamed_from(name: str, spec: FieldSpec, loc: Loc, scopes: FieldScopes) -> Iterator[Problem]:
    old = spec.renamed_from
    if old is None:
        return
    if old == name:
        yield Problem(
            loc + ("renamed_from",),
            "field.renamed_from_itself",
            f"`{name}` is renamed from itself",
            "remove `renamed_from` once the rename has been applied",
        )
    elif old in scopes.field_names:
        yield Problem(
            loc + ("renamed_from",),
            "field.renamed_from_current",
            f"`renamed_from: {old}` names a current field",
            "a field can only be renamed from a name no longer in use",
        )


def _check_type_specific(
    ctx: CheckContext, entity: str, name: str, spec: FieldSpec, loc: Loc, scopes: FieldScopes, in_table: bool
) -> Iterator[Problem]:
    if spec.type == "link" and spec.to and spec.to not in ctx.entities:
        yield unknown(
            "entity",
            spec.to,
            ctx.entities,
            loc + ("to",),
            "field.unknown_entity",
            message=f"link to unknown entity `{spec.to}`",
        )
    if spec.option_labels:
        for option, label in spec.option_labels.items():
            yield from check_localized(label, loc + ("option_labels", option), ctx.locales)
    if spec.type == "state" and spec.workflow and spec.workflow not in ctx.workflows:
        yield unknown(
            "workflow",
            spec.workflow,
            ctx.workflows,
            loc + ("workflow",),
            "field.unknown_workflow",
            message=f"workflow `{spec.workflow}` is not defined under `workflows:`",
        )
    if spec.type == "decimal" and spec.precision is not None and spec.scale is not None and spec.scale > spec.precision:
        yield Problem(
            loc + ("scale",),
            "field.bad_scale",
            f"`scale` ({spec.scale}) cannot be larger than `precision` ({spec.precision})",
        )
    if spec.type == "table" and spec.fields:
        if in_table:
            yield Problem(loc + ("type",), "field.nested_table", "a child table cannot hold another `table` field")
            return
        if len(f"{entity}__{name}") > IDENTIFIER_LIMIT:
            yield Problem(
                loc,
                "name.too_long",
                f"the child table `{entity}__{name}` would be longer than "
                f"{IDENTIFIER_LIMIT} characters; use shorter names",
            )
        from .scope import child_scope  # a child row sees its own fields and `parent`

        child = FieldScopes(
            frozenset(spec.fields),
            child_scope(ctx.entities, entity, name),
            child_scope(ctx.entities, entity, name, user=True, roles=ctx.roles),
        )
        for child_name, child_spec in spec.fields.items():
            yield from check_field(
                ctx, entity, child_name, child_spec, loc + ("fields", child_name), child, in_table=True
            )


def _check_flags(spec: FieldSpec, loc: Loc) -> Iterator[Problem]:
    computed = spec.compute is not None
    if computed and spec.required:
        yield Problem(
            loc + ("required",),
            "field.computed_required",
            "a computed field cannot be `required` (it is never typed in)",
        )
    if computed and spec.default is not None:
        yield Problem(loc + ("default",), "field.computed_default", "a computed field cannot have a `default`")
    if spec.encrypted:
        if spec.type not in ENCRYPTABLE:
            yield Problem(
                loc + ("encrypted",),
                "field.encrypted_type",
                f"a `{spec.type}` field cannot be encrypted",
                f"encryption applies to: {', '.join(sorted(ENCRYPTABLE))}",
            )
        if computed:
            yield Problem(loc + ("encrypted",), "field.encrypted_compute", "a computed field cannot be encrypted")
        if spec.searchable:
            yield Problem(
                loc + ("searchable",),
                "field.encrypted_search",
                "an encrypted field cannot be searchable",
                "encrypted values can only be matched exactly; remove `searchable`",
            )
    if spec.unique and spec.type in NOT_UNIQUE:
        yield Problem(loc + ("unique",), "field.unique_type", f"a `{spec.type}` field cannot be `unique`")
    if spec.searchable and not spec.encrypted and not searchable_type(spec.type):
        yield Problem(
            loc + ("searchable",),
            "field.not_searchable",
            f"a `{spec.type}` field cannot be searched",
            "search works on text, phone, e-mail, ID number, select and state fields",
        )
    if spec.max_length is not None and spec.type not in MAX_LENGTH_TYPES:
        yield Problem(
            loc + ("max_length",),
            "field.option_not_allowed",
            f"`max_length` does not apply to a `{spec.type}` field",
            f"it applies to: {', '.join(sorted(MAX_LENGTH_TYPES))}",
        )
    for key in ("min", "max"):
        if getattr(spec, key) is not None and spec.type not in NUMBER_TYPES | DATE_TYPES:
            yield Problem(
                loc + (key,),
                "field.option_not_allowed",
                f"`{key}` does not apply to a `{spec.type}` field",
                "it applies to: date, datetime, decimal, integer",
            )


def _check_last4_search(spec: FieldSpec, loc: Loc, in_table: bool) -> Iterator[Problem]:
    """`last4_search` only on an encrypted phone of an entity: a plain phone has its last 4 digits indexed anyway."""
    if not spec.last4_search:
        return
    where = loc + ("last4_search",)
    if spec.type != "phone":
        yield Problem(
            where,
            "field.last4_search_type",
            f"`last4_search` does not apply to a `{spec.type}` field",
            "it applies to encrypted phone fields",
        )
    elif not spec.encrypted:
        yield Problem(
            where,
            "field.last4_search_plain",
            "`last4_search` is for encrypted phones",
            "a phone that is not encrypted is searched by its last 4 digits already; remove `last4_search`",
        )
    elif in_table:
        yield Problem(
            where,
            "field.last4_search_table",
            "`last4_search` does not apply to a field of a child table",
            "search looks at the entity's own fields; remove `last4_search`",
        )


def _check_result(expression: Any, spec: FieldSpec, loc: Loc, verb: str) -> Iterator[Problem]:
    """A computed value or default must be of the field's kind (a text cannot fill a date)."""
    if expression is None:
        return
    expected = rule_type(spec, {}).type
    actual = getattr(expression, "type", "any")
    if not fits(actual, expected):
        yield Problem(
            loc,
            "field.expression_type",
            f"the expression {verb} a {actual}, but the field holds a {expected} (`{spec.type}`)",
        )


def _value_problem(exc: FieldValueError, what: str, value: Any, spec: FieldSpec, loc: Loc, code: str) -> Problem:
    return Problem(
        loc, code, f"{what} {value!r} is not a valid `{spec.type}` value: {message(exc.code, 'en', **exc.params)}"
    )


def _check_default(ctx: CheckContext, spec: FieldSpec, loc: Loc, scopes: FieldScopes) -> Iterator[Problem]:
    if spec.default is None or spec.compute is not None:
        return
    kind = FIELD_TYPES[spec.type]
    where = loc + ("default",)
    if default_is_expression(spec):
        expression, problems = compile_checked(spec.default, scopes.with_user, where, ctx.decision_tables)
        yield from problems
        yield from _check_result(expression, spec, where, "gives")
        return
    try:
        value = kind.coerce(spec.default, spec)
        if not kind.is_empty(value):
            kind.validate(value, spec, _literal(spec, spec.min), _literal(spec, spec.max))
    except FieldValueError as exc:
        yield _value_problem(exc, "default", spec.default, spec, where, "field.bad_default")
    except (TypeError, ValueError, ArithmeticError):
        pass  # limits that are themselves wrong are reported by the limit checks


def _literal(spec: FieldSpec, limit: Any) -> Any:
    """A literal limit as a value of the field's type (None for an expression or nothing)."""
    if limit is None or isinstance(limit, (str, bool)):
        return None
    try:
        return FIELD_TYPES[spec.type].coerce(limit, spec)
    except (FieldValueError, TypeError, ValueError, ArithmeticError):
        return None


def _looks_like_iso_date(text: str) -> bool:
    try:
        dt.datetime.fromisoformat(text.strip())
    except ValueError:
        return False
    return True


def _check_limits(ctx: CheckContext, spec: FieldSpec, loc: Loc, scopes: FieldScopes) -> Iterator[Problem]:
    kind = FIELD_TYPES[spec.type]
    for key in ("min", "max"):
        limit = getattr(spec, key)
        where = loc + (key,)
        if limit is None or spec.type not in NUMBER_TYPES | DATE_TYPES:
            continue
        if spec.type in NUMBER_TYPES:
            if isinstance(limit, bool) or not isinstance(limit, (int, float)):
                yield Problem(where, "field.bad_limit", f"`{key}` of a `{spec.type}` field must be a number")
            continue
        if isinstance(limit, str):
            if _looks_like_iso_date(limit):
                yield Problem(
                    where,
                    "field.bad_limit",
                    f'`{key}: "{limit}"` is text, not a date',
                    f"write the date without quotes ({limit}) or as date('{limit}')",
                )
                continue
            expression, problems = compile_checked(limit, scopes.plain, where, ctx.decision_tables)
            yield from problems
            yield from _check_result(expression, spec, where, "gives")
            continue
        try:
            kind.coerce(limit, spec)
        except FieldValueError as exc:
            yield _value_problem(exc, f"`{key}`", limit, spec, where, "field.bad_limit")
    low, high = _literal(spec, spec.min), _literal(spec, spec.max)
    if low is not None and high is not None:
        try:
            wrong = low > high
        except TypeError:
            wrong = False
        if wrong:
            yield Problem(loc + ("min",), "field.limit_order", f"`min` ({spec.min}) is larger than `max` ({spec.max})")


def check_fields(
    ctx: CheckContext, entity: str, fields: Mapping[str, FieldSpec], loc: Loc, scopes: FieldScopes
) -> Iterator[Problem]:
    """Every field of an entity."""
    for name, spec in fields.items():
        yield from check_field(ctx, entity, name, spec, loc + (name,), scopes)


def check_link_filter(ctx: CheckContext, entity: str, spec: FieldSpec, loc: Loc, in_table: bool) -> Iterator[Problem]:
    """A link's `filter:` names real fields of the target (bare) and of the record (`record.x`), and fits SQL."""
    if in_table:
        yield Problem(loc, "field.filter_in_table", "a link in a child table cannot have a `filter`")
        return
    target = ctx.entities.get(spec.to or "")
    if target is None:
        return  # the unknown target is reported once, by `to`
    scope = link_filter_scope(ctx.entities, entity, spec.to or "", roles=ctx.roles)
    expression, problems = compile_checked(spec.filter, scope, loc, ctx.decision_tables)
    yield from problems
    if expression is None:
        return
    yield from row_filter_problems(spec.filter or "", loc, code="field.filter_unsupported", what="a link filter")
    for name in sorted(expression.names & set(target.fields)):
        field = target.fields[name]
        kind = FIELD_TYPES.get(field.type)
        if field.encrypted or (kind is not None and not kind.stored):
            yield Problem(
                loc,
                "field.filter_field",
                f"`{name}` of `{spec.to}` cannot be compared in a filter (it is encrypted or a child table)",
                "compare plain fields of the target",
            )
