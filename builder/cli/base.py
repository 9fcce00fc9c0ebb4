"""The `crm` group and the error boundary every subcommand runs inside.

A blueprint or project mistake prints `file:line:column: message` lines and exits 1;
it never shows a traceback.
"""

from __future__ import annotations

import functools
import sys
from pathlib import Path
from typing import Any, Callable

import click
from rich.console import Console

from ..errors import BlueprintError, ProjectError

console = Console(stderr=True, highlight=False)
out = Console(highlight=False, soft_wrap=True)


class CrmGroup(click.Group):
    """Runs each subcommand inside the error boundary."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except BlueprintError as exc:
            for problem in exc.problems:
                console.print(f"[red]{problem.position}:[/red] {problem.message}"
                              + (f" [dim]({problem.hint})[/dim]" if problem.hint else "")
                              + f" [dim]\\[{problem.code}][/dim]", markup=True)
            count = len(exc.problems)
            console.print(f"[red]{count} problem{'s' if count != 1 else ''} found.[/red]")
            sys.exit(1)
        except ProjectError as exc:
            console.print(f"[red]error:[/red] {exc}")
            sys.exit(1)


@click.group(cls=CrmGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="clinic-crm-builder", prog_name="crm")
def main() -> None:
    """Build and run a clinic CRM from blueprint files."""


def project_option(fn: Callable) -> Callable:
    """`--project DIR` (default: the current folder) on a subcommand."""
    return click.option("--project", "-p", "project_dir", type=click.Path(path_type=Path), default=".",
                        show_default=True, help="The project folder (holding crm.toml).")(fn)
