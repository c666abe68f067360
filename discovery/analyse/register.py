"""The identity register: the non-human identities an organisation knows, with owners and policy.

A register is CSV or YAML. Each identity has a name, a kind (service-account, partner, bot,
human), an owner, matchers that tie credentials to it, allowed scopes, a maximum token lifetime
and a rotation period. ``import_register`` replaces the case's registered identities;
``apply_register`` (the first analysis stage) maps every credential to the registered identity
whose matchers it meets, else back to the identity its own facts name.

Matchers (a YAML list of mappings, all keys of one mapping must hold; in CSV ``type:value``
items separated by ``;``): ``jwt_sub``, ``jwt_iss``, ``client_id``, ``aws_key_id``,
``aws_account``, ``key_prefix``, ``basic_user``, ``fingerprint`` (a credential id ``c-…`` or
the full keyed fingerprint), ``identity`` (an observed identity id such as ``aws:AKIA…``).
"""

from __future__ import annotations

import csv
import io
import json
import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from discovery.case import audit
from discovery.case.pending import mark_pending
from discovery.case.store import Store, dumps, file_sha256
from discovery.errors import InputError
from discovery.redact.credentials.identity import CLIENT_CLAIMS, identity_for

log = logging.getLogger(__name__)

KINDS = ("service-account", "partner", "bot", "human")
MATCHER_TYPES = (
    "jwt_sub",
    "jwt_iss",
    "client_id",
    "aws_key_id",
    "aws_account",
    "key_prefix",
    "basic_user",
    "fingerprint",
    "identity",
)
_ALIASES = {
    "sub": "jwt_sub",
    "iss": "jwt_iss",
    "azp": "client_id",
    "aws_access_key_id": "aws_key_id",
    "prefix": "key_prefix",
    "username": "basic_user",
    "user": "basic_user",
    "credential": "fingerprint",
    "account_id": "aws_account",
}
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdwy]?)\s*$")
_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800, "y": 31_536_000}
ID_PREFIX = "reg:"

Matcher = tuple[tuple[str, str], ...]  # all (type, value) pairs must hold


@dataclass(frozen=True)
class RegisteredIdentity:
    """One entry of the register."""

    name: str
    kind: str | None
    owner: str | None
    matchers: tuple[Matcher, ...]
    allowed_scopes: tuple[str, ...] | None
    max_token_lifetime: float | None  # seconds
    rotation_period: float | None  # seconds

    @property
    def id(self) -> str:
        return ID_PREFIX + self.name


def parse_duration(value: object, path: str, where: str) -> float | None:
    """Seconds from ``3600``, ``90d``, ``12h``, ``1y`` (None when empty)."""
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise InputError(path, f"not a duration: {value!r}", where)
    if isinstance(value, int | float):
        return float(value)
    match = _DURATION.match(str(value))
    if not match:
        raise InputError(
            path, f"not a duration: {str(value)[:40]!r} (use 3600, 12h, 90d, 1y)", where
        )
    return float(match[1]) * _UNITS[match[2]]


def _matcher(raw: object, path: str, where: str) -> Matcher:
    if isinstance(raw, str):
        kind, sep, value = raw.partition(":")
        if not sep:
            raise InputError(path, f"matcher {raw[:40]!r} is not TYPE:VALUE", where)
        raw = {kind.strip(): value.strip()}
    if not isinstance(raw, Mapping) or not raw:
        raise InputError(path, "a matcher is a mapping of TYPE: VALUE", where)
    pairs = []
    for key, value in raw.items():
        kind = _ALIASES.get(str(key).strip().lower(), str(key).strip().lower())
        if kind not in MATCHER_TYPES:
            raise InputError(
                path,
                f"unknown matcher type {str(key)[:40]!r}; use one of {', '.join(MATCHER_TYPES)}",
                where,
            )
        if value is None or str(value).strip() == "":
            raise InputError(path, f"matcher {kind} has no value", where)
        pairs.append((kind, str(value).strip()))
    return tuple(pairs)


def _scopes(raw: object) -> tuple[str, ...] | None:
    if raw is None or raw == "":
        return None
    if isinstance(raw, str):
        return tuple(s for s in re.split(r"[\s;,]+", raw) if s)
    if isinstance(raw, list):
        return tuple(str(s) for s in raw)
    return (str(raw),)


def _sub(where: str, field: str, index: int | None = None) -> str:
    """A place inside an entry: a JSON pointer for YAML, ``line N, column FIELD`` for CSV."""
    if where.startswith("/"):
        return f"{where}/{field}" + (f"/{index}" if index is not None else "")
    return f"{where}, {field}" + (f" item {index + 1}" if index is not None else "")


