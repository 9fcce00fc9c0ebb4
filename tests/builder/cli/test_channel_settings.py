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


def test_worker_refuses_to_start_without_the_channels_the_blueprint_uses(tmp_path, monkeypatch):
    monkeypatch.delenv("CRM_DATABASE_URL", raising=False)
    monkeypatch.setenv("CRM_KEY_FILE", str(tmp_path / "keys" / "crm-keys.json"))
    run("init", tmp_path / "clinic")
    assert run("migrate", "-p", tmp_path / "clinic", "--yes")[0] == 0
    assert run("worker", "-p", tmp_path / "clinic", "--once") == (0, "Handled 0 item(s).\n")
    config = tmp_path / "clinic" / "crm.toml"
    config.write_text(
        config.read_text(encoding="utf-8").replace("[channels.inbox]", "[channels.staff]"), encoding="utf-8"
    )
    code, output = run("worker", "-p", tmp_path / "clinic", "--once")
    assert code == 1
    assert "no [channels.NAME] table for `inbox` (used by high_bp_alert" in " ".join(output.split())


def test_bad_delivery_settings_are_clear_errors():
    import pytest

    from builder.delivery import delivery_settings
    from builder.errors import ProjectError

    for table, expected in [
        ({"quiet_hours": "9pm-8am"}, '[delivery] quiet_hours: expected "HH:MM-HH:MM" or ""'),
        ({"max_attempts": 0}, "[delivery] max_attempts: expected a number of at least 1"),
        ({"daily_cap": "3"}, "[delivery] daily_cap: expected a number"),
        ({"retries": 3}, "[delivery] retries: unknown setting"),
    ]:
        with pytest.raises(ProjectError) as caught:
            delivery_settings({"delivery": table}, "/clinic/crm.toml")
        assert str(caught.value).startswith("/clinic/crm.toml: " + expected)
    assert delivery_settings({"delivery": {"quiet_hours": ""}}).quiet_start is None
