"""One subject in full: an endpoint, a credential, an identity or a finding, with what links to it.

What a console detail pane shows and a runbook step may read: bounded lists (``rows`` each) of the
callers, samples, credentials held and findings about the subject.
"""

from __future__ import annotations

from discovery.case.store import Store
from discovery.views.grpc_export import grpc_method
from discovery.views.page import Where
from discovery.views.queries import (
    credential_page,
    credential_row,
    endpoint_row,
    finding_page,
    identity_page,
)
from discovery.views.rows import (
    Caller,
    CredentialDetail,
    EndpointDetail,
    EndpointUse,
    FindingRow,
    IdentityDetail,
    loads,
)
from discovery.views.traffic import EXCHANGE_COLUMNS, exchange_row

DETAIL_ROWS = 50
SAMPLES = 8


def _findings_about(store: Store, kind: str, *subjects: str) -> tuple[FindingRow, ...]:
    return finding_page(store, subjects=(kind, subjects), limit=DETAIL_ROWS).rows


def endpoint_detail(store: Store, endpoint_id: int) -> EndpointDetail | None:
    """One endpoint: its template's explanation, its callers and a sample of its evidence."""
    endpoint = endpoint_row(store, endpoint_id)
    if endpoint is None:
        return None
    conn = store.conn
    explanation, sensitive = conn.execute(
        "SELECT explanation, sensitive FROM endpoints WHERE id = ?", (endpoint_id,)
    ).fetchone()
    callers = tuple(
        Caller(
            credential_id=r[0],
            kind=r[1],
            redacted=r[2],
            identity=r[3],
            requests=int(r[4] or 0),
            successes=int(r[5] or 0),
            clients=int(r[6] or 0),
            last_seen=r[7],
        )
        for r in conn.execute(
            "SELECT s.credential_id, c.kind, c.redacted, c.identity_id, SUM(s.requests) AS "
            "requests, SUM(s.successes), COUNT(DISTINCT s.client_ip), MAX(s.last_seen) "
            "FROM sightings s LEFT JOIN credentials c ON c.id = s.credential_id "
            "WHERE s.endpoint_id = ? GROUP BY s.credential_id ORDER BY requests DESC LIMIT ?",
            (endpoint_id, DETAIL_ROWS),
        )
    )
    samples = tuple(
        exchange_row(r)
        for r in conn.execute(
            f"SELECT {EXCHANGE_COLUMNS} FROM exchanges WHERE endpoint_id = ? "
            "ORDER BY id DESC LIMIT ?",
            (endpoint_id, SAMPLES),
        )
    )
    return EndpointDetail(
        endpoint=endpoint,
        explanation=loads(explanation, []),
        sensitive=loads(sensitive, {}),
        callers=callers,
        samples=samples,
        findings=_findings_about(store, "endpoint", endpoint.key, str(endpoint_id)),
        grpc=grpc_method(store, endpoint),
    )


def credential_detail(store: Store, credential_id: str) -> CredentialDetail | None:
    """One credential (with its sources and reach) and the findings about it."""
    credential = credential_row(store, credential_id)
    if credential is None:
        return None
    return CredentialDetail(credential, _findings_about(store, "credential", credential_id))


def identity_detail(store: Store, rowid: int) -> IdentityDetail | None:
    """One identity by its row (``IdentityRow.rowid``): what the register says of it, the
    credentials it holds, the endpoints they reached and the findings about it.

    Everything is joined inside SQLite from the row, so an identity whose id holds bytes that
    are not UTF-8 still opens with all it links to."""
    found = identity_page(store, where=Where(("i.rowid = ?",), (rowid,))).rows
    if not found:
        return None
    identity = found[0]
    conn = store.conn
    scopes, lifetime, rotation = conn.execute(
        "SELECT allowed_scopes, max_token_lifetime, rotation_period FROM identities "
        "WHERE rowid = ?",
        (rowid,),
    ).fetchone()
    ident = "(SELECT id FROM identities WHERE rowid = ?)"
    held = credential_page(
        store,
        where=Where((f"identity_id = {ident}",), (rowid,)),
        order="recent",
        limit=DETAIL_ROWS,
        reach=False,
    ).rows
    endpoints = tuple(
        EndpointUse(
            endpoint_id=r[0],
            host=r[1],
            method=r[2],
            template=r[3],
            status=r[4],
            requests=int(r[5] or 0),
        )
        for r in conn.execute(
            "SELECT ep.id, ep.host, ep.method, ep.template, ep.status, SUM(s.requests) AS "
            "requests FROM credentials c JOIN sightings s ON s.credential_id = c.id "
            f"JOIN endpoints ep ON ep.id = s.endpoint_id WHERE c.identity_id = {ident} "
            "GROUP BY ep.id ORDER BY requests DESC LIMIT ?",
            (rowid, DETAIL_ROWS),
        )
    )
    findings = finding_page(
        store,
        where=Where((f"subject_type = 'identity' AND subject_id = {ident}",), (rowid,)),
        limit=DETAIL_ROWS,
    ).rows
    return IdentityDetail(
        identity=identity,
        allowed_scopes=loads(scopes, None),
        max_token_lifetime=lifetime,
        rotation_period=rotation,
        credentials=held,
        endpoints=endpoints,
        findings=findings,
    )


def finding_detail(store: Store, finding_id: str) -> FindingRow | None:
    """One finding by id, or None."""
    rows = finding_page(store, where=Where(("id = ?",), (finding_id,))).rows
    return rows[0] if rows else None
