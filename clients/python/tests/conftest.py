# SPDX-License-Identifier: MIT
"""Fixtures: a real sbxd (build/sbxd) in a temporary directory, and clients of it."""

import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT / "clients" / "python"))

from sbx_client import Client  # noqa: E402
from sbx_client.testing import Sbxd  # noqa: E402

BUILD = Path(os.environ.get("SBX_BUILD", ROOT / "build"))
SBXD = BUILD / "sbxd"
SBXCTL = BUILD / "sbxctl"
#: Obviously fake secret values; tests assert they never show where they must not.
CANARY = "sk-canary-0123456789-NOT-A-REAL-KEY"


def pytest_collection_modifyitems(config, items):
    if os.geteuid() != 0:
        skip = pytest.mark.skip(reason="needs root (sbxd builds sandboxes)")
        for it in items:
            names = getattr(it, "fixturenames", ())
            if {"sbxd", "fresh_sbxd", "client"} & set(names) or "needs_root" in it.keywords:
                it.add_marker(skip)


def start(**kw):
    """A started Sbxd; the caller stops it (see finish)."""
    assert SBXD.exists(), f"{SBXD} is missing: run make first"
    return Sbxd(SBXD, sbxctl=SBXCTL, **kw).start()


def finish(d, expect_rc=0):
    rc = d.stop()
    log = d.read_log()
    d.cleanup()
    assert rc == expect_rc, f"sbxd exited {rc}, log:\n{log}"
    assert CANARY not in log, "a secret value reached sbxd's log"


@pytest.fixture(scope="session")
def sbxd():
    """One sbxd --dev for the tests that do not change its state."""
    d = start()
    yield d
    finish(d)


@pytest.fixture
def fresh_sbxd():
    """An sbxd --dev of the test's own (keyring changes, shutdown)."""
    d = start()
    yield d
    if d.proc is not None:
        finish(d)
    else:
        d.cleanup()


@pytest.fixture
def client(sbxd):
    with Client(sbxd.socket, timeout=30) as c:
        yield c
