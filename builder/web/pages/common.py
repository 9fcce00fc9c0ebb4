"""Small helpers every page module shares."""

from __future__ import annotations

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
