"""`crm import ENTITY FILE`: bring a clinic's spreadsheets in through the record service.

Without a mapping, `--suggest-mapping` prints one guessed from the headers to edit;
`--dry-run` reports every row's problems and writes nothing; the real run writes the
good rows, puts the bad ones in a rejects file, and ends with the integrity report.
Ctrl-C stops after rolling back the current batch; `--resume ID` goes on from there.
Exit status: 0 finished, 1 refused (bad file, mapping or rights), 3 stopped (resumable).
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import click
from rich.markup import escape

from .base import main, out, project_option

STOPPED = 3


@main.command("import")
@click.argument("entity")
@click.argument("file", type=click.Path(path_type=Path, dir_okay=False))
@click.option("--mapping", "-m", "mapping_file", type=click.Path(path_type=Path, dir_okay=False), default=None)
@click.option("--suggest-mapping", is_flag=True, help="Print a mapping guessed from the headers; import nothing.")
@click.option("--dry-run", is_flag=True, help="Check every row and report its problems; write nothing.")
@click.option("--as", "as_user", default=None, metavar="USER", help="Import as this account (its role's rights).")
@click.option("--on-duplicate", type=click.Choice(["skip", "update", "stop"]), default=None)
@click.option("--resume", "resume", default=None, metavar="IMPORT_ID", help="Go on with a stopped import.")
@click.option("--rejects", "rejects", type=click.Path(path_type=Path, dir_okay=False), default=None)
@click.option("--sheet", default=None, help="The XLSX sheet to read (default: the first).")
@click.option(
    "--child-file",
    "child_files",
    multiple=True,
    type=click.Path(path_type=Path, dir_okay=False),
    help="A second file of child rows (beside FILE), for the suggested mapping's `children:`.",
)
@click.option("--batch-size", type=click.IntRange(1, 10_000), default=500, show_default=True)
@click.option("--stop-after", type=click.IntRange(1), default=None, hidden=True)  # tests: stop like Ctrl-C
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@project_option
def import_command(
    entity: str,
    file: Path,
    mapping_file: Path | None,
    suggest_mapping: bool,
    dry_run: bool,
    as_user: str | None,
    on_duplicate: str | None,
    resume: str | None,
    rejects: Path | None,
    sheet: str | None,
    child_files: tuple[Path, ...],
    batch_size: int,
    stop_after: int | None,
    as_json: bool,
    project_dir: Path,
) -> None:
    """Import the rows of FILE (CSV or XLSX) as ENTITY records."""
    from ..errors import ProjectError
    from ..importing import ImportFailed, ImportOptions, load_mapping, run_import
    from ..importing.running import records_entities
    from ..runtime import open_runtime

    runtime = open_runtime(project_dir)
    try:
        entities = records_entities(runtime.records)
        if entity not in entities:
            raise ProjectError(f"there is no entity `{entity}` (entities: {', '.join(entities)})")
        try:
            if suggest_mapping:
                click.echo(_suggestion(entity, entities, file, sheet, child_files), nl=False)
                return
            actor = _actor(runtime, as_user)
            mapping = load_mapping(mapping_file) if mapping_file else None
            if mapping is None and not resume:
                mapping = _suggested(entity, entities, file, sheet, child_files)
                out.print("[dim]No --mapping: using the suggested one (see --suggest-mapping).[/dim]")
            if mapping is not None and mapping.entity != entity:
                raise ImportFailed(f"the mapping is for `{mapping.entity}`, not `{entity}`")
            options = ImportOptions(
                dry_run=dry_run,
                on_duplicate=on_duplicate,
                batch_size=batch_size,
                resume=resume,
                stop_after=stop_after,
                rejects_path=rejects,
                sheet=sheet,
            )
            report = _run_with_progress(runtime.records, actor, file, mapping, options, run_import)
        except ImportFailed as exc:
            raise ProjectError(str(exc)) from None
    finally:
        runtime.close()
    if as_json:
        click.echo(json.dumps(report.as_dict(), ensure_ascii=False, indent=2, default=str))
    else:
        print_report(report)
    if report.stopped:
        raise SystemExit(STOPPED)


def _suggested(
    entity: str, entities: dict[str, Any], file: Path, sheet: str | None, child_files: tuple[Path, ...] = ()
) -> Any:
    from itertools import islice

    from ..importing import open_source
    from ..importing.suggesting import SAMPLE_ROWS, other_sheets, suggest_mapping

    with open_source(file, sheet) as source:
        sample = [row.cells for row in islice(source.rows, SAMPLE_ROWS)]
        columns = source.columns
    others = other_sheets(file, sheet, child_files)
    return suggest_mapping(entity, entities, columns, sample, others)


def _suggestion(
    entity: str, entities: dict[str, Any], file: Path, sheet: str | None, child_files: tuple[Path, ...]
) -> str:
    mapping = _suggested(entity, entities, file, sheet, child_files)
    header = (
        f"# A mapping for importing {file.name} as {entity}, guessed from its headers: check it, then\n"
        f"# crm import {entity} {file.name} --mapping THIS_FILE --dry-run\n"
    )
    return header + mapping.to_yaml()


def _actor(runtime: Any, name: str | None) -> Any:
    """The account to import as (its role and language), or the system."""
    import sqlalchemy as sa

    from ..errors import ProjectError
    from ..records import SYSTEM, Actor
    from ..system_tables import users

    locale = runtime.blueprint.default_locale
    if name is None:
        return replace(SYSTEM, locale=locale)
    with runtime.engine.connect() as conn:
        row = conn.execute(sa.select(users).where(users.c.name == name)).first()
    if row is None:
        raise ProjectError(f"there is no user `{name}` (crm user add)")
    if row.disabled:
        raise ProjectError(f"user `{name}` is disabled")
    return Actor(id=row.id, name=row.name, role=row.role, locale=row.locale or locale, address="cli")


def _run_with_progress(records: Any, actor: Any, file: Path, mapping: Any, options: Any, run: Any) -> Any:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    from .base import console

    with Progress(
        TextColumn("importing"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=console,
        transient=True,
    ) as progress:
        task = progress.add_task("import", total=None)

        def advance(done: int, total: int | None) -> None:
            progress.update(task, completed=done, total=max(total or 0, done) or None)

        return run(records, actor, file, mapping, options, advance)


def print_report(report: Any) -> None:
    """The report as lines a person reads (and tests pin)."""
    title = "Dry run (nothing written)" if report.dry_run else f"Import {report.import_id}"
    out.print(f"{title}: {escape(report.file)} -> {report.entity}")
    out.print(f"  rows read      {report.rows_read:>8}")
    if report.already_done:
        out.print(f"  already done   {report.already_done:>8}  (by the earlier pass)")
    out.print(f"  {'would create' if report.dry_run else 'created':<14} {report.created:>8}")
    out.print(f"  {'would update' if report.dry_run else 'updated':<14} {report.updated:>8}")
    out.print(f"  skipped        {report.skipped:>8}  (duplicates)")
    out.print(f"  rejected       {report.rejected:>8}")
    for duplicate in report.duplicates:
        what = f"row {duplicate.earlier_row} of the file" if duplicate.earlier_row else f"record {duplicate.record_id}"
        out.print(
            f"  duplicate: row {duplicate.row} has the same {', '.join(duplicate.fields)} as {what}: "
            f"{duplicate.outcome}"
        )
    for problem in report.problems:
        column = f" {problem.column}" if problem.column else ""
        out.print(f"  row {problem.row}{escape(column)}: {escape(problem.message)}", markup=True)
    for child in report.children:
        orphans = ""
        if child["orphans"]:
            rows = ", ".join(map(str, child["orphan_rows"][:10])) + (", …" if child["orphans"] > 10 else "")
            orphans = f"; {child['orphans']} without a row in the main file: rows {rows}"
        out.print(
            f"  child rows of {child['field']} from {escape(child['source'])}: {child['rows_read']} read, "
            f"{child['attached']} {'would be ' if report.dry_run else ''}written with their row{escape(orphans)}"
        )
    if report.rejects_path:
        out.print(f"Rejected rows, with their errors: {escape(str(report.rejects_path))}")
    for path in report.child_rejects:
        out.print(f"Their child rows: {escape(str(path))}")
    if report.stopped:
        out.print(
            f"[yellow]Stopped[/yellow] ({escape(report.stopped)}). Go on with: "
            f"crm import {report.entity} {escape(report.file)} --resume {report.import_id}"
        )
    if report.integrity is not None:
        _print_integrity(report.integrity)


def _print_integrity(integrity: Any) -> None:
    verdict = "[green]matches[/green]" if integrity.matches else "[red]DIFFERS[/red]"
    again = f" ({integrity.superseded} written again by a later row)" if integrity.superseded else ""
    out.print(f"Integrity: {integrity.rows_compared} records written{again}, file against database {verdict}")
    out.print(f"  {'column':<16} {'field':<16} {'file':>7} {'database':>9}  {'file checksum':<16}  database checksum")
    for check in integrity.columns:
        mark = "" if check.matches else "  [red]differs[/red] rows " + ", ".join(map(str, check.differing_rows[:10]))
        out.print(
            f"  {escape(_pad(check.column, 16))} {check.name:<16} {check.source_values:>7} {check.database_values:>9}  "
            f"{check.source_checksum:<16}  {check.database_checksum}{mark}"
        )


def _pad(text: str, width: int) -> str:
    """`text` padded to `width` terminal cells (a Chinese character takes two)."""
    from rich.cells import cell_len

    return text + " " * max(0, width - cell_len(text))
