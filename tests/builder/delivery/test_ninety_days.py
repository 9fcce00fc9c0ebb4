"""Ninety days on a clock the test moves, four workers on PostgreSQL: every run and every timer exactly once.

The clinic template plus two schedules (daily at 08:00 and every three hours at :15, in
Shanghai time) that each create a `tick_log` record and message the admins' inbox. A
driver books, confirms, moves and cancels appointments, sees patients (a completed
visit makes two follow-up tasks) and closes some follow-ups. After its moves the clock
steps an hour and four workers (threads, each with its own runtime and connection pool,
running `project_jobs`: schedules, timers, delivery to an SMS gateway stand-in and the
inbox) work until none has anything left. The expected runs come from croniter over the
90 days, the expected timers from the driver's own model of the records' dates (reminder
24 h before a confirmed appointment, no-show 30 minutes after, overdue follow-up the day
after its due date). Each must have happened exactly once: counted by the jobs' own
returns (a timer claimed twice is handled twice), the outbox keys, the `tick_log` rows a
run creates (a repeated run creates two), the workflow history and the SMS gateway.
"""

from __future__ import annotations

import collections
import contextlib
import datetime as dt
import logging
import multiprocessing
import random
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from croniter import croniter
from delivery_helpers import sms
from standins import HttpStandIn

from builder.records import SYSTEM
from builder.records.errors import ValidationFailed
from builder.runtime import open_runtime
from builder.system_tables import outbox, schedules, timers, workflow_history
from builder.worker import project_jobs, run_once

pytestmark = [pytest.mark.postgres, pytest.mark.timeout(600)]  # 2-4 min on the shared 2-core machine

ZONE = ZoneInfo("Asia/Shanghai")
START = dt.datetime(2026, 11, 20, 7, 7)  # local wall time; hourly steps land at :07, never on a due moment
DAYS = 90
STEP = dt.timedelta(hours=1)
WORKERS = 4
SCHEDULES = {"daily_round": "0 8 * * *", "three_hourly_round": "15 */3 * * *", "monthly_recall": "0 9 1 * *"}

TICK_LOG = """\
tick_log:
  title: {en: Scheduled run}
  fields:
    source: {type: text, max_length: 40}
  permissions:
    admin: {read: all}
"""

ROUNDS = """\
automations:
  daily_round:
    entity: staff
    schedule: "0 8 * * *"
    for_each: "name == 'Duty'"
    do:
      - create: {entity: tick_log, values: {source: "'daily_round'"}}
      - notify: {to_role: admin, channel: inbox, template: round}
  three_hourly_round:
    entity: staff
    schedule: "15 */3 * * *"
    for_each: "name == 'Duty'"
    do:
      - create: {entity: tick_log, values: {source: "'three_hourly_round'"}}
      - notify: {to_role: admin, channel: inbox, template: round}

notifications:
  round:
    channels:
      inbox:
        subject: {en: "Round"}
        body: {en: "Round of {{ name }}"}
"""


def utc_key(local: dt.datetime) -> str:
    """A due moment as it appears in outbox keys (UTC, ISO with offset)."""
    return local.replace(tzinfo=ZONE).astimezone(dt.UTC).isoformat()


# -- the driver's model of what should happen -------------------------------------------------------------------------
@dataclass
class Timer:
    due: dt.datetime | None = None  # local wall time
    status: str = "none"


@dataclass
class Model:
    """What the engine's plan_timers/store_plans and the workers should make of the driver's writes."""

    timers: dict[tuple[str, str, int], Timer] = field(default_factory=dict)
    fired: list[tuple[str, str, int, dt.datetime]] = field(default_factory=list)

    def plan(
        self,
        key: tuple[str, str, int],
        before: dt.datetime | None,
        after: dt.datetime | None,
        *,
        created: bool,
        now: dt.datetime,
    ) -> None:
        timer = self.timers.setdefault(key, Timer())
        if not created and before == after:
            return  # unchanged: it may have fired
        if after is None:
            if timer.status == "planned":
                timer.status = "cancelled"
        elif after <= now:
            timer.due, timer.status = after, "skipped"
        else:
            timer.due, timer.status = after, "planned"

    def fire_due(self, now: dt.datetime) -> list[tuple[str, str, int, dt.datetime]]:
        due = [(k, t) for k, t in self.timers.items() if t.status == "planned" and t.due is not None and t.due <= now]
        firing = []
        for key, timer in due:
            timer.status = "fired"
            firing.append((*key, timer.due))
        self.fired.extend(firing)
        return firing


