"""Where encryption keys live: the CRM_ENCRYPTION_KEYS variable or a JSON key file.

Both hold the same JSON document:

    {"format": "crm-keys", "version": 1, "active": "k2",
     "keys": {"k1": "<base64 32 bytes>", "k2": "<base64 32 bytes>"},
     "index_key": "<base64 32 bytes>"}

The key file is written with mode 0600 and must live outside the database and its
backups: whoever has both can read every encrypted value.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from builder.errors import ProjectError

ENV_VARIABLE = "CRM_ENCRYPTION_KEYS"
FILE_FORMAT = "crm-keys"
KEY_BYTES = 32
_KEY_ID = re.compile(r"^[A-Za-z0-9_-]{1,32}$")


class KeyringError(ProjectError):
    """Missing, unreadable or malformed encryption keys."""


def generate_key() -> bytes:
    return AESGCM.generate_key(bit_length=KEY_BYTES * 8)


def next_key_id(existing: dict[str, bytes]) -> str:
    numbers = [int(k[1:]) for k in existing if re.fullmatch(r"k\d+", k)]
    return f"k{max(numbers, default=0) + 1}"


@dataclass
class KeyringFile:
    keys: dict[str, bytes]
    active: str
    index_key: bytes

    def to_json(self) -> str:
        encode = lambda raw: base64.b64encode(raw).decode("ascii")  # noqa: E731
        return (
            json.dumps(
                {
                    "format": FILE_FORMAT,
                    "version": 1,
                    "active": self.active,
                    "keys": {k: encode(v) for k, v in sorted(self.keys.items())},
                    "index_key": encode(self.index_key),
                },
                indent=2,
            )
            + "\n"
        )


def _key(text: object, what: str, origin: str) -> bytes:
    try:
        raw = base64.b64decode(str(text), validate=True)
    except (binascii.Error, ValueError):
        raise KeyringError(f"{origin}: {what} is not base64") from None
    if len(raw) != KEY_BYTES:
        raise KeyringError(f"{origin}: {what} must be {KEY_BYTES} bytes, not {len(raw)}")
    return raw


def parse_keyring(text: str, origin: str) -> KeyringFile:
    """The keyring in `text`; KeyringError naming `origin` (never the keys) if malformed."""
    try:
        data = json.loads(text)
    except ValueError:
        raise KeyringError(f"{origin} is not valid JSON (expected the crm-keys document)") from None
    if not isinstance(data, dict) or data.get("format") != FILE_FORMAT or data.get("version") != 1:
        raise KeyringError(f"{origin} is not a crm-keys version 1 document")
    keys = data.get("keys")
    if not isinstance(keys, dict) or not keys:
        raise KeyringError(f"{origin} holds no keys")
    for key_id in keys:
        if not _KEY_ID.match(key_id):
            raise KeyringError(f"{origin}: key id `{key_id}` may use only letters, digits, - and _")
    parsed = {key_id: _key(value, f"key `{key_id}`", origin) for key_id, value in keys.items()}
    active = data.get("active")
    if not isinstance(active, str) or active not in parsed:
        raise KeyringError(f"{origin}: the active key `{active}` is not among the keys")
    return KeyringFile(parsed, active, _key(data.get("index_key"), "index_key", origin))


def load_keyring_file(path: os.PathLike | str | None) -> KeyringFile:
    """From the environment variable if set, else from `path`."""
    from_env = os.environ.get(ENV_VARIABLE, "").strip()
    if from_env:
        return parse_keyring(from_env, ENV_VARIABLE)
    if path is None:
        raise KeyringError(
            f"no encryption keys: set {ENV_VARIABLE} or configure a key file (create one with `crm keys generate`)"
        )
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise KeyringError(
            f"the key file {file} does not exist (create one with `crm keys generate`, "
            "or restore it from your key backup)"
        ) from None
    except OSError as exc:
        raise KeyringError(f"cannot read the key file {file}: {exc.strerror}") from None
    return parse_keyring(text, f"the key file {file}")


def save_keyring_file(keyring: KeyringFile, path: os.PathLike | str) -> None:
    """Write atomically with mode 0600 (a crash leaves the old file or the new one, never half)."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    temporary = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    try:
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "w", encoding="utf-8") as out:
            out.write(keyring.to_json())
            out.flush()
            os.fsync(out.fileno())
        os.chmod(temporary, 0o600)
        os.replace(temporary, target)
    except OSError as exc:
        temporary.unlink(missing_ok=True)
        raise KeyringError(f"cannot write the key file {target}: {exc.strerror}") from None
