# SPDX-License-Identifier: MIT
"""The asyncio client: the same methods as :class:`sbx_client.Client`, as coroutines.

One connection per :class:`AsyncClient`, opened on first use; a reader task dispatches sbxd's
lines by request id, so any number of coroutines may await requests on it at once. Use it from
one event loop.
"""

from __future__ import annotations

import asyncio
import os
import time
from typing import Any, AsyncIterator, Mapping, Sequence

from . import _wire
from .client import connect_error
from .errors import ProtocolError, RequestTimeout, SbxError, error_from_reply
from .types import (Accepted, Event, Exit, Hello, RunCollector, RunResult, Sealed, Stats,
                    TaskInfo, parse_event)

__all__ = ["AsyncClient"]

_DEFAULT = object()


class _AsyncConnection:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.router = _wire.Router()
        self.dead = False
        self.task = asyncio.get_running_loop().create_task(self._read_loop(),
                                                           name="sbx-client-reader")

    @classmethod
    async def open(cls, path: str, timeout: float | None) -> "_AsyncConnection":
        try:
            async with asyncio.timeout(timeout):
                r, w = await asyncio.open_unix_connection(path, limit=_wire.MAX_LINE)
        except OSError as e:
            raise connect_error(path, e) from None
        return cls(r, w)

    def send_nowait(self, msg: dict[str, Any], sink: Any) -> str:
        """Registers sink, queues the line on the transport, returns its id."""
        if self.dead or self.writer.is_closing():
            raise self.router.lost_error("the connection to sbxd is closed")
        rid = self.router.add(sink)
        try:
            self.writer.write(_wire.encode({"id": rid, **msg}))
        except Exception:
            self.router.forget(rid)
            raise
        return rid

    async def send(self, msg: dict[str, Any], sink: Any) -> str:
        rid = self.send_nowait(msg, sink)
        try:
            await self.writer.drain()
        except OSError:
            err = self.router.lost_error("sbxd closed the connection")
            raise err from None
        return rid

    async def _read_loop(self) -> None:
        why = "sbxd closed the connection"
        try:
            while True:
                try:
                    line = await self.reader.readuntil(b"\n")
                except asyncio.IncompleteReadError:
                    break
                except asyncio.LimitOverrunError:
                    why = "sbxd sent a line longer than the client accepts"
                    break
                out = self.router.route(_wire.decode(line[:-1]))
                if out is not None:
                    out[0].put_nowait(out[1])
        except ProtocolError as e:
            why = e.message
        except (OSError, asyncio.CancelledError):
            pass
        finally:
            self.dead = True
            for sink, err in self.router.fail_all(why):
                sink.put_nowait(err)
            self.writer.close()

    async def close(self) -> None:
        self.dead = True
        self.writer.close()
        try:
            await self.writer.wait_closed()
        except OSError:
            pass
        try:
            await asyncio.wait_for(self.task, 5)
        except (asyncio.TimeoutError, asyncio.CancelledError):
            self.task.cancel()


