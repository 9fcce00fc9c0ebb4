"""The kinds of batched data rewrite (rewrites.py runs them all the same way).

Each kind says which rows still need rewriting (`condition`), how to rewrite one
batch of them, and what to do once none is left. Each recognises its own finished
work, so a batch that committed but whose marker was lost is never done twice:

- `encrypt`: plaintext of a newly encrypted field -> ciphertext and search hash; a value
  that already decrypts under the field's context is left alone.
- `reencrypt`: ciphertext of a renamed encrypted field, from the old "table.field"
  context to the new one; a value that decrypts under the new context is left alone.
- `last4`: the keyed hash of an encrypted phone's last 4 digits (`last4_search`), for
  rows whose hash is still empty; reads ciphertext, or plaintext an `encrypt` planned
  before it has not reached yet.
- `fill`: empty rows of a required field get its default (only rows still empty).
- `cut`: text longer than a narrowed `max_length` is cut to it (only rows still longer),
  each batch appending the values it cuts to the backup; on PostgreSQL a length check
  then holds the column to it, without a type change (length_checks.py).

Every UPDATE replaces only the value it read, so a server's edit made meanwhile stands.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from engines.forms import FieldSpec, field_type

from ..crypto import TOKEN_VERSION, DecryptionError, field_context
from ..last4 import has_last4, last4_column, last4_hash
from ..tables import hash_column
from .errors import MigrationError
from .length_checks import (
    add_statement,
    drop_statement,
    read_length_checks,
    validate_statement,
    with_brief_lock,
)
from .rewrites import Rewrite


@dataclass
class Work:
    """One run of a rewrite: the rows it reads, which still need it, and how to rewrite a batch."""

    table: Any  # sa.Table or sa.TableClause with `id` and the columns read
    read: list[Any]
    condition: sa.ColumnElement[bool]
    rewrite: Callable[[sa.Connection, Sequence[sa.Row]], int]  # returns the rows changed
    # values the rewrite loses, as backup lines, from the rows read (which the batch then locks)
    backup: Callable[[Sequence[sa.Row]], list[dict[str, Any]]] | None = None
    seal: Callable[[sa.Engine], None] | None = None  # after the last batch: the database refuses what needs rewriting
    finish: Callable[[sa.Engine], None] | None = None  # then (after a catch-up pass), before the marker says done


def label(job: Rewrite) -> str:
    return f"{job.table.replace('__', '.')}.{job.column}"


def is_ciphertext(value: str, keyring: Any, context: str) -> bool:
    """Whether `value` is already a token of this context (it decrypts); plaintext that merely looks like one is not."""
    if not value.startswith(f"{TOKEN_VERSION}:"):
        return False
    try:
        keyring.decrypt(value, context)
    except DecryptionError:
        return False
    return True


def _encrypted_clause(job: Rewrite) -> sa.TableClause:
    return sa.table(job.table, sa.column("id"), sa.column(job.column), sa.column(hash_column(job.column)))


def _replace_each(connection: sa.Connection, table: sa.TableClause, column: str, updates: list[dict]) -> int:
    """Per row: set the new values only where the column still holds the value read (`crm_old`)."""
    if not updates:
        return 0
    values: dict[str, Any] = {name: sa.bindparam(f"crm_{name}") for name in updates[0] if name not in ("row_id", "old")}
    connection.execute(
        sa.update(table)
        .where(table.c.id == sa.bindparam("crm_row_id"), table.c[column] == sa.bindparam("crm_old"))
        .values(values),
        [{f"crm_{k}": v for k, v in update.items()} for update in updates],
    )
    return len(updates)


class RewriteKind:
    name: ClassVar[str]

    def describe(self, job: Rewrite) -> str:
        raise NotImplementedError

    def prepare(self, connection: sa.Connection, job: Rewrite, keyring: Any) -> Work:
        raise NotImplementedError


class Encrypt(RewriteKind):
    name = "encrypt"

    def describe(self, job: Rewrite) -> str:
        return f"encrypting {label(job)}"

    def prepare(self, connection: sa.Connection, job: Rewrite, keyring: Any) -> Work:
        table, context, index = _encrypted_clause(job), field_context(job.table, job.column), hash_column(job.column)

        def rewrite(connection: sa.Connection, rows: Sequence[sa.Row]) -> int:
            updates = [
                {
                    "row_id": row_id,
                    "old": plain,
                    job.column: keyring.encrypt(str(plain), context),
                    index: keyring.blind_index(str(plain)),
                }
                for row_id, plain in rows
                if not is_ciphertext(str(plain), keyring, context)
            ]
            return _replace_each(connection, table, job.column, updates)

        return Work(table, [table.c[job.column]], table.c[job.column].is_not(None), rewrite)


class Reencrypt(RewriteKind):
    name = "reencrypt"

    def describe(self, job: Rewrite) -> str:
        return f"re-encrypting {label(job)} for its new name"

    def prepare(self, connection: sa.Connection, job: Rewrite, keyring: Any) -> Work:
        table = _encrypted_clause(job)
        old, new = job.detail["old_context"], job.detail["new_context"]

        def rewrite(connection: sa.Connection, rows: Sequence[sa.Row]) -> int:
            updates = []
            for row_id, token in rows:
                if is_ciphertext(str(token), keyring, new):
                    continue
                try:
                    plain = keyring.decrypt(str(token), old)
                except DecryptionError as exc:
                    raise MigrationError(f"{self.describe(job)}: row {row_id}: {exc}") from None
                updates.append({"row_id": row_id, "old": token, job.column: keyring.encrypt(plain, new)})
            return _replace_each(connection, table, job.column, updates)

        return Work(table, [table.c[job.column]], table.c[job.column].is_not(None), rewrite)


class Last4(RewriteKind):
    name = "last4"

    def describe(self, job: Rewrite) -> str:
        return f"hashing the last 4 digits of {label(job)}"

    def prepare(self, connection: sa.Connection, job: Rewrite, keyring: Any) -> Work:
        index = last4_column(job.column)
        table = sa.table(job.table, sa.column("id"), sa.column(job.column), sa.column(index))
        context = field_context(job.table, job.column)

        def plain(row_id: Any, stored: str) -> str:
            if not stored.startswith(f"{TOKEN_VERSION}:"):
                return stored  # not encrypted yet (an `encrypt` of the same field is under way)
            try:
                return keyring.decrypt(stored, context)
            except DecryptionError as exc:
                raise MigrationError(f"{self.describe(job)}: row {row_id}: {exc}") from None

        def rewrite(connection: sa.Connection, rows: Sequence[sa.Row]) -> int:
            updates = [
                {"row_id": row_id, "old": stored, index: last4_hash(keyring.blind_index, plain(row_id, str(stored)))}
                for row_id, stored in rows
            ]
            return _replace_each(connection, table, job.column, updates)

        missing = sa.and_(table.c[job.column].is_not(None), table.c[index].is_(None))
        return Work(table, [table.c[job.column]], missing, rewrite)


def _typed_table(connection: sa.Connection, job: Rewrite, columns: list[str]) -> sa.Table:
    """The columns with their real types, so dates and decimals bind the way each database wants."""
    with warnings.catch_warnings():  # SQLite cannot reflect the search indexes (expressions)
        warnings.simplefilter("ignore", sa.exc.SAWarning)
        return sa.Table(job.table, sa.MetaData(), autoload_with=connection, include_columns=["id", *columns])


class Fill(RewriteKind):
    """`detail`: the field's spec and the value as JSON, worked out once at migrate time (`today()` too)."""

    name = "fill"

    def describe(self, job: Rewrite) -> str:
        return f"filling {label(job)}"

    def prepare(self, connection: sa.Connection, job: Rewrite, keyring: Any) -> Work:
        from .fills import Fill as FillValue

        spec = FieldSpec.model_validate(job.detail["spec"])
        fill = FillValue(job.column, spec, field_type(spec.type).coerce(job.detail["value"], spec), 0)
        columns = [job.column, hash_column(job.column)] if spec.encrypted else [job.column]
        columns += [last4_column(job.column)] if has_last4(spec) else []
        table = _typed_table(connection, job, columns)
        empty = table.c[job.column].is_(None)

        def rewrite(connection: sa.Connection, rows: Sequence[sa.Row]) -> int:
            if not spec.encrypted:
                first, last = rows[0][0], rows[-1][0]
                statement = sa.update(table).where(table.c.id.between(first, last), empty)
                return connection.execute(statement.values(fill.stored(job.table))).rowcount
            updates = [
                {"crm_row_id": row_id, **{f"crm_{k}": v for k, v in fill.stored(job.table, keyring).items()}}
                for (row_id,) in rows
            ]
            connection.execute(  # a fresh ciphertext per row, only where the row is still empty
                sa.update(table)
                .where(table.c.id == sa.bindparam("crm_row_id"), empty)
                .values({name: sa.bindparam(f"crm_{name}") for name in columns}),
                updates,
            )
            return len(updates)

        return Work(table, [], empty, rewrite)


