"""Project commands: init, validate, schema, migrate, seed, keys, demo."""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import click
from rich.markup import escape

from ..errors import ProjectError
from ..label_coverage import label_warnings
from ..project import Project, init_project
from .base import main, out, project_option
from .problem_report import render_full, render_short


@main.command()
@click.argument("directory", type=click.Path(path_type=Path))
@click.option("--template", "-t", default="clinic", show_default=True, help="Ready template to start from.")
def init(directory: Path, template: str) -> None:
    """Create a new clinic project in DIRECTORY from a template."""
    init_project(directory, template)
    out.print(f"Created project in {directory} from the `{template}` template.")
    if not click.get_current_context().meta.get("crm.quiet_next_steps"):
        out.print(next_steps(directory))


def next_steps(directory: Path) -> str:
    """What a new project needs before anyone can sign in, in the order to do it."""
    return "\n".join(
        [
            "Next steps:",
            f"  cd {directory}",
            "  crm validate                            # check the blueprint (edit blueprint/ first if you like)",
            "  crm migrate                             # create the database (SQLite; PostgreSQL: see crm.toml)",
            "  crm user add admin --role admin         # the first account; it asks for a password",
            "  crm seed --patients 200                 # optional: made-up demo data",
            "  crm serve                               # http://127.0.0.1:8000",
        ]
    )


@main.command()
@click.argument("path", type=click.Path(path_type=Path), required=False)
@click.option("--short", is_flag=True, help="One line a problem (file:line:column: message [code]), for editors.")
@click.option("--strict", is_flag=True, help="Warnings (such as a missing label) fail too, for CI.")
def validate(path: Path | None, short: bool, strict: bool) -> None:
    """Check a blueprint's structure and meaning (PATH: file, folder or project; default: here)."""
    from ..runtime import load_checked

    if short:
        os.environ["CRM_ERROR_FORMAT"] = "short"

    loaded = load_checked(_blueprint_path(path))
    bp = loaded.blueprint
    channels = _check_channels(path, loaded)
    out.print(
        f"[green]OK[/green] {bp.app.name}: {len(bp.entities)} entities, {len(bp.forms)} forms, "
        f"{len(bp.roles)} roles, {len(bp.decision_tables)} decision tables."
        + (f" Channels: {', '.join(channels)}." if channels else "")
    )
    _print_label_warnings(loaded, short)
    if strict and label_warnings(bp):
        raise SystemExit(1)


def _print_label_warnings(loaded, short: bool) -> None:
    """Names people would see as raw codes: warnings, after the OK line."""
    warnings = loaded.locate(label_warnings(loaded.blueprint))
    if not warnings:
        return
    out.print(f"[yellow]{len(warnings)} warning{'s' if len(warnings) > 1 else ''}[/yellow]: labels people would miss")
    for warning in warnings:
        out.print(render_short(warning) if short else render_full(warning, "warning") + "\n", markup=False)


def _check_channels(path: Path | None, loaded) -> list[str]:
    """Given a project (a folder with crm.toml), its channels must load and cover the blueprint's."""
    from ..delivery import check_channels_used, delivery_settings, load_channels
    from ..project import CONFIG_NAME

    root = Path(".") if path is None else path
    if not (root.is_dir() and (root / CONFIG_NAME).exists()):
        return []
    project = Project.load(root)
    source = str(project.root / CONFIG_NAME)
    channels = load_channels(project.config, source=source, root=project.root)
    delivery_settings(project.config, source)
    check_channels_used(loaded.flows, channels, source)
    return sorted(channels)


@main.command("test")
@click.argument("path", type=click.Path(path_type=Path), required=False)
def test_examples(path: Path | None) -> None:
    """Run the `examples:` of every rule and decision table in the blueprint."""
    from ..runtime import load_checked, run_blueprint_examples

    loaded = load_checked(_blueprint_path(path), run_examples=False)
    count = run_blueprint_examples(loaded)
    out.print(f"[green]OK[/green] {count} examples passed.")


def _here() -> Path:
    """The blueprint of the project in the current folder; a clear error where there is none.

    Without this, `crm validate` in a home folder read every YAML file below it.
    """
    here = Path.cwd()
    project = Project.load(here)
    markers = ("crm.toml", "app.yaml", "app.yml", "app.json")
    if any((here / m).exists() for m in markers) or project.blueprint_path != project.root:
        return project.blueprint_path
    raise ProjectError(
        f"no project in {here}: it has no crm.toml, no blueprint/ folder and no app.yaml. "
        "Run this inside a project made by `crm init`, or give a path: `crm validate PATH`."
    )


def _blueprint_path(path: Path | None) -> Path:
    if path is None:
        return _here()
    if path.is_dir() and (path / "crm.toml").exists():
        return Project.load(path).blueprint_path
    return path


@main.command()
def schema() -> None:
    """Print the JSON Schema of the blueprint language (for editors and CI checks)."""
    from ..json_schema import blueprint_json_schema

    click.echo(json.dumps(blueprint_json_schema(), ensure_ascii=False, indent=2))


