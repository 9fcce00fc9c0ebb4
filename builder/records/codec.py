"""Python values <-> database rows, including encrypted fields.

Encrypted values are stored as ciphertext with a keyed hash beside them; the table
and field name are the ciphertext's associated data, so a value copied into another
column does not decrypt.
"""

from __future__ import annotations

from typing import Any, Protocol

from builder.storage.crypto import TOKEN_VERSION
from builder.storage.tables import hash_column

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


def encode(fields: list[CompiledField], values: dict[str, Any], table: str, cipher: Cipher | None) -> dict[str, Any]:
    """The column values for `values` (only the fields present)."""
    row: dict[str, Any] = {}
    for field in fields:
        if field.name not in values:
            continue
        value = field.kind.to_storage(values[field.name], field.spec)
        if field.spec.encrypted:
            if value is None:
                row[field.name] = row[hash_column(field.name)] = None
                continue
            if cipher is None:
                raise MissingKeys()
            row[field.name] = cipher.encrypt(str(value), _context(table, field))
            row[hash_column(field.name)] = cipher.blind_index(str(value))
        else:
            row[field.name] = value
    return row


def _is_token(raw: Any) -> bool:
    """A ciphertext, or plaintext a batched `crm migrate` has not encrypted yet (migrations/rewrites.py)."""
    return not isinstance(raw, str) or raw.startswith(f"{TOKEN_VERSION}:")


def decode(fields: list[CompiledField], row: Any, table: str, cipher: Cipher | None) -> dict[str, Any]:
    """Python values of every stored field in a database row."""
    mapping = row._mapping if hasattr(row, "_mapping") else row
    values: dict[str, Any] = {}
    for field in fields:
        raw = mapping.get(field.name)
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
