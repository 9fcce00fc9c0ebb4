"""What a list page shows: its columns, its filter controls and its sort links.

Everything is derived from the blueprint and the actor's grant: a field the role
cannot read never becomes a column, a filter or a sort key. Sensitive and
encrypted fields are not offered as filters or sort keys (masked values would
otherwise leak through ordering).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from builder.records import Actor, RecordService
from builder.records.compiled import CompiledEntity, CompiledField
from builder.records.policy import Grant

from ..presenting import field_label
from .choices import SELECT_LIMIT, link_choices

MAX_COLUMNS = 6
MAX_FILTERS = 6
CHOICE_TYPES = ("select", "state", "multi_select", "boolean")
RANGE_TYPES = ("date", "datetime")
SKIPPED_COLUMN_TYPES = ("long_text", "table")


@dataclass
class Column:
    name: str
    label: str
    sort_url: str | None = None
    sorted: str = ""  # "asc", "desc" or ""


@dataclass
class FilterControl:
    name: str
    label: str
    kind: str  # "choice" or "range"
    widget: str = "select"
    options: list[tuple[str, str]] = field(default_factory=list)
    value: str = ""
    low: str = ""
    high: str = ""


def sortable(field: CompiledField) -> bool:
    return (
        field.kind.stored
        and not field.spec.sensitive
        and not field.spec.encrypted
        and field.spec.type not in ("multi_select", "long_text")
    )


def list_columns(entity: CompiledEntity, grant: Grant) -> list[str]:
    """The title field first, then the first readable short fields, in blueprint order."""
    names = []
    title = entity.spec.title_field
    if title and title in grant.readable:
        names.append(title)
    for name, f in entity.fields.items():
        if len(names) >= MAX_COLUMNS:
            break
        if name in names or name not in grant.readable or f.spec.type in SKIPPED_COLUMN_TYPES or f.spec.encrypted:
            continue
        names.append(name)
    return names


def with_query(base: str, query: Mapping[str, str], **changes: Any) -> str:
    merged = {k: v for k, v in query.items() if v != ""}
    for key, value in changes.items():
        if value in (None, ""):
            merged.pop(key, None)
        else:
            merged[key] = str(value)
    return f"{base}?{urlencode(merged)}" if merged else base


def columns_with_sort(
    entity: CompiledEntity, names: list[str], base: str, query: Mapping[str, str], locale: str
) -> list[Column]:
    current = (query.get("sort") or "").split(",")[0]
    columns = []
    for name in names:
        f = entity.fields[name]
        column = Column(name, field_label(f, locale))
        if sortable(f):
            if current == name:
                column.sorted, target = "asc", f"-{name}"
            elif current == f"-{name}":
                column.sorted, target = "desc", name
            else:
                target = name
            column.sort_url = with_query(base, query, sort=target, offset=None)
        columns.append(column)
    return columns


def filter_controls(
    service: RecordService, actor: Actor, entity: CompiledEntity, grant: Grant, query: Mapping[str, str]
) -> list[FilterControl]:
    controls: list[FilterControl] = []
    for name, f in entity.fields.items():
        if len(controls) >= MAX_FILTERS:
            break
        if name not in grant.readable or not f.kind.stored or f.spec.sensitive or f.spec.encrypted:
            continue
        label = field_label(f, actor.locale)
        if f.spec.type in CHOICE_TYPES:
            if f.spec.type == "boolean":
                options = [
                    ("true", f.kind.display(True, f.spec, actor.locale)),
                    ("false", f.kind.display(False, f.spec, actor.locale)),
                ]
            else:
                options = [(o, f.kind.option_label(o, f.spec, actor.locale)) for o in f.spec.options or []]
            controls.append(FilterControl(name, label, "choice", options=options, value=query.get(name, "")))
        elif f.spec.type == "link" and f.spec.to:
            choices = link_choices(service, actor, f.spec.to, None)
            if choices.readable and choices.search_url is None and len(choices.options) <= SELECT_LIMIT:
                controls.append(
                    FilterControl(name, label, "choice", options=choices.options, value=query.get(name, ""))
                )
        elif f.spec.type in RANGE_TYPES:
            widget = "date" if f.spec.type == "date" else "datetime-local"
            controls.append(
                FilterControl(
                    name,
                    label,
                    "range",
                    widget=widget,
                    low=query.get(f"{name}__gte", ""),
                    high=query.get(f"{name}__lte", ""),
                )
            )
    return controls
