"""docs/tutorial.md is true: every file it shows is written and every command it shows is run, in order.

The tutorial's fenced blocks are marked:

- ```yaml file=PATH / ```csv file=PATH: written to PATH in the current folder;
- ```sh (```sh exit=N when the command must fail with N): run with bash (`set -e`), `crm` on
  the PATH being the real command of this checkout;
- ```text right after a command block: what it prints, in pieces separated by `…` lines,
  each of which must appear (in order) in its stdout and stderr;
- ```sh serve: `crm serve`, started on a free port (`--port` added) until the end;
  ```sh server: run while it serves, with `127.0.0.1:8000` pointed at that port.

Only SQLite: the tutorial's project uses crm.toml's default database (CRM_DATABASE_URL unset).
After the tutorial's last step the test signs in as the accounts it created and checks one
page of each and the masking it promises.
"""

from __future__ import annotations

import re
import subprocess
import sys
import time
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.security.live_server import STARTUP_SECONDS, free_port

ROOT = Path(__file__).resolve().parents[1]
TUTORIAL = ROOT / "docs" / "tutorial.md"
FENCE = re.compile(r"^```(\w*)([^\n]*)\n(.*?)^```\s*$", re.MULTILINE | re.DOTALL)
COMMAND_SECONDS = 180  # a bound, not a timing assertion


@dataclass
class Block:
    lang: str
    attrs: dict[str, str]
    body: str
    line: int


def blocks(text: str) -> list[Block]:
    found = []
    for match in FENCE.finditer(text):
        attrs = dict(
            part.split("=", 1) if "=" in part else (part, "") for part in match.group(2).split() if part.strip()
        )
        line = text.count("\n", 0, match.start()) + 1
        found.append(Block(match.group(1), attrs, match.group(3), line))
    return found


def pieces(expected: str) -> list[str]:
    """The parts of an expected output between `…` lines."""
    parts, current = [], []
    for line in expected.splitlines():
        if line.strip() == "…":
            parts.append("\n".join(current))
            current = []
        else:
            current.append(line)
    parts.append("\n".join(current))
    return [part for part in parts if part.strip()]


def assert_printed(expected: str, output: str, where: str) -> None:
    output = "\n".join(line.rstrip() for line in output.splitlines())
    position = 0
    for piece in pieces(expected):
        piece = "\n".join(line.rstrip() for line in piece.splitlines())
        found = output.find(piece, position)
        assert found >= 0, f"{where}: expected\n{piece}\nafter position {position} in\n{output}"
        position = found + len(piece)


class Shell:
    """Runs the tutorial's commands as a reader would: bash, `crm` on the PATH, the folder `cd` left."""

    def __init__(self, home: Path):
        self.home = home
        self.cwd = home / "work"
        self.cwd.mkdir()
        bin_dir = home / "bin"
        bin_dir.mkdir()
        crm = bin_dir / "crm"
        crm.write_text(f'#!/bin/sh\nexec "{sys.executable}" -c "from builder.cli import main; main()" "$@"\n')
        crm.chmod(0o755)
        self.env = {
            "PATH": f"{bin_dir}:/usr/bin:/bin",
            "PYTHONPATH": str(ROOT),
            "HOME": str(home),
            "COLUMNS": "200",
            "LANG": "C.UTF-8",
        }
        self.state = home / "cwd"

    def run(self, script: str) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            ["bash", "-c", f"set -e\n{script}\npwd > '{self.state}'"],
            cwd=self.cwd,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=COMMAND_SECONDS,
        )
        if done.returncode == 0:
            self.cwd = Path(self.state.read_text().strip())
        return done

    def start(self, command: str, log: Path) -> subprocess.Popen[bytes]:
        with log.open("ab") as out:
            return subprocess.Popen(
                ["bash", "-c", f"exec {command}"], cwd=self.cwd, env=self.env, stdout=out, stderr=subprocess.STDOUT
            )


def test_every_block_of_the_tutorial_is_marked_for_this_test():
    found = blocks(TUTORIAL.read_text(encoding="utf-8"))
    assert len(found) > 20
    for index, block in enumerate(found):
        where = f"docs/tutorial.md:{block.line}"
        if block.lang in ("yaml", "csv"):
            assert "file" in block.attrs, f"{where}: a {block.lang} block needs file=PATH"
        elif block.lang == "sh":
            assert set(block.attrs) <= {"exit", "serve", "server"}, where
        elif block.lang == "text":
            assert index > 0 and found[index - 1].lang == "sh", f"{where}: expected output follows a command"
        else:
            pytest.fail(f"{where}: a block this test does not run (```{block.lang})")


