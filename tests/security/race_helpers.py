"""Helpers for the race tests: a clinic on disk, workers released together, real `crm serve` processes.

Each worker gets its own engine (its own connections) and record service, as separate
app processes would; a barrier releases all attempts on one slot at the same moment.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests" / "builder" / "web"))

from clinic_fixtures import build_runtime, create_tokens, create_users  # noqa: E402

from builder.records import SYSTEM, RecordService  # noqa: E402
from builder.runtime import Runtime  # noqa: E402
from builder.storage.database import make_engine  # noqa: E402

SLOT_MESSAGE = "The doctor already has an appointment at that time"
SLOT_MESSAGES = (SLOT_MESSAGE, "该医生此时段已有预约")  # API tokens speak the app's default language
BARRIER_SECONDS = 60
SERVER_SECONDS = 240
SECRET = "race-tests-secret-key-that-is-long-enough-0123456789"


def clinic_runtime(tmp_dir: Path, url: str) -> tuple[Runtime, dict[str, Any]]:
    """The clinic's tables, its users and tokens, one doctor and one patient."""
    runtime = build_runtime(tmp_dir, url)
    create_users(runtime)
    doctor = runtime.records.create(SYSTEM, "staff", {"name": "Dr. Race", "department": "internal_medicine"})
    patient = runtime.records.create(
        SYSTEM,
        "patient",
        {"name": "Race Patient", "phone": "13800138000", "gender": "female", "birth_date": "1970-01-01"},
    )
    return runtime, {"doctor": doctor["id"], "patient": patient["id"], "tokens": create_tokens(runtime)}


def own_service(runtime: Runtime, url: str) -> RecordService:
    """A record service with an engine of its own, like another app process."""
    service = runtime.records
    return RecordService(
        runtime.blueprint.entities,
        make_engine(url),
        service.cipher,
        decision_tables=service.decision_tables,
        timezone=service.timezone,
    )


def in_lockstep(workers: int, rounds: int, attempt: Callable[[int, int], Any]) -> list[list[Any]]:
    """Run `attempt(worker, round)` on `workers` threads, all released together for each round.

    Returns results[round][worker]: the value returned, or the exception raised.
    """
    barrier = threading.Barrier(workers, timeout=BARRIER_SECONDS)
    results: list[list[Any]] = [[None] * workers for _ in range(rounds)]

    def work(worker: int) -> None:
        for round_ in range(rounds):
            barrier.wait()
            try:
                results[round_][worker] = attempt(worker, round_)
            except Exception as exc:  # noqa: BLE001 - the test judges every outcome
                results[round_][worker] = exc

    with ThreadPoolExecutor(workers) as pool:
        for future in [pool.submit(work, w) for w in range(workers)]:
            future.result(timeout=BARRIER_SECONDS * rounds)
    return results


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def write_config(runtime: Runtime, url: str) -> Path:
    """A crm.toml beside the runtime's project, so `crm serve --project` opens the same database."""
    config = runtime.project.config
    folder = Path(runtime.project.root)
    (folder / "crm.toml").write_text(
        f'[project]\nblueprint = "{config["project"]["blueprint"]}"\n[database]\nurl = "{url}"\n'
        f'[security]\nkey_file = "{config["security"]["key_file"]}"\n',
        encoding="utf-8",
    )
    return folder


@contextmanager
def crm_servers(project_dir: Path, count: int) -> Iterator[list[str]]:
    """`count` real `crm serve` processes on one project (bounded by `timeout`); yields their base URLs."""
    env = {**os.environ, "CRM_SECRET_KEY": SECRET, "PYTHONPATH": str(REPO)}
    processes, bases = [], []
    try:
        for _ in range(count):
            port = _free_port()
            processes.append(
                subprocess.Popen(
                    [
                        "timeout",
                        str(SERVER_SECONDS),
                        sys.executable,
                        "-c",
                        "from builder.cli import main; main()",
                        "serve",
                        "--project",
                        str(project_dir),
                        "--port",
                        str(port),
                    ],
                    env=env,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.PIPE,
                )
            )
            bases.append(f"http://127.0.0.1:{port}")
        for base, process in zip(bases, processes):
            _wait_until_up(base, process)
        yield bases
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()


def _wait_until_up(base: str, process: subprocess.Popen) -> None:
    for _ in range(300):
        if process.poll() is not None:
            break
        try:
            if httpx.get(f"{base}/login", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            time.sleep(0.2)
    raise AssertionError("a server did not start: " + process.stderr.read(4000).decode(errors="replace"))


def summary(outcomes: Sequence[Any]) -> str:
    """How many of each kind of outcome, compactly (a record made counts as "made")."""
    kinds = Counter("made" if isinstance(o, dict) else repr(o)[:160] for o in outcomes)
    return "; ".join(f"{n} x {kind}" for kind, n in kinds.most_common())
