"""The spec and a self-contained docs page (no CDN: clinics may run offline)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from builder.records import RecordService
from engines.forms import localized

from ..rendering import render
from .openapi import openapi_document

METHODS = ("get", "post", "patch", "delete")


def _operations(spec: dict[str, Any]) -> list[dict[str, Any]]:
    """The spec's operations, flattened for the template (schemas pretty-printed)."""
    schemas = spec["components"]["schemas"]
    out = []
    for path, item in spec["paths"].items():
        shared = item.get("parameters", [])
        for method in METHODS:
            op = item.get(method)
            if op is None:
                continue
            body = None
            if "requestBody" in op:
                ref = op["requestBody"]["content"]["application/json"]["schema"]["$ref"]
                body = json.dumps(schemas[ref.rsplit("/", 1)[1]], indent=2, ensure_ascii=False)
            out.append(
                {
                    "method": method.upper(),
                    "path": path,
                    "summary": op.get("summary", ""),
                    "tag": op.get("tags", [""])[0],
                    "id": op["operationId"],
                    "parameters": shared + op.get("parameters", []),
                    "body": body,
                    "responses": [(code, r.get("description", "")) for code, r in op["responses"].items()],
                }
            )
    return out


def docs_routes(
    service: RecordService, app_title_text: Any, reports: Mapping[str, Any] | None = None
) -> list[BaseRoute]:
    spec = openapi_document(service, localized(app_title_text, "en", "CRM"), reports=reports)
    operations = _operations(spec)

    async def openapi_json(request: Request) -> Response:
        return JSONResponse(spec)

    async def docs_page(request: Request) -> Response:
        return render(request, "api_docs.html", {"spec": spec, "operations": operations})

    return [
        Route("/openapi.json", openapi_json, methods=["GET"], name="api_openapi"),
        Route("/docs", docs_page, methods=["GET"], name="api_docs"),
    ]
