"""``ir-console credentials find``: was this leaked secret seen? Fingerprinted under the case key,
never echoed, logged or stored."""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Any

import click

from ir_console.cli import CaseContext
from ir_console.output import emit_json, emit_table, message

_SCHEMES = ("bearer", "token", "basic")


_ASSIGNMENT = re.compile(
    r"""^\s*(?:export\s+)?[\w.\-"']{1,80}\s*[=:]\s*["']?([^"'\s]+)["']?\s*,?\s*$"""
)


def candidates(line: str) -> list[str]:
    """The forms a pasted secret may have been stored under: as given; without a header name
    (``Authorization:``) or scheme (``Bearer``/``token``/``Basic``, any spacing) in front; the
    token of ``Token token=…``; both parts of a Basic pair; the value of a ``NAME=value`` /
    ``"name": "value"`` line (``.env`` files, JSON, AWS credential files); and every provider key
    or JWT inside the line (an AWS key id stands for its SigV4 credential). A bare secret that
    travelled inside Basic or ``id:token`` is found through the case's aliases."""
    from discovery.redact.credentials.authorization import split_scheme, token_param
    from discovery.redact.credentials.jwt import JWT_IN_TEXT
    from discovery.redact.credentials.providers import find_provider_keys

    value = line.strip()
    out = [value]
    assigned = _ASSIGNMENT.match(value)
    if assigned:
        out.append(assigned.group(1))
    out.extend(key.token for key in find_provider_keys(value))
    out.extend(match.group(0) for match in JWT_IN_TEXT.finditer(value))
    name, sep, rest = value.partition(":")
    if sep and name.strip().lower() in (
        "authorization",
        "proxy-authorization",
        "x-api-key",
        "api-key",
        "x-auth-token",
        "cookie",
    ):
        value = rest.strip()
        out.append(value)
    scheme, token = split_scheme(value)
    if scheme.lower() in _SCHEMES and token:
        out.append(token)
        param = token_param(token)
        if param:
            out.append(param)
        if scheme.lower() == "basic":
            import base64
            import binascii
            import contextlib

            # not base64: the token as given is already a candidate
            with contextlib.suppress(binascii.Error, ValueError):
                pair = base64.b64decode(token, validate=True).decode("utf-8")
                out.append(pair)
                out.extend(pair.split(":", 1))
    return [c for c in dict.fromkeys(out) if c]


def lookup(store: Any, secret: str) -> dict[str, Any]:
    """``{"found": bool, "credential": {...} | None, "issued": {...} | None}`` for one raw
    secret: ``found`` when it was presented in traffic; ``issued`` when an OAuth token response
    in the case issued it (to which client, by which grant, when), even if never presented."""
    from discovery.views import queries

    issued = None
    for candidate in candidates(secret):
        fingerprint = store.fingerprint(candidate)
        row = queries.credential_by_fingerprint(store, fingerprint)
        issued = issued or queries.issued_token_by_fingerprint(store, fingerprint)
        if row is not None:
            return {"found": True, "credential": row, "issued": issued}
    return {"found": False, "credential": None, "issued": issued}


def _describe(result: dict[str, Any]) -> str:
    cred, issued = result["credential"], result.get("issued")
    if cred is None and issued is not None:
        return (
            f"ISSUED, never presented: {issued['name']} {issued['redacted']} issued to "
            f"{issued['issued_by'] or 'an unnamed client'} ({issued['grant_type']} grant at "
            f"{issued['token_endpoint']}) for {issued['issued_to']} at {issued['issued_at']}"
        )
    if cred is None:
        return "not seen in this case"
    return (
        f"SEEN: {cred['id']} {cred['kind']} {cred['redacted']} identity {cred['identity']}; "
        f"{cred['requests']} requests from {len(cred['sources'])} sources to "
        f"{len(cred['endpoints'])} endpoints, {cred['first_seen']} .. {cred['last_seen']}"
    )


def _read_secret() -> str:
    """The secret from stdin: piped, read whole; typed at a terminal, read without echo (the
    terminal never shows it, so it is not left on screen or in a recording of the session)."""
    if sys.stdin.isatty():
        import getpass

        return getpass.getpass("secret (not echoed): ", stream=sys.stderr)
    return sys.stdin.read()


@click.command()
@click.option("--stdin", "from_stdin", is_flag=True, help="Read one raw secret from stdin.")
@click.option(
    "--file",
    "from_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="A file with one raw secret per line (bulk triage of a leak).",
)
@click.option("--json", "as_json", is_flag=True, help="One JSON document on stdout.")
@click.pass_obj
def find(case: CaseContext, from_stdin: bool, from_file: Path | None, as_json: bool) -> None:
    """Was a raw secret seen? Looked up by keyed fingerprint; the secret is never shown or kept."""
    if from_stdin == (from_file is not None):
        raise click.UsageError("give exactly one of --stdin or --file FILE")
    with case.open(create=False) as store:
        if from_stdin:
            secret = _read_secret()
            if not secret.strip():
                raise click.UsageError("nothing on stdin: pipe the secret in")
            result = lookup(store, secret)
            del secret
            if as_json:
                emit_json(result)
            else:
                sys.stdout.write(_describe(result) + "\n")
            return
        assert from_file is not None
        try:
            lines = from_file.read_text(encoding="utf-8", errors="surrogateescape").splitlines()
        except OSError as exc:
            raise click.FileError(str(from_file), hint=exc.strerror or str(exc)) from None
        results = []
        for number, line in enumerate(lines, 1):
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            results.append({"line": number, **lookup(store, line)})
        del lines
    if as_json:
        emit_json(results)
        return
    emit_table(
        ["line", "result"],
        [[r["line"], _describe(r)] for r in results],
        empty="no secrets in the file",
    )
    seen = sum(1 for r in results if r["found"])
    message(f"{seen} of {len(results)} secrets were seen in this case")
