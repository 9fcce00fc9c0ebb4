"""WeCom (企业微信) group robot: a message to a staff group's chat, for staff only.

The robot's webhook URL holds its key, so it comes from the environment:

    [channels.wecom]
    type = "wecom"
    webhook_env = "CRM_WECOM_WEBHOOK"
    msgtype = "markdown"                 # or "text"

The robot has no client reference, so a repeat after a crash shows twice in the group.
"""

from __future__ import annotations

import httpx

from ..errors import ProjectError
from .channel import Channel, ChannelConfig, DeliveryError, OutgoingMessage, Sent, register_channel
from .http import answer, json_bytes, post

RATE_LIMITED = 45009


@register_channel
class WecomChannel(Channel):
    type = "wecom"
    needs = None
    options = ("webhook_env", "msgtype", "timeout")

    def __init__(self, config: ChannelConfig):
        super().__init__(config)
        self.url = config.secret("webhook_env")
        self.msgtype: str = config.get("msgtype", str, "markdown")
        if self.msgtype not in ("markdown", "text"):
            raise ProjectError(f'{config.where("msgtype")}: expected "markdown" or "text"')
        self.client = httpx.Client(timeout=float(config.get("timeout", (int, float), 10)))

    def send(self, message: OutgoingMessage) -> Sent:
        if self.msgtype == "markdown":
            content = f"**{message.subject}**\n{message.body}" if message.subject else message.body
        else:
            content = f"{message.subject}\n{message.body}" if message.subject else message.body
        body = {"msgtype": self.msgtype, self.msgtype: {"content": content}}
        assert self.url is not None
        data = answer(post(self.client, self.url, json_bytes(body), {}))
        code = data.get("errcode", 0)
        if code != 0:
            raise DeliveryError(f"robot refused ({code})", retryable=code == RATE_LIMITED)
        return Sent(None)

    def close(self) -> None:
        self.client.close()
