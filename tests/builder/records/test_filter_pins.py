"""What a link's filter pins on a new target record (a quick-create's prefill), read as the SQL clause reads it."""

from __future__ import annotations

import pytest

from builder.records.rowfilter import pinned_columns

DEPARTMENT = "record.department == null or department == record.department"


@pytest.mark.parametrize(
    ("source", "user", "record", "pinned"),
    [
        (DEPARTMENT, {}, {"department": "dental"}, {"department": "dental"}),
        (DEPARTMENT, {}, {}, {}),  # no department yet: every doctor passes, nothing is pinned
        ("active == true", {}, {}, {"active": True}),
        ("active", {}, {}, {"active": True}),
        ("role == 'doctor' and active == true", {}, {}, {"role": "doctor", "active": True}),
        ("'doctor' == role", {}, {}, {"role": "doctor"}),
        ("role in ['doctor']", {}, {}, {"role": "doctor"}),
        ("role == 'doctor' or role == 'nurse'", {}, {}, {}),  # either: the user chooses
        ("(role == 'doctor' and active) or (role == 'doctor' and floor == 2)", {}, {}, {"role": "doctor"}),
        ("account == user.id", {"id": 7}, {}, {"account": 7}),
        ("account == user.id", {}, {}, {}),  # no such user value: nothing passes, nothing pinned
        ("role == 'doctor' and role == 'nurse'", {}, {}, {}),  # contradiction
        ("age > 30 and role != 'intern'", {}, {}, {}),
        ("not (role == 'doctor')", {}, {}, {}),
        ("department.active == true and role == 'doctor'", {}, {}, {"role": "doctor"}),  # a hop pins nothing
        ("department == record.department", {}, {}, {}),  # empty record value: compares false
        ("department == null", {}, {}, {}),
    ],
)
def test_pinned_columns(source, user, record, pinned):
    assert pinned_columns(source, user, record) == pinned
