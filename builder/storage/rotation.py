"""Key rotation: a new active key, every encrypted value re-encrypted with it.

The key file is saved with the new key *before* any value changes, so a crash half
way leaves values under old and new keys, both of which the saved file holds; running
the rotation again finishes the job. Then the database records the new key as the
active one (`crm_key_state`): running servers encrypt with it from their next write
and reload the key file to read it. Old keys stay until `prune_keys` confirms that
no stored value and no running process needs them.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterator

import sqlalchemy as sa

from builder.errors import ProjectError
from engines.forms import EntitySpec, field_type

from . import keystate
from .crypto import Keyring, field_context, key_id_of
from .database import write_transaction
from .tables import Schema

BATCH_SIZE = 500


def encrypted_columns(schema: Schema, entities: dict[str, EntitySpec]) -> Iterator[tuple[sa.Table, str]]:
    """(table, column) of every encrypted field, child tables included."""
    for entity, spec in entities.items():
        for name, field in spec.fields.items():
            if field.type == "table":
                child = schema.children.get((entity, name))
                for child_field, child_spec in (field.fields or {}).items():
                    if child is not None and child_spec.encrypted and field_type(child_spec.type).stored:
                        yield child, child_field
            elif field.encrypted and field_type(field.type).stored:
                yield schema.table(entity), name


def _batches(connection: sa.Connection, table: sa.Table | sa.TableClause, column: str, after: int) -> list[sa.Row]:
    id_column, value = table.c["id"], table.c[column]
    return list(
        connection.execute(
            sa.select(id_column, value)
            .where(value.is_not(None), id_column > after)
            .order_by(id_column)
            .limit(BATCH_SIZE)
        )
    )


def _reencrypt_rows(
    connection: sa.Connection,
    table: sa.Table | sa.TableClause,
    column: str,
    rows: list[sa.Row],
    keyring: Keyring,
    old_context: str,
    new_context: str,
    only_old_keys: bool,
) -> int:
    updates = []
    for row_id, token in rows:
        if only_old_keys and key_id_of(token) == keyring.active_key_id:
            continue
        new_token = keyring.encrypt(keyring.decrypt(token, old_context), new_context)
        updates.append({"crm_row_id": row_id, "crm_old_token": token, "crm_new_token": new_token})
    if updates:
        value = table.c[column]
        # Only where the value is still the one read: a concurrent edit is not overwritten.
        statement = (
            sa.update(table)
            .where(table.c["id"] == sa.bindparam("crm_row_id"), value == sa.bindparam("crm_old_token"))
            .values({column: sa.bindparam("crm_new_token")})
        )
        connection.execute(statement, updates)
    return len(updates)


def rotate_keys(
    engine: sa.Engine,
    schema: Schema,
    entities: dict[str, EntitySpec],
    keyring: Keyring,
    key_path: os.PathLike | str,
    *,
    prune: bool = False,
) -> int:
    """Add a new active key, re-encrypt every value in batches, save the key file; returns the count.

    Values already under the active key are skipped, so an interrupted rotation is
    finished by running it again (with the saved key file) — pass `keyring` loaded from it.
    """
    _check_file_matches_database(engine, keyring)
    _check_no_rewrite_pending(engine)
    keyring.add_key()
    keyring.save(key_path)
    with write_transaction(engine) as connection:  # waits for writes under the old key to finish
        keystate.set_active_key(connection, keyring.active_key_id)
    count = 0
    for table, column in encrypted_columns(schema, entities):
        context = field_context(table.name, column)
        last = 0
        while True:
            with engine.begin() as connection:
                rows = _batches(connection, table, column, last)
                if not rows:
                    break
                count += _reencrypt_rows(connection, table, column, rows, keyring, context, context, True)
            last = rows[-1][0]
    if prune:
        prune_keys(engine, schema, entities, keyring, key_path)
    return count


def _check_no_rewrite_pending(engine: sa.Engine) -> None:
    """A migration's data rewrite is unfinished (migrations/rewrites.py): values may be plaintext or under a field's
    old name, which rotation would not decrypt; finish it first."""
    from .migrations.rewrites import pending_rewrites

    unfinished = pending_rewrites(engine)
    if unfinished:
        raise ProjectError(
            f"a migration is still {unfinished[0].describe()} (interrupted?); run `crm migrate` to finish it "
            "before rotating keys; nothing was changed"
        )


def _check_file_matches_database(engine: sa.Engine, keyring: Keyring) -> str:
    """The database's active key id, which the key file must hold (ProjectError if it does not)."""
    keystate.ensure_tables(engine)
    with engine.connect() as connection:
        recorded = keystate.read_active_key(connection)
    if recorded is not None and recorded not in keyring.key_ids:
        raise ProjectError(
            f"the database says values are encrypted with key `{recorded}`, which this key file "
            f"lacks (it has {', '.join(keyring.key_ids)}); use the key file the last rotation wrote"
        )
    return recorded or keyring.active_key_id


def values_by_key(
    engine: sa.Engine, schema: Schema, entities: dict[str, EntitySpec], key_ids: list[str]
) -> dict[str, int]:
    """How many stored values each of `key_ids` encrypted (counted in SQL); keys with none are left out."""
    with engine.connect() as connection:
        return keystate.count_values(connection, encrypted_columns(schema, entities), key_ids)


def prune_keys(
    engine: sa.Engine,
    schema: Schema,
    entities: dict[str, EntitySpec],
    keyring: Keyring,
    key_path: os.PathLike | str,
    *,
    stale_after: dt.timedelta = keystate.STALE_AFTER,
) -> list[str]:
    """Remove every non-active key from the key file; returns the ids removed.

    Refuses (ProjectError, nothing changed) while the key file and the database disagree
    on the active key, while a running process still encrypts with an old key, or while
    stored values are still under one.
    """
    active = _check_file_matches_database(engine, keyring)
    if active != keyring.active_key_id:
        raise ProjectError(
            f"the database's active key is `{active}` but the key file's is "
            f"`{keyring.active_key_id}`; run `crm keys rotate` to bring them together"
        )
    old = [k for k in keyring.key_ids if k != active]
    if not old:
        return []
    with engine.connect() as connection:
        behind = [u for u in keystate.live_users(connection, stale_after) if u.active_key != active]
    if behind:
        detail = ", ".join(f"{u.process} uses {u.active_key}" for u in behind)
        raise ProjectError(
            f"running processes still encrypt with an old key ({detail}); they move to `{active}` "
            "on their next write or heartbeat (see [security] key_check_seconds), or restart them; "
            "nothing was pruned"
        )
    in_use = values_by_key(engine, schema, entities, old)
    if in_use:
        detail = ", ".join(f"{k}: {n} values" for k, n in sorted(in_use.items()))
        raise ProjectError(
            f"old keys are still in use ({detail}); run `crm keys rotate` to finish first; nothing was pruned"
        )
    keyring.remove_keys(old)
    keyring.save(key_path)
    return old
