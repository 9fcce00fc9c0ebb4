"""The OpenAPI 3.1 document of the API, generated from the blueprint.

Per entity: a read, a create and a patch schema (from each field type's
`value_schema`), the list parameters, and every error each operation can answer.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from builder.records import RecordService
from builder.records.bulk_update import settable_fields
from builder.records.compiled import CompiledEntity
from builder.records.counting import COUNT_MODES
from builder.records.keyset import MAX_CURSOR_LENGTH
from builder.records.manual import MAX_BULK_IDS
from builder.records.querying import MAX_LIMIT
from builder.records.transitions import driven_fields
from engines.forms import id_schema, localized

from .bulk_openapi import bulk_update_body, bulk_update_path
from .filters import MAX_PARAM_LENGTH, filter_keys, sort_keys
from .params import MAX_OFFSET
from .schemas import ERROR_SCHEMA, MAX_COMMENT, MAX_VERSION, create_schema, patch_schema, read_schema
from .search import SEARCH_RESULTS, search_path, search_schema
from .tasks import TASK_LIST, tasks_path, tasks_schema

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
BINARY = {"type": "string", "contentMediaType": XLSX}
ERROR_TEXT = {
    "400": "Malformed JSON or query parameters (including filters or sorts on fields you may not read).",
    "401": "Not signed in: send `Authorization: Bearer <token>`.",
    "403": "Your role may not do this.",
    "404": "No such record, or none you may see.",
    "409": "The record changed since you read it (stale `version`).",
    "413": "The request body is too large.",
    "422": "The values break the blueprint's rules; each error names its field.",
}


def _errors(*codes: str) -> dict[str, Any]:
    return {
        code: {
            "description": ERROR_TEXT[code],
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Errors"}}},
        }
        for code in codes
    }


def _json(ref: str, description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": {"$ref": ref}}}}


def _camel(name: str) -> str:
    return "".join(part.capitalize() for part in name.split("_"))


def readable_names(entity: CompiledEntity) -> list[str]:
    """What `fields` may name: the entity's fields but tables (a role sees only those it may read)."""
    return [name for name, field in entity.fields.items() if not field.children]


def _list_parameters(entity: CompiledEntity) -> list[dict[str, Any]]:
    comma_list = {"style": "form", "explode": False}
    params: list[dict[str, Any]] = [
        {
            "name": "q",
            "in": "query",
            "required": False,
            "schema": {"type": "string", "maxLength": MAX_PARAM_LENGTH},
            "description": "Search text, matched against: " + (", ".join(entity.spec.search) or "(no search fields)"),
        },
        {
            "name": "sort",
            "in": "query",
            "required": False,
            **comma_list,
            "schema": {"type": "array", "items": {"type": "string", "enum": sort_keys(entity)}},
            "description": "Comma-separated field names; `-` first for descending (`-starts_at,name`).",
        },
        {
            "name": "limit",
            "in": "query",
            "required": False,
            "schema": {"type": "integer", "minimum": 0, "maximum": MAX_LIMIT, "default": 50},
        },
        {
            "name": "offset",
            "in": "query",
            "required": False,
            "schema": {"type": "integer", "minimum": 0, "maximum": MAX_OFFSET, "default": 0},
        },
        {
            "name": "after",
            "in": "query",
            "required": False,
            "schema": {"type": "string", "maxLength": MAX_CURSOR_LENGTH},
            "description": "Keyset paging: the `next_after` of the previous page (same sort and filters; "
            "no `offset` beside it). Faster than a large offset, and not shifted by new records.",
        },
        {
            "name": "count",
            "in": "query",
            "required": False,
            "schema": {"type": "string", "enum": list(COUNT_MODES), "default": "auto"},
            "description": "How `total` is worked out: `auto` (exact up to 10,000 matches, then an estimate on "
            "PostgreSQL or a lower bound on SQLite), `exact`, `estimate`, `none` (no count: `total` is null). "
            "The response's `total_kind` says which it is.",
        },
        {
            "name": "fields",
            "in": "query",
            "required": False,
            **comma_list,
            "schema": {"type": "array", "items": {"type": "string", "enum": readable_names(entity)}},
            "description": "Sparse fields: only these (and id, version and the timestamps) come back; "
            "the others are not read or decrypted.",
        },
    ]
    for key in filter_keys(entity):
        param = {
            "name": key.key,
            "in": "query",
            "required": False,
            "schema": key.schema,
            "allowEmptyValue": True,
            "description": key.description + " Empty: no filter.",
        }
        params.append({**param, **comma_list} if key.op == "in" else param)
    return params


