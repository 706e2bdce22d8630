# SPDX-License-Identifier: MIT
"""The synchronous client: one Unix-socket connection, many requests at once.

A :class:`Client` opens its connection on first use and keeps it. A reader thread reads
sbxd's lines continuously (sbxd pauses a client's tasks when it stops reading) and hands each
one to the request with the same id, so any number of threads may call the methods of one
client at the same time: their requests share the connection. When the connection is lost,
the requests waiting on it fail with :class:`ConnectionLost` and the next call reconnects.
"""

from __future__ import annotations

import os
import queue
import socket
import threading
import time
from typing import Any, Iterator, Mapping, Sequence

from . import _wire
from .errors import (ConnectionFailed, ConnectionLost, ProtocolError, RequestTimeout, SbxError,
                     error_from_reply)
from .types import (Accepted, Event, Exit, Hello, RunCollector, RunResult, Sealed, Stats,
                    TaskInfo, parse_event)

__all__ = ["Client"]

_DEFAULT = object()


def connect_error(path: str, e: OSError) -> ConnectionFailed:
    """A ConnectionFailed that says what is wrong with the socket at path."""
    if isinstance(e, FileNotFoundError):
        why = f"no sbxd socket at '{path}' (is sbxd running? set SBX_SOCKET)"
    elif isinstance(e, ConnectionRefusedError):
        why = f"nothing accepts connections on '{path}' (sbxd stopped?)"
    elif isinstance(e, PermissionError):
        why = f"permission denied on '{path}' (the socket is for root or the sbx group)"
    elif isinstance(e, TimeoutError):
        why = f"connecting to '{path}' timed out"
    else:
        why = f"cannot connect to '{path}': {e.strerror or e}"
    return ConnectionFailed(why)


class _Connection:
    """One connected socket, its reader thread and its router."""

    def __init__(self, path: str, connect_timeout: float | None) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.settimeout(connect_timeout)
            sock.connect(path)
            sock.settimeout(None)
        except OSError as e:
            sock.close()
            raise connect_error(path, e) from None
        self.sock = sock
        self.router = _wire.Router()
        self.lock = threading.Lock()     # router and dead
        self.wlock = threading.Lock()    # whole lines on the socket
        self.dead = False
        self.reader = threading.Thread(target=self._read_loop, name="sbx-client-reader",
                                       daemon=True)
        self.reader.start()

    # -- writing

    def send(self, msg: dict[str, Any], sink: Any) -> str:
        """Registers sink for msg's replies, sends msg and returns its id."""
        with self.lock:
            if self.dead:
                raise self.router.lost_error("the connection to sbxd is closed")
            rid = self.router.add(sink)
        line = _wire.encode({"id": rid, **msg})
        try:
            with self.wlock:
                self.sock.sendall(line)
        except OSError:
            # sbxd may have refused the connection with one line (busy, unauthorized) and
            # closed it: let the reader take that line in, so the caller gets its code.
            if threading.current_thread() is not self.reader:
                self.reader.join(2)
            with self.lock:
                self.router.forget(rid)
                err = self.router.lost_error("sbxd closed the connection")
            raise err from None
        return rid

    def drop(self, rid: str) -> None:
        with self.lock:
            self.router.drop(rid)

    # -- reading

    def _read_loop(self) -> None:
        buf = bytearray()
        why = "sbxd closed the connection"
        try:
            while True:
                data = self.sock.recv(262144)
                if not data:
                    break
                buf += data
                start = 0
                while True:
                    nl = buf.find(b"\n", start)
                    if nl < 0:
                        break
                    self._dispatch(bytes(buf[start:nl]))
                    start = nl + 1
                del buf[:start]
                if len(buf) > _wire.MAX_LINE:
                    why = "sbxd sent a line longer than the client accepts"
                    break
        except ProtocolError as e:
            why = e.message
        except OSError:
            pass
        finally:
            with self.lock:
                self.dead = True
                failed = self.router.fail_all(why)
            for sink, err in failed:
                sink.put(err)
            try:
                self.sock.close()
            except OSError:
                pass

    def _dispatch(self, line: bytes) -> None:
        msg = _wire.decode(line)
        with self.lock:
            out = self.router.route(msg)
        if out is not None:
            out[0].put(out[1])

    def close(self) -> None:
        with self.lock:
            self.dead = True
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        if threading.current_thread() is not self.reader:
            self.reader.join(5)


