"""A real `crm serve` of a prepared project for the browser tests: a free port, started, stopped."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def served_project(project: Path, secret: str, limit_seconds: int | None = None) -> Iterator[str]:
    """The base URL of `crm serve` on `project`; killed by `timeout` after `limit_seconds` if the test hangs."""
    port = free_port()
    env = {**os.environ, "CRM_SECRET_KEY": secret, "PYTHONPATH": str(ROOT)}
    command = [sys.executable, "-c", "from builder.cli import main; main()", "serve", "--project", str(project)]
    command += ["--port", str(port)]
    if limit_seconds is not None:
        command = ["timeout", str(limit_seconds), *command]
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(150):
            try:
                if httpx.get(f"{base}/login", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.2)
        else:
            pytest.fail("the server did not start: " + process.stderr.read(4000).decode(errors="replace"))
        yield base
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
