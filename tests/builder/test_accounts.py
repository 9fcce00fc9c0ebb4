"""Accounts and API tokens: argon2id hashes, roles from the blueprint, revocation."""

from __future__ import annotations

from typing import Literal

import pytest
import sqlalchemy as sa
from argon2 import PasswordHasher, extract_parameters

from builder.accounts import (
    AccountError,
    actor_for_token,
    add_user,
    authenticate,
    create_token,
    disable_user,
    enable_user,
    list_tokens,
    list_users,
    revoke_token,
    set_password,
)
from builder.system_tables import create_system_tables, tokens, users

ROLES = ("admin", "doctor", "nurse", "front_desk", "marketing", "analyst")
PASSWORD = "correct horse battery"
FAST = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)  # "old parameters" for the rehash test


@pytest.fixture
def db(engine):
    create_system_tables(engine)
    return engine


def stored_hash(engine, name: str) -> str:
    with engine.connect() as conn:
        return conn.execute(sa.select(users.c.password_hash).where(users.c.name == name)).scalar_one()


def test_password_is_stored_as_an_argon2id_hash(db):
    add_user(db, "alice", "admin", PASSWORD, roles=ROLES)
    stored = stored_hash(db, "alice")
    assert stored.startswith("$argon2id$") and PASSWORD not in stored
    assert authenticate(db, "alice", PASSWORD).name == "alice"
    assert authenticate(db, "alice", PASSWORD + "x") is None
    assert authenticate(db, "nobody", PASSWORD) is None


def test_outdated_hash_is_replaced_on_sign_in(db):
    add_user(db, "bob", "nurse", PASSWORD, roles=ROLES, hasher=FAST)
    old = stored_hash(db, "bob")
    assert "m=8,t=1,p=1" in old
    assert authenticate(db, "bob", PASSWORD) is not None  # default (stronger) parameters
    new = stored_hash(db, "bob")
    assert new != old and "m=8," not in new
    assert authenticate(db, "bob", PASSWORD) is not None
    assert stored_hash(db, "bob") == new  # no needless rehash


class CountingHasher(PasswordHasher):
    """A real argon2 hasher (cheap parameters) that notes the parameters of every hash it verifies."""

    def __init__(self) -> None:
        super().__init__(time_cost=2, memory_cost=1024, parallelism=1)
        self.verified: list[tuple[int, int, int]] = []

    def verify(self, hash: str | bytes, password: str | bytes) -> Literal[True]:
        used = extract_parameters(hash if isinstance(hash, str) else hash.decode())
        self.verified.append((used.time_cost, used.memory_cost, used.parallelism))
        return super().verify(hash, password)


def test_an_unknown_name_does_the_work_of_a_wrong_password(db):
    """docs/security.md: "A sign-in with an unknown name takes as long as one with a wrong password".

    Asserted as the same work (one argon2 check with the account hashes' parameters), not as timings."""
    hasher = CountingHasher()
    add_user(db, "alice", "admin", PASSWORD, roles=ROLES, hasher=hasher)
    add_user(db, "gone", "nurse", PASSWORD, roles=ROLES, hasher=hasher)
    disable_user(db, "gone")
    same = (hasher.time_cost, hasher.memory_cost, hasher.parallelism)
    for name, password in (
        ("alice", "wrong password!!"),
        ("nobody", PASSWORD),
        ("no such; name", PASSWORD),
        ("gone", PASSWORD),
    ):
        hasher.verified.clear()
        assert authenticate(db, name, password, hasher) is None
        assert hasher.verified == [same], name


def test_roles_must_be_the_blueprints(db):
    with pytest.raises(AccountError, match="unknown role `superuser`"):
        add_user(db, "eve", "superuser", PASSWORD, roles=ROLES)
    with pytest.raises(AccountError, match="unknown role"):
        create_token(db, "x", "system", roles=ROLES)
    assert list_users(db) == []


