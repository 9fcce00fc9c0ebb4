"""A renamed encrypted field's values decrypt under its old name while `crm migrate` re-encrypts them in batches,
and nothing else is loosened: other fields stay bound to their own name (records/codec.py, PreviousNames)."""

from __future__ import annotations

import pytest

from builder.records.codec import previous_contexts, with_previous_names
from builder.storage.crypto import DecryptionError, Keyring
from engines.forms import EntitySpec

ENTITIES = {
    "client": EntitySpec.model_validate(
        {
            "renamed_from": "patient",
            "fields": {
                "full_id": {"type": "text", "encrypted": True, "renamed_from": "id_no"},
                "id_no": {"type": "text", "encrypted": True},  # a new field under the old name
                "note": {"type": "text"},
                "meds": {
                    "type": "table",
                    "renamed_from": "drugs",
                    "fields": {"dose": {"type": "text", "encrypted": True}},
                },
            },
        }
    )
}


def test_the_old_names_come_from_renamed_from_of_entities_fields_and_child_tables():
    assert previous_contexts(ENTITIES) == {
        "client.full_id": ("patient.full_id", "patient.id_no"),  # not client.id_no: a field of today
        "client.id_no": ("patient.id_no",),
        "client__meds.dose": ("client__drugs.dose", "patient__drugs.dose", "patient__meds.dose"),
    }
    plain = {"visit": EntitySpec.model_validate({"fields": {"note": {"type": "text", "encrypted": True}}})}
    keyring = Keyring.generate()
    assert previous_contexts(plain) == {} and with_previous_names(keyring, plain) is keyring


def test_a_value_still_under_the_old_name_decrypts_and_one_from_another_field_does_not():
    keyring = Keyring.generate()
    cipher = with_previous_names(keyring, ENTITIES)
    assert cipher is not None
    assert cipher.decrypt(keyring.encrypt("110101", "patient.id_no"), "client.full_id") == "110101"
    assert cipher.decrypt(keyring.encrypt("110101", "client.full_id"), "client.full_id") == "110101"
    assert cipher.decrypt(keyring.encrypt("5 mg", "patient__drugs.dose"), "client__meds.dose") == "5 mg"
    for token, context in [
        (keyring.encrypt("110101", "client.id_no"), "client.full_id"),  # copied from a live field
        (keyring.encrypt("110101", "patient.full_id"), "client.id_no"),  # another field's old name
        (keyring.encrypt("5 mg", "patient.id_no"), "client__meds.dose"),
    ]:
        with pytest.raises(DecryptionError):
            cipher.decrypt(token, context)
    assert cipher.blind_index("110101") == keyring.blind_index("110101")
    assert cipher.active_key_id == keyring.active_key_id
