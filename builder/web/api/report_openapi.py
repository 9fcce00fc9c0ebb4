"""The reports' part of the OpenAPI document: `GET /api/reports` and one path per report.

Each report's parameters are listed with what they accept (a period name or
`FROM..TO`, a record id, one of the options), so a client can be generated
from the document like the record endpoints.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from engines.forms import localized
from engines.reports import PERIODS, ReportSpec

REPORT_RESULT = "ReportResult"


def _errors(*codes: str) -> dict[str, Any]:
    text = {
        "400": "An unknown parameter, or offset/limit out of range (each error names it).",
        "401": "Not signed in: send `Authorization: Bearer <token>`.",
        "403": "Your role may not run this report.",
        "404": "There is no such report.",
        "422": "A parameter value the report cannot take (an unknown period, a malformed date range, an id "
        "that is not a number, an option the field lacks).",
    }
    return {
        code: {
            "description": text[code],
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Errors"}}},
        }
        for code in codes
    }


def result_schema() -> dict[str, Any]:
    cell = {"description": "A number, a code, an id, a bucket (2026-03, 2026-W10), null, or `<5` for a hidden cell."}
    return {
        "type": "object",
        "required": [
            "report",
            "title",
            "columns",
            "rows",
            "totals",
            "suppressed",
            "notes",
            "total_rows",
            "offset",
            "limit",
        ],
        "properties": {
            "report": {"type": "string"},
            "title": {"type": "string", "description": "In the caller's language."},
            "columns": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["name", "kind", "label"],
                    "properties": {
                        "name": {"type": "string"},
                        "kind": {
                            "type": "string",
                            "description": "dimension, title (a linked record's title) or measure",
                        },
                        "label": {"type": "string", "description": "In the caller's language."},
                        "format": {
                            "anyOf": [{"type": "string", "enum": ["number", "integer", "percent"]}, {"type": "null"}]
                        },
                        "values": {
                            "type": "object",
                            "additionalProperties": {"type": "string"},
                            "description": "Dimensions only: each value on this page -> its label (option labels, "
                            "Yes/No, bucket names, record titles).",
                        },
                    },
                },
            },
            "rows": {"type": "array", "items": {"type": "object", "additionalProperties": cell}},
            "totals": {"anyOf": [{"type": "object", "additionalProperties": cell}, {"type": "null"}]},
            "suppressed": {"type": "integer", "minimum": 0, "description": "How many cells are hidden for privacy."},
            "notes": {"type": "array", "items": {"type": "string"}},
            "total_rows": {"type": "integer", "minimum": 0},
            "offset": {"type": "integer", "minimum": 0},
            "limit": {"type": "integer", "minimum": 1, "maximum": 5000},
        },
    }


def _parameter(name: str, spec: ReportSpec) -> dict[str, Any]:
    parameter = spec.parameters[name]
    if parameter.type == "date_range":
        schema: dict[str, Any] = {"type": "string", "maxLength": 200}
        text = f"A period ({', '.join(PERIODS)}) or FROM..TO (ISO dates, TO included)."
    elif parameter.type == "link":
        schema = {"type": "integer", "format": "int64", "minimum": 1}
        text = "A record id."
    else:
        schema = {"type": "string", "maxLength": 200}
        text = "One of the field's options (true/false for a yes/no field)."
    if parameter.default is not None:
        schema["default"] = parameter.default
    return {"name": name, "in": "query", "required": False, "schema": schema, "description": text}


PAGING = [
    {"name": "offset", "in": "query", "required": False, "schema": {"type": "integer", "minimum": 0, "default": 0}},
    {
        "name": "limit",
        "in": "query",
        "required": False,
        "schema": {"type": "integer", "minimum": 1, "maximum": 5000, "default": 500},
        "description": "Rows a page (the result is paged on the server).",
    },
]


def report_paths(reports: Mapping[str, ReportSpec]) -> tuple[dict[str, Any], dict[str, Any]]:
    """The paths of the reports API and the component schemas they use."""
    listing = {
        "type": "object",
        "required": ["reports"],
        "properties": {"reports": {"type": "array", "items": {"type": "object"}}},
    }
    tags = ["Reports"]
    paths: dict[str, Any] = {
        "/api/reports": {
            "get": {
                "operationId": "list_reports",
                "tags": tags,
                "summary": "The reports your role may run",
                "responses": {
                    "200": {
                        "description": "Names, titles, parameters.",
                        "content": {"application/json": {"schema": listing}},
                    },
                    **_errors("401"),
                },
            }
        }
    }
    for name, spec in reports.items():
        paths[f"/api/reports/{name}"] = {
            "get": {
                "operationId": f"report_{name}",
                "tags": tags,
                "summary": localized(spec.title, "en", name) + " (a page of rows; hidden cells read `<5`)",
                "parameters": [_parameter(p, spec) for p in spec.parameters] + PAGING,
                "responses": {
                    "200": {
                        "description": "Columns with labels, a page of rows, totals, how many cells are hidden.",
                        "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{REPORT_RESULT}"}}},
                    },
                    **_errors("400", "401", "403", "404", "422"),
                },
            }
        }
    paths["/api/reports/preview"] = preview_path()
    draft = ReportSpec.model_json_schema(ref_template="#/components/schemas/{model}")
    components = {REPORT_RESULT: result_schema(), **draft.pop("$defs", {}), "ReportDraft": draft}
    components["ReportPreview"] = preview_body()
    return paths, components


def preview_body() -> dict[str, Any]:
    """The preview's body: a report spec, or `{name, report, params}`."""
    draft = {"$ref": "#/components/schemas/ReportDraft"}
    wrapped = {
        "type": "object",
        "required": ["report"],
        "properties": {
            "name": {"type": "string", "pattern": "^[a-z][a-z0-9_]*$"},
            "report": draft,
            "params": {"type": "object", "additionalProperties": {"type": ["string", "integer"]}},
        },
    }
    return {"oneOf": [draft, wrapped]}


def preview_path() -> dict[str, Any]:
    """`POST /api/reports/preview`: an unsaved report (the designer's draft) run as the caller."""
    return {
        "post": {
            "operationId": "preview_report",
            "tags": ["Reports"],
            "summary": "Run an unsaved report as you (checked like `crm validate`; hidden cells read `<5`)",
            "parameters": PAGING,
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ReportPreview"}}},
            },
            "responses": {
                "200": {
                    "description": "The same result as `GET /api/reports/{name}`, every row.",
                    "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{REPORT_RESULT}"}}},
                },
                **_errors("400", "401", "403", "422"),
            },
        }
    }
