"""What a list page shows: its columns, its filter controls and its sort links.

Everything is derived from the blueprint and the actor's grant: a field the role
cannot read never becomes a column, a filter or a sort key. Sensitive and
encrypted fields are not offered as filters or sort keys (masked values would
otherwise leak through ordering).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from builder.records import Actor, RecordService
from builder.records.compiled import CompiledEntity, CompiledField
from builder.records.policy import Grant
from engines.forms import ViewSpec

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
class Preset:
    label_key: str  # an i18n key (list.today, list.this_week...)
    url: str
    active: bool = False


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
    presets: list[Preset] = field(default_factory=list)
    search_url: str | None = None  # a link filter over many records: type-ahead (static/forms.js)


def sortable(field: CompiledField) -> bool:
    return (
        field.kind.stored
        and not field.spec.sensitive
        and not field.spec.encrypted
        and field.spec.type not in ("multi_select", "long_text")
    )


def list_view(entity: CompiledEntity, name: str | None) -> tuple[str, ViewSpec] | None:
    """The list view asked for by name, else the one named `list`, else the first list view; None: no views."""
    views = {n: v for n, v in entity.spec.views.items() if v.kind(n) == "list"}
    if name and name in views:
        return name, views[name]
    if "list" in views:
        return "list", views["list"]
    return next(iter(views.items()), None)


def list_columns(entity: CompiledEntity, grant: Grant, view: ViewSpec | None = None) -> list[str]:
    """The view's columns the role may read; without a view, the title field then the first short fields."""
    if view is not None and view.columns:
        return [n for n in view.columns if n in grant.readable and n in entity.fields]
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


def date_presets(name: str, widget: str, today: dt.date, base: str, query: Mapping[str, str]) -> list[Preset]:
    """Today, this week (Monday to Sunday), next 7 days, this month: links that fill the range."""
    monday = today - dt.timedelta(days=today.weekday())
    first = today.replace(day=1)
    next_month = (first + dt.timedelta(days=32)).replace(day=1)
    spans = [
        ("list.today", today, today),
        ("list.this_week", monday, monday + dt.timedelta(days=6)),
        ("list.next_7_days", today, today + dt.timedelta(days=6)),
        ("list.this_month", first, next_month - dt.timedelta(days=1)),
    ]
    presets = []
    for key, low, high in spans:
        low_text = low.isoformat() if widget == "date" else f"{low.isoformat()}T00:00"
        high_text = high.isoformat() if widget == "date" else f"{high.isoformat()}T23:59:59"
        active = query.get(f"{name}__gte") == low_text and query.get(f"{name}__lte") == high_text
        url = with_query(
            base, query, **{f"{name}__gte": low_text, f"{name}__lte": high_text}, after=None, skip=None, offset=None
        )
        presets.append(Preset(key, url, active))
    return presets


def filter_controls(
    service: RecordService,
    actor: Actor,
    entity: CompiledEntity,
    grant: Grant,
    query: Mapping[str, str],
    view: ViewSpec | None = None,
    base: str = "",
    ran: bool = True,
) -> list[FilterControl]:
    """The view's quick filters (or the first filterable fields), each rendered by its type."""
    controls: list[FilterControl] = []
    declared = view is not None and view.filters is not None
    names = view.filters if view is not None and view.filters is not None else list(entity.fields)
    today = service.clock().date()
    for name in names:
        if len(controls) >= MAX_FILTERS and not declared:
            break
        f = entity.fields.get(name)
        if f is None:
            continue
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
            raw = query.get(name, "")
            current = int(raw) if raw.isdigit() and len(raw) < 19 else None
            choices = link_choices(service, actor, f.spec.to, current)
            if choices.readable and (choices.search_url is not None or len(choices.options) <= SELECT_LIMIT):
                controls.append(
                    FilterControl(
                        name, label, "choice", options=choices.options, value=raw, search_url=choices.search_url
                    )
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
                    presets=date_presets(name, widget, today, base, query if ran else {}),  # never echo a refused query
                )
            )
    return controls
