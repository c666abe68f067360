"""Rows ready to insert, packed to cross from a reading child to the writing process and back.

A batch of rows (``case.store.PreparedExchange``: the stored row, its time, its credential
sightings) travels as (reset, new sightings, rows): each row keeps its fields and time and names
its sightings by id. Most requests carry a credential already seen, so each distinct sighting
travels once, as (id, fields); the receiver keeps them by id. The table is bounded: when it is
full the sender starts afresh and says so (``reset``), and the receiver forgets its copy.

One format, one writer (``Packer``) and one reader (``Unpacker``), for the capture children
(``parallel``, ``live_shared``) and the Zeek children (``zeek_parallel``, which send a block's
credentials the same way: each with its sighting by id); compiled with the rows they carry.
"""

from __future__ import annotations

import dataclasses
import operator
from typing import Any

from discovery.case.store import PreparedExchange
from discovery.models import CredentialSighting

SIGHTINGS_KEPT = 4096  # distinct credential sightings a child and this process remember
_AS_TUPLE = operator.attrgetter(*(f.name for f in dataclasses.fields(CredentialSighting)))

# (reset, new sightings as (id, fields), rows as (fields, time, sighting ids) or credentials
# as (sighting id, first time, last time, uses))
Packed = tuple[bool, list[tuple[int, tuple[Any, ...]]], list[tuple[Any, ...]]]
# a credential's sighting, the first and last time of its uses in a block, and their number
CredentialEntry = tuple[CredentialSighting, float, float, int]


class Packer:
    """Rows -> a ``Packed`` batch, the sightings sent so far remembered (bounded)."""

    def __init__(self) -> None:
        # fingerprint -> the sightings of it sent, with their ids (claims may hold lists: a
        # sighting is compared, not hashed; the detectors' memos make most the same object)
        self.known: dict[str, list[tuple[CredentialSighting, int]]] = {}
        self.size = 0

    def __call__(self, batch: list[PreparedExchange]) -> Packed:
        reset = self._start()
        new: list[tuple[int, tuple[Any, ...]]] = []
        rows: list[tuple[Any, ...]] = []
        for fields, ts, sightings in batch:
            if not sightings:
                rows.append((fields, ts, ()))
                continue
            rows.append((fields, ts, tuple([self._ref(s, new) for s in sightings])))
        return reset, new, rows

    def credentials(self, entries: list[CredentialEntry]) -> Packed:
        """A block's credentials (each one's sighting, first and last time, uses) packed as
        rows are: each sighting by its id, the new ones with their fields."""
        reset = self._start()
        new: list[tuple[int, tuple[Any, ...]]] = []
        packed: list[tuple[Any, ...]] = [
            (self._ref(sighting, new), first, last, uses) for sighting, first, last, uses in entries
        ]
        return reset, new, packed

    def _start(self) -> bool:
        """True (and the table emptied) when it is full: checked per batch, as a batch adds
        a bounded few."""
        if self.size < SIGHTINGS_KEPT:
            return False
        self.known.clear()
        self.size = 0
        return True

    def _ref(self, sighting: CredentialSighting, new: list[tuple[int, tuple[Any, ...]]]) -> int:
        """The id of ``sighting``, added to ``new`` with its fields when it was not sent."""
        same = self.known.get(sighting.fingerprint)
        if same is None:
            same = []
            self.known[sighting.fingerprint] = same
        for seen, known_id in same:
            if seen is sighting or seen == sighting:
                return known_id
        sid = self.size
        self.size += 1
        same.append((sighting, sid))
        new.append((sid, _AS_TUPLE(sighting)))
        return sid


class Unpacker:
    """The receiving end of a ``Packer``: its batches back into rows ready to insert, the
    sender's table of sightings kept here."""

    def __init__(self) -> None:
        self.known: dict[int, CredentialSighting] = {}

    def __call__(
        self,
        reset: bool,
        new: list[tuple[int, tuple[Any, ...]]],
        rows: list[tuple[Any, ...]],
    ) -> list[PreparedExchange]:
        known = self._learn(reset, new)
        out: list[PreparedExchange] = []
        for row in rows:
            refs: tuple[int, ...] = row[2]
            if refs:
                out.append((row[0], row[1], tuple([known[sid] for sid in refs])))
            else:
                out.append((row[0], row[1], ()))
        return out

    def credentials(
        self,
        reset: bool,
        new: list[tuple[int, tuple[Any, ...]]],
        entries: list[tuple[Any, ...]],
    ) -> list[CredentialEntry]:
        """The receiving end of ``Packer.credentials``."""
        known = self._learn(reset, new)
        return [(known[entry[0]], entry[1], entry[2], entry[3]) for entry in entries]

    def _learn(
        self, reset: bool, new: list[tuple[int, tuple[Any, ...]]]
    ) -> dict[int, CredentialSighting]:
        known = self.known
        if reset:
            known.clear()
        for sid, fields in new:
            known[sid] = CredentialSighting(*fields)
        return known
