# SPDX-License-Identifier: MIT
"""Every error class that can be provoked for real, each from a real sbxd."""

import base64
import os
import socket
import struct
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

import sbx_client
from sbx_client import Client, SbxError

from sbxtest import CANARY, ROOT, finish, start


def check(ei, cls, code, *words):
    e = ei.value
    assert type(e) is cls, f"{type(e).__name__} is not {cls.__name__}"
    assert isinstance(e, SbxError)
    assert e.code == code
    assert isinstance(e.message, str) and e.message
    for w in words:
        assert w in e.message, (w, e.message)
    for text in (str(e), repr(e), e.message, str(e.details)):
        assert CANARY not in text
    return e


def test_error_table_matches_the_c_side():
    # common/error.c is the one table of wire codes; every code but "ok" has its class.
    src = (ROOT / "common" / "error.c").read_text()
    import re
    codes = set(re.findall(r'\] = "([a-z_]+)"', src)) - {"ok"}
    assert codes == set(sbx_client.ERRORS)
    for code, cls in sbx_client.ERRORS.items():
        assert cls.code == code and issubclass(cls, SbxError)
        assert getattr(sbx_client, cls.__name__) is cls


def test_unknown_code_maps_to_sbxerror():
    e = sbx_client.error_from_reply({"ok": False, "error": {"code": "new_thing", "message": "m",
                                                            "extra": 1}})
    assert type(e) is SbxError and e.code == "new_thing" and e.message == "m"
    assert e.details == {"extra": 1}


def test_bad_request_unknown_field(client):
    with pytest.raises(sbx_client.BadRequest) as ei:
        client.call("hello", extra="x")
    check(ei, sbx_client.BadRequest, "bad_request", "unknown field 'extra'")


def test_bad_request_empty_secrets(client):
    with pytest.raises(sbx_client.BadRequest) as ei:
        client.seal("tenant:1", {})
    check(ei, sbx_client.BadRequest, "bad_request", "empty")


def test_bad_request_reserved_name_names_it_not_the_value(client):
    with pytest.raises(sbx_client.BadRequest) as ei:
        client.seal("tenant:1", {"LD_PRELOAD": CANARY})
    check(ei, sbx_client.BadRequest, "bad_request", "LD_PRELOAD", "reserved")


def test_bad_request_bad_context(client):
    with pytest.raises(sbx_client.BadRequest) as ei:
        client.seal("", {"X_API_KEY": CANARY})
    check(ei, sbx_client.BadRequest, "bad_request", "context")


def test_bad_request_timeout_and_sealed_without_context(client):
    with pytest.raises(sbx_client.BadRequest):
        client.run("default", ["/bin/true"], timeout_ms=0)
    with pytest.raises(sbx_client.BadRequest) as ei:
        client.run("default", ["/bin/true"], sealed="sbx1:AAAA")
    check(ei, sbx_client.BadRequest, "bad_request", "context")


def test_bad_request_cancel_unknown_task(client):
    with pytest.raises(sbx_client.BadRequest) as ei:
        client.cancel("sbxd-1-1")
    check(ei, sbx_client.BadRequest, "bad_request", "no running task")


def test_client_side_type_errors_name_no_value(client):
    with pytest.raises(TypeError) as ei:
        client.seal("tenant:1", {"X_API_KEY": CANARY.encode()})
    assert "X_API_KEY" in str(ei.value) and CANARY not in str(ei.value)
    with pytest.raises(TypeError):
        client.run("default", "/bin/true")
    with pytest.raises(ValueError) as ei2:
        client.seal("tenant:1", {"X_API_KEY": CANARY + "\udcff"})
    assert CANARY not in str(ei2.value)


def test_too_large_goes_to_its_request_and_the_connection_goes_on(client):
    big = b"x" * (1 << 20)  # base64 grows it past max_frame (1 MiB)
    results = {}

    def small():
        results["small"] = client.run("default", ["/bin/echo", "small"])

    t = threading.Thread(target=small)
    t.start()
    with pytest.raises(sbx_client.TooLarge) as ei:
        client.run("default", ["/bin/cat"], stdin=big)
    check(ei, sbx_client.TooLarge, "too_large", "max_frame")
    t.join(10)
    assert results["small"].stdout == b"small\n"
    assert client.hello().protocol == 1


def test_unknown_op(client):
    with pytest.raises(sbx_client.UnknownOp) as ei:
        client.call("reboot")
    check(ei, sbx_client.UnknownOp, "unknown_op", "reboot")


