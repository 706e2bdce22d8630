# SPDX-License-Identifier: MIT
"""The reference app end to end: HTTP API, SQLite, a real sbxd, rotation and rewrap."""

import hashlib
import re
import sqlite3

from apptest import CANARIES, CANARY_A, CANARY_B, cli, files_bytes

# Prints what the sandbox got: length and hash of each key, and the raw value (which sbxd
# redacts from the output).
SHOW = ('for v in ANTHROPIC_API_KEY GITHUB_TOKEN; do eval "x=\\${$v:-}"; '
        'printf "%s len=%s sha=%s raw=%s\\n" "$v" "${#x}" '
        '"$(printf %s "$x" | sha256sum | cut -c1-64)" "$x"; done')


def sha(s):
    return hashlib.sha256(s.encode()).hexdigest()


def seen(responses):
    text = "\n".join(r.text for r in responses)
    for c in CANARIES:
        assert c not in text, "a key value reached an API response"
    return text


def create(http, keys=None, command=None, **kw):
    body = {"command": command or ["/bin/sh", "-c", SHOW], **kw}
    if keys is not None:
        body["api_keys"] = keys
    return http.post("/tasks", json=body)


def test_create_run_get_never_show_the_keys(app_env):
    http, db, _ = app_env
    resp = []
    r = create(http, {"anthropic-api-key": CANARY_A, "GITHUB_TOKEN": CANARY_B})
    resp.append(r)
    assert r.status_code == 201, r.text
    t = r.json()
    assert t["has_api_keys"] is True
    assert t["api_key_names"] == ["ANTHROPIC_API_KEY", "GITHUB_TOKEN"]
    assert t["status"] == "created" and "sealed_api_keys" not in t
    assert not any(isinstance(v, str) and v.startswith("sbx1:") for v in t.values())

    r = http.post(f"/tasks/{t['id']}/run")
    resp.append(r)
    assert r.status_code == 200, r.text
    done = r.json()
    assert done["status"] == "finished" and done["exit_code"] == 0 and done["reason"] == "exited"
    out = done["stdout"]
    # The sandbox saw both keys, exactly ...
    assert f"ANTHROPIC_API_KEY len={len(CANARY_A)} sha={sha(CANARY_A)}" in out
    assert f"GITHUB_TOKEN len={len(CANARY_B)} sha={sha(CANARY_B)}" in out
    # ... and their values were redacted from what came back.
    assert "raw=[REDACTED:ANTHROPIC_API_KEY]" in out and "raw=[REDACTED:GITHUB_TOKEN]" in out

    resp.append(http.get(f"/tasks/{t['id']}"))
    resp.append(http.get("/tasks"))
    assert resp[-2].json()["stdout"] == out
    assert len(resp[-1].json()) == 1
    seen(resp)

    # The database holds the blob, bound to this row, and no key.
    row = sqlite3.connect(db).execute("SELECT sealed_api_keys FROM tasks WHERE id = ?",
                                      (t["id"],)).fetchone()
    assert row[0].startswith("sbx1:")
    raw = files_bytes(db.parent)
    for c in CANARIES:
        assert c.encode() not in raw, "a key value reached the database file"
    assert b"REDACTED" in raw      # the (redacted) output is stored


def test_task_without_keys_and_failing_command(app_env):
    http, _, _ = app_env
    t = create(http, None, ["/bin/sh", "-c", "echo out; echo err >&2; exit 7"]).json()
    assert t["has_api_keys"] is False and t["api_key_names"] is None
    r = http.post(f"/tasks/{t['id']}/run").json()
    assert r["exit_code"] == 7 and r["stdout"] == "out\n" and r["stderr"] == "err\n"


def test_blob_copied_to_another_row_does_not_open(app_env):
    http, db, _ = app_env
    a = create(http, {"ANTHROPIC_API_KEY": CANARY_A}).json()
    b = create(http, {"ANTHROPIC_API_KEY": "sk-ant-other-fake"}).json()
    conn = sqlite3.connect(db)
    with conn:
        conn.execute("UPDATE tasks SET sealed_api_keys = "
                     "(SELECT sealed_api_keys FROM tasks WHERE id = ?) WHERE id = ?",
                     (a["id"], b["id"]))
    r = http.post(f"/tasks/{b['id']}/run")
    assert r.status_code == 409
    assert r.json()["detail"]["code"] == "decrypt_failed"
    g = http.get(f"/tasks/{b['id']}").json()
    assert g["status"] == "error" and g["error"]["code"] == "decrypt_failed"
    seen([r])


