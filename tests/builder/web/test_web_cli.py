"""`crm demo` sets up a project end to end (without serving); `crm serve` is registered."""

from __future__ import annotations

from click.testing import CliRunner

from builder.cli import main


def test_demo_sets_up_a_clinic_and_prints_accounts(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(main, ["demo", str(tmp_path / "demo"), "--patients", "3", "--no-serve"])
    assert result.exit_code == 0, result.output
    assert "demo_front_desk" in result.output and "demo-front-desk-2026" in result.output
    again = CliRunner().invoke(main, ["demo", str(tmp_path / "demo"), "--no-serve"])  # idempotent
    assert again.exit_code == 0, again.output
    assert "Seeded" not in again.output


def test_serve_has_help():
    result = CliRunner().invoke(main, ["serve", "--help"])
    assert result.exit_code == 0 and "--port" in result.output
