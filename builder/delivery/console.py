"""The demo channel: prints what would have been sent, to its own stream, and sends nothing.

Its output holds message bodies, so it goes where crm.toml says (`stream = "stdout"`,
`"stderr"` or a file path, appended to), never into the server's access or error log.
A file is opened once and kept (an open per message cost more than the rest of a
delivery); it is opened again when it was moved or deleted (log rotation).
"""

from __future__ import annotations

import os
import sys
import threading
from pathlib import Path
from typing import TextIO

from .channel import Channel, ChannelConfig, OutgoingMessage, Sent, register_channel


@register_channel
class ConsoleChannel(Channel):
    type = "console"
    needs = None
    options = ("stream",)

    def __init__(self, config: ChannelConfig):
        super().__init__(config)
        self.stream_name: str = config.get("stream", str, "stdout")
        self.base = config.root
        self._lock = threading.Lock()
        self._file: TextIO | None = None

    def _write(self, text: str) -> None:
        if self.stream_name in ("stdout", "stderr"):
            stream: TextIO = sys.stdout if self.stream_name == "stdout" else sys.stderr
            stream.write(text)
            stream.flush()
            return
        path = Path(self.stream_name).expanduser()
        if not path.is_absolute() and self.base is not None:
            path = self.base / path
        file = self._file
        if file is None or _moved(path, file):
            self.close()
            file = self._file = path.open("a", encoding="utf-8")
        file.write(text)
        file.flush()

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None

    def send(self, message: OutgoingMessage) -> Sent:
        to = message.address
        who = (
            to.phone or to.email or (f"role {to.role}" if to.role else "") or ",".join(f"user {u}" for u in to.user_ids)
        )
        lines = [f"[{self.name}] {message.key} to {who or '(group)'} ({message.locale})"]
        if message.subject:
            lines.append(f"  subject: {message.subject}")
        lines.extend(f"  {line}" for line in message.body.splitlines() or [""])
        with self._lock:
            self._write("\n".join(lines) + "\n")
        return Sent(None)


def _moved(path: Path, file: TextIO) -> bool:
    """Whether `path` no longer names the open `file` (rotated or deleted)."""
    try:
        return os.stat(path).st_ino != os.fstat(file.fileno()).st_ino
    except OSError:
        return True