def wait_for(client: httpx.Client, server: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + STARTUP_SECONDS
    while True:
        assert server.poll() is None, f"crm serve exited:\n{log.read_text(errors='replace')}"
        try:
            if client.get("/login").status_code < 500:
                return
        except httpx.TransportError:
            pass
        assert time.monotonic() < deadline, f"crm serve did not answer:\n{log.read_text(errors='replace')}"
        time.sleep(0.2)


def sign_in(base_url: str, name: str, password: str) -> httpx.Client:
    client = httpx.Client(base_url=base_url, timeout=60, follow_redirects=False)
    page = client.get("/login")
    token = re.search(r'name="csrf_token" value="([^"]*)"', page.text)
    assert token, page.text
    response = client.post(
        "/login", data={"username": name, "password": password, "next": "/", "csrf_token": token.group(1)}
    )
    assert response.status_code == 303, response.text
    return client


def test_the_tutorial_runs_from_nothing_to_a_served_crm(tmp_path, monkeypatch):
    monkeypatch.delenv("CRM_DATABASE_URL", raising=False)
    shell = Shell(tmp_path)
    log = tmp_path / "serve.log"
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    server: subprocess.Popen[bytes] | None = None
    last: subprocess.CompletedProcess[str] | None = None
    ran: list[str] = []
    try:
        for block in blocks(TUTORIAL.read_text(encoding="utf-8")):
            where = f"docs/tutorial.md:{block.line}"
            if block.lang in ("yaml", "csv"):
                path = shell.cwd / block.attrs["file"]
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(block.body, encoding="utf-8")
            elif block.lang == "text":
                assert last is not None, where
                assert_printed(block.body, last.stdout + last.stderr, where)
            elif "serve" in block.attrs:
                server = shell.start(f"{block.body.strip()} --port {port}", log)
                with httpx.Client(base_url=base_url, timeout=60) as probe:
                    wait_for(probe, server, log)
                ran.append(block.body.strip())
            else:
                script = block.body
                if "server" in block.attrs:
                    assert server is not None, f"{where}: no server yet"
                    script = script.replace("127.0.0.1:8000", f"127.0.0.1:{port}")
                last = shell.run(script)
                expected = int(block.attrs.get("exit", 0))
                assert last.returncode == expected, f"{where}: exit {last.returncode}\n{last.stdout}\n{last.stderr}"
                assert "Traceback" not in last.stderr, f"{where}:\n{last.stderr}"
                ran.extend(line for line in block.body.splitlines() if line.strip())
        assert server is not None, "the tutorial ends serving"

        # Every command the tutorial promises was really run, in its order.
        commands = [line.split()[1] for line in ran if line.startswith("crm ")]
        for command in ("init", "validate", "test", "migrate", "seed", "import", "report", "token", "serve"):
            assert command in commands, command
        assert any("crm user add admin --role admin" in line for line in ran)

        # The admin the tutorial created signs in and sees an imported patient, labels in English.
        with closing(sign_in(base_url, "admin", "clear-view-admin-2026")) as admin:
            page = admin.get("/records/patient", params={"q": "王小明"})
            assert page.status_code == 200, page.text
            assert "王小明" in page.text and "Glasses" in page.text
            assert "Eye exam" in admin.get("/").text
            form = admin.get("/records/patient/new").text
            assert "Contact" in form and "Eyes" in form and "Eye history" in form
            api = admin.get("/api/patient", params={"wears": "glasses", "full_name": "王小明"})
            assert api.status_code == 200, api.text

        # The reception desk: Chinese, the mobile masked, no eye history (least privilege).
        with closing(sign_in(base_url, "lin", "clear-view-desk-2026")) as desk:
            page = desk.get("/records/patient", params={"q": "王小明"})
            assert page.status_code == 200, page.text
            assert "框架眼镜" in page.text and "138****8000" in page.text
            assert "13800138000" not in page.text
            form = desk.get("/records/patient/new").text
            assert "联系方式" in form and "眼病史" not in form
            record = desk.get("/api/patient", params={"wears": "glasses"}).json()
            rows = record["items"] if isinstance(record, dict) and "items" in record else record
            mine = next(row for row in rows if row["full_name"] == "王小明")
            assert mine["mobile"] == "138****8000"
            assert "history" not in mine
    finally:
        if server is not None and server.poll() is None:
            server.terminate()
            try:
                server.wait(timeout=30)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()
