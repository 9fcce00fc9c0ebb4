"""Meaning checks of entities and forms: every mistake, at its path, with a hint."""

from __future__ import annotations

import datetime as dt

import pytest

from engines.forms import EntitySpec, FormSpec, check_entities_and_forms

ROLES = {"admin", "doctor", "nurse"}


def entities(**raw) -> dict[str, EntitySpec]:
    return {name: EntitySpec.model_validate(spec) for name, spec in raw.items()}


BASE = {
    "staff": {"fields": {"name": {"type": "text"}, "user": {"type": "user"}}},
    "patient": {
        "title_field": "name",
        "search": ["name", "phone"],
        "fields": {
            "name": {"type": "text", "required": True},
            "gender": {"type": "select", "options": ["female", "male"]},
            "birth_date": {"type": "date", "max": "today()"},
            "age": {"type": "integer", "compute": "years_between(birth_date, today())"},
            "phone": {"type": "phone"},
            "primary_doctor": {"type": "link", "to": "staff"},
        },
    },
}


def problems(patch: dict | None = None, forms: dict | None = None, roles=ROLES, tables=(), **field_specs):
    """Problems of BASE with `field_specs` added to patient and `patch` merged into it."""
    raw = {name: {**spec, "fields": dict(spec["fields"])} for name, spec in BASE.items()}
    raw["patient"]["fields"].update(field_specs)
    raw["patient"].update(patch or {})
    checked = check_entities_and_forms(
        entities(**raw),
        {n: FormSpec.model_validate(f) for n, f in (forms or {}).items()},
        roles,
        set(tables),
        locales={"en", "zh-CN"},
    )
    return list(checked)


def one(found):
    assert len(found) == 1, found
    return found[0]


FIELD = ("entities", "patient", "fields")


def test_the_base_is_clean():
    assert problems() == []


def test_unknown_type_with_hint():
    p = one(problems(notes={"type": "txt"}))
    assert (p.loc, p.code, p.message, p.hint) == (
        FIELD + ("notes", "type"),
        "field.unknown_type",
        "unknown field type `txt`",
        "did you mean `text`?",
    )


@pytest.mark.parametrize(
    "spec, option",
    [
        ({"type": "integer", "options": ["a"]}, "options"),
        ({"type": "text", "to": "staff"}, "to"),
        ({"type": "select", "options": ["a"], "precision": 3}, "precision"),
        ({"type": "integer", "max_length": 3}, "max_length"),
        ({"type": "boolean", "min": 1}, "min"),
    ],
)
def test_options_a_type_does_not_take(spec, option):
    p = one(problems(x=spec))
    assert (p.loc, p.code) == (FIELD + ("x", option), "field.option_not_allowed")


def test_type_own_checks_are_prefixed():
    p = one(problems(x={"type": "select", "options": ["a", "a"]}))
    assert (p.loc, p.code) == (FIELD + ("x", "options", 1), "field.duplicate_option")


def test_dangling_link():
    p = one(problems(doctor={"type": "link", "to": "staf"}))
    assert (p.loc, p.code, p.message, p.hint) == (
        FIELD + ("doctor", "to"),
        "field.unknown_entity",
        "link to unknown entity `staf`",
        "did you mean `staff`?",
    )


def test_title_field_and_search():
    found = problems({"title_field": "nam", "search": ["name", "age", "ghost", "name"]})
    assert [(p.loc[2:], p.code) for p in found] == [
        (("title_field",), "entity.unknown_field"),
        (("search", 1), "entity.not_searchable"),
        (("search", 2), "entity.unknown_field"),
        (("search", 3), "entity.duplicate_search"),
    ]
    assert found[0].hint == "did you mean `name`?"


