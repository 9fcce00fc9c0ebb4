"""POST JSON to another system, signed so it can tell the message came from us.

The signature is HMAC-SHA256, keyed with a secret from the environment, over
`timestamp + "." + body`; the receiver recomputes it and rejects stale timestamps:

    X-CRM-Timestamp: 1767225600
    X-CRM-Signature: sha256=<hex>
    Idempotency-Key: <the outbox key>

A `webhook:` action carries its own URL and `secret_env`; a `[channels.NAME]` of type
webhook sends notifications (`url` or `url_env`, `secret_env`).
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Callable

import httpx

from .channel import Channel, ChannelConfig, DeliveryError, OutgoingMessage, Sent, register_channel
from .http import json_bytes, post


def signature(secret: str, timestamp: str, body: bytes) -> str:
    """The X-CRM-Signature value for `body` sent at `timestamp`."""
    digest = hmac.new(secret.encode("utf-8"), timestamp.encode("ascii") + b"." + body, hashlib.sha256)
    return "sha256=" + digest.hexdigest()


@register_channel
class WebhookChannel(Channel):
    type = "webhook"
    needs = None
    options = ("url", "url_env", "secret_env", "timeout")

    def __init__(self, config: ChannelConfig, clock: Callable[[], float] = time.time):
        super().__init__(config)
        self.url = config.secret("url_env") if "url_env" in config.options else config.get("url", str)
        self.secret = config.secret("secret_env", required=False)
        self.clock = clock
        self.client = httpx.Client(timeout=float(config.get("timeout", (int, float), 10)))

    def send(self, message: OutgoingMessage) -> Sent:
        url = message.url or self.url
        secret = message.secret or self.secret
        if not url:
            raise DeliveryError("no webhook URL", retryable=False)
        payload = message.payload
        if payload is None:
            payload = {
                "key": message.key,
                "entity": message.entity,
                "record_id": message.record_id,
                "template": message.template,
                "subject": message.subject,
                "body": message.body,
            }
        body = json_bytes(payload)
        timestamp = str(int(self.clock()))
        headers = {"X-CRM-Timestamp": timestamp, "Idempotency-Key": message.key}
        if secret:
            headers["X-CRM-Signature"] = signature(secret, timestamp, body)
        response = post(self.client, url, body, headers)
        ref = response.headers.get("X-Request-Id")
        return Sent(ref[:120] if ref else None)

    def close(self) -> None:
        self.client.close()


__all__ = ["DeliveryError", "WebhookChannel", "signature"]
