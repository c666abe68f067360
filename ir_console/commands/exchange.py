"""``exchange ID``: one exchange in full, as the console's exchange page shows it."""

from __future__ import annotations

import click

from discovery.errors import SubjectNotFound
from discovery.timeutil import iso
from discovery.views.exchange import ExchangeDetail, Extraction, exchange_detail, extraction
from discovery.views.exchange import to_json as exchange_json
from ir_console.cli import CaseContext
from ir_console.output import emit_json
from ir_console.sanitize import clean


@click.command()
@click.argument("exchange_id", type=int, metavar="ID")
@click.option("--json", "as_json", is_flag=True, help="One JSON document on stdout.")
@click.pass_obj
def exchange(case: CaseContext, exchange_id: int, as_json: bool) -> None:
    """One exchange: request and response as the case keeps them (credentials redacted), the
    sensitive data found in them (kinds and counts), where it really went, its credential and
    endpoint, and the command extracting its frames.

    With --json, one object: {"id", "ts" (ISO 8601), "source", "evidence", "input" (the input
    file, or null), "client", "server", "destination" (where it really went), "host_mismatch"
    (how its Host or SNI contradicts that, or null), "method", "host", "path", "status",
    "endpoint" ("HOST METHOD TEMPLATE", or null), "sensitive" and "request_sensitive" (counts by
    kind such as {"email": 2}, never values; the request's where its text is scanned: gRPC
    request messages, GraphQL variables and arguments), "credentials": [{"id", "location",
    "name", "redacted"}], "extraction": {"command", "alternative", "note"}}. A connection known
    from Zeek's conn.log also has "connection": {"duration", "conn_state", "history", "service",
    "orig_pkts", "resp_pkts"} (those it has).
    """
    with case.open(create=False) as store:
        detail = exchange_detail(store, exchange_id)
    if detail is None:
        raise SubjectNotFound(f"no exchange {exchange_id} in this case")
    found = extraction(detail)
    if as_json:
        emit_json(
            {
                **exchange_json(detail),
                "extraction": {
                    "command": found.command,
                    "alternative": found.alternative,
                    "note": found.note,
                },
            }
        )
        return
    click.echo("\n".join(clean(text, limit=400) for text in _lines(detail, found)))


def _lines(d: ExchangeDetail, found: Extraction) -> list[str]:
    status = "blocked" if d.blocked else (str(d.status) if d.status is not None else "no response")
    out = [
        f"{d.method or '(TLS)'} {d.host or d.sni or '-'}{d.raw_path or ''} -> {status}",
        f"exchange {d.id}  time {iso(d.ts)}  source {d.source}",
        "",
        "request:",
        *(f"  {v}" for v in d.request_lines()),
        "response:",
        *(f"  {v}" for v in d.response_lines()),
        f"sensitive data in the response: {d.sensitive_text() or 'none found'}",
    ]
    if d.request_sensitive:  # only gRPC messages and GraphQL variables are scanned
        out.append(f"sensitive data in the request: {d.sensitive_text(request=True)}")
    out += [
        "",
        f"client {d.client_ip or '-'}:{d.client_port or '-'}  "
        f"server {d.server_ip or '-'}:{d.server_port or '-'}  went to {d.destination or '-'}",
    ]
    if d.host_mismatch:
        out.append(f"MISMATCH {d.host_mismatch}")
    out.append(f"TLS {'yes' if d.tls else 'no'}  SNI {d.sni or '-'}  JA4 {d.ja4 or '-'}")
    for c in d.credentials:
        out.append(
            f"credential {c.credential_id} {c.kind or '?'} {c.redacted or ''} in {c.location} "
            f"{c.name}  identity {c.identity or '-'}"
        )
    out.append(f"endpoint {d.endpoint or 'not classified'} {d.endpoint_status or ''}".rstrip())
    out.append(f"evidence {d.evidence} in {d.input_path or '(live)'}")
    if found.command:
        out.append(f"extract: {found.command}")
    if found.alternative:
        out.append(f"    or:  {found.alternative}")
    out.append(found.note)
    return out
