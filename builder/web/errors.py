"""Every failure as a page or a JSON body, never a traceback.

Expected failures (404, 403, 401, 405, record errors) are rendered by exception
handlers; anything else is caught by `ErrorBoundary`, logged with a request id and
answered with a generic 500 that quotes the id (so support can find the log line).
"""

from __future__ import annotations

import html
import logging
from typing import Any

from starlette.datastructures import MutableHeaders
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from builder.records import (
    Conflict,
    FieldError,
    NotFound,
    PermissionDenied,
    RecordError,
    TooManyLookups,
    ValidationFailed,
)
from builder.request_ids import new_request_id, reset_request_id, set_request_id
from builder.storage.blueprint_version import StaleBlueprint
from engines.forms import message

from .api.errors import ApiError, error_response
from .context import locale_of
from .i18n import register_texts, translate
from .methods import allow_header
from .rendering import render

logger = logging.getLogger("builder.web")

register_texts(
    {
        "error.400": {"en": "The request could not be understood.", "zh-CN": "无法理解该请求。"},
        "error.401": {"en": "Please sign in first.", "zh-CN": "请先登录。"},
        "error.403": {"en": "Your role may not do this.", "zh-CN": "您的角色无权执行此操作。"},
        "error.404": {
            "en": "This page or record does not exist, or you may not see it.",
            "zh-CN": "该页面或记录不存在,或您无权查看。",
        },
        "error.405": {"en": "This action is not available here.", "zh-CN": "此处不支持该操作。"},
        "error.409": {"en": "The record was changed by someone else.", "zh-CN": "该记录已被他人修改。"},
        "error.422": {"en": "Some values are not valid.", "zh-CN": "部分内容无效。"},
        "error.429": {
            "en": "Too many requests of this kind. Please wait and try again later.",
            "zh-CN": "此类请求过于频繁,请稍后再试。",
        },
        "error.500": {
            "en": "Something went wrong on our side. Please try again; if it keeps happening, "
            "tell your administrator this code:",
            "zh-CN": "系统出现问题,请重试;如果问题持续,请把以下编号告诉管理员:",
        },
        "error.503": {
            "en": "The CRM was just updated. Please try again in a moment; nothing was saved.",
            "zh-CN": "系统刚刚完成更新,请稍后重试;本次操作未保存。",
        },
        "error.title": {"en": "Error {status}", "zh-CN": "错误 {status}"},
        "error.back_home": {"en": "Back to the home page", "zh-CN": "返回首页"},
    }
)

CODES = {
    400: "bad_request",
    401: "not_authenticated",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "too_large",
    422: "invalid",
    429: "too_many_requests",
    503: "updating",
}

RETRY_AFTER_UPDATE = {"Retry-After": "2"}


def is_api(scope_or_request: Any) -> bool:
    path = scope_or_request.url.path if isinstance(scope_or_request, Request) else scope_or_request.get("path", "")
    return path == "/api" or path.startswith("/api/")


def error_page(
    request: Request, status: int, detail: str | None = None, headers: dict[str, str] | None = None
) -> Response:
    """The HTML error page (or the JSON error under /api) for `status`."""
    locale = locale_of(request)
    text = detail or translate(f"error.{status}", locale)
    if is_api(request):
        return error_response(status, [FieldError("__all__", CODES.get(status, "error"), text)], headers)
    return render(request, "error.html", {"status": status, "message": text}, status_code=status, headers=headers)


async def http_exception(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    status = exc.status_code if exc.status_code in CODES or exc.status_code >= 500 else 400
    detail = None if exc.detail in (None, "") or exc.detail == _default_phrase(exc.status_code) else str(exc.detail)
    headers = dict(exc.headers or {})
    if status == 405:
        headers["Allow"] = allow_header(request.scope.get("app"), request.scope, headers.get("Allow", ""))
    return error_page(request, status, detail if is_api(request) else None, headers or None)


def _default_phrase(status: int) -> str:
    from http import HTTPStatus

    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return ""


async def api_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)
    if not is_api(request):
        return error_page(request, exc.status if exc.status in CODES else 400)
    return error_response(exc.status, exc.errors, exc.headers)


