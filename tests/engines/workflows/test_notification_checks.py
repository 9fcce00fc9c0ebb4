"""Notification templates: sandbox errors, and variables checked against the records they are sent about."""

from __future__ import annotations

from flows_helpers import REMINDER, codes, problems

N = ("notifications", "reminder", "channels", "sms", "body")


def with_body(body, automations=None):
    return problems(
        notifications={"reminder": {"channels": {"sms": {"body": body}}}},
        automations={"reminder": REMINDER} if automations is None else automations,
    )


def test_fields_and_links_of_the_record_are_known():
    assert with_body("{{ patient.name }} {{ starts_at | datetime }} {{ doctor.user }} {{ app }} {{ recipient }}") == []


def test_loop_variables_are_not_context_names():
    assert with_body("{% for x in [1, 2] %}{{ x }}{% endfor %}{% set y = 3 %}{{ y }}") == []


def test_an_unknown_root_name_is_reported_with_a_hint_and_column():
    found = with_body({"en": "Hello {{ patiant.name }}"})
    assert [(p.code, p.loc) for p in found] == [("template.unknown_name", N + ("en",))]
    assert found[0].hint == "did you mean `patient`?"
    assert found[0].column_offset == len("Hello {{ ")
    assert "appointment" in found[0].message


def test_an_unknown_field_through_a_link_is_reported():
    found = with_body("{{ patient.nam }} and {{ patient.primary_doctor.name }}")
    assert [(p.code, p.message) for p in found] == [
        ("template.unknown_name", "`nam` is not a field of `patient` (on `appointment`)")
    ]
    found = with_body("{{ starts_at.day }}")
    assert [p.message for p in found] == ["`starts_at` is not a link; `.day` cannot be read from it"]


def test_each_using_entity_is_checked():
    on_patient = {
        "entity": "patient",
        "when": "created",
        "do": [{"notify": {"to": "record", "channel": "sms", "template": "reminder"}}],
    }
    found = with_body("{{ name }}", automations={"r": REMINDER, "p": on_patient})
    assert [p.message for p in found] == [
        "`name` is not a field of `appointment`, which this notification is sent about"
    ]


def test_an_unused_template_is_only_checked_for_syntax():
    assert with_body("{{ anything }}", automations={}) == []
    found = with_body("{{ oops ", automations={})
    assert [(p.code, p.loc) for p in found] == [("template.syntax", N)]


def test_the_sandbox_refuses_unsafe_templates():
    found = with_body("{{ patient.__class__ }}")
    assert [p.code for p in found] == ["template.unsafe"]
    found = with_body("{% macro m() %}{% endmacro %}")
    assert [p.code for p in found] == ["template.unsafe"]


def test_subjects_and_locales_are_checked():
    found = codes(
        notifications={
            "reminder": {"channels": {"email": {"subject": {"fr": "Rappel"}, "body": {"en": "{{ patient.name }}"}}}}
        },
        automations={"reminder": REMINDER},
    )
    assert found == [("text.unknown_locale", ("notifications", "reminder", "channels", "email", "subject", "fr"))]
