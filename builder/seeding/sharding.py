"""Seeding with several processes (`crm seed --jobs N`, PostgreSQL only).

One process is bound by its own Python CPU per record while the database server
idles; several processes writing at once use the server's core(s) too. Entities are
still seeded after the entities they link to; a run of entities none of which needs
another of the run (a wave: appointments, visits, readings) is seeded at once. Each
entity's rows are split into shards, one per job; each worker process opens its own
runtime, draws from its own random source (from the run's state, the entity and the
shard number) and is given the records of the entities linked to (ids and when each
was made), so every link still points at a record made before the record's moment.
It returns what it made, which the parent adds to its pool before the next wave.

An entity whose rules read other rows (`count`, `exists`, `last`, `overlaps`) is made
by one worker (the others make its wave's other entities): such rules lock their
scope (records/scope_locks.py) until the commit, and two batches each holding doctors
the other wants would wait on each other. Nor is it seeded at once with an entity
whose rows its rules read.

Ids interleave between shards and the run is not repeatable record for record (the
totals per entity are, within refusals). A failing shard keeps its earlier batches, as
the other shards keep theirs; SeedFailed says what was lost and how many records the database keeps
from the run (counted in it: a stopped shard reports nothing). A worker that dies (the OOM
killer, SIGKILL, a crash) breaks the pool: concurrent.futures fails every unfinished shard
at once and ends the other workers (a multiprocessing.Pool would replace it silently and
wait for its shard for ever), and the run stops with SeedFailed naming them. Workers ignore
Ctrl-C: the parent asks them to stop (each rolls back its open batch) and then ends them.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import multiprocessing
import os
import queue as queues
import re
import signal
import threading
import time
from collections.abc import Iterator, Mapping
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from engines.forms import EntitySpec, FieldSpec

from ..project import Project
from ..records import RecordService
from .rows import LinkPool
from .running import BatchContext, BatchLost, Progress, SeedFailed, SeedReport, row_builder, seed_rows

SEVERAL_JOBS_FROM = 20_000  # records: below, a run is quick anyway and stays repeatable record for record
MAX_DEFAULT_JOBS = 4
TICK = 25  # records a worker makes between two progress messages (and looks whether to stop)
STOP_GRACE_SECONDS = 30.0
SETTLE_SECONDS = 10  # the longest a failed run's count waits for a table's writers to end
READS_ROWS = re.compile(r"\b(count|exists|last|overlaps)\s*\(")
READS_ROWS_OF = re.compile(r"\b(?:count|exists|last|overlaps)\s*\(\s*(?:\\?['\"](\w+)\\?['\"])?")


class Stopped(Exception):
    """The parent asked the workers to stop (Ctrl-C): the open batch rolls back."""


@dataclass(frozen=True)
class Shards:
    """Where workers write and how: the project (for its blueprint and keys) and the database URL."""

    project: Project
    url: str
    jobs: int
    batch_size: int


@dataclass(frozen=True)
class ShardTask:
    entity: str
    shard: int
    rows: range  # numbered within the entity's rows, for messages
    state: str
    locale: str
    now: dt.datetime
    batch_size: int
    targets: dict[str, tuple[list[int], list[dt.datetime]]]


@dataclass
class ShardResult:
    made: list[tuple[int, int, dt.datetime]]  # id, version, made_at
    skipped: int
    reasons: dict[str, str]
    lost: str | None = None


def default_jobs(dialect: str, asked: int | None, records: int = 0) -> int:
    """Jobs for a run: one on SQLite (one writer at a time), else as asked; unasked, the CPUs up to
    MAX_DEFAULT_JOBS for a run of SEVERAL_JOBS_FROM records or more, and one (repeatable) below that."""
    if dialect != "postgresql":
        return 1
    if asked:
        return asked
    return min(os.cpu_count() or 1, MAX_DEFAULT_JOBS) if records >= SEVERAL_JOBS_FROM else 1


def reads_rows(entity: EntitySpec) -> bool:
    """Whether a rule of `entity` reads other rows (and so locks a scope until its commit)."""
    return bool(READS_ROWS.search(entity.model_dump_json()))


def seed_in_shards(
    shards: Shards,
    records: RecordService,
    entities: Mapping[str, EntitySpec],
    counts: Mapping[str, int],
    state: str,
    locale: str,
    pool: LinkPool,
    report: SeedReport,
    made_versions: dict[str, dict[int, int]],
    progress: Progress | None,
) -> None:
    """Every entity's rows made by `shards.jobs` workers at once, wave after wave, merged into `pool`."""
    context = multiprocessing.get_context("spawn")
    messages = context.Queue()
    stop = context.Event()
    now = records.clock()
    before = set(multiprocessing.active_children())
    workers = ProcessPoolExecutor(
        shards.jobs,
        mp_context=context,
        initializer=_start_worker,
        initargs=(shards.project, shards.url, messages, stop),
    )
    pending: list[tuple[ShardTask, Future[ShardResult]]] = []
    try:
        for wave in waves(entities, list(counts)):
            tasks: list[ShardTask] = []
            for name in wave:
                made_versions[name] = {}
                report.made[name] = report.skipped[name] = 0
                alone = reads_rows(entities[name])
                targets = pool.share(link_targets(entities[name].fields) | {name})
                parts = split(counts[name], 1 if alone else shards.jobs)
                made = [
                    ShardTask(name, n, rows, state, locale, now, shards.batch_size, targets)
                    for n, rows in enumerate(parts)
                ]
                tasks = made + tasks if alone else tasks + made  # the one long shard starts first
            earlier, rows_before = report.total, _rows(records, wave)  # what the waves before made, all reported
            with _ctrl_c_ignored():  # a submit may start a worker: it ignores Ctrl-C from its start (inherited)
                pending = [(task, _submit(workers, task)) for task in tasks]
            results, died = _wait(pending, messages, progress)
            lost = [
                lost for name in wave for lost in _merge(name, results.get(name, []), pool, report, made_versions[name])
            ]
            if died:
                lost.append(f"a seeding worker process died (killed, perhaps out of memory): {_died(died)}")
            if lost:
                # A shard that was stopped returns nothing, but the batches it committed are kept: count them in the
                # database (a worker killed between a commit and its report would be missed by any report).
                kept = earlier + sum(
                    now - rows_before[name] for name, now in _rows(records, wave, settled=True).items()
                )
                raise SeedFailed(f"{'; '.join(lost)}; {kept} records seeded are kept")
        workers.shutdown()
    except KeyboardInterrupt:
        stop.set()
        deadline = time.monotonic() + STOP_GRACE_SECONDS
        while any(not f.done() for _, f in pending) and time.monotonic() < deadline:
            time.sleep(0.1)
        _end(workers, before)
        raise
    except BaseException:
        _end(workers, before)
        raise


