"""The record service: the one path every writer and reader goes through.

Pages, the API, importers, seeders and workflows all call it, so defaults, computed
values, validations, permissions, masking and the audit trail can never be skipped.
"""

from .actor import SEEDING, SYSTEM, Actor
from .errors import (
    Conflict,
    FieldError,
    NotFound,
    PermissionDenied,
    RecordError,
    TooManyLookups,
    ValidationFailed,
)
from .service import Page, RecordService

__all__ = [
    "SEEDING",
    "SYSTEM",
    "Actor",
    "Conflict",
    "FieldError",
    "NotFound",
    "Page",
    "PermissionDenied",
    "RecordError",
    "RecordService",
    "TooManyLookups",
    "ValidationFailed",
]
