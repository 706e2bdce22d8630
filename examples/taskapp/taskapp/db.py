# SPDX-License-Identifier: MIT
"""The tasks table (SQLite, stdlib sqlite3).

The table holds one sealed blob per task (``sealed_api_keys``, ``sbx1:...``, sealed by sbxd
with the context ``task:<id>``) and never a key. ``encrypted_api_keys`` is the old app's
Fernet column: it exists only in databases made by the old app, and ``migrate-fernet``
empties it.

``secure_delete`` is on, so overwritten blobs and cleared Fernet tokens do not linger in
free pages of the file.
"""

from __future__ import annotations

import json
import sqlite3
import time
from typing import Any

SCHEMA = """
CREATE TABLE IF NOT EXISTS tasks (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    command TEXT NOT NULL,
    policy TEXT NOT NULL DEFAULT 'default',
    sealed_api_keys TEXT,
    api_key_names TEXT,
    status TEXT NOT NULL DEFAULT 'created',
    exit_code INTEGER,
    signal INTEGER,
    reason TEXT,
    stdout TEXT,
    stderr TEXT,
    output_truncated INTEGER,
    duration_ms INTEGER,
    error_code TEXT,
    error_message TEXT,
    created_at REAL,
    finished_at REAL
)
"""

#: Columns this app needs, with their types, for databases made by the old app.
COLUMNS = {
    "policy": "TEXT",
    "sealed_api_keys": "TEXT",
    "api_key_names": "TEXT",
    "status": "TEXT",
    "exit_code": "INTEGER",
    "signal": "INTEGER",
    "reason": "TEXT",
    "stdout": "TEXT",
    "stderr": "TEXT",
    "output_truncated": "INTEGER",
    "duration_ms": "INTEGER",
    "error_code": "TEXT",
    "error_message": "TEXT",
    "created_at": "REAL",
    "finished_at": "REAL",
}


def connect(path: str) -> sqlite3.Connection:
    """A connection with the schema in place (an old app's table gets the missing columns)."""
    db = sqlite3.connect(path, timeout=30, check_same_thread=False)
    db.row_factory = sqlite3.Row
    db.execute("PRAGMA secure_delete = ON")
    with db:
        db.execute(SCHEMA)
        have = {r["name"] for r in db.execute("PRAGMA table_info(tasks)")}
        for name, typ in COLUMNS.items():
            if name not in have:
                db.execute(f"ALTER TABLE tasks ADD COLUMN {name} {typ}")
    return db


def context_of(task_id: int) -> str:
    """The sealing context of a task's blob: the blob opens for this row only."""
    return f"task:{task_id}"


def argv_of(command: Any) -> list[str]:
    """The stored command as argv: a JSON list, or (old app) a shell command line."""
    if isinstance(command, str):
        try:
            v = json.loads(command)
        except json.JSONDecodeError:
            v = None
        if isinstance(v, list) and v and all(isinstance(a, str) for a in v):
            return v
        return ["/bin/sh", "-c", command]
    raise ValueError("command is not text")


def view(row: sqlite3.Row) -> dict[str, Any]:
    """What the API shows of a task: everything but the blob (and never a key)."""
    names = row["api_key_names"]
    return {
        "id": row["id"],
        "command": argv_of(row["command"]),
        "policy": row["policy"] or "default",
        "has_api_keys": bool(row["sealed_api_keys"]),
        "api_key_names": json.loads(names) if names else None,
        "status": row["status"] or "created",
        "exit_code": row["exit_code"],
        "signal": row["signal"],
        "reason": row["reason"],
        "stdout": row["stdout"],
        "stderr": row["stderr"],
        "output_truncated": bool(row["output_truncated"]),
        "duration_ms": row["duration_ms"],
        "error": ({"code": row["error_code"], "message": row["error_message"]}
                  if row["error_code"] else None),
        "created_at": row["created_at"],
        "finished_at": row["finished_at"],
    }


def now() -> float:
    return time.time()
