"""The REST endpoints: list, create, read, change and delete records of any entity.

Handlers only translate HTTP to record-service calls and back; every rule,
permission and mask is applied by the service, so the API and the pages agree.
"""

from __future__ import annotations

import builtins
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from builder.records import Actor, FieldError, RecordService, ValidationFailed
from builder.records.bulk_update import check_bulk_values
from builder.records.compiled import CompiledEntity
from builder.records.manual import BulkRun
from engines.forms import message

from ..context import require_actor
from ..inputs import coercion_crashes, unstorable_errors
from ..writes import run_write
from .bodies import bulk_values, json_object, selected_ids, selected_records
from .errors import ApiError, one
from .export import export_csv, export_xlsx
from .params import BadParameters, parse_list_params
from .schemas import MAX_COMMENT, MAX_ID, MAX_VERSION
from .serializing import jsonable, record_json
from .validating import BodyValidator, unknown_first


class RecordsApi:
    """The record endpoints of one running blueprint."""

    def __init__(self, service: RecordService):
        self.service = service
        self.validators = {name: BodyValidator(entity) for name, entity in service.entities.items()}

    # -- helpers ---------------------------------------------------------------------
    def _entity(self, request: Request) -> CompiledEntity:
        name = request.path_params["entity"]
        entity = self.service.entities.get(name)
        if entity is None:
            raise one(404, "not_found", f"there is no entity `{name}`")
        return entity

    @staticmethod
    def _record_id(request: Request) -> int:
        record_id = request.path_params["record_id"]
        if record_id > MAX_ID:  # could never be an id: a malformed request, not a missing record
            raise one(400, "max", f"a record id is at most {MAX_ID}", field="id")
        if record_id < 1:
            raise one(404, "not_found", "no such record")
        return record_id

    async def _body(self, request: Request, entity: CompiledEntity, actor: Actor, patching: bool) -> dict[str, Any]:
        body = await json_object(request, empty=False)
        self._check_values(entity, body, actor, patching)
        return body

    def _check_values(self, entity: CompiledEntity, values: dict[str, Any], actor: Actor, patching: bool) -> None:
        """422 for values the entity's schema or field types refuse (`version` is part of a patch's body).

        A field the role may not read is answered exactly as one that does not exist (its value is never
        looked at), so a request cannot learn which hidden fields an entity has.
        """
        readable = self.service.policy.grant(actor, entity.name).readable
        hidden = [k for k in values if k in entity.fields and k not in readable]
        shown = {k: v for k, v in values.items() if k not in hidden}
        errors = unstorable_errors(values, actor.locale)
        checked = self.validators[entity.name].errors(shown, patching, actor.locale)
        errors = errors or unknown_first(values, hidden, checked, actor.locale)
        errors = errors or coercion_crashes(entity.fields, shown, actor.locale)
        if errors:
            raise ApiError(422, errors)

    # -- endpoints -------------------------------------------------------------------
    async def list(self, request: Request) -> Response:
        actor = require_actor(request)
        entity = self._entity(request)
        try:
            params = parse_list_params(entity, request.query_params, actor.locale)
            readable = self.service.policy.grant(actor, entity.name).readable
            if params.fields is not None and not set(params.fields) <= readable:  # hidden looks like missing
                raise BadParameters([FieldError("fields", "unknown_field", message("unknown_field", actor.locale))])
            page = await run_in_threadpool(
                self.service.list, actor, entity.name, **params.as_kwargs(), fields=params.fields
            )
        except (BadParameters, ValidationFailed) as exc:
            raise ApiError(400, exc.errors) from None
        return JSONResponse(
            {
                "items": [record_json(entity, r) for r in page.items],
                "total": page.total,
                "total_kind": page.total_kind,
                "limit": page.limit,
                "offset": page.offset,
                "next_after": page.next_after,
            }
        )

    async def create(self, request: Request) -> Response:
        actor = require_actor(request)
        entity = self._entity(request)
        self.service.policy.require(actor, entity.name, "create")
        body = await self._body(request, entity, actor, patching=False)
        record = await run_write(self.service, self.service.create, actor, entity.name, body)
        # the `api_record` route of the new record, without url_for's search of every route of the app
        location = str(request.url.replace(path=f"{request.url.path.rstrip('/')}/{record['id']}", query=""))
        return JSONResponse(record_json(entity, record), status_code=201, headers={"Location": location})

    async def get(self, request: Request) -> Response:
        actor = require_actor(request)
        entity = self._entity(request)
        record_id = self._record_id(request)
        explain = request.query_params.get("explain", "0")
        if explain not in ("0", "1"):
            raise ApiError(400, [FieldError("explain", "invalid", "explain must be 0 or 1")])
        record = await run_write(self.service, self.service.get, actor, entity.name, record_id)
        body = record_json(entity, record)
        if explain == "1" and any(f.compute for f in entity.fields.values()):
            why = await run_in_threadpool(self.service.explain, actor, entity.name, record_id)
            body["_explain"] = jsonable(why)
        return JSONResponse(body)

    async def patch(self, request: Request) -> Response:
        actor = require_actor(request)
        entity = self._entity(request)
        record_id = self._record_id(request)
        self.service.policy.require(actor, entity.name, "write")
        body = await self._body(request, entity, actor, patching=True)
        version = body.pop("version")
        record = await run_write(self.service, self.service.update, actor, entity.name, record_id, body, version)
        return JSONResponse(record_json(entity, record))

    async def delete(self, request: Request) -> Response:
        actor = require_actor(request)
        entity = self._entity(request)
        record_id = self._record_id(request)
        version = _optional_version(request, actor.locale)
        await run_write(self.service, self.service.delete, actor, entity.name, record_id, version)
        return Response(status_code=204)

    async def transition(self, request: Request) -> Response:
        """Make a workflow transition: `{"version": 3, "comment": "...", "values": {...}}`."""
        actor = require_actor(request)
        entity = self._entity(request)
        record_id = self._record_id(request)
        name = request.path_params["transition"]
        version, comment, values = await self._transition_body(request, entity, actor)
        record = await run_write(
            self.service, self.service.transition, actor, entity.name, record_id, name, version, comment, values
        )
        return JSONResponse(record_json(entity, record))

    async def _transition_body(
        self, request: Request, entity: CompiledEntity, actor: Actor
    ) -> tuple[int, str | None, dict[str, Any]]:
        body = await json_object(request, ("version", "comment", "values"))
        version = body.get("version")
        if isinstance(version, bool) or not isinstance(version, int) or not 1 <= version <= MAX_VERSION:
            raise one(422, "required", "send the `version` of the record you read (an integer)", "version")
        comment = body.get("comment")
        if comment is not None and (not isinstance(comment, str) or len(comment) > MAX_COMMENT):
            raise one(422, "invalid", f"the comment is a text of at most {MAX_COMMENT} characters", "comment")
        values = body.get("values") or {}
        if not isinstance(values, dict):
            raise one(422, "invalid", "`values` is an object of field values", "values")
        self._check_values(entity, {**values, "version": version}, actor, patching=True)
        return version, comment, values

    async def automation(self, request: Request) -> Response:
        """Press an automation's `manual:` button on a record (no body)."""
        actor = require_actor(request)
        entity = self._entity(request)
        record_id = self._record_id(request)
        name = request.path_params["automation"]
        count = await run_write(self.service, self.service.run_automation, actor, entity.name, record_id, name)
        return JSONResponse({"automation": name, "actions": count})

    async def automation_many(self, request: Request) -> Response:
        """Press an automation's `manual:` button on selected records: `{"ids": [1, 2, 3]}`."""
        actor = require_actor(request)
        entity = self._entity(request)
        name = request.path_params["automation"]
        ids = selected_ids(await json_object(request, ("ids",)))
        done = await run_write(self.service, self.service.run_automation_many, actor, entity.name, ids, name)
        return JSONResponse(
            {"automation": done.automation, "ran": done.ran, "actions": done.actions, "refused": _refused(done)}
        )

    async def transition_many(self, request: Request) -> Response:
        """Make a simple transition on selected records: `{"records": [{"id": 1, "version": 2}, ...]}`."""
        actor = require_actor(request)
        entity = self._entity(request)
        name = request.path_params["transition"]
        pairs = selected_records(await json_object(request, ("records",)))
        done = await run_write(self.service, self.service.transition_many, actor, entity.name, pairs, name)
        return JSONResponse({"transition": done.automation, "moved": done.ran, "refused": _refused(done)})

    async def update_many(self, request: Request) -> Response:
        """Set fields on selected records: `{"values": {"assignee": 3, "due_on": "2026-05-01"}, "records": [...]}`.

        The older one-field body (`"field": "assignee", "value": 3`) still works, and its answer keeps `field`.
        """
        actor = require_actor(request)
        entity = self._entity(request)
        self.service.policy.require(actor, entity.name, "write")
        body = await json_object(request, ("values", "field", "value", "records"))
        values = bulk_values(body)
        check_bulk_values(self.service, actor, entity.name, values)  # before the values: a hidden field stays unknown
        pairs = selected_records(body)
        self._check_values(entity, {**values, "version": 1}, actor, patching=True)
        done = await run_write(self.service, self.service.update_many, actor, entity.name, pairs, values)
        answer = {"fields": list(values), "updated": done.ran, "refused": _refused(done)}
        return JSONResponse({"field": body["field"], **answer} if "field" in body else answer)

    async def export(self, request: Request) -> Response:
        actor = require_actor(request)
        entity = self._entity(request)
        return await export_csv(self.service, actor, entity, request)

    async def export_xlsx(self, request: Request) -> Response:
        actor = require_actor(request)
        entity = self._entity(request)
        return await export_xlsx(self.service, actor, entity, request)

    def routes(self) -> builtins.list[BaseRoute]:
        return [
            Route("/{entity}/export.csv", self.export, methods=["GET"], name="api_export"),
            Route("/{entity}/export.xlsx", self.export_xlsx, methods=["GET"], name="api_export_xlsx"),
            Route("/{entity}", self.list, methods=["GET"], name="api_list"),
            Route("/{entity}", self.create, methods=["POST"], name="api_create"),
            Route("/{entity}/{record_id:int}", self.get, methods=["GET"], name="api_record"),
            Route("/{entity}/{record_id:int}", self.patch, methods=["PATCH"], name="api_patch"),
            Route("/{entity}/{record_id:int}", self.delete, methods=["DELETE"], name="api_delete"),
            Route(
                "/{entity}/{record_id:int}/transitions/{transition}",
                self.transition,
                methods=["POST"],
                name="api_transition",
            ),
            Route(
                "/{entity}/{record_id:int}/automations/{automation}",
                self.automation,
                methods=["POST"],
                name="api_automation",
            ),
            Route(
                "/{entity}/transitions/{transition}",
                self.transition_many,
                methods=["POST"],
                name="api_transition_many",
            ),
            Route(
                "/{entity}/automations/{automation}",
                self.automation_many,
                methods=["POST"],
                name="api_automation_many",
            ),
            Route("/{entity}/bulk-update", self.update_many, methods=["POST"], name="api_update_many"),
        ]


def _refused(done: BulkRun) -> builtins.list[dict[str, Any]]:
    """Each refused row: its id, a code, a message, and for an `invalid` one the errors by field."""
    return [
        {"id": r.record_id, "code": r.code, "message": r.message}
        | ({"errors": [e.as_dict() for e in r.errors]} if r.code == "invalid" else {})
        for r in done.refused
    ]


def _optional_version(request: Request, locale: str) -> int | None:
    raw = request.query_params.get("version")
    if raw in (None, ""):
        return None
    try:
        value = int(raw)
    except ValueError:
        raise ApiError(400, [FieldError("version", "invalid_integer", message("invalid_integer", locale))]) from None
    if not 1 <= value <= MAX_VERSION:
        raise ApiError(400, [FieldError("version", "invalid_integer", message("invalid_integer", locale))])
    return value