def reminder_at(appt: dict[str, Any]) -> dt.datetime | None:
    return appt["starts"] - dt.timedelta(hours=24) if appt["status"] == "confirmed" else None


def no_show_at(appt: dict[str, Any]) -> dt.datetime | None:
    return appt["starts"] + dt.timedelta(minutes=30) if appt["status"] == "confirmed" else None


def overdue_at(task: dict[str, Any]) -> dt.datetime | None:
    return dt.datetime.combine(task["due_on"] + dt.timedelta(days=1), dt.time()) if task["status"] == "open" else None


APPOINTMENT_TIMERS = {"appointment_reminder": reminder_at, "no_show_after_30_minutes": no_show_at}


# -- the world --------------------------------------------------------------------------------------------------------
class Clock:
    """A clock the test moves: local wall time for the record services, naive UTC for the jobs.

    It lives in shared memory, so the worker processes read the moment the driver set.
    """

    EPOCH = dt.datetime(2000, 1, 1)

    def __init__(self, now: dt.datetime):
        self.seconds = multiprocessing.get_context("fork").Value("d", 0.0, lock=False)
        self.now = now

    @property
    def now(self) -> dt.datetime:
        return self.EPOCH + dt.timedelta(seconds=self.seconds.value)

    @now.setter
    def now(self, moment: dt.datetime) -> None:
        self.seconds.value = (moment - self.EPOCH).total_seconds()

    def __call__(self) -> dt.datetime:
        return self.now

    def utc(self) -> dt.datetime:
        return self.now.replace(tzinfo=ZONE).astimezone(dt.UTC).replace(tzinfo=None)


def _blueprint(tmp_path: Path) -> Path:
    from clinic_fixtures import CLINIC

    source = tmp_path / "clinic"
    shutil.copytree(CLINIC, source)
    (source / "entities" / "tick_log.yaml").write_text(TICK_LOG, encoding="utf-8")
    (source / "workflows" / "rounds.yaml").write_text(ROUNDS, encoding="utf-8")
    return source


def settled(engine: sa.Engine, clock: Clock) -> bool:
    """Nothing left for the workers at the workers' time: no due timer, due run or undelivered message."""
    now = clock.utc()
    query = sa.select(
        sa.select(sa.func.count()).where(timers.c.status == "planned", timers.c.due_at <= now).scalar_subquery(),
        sa.select(sa.func.count()).where(schedules.c.next_run <= now).scalar_subquery(),
        sa.select(sa.func.count()).select_from(schedules).scalar_subquery(),
        sa.select(sa.func.count())
        .where(
            (outbox.c.status == "sending")
            | (outbox.c.status.in_(("pending", "failed")) & (outbox.c.next_attempt_at <= now))
        )
        .scalar_subquery(),
    )
    with engine.connect() as conn:
        due_timers, due_runs, schedule_rows, unsent = conn.execute(query).one()
    return due_timers == due_runs == unsent == 0 and schedule_rows == len(SCHEDULES)


class Rounds:
    """The driver wakes the workers when there is work at the new moment; each works until a round finds none.

    On a machine shared with other work, four workers polling every few milliseconds through
    2,000 idle hours would cost minutes; woken instead, they still race for every due row.
    """

    def __init__(self, context: Any, count: int):
        self.count = count
        self.cond = context.Condition()
        self.generation = context.Value("i", 0, lock=False)
        self.done = context.Value("i", 0, lock=False)
        self.stopped = context.Value("b", False, lock=False)

    def wake(self) -> None:
        with self.cond:
            self.generation.value += 1
            self.done.value = 0
            self.cond.notify_all()
            assert self.cond.wait_for(lambda: self.done.value == self.count, timeout=120), "a worker hung"

    def stop(self) -> None:
        with self.cond:
            self.stopped.value = True
            self.cond.notify_all()

    def serve(self, jobs: list, clock: Clock) -> None:
        seen = 0
        while True:
            with self.cond:
                self.cond.wait_for(lambda seen=seen: self.stopped.value or self.generation.value > seen)
                if self.stopped.value:
                    return
                seen = self.generation.value
            while run_once(jobs, clock.utc) > 0:
                pass
            with self.cond:
                self.done.value += 1
                self.cond.notify_all()


