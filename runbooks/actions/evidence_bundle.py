"""``evidence.bundle``: a consistent copy of the case (SQLite backup API) and a manifest with the
input captures' hashes, the audit head and the copy's own hash. The case key is not copied.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import time
from pathlib import Path
from typing import Any

from discovery.case import audit
from discovery.case.files import (
    check_output,
    place,
    private_folder,
    temporary_beside,
    write_private,
)
from discovery.case.store import file_sha256
from discovery.errors import OutputError
from discovery.timeutil import iso
from discovery.views import traffic
from runbooks.actions.base import Action, ActionContext, Args
from runbooks.errors import ActionError


class BundleArgs(Args):
    directory: str
    name: str | None = None  # base name; default: case name + run id


class EvidenceBundle(Action[BundleArgs]):
    """Write ``NAME.db`` and ``NAME.manifest.json`` into a folder: never overwriting, private
    files (0600) in a private folder (0700, created when missing), never through a symlink."""

    name = "evidence.bundle"
    args = BundleArgs

    def plan(self, args: BundleArgs, ctx: ActionContext) -> str:
        return (
            f"copy the case and write a manifest (input hashes, audit head) into {args.directory}"
        )

    def run(self, args: BundleArgs, ctx: ActionContext) -> dict[str, Any]:
        folder = Path(args.directory)
        base = args.name or f"{ctx.store.path.stem}-{ctx.run_id}"
        if "/" in base or base.startswith("."):
            raise ActionError(f"bundle name {base!r} must be a plain file name")
        copy, manifest_path = folder / f"{base}.db", folder / f"{base}.manifest.json"
        try:
            private_folder(folder)
            for target in (copy, manifest_path):
                check_output(target, ctx.store.path)
            temp = temporary_beside(copy)
            try:
                target_db = sqlite3.connect(temp)
                try:
                    ctx.store.conn.backup(target_db)
                finally:
                    target_db.close()
                place(temp, copy, force=False)
            finally:
                temp.unlink(missing_ok=True)
            inputs = [
                {
                    "path": i.path,
                    "sha256": i.sha256,
                    "format": i.format,
                    "size": i.size,
                    "state": i.state,
                }
                for i in traffic.inputs(ctx.store)
            ]
            verification = audit.verify(ctx.store)
            manifest = {
                "created_at": iso(time.time()),
                "case": str(ctx.store.path),
                "copy": copy.name,
                "copy_sha256": file_sha256(copy),
                "inputs": inputs,
                "audit_head": verification.head,
                "audit_entries": verification.entries,
                "audit_ok": verification.ok,
            }
            body = json.dumps(manifest, indent=2, sort_keys=True)
            write_private(manifest_path, body + "\n", case=ctx.store.path)
        except OutputError as exc:
            raise ActionError(f"cannot write the bundle: {exc}; not overwriting evidence") from None
        except (OSError, sqlite3.Error) as exc:
            raise ActionError(f"{folder}: cannot write the bundle: {exc}") from None
        return {
            "copy": str(copy),
            "manifest": str(manifest_path),
            "manifest_sha256": hashlib.sha256(body.encode()).hexdigest(),
            "copy_sha256": manifest["copy_sha256"],
            "inputs": len(inputs),
            "audit_head": verification.head,
        }


ACTION = EvidenceBundle()
