"""Settings from the project, the generated secret file, redirects and language choice."""

from __future__ import annotations

import stat

import pytest

from builder.errors import ProjectError
from builder.project import Project
from builder.web.security import SecuritySettings, safe_next
from builder.web.security.locales import accept_language_match
from builder.web.security.settings import secret_file


def test_generated_secret_is_private_and_stable(tmp_path):
    project = Project(tmp_path / "clinic")
    (tmp_path / "clinic").mkdir()
    first = SecuritySettings.from_project(project, environ={})
    path = secret_file(project)
    assert path.parent == tmp_path  # beside the key file, outside the project folder
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert SecuritySettings.from_project(project, environ={}).secret_key == first.secret_key
    assert first.secret_key not in repr(first)


def test_environment_and_crm_toml_settings(tmp_path):
    project = Project(
        tmp_path,
        {"security": {"secret_key": "k" * 40, "session_idle_minutes": 10, "https_only": True, "login_max_failures": 7}},
    )
    settings = SecuritySettings.from_project(project, environ={})
    assert (settings.secret_key, settings.session_idle_minutes, settings.https_only, settings.login_max_failures) == (
        "k" * 40,
        10,
        True,
        7,
    )
    assert SecuritySettings.from_project(project, environ={"CRM_SECRET_KEY": "e" * 40}).secret_key == "e" * 40


@pytest.mark.parametrize("source", ["environment", "crm.toml", "secret file"])
def test_the_secret_key_has_at_least_32_characters_wherever_it_comes_from(tmp_path, source):
    """docs/security.md: "The key must have at least 32 characters"; 32 are enough."""

    def settings_with(key: str) -> SecuritySettings:
        root = tmp_path / f"clinic{len(key)}"
        root.mkdir()
        project = Project(root, {"security": {"secret_key": key}} if source == "crm.toml" else {})
        if source == "secret file":
            secret_file(project).write_text(key + "\n", encoding="utf-8")
        return SecuritySettings.from_project(
            project, environ={"CRM_SECRET_KEY": key} if source == "environment" else {}
        )

    with pytest.raises(ProjectError, match=r"short|32"):
        settings_with("k" * 31)
    assert settings_with("k" * 32).secret_key == "k" * 32


@pytest.mark.parametrize(
    "section",
    [
        {"secret_key": "short"},
        {"session_idle_minutes": "soon"},
        {"session_idle_minutes": 0},
        {"https_only": "yes"},
        {"login_max_failures": -1},
    ],
)
def test_bad_settings_are_project_errors(tmp_path, section):
    with pytest.raises(ProjectError):
        SecuritySettings.from_project(Project(tmp_path, {"security": {"secret_key": "k" * 40, **section}}), environ={})


@pytest.mark.parametrize(
    "value, expected",
    [
        ("/patients?page=2", "/patients?page=2"),
        ("/", "/"),
        ("https://evil.example", "/"),
        ("//evil.example", "/"),
        ("/\\evil.example", "/"),
        ("\\\\evil", "/"),
        ("javascript:alert(1)", "/"),
        ("/ok\r\nSet-Cookie: x=1", "/"),
        ("patients", "/"),
        ("", "/"),
        (None, "/"),
        ("/a/" + "b" * 3000, "/"),
    ],
)
def test_safe_next(value, expected):
    assert safe_next(value) == expected


@pytest.mark.parametrize(
    "header, expected",
    [
        ("zh-CN,zh;q=0.9,en;q=0.8", "zh-CN"),
        ("en-US,en;q=0.9", "en"),
        ("zh-TW", "zh-CN"),
        ("fr, en;q=0.1", "en"),
        ("fr", None),
        ("en;q=0.2, zh;q=0.8", "zh-CN"),
        ("en;q=abc, zh", "zh-CN"),
        ("", None),
        (None, None),
    ],
)
def test_accept_language(header, expected):
    assert accept_language_match(header, ("zh-CN", "en")) == expected
