"""E-mail over SMTP, one connection per message (a clinic sends tens an hour, not thousands).

The Message-ID is made from the idempotency key (and `X-CRM-Key` carries it as is), so a
repeat after a crash is recognisable in any mailbox or relay log. A message may carry
attachments (a scheduled report's XLSX) and several addresses (a role's staff).

    [channels.email]
    type = "smtp"
    host = "smtp.example.cn"
    port = 587
    starttls = true
    username = "clinic@example.cn"
    password_env = "CRM_SMTP_PASSWORD"
    from = "Sunrise Clinic <clinic@example.cn>"
    consent = "consent_email"
"""

from __future__ import annotations

import re
import smtplib
from email.message import EmailMessage
from email.utils import parseaddr

from .channel import Channel, ChannelConfig, DeliveryError, OutgoingMessage, Sent, register_channel


def message_id(key: str, sender: str) -> str:
    """`<key@domain>` with the key's characters that a Message-ID cannot hold replaced."""
    domain = parseaddr(sender)[1].rpartition("@")[2] or "crm.invalid"
    return f"<{re.sub(r'[^A-Za-z0-9._-]', '.', key)}@{domain}>"


@register_channel
class SmtpChannel(Channel):
    type = "smtp"
    needs = "email"
    options = ("host", "port", "starttls", "ssl", "username", "password_env", "from", "timeout")

    def __init__(self, config: ChannelConfig):
        super().__init__(config)
        self.host: str = config.get("host", str, required=True)
        self.port: int = config.get("port", int, 25)
        self.starttls: bool = config.get("starttls", bool, False)
        self.ssl: bool = config.get("ssl", bool, False)
        self.username: str | None = config.get("username", str)
        self.password = config.secret("password_env", required=self.username is not None)
        self.sender: str = config.get("from", str, required=True)
        self.timeout = float(config.get("timeout", (int, float), 20))

    def send(self, message: OutgoingMessage) -> Sent:
        if not message.address.email:
            raise DeliveryError("no e-mail address", retryable=False)
        mail = EmailMessage()
        mail["From"] = self.sender
        mail["To"] = message.address.email
        mail["Subject"] = message.subject or ""
        mail["Message-ID"] = message_id(message.key, self.sender)
        mail["X-CRM-Key"] = message.key
        mail.set_content(message.body)
        for attachment in message.attachments:
            maintype, _, subtype = attachment.content_type.partition("/")
            mail.add_attachment(attachment.data, maintype=maintype, subtype=subtype, filename=attachment.filename)
        try:
            factory = smtplib.SMTP_SSL if self.ssl else smtplib.SMTP
            with factory(self.host, self.port, timeout=self.timeout) as smtp:
                if self.starttls:
                    smtp.starttls()
                if self.username:
                    smtp.login(self.username, self.password or "")
                smtp.send_message(mail)
        except smtplib.SMTPRecipientsRefused as exc:
            codes = [code for code, _ in exc.recipients.values()]
            raise DeliveryError(
                f"recipient refused ({codes[0]})", retryable=all(400 <= c < 500 for c in codes)
            ) from None
        except smtplib.SMTPResponseException as exc:
            raise DeliveryError(f"server answered {exc.smtp_code}", retryable=400 <= exc.smtp_code < 500) from None
        except (TimeoutError, smtplib.SMTPException, OSError) as exc:
            raise DeliveryError(f"server unreachable ({type(exc).__name__})", retryable=True) from None
        return Sent(mail["Message-ID"])