class AsyncClient:
    """asyncio client of sbxd; see :class:`sbx_client.Client` for the semantics of each method.

    Example::

        async with AsyncClient("/tmp/sbx/sbxd.sock") as c:
            r = await c.run("default", ["echo", "hi"])
            async for ev in c.stream("default", ["sh", "-c", "echo a; sleep 1; echo b"]):
                print(ev)
    """

    def __init__(self, socket_path: str | os.PathLike[str] | None = None, *,
                 timeout: float | None = 30.0) -> None:
        self.socket_path = os.fspath(socket_path or os.environ.get("SBX_SOCKET")
                                     or _wire.DEFAULT_SOCKET)
        self.timeout = timeout
        self._conn: _AsyncConnection | None = None
        self._lock: asyncio.Lock | None = None

    def __repr__(self) -> str:
        return f"AsyncClient({self.socket_path!r})"

    async def __aenter__(self) -> "AsyncClient":
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.close()

    async def connect(self) -> "AsyncClient":
        """Opens the connection now; raises ConnectionFailed when it cannot."""
        await self._connection()
        return self

    async def close(self) -> None:
        """Closes the connection (sbxd kills its tasks); the client may be used again."""
        conn, self._conn = self._conn, None
        if conn is not None:
            await conn.close()

    async def _connection(self) -> _AsyncConnection:
        if self._lock is None:
            self._lock = asyncio.Lock()
        async with self._lock:
            if self._conn is None or self._conn.dead:
                self._conn = await _AsyncConnection.open(self.socket_path, self.timeout)
            return self._conn

    @staticmethod
    async def _wait(q: "asyncio.Queue[Any]", deadline: float | None) -> dict[str, Any]:
        try:
            if deadline is None:
                item = await q.get()
            else:
                item = await asyncio.wait_for(q.get(), max(0.0, deadline - time.monotonic()))
        except asyncio.TimeoutError:
            raise RequestTimeout("no reply from sbxd in time") from None
        if isinstance(item, BaseException):
            raise item
        return item

    async def _call(self, msg: dict[str, Any], timeout: Any = _DEFAULT) -> dict[str, Any]:
        t = self.timeout if timeout is _DEFAULT else timeout
        deadline = None if t is None else time.monotonic() + t
        conn = await self._connection()
        q: "asyncio.Queue[Any]" = asyncio.Queue()
        rid = await conn.send(msg, q)
        try:
            return _wire.reply_or_raise(await self._wait(q, deadline))
        except BaseException:
            conn.router.drop(rid)
            raise

    async def call(self, op: str, timeout: Any = _DEFAULT, **fields: Any) -> dict[str, Any]:
        """See :meth:`Client.call`."""
        if op == "run":
            raise ValueError("use stream() or run() for the run op")
        return await self._call({"op": op, **fields}, timeout)

    async def hello(self) -> Hello:
        """See :meth:`Client.hello`."""
        return Hello.from_reply(await self._call({"op": "hello"}))

    async def seal(self, context: str, secrets: Mapping[str, str]) -> Sealed:
        """See :meth:`Client.seal`."""
        r = await self._call(_wire.seal_request(context, secrets))
        return Sealed(r["sealed"], int(r.get("key_id", 0)))

    async def rewrap(self, context: str, sealed: str) -> Sealed:
        """See :meth:`Client.rewrap`."""
        r = await self._call(_wire.rewrap_request(context, sealed))
        return Sealed(r["sealed"], int(r.get("key_id", 0)), bool(r.get("rewrapped")))

    async def stream(self, policy: str, argv: Sequence[str], *,
                     env: Mapping[str, str] | None = None, sealed: str | None = None,
                     context: str | None = None, stdin: bytes | str | None = None,
                     timeout_ms: int | None = None, cwd: str | None = None,
                     wait_timeout: float | None = None) -> AsyncIterator[Event]:
        """See :meth:`Client.stream`: an async generator of the task's events. Leaving it
        early (break, exception, ``aclose()``) cancels the task."""
        msg = _wire.run_request(policy, argv, env=env, sealed=sealed, context=context,
                                stdin=stdin, timeout_ms=timeout_ms, cwd=cwd)
        deadline = None if wait_timeout is None else time.monotonic() + wait_timeout
        conn = await self._connection()
        q: "asyncio.Queue[Any]" = asyncio.Queue()
        rid = await conn.send(msg, q)
        task = None
        done = False
        try:
            while True:
                item = await self._wait(q, deadline)
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
                conn.router.drop(rid)
                if task is not None:
                    try:
                        conn.router.drop(conn.send_nowait({"op": "cancel", "task": task},
                                                          _NullSink))
                    except SbxError:
                        pass

    async def run(self, policy: str, argv: Sequence[str], *,
                  env: Mapping[str, str] | None = None, sealed: str | None = None,
                  context: str | None = None, stdin: bytes | str | None = None,
                  timeout_ms: int | None = None, cwd: str | None = None,
                  wait_timeout: float | None = None) -> RunResult:
        """See :meth:`Client.run`."""
        col = RunCollector()
        gen = self.stream(policy, argv, env=env, sealed=sealed, context=context, stdin=stdin,
                          timeout_ms=timeout_ms, cwd=cwd, wait_timeout=wait_timeout)
        try:
            async for ev in gen:
                res = col.feed(ev)
                if res is not None:
                    return res
        finally:
            await gen.aclose()
        raise ProtocolError("the run ended without an exit event")  # pragma: no cover

    async def cancel(self, task: str) -> None:
        """See :meth:`Client.cancel`."""
        await self._call({"op": "cancel", "task": task})

    async def ps(self) -> list[TaskInfo]:
        """See :meth:`Client.ps`."""
        r = await self._call({"op": "list"})
        return [TaskInfo.from_obj(t) for t in r.get("tasks") or ()]

    list_tasks = ps

    async def stats(self) -> Stats:
        """See :meth:`Client.stats`."""
        return Stats.from_reply(await self._call({"op": "stats"}))


class _NullSinkType:
    def put_nowait(self, item: Any) -> None:
        pass


_NullSink = _NullSinkType()
