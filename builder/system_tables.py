"""The builder's own tables (prefixed `crm_`): accounts, API tokens, sign-in attempts, masked-field
lookups, the audit trail, the workflows' history, timers, schedules and outbox, the tables' change
counters, public forms and imports, and users' saved list filters.

They live beside the blueprint's tables but are never touched by blueprint
migrations; `create_system_tables` creates whatever is missing.
"""

from __future__ import annotations

import sqlalchemy as sa

from engines.forms import id_column_type

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
    sa.Column("id", id_column_type(), primary_key=True, autoincrement=True),  # one entry per request adds up
    sa.Column("at", sa.DateTime, nullable=False, index=True),
    sa.Column("actor", sa.String(64), nullable=True, index=True),
    sa.Column("role", sa.String(64), nullable=True),
    sa.Column("address", sa.String(64), nullable=True),
    sa.Column("action", sa.String(32), nullable=False, index=True),
    sa.Column("entity", sa.String(64), nullable=True, index=True),
    sa.Column("record_id", sa.BigInteger, nullable=True),  # ids are 64-bit
    sa.Column("changes", sa.Text, nullable=True),  # JSON: {field: [old, new]} or [names] for PHI
    sa.Column("detail", sa.Text, nullable=True),
    sa.Index("ix_crm_audit_record", "entity", "record_id", "at"),  # a record's history, on its page
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


BIG_ID = sa.BigInteger().with_variant(sa.Integer, "sqlite")  # 64-bit, but SQLite's rowid for autoincrement

workflow_history = sa.Table(
    # One row per transition made: who moved which record from where to where, and why.
    "crm_workflow_history",
    SYSTEM_METADATA,
    sa.Column("id", BIG_ID, primary_key=True, autoincrement=True),
    sa.Column("entity", sa.String(64), nullable=False),
    sa.Column("record_id", sa.BigInteger, nullable=False),
    sa.Column("workflow", sa.String(80), nullable=False),
    sa.Column("transition", sa.String(80), nullable=False),
    sa.Column("from_state", sa.String(64), nullable=False),
    sa.Column("to_state", sa.String(64), nullable=False),
    sa.Column("actor", sa.String(64), nullable=True),  # the account name; NULL: the system (automations, timers)
    sa.Column("actor_id", sa.BigInteger, nullable=True),
    sa.Column("at", sa.DateTime, nullable=False),  # naive UTC
    sa.Column("comment", sa.Text, nullable=True),
    sa.Index("ix_crm_workflow_history_record", "entity", "record_id"),
)

timers = sa.Table(
    # Durable timers, one per (automation, record): planned again on every write of the
    # record, claimed by `fire_due_timers`; a row is never fired twice.
    "crm_timer",
    SYSTEM_METADATA,
    sa.Column("id", BIG_ID, primary_key=True, autoincrement=True),
    sa.Column("automation", sa.String(80), nullable=False),
    sa.Column("entity", sa.String(64), nullable=False),
    sa.Column("record_id", sa.BigInteger, nullable=False),
    sa.Column("due_at", sa.DateTime, nullable=True),  # naive UTC
    sa.Column("status", sa.String(16), nullable=False),  # planned | fired | missed | skipped | cancelled | failed
    sa.Column("reason", sa.String(200), nullable=True),
    sa.Column("fired_at", sa.DateTime, nullable=True),  # naive UTC
    sa.Column("updated_at", sa.DateTime, nullable=False),  # naive UTC
    sa.UniqueConstraint("automation", "entity", "record_id", name="uq_crm_timer_key"),
    sa.Index("ix_crm_timer_due", "status", "due_at"),
)

schedules = sa.Table(
    # The next run of each scheduled (cron) automation: claimed and moved on in one
    # transaction, so a run happens once whatever the number of workers.
    "crm_schedule",
    SYSTEM_METADATA,
    sa.Column("automation", sa.String(80), primary_key=True),
    sa.Column("next_run", sa.DateTime, nullable=False),  # naive UTC
    sa.Column("last_run", sa.DateTime, nullable=True),  # naive UTC
    sa.Column("last_result", sa.String(200), nullable=True),  # "12 records", "missed: ...", failures
)

