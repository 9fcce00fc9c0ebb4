"""Moving a record from a calendar or a board: one write through the record service, in words either way.

A drag (static/views.js, `Accept: application/json`) and the no-script form post the
same fields to the same routes; both answer with the outcome: a redirect back to the
view (form) or `{"ok": true, "record": …}` (script), and on refusal the reasons in the
user's language (the blueprint's own validation message for a double booking) with 422,
409 for a stale version, 403 for a role that may not make the move.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response

from builder.records import Conflict, NotFound, PermissionDenied, RecordError, ValidationFailed
from builder.records.compiled import CompiledEntity
from engines.forms import localized

from ..i18n import register_texts, translate
from .workflow_panels import _problems

register_texts(
    {
        "views.conflict": {
            "en": "Someone changed this record meanwhile; the view shows it as it is now.",
            "zh-CN": "此记录已被他人修改;视图显示的是当前内容。",
        },
        "views.moved": {"en": "Moved.", "zh-CN": "已移动。"},
        "views.not_moved": {"en": "Not moved:", "zh-CN": "未移动:"},
        "views.bad_move": {"en": "Choose where to move it.", "zh-CN": "请选择要移动到的位置。"},
    }
)


def state_label(machine: Any, state: str, locale: str) -> str:
    """A workflow state's own label (machine.label prefers a transition of the same name: `done`)."""
    spec = machine.spec.states.get(state)
    return localized(getattr(spec, "label", None), locale, state.replace("_", " "))


def wants_json(request: Request) -> bool:
    return "application/json" in request.headers.get("accept", "")


def problems_of(exc: RecordError, entity: CompiledEntity, locale: str) -> tuple[int, list[str]]:
    """The HTTP status and the reasons, in words, for a refused move."""
    if isinstance(exc, Conflict):
        return 409, [translate("views.conflict", locale)]
    if isinstance(exc, PermissionDenied):
        return 403, _problems(exc, entity, locale)
    if isinstance(exc, NotFound):
        return 404, [str(exc)]
    if isinstance(exc, ValidationFailed):
        return 422, _problems(exc, entity, locale)
    return 422, [str(exc)]


def moved(request: Request, back: str, record: dict[str, Any]) -> Response:
    if wants_json(request):
        return JSONResponse({"ok": True, "id": record["id"], "version": record["version"]})
    joiner = "&" if "?" in back else "?"
    return RedirectResponse(f"{back}{joiner}moved={record['id']}", status_code=303)


def refused_json(status: int, reasons: list[str]) -> Response:
    return JSONResponse({"ok": False, "errors": reasons}, status_code=status)
