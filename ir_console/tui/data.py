"""The console's query layer: bounded reads for each screen (no SQL in widgets).

Every list query takes a filter and a ``limit`` and returns a ``Page`` (rows + total), so a screen
over a million-exchange case never loads a whole table. Calls come from worker threads; one lock
serialises use of the case connection. Values are returned raw: screens sanitize on display.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from discovery.case import audit, blocklist
from discovery.case.store import Store
from discovery.timeutil import iso
from discovery.views import queries

PAGE = 100  # rows a list shows; the status line says when a filter would show more
DETAIL_ROWS = 50
SEVERITY_ORDER = (
    "CASE severity WHEN 'critical' THEN 0 WHEN 'high' THEN 1 WHEN 'medium' THEN 2 "
    "WHEN 'low' THEN 3 ELSE 4 END"
)
NEW_WINDOW = 24 * 3600.0
# what "new" means on the overview, counted back from the newest exchange (n cycles them)
NEW_WINDOWS: tuple[tuple[str, float], ...] = (
    ("1h", 3600.0),
    ("24h", NEW_WINDOW),
    ("7d", 7 * 86400.0),
    ("30d", 30 * 86400.0),
)
# A text parameter: a key read back with invalid UTF-8 is bound as its bytes (see ``_params``),
# and this cast makes it compare equal to the stored text again.
T = "CAST(? AS TEXT)"


@dataclass(frozen=True)
class Page:
    """One bounded page of rows and the number of rows matching the filter."""

    rows: list[dict[str, Any]]
    total: int
    limit: int

    @property
    def truncated(self) -> bool:
        return self.total > len(self.rows)


@dataclass
class TreeNode:
    """A node of a graph explorer tree: a label, its kind, and children."""

    label: str
    kind: str
    subject: str | None = None
    detail: str = ""
    children: list[TreeNode] = field(default_factory=list)

    def add(self, label: str, kind: str, subject: str | None = None, detail: str = "") -> TreeNode:
        node = TreeNode(label, kind, subject, detail)
        self.children.append(node)
        return node


def _decode_text(raw: bytes) -> str:
    return raw.decode("utf-8", "surrogateescape")


def _params(args: tuple[Any, ...] | list[Any]) -> list[Any]:
    """Bind parameters; text read back with surrogates (invalid UTF-8) goes back as its bytes."""
    out = []
    for value in args:
        if isinstance(value, str):
            try:
                value.encode("utf-8")
            except UnicodeEncodeError:
                value = value.encode("utf-8", "surrogateescape")
        out.append(value)
    return out


def terms(text: str) -> list[str]:
    """Filter text split into lower-cased terms; every term must match."""
    return [t for t in text.lower().split() if t]


def _filter_clause(text: str, haystack: str, fields: dict[str, str]) -> tuple[str, list[Any]]:
    """A WHERE clause: plain terms are substrings of ``haystack``; ``key:value`` hits a field."""
    where: list[str] = []
    args: list[Any] = []
    for term in terms(text):
        key, sep, value = term.partition(":")
        if sep and key in fields and value:
            where.append(f"instr(lower(COALESCE({fields[key]}, '')), ?) > 0")
            args.append(value)
        else:
            where.append(f"instr(lower({haystack}), ?) > 0")
            args.append(term)
    return (f"WHERE {' AND '.join(where)}" if where else ""), args


def _json(value: str | None, default: Any) -> Any:
    if not value:
        return default
    try:
        return json.loads(value)
    except ValueError:
        return default


class CaseData:
    """Read (and the few console writes) over one case file, safe to call from worker threads."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.store = Store.open(self.path, create=False)
        # Invalid UTF-8 a foreign writer left in the case must not crash a screen: keep the
        # bytes as surrogates, which the sanitizer strips on display.
        self.store.conn.text_factory = _decode_text
        self._lock = threading.RLock()
        self._poll_lock = threading.Lock()
        self._poll = sqlite3.connect(
            f"file:{self.path.resolve()}?mode=ro", uri=True, check_same_thread=False
        )
        self._poll.text_factory = _decode_text

    def close(self) -> None:
        with self._lock:
            self.store.close()
            self._poll.close()

    @contextmanager
    def _conn(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            yield self.store.conn

    def _rows(self, sql: str, args: tuple[Any, ...] | list[Any] = ()) -> list[dict[str, Any]]:
        with self._conn() as conn:
            cur = conn.execute(sql, _params(args))
            names = [d[0] for d in cur.description]
            return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]

    def _scalar(self, sql: str, args: tuple[Any, ...] | list[Any] = ()) -> Any:
        with self._conn() as conn:
            row = conn.execute(sql, _params(args)).fetchone()
        return row[0] if row else None

    # ------------------------------------------------------------ change detection

    def data_version(self) -> int:
        """Changes whenever a commit lands (the console's own writes included): a cheap poll.

        A separate read-only connection, so polling never waits behind a worker's query.
        """
        with self._poll_lock:
            return int(self._poll.execute("PRAGMA data_version").fetchone()[0])

    # ------------------------------------------------------------ overview

    def overview(self, since: float | None = None, window: float = NEW_WINDOW) -> dict[str, Any]:
        """Counts, the most severe findings, shadow endpoints, unregistered identities, and
        what is new since ``since`` (default: ``window`` seconds before the newest exchange)."""
        newest = self._scalar("SELECT MAX(ts) FROM exchanges")
        if since is None:
            since = (newest - window) if newest is not None else 0.0
        counts = {
            "exchanges": self._scalar("SELECT MAX(id) FROM exchanges") or 0,
            "hosts": self._scalar("SELECT COUNT(DISTINCT host) FROM endpoints") or 0,
            "endpoints": self._scalar("SELECT COUNT(*) FROM endpoints WHERE status != 'orphan'"),
            "shadow": self._scalar("SELECT COUNT(*) FROM endpoints WHERE status = 'shadow'"),
            "zombie": self._scalar("SELECT COUNT(*) FROM endpoints WHERE status = 'zombie'"),
            "credentials": self._scalar("SELECT COUNT(*) FROM credentials"),
            "identities": self._scalar("SELECT COUNT(*) FROM identities"),
            "unregistered": self._scalar("SELECT COUNT(*) FROM identities WHERE registered = 0"),
            "findings": self._scalar("SELECT COUNT(*) FROM findings"),
        }
        severities = dict(
            self._with_conn("SELECT severity, COUNT(*) FROM findings GROUP BY severity")
        )
        new = {
            "endpoints": self._scalar(
                "SELECT COUNT(*) FROM endpoints WHERE first_seen >= ?", (since,)
            ),
            "credentials": self._scalar(
                "SELECT COUNT(*) FROM credentials WHERE first_seen >= ?", (since,)
            ),
            "identities": self._scalar(
                "SELECT COUNT(*) FROM identities WHERE first_seen >= ?", (since,)
            ),
        }
        return {
            "counts": counts,
            "severities": severities,
            "since": since,
            "new": new,
            "findings": self._rows(
                "SELECT id, rule, severity, title, subject_type, subject_id FROM findings "
                f"ORDER BY {SEVERITY_ORDER}, last_seen DESC, id LIMIT 8"
            ),
            "shadow": self._rows(
                "SELECT id, host, method, template, status, requests FROM endpoints "
                "WHERE status IN ('shadow', 'zombie') ORDER BY requests DESC, id LIMIT 8"
            ),
            "unregistered": self._rows(
                "SELECT id, name, source, first_seen, last_seen FROM identities "
                "WHERE registered = 0 ORDER BY last_seen DESC, id LIMIT 8"
            ),
        }

    def _total(
        self, rows: list[dict[str, Any]], limit: int, count_sql: str, args: list[Any]
    ) -> int:
        """Rows matching a filter: counted only when the page is full (one scan saved)."""
        if len(rows) < limit:
            return len(rows)
        return int(self._scalar(count_sql, args) or 0)

    def _with_conn(self, sql: str, args: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        with self._conn() as conn:
            return list(conn.execute(sql, _params(args)).fetchall())

    # ------------------------------------------------------------ endpoints

    def endpoints(self, text: str = "", limit: int = PAGE) -> Page:
        """Endpoints matching the filter, busiest first (``status:``, ``host:``, ``method:``)."""
        clause, args = _filter_clause(
            text,
            "host || ' ' || method || ' ' || template || ' ' || status",
            {"status": "status", "host": "host", "method": "method", "template": "template"},
        )
        rows = self._rows(
            "SELECT id, host, method, template, status, requests, first_seen, last_seen "
            f"FROM endpoints {clause} ORDER BY requests DESC, host, template, method LIMIT ?",
            [*args, limit],
        )
        total = self._total(rows, limit, f"SELECT COUNT(*) FROM endpoints {clause}", args)
        blocked = self._blocked("endpoint")
        for row in rows:
            row["blocked"] = (
                blocklist.endpoint_key(row["host"], row["method"], row["template"]) in blocked
            )
        return Page(rows, int(total or 0), limit)

    def endpoint_detail(self, endpoint_id: int) -> dict[str, Any] | None:
        """One endpoint: its template's explanation, callers and a sample of its evidence."""
        found = self._rows(
            "SELECT id, host, method, template, status, requests, first_seen, last_seen, "
            "statuses, explanation, sensitive, spec_operation_id FROM endpoints WHERE id = ?",
            (endpoint_id,),
        )
        if not found:
            return None
        row = found[0]
        row["statuses"] = _json(row["statuses"], {})
        row["explanation"] = _json(row["explanation"], [])
        row["sensitive"] = _json(row["sensitive"], {})
        row["callers"] = self._rows(
            "SELECT s.credential_id, c.redacted, c.kind, c.identity_id, SUM(s.requests) AS "
            "requests, SUM(s.successes) AS successes, COUNT(DISTINCT s.client_ip) AS clients, "
            "MAX(s.last_seen) AS last_seen FROM sightings s "
            "LEFT JOIN credentials c ON c.id = s.credential_id WHERE s.endpoint_id = ? "
            "GROUP BY s.credential_id ORDER BY requests DESC LIMIT ?",
            (endpoint_id, DETAIL_ROWS),
        )
        row["samples"] = self._rows(
            "SELECT id, ts, source, evidence, client_ip, method, raw_path, status, user_agent "
            "FROM exchanges WHERE endpoint_id = ? ORDER BY id DESC LIMIT 8",
            (endpoint_id,),
        )
        row["findings"] = self._subject_findings(
            "endpoint",
            blocklist.endpoint_key(row["host"], row["method"], row["template"]),
            str(endpoint_id),
        )
        row["blocked"] = blocklist.endpoint_key(
            row["host"], row["method"], row["template"]
        ) in self._blocked("endpoint")
        return row

    # ------------------------------------------------------------ credentials / identities

    def credentials(self, text: str = "", limit: int = PAGE) -> Page:
        """Credentials matching the filter, most recently used first (``kind:``, ``identity:``)."""
        clause, args = _filter_clause(
            text,
            "id || ' ' || kind || ' ' || redacted || ' ' || COALESCE(identity_id, '') || "
            "' ' || COALESCE(public_id, '')",
            {"kind": "kind", "identity": "identity_id", "id": "id"},
        )
        rows = self._rows(
            "SELECT id, kind, redacted, identity_id, requests, first_seen, last_seen, expires_at "
            f"FROM credentials {clause} ORDER BY last_seen DESC, id LIMIT ?",
            [*args, limit],
        )
        total = self._total(rows, limit, f"SELECT COUNT(*) FROM credentials {clause}", args)
        blocked = self._blocked("credential")
        for row in rows:
            row["blocked"] = row["id"] in blocked
        return Page(rows, int(total or 0), limit)

    def credential_detail(self, credential_id: str) -> dict[str, Any] | None:
        """One credential (documented JSON shape) with lifetime, block state and findings."""
        with self._conn():
            found = queries.credential(self.store, credential_id)
        if found is None:
            return None
        issued = self._scalar("SELECT issued_at FROM credentials WHERE id = ?", (credential_id,))
        expires = self._scalar("SELECT expires_at FROM credentials WHERE id = ?", (credential_id,))
        found["lifetime_s"] = (expires - issued) if issued is not None and expires else None
        found["blocked"] = credential_id in self._blocked("credential")
        found["findings"] = self._subject_findings("credential", credential_id)
        return found

    def identities(self, text: str = "", limit: int = PAGE) -> Page:
        """Identities matching the filter, unregistered first (``source:``, ``owner:``)."""
        clause, args = _filter_clause(
            text,
            "id || ' ' || name || ' ' || source || ' ' || COALESCE(owner, '') || ' ' || "
            "COALESCE(kind, '') || ' ' || CASE registered WHEN 1 THEN 'registered' "
            "ELSE 'unregistered' END",
            {"source": "source", "owner": "owner", "kind": "kind", "id": "i.id"},
        )
        rows = self._rows(
            "SELECT i.id, i.name, i.kind, i.owner, i.source, i.registered, i.first_seen, "
            "i.last_seen, (SELECT COUNT(*) FROM credentials c WHERE c.identity_id = i.id) "
            f"AS credentials FROM identities i {clause} "
            "ORDER BY i.registered, i.last_seen DESC, i.id LIMIT ?",
            [*args, limit],
        )
        total = self._total(rows, limit, f"SELECT COUNT(*) FROM identities i {clause}", args)
        return Page(rows, int(total or 0), limit)

    def identity_detail(self, identity_id: str) -> dict[str, Any] | None:
        """One identity: what it is, the credentials it holds, what it reaches, its findings."""
        found = self._rows(
            "SELECT id, name, kind, owner, source, registered, allowed_scopes, "
            "max_token_lifetime, rotation_period, first_seen, last_seen FROM identities "
            f"WHERE id = {T}",
            (identity_id,),
        )
        if not found:
            return None
        row = found[0]
        row["credentials"] = self._rows(
            "SELECT id, kind, redacted, requests, first_seen, last_seen, expires_at "
            f"FROM credentials WHERE identity_id = {T} ORDER BY last_seen DESC LIMIT ?",
            (identity_id, DETAIL_ROWS),
        )
        row["endpoints"] = self._rows(
            "SELECT ep.id, ep.host, ep.method, ep.template, ep.status, SUM(s.requests) AS "
            "requests FROM credentials c JOIN sightings s ON s.credential_id = c.id "
            f"JOIN endpoints ep ON ep.id = s.endpoint_id WHERE c.identity_id = {T} "
            "GROUP BY ep.id ORDER BY requests DESC LIMIT ?",
            (identity_id, DETAIL_ROWS),
        )
        row["findings"] = self._subject_findings("identity", identity_id)
        return row

    # ------------------------------------------------------------ findings

    def findings(self, text: str = "", limit: int = PAGE) -> Page:
        """Findings matching the filter, most severe first (``severity:``, ``rule:``)."""
        clause, args = _filter_clause(
            text,
            "rule || ' ' || severity || ' ' || title || ' ' || subject_type || ' ' || subject_id",
            {"severity": "severity", "rule": "rule", "subject": "subject_id", "id": "id"},
        )
        rows = self._rows(
            "SELECT id, rule, severity, title, subject_type, subject_id, last_seen "
            f"FROM findings {clause} ORDER BY {SEVERITY_ORDER}, rule, subject_id LIMIT ?",
            [*args, limit],
        )
        total = self._total(rows, limit, f"SELECT COUNT(*) FROM findings {clause}", args)
        return Page(rows, int(total or 0), limit)

    def finding_detail(self, finding_id: str) -> dict[str, Any] | None:
        found = self._rows(
            "SELECT id, rule, severity, title, subject_type, subject_id, evidence, first_seen, "
            "last_seen, created_at FROM findings WHERE id = ?",
            (finding_id,),
        )
        if not found:
            return None
        row = found[0]
        row["evidence"] = _json(row["evidence"], {})
        return row

    def _subject_findings(self, kind: str, *subjects: str) -> list[dict[str, Any]]:
        marks = ",".join(T for _ in subjects)
        return self._rows(
            "SELECT id, rule, severity, title FROM findings WHERE subject_type = ? AND "
            f"subject_id IN ({marks}) ORDER BY {SEVERITY_ORDER} LIMIT ?",
            (kind, *subjects, DETAIL_ROWS),
        )

    def _blocked(self, kind: str) -> set[str]:
        return {
            r[0] for r in self._with_conn("SELECT subject FROM blocklist WHERE kind = ?", (kind,))
        }

    # ------------------------------------------------------------ graph explorer

    def resolve_subject(self, text: str) -> tuple[str, str] | None:
        """A subject named the CLI way: credential id, identity id or name, or an endpoint."""
        text = text.strip()
        if not text:
            return None
        if self._scalar("SELECT 1 FROM credentials WHERE id = ?", (text,)):
            return ("credential", text)
        ident = self._scalar(
            "SELECT id FROM identities WHERE id = ? OR name = ? LIMIT 1", (text, text)
        )
        if ident:
            return ("identity", str(ident))
        parts = text.split()
        if len(parts) == 3:
            ep = self._scalar(
                "SELECT id FROM endpoints WHERE host = ? AND method = ? AND template = ?",
                (parts[0].lower(), parts[1].upper(), parts[2]),
            )
            if ep is not None:
                return ("endpoint", str(ep))
        if text.isdigit() and self._scalar("SELECT 1 FROM endpoints WHERE id = ?", (int(text),)):
            return ("endpoint", text)
        return None

    def blast_radius(self, kind: str, subject: str, without: str | None = None) -> TreeNode:
        """What a credential or identity reaches: services, endpoints, clients (graph semantics).

        ``without`` removes one credential first (what-if containment).
        """
        if kind == "credential":
            cred = self._rows(
                "SELECT id, kind, redacted, identity_id FROM credentials WHERE id = ?", (subject,)
            )
            if not cred:
                return TreeNode(f"unknown credential {subject}", "missing")
            c = cred[0]
            root = TreeNode(
                f"credential {c['id']} {c['kind']} {c['redacted']}",
                "credential",
                c["id"],
                f"identity {c['identity_id']}",
            )
            self._reach(root, [c["id"]])
            clients = root.add("clients that presented it", "group")
            others = root.add("other credentials seen from the same clients", "group")
            for r in self._rows(
                "SELECT client_ip, SUM(requests) AS requests FROM sightings WHERE "
                "credential_id = ? GROUP BY client_ip ORDER BY requests DESC LIMIT ?",
                (subject, DETAIL_ROWS),
            ):
                clients.add(f"{r['client_ip'] or '?'}  ({r['requests']} requests)", "client")
            for r in self._rows(
                "SELECT DISTINCT o.credential_id, c.redacted FROM sightings s JOIN sightings o "
                "ON o.client_ip = s.client_ip AND o.credential_id != s.credential_id "
                "LEFT JOIN credentials c ON c.id = o.credential_id WHERE s.credential_id = ? "
                "LIMIT ?",
                (subject, DETAIL_ROWS),
            ):
                others.add(
                    f"credential {r['credential_id']} {r['redacted'] or ''}",
                    "credential",
                    r["credential_id"],
                )
            return root
        ident = self._rows(
            f"SELECT id, name, registered FROM identities WHERE id = {T}", (subject,)
        )
        if not ident:
            return TreeNode(f"unknown identity {subject}", "missing")
        i = ident[0]
        root = TreeNode(
            f"identity {i['name']}",
            "identity",
            i["id"],
            "registered" if i["registered"] else "unregistered",
        )
        creds = [
            r["id"]
            for r in self._rows(
                f"SELECT id FROM credentials WHERE identity_id = {T} ORDER BY last_seen DESC",
                (subject,),
            )
        ]
        held = root.add(f"holds {len(creds)} credential(s)", "group")
        for cid in creds[:DETAIL_ROWS]:
            mark = "  [removed: what-if]" if cid == without else ""
            held.add(f"credential {cid}{mark}", "credential", cid)
        if without is not None:
            before = {(e["host"], e["method"], e["template"]) for e in self._reach_rows(creds)}
            kept = [c for c in creds if c != without]
            after_rows = self._reach_rows(kept)
            after = {(e["host"], e["method"], e["template"]) for e in after_rows}
            lost = root.add(f"no longer reached without {without}: {len(before - after)}", "group")
            for host, method, template in sorted(before - after)[:DETAIL_ROWS]:
                lost.add(f"{method} {host}{template}", "endpoint")
            still = root.add(f"still reached: {len(after)}", "group")
            self._reach(still, kept)
            return root
        self._reach(root, creds)
        return root

    def _reach_rows(self, credential_ids: list[str]) -> list[dict[str, Any]]:
        if not credential_ids:
            return []
        marks = ",".join("?" for _ in credential_ids)
        return self._rows(
            "SELECT ep.id, ep.host, ep.method, ep.template, ep.status, ep.sensitive, "
            "SUM(s.requests) AS requests, SUM(s.successes) AS successes FROM sightings s "
            f"JOIN endpoints ep ON ep.id = s.endpoint_id WHERE s.credential_id IN ({marks}) "
            "GROUP BY ep.id ORDER BY ep.host, ep.template, ep.method LIMIT 2000",
            credential_ids,
        )

    def _reach(self, parent: TreeNode, credential_ids: list[str]) -> None:
        rows = self._reach_rows(credential_ids)
        hosts: dict[str, TreeNode] = {}
        services = parent.add(f"reaches {len(rows)} endpoint(s)", "group")
        for row in rows:
            host = hosts.get(row["host"])
            if host is None:
                host = hosts[row["host"]] = services.add(f"service {row['host']}", "service")
            kinds = ",".join(sorted(_json(row["sensitive"], {})))
            detail = f"sensitive: {kinds}" if kinds else ""
            host.add(
                f"{row['method']} {row['template']}  [{row['status']}]  {row['requests']} req",
                "endpoint",
                str(row["id"]),
                detail,
            )

    def exposure(self, endpoint_id: int) -> TreeNode:
        """Every identity and credential that reached an endpoint."""
        ep = self._rows(
            "SELECT id, host, method, template, status FROM endpoints WHERE id = ?", (endpoint_id,)
        )
        if not ep:
            return TreeNode(f"unknown endpoint {endpoint_id}", "missing")
        e = ep[0]
        root = TreeNode(
            f"endpoint {e['method']} {e['host']}{e['template']} [{e['status']}]",
            "endpoint",
            str(e["id"]),
        )
        rows = self._rows(
            "SELECT c.identity_id, i.name, s.credential_id, c.redacted, SUM(s.requests) AS req "
            "FROM sightings s LEFT JOIN credentials c ON c.id = s.credential_id "
            "LEFT JOIN identities i ON i.id = c.identity_id WHERE s.endpoint_id = ? "
            "GROUP BY s.credential_id ORDER BY c.identity_id, req DESC LIMIT 2000",
            (endpoint_id,),
        )
        idents: dict[str, TreeNode] = {}
        group = root.add(f"reached by {len(rows)} credential(s)", "group")
        for r in rows:
            key = r["identity_id"] or "?"
            node = idents.get(key)
            if node is None:
                node = idents[key] = group.add(f"identity {r['name'] or key}", "identity", key)
            node.add(
                f"credential {r['credential_id']} {r['redacted'] or ''}  {r['req']} req",
                "credential",
                r["credential_id"],
            )
        return root

    # ------------------------------------------------------------ live capture

    def newest_exchange_id(self) -> int:
        return int(self._scalar("SELECT MAX(id) FROM exchanges") or 0)

    def exchanges_after(self, after_id: int, limit: int = 200) -> list[dict[str, Any]]:
        """The newest exchanges with an id above ``after_id`` (at most ``limit``), newest first."""
        return self._rows(
            "SELECT id, ts, source, client_ip, host, method, raw_path, path, status, user_agent, "
            "tls, sni, blocked FROM exchanges WHERE id > ? ORDER BY id DESC LIMIT ?",
            (after_id, limit),
        )

    # ------------------------------------------------------------ audit

    def audit_entries(self, text: str = "", limit: int = PAGE) -> Page:
        """Audit entries matching the filter, newest first."""
        clause, args = _filter_clause(
            text,
            "actor || ' ' || action || ' ' || COALESCE(subject, '') || ' ' || details",
            {"actor": "actor", "action": "action", "subject": "subject"},
        )
        rows = self._rows(
            f"SELECT seq, ts, actor, action, subject, details, hash FROM audit_log {clause} "
            "ORDER BY seq DESC LIMIT ?",
            [*args, limit],
        )
        total = self._total(rows, limit, f"SELECT COUNT(*) FROM audit_log {clause}", args)
        return Page(rows, int(total or 0), limit)

    def audit_verify(self) -> audit.Verification:
        with self._conn():
            return audit.verify(self.store)

    # ------------------------------------------------------------ runbook runs

    def runbook_runs(self, text: str = "", limit: int = PAGE) -> Page:
        clause, args = _filter_clause(
            text,
            "id || ' ' || runbook_id || ' ' || target || ' ' || state",
            {"state": "state", "runbook": "runbook_id"},
        )
        rows = self._rows(
            "SELECT id, runbook_id, target, dry_run, state, started_at, finished_at, outcome "
            f"FROM runbook_runs {clause} ORDER BY started_at DESC LIMIT ?",
            [*args, limit],
        )
        total = self._total(rows, limit, f"SELECT COUNT(*) FROM runbook_runs {clause}", args)
        return Page(rows, int(total or 0), limit)

    def run_steps(self, run_id: str) -> list[dict[str, Any]]:
        return self._rows(
            "SELECT idx, step_id, state, attempts, started_at, finished_at, error FROM "
            "runbook_steps WHERE run_id = ? ORDER BY idx",
            (run_id,),
        )

    def run_audit(self, run_id: str, limit: int = 500) -> Page:
        """The audit entries a run wrote (its engine's and its actions', e.g. the blocklist's),
        in order; the same selection as ``runbooks.runs.run_log``, bounded."""
        where = (
            "WHERE actor = ? OR CASE WHEN json_valid(details) "
            "THEN json_extract(details, '$.run') END = ?"
        )
        args = (f"runbook:{run_id}", run_id)
        rows = self._rows(
            f"SELECT seq, ts, actor, action, subject, details, hash FROM audit_log "
            f"{where} ORDER BY seq LIMIT ?",
            [*args, limit],
        )
        for row in rows:
            row["details"] = _json(row["details"], {})
        total = self._total(rows, limit, f"SELECT COUNT(*) FROM audit_log {where}", list(args))
        return Page(rows, int(total or 0), limit)

    # ------------------------------------------------------------ console writes

    def block_credential(self, credential_id: str, reason: str) -> blocklist.Block:
        with self._conn():
            return blocklist.block_credential(self.store, credential_id, reason, actor="console")

    def block_endpoint(self, subject: str, reason: str) -> blocklist.Block:
        with self._conn():
            return blocklist.block_endpoint(self.store, subject, reason, actor="console")

    def endpoint_subject(self, endpoint_id: int) -> str | None:
        rows = self._rows(
            "SELECT host, method, template FROM endpoints WHERE id = ?", (endpoint_id,)
        )
        if not rows:
            return None
        r = rows[0]
        return blocklist.endpoint_key(r["host"], r["method"], r["template"])


def when(ts: float | None) -> str:
    """A compact UTC time for tables (``2026-11-28 04:34``)."""
    value = iso(ts)
    return value[:16].replace("T", " ") if value else "-"


def duration(seconds: float | None) -> str:
    """A human duration (``90d``, ``3h``, ``45m``)."""
    if seconds is None:
        return "-"
    seconds = float(seconds)
    for unit, size in (("y", 365 * 86400), ("d", 86400), ("h", 3600), ("m", 60)):
        if abs(seconds) >= size:
            return f"{seconds / size:.0f}{unit}"
    return f"{seconds:.0f}s"
