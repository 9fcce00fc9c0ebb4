"""Field encryption: AES-256-GCM ciphertexts and a keyed hash for exact-match search.

A token is `v1:<key id>:<base64url(nonce + ciphertext)>`, so a value names the key
that encrypted it and keys can be rotated row by row. The associated data binds a
token to its column (`context`, "table.field") and to its header: a ciphertext copied
into another column, or edited, does not decrypt.

The blind index is HMAC-SHA256 with its own key, which rotation never changes, so an
exact-match search (and `unique`) keeps working across rotations. Values are
normalised first (Unicode NFKC, surrounding spaces stripped, case folded): the index
matches "11010519491231002x" to "11010519491231002X" and full-width digits to ASCII.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import unicodedata

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from builder.errors import ProjectError

from .keys import KeyringError, KeyringFile, generate_key, load_keyring_file, next_key_id, save_keyring_file

TOKEN_VERSION = "v1"
NONCE_BYTES = 12

__all__ = ["DecryptionError", "Keyring", "KeyringError", "field_context", "key_id_of"]


def __getattr__(name: str) -> object:
    """`rotate_keys` and `prune_keys` live in rotation.py (they need the database); offered here too."""
    if name in ("rotate_keys", "prune_keys"):
        from . import rotation

        return getattr(rotation, name)
    raise AttributeError(name)


class DecryptionError(ProjectError):
    """A stored value that cannot be decrypted: unknown key, edited, or from another column."""


def field_context(table: str, field: str) -> str:
    """The associated data of a field's ciphertexts (the same as the records codec uses)."""
    return f"{table}.{field}"


def _b64encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


def _b64decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def key_id_of(token: str) -> str:
    """The id of the key that encrypted `token` (DecryptionError if it is no token of ours)."""
    parts = token.split(":", 2)
    if len(parts) != 3 or parts[0] != TOKEN_VERSION:
        raise DecryptionError("a stored value is not an encrypted token (expected v1:<key id>:<data>)")
    return parts[1]


def normalise_for_index(value: str) -> str:
    return unicodedata.normalize("NFKC", value).strip().casefold()


class Keyring:
    """Encryption keys by id (one active), plus the blind-index key. Never stored in the database."""

    def __init__(self, keys: dict[str, bytes], active: str, index_key: bytes):
        if active not in keys:
            raise KeyringError(f"the active key `{active}` is not among the keys")
        self._file = KeyringFile(dict(keys), active, index_key)

    # -- loading and saving -------------------------------------------------------------
    @classmethod
    def generate(cls, path: os.PathLike | str | None = None) -> Keyring:
        """A new keyring (one key); written to `path` (mode 0600) if given, never over an existing file."""
        keyring = cls({"k1": generate_key()}, "k1", generate_key())
        if path is not None:
            if os.path.exists(path):
                raise KeyringError(
                    f"{path} already exists; refusing to replace encryption keys "
                    "(losing them makes every encrypted value unreadable)"
                )
            keyring.save(path)
        return keyring

    @classmethod
    def load(cls, path: os.PathLike | str | None = None) -> Keyring:
        """From CRM_ENCRYPTION_KEYS if set, else from the key file at `path` (KeyringError if neither)."""
        loaded = load_keyring_file(path)
        return cls(loaded.keys, loaded.active, loaded.index_key)

    def save(self, path: os.PathLike | str) -> None:
        save_keyring_file(self._file, path)

    def to_json(self) -> str:
        """The keyring as the JSON that CRM_ENCRYPTION_KEYS (or the key file) holds."""
        return self._file.to_json()

    # -- keys ---------------------------------------------------------------------------
    @property
    def active_key_id(self) -> str:
        return self._file.active

    @property
    def key_ids(self) -> list[str]:
        return sorted(self._file.keys)

    def using(self, key_id: str) -> Keyring:
        """A copy of this keyring that encrypts with `key_id` (KeyringError if it lacks that key)."""
        return Keyring(self._file.keys, key_id, self._file.index_key)

    def add_key(self) -> str:
        """Add a fresh key and make it the active one; returns its id."""
        key_id = next_key_id(self._file.keys)
        self._file.keys[key_id] = generate_key()
        self._file.active = key_id
        return key_id

    def remove_keys(self, key_ids: list[str]) -> None:
        if self._file.active in key_ids:
            raise KeyringError("the active key cannot be removed")
        for key_id in key_ids:
            self._file.keys.pop(key_id, None)

    # -- values -------------------------------------------------------------------------
    @staticmethod
    def _aad(key_id: str, context: str) -> bytes:
        return f"{TOKEN_VERSION}|{key_id}|{context}".encode()

    def encrypt(self, plaintext: str, context: str) -> str:
        """A token for `plaintext`, bound to `context` (use field_context(table, field))."""
        key_id = self._file.active
        nonce = os.urandom(NONCE_BYTES)
        sealed = AESGCM(self._file.keys[key_id]).encrypt(nonce, plaintext.encode("utf-8"), self._aad(key_id, context))
        return f"{TOKEN_VERSION}:{key_id}:{_b64encode(nonce + sealed)}"

    def decrypt(self, token: str, context: str) -> str:
        """The plaintext of `token`; DecryptionError if the key is unknown or the token was altered."""
        key_id = key_id_of(token)
        key = self._file.keys.get(key_id)
        if key is None:
            raise DecryptionError(
                f"a value of {context} was encrypted with key `{key_id}`, which is not in the "
                f"keyring (known: {', '.join(self.key_ids)}); restore the old key file"
            )
        try:
            data = _b64decode(token.split(":", 2)[2])
            plain = AESGCM(key).decrypt(data[:NONCE_BYTES], data[NONCE_BYTES:], self._aad(key_id, context))
        except (InvalidTag, ValueError, binascii.Error):
            raise DecryptionError(
                f"a value of {context} does not decrypt: it was altered, or copied from another field"
            ) from None
        return plain.decode("utf-8")

    def blind_index(self, value: str) -> str:
        """Keyed hash (hex) of the normalised value, for exact-match search and uniqueness."""
        digest = hmac.new(self._file.index_key, normalise_for_index(value).encode("utf-8"), hashlib.sha256)
        return digest.hexdigest()

    def __repr__(self) -> str:  # never show key material
        return f"Keyring(active={self.active_key_id!r}, keys={self.key_ids!r})"
