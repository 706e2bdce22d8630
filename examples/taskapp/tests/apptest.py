# SPDX-License-Identifier: MIT
"""Helpers of the app tests: paths, canary values, the CLI, the database's bytes."""

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
APP_DIR = ROOT / "examples" / "taskapp"
CLIENT_DIR = ROOT / "clients" / "python"
sys.path[:0] = [str(APP_DIR), str(CLIENT_DIR)]

from sbx_client.testing import Sbxd  # noqa: E402

BUILD = Path(os.environ.get("SBX_BUILD", ROOT / "build"))
SBXD = BUILD / "sbxd"
SBXCTL = BUILD / "sbxctl"
#: Fake key values; the tests assert they never reach the API or the database.
CANARY_A = "sk-ant-canary-AAAA-0123456789-NOT-REAL"
CANARY_B = "ghp_canary_BBBB_0123456789_NOT_REAL"
CANARIES = (CANARY_A, CANARY_B)


def cli(*args, db, socket=None, check=None):
    """python3 -m taskapp ARGS as a separate process, as an operator runs it."""
    import subprocess
    env = dict(os.environ, PYTHONPATH=f"{APP_DIR}:{CLIENT_DIR}", TASKAPP_DB=str(db))
    if socket:
        env["SBX_SOCKET"] = socket
    p = subprocess.run(["/usr/bin/python3", "-m", "taskapp", *args], env=env,
                       capture_output=True, timeout=120, cwd="/")
    out = p.stdout.decode() + p.stderr.decode()
    if check is not None:
        assert p.returncode == check, f"exit {p.returncode}:\n{out}"
    for c in CANARIES:
        assert c not in out
    return p.returncode, out


def files_bytes(directory):
    """Every byte of every file under directory (the database and any journal/WAL)."""
    return b"".join(p.read_bytes() for p in Path(directory).rglob("*") if p.is_file())
