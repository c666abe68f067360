"""Identities and credentials: redacted credentials, claims, lifetime, sources, reach."""

from __future__ import annotations

import json
from typing import Any, ClassVar

from rich.text import Text

from ir_console.sanitize import clean_data
from ir_console.tui.data import CaseData, Page, duration, when
from ir_console.tui.screens.base import BLOCK_BINDING, SUBJECT_BINDINGS, ListScreen
from ir_console.tui.widgets import SEVERITY_STYLE, STATUS_STYLE, block_text, line, safe


def _findings(out: Text, findings: list[dict[str, Any]]) -> None:
    if not findings:
        return
    out.append("\nFindings\n", style="bold underline")
    for f in findings:
        out.append("  ")
        out.append_text(safe(f["severity"], style=SEVERITY_STYLE.get(f["severity"], "")))
        out.append_text(safe(f"  {f['rule']}: {f['title']}", limit=160))
        out.append("\n")


class CredentialsScreen(ListScreen):
    """Credentials seen (redacted forms only), newest use first."""

    TITLE_TEXT = "Credentials"
    COLUMNS = ("id", "kind", "redacted", "identity", "requests", "last seen")
    SUBJECT_KIND = "credential"
    BINDINGS: ClassVar = [*SUBJECT_BINDINGS, BLOCK_BINDING]

    def fetch(self, data: CaseData, text: str) -> Page:
        return data.credentials(text)

    def cells(self, row: dict[str, Any]) -> tuple[Text, ...]:
        ident = row["identity_id"] or "-"
        return (
            safe(row["id"] + (" ⛔" if row["blocked"] else ""), limit=20),
            safe(row["kind"], limit=16),
            safe(row["redacted"], limit=30),
            safe(ident, limit=50),
            Text(str(row["requests"]), justify="right"),
            Text(when(row["last_seen"])),
        )

    def fetch_detail(self, data: CaseData, key: str) -> Any:
        return data.credential_detail(key)

    def render_detail(self, d: dict[str, Any]) -> Text:
        out = Text()
        out.append_text(safe(f"{d['kind']} {d['redacted']}", style="bold", limit=120))
        out.append_text(safe(f"  id {d['id']}", style="dim"))
        if d["blocked"]:
            out.append("  BLOCKED AT THE PROXY", style="bold red")
        out.append("\n")
        out.append_text(line(("identity", d["identity"]), ("requests", d["requests"])))
        out.append("\n")
        out.append_text(line(("first seen", d["first_seen"]), ("last seen", d["last_seen"])))
        out.append("\n")
        out.append_text(
            line(
                ("issued", d["issued_at"]),
                ("expires", d["expires_at"]),
                ("lifetime", duration(d["lifetime_s"])),
            )
        )
        out.append("\n\nClaims (non-secret)\n", style="bold underline")
        if d["claims"]:
            out.append_text(
                block_text(
                    json.dumps(
                        clean_data(d["claims"]), indent=2, ensure_ascii=False, sort_keys=True
                    )
                )
            )
            out.append("\n")
        else:
            out.append("  -\n", style="dim")
        out.append(f"\nSources ({len(d['sources'])})\n", style="bold underline")
        for client in d["sources"][:50]:
            out.append("  ")
            out.append_text(safe(client, limit=60))
            out.append("\n")
        out.append(f"\nEndpoints reached ({len(d['endpoints'])})\n", style="bold underline")
        for ep in d["endpoints"][:50]:
            out.append("  ")
            out.append_text(safe(f"{ep['method']} {ep['host']}{ep['template']}", limit=160))
            out.append("\n")
        _findings(out, d["findings"])
        return out


class IdentitiesScreen(ListScreen):
    """Non-human identities: registered or not, owners, credentials held."""

    TITLE_TEXT = "Identities"
    COLUMNS = ("registered", "name", "source", "owner", "credentials", "last seen")
    SUBJECT_KIND = "identity"
    BINDINGS: ClassVar = [*SUBJECT_BINDINGS]

    def fetch(self, data: CaseData, text: str) -> Page:
        return data.identities(text)

    def cells(self, row: dict[str, Any]) -> tuple[Text, ...]:
        registered = (
            Text("yes", style="green") if row["registered"] else Text("NO", style="bold yellow")
        )
        return (
            registered,
            safe(row["name"], limit=50),
            safe(row["source"], limit=12),
            safe(row["owner"], limit=24),
            Text(str(row["credentials"]), justify="right"),
            Text(when(row["last_seen"])),
        )

    def fetch_detail(self, data: CaseData, key: str) -> Any:
        return data.identity_detail(key)

    def render_detail(self, d: dict[str, Any]) -> Text:
        out = Text()
        out.append_text(safe(d["name"], style="bold", limit=160))
        out.append(
            "  registered" if d["registered"] else "  UNREGISTERED",
            style="green" if d["registered"] else "bold yellow",
        )
        out.append("\n")
        out.append_text(line(("id", d["id"])))
        out.append("\n")
        out.append_text(line(("kind", d["kind"]), ("owner", d["owner"]), ("source", d["source"])))
        out.append("\n")
        out.append_text(
            line(("first seen", when(d["first_seen"])), ("last seen", when(d["last_seen"])))
        )
        if d["allowed_scopes"] or d["max_token_lifetime"] or d["rotation_period"]:
            out.append("\n")
            out.append_text(
                line(
                    ("allowed scopes", d["allowed_scopes"]),
                    ("max token lifetime", duration(d["max_token_lifetime"])),
                    ("rotation", duration(d["rotation_period"])),
                )
            )
        out.append(f"\n\nCredentials held ({len(d['credentials'])})\n", style="bold underline")
        for c in d["credentials"]:
            out.append("  ")
            out.append_text(safe(f"{c['id']} {c['kind']} {c['redacted']}", limit=80))
            out.append(f"  {c['requests']} req, last {when(c['last_seen'])}")
            if c["expires_at"]:
                out.append(f", expires {when(c['expires_at'])}")
            out.append("\n")
        out.append(f"\nEndpoints reached ({len(d['endpoints'])})\n", style="bold underline")
        for ep in d["endpoints"]:
            out.append("  ")
            out.append_text(safe(ep["status"], style=STATUS_STYLE.get(ep["status"], "")))
            out.append_text(safe(f"  {ep['method']} {ep['host']}{ep['template']}", limit=160))
            out.append(f"  {ep['requests']} req\n")
        _findings(out, d["findings"])
        return out
