"""Meaning checks of a form's `public:` block: what a patient may fill without signing in.

A public form is the one place a stranger writes to the database, so its mapping is
checked strictly: the fields exist, none is computed, a link or a table (which would
let a stranger pick or name other records), every required field of the entity is
either on the form or set by the token, and the roles named exist and may create
the entity.
"""

from __future__ import annotations

from collections.abc import Iterator

from engines.rules import Problem

from .checks_common import CheckContext, check_localized, unknown
from .models import EntitySpec, FormSpec, PublicSpec

# Field types a stranger may not fill: they name other records or accounts, or hold files.
NOT_PUBLIC_TYPES = frozenset({"link", "user", "table", "file", "image", "state"})
MAX_EXPIRY_MINUTES = 90 * 24 * 60


def public_fields(form: FormSpec, entity: EntitySpec) -> list[str]:
    """The fields a patient fills: `public.fields`, else the layout's fields that are not computed."""
    public = form.public
    bind = public.bind if public is not None else None
    if public is not None and public.fields is not None:
        return [n for n in public.fields if n != bind]
    names = [n for section in form.layout for n in section.fields]
    return [n for n in names if n in entity.fields and entity.fields[n].compute is None and n != bind]


def public_roles(entity: EntitySpec, explicit: list[str] | None) -> list[str]:
    """The roles named, else every role that may create records of `entity`."""
    if explicit is not None:
        return list(explicit)
    return [role for role, grant in entity.permissions.items() if grant.create]


def expiry_minutes(text: str) -> int:
    """`7d` / `12h` / `30m` in minutes (the model's pattern has checked the shape)."""
    number, unit = int(text[:-1]), text[-1]
    return number * {"m": 1, "h": 60, "d": 24 * 60}[unit]


def check_public(ctx: CheckContext, name: str, form: FormSpec, entity: EntitySpec) -> Iterator[Problem]:
    """Every problem of form `name`'s `public:` block (the entity is known to exist)."""
    public = form.public
    assert public is not None
    loc = ("forms", name, "public")
    if "public" in ctx.roles:
        yield Problem(
            ("roles", "public"),
            "public.reserved_role",
            "the role name `public` is reserved: it is the actor of public forms",
            "rename the role",
        )
    yield from _check_mode(ctx, public, entity, loc)
    yield from _check_fields(form, public, entity, loc)
    for key in ("review_roles", "send_roles"):
        roles = getattr(public, key)
        for index, role in enumerate(roles or []):
            where = loc + (key, index)
            if role not in ctx.roles:
                yield unknown("role", role, ctx.roles, where, "public.unknown_role")
            elif not (entity.permissions.get(role) and entity.permissions[role].create):
                yield Problem(
                    where,
                    "public.role_cannot_create",
                    f"role `{role}` may not create `{form.entity}` records",
                    f"give it `create: true` under {form.entity}.permissions, or leave it out of `{key}`",
                )
    if expiry_minutes(public.expires) > MAX_EXPIRY_MINUTES:
        yield Problem(loc + ("expires",), "public.expiry_too_long", "a public link may last at most 90 days")
    for key in ("intro", "thanks"):
        text = getattr(public, key)
        if text is not None:
            yield from check_localized(text, loc + (key,), ctx.locales)


