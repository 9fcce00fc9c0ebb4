"""The `crm` group and the error boundary every subcommand runs inside.

A blueprint or project mistake prints `file:line:column: message` lines and exits 1;
it never shows a traceback.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.markup import escape

from ..errors import BlueprintError, ProjectError
from .problem_report import render_full, render_short

console = Console(stderr=True, highlight=False, soft_wrap=True)  # one problem a line, for editors
out = Console(highlight=False, soft_wrap=True)


class CrmGroup(click.Group):
    """Runs each subcommand inside the error boundary."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except BlueprintError as exc:
            short = os.environ.get("CRM_ERROR_FORMAT", "").lower() == "short"
            for problem in exc.problems:
                if short:
                    console.print(render_short(problem), markup=False)
                else:
                    console.print(render_full(problem) + "\n", markup=False)
            count = len(exc.problems)
            console.print(f"[red]{count} problem{'s' if count != 1 else ''} found.[/red]")
            sys.exit(1)
        except ProjectError as exc:
            console.print(f"[red]error:[/red] {escape(str(exc))}", markup=True)
            sys.exit(1)
        except (click.exceptions.Exit, click.exceptions.Abort, click.ClickException, SystemExit, KeyboardInterrupt):
            raise
        except Exception as exc:  # noqa: BLE001 - the boundary: our bug, but never a traceback for a user
            if os.environ.get("CRM_DEBUG"):
                raise
            console.print(
                f"[red]internal error:[/red] {type(exc).__name__}: {escape(str(exc))}\n"
                "Nothing more was done. Run again with CRM_DEBUG=1 to see the details, "
                "and please report it.",
                markup=True,
            )
            sys.exit(2)


@click.group(cls=CrmGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="clinic-crm-builder", prog_name="crm")
def main() -> None:
    """Build and run a clinic CRM from blueprint files."""


def project_option(fn: Callable) -> Callable:
    """`--project DIR` (default: the current folder) on a subcommand."""
    return click.option(
        "--project",
        "-p",
        "project_dir",
        type=click.Path(path_type=Path),
        default=".",
        show_default=True,
        help="The project folder (holding crm.toml).",
    )(fn)
