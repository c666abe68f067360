"""Which credentials an analysis needs, found with SQL, so a large case is not loaded whole.

Each function returns the credential ids whose HOLDS/CALLS/PRESENTS edges answer that analysis
for a subject; ``build_graph(store, focus=...)`` loads only those. The answers on a focused
graph are the answers on the whole graph (tests check every subject of a case both ways).
"""

from __future__ import annotations

import json
from collections.abc import Iterable

from discovery.case.store import Store
from discovery.views.subjects import Subject

_IN = "IN (SELECT value FROM json_each(?))"


def _ids(store: Store, sql: str, *args: object) -> set[str]:
    return {str(r[0]) for r in store.conn.execute(sql, args) if r[0] is not None}


def _json(values: Iterable[str]) -> str:
    return json.dumps(sorted(values))


def credentials_of(store: Store, subject: Subject) -> set[str]:
    """A subject's own credentials: itself, those an identity holds or a client presented, or the
    callers of an endpoint or of a host's endpoints."""
    if subject.type == "credential":
        return {subject.id}
    if subject.type == "identity":
        return _ids(
            store,
            "SELECT id FROM credentials WHERE COALESCE(identity_id, 'cred:' || id) = ?",
            subject.id,
        )
    if subject.type == "client":
        return _ids(
            store, "SELECT DISTINCT credential_id FROM sightings WHERE client_ip = ?", subject.id
        )
    if subject.type == "endpoint":
        host, method, template = subject.id.split(" ", 2)
        return _ids(
            store,
            "SELECT DISTINCT s.credential_id FROM sightings s JOIN endpoints e "
            "ON e.id = s.endpoint_id WHERE e.host = ? AND e.method = ? AND e.template = ?",
            host,
            method,
            template,
        )
    return _ids(
        store,
        "SELECT DISTINCT s.credential_id FROM sightings s JOIN endpoints e "
        "ON e.id = s.endpoint_id WHERE e.host = ?",
        subject.id,
    )


def lineage(store: Store, creds: set[str], *, down: bool = True, up: bool = False) -> set[str]:
    """``creds`` with the tokens they obtained (``down``) and the credentials that obtained
    them (``up``), transitively: the ISSUED edges between them."""
    edges = store.conn.execute(
        "SELECT it.credential_id, o.value FROM issued_tokens it, "
        "json_each(it.claims, '$.obtained_with') o"
    ).fetchall()
    if not edges:
        return set(creds)
    out, todo = set(creds), list(creds)
    while todo:
        current = todo.pop()
        for token, parent in edges:
            for near in ((token,) if down and parent == current else ()) + (
                (parent,) if up and token == current else ()
            ):
                if isinstance(near, str) and near not in out:
                    out.add(near)
                    todo.append(near)
    return out


def _clients(store: Store, creds: set[str]) -> set[str]:
    return _ids(
        store,
        f"SELECT DISTINCT client_ip FROM sightings WHERE credential_id {_IN} AND client_ip != ''",
        _json(creds),
    )


def _presented(store: Store, clients: set[str]) -> set[str]:
    return _ids(
        store, f"SELECT DISTINCT credential_id FROM sightings WHERE client_ip {_IN}", _json(clients)
    )


def for_blast_radius(store: Store, subject: Subject) -> set[str]:
    """The subject's credentials and every credential seen from the same clients."""
    own = lineage(store, credentials_of(store, subject))
    return own | _presented(store, _clients(store, own))


def for_exposure(store: Store, subject: Subject) -> set[str]:
    """The credentials that reached the subject (an endpoint's or host's callers), and those
    that obtained them."""
    return lineage(store, credentials_of(store, subject), down=False, up=True)


def for_paths(store: Store, subject: Subject) -> set[str]:
    """The credentials every path from the subject starts with (and the tokens they got)."""
    return lineage(store, credentials_of(store, subject))


def for_what_if(store: Store, subjects: Iterable[Subject]) -> set[str]:
    """Removed credentials, and all credentials of the identities, clients and endpoints they
    touch (what those still reach, and who still reaches them, is the answer)."""
    subjects = list(subjects)
    removed: set[str] = set()
    for subject in subjects:
        removed |= credentials_of(store, subject)
    identities = _ids(
        store,
        f"SELECT DISTINCT COALESCE(identity_id, 'cred:' || id) FROM credentials WHERE id {_IN}",
        _json(removed),
    )
    held = _ids(
        store,
        f"SELECT id FROM credentials WHERE COALESCE(identity_id, 'cred:' || id) {_IN}",
        _json(identities),
    )
    clients = _clients(store, removed) | {s.id for s in subjects if s.type == "client"}
    callers = _ids(
        store,
        "SELECT DISTINCT credential_id FROM sightings WHERE endpoint_id IN "
        f"(SELECT DISTINCT endpoint_id FROM sightings WHERE credential_id {_IN})",
        _json(removed),
    )
    everything = removed | held | _presented(store, clients) | callers
    return lineage(store, everything, down=True, up=True)