@main.command()
@project_option
@click.option(
    "--rows",
    "-r",
    "rows",
    multiple=True,
    metavar="N|ENTITY=N",
    help="Rows per entity: N for every entity, ENTITY=N for one (repeatable). "
    "Default: 200 of the main entity, a few staff-like records, twice as many of the rest.",
)
@click.option(
    "--patients",
    "-n",
    default=None,
    type=click.IntRange(0, 1_000_000),
    help="Rows of the main entity (`patient` in the clinic template); the rest scale with it.",
)
@click.option(
    "--seed",
    "--random-seed",
    "seed_value",
    default=2026,
    show_default=True,
    help="Random seed: the same seed on the same data makes the same records.",
)
@click.option(
    "--batch",
    "batch_size",
    default=500,
    show_default=True,
    type=click.IntRange(1, 100_000),
    help="Records per transaction; a failing batch is rolled back alone.",
)
@click.option(
    "--jobs",
    "-j",
    "jobs",
    default=None,
    type=click.IntRange(1, 64),
    help="Processes writing at once, on PostgreSQL (default: the CPUs, at most 4, for 20,000 records or more; "
    "else 1). "
    "With more than one, ids interleave and the run is not repeatable record for record. SQLite: always 1.",
)
def seed(
    project_dir: Path,
    rows: tuple[str, ...],
    patients: int | None,
    seed_value: int,
    batch_size: int = 500,
    jobs: int | None = None,
) -> None:
    """Fill the database with realistic demo data for any blueprint, through the record service.

    Values follow each field's type, limits and meaning, in the app's first locale
    (Faker); links point at existing records; rows a rule refuses are retried, then skipped.
    """
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from ..runtime import open_runtime
    from ..seeding import parse_rows, plan_rows
    from ..seeding import seed as run_seed
    from ..seeding.sharding import default_jobs

    request = parse_rows(rows, main=patients)
    runtime = open_runtime(project_dir)
    try:
        entities = runtime.blueprint.entities
        counts = plan_rows(entities, request)
        workers = default_jobs(runtime.engine.dialect.name, jobs, sum(counts.values()))
        if jobs and jobs > workers:
            out.print(f"[dim]{runtime.engine.dialect.name} has one writer at a time: seeding with one job.[/dim]")
        with Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=out,
            transient=True,
        ) as progress:
            task = progress.add_task("seeding", total=sum(counts.values()))

            def advance(entity: str, count: int) -> None:
                progress.update(task, advance=count, description=f"seeding {entity}")

            report = run_seed(
                runtime.records,
                entities,
                counts,
                locale=runtime.blueprint.default_locale,
                seed_value=seed_value,
                progress=advance,
                batch_size=batch_size,
                jobs=workers,
                project=runtime.project,
            )
    finally:
        runtime.close()
    out.print(f"  {'entity':<20} {'made':>7} {'skipped':>8}")
    for name in counts:
        out.print(f"  {name:<20} {report.made[name]:>7} {report.skipped[name]:>8}")
    for name, count in report.linked_afterwards.items():
        out.print(f"  [dim]{name}: {count} linked afterwards (links in a cycle)[/dim]")
    for name, reason in report.reasons.items():
        if report.skipped[name]:
            out.print(f"  [dim]{name}: last refusal: {escape(reason)}[/dim]")
    out.print(
        f"[green]Seeded[/green] {report.total} records"
        + (
            f", skipped {sum(report.skipped.values())} that the blueprint's rules refused."
            if any(report.skipped.values())
            else "."
        )
    )


def _keyring_for(project, loaded, create: bool):
    """The project's keyring when its blueprint encrypts anything (created on first use if `create`)."""
    import os

    from ..runtime import _has_encrypted
    from ..storage.crypto import Keyring

    if not _has_encrypted(loaded):
        return None
    if os.environ.get("CRM_ENCRYPTION_KEYS") or project.key_file.exists() or not create:
        return Keyring.load(project.key_file)
    keyring = Keyring.generate(project.key_file)
    out.print(
        f"Created encryption key file {project.key_file} (mode 0600). "
        "Back it up apart from the database: without it encrypted fields cannot be read."
    )
    return keyring


