"""Run the detectors on a request built from headers and a query string."""

from __future__ import annotations

from discovery.models import CredentialSighting
from discovery.redact.credentials import RequestView, detect_credentials
from discovery.redact.secrets import Fingerprinter
from discovery.wire.paths import query_pairs

FP = Fingerprinter(b"k" * 32)


def detect(
    headers: list[tuple[str, str]] | None = None, query: str = "", host: str = "api.example.com"
) -> list[CredentialSighting]:
    view = RequestView(
        headers=tuple(headers or ()), query=query_pairs(query), host=host, path="/", method="GET"
    )
    return detect_credentials(view, FP)


def assert_no_secret(sightings: list[CredentialSighting], secret: str) -> None:
    """No field of any sighting holds the raw secret."""
    for sighting in sightings:
        assert secret not in repr(sighting)
