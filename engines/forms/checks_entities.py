"""Meaning checks of one entity: its name, title and search fields, renames, fields and validations."""

from __future__ import annotations

from collections.abc import Iterator

from engines.rules import Problem

from .checks_common import SYSTEM_TABLE_PREFIX, CheckContext, check_localized, check_name, unknown
from .checks_expressions import compile_checked
from .checks_fields import FieldScopes, check_fields, searchable_type
from .checks_permissions import check_permissions
from .checks_related import check_related
from .checks_views import check_views
from .fieldtypes import FIELD_TYPES
from .models import EntitySpec
from .scope import entity_scope
from .tasks import check_tasks

# Entity names the web app's own paths use (`/api/tasks` would hide an entity `tasks`).
RESERVED_ENTITY_NAMES = ("tasks", "search")


def record_scopes(ctx: CheckContext, name: str) -> FieldScopes:
    """The names and scopes every expression of entity `name` is checked with."""
    spec = ctx.entities[name]
    return FieldScopes(
        frozenset(spec.fields),
        entity_scope(ctx.entities, name),
        entity_scope(ctx.entities, name, user=True, roles=ctx.roles),
    )


def check_entity(ctx: CheckContext, name: str, spec: EntitySpec) -> Iterator[Problem]:
    """Every problem of entity `name` (locs from the blueprint root)."""
    loc = ("entities", name)
    yield from check_name(name, loc, "entity")
    if name in RESERVED_ENTITY_NAMES:
        yield Problem(loc, "name.reserved", f"`{name}` is a page of the app (`/{name}`); choose another entity name")
    if name.startswith(SYSTEM_TABLE_PREFIX):
        yield Problem(
            loc,
            "name.reserved",
            f"entity names may not start with `{SYSTEM_TABLE_PREFIX}`",
            "the builder's own tables use that prefix",
        )
    if spec.title is not None:
        yield from check_localized(spec.title, loc + ("title",), ctx.locales)
    yield from _check_renamed_from(ctx, name, spec)
    scopes = record_scopes(ctx, name)
    yield from check_fields(ctx, name, spec.fields, loc + ("fields",), scopes)
    yield from _check_title_and_search(name, spec)
    yield from _check_validations(ctx, name, spec, scopes)
    yield from check_permissions(ctx, name, spec, scopes.with_user)
    yield from check_tasks(ctx.entities, name)
    yield from check_related(ctx.entities, name)
    yield from check_views(ctx, name, spec)


def _check_renamed_from(ctx: CheckContext, name: str, spec: EntitySpec) -> Iterator[Problem]:
    old = spec.renamed_from
    if old is None:
        return
    where = ("entities", name, "renamed_from")
    if old == name:
        yield Problem(
            where,
            "entity.renamed_from_itself",
            f"`{name}` is renamed from itself",
            "remove `renamed_from` once the rename has been applied",
        )
    elif old in ctx.entities:
        yield Problem(
            where,
            "entity.renamed_from_current",
            f"`renamed_from: {old}` names a current entity",
            "an entity can only be renamed from a name no longer in use",
        )
    else:
        earlier = [other for other, o in ctx.entities.items() if o.renamed_from == old and other != name]
        if earlier and list(ctx.entities).index(earlier[0]) < list(ctx.entities).index(name):
            yield Problem(where, "entity.renamed_from_twice", f"`{earlier[0]}` is already renamed from `{old}`")


def _check_title_and_search(name: str, spec: EntitySpec) -> Iterator[Problem]:
    loc = ("entities", name)
    if spec.title_field is not None:
        field = spec.fields.get(spec.title_field)
        if field is None:
            yield unknown("field", spec.title_field, spec.fields, loc + ("title_field",), "entity.unknown_field")
        elif (
            field.type in FIELD_TYPES
            and not searchable_type(field.type)
            and field.type not in ("integer", "date", "datetime")
        ):
            yield Problem(
                loc + ("title_field",),
                "entity.bad_title_field",
                f"a `{field.type}` field cannot be the title of a record",
                "choose a text, number or date field",
            )
    seen: set[str] = set()
    for index, field_name in enumerate(spec.search):
        where = loc + ("search", index)
        field = spec.fields.get(field_name)
        if field is None:
            yield unknown("field", field_name, spec.fields, where, "entity.unknown_field")
        elif field_name in seen:
            yield Problem(where, "entity.duplicate_search", f"`{field_name}` is listed twice in `search`")
        elif field.encrypted:
            yield Problem(
                where,
                "entity.encrypted_search",
                f"`{field_name}` is encrypted and cannot be searched",
                "encrypted values can only be matched exactly; remove it from `search`",
            )
        elif field.type in FIELD_TYPES and not searchable_type(field.type):
            yield Problem(
                where,
                "entity.not_searchable",
                f"`{field_name}` cannot be searched: `{field.type}` fields are not text",
                "search works on text, phone, e-mail, ID number, select and state fields",
            )
        seen.add(field_name)
    for index, field_name in enumerate(spec.subtitle or []):
        if field_name not in spec.fields:
            yield unknown("field", field_name, spec.fields, loc + ("subtitle", index), "entity.unknown_field")


def _check_validations(ctx: CheckContext, name: str, spec: EntitySpec, scopes: FieldScopes) -> Iterator[Problem]:
    for index, validation in enumerate(spec.validations):
        loc = ("entities", name, "validations", index)
        yield from compile_checked(validation.rule, scopes.with_user, loc + ("rule",), ctx.decision_tables)[1]
        yield from check_localized(validation.message, loc + ("message",), ctx.locales)
        for position, field_name in enumerate(validation.fields or []):
            if field_name not in spec.fields:
                yield unknown("field", field_name, spec.fields, loc + ("fields", position), "validation.unknown_field")
