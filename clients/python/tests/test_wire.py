# SPDX-License-Identifier: MIT
"""Client behaviour that needs a misbehaving server: a fake sbxd on a socket of its own."""

import json
import socket
import threading

import pytest

import sbx_client
from sbx_client import Client
from sbx_client._wire import Router, run_request, seal_request

from sbxtest import CANARY


class FakeServer:
    """Accepts one connection and answers each line with handler(msg) -> list of lines."""

    def __init__(self, path, handler):
        self.sock = socket.socket(socket.AF_UNIX)
        self.sock.bind(path)
        self.sock.listen(1)
        self.handler = handler
        self.seen = []
        self.t = threading.Thread(target=self.serve, daemon=True)
        self.t.start()

    def serve(self):
        conn, _ = self.sock.accept()
        f = conn.makefile("rb")
        for line in f:
            msg = json.loads(line)
            self.seen.append(msg)
            out = self.handler(msg)
            if out is None:
                break
            for o in out:
                conn.sendall(o if isinstance(o, bytes) else (json.dumps(o) + "\n").encode())
        conn.close()
        self.sock.close()


def test_timeout_when_sbxd_does_not_answer(tmp_path):
    path = str(tmp_path / "s")
    FakeServer(path, lambda m: [])
    c = Client(path, timeout=0.3)
    with pytest.raises(sbx_client.RequestTimeout) as ei:
        c.hello()
    assert isinstance(ei.value, TimeoutError)
    c.close()


def test_garbage_from_server_is_a_clean_error(tmp_path):
    path = str(tmp_path / "s")
    FakeServer(path, lambda m: [b"this is not json\n"])
    c = Client(path, timeout=5)
    with pytest.raises(sbx_client.ConnectionLost) as ei:
        c.hello()
    assert "not JSON" in ei.value.message
    c.close()


def test_server_closes_mid_request(tmp_path):
    path = str(tmp_path / "s")
    FakeServer(path, lambda m: None)
    with pytest.raises(sbx_client.ConnectionLost):
        Client(path, timeout=5).hello()


def test_unknown_event_and_extra_fields_are_tolerated(tmp_path):
    path = str(tmp_path / "s")

    def h(m):
        i = m["id"]
        return [{"id": i, "event": "accepted", "task": "t1"},
                {"id": i, "event": "progress", "task": "t1", "pct": 50},
                {"id": "someone-else", "event": "output", "task": "t9", "stream": "stdout",
                 "data": "eA=="},
                {"id": i, "event": "output", "task": "t1", "stream": "stdout", "data": "aGk="},
                {"id": i, "event": "exit", "task": "t1", "code": 0, "signal": None,
                 "reason": "exited", "duration_ms": 1, "cpu_ms": 0, "max_rss_kb": 9,
                 "new_figure": 1}]

    FakeServer(path, h)
    with Client(path, timeout=5) as c:
        evs = list(c.stream("default", ["x"]))
    assert [type(e).__name__ for e in evs] == ["Accepted", "UnknownEvent", "Output", "Exit"]
    assert evs[1].event == "progress" and evs[1].fields["pct"] == 50
    assert evs[2].data == b"hi"


def test_unknown_error_code_is_sbxerror(tmp_path):
    path = str(tmp_path / "s")
    FakeServer(path, lambda m: [{"id": m["id"], "ok": False,
                                 "error": {"code": "quota_exceeded", "message": "later"}}])
    with Client(path, timeout=5) as c:
        with pytest.raises(sbx_client.SbxError) as ei:
            c.hello()
    assert type(ei.value) is sbx_client.SbxError
    assert ei.value.code == "quota_exceeded" and ei.value.message == "later"


def test_requests_do_not_carry_secrets_into_reprs():
    msg = seal_request("tenant:1", {"X_API_KEY": CANARY})
    assert msg["secrets"]["X_API_KEY"] == CANARY   # it is sent, of course
    for e in (sbx_client.DecryptFailed("m"), sbx_client.ConnectionLost("x")):
        assert CANARY not in repr(e)
    with pytest.raises(TypeError) as ei:
        seal_request("tenant:1", {"X_API_KEY": 42})
    assert "X_API_KEY" in str(ei.value)
    r = run_request("default", ["a"], stdin=CANARY)
    assert CANARY not in json.dumps(r)              # base64 on the wire
    res = sbx_client.RunResult("t", 0, None, "exited", CANARY.encode(), CANARY.encode())
    assert CANARY not in repr(res) and CANARY not in str(res)
    out = sbx_client.Output("t", "stdout", CANARY.encode())
    assert CANARY not in repr(out)


def test_router_too_large_goes_to_the_oldest_unanswered():
    r = Router()
    a, b, c = r.add("A"), r.add("B"), r.add("C")
    assert r.route({"id": a, "event": "accepted", "task": "t"}) == ("A", {"id": a, "event": "accepted", "task": "t"})
    got = r.route({"id": None, "ok": False, "error": {"code": "too_large", "message": "m"}})
    assert got[0] == "B" and b not in r.pending
    assert r.route({"id": c, "ok": True})[0] == "C"
    assert list(r.pending) == [a]
    # An id-null refusal fails everything at EOF with its own code.
    r.route({"id": None, "ok": False, "error": {"code": "busy", "message": "too many connections"}})
    failed = r.fail_all("gone")
    assert [(s, type(e).__name__) for s, e in failed] == [("A", "Busy")]


def test_errors_pickle_and_compare():
    import pickle
    e = sbx_client.SandboxSetupFailed("execve: x", details={"step": "execve", "errno": 2,
                                                            "task": "t"})
    f = pickle.loads(pickle.dumps(e))
    assert type(f) is sbx_client.SandboxSetupFailed and f.step == "execve" and f.errno == 2
    assert str(f) == "sandbox_setup_failed: execve: x"
    assert isinstance(sbx_client.ConnectionLost("x"), ConnectionError)
    assert issubclass(sbx_client.Busy, sbx_client.SbxError) and sbx_client.Busy.retryable
