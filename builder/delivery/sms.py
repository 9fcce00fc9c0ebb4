"""SMS through an HTTP gateway shaped like the common Chinese SMS APIs (Aliyun, Tencent Cloud).

Those gateways send pre-approved templates: a template code, its parameters, a sign name
(the clinic's name in 【】) and a client reference, which here is the idempotency key so
the gateway (and anyone counting) can see a repeat. Our rendered text goes in the
parameter `content`; a template per notification is mapped in `templates`.

    [channels.sms]
    type = "sms"
    url = "https://sms.example.cn/send"
    sign_name = "阳光诊所"
    api_key_env = "CRM_SMS_KEY"          # sent as the X-Api-Key header
    templates = {appointment_reminder = "SMS_1001", recall = "SMS_1002"}
    consent = "consent_sms"
"""

from __future__ import annotations

import httpx

from .channel import Channel, ChannelConfig, DeliveryError, OutgoingMessage, Sent, register_channel
from .http import answer, json_bytes, post

OK_CODES = ("OK", "0", 0, None)


@register_channel
class SmsChannel(Channel):
    type = "sms"
    needs = "phone"
    options = ("url", "sign_name", "api_key_env", "templates", "timeout", "retry_codes")

    def __init__(self, config: ChannelConfig):
        super().__init__(config)
        self.url: str = config.get("url", str, required=True)
        self.sign_name: str = config.get("sign_name", str, required=True)
        self.api_key = config.secret("api_key_env", required=False)
        self.templates: dict = config.get("templates", dict, {})
        self.retry_codes = {str(c) for c in config.get("retry_codes", list, ["isv.BUSINESS_LIMIT_CONTROL"])}
        self.client = httpx.Client(timeout=float(config.get("timeout", (int, float), 10)))

    def send(self, message: OutgoingMessage) -> Sent:
        if not message.address.phone:
            raise DeliveryError("no phone number", retryable=False)
        body = {
            "phone_numbers": message.address.phone,
            "sign_name": self.sign_name,
            "template_code": self.templates.get(message.template or "", message.template),
            "template_param": {"content": message.body},
            "out_id": message.key,
        }
        headers = {"X-Api-Key": self.api_key} if self.api_key else {}
        data = answer(post(self.client, self.url, json_bytes(body), headers))
        code = data.get("code", data.get("Code"))
        if code not in OK_CODES:
            raise DeliveryError(f"gateway refused ({str(code)[:60]})", retryable=str(code) in self.retry_codes)
        ref = data.get("biz_id") or data.get("BizId") or data.get("message_id")
        return Sent(str(ref)[:120] if ref else None)

    def close(self) -> None:
        self.client.close()
