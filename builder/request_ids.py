"""The id of the request being served, so log lines written below the web layer can quote it.

The web app's error boundary sets it for every request and sends it back as
`X-Request-ID`; the record service logs with it (a rule that failed, say) while the
user sees only a plain message. Outside a request it is `-`.
"""

from __future__ import annotations

import uuid
from contextvars import ContextVar, Token

_REQUEST_ID: ContextVar[str | None] = ContextVar("crm_request_id", default=None)


def new_request_id() -> str:
    return uuid.uuid4().hex[:12]


def current_request_id() -> str:
    return _REQUEST_ID.get() or "-"


def set_request_id(request_id: str) -> Token[str | None]:
    return _REQUEST_ID.set(request_id)


def reset_request_id(token: Token[str | None]) -> None:
    _REQUEST_ID.reset(token)