class Client:
    """Synchronous client of sbxd.

    Args:
        socket_path: sbxd's socket; default ``$SBX_SOCKET``, else ``/run/sbx/sbxd.sock``.
        timeout: seconds to wait for the reply to ``hello``, ``seal``, ``rewrap``,
            ``cancel``, ``ps`` and ``stats``, and to connect (None: no limit). ``run`` and
            ``stream`` wait for the task unless given ``wait_timeout``.

    Thread-safe: share one client between threads; requests run concurrently on its one
    connection. Use as a context manager or call :meth:`close`.

    Example::

        with Client("/tmp/sbx/sbxd.sock") as c:
            blob = c.seal("tenant:1/task:9", {"ANTHROPIC_API_KEY": key})
            r = c.run("default", ["sh", "-c", "echo ${#ANTHROPIC_API_KEY}"],
                      sealed=blob, context="tenant:1/task:9")
            print(r.exit_code, r.stdout)
    """

    def __init__(self, socket_path: str | os.PathLike[str] | None = None, *,
                 timeout: float | None = 30.0) -> None:
        self.socket_path = os.fspath(socket_path or os.environ.get("SBX_SOCKET")
                                     or _wire.DEFAULT_SOCKET)
        self.timeout = timeout
        self._lock = threading.Lock()
        self._conn: _Connection | None = None
        self._closed = False

    def __repr__(self) -> str:
        return f"Client({self.socket_path!r})"

    def __enter__(self) -> "Client":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def connect(self) -> "Client":
        """Opens the connection now (it is otherwise opened by the first request).

        Raises ConnectionFailed when the socket is missing, refused or not permitted."""
        self._connection()
        return self

    def close(self) -> None:
        """Closes the connection. sbxd kills the tasks this connection still runs; requests
        still waiting fail with ConnectionLost. The client may be used again (it reconnects)."""
        with self._lock:
            conn, self._conn = self._conn, None
        if conn is not None:
            conn.close()

    def _connection(self) -> _Connection:
        with self._lock:
            if self._conn is None or self._conn.dead:
                self._conn = _Connection(self.socket_path, self.timeout)
            return self._conn

    # -- plumbing

    def _wait(self, q: "queue.Queue[Any]", deadline: float | None) -> dict[str, Any]:
        try:
            if deadline is None:
                item = q.get()
            else:
                item = q.get(timeout=max(0.0, deadline - time.monotonic()))
        except queue.Empty:
            raise RequestTimeout("no reply from sbxd in time") from None
        if isinstance(item, BaseException):
            raise item
        return item

    def _call(self, msg: dict[str, Any], timeout: Any = _DEFAULT) -> dict[str, Any]:
        t = self.timeout if timeout is _DEFAULT else timeout
        deadline = None if t is None else time.monotonic() + t
        conn = self._connection()
        q: "queue.Queue[Any]" = queue.Queue()
        rid = conn.send(msg, q)
        try:
            return _wire.reply_or_raise(self._wait(q, deadline))
        except RequestTimeout:
            conn.drop(rid)
            raise

    # -- ops

    def call(self, op: str, timeout: Any = _DEFAULT, **fields: Any) -> dict[str, Any]:
        """Sends any op with the given fields and returns the raw ``ok`` reply as a dict.

        For ops this client does not wrap (a newer sbxd); not for ``run`` (use
        :meth:`stream`). Errors raise their class like every method."""
        if op == "run":
            raise ValueError("use stream() or run() for the run op")
        return self._call({"op": op, **fields}, timeout)

    def hello(self) -> Hello:
        """The daemon's version, protocol version, this peer as sbxd sees it, and its ops."""
        return Hello.from_reply(self._call({"op": "hello"}))

    def seal(self, context: str, secrets: Mapping[str, str]) -> Sealed:
        """Seals ``secrets`` (NAME: value) for ``context`` and returns the blob.

        Names are normalised by sbxd (``anthropic-api-key`` -> ``ANTHROPIC_API_KEY``). The blob
        (a str with ``.key_id``) is what the application stores; sbxd keeps nothing. Raises
        BadRequest for a reserved, invalid or duplicate name, an empty dict or a bad context.
        """
        r = self._call(_wire.seal_request(context, secrets))
        return Sealed(r["sealed"], int(r.get("key_id", 0)))

    def rewrap(self, context: str, sealed: str) -> Sealed:
        """Re-seals ``sealed`` under the current primary key, without the plaintext leaving sbxd.

        The result's ``.rewrapped`` is False when the blob already was under the primary key
        (the same blob comes back), so a sweep over stored blobs may be repeated. Raises
        SealedMalformed, KeyUnknown, KeyRetired or DecryptFailed like opening the blob would.
        """
        r = self._call(_wire.rewrap_request(context, sealed))
        return Sealed(r["sealed"], int(r.get("key_id", 0)), bool(r.get("rewrapped")))

    def stream(self, policy: str, argv: Sequence[str], *, env: Mapping[str, str] | None = None,
               sealed: str | None = None, context: str | None = None,
               stdin: bytes | str | None = None, timeout_ms: int | None = None,
               cwd: str | None = None, wait_timeout: float | None = None) -> Iterator[Event]:
        """Runs a task and yields its events as they come: Accepted, Started, Output..., Exit.

        Arguments as for :meth:`run`. A refused request raises its error before any event;
        a sandbox that cannot be built raises SandboxSetupFailed after Accepted. Leaving the
        loop early (break, exception) cancels the task.
        """
        msg = _wire.run_request(policy, argv, env=env, sealed=sealed, context=context,
                                stdin=stdin, timeout_ms=timeout_ms, cwd=cwd)
        deadline = None if wait_timeout is None else time.monotonic() + wait_timeout
        conn = self._connection()
        q: "queue.Queue[Any]" = queue.Queue()
        rid = conn.send(msg, q)
        task = None
        done = False
        try:
            while True:
                item = self._wait(q, deadline)
                if "ok" in item:
                    done = True
                    if item.get("ok") is False:
                        raise error_from_reply(item)
                    raise ProtocolError("run got an ok reply instead of events")
                ev = parse_event(item)
                if isinstance(ev, Accepted):
                    task = ev.task
                if isinstance(ev, Exit):
                    done = True
                    yield ev
                    return
                yield ev
        finally:
            if not done:
                conn.drop(rid)
                if task is not None:
                    self._cancel_nowait(conn, task)

    def _cancel_nowait(self, conn: _Connection, task: str) -> None:
        try:
            rid = conn.send({"op": "cancel", "task": task}, _NullSink)
            conn.drop(rid)
        except SbxError:
            pass

    def run(self, policy: str, argv: Sequence[str], *, env: Mapping[str, str] | None = None,
            sealed: str | None = None, context: str | None = None,
            stdin: bytes | str | None = None, timeout_ms: int | None = None,
            cwd: str | None = None, wait_timeout: float | None = None) -> RunResult:
        """Runs ``argv`` in a sandbox under ``policy`` and waits for its end.

        Args:
            policy: a policy name loaded in sbxd (``"default"``).
            argv: the program and its arguments; ``argv[0]`` is searched on the sandbox's PATH.
            env: extra variables; names must be allowed by the policy (else PolicyViolation).
            sealed, context: a blob from :meth:`seal` and the context it was sealed for; its
                secrets reach the payload's environment, and their values are redacted from
                its output (when the policy redacts, the default).
            stdin: bytes (or str, UTF-8) written to the payload's stdin, then closed.
            timeout_ms: lowers the policy's timeout; on expiry sbxd kills the sandbox and the
                result's reason is ``"timeout"``.
            cwd: absolute working directory inside the sandbox.
            wait_timeout: client-side limit in seconds on the whole wait (None: none); on
                expiry the task is cancelled and RequestTimeout is raised.

        Returns the :class:`RunResult`. A non-zero exit is not an exception: check
        ``exit_code`` / ``reason`` (or ``.ok``). Refusals raise their error class.
        """
        col = RunCollector()
        for ev in self.stream(policy, argv, env=env, sealed=sealed, context=context, stdin=stdin,
                              timeout_ms=timeout_ms, cwd=cwd, wait_timeout=wait_timeout):
            res = col.feed(ev)
            if res is not None:
                return res
        raise ProtocolError("the run ended without an exit event")  # pragma: no cover

    def cancel(self, task: str) -> None:
        """Cancels a running or queued task (any connection of the same uid; root: any).

        The task's own ``run``/``stream`` then ends with reason ``"cancelled"``. Raises
        BadRequest when no such task of this uid is running."""
        self._call({"op": "cancel", "task": task})

    def ps(self) -> list[TaskInfo]:
        """The running and queued tasks of this uid (root: all), in start order (op ``list``)."""
        r = self._call({"op": "list"})
        return [TaskInfo.from_obj(t) for t in r.get("tasks") or ()]

    list_tasks = ps

    def stats(self) -> Stats:
        """sbxd's counters (root only; others get Unauthorized)."""
        return Stats.from_reply(self._call({"op": "stats"}))


class _NullSinkType:
    def put(self, item: Any) -> None:
        pass


_NullSink = _NullSinkType()
