"""Field encryption: tokens, tampering, contexts, the blind index, key files and rotation."""

from __future__ import annotations

import json
import stat

import pytest
import sqlalchemy as sa
from storage_helpers import insert, rows

from builder.errors import ProjectError
from builder.storage.crypto import DecryptionError, Keyring, KeyringError, field_context, key_id_of
from builder.storage.database import make_engine
from builder.storage.keys import ENV_VARIABLE
from builder.storage.migrations import apply_migration, plan_migration
from builder.storage.rotation import prune_keys, rotate_keys, values_by_key
from builder.storage.tables import build_schema, hash_column

SECRET = "110105194912310025"
CONTEXT = field_context("patient", "id_number")

ENCRYPTED = """
patient:
  fields:
    name: {type: text}
    id_number: {type: cn_resident_id, encrypted: true, unique: true}
visit:
  fields:
    note: {type: text}
    prescriptions:
      type: table
      fields:
        code: {type: text, encrypted: true}
"""


@pytest.fixture(autouse=True)
def no_keys_in_environment(monkeypatch):
    monkeypatch.delenv(ENV_VARIABLE, raising=False)


def test_round_trip_and_token_format(keyring):
    token = keyring.encrypt(SECRET, CONTEXT)
    assert token.startswith("v1:k1:") and SECRET not in token
    assert keyring.decrypt(token, CONTEXT) == SECRET
    assert keyring.encrypt(SECRET, CONTEXT) != token, "a fresh nonce every time"
    assert key_id_of(token) == "k1"


def test_tampered_token_is_our_error(keyring):
    token = keyring.encrypt(SECRET, CONTEXT)
    head, body = token.rsplit(":", 1)
    flipped = body[:-2] + ("A" if body[-2] != "A" else "B") + body[-1]
    with pytest.raises(DecryptionError, match="altered"):
        keyring.decrypt(f"{head}:{flipped}", CONTEXT)
    with pytest.raises(DecryptionError, match="not an encrypted token"):
        keyring.decrypt("plain text", CONTEXT)


def test_ciphertext_copied_to_another_field_does_not_decrypt(keyring):
    token = keyring.encrypt(SECRET, CONTEXT)
    with pytest.raises(DecryptionError, match="copied from another field"):
        keyring.decrypt(token, field_context("patient", "phone"))


def test_unknown_key_id_names_the_key(keyring):
    token = keyring.encrypt(SECRET, CONTEXT).replace("v1:k1:", "v1:k9:")
    with pytest.raises(DecryptionError, match="key `k9`"):
        keyring.decrypt(token, CONTEXT)


def test_blind_index_normalises_and_is_keyed(keyring):
    index = keyring.blind_index("11010519491231002X")
    assert len(index) == 64 and int(index, 16) >= 0
    assert keyring.blind_index(" 11010519491231002x ") == index
    assert keyring.blind_index("１１０１０５１９４９１２３１００２X") == index  # full-width digits
    assert Keyring.generate().blind_index("11010519491231002X") != index


