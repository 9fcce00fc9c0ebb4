"""The builder's own tables (prefixed `crm_`): accounts, API tokens, sign-in attempts, masked-field
lookups, the audit trail.

They live beside the blueprint's tables but are never touched by blueprint
migrations; `create_system_tables` creates whatever is missing.
"""

from __future__ import annotations

import sqlalchemy as sa

SYSTEM_METADATA = sa.MetaData()

users = sa.Table(
    "crm_user",
    SYSTEM_METADATA,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("name", sa.String(64), nullable=False, unique=True),
    sa.Column("role", sa.String(64), nullable=False),
    sa.Column("password_hash", sa.String(255), nullable=True),
    sa.Column("locale", sa.String(16), nullable=True),
    sa.Column("disabled", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("created_at", sa.DateTime, nullable=False),
)

tokens = sa.Table(
    "crm_token",
    SYSTEM_METADATA,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("name", sa.String(64), nullable=False, unique=True),
    sa.Column("role", sa.String(64), nullable=False),
    sa.Column("token_hash", sa.String(128), nullable=False, unique=True),
    sa.Column("user_id", sa.Integer, nullable=True),  # a token may act as one account (its id in row filters)
    sa.Column("created_at", sa.DateTime, nullable=False),
    sa.Column("revoked_at", sa.DateTime, nullable=True),
)

audit = sa.Table(
    "crm_audit",
    SYSTEM_METADATA,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("at", sa.DateTime, nullable=False, index=True),
    sa.Column("actor", sa.String(64), nullable=True, index=True),
    sa.Column("role", sa.String(64), nullable=True),
    sa.Column("address", sa.String(64), nullable=True),
    sa.Column("action", sa.String(32), nullable=False, index=True),
    sa.Column("entity", sa.String(64), nullable=True, index=True),
    sa.Column("record_id", sa.BigInteger, nullable=True),  # ids are 64-bit
    sa.Column("changes", sa.Text, nullable=True),  # JSON: {field: [old, new]} or [names] for PHI
    sa.Column("detail", sa.Text, nullable=True),
)


login_attempts = sa.Table(
    # Failed sign-ins, counted per account and per address so throttling holds across
    # every process sharing the database; rows older than the window are pruned.
    "crm_login_attempt",
    SYSTEM_METADATA,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("at", sa.DateTime, nullable=False, index=True),
    sa.Column("account", sa.String(64), nullable=False, index=True),
    sa.Column("address", sa.String(64), nullable=False, index=True),
)


masked_lookups = sa.Table(
    # Lookups by a field the actor sees masked, counted per actor so the limit holds across
    # every process sharing the database; rows older than the window are pruned. No values.
    "crm_masked_lookup",
    SYSTEM_METADATA,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("at", sa.DateTime, nullable=False, index=True),
    sa.Column("actor", sa.String(64), nullable=False, index=True),
    sa.Column("entity", sa.String(64), nullable=False),
    sa.Column("field", sa.String(64), nullable=False),
)


sessions = sa.Table(
    "crm_session",
    SYSTEM_METADATA,
    sa.Column("sid_hash", sa.String(64), primary_key=True),  # SHA-256 of the session id in the signed cookie
    sa.Column("user_id", sa.Integer, nullable=False, index=True),
    sa.Column("created_at", sa.DateTime, nullable=False),
    sa.Column("ended_at", sa.DateTime, nullable=True),
)


key_state = sa.Table(
    # The encryption key that every process encrypts with (one row, id 1). `crm keys rotate`
    # changes it; processes read it in each write transaction, so none keeps an old one.
    "crm_key_state",
    SYSTEM_METADATA,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("active_key", sa.String(32), nullable=False),
    sa.Column("changed_at", sa.DateTime, nullable=False),
)


key_users = sa.Table(
    # A heartbeat per running process: the key it encrypts with, so `crm keys prune`
    # refuses while a live process could still write under an old key.
    "crm_key_user",
    SYSTEM_METADATA,
    sa.Column("process", sa.String(128), primary_key=True),
    sa.Column("active_key", sa.String(32), nullable=False),
    sa.Column("key_ids", sa.String(1000), nullable=False),
    sa.Column("seen_at", sa.DateTime, nullable=False, index=True),
)


outbox = sa.Table(
    # Messages and webhooks to deliver, written in the transaction of the change that caused
    # them. No body and no address: delivery renders from the current record (see docs/workflows.md).
    "crm_outbox",
    SYSTEM_METADATA,
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True, autoincrement=True),
    sa.Column("key", sa.String(120), nullable=False, unique=True),  # the idempotency key
    sa.Column("automation", sa.String(80), nullable=False),
    sa.Column("channel", sa.String(40), nullable=False),
    sa.Column("template", sa.String(80), nullable=True),
    sa.Column("entity", sa.String(64), nullable=False),
    sa.Column("record_id", sa.BigInteger, nullable=False),
    sa.Column("recipient", sa.String(200), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
    sa.Column("next_attempt_at", sa.DateTime, nullable=False),
    sa.Column("created_at", sa.DateTime, nullable=False),
    sa.Column("sent_at", sa.DateTime, nullable=True),
    sa.Column("reason", sa.String(200), nullable=True),
    sa.Column("provider_ref", sa.String(120), nullable=True),
    sa.Index("ix_crm_outbox_due", "status", "next_attempt_at"),
)


inbox = sa.Table(
    # The in-app staff inbox: one row per message to a user, or to every user of a role.
    "crm_inbox",
    SYSTEM_METADATA,
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True, autoincrement=True),
    sa.Column("key", sa.String(120), nullable=False),  # the outbox row's key: delivered once per user
    sa.Column("user_id", sa.Integer, nullable=False, index=True),
    sa.Column("role", sa.String(64), nullable=True, index=True),
    sa.Column("title", sa.String(200), nullable=False),
    sa.Column("body", sa.Text, nullable=False),
    sa.Column("entity", sa.String(64), nullable=True),
    sa.Column("record_id", sa.BigInteger, nullable=True),
    sa.Column("created_at", sa.DateTime, nullable=False),
    sa.Column("read_at", sa.DateTime, nullable=True),
    sa.UniqueConstraint("key", "user_id", name="uq_crm_inbox_key_user"),
)


def create_system_tables(engine: sa.Engine) -> None:
    """Create the `crm_*` tables that do not exist yet (safe to call on every start)."""
    SYSTEM_METADATA.create_all(engine, checkfirst=True)
