"""Seeding itself: make each planned row through the record service, retrying refused ones.

Every row is created as the system actor, so defaults, computed values, validations
(`overlaps`, limits, unique values...) and the audit trail hold for seeded data
exactly as for typed-in data. Seeded rows are history (records.SEEDING): they plan
their timers (a seeded confirmed appointment gets its reminder) but set off no event
automations (a seeded completed appointment opens no extra visit or follow-ups).
A row the service refuses is made again with new values a few times, then skipped
and counted, never forced in.

Rows are written in batches (`batch_size`, 500 by default) of one transaction each
through the record service's bulk path (records/batch.py, the importer's too): the same
rules per row, a refused row rolled back alone, one commit per batch. An error that is
not a refusal (the database failing) rolls back only its batch; the batches before it
stay, and SeedFailed says which rows were lost and why.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import random
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field

import sqlalchemy as sa
from faker import Faker

from engines.forms import EntitySpec

from ..errors import ProjectError
from ..project import Project
from ..records import SEEDING, RecordService
from ..records.batch import Batch
from .planning import main_entity
from .rows import LinkPool, RowBuilder
from .states import StateWeights, workflow_weights
from .values import ValueMaker

ATTEMPTS = 5
BATCH_SIZE = 500
Progress = Callable[[str, int], None]


class SeedFailed(ProjectError):
    """A batch failed for a reason other than a refused row (or a worker process died): it was rolled back,
    earlier batches kept."""


class BatchLost(Exception):
    """One batch was rolled back; says which rows and why (the caller adds what was kept)."""


@dataclass
class SeedReport:
    """What a run made and skipped per entity, and why the last skipped row of each was refused."""

    made: dict[str, int] = field(default_factory=dict)
    skipped: dict[str, int] = field(default_factory=dict)
    reasons: dict[str, str] = field(default_factory=dict)
    linked_afterwards: dict[str, int] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return sum(self.made.values())


@dataclass(frozen=True)
class BatchContext:
    """What every batch of one entity's rows is made with, and where it puts what it made.

    One value handed from `seed` (or a shard worker) through `seed_rows` to each batch, so that the eight
    things a batch needs are named once instead of passed along, in the same order, at every call. Frozen:
    they stay the same for all the entity's batches (the report, versions and known links are filled on
    purpose: each committed batch adds to them).
    """

    records: RecordService
    name: str  # the entity
    entity: EntitySpec
    builder: RowBuilder
    report: SeedReport  # made, skipped and refusal reasons are added here, per committed batch
    versions: dict[int, int]  # id -> version of each record committed
    progress: Progress | None
    known_links: set[tuple[str, int]]  # linked records found to exist, not looked up again


def faker_locale(locale: str) -> str:
    """The Faker locale for an app locale: `zh-CN` is `zh_CN`, a bare `en` is `en_US`."""
    parts = locale.replace("-", "_").split("_")
    if len(parts) == 1:
        return {"en": "en_US", "zh": "zh_CN"}.get(parts[0], parts[0])
    return f"{parts[0].lower()}_{parts[1].upper()}"


def seed(
    records: RecordService,
    entities: Mapping[str, EntitySpec],
    counts: Mapping[str, int],
    *,
    locale: str = "zh-CN",
    seed_value: int = 2026,
    progress: Progress | None = None,
    batch_size: int = BATCH_SIZE,
    jobs: int = 1,
    project: Project | None = None,
) -> SeedReport:
    """Make `counts[entity]` rows of each entity, in the order given; return what was made and skipped.

    The same `seed_value` on the same data makes the same records, with one job. With
    `jobs` > 1 on PostgreSQL (`project` given: each worker opens its own runtime), each
    entity's rows are made by several processes at once (sharding.py): same rules, not
    repeatable record for record.
    """
    existing = {name: _existing_ids(records, name) for name in entities}
    # A second run on the same data must not repeat the first one's unique values (phones...).
    state = seed_value if not any(existing.values()) else f"{seed_value}+{sum(map(len, existing.values()))}"
    report = SeedReport()
    made_versions: dict[str, dict[int, int]] = {}
    if jobs > 1 and project is not None and records.engine.dialect.name == "postgresql":
        from .sharding import Shards, seed_in_shards

        shards = Shards(project, records.engine.url.render_as_string(hide_password=False), jobs, batch_size)
        pool = LinkPool(random.Random(state), existing)
        seed_in_shards(shards, records, entities, counts, str(state), locale, pool, report, made_versions, progress)
        _link_afterwards(records, entities, list(counts), made_versions, pool, report, batch_size)
        return report
    builder = row_builder(records, entities, state, locale, existing)
    known_links: set[tuple[str, int]] = set()  # links found to exist, not looked up again by later batches
    for name, count in counts.items():
        made_versions[name] = {}
        report.made[name] = report.skipped[name] = 0
        builder.prepare(name, count)
        context = BatchContext(
            records, name, entities[name], builder, report, made_versions[name], progress, known_links
        )
        try:
            seed_rows(context, range(count), batch_size)
        except BatchLost as lost:
            raise SeedFailed(f"{lost}; {report.total} records seeded before them are kept") from None
    _link_afterwards(records, entities, list(counts), made_versions, builder.links, report, batch_size, known_links)
    return report


def row_builder(
    records: RecordService,
    entities: Mapping[str, EntitySpec],
    state: int | str,
    locale: str,
    existing: Mapping[str, list[int]],
    now: dt.datetime | None = None,
) -> RowBuilder:
    """The row builder of a run (or of one shard of it) whose random draws all follow from `state`."""
    rng = random.Random(state)
    fake = Faker(faker_locale(locale))
    fake.seed_instance(state)
    maker = ValueMaker(rng, fake, now or records.clock(), state_weights(records))
    return RowBuilder(maker, LinkPool(rng, existing), main_entity(entities) if entities else None)


def state_weights(records: RecordService) -> dict[str, StateWeights]:
    """The weights of each workflow's states (states.py), by workflow name."""
    machines = records.flows.machines if records.flows is not None else {}
    return {name: workflow_weights(machine.spec) for name, machine in machines.items()}


