"""Shared database fixtures: every test that takes `engine` runs on SQLite and on PostgreSQL.

`database_url` gives a fresh, empty database per test: a SQLite file in tmp_path, or
a uniquely named PostgreSQL database on 127.0.0.1:5432 (user postgres) that is
dropped afterwards. Names are unique, so `pytest -n 2` is safe. When the server is
not reachable, the PostgreSQL variant is skipped with the reason.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest
import sqlalchemy as sa

POSTGRES_HOST = os.environ.get("CRM_TEST_POSTGRES_HOST", "127.0.0.1")
POSTGRES_PORT = int(os.environ.get("CRM_TEST_POSTGRES_PORT", "5432"))
POSTGRES_USER = os.environ.get("CRM_TEST_POSTGRES_USER", "postgres")
MAINTENANCE_DATABASES = ("postgres", "test")


def _maintenance_connection():
    """An AUTOCOMMIT psycopg connection to a database that always exists (CREATE/DROP DATABASE)."""
    import psycopg

    errors = []
    for name in MAINTENANCE_DATABASES:
        try:
            return psycopg.connect(
                host=POSTGRES_HOST,
                port=POSTGRES_PORT,
                user=POSTGRES_USER,
                dbname=name,
                autocommit=True,
                connect_timeout=3,
            )
        except psycopg.Error as exc:
            errors.append(str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__)
    pytest.skip(f"PostgreSQL not reachable at {POSTGRES_HOST}:{POSTGRES_PORT}: {'; '.join(errors)}")


def _drop_postgres_database(name: str) -> None:
    with _maintenance_connection() as admin:
        admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
            (name,),
        )
        admin.execute(f'DROP DATABASE IF EXISTS "{name}"')


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A fresh PostgreSQL database (skips when the server is not reachable)."""
    name = f"crm_test_{uuid.uuid4().hex[:16]}"
    with _maintenance_connection() as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"postgresql://{POSTGRES_USER}@{POSTGRES_HOST}:{POSTGRES_PORT}/{name}"
    finally:
        _drop_postgres_database(name)


@pytest.fixture
def sqlite_url(tmp_path) -> str:
    """A SQLite database file in the test's own folder."""
    return f"sqlite:///{tmp_path / 'crm.sqlite3'}"


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request) -> str:
    """A fresh empty database: each test using it runs once per database kind."""
    return request.getfixturevalue(f"{request.param.replace('postgresql', 'postgres')}_url")


@pytest.fixture
def engine(database_url) -> Iterator[sa.Engine]:
    """`make_engine(database_url)`, disposed after the test."""
    from builder.storage.database import make_engine

    created = make_engine(database_url)
    try:
        yield created
    finally:
        created.dispose()


@pytest.fixture(autouse=True)
def _restore_rules_clock():
    """Commands set the app's timezone for the whole process; each test starts from UTC again."""
    from engines.rules import set_now, set_timezone

    yield
    set_timezone("UTC")
    set_now(None)
