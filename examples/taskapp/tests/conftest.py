# SPDX-License-Identifier: MIT
"""Fixtures: a real sbxd --dev, and the app on a fresh SQLite database talking to it."""

import os

import pytest

from apptest import CANARIES, SBXCTL, SBXD, Sbxd


def pytest_collection_modifyitems(config, items):
    if os.geteuid() != 0:
        skip = pytest.mark.skip(reason="needs root (sbxd builds sandboxes)")
        for it in items:
            it.add_marker(skip)


@pytest.fixture
def sbxd():
    assert SBXD.exists(), f"{SBXD} is missing: run make first"
    d = Sbxd(SBXD, sbxctl=SBXCTL).start()
    yield d
    rc = d.stop()
    log = d.read_log()
    d.cleanup()
    assert rc == 0, f"sbxd exited {rc}:\n{log}"
    for c in CANARIES:
        assert c not in log


@pytest.fixture
def app_env(sbxd, tmp_path):
    """(TestClient, db path, sbxd) for a fresh database."""
    from fastapi.testclient import TestClient
    from taskapp.app import create_app

    db = tmp_path / "taskapp.db"
    app = create_app(str(db), sbxd.socket)
    with TestClient(app) as http:
        yield http, db, sbxd