def test_policy_unknown(client):
    with pytest.raises(sbx_client.PolicyUnknown) as ei:
        client.run("nope", ["/bin/true"])
    check(ei, sbx_client.PolicyUnknown, "policy_unknown", "nope")


def test_policy_violation_env_and_timeout(client):
    with pytest.raises(sbx_client.PolicyViolation) as ei:
        client.run("default", ["/bin/true"], env={"FOO": "1"})
    check(ei, sbx_client.PolicyViolation, "policy_violation", "FOO")
    with pytest.raises(sbx_client.PolicyViolation) as ei:
        client.run("default", ["/bin/true"], timeout_ms=7_200_000)
    check(ei, sbx_client.PolicyViolation, "policy_violation", "timeout_ms")


def test_secret_not_allowed(client):
    blob = client.seal("tenant:1", {"FOO": CANARY})
    with pytest.raises(sbx_client.SecretNotAllowed) as ei:
        client.run("default", ["/bin/true"], sealed=blob, context="tenant:1")
    check(ei, sbx_client.SecretNotAllowed, "secret_not_allowed")


def test_sealed_malformed(client):
    with pytest.raises(sbx_client.SealedMalformed) as ei:
        client.run("default", ["/bin/true"], sealed="sbx1:AAAA", context="tenant:1")
    check(ei, sbx_client.SealedMalformed, "sealed_malformed")
    with pytest.raises(sbx_client.SealedMalformed):
        client.rewrap("tenant:1", "not a blob")


def _b64d(s):
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


