"""Checks shared by users and tokens: their names, roles and languages.

A role must be one the blueprint declares: an account with any other role would
either see nothing or, worse, match a grant by accident after a blueprint change.
"""

from __future__ import annotations

import re
from collections.abc import Collection

from builder.locales import LOCALES

from .errors import AccountError

NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}")


def check_name(name: str, what: str = "user", max_length: int = 64) -> str:
    if not isinstance(name, str) or len(name) > max_length or not NAME_PATTERN.fullmatch(name):
        raise AccountError(
            f"invalid {what} name {name!r}: use 1-{max_length} letters, digits, `_`, `.`, `@` or `-`, "
            "starting with a letter or digit"
        )
    return name


def check_role(role: str, roles: Collection[str]) -> str:
    known = sorted(roles)
    if role not in known:
        listed = ", ".join(known) if known else "none: the blueprint declares no roles"
        raise AccountError(f"unknown role `{role}` (the blueprint's roles: {listed})")
    return role


def check_locale(locale: str | None) -> str | None:
    if locale is not None and locale not in LOCALES:
        raise AccountError(f"unsupported language `{locale}` (use one of: {', '.join(LOCALES)})")
    return locale