def _record_id_parameter() -> dict[str, Any]:
    return {
        "name": "id",
        "in": "path",
        "required": True,
        "schema": id_schema(),
        "description": "The record's id; one outside 1 to 2^63-1 is a 400.",
    }


TRANSITION_BODY = "TransitionRequest"


def transition_body() -> dict[str, Any]:
    """What a transition request sends: the version read, an optional comment, values to fill."""
    return {
        "type": "object",
        "required": ["version"],
        "additionalProperties": False,
        "properties": {
            "version": {"type": "integer", "format": "int32", "minimum": 1, "maximum": MAX_VERSION},
            "comment": {"anyOf": [{"type": "string", "maxLength": MAX_COMMENT}, {"type": "null"}]},
            "values": {
                "type": "object",
                "description": "Fields to fill with the move (a transition's `requires`), if your role may write them.",
            },
        },
    }


def transition_path(entity: CompiledEntity, transitions: list[str], ref: str, tags: list[str]) -> dict[str, Any]:
    """`POST /api/{entity}/{id}/transitions/{name}`: the workflow's moves (the state field is never PATCHed)."""
    return {
        "parameters": [
            _record_id_parameter(),
            {
                "name": "transition",
                "in": "path",
                "required": True,
                "schema": {"type": "string", "enum": transitions},
                "description": "The transition's name.",
            },
        ],
        "post": {
            "operationId": f"transition_{entity.name}",
            "tags": tags,
            "summary": "Make a workflow transition (send the `version` you read)",
            "description": "Allowed to the transition's roles, who need not write the record. 403: not your "
            "transition; 422: not from this state, a condition not met or a required field empty (each error "
            "says which), or an automation it sets off failed (nothing is written).",
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{TRANSITION_BODY}"}}},
            },
            "responses": {
                "200": _json(ref, "The record after the move and what it set off."),
                **_errors("400", "401", "403", "404", "409", "413", "422"),
            },
        },
    }


def manual_path(entity: CompiledEntity, names: list[str], tags: list[str]) -> dict[str, Any]:
    """`POST /api/{entity}/{id}/automations/{name}`: an automation's `manual:` button."""
    result = {
        "type": "object",
        "required": ["automation", "actions"],
        "additionalProperties": False,
        "properties": {"automation": {"type": "string"}, "actions": {"type": "integer", "minimum": 0}},
    }
    return {
        "parameters": [
            _record_id_parameter(),
            {"name": "automation", "in": "path", "required": True, "schema": {"type": "string", "enum": names}},
        ],
        "post": {
            "operationId": f"run_automation_{entity.name}",
            "tags": tags,
            "summary": "Run an automation's manual button on the record now (its `manual: roles` only)",
            "description": "422 when the automation's `if:` does not hold on the record, or an action failed "
            "(nothing is written). Messages go to the outbox.",
            "responses": {
                "200": {
                    "description": "How many actions ran.",
                    "content": {"application/json": {"schema": result}},
                },
                **_errors("401", "403", "404", "422"),
            },
        },
    }


BULK_BODY = "SelectedRecords"


def bulk_body() -> dict[str, Any]:
    """What pressing a button on selected rows sends: the records' ids."""
    return {
        "type": "object",
        "required": ["ids"],
        "additionalProperties": False,
        "properties": {"ids": {"type": "array", "items": id_schema(), "minItems": 1, "maxItems": MAX_BULK_IDS}},
    }