def test_generate_writes_a_private_file_and_never_overwrites(tmp_path):
    path = tmp_path / "keys" / "crm-keys.json"
    keyring = Keyring.generate(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    loaded = Keyring.load(path)
    assert loaded.decrypt(keyring.encrypt(SECRET, CONTEXT), CONTEXT) == SECRET
    with pytest.raises(KeyringError, match="already exists"):
        Keyring.generate(path)


def test_environment_variable_wins(tmp_path, monkeypatch):
    from_env = Keyring.generate()
    monkeypatch.setenv(ENV_VARIABLE, from_env.to_json())
    loaded = Keyring.load(tmp_path / "missing.json")
    assert loaded.blind_index("x") == from_env.blind_index("x")


@pytest.mark.parametrize(
    "content, message",
    [
        ("not json", "not valid JSON"),
        ('{"format": "other"}', "not a crm-keys version 1 document"),
        (
            '{"format": "crm-keys", "version": 1, "active": "k1", "keys": {"k1": "c2hvcnQ="}, "index_key": "x"}',
            "must be 32 bytes",
        ),
        (
            '{"format": "crm-keys", "version": 1, "active": ["k1"], "keys": {"k1": "%s"}}' % ("A" * 43 + "="),
            "the active key `\\['k1'\\]` is not among the keys",
        ),  # was a TypeError (unhashable list)
    ],
)
def test_corrupt_key_file_is_a_clear_error(tmp_path, content, message):
    path = tmp_path / "keys.json"
    path.write_text(content)
    with pytest.raises(KeyringError, match=message) as error:
        Keyring.load(path)
    assert isinstance(error.value, ProjectError) and str(path) in str(error.value)


def test_missing_keys_are_a_clear_error(tmp_path):
    with pytest.raises(KeyringError, match="does not exist"):
        Keyring.load(tmp_path / "nope.json")
    with pytest.raises(KeyringError, match=ENV_VARIABLE):
        Keyring.load(None)


def test_plaintext_never_reaches_the_database_file(tmp_path, keyring):
    path = tmp_path / "clinic.sqlite3"
    engine = make_engine(f"sqlite:///{path}")
    schema = build_schema({"patient": _entities(tmp_path)["patient"]})
    schema.metadata.create_all(engine)
    insert(
        engine,
        "patient",
        {
            "name": "Ann",
            "id_number": keyring.encrypt(SECRET, CONTEXT),
            hash_column("id_number"): keyring.blind_index(SECRET),
        },
    )
    engine.dispose()  # checkpoint the WAL into the file
    raw = path.read_bytes() + (
        path.with_name(path.name + "-wal").read_bytes() if path.with_name(path.name + "-wal").exists() else b""
    )
    assert b"Ann" in raw, "the unencrypted name is there, so the bytes were really read"
    assert SECRET.encode() not in raw
    engine = make_engine(f"sqlite:///{path}")
    table = schema.table("patient")
    with engine.connect() as connection:
        found = connection.execute(
            sa.select(table.c.id_number).where(table.c[hash_column("id_number")] == keyring.blind_index(SECRET.lower()))
        ).scalar_one()
    assert keyring.decrypt(found, CONTEXT) == SECRET
    engine.dispose()


def _entities(tmp_path):
    from builder.loading import load_blueprint

    path = tmp_path / "encrypted.yaml"
    path.write_text("app: {name: test_clinic}\nentities:" + ENCRYPTED.replace("\n", "\n  "), encoding="utf-8")
    return load_blueprint(path).blueprint.entities


def test_rotation_reencrypts_everything_and_keeps_old_keys_until_pruned(engine, tmp_path):
    entities = _entities(tmp_path)
    apply_migration(engine, plan_migration(engine, entities))
    key_path = tmp_path / "keys.json"
    keyring = Keyring.generate(key_path)
    ids = [f"11010519491231{n:03d}5" for n in range(7)]
    insert(
        engine,
        "patient",
        *[
            {"name": f"p{n}", "id_number": keyring.encrypt(v, CONTEXT), "id_number__hash": keyring.blind_index(v)}
            for n, v in enumerate(ids)
        ],
    )
    insert(engine, "visit", {"note": "first"})
    child_context = field_context("visit__prescriptions", "code")
    insert(engine, "visit__prescriptions", {"parent_id": 1, "code": keyring.encrypt("RX-1", child_context)})
    old_tokens = rows(engine, "patient", "id_number")
    schema = build_schema(entities)

    assert rotate_keys(engine, schema, entities, keyring, key_path) == 8
    saved = Keyring.load(key_path)
    assert saved.active_key_id == "k2" and saved.key_ids == ["k1", "k2"]
    assert values_by_key(engine, schema, entities, ["k1", "k2"]) == {"k2": 8}
    new_tokens = rows(engine, "patient", "id_number", "id_number__hash")
    assert [saved.decrypt(t, CONTEXT) for t, _ in new_tokens] == ids
    assert [h for _, h in new_tokens] == [saved.blind_index(v) for v in ids], "search survives rotation"
    assert saved.decrypt(old_tokens[0][0], CONTEXT) == ids[0], "old key kept for rollback"
    [(code,)] = rows(engine, "visit__prescriptions", "code")
    assert saved.decrypt(code, child_context) == "RX-1"

    assert rotate_keys(engine, schema, entities, saved, key_path, prune=True) == 8
    pruned = Keyring.load(key_path)
    assert pruned.key_ids == ["k3"]
    assert [pruned.decrypt(t, CONTEXT) for (t,) in rows(engine, "patient", "id_number")] == ids
    with pytest.raises(DecryptionError):
        pruned.decrypt(old_tokens[0][0], CONTEXT)


def test_prune_refuses_while_old_keys_are_in_use(engine, tmp_path):
    entities = _entities(tmp_path)
    apply_migration(engine, plan_migration(engine, entities))
    key_path = tmp_path / "keys.json"
    keyring = Keyring.generate(key_path)
    insert(engine, "patient", {"id_number": keyring.encrypt(SECRET, CONTEXT)})
    keyring.add_key()
    with pytest.raises(ProjectError, match="k1: 1 values"):
        prune_keys(engine, build_schema(entities), entities, keyring, key_path)
    assert json.loads(key_path.read_text())["keys"].keys() == {"k1"}
