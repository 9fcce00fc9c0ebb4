"""A real clinic project served by a real `crm serve` subprocess, for tests that need one.

`clinic_project` makes the project folder (the clinic template, migrated, a few
patients with known PHI, an admin API token); `LiveServer` runs `crm serve` on a
free 127.0.0.1 port with stdout and stderr going to a log file the test can read.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Self

import httpx
from click.testing import CliRunner

from builder.accounts import create_token
from builder.cli import main
from builder.project import init_project
from builder.records import SYSTEM
from builder.runtime import open_runtime
from engines.forms.fieldtypes.identity import resident_id_check_digit

ROOT = Path(__file__).resolve().parents[2]
STARTUP_SECONDS = 90  # a generous bound on a loaded machine; not a timing assertion


def resident_id(serial: int) -> str:
    first17 = f"33010219850307{serial:03d}"
    return first17 + resident_id_check_digit(first17)


@dataclass
class ClinicProject:
    """A migrated clinic project with seeded patients and an admin token."""

    root: Path
    database_url: str
    key_file: Path
    token: str
    patients: list[dict[str, Any]] = field(default_factory=list)


def write_config(root: Path, database_url: str, key_file: Path, extra: str = "") -> None:
    (root / "crm.toml").write_text(
        f'[project]\nblueprint = "blueprint"\n\n[database]\nurl = "{database_url}"\n\n'
        f'[security]\nkey_file = "{key_file}"\n{extra}',
        encoding="utf-8",
    )


def run_cli(*args: str) -> str:
    """Run a `crm` command in this process; its output (AssertionError if it failed)."""
    result = CliRunner().invoke(main, list(args))
    assert result.exit_code == 0, result.output
    return result.output


def clinic_project(tmp_path: Path, database_url: str, patients: int = 3, extra_config: str = "") -> ClinicProject:
    """The clinic template in tmp_path/clinic, migrated, with `patients` patients and an admin token."""
    root = init_project(tmp_path / "clinic", "clinic")
    key_file = tmp_path / "keys" / "clinic.crm-keys.json"
    write_config(root, database_url, key_file, extra_config)
    run_cli("migrate", "-p", str(root), "--yes")
    runtime = open_runtime(root)
    try:
        made = [
            runtime.records.create(
                SYSTEM,
                "patient",
                {
                    "name": f"Patient {n}",
                    "phone": f"1391234{n:04d}",
                    "id_number": resident_id(n),
                    "allergies": f"allergic to drug {n}",
                },
            )
            for n in range(1, patients + 1)
        ]
        token = create_token(runtime.engine, "tester", "admin", roles=list(runtime.blueprint.roles))
    finally:
        runtime.close()
    return ClinicProject(root, database_url, key_file, token, made)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class LiveServer:
    """`crm serve` in a subprocess; `client` talks to it with the project's admin token."""

    def __init__(self, project: ClinicProject, log: Path):
        self.project, self.log, self.port = project, log, free_port()
        self.process: subprocess.Popen | None = None
        self.client = httpx.Client(
            base_url=f"http://127.0.0.1:{self.port}", headers={"Authorization": f"Bearer {project.token}"}, timeout=60
        )

    def __enter__(self) -> Self:
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        env.pop("CRM_DATABASE_URL", None)
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                [
                    sys.executable,
                    "-c",
                    "from builder.cli import main; main()",
                    "serve",
                    "-p",
                    str(self.project.root),
                    "--port",
                    str(self.port),
                ],
                stdout=out,
                stderr=subprocess.STDOUT,
                env=env,
                cwd=self.project.root,
            )
        deadline = time.monotonic() + STARTUP_SECONDS
        while True:
            assert self.process.poll() is None, f"crm serve exited:\n{self.log_text()}"
            try:
                if self.client.get("/login").status_code < 500:
                    return self
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, f"crm serve did not answer:\n{self.log_text()}"
            time.sleep(0.2)

    def __exit__(self, *_exc: object) -> None:
        self.client.close()
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def log_text(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace") if self.log.exists() else ""