def _entry(raw: Mapping[str, Any], path: str, where: str) -> RegisteredIdentity:
    name = str(raw.get("identity") or raw.get("name") or "").strip()
    if not name:
        raise InputError(path, "an identity has no name (field 'identity')", where)
    kind = (str(raw["kind"]).strip().lower() or None) if raw.get("kind") else None
    if kind is not None and kind not in KINDS:
        raise InputError(path, f"kind {kind[:40]!r} is not one of {', '.join(KINDS)}", where)
    matchers_raw = raw.get("matchers") or []
    if isinstance(matchers_raw, str):
        matchers_raw = [m for m in matchers_raw.split(";") if m.strip()]
    if isinstance(matchers_raw, Mapping):
        matchers_raw = [{k: v} for k, v in matchers_raw.items()]
    if not isinstance(matchers_raw, list):
        raise InputError(path, "matchers must be a list", _sub(where, "matchers"))
    matchers = tuple(
        _matcher(m, path, _sub(where, "matchers", i)) for i, m in enumerate(matchers_raw)
    )
    owner = raw.get("owner")
    return RegisteredIdentity(
        name=name,
        kind=kind,
        owner=str(owner).strip() if owner else None,
        matchers=matchers,
        allowed_scopes=_scopes(raw.get("allowed_scopes")),
        max_token_lifetime=parse_duration(
            raw.get("max_token_lifetime"), path, _sub(where, "max_token_lifetime")
        ),
        rotation_period=parse_duration(
            raw.get("rotation_period"), path, _sub(where, "rotation_period")
        ),
    )


def load_register(path: Path) -> list[RegisteredIdentity]:
    """Read a CSV or YAML register; bad input raises InputError naming the line or pointer."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(str(path), f"cannot read: {exc}") from exc
    if path.suffix.lower() == ".csv" or (
        path.suffix.lower() not in (".yaml", ".yml", ".json")
        and text.lstrip().lower().startswith("identity,")
    ):
        return _load_csv(text, str(path))
    import yaml  # here: the analysis of a case (apply_register) reads no register file

    from discovery import boundedyaml

    try:
        data = boundedyaml.safe_load(text)
    except boundedyaml.YamlLimit as exc:
        mark = exc.problem_mark
        where = f"line {mark.line + 1}" if mark is not None else None
        raise InputError(str(path), str(exc.problem), where) from exc
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark is not None else None
        raise InputError(str(path), "not valid YAML", where) from exc
    items = data.get("identities") if isinstance(data, Mapping) else data
    if not isinstance(items, list):
        raise InputError(
            str(path),
            "expected a list of identities (or a mapping with 'identities:')",
            "/identities",
        )
    out = []
    for i, item in enumerate(items):
        if not isinstance(item, Mapping):
            raise InputError(str(path), "an identity must be a mapping", f"/identities/{i}")
        out.append(_entry(item, str(path), f"/identities/{i}"))
    _unique(out, str(path))
    return out


def _load_csv(text: str, path: str) -> list[RegisteredIdentity]:
    reader = csv.DictReader(io.StringIO(text))
    try:
        return _csv_entries(reader, path)
    except csv.Error as exc:  # a field past the csv module's limit (128 KiB), a NUL byte
        raise InputError(path, f"not usable CSV: {exc}", f"line {reader.line_num + 1}") from exc


def _csv_entries(reader: csv.DictReader[str], path: str) -> list[RegisteredIdentity]:
    if not reader.fieldnames or "identity" not in [f.strip().lower() for f in reader.fieldnames]:
        raise InputError(
            path, "CSV register needs a header row with an 'identity' column", "line 1"
        )
    out = []
    for row in reader:
        clean = {str(k).strip().lower(): (v or "").strip() for k, v in row.items() if k}
        if not any(clean.values()):
            continue
        out.append(_entry(clean, path, f"line {reader.line_num}"))
    _unique(out, path)
    return out


def _unique(entries: list[RegisteredIdentity], path: str) -> None:
    seen: set[str] = set()
    for entry in entries:
        if entry.name in seen:
            raise InputError(path, f"identity {entry.name[:60]!r} is listed twice")
        seen.add(entry.name)


def import_register(store: Store, path: Path, actor: str = "cli") -> int:
    """Replace the case's registered identities with those of ``path``; returns how many.

    The import is audited (file, content hash, count). Call ``analysis.recompute`` afterwards
    to map credentials and recompute findings.
    """
    entries = load_register(path)
    with store.transaction() as conn:
        audit.append(
            store,
            actor,
            "inventory.import",
            str(path),
            {"sha256": file_sha256(path), "identities": len(entries)},
            in_transaction=True,
        )
        conn.execute(
            "UPDATE credentials SET identity_id = NULL "
            "WHERE identity_id IN (SELECT id FROM identities WHERE registered = 1)"
        )
        conn.execute("DELETE FROM identities WHERE registered = 1")
        conn.executemany(
            "INSERT INTO identities(id, name, kind, owner, source, registered, matchers, "
            "allowed_scopes, max_token_lifetime, rotation_period) "
            "VALUES (?, ?, ?, ?, 'register', 1, ?, ?, ?, ?)",
            [
                (
                    e.id,
                    e.name,
                    e.kind,
                    e.owner,
                    dumps([dict(m) for m in e.matchers]),
                    None if e.allowed_scopes is None else dumps(list(e.allowed_scopes)),
                    e.max_token_lifetime,
                    e.rotation_period,
                )
                for e in entries
            ],
        )
        mark_pending(store)  # credentials are unmapped until the next recompute finishes
    log.info("register %s: %d identities", path, len(entries))
    return len(entries)


# ---------------------------------------------------------------- matching


@dataclass(frozen=True)
class _Cred:
    id: str
    fingerprint: str
    kind: str
    redacted: str
    public_id: str | None
    claims: dict[str, Any]
    observed: str
    issued_by: str | None = None  # the client identity that obtained the token (lineage)


def _holds(kind: str, value: str, cred: _Cred) -> bool:
    claims = cred.claims
    if kind == "jwt_sub":
        return cred.kind == "jwt" and claims.get("sub") == value
    if kind == "jwt_iss":
        return cred.kind == "jwt" and claims.get("iss") == value
    if kind == "client_id":
        if cred.kind == "jwt" and any(claims.get(c) == value for c in CLIENT_CLAIMS):
            return True
        clients = (cred.issued_by or "", cred.observed)  # client:<host>|<client id>
        return any(c.startswith("client:") and c.rsplit("|", 1)[-1] == value for c in clients)
    if kind == "aws_key_id":
        return cred.public_id == value or claims.get("access_key_id") == value
    if kind == "aws_account":
        return claims.get("account_id") == value
    if kind == "key_prefix":
        return bool(
            (cred.public_id or "").startswith(value)
            or (cred.redacted.startswith(value) and not value.startswith("…"))
        )
    if kind == "basic_user":
        return cred.kind in ("basic", "digest", "password") and claims.get("username") == value
    if kind == "fingerprint":
        return value.lower() in (cred.id.lower(), cred.fingerprint.lower())
    if kind == "identity":
        return cred.observed == value
    return False


def match(entries: list[RegisteredIdentity], cred: _Cred) -> RegisteredIdentity | None:
    """The first registered identity one of whose matchers the credential meets."""
    for entry in entries:
        for matcher in entry.matchers:
            if all(_holds(kind, value, cred) for kind, value in matcher):
                return entry
    return None


def registered(store: Store) -> list[RegisteredIdentity]:
    """The case's registered identities, in register order."""
    out = []
    for row in store.conn.execute(
        "SELECT name, kind, owner, matchers, allowed_scopes, max_token_lifetime, rotation_period "
        "FROM identities WHERE registered = 1 ORDER BY rowid"
    ):
        scopes = json.loads(row[4]) if row[4] is not None else None
        out.append(
            RegisteredIdentity(
                name=row[0],
                kind=row[1],
                owner=row[2],
                matchers=tuple(tuple(sorted(m.items())) for m in json.loads(row[3])),
                allowed_scopes=tuple(scopes) if scopes is not None else None,
                max_token_lifetime=row[5],
                rotation_period=row[6],
            )
        )
    return out


