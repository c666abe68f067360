"""The audit log's anchor: its keyed head and entry count, kept outside the case file.

``CASE.audit-anchor`` (mode 0600, beside the case key) is rewritten after every audit append
with the number of entries and the newest entry's hash, under an HMAC of the audit key. Someone
holding only the case file can rewrite the log, but cannot make a shorter or different log match
the anchor; ``audit.verify`` compares them. Optionally, every anchor is also appended as one JSON
line to a file the responder names (``IR_CONSOLE_AUDIT_MIRROR``: another disk, a share, a file
a log shipper follows): a copy an attacker with the key must also reach to roll the log back.

Writes are serialised with an advisory lock on the case key file and never go backwards: a
writer that got the lock late finds a newer anchor and leaves it.
"""

from __future__ import annotations

import fcntl
import hmac
import json
import os
import secrets
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from discovery.errors import CaseFileError
from discovery.redact.secrets import key_path_for

MIRROR_ENV = "IR_CONSOLE_AUDIT_MIRROR"
_VERSION = 1


def anchor_path(case_path: Path) -> Path:
    """The anchor file that belongs to a case file."""
    return case_path.with_name(case_path.name + ".audit-anchor")


@dataclass(frozen=True)
class Anchor:
    """The audit log as it was after an append: ``entries`` entries, the newest hashing to
    ``head``."""

    entries: int
    head: str
    written_at: float


class AnchorDamaged(CaseFileError):
    """The anchor file cannot be read, or its MAC does not match (it was edited)."""


def _mac(key: bytes, entries: int, head: str) -> str:
    return hmac.digest(
        key, f"ir-console audit anchor v{_VERSION}|{entries}|{head}".encode(), "sha256"
    ).hex()


def read(case_path: Path, key: bytes) -> Anchor | None:
    """The case's anchor; None when there is none; AnchorDamaged when it does not verify."""
    path = anchor_path(case_path)
    try:
        raw = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as exc:
        raise AnchorDamaged(f"{path}: cannot read the audit anchor ({exc})") from exc
    try:
        data = json.loads(raw)
        entries, head, mac = int(data["entries"]), str(data["head"]), str(data["mac"])
        written_at = float(data["written_at"])
    except (ValueError, KeyError, TypeError) as exc:
        raise AnchorDamaged(f"{path}: the audit anchor is damaged") from exc
    if not hmac.compare_digest(mac, _mac(key, entries, head)):
        raise AnchorDamaged(f"{path}: the audit anchor does not verify under the case key")
    return Anchor(entries, head, written_at)


@contextmanager
def _locked(case_path: Path) -> Iterator[None]:
    """An exclusive advisory lock on the case key file (it exists whenever a case is open)."""
    fd = os.open(key_path_for(case_path), os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # releases the lock


def write(case_path: Path, key: bytes, entries: int, head: str) -> bool:
    """Record the log's head; False (nothing written) when the anchor already records as many
    entries or more. Raises OSError when the file cannot be written."""
    path = anchor_path(case_path)
    with _locked(case_path):
        try:
            current = read(case_path, key)
        except AnchorDamaged:
            current = None  # replaced by a good one; verify reported the damage meanwhile
        if current is not None and current.entries >= entries:
            return False
        now = time.time()
        body = json.dumps(
            {
                "version": _VERSION,
                "case": str(case_path.resolve()),
                "entries": entries,
                "head": head,
                "written_at": now,
                "mac": _mac(key, entries, head),
            },
            sort_keys=True,
        )
        temp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(body + "\n")
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(temp, path)
        finally:
            temp.unlink(missing_ok=True)
        _mirror(body)
    return True


def _mirror(body: str) -> None:
    """Append the anchor to the responder's mirror file, when one is named."""
    target = os.environ.get(MIRROR_ENV)
    if not target:
        return
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    try:
        os.write(fd, (body + "\n").encode())
        os.fsync(fd)
    finally:
        os.close(fd)


def read_mirror(case_path: Path, key: bytes) -> Anchor | None:
    """The newest anchor of this case in the mirror file (None when no mirror is named or it
    holds none); lines that do not verify are ignored (the mirror may be shared, or noisy)."""
    target = os.environ.get(MIRROR_ENV)
    if not target:
        return None
    name = str(case_path.resolve())
    best: Anchor | None = None
    try:
        with open(target, encoding="utf-8", errors="replace") as handle:
            for line in handle:
                try:
                    data = json.loads(line)
                    if data.get("case") != name:
                        continue
                    entries, head = int(data["entries"]), str(data["head"])
                    if not hmac.compare_digest(str(data["mac"]), _mac(key, entries, head)):
                        continue
                    found = Anchor(entries, head, float(data["written_at"]))
                except (ValueError, KeyError, TypeError, AttributeError):
                    continue
                if best is None or found.entries > best.entries:
                    best = found
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise AnchorDamaged(f"{target}: cannot read the audit anchor mirror ({exc})") from exc
    return best


def remove(case_path: Path) -> None:
    """Forget the anchor of a case that is being created anew (there is no log to protect)."""
    anchor_path(case_path).unlink(missing_ok=True)
