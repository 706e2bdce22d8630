# SPDX-License-Identifier: MIT
"""Every method of the sync client against a real sbxd --dev."""

import hashlib
import os
import threading
import time

import pytest

import sbx_client
from sbx_client import (Accepted, Client, Exit, Hello, Output, RunResult, Sealed, Started, Stats,
                        TaskInfo)

from sbxtest import CANARY


def test_hello(client):
    h = client.hello()
    assert isinstance(h, Hello)
    assert h.protocol == sbx_client.PROTOCOL_VERSION == 1
    assert h.version
    assert h.peer.uid == os.geteuid() == 0
    assert h.peer.pid == os.getpid()
    assert set(h.ops) == {"hello", "seal", "rewrap", "run", "cancel", "list", "stats"}


def test_seal_returns_a_blob_with_its_key(client):
    blob = client.seal("tenant:1/task:1", {"anthropic-api-key": CANARY})
    assert isinstance(blob, Sealed) and isinstance(blob, str)
    assert blob.startswith("sbx1:")
    assert blob.key_id == 1
    assert blob.rewrapped is None
    assert CANARY not in blob and CANARY not in repr(blob)
    # A fresh nonce each time.
    assert client.seal("tenant:1/task:1", {"X_API_KEY": CANARY}) != client.seal(
        "tenant:1/task:1", {"X_API_KEY": CANARY})


def test_run_sees_the_secret_and_output_is_redacted(client):
    ctx = "tenant:1/task:2"
    blob = client.seal(ctx, {"anthropic-api-key": CANARY})
    digest = hashlib.sha256(CANARY.encode()).hexdigest()
    r = client.run("default", ["/bin/sh", "-c",
                               'printf "%s" "$ANTHROPIC_API_KEY" | sha256sum; '
                               'echo "len=${#ANTHROPIC_API_KEY}"; echo "raw=$ANTHROPIC_API_KEY"; '
                               'echo "err=$ANTHROPIC_API_KEY" >&2'],
                   sealed=blob, context=ctx)
    assert isinstance(r, RunResult)
    assert r.ok and r.exit_code == 0 and r.signal is None and r.reason == "exited"
    out = r.stdout.decode()
    assert digest in out                       # the payload got exactly the value
    assert f"len={len(CANARY)}" in out
    assert "raw=[REDACTED:ANTHROPIC_API_KEY]" in out
    assert r.stderr == b"err=[REDACTED:ANTHROPIC_API_KEY]\n"
    assert CANARY.encode() not in r.stdout + r.stderr
    assert CANARY not in repr(r) and CANARY not in str(r)


def test_run_result_fields(client):
    r = client.run("default", ["/bin/sh", "-c", "cat; echo oops >&2; exit 3"],
                   env={"APP_MODE": "demo", "LANG": "C"}, stdin=b"hello\n", timeout_ms=10000,
                   cwd="/tmp")
    assert r.exit_code == 3 and not r.ok
    assert r.reason == "exited"
    assert r.stdout == b"hello\n" and r.stderr == b"oops\n"
    assert r.task.startswith("sbxd-")
    assert r.pid > 0 and r.uid > 0
    assert r.duration_ms >= 0 and r.cpu_ms >= 0 and r.max_rss_kb > 0
    assert r.output_truncated is False
    assert "<6 bytes>" in repr(r)


def test_run_env_cwd_and_str_stdin(client):
    r = client.run("default", ["/bin/sh", "-c", 'echo "$APP_MODE $(pwd)"; cat'],
                   env={"APP_MODE": "x"}, cwd="/tmp", stdin="é\n")
    assert r.stdout == "x /tmp\né\n".encode()


def test_run_binary_output(client):
    r = client.run("default", ["/bin/sh", "-c", "printf '\\000\\377\\001'"])
    assert r.stdout == b"\x00\xff\x01"


def test_run_large_output_in_chunks(client):
    n = 3 * 1024 * 1024
    r = client.run("default", ["/bin/sh", "-c", f"head -c {n} /dev/zero"])
    assert r.ok and r.stdout == b"\0" * n


def test_run_signaled(client):
    r = client.run("default", ["/bin/sh", "-c", "kill -TERM $$"])
    assert r.exit_code is None and r.signal == 15 and r.reason == "signaled"


def test_run_timeout_ms(client):
    t0 = time.monotonic()
    r = client.run("default", ["/bin/sleep", "30"], timeout_ms=300)
    assert r.reason == "timeout" and r.signal == 9 and r.exit_code is None
    assert time.monotonic() - t0 < 10


