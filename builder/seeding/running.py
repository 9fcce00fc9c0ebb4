"""Seeding itself: make each planned row through the record service, retrying refused ones.

Every row is created as the system actor, so defaults, computed values, validations
(`overlaps`, limits, unique values...) and the audit trail hold for seeded data
exactly as for typed-in data. Seeded rows are history (records.SEEDING): they plan
their timers (a seeded confirmed appointment gets its reminder) but set off no event
automations (a seeded completed appointment opens no extra visit or follow-ups).
A row the service refuses is made again with new values a few times, then skipped
and counted, never forced in.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import sqlalchemy as sa
from faker import Faker

from engines.forms import EntitySpec

from ..records import SEEDING, Conflict, RecordService, ValidationFailed
from .rows import LinkPool, RowBuilder
from .values import ValueMaker

ATTEMPTS = 5
Progress = Callable[[str, int], None]


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
) -> SeedReport:
    """Make `counts[entity]` rows of each entity, in the order given; return what was made and skipped.

    The same `seed_value` on the same data makes the same records.
    """
    existing = {name: _existing_ids(records, name) for name in entities}
    # A second run on the same data must not repeat the first one's unique values (phones...).
    state = seed_value if not any(existing.values()) else f"{seed_value}+{sum(map(len, existing.values()))}"
    rng = random.Random(state)
    fake = Faker(faker_locale(locale))
    fake.seed_instance(state)
    maker = ValueMaker(rng, fake, records.clock())
    pool = LinkPool(rng, existing)
    builder = RowBuilder(maker, pool)
    report = SeedReport()
    made_versions: dict[str, dict[int, int]] = {}
    for name, count in counts.items():
        made_versions[name] = {}
        report.made[name] = report.skipped[name] = 0
        for _ in range(count):
            record = _create(records, name, entities[name], builder, report)
            if record is None:
                report.skipped[name] += 1
            else:
                report.made[name] += 1
                pool.add(name, record["id"])
                made_versions[name][record["id"]] = record["version"]
            if progress:
                progress(name, 1)
    _link_afterwards(records, entities, list(counts), made_versions, pool, report)
    return report


def _create(
    records: RecordService, name: str, entity: EntitySpec, builder: RowBuilder, report: SeedReport
) -> dict | None:
    for _attempt in range(ATTEMPTS):
        try:
            return records.create(SEEDING, name, builder.record(entity))
        except ValidationFailed as refused:
            report.reasons[name] = str(refused)
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
) -> None:
    """Fill optional links to entities seeded later (links in a cycle), most of the time, as updates."""
    for position, name in enumerate(order):
        later = set(order[position + 1 :])
        fields = [
            f
            for f, spec in entities[name].fields.items()
            if spec.type == "link" and not spec.required and spec.to in later
        ]
        for record_id, version in made.get(name, {}).items():
            values = {f: pool.pick(entities[name].fields[f].to or "") for f in fields if pool.rng.random() < 0.85}
            values = {f: v for f, v in values.items() if v is not None}
            if not values:
                continue
            try:
                records.update(SEEDING, name, record_id, values, version)
            except (ValidationFailed, Conflict):
                continue
            report.linked_afterwards[name] = report.linked_afterwards.get(name, 0) + 1