def manual_many_path(entity: CompiledEntity, names: list[str], tags: list[str]) -> dict[str, Any]:
    """`POST /api/{entity}/automations/{name}`: an automation's `manual:` button on selected records."""
    refusal = {
        "type": "object",
        "required": ["id", "code", "message"],
        "additionalProperties": False,
        "properties": {
            "id": {"type": "integer"},
            "code": {"type": "string", "enum": ["not_found", "condition", "failed"]},
            "message": {"type": "string"},
        },
    }
    result = {
        "type": "object",
        "required": ["automation", "ran", "actions", "refused"],
        "additionalProperties": False,
        "properties": {
            "automation": {"type": "string"},
            "ran": {"type": "array", "items": {"type": "integer"}, "description": "The records it ran on."},
            "actions": {"type": "integer", "minimum": 0},
            "refused": {"type": "array", "items": refusal},
        },
    }
    return {
        "parameters": [
            {"name": "automation", "in": "path", "required": True, "schema": {"type": "string", "enum": names}},
        ],
        "post": {
            "operationId": f"run_automation_many_{entity.name}",
            "tags": tags,
            "summary": f"Run an automation's manual button on up to {MAX_BULK_IDS} selected records",
            "description": "Its `manual: roles` only (403 otherwise). Each record is judged alone: one you cannot "
            "see (`not_found`), whose automation `if:` does not hold (`condition`) or whose actions fail "
            "(`failed`) is reported in `refused` and left unchanged; the others run. One audit entry per request.",
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{BULK_BODY}"}}},
            },
            "responses": {
                "200": {
                    "description": "What ran, and what was refused and why.",
                    "content": {"application/json": {"schema": result}},
                },
                **_errors("400", "401", "403", "404", "413", "422"),
            },
        },
    }


BULK_MOVES_BODY = "SelectedMoves"


def bulk_moves_body() -> dict[str, Any]:
    """What a transition on selected rows sends: each record's id and the version read."""
    item = {
        "type": "object",
        "required": ["id", "version"],
        "additionalProperties": False,
        "properties": {
            "id": id_schema(),
            "version": {"type": "integer", "format": "int32", "minimum": 1, "maximum": MAX_VERSION},
        },
    }
    return {
        "type": "object",
        "required": ["records"],
        "additionalProperties": False,
        "properties": {"records": {"type": "array", "items": item, "minItems": 1, "maxItems": MAX_BULK_IDS}},
    }


def transition_many_path(entity: CompiledEntity, transitions: list[str], tags: list[str]) -> dict[str, Any]:
    """`POST /api/{entity}/transitions/{name}`: a simple move made on selected records."""
    refusal = {
        "type": "object",
        "required": ["id", "code", "message"],
        "additionalProperties": False,
        "properties": {
            "id": {"type": "integer"},
            "code": {"type": "string", "enum": ["not_found", "conflict", "wrong_state", "guard", "failed"]},
            "message": {"type": "string"},
        },
    }
    result = {
        "type": "object",
        "required": ["transition", "moved", "refused"],
        "additionalProperties": False,
        "properties": {
            "transition": {"type": "string"},
            "moved": {"type": "array", "items": {"type": "integer"}},
            "refused": {"type": "array", "items": refusal},
        },
    }
    return {
        "parameters": [
            {"name": "transition", "in": "path", "required": True, "schema": {"type": "string", "enum": transitions}},
        ],
        "post": {
            "operationId": f"transition_many_{entity.name}",
            "tags": tags,
            "summary": f"Make a transition on up to {MAX_BULK_IDS} selected records (moves asking for nothing)",
            "description": "The transition's roles only (403 otherwise); one with `requires` or `comment` is a 422 "
            "(make it record by record). Each record moves alone: one you cannot see (`not_found`), changed since "
            "you read it (`conflict`), not in a state the move leaves (`wrong_state`), failing its condition "
            "(`guard`) or what it sets off (`failed`) is reported and left as it was.",
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{BULK_MOVES_BODY}"}}},
            },
            "responses": {
                "200": {
                    "description": "What moved, and what was refused and why.",
                    "content": {"application/json": {"schema": result}},
                },
                **_errors("400", "401", "403", "404", "413", "422"),
            },
        },
    }


