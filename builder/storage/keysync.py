"""The keyring of a running process, kept in step with the database and the key file.

A server started before `crm keys rotate` holds the old keys. This keyring:
- reloads the key file when it meets a value under a key it does not know;
- reads the active key id recorded in the database at the start of every write
  transaction (`writes=True`, see database.write_transaction) and encrypts with that
  key, reloading the key file if it lacks it; so no process writes under a key that a
  rotation has retired, and `crm keys prune` can trust the database's counts;
- keeps a heartbeat row (`crm_key_user`) with the key it encrypts with, refreshed by a
  background thread in long-running processes, so prune waits for every process.
"""

from __future__ import annotations

import logging
import os
import secrets
import socket
import threading
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from . import keystate
from .crypto import Keyring, key_id_of
from .database import WritePreamble, add_write_preamble, literal_sql, remove_write_preamble
from .keys import KeyringError

logger = logging.getLogger("builder.keys")
DEFAULT_HEARTBEAT_SECONDS = 30.0


class SharedKeyring:
    """A Cipher (see builder.records.codec) that follows the database's active key."""

    def __init__(self, engine: sa.Engine, key_path: Path | str | None, keyring: Keyring):
        self.engine = engine
        self.key_path = key_path
        self.process = f"{socket.gethostname()[:60]}:{os.getpid()}:{secrets.token_hex(4)}"
        self._keyring = keyring
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @classmethod
    def open(cls, engine: sa.Engine, key_path: Path | str | None) -> SharedKeyring:
        """Load the keys, adopt the database's active key (recording the file's if none is), register."""
        shared = cls(engine, key_path, Keyring.load(key_path))
        shared._follow(keystate.ensure_active_key(engine, shared.active_key_id))
        active_key = keystate.active_key_query(share_lock=True)
        add_write_preamble(engine, "active key", WritePreamble(20, literal_sql(engine, active_key), shared._take))
        keystate.beat(engine, shared.process, shared.active_key_id, shared.key_ids)
        return shared

    # -- Cipher ---------------------------------------------------------------------------
    @property
    def active_key_id(self) -> str:
        return self._keyring.active_key_id

    @property
    def key_ids(self) -> list[str]:
        return self._keyring.key_ids

    def encrypt(self, plaintext: str, context: str) -> str:
        return self._keyring.encrypt(plaintext, context)

    def decrypt(self, token: str, context: str) -> str:
        keyring = self._keyring
        if key_id_of(token) not in keyring.key_ids:
            keyring = self._reload()
        return keyring.decrypt(token, context)

    def blind_index(self, value: str) -> str:
        return self._keyring.blind_index(value)

    # -- keeping in step ------------------------------------------------------------------
    def _reload(self) -> Keyring:
        """Read the key file again (a rotation added keys), keeping the active key we follow."""
        with self._lock:
            loaded = Keyring.load(self.key_path)
            active = self._keyring.active_key_id
            self._keyring = loaded.using(active) if active in loaded.key_ids else loaded
            return self._keyring

    def _follow(self, active: str | None) -> bool:
        """Encrypt with `active` from now on; True if that is a change."""
        if active is None or active == self._keyring.active_key_id:
            return False
        if active not in self._keyring.key_ids:
            self._reload()
        with self._lock:
            if active not in self._keyring.key_ids:
                raise KeyringError(
                    f"the database says new values are encrypted with key `{active}`, which the key "
                    f"file lacks (it has {', '.join(self._keyring.key_ids)}); install the current key "
                    "file, the one `crm keys rotate` wrote"
                )
            self._keyring = self._keyring.using(active)
        logger.info("encryption key %s is now the active one for this process", active)
        return True

    def _take(self, row: Any) -> None:
        """A write transaction's first read of the active key (see database.WritePreamble)."""
        if self._follow(row[0] if row is not None else None):
            self._wake.set()  # tell the others (heartbeat) soon

    def refresh(self) -> None:
        """Follow the database's active key and renew this process's heartbeat."""
        with self.engine.connect() as connection:
            self._follow(keystate.read_active_key(connection))
        keystate.beat(self.engine, self.process, self.active_key_id, self.key_ids)

    def start_heartbeat(self, interval: float = DEFAULT_HEARTBEAT_SECONDS) -> None:
        """Refresh every `interval` seconds (and soon after a change) in a background thread."""
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._beat_loop, args=(interval,), name="crm-key-heartbeat", daemon=True
            )
            self._thread.start()

    def _beat_loop(self, interval: float) -> None:
        while not self._stop.is_set():
            self._wake.wait(interval)
            self._wake.clear()
            if self._stop.is_set():
                return
            try:
                self.refresh()
            except (sa.exc.SQLAlchemyError, KeyringError, OSError) as exc:
                logger.warning("could not refresh the encryption key heartbeat: %s", exc)

    def close(self) -> None:
        """Stop the heartbeat and remove this process's row (prune need not wait for it)."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
        remove_write_preamble(self.engine, "active key")
        try:
            keystate.forget(self.engine, self.process)
        except sa.exc.SQLAlchemyError as exc:
            logger.warning("could not remove the encryption key heartbeat: %s", exc)

    def __repr__(self) -> str:
        return f"SharedKeyring(process={self.process!r}, active={self.active_key_id!r})"


__all__ = ["SharedKeyring"]
