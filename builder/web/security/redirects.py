"""Where a form may send the browser next: only paths on this site (no open redirects)."""

from __future__ import annotations

from urllib.parse import urlsplit

MAX_NEXT_LENGTH = 2000


def safe_next(value: object, default: str = "/") -> str:
    """`value` if it is a relative path on this site (`/patients?page=2`), else `default`.

    Refused: absolute URLs, scheme-relative `//host`, backslash tricks (`/\\host`,
    which browsers read as `//host`), control characters and anything not starting
    with a single `/`.
    """
    if not isinstance(value, str) or not value or len(value) > MAX_NEXT_LENGTH:
        return default
    if not value.startswith("/") or value.startswith(("//", "/\\")) or "\\" in value:
        return default
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in value):
        return default
    parts = urlsplit(value)
    if parts.scheme or parts.netloc:
        return default
    return value