def apply_register(store: Store) -> None:
    """Map each credential to its registered identity, or to the identity its facts name."""
    entries = registered(store)
    conn = store.conn
    rows = conn.execute(
        "SELECT c.id, c.fingerprint, c.kind, c.redacted, c.public_id, c.claims, c.identity_id, "
        "COALESCE(i.registered, 0), c.issued_by FROM credentials c LEFT JOIN identities i "
        "ON i.id = c.identity_id"
    ).fetchall()
    updates: list[tuple[str, str]] = []
    observed_rows: dict[str, tuple[str, str, str]] = {}
    for cid, fingerprint, kind, redacted, public_id, claims_json, current, is_reg, by in rows:
        claims = json.loads(claims_json)
        if current and not is_reg:
            observed, source = current, current.split(":", 1)[0]
        else:
            observed, source = identity_for(kind, public_id, claims, cid)
            if by and observed.startswith("cred:"):  # an opaque token: its client's
                observed, source = by, "oauth"
        cred = _Cred(cid, fingerprint, kind, redacted, public_id, claims, observed, by)
        entry = match(entries, cred) if entries else None
        target = entry.id if entry else observed
        if entry is None:
            name = (
                f"{kind} {redacted}" if observed.startswith("cred:") else observed.split(":", 1)[1]
            )
            observed_rows[observed] = (observed, name, _SOURCES.get(source, source))
        if target != current:
            updates.append((target, cid))
    with store.transaction() as tx:
        tx.executemany(
            "INSERT OR IGNORE INTO identities(id, name, source) VALUES (?, ?, ?)",
            list(observed_rows.values()),
        )
        tx.executemany("UPDATE credentials SET identity_id = ? WHERE id = ?", updates)
        tx.execute(
            "DELETE FROM identities WHERE registered = 0 AND id NOT IN "
            "(SELECT identity_id FROM credentials WHERE identity_id IS NOT NULL)"
        )
        tx.execute(
            "UPDATE identities SET "
            "first_seen = (SELECT MIN(first_seen) FROM credentials c WHERE c.identity_id = "
            "identities.id), last_seen = (SELECT MAX(last_seen) FROM credentials c "
            "WHERE c.identity_id = identities.id)"
        )
    log.debug("register applied: %d credentials remapped", len(updates))


_SOURCES = {"client": "jwt", "cred": "credential", "user": "oauth"}
