"""A clinic project folder: its blueprint, its `crm.toml` and where its data lives.

`crm.toml` (all keys optional):

    [project]
    blueprint = "blueprint"          # file or directory, relative to the project
    [database]
    url = "sqlite:///crm.sqlite3"    # CRM_DATABASE_URL overrides it
    reports_url = "postgresql://reader@replica/crm"   # reports run here (a read replica); CRM_REPORTS_DATABASE_URL
    [reports]
    cache_entries = 256              # results kept per process (0: no cache); see docs/reports.md
    [security]
    key_file = "~/.config/crm/sunrise.keys.json"   # CRM_KEY_FILE overrides it
"""

from __future__ import annotations

import os
import shutil
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import ProjectError

CONFIG_NAME = "crm.toml"
TEMPLATES_DIR = Path(__file__).resolve().parent.parent / "blueprints"


@dataclass
class Project:
    """Where everything of one clinic CRM is, resolved from its folder and the environment."""

    root: Path
    config: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def load(cls, root: Path | str = ".") -> Project:
        root = Path(root).resolve()
        if root.is_file():  # a blueprint file given directly: its folder is the project
            return cls(root.parent, {"project": {"blueprint": root.name}})
        config: dict[str, Any] = {}
        path = root / CONFIG_NAME
        if path.exists():
            try:
                config = tomllib.loads(path.read_text(encoding="utf-8"))
            except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
                raise ProjectError(f"{path}: invalid TOML: {exc}") from None
        return cls(root, config)

    def _get(self, section: str, key: str, default: Any = None) -> Any:
        value = self.config.get(section, {}).get(key, default)
        return value

    @property
    def blueprint_path(self) -> Path:
        configured = self._get("project", "blueprint")
        if configured:
            return (self.root / configured).resolve()
        for candidate in ("blueprint", "blueprints", "blueprint.yaml", "blueprint.yml", "blueprint.json"):
            if (self.root / candidate).exists():
                return self.root / candidate
        return self.root  # a folder of blueprint files itself

    @property
    def database_url(self) -> str:
        url = os.environ.get("CRM_DATABASE_URL") or self._get("database", "url")
        if not url:
            return f"sqlite:///{self.root / 'crm.sqlite3'}"
        return self._resolved(url)

    @property
    def reports_database_url(self) -> str | None:
        """Where reports run (`[database] reports_url`, a read replica), or None: on the primary."""
        url = os.environ.get("CRM_REPORTS_DATABASE_URL") or self._get("database", "reports_url")
        if not url:
            return None
        return self._resolved(url)

    def _resolved(self, url: str) -> str:
        if url.startswith("sqlite:///") and not url.startswith("sqlite:////"):
            relative = url.removeprefix("sqlite:///")
            if relative and relative != ":memory:":
                return f"sqlite:///{(self.root / relative).resolve()}"
        return url

    @property
    def key_file(self) -> Path:
        configured = os.environ.get("CRM_KEY_FILE") or self._get("security", "key_file")
        if configured:
            path = Path(configured).expanduser()
            return path if path.is_absolute() else (self.root / path).resolve()
        return self.root.parent / f".{self.root.name}.crm-keys.json"

    def setting(self, section: str, key: str, default: Any = None) -> Any:
        return self._get(section, key, default)


DEMO_CHANNELS = """\
# Channels the blueprint's notifications name (see docs/workflows.md, "Channels").
# For the demo, the patient-facing `sms` channel prints instead of sending; put a real
# gateway here (type = "sms", url, sign_name, api_key_env, ...) when going live.
# Secrets never go in this file: options ending in _env name environment variables.
[channels.console]
type = "console"

[channels.sms]
type = "console"
consent = "consent_sms"

[channels.inbox]
type = "inbox"

[delivery]
quiet_hours = "21:00-08:00"
daily_cap = 3
max_attempts = 5
"""


def init_project(directory: Path, template: str) -> Path:
    """Create a project folder from a ready template; refuse to overwrite an existing project."""
    source = TEMPLATES_DIR / template
    if not source.is_dir():
        known = (
            ", ".join(sorted(p.name for p in TEMPLATES_DIR.iterdir() if p.is_dir())) if TEMPLATES_DIR.exists() else ""
        )
        raise ProjectError(f"unknown template `{template}` (available: {known})")
    directory = Path(directory)
    if (directory / CONFIG_NAME).exists() or (directory / "blueprint").exists():
        raise ProjectError(f"{directory} already holds a project; choose an empty folder")
    directory.mkdir(parents=True, exist_ok=True)
    shutil.copytree(source, directory / "blueprint")
    (directory / CONFIG_NAME).write_text(
        "# Settings of this clinic CRM project; see docs/blueprints.md and docs/security.md.\n"
        '[project]\nblueprint = "blueprint"\n\n'
        "[database]\n# CRM_DATABASE_URL overrides this; for PostgreSQL:\n"
        '# url = "postgresql://user@127.0.0.1:5432/clinic"\nurl = "sqlite:///crm.sqlite3"\n\n'
        "[security]\n# The encryption key file must live outside the database and its backups.\n"
        f'key_file = "../.{directory.resolve().name}.crm-keys.json"\n\n' + DEMO_CHANNELS,
        encoding="utf-8",
    )
    return directory
