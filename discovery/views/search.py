"""Case-wide search: one text across hosts, endpoints, identities, credentials and findings.

The subjects are copied into an in-memory SQLite full-text index (FTS5, through sqlite-utils'
``enable_fts`` and ``search``) and ranked by relevance (bm25). Nothing is written to the case: a
search works on a case another process is writing, and the console rebuilds its index when the
case changes. Every word of the query must match the start of a word of the subject (``exam``
finds ``api.example.com``); the user's text is quoted, so FTS5 operators in it are just text.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from discovery.case.store import Store
from discovery.views.page import terms
from discovery.views.rows import endpoint_key

SUBJECT_TYPES = ("host", "endpoint", "identity", "credential", "finding")
LIMIT = 50


@dataclass(frozen=True, slots=True)
class SearchHit:
    """A subject whose text matched: its type, the id other commands take, a label."""

    type: str
    id: str
    label: str

    @property
    def ref(self) -> str:
        """``TYPE:ID``: how ``graph``, ``runbook run --target`` and the console name it."""
        return f"{self.type}:{self.id}"

    def to_json(self) -> dict[str, Any]:
        return {"type": self.type, "id": self.id, "label": self.label, "ref": self.ref}


def _subjects(store: Store) -> Iterator[dict[str, str]]:
    """One row per subject: its type, id, label and the words it is found by."""
    conn = store.conn
    for (host,) in conn.execute(
        "WITH RECURSIVE h(host) AS (SELECT MIN(host) FROM exchanges UNION ALL "
        "SELECT (SELECT MIN(host) FROM exchanges WHERE host > h.host) FROM h "
        "WHERE h.host IS NOT NULL) SELECT host FROM h WHERE host IS NOT NULL"
    ):
        yield {"type": "host", "id": host, "label": host, "body": host}
    for host, method, template, status in conn.execute(
        "SELECT host, method, template, status FROM endpoints ORDER BY id"
    ):
        key = endpoint_key(host, method, template)
        yield {"type": "endpoint", "id": key, "label": f"{key} [{status}]", "body": key}
    for ident, name, kind, owner, source in conn.execute(
        "SELECT id, name, kind, owner, source FROM identities ORDER BY id"
    ):
        body = " ".join(str(v) for v in (ident, name, kind, owner, source) if v)
        yield {"type": "identity", "id": ident, "label": name or ident, "body": body}
    for cid, kind, redacted, identity, public_id in conn.execute(
        "SELECT id, kind, redacted, identity_id, public_id FROM credentials ORDER BY id"
    ):
        body = " ".join(str(v) for v in (cid, kind, redacted, identity, public_id) if v)
        yield {"type": "credential", "id": cid, "label": f"{kind} {redacted}", "body": body}
    for fid, rule, severity, title, subject_type, subject_id in conn.execute(
        "SELECT id, rule, severity, title, subject_type, subject_id FROM findings ORDER BY id"
    ):
        body = f"{rule} {severity} {title} {subject_type} {subject_id}"
        yield {"type": "finding", "id": fid, "label": f"{severity} {title}", "body": body}


def fts_query(text: str) -> str | None:
    """The FTS5 query for ``text``: each word quoted (operators are text) and matched as a
    prefix; every word must match. None when the text holds no word."""
    words = terms(text)
    if not words:
        return None
    return " ".join('"' + word.replace('"', '""') + '"*' for word in words)


class SearchIndex:
    """The case's subjects in an in-memory full-text index, as of when it was built."""

    def __init__(self, store: Store) -> None:
        import sqlite_utils  # ~0.2 s to import: only the commands that search pay it

        # usable from any thread (the console's workers take turns under their own lock)
        self._db = sqlite_utils.Database(sqlite3.connect(":memory:", check_same_thread=False))
        table = self._db.table("subjects")
        table.insert_all(_subjects(store), batch_size=1000)
        if not table.exists():  # an empty case: an empty table to search
            table.create({"type": str, "id": str, "label": str, "body": str})
        table.enable_fts(["label", "body"], tokenize="unicode61")
        self._table = table

    def search(self, text: str, limit: int | None = LIMIT) -> list[SearchHit]:
        """The subjects every word of ``text`` matches, most relevant first."""
        query = fts_query(text)
        if query is None:
            return []
        rows = self._table.search(query, columns=["type", "id", "label"], limit=limit)
        return [SearchHit(str(r["type"]), str(r["id"]), str(r["label"])) for r in rows]

    def close(self) -> None:
        self._db.close()


def search(store: Store, text: str, limit: int | None = LIMIT) -> list[SearchHit]:
    """The subjects of the case that ``text`` matches, most relevant first."""
    index = SearchIndex(store)
    try:
        return index.search(text, limit)
    finally:
        index.close()
