"""Python values <-> database rows, including encrypted fields.

Encrypted values are stored as ciphertext with a keyed hash beside them (and, for a
phone with `last4_search`, a keyed hash of its last 4 digits); the table and field
name are the ciphertext's associated data, so a value copied into another column
does not decrypt.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from builder.storage.crypto import TOKEN_VERSION, DecryptionError
from builder.storage.last4 import has_last4, last4_column, last4_hash
from builder.storage.tables import child_table_name, hash_column
from engines.forms import EntitySpec, FieldSpec

from .compiled import CompiledField


class Cipher(Protocol):
    """What the codec needs of the keyring (builder.storage.crypto.Keyring)."""

    def encrypt(self, plaintext: str, context: str) -> str: ...

    def decrypt(self, token: str, context: str) -> str: ...

    def blind_index(self, value: str) -> str: ...


class MissingKeys(RuntimeError):
    """An encrypted field was used but no encryption key is configured."""

    def __init__(self) -> None:
        super().__init__("an encrypted field needs an encryption key (see docs/security.md)")


def _context(table: str, field: CompiledField) -> str:
    return f"{table}.{field.name}"


def encode(
    fields: Sequence[CompiledField], values: dict[str, Any], table: str, cipher: Cipher | None
) -> dict[str, Any]:
    """The column values for `values` (only the fields present)."""
    row: dict[str, Any] = {}
    for field in fields:
        if field.name not in values:
            continue
        value = field.kind.to_storage(values[field.name], field.spec)
        if field.spec.encrypted:
            last4 = has_last4(field.spec)
            if value is None:
                row[field.name] = row[hash_column(field.name)] = None
                if last4:
                    row[last4_column(field.name)] = None
                continue
            if cipher is None:
                raise MissingKeys()
            row[field.name] = cipher.encrypt(str(value), _context(table, field))
            row[hash_column(field.name)] = cipher.blind_index(str(value))
            if last4:
                row[last4_column(field.name)] = last4_hash(cipher.blind_index, str(value))
        else:
            row[field.name] = value
    return row


def _is_token(raw: Any) -> bool:
    """A ciphertext, or plaintext a batched `crm migrate` has not encrypted yet (migrations/rewrites.py)."""
    return not isinstance(raw, str) or raw.startswith(f"{TOKEN_VERSION}:")


def decode(fields: Sequence[CompiledField], row: Any, table: str, cipher: Cipher | None) -> dict[str, Any]:
    """Python values of every stored field in a database row."""
    # Not `hasattr(row, "_mapping")`: asked of a RowMapping it raises and catches NoSuchColumnError (a list's rows).
    mapping = row if isinstance(row, Mapping) else getattr(row, "_mapping", row)
    values: dict[str, Any] = {}
    for field in fields:
        try:  # not `mapping.get`: a RowMapping's is the slow generic one (a list reads 50 rows of these)
            raw = mapping[field.name]
        except KeyError:  # a column the query did not read (SQLAlchemy's NoSuchColumnError is one too)
            raw = None
        if field.spec.encrypted and raw is not None and _is_token(raw):
            if cipher is None:
                raise MissingKeys()
            raw = cipher.decrypt(raw, _context(table, field))
        values[field.name] = field.kind.from_storage(raw, field.spec)
    return values


def search_value(field: CompiledField, value: Any, cipher: Cipher | None) -> tuple[str, Any]:
    """The column and value to compare for an exact-match search on `field`."""
    if field.spec.encrypted:
        if cipher is None:
            raise MissingKeys()
        stored = field.kind.to_storage(value, field.spec)
        return hash_column(field.name), cipher.blind_index(str(stored))
    return field.name, field.kind.to_storage(value, field.spec)


def _names(current: str, renamed_from: str | None) -> set[str]:
    return {current, renamed_from} if renamed_from else {current}


def _previous_of_fields(
    found: dict[str, tuple[str, ...]], table: str, old_tables: set[str], fields: dict[str, FieldSpec]
) -> None:
    for name, spec in fields.items():
        if spec.encrypted:
            contexts = {f"{t}.{n}" for t in old_tables for n in _names(name, spec.renamed_from)}
            previous = tuple(sorted(contexts - {f"{table}.{name}"}))
            if previous:
                found[f"{table}.{name}"] = previous


def previous_contexts(entities: dict[str, EntitySpec]) -> dict[str, tuple[str, ...]]:
    """For each encrypted field renamed with `renamed_from` (or inside a renamed entity), the contexts it had."""
    found: dict[str, tuple[str, ...]] = {}
    live: set[str] = set()
    for entity, spec in entities.items():
        tables = _names(entity, spec.renamed_from)
        _previous_of_fields(found, entity, tables, spec.fields)
        live.update(f"{entity}.{name}" for name in spec.fields)
        for name, field in spec.fields.items():
            if field.type == "table":
                child = child_table_name(entity, name)
                children = {child_table_name(t, n) for t in tables for n in _names(name, field.renamed_from)}
                _previous_of_fields(found, child, children, field.fields or {})
                live.update(f"{child}.{child_field}" for child_field in field.fields or {})
    # A name another field of this blueprint has now is never read as an old one: its values stay bound to it.
    kept = {context: tuple(c for c in previous if c not in live) for context, previous in found.items()}
    return {context: previous for context, previous in kept.items() if previous}


class PreviousNames:
    """A cipher that also reads values still under a renamed field's old name.

    `crm migrate` re-encrypts them for the new name in committed batches after the
    rename commits (storage/migrations/rewrite_kinds.py); until a row's batch is done,
    its value decrypts only under the old "table.field". The old names come from the
    blueprint's `renamed_from`, whose columns no longer exist, so nothing can be copied
    from them; every other field stays bound to its own name.
    """

    def __init__(self, cipher: Cipher, previous: dict[str, tuple[str, ...]]):
        self._cipher = cipher
        self._previous = previous

    def encrypt(self, plaintext: str, context: str) -> str:
        return self._cipher.encrypt(plaintext, context)

    def blind_index(self, value: str) -> str:
        return self._cipher.blind_index(value)

    def decrypt(self, token: str, context: str) -> str:
        try:
            return self._cipher.decrypt(token, context)
        except DecryptionError:
            for old in self._previous.get(context, ()):
                try:
                    return self._cipher.decrypt(token, old)
                except DecryptionError:
                    continue
            raise

    def __getattr__(self, name: str) -> Any:  # key ids and the rest: the wrapped cipher's
        return getattr(self._cipher, name)


def with_previous_names(cipher: Cipher | None, entities: dict[str, EntitySpec]) -> Cipher | None:
    """`cipher`, reading renamed fields' values under their old names too (when the blueprint renames any)."""
    previous = previous_contexts(entities)
    return PreviousNames(cipher, previous) if cipher is not None and previous else cipher
