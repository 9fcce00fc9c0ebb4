"""The blueprint's public forms, resolved once: fields, the bound entity, who may send and review."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from engines.forms import FormSpec, PublicSpec, public_fields, public_roles
from engines.forms.checks_public import expiry_minutes


@dataclass(frozen=True)
class PublicForm:
    """One form published as a public link."""

    name: str
    spec: FormSpec
    public: PublicSpec
    entity: str  # what a submission creates
    fields: tuple[str, ...]  # what the patient fills (never the bound link)
    bind: str | None  # patient mode: the link field set from the token
    bound_entity: str | None  # ...and the entity it points at (the patient's)
    send_roles: frozenset[str]
    review_roles: frozenset[str]
    expires: dt.timedelta

    @property
    def by_patient(self) -> bool:
        return self.public.mode == "patient"

    @property
    def reviewed(self) -> bool:
        return self.public.mode == "clinic" and self.public.review


def public_forms(blueprint: Any) -> dict[str, PublicForm]:
    """Every form with a `public:` block, by name (the blueprint has been checked)."""
    found: dict[str, PublicForm] = {}
    for name, spec in blueprint.forms.items():
        public = spec.public
        if public is None:
            continue
        entity = blueprint.entities[spec.entity]
        bound = entity.fields[public.bind].to if public.bind else None
        found[name] = PublicForm(
            name=name,
            spec=spec,
            public=public,
            entity=spec.entity,
            fields=tuple(public_fields(spec, entity)),
            bind=public.bind,
            bound_entity=bound,
            send_roles=frozenset(public_roles(entity, public.send_roles)),
            review_roles=frozenset(public_roles(entity, public.review_roles)),
            expires=dt.timedelta(minutes=expiry_minutes(public.expires)),
        )
    return found


def forms_to_send(catalog: dict[str, PublicForm], entity: str, role: str) -> list[PublicForm]:
    """The patient links a role may make from a record of `entity` (its record page offers them)."""
    return [f for f in catalog.values() if f.by_patient and f.bound_entity == entity and role in f.send_roles]