def _check_mode(ctx: CheckContext, public: PublicSpec, entity: EntitySpec, loc: tuple) -> Iterator[Problem]:
    if public.mode == "clinic":
        for key in ("bind", "greeting"):
            if getattr(public, key) is not None:
                yield Problem(
                    loc + (key,),
                    "public.clinic_bound",
                    f"a clinic-wide form has no `{key}`: its link is the same for everyone",
                    "use `mode: patient` to bind each link to one patient",
                )
        if public.reuse:
            yield Problem(loc + ("reuse",), "public.clinic_reuse", "`reuse` is for patient links only")
        return
    if public.review:
        yield Problem(
            loc + ("review",),
            "public.patient_review",
            "a patient's own link needs no review: it is bound to a known patient",
            "review is for clinic-wide forms (`mode: clinic`)",
        )
    if public.bind is None:
        yield Problem(
            loc,
            "public.bind_missing",
            "a patient link needs `bind`: the link field the token sets",
            "for example `bind: patient`",
        )
        return
    field = entity.fields.get(public.bind)
    if field is None:
        yield unknown("field", public.bind, entity.fields, loc + ("bind",), "public.unknown_field")
        return
    if field.type != "link" or not field.to:
        yield Problem(loc + ("bind",), "public.bind_not_link", f"`{public.bind}` is not a link field")
        return
    target = ctx.entities.get(field.to)
    if public.greeting is not None and target is not None:
        greeting = target.fields.get(public.greeting)
        if greeting is None:
            yield unknown(
                "field",
                public.greeting,
                target.fields,
                loc + ("greeting",),
                "public.unknown_field",
                f" in `{field.to}`",
            )
        elif greeting.sensitive or greeting.phi or greeting.encrypted:
            yield Problem(
                loc + ("greeting",),
                "public.greeting_protected",
                f"`{public.greeting}` is protected (sensitive, PHI or encrypted): a public page may not show it",
            )


def _check_fields(form: FormSpec, public: PublicSpec, entity: EntitySpec, loc: tuple) -> Iterator[Problem]:
    names = public_fields(form, entity)
    if public.fields is not None:
        for index, field_name in enumerate(public.fields):
            where = loc + ("fields", index)
            spec = entity.fields.get(field_name)
            if spec is None:
                yield unknown(
                    "field", field_name, entity.fields, where, "public.unknown_field", f" in entity `{form.entity}`"
                )
            elif field_name == public.bind:
                yield Problem(where, "public.bind_listed", f"`{field_name}` is set by the link, not by the patient")
            elif spec.compute is not None:
                yield Problem(where, "public.computed", f"`{field_name}` is computed: nobody fills it")
            elif spec.type in NOT_PUBLIC_TYPES:
                yield Problem(
                    where,
                    "public.field_type",
                    f"`{field_name}` is a {spec.type} field: a public form cannot offer it",
                    "a stranger must not pick or name other records; staff fill it later",
                )
    else:
        for field_name in names:
            spec = entity.fields[field_name]
            if spec.type in NOT_PUBLIC_TYPES:
                yield Problem(
                    loc,
                    "public.field_type",
                    f"`{field_name}` (a {spec.type} field) is on the layout: list the public `fields` without it",
                )
    if not names:
        yield Problem(loc, "public.no_fields", "a public form needs at least one field to fill")
    if not (public.mode == "clinic" and public.review):
        for field_name in names:
            spec = entity.fields.get(field_name)
            if spec is not None and spec.unique:
                yield Problem(
                    loc + (("fields", public.fields.index(field_name)) if public.fields else ()),
                    "public.unique_field",
                    f'`{field_name}` is unique: its "already used" would tell a stranger that the value is on file',
                    "hold submissions for staff (`mode: clinic` with `review: true`), or leave the field out",
                )
    offered = {n for n in names if n in entity.fields and entity.fields[n].type not in NOT_PUBLIC_TYPES}
    bind = entity.fields.get(public.bind) if public.mode == "patient" and public.bind else None
    if bind is not None and bind.type == "link":
        offered.add(str(public.bind))
    for field_name, spec in entity.fields.items():
        if public.mode == "patient" and (bind is None or bind.type != "link") and spec.type == "link":
            continue  # the broken `bind` is the problem, already reported
        if spec.required and spec.compute is None and spec.default is None and field_name not in offered:
            yield Problem(
                loc,
                "public.required_missing",
                f"`{field_name}` is required but not on the public form: no submission could be saved",
                f"add `{field_name}` to the public fields",
            )
