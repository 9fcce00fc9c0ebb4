"""Options for link and user fields: records the actor may see, or a type-ahead when there are many."""

from __future__ import annotations

from dataclasses import dataclass, field

import sqlalchemy as sa

from builder.records import Actor, PermissionDenied, RecordService
from builder.records.link_filters import LinkChoice, record_names
from builder.system_tables import users as users_table

from ..presenting import titles_for
from .pickers import PICK_LIMIT, filtered_picker_url, option_label, picker_fields, picker_url

SELECT_LIMIT = 100  # more records than this: a search box refreshes the options (static/forms.js)
TYPEAHEAD_FIRST = PICK_LIMIT


@dataclass
class Choices:
    """The options of one link field as (value, label); `search_url` set when type-ahead is needed."""

    options: list[tuple[str, str]] = field(default_factory=list)
    search_url: str | None = None
    readable: bool = True
    pick_url: str | None = None  # a filtered link: where forms.js re-reads the options as the form changes
    depends: list[str] = field(default_factory=list)  # the form's fields the filter reads (`record.x`)
    create_url: str | None = None  # quick-create of a target (the role may create one), returning here
    create_label: str = ""


def link_choices(
    service: RecordService, actor: Actor, target: str, current: int | None, choosing: LinkChoice | None = None
) -> Choices:
    """Records of `target` the actor may see and the link's filter admits (the current value always included)."""
    try:
        entity = service.entities[target]
        page = service.list(
            actor, target, limit=SELECT_LIMIT + 1, fields=picker_fields(entity), count="none", choosing=choosing
        )
    except PermissionDenied:
        return Choices(readable=False)
    many = len(page.items) > SELECT_LIMIT  # no count needed: one row more than a select shows tells
    items = page.items[:TYPEAHEAD_FIRST] if many else page.items
    options = [(str(item["id"]), option_label(entity, item, actor.locale)) for item in items]
    if current is not None and str(current) not in {v for v, _ in options}:
        title = titles_for(service, actor, target, {current}).get((target, current), f"#{current}")
        options.insert(0, (str(current), title))
    filtered = choosing is not None and bool(service.entity(choosing.entity).fields[choosing.field].spec.filter)
    if not filtered or choosing is None:
        return Choices(options, picker_url(target) if many else None)
    source = service.entity(choosing.entity).fields[choosing.field].spec.filter or ""
    depends = sorted(n for n in record_names(source) if n in service.entity(choosing.entity).fields)
    url = filtered_picker_url(choosing.entity, choosing.field)
    return Choices(options, url if many else None, pick_url=url, depends=depends)


def user_choices(service: RecordService) -> Choices:
    """Login accounts (for `user` fields); names only."""
    with service.engine.connect() as conn:
        rows = conn.execute(
            sa.select(users_table.c.id, users_table.c.name).order_by(users_table.c.name).limit(500)
        ).all()
    return Choices([(str(r.id), r.name) for r in rows])


def user_names(service: RecordService, ids: set[int]) -> dict[int, str]:
    if not ids:
        return {}
    with service.engine.connect() as conn:
        rows = conn.execute(sa.select(users_table.c.id, users_table.c.name).where(users_table.c.id.in_(ids))).all()
    return {r.id: r.name for r in rows}
