"""What can go wrong with a record operation, as data the pages and API can show."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


class RecordError(Exception):
    """Base of the record service's errors; each maps to one HTTP status."""

    status = 400


class NotFound(RecordError):
    """No such record, or none the actor may see (the two look the same on purpose)."""

    status = 404


class PermissionDenied(RecordError):
    """The actor's role has no grant for this action on this entity (or, `field`, on that field)."""

    status = 403

    def __init__(self, message: str = "", field: str = "__all__") -> None:
        super().__init__(message)
        self.field = field


class Conflict(RecordError):
    """The record changed since the actor read it (optimistic locking)."""

    status = 409

    def __init__(self, message: str, current_version: int | None = None):
        super().__init__(message)
        self.current_version = current_version


class TooManyLookups(RecordError):
    """The actor looked records up by masked fields too often; the admins have been alerted."""

    status = 429

    def __init__(self, message: str, retry_after: int):
        super().__init__(message)
        self.retry_after = retry_after


@dataclass(frozen=True)
class FieldError:
    """One field-level problem: `field` is a dotted path (`prescriptions.0.drug`) or `__all__`."""

    field: str
    code: str
    message: str
    params: dict[str, Any] | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"field": self.field, "code": self.code, "message": self.message}


class ValidationFailed(RecordError):
    """Input that breaks the blueprint's rules; nothing was written."""

    status = 422

    def __init__(self, errors: list[FieldError]):
        super().__init__("; ".join(f"{e.field}: {e.message}" for e in errors))
        self.errors = errors

    def by_field(self) -> dict[str, list[str]]:
        grouped: dict[str, list[str]] = {}
        for error in self.errors:
            grouped.setdefault(error.field, []).append(error.message)
        return grouped
