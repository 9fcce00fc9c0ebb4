"""Realistic demo data for any blueprint, written through the record service.

Values come from each field's type, limits and options, with hints from common field
names (name, phone, birth_date, systolic...) so the clinic template looks real.
Because every record goes through the record service, every default, computed
value and validation holds for seeded data exactly as for typed-in data.
"""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass, field
from typing import Any, Callable

from faker import Faker

from engines.forms import EntitySpec, FieldSpec

from .records import SYSTEM, RecordService, ValidationFailed

Progress = Callable[[str, int], None]


@dataclass
class SeedPlan:
    """How many records of each entity: roots get fixed counts, the rest so many per parent."""

    root_counts: dict[str, int] = field(default_factory=dict)
    per_parent: dict[str, float] = field(default_factory=dict)


def default_plan(entities: dict[str, EntitySpec], patients: int) -> SeedPlan:
    """About `patients` patients, a dozen staff, and a few records of everything else per patient."""
    plan = SeedPlan()
    for name in entities:
        parents = _required_links(entities[name])
        if not parents:
            plan.root_counts[name] = patients if name == "patient" else max(6, patients // 150)
        else:
            plan.per_parent[name] = {"appointment": 3, "vital_reading": 3, "visit": 2, "follow_up": 1}.get(name, 1.5)
    return plan


def _required_links(entity: EntitySpec) -> list[str]:
    return [f.to for f in entity.fields.values() if f.type == "link" and f.required and f.to]


def _all_links(entity: EntitySpec) -> list[str]:
    return [f.to for f in entity.fields.values() if f.type == "link" and f.to]


def _order(entities: dict[str, EntitySpec]) -> list[str]:
    """Entities in an order where links (required ones at least) point at entities already seeded."""
    done: list[str] = []
    pending = list(entities)
    while pending:
        ready = [e for e in pending if all(t in done or t == e for t in _all_links(entities[e]))] or \
            [e for e in pending if all(t in done or t == e for t in _required_links(entities[e]))]
        if not ready:  # a cycle of required links: seed the rest as they come
            ready = pending[:1]
        for name in ready:
            done.append(name)
            pending.remove(name)
    return done


class ValueMaker:
    """Makes one plausible value for a field, from its type, limits and name."""

    def __init__(self, rng: random.Random, fake: Faker, today: dt.date):
        self.rng, self.fake, self.today = rng, fake, today
        self.slot = dt.datetime.combine(today - dt.timedelta(days=400), dt.time(8, 0))

    def _number(self, name: str, spec: FieldSpec) -> float:
        hints = {"systolic": (128, 20), "diastolic": (80, 11), "glucose": (6.4, 1.9), "satisfaction": (8, 1.6),
                 "minutes": (20, 5), "wait_minutes": (18, 10), "days": (7, 4)}
        mean, sd = hints.get(name, (50, 25))
        value = self.rng.gauss(mean, sd)
        low = spec.min if isinstance(spec.min, (int, float)) else None
        high = spec.max if isinstance(spec.max, (int, float)) else None
        if low is not None:
            value = max(value, low)
        if high is not None:
            value = min(value, high)
        return value

    def _moment(self, name: str) -> dt.datetime:
        if name in ("starts_at",):  # one slot after another: never double-booked
            self.slot += dt.timedelta(minutes=self.rng.choice([30, 60, 90]))
            if self.slot.hour >= 17:
                self.slot = self.slot.replace(hour=8, minute=0) + dt.timedelta(days=1)
            return self.slot
        days_ago = self.rng.randint(0, 365)
        return dt.datetime.combine(self.today - dt.timedelta(days=days_ago),
                                   dt.time(self.rng.randint(8, 17), self.rng.choice([0, 15, 30, 45])))

    def value(self, name: str, spec: FieldSpec) -> Any:
        kind, rng, fake = spec.type, self.rng, self.fake
        if kind in ("text", "long_text"):
            if name == "name":
                return fake.name()
            if kind == "long_text":
                return rng.choice(["", "青霉素过敏", "无", "高血压随访", "Type 2 diabetes, on metformin", "术后复查"])
            return fake.sentence(nb_words=4)[: spec.max_length or 60]
        if kind == "phone":
            return "1" + rng.choice("3456789") + "".join(rng.choice("0123456789") for _ in range(9))
        if kind == "email":
            return fake.unique.email() if rng.random() < 0.5 else None
        if kind == "cn_resident_id":
            return fake.ssn() if rng.random() < 0.8 else None
        if kind == "date":
            if "birth" in name:
                return fake.date_of_birth(minimum_age=1, maximum_age=92).isoformat()
            return (self.today + dt.timedelta(days=rng.randint(-60, 30))).isoformat()
        if kind == "datetime":
            return self._moment(name).isoformat()
        if kind == "integer":
            return round(self._number(name, spec))
        if kind == "decimal":
            return round(self._number(name, spec), spec.scale if spec.scale is not None else 2)
        if kind == "boolean":
            return rng.random() < 0.6
        if kind in ("select", "state") and spec.options:
            return rng.choice(spec.options)
        if kind == "multi_select" and spec.options:
            return rng.sample(spec.options, k=rng.randint(0, min(2, len(spec.options))))
        return None


def _values(entity: EntitySpec, maker: ValueMaker, parents: dict[str, list[int]], own_links: dict[str, int]) -> dict:
    values: dict[str, Any] = {}
    for name, spec in entity.fields.items():
        if spec.compute or spec.type == "user":
            continue
        if name == "pregnancy":
            continue  # set only where it makes sense, below
        if spec.type == "link":
            if name in own_links:
                values[name] = own_links[name]
            elif spec.to is not None and parents.get(spec.to) and (spec.required or maker.rng.random() < 0.8):
                values[name] = maker.rng.choice(parents[spec.to])
            continue
        if spec.type == "table":
            values[name] = [{n: maker.value(n, s) for n, s in (spec.fields or {}).items()}
                            for _ in range(maker.rng.randint(0, 3))]
            continue
        value = maker.value(name, spec)
        if value is not None and (spec.required or maker.rng.random() < 0.9):
            values[name] = value
    if "gender" in values and "pregnancy" in entity.fields:
        values["pregnancy"] = values["gender"] == "female" and maker.rng.random() < 0.05
    if values.get("status") == "done" and "outcome" in entity.fields:
        values["outcome"] = "电话随访,恢复良好"
    return values


def seed(records: RecordService, entities: dict[str, EntitySpec], patients: int = 2000, seed_value: int = 2026,
         progress: Progress | None = None) -> dict[str, int]:
    """Create demo records for every entity; return how many of each were made."""
    rng = random.Random(seed_value)
    fake = Faker("zh_CN")
    fake.seed_instance(seed_value)
    maker = ValueMaker(rng, fake, dt.date.today())
    plan = default_plan(entities, patients)
    made: dict[str, list[int]] = {}
    for name in _order(entities):
        entity = entities[name]
        parents = _required_links(entity)
        if name in plan.root_counts:
            jobs: list[dict[str, Any]] = [{} for _ in range(plan.root_counts[name])]
        else:
            anchor = parents[0]
            jobs = []
            for parent_id in made.get(anchor, []):
                count = int(plan.per_parent[name]) + (rng.random() < plan.per_parent[name] % 1)
                jobs += [{_link_field(entity, anchor): parent_id} for _ in range(rng.randint(0, 2 * count))]
        made[name] = []
        for own in jobs:
            for _attempt in range(5):
                try:
                    record = records.create(SYSTEM, name, _values(entity, maker, made, own))
                except ValidationFailed:
                    continue
                made[name].append(record["id"])
                break
            if progress:
                progress(name, 1)
    return {name: len(ids) for name, ids in made.items()}


def _link_field(entity: EntitySpec, target: str) -> str:
    return next(n for n, f in entity.fields.items() if f.type == "link" and f.to == target and f.required)


def planned_total(entities: dict[str, EntitySpec], patients: int) -> int:
    """A rough count of records `seed` will make, for a progress bar."""
    plan = default_plan(entities, patients)
    total = sum(plan.root_counts.values())
    for per in plan.per_parent.values():
        total += int(patients * per)
    return total
