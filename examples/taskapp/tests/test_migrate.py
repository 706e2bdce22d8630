# SPDX-License-Identifier: MIT
"""migrate-fernet: a database of the old Fernet-based app becomes one of sealed blobs."""

import hashlib
import json
import sqlite3

import pytest
from cryptography.fernet import Fernet

from apptest import CANARIES, CANARY_A, CANARY_B, cli, files_bytes

CANARY_C = "sk-openai-canary-CCCC-NOT-REAL"
ALL = (*CANARIES, CANARY_C)

# The old app's table, as it was (no sealed column, command as a shell line or JSON argv).
OLD_SCHEMA = """
CREATE TABLE tasks (
    id INTEGER PRIMARY KEY,
    user_id INTEGER NOT NULL,
    command TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'pending',
    encrypted_api_keys TEXT,
    created_at TEXT
)
"""

SHOW = ('printf "A=%s B=%s C=%s raw=%s\\n" '
        '"$(printf %s "${ANTHROPIC_API_KEY:-}" | sha256sum | cut -c1-16)" '
        '"$(printf %s "${GITHUB_TOKEN:-}" | sha256sum | cut -c1-16)" '
        '"$(printf %s "${OPENAI_API_KEY:-}" | sha256sum | cut -c1-16)" '
        '"${ANTHROPIC_API_KEY:-}${OPENAI_API_KEY:-}"')


def h(s):
    return hashlib.sha256(s.encode()).hexdigest()[:16]


@pytest.fixture
def old_db(tmp_path):
    """A database filled the way the old app did: Fernet tokens of JSON objects of keys."""
    key = Fernet.generate_key()
    f = Fernet(key)
    other = Fernet(Fernet.generate_key())
    db = tmp_path / "data" / "old.db"
    db.parent.mkdir()
    conn = sqlite3.connect(db)
    conn.execute(OLD_SCHEMA)
    rows = [
        (1, 10, SHOW, f.encrypt(json.dumps({"anthropic_api_key": CANARY_A,
                                            "github_token": CANARY_B}).encode()).decode()),
        (2, 11, json.dumps(["/bin/sh", "-c", SHOW]),
         f.encrypt(json.dumps({"OPENAI_API_KEY": CANARY_C}).encode()).decode()),
        (3, 10, "echo no keys", None),
        (4, 12, SHOW, other.encrypt(b'{"ANTHROPIC_API_KEY": "sk-ant-wrong-key-fake"}').decode()),
        (5, 12, SHOW, f.encrypt(b'["not", "an", "object"]').decode()),
    ]
    with conn:
        conn.executemany("INSERT INTO tasks (id, user_id, command, encrypted_api_keys, "
                         "created_at) VALUES (?, ?, ?, ?, '2024-01-01')", rows)
    conn.close()
    keyfile = tmp_path / "fernet.key"
    keyfile.write_bytes(key + b"\n")
    keyfile.chmod(0o600)
    tokens = {r[0]: r[3] for r in rows if r[3]}
    return db, keyfile, tokens


def test_migrate_fernet_then_run_through_the_app(sbxd, old_db):
    from fastapi.testclient import TestClient
    from taskapp.app import create_app

    db, keyfile, tokens = old_db
    rc, out = cli("migrate-fernet", "--fernet-key-file", str(keyfile), "--keyring",
                  str(sbxd.keyring), "--sbxctl", sbxd.sbxctl, db=db, check=1)
    assert "task 4: bad_hmac" in out and "task 5: bad_json" in out
    assert "2 converted, 2 failed" in out

    conn = sqlite3.connect(db)
    rows = {r[0]: r[1:] for r in conn.execute(
        "SELECT id, sealed_api_keys, encrypted_api_keys FROM tasks")}
    assert rows[1][0].startswith("sbx1:") and rows[1][1] is None
    assert rows[2][0].startswith("sbx1:") and rows[2][1] is None
    assert rows[3] == (None, None)
    assert rows[4] == (None, tokens[4]) and rows[5] == (None, tokens[5])  # left for a human
    raw = files_bytes(db.parent)
    for c in ALL:
        assert c.encode() not in raw
    for i in (1, 2):   # converted tokens are gone from the file, not only from the table
        assert tokens[i].encode() not in raw

    # A second run converts nothing more and changes nothing.
    rc, out = cli("migrate-fernet", "--fernet-key-file", str(keyfile), "--keyring",
                  str(sbxd.keyring), "--sbxctl", sbxd.sbxctl, db=db, check=1)
    assert "0 converted, 2 failed" in out
    assert sqlite3.connect(db).execute("SELECT sealed_api_keys FROM tasks WHERE id = 1"
                                       ).fetchone()[0] == rows[1][0]

    # The migrated rows run through the new app: the sandbox gets the keys.
    app = create_app(str(db), sbxd.socket)
    with TestClient(app) as http:
        resp = [http.post("/tasks/1/run"), http.post("/tasks/2/run"), http.post("/tasks/3/run"),
                http.get("/tasks/1"), http.get("/tasks")]
        t1, t2, t3 = (r.json() for r in resp[:3])
        assert t1["exit_code"] == 0, t1
        assert f"A={h(CANARY_A)} B={h(CANARY_B)} C={h('')}" in t1["stdout"]
        assert "raw=[REDACTED:ANTHROPIC_API_KEY]" in t1["stdout"]
        assert f"A={h('')} B={h('')} C={h(CANARY_C)}" in t2["stdout"]
        assert "raw=[REDACTED:OPENAI_API_KEY]" in t2["stdout"]
        assert t3["stdout"] == "no keys\n" and t3["has_api_keys"] is False
        assert resp[3].json()["has_api_keys"] is True and resp[3].json()["api_key_names"] is None
        text = "\n".join(r.text for r in resp)
        for c in ALL:
            assert c not in text
        assert "sbx1:" not in text and "gAAAA" not in text   # neither blobs nor tokens
    for c in ALL:
        assert c.encode() not in files_bytes(db.parent)


def test_migrate_fernet_all_good_exits_0(sbxd, old_db):
    db, keyfile, tokens = old_db
    conn = sqlite3.connect(db)
    with conn:
        conn.execute("DELETE FROM tasks WHERE id IN (4, 5)")
    rc, out = cli("migrate-fernet", "--fernet-key-file", str(keyfile), "--keyring",
                  str(sbxd.keyring), "--sbxctl", sbxd.sbxctl, db=db, check=0)
    assert "2 converted, 0 failed" in out and "destroy the Fernet key" in out
    rc, out = cli("migrate-fernet", "--fernet-key-file", str(keyfile), "--keyring",
                  str(sbxd.keyring), "--sbxctl", sbxd.sbxctl, db=db, check=0)
    assert "no Fernet tokens left" in out


def test_migrate_fernet_wrong_key_file_changes_nothing(sbxd, old_db, tmp_path):
    db, _, tokens = old_db
    bad = tmp_path / "bad.key"
    bad.write_text("not a fernet key\n")
    rc, out = cli("migrate-fernet", "--fernet-key-file", str(bad), "--keyring",
                  str(sbxd.keyring), "--sbxctl", sbxd.sbxctl, db=db, check=1)
    assert "nothing changed" in out
    left = dict(sqlite3.connect(db).execute(
        "SELECT id, encrypted_api_keys FROM tasks WHERE encrypted_api_keys IS NOT NULL"))
    assert left == tokens
