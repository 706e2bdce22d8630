# SPDX-License-Identifier: MIT
"""``python3 -m taskapp COMMAND``: serve the app, and the two key-maintenance sweeps.

    serve [--host H] [--port P]      the FastAPI app under uvicorn
    rewrap                           re-seal every stored blob under sbxd's current primary key
    migrate-fernet --fernet-key-file F [--keyring K] [--sbxctl PATH]
                                     convert the old app's Fernet column to sealed blobs

``--db`` (default ``$TASKAPP_DB`` or ./taskapp.db) and ``--socket`` (default ``$SBX_SOCKET``)
apply to all. Exit status 0 when every row went through, 1 when some failed (the others are
done and a re-run is safe), 2 for usage errors.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

from sbx_client import Client, SbxError

from . import db as dbm


def cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    os.environ["TASKAPP_DB"] = args.db
    if args.socket:
        os.environ["SBX_SOCKET"] = args.socket
    uvicorn.run("taskapp.app:app", host=args.host, port=args.port)
    return 0


def cmd_rewrap(args: argparse.Namespace) -> int:
    """Every blob through sbxd's rewrap op: the plaintext never leaves sbxd; a blob already
    under the primary key comes back unchanged, so the sweep can be repeated."""
    conn = dbm.connect(args.db)
    rows = conn.execute("SELECT id, sealed_api_keys FROM tasks "
                        "WHERE sealed_api_keys IS NOT NULL AND sealed_api_keys != '' "
                        "ORDER BY id").fetchall()
    done = same = failed = 0
    keys: set[int] = set()
    with Client(args.socket) as sbx:
        for row in rows:
            try:
                new = sbx.rewrap(dbm.context_of(row["id"]), row["sealed_api_keys"])
            except SbxError as e:
                print(f"task {row['id']}: {e.code}: {e.message}", file=sys.stderr)
                failed += 1
                continue
            keys.add(new.key_id)
            if not new.rewrapped:
                same += 1
                continue
            with conn:  # only if nobody changed the row meanwhile
                cur = conn.execute("UPDATE tasks SET sealed_api_keys = ? "
                                   "WHERE id = ? AND sealed_api_keys = ?",
                                   (str(new), row["id"], row["sealed_api_keys"]))
            if cur.rowcount == 1:
                done += 1
            else:
                print(f"task {row['id']}: changed during the sweep; run rewrap again",
                      file=sys.stderr)
                failed += 1
    conn.close()
    under = f" (now under key {', '.join(map(str, sorted(keys)))})" if keys else ""
    print(f"rewrap: {done} rewrapped, {same} already under the primary key, {failed} failed"
          f"{under}")
    return 1 if failed else 0


def find_sbxctl(given: str | None) -> str:
    if given:
        return given
    if os.environ.get("SBXCTL"):
        return os.environ["SBXCTL"]
    found = shutil.which("sbxctl")
    if found:
        return found
    # This repository's build, when run from the source tree.
    here = Path(__file__).resolve().parents[3] / "build" / "sbxctl"
    return str(here)


_LINE_ERR = re.compile(r"line (\d+): (\S+)")


def cmd_migrate_fernet(args: argparse.Namespace) -> int:
    """Old rows (``encrypted_api_keys``: a Fernet token of a JSON object of keys) become sealed
    blobs with the context ``task:<id>``, through ``sbxctl keys import-fernet``: the Fernet key
    goes to sbxctl only (as a file), the plaintext stays in sbxctl's locked memory, and this
    program sees ciphertext only. Converted rows get their Fernet column cleared."""
    conn = dbm.connect(args.db)
    rows = conn.execute("SELECT id, encrypted_api_keys FROM tasks "
                        "WHERE encrypted_api_keys IS NOT NULL AND encrypted_api_keys != '' "
                        "ORDER BY id").fetchall()
    if not rows:
        print("migrate-fernet: no Fernet tokens left")
        return 0
    export = "".join(f"{dbm.context_of(r['id'])}\t{r['encrypted_api_keys'].strip()}\n"
                     for r in rows)
    cmd = [find_sbxctl(args.sbxctl), "keys", "import-fernet", "--fernet-key-file",
           args.fernet_key_file]
    if args.keyring:
        cmd += ["--keyring", args.keyring]
    try:
        p = subprocess.run(cmd, input=export.encode(), capture_output=True, timeout=600)
    except OSError as e:
        print(f"migrate-fernet: cannot run {cmd[0]}: {e.strerror}", file=sys.stderr)
        return 1
    by_context = {dbm.context_of(r["id"]): r for r in rows}
    sealed: dict[int, str] = {}
    for line in p.stdout.decode().splitlines():
        ctx, _, blob = line.partition("\t")
        if ctx in by_context and blob.startswith("sbx1:"):
            sealed[by_context[ctx]["id"]] = blob
    failed = 0
    for line in p.stderr.decode().splitlines():
        m = _LINE_ERR.search(line)
        if m and 1 <= int(m.group(1)) <= len(rows):
            print(f"task {rows[int(m.group(1)) - 1]['id']}: {m.group(2)}", file=sys.stderr)
            failed += 1
        elif "imported" not in line:
            print(line, file=sys.stderr)
    if p.returncode not in (0, 1) or (p.returncode == 1 and not failed):
        print(f"migrate-fernet: sbxctl exited {p.returncode}; nothing changed", file=sys.stderr)
        return 1
    with conn:
        for task_id, blob in sealed.items():
            conn.execute("UPDATE tasks SET sealed_api_keys = ?, encrypted_api_keys = NULL "
                         "WHERE id = ?", (blob, task_id))
    conn.execute("VACUUM")  # the cleared tokens leave the file, not only the table
    conn.close()
    print(f"migrate-fernet: {len(sealed)} converted, {failed} failed")
    if sealed and not failed:
        print("now destroy the Fernet key and every copy of the old .env: there is no way back")
    return 1 if failed or len(sealed) + failed != len(rows) else 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python3 -m taskapp",
                                 description="The sbx reference app and its maintenance.")
    ap.add_argument("--db", default=os.environ.get("TASKAPP_DB", "taskapp.db"),
                    help="SQLite database (default $TASKAPP_DB or taskapp.db)")
    ap.add_argument("--socket", default=os.environ.get("SBX_SOCKET"),
                    help="sbxd's socket (default $SBX_SOCKET or /run/sbx/sbxd.sock)")
    sub = ap.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("serve", help="run the HTTP API under uvicorn")
    s.add_argument("--host", default="127.0.0.1")
    s.add_argument("--port", type=int, default=8000)
    s.set_defaults(func=cmd_serve)
    s = sub.add_parser("rewrap", help="re-seal every blob under the current primary key")
    s.set_defaults(func=cmd_rewrap)
    s = sub.add_parser("migrate-fernet", help="convert the old Fernet column to sealed blobs")
    s.add_argument("--fernet-key-file", required=True,
                   help="file holding the old app's Fernet key (its FERNET_KEY)")
    s.add_argument("--keyring", help="sbx keyring (default sbxctl's: /etc/sbx/keyring)")
    s.add_argument("--sbxctl", help="sbxctl binary (default $SBXCTL, PATH, ../../build)")
    s.set_defaults(func=cmd_migrate_fernet)
    args = ap.parse_args(argv)
    try:
        return args.func(args)
    except SbxError as e:
        print(f"taskapp: {e}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