async def record_error(request: Request, exc: Exception) -> Response:
    """A record-service error that the route did not handle itself."""
    locale = locale_of(request)
    if isinstance(exc, ValidationFailed):
        errors, status = exc.errors, 422
    elif isinstance(exc, Conflict):
        errors, status = [FieldError("version", "conflict", message("conflict", locale))], 409
    elif isinstance(exc, (NotFound, PermissionDenied)):
        status = exc.status
        where = exc.field if isinstance(exc, PermissionDenied) else "__all__"
        errors = [FieldError(where, CODES[status], translate(f"error.{status}", locale))]
    else:
        status = exc.status if isinstance(exc, RecordError) else 400
        errors = [FieldError("__all__", CODES.get(status, "error"), str(exc))]
    headers = {"Retry-After": str(exc.retry_after)} if isinstance(exc, TooManyLookups) else None
    if is_api(request):
        return error_response(status, errors, headers)
    return error_page(request, status, str(exc) if isinstance(exc, TooManyLookups) else None, headers)


async def stale_blueprint(request: Request, exc: Exception) -> Response:
    """A write refused because a migration landed while this process had the old blueprint."""
    return error_page(request, 503, None, RETRY_AFTER_UPDATE)


async def not_signed_in(request: Request, exc: Exception) -> Response:
    if is_api(request) or request.method not in ("GET", "HEAD"):
        return error_page(request, 401, headers={"WWW-Authenticate": "Bearer"} if is_api(request) else None)
    from urllib.parse import urlencode

    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return RedirectResponse(f"/login?{urlencode({'next': target})}", status_code=303)


class ErrorBoundary:
    """An unexpected exception becomes a logged, generic 500.

    Every request gets an id (`X-Request-ID` on the answer, and on log lines written
    while serving it, see `builder.request_ids`), so support can match a report to the log.
    """

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False
        request_id = new_request_id()
        token = set_request_id(request_id)

        async def tracking_send(message_: Message) -> None:
            nonlocal started
            if message_["type"] == "http.response.start":
                started = True
                headers = MutableHeaders(scope=message_)
                if "x-request-id" not in headers:
                    headers["X-Request-ID"] = request_id
            await send(message_)

        try:
            await self.app(scope, receive, tracking_send)
        except Exception:  # noqa: BLE001 - this is the boundary
            logger.exception(
                "unhandled error in %s %s (request id %s)", scope.get("method"), scope.get("path"), request_id
            )
            if started:
                return
            response = server_error(scope, request_id)
            await response(scope, receive, send)
        finally:
            reset_request_id(token)


def server_error(scope: Scope, request_id: str) -> Response:
    headers = {"X-Request-ID": request_id}
    if is_api(scope):
        return JSONResponse(
            {
                "errors": [
                    {"field": "__all__", "code": "server_error", "message": f"internal error; request id {request_id}"}
                ]
            },
            status_code=500,
            headers=headers,
        )
    request = Request(scope)
    try:
        return render(
            request,
            "error.html",
            {"status": 500, "message": translate("error.500", locale_of(request)), "request_id": request_id},
            status_code=500,
            headers=headers,
        )
    except Exception:  # noqa: BLE001 - even the error page failed: plain text it is
        return HTMLResponse(
            f"<!doctype html><title>500</title><p>Internal error. Request id {html.escape(request_id)}</p>",
            status_code=500,
            headers=headers,
        )


def exception_handlers() -> dict[Any, Any]:
    handlers: dict[Any, Any] = {HTTPException: http_exception, ApiError: api_error, RecordError: record_error}
    from .context import NotSignedIn

    handlers[NotSignedIn] = not_signed_in
    handlers[StaleBlueprint] = stale_blueprint
    try:
        from .security import security_exception_handlers

        handlers.update(security_exception_handlers())
    except ImportError:
        pass
    return handlers
