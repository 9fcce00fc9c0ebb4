"""The opt-in "last 4 digits" search of an encrypted phone (`last4_search: true`).

Chinese front desks look people up by "尾号", the last 4 digits of a phone. A plain
phone answers that from an expression index (search_indexes.py), but an encrypted
phone's column is ciphertext. A field that opts in gets a column `<field>__last4`
holding a keyed hash (HMAC with the keyring's index key, like the `__hash` blind
index) of the last 4 characters of its E.164 value, with an index. The input is
prefixed (`last4:`) so the hash never equals the exact-match hash of a value that is
itself 4 digits. Rotating the encryption keys never changes the index key, so the
column survives `crm keys rotate` as the `__hash` one does.

It is a trade-off, hence opt-in (docs/security.md): only 10,000 values, so anyone who
can read the database can group the rows by them.
"""

from __future__ import annotations

from collections.abc import Callable

from engines.forms import FieldSpec

LAST4_SUFFIX = "__last4"


def last4_column(field_name: str) -> str:
    return field_name + LAST4_SUFFIX


def has_last4(spec: FieldSpec) -> bool:
    """Whether the field keeps a keyed hash of its last 4 digits (an encrypted phone that opted in)."""
    return spec.type == "phone" and spec.encrypted and spec.last4_search


def last4_hash(blind_index: Callable[[str], str], stored: str) -> str:
    """The keyed hash of the last 4 characters of a stored (E.164) phone, or of 4 typed digits."""
    return blind_index(f"last4:{stored[-4:]}")
