"""Writing a loaded spec into the case (``specs`` + ``spec_operations``), then re-analysing."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from discovery.analyse.specs.document import load_document, read_text, validate_document
from discovery.analyse.specs.graphql import SDL_SUFFIXES, is_graphql_schema, load_graphql_spec
from discovery.analyse.specs.model import LoadedSpec, extract
from discovery.analyse.specs.protoset_sniff import file_head, looks_binary
from discovery.case.pending import mark_pending
from discovery.case.store import Store, dumps
from discovery.ticker import ticking

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SpecImport:
    """What an import did: the spec's row id, its title, hosts and number of operations."""

    spec_id: int
    title: str
    openapi_version: str
    hosts: list[dict[str, str]]
    operations: int
    deprecated: int


def load_spec(
    path: Path,
    host: str | None = None,
    validate: bool = True,
    progress: Callable[[str], None] | None = None,
) -> LoadedSpec:
    """Parse, (optionally) validate and extract a spec file; raises SpecError. ``progress`` is
    told while the validator runs (``validate_document``)."""
    if looks_binary(path):  # a protobuf descriptor set or reflection response: gRPC methods
        from discovery.analyse.specs.protoset import load_protoset  # protobuf: only for these

        return load_protoset(path, host)
    with ticking((lambda: progress("loading spec")) if progress else None):
        doc = load_document(path)
        loaded = extract(doc, host)  # first: its errors point precisely at what we use
    if validate:
        validate_document(doc, progress)
    return loaded


def _graphql_file(path: Path) -> bool:
    if path.suffix.lower() in SDL_SUFFIXES:
        return True
    head = file_head(path)
    return (
        head is not None
        and head.lstrip()[:1] == b"{"
        and is_graphql_schema(path, read_text(path)[0])
    )


def write_spec(
    store: Store, path: Path, spec: LoadedSpec, schema: dict[str, Any] | None = None
) -> int:
    """Insert or replace (same content hash) a spec and its operations; returns the spec id.
    ``schema``: a GraphQL schema's stored form (its operations are then GraphQL's)."""
    protocol = schema.get("protocol") if schema else None
    with store.transaction() as conn:
        (spec_id,) = conn.execute(
            "INSERT INTO specs(sha256, title, version, openapi_version, path, hosts, "
            "security_schemes, imported_at, schema) VALUES (?,?,?,?,?,?,?,?,?) "
            "ON CONFLICT(sha256) DO UPDATE SET title = excluded.title, "
            "version = excluded.version, openapi_version = excluded.openapi_version, "
            "path = excluded.path, hosts = excluded.hosts, "
            "security_schemes = excluded.security_schemes, imported_at = excluded.imported_at, "
            "schema = excluded.schema RETURNING id",
            (
                spec.sha256,
                spec.title,
                spec.version,
                spec.openapi_version,
                str(path),
                dumps(spec.hosts),
                dumps(spec.security_schemes),
                time.time(),
                dumps(schema) if schema else None,
            ),
        ).fetchone()
        conn.execute("DELETE FROM spec_operations WHERE spec_id = ?", (spec_id,))
        conn.executemany(
            "INSERT INTO spec_operations(spec_id, host, method, template, operation_id, "
            "deprecated, security, scopes, parameters, protocol) VALUES (?,?,?,?,?,?,?,?,?,?)",
            [
                (
                    spec_id,
                    op.host,
                    op.method,
                    op.template,
                    op.operation_id,
                    int(op.deprecated),
                    None if op.security is None else dumps(op.security),
                    dumps(op.scopes),
                    dumps(op.parameters),
                    protocol,
                )
                for op in spec.operations
            ],
        )
        mark_pending(store)  # the classification is stale until the next recompute finishes
    return int(spec_id)


def import_spec_file(
    store: Store,
    path: Path,
    host: str | None = None,
    *,
    validate: bool = True,
    progress: Callable[[str], None] | None = None,
    analyse: bool = True,
) -> SpecImport:
    """Load, validate and store a spec, then recompute the analysis (old traffic included)
    unless ``analyse`` is False (the caller recomputes once after a batch). ``progress`` is
    called with the step under way (loading, validating, each analysis stage), repeatedly
    while a long one runs."""
    from discovery.analyse.recompute import recompute

    path = Path(path)
    if progress:
        progress("loading spec")
    schema: dict[str, Any] | None = None
    if _graphql_file(path):
        spec, schema = load_graphql_spec(path, host)
    else:
        spec = load_spec(path, host, validate, progress)
    spec_id = write_spec(store, path, spec, schema)
    log.info(
        "imported %s: %d operations on %s",
        path,
        len(spec.operations),
        ", ".join(h["host"] for h in spec.hosts),
    )
    if analyse:
        recompute(store, progress)
    return SpecImport(
        spec_id=spec_id,
        title=spec.title,
        openapi_version=spec.openapi_version,
        hosts=spec.hosts,
        operations=len(spec.operations),
        deprecated=sum(1 for op in spec.operations if op.deprecated),
    )