def left_undone(engine: sa.Engine, clock: Clock) -> list[Any]:
    """What keeps a step from settling, for the failure message: due timers and due or stuck messages."""
    now = clock.utc()
    with engine.connect() as conn:
        due = conn.execute(
            sa.select(timers.c.automation, timers.c.entity, timers.c.status, timers.c.due_at).where(
                timers.c.status == "planned", timers.c.due_at <= now
            )
        ).all()
        stuck = conn.execute(
            sa.select(
                outbox.c.key,
                outbox.c.status,
                outbox.c.attempts,
                outbox.c.reason,
                outbox.c.channel,
                outbox.c.next_attempt_at,
                sa.literal(str(now)),
            ).where(
                (outbox.c.status == "sending")
                | (outbox.c.status.in_(("pending", "failed")) & (outbox.c.next_attempt_at <= now))
            )
        ).all()
    return [tuple(row) for row in (*due, *stuck)][:10]


def run_step(engine: sa.Engine, clock: Clock, rounds: Rounds) -> int:
    """Let the workers do what is due at the workers' moment; how many times they were woken."""
    woken = 0
    while not settled(engine, clock):
        # A round can end with a message still due again: a gateway call that timed out under load is
        # retried at once (backoff 0 here), a lease taken by a slow round expires. Keep waking, with a
        # pause after the first few, before calling it undone; exactly-once is checked separately.
        assert woken < 30, f"the workers left work undone at {clock.now}: {left_undone(engine, clock)}"
        if woken >= 3:
            time.sleep(0.2)
        rounds.wake()
        woken += 1
    return woken


def work(project: Any, url: str, gateway: str, clock: Clock, rounds: Rounds, results: Any) -> None:
    """One worker process: its own runtime and pool, the project's jobs on the shared clock until stopped."""
    errors = Errors()
    logging.getLogger("crm").addHandler(errors)
    tally: collections.Counter = collections.Counter()
    runtime = open_runtime(project, url)
    try:
        runtime.records.clock = clock
        runtime.project.config["channels"] = {"sms": sms(gateway), "inbox": {"type": "inbox"}}
        runtime.project.config["delivery"] = {"quiet_hours": "", "daily_cap": 0, "batch": 20}
        # project_jobs' order, every job counted
        names = ("schedules", "timers", "report_mails", "delivery", "public_pruning")
        all_jobs = project_jobs(runtime)
        assert len(all_jobs) == len(names), "project_jobs changed: name its jobs here"
        jobs = [counted(job, tally, name) for job, name in zip(all_jobs, names, strict=True)]
        rounds.serve(jobs, clock)
    except Exception as exc:  # noqa: BLE001 - reported to the test, which fails on it
        errors.seen.append(repr(exc))
    finally:
        runtime.close()
        results.put((dict(tally), errors.seen))


def counted(job, tally: collections.Counter, name: str):
    def run(now: dt.datetime) -> int:
        handled = job(now)
        tally[name] += handled
        return handled

    run.__name__ = name
    return run