def test_stream_events_in_order(client):
    evs = list(client.stream("default", ["/bin/sh", "-c", "echo a; sleep 0.2; echo b >&2"]))
    assert isinstance(evs[0], Accepted)
    assert isinstance(evs[1], Started) and evs[1].pid > 0
    assert isinstance(evs[-1], Exit) and evs[-1].code == 0 and evs[-1].reason == "exited"
    outs = [e for e in evs if isinstance(e, Output)]
    assert b"".join(e.data for e in outs if e.stream == "stdout") == b"a\n"
    assert b"".join(e.data for e in outs if e.stream == "stderr") == b"b\n"
    assert len({e.task for e in evs}) == 1
    assert "data=<" in repr(outs[0])


def test_rewrap_under_primary_is_unchanged(client):
    blob = client.seal("tenant:1/task:3", {"X_API_KEY": CANARY})
    again = client.rewrap("tenant:1/task:3", blob)
    assert again == blob and again.rewrapped is False and again.key_id == 1


def test_ps_and_cancel(client, sbxd):
    got = {}

    def runner():
        got["r"] = client.run("default", ["/bin/sleep", "30"])

    t = threading.Thread(target=runner)
    t.start()
    deadline = time.monotonic() + 10
    tasks = []
    while time.monotonic() < deadline:
        tasks = [x for x in client.ps() if x.state == "running" and x.pid]
        if tasks:
            break
        time.sleep(0.02)
    assert tasks, "the task never showed in ps"
    info = tasks[0]
    assert isinstance(info, TaskInfo)
    assert info.policy == "default" and info.client_uid == 0 and info.uid > 0
    # Cancel from another connection of the same uid.
    with Client(sbxd.socket) as other:
        other.cancel(info.task)
    t.join(10)
    assert not t.is_alive()
    r = got["r"]
    assert r.task == info.task and r.reason == "cancelled" and r.signal == 9
    assert info.task not in [x.task for x in client.ps()]


def test_stream_cancel_while_running(client):
    evs = []
    for ev in client.stream("default", ["/bin/sh", "-c", "echo up; exec sleep 30"]):
        evs.append(ev)
        if isinstance(ev, Output):
            client.cancel(ev.task)
    assert evs[-1].reason == "cancelled"


def test_leaving_a_stream_early_cancels_the_task(client):
    task = None
    for ev in client.stream("default", ["/bin/sleep", "30"]):
        if isinstance(ev, Started):
            task = ev.task
            break
    assert task
    deadline = time.monotonic() + 10
    while task in [x.task for x in client.ps()]:
        assert time.monotonic() < deadline, "the abandoned task still runs"
        time.sleep(0.02)
    # The connection is still usable.
    assert client.run("default", ["/bin/true"]).ok


def test_wait_timeout_cancels(client):
    t0 = time.monotonic()
    with pytest.raises(sbx_client.RequestTimeout) as ei:
        client.run("default", ["/bin/sleep", "30"], wait_timeout=0.5)
    assert isinstance(ei.value, TimeoutError)
    assert ei.value.code == "client_timeout"
    assert time.monotonic() - t0 < 5
    deadline = time.monotonic() + 10
    while any(x.state == "running" for x in client.ps()):
        assert time.monotonic() < deadline, "the timed-out task still runs"
        time.sleep(0.02)


def test_stats(client):
    client.hello()
    s = client.stats()
    assert isinstance(s, Stats)
    assert s.connections >= 1 and s.requests >= 1 and s.clients >= 1
    assert isinstance(s.errors, dict)


def test_call_raw(client):
    r = client.call("hello")
    assert r["ok"] is True and r["protocol"] == 1
    with pytest.raises(ValueError):
        client.call("run", policy="default", argv=["/bin/true"])


def test_connection_is_reused(client):
    client.hello()
    conn = client._conn
    for _ in range(5):
        client.hello()
        client.run("default", ["/bin/true"])
    assert client._conn is conn


def test_close_and_reuse(sbxd):
    c = Client(sbxd.socket)
    assert c.hello().protocol == 1
    c.close()
    assert c.hello().protocol == 1   # reconnects
    c.close()


def test_default_socket_from_env(sbxd, monkeypatch):
    monkeypatch.setenv("SBX_SOCKET", sbxd.socket)
    with Client() as c:
        assert c.socket_path == sbxd.socket
        assert c.hello().protocol == 1


def test_stdin_large(client):
    data = os.urandom(256 * 1024)
    r = client.run("default", ["/bin/cat"], stdin=data)
    assert r.stdout == data


def test_sealed_is_picklable_and_a_str():
    import pickle
    s = Sealed("sbx1:abc", 3, True)
    t = pickle.loads(pickle.dumps(s))
    assert t == "sbx1:abc" and t.key_id == 3 and t.rewrapped is True


def test_event_order_accepted_started_output_exit(client):
    # docs/protocol.md: accepted, started, output..., exit. A fast payload writes before its
    # init reports the exec; sbxd must still send started first.
    for i in range(40):
        names = [type(e).__name__ for e in client.stream("default", ["/bin/echo", str(i)])]
        assert names[:2] == ["Accepted", "Started"], names
        assert names[-1] == "Exit" and set(names[2:-1]) <= {"Output"}, names
