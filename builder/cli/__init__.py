"""The `crm` command: one group, one module per family of subcommands."""

from __future__ import annotations

from . import (
    account_commands,  # noqa: F401  (registers user and token)
    import_commands,  # noqa: F401  (registers import)
    project_commands,  # noqa: F401  (registers init, validate, schema, migrate, seed, keys, demo)
    public_commands,  # noqa: F401  (registers form-link)
    report_commands,  # noqa: F401  (registers report run)
    serve_commands,  # noqa: F401  (registers serve and demo)
    worker_commands,  # noqa: F401  (registers worker)
)
from .base import main

__all__ = ["main"]
