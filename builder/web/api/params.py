"""List parameters (search, filters, sort, paging) read from a query string.

`?q=wang&stage=active&starts_at__gte=2026-01-01&sort=-starts_at,name&limit=50&offset=0`.
Only the shape is checked here (numbers are numbers, text is storable, the filter
key is one the API documents, see `filters.py`); which fields may be filtered or
sorted is the record service's decision, made with the actor's rights, so a
hidden field is refused exactly like a missing one.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from builder.records import FieldError
from builder.records.compiled import CompiledEntity
from builder.records.counting import COUNT_MODES
from builder.records.querying import MAX_LIMIT
from engines.forms import message

from ..inputs import coercion_crash, unstorable_text
from .filters import MAX_PARAM_LENGTH, accepted_keys

RESERVED = ("q", "sort", "limit", "offset", "count", "after", "fields")
MAX_OFFSET = 10**9


class BadParameters(Exception):
    """The query string cannot be a list request; rendered as 400."""

    def __init__(self, errors: list[FieldError]):
        super().__init__("; ".join(e.message for e in errors))
        self.errors = errors


@dataclass
class ListParams:
    q: str | None = None
    filters: dict[str, Any] = field(default_factory=dict)
    sort: str | None = None
    limit: int = 50
    offset: int = 0
    count: str = "auto"
    after: str | None = None
    fields: list[str] | None = None  # sparse fields: only these (and id, version, timestamps) come back

    def as_kwargs(self) -> dict[str, Any]:
        return {
            "q": self.q,
            "filters": self.filters,
            "sort": self.sort,
            "limit": self.limit,
            "offset": self.offset,
            "count": self.count,
            "after": self.after,
        }


def _integer(name: str, raw: str, low: int, high: int, locale: str, errors: list[FieldError]) -> int | None:
    try:
        value = int(raw.strip())
    except ValueError:
        errors.append(FieldError(name, "invalid_integer", message("invalid_integer", locale)))
        return None
    if value < low:
        errors.append(FieldError(name, "min", message("min", locale, limit=low)))
    elif value > high:
        errors.append(FieldError(name, "max", message("max", locale, limit=high)))
    return value


def parse_list_params(
    entity: CompiledEntity,
    query: Mapping[str, str] | Any,
    locale: str,
    default_limit: int = 50,
    ignore: tuple[str, ...] = (),
) -> ListParams:
    """ListParams from a query string; BadParameters lists every malformed parameter."""
    params = ListParams(limit=default_limit)
    errors: list[FieldError] = []
    known = accepted_keys(entity)
    items = query.multi_items() if hasattr(query, "multi_items") else list(query.items())
    for key, raw in items:
        if key in ignore:
            continue
        if unstorable_text(key) or unstorable_text(raw) or len(raw) > MAX_PARAM_LENGTH:
            errors.append(
                FieldError(
                    key if not unstorable_text(key) else "__all__", "invalid_text", message("invalid_text", locale)
                )
            )
            continue
        if key == "q":
            params.q = raw or None
        elif key == "sort":
            params.sort = raw or None
        elif key == "limit":
            value = _integer("limit", raw, 0, MAX_LIMIT, locale, errors)
            params.limit = value if value is not None else params.limit
        elif key == "offset":
            value = _integer("offset", raw, 0, MAX_OFFSET, locale, errors)
            params.offset = value if value is not None else params.offset
        elif key == "count":
            if raw not in COUNT_MODES:
                errors.append(
                    FieldError(
                        "count", "invalid_option", message("invalid_option", locale, choices=", ".join(COUNT_MODES))
                    )
                )
            params.count = raw
        elif key == "after":
            params.after = raw or None
        elif key == "fields":
            names = [name.strip() for name in raw.split(",") if name.strip()]
            unknown = [name for name in names if name not in entity.fields or entity.fields[name].children]
            if unknown:
                errors.append(FieldError("fields", "unknown_field", message("unknown_field", locale)))
            params.fields = names
        elif key not in known:
            errors.append(FieldError(key, "unknown_field", message("unknown_field", locale)))
        elif raw != "":  # an empty filter box means "any"
            params.filters[key] = raw
            name = key.partition("__")[0]
            target = entity.fields.get(name)
            if target is not None and not target.children and key.partition("__")[2] not in ("in", "contains"):
                crash = coercion_crash(target, raw, locale, key)
                if crash is not None:
                    errors.append(crash)
    if errors:
        raise BadParameters(errors)
    return params