def entity_paths(
    entity: CompiledEntity,
    transitions: list[str] | None = None,
    manual: list[str] | None = None,
    settable: list[str] | None = None,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The paths and component schemas of one entity (its workflow's transitions and manual buttons, if any)."""
    name, camel = entity.name, _camel(entity.name)
    title = localized(entity.spec.title, "en", name)
    ref = f"#/components/schemas/{camel}"
    components = {
        camel: read_schema(entity),
        f"{camel}Create": create_schema(entity),
        f"{camel}Patch": patch_schema(entity),
        f"{camel}Page": {
            "type": "object",
            "required": ["items", "total", "total_kind", "limit", "offset", "next_after"],
            "additionalProperties": False,
            "properties": {
                "items": {"type": "array", "items": {"$ref": ref}},
                "total": {"type": ["integer", "null"], "description": "How many match; see `total_kind`."},
                "total_kind": {"type": "string", "enum": ["exact", "estimate", "at_least", "none"]},
                "limit": {"type": "integer"},
                "offset": {"type": "integer"},
                "next_after": {
                    "type": ["string", "null"],
                    "description": "Pass as `after` for the next page; null on the last page.",
                },
            },
        },
    }

    def body(suffix: str) -> dict[str, Any]:
        return {
            "required": True,
            "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{camel}{suffix}"}}},
        }

    tags = [title]
    paths = {
        f"/api/{name}": {
            "get": {
                "operationId": f"list_{name}",
                "tags": tags,
                "summary": f"List {title} records you may see",
                "parameters": _list_parameters(entity),
                "responses": {"200": _json(f"{ref}Page", "A page of records."), **_errors("400", "401", "403")},
            },
            "post": {
                "operationId": f"create_{name}",
                "tags": tags,
                "summary": f"Create a {title} record",
                "requestBody": body("Create"),
                "responses": {
                    "201": _json(ref, "The created record."),
                    **_errors("400", "401", "403", "409", "413", "422"),
                },
            },
        },
        f"/api/{name}/{{id}}": {
            "parameters": [_record_id_parameter()],
            "get": {
                "operationId": f"get_{name}",
                "tags": tags,
                "summary": f"Read one {title} record",
                "parameters": [
                    {
                        "name": "explain",
                        "in": "query",
                        "required": False,
                        "description": "1: add `_explain`, why each computed value is what it is.",
                        "schema": {"type": "string", "enum": ["0", "1"]},
                    }
                ],
                "responses": {"200": _json(ref, "The record."), **_errors("400", "401", "403", "404")},
            },
            "patch": {
                "operationId": f"update_{name}",
                "tags": tags,
                "summary": f"Change fields of a {title} record (send the `version` you read)",
                "requestBody": body("Patch"),
                "responses": {
                    "200": _json(ref, "The changed record."),
                    **_errors("400", "401", "403", "404", "409", "413", "422"),
                },
            },
            "delete": {
                "operationId": f"delete_{name}",
                "tags": tags,
                "summary": f"Delete a {title} record",
                "parameters": [
                    {
                        "name": "version",
                        "in": "query",
                        "required": False,
                        "schema": {"type": "integer", "format": "int32", "minimum": 1, "maximum": MAX_VERSION},
                        "description": "If given, refuse (409) when the record changed.",
                    }
                ],
                "responses": {"204": {"description": "Deleted."}, **_errors("400", "401", "403", "404", "409", "422")},
            },
        },
        f"/api/{name}/export.csv": {
            "get": {
                "operationId": f"export_{name}",
                "tags": tags,
                "summary": f"Export {title} records as CSV (roles with `export: true`; audited)",
                "parameters": [
                    p
                    for p in _list_parameters(entity)
                    if p["name"] not in ("limit", "offset", "after", "count", "fields")
                ],
                "responses": {
                    "200": {
                        "description": "UTF-8 CSV with a header row.",
                        "content": {"text/csv": {"schema": {"type": "string"}}},
                    },
                    **_errors("400", "401", "403"),
                },
            },
        },
        f"/api/{name}/export.xlsx": {
            "get": {
                "operationId": f"export_{name}_xlsx",
                "tags": tags,
                "summary": f"Export {title} records as XLSX: labels as headers, option labels and link titles "
                "as values, in your language (roles with `export: true`; audited)",
                "parameters": [p for p in _list_parameters(entity) if p["name"] not in ("limit", "offset")],
                "responses": {
                    "200": {"description": "An XLSX workbook of one sheet.", "content": {XLSX: {"schema": BINARY}}},
                    **_errors("400", "401", "403"),
                },
            },
        },
    }
    if transitions:
        paths[f"/api/{name}/{{id}}/transitions/{{transition}}"] = transition_path(entity, transitions, ref, tags)
        paths[f"/api/{name}/transitions/{{transition}}"] = transition_many_path(entity, transitions, tags)
    if manual:
        paths[f"/api/{name}/{{id}}/automations/{{automation}}"] = manual_path(entity, manual, tags)
        paths[f"/api/{name}/automations/{{automation}}"] = manual_many_path(entity, manual, tags)
    if settable:
        patchable = components[f"{camel}Patch"]["properties"]
        settable_schemas = {n: patchable.get(n, {}) for n in settable}
        records = bulk_moves_body()["properties"]["records"]
        components[f"{camel}BulkUpdate"] = bulk_update_body(settable_schemas, records)
        errors = _errors("400", "401", "403", "404", "413", "422")
        ref_body = f"#/components/schemas/{camel}BulkUpdate"
        paths[f"/api/{name}/bulk-update"] = bulk_update_path(ref_body, tags, f"update_many_{name}", errors)
    return paths, components


