"""Identities and credentials: redacted credentials, claims, lifetime, sources, reach."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import ClassVar

from rich.text import Text
from textual import work
from textual.binding import Binding

from discovery.timeutil import iso
from discovery.views.page import Page
from discovery.views.rows import (
    CredentialDetail,
    CredentialRow,
    FindingRow,
    IdentityDetail,
    IdentityRow,
)
from ir_console.sanitize import clean_data
from ir_console.tui.data import CaseData, duration, when
from ir_console.tui.messages import Failed, JumpTo, Notice, SubjectRef
from ir_console.tui.modals import SecretModal
from ir_console.tui.screens.base import (
    BLOCK_BINDING,
    DATA_ERRORS,
    SUBJECT_BINDINGS,
    UNBLOCK_BINDING,
    ListScreen,
)
from ir_console.tui.widgets import SEVERITY_STYLE, STATUS_STYLE, Column, block_text, line, safe


def _findings(out: Text, findings: Sequence[FindingRow]) -> None:
    if not findings:
        return
    out.append("\nFindings\n", style="bold underline")
    for f in findings:
        out.append("  ")
        out.append_text(safe(f.severity, style=SEVERITY_STYLE.get(f.severity, "")))
        out.append_text(safe(f"  {f.rule}: {f.title}", limit=160))
        out.append("\n")


class CredentialsScreen(ListScreen):
    """Credentials seen (redacted forms only), newest use first."""

    TITLE_TEXT = "Credentials"
    COLUMNS = (
        "id",
        "kind",
        "redacted",
        Column("identity", flex=True, least=14, drop=1),
        "requests",
        Column("last seen", drop=2),
    )
    SORTS = (
        ("requests", "requests"),
        ("last seen", "last_seen"),
        ("id", "id"),
        ("kind", "kind"),
        ("redacted", "redacted"),
        ("identity", "identity"),
    )
    BINDINGS: ClassVar = [
        *SUBJECT_BINDINGS,
        BLOCK_BINDING,
        UNBLOCK_BINDING,
        Binding("f", "find_secret", "Find a leaked secret"),
    ]

    def action_find_secret(self) -> None:
        """Ask for a leaked secret (masked) and jump to the credential it is, if seen."""

        def entered(secret: str | None) -> None:
            if secret:
                self._find_secret(secret)

        self.app.push_screen(
            SecretModal("Leaked secret (fingerprinted like `credentials find`, never shown):"),
            entered,
        )

    @work(thread=True, exclusive=True, group="find")
    def _find_secret(self, secret: str) -> None:
        try:
            result = self.data.find_secret(secret)
        except DATA_ERRORS as exc:
            self.post_message(Failed("could not read the case", str(exc)))
            return
        finally:
            del secret
        credential = result["credential"]
        self.post_message(Notice(result["text"], warning=credential is None))
        if credential is not None:
            self.post_message(JumpTo("credentials", f"id:{credential['id']}"))

    def fetch(self, data: CaseData, text: str) -> Page[CredentialRow]:
        return data.credentials(text, sort=self.sort)

    def subject_of(self, row: CredentialRow) -> SubjectRef:
        return SubjectRef("credential", row.id)

    def cells(self, row: CredentialRow) -> tuple[Text, ...]:
        return (
            safe(row.id + (" ⛔" if row.blocked else ""), limit=20),
            safe(row.kind, limit=16),
            safe(row.redacted, limit=30),
            safe(row.identity or "-", limit=50),
            Text(str(row.requests), justify="right"),
            Text(when(row.last_seen)),
        )

    def fetch_detail(self, data: CaseData, key: str) -> CredentialDetail | None:
        return data.credential_detail(key)

    def render_detail(self, d: CredentialDetail) -> Text:
        c = d.credential
        out = Text()
        out.append_text(safe(f"{c.kind} {c.redacted}", style="bold", limit=120))
        out.append_text(safe(f"  id {c.id}", style="dim"))
        if c.blocked:
            out.append("  BLOCKED AT THE PROXY", style="bold red")
        out.append("\n")
        out.append_text(line(("identity", c.identity), ("requests", c.requests)))
        out.append("\n")
        if c.issued_by:
            out.append_text(line(("issued by", c.issued_by)))
            out.append("\n")
        out.append_text(line(("first seen", iso(c.first_seen)), ("last seen", iso(c.last_seen))))
        out.append("\n")
        out.append_text(
            line(
                ("issued", iso(c.issued_at)),
                ("expires", iso(c.expires_at)),
                ("lifetime", duration(c.lifetime_s)),
            )
        )
        out.append("\n\nClaims (non-secret)\n", style="bold underline")
        if c.claims:
            out.append_text(
                block_text(
                    json.dumps(
                        clean_data(dict(c.claims)), indent=2, ensure_ascii=False, sort_keys=True
                    )
                )
            )
            out.append("\n")
        else:
            out.append("  -\n", style="dim")
        out.append(f"\nSources ({len(c.sources)})\n", style="bold underline")
        for client in c.sources[:50]:
            out.append("  ")
            out.append_text(safe(client, limit=60))
            out.append("\n")
        out.append(f"\nEndpoints reached ({len(c.endpoints)})\n", style="bold underline")
        for ep in c.endpoints[:50]:
            out.append("  ")
            out.append_text(safe(f"{ep.method} {ep.host}{ep.template}", limit=160))
            out.append("\n")
        _findings(out, d.findings)
        return out


class IdentitiesScreen(ListScreen):
    """Non-human identities: registered or not, owners, credentials held."""

    TITLE_TEXT = "Identities"
    COLUMNS = (
        "registered",
        Column("name", flex=True, least=16),
        Column("source", drop=2),
        Column("owner", flex=True, least=10, drop=1),
        "credentials",
        Column("last seen", drop=3),
    )
    SORTS = (
        ("last seen", "last_seen"),
        ("registered", "registered"),
        ("name", "name"),
        ("source", "source"),
        ("owner", "owner"),
    )
    BINDINGS: ClassVar = [*SUBJECT_BINDINGS]

    def fetch(self, data: CaseData, text: str) -> Page[IdentityRow]:
        return data.identities(text, sort=self.sort)

    def row_key(self, row: IdentityRow) -> str:
        return str(row.rowid)  # opens the identity whatever bytes its id holds

    def subject_of(self, row: IdentityRow) -> SubjectRef:
        return SubjectRef("identity", row.id)

    def story_of(self, row: IdentityRow) -> SubjectRef:
        return SubjectRef("identity", f"#{row.rowid}")  # opened by row id, whatever its bytes

    def cells(self, row: IdentityRow) -> tuple[Text, ...]:
        registered = (
            Text("yes", style="green") if row.registered else Text("NO", style="bold yellow")
        )
        return (
            registered,
            safe(row.name, limit=50),
            safe(row.source, limit=12),
            safe(row.owner, limit=24),
            Text(str(len(row.credentials)), justify="right"),
            Text(when(row.last_seen)),
        )

    def fetch_detail(self, data: CaseData, key: str) -> IdentityDetail | None:
        return data.identity_detail(int(key))

    def render_detail(self, d: IdentityDetail) -> Text:
        i = d.identity
        out = Text()
        out.append_text(safe(i.name, style="bold", limit=160))
        out.append(
            "  registered" if i.registered else "  UNREGISTERED",
            style="green" if i.registered else "bold yellow",
        )
        out.append("\n")
        out.append_text(line(("id", i.id)))
        out.append("\n")
        out.append_text(line(("kind", i.kind), ("owner", i.owner), ("source", i.source)))
        out.append("\n")
        out.append_text(line(("first seen", when(i.first_seen)), ("last seen", when(i.last_seen))))
        if i.issued_tokens:
            out.append("\n")
            out.append_text(line(("tokens issued to it (OAuth token endpoint)", i.issued_tokens)))
        if d.allowed_scopes or d.max_token_lifetime or d.rotation_period:
            out.append("\n")
            out.append_text(
                line(
                    ("allowed scopes", d.allowed_scopes),
                    ("max token lifetime", duration(d.max_token_lifetime)),
                    ("rotation", duration(d.rotation_period)),
                )
            )
        out.append(f"\n\nCredentials held ({len(d.credentials)})\n", style="bold underline")
        for c in d.credentials:
            out.append("  ")
            out.append_text(safe(f"{c.id} {c.kind} {c.redacted}", limit=80))
            out.append(f"  {c.requests} req, last {when(c.last_seen)}")
            if c.expires_at:
                out.append(f", expires {when(c.expires_at)}")
            if c.issued_by:
                out.append_text(safe(f", issued to {c.issued_by}", limit=120))
            out.append("\n")
        out.append(f"\nEndpoints reached ({len(d.endpoints)})\n", style="bold underline")
        for ep in d.endpoints:
            out.append("  ")
            out.append_text(safe(ep.status, style=STATUS_STYLE.get(ep.status, "")))
            out.append_text(safe(f"  {ep.method} {ep.host}{ep.template}", limit=160))
            out.append(f"  {ep.requests} req\n")
        _findings(out, d.findings)
        return out
