"""``case merge``: many sensors' and proxies' cases into one investigation.

Each proxy or sensor writes its own case on its own disk (SQLite's WAL needs one host); the
responder merges them into an incident case. A new incident case takes the first source's key
(its key file is copied), so credentials in cases that share that key are matched by their
fingerprints. For a source with another key, each input whose file is still where it was
ingested from, with the same content, is read again into the merged case (its credentials
re-keyed, so they match); the rest (a proxy's live flows, a moved file) is copied with the
source's own fingerprints, and the summary says so: those credentials cannot be matched.

Audit chains are kept as separate verified chains (``discovery.case.audit_origins``). The
analysis runs once, at the end.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from discovery.case import audit_origins, inputs
from discovery.case.merge import MergeCounts, copy_case, same_key
from discovery.case.pending import mark_pending
from discovery.case.store import Store
from discovery.errors import CaseFileError, InputError, OutputError
from discovery.ingest.files import ingest_file
from discovery.redact.secrets import key_path_for

_FILE_FORMATS = ("pcap", "pcapng", "har", "mitm", "zeek")


@dataclass
class SourceSummary:
    """What one source case gave the merged case."""

    path: Path
    same_key: bool
    counts: MergeCounts
    rekeyed: list[str] = field(default_factory=list)  # inputs read again from their files
    audit_entries: int = 0
    audit_added: bool = False

    def as_dict(self) -> dict[str, object]:
        c = self.counts
        return {
            "case": str(self.path),
            "same_key": self.same_key,
            "credentials_matched": "by fingerprint (same case key)"
            if self.same_key
            else (
                "re-keyed from the input files"
                if self.rekeyed and not c.exchanges_added
                else "not matched: another case key (kept with their own fingerprints)"
                if c.credentials
                else "none to match"
            ),
            "inputs_added": c.inputs_added,
            "inputs_present": c.inputs_present,
            "inputs_rekeyed": self.rekeyed,
            "inputs_left_out": c.inputs_left_out,
            "exchanges_added": c.exchanges_added,
            "exchanges_present": c.exchanges_present,
            "credentials": c.credentials,
            "specs_added": c.specs_added,
            "audit_entries": self.audit_entries,
            "audit_added": self.audit_added,
        }


def merge_cases(
    output: Path, sources: Sequence[Path], progress: Callable[[str], None] | None = None
) -> list[SourceSummary]:
    """Merge ``sources`` into the case at ``output`` (created when missing), then analyse once."""
    from discovery.analyse.recompute import recompute

    wanted = _distinct(sources)
    for source in wanted:
        if not source.is_file():
            raise InputError(str(source), "no such case file")
        if source.resolve() == output.resolve():
            raise OutputError(str(output), "the output is one of the cases being merged")
    if not output.exists() and not key_path_for(output).exists():
        _share_key(wanted[0], output)
    summaries = []
    with Store.open(output) as target:
        for source in wanted:
            if progress:
                progress(f"merging {source}")
            summaries.append(_merge_one(target, source))
        if progress:
            progress("analysing the merged case")
        recompute(target)
    return summaries


def _distinct(paths: Sequence[Path]) -> list[Path]:
    seen: set[Path] = set()
    out = []
    for path in paths:
        if path.resolve() not in seen:
            seen.add(path.resolve())
            out.append(path)
    return out


def _share_key(source: Path, output: Path) -> None:
    """A new merged case takes the key of the first source (0600, like every key file)."""
    key = key_path_for(source)
    if not key.is_file():
        raise CaseFileError(f"{source}: its key file {key} is missing: the case cannot be read")
    output.parent.mkdir(parents=True, exist_ok=True)
    target = key_path_for(output)
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as out, key.open("rb") as src:
        shutil.copyfileobj(src, out)


def _merge_one(target: Store, path: Path) -> SourceSummary:
    with Store.open(path, create=False) as source:
        shared = same_key(target, source)
        rekey = {} if shared else _rekeyable(source)
        source.conn.execute("BEGIN")  # one consistent view of a case that may be written to
        try:
            with target.transaction():
                counts = copy_case(target, source, frozenset(rekey))
                chain = audit_origins.import_chain(target, source)
                mark_pending(target)
        finally:
            source.conn.execute("COMMIT")
    summary = SourceSummary(path, shared, counts)
    if chain is not None:
        summary.audit_entries, summary.audit_added = chain.entries, chain.added
    for file, fmt in rekey.values():  # read again under the merged case's key
        result = ingest_file(target, file, fmt)
        summary.rekeyed.append(f"{file}: {result.stats.exchanges} exchanges")
    return summary


def _rekeyable(source: Store) -> dict[str, tuple[Path, str]]:
    """Inputs of a case under another key whose files are still there, unchanged: content
    hash -> (file, format)."""
    out: dict[str, tuple[Path, str]] = {}
    rows = source.conn.execute(
        "SELECT sha256, path, format, size FROM inputs WHERE state = 'complete' "
        "AND continues IS NULL"
    ).fetchall()
    for sha256, name, fmt, size in rows:
        file = Path(name)
        if fmt not in _FILE_FORMATS or not file.is_file() or file.stat().st_size != size:
            continue
        try:
            if inputs.fingerprint(file).sha256 != sha256:
                continue
        except OSError:
            continue
        out[str(sha256)] = (file, str(fmt))
    return out