class Cut(RewriteKind):
    """`detail`: the new `length`; `backup`, the file for the values cut; PostgreSQL: the `check` to add, the one
    it `replaces`, and `widen` when nothing can be longer (a widening that only replaces the check)."""

    name = "cut"

    def describe(self, job: Rewrite) -> str:
        if job.detail.get("widen"):
            return f"checking {label(job)} against its new length of {job.detail['length']} characters"
        return f"cutting {label(job)} to {job.detail['length']} characters"

    def statements(self, job: Rewrite, quote: Callable[[str], str]) -> list[str]:
        """PostgreSQL, once the batches are done: the length check that replaces a type change (length_checks.py)."""
        check = job.detail.get("check")
        if not check:
            return []
        if job.detail.get("widen"):  # replaced in the migration's transaction already
            return [validate_statement(quote, job.table, check)]
        replaced = job.detail.get("replaces")
        drops = [drop_statement(quote, job.table, name) for name in dict.fromkeys([replaced, check]) if name]
        add = add_statement(quote, job.table, job.column, check, int(job.detail["length"]))
        return [*drops, add, validate_statement(quote, job.table, check)]

    def prepare(self, connection: sa.Connection, job: Rewrite, keyring: Any) -> Work:
        length = int(job.detail["length"])
        table = sa.table(job.table, sa.column("id"), sa.column(job.column, sa.Text))
        value = table.c[job.column]
        longer = sa.func.length(value) > length

        def rewrite(connection: sa.Connection, rows: Sequence[sa.Row]) -> int:
            ids = [row[0] for row in rows]  # locked by the batch's read: these values are the ones cut
            if connection.dialect.name == "postgresql":  # one array parameter, not a thousand placeholders to parse
                chosen = table.c.id == sa.any_(sa.bindparam("crm_ids", ids, type_=postgresql.ARRAY(sa.BigInteger)))
            else:
                chosen = table.c.id.in_(ids)
            cut = sa.update(table).where(chosen).values({job.column: sa.func.substr(value, 1, length)})
            return connection.execute(cut).rowcount

        def backup(rows: Sequence[sa.Row]) -> list[dict[str, Any]]:
            return [{"id": row_id, job.column: original} for row_id, original in rows]

        work = Work(table, [value], longer, rewrite, backup=backup)
        check = job.detail.get("check")
        if check:
            quote = connection.dialect.identifier_preparer.quote
            *seal, validate = self.statements(job, quote)

            def sealed(engine: sa.Engine) -> None:
                """A NOT VALID check first (a brief lock, no scan): from now on nothing longer is written."""
                with engine.connect() as connection:
                    current = read_length_checks(connection).get((job.table, job.column))
                if seal and (current is None or current.name != check or current.length != length):
                    with_brief_lock(engine, seal)

            def validated(engine: sa.Engine) -> None:
                """VALIDATE scans under SHARE UPDATE EXCLUSIVE: reads and writes go on meanwhile."""
                with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
                    connection.exec_driver_sql(validate)

            work.seal, work.finish = sealed, validated
        return work


KINDS: dict[str, RewriteKind] = {kind.name: kind for kind in (Encrypt(), Reencrypt(), Last4(), Fill(), Cut())}


def kind_of_rewrite(step: str) -> RewriteKind:
    try:
        return KINDS[step]
    except KeyError:
        raise MigrationError(f"unknown data rewrite `{step}` in crm_migration_progress (a newer crm?)") from None
