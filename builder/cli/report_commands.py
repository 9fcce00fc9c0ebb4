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
        document = {
            "report": name,
            "columns": [{"name": c.name, "kind": c.kind, "format": c.format} for c in result.columns],
            "rows": [{k: _cell(row.get(k)) for k in names} for row in result.rows],
            "totals": None if result.totals is None else {k: _cell(v) for k, v in result.totals.items()},
            "suppressed": result.suppressed,
        }
        return json.dumps(document, ensure_ascii=False, indent=2)
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


@report.command("run")
@click.argument("name")
@click.option("--param", "pairs", multiple=True, metavar="NAME=VALUE", help="A parameter (repeatable).")
@click.option("--format", "form", type=click.Choice(["csv", "json"]), default="csv", show_default=True)
@click.option("--as-role", "role", default=None, help="Run as this role: its row filters and privacy rules.")
@click.option("--user-id", type=int, default=None, help="The account id `user.id` means in row filters.")
@project_option
def report_run(name: str, pairs: tuple[str, ...], form: str, role: str | None, user_id: int | None, project_dir: Path):
    """Run report NAME and print its cells."""
    from engines.reports import ReportError

    from ..records.actor import SYSTEM, Actor
    from ..records.errors import RecordError
    from ..records.reporting import run_report_as
    from ..runtime import open_runtime

    params = _params(pairs)
    runtime = open_runtime(project_dir)
    try:
        if role is not None and role not in runtime.blueprint.roles:
            raise click.BadParameter(f"unknown role `{role}`", param_hint="--as-role")
        actor = SYSTEM if role is None else Actor(id=user_id, name="crm report", role=role)
        try:
            result = run_report_as(runtime.records, runtime.blueprint.reports, actor, name, params)
        except (ReportError, RecordError) as exc:
            raise click.ClickException(str(exc)) from None
    finally:
        runtime.close()
    click.echo(render(result, name, form))
