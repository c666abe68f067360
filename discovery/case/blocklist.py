"""The blocklist the proxy enforces: blocked credentials (by fingerprint) and endpoints.

Every block and unblock writes its audit entry in the same transaction, before the change.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from discovery.case import audit
from discovery.case.store import Store
from discovery.errors import SubjectNotFound


@dataclass(frozen=True)
class Block:
    kind: str  # "credential" | "endpoint"
    value: str  # fingerprint | "HOST METHOD TEMPLATE"
    subject: str  # credential id | "HOST METHOD TEMPLATE"
    reason: str | None
    created_at: float
    created_by: str | None


def parse_endpoint(subject: str) -> tuple[str, str, str]:
    """Split ``"HOST METHOD TEMPLATE"`` into its parts (host lower-cased, method upper-cased)."""
    parts = subject.split()
    if len(parts) > 3 and parts[2].startswith("/"):
        raise SubjectNotFound(
            f"{subject!r} is an API operation (GraphQL) carried by {parts[2]}: the proxy "
            f'blocks paths, not operations; block "{parts[0]} {parts[1]} {parts[2]}" or the '
            "credential instead"
        )
    if len(parts) != 3 or not parts[2].startswith("/"):
        raise SubjectNotFound(
            f'endpoint must be "HOST METHOD TEMPLATE" (e.g. "api.example.com GET /v1/users/{{id}}"), '
            f"got {subject!r}"
        )
    return parts[0].lower(), parts[1].upper(), parts[2]


def template_matches(template: str, path: str) -> bool:
    """Whether a normalised path fits a template: a ``{param}`` segment matches exactly one
    non-empty path segment, a literal segment matches itself exactly."""
    t_segments = template.strip("/").split("/")
    p_segments = path.strip("/").split("/")
    if len(t_segments) != len(p_segments):
        return False
    for t_seg, p_seg in zip(t_segments, p_segments, strict=True):
        if t_seg.startswith("{") and t_seg.endswith("}") and len(t_seg) > 2:
            if not p_seg:
                return False
        elif t_seg != p_seg:
            return False
    return True


def endpoint_key(host: str, method: str, template: str) -> str:
    return f"{host.lower()} {method.upper()} {template}"


def block_credential(
    store: Store, credential_id: str, reason: str | None = None, actor: str = "cli"
) -> Block:
    """Block a credential (known to the case) at the proxy."""
    row = store.conn.execute(
        "SELECT fingerprint FROM credentials WHERE id = ?", (credential_id,)
    ).fetchone()
    if row is None:
        raise SubjectNotFound(f"no credential {credential_id!r} in this case")
    return _block(store, "credential", row[0], credential_id, reason, actor)


def block_endpoint(
    store: Store, subject: str, reason: str | None = None, actor: str = "cli"
) -> Block:
    """Block an endpoint (host + method + template) at the proxy; it need not have been seen."""
    key = endpoint_key(*parse_endpoint(subject))
    return _block(store, "endpoint", key, key, reason, actor)


def _block(
    store: Store, kind: str, value: str, subject: str, reason: str | None, actor: str
) -> Block:
    now = time.time()
    with store.transaction() as conn:
        audit.append(
            store, actor, f"block.{kind}", subject, {"reason": reason}, in_transaction=True
        )
        conn.execute(
            "INSERT INTO blocklist(kind, value, subject, reason, created_at, created_by) "
            "VALUES (?,?,?,?,?,?) ON CONFLICT(kind, value) DO UPDATE SET "
            "reason = excluded.reason",
            (kind, value, subject, reason, now, actor),
        )
        store.set_meta("blocklist_changed_at", repr(now))
    return Block(kind, value, subject, reason, now, actor)


def unblock_credential(store: Store, credential_id: str, actor: str = "cli") -> bool:
    """Remove a credential's block; False when it was not blocked."""
    return _unblock(store, "credential", credential_id, actor)


def unblock_endpoint(store: Store, subject: str, actor: str = "cli") -> bool:
    """Remove an endpoint's block; False when it was not blocked."""
    return _unblock(store, "endpoint", endpoint_key(*parse_endpoint(subject)), actor)


def _unblock(store: Store, kind: str, subject: str, actor: str) -> bool:
    with store.transaction() as conn:
        exists = conn.execute(
            "SELECT 1 FROM blocklist WHERE kind = ? AND subject = ?", (kind, subject)
        ).fetchone()
        if not exists:
            return False
        audit.append(store, actor, f"unblock.{kind}", subject, {}, in_transaction=True)
        conn.execute("DELETE FROM blocklist WHERE kind = ? AND subject = ?", (kind, subject))
        store.set_meta("blocklist_changed_at", repr(time.time()))
    return True


def blocks(store: Store) -> list[Block]:
    rows = store.conn.execute(
        "SELECT kind, value, subject, reason, created_at, created_by FROM blocklist ORDER BY id"
    ).fetchall()
    return [Block(*r) for r in rows]


def change_marker(store: Store) -> str | None:
    """Changes whenever the blocklist changes (cheap to poll)."""
    return store.get_meta("blocklist_changed_at")
