"""Password hashing with argon2id, the one place that knows the parameters.

`verify` also tells whether the stored hash should be replaced because the
parameters have been raised since it was made; an unknown account still costs one
full verification, so response times do not reveal which names exist.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from .errors import AccountError

MIN_PASSWORD_LENGTH = 10
MAX_PASSWORD_LENGTH = 1024  # argon2 copes, but nobody needs more and it bounds the work per attempt

DEFAULT_HASHER = PasswordHasher(type=Type.ID)


def check_password(password: str) -> str:
    if not isinstance(password, str) or len(password) < MIN_PASSWORD_LENGTH:
        raise AccountError(f"the password must have at least {MIN_PASSWORD_LENGTH} characters")
    if len(password) > MAX_PASSWORD_LENGTH:
        raise AccountError(f"the password must have at most {MAX_PASSWORD_LENGTH} characters")
    return password


def hash_password(password: str, hasher: PasswordHasher = DEFAULT_HASHER) -> str:
    return hasher.hash(check_password(password))


@dataclass(frozen=True)
class Verdict:
    ok: bool
    new_hash: str | None = None  # set when the stored hash used outdated parameters


def verify_password(stored_hash: str | None, password: str, hasher: PasswordHasher = DEFAULT_HASHER) -> Verdict:
    """Check `password` against `stored_hash`; with no hash, burn the same time and fail."""
    if not isinstance(password, str) or len(password) > MAX_PASSWORD_LENGTH:
        return Verdict(False)
    if not stored_hash:
        _burn_time(hasher, password)
        return Verdict(False)
    try:
        hasher.verify(stored_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return Verdict(False)
    if hasher.check_needs_rehash(stored_hash):
        return Verdict(True, hasher.hash(password))
    return Verdict(True)


_DUMMY_HASHES: dict[tuple[int, int, int], str] = {}


def _burn_time(hasher: PasswordHasher, password: str) -> None:
    key = (hasher.time_cost, hasher.memory_cost, hasher.parallelism)
    if key not in _DUMMY_HASHES:
        _DUMMY_HASHES[key] = hasher.hash("not-a-real-password")
    with contextlib.suppress(VerificationError):
        hasher.verify(_DUMMY_HASHES[key], password)