@pytest.mark.parametrize(
    "name, code",
    [
        ("Name2", "name.invalid"),
        ("2name", "name.invalid"),
        ("a__b", "name.double_underscore"),
        ("created_at", "name.reserved"),
        ("id", "name.reserved"),
        ("version", "name.reserved"),
        ("not", "name.reserved"),
        ("x" * 41, "name.too_long"),
    ],
)
def test_field_names(name, code):
    p = one(problems(**{name: {"type": "text"}}))
    assert (p.loc, p.code) == (FIELD + (name,), code)


def test_entity_names():
    found = list(
        check_entities_and_forms(
            entities(Patient={"fields": {"a": {"type": "text"}}}, crm_user={"fields": {"a": {"type": "text"}}}),
            {},
            ROLES,
        )
    )
    assert [(p.loc, p.code) for p in found] == [
        (("entities", "Patient"), "name.invalid"),
        (("entities", "crm_user"), "name.reserved"),
    ]


def test_expression_default_must_compile():
    p = one(problems(seen={"type": "date", "default": "todya()"}))
    assert (p.loc, p.code, p.hint, p.column_offset) == (
        FIELD + ("seen", "default"),
        "expression.unknown_function",
        "did you mean `today`?",
        0,
    )


@pytest.mark.parametrize(
    "spec",
    [
        {"type": "select", "options": ["a", "b"], "default": "c"},
        {"type": "integer", "default": "x1", "min": 0},
        {"type": "integer", "default": 12, "max": 10},
        {"type": "boolean", "default": "maybe()"},
    ],
)
def test_bad_defaults(spec):
    p = one(problems(x=spec))
    assert p.loc == FIELD + ("x", "default")
    assert p.code in (
        "field.bad_default",
        "expression.unknown_name",
        "expression.unknown_function",
        "field.expression_type",
    )


def test_literal_defaults_are_accepted():
    assert (
        problems(
            a={"type": "select", "options": ["lead", "new"], "default": "lead"},
            b={"type": "integer", "default": 3, "min": 0, "max": 5},
            c={"type": "boolean", "default": False},
            d={"type": "datetime", "default": "now()"},
            e={"type": "text", "default": "'x' if user.role == 'doctor' else 'y'"},
        )
        == []
    )


def test_limits():
    found = problems(
        a={"type": "integer", "min": 5, "max": 2},
        b={"type": "integer", "min": "zero"},
        c={"type": "date", "min": "2024-01-01"},
        d={"type": "date", "min": dt.date(2024, 1, 1), "max": "birth_date"},
        e={"type": "date", "max": "years_between(birth_date, today())"},
    )
    assert [(p.loc[3:], p.code) for p in found] == [
        (("a", "min"), "field.limit_order"),
        (("b", "min"), "field.bad_limit"),
        (("c", "min"), "field.bad_limit"),
        (("e", "max"), "field.expression_type"),
    ]
    assert found[2].hint == "write the date without quotes (2024-01-01) or as date('2024-01-01')"


def test_unknown_name_in_compute_has_column_and_hint():
    p = one(problems(age2={"type": "integer", "compute": "years_between(birth_dat, today())"}))
    assert (p.code, p.message, p.hint, p.column_offset) == (
        "expression.unknown_name",
        "unknown name `birth_dat`",
        "did you mean `birth_date`?",
        14,
    )


def test_compute_cannot_read_user_but_visible_if_can():
    p = one(
        problems(a={"type": "text", "compute": "user.name"}, b={"type": "text", "visible_if": "user.role == 'doctor'"})
    )
    assert p.loc == FIELD + ("a", "compute")


def test_paths_through_links_are_checked_hop_by_hop():
    assert problems(a={"type": "text", "compute": "primary_doctor.name"}) == []
    p = one(problems(a={"type": "text", "compute": "primary_doctor.nme"}))
    assert (p.code, p.hint) == ("expression.unknown_name", "did you mean `name`?")


