"""Security headers on every response, and `no-store` wherever patient data may be.

The content security policy allows only the app's own scripts, styles and images
(no inline code), so injected markup cannot run; framing is refused (clickjacking).
"""

from __future__ import annotations

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "object-src 'none'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'"
)

BASE_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
}
HSTS = "max-age=31536000"


class SecurityHeadersMiddleware:
    """Add the headers; every response gets `Cache-Control: no-store` but static files.

    Signed-in or not (the login form carries a CSRF token, a public form a patient's
    link), whatever caching rule a route set; paths under `cacheable_prefixes` keep theirs.
    """

    def __init__(
        self, app: ASGIApp, https_only: bool = False, cacheable_prefixes: tuple[str, ...] = ("/static/",)
    ) -> None:
        if not isinstance(cacheable_prefixes, tuple) or not all(p.startswith("/") for p in cacheable_prefixes):
            raise ValueError("cacheable_prefixes must be a tuple of paths starting with /")
        self.app = app
        self.headers = dict(BASE_HEADERS)
        if https_only:
            self.headers["Strict-Transport-Security"] = HSTS
        self.cacheable_prefixes = cacheable_prefixes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in self.headers.items():
                    if name not in headers:
                        headers[name] = value
                self._set_cache_rule(scope, headers)
            await send(message)

        await self.app(scope, receive, send_with_headers)

    def _set_cache_rule(self, scope: Scope, headers: MutableHeaders) -> None:
        if scope.get("path", "").startswith(self.cacheable_prefixes):
            return
        headers["Cache-Control"] = "no-store"
