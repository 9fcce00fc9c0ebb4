"""`GET /api/search?q=`: global search, grouped by entity (records/global_search.py).

The same record-service call as the `/search` page: each entity through `list()`, so
row filters, readable fields, masking, masked look-up limits (429) and the read audit
all hold. Codes, not labels, like every API answer.
"""

from __future__ import annotations

from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from builder.records import FieldError, RecordService, ValidationFailed
from builder.records.global_search import MAX_PER_GROUP, MAX_Q, PER_GROUP, search_everything

from ..context import require_actor
from .serializing import record_json

SEARCH_RESULTS = "SearchResults"


def search_routes(service: RecordService) -> list[BaseRoute]:
    async def search(request: Request) -> Response:
        actor = require_actor(request)
        q = request.query_params.get("q") or ""
        raw = request.query_params.get("limit") or str(PER_GROUP)
        if not raw.isdigit() or not 1 <= int(raw) <= MAX_PER_GROUP:
            raise ValidationFailed([FieldError("limit", "max", f"limit: a whole number from 1 to {MAX_PER_GROUP}")])
        if len(q) > MAX_Q:
            raise ValidationFailed([FieldError("q", "max_length", f"q: at most {MAX_Q} characters")])
        groups = await run_in_threadpool(search_everything, service, actor, q, int(raw))
        body = {
            "q": q.strip(),
            "groups": [
                {
                    "entity": g.entity,
                    "items": [record_json(service.entity(g.entity), r) for r in g.items],
                    "more": g.more,
                }
                for g in groups
            ],
        }
        return JSONResponse(body)

    return [Route("/search", search, methods=["GET"], name="api_search")]


def search_schema() -> dict[str, Any]:
    group = {
        "type": "object",
        "required": ["entity", "items", "more"],
        "additionalProperties": False,
        "properties": {
            "entity": {"type": "string"},
            "items": {
                "type": "array",
                "maxItems": MAX_PER_GROUP,
                "items": {"type": "object", "description": "The record's title and searched fields you may read."},
            },
            "more": {"type": "boolean", "description": "More match: GET /api/{entity}?q= pages through them."},
        },
    }
    return {
        "type": "object",
        "required": ["q", "groups"],
        "additionalProperties": False,
        "properties": {"q": {"type": "string"}, "groups": {"type": "array", "items": group}},
    }


def search_path() -> dict[str, Any]:
    errors = {"application/json": {"schema": {"$ref": "#/components/schemas/Errors"}}}
    return {
        "get": {
            "operationId": "search_everything",
            "tags": ["Search"],
            "summary": "Search every entity you may read, grouped by entity",
            "description": "Each entity is searched like `GET /api/{entity}?q=` (see docs/api.md, search strategies): "
            "a whole phone number or resident ID exactly, the last 4 digits of a phone (roles with full access "
            "only), names by prefix (1-2 characters) or substring. Fields you see masked match whole values only, "
            "and such look-ups count against your limit (429 beyond it). No totals: `more` says whether more match.",
            "parameters": [
                {"name": "q", "in": "query", "required": True, "schema": {"type": "string", "maxLength": MAX_Q}},
                {
                    "name": "limit",
                    "in": "query",
                    "required": False,
                    "description": "Records per entity.",
                    "schema": {"type": "integer", "minimum": 1, "maximum": MAX_PER_GROUP, "default": PER_GROUP},
                },
            ],
            "responses": {
                "200": {
                    "description": "The groups with at least one match, in the blueprint's order of entities.",
                    "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{SEARCH_RESULTS}"}}},
                },
                "401": {"description": "Not signed in: send `Authorization: Bearer <token>`.", "content": errors},
                "422": {"description": "A bad `limit` or `q`, or two masked values at once.", "content": errors},
                "429": {"description": "Too many look-ups by masked fields.", "content": errors},
            },
        }
    }
