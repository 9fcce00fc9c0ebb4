"""`GET /api/tasks`: the records waiting for the token's user or role, as "My tasks" shows them.

The same record-service call as the page (`RecordService.tasks`): the role's row
filters and readable fields, each entity's read audited. Codes here, not labels: an
API client translates them itself.
"""

from __future__ import annotations

from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from builder.records import RecordService
from builder.records.tasks import MAX_TASKS, Task

from ..context import require_actor
from .serializing import record_json, system_json

TASK_LIST = "TaskList"


def task_json(service: RecordService, task: Task) -> dict[str, Any]:
    """One task: which record, its state and due moment, whose it is, and the moves the role may make."""
    return {
        "entity": task.entity,
        "id": task.record["id"],
        "state": task.state,
        "due": system_json(task.due),
        "overdue": task.overdue,
        "assigned": task.assigned,
        "record": record_json(service.entity(task.entity), task.record),
        "transitions": [
            {"name": d.transition, "allowed": d.allowed, "refusal": d.code, "missing": list(d.missing)}
            for d in task.moves
        ],
    }


def tasks_routes(service: RecordService) -> list[BaseRoute]:
    async def tasks(request: Request) -> Response:
        actor = require_actor(request)
        found = await run_in_threadpool(service.tasks, actor)
        return JSONResponse({"items": [task_json(service, t) for t in found.items], "total": found.total})

    return [Route("/tasks", tasks, methods=["GET"], name="api_tasks")]


def tasks_schema() -> dict[str, Any]:
    """The answer of `GET /api/tasks`."""
    move = {
        "type": "object",
        "required": ["name", "allowed", "refusal", "missing"],
        "additionalProperties": False,
        "properties": {
            "name": {"type": "string", "description": "The transition: POST /api/{entity}/{id}/transitions/{name}."},
            "allowed": {"type": "boolean"},
            "refusal": {
                "anyOf": [{"type": "string"}, {"type": "null"}],
                "description": "Why not now: required (fill `missing` with the move), guard, guard_error.",
            },
            "missing": {"type": "array", "items": {"type": "string"}},
        },
    }
    task = {
        "type": "object",
        "required": ["entity", "id", "state", "due", "overdue", "assigned", "record", "transitions"],
        "additionalProperties": False,
        "properties": {
            "entity": {"type": "string"},
            "id": {"type": "integer"},
            "state": {"type": "string", "description": "The workflow state (a code; labels are in the blueprint)."},
            "due": {
                "anyOf": [{"type": "string"}, {"type": "null"}],
                "description": "The due date or datetime (ISO), absent when the role may not read the due field.",
            },
            "overdue": {"type": "boolean"},
            "assigned": {"type": "boolean", "description": "Assigned to you; false: waiting for your role."},
            "record": {"type": "object", "description": "The record as GET /api/{entity}/{id} gives it."},
            "transitions": {"type": "array", "items": move},
        },
    }
    return {
        "type": "object",
        "required": ["items", "total"],
        "additionalProperties": False,
        "properties": {
            "items": {"type": "array", "items": task, "maxItems": MAX_TASKS},
            "total": {"type": "integer", "description": "How many tasks there are in all (items holds the first)."},
        },
    }


def tasks_path() -> dict[str, Any]:
    return {
        "get": {
            "operationId": "list_tasks",
            "tags": ["Tasks"],
            "summary": "My tasks: records waiting for you or your role, overdue first",
            "description": "Records of entities with `tasks:` in the blueprint, in a task state, assigned to you "
            "(or unassigned and movable by your role), within your row filters; each entity's read is audited.",
            "responses": {
                "200": {
                    "description": "The tasks, overdue first, then by due moment.",
                    "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{TASK_LIST}"}}},
                },
                "401": {
                    "description": "Not signed in: send `Authorization: Bearer <token>`.",
                    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Errors"}}},
                },
            },
        }
    }
