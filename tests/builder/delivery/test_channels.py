"""Each channel against a real stand-in; crm.toml channel tables read with clear errors."""

from __future__ import annotations

import hashlib
import hmac
import io
import sys

import pytest
from standins import HttpStandIn, SmtpStandIn

from builder.delivery import Address, DeliveryError, OutgoingMessage, load_channels
from builder.errors import ProjectError


def message(key: str = "remind:0:appointment:7:2026-03-01T09:00", **address: str) -> OutgoingMessage:
    return OutgoingMessage(
        key=key,
        address=Address(**address),
        subject="Reminder",
        body="Hello Wang Fang, your appointment is tomorrow.",
        template="appointment_reminder",
        entity="appointment",
        record_id=7,
    )


def one(config: dict, environ: dict | None = None):
    return load_channels({"channels": {"x": config}}, environ or {})["x"]


def test_smtp_sends_with_the_key_as_message_id():
    with SmtpStandIn() as server:
        channel = one({"type": "smtp", "host": "127.0.0.1", "port": server.port, "from": "Clinic <c@clinic.example>"})
        sent = channel.send(message(email="wang@example.com"))
    [mail] = server.mails
    assert mail["key"] == "remind:0:appointment:7:2026-03-01T09:00"
    assert mail["message_id"] == sent.provider_ref == "<remind.0.appointment.7.2026-03-01T09.00@clinic.example>"
    assert mail["to"] == "wang@example.com" and "Wang Fang" in mail["body"]


def test_smtp_unreachable_is_retryable():
    from standins import free_port

    channel = one({"type": "smtp", "host": "127.0.0.1", "port": free_port(), "from": "c@clinic.example", "timeout": 2})
    with pytest.raises(DeliveryError) as caught:
        channel.send(message(email="wang@example.com"))
    assert caught.value.retryable


def test_sms_gateway_gets_template_sign_name_and_client_reference():
    with HttpStandIn() as gateway:
        channel = one(
            {
                "type": "sms",
                "url": gateway.url + "/send",
                "sign_name": "阳光诊所",
                "api_key_env": "SMS_KEY",
                "templates": {"appointment_reminder": "SMS_1001"},
            },
            {"SMS_KEY": "k-123"},
        )
        sent = channel.send(message(phone="+8613800130000"))
    [request] = gateway.accepted()
    assert request["json"] == {
        "phone_numbers": "+8613800130000",
        "sign_name": "阳光诊所",
        "template_code": "SMS_1001",
        "template_param": {"content": "Hello Wang Fang, your appointment is tomorrow."},
        "out_id": "remind:0:appointment:7:2026-03-01T09:00",
    }
    assert request["headers"]["X-Api-Key"] == "k-123"
    assert sent.provider_ref == "biz-1"


@pytest.mark.parametrize(("status", "retryable"), [(500, True), (503, True), (429, True), (400, False), (403, False)])
def test_sms_gateway_errors_sorted(status, retryable):
    with HttpStandIn(script=[status]) as gateway:
        channel = one({"type": "sms", "url": gateway.url, "sign_name": "S"})
        with pytest.raises(DeliveryError) as caught:
            channel.send(message(phone="+8613800130000"))
    assert caught.value.retryable is retryable
    assert caught.value.reason == f"gateway {status}"


def test_sms_gateway_refusal_code_in_a_200():
    with HttpStandIn(answer={"code": "isv.MOBILE_NUMBER_ILLEGAL"}) as gateway:
        channel = one({"type": "sms", "url": gateway.url, "sign_name": "S"})
        with pytest.raises(DeliveryError) as caught:
            channel.send(message(phone="+8613800130000"))
    assert not caught.value.retryable and "MOBILE_NUMBER_ILLEGAL" in caught.value.reason


def test_wecom_robot_markdown():
    with HttpStandIn(answer={"errcode": 0, "errmsg": "ok"}) as robot:
        channel = one({"type": "wecom", "webhook_env": "ROBOT"}, {"ROBOT": robot.url + "/cgi-bin/webhook/send?key=abc"})
        channel.send(message())
    [request] = robot.accepted()
    assert request["path"] == "/cgi-bin/webhook/send?key=abc"
    assert request["json"] == {
        "msgtype": "markdown",
        "markdown": {"content": "**Reminder**\nHello Wang Fang, your appointment is tomorrow."},
    }


def test_webhook_signature_verifiable():
    with HttpStandIn() as receiver:
        channel = one(
            {"type": "webhook", "url": receiver.url + "/hook", "secret_env": "HOOK_SECRET"}, {"HOOK_SECRET": "s3cret"}
        )
        channel.send(message())
    [request] = receiver.accepted()
    timestamp = request["headers"]["X-CRM-Timestamp"]
    expected = hmac.new(b"s3cret", timestamp.encode() + b"." + request["raw"], hashlib.sha256).hexdigest()
    assert request["headers"]["X-CRM-Signature"] == "sha256=" + expected
    assert request["headers"]["Idempotency-Key"] == "remind:0:appointment:7:2026-03-01T09:00"
    assert request["json"]["record_id"] == 7


def test_console_prints_to_its_own_stream(tmp_path, monkeypatch):
    captured = io.StringIO()
    monkeypatch.setattr(sys, "stdout", captured)
    one({"type": "console"}).send(message(phone="+8613800130000"))
    assert "Hello Wang Fang" in captured.getvalue() and "+8613800130000" in captured.getvalue()
    channels = load_channels({"channels": {"c": {"type": "console", "stream": "out/messages.log"}}}, {}, root=tmp_path)
    (tmp_path / "out").mkdir()
    channels["c"].send(message())
    assert "Hello Wang Fang" in (tmp_path / "out" / "messages.log").read_text(encoding="utf-8")


@pytest.mark.parametrize(
    ("tables", "expected"),
    [
        ({"x": {"type": "pigeon"}}, "[channels.x] type: unknown channel type 'pigeon'"),
        (
            {"x": {"type": "wecom", "webhook_env": "NOT_SET_ANYWHERE"}},
            "webhook_env: the environment variable NOT_SET_ANYWHERE is not set",
        ),
        ({"x": {"type": "sms", "sign_name": "S"}}, "[channels.x] url: required"),
        ({"x": {"type": "smtp", "host": "h", "from": "a@b", "port": "25"}}, "[channels.x] port: expected a number"),
        ({"x": {"type": "console", "colour": "red"}}, "[channels.x] colour: unknown option"),
        ({"x": "console"}, "[channels.x] must be a table"),
    ],
)
def test_bad_channel_tables_are_clear_errors(tables, expected):
    with pytest.raises(ProjectError) as caught:
        load_channels({"channels": tables}, {}, source="/clinic/crm.toml")
    assert str(caught.value).startswith("/clinic/crm.toml: ")
    assert expected in str(caught.value)


def test_console_file_is_kept_open_and_follows_a_rotation(tmp_path):
    channels = load_channels({"channels": {"c": {"type": "console", "stream": "messages.log"}}}, {}, root=tmp_path)
    console = channels["c"]
    log = tmp_path / "messages.log"
    console.send(message())
    console.send(message())
    assert log.read_text(encoding="utf-8").count("Hello Wang Fang") == 2  # flushed at once, not on close
    log.rename(tmp_path / "messages.log.1")  # rotated away: the next message starts a new file
    console.send(message())
    assert log.read_text(encoding="utf-8").count("Hello Wang Fang") == 1
    assert (tmp_path / "messages.log.1").read_text(encoding="utf-8").count("Hello Wang Fang") == 2
    console.close()