def test_decide_needs_a_declared_table():
    assert problems(tables={"bp_risk"}, r={"type": "text", "compute": "decide('bp_risk')"}) == []
    p = one(problems(tables={"bp_risk"}, r={"type": "text", "compute": "decide('bp_rsk')"}))
    assert (p.code, p.hint, p.column_offset) == ("expression.unknown_table", "did you mean `bp_risk`?", 7)


def test_unknown_function():
    p = one(problems(a={"type": "text", "visible_if": "lowr(name) == 'x'"}))
    assert (p.code, p.hint) == ("expression.unknown_function", "did you mean `lower`?")


@pytest.mark.parametrize(
    "spec, code",
    [
        ({"type": "integer", "compute": "1", "required": True}, "field.computed_required"),
        ({"type": "integer", "compute": "1", "default": 2}, "field.computed_default"),
        ({"type": "integer", "encrypted": True}, "field.encrypted_type"),
        ({"type": "text", "compute": "name", "encrypted": True}, "field.encrypted_compute"),
        ({"type": "text", "encrypted": True, "searchable": True}, "field.encrypted_search"),
        ({"type": "long_text", "unique": True}, "field.unique_type"),
        ({"type": "boolean", "unique": True}, "field.unique_type"),
        ({"type": "multi_select", "options": ["a"], "unique": True}, "field.unique_type"),
        ({"type": "integer", "searchable": True}, "field.not_searchable"),
        ({"type": "state", "workflow": "flow"}, "field.unknown_workflow"),
        ({"type": "decimal", "precision": 4, "scale": 6}, "field.bad_scale"),
        ({"type": "text", "compute": "x2"}, "expression.unknown_name"),
    ],
)
def test_combinations_that_cannot_go_together(spec, code):
    assert one(problems(x2=spec) if code != "expression.unknown_name" else problems(x=spec)).code == code


def test_state_naming_a_defined_workflow_is_accepted():
    raw = {**BASE, "task": {"fields": {"s": {"type": "state", "workflow": "flow"}}}}
    assert list(check_entities_and_forms(entities(**raw), {}, ROLES, workflows={"flow"})) == []


def test_state_naming_an_undefined_workflow_is_refused_even_with_options():
    found = one(problems(s={"type": "state", "workflow": "flw", "options": ["open", "done"]}))
    assert found.code == "field.unknown_workflow"
    assert found.loc == ("entities", "patient", "fields", "s", "workflow")


def test_encrypted_field_cannot_be_in_search():
    p = one(problems({"search": ["name", "id_number"]}, id_number={"type": "cn_resident_id", "encrypted": True}))
    assert p.code == "entity.encrypted_search"


def test_child_tables():
    found = problems(
        rx={
            "type": "table",
            "fields": {
                "drug": {"type": "text"},
                "inner": {"type": "table", "fields": {"a": {"type": "text"}}},
                "by": {"type": "link", "to": "nobody"},
                "position": {"type": "integer"},
                "dose": {"type": "integer", "visible_if": "parent.gender == 'female' and drug != ''"},
            },
        }
    )
    assert [(p.loc[3:], p.code) for p in found] == [
        (("rx", "fields", "inner", "type"), "field.nested_table"),
        (("rx", "fields", "by", "to"), "field.unknown_entity"),
        (("rx", "fields", "position"), "name.reserved"),
    ]


def test_validations():
    found = problems(
        {
            "validations": [
                {"rule": "age >= 0", "fields": ["agee"], "message": {"en": "x", "fr": "y"}},
                {"rule": "age >", "message": "bad"},
            ]
        }
    )
    assert [(p.loc[2:], p.code) for p in found] == [
        (("validations", 0, "message", "fr"), "text.unknown_locale"),
        (("validations", 0, "fields", 0), "validation.unknown_field"),
        (("validations", 1, "rule"), "expression.syntax"),
    ]
    assert found[1].hint == "did you mean `age`?"


