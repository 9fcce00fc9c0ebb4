"""Small helpers every page module shares."""

from __future__ import annotations

from starlette.datastructures import FormData
from starlette.exceptions import HTTPException
from starlette.requests import Request

from builder.records import RecordService
from builder.records.compiled import CompiledEntity

from ..api.schemas import MAX_ID


def entity_of(service: RecordService, request: Request) -> CompiledEntity:
    """The entity named in the path, or a 404 page."""
    entity = service.entities.get(request.path_params["entity"])
    if entity is None:
        raise HTTPException(404)
    return entity


def record_id_of(request: Request) -> int:
    record_id = request.path_params["record_id"]
    if not 1 <= record_id <= MAX_ID:
        raise HTTPException(404)
    return record_id


DEFAULT_FORM_BYTES = 1024 * 1024


async def submitted_form(request: Request) -> FormData:
    """The posted form, its fields as large as the whole form may be.

    The security layer bounds a form's size (`[security] max_form_bytes`) and says
    so in the request state; within it no single field is refused for its size, so
    a long note comes back as a field error with the text kept, not as a lost page.
    """
    limit = request.scope.get("state", {}).get("max_form_bytes") or DEFAULT_FORM_BYTES
    return await request.form(max_part_size=limit, max_fields=limit)
