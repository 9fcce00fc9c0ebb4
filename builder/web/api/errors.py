"""JSON errors of the API: one shape, `{"errors": [{"field", "code", "message"}]}`, for every status."""

from __future__ import annotations

from collections.abc import Iterable

from starlette.responses import JSONResponse

from builder.records import FieldError


class ApiError(Exception):
    """Raised by API handlers; rendered by the app's error handlers as JSON."""

    def __init__(self, status: int, errors: Iterable[FieldError], headers: dict[str, str] | None = None):
        super().__init__(status)
        self.status = status
        self.errors = list(errors)
        self.headers = headers


def one(status: int, code: str, message: str, field: str = "__all__") -> ApiError:
    return ApiError(status, [FieldError(field, code, message)])


def error_response(status: int, errors: Iterable[FieldError], headers: dict[str, str] | None = None) -> JSONResponse:
    body = {"errors": [e.as_dict() for e in errors]}
    return JSONResponse(body, status_code=status, headers=headers)
