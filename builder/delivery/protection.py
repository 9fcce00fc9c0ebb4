"""Patient protection: consent, quiet hours and a daily cap, decided at sending time.

Staff messages are exempt (a doctor's inbox may fill at night); a message to a patient
needs the consent field its channel names to be true, waits out the quiet hours in the
app's time zone, and stops at the daily cap, counted over the rows sent to the same
person since local midnight.
"""

from __future__ import annotations

import datetime as dt
import random
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from ..system_tables import outbox
from .settings import DeliverySettings


def _local(now: dt.datetime, zone: ZoneInfo) -> dt.datetime:
    return now.replace(tzinfo=dt.UTC).astimezone(zone)


def _utc(local: dt.datetime) -> dt.datetime:
    return local.astimezone(dt.UTC).replace(tzinfo=None)


def quiet_until(now: dt.datetime, settings: DeliverySettings, zone: ZoneInfo) -> dt.datetime | None:
    """The end of the quiet hours (naive UTC) when `now` (naive UTC) falls inside them, else None."""
    start, end = settings.quiet_start, settings.quiet_end
    if start is None or end is None or start == end:
        return None
    local = _local(now, zone)
    moment = local.time().replace(tzinfo=None)
    inside = (start <= moment < end) if start < end else (moment >= start or moment < end)
    if not inside:
        return None
    wake = dt.datetime.combine(local.date(), end, tzinfo=zone)
    if wake <= local:
        wake = dt.datetime.combine(local.date() + dt.timedelta(days=1), end, tzinfo=zone)
    return _utc(wake)


def person_tag(entity: str | None, record_id: object) -> str:
    """What a sent row keeps in `reason` so the cap counts messages per person, whatever they were about."""
    return f"to {entity} {record_id}"


def sent_today(conn: sa.Connection, tag: str, now: dt.datetime, zone: ZoneInfo) -> int:
    """How many messages went to the person `tag` names since local midnight."""
    local = _local(now, zone)
    midnight = _utc(dt.datetime.combine(local.date(), dt.time(), tzinfo=zone))
    query = sa.select(sa.func.count()).where(
        outbox.c.status == "sent", outbox.c.sent_at >= midnight, outbox.c.reason == tag
    )
    return int(conn.execute(query).scalar_one())


def backoff(attempts: int, settings: DeliverySettings, rng: random.Random | None = None) -> dt.timedelta:
    """Exponential backoff with jitter: about base·2^(n-1), drawn in its upper half, capped."""
    ceiling = min(settings.backoff_cap_seconds, settings.backoff_seconds * 2 ** max(0, attempts - 1))
    draw = (rng or random).uniform(0.5, 1.0)
    return dt.timedelta(seconds=ceiling * draw)