class Errors(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.seen: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.seen.append(record.getMessage())


# -- the test ---------------------------------------------------------------------------------------------------------
def test_ninety_days_four_workers_every_run_and_timer_exactly_once(tmp_path, postgres_url):
    from clinic_fixtures import build_runtime, create_users

    clock = Clock(START)  # the driver's: its writes are stamped and planned with it
    workers_clock = Clock(START)  # the workers': moved on only once the driver's writes of a step are in
    rng = random.Random(90)
    driver = build_runtime(tmp_path / "project", postgres_url, _blueprint(tmp_path))
    driver.records.clock = clock
    actors = create_users(driver)
    service = driver.records
    doctors = [
        service.create(SYSTEM, "staff", {"name": name, "user": actors[user].id})["id"]
        for name, user in (("Dr Li", "doctor"), ("Dr Wang", "doctor2"))
    ]
    duty = service.create(SYSTEM, "staff", {"name": "Duty"})["id"]
    patients = [
        service.create(
            SYSTEM,
            "patient",
            {"name": f"P{i}", "phone": f"138001380{i:02d}", "consent_sms": True, "primary_doctor": doctors[i % 2]},
        )["id"]
        for i in range(40)
    ]
    dormant = service.create(
        SYSTEM, "patient", {"name": "Old", "phone": "13900139000", "consent_sms": True, "stage": "active"}
    )["id"]
    service.create(SYSTEM, "visit", {"patient": dormant, "visited_at": (START - dt.timedelta(days=400)).isoformat()})

    context = multiprocessing.get_context("fork")
    rounds, results = Rounds(context, WORKERS), context.Queue()
    processes = []
    model = Model()
    appts: dict[int, dict[str, Any]] = {}
    tasks: dict[int, dict[str, Any]] = {}
    end = START + dt.timedelta(days=DAYS)
    outcomes = []
    try:
        with HttpStandIn() as gateway:
            driver.engine.dispose()  # no pooled connection crosses the fork
            for _ in range(WORKERS):
                args = (driver.project, postgres_url, gateway.url, workers_clock, rounds, results)
                process = context.Process(target=work, args=args, daemon=True)
                process.start()
                processes.append(process)

            def write(record: dict[str, Any], entity: str, transition: str | None = None, **values: Any) -> dict:
                if transition is None:
                    stored = service.update(SYSTEM, entity, record["id"], values, record["version"])
                else:
                    stored = service.transition(
                        SYSTEM, entity, record["id"], transition, record["version"], values=values or None
                    )
                record["version"] = stored["version"]
                return stored

            def change_appt(appt: dict[str, Any], transition: str | None = None, **values: Any) -> None:
                before = dict(appt)
                stored = write(appt, "appointment", transition, **values)
                appt.update(status=stored["status"], starts=stored["starts_at"])
                for name, wanted in APPOINTMENT_TIMERS.items():
                    key = (name, "appointment", appt["id"])
                    model.plan(key, wanted(before), wanted(appt), created=False, now=clock.now)

            def book() -> None:
                day = clock.now.date() + dt.timedelta(days=rng.randint(1, 10))
                starts = dt.datetime.combine(day, dt.time(rng.randint(8, 17), rng.choice((0, 30))))
                data = {"patient": rng.choice(patients), "doctor": rng.choice(doctors), "starts_at": starts.isoformat()}
                try:
                    made = service.create(SYSTEM, "appointment", data)
                except ValidationFailed:
                    return  # the doctor is busy then
                appt = appts[made["id"]] = {
                    "id": made["id"],
                    "version": made["version"],
                    "status": made["status"],
                    "starts": starts,
                    "seen": False,
                }
                if rng.random() < 0.8:
                    change_appt(appt, "confirm")

            def see_patients() -> None:
                for appt in appts.values():
                    if appt["status"] != "confirmed" or appt["seen"] or appt["starts"] > clock.now:
                        continue
                    appt["seen"] = True
                    if rng.random() < 0.75:  # else the no-show timer marks it
                        change_appt(appt, "check_in")
                        known = max(tasks, default=0)
                        change_appt(appt, "complete")
                        table = service.schema.table("follow_up")
                        with driver.engine.connect() as conn:
                            made = conn.execute(
                                sa.select(table.c.id, table.c.due_on, table.c.version).where(table.c.id > known)
                            ).all()
                        assert len(made) == 2
                        for task_id, due_on, version in made:
                            task = tasks[task_id] = {
                                "id": task_id,
                                "version": version,
                                "status": "open",
                                "due_on": due_on,
                            }
                            key = ("follow_up_overdue", "follow_up", task_id)
                            model.plan(key, None, overdue_at(task), created=True, now=clock.now)

            def pick(statuses: tuple[str, ...]) -> dict[str, Any] | None:
                open_ones = [a for a in appts.values() if a["status"] in statuses and a["starts"] > clock.now]
                return rng.choice(open_ones) if open_ones else None

            steps = woken = 0
            while clock.now <= end:
                working = 8 <= clock.now.hour < 19
                if working and rng.random() < 0.3:
                    book()
                if working and rng.random() < 0.1 and (appt := pick(("requested", "confirmed"))):
                    moved = appt["starts"] + dt.timedelta(days=rng.randint(-2, 3), hours=rng.randint(-3, 3))
                    if moved > clock.now + dt.timedelta(hours=2):
                        with contextlib.suppress(ValidationFailed):  # the doctor is busy then
                            change_appt(appt, starts_at=moved.isoformat())
                if working and rng.random() < 0.08 and (appt := pick(("requested", "confirmed"))):
                    change_appt(appt, "cancel")
                if working and rng.random() < 0.2 and (appt := pick(("requested",))):
                    change_appt(appt, "confirm")
                if working:
                    see_patients()
                for task in tasks.values():
                    if task["status"] == "open" and working and rng.random() < 0.01:
                        write(task, "follow_up", "done", outcome="Called back")
                        key = ("follow_up_overdue", "follow_up", task["id"])
                        model.plan(key, overdue_at(task), None, created=False, now=clock.now)
                        task["status"] = "done"
                for automation, _, record_id, _ in model.fire_due(clock.now):
                    if automation == "no_show_after_30_minutes":
                        appts[record_id]["status"] = "no_show"  # its reminder fired a day before: nothing to cancel
                workers_clock.now = clock.now
                woken += run_step(driver.engine, workers_clock, rounds)
                clock.now += STEP
                steps += 1
            rounds.stop()
            outcomes = [results.get(timeout=60) for _ in processes]
            sms_counts = gateway.keys()
    finally:
        rounds.stop()
        for process in processes:
            process.join(timeout=30)
            if process.is_alive():
                process.kill()

    last = clock.now - STEP
    with driver.engine.connect() as conn:
        outbox_rows = conn.execute(sa.select(outbox.c.key, outbox.c.status, outbox.c.channel)).all()
        timer_rows = conn.execute(sa.select(timers)).all()
        schedule_rows = {r.automation: r for r in conn.execute(sa.select(schedules)).all()}
        ticks = conn.execute(sa.select(service.schema.table("tick_log"))).all()
        no_shows = conn.execute(
            sa.select(workflow_history.c.record_id, sa.func.count())
            .where(workflow_history.c.transition == "mark_no_show")
            .group_by(workflow_history.c.record_id)
        ).all()
    driver.close()

    assert [seen for _, seen in outcomes] == [[]] * WORKERS
    tallies = [tally for tally, _ in outcomes]
    # Scheduled runs: croniter's occurrences in (START, last], each run exactly once.
    expected_runs = {}
    for name, line in SCHEDULES.items():
        moments = croniter(line, START.replace(tzinfo=ZONE))
        occurrences = []
        while (moment := moments.get_next(dt.datetime).replace(tzinfo=None)) <= last:
            occurrences.append(moment)
        expected_runs[name] = occurrences
    assert len(expected_runs["daily_round"]) == 90 and len(expected_runs["monthly_recall"]) == 3
    assert sum(t.get("schedules", 0) for t in tallies) == sum(len(o) for o in expected_runs.values())
    for name, row in schedule_rows.items():
        assert not row.last_result.startswith("missed"), (name, row.last_result)
    for name in ("daily_round", "three_hourly_round"):
        seen = collections.Counter(
            max(o for o in expected_runs[name] if o <= tick.created_at) for tick in ticks if tick.source == name
        )
        assert seen == dict.fromkeys(expected_runs[name], 1), name
    # Timers: each the model expects fired exactly once, by one worker, and nothing else.
    assert len(model.fired) > 300
    assert sum(t.get("timers", 0) for t in tallies) == len(model.fired)
    assert sum(1 for t in tallies if t.get("timers")) >= 2  # the workers shared the work
    by_key = {(r.automation, r.entity, r.record_id): r for r in timer_rows}
    still_ahead = dt.datetime.fromisoformat(utc_key(last)).replace(tzinfo=None)
    unexpected = [r for r in timer_rows if r.status not in ("fired", "cancelled", "skipped", "planned")]
    assert unexpected == [] and all(r.due_at > still_ahead for r in timer_rows if r.status == "planned")
    for key, expected in model.timers.items():
        if expected.status == "none":
            assert key not in by_key
            continue
        row = by_key[key]
        assert row.status == expected.status, (key, row.status, row.reason, expected)
        if expected.status != "cancelled":
            assert row.due_at == dt.datetime.fromisoformat(utc_key(expected.due)).replace(tzinfo=None), key
    assert dict(no_shows) == {r: 1 for (a, _, r, _) in model.fired if a == "no_show_after_30_minutes"}
    # Messages: the outbox holds exactly the expected keys, all sent; the gateway got each SMS once.
    expected_keys = {
        f"appointment_reminder:0:appointment:{r}:{utc_key(d)}"
        for a, _, r, d in model.fired
        if a == "appointment_reminder"
    }
    expected_keys |= {
        f"follow_up_overdue:0:follow_up:{r}:{utc_key(d)}" for a, _, r, d in model.fired if a == "follow_up_overdue"
    }
    expected_keys |= {f"monthly_recall:0:patient:{dormant}:{utc_key(o)}" for o in expected_runs["monthly_recall"]}
    for name in ("daily_round", "three_hourly_round"):
        expected_keys |= {f"{name}:1:staff:{duty}:{utc_key(o)}" for o in expected_runs[name]}
    assert {r.key for r in outbox_rows} == expected_keys
    assert collections.Counter(r.status for r in outbox_rows) == {"sent": len(expected_keys)}
    sms_keys = {r.key for r in outbox_rows if r.channel == "sms"}
    assert sms_counts == dict.fromkeys(sms_keys, 1)
    assert steps == DAYS * 24 + 1 and woken >= len(expected_runs["three_hourly_round"])
