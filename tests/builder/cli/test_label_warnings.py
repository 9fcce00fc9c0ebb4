"""`crm validate` warns where a person would see a raw code: a missing label, option label or language."""

from __future__ import annotations

from click.testing import CliRunner

from builder.cli import main

BLUEPRINT = """\
app: {name: labels, locales: [en, zh-CN]}
roles:
  doctor: {title: {en: Doctor, zh-CN: 医生}}
  nurse: {}
entities:
  patient:
    title: {en: Patient, zh-CN: 患者}
    fields:
      name: {type: text, label: {en: Name, zh-CN: 姓名}}
      stage:
        type: select
        label: {en: Stage}
        options: [new, active]
        option_labels: {new: {en: New, zh-CN: 新}}
"""


def _validate(tmp_path, *args: str):
    (tmp_path / "bp.yaml").write_text(BLUEPRINT, encoding="utf-8")
    return CliRunner().invoke(main, ["validate", str(tmp_path / "bp.yaml"), *args])


def test_each_place_a_code_would_show_is_a_warning_with_its_position(tmp_path):
    result = _validate(tmp_path, "--short")
    assert result.exit_code == 0, result.output
    lines = [line for line in result.output.splitlines() if "[label." in line]
    assert [line.split("bp.yaml:")[1] for line in lines] == [
        "4:3: `nurse` has no `title`: people will see the code `nurse` (add `title: {en: …, zh-CN: …}`) "
        "[label.missing]",
        "12:9: no zh-CN text here (the app speaks en, zh-CN) [label.missing_locale]",
        "13:24: option `active` has no label in `option_labels`: people will see the code `active` "
        "[label.missing_option]",
    ]
    assert "3 warnings" in result.output


def test_strict_makes_warnings_fail_and_the_full_format_shows_the_line(tmp_path):
    result = _validate(tmp_path, "--strict")
    assert result.exit_code == 1
    assert "warning[label.missing_option]" in result.output and "^^^^^^" in result.output


def test_the_templates_have_every_label(tmp_path):
    for path in ("blueprints/clinic", "tests/blueprints/physio"):
        result = CliRunner().invoke(main, ["validate", path, "--strict"])
        assert result.exit_code == 0 and "warning" not in result.output, result.output
