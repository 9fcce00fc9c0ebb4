"""The worker loop, two workers sharing a PostgreSQL outbox, and `crm worker` killed mid-delivery."""

from __future__ import annotations

import datetime as dt
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import sqlalchemy as sa
from delivery_helpers import MORNING, make_world, sms
from standins import HttpStandIn, SmtpStandIn

from builder.system_tables import outbox
from builder.worker import run_once, run_worker

ROOT = Path(__file__).resolve().parents[3]


def test_loop_runs_jobs_until_stopped_and_survives_a_failing_job():
    stop = threading.Event()
    seen: list[dt.datetime] = []

    def broken(now: dt.datetime) -> int:
        raise RuntimeError("boom")

    def counting(now: dt.datetime) -> int:
        seen.append(now)
        if len(seen) == 3:
            stop.set()
        return 1 if len(seen) < 2 else 0

    run_worker([broken, counting], clock=lambda: MORNING, stop_event=stop, poll_seconds=0.01)
    assert seen == [MORNING] * 3
    assert run_once([broken], clock=lambda: MORNING) == 0


def _wait(condition, seconds: float = 120) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.1)
    return False


def _statuses(engine: sa.Engine) -> dict[str, int]:
    with engine.connect() as conn:
        return dict(conn.execute(sa.select(outbox.c.status, sa.func.count()).group_by(outbox.c.status)).all())


@pytest.mark.postgres
def test_two_workers_on_postgres_never_send_the_same_row(tmp_path, postgres_url):
    world = make_world(tmp_path, postgres_url)
    try:
        world.patient(0, consent_sms=True)
        keys = [world.add_row(key=f"reminder:{i}") for i in range(120)]
        with HttpStandIn(delay=0.005) as gateway:
            stop = threading.Event()
            workers = [
                threading.Thread(
                    target=run_worker,
                    args=([world.job({"sms": sms(gateway.url)}, daily_cap=0, batch=5)], lambda: MORNING, stop, 0.01),
                )
                for _ in range(2)
            ]
            for thread in workers:
                thread.start()
            try:
                assert _wait(lambda: _statuses(world.engine) == {"sent": 120})
            finally:
                stop.set()
                for thread in workers:
                    thread.join()
        assert gateway.keys() == dict.fromkeys(keys, 1)
    finally:
        world.runtime.close()


MAIL_NOTIFICATION = """\
notifications:
  appointment_mail:
    channels:
      email:
        subject: {en: Appointment reminder}
        body: {en: "Hello {{ patient.name }}, see you at {{ starts_at | datetime }}."}
"""


def _write_project(world, folder: Path, url: str, gateway: str, smtp_port: int) -> Path:
    project = world.runtime.project
    folder.mkdir()
    (folder / "crm.toml").write_text(
        f'[project]\nblueprint = "{project.blueprint_path}"\n'
        f'[database]\nurl = "{url}"\n'
        f'[security]\nkey_file = "{project.key_file}"\n'
        f'[channels.sms]\ntype = "sms"\nurl = "{gateway}"\nsign_name = "S"\nconsent = "consent_sms"\n'
        f'[channels.email]\ntype = "smtp"\nhost = "127.0.0.1"\nport = {smtp_port}\nfrom = "c@clinic.example"\n'
        '[channels.inbox]\ntype = "inbox"\n'
        '[delivery]\nquiet_hours = ""\ndaily_cap = 0\nbatch = 10\nlease_seconds = 1\nbackoff_seconds = 0\n',
        encoding="utf-8",
    )
    return folder


def _start_worker(folder: Path) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("CRM_DATABASE_URL", None)
    return subprocess.Popen(
        [sys.executable, "-c", "from builder.cli import main; main()", "worker", "-p", str(folder), "--poll", "0.05"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def _clinic_with_mail(tmp_path: Path) -> Path:
    from clinic_fixtures import CLINIC

    source = tmp_path / "clinic"
    shutil.copytree(CLINIC, source)
    (source / "workflows" / "mail.yaml").write_text(MAIL_NOTIFICATION, encoding="utf-8")
    return source


CRASH_MESSAGES = 1000


def test_crm_worker_killed_mid_delivery_loses_nothing(tmp_path, database_url):
    """kill -9 amid 1,000 due reminders to slow SMS and SMTP stand-ins; after a restart all arrive, repeats ≤ in flight.

    500 by SMS and 500 by e-mail, each stand-in taking 2 ms a message; the worker claims 10 at a time,
    so at most 10 are in flight when it dies, and the test stays within about a minute on both databases.
    """
    from clinic_fixtures import build_runtime, create_users, seed_clinic
    from delivery_helpers import World

    runtime = build_runtime(tmp_path / "project", database_url, _clinic_with_mail(tmp_path))
    actors = create_users(runtime)
    world = World(runtime, seed_clinic(runtime, actors), actors)
    try:
        world.patient(0, consent_sms=True)
        due = dt.datetime.now(dt.UTC).replace(tzinfo=None) - dt.timedelta(minutes=1)
        half = range(CRASH_MESSAGES // 2)
        sms_keys = world.add_rows([f"reminder:{i}" for i in half], due=due)
        mail_keys = world.add_rows([f"mail:{i}" for i in half], due=due, channel="email", template="appointment_mail")
        with HttpStandIn(delay=0.002) as gateway, SmtpStandIn(delay=0.002) as smtp:
            folder = _write_project(world, tmp_path / "worker-project", database_url, gateway.url, smtp.port)
            first = _start_worker(folder)

            def arrived() -> int:
                return len(gateway.accepted()) + len(smtp.mails)

            try:
                started = _wait(lambda: arrived() >= 300 and _statuses(world.engine).get("sending", 0) > 0)
                assert started, first.stderr.read().decode() if first.poll() is not None else "no progress"
            finally:
                first.send_signal(signal.SIGKILL)
                first.wait()
            in_flight = _statuses(world.engine).get("sending", 0)
            assert in_flight <= 10  # one batch at most
            second = _start_worker(folder)
            try:
                assert _wait(lambda: _statuses(world.engine) == {"sent": CRASH_MESSAGES})
            finally:
                second.send_signal(signal.SIGTERM)
                assert second.wait(timeout=60) == 0
            counts = gateway.keys() + smtp.keys()
        assert set(counts) == {*sms_keys, *mail_keys}  # every message arrived, counted by key at the stand-ins
        assert sum(n - 1 for n in counts.values()) <= in_flight  # repeats only of those in flight
    finally:
        runtime.close()


def test_serve_runs_a_worker_in_process_on_sqlite_only(tmp_path, database_url, capsys):
    from builder.cli.worker_commands import in_process_worker

    world = make_world(tmp_path, database_url)
    try:
        world.runtime.project.config["channels"] = {"sms": {"type": "console"}, "inbox": {"type": "inbox"}}
        started = in_process_worker(world.runtime)
        assert (started is not None) == database_url.startswith("sqlite")
        if started is not None:
            started[1].set()
            started[0].join()
        world.runtime.project.config["worker"] = {"in_process": True}
        started = in_process_worker(world.runtime)
        assert started is not None
        started[1].set()
        started[0].join()
        del world.runtime.project.config["channels"]["sms"]  # the blueprint sends by sms: serve warns, no worker
        assert in_process_worker(world.runtime) is None
        assert "no [channels.NAME] table for `sms`" in " ".join(capsys.readouterr().out.split())
    finally:
        world.runtime.close()
