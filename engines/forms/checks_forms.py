"""Meaning checks of the `forms` section: a real entity, its real fields, each field once."""

from __future__ import annotations

from collections.abc import Iterator

from engines.rules import Problem

from .checks_common import CheckContext, check_localized, check_name, unknown
from .checks_expressions import compile_checked
from .checks_public import check_public
from .models import FormSpec
from .scope import entity_scope


def check_form(ctx: CheckContext, name: str, form: FormSpec) -> Iterator[Problem]:
    """Every problem of form `name`."""
    loc = ("forms", name)
    yield from check_name(name, loc, "form")
    if form.title is not None:
        yield from check_localized(form.title, loc + ("title",), ctx.locales)
    entity = ctx.entities.get(form.entity)
    if entity is None:
        yield unknown("entity", form.entity, ctx.entities, loc + ("entity",), "form.unknown_entity")
        return
    scope = entity_scope(ctx.entities, form.entity, user=True, roles=ctx.roles)
    first_seen: dict[str, int] = {}
    for index, section in enumerate(form.layout):
        where = loc + ("layout", index)
        yield from check_localized(section.section, where + ("section",), ctx.locales)
        for option in ("visible_if", "required_if", "readonly_if"):
            source = getattr(section, option)
            if source is not None:
                yield from compile_checked(source, scope, where + (option,), ctx.decision_tables)[1]
        for position, field_name in enumerate(section.fields):
            field_loc = where + ("fields", position)
            if field_name not in entity.fields:
                yield unknown(
                    "field", field_name, entity.fields, field_loc, "form.unknown_field", f" in entity `{form.entity}`"
                )
            elif field_name in first_seen:
                yield Problem(
                    field_loc,
                    "form.duplicate_field",
                    f"`{field_name}` is already on this form",
                    f"it is in section {first_seen[field_name] + 1}; a field appears once per form",
                )
            else:
                first_seen[field_name] = index
    if form.public is not None:
        yield from check_public(ctx, name, form, entity)