def _rows(records: RecordService, names: list[str], settled: bool = False) -> dict[str, int]:
    """The rows in each of the tables of `names`; `settled`, once every transaction still writing them has ended.

    A dead worker's open batch rolls back when the server sees its connection gone, and a COMMIT it sent just
    before may still be under way: a SHARE lock waits for both. (A run shares its tables with no other writer;
    should one hold a table longer than SETTLE_SECONDS, the table is counted as it stands.)
    """
    counted: dict[str, int] = {}
    with records.engine.begin() as conn:
        if settled:
            conn.exec_driver_sql(f"SET LOCAL lock_timeout = '{SETTLE_SECONDS}s'")
        for name in names:
            table = records.schema.table(name)
            if settled:
                lock = f"LOCK TABLE {conn.dialect.identifier_preparer.format_table(table)} IN SHARE MODE"
                try:
                    with conn.begin_nested():
                        conn.exec_driver_sql(lock)
                except sa.exc.OperationalError:
                    pass  # another writer holds it: counted as it stands
            counted[name] = conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one()
    return counted


def _submit(workers: ProcessPoolExecutor, task: ShardTask) -> Future[ShardResult]:
    """The shard's future; failed at once when a worker died since the last wave (the pool is broken)."""
    try:
        return workers.submit(_run_shard, task)
    except BrokenProcessPool as exc:
        lost: Future[ShardResult] = Future()
        lost.set_exception(exc)
        return lost


