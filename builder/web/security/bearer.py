"""The `Authorization: Bearer <token>` header of API clients.

Other schemes (say, Basic added by a proxy's own password prompt) are not ours and
are ignored, so such a request is treated like any browser request.
"""

from __future__ import annotations

from starlette.datastructures import Headers


def bearer_token(headers: Headers) -> str | None:
    """The token of a Bearer header ("" when it is empty), None when there is none."""
    scheme, _, token = headers.get("authorization", "").strip().partition(" ")
    return token.strip() if scheme.lower() == "bearer" else None