outbox = sa.Table(
    # Messages and webhooks to deliver, written in the transaction of the write that caused
    # them. No body and no address: delivery resolves `recipient` and renders `template`
    # from the current record, so no PHI sits here in clear.
    "crm_outbox",
    SYSTEM_METADATA,
    sa.Column("id", BIG_ID, primary_key=True, autoincrement=True),
    sa.Column("key", sa.String(120), nullable=False, unique=True),
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
    sa.Index("ix_crm_outbox_record", "entity", "record_id"),  # a record's messages, on its page
)

# The claim's own order over the rows still to send, and only those: with one index on (status,
# next_attempt_at), three due statuses meant reading and sorting the whole backlog for each claim
# of 50 (28 ms at 50,000 pending on PostgreSQL); this one is read in order and stops at the batch.
# The statuses are written into the SQL, not bound: a prepared statement's generic plan can use a
# partial index only when its own WHERE visibly implies the index's.
OUTBOX_QUEUE_STATUSES = ("pending", "failed", "sending")
OUTBOX_QUEUED = outbox.c.status.in_([sa.literal_column(f"'{status}'") for status in OUTBOX_QUEUE_STATUSES])
outbox_queue_index = sa.Index(
    "ix_crm_outbox_queue",
    outbox.c.next_attempt_at,
    outbox.c.id,
    postgresql_where=OUTBOX_QUEUED,
    sqlite_where=OUTBOX_QUEUED,
)


