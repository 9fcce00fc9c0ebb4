"""`crm user ...` and `crm token ...` against a real project."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from builder.accounts import actor_for_token, authenticate
from builder.cli import main
from builder.project import Project, init_project
from builder.storage.database import make_engine


@pytest.fixture
def project(tmp_path):
    return init_project(tmp_path / "p", "clinic")


@pytest.fixture
def crm(project):
    runner = CliRunner()

    def run(*args: str, input: str | None = None):
        return runner.invoke(main, [*args, "--project", str(project)], input=input)

    return run


@pytest.fixture
def engine(project):
    created = make_engine(Project.load(project).database_url)
    yield created
    created.dispose()


def test_user_add_list_disable_enable(crm, engine):
    added = crm("user", "add", "alice", "--role", "admin", input="a long password\n")
    assert added.exit_code == 0, added.output
    assert "Added user alice" in added.output
    assert authenticate(engine, "alice", "a long password").role == "admin"
    listed = crm("user", "list")
    assert listed.exit_code == 0 and "alice" in listed.output and "active" in listed.output
    assert crm("user", "disable", "alice").exit_code == 0
    assert "disabled" in crm("user", "list").output
    assert authenticate(engine, "alice", "a long password") is None
    assert crm("user", "enable", "alice").exit_code == 0
    assert authenticate(engine, "alice", "a long password") is not None


def test_user_add_refuses_bad_input_without_traceback(crm):
    unknown_role = crm("user", "add", "bob", "--role", "janitor", input="a long password\n")
    assert unknown_role.exit_code == 1
    assert "unknown role `janitor`" in unknown_role.output and "Traceback" not in unknown_role.output
    short = crm("user", "add", "bob", "--role", "nurse", input="short\n")
    assert short.exit_code == 1 and "at least 10 characters" in short.output
    assert crm("user", "add", "bob", "--role", "nurse", input="a long password\n").exit_code == 0
    again = crm("user", "add", "bob", "--role", "nurse", input="a long password\n")
    assert again.exit_code == 1 and "already exists" in again.output
    assert crm("user", "disable", "nobody").exit_code == 1


def test_user_password(crm, engine):
    crm("user", "add", "carol", "--role", "doctor", input="a long password\n")
    assert crm("user", "password", "carol", input="another long one\n").exit_code == 0
    assert authenticate(engine, "carol", "another long one") is not None


def test_token_create_and_revoke(crm, engine):
    created = crm("token", "create", "lab", "--role", "nurse")
    assert created.exit_code == 0, created.output
    secret = created.stdout.strip().splitlines()[0]
    assert secret.startswith("crm_")
    assert actor_for_token(engine, secret).role == "nurse"
    with engine.connect() as conn:
        stored = conn.execute(sa.text("SELECT token_hash FROM crm_token")).scalar_one()
    assert secret not in stored
    listed = crm("token", "list")
    assert "lab" in listed.output and secret not in listed.output
    assert crm("token", "revoke", "lab").exit_code == 0
    assert actor_for_token(engine, secret) is None
    assert crm("token", "revoke", "lab").exit_code == 1
    assert crm("token", "create", "lab", "--role", "superuser").exit_code == 1


def test_missing_project_is_a_clear_error(tmp_path):
    result = CliRunner().invoke(main, ["user", "list", "--project", str(tmp_path / "nowhere")])
    assert result.exit_code != 0 and "Traceback" not in result.output


def test_token_acting_as_a_user(crm, engine):
    assert crm("user", "add", "dr_li", "--role", "doctor", input="a long password\n").exit_code == 0
    created = crm("token", "create", "li-phone", "--user", "dr_li")
    assert created.exit_code == 0 and "acting as dr_li" in created.output
    secret = created.output.splitlines()[0].strip()
    actor = actor_for_token(engine, secret)
    assert actor.role == "doctor" and actor.id is not None
    refused = crm("token", "create", "other", "--user", "dr_li", "--role", "nurse")
    assert refused.exit_code == 1 and "Traceback" not in refused.output
    assert crm("token", "create", "none").exit_code == 1
