"""Sign-in accounts and API tokens of a clinic CRM.

People sign in with a name and a password (argon2id); programs use API tokens
(random, shown once, stored only as a SHA-256 hash). Both carry exactly one role of
the blueprint, so the record service's grants apply to them like to anyone.
"""

from .errors import AccountError
from .tokens import Token, actor_for_token, create_token, list_tokens, revoke_token
from .users import (
    MIN_PASSWORD_LENGTH,
    User,
    add_user,
    authenticate,
    disable_user,
    enable_user,
    get_user,
    list_users,
    set_password,
)

__all__ = [
    "MIN_PASSWORD_LENGTH",
    "AccountError",
    "Token",
    "User",
    "actor_for_token",
    "add_user",
    "authenticate",
    "create_token",
    "disable_user",
    "enable_user",
    "get_user",
    "list_tokens",
    "list_users",
    "revoke_token",
    "set_password",
]
