"""`crm serve` (run the web app) and `crm demo` (a ready-to-try clinic on SQLite)."""

from __future__ import annotations

import contextlib
from pathlib import Path

import click

from .base import main, out, project_option
from .worker_commands import in_process_worker

DEMO_PATIENTS = 300
DEMO_PASSWORD = "demo-{role}-2026"  # well known on purpose: the demo holds made-up patients only


def _exit_on_sigterm(signum: int, _frame: object) -> None:
    raise SystemExit(128 + signum)


def run_server(project_dir: Path, host: str, port: int) -> None:
    """Open the project and serve it with uvicorn until interrupted."""
    import signal

    import uvicorn

    from ..following import BlueprintFollower
    from ..runtime import open_runtime
    from ..web.access_log import uvicorn_log_config
    from ..web.app import create_app
    from ..web.following_app import FollowingApp

    runtime = open_runtime(project_dir)
    follower = BlueprintFollower(runtime, lambda: open_runtime(project_dir))
    # uvicorn re-raises SIGTERM after its graceful shutdown; exit through `finally` so that
    # the runtime is closed (its key heartbeat removed) instead of dying on the spot.
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    worker = None
    try:
        runtime.keep_keys_in_step()
        worker = in_process_worker(runtime, follower)
        app = FollowingApp(follower, create_app)  # follows `crm migrate` without a restart
        out.print(f"Serving {project_dir.resolve()} on http://{host}:{port}/  (Ctrl+C stops)")
        uvicorn.run(
            app,
            host=host,
            port=port,
            log_level="info",
            log_config=uvicorn_log_config(),
            proxy_headers=False,
            server_header=False,
        )
    finally:
        if worker is not None:
            worker[1].set()
            worker[0].join(timeout=15)
        follower.runtime.close()


@main.command()
@project_option
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(1, 65535), help="Port to listen on.")
def serve(project_dir: Path, host: str, port: int) -> None:
    """Run the clinic CRM's web app (pages and API)."""
    run_server(project_dir, host, port)


def _demo_users(runtime) -> list[tuple[str, str, str]]:
    """One account per role (existing ones kept); returns (user, role, password) rows."""
    from ..accounts import AccountError, add_user

    rows = []
    roles = list(runtime.blueprint.roles)
    for role in roles:
        name, password = f"demo_{role}", DEMO_PASSWORD.format(role=role.replace("_", "-"))
        with contextlib.suppress(AccountError):  # already there from an earlier run
            add_user(runtime.engine, name, role, password, runtime.blueprint.default_locale, roles=roles)
        rows.append((name, role, password))
    return rows


def _link_demo_doctor(runtime) -> None:
    """Make the demo doctor a staff member, so the doctor's row filter shows them appointments."""
    import sqlalchemy as sa

    from ..records import SYSTEM
    from ..system_tables import users

    entities = runtime.records.entities
    if "staff" not in entities or "user" not in entities["staff"].fields:
        return
    with runtime.engine.connect() as conn:
        doctor = conn.execute(sa.select(users.c.id).where(users.c.name == "demo_doctor")).first()
    if doctor is None:
        return
    page = runtime.records.list(SYSTEM, "staff", filters={"user": doctor.id}, limit=1)
    if page.total:
        return
    first = runtime.records.list(SYSTEM, "staff", sort="id", limit=1)
    if first.items:
        staff = first.items[0]
        runtime.records.update(SYSTEM, "staff", staff["id"], {"user": doctor.id}, staff["version"])


@main.command()
@click.argument("directory", type=click.Path(path_type=Path), default=Path("demo"))
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=click.IntRange(1, 65535))
@click.option(
    "--patients",
    default=DEMO_PATIENTS,
    show_default=True,
    type=click.IntRange(1, 100_000),
    help="How many demo patients to seed into an empty database.",
)
@click.option("--no-serve", is_flag=True, help="Set everything up, print the accounts, do not start the server.")
@click.pass_context
def demo(ctx: click.Context, directory: Path, host: str, port: int, patients: int, no_serve: bool) -> None:
    """Set up a demo clinic in DIRECTORY (default demo/) on SQLite, then serve it."""
    from ..project import CONFIG_NAME
    from ..records import SYSTEM
    from ..runtime import open_runtime
    from . import project_commands

    if not (directory / CONFIG_NAME).exists():
        ctx.meta["crm.quiet_next_steps"] = True  # demo does those steps itself
        ctx.invoke(project_commands.init, directory=directory, template="clinic")
    ctx.invoke(
        project_commands.migrate, project_dir=directory, dry_run=False, allow_data_loss=False, yes=True, backup_dir=None
    )
    runtime = open_runtime(directory)
    try:
        first_entity = "patient" if "patient" in runtime.records.entities else next(iter(runtime.records.entities))
        empty = runtime.records.list(SYSTEM, first_entity, limit=1, fields=()).total == 0  # a count: nothing to audit
    finally:
        runtime.close()
    if empty:
        ctx.invoke(project_commands.seed, project_dir=directory, patients=patients, seed_value=2026)
    runtime = open_runtime(directory)
    try:
        accounts = _demo_users(runtime)
        _link_demo_doctor(runtime)
    finally:
        runtime.close()
    out.print("\nDemo accounts (made-up data only; change nothing real with these):")
    out.print(f"  {'user':<18} {'role':<12} password")
    for name, role, password in accounts:
        out.print(f"  {name:<18} {role:<12} {password}")
    if not no_serve:
        run_server(directory, host, port)
