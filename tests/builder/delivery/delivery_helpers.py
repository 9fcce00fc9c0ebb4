"""A seeded clinic, outbox rows written directly, and a Delivery wired to stand-ins, on a clock we move."""

from __future__ import annotations

import dataclasses
import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from clinic_fixtures import build_runtime, create_users, seed_clinic

from builder.delivery import Delivery, DeliverySettings, delivery_job, load_channels
from builder.delivery.inbox import InboxChannel
from builder.records import SYSTEM
from builder.runtime import Runtime
from builder.system_tables import outbox

# 10:00 in Shanghai (the clinic's time zone): outside the quiet hours.
MORNING = dt.datetime(2026, 3, 2, 2, 0)


class Clock:
    """A clock tests move by hand."""

    def __init__(self, now: dt.datetime = MORNING):
        self.now = now

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, **delta: float) -> dt.datetime:
        self.now += dt.timedelta(**delta)
        return self.now


@dataclass
class World:
    runtime: Runtime
    data: dict[str, Any]
    actors: dict[str, Any]

    @property
    def engine(self) -> sa.Engine:
        return self.runtime.engine

    def patient(self, i: int = 0, **values: Any) -> dict[str, Any]:
        patient = self.data["patients"][i]
        if values:
            current = self.runtime.records.get(SYSTEM, "patient", patient["id"])
            self.runtime.records.update(SYSTEM, "patient", patient["id"], values, current["version"])
        return patient

    def add_row(
        self,
        *,
        key: str | None = None,
        channel: str = "sms",
        template: str | None = "appointment_reminder",
        entity: str = "appointment",
        record_id: int | None = None,
        recipient: str = "patient",
        due: dt.datetime = MORNING,
        automation: str = "appointment_reminder",
    ) -> str:
        return self.add_rows(
            [key],
            channel=channel,
            template=template,
            entity=entity,
            record_id=record_id,
            recipient=recipient,
            due=due,
            automation=automation,
        )[0]

    def add_rows(
        self,
        keys: list[str | None],
        *,
        channel: str = "sms",
        template: str | None = "appointment_reminder",
        entity: str = "appointment",
        record_id: int | None = None,
        recipient: str = "patient",
        due: dt.datetime = MORNING,
        automation: str = "appointment_reminder",
    ) -> list[str]:
        """Pending rows with these keys (None: the key the automation would give), in one transaction."""
        record_id = self.data["appointments"][0]["id"] if record_id is None else record_id
        made = [key or f"{automation}:0:{entity}:{record_id}:{due.isoformat()}" for key in keys]
        common = {
            "automation": automation,
            "channel": channel,
            "template": template,
            "entity": entity,
            "record_id": record_id,
            "recipient": recipient,
            "status": "pending",
            "attempts": 0,
            "next_attempt_at": due,
            "created_at": due,
        }
        with self.engine.begin() as conn:
            conn.execute(outbox.insert(), [{"key": key, **common} for key in made])
        return made

    def row(self, key: str) -> Any:
        with self.engine.connect() as conn:
            return conn.execute(sa.select(outbox).where(outbox.c.key == key)).one()

    def delivery(self, channels: dict[str, dict], **settings: Any) -> Delivery:
        made = load_channels({"channels": channels}, {"HOOK_SECRET": "s3cret"}, root=self.runtime.project.root)
        for channel in made.values():
            if isinstance(channel, InboxChannel):
                channel.bind(self.engine, self.runtime.records.clock)
        flows = self.runtime.loaded.flows
        reminder = flows.notifications["appointment_reminder"]
        email = reminder.model_copy(
            update={"channels": {**reminder.channels, "email": reminder.channels["sms"]}}
        )  # the clinic reminds by SMS; the same words by e-mail for the SMTP tests
        flows = dataclasses.replace(flows, notifications={**flows.notifications, "appointment_reminder": email})
        base = {"backoff_seconds": 60.0, "max_attempts": 5}
        return Delivery(
            records=self.runtime.records,
            flows=flows,
            channels=made,
            settings=DeliverySettings(**{**base, **settings}),
            zone=ZoneInfo("Asia/Shanghai"),
            default_locale="zh-CN",
            app={"name": "clinic"},
        )

    def job(self, channels: dict[str, dict], **settings: Any):
        return delivery_job(self.delivery(channels, **settings))


def make_world(tmp_path: Path, url: str) -> World:
    runtime = build_runtime(tmp_path / "project", url)
    actors = create_users(runtime)
    data = seed_clinic(runtime, actors)
    return World(runtime, data, actors)


def sms(url: str) -> dict[str, Any]:
    return {"type": "sms", "url": url, "sign_name": "阳光诊所", "consent": "consent_sms"}
