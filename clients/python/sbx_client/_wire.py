# SPDX-License-Identifier: MIT
"""Framing, request building and reply routing shared by the sync and async clients.

Routing: every request gets a unique id on its connection; replies and events carry it back.
Lines with ``"id": null`` cannot name their request. The client never sends invalid JSON or
a request without an id, so for its traffic such a line is either ``too_large`` (a line over
sbxd's ``max_frame``; sbxd answers it as soon as its buffer fills, after having answered every
earlier line) or a refusal of the whole connection (``unauthorized``, ``busy``) just before
sbxd closes it. sbxd answers each request's first line synchronously and in order, so a
``too_large`` belongs to the oldest request still waiting for its first line; a refusal fails
every request of the connection.
"""

from __future__ import annotations

import base64
import collections
import itertools
import json
from typing import Any, Callable, Iterable, Mapping, Sequence

from .errors import ConnectionLost, ProtocolError, SbxError, error_from_reply

DEFAULT_SOCKET = "/run/sbx/sbxd.sock"
#: Longest line the client accepts from sbxd (sbxd's own lines are far shorter).
MAX_LINE = 64 << 20

_DROP = object()  # the sink of a request nobody waits for any more


def encode(msg: Mapping[str, Any]) -> bytes:
    """One request line. Raises ValueError (without the offending value) when a string is
    not encodable as UTF-8 (lone surrogates)."""
    try:
        return json.dumps(msg, ensure_ascii=False, separators=(",", ":")).encode() + b"\n"
    except UnicodeEncodeError:
        raise ValueError("a string in the request is not valid UTF-8") from None


def decode(line: bytes) -> dict[str, Any]:
    """One line from sbxd as a dict; ProtocolError when it is not a JSON object."""
    try:
        msg = json.loads(line)
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise ProtocolError("sbxd sent a line that is not JSON") from None
    if not isinstance(msg, dict):
        raise ProtocolError("sbxd sent a line that is not a JSON object")
    return msg


def _str(name: str, v: Any) -> str:
    if not isinstance(v, str):
        raise TypeError(f"{name} must be a str, not {type(v).__name__}")
    return v


def seal_request(context: str, secrets: Mapping[str, str]) -> dict[str, Any]:
    """A ``seal`` request. Type errors name the secret, never its value."""
    _str("context", context)
    if not isinstance(secrets, Mapping):
        raise TypeError("secrets must be a mapping of NAME to value")
    out: dict[str, str] = {}
    for k, v in secrets.items():
        if not isinstance(k, str):
            raise TypeError("secret names must be str")
        if not isinstance(v, str):
            raise TypeError(f"the value of secret {k!r} must be a str")
        out[k] = v
    return {"op": "seal", "context": context, "secrets": out}


def rewrap_request(context: str, sealed: str) -> dict[str, Any]:
    return {"op": "rewrap", "context": _str("context", context),
            "sealed": _str("sealed", str(sealed) if isinstance(sealed, str) else sealed)}


def run_request(policy: str, argv: Sequence[str], *, env: Mapping[str, str] | None = None,
                sealed: str | None = None, context: str | None = None,
                stdin: bytes | str | None = None, timeout_ms: int | None = None,
                cwd: str | None = None) -> dict[str, Any]:
    """A ``run`` request; sbxd does the semantic checks (policy, env names, timeout)."""
    if isinstance(argv, (str, bytes)) or not isinstance(argv, Iterable):
        raise TypeError("argv must be a list of str")
    args = list(argv)
    for i, a in enumerate(args):
        _str(f"argv[{i}]", a)
    msg: dict[str, Any] = {"op": "run", "policy": _str("policy", policy), "argv": args}
    if env is not None:
        if not isinstance(env, Mapping):
            raise TypeError("env must be a mapping of str to str")
        msg["env"] = {_str("env name", k): _str(f"env[{k!r}]", v) for k, v in env.items()}
    if sealed is not None:
        msg["sealed"] = str(_str("sealed", sealed))
    if context is not None:
        msg["context"] = _str("context", context)
    if stdin is not None:
        if isinstance(stdin, str):
            stdin = stdin.encode()
        if not isinstance(stdin, (bytes, bytearray, memoryview)):
            raise TypeError("stdin must be bytes or str")
        msg["stdin"] = base64.b64encode(bytes(stdin)).decode("ascii")
    if timeout_ms is not None:
        if not isinstance(timeout_ms, int) or isinstance(timeout_ms, bool):
            raise TypeError("timeout_ms must be an int")
        msg["timeout_ms"] = timeout_ms
    if cwd is not None:
        msg["cwd"] = _str("cwd", cwd)
    return msg


def copy_error(err: SbxError) -> SbxError:
    """A fresh exception like err (one per waiter: tracebacks are per raise)."""
    return type(err)(err.message, code=err.code, details=err.details)


class Router:
    """Pending requests of one connection and the rules that route lines to them.

    Not thread-safe by itself: the sync client holds a lock around it, the async client uses
    it from the event loop only. A sink is whatever the client puts there (a queue); route()
    returns ``(sink, item)`` to deliver or None.
    """

    def __init__(self) -> None:
        self.pending: dict[str, Any] = {}
        self.awaiting: collections.deque[str] = collections.deque()
        self.conn_error: SbxError | None = None
        self._ids = itertools.count(1)

    def add(self, sink: Any) -> str:
        rid = f"py{next(self._ids)}"
        self.pending[rid] = sink
        self.awaiting.append(rid)
        return rid

    def drop(self, rid: str) -> None:
        """Nobody waits for rid any more; its later lines are read and discarded."""
        if rid in self.pending:
            self.pending[rid] = _DROP

    def forget(self, rid: str) -> None:
        """rid was never sent (the write failed)."""
        self.pending.pop(rid, None)
        try:
            self.awaiting.remove(rid)
        except ValueError:
            pass

    def route(self, msg: dict[str, Any]) -> tuple[Any, dict[str, Any]] | None:
        rid = msg.get("id")
        if rid is None:
            err = error_from_reply(msg) if msg.get("ok") is False else None
            if err is not None and err.code == "too_large" and self.awaiting:
                rid = self.awaiting[0]
            else:
                self.conn_error = err or ProtocolError("sbxd sent a line with id null")
                return None
        if not isinstance(rid, str) or rid not in self.pending:
            return None
        if self.awaiting and self.awaiting[0] == rid:
            self.awaiting.popleft()
        else:
            try:
                self.awaiting.remove(rid)
            except ValueError:
                pass
        sink = self.pending[rid]
        if "ok" in msg or msg.get("event") == "exit":
            del self.pending[rid]
        if sink is _DROP:
            return None
        return sink, msg

    def fail_all(self, why: str) -> list[tuple[Any, SbxError]]:
        """Every waiting sink with the error it gets now that the connection is gone."""
        out = []
        for sink in self.pending.values():
            if sink is _DROP:
                continue
            if self.conn_error is not None:
                out.append((sink, copy_error(self.conn_error)))
            else:
                out.append((sink, ConnectionLost(why)))
        self.pending.clear()
        self.awaiting.clear()
        return out

    def lost_error(self, why: str) -> SbxError:
        return copy_error(self.conn_error) if self.conn_error else ConnectionLost(why)


def reply_or_raise(msg: dict[str, Any]) -> dict[str, Any]:
    """msg when it is ``ok: true``; raises the error's class otherwise."""
    if msg.get("ok") is True:
        return msg
    if msg.get("ok") is False:
        raise error_from_reply(msg)
    raise ProtocolError("expected a reply, got an event")


Sink = Callable[[Any], None]
