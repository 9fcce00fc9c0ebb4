"""What every channel shares: the message it is given, what it answers, and the registry of types.

A channel type is a small class registered by name, like the field types: `type = "smtp"` in
a `[channels.NAME]` table of crm.toml picks the class, the rest of the table are its options.
A channel only sends; who gets the message, whether they may, and when, is decided before
(`deliver.py`), so a channel never sees a record and never logs a body.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from ..errors import ProjectError


class DeliveryError(Exception):
    """A send that did not go through; `retryable` says whether trying again later may help.

    The reason is short and free of patient data ("gateway 500", "timeout"): it is stored
    on the outbox row and shown to admins.
    """

    def __init__(self, reason: str, *, retryable: bool):
        super().__init__(reason)
        self.reason = reason[:200]
        self.retryable = retryable


@dataclass(frozen=True)
class Sent:
    """The gateway accepted the message; `provider_ref` is its id for it, when it gives one."""

    provider_ref: str | None = None


@dataclass(frozen=True)
class Address:
    """Where a message goes, resolved from the current record at delivery time."""

    phone: str | None = None
    email: str | None = None
    user_ids: tuple[int, ...] = ()
    role: str | None = None
    name: str | None = None


@dataclass(frozen=True)
class Attachment:
    """A file sent with a message (a scheduled report's workbook), built at delivery time."""

    filename: str
    content_type: str  # maintype/subtype
    data: bytes


@dataclass(frozen=True)
class OutgoingMessage:
    """One rendered message for one recipient; `key` is the idempotency key (the outbox row's)."""

    key: str
    address: Address
    subject: str | None
    body: str
    template: str | None = None
    entity: str | None = None
    record_id: int | None = None
    locale: str = "en"
    payload: Mapping[str, Any] | None = None  # a webhook's JSON body (None: the message's fields)
    url: str | None = None  # a webhook action's own URL and signing key, from the blueprint
    secret: str | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)
    attachments: tuple[Attachment, ...] = ()  # only channels that carry files (SMTP) send them


class ChannelConfig:
    """Reads one `[channels.NAME]` table: options with defaults and secrets from the environment."""

    def __init__(
        self, name: str, options: Mapping[str, Any], environ: Mapping[str, str], source: str, root: Path | None = None
    ):
        self.name, self.options, self.environ, self.source, self.root = name, options, environ, source, root

    def where(self, key: str) -> str:
        return f"{self.source}: [channels.{self.name}] {key}"

    def get(self, key: str, kind: type | tuple[type, ...], default: Any = None, *, required: bool = False) -> Any:
        if key not in self.options:
            if required:
                raise ProjectError(f"{self.where(key)}: required")
            return default
        value = self.options[key]
        if not isinstance(value, kind) or (isinstance(value, bool) and kind in (int, float)):
            raise ProjectError(f"{self.where(key)}: expected {_kind_name(kind)}, got {value!r}")
        return value

    def secret(self, key: str, *, required: bool = True) -> str | None:
        """The value of the environment variable the option `key` names (never the secret itself)."""
        variable = self.get(key, str, required=required)
        if variable is None:
            return None
        value = self.environ.get(variable)
        if not value:
            raise ProjectError(f"{self.where(key)}: the environment variable {variable} is not set")
        return value


def _kind_name(kind: type | tuple[type, ...]) -> str:
    kinds = kind if isinstance(kind, tuple) else (kind,)
    return " or ".join(
        {str: "a text", int: "a number", float: "a number", bool: "true or false"}.get(k, k.__name__) for k in kinds
    )


class Channel:
    """A way to send messages. Subclasses set `type`, `needs`, and implement `send`.

    `needs` is the address the channel cannot do without: "phone", "email", "user" (a staff
    account: the inbox) or None (a group webhook, the console). `reaches_patients` says the
    channel may carry messages to patients, so consent, quiet hours and the cap apply.
    """

    type: ClassVar[str] = ""
    needs: ClassVar[str | None] = None
    options: ClassVar[tuple[str, ...]] = ()

    def __init__(self, config: ChannelConfig):
        self.name = config.name
        unknown = sorted(set(config.options) - {"type", "consent", "locale", *self.options})
        if unknown:
            raise ProjectError(f"{config.where(unknown[0])}: unknown option for a {self.type} channel")
        self.consent: str | None = config.get("consent", str)

    def send(self, message: OutgoingMessage) -> Sent:
        raise NotImplementedError

    def close(self) -> None:
        """Release connections; the worker calls it when it stops."""


CHANNEL_TYPES: dict[str, type[Channel]] = {}


def register_channel(cls: type[Channel]) -> type[Channel]:
    """Make a channel type available to crm.toml under its `type` name."""
    CHANNEL_TYPES[cls.type] = cls
    return cls