def test_password_length_and_names_are_checked(db):
    with pytest.raises(AccountError, match="at least 10 characters"):
        add_user(db, "carol", "doctor", "short", roles=ROLES)
    for bad in ("", " carol", "a" * 65, "carol\n", "<script>"):
        with pytest.raises(AccountError, match="invalid user name"):
            add_user(db, bad, "doctor", PASSWORD, roles=ROLES)
    with pytest.raises(AccountError, match="unsupported language"):
        add_user(db, "carol", "doctor", PASSWORD, "fr", roles=ROLES)


def test_duplicate_user_is_refused(db):
    add_user(db, "dave", "doctor", PASSWORD, roles=ROLES)
    with pytest.raises(AccountError, match="already exists"):
        add_user(db, "dave", "nurse", PASSWORD, roles=ROLES)


def test_disable_enable_and_set_password(db):
    add_user(db, "erin", "front_desk", PASSWORD, "zh-CN", roles=ROLES)
    assert disable_user(db, "erin").disabled
    assert authenticate(db, "erin", PASSWORD) is None
    assert not enable_user(db, "erin").disabled
    before = authenticate(db, "erin", PASSWORD).credential_stamp
    set_password(db, "erin", "another fine password")
    assert authenticate(db, "erin", PASSWORD) is None
    assert authenticate(db, "erin", "another fine password").credential_stamp != before
    with pytest.raises(AccountError, match="there is no user"):
        disable_user(db, "nobody")
    [erin] = list_users(db)
    assert (erin.name, erin.role, erin.locale) == ("erin", "front_desk", "zh-CN")


def test_tokens_are_random_hashed_and_revocable(db):
    secret = create_token(db, "lab", "nurse", roles=ROLES)
    other = create_token(db, "lab2", "nurse", roles=ROLES)
    assert secret != other and secret.startswith("crm_") and len(secret) > 40
    with db.connect() as conn:
        hashes = conn.execute(sa.select(tokens.c.token_hash)).scalars().all()
    assert secret not in hashes and all(len(h) == 64 for h in hashes)
    actor = actor_for_token(db, secret, address="10.1.1.1")
    assert (actor.name, actor.role, actor.address) == ("token:lab", "nurse", "10.1.1.1")
    assert actor_for_token(db, secret + "x") is None and actor_for_token(db, "") is None
    with pytest.raises(AccountError, match="already exists"):
        create_token(db, "lab", "nurse", roles=ROLES)
    revoke_token(db, "lab")
    assert actor_for_token(db, secret) is None
    assert actor_for_token(db, other) is not None
    with pytest.raises(AccountError, match="already revoked"):
        revoke_token(db, "lab")
    renewed = create_token(db, "lab", "doctor", roles=ROLES)  # a revoked name may be reused
    assert actor_for_token(db, renewed).role == "doctor" and actor_for_token(db, secret) is None
    assert [t.name for t in list_tokens(db)] == ["lab", "lab2"]


def test_a_token_can_act_as_a_user_and_stops_with_them(db):
    doctor = add_user(db, "dr_li", "doctor", PASSWORD, roles=ROLES)
    secret = create_token(db, "li-phone", None, roles=ROLES, user="dr_li")
    actor = actor_for_token(db, secret)
    assert (actor.id, actor.role, actor.name) == (doctor.id, "doctor", "token:li-phone")
    with pytest.raises(AccountError, match="has the role `doctor`, not `nurse`"):
        create_token(db, "x", "nurse", roles=ROLES, user="dr_li")
    with pytest.raises(AccountError, match="no active user"):
        create_token(db, "y", None, roles=ROLES, user="nobody")
    with pytest.raises(AccountError, match="needs a role"):
        create_token(db, "z", None, roles=ROLES)
    disable_user(db, "dr_li")
    assert actor_for_token(db, secret) is None
    enable_user(db, "dr_li")
    assert actor_for_token(db, secret).id == doctor.id
