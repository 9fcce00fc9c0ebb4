"""Real stand-ins for the outside world: an SMTP server (aiosmtpd) and an HTTP gateway.

Both listen on 127.0.0.1 on a free port, keep every message they accept, and count them
by idempotency key, so tests can say "delivered exactly once" or "duplicates ≤ N".
The HTTP stand-in answers from a script of status codes (then 200), optionally slowly,
and serves as the SMS gateway, the WeCom robot and a webhook receiver.
"""

from __future__ import annotations

import asyncio
import collections
import json
import socket
import threading
import time
from dataclasses import dataclass, field
from email import message_from_bytes
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from aiosmtpd.controller import Controller


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class SmtpStandIn:
    """An SMTP server keeping each accepted mail: (X-CRM-Key, Message-ID, To, Subject, body, attachments)."""

    def __init__(self, delay: float = 0.0) -> None:
        self.delay = delay
        self.mails: list[dict[str, Any]] = []
        self.lock = threading.Lock()
        self.port = free_port()
        self.controller = Controller(self, hostname="127.0.0.1", port=self.port)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        mail = message_from_bytes(envelope.content)
        if self.delay:
            await asyncio.sleep(self.delay)
        parts = list(mail.walk()) if mail.is_multipart() else [mail]
        text = next(p for p in parts if p.get_content_type() == "text/plain" and not p.get_filename())
        files = [(p.get_filename(), p.get_content_type(), p.get_payload(decode=True)) for p in parts]
        files = [file for file in files if file[0]]
        with self.lock:
            self.mails.append(
                {
                    "key": str(mail["X-CRM-Key"]),
                    "message_id": str(mail["Message-ID"]),
                    "to": str(mail["To"]),
                    "subject": str(mail["Subject"]),
                    "body": text.get_payload(decode=True).decode("utf-8"),
                    "attachments": files,  # (filename, content type, bytes)
                }
            )
        return "250 OK"

    def keys(self) -> collections.Counter:
        with self.lock:
            return collections.Counter(m["key"] for m in self.mails)

    def __enter__(self) -> SmtpStandIn:
        self.controller.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.controller.stop()


@dataclass
class HttpStandIn:
    """An HTTP server that records each POST and answers from `script` (status codes), then 200."""

    script: list[int] = field(default_factory=list)
    delay: float = 0.0
    answer: dict[str, Any] = field(default_factory=lambda: {"code": "OK"})
    requests: list[dict[str, Any]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.lock = threading.Lock()
        stand_in = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                if stand_in.delay:
                    time.sleep(stand_in.delay)
                with stand_in.lock:
                    status = stand_in.script.pop(0) if stand_in.script else 200
                    if status == 200:
                        stand_in.requests.append(
                            {"path": self.path, "headers": dict(self.headers), "raw": raw, "json": json.loads(raw)}
                        )
                    number = len(stand_in.requests)
                body = json.dumps({**stand_in.answer, "biz_id": f"biz-{number}"}).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def accepted(self) -> list[dict[str, Any]]:
        with self.lock:
            return list(self.requests)

    def keys(self, field_name: str = "out_id") -> collections.Counter:
        return collections.Counter(r["json"].get(field_name) for r in self.accepted())

    def __enter__(self) -> HttpStandIn:
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