def report_export_path(name: str, spec: Any) -> dict[str, Any]:
    """`GET /api/reports/{name}/export`: the report's parameters as query parameters, CSV or XLSX back."""
    params: list[dict[str, Any]] = [
        {
            "name": "format",
            "in": "query",
            "required": False,
            "schema": {"type": "string", "enum": ["csv", "xlsx"], "default": "csv"},
        }
    ]
    for key, param in spec.parameters.items():
        hint = {
            "date_range": "a period (`last_12_months`, `this_month`, ...) or `FROM..TO` (ISO dates, TO included)",
            "link": "a record id",
            "select": "one of the field's options",
        }.get(param.type, "a value")
        default = f"; default `{param.default}`" if param.default is not None else ""
        schema: dict[str, Any] = id_schema() if param.type == "link" else {"type": "string", "maxLength": 200}
        params.append(
            {"name": key, "in": "query", "required": False, "schema": schema, "description": f"{hint}{default}"}
        )
    title = localized(spec.title, "en", name) if spec.title else name
    return {
        "get": {
            "operationId": f"export_report_{name}",
            "tags": ["reports"],
            "summary": f"Export report {title} as CSV or XLSX: labels in your language, small cells hidden for "
            "aggregate-only roles (roles with `export: true` on "
            f"{spec.source}; audited with its parameters)",
            "parameters": params,
            "responses": {
                "200": {
                    "description": "The report's cells, a header row of column labels and a totals row when it has "
                    "totals; streamed.",
                    "content": {"text/csv": {"schema": {"type": "string"}}, XLSX: {"schema": BINARY}},
                },
                **_errors("400", "401", "403", "404"),
            },
        }
    }


def openapi_document(
    service: RecordService, title: str, version: str = "1", *, reports: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """The whole OpenAPI 3.1 document for every entity (and every report's export) of the blueprint."""
    paths: dict[str, Any] = {}
    schemas: dict[str, Any] = {
        "Errors": ERROR_SCHEMA,
        TRANSITION_BODY: transition_body(),
        BULK_BODY: bulk_body(),
        BULK_MOVES_BODY: bulk_moves_body(),
        TASK_LIST: tasks_schema(),
        SEARCH_RESULTS: search_schema(),
    }
    paths["/api/tasks"] = tasks_path()
    paths["/api/search"] = search_path()
    for entity in service.entities.values():
        moves = [t for m in driven_fields(service.flows, entity.name).values() for t in m.spec.transitions]
        buttons = [a.name for a in service.flows.of_entity(entity.name) if a.spec.manual] if service.flows else []
        entity_paths_, components = entity_paths(entity, moves, buttons, settable_fields(service, entity.name))
        paths.update(entity_paths_)
        schemas.update(components)
    if reports:
        from .report_openapi import report_paths

        report_paths_, report_components = report_paths(reports)
        paths = {**report_paths_, **paths}
        schemas.update(report_components)
    for name, spec in (reports or {}).items():
        paths[f"/api/reports/{name}/export"] = report_export_path(name, spec)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": f"{title} API",
            "version": version,
            "description": "Generated from the blueprint. Every call runs as the token's role: fields it may "
            "not read are absent, sensitive ones masked, rows outside its `where` invisible.",
        },
        "servers": [{"url": "/"}],
        "security": [{"bearerAuth": []}],
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {
                "bearerAuth": {"type": "http", "scheme": "bearer", "description": "An API token (`crm token create`)."}
            },
        },
    }
