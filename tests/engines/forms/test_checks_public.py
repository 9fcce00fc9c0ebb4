"""Meaning checks of a form's `public:` block (docs/blueprints.md#public-a-form-patients-fill-themselves)."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from builder.errors import BlueprintError
from builder.loading import load_blueprint
from engines.forms import EntitySpec, FormSpec, check_entities_and_forms, public_fields, public_roles

ENTITIES = {
    "patient": {
        "title_field": "name",
        "fields": {
            "name": {"type": "text", "required": True},
            "phone": {"type": "phone", "sensitive": True, "unique": True},
            "birth_date": {"type": "date"},
        },
        "permissions": {"admin": {"read": "all", "write": "all", "create": True}, "nurse": {"read": "all"}},
    },
    "reading": {
        "fields": {
            "patient": {"type": "link", "to": "patient", "required": True},
            "taken_at": {"type": "datetime", "required": True, "default": "now()"},
            "pain": {"type": "integer", "required": True},
            "level": {"type": "text", "compute": "'high' if pain > 7 else 'low'"},
            "note": {"type": "long_text"},
        },
        "permissions": {"admin": {"read": "all", "write": "all", "create": True}, "nurse": {"read": "all"}},
    },
}


def codes(public: dict, entity: str = "reading", fields=("pain", "level"), roles=("admin", "nurse")) -> list[tuple]:
    form = {"entity": entity, "layout": [{"section": "S", "fields": list(fields)}], "public": public}
    found = check_entities_and_forms(
        {n: EntitySpec.model_validate(s) for n, s in ENTITIES.items()},
        {"f": FormSpec.model_validate(form)},
        set(roles),
        locales={"en", "zh-CN"},
    )
    return [(p.code, p.loc[3:] if p.loc[:3] == ("forms", "f", "public") else p.loc) for p in found]


def test_a_sound_patient_form_and_a_sound_clinic_form():
    assert codes({"mode": "patient", "bind": "patient", "reuse": True, "expires": "30d"}) == []
    assert codes({"mode": "clinic", "review": True}, entity="patient", fields=("name", "phone")) == []


def test_the_public_fields_default_to_the_layouts_non_computed_ones():
    entity = EntitySpec.model_validate(ENTITIES["reading"])
    form = FormSpec.model_validate(
        {
            "entity": "reading",
            "layout": [{"section": "S", "fields": ["pain", "level"]}],
            "public": {"mode": "patient", "bind": "patient"},
        }
    )
    assert public_fields(form, entity) == ["pain"]
    assert public_roles(entity, None) == ["admin"] and public_roles(entity, ["x"]) == ["x"]


@pytest.mark.parametrize(
    ("public", "expected"),
    [
        ({"mode": "patient"}, [("public.bind_missing", ())]),
        ({"mode": "patient", "bind": "nope"}, [("public.unknown_field", ("bind",))]),
        ({"mode": "patient", "bind": "note"}, [("public.bind_not_link", ("bind",))]),
        ({"mode": "patient", "bind": "patient", "review": True}, [("public.patient_review", ("review",))]),
        ({"mode": "patient", "bind": "patient", "greeting": "phone"}, [("public.greeting_protected", ("greeting",))]),
        ({"mode": "patient", "bind": "patient", "greeting": "nme"}, [("public.unknown_field", ("greeting",))]),
        ({"mode": "patient", "bind": "patient", "expires": "91d"}, [("public.expiry_too_long", ("expires",))]),
        (
            {"mode": "patient", "bind": "patient", "fields": ["pain", "patient"]},
            [("public.bind_listed", ("fields", 1))],
        ),
        ({"mode": "patient", "bind": "patient", "fields": ["pain", "level"]}, [("public.computed", ("fields", 1))]),
        ({"mode": "patient", "bind": "patient", "fields": ["pain", "x"]}, [("public.unknown_field", ("fields", 1))]),
        ({"mode": "patient", "bind": "patient", "fields": ["note"]}, [("public.required_missing", ())]),
        (
            {"mode": "patient", "bind": "patient", "send_roles": ["nurse"]},
            [("public.role_cannot_create", ("send_roles", 0))],
        ),
        ({"mode": "patient", "bind": "patient", "send_roles": ["ghost"]}, [("public.unknown_role", ("send_roles", 0))]),
        (
            {"mode": "clinic", "bind": "patient", "fields": ["pain"]},
            [("public.clinic_bound", ("bind",)), ("public.required_missing", ())],
        ),
        (
            {"mode": "clinic", "reuse": True, "fields": ["pain"]},
            [("public.clinic_reuse", ("reuse",)), ("public.required_missing", ())],
        ),
        (
            {"mode": "clinic", "fields": []},
            [("public.no_fields", ()), ("public.required_missing", ()), ("public.required_missing", ())],
        ),
    ],
)
def test_each_mistake_at_its_place(public, expected):
    assert codes(public) == expected


def test_a_link_among_the_layout_fields_is_refused():
    assert codes({"mode": "clinic"}, fields=("pain", "patient")) == [
        ("public.field_type", ()),
        ("public.required_missing", ()),
    ]


def test_a_role_called_public_is_reserved():
    assert ("public.reserved_role", ("roles", "public")) in codes(
        {"mode": "patient", "bind": "patient"}, roles=("admin", "public")
    )


def test_expires_has_a_shape():
    with pytest.raises(ValidationError):
        FormSpec.model_validate({"entity": "x", "layout": [], "public": {"mode": "clinic", "expires": "7 days"}})


def test_crm_validate_points_at_the_line_and_column(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    Path("bp.yaml").write_text(
        "app: {name: demo}\nroles:\n  admin: {}\n"
        "entities:\n  patient:\n    fields:\n      name: {type: text, required: true}\n"
        "    permissions:\n      admin: {read: all, write: all, create: true}\n"
        "forms:\n  intake:\n    entity: patient\n    layout:\n      - section: S\n        fields: [name]\n"
        "    public:\n      mode: clinic\n      review_roles: [admin, frontdesk]\n",
        encoding="utf-8",
    )
    with pytest.raises(BlueprintError) as caught:
        load_blueprint("bp.yaml")
    assert [str(p) for p in caught.value.problems] == [
        "bp.yaml:18:29: unknown role `frontdesk` (known roles: admin) [public.unknown_role]"
    ]


def test_a_unique_field_only_on_a_reviewed_form():
    assert codes({"mode": "clinic"}, entity="patient", fields=("name", "phone")) == [("public.unique_field", ())]
    assert codes({"mode": "clinic", "fields": ["name", "phone"]}, entity="patient", fields=("name",)) == [
        ("public.unique_field", ("fields", 1))
    ]
    assert codes({"mode": "clinic", "review": True}, entity="patient", fields=("name", "phone")) == []
