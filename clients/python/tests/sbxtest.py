# SPDX-License-Identifier: MIT
"""Helpers of the client tests: paths, the canary value, starting and stopping sbxd."""

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT / "clients" / "python"))

from sbx_client import Client  # noqa: E402
from sbx_client.testing import Sbxd  # noqa: E402

BUILD = Path(os.environ.get("SBX_BUILD", ROOT / "build"))
SBXD = BUILD / "sbxd"
SBXCTL = BUILD / "sbxctl"
#: Obviously fake secret values; tests assert they never show where they must not.
CANARY = "sk-canary-0123456789-NOT-A-REAL-KEY"


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
