"""The engine: SQLite set up like a real database, PostgreSQL through psycopg, clear errors."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from builder.errors import ProjectError
from builder.storage.database import make_engine, normalise_url


def test_engine_fixture_connects(engine):
    with engine.connect() as connection:
        assert connection.execute(sa.text("SELECT 1")).scalar_one() == 1


def test_sqlite_connections_enforce_foreign_keys_and_use_wal(sqlite_url):
    engine = make_engine(sqlite_url)
    with engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar_one() == 1
        assert connection.exec_driver_sql("PRAGMA journal_mode").scalar_one() == "wal"
        assert connection.exec_driver_sql("PRAGMA busy_timeout").scalar_one() == 5000
    engine.dispose()


def test_sqlite_ddl_is_transactional(sqlite_url):
    engine = make_engine(sqlite_url)
    with engine.connect() as connection, connection.begin() as transaction:
        connection.exec_driver_sql("CREATE TABLE t (id INTEGER PRIMARY KEY)")
        transaction.rollback()
    assert not sa.inspect(engine).has_table("t")
    engine.dispose()


@pytest.mark.parametrize("url", ["postgresql://u@h/db", "postgres://u@h/db", "postgresql+psycopg2://u@h/db"])
def test_postgresql_urls_use_psycopg3(url):
    assert normalise_url(url).drivername == "postgresql+psycopg"


def test_unreachable_database_names_the_url_without_password():
    with pytest.raises(ProjectError) as error:
        make_engine("postgresql://clinic:s3cret@127.0.0.1:1/clinic")
    message = str(error.value)
    assert "cannot reach the database at postgresql+psycopg://clinic:***@127.0.0.1:1/clinic" in message
    assert "s3cret" not in message


def test_sqlite_in_a_missing_folder_is_a_clear_error(tmp_path):
    with pytest.raises(ProjectError, match="cannot reach the database"):
        make_engine(f"sqlite:///{tmp_path / 'no' / 'such' / 'crm.sqlite3'}")


def test_nonsense_url_is_a_clear_error():
    with pytest.raises(ProjectError, match="not a database URL"):
        make_engine("not a url")