def _died(shards: list[ShardTask]) -> str:
    """What a dead worker cost: every unfinished shard of its wave (the pool ends the other workers too),
    a shard's rows joined to the next one's of its entity (`visit rows 1-4000`)."""
    spans: dict[str, list[list[int]]] = {}
    for task in sorted(shards, key=lambda t: (t.entity, t.rows.start)):
        runs = spans.setdefault(task.entity, [])
        if runs and runs[-1][1] == task.rows.start:
            runs[-1][1] = task.rows.stop
        else:
            runs.append([task.rows.start, task.rows.stop])
    rows = ", ".join(f"{name} rows {first + 1}-{last}" for name, runs in spans.items() for first, last in runs)
    return f"seeding {rows} stopped, their open batches rolled back (the batches they committed are kept too)"


def _end(workers: ProcessPoolExecutor, before: set[Any]) -> None:
    """End the workers still running: the children started since `before` (the executor has no terminate)."""
    for process in set(multiprocessing.active_children()) - before:
        process.terminate()
    workers.shutdown(cancel_futures=True)


@contextlib.contextmanager
def _ctrl_c_ignored() -> Iterator[None]:
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    before = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, before)


def waves(entities: Mapping[str, EntitySpec], order: list[str]) -> list[list[str]]:
    """`order` cut into runs of entities seeded at once: none links to another of its run, and none's
    rules read rows of another of its run (an `overlaps` reading its own rows is fine)."""
    found: list[list[str]] = []
    for name in order:
        wave = found[-1] if found else None
        needs = (link_targets(entities[name].fields) | read_entities(entities[name])) - {name}
        if wave is None or needs & set(wave) or any(name in read_entities(entities[other]) for other in wave):
            found.append([name])
        else:
            wave.append(name)
    return found


def read_entities(entity: EntitySpec) -> set[str]:
    """The entities whose rows `entity`'s rules read (`overlaps('appointment', …)`); `*` when one is not a name."""
    text = entity.model_dump_json()
    return (
        {(named or "*") for named in (m[1] for m in READS_ROWS_OF.finditer(text))} if READS_ROWS.search(text) else set()
    )


def split(count: int, jobs: int) -> list[range]:
    """`count` rows in `jobs` nearly equal consecutive ranges (no empty one)."""
    jobs = max(1, min(jobs, count))
    size, extra = divmod(count, jobs)
    ranges, first = [], 0
    for shard in range(jobs):
        last = first + size + (shard < extra)
        ranges.append(range(first, last))
        first = last
    return [r for r in ranges if len(r)]


def link_targets(fields: Mapping[str, FieldSpec]) -> set[str]:
    """The entities `fields` (child rows' included) link to."""
    found: set[str] = set()
    for spec in fields.values():
        if spec.type == "link" and spec.to:
            found.add(spec.to)
        if spec.type == "table" and spec.fields:
            found |= link_targets(spec.fields)
    return found


