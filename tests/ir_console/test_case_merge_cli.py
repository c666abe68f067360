"""``ir-console case merge`` on the cases of one incident as they are made: two real mitmdump
proxies (our addon) each writing its own case, and a capture's case; the merged case equals one
case that ingested every input (the proxies' flow files and the capture), its audit chains
verify, and merging again adds nothing."""

from __future__ import annotations

import json
import shutil
import subprocess
from collections import Counter
from pathlib import Path

import httpx
import pytest

from discovery.case.store import Store
from discovery.redact.secrets import key_path_for
from tests.discovery.proxyfixtures import mitmdump, upstream
from tests.paths import FIXTURES
from tests.reliability.crashkit import cli, run_ok

pytestmark = pytest.mark.integration

SHARED_TOKEN = "tok-merge-shared-5e8a1c0b7d2f4a69"  # the same client through both proxies
TOKENS = ("tok-merge-east-0c9b8a7f6e5d4c3b", "tok-merge-west-1a2b3c4d5e6f7081")


def through_proxy(tmp_path: Path, name: str, case: Path, token: str) -> Path:
    """Traffic through one proxy writing ``case``; the flow file mitmdump also wrote."""
    flows = tmp_path / f"{name}.flows"
    with (
        upstream() as server,
        mitmdump(tmp_path / f"conf-{name}", "--set", f"irc_db={case}", "-w", str(flows)) as proxy,
        httpx.Client(proxy=proxy.proxy_url, trust_env=False, timeout=30) as client,
    ):
        for i in range(3):
            for secret in (token, SHARED_TOKEN):
                r = client.get(
                    server.url(f"/v1/{name}/orders/{1000 + i}"),
                    headers={"Authorization": f"Bearer {secret}"},
                )
                assert r.status_code == 200
    return flows


def view(case: Path) -> dict[str, object]:
    with Store.open(case, create=False) as store:
        one = store.conn.execute
        return {
            "exchanges": one("SELECT COUNT(*) FROM exchanges").fetchone()[0],
            "credentials": sorted(one("SELECT fingerprint, requests FROM credentials").fetchall()),
            "endpoints": sorted(
                one("SELECT host, method, template, requests FROM endpoints").fetchall()
            ),
            "identities": one("SELECT COUNT(*) FROM identities").fetchone()[0],
            "findings": Counter(r[0] for r in one("SELECT rule FROM findings")),
        }


def test_two_proxies_and_a_capture_merge_into_one_incident(tmp_path: Path) -> None:
    east, west, capture = tmp_path / "east.db", tmp_path / "west.db", tmp_path / "capture.db"
    with Store.open(east):  # the incident's key, given to every sensor before it starts
        pass
    for case in (west, capture, tmp_path / "whole.db"):
        shutil.copyfile(key_path_for(east), key_path_for(case))
    flows = [
        through_proxy(tmp_path, "east", east, TOKENS[0]),
        through_proxy(tmp_path, "west", west, TOKENS[1]),
    ]
    pcap = FIXTURES / "pcap" / "http_api.pcap"
    run_ok(cli(capture, "ingest", pcap))
    for case in (east, west):  # each proxy's case has its own audited history
        creds = json.loads(run_ok(cli(case, "credentials", "--json")).stdout)
        run_ok(cli(case, "block", "credential", creds[0]["id"], "--reason", "leaked"))
    whole = tmp_path / "whole.db"
    run_ok(cli(whole, "ingest", *flows, pcap))

    merged = tmp_path / "incident.db"
    out = json.loads(
        run_ok(
            cli(
                tmp_path / "unused.db", "case", "merge", east, west, capture, "-o", merged, "--json"
            )
        ).stdout
    )
    assert [s["credentials_matched"] for s in out["sources"]] == [
        "by fingerprint (same case key)"
    ] * 3
    assert view(merged) == view(whole)
    # the client that went through both proxies is one credential: 3 requests in each case
    for case in (east, west):
        assert 3 in [n for _, n in view(case)["credentials"]]  # type: ignore[attr-defined]
    assert 6 in [n for _, n in view(merged)["credentials"]]  # type: ignore[attr-defined]
    verified = json.loads(run_ok(cli(merged, "audit", "verify", "--json")).stdout)
    assert verified["ok"] is True
    assert [(Path(m["case"]).name, m["ok"], m["macs_checked"]) for m in verified["merged"]] == [
        ("east.db", True, True),
        ("west.db", True, True),
    ]  # the capture's case has no audit entries: nothing to carry

    again = json.loads(
        run_ok(
            cli(
                tmp_path / "unused.db",
                "case",
                "merge",
                east,
                east,
                west,
                capture,
                "-o",
                merged,
                "--json",
            )
        ).stdout
    )
    assert [s["exchanges_added"] for s in again["sources"]] == [0, 0, 0]
    assert [s["audit_added"] for s in again["sources"]] == [False, False, False]
    assert view(merged) == view(whole)


def test_merging_into_one_of_the_sources_is_refused(tmp_path: Path) -> None:
    case = tmp_path / "a.db"
    run_ok(cli(case, "ingest", FIXTURES / "pcap" / "http_api.pcap"))
    proc = subprocess.run(
        cli(tmp_path / "x.db", "case", "merge", case, "-o", case), capture_output=True, text=True
    )
    assert proc.returncode == 2
    assert proc.stderr.strip() == (
        f"ir-console: error: {case}: the output is one of the cases being merged"
    )
