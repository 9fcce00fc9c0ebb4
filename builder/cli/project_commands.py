"""Project commands: init, validate, schema, migrate, seed, keys, demo."""

from __future__ import annotations

import json
from pathlib import Path

import click

from ..project import Project, init_project
from .base import main, out, project_option


@main.command()
@click.argument("directory", type=click.Path(path_type=Path))
@click.option("--template", "-t", default="clinic", show_default=True, help="Ready template to start from.")
def init(directory: Path, template: str) -> None:
    """Create a new clinic project in DIRECTORY from a template."""
    init_project(directory, template)
    out.print(f"Created project in {directory} from the `{template}` template.")
    out.print(f"Next: cd {directory} && crm migrate && crm seed")


@main.command()
@click.argument("path", type=click.Path(path_type=Path), required=False)
def validate(path: Path | None) -> None:
    """Check a blueprint's structure and meaning (PATH: file, folder or project; default: here)."""
    from ..runtime import load_checked

    loaded = load_checked(_blueprint_path(path))
    bp = loaded.blueprint
    out.print(f"[green]OK[/green] {bp.app.name}: {len(bp.entities)} entities, {len(bp.forms)} forms, "
              f"{len(bp.roles)} roles, {len(bp.decision_tables)} decision tables.")


@main.command("test")
@click.argument("path", type=click.Path(path_type=Path), required=False)
def test_examples(path: Path | None) -> None:
    """Run the `examples:` of every rule and decision table in the blueprint."""
    from ..runtime import load_checked, run_blueprint_examples

    loaded = load_checked(_blueprint_path(path), run_examples=False)
    count = run_blueprint_examples(loaded)
    out.print(f"[green]OK[/green] {count} examples passed.")


def _blueprint_path(path: Path | None) -> Path:
    if path is None:
        return Project.load(".").blueprint_path
    if path.is_dir() and (path / "crm.toml").exists():
        return Project.load(path).blueprint_path
    return path


@main.command()
def schema() -> None:
    """Print the JSON Schema of the blueprint language (for editors and CI checks)."""
    from ..json_schema import blueprint_json_schema

    click.echo(json.dumps(blueprint_json_schema(), ensure_ascii=False, indent=2))
