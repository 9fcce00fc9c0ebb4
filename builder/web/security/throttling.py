"""Sign-in throttling: too many recent attempts for an account or an address, and we refuse.

Attempts are rows in `crm_login_attempt`, so every process of a project on one
PostgreSQL database counts the same. An attempt is counted *before* its password is
checked, in one step with the check of the count (`reserve`): the scope locks of the
account and the address (PostgreSQL) or the write lock (SQLite) make a burst of
parallel sign-ins take turns, so at most the limit of them is ever checked. A sign-in
that succeeds takes the account's rows off its count (they still count for their
addresses); a failed one leaves its row as the failure.
While throttled even the right password is refused (otherwise an attacker would
learn when a guess was right).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import sqlalchemy as sa

from builder.storage.database import write_transaction
from builder.storage.locks import lock_scopes, scope_key
from builder.system_tables import login_attempts

CLEARED = ""  # the account of attempts a successful sign-in took off its account's count


def account_key(name: str) -> str:
    """Attempts count per name as typed, case-folded, so unknown names are throttled too."""
    return name.strip().casefold()[:64]


def _account_lock(account: str) -> int:
    return scope_key("login", "account", account)


def _address_lock(address: str) -> int:
    return scope_key("login", "address", address)


class LoginThrottle:
    """Counts attempts in a sliding window; the window length is the lock-out time."""

    def __init__(
        self,
        engine: sa.Engine,
        max_per_account: int,
        max_per_address: int,
        window: dt.timedelta,
        clock: Callable[[], dt.datetime],
    ) -> None:
        if max_per_account < 1 or max_per_address < 1 or window <= dt.timedelta(0):
            raise ValueError("throttle limits and window must be positive")
        self.engine = engine
        self.max_per_account = max_per_account
        self.max_per_address = max_per_address
        self.window = window
        self.clock = clock

    def reserve(self, name: str, address: str) -> bool:
        """Count one attempt before its password is checked; False (nothing counted) when throttled."""
        now = self.clock()
        account, address = account_key(name), address[:64]
        table = login_attempts
        recent = sa.select(sa.func.count()).select_from(table).where(table.c.at > now - self.window)
        with write_transaction(self.engine) as conn:
            lock_scopes(conn, [_account_lock(account), _address_lock(address)])
            by_account = conn.execute(recent.where(table.c.account == account)).scalar_one()
            by_address = conn.execute(recent.where(table.c.address == address)).scalar_one()
            if by_account >= self.max_per_account or by_address >= self.max_per_address:
                return False
            conn.execute(table.insert().values(at=now, account=account, address=address))
            # Prune rows past the window, skipping any another pruner holds: pruners never wait on each other.
            stale = sa.select(table.c.id).where(table.c.at <= now - self.window).with_for_update(skip_locked=True)
            conn.execute(table.delete().where(table.c.id.in_(stale.scalar_subquery())))
        return True

    def clear_account(self, name: str) -> None:
        """After a successful sign-in the account's count starts again (the address's does not).

        The account's rows stay, counted for their addresses, under `CLEARED`: a name no
        sign-in has (names are stripped and never empty), so they count for no account.
        """
        account = account_key(name)
        with write_transaction(self.engine) as conn:
            lock_scopes(conn, [_account_lock(account)])
            conn.execute(login_attempts.update().where(login_attempts.c.account == account).values(account=CLEARED))
