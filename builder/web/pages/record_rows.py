"""Short record tables inside other pages (a patient's visits, the home page's panels): columns and cells.

Cells are what a person reads: option labels, linked records' titles looked up with
the viewer's rights, users' names; one query per linked entity and one for users,
however many rows there are.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from builder.records import Actor, RecordService
from builder.records.compiled import CompiledEntity

from ..presenting import display, link_titles, record_title
from .choices import user_names

MAX_COLUMNS = 5
SKIPPED_TYPES = ("long_text", "table", "multi_select")


def default_columns(entity: CompiledEntity, readable: Collection[str], skip: Collection[str] = ()) -> list[str]:
    """The title field, then the first short fields the viewer may read (not those in `skip`)."""
    names = []
    title = entity.spec.title_field
    if title and title in readable and title not in skip:
        names.append(title)
    for name, f in entity.fields.items():
        if len(names) >= MAX_COLUMNS:
            break
        if name in names or name in skip or name not in readable:
            continue
        if f.spec.type in SKIPPED_TYPES or f.spec.encrypted or not f.kind.stored:
            continue
        names.append(name)
    return names


def present_rows(
    service: RecordService, actor: Actor, entity: CompiledEntity, items: list[dict[str, Any]], columns: list[str]
) -> list[dict[str, Any]]:
    """[{id, title, href, cells, values}] for `items` as the list service returned them."""
    titles = link_titles(service, actor, entity, items)
    user_fields = [n for n in columns if entity.fields[n].spec.type == "user"]
    users = user_names(service, {i[n] for i in items for n in user_fields if isinstance(i.get(n), int)})
    rows = []
    for item in items:
        cells = []
        for name in columns:
            value = item.get(name)
            if name in user_fields and isinstance(value, int):
                cells.append(users.get(value, f"#{value}"))
            else:
                cells.append(display(entity.fields[name], value, actor.locale, titles))
        rows.append(
            {
                "id": item["id"],
                "title": record_title(entity, item),
                "href": f"/records/{entity.name}/{item['id']}",
                "cells": cells,
                "item": item,
                "titles": titles,
            }
        )
    return rows