@main.command()
@project_option
@click.option("--dry-run", is_flag=True, help="Print the plan and its SQL; change nothing.")
@click.option(
    "--allow-data-loss", is_flag=True, help="Apply steps that drop or narrow data (a backup is written first)."
)
@click.option("--yes", "-y", is_flag=True, help="Apply without asking.")
@click.option(
    "--backup-dir",
    type=click.Path(path_type=Path),
    default=None,
    help="Where backups go (default: backups/ beside the database).",
)
@click.option(
    "--batch-size",
    type=click.IntRange(min=1),
    default=1000,
    show_default=True,
    help="Rows per committed batch when rewriting data (encrypting, re-encrypting, filling, cutting).",
)
def migrate(
    project_dir: Path, dry_run: bool, allow_data_loss: bool, yes: bool, backup_dir: Path | None, batch_size: int
) -> None:
    """Bring the database in line with the blueprint: print the plan, then apply it."""
    import getpass
    import sys

    from ..project import Project
    from ..runtime import load_checked
    from ..storage.database import make_engine
    from ..storage.migrations import apply_migration, migration_sql, plan_migration
    from ..storage.migrations.rewrites import pending_rewrites, run_pending_rewrites
    from ..system_tables import create_system_tables

    project = Project.load(project_dir)
    loaded = load_checked(project.blueprint_path)
    engine = make_engine(project.database_url)
    try:
        unfinished = pending_rewrites(engine)
        if unfinished and dry_run:
            out.print(f"Finishing {len(unfinished)} interrupted data rewrite(s) comes first (not in a dry run).")
        if unfinished and not dry_run:
            # A migration killed mid-rewrite: its schema change stands, finish the batches first.
            out.print(f"Finishing {len(unfinished)} interrupted data rewrite(s) of an earlier migration.")
            with _rewrite_progress() as report:
                run_pending_rewrites(
                    engine, _keyring_for(project, loaded, create=False), batch_size=batch_size, on_progress=report
                )
        plan = plan_migration(engine, loaded.blueprint.entities, loaded.blueprint.app.timezone)
        if plan.is_empty:
            create_system_tables(engine) if not dry_run else None
            out.print("[green]The database already matches the blueprint.[/green]")
            return
        out.print("Migration plan:")
        for line in plan.describe():
            out.print(f"  {line}")
        if dry_run:
            out.print("\n-- SQL (dry run: nothing was changed)")
            click.echo(migration_sql(engine, plan))
            return
        plan.check(allow_data_loss=allow_data_loss)
        if not yes and sys.stdin.isatty() and not click.confirm("Apply this plan?", default=True):
            out.print("Nothing was changed.")
            return
        keyring = _keyring_for(project, loaded, create=True)
        with _rewrite_progress() as report:
            result = apply_migration(
                engine,
                plan,
                allow_data_loss=allow_data_loss,
                backup_dir=backup_dir,
                applied_by=getpass.getuser(),
                keyring=keyring,
                on_progress=report,
                batch_size=batch_size,
            )
        create_system_tables(engine)
        if result.backup:
            out.print(f"Backup written to {result.backup}")
        out.print(f"[green]Applied[/green] {len(result.summary)} step(s).")
    finally:
        engine.dispose()


@contextlib.contextmanager
def _rewrite_progress() -> Iterator[Callable[[str, int, int], None]]:
    """A rich progress bar per data rewrite (each batch committed; a kill resumes on the next run)."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    tasks: dict[str, Any] = {}
    with Progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(), console=out
    ) as progress:

        def report(description: str, done: int, total: int) -> None:
            if description not in tasks:
                tasks[description] = progress.add_task(description, total=total)
            progress.update(tasks[description], completed=done, total=total)

        yield report


@main.group()
def keys() -> None:
    """Encryption keys of fields marked `encrypted: true`."""


def _key_command(project_dir: Path, action) -> None:
    """Run `action(engine, schema, entities, keyring, key_file)` on the project (nothing if nothing is encrypted)."""
    from ..project import Project
    from ..runtime import load_checked
    from ..storage.database import make_engine
    from ..storage.tables import build_schema
    from ..system_tables import create_system_tables

    project = Project.load(project_dir)
    loaded = load_checked(project.blueprint_path, run_examples=False)
    keyring = _keyring_for(project, loaded, create=False)
    if keyring is None:
        out.print("The blueprint encrypts no field; there are no keys to change.")
        return
    engine = make_engine(project.database_url)
    try:
        create_system_tables(engine)
        entities = loaded.blueprint.entities
        action(engine, build_schema(entities), entities, keyring, project.key_file)
    finally:
        engine.dispose()


@keys.command("rotate")
@project_option
@click.option("--prune", is_flag=True, help="Also remove old keys once no value and no running server uses them.")
def keys_rotate(project_dir: Path, prune: bool) -> None:
    """Make a new active key and re-encrypt every encrypted value with it (servers may keep running)."""
    from ..storage.rotation import prune_keys, rotate_keys

    def rotate(engine, schema, entities, keyring, key_file) -> None:
        count = rotate_keys(engine, schema, entities, keyring, key_file)
        out.print(f"[green]Rotated[/green]: new key {keyring.active_key_id}; {count} value(s) re-encrypted.")
        if prune:
            _print_pruned(prune_keys(engine, schema, entities, keyring, key_file))

    _key_command(project_dir, rotate)


@keys.command("prune")
@project_option
def keys_prune(project_dir: Path) -> None:
    """Remove old keys from the key file; refuses while a stored value or a running server still needs one."""
    from ..storage.rotation import prune_keys

    _key_command(
        project_dir,
        lambda engine, schema, entities, keyring, key_file: _print_pruned(
            prune_keys(engine, schema, entities, keyring, key_file)
        ),
    )


def _print_pruned(removed: list[str]) -> None:
    if removed:
        out.print(f"[green]Pruned[/green] key(s) {', '.join(removed)} from the key file.")
    else:
        out.print("No old keys to prune.")
