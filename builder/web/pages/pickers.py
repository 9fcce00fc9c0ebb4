"""Link pickers: find a target record by its title or its `search:` fields, and tell look-alikes apart.

Every record and value comes from the record service as the actor, so the picker
offers only rows the actor may see, and a second line only from fields it may read
(masked values stay masked). The second line is the entity's `subtitle:` fields, or
by default the first two readable plain fields after the title (a doctor's
department, a patient's gender and birth date).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from builder.records import Actor, PermissionDenied, RecordService, ValidationFailed
from builder.records.compiled import CompiledEntity, CompiledField
from builder.records.link_filters import LinkChoice, record_names
from builder.runtime import Runtime
from engines.forms import FieldValueError

from ..context import require_actor
from ..presenting import display, record_title
from .common import entity_of

PICK_LIMIT = 30
MAX_QUERY = 100
SUBTITLE_TYPES = ("select", "state", "text", "date")
TITLE_SEARCH_TYPES = ("text", "phone", "email", "select", "state")
SEPARATOR = " · "


def subtitle_fields(entity: CompiledEntity) -> list[CompiledField]:
    """The fields of the second line, before any permission is applied."""
    if entity.spec.subtitle is not None:
        return [entity.fields[n] for n in entity.spec.subtitle if n in entity.fields]
    chosen = [
        f
        for name, f in entity.fields.items()
        if name != entity.spec.title_field
        and f.spec.type in SUBTITLE_TYPES
        and f.kind.stored
        and not (f.spec.phi or f.spec.encrypted)
    ]
    return chosen[:2]


def picker_fields(entity: CompiledEntity) -> list[str]:
    """What a picker reads: the title and the second line, nothing more (so nothing else is audited as seen)."""
    title = [entity.spec.title_field] if entity.spec.title_field else []
    return title + [f.name for f in subtitle_fields(entity)]


def subtitle(entity: CompiledEntity, record: dict[str, Any], locale: str) -> str:
    """The second line of `record` as the actor received it (absent fields are not readable)."""
    parts = [display(f, record[f.name], locale) for f in subtitle_fields(entity) if f.name in record]
    return SEPARATOR.join(p for p in parts if p)


def option_label(entity: CompiledEntity, record: dict[str, Any], locale: str) -> str:
    """`Dr. Li · Internal medicine`: what a select option of a link field says."""
    second = subtitle(entity, record, locale)
    return record_title(entity, record) + (SEPARATOR + second if second else "")


def _searches(entity: CompiledEntity, q: str) -> list[dict[str, Any]]:
    """The list queries whose union is the picker's answer: `search:` fields, then the title."""
    if not q:
        return [{}]
    searches: list[dict[str, Any]] = [{"q": q}] if entity.spec.search else []
    title = entity.fields.get(entity.spec.title_field or "")
    if title is not None and title.spec.type in TITLE_SEARCH_TYPES and title.name not in entity.spec.search:
        searches.append({"filters": {f"{title.name}__contains": q}})
    return searches


def pick(
    service: RecordService,
    actor: Actor,
    target: str,
    q: str,
    limit: int = PICK_LIMIT,
    choosing: LinkChoice | None = None,
) -> list[dict[str, Any]]:
    """Up to `limit` records of `target` matching `q` (newest first) as {id, title, detail, label}.

    `choosing`: only the targets the link's `filter:` admits for the form's current values.
    """
    entity = service.entities[target]
    found: dict[int, dict[str, Any]] = {}
    for search in _searches(entity, q.strip()[:MAX_QUERY]):
        try:
            page = service.list(actor, target, limit=limit, fields=picker_fields(entity), choosing=choosing, **search)
        except ValidationFailed:
            continue  # the title is masked for this role: no substring search on it
        for record in page.items:
            found.setdefault(record["id"], record)
    records = sorted(found.values(), key=lambda r: r["id"], reverse=True)[:limit]
    return [
        {
            "id": r["id"],
            "title": record_title(entity, r),
            "detail": subtitle(entity, r, actor.locale),
            "label": option_label(entity, r, actor.locale),
        }
        for r in records
    ]


def picker_url(target: str) -> str:
    return f"/records/{target}/choices?q="


def filtered_picker_url(entity: str, field: str) -> str:
    """The type-ahead of a link with a `filter:`; forms.js adds the form's values the filter reads."""
    return f"/records/{entity}/pick/{field}?q="


def typed_values(entity: CompiledEntity, raw: Mapping[str, Any]) -> dict[str, Any]:
    """Form input (text) as typed values for a filter; what does not read as a value is empty."""
    typed: dict[str, Any] = {}
    for name, value in raw.items():
        field = entity.fields.get(name)
        if field is None or field.children or field.compute is not None:
            continue
        try:
            typed[name] = field.kind.coerce(value, field.spec)
        except FieldValueError:
            typed[name] = None
    return typed


def routes(runtime: Runtime) -> list[BaseRoute]:
    service = runtime.records

    async def choices(request: Request) -> Response:
        actor = require_actor(request)
        entity = entity_of(service, request)
        q = request.query_params.get("q", "")
        try:
            items = await run_in_threadpool(pick, service, actor, entity.name, q)
        except PermissionDenied:
            raise HTTPException(403) from None
        return JSONResponse({"items": items})

    async def filtered(request: Request) -> Response:
        """Targets of `entity.field` that pass its filter for the values in the query (the form's)."""
        actor = require_actor(request)
        entity = entity_of(service, request)
        field = entity.fields.get(request.path_params["field"])
        if field is None or field.spec.type != "link" or not field.spec.to:
            raise HTTPException(404)
        names = record_names(field.spec.filter) if field.spec.filter else frozenset()
        raw = {n: request.query_params.get(n, "")[:MAX_QUERY] for n in names if n in entity.fields}
        choosing = LinkChoice(entity.name, field.name, typed_values(entity, raw))
        q = request.query_params.get("q", "")
        try:
            items = await run_in_threadpool(pick, service, actor, field.spec.to, q, PICK_LIMIT, choosing)
        except PermissionDenied:
            raise HTTPException(403) from None
        return JSONResponse({"items": items})

    return [
        Route("/records/{entity}/choices", choices, methods=["GET"], name="choices"),
        Route("/records/{entity}/pick/{field}", filtered, methods=["GET"], name="filtered_choices"),
    ]
