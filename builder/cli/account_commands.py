"""Account commands: `crm user add|list|disable|enable|password` and `crm token create|list|revoke`.

They need only the project's database and its blueprint's roles (not the
encryption key), so an operator can manage accounts on any machine that reaches
the database.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click
import sqlalchemy as sa
from rich.table import Table

from ..accounts import (
    MIN_PASSWORD_LENGTH,
    AccountError,
    add_user,
    create_token,
    disable_user,
    enable_user,
    list_tokens,
    list_users,
    revoke_token,
    set_password,
)
from .base import console, main, out, project_option


class AccountGroup(click.Group):
    """Shows an AccountError as one line and exits 1, like the main group does for project errors."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except AccountError as exc:
            console.print(f"[red]error:[/red] {exc}", markup=True, highlight=False)
            sys.exit(1)


@contextmanager
def project_database(project_dir: Path) -> Iterator[tuple[sa.Engine, list[str]]]:
    """The project's engine (system tables created) and its blueprint's role names."""
    from ..project import Project
    from ..runtime import load_checked
    from ..storage.database import make_engine
    from ..system_tables import create_system_tables

    project = Project.load(project_dir)
    roles = list(load_checked(project.blueprint_path).blueprint.roles)
    engine = make_engine(project.database_url)
    try:
        create_system_tables(engine)
        yield engine, roles
    finally:
        engine.dispose()


def read_password(prompt: str = "Password") -> str:
    """From stdin when piped (scripts), else typed twice without echo."""
    stdin = sys.stdin
    if not stdin.isatty():
        return stdin.readline().rstrip("\r\n")
    return click.prompt(
        f"{prompt} (at least {MIN_PASSWORD_LENGTH} characters)", hide_input=True, confirmation_prompt=True
    )


@main.group(cls=AccountGroup)
def user() -> None:
    """Manage the people who sign in."""


@user.command("add")
@click.argument("name")
@click.option("--role", "-r", required=True, help="One of the blueprint's roles.")
@click.option("--locale", "-l", default=None, help="Preferred language (zh-CN or en).")
@project_option
def user_add(name: str, role: str, locale: str | None, project_dir: Path) -> None:
    """Add the user NAME (the password is read from stdin or prompted for)."""
    with project_database(project_dir) as (engine, roles):
        password = read_password()
        added = add_user(engine, name, role, password, locale, roles=roles)
    out.print(f"Added user {added.name} with role {added.role}.", markup=False)


@user.command("list")
@project_option
def user_list(project_dir: Path) -> None:
    """List every user with role, language and status."""
    with project_database(project_dir) as (engine, _roles):
        users = list_users(engine)
    table = Table("name", "role", "locale", "status", "created")
    for found in users:
        table.add_row(
            found.name,
            found.role,
            found.locale or "",
            "disabled" if found.disabled else "active",
            found.created_at.isoformat(sep=" ") if found.created_at else "",
        )
    out.print(table)


@user.command("disable")
@click.argument("name")
@project_option
def user_disable(name: str, project_dir: Path) -> None:
    """Stop NAME signing in; their open sessions end on their next request."""
    with project_database(project_dir) as (engine, _roles):
        disable_user(engine, name)
    out.print(f"Disabled user {name}.", markup=False)


@user.command("enable")
@click.argument("name")
@project_option
def user_enable(name: str, project_dir: Path) -> None:
    """Let a disabled user sign in again."""
    with project_database(project_dir) as (engine, _roles):
        enable_user(engine, name)
    out.print(f"Enabled user {name}.", markup=False)


@user.command("password")
@click.argument("name")
@project_option
def user_password(name: str, project_dir: Path) -> None:
    """Set a new password for NAME (their open sessions end)."""
    with project_database(project_dir) as (engine, _roles):
        set_password(engine, name, read_password("New password"))
    out.print(f"Changed the password of {name}.", markup=False)


@main.group(cls=AccountGroup)
def token() -> None:
    """Manage API tokens for programs."""


@token.command("create")
@click.argument("name")
@click.option("--role", "-r", default=None, help="One of the blueprint's roles (or take the --user's).")
@click.option("--user", "-u", default=None, help="Act as this account: its role, and its id in row filters.")
@project_option
def token_create(name: str, role: str | None, user: str | None, project_dir: Path) -> None:
    """Create the API token NAME and print it once (store it now: it cannot be shown again)."""
    with project_database(project_dir) as (engine, roles):
        secret = create_token(engine, name, role, roles=roles, user=user)
    click.echo(secret)
    acting = f" acting as {user}" if user else f" ({role})"
    console.print(
        f"Token {name}{acting} created. Send it as `Authorization: Bearer <token>`; it will not be shown again.",
        markup=False,
    )


@token.command("list")
@project_option
def token_list(project_dir: Path) -> None:
    """List tokens by name (never their secrets)."""
    with project_database(project_dir) as (engine, _roles):
        tokens = list_tokens(engine)
    table = Table("name", "role", "status", "created")
    for found in tokens:
        table.add_row(
            found.name, found.role, "active" if found.active else f"revoked {found.revoked_at}", str(found.created_at)
        )
    out.print(table)


@token.command("revoke")
@click.argument("name")
@project_option
def token_revoke(name: str, project_dir: Path) -> None:
    """Revoke the token NAME; it stops working at once."""
    with project_database(project_dir) as (engine, _roles):
        revoke_token(engine, name)
    out.print(f"Revoked token {name}.", markup=False)
