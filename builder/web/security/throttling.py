"""Sign-in throttling: too many recent failures for an account or an address, and we refuse.

Failures are rows in `crm_login_attempt`, so every process of a project on one
PostgreSQL database counts the same. While throttled even the right password is
refused (otherwise an attacker would learn when a guess was right).
"""

from __future__ import annotations

import datetime as dt
from typing import Callable

import sqlalchemy as sa

from builder.system_tables import login_attempts


def account_key(name: str) -> str:
    """Failures count per name as typed, case-folded, so unknown names are throttled too."""
    return name.strip().casefold()[:64]


class LoginThrottle:
    """Counts failures in a sliding window; the window length is the lock-out time."""

    def __init__(self, engine: sa.Engine, max_per_account: int, max_per_address: int, window: dt.timedelta,
                 clock: Callable[[], dt.datetime]) -> None:
        if max_per_account < 1 or max_per_address < 1 or window <= dt.timedelta(0):
            raise ValueError("throttle limits and window must be positive")
        self.engine = engine
        self.max_per_account = max_per_account
        self.max_per_address = max_per_address
        self.window = window
        self.clock = clock

    def is_blocked(self, name: str, address: str) -> bool:
        since = self.clock() - self.window
        table = login_attempts
        recent = sa.select(sa.func.count()).select_from(table).where(table.c.at > since)
        with self.engine.connect() as conn:
            by_account = conn.execute(recent.where(table.c.account == account_key(name))).scalar_one()
            by_address = conn.execute(recent.where(table.c.address == address[:64])).scalar_one()
        return by_account >= self.max_per_account or by_address >= self.max_per_address

    def record_failure(self, name: str, address: str) -> None:
        now = self.clock()
        with self.engine.begin() as conn:
            conn.execute(login_attempts.delete().where(login_attempts.c.at <= now - self.window))
            conn.execute(login_attempts.insert().values(at=now, account=account_key(name), address=address[:64]))

    def clear_account(self, name: str) -> None:
        """After a successful sign-in the account's count starts again (the address's does not)."""
        with self.engine.begin() as conn:
            conn.execute(login_attempts.delete().where(login_attempts.c.account == account_key(name)))
