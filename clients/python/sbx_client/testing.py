# SPDX-License-Identifier: MIT
"""A throwaway sbxd for tests: ``sbxd --dev DIR`` (or ``--config``) in a temporary directory.

Needs root (sbxd builds sandboxes) and the sbxd/sbxctl binaries (``make`` in the sbx tree).
Used by this package's tests and by the reference app's; an application's own tests may use
it the same way::

    with Sbxd("/path/to/build/sbxd") as d:
        with Client(d.socket) as c:
            ...
    assert d.returncode == 0
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any, Mapping

__all__ = ["Sbxd"]


class Sbxd:
    """One sbxd child process.

    Args:
        sbxd: path of the sbxd binary.
        sbxctl: path of sbxctl (needed for config mode, rotate/retire helpers); default: next
            to sbxd.
        limits: when given, sbxd runs with ``--config`` (a keyring made by ``sbxctl keys
            init``, an audit chain by ``sbxctl audit init``) and these ``limits``.
        clients: client rules for config mode (``clients`` in sbxd.json).
        socket_group: config mode: the socket's group (mode 0660), and its directory is made
            world-traversable, so other uids can reach it (for authorization tests).
        audit_dir: config mode: where the audit log and its state live (default: ``dir``).

    Attributes: ``base`` (temporary directory), ``dir`` (sbxd's directory), ``socket``,
    ``keyring``, ``log`` (sbxd's stderr), ``proc``.
    """

    def __init__(self, sbxd: str | os.PathLike[str], *, sbxctl: str | os.PathLike[str] | None = None,
                 limits: Mapping[str, Any] | None = None,
                 clients: list[Mapping[str, Any]] | None = None,
                 socket_group: str | None = None,
                 audit_dir: str | os.PathLike[str] | None = None) -> None:
        self.sbxd = os.fspath(sbxd)
        self.sbxctl = os.fspath(sbxctl) if sbxctl else str(Path(self.sbxd).with_name("sbxctl"))
        self.base = Path(tempfile.mkdtemp(prefix="sbx-pytest-"))
        os.chmod(self.base, 0o755)
        self.dir = self.base / "d"
        self.keyring = self.dir / "keyring"
        self.log = self.base / "sbxd.log"
        self.audit_dir = Path(audit_dir) if audit_dir else self.dir
        self.config_mode = (limits is not None or clients is not None or socket_group is not None
                            or audit_dir is not None)
        if self.config_mode:
            self.sockdir = self.base / "run"
            self.socket = str(self.sockdir / "sbxd.sock")
        else:
            self.socket = str(self.dir / "sbxd.sock")
        self.limits = dict(limits or {})
        self.clients = list(clients or [])
        self.socket_group = socket_group
        self.proc: subprocess.Popen[bytes] | None = None
        self.returncode: int | None = None

    # -- lifecycle

    def sbxctl_run(self, *args: str, stdin: bytes | None = None,
                   check: bool = True) -> subprocess.CompletedProcess[bytes]:
        """Runs sbxctl with args (``--keyring`` is the caller's to add) and returns it."""
        p = subprocess.run([self.sbxctl, *args], input=stdin, capture_output=True, timeout=60)
        if check and p.returncode != 0:
            raise RuntimeError(f"sbxctl {' '.join(args[:2])} exited {p.returncode}: "
                               f"{p.stderr.decode(errors='replace').strip()}")
        return p

    def _prepare_config(self) -> list[str]:
        self.dir.mkdir(mode=0o700)
        (self.dir / "policies").mkdir(mode=0o700)
        self.sockdir.mkdir(mode=0o755)
        self.sbxctl_run("keys", "init", "--keyring", str(self.keyring))
        self.sbxctl_run("audit", "init", "--dir", str(self.audit_dir), "--key-out",
                        str(self.base / "audit.key"))
        sock: dict[str, Any] = {"path": self.socket, "mode": "0660"}
        if self.socket_group:
            sock["group"] = self.socket_group
        cfg: dict[str, Any] = {
            "socket": sock,
            "keyring": str(self.keyring),
            "policy_dir": str(self.dir / "policies"),
            "audit": {"path": str(self.audit_dir / "audit.jsonl"),
                      "state_dir": str(self.audit_dir)},
        }
        if self.limits:
            cfg["limits"] = self.limits
        if self.clients:
            cfg["clients"] = self.clients
        path = self.base / "sbxd.json"
        path.write_text(json.dumps(cfg, indent=2))
        return ["--config", str(path)]

    def start(self, timeout: float = 10.0) -> "Sbxd":
        """Starts sbxd and returns once its socket accepts connections."""
        args = self._prepare_config() if self.config_mode else ["--dev", str(self.dir)]
        env = {k: v for k, v in os.environ.items()
               if k not in ("SUDO_UID", "NOTIFY_SOCKET", "LISTEN_FDS", "LISTEN_PID")}
        with open(self.log, "wb") as logf:
            self.proc = subprocess.Popen([self.sbxd, *args], stdin=subprocess.DEVNULL,
                                         stdout=subprocess.DEVNULL, stderr=logf, env=env)
        deadline = time.monotonic() + timeout
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"sbxd exited at start ({self.proc.returncode}):\n"
                                   + self.read_log())
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                s.connect(self.socket)
                return self
            except OSError:
                pass
            finally:
                s.close()
            if time.monotonic() > deadline:
                self.kill()
                raise RuntimeError(f"sbxd did not accept on {self.socket} in {timeout} s:\n"
                                   + self.read_log())
            time.sleep(0.02)

    def read_log(self) -> str:
        try:
            return self.log.read_text(errors="replace")
        except OSError:
            return "(no log)"

    def reload(self, timeout: float = 10.0) -> None:
        """SIGHUP, and waits until sbxd logged the outcome of the reload."""
        assert self.proc is not None
        before = self._reloads()
        self.proc.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + timeout
        while self._reloads() == before:
            if time.monotonic() > deadline:
                raise RuntimeError("sbxd did not reload:\n" + self.read_log())
            time.sleep(0.02)

    def _reloads(self) -> int:
        log = self.read_log()
        return log.count("reloaded:") + log.count("reload:")

    def stop(self, timeout: float = 40.0) -> int:
        """SIGTERM and wait; returns sbxd's exit status (0 when it drained cleanly)."""
        if self.proc is None:
            return self.returncode if self.returncode is not None else 0
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            self.returncode = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.returncode = self.proc.wait()
            self.returncode = -9
        self.proc = None
        return self.returncode

    def kill(self) -> None:
        """SIGKILL (sbxd dies outright, as in a crash)."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
        if self.proc is not None:
            self.returncode = self.proc.wait()
            self.proc = None

    def cleanup(self) -> None:
        shutil.rmtree(self.base, ignore_errors=True)

    def __enter__(self) -> "Sbxd":
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()
        self.cleanup()

    # -- keyring helpers (offline changes; sbxd takes them in on reload)

    def keys(self, *args: str) -> str:
        """``sbxctl keys ARGS --keyring <this keyring>``; returns stdout."""
        return self.sbxctl_run("keys", *args, "--keyring", str(self.keyring)).stdout.decode()
