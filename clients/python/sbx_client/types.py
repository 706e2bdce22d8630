# SPDX-License-Identifier: MIT
"""Typed results and events of the sbxd protocol (version 1, docs/protocol.md).

Objects that may hold task output (:class:`Output`, :class:`RunResult`) show only byte counts
in their ``repr``: output is redacted by sbxd when the policy says so, but a policy may turn
redaction off, and reprs end up in logs.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass, field
from typing import Any, Mapping, Union

from .errors import ProtocolError

__all__ = [
    "Peer",
    "Hello",
    "Sealed",
    "Accepted",
    "Started",
    "Output",
    "Exit",
    "UnknownEvent",
    "Event",
    "RunResult",
    "TaskInfo",
    "Stats",
]


@dataclass(frozen=True)
class Peer:
    """The client as sbxd sees it (``SO_PEERCRED`` at connect time)."""

    uid: int
    gid: int
    pid: int


@dataclass(frozen=True)
class Hello:
    """Reply to ``hello``: daemon version, protocol version, the peer, the ops it may use."""

    version: str
    protocol: int
    peer: Peer
    ops: tuple[str, ...]

    @classmethod
    def from_reply(cls, r: Mapping[str, Any]) -> "Hello":
        p = r.get("peer") or {}
        return cls(version=str(r.get("version", "")), protocol=int(r.get("protocol", 0)),
                   peer=Peer(int(p.get("uid", -1)), int(p.get("gid", -1)), int(p.get("pid", 0))),
                   ops=tuple(r.get("ops") or ()))


class Sealed(str):
    """A sealed blob (``sbx1:...``): a ``str`` with the id of the key that sealed it.

    Store it as a string; it is ciphertext and opens only inside sbxd, with the same context.
    ``rewrapped`` is set by :meth:`Client.rewrap` (False when the blob already was under the
    primary key and came back unchanged) and is None after :meth:`Client.seal`.
    """

    key_id: int
    rewrapped: bool | None

    def __new__(cls, blob: str, key_id: int, rewrapped: bool | None = None) -> "Sealed":
        s = super().__new__(cls, blob)
        s.key_id = key_id
        s.rewrapped = rewrapped
        return s

    def __reduce__(self):
        return (Sealed, (str(self), self.key_id, self.rewrapped))


@dataclass(frozen=True)
class Accepted:
    """The request passed every check; the task runs or is queued."""

    task: str
    event = "accepted"


@dataclass(frozen=True)
class Started:
    """The payload was exec'd: ``pid`` as the host sees it, ``uid`` the pool uid it runs as."""

    task: str
    pid: int
    uid: int
    event = "started"


@dataclass(frozen=True)
class Output:
    """A chunk of the payload's ``stdout`` or ``stderr`` (boundaries are arbitrary)."""

    task: str
    stream: str
    data: bytes = field(repr=False)
    event = "output"

    def __repr__(self) -> str:
        return f"Output(task={self.task!r}, stream={self.stream!r}, data=<{len(self.data)} bytes>)"


@dataclass(frozen=True)
class Exit:
    """The task's end, exactly once and last.

    ``code`` is the exit status (None when a signal ended it), ``signal`` the killing signal,
    ``reason`` one of ``exited``, ``signaled``, ``timeout``, ``cancelled``, ``oom``,
    ``shutdown`` (``disconnected`` is never seen: the connection is gone).
    """

    task: str
    code: int | None
    signal: int | None
    reason: str
    duration_ms: int
    cpu_ms: int
    max_rss_kb: int
    output_truncated: bool = False
    event = "exit"


@dataclass(frozen=True)
class UnknownEvent:
    """An event this client does not know (from a newer sbxd); ``fields`` holds it whole."""

    event: str
    task: str | None
    fields: Mapping[str, Any] = field(repr=False)


Event = Union[Accepted, Started, Output, Exit, UnknownEvent]


def _int(v: Any, default: int = 0) -> int:
    return int(v) if isinstance(v, int) and not isinstance(v, bool) else default


def _opt_int(v: Any) -> int | None:
    return int(v) if isinstance(v, int) and not isinstance(v, bool) else None


