"""How the web app protects itself, read once from the environment and `crm.toml`.

    [security]
    secret_key = "..."              # CRM_SECRET_KEY overrides it; else a generated key file
    session_idle_minutes = 30
    session_max_hours = 12          # a sign-in ends after this, however active
    https_only = false              # true behind TLS: cookies get `Secure`, responses HSTS
    login_max_failures = 5          # per account within login_window_minutes
    login_max_failures_per_address = 20
    login_window_minutes = 15
    masked_lookup_limit = 30        # look-ups by a field the actor sees masked, per actor
    masked_lookup_window_minutes = 10
    max_body_bytes = 1000000        # JSON (and any non-form) request bodies; larger ones get 413
    max_form_bytes = 52428800       # form posts; counted while they stream in, like the above

Without a configured secret the first start writes a random one (mode 0600) beside
the encryption key file, so every process of one project signs cookies alike and
sessions survive restarts.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from builder.errors import ProjectError
from builder.project import Project

MIN_SECRET_LENGTH = 32
SECRET_ENV = "CRM_SECRET_KEY"


def local_now() -> dt.datetime:
    """Naive local time, the convention of every timestamp in the database."""
    return dt.datetime.now().replace(microsecond=0)


@dataclass
class SecuritySettings:
    """Options of the security middleware and the sign-in routes (checked on creation)."""

    secret_key: str
    session_idle_minutes: int = 30
    session_max_hours: int = 12
    https_only: bool = False
    login_max_failures: int = 5
    login_max_failures_per_address: int = 20
    login_window_minutes: int = 15
    masked_lookup_limit: int = 30
    masked_lookup_window_minutes: int = 10
    max_body_bytes: int = 1_000_000  # JSON and other non-form bodies; counted while streaming, 413 past it
    max_form_bytes: int = 50 * 1024 * 1024  # form bodies (also buffered for the CSRF check); 413 past it
    clock: Callable[[], dt.datetime] = field(default=local_now, repr=False)

    def __post_init__(self) -> None:
        if not isinstance(self.secret_key, str) or len(self.secret_key) < MIN_SECRET_LENGTH:
            raise ProjectError(
                f"the security secret key must have at least {MIN_SECRET_LENGTH} characters "
                f"(set {SECRET_ENV} or [security] secret_key, or remove it to use a generated one)"
            )
        for name in (
            "session_idle_minutes",
            "session_max_hours",
            "login_max_failures",
            "login_max_failures_per_address",
            "login_window_minutes",
            "max_body_bytes",
            "max_form_bytes",
            "masked_lookup_limit",
            "masked_lookup_window_minutes",
        ):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ProjectError(f"[security] {name} must be a whole number of at least 1, not {value!r}")
        if not isinstance(self.https_only, bool):
            raise ProjectError(f"[security] https_only must be true or false, not {self.https_only!r}")

    def __repr__(self) -> str:  # never print the secret
        return (
            f"SecuritySettings(session_idle_minutes={self.session_idle_minutes}, https_only={self.https_only}, "
            f"login_max_failures={self.login_max_failures}, "
            f"login_max_failures_per_address={self.login_max_failures_per_address}, "
            f"login_window_minutes={self.login_window_minutes}, masked_lookup_limit={self.masked_lookup_limit}, "
            f"masked_lookup_window_minutes={self.masked_lookup_window_minutes})"
        )

    @property
    def session_idle(self) -> dt.timedelta:
        return dt.timedelta(minutes=self.session_idle_minutes)

    @property
    def session_max_age(self) -> dt.timedelta:
        return dt.timedelta(hours=self.session_max_hours)

    @property
    def login_window(self) -> dt.timedelta:
        return dt.timedelta(minutes=self.login_window_minutes)

    @classmethod
    def from_project(
        cls, project: Project, environ: Mapping[str, str] | None = None, **overrides: Any
    ) -> SecuritySettings:
        """Settings from `CRM_SECRET_KEY`, the project's `[security]` table and its secret file."""
        environ = os.environ if environ is None else environ
        section = project.config.get("security", {})
        if not isinstance(section, dict):
            raise ProjectError("crm.toml: [security] must be a table")
        options: dict[str, Any] = {
            key: section[key]
            for key in (
                "session_idle_minutes",
                "session_max_hours",
                "https_only",
                "login_max_failures",
                "login_max_failures_per_address",
                "login_window_minutes",
                "max_body_bytes",
                "max_form_bytes",
                "masked_lookup_limit",
                "masked_lookup_window_minutes",
            )
            if key in section
        }
        secret = environ.get(SECRET_ENV) or section.get("secret_key") or load_or_create_secret(secret_file(project))
        options.update(overrides)
        return cls(secret_key=secret, **options)


def secret_file(project: Project) -> Path:
    """Where the generated secret lives: beside the key file, outside the project folder."""
    configured = project.config.get("security", {}).get("secret_key_file")
    if configured:
        path = Path(configured).expanduser()
        return path if path.is_absolute() else (project.root / path).resolve()
    key_file = project.key_file
    return key_file.with_name(key_file.name.removesuffix(".json") + ".session-secret")


def load_or_create_secret(path: Path) -> str:
    """Read the secret at `path`, or create it there (mode 0600) if it is missing."""
    try:
        if not path.exists():
            _create_secret(path)
        secret = path.read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise ProjectError(f"cannot read or create the session secret file {path}: {exc.strerror or exc}") from None
    if len(secret) < MIN_SECRET_LENGTH:
        raise ProjectError(f"the session secret file {path} is empty or too short; delete it to generate a new one")
    return secret


def _create_secret(path: Path) -> None:
    """Write a whole file under a temporary name, then link it in: readers never see half."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f"{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(secrets.token_urlsafe(48) + "\n")
        with contextlib.suppress(FileExistsError):  # another process was first: its secret wins
            os.link(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)
