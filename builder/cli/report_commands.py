"""Report commands: `crm report run NAME` prints a report's cells as CSV or JSON.

Run as a role (`--as-role`, and `--user-id` for row filters that name `user.id`),
the report sees exactly what that role may see: its row filters on every joined
entity, and small cells hidden when it may not read the records. Without
`--as-role` it runs as the system (every cell).
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

import click

from .base import main, project_option


@main.group()
def report() -> None:
    """Run the blueprint's reports."""


def _params(pairs: tuple[str, ...]) -> dict[str, str]:
    params = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise click.BadParameter(f"`{pair}` is not NAME=VALUE", param_hint="--param")
        params[key.strip()] = value.strip()
    return params


def _cell(value: Any) -> Any:
    from engines.reports import Suppressed

    return str(value) if isinstance(value, Suppressed) else value


def render(result: Any, name: str, form: str) -> str:
    """The result as CSV (a header, the rows, then a `total` row) or as JSON."""
    names = [column.name for column in result.columns]
    if form == "json":
        return json.dumps(_document(result, name, names), ensure_ascii=False, indent=2)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(names)
    for row in result.rows:
        writer.writerow(["" if row.get(k) is None else _cell(row.get(k)) for k in names])
    if result.totals is not None:
        first = [c.name for c in result.columns if c.kind != "measure"]
        writer.writerow(
            ["total" if i == 0 and first else "" for i in range(len(first))]
            + ["" if result.totals.get(k) is None else _cell(result.totals[k]) for k in names[len(first) :]]
        )
    return buffer.getvalue().rstrip("\n")


def _document(result: Any, name: str, names: list[str]) -> dict[str, Any]:
    """The JSON document: cells, totals, and what the result carries besides (period over period, forecast)."""
    from engines.reports.runner import SUBTOTAL

    def row_of(row: dict[str, Any]) -> dict[str, Any]:
        cells = {k: _cell(row.get(k)) for k in names}
        if row.get(SUBTOTAL) is not None:  # a subtotal row says which dimension it rolls up
            cells[SUBTOTAL] = row[SUBTOTAL]
        return cells

    def dates(pair: Any) -> list[str] | None:
        return None if pair is None else [day.isoformat() for day in pair]

    def measures(values: dict[str, Any] | None) -> dict[str, Any] | None:
        return None if values is None else {k: _cell(v) for k, v in values.items()}

    forecast = result.forecast
    return {
        "report": name,
        "columns": [{"name": c.name, "kind": c.kind, "format": c.format} for c in result.columns],
        "rows": [row_of(row) for row in result.rows],
        "totals": measures(result.totals),
        "suppressed": result.suppressed,
        "notes": list(result.notes),
        "period": dates(result.period),
        "previous_period": dates(result.previous_period),
        "previous": measures(result.previous),
        "changes": measures(result.changes),
        "forecast": None if forecast is None else {k: _cell(v) for k, v in asdict(forecast).items()},
    }


def _csv_lines(stream: Any) -> Any:
    """The streamed result as CSV lines (header, rows as they are read, then the `total` row)."""
    names = [column.name for column in stream.columns]
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")

    def line(values: list[Any]) -> str:
        buffer.seek(0)
        buffer.truncate()
        writer.writerow(values)
        return buffer.getvalue()

    yield line(names)
    for row in stream.rows:
        yield line(["" if row.get(k) is None else _cell(row.get(k)) for k in names])
    if stream.totals is not None:
        first = [c.name for c in stream.columns if c.kind != "measure"]
        yield line(
            ["total" if i == 0 and first else "" for i in range(len(first))]
            + ["" if stream.totals.get(k) is None else _cell(stream.totals[k]) for k in names[len(first) :]]
        )


@report.command("run")
@click.argument("name")
@click.option("--param", "pairs", multiple=True, metavar="NAME=VALUE", help="A parameter (repeatable).")
@click.option("--format", "form", type=click.Choice(["csv", "json", "xlsx"]), default="csv", show_default=True)
@click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path), default=None, help="Write to FILE.")
@click.option("--as-role", "role", default=None, help="Run as this role: its row filters and privacy rules.")
@click.option("--user-id", type=int, default=None, help="The account id `user.id` means in row filters.")
@click.option("--locale", default=None, help="Language of XLSX labels (default: the blueprint's).")
@project_option
def report_run(
    name: str,
    pairs: tuple[str, ...],
    form: str,
    output: Path | None,
    role: str | None,
    user_id: int | None,
    locale: str | None,
    project_dir: Path,
):
    """Run report NAME and print its cells (CSV and XLSX rows are streamed, never held whole)."""
    from engines.reports import ReportError

    from ..exports import report_sheet, write_xlsx
    from ..records.actor import SYSTEM, Actor
    from ..records.errors import RecordError
    from ..records.reporting import run_report_as, stream_report_as
    from ..runtime import open_runtime

    params = _params(pairs)
    if form == "xlsx" and output is None:
        raise click.BadParameter("XLSX is a binary file: give --output FILE", param_hint="--output")
    runtime = open_runtime(project_dir)
    try:
        if role is not None and role not in runtime.blueprint.roles:
            raise click.BadParameter(f"unknown role `{role}`", param_hint="--as-role")
        language = locale or runtime.blueprint.default_locale
        if role is None:
            actor = replace(SYSTEM, locale=language)
        else:
            actor = Actor(id=user_id, name="crm report", role=role, locale=language)
        reports = runtime.blueprint.reports
        try:
            if form == "json":
                result = run_report_as(runtime.records, reports, actor, name, params, via="cli")
                _emit(render(result, name, form) + "\n", output)
                return
            audit = {"format": form}
            stream = stream_report_as(runtime.records, reports, actor, name, params, via="cli", audit=audit)
            if form == "csv":
                _emit_lines(_csv_lines(stream), output)
            else:
                spec = reports[name]
                sheet = report_sheet(runtime.records, name, spec, stream.columns, stream.rows, stream.totals, language)
                assert output is not None
                with output.open("wb") as handle:
                    count = write_xlsx(sheet, handle)
                click.echo(f"{count} rows written to {output}", err=True)
        except (ReportError, RecordError) as exc:
            raise click.ClickException(str(exc)) from None
    finally:
        runtime.close()


def _emit(text: str, output: Path | None) -> None:
    if output is None:
        click.echo(text, nl=False)
    else:
        output.write_text(text, encoding="utf-8")


def _emit_lines(lines: Any, output: Path | None) -> None:
    if output is None:
        for line in lines:
            click.echo(line, nl=False)
        return
    with output.open("w", encoding="utf-8", newline="") as handle:
        for line in lines:
            handle.write(line)