def parse_event(msg: Mapping[str, Any]) -> Event:
    """The typed event for one event line of a ``run``."""
    name = msg.get("event")
    task = msg.get("task")
    if not isinstance(name, str):
        raise ProtocolError("event line without an 'event' name")
    if name == "accepted":
        return Accepted(str(task))
    if name == "started":
        return Started(str(task), _int(msg.get("pid")), _int(msg.get("uid")))
    if name == "output":
        try:
            data = base64.b64decode(msg.get("data") or "", validate=True)
        except (binascii.Error, TypeError, ValueError):
            raise ProtocolError("output event with data that is not base64") from None
        return Output(str(task), str(msg.get("stream")), data)
    if name == "exit":
        return Exit(str(task), _opt_int(msg.get("code")), _opt_int(msg.get("signal")),
                    str(msg.get("reason")), _int(msg.get("duration_ms")), _int(msg.get("cpu_ms")),
                    _int(msg.get("max_rss_kb")), bool(msg.get("output_truncated", False)))
    return UnknownEvent(name, task if isinstance(task, str) else None, dict(msg))


@dataclass(frozen=True)
class RunResult:
    """What a finished ``run`` produced: its exit, its output and its figures.

    ``exit_code`` is None when a signal ended the task (then ``signal`` is set);
    ``reason`` is ``exited``, ``signaled``, ``timeout``, ``cancelled``, ``oom`` or ``shutdown``.
    ``duration_ms`` is wall time from acceptance, ``cpu_ms`` and ``max_rss_kb`` cover the whole
    sandbox. ``stdout``/``stderr`` are the bytes as sbxd forwarded them (redacted per policy,
    cut at the policy's output limit when ``output_truncated``). ``pid``/``uid`` come from the
    ``started`` event (0 if the task never started, e.g. cancelled while queued).
    """

    task: str
    exit_code: int | None
    signal: int | None
    reason: str
    stdout: bytes = field(repr=False)
    stderr: bytes = field(repr=False)
    duration_ms: int = 0
    cpu_ms: int = 0
    max_rss_kb: int = 0
    output_truncated: bool = False
    pid: int = 0
    uid: int = 0

    @property
    def ok(self) -> bool:
        """True when the payload exited by itself with status 0."""
        return self.reason == "exited" and self.exit_code == 0

    def __repr__(self) -> str:
        return (f"RunResult(task={self.task!r}, exit_code={self.exit_code!r}, "
                f"signal={self.signal!r}, reason={self.reason!r}, "
                f"stdout=<{len(self.stdout)} bytes>, stderr=<{len(self.stderr)} bytes>, "
                f"duration_ms={self.duration_ms}, cpu_ms={self.cpu_ms}, "
                f"max_rss_kb={self.max_rss_kb}, output_truncated={self.output_truncated})")


class RunCollector:
    """Folds the events of one ``run`` into a :class:`RunResult` (shared by both clients)."""

    def __init__(self) -> None:
        self.task = ""
        self.pid = 0
        self.uid = 0
        self.out: list[bytes] = []
        self.err: list[bytes] = []

    def feed(self, ev: Event) -> RunResult | None:
        if isinstance(ev, Accepted):
            self.task = ev.task
        elif isinstance(ev, Started):
            self.pid, self.uid = ev.pid, ev.uid
        elif isinstance(ev, Output):
            (self.err if ev.stream == "stderr" else self.out).append(ev.data)
        elif isinstance(ev, Exit):
            return RunResult(task=ev.task or self.task, exit_code=ev.code, signal=ev.signal,
                             reason=ev.reason, stdout=b"".join(self.out),
                             stderr=b"".join(self.err), duration_ms=ev.duration_ms,
                             cpu_ms=ev.cpu_ms, max_rss_kb=ev.max_rss_kb,
                             output_truncated=ev.output_truncated, pid=self.pid, uid=self.uid)
        return None


@dataclass(frozen=True)
class TaskInfo:
    """One entry of :meth:`Client.ps` (the ``list`` op): a running or queued task."""

    task: str
    policy: str
    state: str
    pid: int
    uid: int
    client_uid: int
    age_ms: int

    @classmethod
    def from_obj(cls, o: Mapping[str, Any]) -> "TaskInfo":
        return cls(str(o.get("task")), str(o.get("policy")), str(o.get("state")),
                   _int(o.get("pid")), _int(o.get("uid")), _int(o.get("client_uid"), -1),
                   _int(o.get("age_ms")))


@dataclass(frozen=True)
class Stats:
    """Reply to ``stats`` (root only): counters since sbxd started."""

    connections: int
    requests: int
    tasks_run: int
    tasks_failed: int
    tasks_denied: int
    running: int
    queued: int
    clients: int
    errors: Mapping[str, int]

    @classmethod
    def from_reply(cls, r: Mapping[str, Any]) -> "Stats":
        return cls(*(_int(r.get(k)) for k in ("connections", "requests", "tasks_run",
                                               "tasks_failed", "tasks_denied", "running",
                                               "queued", "clients")),
                   errors=dict(r.get("errors") or {}))