def test_permissions():
    found = problems(
        {
            "permissions": {
                "doctr": {"read": "all"},
                "nurse": {"read": ["name", "nme"], "write": ["name", "phone"]},
                "admin": {"read": ["name"], "write": "all", "where": "primary_doctor.user == user.id"},
            }
        }
    )
    assert [(p.loc[2:], p.code, p.hint) for p in found] == [
        (("permissions", "doctr"), "permission.unknown_role", "did you mean `doctor`?"),
        (("permissions", "nurse", "read", 1), "permission.unknown_field", "did you mean `name`?"),
        (("permissions", "nurse", "write", 1), "permission.write_not_read", "add `phone` to `read`"),
        (
            ("permissions", "admin", "write"),
            "permission.write_not_read",
            "list the writable fields, or make them readable",
        ),
    ]


def test_row_filters():
    assert problems({"permissions": {"nurse": {"read": "all", "where": "gender == 'female' and phone != null"}}}) == []
    found = problems({"permissions": {"nurse": {"read": "all", "where": "len(name) > 3"}}})
    assert one(found).code == "permission.where_unsupported"
    found = problems({"permissions": {"nurse": {"read": "all", "where": "gendr == 'female'"}}})
    assert (one(found).code, found[0].hint) == ("expression.unknown_name", "did you mean `gender`?")


def test_user_role_is_checked_against_roles():
    p = one(problems({"permissions": {"nurse": {"read": "all", "where": "user.role == 'docter'"}}}))
    assert (p.code, p.hint) == ("expression.choice", "did you mean `doctor`?")


def test_forms():
    found = problems(
        forms={
            "intake": {
                "entity": "patient",
                "layout": [
                    {"section": "A", "fields": ["name", "nme"]},
                    {"section": {"en": "B"}, "fields": ["phone", "name"], "visible_if": "user.rol == 'doctor'"},
                ],
            },
            "other": {"entity": "patiant", "layout": []},
        }
    )
    assert [(p.loc, p.code, p.hint) for p in found] == [
        (("forms", "intake", "layout", 0, "fields", 1), "form.unknown_field", "did you mean `name`?"),
        (("forms", "intake", "layout", 1, "visible_if"), "expression.unknown_name", "did you mean `role`?"),
        (
            ("forms", "intake", "layout", 1, "fields", 1),
            "form.duplicate_field",
            "it is in section 1; a field appears once per form",
        ),
        (("forms", "other", "entity"), "form.unknown_entity", "did you mean `patient`?"),
    ]


def test_renamed_from():
    found = problems(
        {"renamed_from": "staff"},
        a={"type": "text", "renamed_from": "name"},
        b={"type": "text", "renamed_from": "b"},
        c={"type": "text", "renamed_from": "old_c"},
    )
    assert [(p.loc[2:], p.code) for p in found] == [
        (("renamed_from",), "entity.renamed_from_current"),
        (("fields", "a", "renamed_from"), "field.renamed_from_current"),
        (("fields", "b", "renamed_from"), "field.renamed_from_itself"),
    ]


def test_all_problems_are_reported_not_just_the_first():
    found = problems(a={"type": "txt"}, b={"type": "link", "to": "x"}, c={"type": "text", "compute": "nope"})
    assert [p.code for p in found] == ["field.unknown_type", "field.unknown_entity", "expression.unknown_name"]


def test_a_user_field_may_default_to_the_signed_in_account():
    assert problems(owner={"type": "user", "default": "user.id"}) == []


def test_entity_scope_is_what_the_record_service_evaluates_in():
    from engines.forms import entity_names, entity_scope
    from engines.rules import compile_expression

    specs = entities(**BASE)
    assert entity_names(specs, "patient", user=True) >= {"name", "age", "id", "user", "primary_doctor"}
    assert "user" not in entity_names(specs, "staff")  # at the root `user` is the account, never the field
    expression = compile_expression("primary_doctor.user == user.id", scope=entity_scope(specs, "patient", user=True))
    assert expression.evaluate({"primary_doctor": {"user": 7}, "user": {"id": 7}}) is True
