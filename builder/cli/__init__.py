"""The `crm` command: one group, one module per family of subcommands."""

from __future__ import annotations

from .base import main
from . import project_commands  # noqa: F401  (registers init, validate, schema, migrate, seed, keys, demo)
from . import account_commands  # noqa: F401  (registers user and token)
from . import serve_commands  # noqa: F401  (registers serve and demo)

__all__ = ["main"]
