"""Meaning checks of an entity's `views:` (list, calendar, kanban).

Each view names fields; every name must exist and suit its role: a sort key or a
quick filter must be stored and not sensitive (ordering or filtering by a masked value
would leak it), a filter must be one that renders as a control (date range, select,
link picker, yes/no) rather than a free-text box, a calendar needs a datetime start and
an integer length, a kanban a select or state field.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from engines.rules import Problem

from .checks_common import CheckContext, check_localized, check_name, unknown
from .fieldtypes import FIELD_TYPES
from .models import EntitySpec, FieldSpec, ViewSpec

FILTER_TYPES = ("select", "state", "multi_select", "boolean", "link", "user", "date", "datetime")
GROUP_TYPES = ("link", "select", "state", "user")
BOARD_TYPES = ("select", "state")
HIDDEN_COLUMN_TYPES = ("table",)
SYSTEM_SORTS = ("id", "created_at", "updated_at")
KEYS = {
    "list": ("columns", "sort", "page_size", "filters"),
    "calendar": ("start", "minutes", "group_by"),
    "kanban": ("by", "card"),
}


def check_views(ctx: CheckContext, name: str, spec: EntitySpec) -> Iterator[Problem]:
    """Every problem of the entity's views (locs from the blueprint root)."""
    for view_name, view in spec.views.items():
        loc: tuple[Any, ...] = ("entities", name, "views", view_name)
        yield from check_name(view_name, loc, "view")
        kind = view.kind(view_name)
        if view.title is not None:
            yield from check_localized(view.title, loc + ("title",), ctx.locales)
        for other, keys in KEYS.items():
            if other == kind:
                continue
            for key in keys:
                if getattr(view, key) is not None:
                    yield Problem(
                        loc + (key,),
                        "view.wrong_key",
                        f"`{key}` belongs to a {other} view, and `{view_name}` is a {kind} view",
                        f"a {kind} view takes: {', '.join(KEYS[kind])}",
                    )
        if kind == "list":
            yield from _check_list(spec, view, loc)
        elif kind == "calendar":
            yield from _check_calendar(spec, view, loc)
        else:
            yield from _check_kanban(spec, view, loc)


def _field(spec: EntitySpec, field: str, loc: tuple[Any, ...]) -> tuple[FieldSpec | None, Problem | None]:
    found = spec.fields.get(field)
    if found is None:
        return None, unknown("field", field, spec.fields, loc, "view.unknown_field")
    return found, None


def _stored(field: FieldSpec) -> bool:
    kind = FIELD_TYPES.get(field.type)
    return kind is not None and kind.stored


def _check_list(spec: EntitySpec, view: ViewSpec, loc: tuple[Any, ...]) -> Iterator[Problem]:
    seen: set[str] = set()
    for index, column in enumerate(view.columns or []):
        where = loc + ("columns", index)
        field, problem = _field(spec, column, where)
        if problem:
            yield problem
        elif column in seen:
            yield Problem(where, "view.duplicate", f"`{column}` is listed twice in `columns`")
        elif field is not None and field.type in HIDDEN_COLUMN_TYPES:
            yield Problem(where, "view.bad_column", f"a `{field.type}` field cannot be a list column")
        seen.add(column)
    if view.sort is not None:
        key = view.sort.removeprefix("-")
        where = loc + ("sort",)
        if key not in SYSTEM_SORTS:
            field, problem = _field(spec, key, where)
            if problem:
                yield problem
            elif field is not None and (
                not _stored(field) or field.sensitive or field.encrypted or field.type in ("multi_select", "long_text")
            ):
                yield Problem(
                    where,
                    "view.bad_sort",
                    f"records cannot be sorted by `{key}`",
                    "sort by a stored field that is not sensitive, encrypted, multi-select or long text",
                )
    for index, name in enumerate(view.filters or []):
        where = loc + ("filters", index)
        field, problem = _field(spec, name, where)
        if problem:
            yield problem
        elif field is not None and (field.type not in FILTER_TYPES or field.sensitive or field.encrypted):
            yield Problem(
                where,
                "view.bad_filter",
                f"`{name}` cannot be a quick filter",
                "quick filters are dates, selects, states, yes/no and links (not sensitive or encrypted fields);"
                " text is found with the search box",
            )


def _check_calendar(spec: EntitySpec, view: ViewSpec, loc: tuple[Any, ...]) -> Iterator[Problem]:
    if view.start is None:
        yield Problem(loc, "view.missing_start", "a calendar view needs `start:` (a datetime field)")
    else:
        field, problem = _field(spec, view.start, loc + ("start",))
        if problem:
            yield problem
        elif field is not None and field.type != "datetime":
            yield Problem(
                loc + ("start",), "view.bad_start", f"`{view.start}` is a `{field.type}` field, not a datetime"
            )
    if view.minutes is not None:
        field, problem = _field(spec, view.minutes, loc + ("minutes",))
        if problem:
            yield problem
        elif field is not None and field.type != "integer":
            yield Problem(
                loc + ("minutes",), "view.bad_minutes", f"`{view.minutes}` is a `{field.type}` field, not an integer"
            )
    if view.group_by is not None:
        field, problem = _field(spec, view.group_by, loc + ("group_by",))
        if problem:
            yield problem
        elif field is not None and (field.type not in GROUP_TYPES or field.sensitive or field.encrypted):
            yield Problem(
                loc + ("group_by",),
                "view.bad_group_by",
                f"a calendar cannot have a column per `{view.group_by}`",
                "group by a link, select or state field",
            )


def _check_kanban(spec: EntitySpec, view: ViewSpec, loc: tuple[Any, ...]) -> Iterator[Problem]:
    if view.by is None:
        yield Problem(loc, "view.missing_by", "a kanban view needs `by:` (a select or state field)")
    else:
        field, problem = _field(spec, view.by, loc + ("by",))
        if problem:
            yield problem
        elif field is not None and (field.type not in BOARD_TYPES or field.sensitive or field.encrypted):
            yield Problem(
                loc + ("by",),
                "view.bad_by",
                f"a kanban needs a select or state field; `{view.by}` is a `{field.type}` field",
            )
    for index, name in enumerate(view.card or []):
        _, problem = _field(spec, name, loc + ("card", index))
        if problem:
            yield problem
