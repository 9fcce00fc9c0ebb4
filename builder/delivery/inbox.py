"""The in-app staff inbox: a row per user in `crm_inbox`, shown with a badge, never a pop-up.

A message to a role reaches every active user of that role at delivery time. Rows are
keyed by (outbox key, user), so delivering the same outbox row twice adds nothing.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import sqlalchemy as sa

from ..storage.database import write_transaction
from ..system_tables import inbox
from .channel import Channel, ChannelConfig, DeliveryError, OutgoingMessage, Sent, register_channel

TITLE_LIMIT = 200


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


@register_channel
class InboxChannel(Channel):
    type = "inbox"
    needs = "user"
    options = ()

    def __init__(
        self, config: ChannelConfig, engine: sa.Engine | None = None, clock: Callable[[], dt.datetime] = _utcnow
    ):
        super().__init__(config)
        self.engine = engine
        self.clock = clock

    def bind(self, engine: sa.Engine, clock: Callable[[], dt.datetime]) -> None:
        """The database the inbox lives in (the project's), given when the worker starts."""
        self.engine, self.clock = engine, clock

    def send(self, message: OutgoingMessage) -> Sent:
        if self.engine is None:
            raise DeliveryError("inbox has no database", retryable=True)
        if not message.address.user_ids:
            raise DeliveryError("no staff account to deliver to", retryable=False)
        now = self.clock()
        title = (message.subject or message.template or "")[:TITLE_LIMIT]
        with write_transaction(self.engine) as conn:
            done = set(
                conn.execute(
                    sa.select(inbox.c.user_id).where(
                        inbox.c.key == message.key, inbox.c.user_id.in_(message.address.user_ids)
                    )
                ).scalars()
            )
            rows = [
                {
                    "key": message.key,
                    "user_id": user_id,
                    "role": message.address.role,
                    "title": title,
                    "body": message.body,
                    "entity": message.entity,
                    "record_id": message.record_id,
                    "created_at": now,
                }
                for user_id in message.address.user_ids
                if user_id not in done
            ]
            if rows:
                conn.execute(inbox.insert(), rows)
        return Sent(f"inbox:{len(message.address.user_ids)}")