def _wait(
    pending: list[tuple[ShardTask, Future[ShardResult]]], messages: Any, progress: Progress | None
) -> tuple[dict[str, list[ShardResult]], list[ShardTask]]:
    """The shards' results by entity, passing their progress messages on while they run; and the shards a
    dead worker lost."""
    received: dict[str, int] = {}
    names = {task.entity for task, _ in pending}
    while True:
        done = all(f.done() for _, f in pending)
        try:
            entity, count = messages.get(timeout=0.2)
        except queues.Empty:
            if done:
                break
            continue
        if entity in names:
            received[entity] = received.get(entity, 0) + count
            if progress:
                progress(entity, count)
    results: dict[str, list[ShardResult]] = {}
    died: list[ShardTask] = []
    for task, future in pending:
        if isinstance(future.exception(), BrokenProcessPool):
            died.append(task)
        else:
            results.setdefault(task.entity, []).append(future.result())
    for name, done_shards in results.items():
        # Messages still in the workers' pipes, and the records made since a shard's last message.
        rest = sum(len(r.made) + r.skipped for r in done_shards) - received.get(name, 0)
        if progress and rest > 0:
            progress(name, rest)
    return results, died


def _merge(
    name: str, results: list[ShardResult], pool: LinkPool, report: SeedReport, versions: dict[int, int]
) -> list[str]:
    """Add what the shards made to the run's pool and report; what they lost."""
    made = sorted((made_at, record_id, version) for r in results for record_id, version, made_at in r.made)
    for made_at, record_id, version in made:
        pool.add(name, record_id, made_at)
        versions[record_id] = version
    report.made[name] += len(made)
    report.skipped[name] += sum(r.skipped for r in results)
    for result in results:
        report.reasons.update(result.reasons)
    return [r.lost for r in results if r.lost]


# -- in the worker processes -------------------------------------------------------------

_WORKER: dict[str, Any] = {}


def _start_worker(project: Project, url: str, messages: Any, stop: Any) -> None:
    """Open this worker's runtime once, for all its shards; Ctrl-C is the parent's to handle."""
    from multiprocessing.util import Finalize

    from ..runtime import open_runtime

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _WORKER.update(messages=messages, stop=stop, known_links=set())
    try:
        runtime = open_runtime(project, url)
    except Exception as exc:  # a failing initializer would be restarted forever: say it with the first shard
        _WORKER["failed"] = f"a seeding worker could not open the project ({exc})"
        return
    Finalize(runtime, runtime.close, exitpriority=10)
    _WORKER["runtime"] = runtime


def _run_shard(task: ShardTask) -> ShardResult:
    if "failed" in _WORKER:
        raise SeedFailed(_WORKER["failed"])
    runtime = _WORKER["runtime"]
    records: RecordService = runtime.records
    entities = runtime.blueprint.entities
    name = task.entity
    builder = row_builder(records, entities, f"{task.state}/{name}/{task.shard}", task.locale, {}, task.now)
    builder.links.take(task.targets)
    builder.prepare(name, len(task.rows))
    report = SeedReport(made={name: 0}, skipped={name: 0})
    versions: dict[int, int] = {}
    ticker = _Ticker(_WORKER["messages"], _WORKER["stop"])
    known: set[tuple[str, int]] = _WORKER["known_links"]
    # The records it is given exist (committed by earlier waves, or found at the start): not looked up again,
    # as the run's later batches trust a link found once (a record deleted meanwhile meets the foreign key).
    known.update((target, record_id) for target, (ids, _) in task.targets.items() for record_id in ids)
    lost = None
    try:
        seed_rows(
            BatchContext(records, name, entities[name], builder, report, versions, ticker, known),
            task.rows,
            task.batch_size,
        )
    except BatchLost as exc:
        lost = str(exc)
    made = [(record_id, version, builder.links.made_at(name, record_id)) for record_id, version in versions.items()]
    return ShardResult(made, report.skipped[name], report.reasons, lost)


class _Ticker:
    """A worker's progress: a message every TICK records, and a look whether the parent said stop."""

    def __init__(self, messages: Any, stop: Any) -> None:
        self.messages, self.stop = messages, stop
        self.count = 0

    def __call__(self, entity: str, count: int) -> None:
        self.count += count
        if self.count >= TICK:
            self.messages.put((entity, self.count))
            self.count = 0
            if self.stop.is_set():
                raise Stopped("stopped by Ctrl-C")
