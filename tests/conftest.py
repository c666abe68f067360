"""Shared fixtures: a fresh case file on disk, builders for exchanges and sightings."""

from __future__ import annotations

import _posixsubprocess
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, settings

from discovery.case.store import Store
from discovery.models import CredentialSighting, Exchange

# Hypothesis profiles: "fast" (the default, `make test`) is derandomized so CI runs are
# reproducible; "fuzz" (`make fuzz` sets HYPOTHESIS_PROFILE=fuzz) runs many more random examples
# in every property that does not fix its own max_examples (the test_fuzz_* variants).
settings.register_profile(
    "fast", derandomize=True, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile(
    "fuzz",
    max_examples=5000,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "fast"))


@pytest.fixture(autouse=True)
def _private_cache(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each test gets its own cache folder (validated specs), never the user's ~/.cache."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path_factory.mktemp("cache")))


class ProcessStartedOutsideIntegration(BaseException):
    """A test without the ``integration`` mark started a process (a BaseException, so no
    ``except Exception`` fallback in the code under test can hide it)."""


@pytest.fixture(autouse=True)
def _only_integration_tests_start_processes(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Keep the ``integration`` mark true: a test without it that starts a process (subprocess,
    fork, spawn, multiprocessing) fails, so ``-m "not integration"`` really is the fast subset."""
    if request.node.get_closest_marker("integration"):
        return

    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise ProcessStartedOutsideIntegration(
            f"{request.node.nodeid} starts a process: mark it @pytest.mark.integration"
        )

    monkeypatch.setattr(subprocess.Popen, "_execute_child", refuse)
    monkeypatch.setattr(_posixsubprocess, "fork_exec", refuse)
    for name in ("fork", "forkpty", "posix_spawn", "posix_spawnp"):
        monkeypatch.setattr(os, name, refuse)


@pytest.fixture
def case_path(tmp_path: Path) -> Path:
    return tmp_path / "case.db"


@pytest.fixture
def store(case_path: Path) -> Iterator[Store]:
    with Store.open(case_path) as opened:
        yield opened


def make_exchange(**fields: Any) -> Exchange:
    """An Exchange with sensible defaults; override any field."""
    base: dict[str, Any] = dict(
        ts=1_790_000_000.0,
        source="pcap",
        evidence="frames 1-2",
        client_ip="10.0.0.5",
        client_port=50000,
        server_ip="10.0.0.1",
        server_port=80,
        tls=False,
        sni=None,
        alpn=None,
        ja4=None,
        http_version="1.1",
        method="GET",
        path="/v1/users/42",
        raw_path="/v1/users/42",
        query_names=(),
        host="api.example.com",
        status=200,
        request_bytes=0,
        response_bytes=10,
        request_content_type=None,
        response_content_type="application/json",
        user_agent="curl/8",
        partial=False,
        blocked=False,
        error=None,
        websocket=False,
        sensitive=(),
        credentials=(),
    )
    base.update(fields)
    return Exchange(**base)


def make_sighting(store: Store, secret: str, **fields: Any) -> CredentialSighting:
    """A sighting of ``secret`` fingerprinted under the case key."""
    base: dict[str, Any] = dict(
        fingerprint=store.fingerprint(secret),
        kind="api_key",
        location="header",
        name="X-API-Key",
        redacted="…" + secret[-4:],
    )
    base.update(fields)
    return CredentialSighting(**base)


def require_tool(name: str) -> str:
    """Path of a system tool, or skip the test saying which tool is missing."""
    path = shutil.which(name)
    if path is None:
        pytest.skip(f"{name} is not installed (CI installs it via .ci/run)")
    return path