inbox = sa.Table(
    # The in-app staff inbox: one row per message to a user, or to every user of a role.
    "crm_inbox",
    SYSTEM_METADATA,
    sa.Column("id", BIG_ID, primary_key=True, autoincrement=True),
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


table_versions = sa.Table(
    # A change counter per blueprint entity, bumped in the transaction of every write to it
    # (builder/storage/table_versions.py): cached report results are keyed by the counters of
    # the tables they read, so every process on the database sees the same invalidation.
    "crm_table_version",
    SYSTEM_METADATA,
    sa.Column("entity", sa.String(64), primary_key=True),
    sa.Column("version", sa.BigInteger, nullable=False, server_default="0"),
)

public_tokens = sa.Table(
    # Links to a public form bound to one record (docs/public-forms.md). Only a hash of the
    # token is kept: the database alone cannot make a working link. `used_at` set: a
    # single-use link spent; `revoked_at` set: staff withdrew it.
    "crm_public_token",
    SYSTEM_METADATA,
    sa.Column("id", BIG_ID, primary_key=True, autoincrement=True),
    sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
    sa.Column("form", sa.String(80), nullable=False),
    sa.Column("entity", sa.String(64), nullable=False),  # the bound record's entity (the patient's)
    sa.Column("record_id", sa.BigInteger, nullable=False),
    sa.Column("created_at", sa.DateTime, nullable=False),  # naive UTC, like every time here
    sa.Column("created_by", sa.String(64), nullable=False),
    sa.Column("expires_at", sa.DateTime, nullable=False),
    sa.Column("reusable", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("uses", sa.Integer, nullable=False, server_default="0"),
    sa.Column("used_at", sa.DateTime, nullable=True),
    sa.Column("revoked_at", sa.DateTime, nullable=True),
    sa.Index("ix_crm_public_token_record", "entity", "record_id"),
)

public_submissions = sa.Table(
    # Clinic-wide submissions waiting for staff review: the values as JSON, encrypted with
    # the project's keyring when it has one, never shown to anyone but the reviewers.
    "crm_public_submission",
    SYSTEM_METADATA,
    sa.Column("id", BIG_ID, primary_key=True, autoincrement=True),
    sa.Column("form", sa.String(80), nullable=False),
    sa.Column("entity", sa.String(64), nullable=False),
    sa.Column("payload", sa.Text, nullable=False),
    sa.Column("status", sa.String(16), nullable=False, index=True),  # pending | accepted | rejected
    sa.Column("created_at", sa.DateTime, nullable=False),
    sa.Column("address_hash", sa.String(64), nullable=True),
    sa.Column("decided_at", sa.DateTime, nullable=True),
    sa.Column("decided_by", sa.String(64), nullable=True),
    sa.Column("record_id", sa.BigInteger, nullable=True),  # the record an accepted one became
)

public_attempts = sa.Table(
    # Submissions to public forms, counted per hashed address and per token so the limits
    # hold across processes; rows older than the window are pruned. No values.
    "crm_public_attempt",
    SYSTEM_METADATA,
    sa.Column("id", BIG_ID, primary_key=True, autoincrement=True),
    sa.Column("at", sa.DateTime, nullable=False, index=True),
    sa.Column("key", sa.String(80), nullable=False, index=True),
)

import_runs = sa.Table(
    # One row per import (`crm import`, the /import page): what was imported from which file by whom,
    # and where it stands (running, stopped, done), so a stopped import can be resumed by its id.
    "crm_import_run",
    SYSTEM_METADATA,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("entity", sa.String(64), nullable=False),
    sa.Column("file_name", sa.String(255), nullable=False),
    sa.Column("file_sha256", sa.String(64), nullable=False),  # a resume must read the same file
    sa.Column("actor", sa.String(64), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),  # running | stopped | done
    sa.Column("mapping", sa.Text, nullable=False),  # the mapping used (YAML), so a resume uses it again
    sa.Column("summary", sa.Text, nullable=True),  # JSON: counts of the latest pass and the integrity report
    sa.Column("created_at", sa.DateTime, nullable=False),  # naive UTC
    sa.Column("updated_at", sa.DateTime, nullable=False),
)

import_rows = sa.Table(
    # Each source row an import has finished with, keyed by its row number in the file and written in
    # the same transaction as its record: a resumed import skips exactly these. No cell values (PHI).
    "crm_import_row",
    SYSTEM_METADATA,
    sa.Column("import_id", sa.String(32), primary_key=True),
    sa.Column("source_row", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("outcome", sa.String(16), nullable=False),  # created | updated | skipped
    sa.Column("record_id", sa.BigInteger, nullable=True),
)

saved_filters = sa.Table(  # a user's own named list filters (builder/records/saved_filters.py)
    "crm_saved_filter",
    SYSTEM_METADATA,
    sa.Column("id", id_column_type(), primary_key=True, autoincrement=True),
    sa.Column("user_id", sa.Integer, nullable=False),
    sa.Column("entity", sa.String(64), nullable=False),
    sa.Column("name", sa.String(80), nullable=False),
    sa.Column("query", sa.String(2000), nullable=False),  # the list page's query string
    sa.Column("created_at", sa.DateTime, nullable=False),
    sa.Index("ix_crm_saved_filter_owner", "user_id", "entity"),
)


LATER_INDEXES = [*(i for i in audit.indexes if i.name == "ix_crm_audit_record"), outbox_queue_index]


def create_system_tables(engine: sa.Engine) -> None:
    """Create the `crm_*` tables that do not exist yet, and widen old 32-bit id columns (safe on every start)."""
    from builder.storage.database import write_transaction
    from builder.storage.locks import hold_schema_setup

    # The write lock up front on SQLite (BEGIN IMMEDIATE): a deferred transaction that read the
    # catalogue could not upgrade once another starting server had written ("database is locked").
    with write_transaction(engine, checks=False) as conn:
        hold_schema_setup(conn)  # two servers starting together would both create a missing table
        SYSTEM_METADATA.create_all(conn, checkfirst=True)
        for index in LATER_INDEXES:  # added after their table existed: create_all leaves old tables as they are
            index.create(conn, checkfirst=True)
    widen_system_ids(engine)


def widen_system_ids(engine: sa.Engine) -> None:
    """PostgreSQL tables made before ids were 64-bit keep INTEGER columns; make them BIGINT like the model.

    SQLite's INTEGER is already 64-bit. Only columns the model declares BIGINT and the
    database holds as INTEGER are altered, so a current database costs one catalogue read.
    """
    if engine.dialect.name != "postgresql":
        return
    with engine.begin() as conn:
        inspector = sa.inspect(conn)
        for table in SYSTEM_METADATA.sorted_tables:
            live = {c["name"]: c["type"] for c in inspector.get_columns(table.name)}
            for column in table.columns:
                held = live.get(column.name)
                narrow = isinstance(held, sa.Integer) and not isinstance(held, sa.BigInteger)
                if isinstance(column.type, sa.BigInteger) and narrow:
                    conn.execute(sa.text(f'ALTER TABLE "{table.name}" ALTER COLUMN "{column.name}" TYPE BIGINT'))
                    sequence = conn.execute(
                        sa.text("SELECT pg_get_serial_sequence(:table, :column)"),
                        {"table": f'"{table.name}"', "column": column.name},
                    ).scalar()
                    if sequence:
                        conn.execute(sa.text(f"ALTER SEQUENCE {sequence} AS BIGINT"))
