"""Fixtures for runbook tests: a case with one credential, and a runbook built from YAML text."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from discovery.analyse.sightings import rebuild_sightings
from discovery.case.store import Store
from runbooks.loader import LoadedRunbook, from_text
from tests.conftest import make_exchange, make_sighting

SECRET = "ghp_" + "Z" * 36


@pytest.fixture
def case(store: Store) -> Store:
    """A case holding one GitHub token seen twice from 10.0.0.5 (endpoint classified)."""
    sighting = make_sighting(store, SECRET, kind="github_token", name="Authorization")
    store.add_exchanges(
        [
            make_exchange(credentials=(sighting,)),
            make_exchange(ts=1_790_000_100.0, credentials=(sighting,)),
        ]
    )
    with store.transaction() as conn:
        conn.execute(
            "INSERT INTO endpoints(host, method, template, status, requests, first_seen, last_seen)"
            " VALUES ('api.example.com', 'GET', '/v1/users/{id}', 'shadow', 2, ?, ?)",
            (1_790_000_000.0, 1_790_000_100.0),
        )
        conn.execute("UPDATE exchanges SET endpoint_id = 1")
    rebuild_sightings(store)
    return store


@pytest.fixture
def credential_id(case: Store) -> str:
    return str(case.conn.execute("SELECT id FROM credentials").fetchone()[0])


def runbook(text: str) -> LoadedRunbook:
    """A runbook from YAML text (validated like a file)."""
    return from_text(text, "test.yaml", "user")


@pytest.fixture
def reports(tmp_path: Path) -> Iterator[Path]:
    path = tmp_path / "reports"
    yield path
