# SPDX-License-Identifier: MIT
"""The reference app: tasks with API keys, run in sbx sandboxes.

    POST /tasks             {"command": [argv...], "api_keys": {"NAME": "value"}?, "policy"?}
    POST /tasks/{id}/run    runs it through sbxd; stores exit code and (redacted) output
    GET  /tasks/{id}        the task, without its blob and never a key
    GET  /tasks             every task, the same way

The keys are sealed by sbxd with the context ``task:<id>`` the moment they arrive; the app
stores only the sealed blob and hands it back to sbxd for each run. A copied blob does not
open for another row, a stolen database opens nothing.

Configuration: ``SBX_SOCKET`` (default /run/sbx/sbxd.sock), ``TASKAPP_DB`` (default
./taskapp.db). Run with ``python3 -m taskapp serve`` or ``python3 -m uvicorn taskapp.app:app``.
"""

from __future__ import annotations

import json
import os
import threading
from typing import Any, Optional

from fastapi import FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field, SecretStr

import sbx_client
from sbx_client import Client, SbxError

from . import db as dbm

#: HTTP status for each sbxd error code (default 502: sbxd failed us).
HTTP_STATUS = {
    "bad_request": 400,
    "policy_unknown": 400,
    "policy_violation": 400,
    "secret_not_allowed": 400,
    "unauthorized": 403,
    "sealed_malformed": 409,
    "key_unknown": 409,
    "key_retired": 409,
    "decrypt_failed": 409,
    "busy": 503,
    "audit_unavailable": 503,
    "connection_failed": 503,
    "connection_lost": 503,
    "client_timeout": 504,
}


class TaskCreate(BaseModel):
    """The body of POST /tasks. Key values are SecretStr: they never show in a repr."""

    command: list[str] = Field(..., min_items=1)
    api_keys: Optional[dict[str, SecretStr]] = None
    policy: str = "default"

    class Config:
        extra = "forbid"


def normalise(name: str) -> str:
    """Key names as sbxd stores them (``anthropic-api-key`` -> ``ANTHROPIC_API_KEY``)."""
    return "".join("_" if c in "-. " else c for c in name.upper())


def sbx_http_error(e: SbxError) -> HTTPException:
    return HTTPException(HTTP_STATUS.get(e.code, 502), {"code": e.code, "message": e.message})


def create_app(db_path: str | None = None, socket_path: str | None = None,
               client: Client | None = None) -> FastAPI:
    """The app for a database and an sbxd socket (tests make one per database)."""
    db_path = db_path or os.environ.get("TASKAPP_DB", "taskapp.db")
    sbx = client or Client(socket_path or os.environ.get("SBX_SOCKET"), timeout=30)
    app = FastAPI(title="taskapp", description="Tasks with sealed API keys, run by sbx")
    local = threading.local()

    def database():
        conn = getattr(local, "db", None)
        if conn is None:
            conn = local.db = dbm.connect(db_path)
        return conn

    @app.on_event("startup")
    def _startup() -> None:
        dbm.connect(db_path).close()

    @app.on_event("shutdown")
    def _shutdown() -> None:
        sbx.close()

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        # Only where and what, never the input: the body may hold API keys.
        detail = [{"loc": list(e.get("loc", ())), "msg": e.get("msg"), "type": e.get("type")}
                  for e in exc.errors()]
        return JSONResponse({"detail": detail}, status_code=422)

    def load(task_id: int):
        row = database().execute("SELECT * FROM tasks WHERE id = ?", (task_id,)).fetchone()
        if row is None:
            raise HTTPException(404, {"code": "not_found", "message": f"no task {task_id}"})
        return row

    @app.post("/tasks", status_code=201)
    def create_task(body: TaskCreate) -> dict[str, Any]:
        """Creates a task; its api_keys are sealed by sbxd and only the blob is stored."""
        conn = database()
        names = sorted(normalise(k) for k in body.api_keys) if body.api_keys else None
        with conn:  # one transaction: the row exists with its blob, or not at all
            cur = conn.execute(
                "INSERT INTO tasks (command, policy, api_key_names, status, created_at) "
                "VALUES (?, ?, ?, 'created', ?)",
                (json.dumps(body.command), body.policy, json.dumps(names) if names else None,
                 dbm.now()))
            task_id = cur.lastrowid
            if body.api_keys:
                try:
                    blob = sbx.seal(dbm.context_of(task_id),
                                    {k: v.get_secret_value() for k, v in body.api_keys.items()})
                except SbxError as e:
                    raise sbx_http_error(e) from None
                conn.execute("UPDATE tasks SET sealed_api_keys = ? WHERE id = ?",
                             (str(blob), task_id))
        return dbm.view(load(task_id))

    @app.post("/tasks/{task_id}/run")
    def run_task(task_id: int) -> dict[str, Any]:
        """Runs the task in a sandbox (its keys in its environment) and stores the result."""
        conn = database()
        row = load(task_id)
        blob = row["sealed_api_keys"]
        with conn:
            conn.execute("UPDATE tasks SET status = 'running', error_code = NULL, "
                         "error_message = NULL WHERE id = ?", (task_id,))
        try:
            r = sbx.run(row["policy"] or "default", dbm.argv_of(row["command"]),
                        sealed=blob or None, context=dbm.context_of(task_id) if blob else None)
        except SbxError as e:
            with conn:
                conn.execute("UPDATE tasks SET status = 'error', error_code = ?, "
                             "error_message = ?, finished_at = ? WHERE id = ?",
                             (e.code, e.message, dbm.now(), task_id))
            raise sbx_http_error(e) from None
        with conn:
            conn.execute(
                "UPDATE tasks SET status = 'finished', exit_code = ?, signal = ?, reason = ?, "
                "stdout = ?, stderr = ?, output_truncated = ?, duration_ms = ?, finished_at = ? "
                "WHERE id = ?",
                (r.exit_code, r.signal, r.reason, r.stdout.decode(errors="replace"),
                 r.stderr.decode(errors="replace"), int(r.output_truncated), r.duration_ms,
                 dbm.now(), task_id))
        return dbm.view(load(task_id))

    @app.get("/tasks/{task_id}")
    def get_task(task_id: int) -> dict[str, Any]:
        """The task without its blob."""
        return dbm.view(load(task_id))

    @app.get("/tasks")
    def list_tasks() -> list[dict[str, Any]]:
        return [dbm.view(r) for r in database().execute("SELECT * FROM tasks ORDER BY id")]

    @app.get("/health")
    def health() -> dict[str, Any]:
        try:
            h = sbx.hello()
        except SbxError as e:
            raise sbx_http_error(e) from None
        return {"sbxd": h.version, "protocol": h.protocol}

    app.state.sbx = sbx
    app.state.db_path = db_path
    return app


# For `uvicorn taskapp.app:app`: configured from the environment; connects on first use.
app = create_app()

__all__ = ["app", "create_app", "TaskCreate", "sbx_client"]
