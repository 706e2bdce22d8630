# SPDX-License-Identifier: MIT
"""Fixtures: a real sbxd (build/sbxd) in a temporary directory, and clients of it."""

import os

import pytest

from sbxtest import finish, start
from sbx_client import Client


def pytest_collection_modifyitems(config, items):
    if os.geteuid() != 0:
        skip = pytest.mark.skip(reason="needs root (sbxd builds sandboxes)")
        for it in items:
            names = getattr(it, "fixturenames", ())
            if {"sbxd", "fresh_sbxd", "client"} & set(names) or "needs_root" in it.keywords:
                it.add_marker(skip)

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
