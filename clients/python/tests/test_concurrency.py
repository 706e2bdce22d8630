# SPDX-License-Identifier: MIT
"""Many requests at once: on one connection (threads), on several, and with asyncio."""

import asyncio
import concurrent.futures
import hashlib
import os
import time

import pytest

import sbx_client
from sbx_client import AsyncClient, Client

from sbxtest import CANARY

N = 48


def job(c, i):
    ctx = f"tenant:c/task:{i}"
    secret = f"{CANARY}-{i}"
    blob = c.seal(ctx, {"X_API_KEY": secret})
    r = c.run("default", ["/bin/sh", "-c", 'cat; printf "%s" "$X_API_KEY" | sha256sum'],
              sealed=blob, context=ctx, stdin=f"job {i}\n".encode())
    return i, r, hashlib.sha256(secret.encode()).hexdigest()


def check(results):
    assert len(results) == N
    for i, r, digest in results:
        assert r.ok, r
        lines = r.stdout.decode().splitlines()
        assert lines[0] == f"job {i}"
        assert lines[1].startswith(digest)   # each task got its own key, no cross-talk


def test_many_runs_on_one_connection(sbxd):
    with Client(sbxd.socket) as c:
        c.hello()
        conn = c._conn
        with concurrent.futures.ThreadPoolExecutor(16) as ex:
            results = list(ex.map(lambda i: job(c, i), range(N)))
        assert c._conn is conn, "the shared connection was replaced"
        check(results)
        assert c.ps() == []


def test_many_runs_on_several_connections(sbxd):
    clients = [Client(sbxd.socket) for _ in range(4)]
    try:
        with concurrent.futures.ThreadPoolExecutor(16) as ex:
            results = list(ex.map(lambda i: job(clients[i % 4], i), range(N)))
        check(results)
    finally:
        for c in clients:
            c.close()


def test_runs_in_parallel_not_in_series(sbxd):
    with Client(sbxd.socket) as c:
        t0 = time.monotonic()
        with concurrent.futures.ThreadPoolExecutor(8) as ex:
            rs = list(ex.map(lambda _: c.run("default", ["/bin/sleep", "1"]), range(8)))
        assert all(r.ok for r in rs)
        assert time.monotonic() - t0 < 6     # 8 s if serialized


def test_cancel_one_of_many(sbxd):
    with Client(sbxd.socket) as c:
        with concurrent.futures.ThreadPoolExecutor(4) as ex:
            slow = ex.submit(c.run, "default", ["/bin/sleep", "30"])
            fast = [ex.submit(c.run, "default", ["/bin/echo", str(i)]) for i in range(3)]
            assert [f.result(10).stdout for f in fast] == [b"0\n", b"1\n", b"2\n"]
            deadline = time.monotonic() + 10
            while not (tasks := c.ps()):
                assert time.monotonic() < deadline
                time.sleep(0.02)
            c.cancel(tasks[0].task)
            assert slow.result(10).reason == "cancelled"


def test_async_client_everything(sbxd):
    async def main():
        async with AsyncClient(sbxd.socket) as c:
            h = await c.hello()
            assert h.protocol == 1 and h.peer.pid == os.getpid()
            blob = await c.seal("tenant:a/task:1", {"X_API_KEY": CANARY})
            assert blob.key_id == 1
            assert (await c.rewrap("tenant:a/task:1", blob)).rewrapped is False
            r = await c.run("default", ["/bin/sh", "-c", 'echo "$X_API_KEY"; cat'],
                            sealed=blob, context="tenant:a/task:1", stdin=b"in\n")
            assert r.ok and r.stdout == b"[REDACTED:X_API_KEY]\nin\n"
            names = [type(e).__name__ async for e in c.stream("default", ["/bin/echo", "x"])]
            assert names[:2] == ["Accepted", "Started"] and names[-1] == "Exit"
            # Concurrency on one connection.
            rs = await asyncio.gather(*[
                c.run("default", ["/bin/sh", "-c", f"echo {i}"]) for i in range(N)])
            assert [r.stdout for r in rs] == [f"{i}\n".encode() for i in range(N)]
            # Cancel from the same connection while the stream runs.
            last = None
            async for ev in c.stream("default", ["/bin/sleep", "30"]):
                if isinstance(ev, sbx_client.Started):
                    assert [t.task for t in await c.ps()] == [ev.task]
                    await c.cancel(ev.task)
                last = ev
            assert last.reason == "cancelled"
            # Leaving a stream early cancels its task.
            async for ev in c.stream("default", ["/bin/sleep", "30"]):
                if isinstance(ev, sbx_client.Started):
                    break
            for _ in range(500):
                if not await c.ps():
                    break
                await asyncio.sleep(0.02)
            assert await c.ps() == []
            # Errors.
            with pytest.raises(sbx_client.DecryptFailed):
                await c.run("default", ["/bin/true"], sealed=blob, context="tenant:b/task:1")
            with pytest.raises(sbx_client.PolicyUnknown):
                await c.run("nope", ["/bin/true"])
            with pytest.raises(sbx_client.SandboxSetupFailed) as ei:
                await c.run("default", ["/nope"])
            assert ei.value.step == "execve"
            with pytest.raises(sbx_client.BadRequest):
                await c.cancel("sbxd-0-0")
            with pytest.raises(sbx_client.UnknownOp):
                await c.call("reboot")
            with pytest.raises(sbx_client.TooLarge):
                await c.run("default", ["/bin/cat"], stdin=b"x" * (1 << 20))
            assert (await c.hello()).protocol == 1
            # Timeouts.
            r = await c.run("default", ["/bin/sleep", "30"], timeout_ms=200)
            assert r.reason == "timeout"
            with pytest.raises(sbx_client.RequestTimeout):
                await c.run("default", ["/bin/sleep", "30"], wait_timeout=0.3)
            s = await c.stats()
            assert s.tasks_run > 0
        with pytest.raises(sbx_client.ConnectionFailed):
            await AsyncClient(sbxd.socket + ".missing").hello()

    asyncio.run(main())


def test_async_connection_lost(fresh_sbxd):
    async def main():
        c = AsyncClient(fresh_sbxd.socket)
        agen = c.stream("default", ["/bin/sleep", "30"])
        assert isinstance(await agen.__anext__(), sbx_client.Accepted)
        assert isinstance(await agen.__anext__(), sbx_client.Started)
        fresh_sbxd.kill()
        with pytest.raises(sbx_client.ConnectionLost):
            async for _ in agen:
                pass
        await c.close()

    asyncio.run(main())
