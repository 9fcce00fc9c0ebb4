"""Delivery never puts patient data in logs or in the outbox: failures are stored and logged as short codes."""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "builder" / "delivery"))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "builder" / "web"))

from delivery_helpers import MORNING, make_world

from builder.delivery import CHANNEL_TYPES, Channel, OutgoingMessage, Sent, register_channel
from builder.system_tables import outbox


class LeakyChannel(Channel):
    """A channel whose library fails with the message in its exception text (as some SDKs do)."""

    type = "leaky_test"

    def send(self, message: OutgoingMessage) -> Sent:
        raise ValueError(f"could not send {message.body!r} to {message.address.phone}")


@pytest.fixture
def leaky():
    register_channel(LeakyChannel)
    try:
        yield
    finally:
        CHANNEL_TYPES.pop("leaky_test", None)


def test_a_failing_channel_leaks_nothing_to_logs_or_outbox(tmp_path, sqlite_url, leaky, caplog):
    world = make_world(tmp_path, sqlite_url)
    try:
        world.patient(0, consent_sms=True)
        key = world.add_row()
        with caplog.at_level(logging.DEBUG):
            world.job({"sms": {"type": "leaky_test"}})(MORNING)
        row = world.row(key)
        assert (row.status, row.reason) == ("failed", "internal error (ValueError)")
        logged = caplog.text
        assert "ValueError" in logged
        for secret in ("Wang Fang", "13800130000", "appointment is"):
            assert secret not in logged
        with world.engine.connect() as conn:
            stored = " ".join(str(v) for r in conn.execute(sa.select(outbox)).all() for v in r)
        assert "Wang Fang" not in stored and "13800130000" not in stored
    finally:
        world.runtime.close()