def _b64e(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def forge(blob, *, key_id=None, flip_at=None):
    raw = bytearray(_b64d(blob[len("sbx1:"):]))
    if key_id is not None:
        raw[1:5] = struct.pack(">I", key_id)
    if flip_at is not None:
        raw[flip_at] ^= 0x01
    return "sbx1:" + _b64e(bytes(raw))


def test_key_unknown(client):
    blob = client.seal("tenant:1", {"X_API_KEY": CANARY})
    with pytest.raises(sbx_client.KeyUnknown) as ei:
        client.run("default", ["/bin/true"], sealed=forge(blob, key_id=99), context="tenant:1")
    check(ei, sbx_client.KeyUnknown, "key_unknown")
    with pytest.raises(sbx_client.KeyUnknown):
        client.rewrap("tenant:1", forge(blob, key_id=99))


def test_decrypt_failed_other_context_and_tampered(client):
    blob = client.seal("tenant:1/task:5", {"X_API_KEY": CANARY})
    with pytest.raises(sbx_client.DecryptFailed) as ei:
        client.run("default", ["/bin/true"], sealed=blob, context="tenant:2/task:5")
    check(ei, sbx_client.DecryptFailed, "decrypt_failed", "context")
    tampered = forge(blob, flip_at=-1)  # the last byte of the tag
    with pytest.raises(sbx_client.DecryptFailed):
        client.run("default", ["/bin/true"], sealed=tampered, context="tenant:1/task:5")
    tampered = forge(blob, flip_at=40)  # a ciphertext byte
    with pytest.raises(sbx_client.DecryptFailed):
        client.rewrap("tenant:1/task:5", tampered)
    # Nothing ran.
    assert client.ps() == []


def test_sandbox_setup_failed(client):
    with pytest.raises(sbx_client.SandboxSetupFailed) as ei:
        client.run("default", ["/no/such/program"])
    e = check(ei, sbx_client.SandboxSetupFailed, "sandbox_setup_failed")
    assert e.step == "execve" and e.errno == 2 and e.task.startswith("sbxd-")
    with pytest.raises(sbx_client.SandboxSetupFailed) as ei:
        client.run("default", ["/bin/true"], cwd="/no/such/dir")
    assert ei.value.step == "chdir"


def test_stream_setup_failure_after_accepted(client):
    evs = []
    with pytest.raises(sbx_client.SandboxSetupFailed):
        for ev in client.stream("default", ["/no/such/program"]):
            evs.append(ev)
    assert [type(e).__name__ for e in evs] == ["Accepted"]


def test_key_retired_after_rotate_and_retire(fresh_sbxd):
    d = fresh_sbxd
    with Client(d.socket) as c:
        old = c.seal("tenant:9/task:1", {"X_API_KEY": CANARY})
        stale = c.seal("tenant:9/task:2", {"X_API_KEY": CANARY})
        assert old.key_id == 1
        d.keys("rotate")
        d.reload()
        # Old blobs still open (key 1 is active); new ones are sealed under key 2.
        assert c.run("default", ["/bin/true"], sealed=old, context="tenant:9/task:1").ok
        assert c.seal("tenant:9/task:3", {"X_API_KEY": CANARY}).key_id == 2
        new = c.rewrap("tenant:9/task:1", old)
        assert new.rewrapped is True and new.key_id == 2 and new != old
        again = c.rewrap("tenant:9/task:1", new)
        assert again.rewrapped is False and again == new
        d.keys("retire", "1")
        d.reload()
        with pytest.raises(sbx_client.KeyRetired) as ei:
            c.run("default", ["/bin/true"], sealed=stale, context="tenant:9/task:2")
        check(ei, sbx_client.KeyRetired, "key_retired", "rewrap")
        with pytest.raises(sbx_client.KeyRetired):
            c.rewrap("tenant:9/task:2", stale)
        r = c.run("default", ["/bin/sh", "-c", 'echo "$X_API_KEY"'], sealed=new,
                  context="tenant:9/task:1")
        assert r.stdout == b"[REDACTED:X_API_KEY]\n"


def test_busy_when_tasks_and_queue_are_full_and_queued_tasks():
    d = start(limits={"max_tasks": 1, "max_queued": 1, "max_connections": 3})
    try:
        with Client(d.socket) as c:
            first = c.stream("default", ["/bin/sleep", "30"])
            ev = next(first)
            assert isinstance(ev, sbx_client.Accepted)
            assert isinstance(next(first), sbx_client.Started)
            queued = c.stream("default", ["/bin/echo", "late"])
            qev = next(queued)
            assert isinstance(qev, sbx_client.Accepted)
            states = {t.task: t.state for t in c.ps()}
            assert states == {ev.task: "running", qev.task: "queued"}
            with pytest.raises(sbx_client.Busy) as ei:
                c.run("default", ["/bin/true"])
            e = check(ei, sbx_client.Busy, "busy", "at the limits")
            assert e.retryable
            # A queued task cancelled never starts.
            c.cancel(qev.task)
            rest = list(queued)
            assert [type(x).__name__ for x in rest] == ["Exit"]
            assert rest[0].reason == "cancelled"
            c.cancel(ev.task)
            assert list(first)[-1].reason == "cancelled"
            # Too many connections: c plus two more; the fourth is refused with busy.
            others = [Client(d.socket).connect() for _ in range(2)]
            for o in others:
                o.hello()
            with pytest.raises(sbx_client.Busy) as ei:
                Client(d.socket).hello()
            check(ei, sbx_client.Busy, "busy", "too many connections")
            for o in others:
                o.close()
    finally:
        finish(d)


def test_busy_while_shutting_down_then_shutdown_reason(fresh_sbxd):
    d = fresh_sbxd
    c = Client(d.socket)
    s = c.stream("default", ["/bin/sleep", "30"])
    assert isinstance(next(s), sbx_client.Accepted)
    assert isinstance(next(s), sbx_client.Started)
    d.proc.send_signal(15)          # drain: running tasks may finish
    deadline = time.monotonic() + 10
    while True:
        try:
            c.run("default", ["/bin/true"])
        except sbx_client.Busy as e:
            assert "shutting down" in e.message
            break
        assert time.monotonic() < deadline
        time.sleep(0.05)
    d.proc.send_signal(15)          # second SIGTERM: kill them now
    last = list(s)[-1]
    assert last.reason == "shutdown" and last.signal == 9
    assert d.proc.wait(30) == 0
    with pytest.raises((sbx_client.ConnectionLost, sbx_client.ConnectionFailed)):
        c.hello()
    c.close()


def test_connection_failed_when_no_socket(tmp_path):
    with pytest.raises(sbx_client.ConnectionFailed) as ei:
        Client(str(tmp_path / "nope.sock")).hello()
    assert isinstance(ei.value, ConnectionError)
    assert "no sbxd socket" in ei.value.message


def test_connection_failed_when_nothing_listens(tmp_path):
    path = str(tmp_path / "dead.sock")
    s = socket.socket(socket.AF_UNIX)
    s.bind(path)
    s.close()                       # the file stays, nobody listens
    with pytest.raises(sbx_client.ConnectionFailed) as ei:
        Client(path).connect()
    assert "nothing accepts" in ei.value.message


def test_connection_lost_when_sbxd_dies(fresh_sbxd):
    d = fresh_sbxd
    c = Client(d.socket)
    s = c.stream("default", ["/bin/sleep", "30"])
    next(s)
    next(s)
    d.kill()
    with pytest.raises(sbx_client.ConnectionLost) as ei:
        list(s)
    assert isinstance(ei.value, ConnectionError)
    # Refused, or (while the kernel is still tearing the dead listener down) accepted and
    # reset at once: either way a ConnectionError, never a hang.
    with pytest.raises((sbx_client.ConnectionFailed, sbx_client.ConnectionLost)):
        c.hello()
    c.close()


UNPRIV = r"""
import sys
sys.path.insert(0, sys.argv[1])
import sbx_client
c = sbx_client.Client(sys.argv[2])
try:
    getattr(c, sys.argv[3])(*sys.argv[4:]) if sys.argv[3] != "run" else c.run("default", ["/bin/true"])
except sbx_client.SbxError as e:
    print(type(e).__name__, e.code, e.message)
else:
    print("ok")
"""


def as_nobody(d, method, *args):
    p = subprocess.run([sys.executable if sys.executable else "/usr/bin/python3", "-c", UNPRIV,
                        str(ROOT / "clients" / "python"), d.socket, method, *args],
                       user=65534, group=65534, extra_groups=[], capture_output=True,
                       timeout=30, cwd="/")
    assert p.returncode == 0, p.stderr.decode()
    return p.stdout.decode().strip()


def test_unauthorized_op_policy_and_peer():
    pytest.importorskip("grp").getgrnam("nogroup")
    d = start(socket_group="nogroup", clients=[{"uids": [65534], "ops": ["hello", "list"]}])
    try:
        os.chmod(d.base, 0o755)
        assert as_nobody(d, "hello") == "ok"
        out = as_nobody(d, "run")
        assert out.startswith("Unauthorized unauthorized uid 65534 may not use op 'run'"), out
        assert as_nobody(d, "stats").startswith("Unauthorized unauthorized"), "stats is root's"
    finally:
        finish(d)
    # A uid no rule names is refused at connect: one id-null line, then the connection closes.
    d = start(socket_group="nogroup", clients=[{"uids": [65533], "ops": ["hello"]}])
    try:
        out = as_nobody(d, "hello")
        assert out == "Unauthorized unauthorized this uid may not use sbxd", out
    finally:
        finish(d)
    # A rule that grants run but only under another policy.
    d = start(socket_group="nogroup",
              clients=[{"uids": [65534], "ops": ["hello", "run"], "policies": ["other"]}])
    try:
        out = as_nobody(d, "run")
        assert out.startswith("Unauthorized unauthorized uid 65534 may not run tasks under "
                              "policy 'default'"), out
    finally:
        finish(d)


AUDIT_FULL_SIZE = 1 << 20


def test_audit_unavailable_when_the_disk_is_full(tmp_path):
    """The audit log on a tiny tmpfs; filling it makes seal and run fail closed."""
    mnt = tmp_path / "small"
    mnt.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={AUDIT_FULL_SIZE},mode=0700",
                       "tmpfs", str(mnt)], capture_output=True).returncode != 0:
        pytest.skip("cannot mount a tmpfs here")
    try:
        d = start(audit_dir=mnt / "audit")
        try:
            with Client(d.socket) as c:
                assert c.seal("tenant:1", {"X_API_KEY": CANARY}).startswith("sbx1:")
                with open(mnt / "filler", "wb") as f:
                    try:
                        while True:
                            f.write(b"\0" * 65536)
                            f.flush()
                    except OSError:
                        pass
                # The log's last page may still take a few records.
                with pytest.raises(sbx_client.AuditUnavailable) as ei:
                    for _ in range(2000):
                        c.seal("tenant:1", {"X_API_KEY": CANARY})
                e = check(ei, sbx_client.AuditUnavailable, "audit_unavailable", "audit")
                assert e.retryable
                with pytest.raises(sbx_client.AuditUnavailable):
                    c.run("default", ["/bin/true"])
                os.unlink(mnt / "filler")
                deadline = time.monotonic() + 15
                while True:   # sbxd retries by itself every second
                    try:
                        assert c.run("default", ["/bin/true"]).ok
                        break
                    except sbx_client.AuditUnavailable:
                        assert time.monotonic() < deadline, "sbxd never recovered"
                        time.sleep(0.2)
        finally:
            finish(d)
    finally:
        subprocess.run(["umount", "-l", str(mnt)], capture_output=True)
