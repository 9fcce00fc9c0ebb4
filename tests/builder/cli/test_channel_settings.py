"""`crm init` writes demo channels; `crm validate` on a project checks its channel tables."""

from __future__ import annotations

from click.testing import CliRunner

from builder.cli import main


def run(*args: object) -> tuple[int, str]:
    result = CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)
    return result.exit_code, result.output


def test_init_writes_channels_the_clinic_uses(tmp_path):
    assert run("init", tmp_path / "clinic")[0] == 0
    code, output = run("validate", tmp_path / "clinic")
    assert code == 0, output
    assert "Channels: console, inbox, sms." in output


def test_validate_names_a_channel_the_blueprint_uses_but_crm_toml_lacks(tmp_path):
    run("init", tmp_path / "clinic")
    config = tmp_path / "clinic" / "crm.toml"
    config.write_text(
        config.read_text(encoding="utf-8").replace("[channels.sms]", "[channels.sms_off]"), encoding="utf-8"
    )
    code, output = run("validate", tmp_path / "clinic")
    assert code == 1
    assert "crm.toml: no [channels.NAME] table for `sms` (used by monthly_recall, appointment_reminder)" in " ".join(
        output.split()
    )
    assert "Traceback" not in output


def test_validate_names_a_missing_secret_variable(tmp_path, monkeypatch):
    monkeypatch.delenv("CRM_TEST_SMS_KEY", raising=False)
    run("init", tmp_path / "clinic")
    config = tmp_path / "clinic" / "crm.toml"
    text = config.read_text(encoding="utf-8").replace(
        '[channels.sms]\ntype = "console"',
        '[channels.sms]\ntype = "sms"\nurl = "https://sms.example"\nsign_name = "S"\napi_key_env = "CRM_TEST_SMS_KEY"',
    )
    config.write_text(text, encoding="utf-8")
    code, output = run("validate", tmp_path / "clinic")
    assert code == 1
    assert "[channels.sms] api_key_env: the environment variable CRM_TEST_SMS_KEY is not set" in " ".join(
        output.split()
    )
    monkeypatch.setenv("CRM_TEST_SMS_KEY", "k")
    assert run("validate", tmp_path / "clinic")[0] == 0