def test_bad_requests_do_not_echo_keys(app_env):
    http, db, _ = app_env
    resp = []
    r = create(http, {"LD_PRELOAD": CANARY_A})            # reserved name: sbxd refuses
    resp.append(r)
    assert r.status_code == 400 and r.json()["detail"]["code"] == "bad_request"
    assert "LD_PRELOAD" in r.text
    r = http.post("/tasks", json={"command": [], "api_keys": {"X_API_KEY": CANARY_A}})
    resp.append(r)
    assert r.status_code == 422
    r = http.post("/tasks", json={"command": ["true"], "api_keys": {"X_API_KEY": [CANARY_A]}})
    resp.append(r)
    assert r.status_code == 422
    r = http.post("/tasks", json={"command": ["true"], "api_keys": {"X_API_KEY": CANARY_A},
                                  "extra": CANARY_B})
    resp.append(r)
    assert r.status_code == 422
    seen(resp)
    # Nothing was stored by the refused creations.
    assert http.get("/tasks").json() == []
    r = create(http, {"X_API_KEY": CANARY_A}, policy="nope").json()
    r = http.post(f"/tasks/{r['id']}/run")
    assert r.status_code == 400 and r.json()["detail"]["code"] == "policy_unknown"
    assert http.get("/tasks/999").status_code == 404
    for c in CANARIES:
        assert c.encode() not in files_bytes(db.parent)


def test_health(app_env):
    http, _, _ = app_env
    r = http.get("/health")
    assert r.status_code == 200 and r.json()["protocol"] == 1


def test_rotation_then_rewrap_then_retire(app_env):
    http, db, d = app_env
    ids = [create(http, {"ANTHROPIC_API_KEY": CANARY_A, "GITHUB_TOKEN": CANARY_B}).json()["id"]
           for _ in range(3)]
    ids.append(create(http, None, ["/bin/true"]).json()["id"])   # no blob: skipped

    def blobs():
        return dict(sqlite3.connect(db).execute(
            "SELECT id, sealed_api_keys FROM tasks WHERE sealed_api_keys IS NOT NULL"))

    def key_id(blob):
        out = d.sbxctl_run("sealed", "inspect", blob).stdout.decode()
        return int(re.search(r"key_id: (\d+)", out).group(1))

    before = blobs()
    assert len(before) == 3
    d.keys("rotate")
    d.reload()
    rc, out = cli("rewrap", db=db, socket=d.socket, check=0)
    assert "3 rewrapped, 0 already under the primary key, 0 failed" in out
    after = blobs()
    assert all(after[i] != before[i] for i in after)
    assert [key_id(b) for b in before.values()] == [1, 1, 1]
    assert [key_id(b) for b in after.values()] == [2, 2, 2]
    rc, out = cli("rewrap", db=db, socket=d.socket, check=0)  # idempotent
    assert "0 rewrapped, 3 already under the primary key" in out
    assert blobs() == after

    # Key 1 retired: the rewrapped tasks still run; an old blob does not.
    d.keys("retire", "1")
    d.reload()
    r = http.post(f"/tasks/{ids[0]}/run").json()
    assert r["exit_code"] == 0 and f"sha={sha(CANARY_A)}" in r["stdout"]
    conn = sqlite3.connect(db)
    with conn:
        conn.execute("UPDATE tasks SET sealed_api_keys = ? WHERE id = ?",
                     (before[ids[1]], ids[1]))
    r = http.post(f"/tasks/{ids[1]}/run")
    assert r.status_code == 409 and r.json()["detail"]["code"] == "key_retired"
    rc, out = cli("rewrap", db=db, socket=d.socket, check=1)
    assert f"task {ids[1]}: key_retired" in out and "1 failed" in out
    seen([r])
    for c in CANARIES:
        assert c.encode() not in files_bytes(db.parent)