def seed_rows(context: BatchContext, rows: range, batch_size: int) -> None:
    """Rows `rows` (numbered for messages) of the entity, `batch_size` per transaction; BatchLost stops them."""
    step = max(batch_size, 1)
    for first in range(rows.start, rows.stop, step):
        _seed_batch(context, range(first, min(first + step, rows.stop)))


def _seed_batch(context: BatchContext, rows: range) -> None:
    """Rows `rows` of the entity in one transaction; on failure, forget them and raise BatchLost."""
    name, builder, known_links = context.name, context.builder, context.known_links
    made: dict[int, int] = {}
    skipped = 0
    try:
        with context.records.batch(SEEDING, known_links=known_links) as batch:
            for _ in rows:
                record = _create(batch, context)
                if record is None:
                    skipped += 1
                else:
                    made[record["id"]] = record["version"]
                if context.progress:
                    context.progress(name, 1)
    except Exception as exc:
        known_links.clear()  # some were found in the batch rolled back
        builder.links.drop(name, set(made))
        builder.forget(name, len(made))
        raise BatchLost(
            f"seeding {name} rows {rows.start + 1}-{rows.stop} failed and was rolled back ({_reason(exc)})"
        ) from None
    context.versions.update(made)
    context.report.made[name] += len(made)
    context.report.skipped[name] += skipped


def _create(batch: Batch, context: BatchContext) -> dict | None:
    for _attempt in range(ATTEMPTS):
        made = context.builder.make(context.name, context.entity)
        result = batch.create(context.name, made.values, made_at=made.made_at)
        if result.record is None:
            context.report.reasons[context.name] = str(result.refused)
            continue
        context.builder.links.add(context.name, result.record["id"], made.made_at)
        context.builder.remember(context.name, made)
        return result.record
    return None


def _existing_ids(records: RecordService, entity: str) -> list[int]:
    """Ids already in the database, so new rows may link to them too."""
    table = records.schema.table(entity)
    with records.engine.connect() as conn:
        return list(conn.execute(sa.select(table.c.id).order_by(table.c.id)).scalars())


def _link_afterwards(
    records: RecordService,
    entities: Mapping[str, EntitySpec],
    order: list[str],
    made: dict[str, dict[int, int]],
    pool: LinkPool,
    report: SeedReport,
    batch_size: int = BATCH_SIZE,
    known_links: set[tuple[str, int]] | None = None,
) -> None:
    """Fill optional links to entities seeded later (links in a cycle), most of the time, as updates."""
    for position, name in enumerate(order):
        later = set(order[position + 1 :])
        fields = [
            f
            for f, spec in entities[name].fields.items()
            if spec.type == "link" and not spec.required and spec.to in later
        ]
        if not fields:
            continue
        pending = list(made.get(name, {}).items())
        for first in range(0, len(pending), max(batch_size, 1)):
            chunk = pending[first : first + max(batch_size, 1)]
            with _failing_as(f"linking {name} rows {first + 1}-{first + len(chunk)} afterwards"):
                _link_batch(records, entities, name, fields, chunk, pool, report, known_links)


@contextlib.contextmanager
def _failing_as(what: str) -> Iterator[None]:
    try:
        yield
    except Exception as exc:
        raise SeedFailed(f"{what} failed and was rolled back ({_reason(exc)})") from None


def _reason(exc: Exception) -> str:
    """The first line of what went wrong (SQL parameters are never in it: engines hide them)."""
    text = str(getattr(exc, "orig", None) or exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _link_batch(
    records: RecordService,
    entities: Mapping[str, EntitySpec],
    name: str,
    fields: list[str],
    pending: list[tuple[int, int]],
    pool: LinkPool,
    report: SeedReport,
    known_links: set[tuple[str, int]] | None = None,
) -> None:
    """Fill the links of `pending` records of `name` in one batch (a refused update is left as it was)."""
    with records.batch(SEEDING, known_links=known_links) as batch:
        for record_id, version in pending:
            values = {f: pool.pick(entities[name].fields[f].to or "") for f in fields if pool.rng.random() < 0.85}
            values = {f: v for f, v in values.items() if v is not None}
            if not values:
                continue
            if not batch.update(name, record_id, values, version).ok:
                continue
            report.linked_afterwards[name] = report.linked_afterwards.get(name, 0) + 1
