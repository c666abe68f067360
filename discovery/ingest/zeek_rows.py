"""Zeek logs into rows ready to insert, http.log records by a fast path.

An http.log record is plain HTTP as Zeek parsed it: no body, no cookies, a few headers. Most
records need none of what the general conversion (``discovery.redact.convert``) does beyond
the credential detectors, so ``HttpRows`` builds the record's stored row
(``case.store.exchange_fields``) and its credential sightings straight from its checked values
(``zeek.http_values``), without an observed or a stored exchange object per record. It calls
the same functions as the general conversion (the detectors, path normalisation, the JA4H
and the destination check, the latter two kept per header shape and per server); a record
that needs more answers None and takes the general path: a logged password (its Basic header
is rebuilt for the detectors), an absolute URI as the target, a GraphQL-shaped query, a
gRPC content type, or a credential found in the path or the query (the stored path and query
names are then redacted). Both paths give the same rows
(``tests/discovery/ingest/test_zeek_rows.py`` compares them on varied records).

Conversion is the secret boundary: this module holds raw values (the record's headers) as the
general conversion does, and only the fingerprints and redacted forms leave it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

from discovery.case.store import PreparedExchange, exchange_fields, names_json
from discovery.models import CredentialSighting, ObservedExchange, PrecomputedCredential
from discovery.redact.convert import _precomputed, normalise_host, to_exchanges
from discovery.redact.credentials import RequestView, detect_credentials, pathsecrets, query
from discovery.redact.credentials.config import MEMO_MAX_VALUE, site_config
from discovery.sources import zeek
from discovery.sources.zeek import HttpRecord
from discovery.stats import IngestStats, Progress
from discovery.wire.destinations import authority, contradiction
from discovery.wire.fingerprints import ja4h
from discovery.wire.paths import (
    MAX_PATH_SEGMENTS,
    folded_depth,
    names_of,
    normalise_path,
    query_pairs,
    split_target,
)

MEMO_SIZE = 16384  # entries of each per-reader memo before it starts over
_GRAPHQL_NAMES = ("query", "extensions")  # query names that may make a GraphQL call


class HttpRows:
    """An http.log record's values -> its row (``PreparedExchange``), or None when the record
    takes the general conversion. One per reader: it keeps small memos of what recurs."""

    def __init__(self, fingerprint: Callable[[str], str]) -> None:
        self.fingerprint = fingerprint
        self.config = site_config()
        # (header, value, host) -> the credentials that header alone carries
        self._found: dict[tuple[str, str, str | None], tuple[CredentialSighting, ...]] = {}
        # (method, version, which headers) -> JA4H: it hashes the header names, not values
        self._ja4h: dict[tuple[str, str | None, int], str] = {}
        # (server address, port, Host) -> (destination, how the Host contradicts it)
        self._destinations: dict[
            tuple[str | None, int | None, str | None], tuple[str | None, str | None]
        ] = {}
        self._hosts: dict[str, str] = {}
        # id of a digest the source computed -> it and its sighting under the case key (the
        # source hands out one object per digest: looked up by identity, not by value)
        self._rekeyed: dict[int, tuple[PrecomputedCredential, CredentialSighting]] = {}

    def __call__(self, values: HttpRecord) -> PreparedExchange | None:
        if values.user is not None and values.password is not None:
            return None  # the Basic header is rebuilt for the detectors: the general path
        request_type = values.request_type
        if request_type is not None and request_type[:16].lower() == "application/grpc":
            return None
        raw_path, raw_query, named = split_target(values.target)
        if named is not None:
            return None  # an absolute URI: the authority it names is the destination
        pairs = query_pairs(raw_query)
        names = names_of(pairs)
        if names and (_GRAPHQL_NAMES[0] in names or _GRAPHQL_NAMES[1] in names):
            return None
        host = self._host(values.host)
        fingerprint = self.fingerprint
        # ``detect_credentials`` of the request, in its parts: a credential in the query or
        # the path sends the record to the general path (its stored path or query names are
        # redacted); the headers' credentials, each header's kept, in the headers' order
        if pairs and query.detect(pairs, fingerprint, self.config, host):
            return None
        sent_path = raw_path or "/"
        if (
            len(sent_path) >= pathsecrets.MIN_SEGMENT
            and pathsecrets.scan_path(sent_path, fingerprint)[0]
        ):
            return None
        credentials = self._header_credentials(values, host)
        depth = folded_depth(raw_path)
        error = f"path of {depth} segments folded after {MAX_PATH_SEGMENTS}" if depth else None
        destination, mismatch = self._destination(values)
        fields = (
            "zeek",
            values.evidence,
            values.ts,
            values.client_ip,
            values.client_port,
            values.server_ip,
            values.server_port,
            0,  # tls
            None,  # sni
            None,  # alpn
            None,  # ja4
            values.version,
            values.method.upper(),
            normalise_path(raw_path),
            raw_path,
            names_json(names),
            host,
            values.status,
            values.request_bytes,
            values.response_bytes,
            request_type,
            values.response_type,
            values.user_agent,
            0,  # partial
            0,  # blocked
            error,
            0,  # websocket
            "{}",  # sensitive: no body to scan
            "[]",  # anomalies
            None,  # protocol
            None,  # operation
            None,  # outcome
            None,  # facts
            destination,
            mismatch,
            None,  # ja4s
            self._ja4h_of(values),
        )
        return fields, values.ts, credentials

    def _header_credentials(
        self, values: HttpRecord, host: str | None
    ) -> tuple[CredentialSighting, ...]:
        """The credentials of the record's headers (``zeek.request_headers``: no password
        here), then those its source computed (the policy script's digests, a Basic user)."""
        found: tuple[CredentialSighting, ...] = ()
        parts = 0
        for name, value in (
            ("User-Agent", values.user_agent),
            ("Referer", values.referrer),
            ("Origin", values.origin),
            ("Content-Type", values.request_type),
        ):
            if value is not None:
                carried = self._carried(name, value, host)
                if carried:
                    found += carried
                    parts += 1
        if parts > 1:  # once per (credential, location, name), as ``detect_credentials``
            unique: dict[tuple[str, str, str], CredentialSighting] = {}
            for sighting in found:
                unique.setdefault(
                    (sighting.fingerprint, sighting.location, sighting.name.lower()), sighting
                )
            found = tuple(unique.values())
        if values.extra:
            found += tuple([self._sighting(pc) for pc in values.extra])
        return found

    def _sighting(self, pc: PrecomputedCredential) -> CredentialSighting:
        """``convert._precomputed``: a digest the source computed, re-keyed under the case key."""
        known = self._rekeyed.get(id(pc))
        if known is None or known[0] is not pc:
            known = (pc, _precomputed(pc, self.fingerprint))
            if len(self._rekeyed) >= MEMO_SIZE:
                self._rekeyed.clear()
            self._rekeyed[id(pc)] = known
        return known[1]

    def _carried(self, name: str, value: str, host: str | None) -> tuple[CredentialSighting, ...]:
        """The credentials one header carries (``detect_credentials`` of it alone)."""
        key = (name, value, host)
        known = self._found.get(key)
        if known is None:
            view = RequestView(((name, value),), [], host, "/", "GET", b"")
            known = tuple(detect_credentials(view, self.fingerprint, self.config))
            if len(value) <= MEMO_MAX_VALUE:
                if len(self._found) >= MEMO_SIZE:
                    self._found.clear()
                self._found[key] = known
        return known

    def _host(self, host: str | None) -> str | None:
        if not host:
            return None
        known = self._hosts.get(host)
        if known is None:
            known = normalise_host(host, False)
            if len(self._hosts) >= MEMO_SIZE:
                self._hosts.clear()
            self._hosts[host] = known
        return known

    def _destination(self, values: HttpRecord) -> tuple[str | None, str | None]:
        """``convert._destination`` of a record with no target authority and no SNI: the
        server address, and how the Host contradicts it."""
        key = (values.server_ip, values.server_port, values.host)
        known = self._destinations.get(key)
        if known is None:
            server_ip, server_port = values.server_ip, values.server_port
            if not server_ip or server_port is None:
                known = (None, None)
            else:
                where = authority(server_ip, server_port)
                mismatch = contradiction(
                    destination=where, named=False, claimed=values.host, sni=None
                )
                known = (normalise_host(where, False), mismatch)
            if len(self._destinations) >= MEMO_SIZE:
                self._destinations.clear()
            self._destinations[key] = known
        return known

    def _ja4h_of(self, values: HttpRecord) -> str:
        shape = (
            (values.user_agent is not None)
            | (values.referrer is not None) << 1
            | (values.origin is not None) << 2
            | (values.request_type is not None) << 3
        )
        key = (values.method, values.version, shape)
        known = self._ja4h.get(key)
        if known is None:
            known = ja4h(values.method, values.version, zeek.request_headers(values))
            if len(self._ja4h) >= MEMO_SIZE:
                self._ja4h.clear()
            self._ja4h[key] = known
        return known


def prepared(
    observed: ObservedExchange, fingerprint: Callable[[str], str]
) -> list[PreparedExchange]:
    """The rows of an exchange the general conversion makes (one, or one per GraphQL
    operation)."""
    return [
        (exchange_fields(ex), ex.ts, ex.credentials) for ex in to_exchanges(observed, fingerprint)
    ]


def rows(
    path: Path,
    stats: IngestStats,
    fingerprint: Callable[[str], str],
    progress: Progress | None = None,
    *,
    start: int = 0,
    end: int | None = None,
    share: tuple[int, int] | None = None,
) -> Iterator[tuple[int, PreparedExchange]]:
    """The rows of a Zeek log ready to insert (``Store.insert_prepared``), each with the number
    of its line; ``start``, ``end`` and ``share`` as for ``zeek.read_rows``."""
    fast = HttpRows(fingerprint)
    for number, item in zeek.read_rows(
        path, stats, fast, progress, start=start, end=end, share=share
    ):
        if isinstance(item, ObservedExchange):
            for row in prepared(item, fingerprint):
                yield number, row
        else:
            yield number, item
