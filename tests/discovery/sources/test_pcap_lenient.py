"""Requests a lenient server accepts, read from real loopback captures (a raw-socket client to
nginx, a CONNECT proxy, a half-open flood: tests/fixtures/make_lenient_pcaps.py) and from the
same TCP frames wrapped in tunnels with scapy: each request kept, with its credential and the
anomaly that made it odd; the smuggling attempts found, the near miss not."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from discovery.case.store import Store
from discovery.errors import InputError
from discovery.ingest.files import ingest_files
from discovery.views import queries
from discovery.views.graph import analyses
from discovery.views.graph.build import build_graph
from tests.fixtures.make_lenient_pcaps import token
from tests.paths import FIXTURES

PCAPS = FIXTURES / "pcap"


def _ingest(tmp_path: Path, name: str) -> Store:
    store = Store.open(tmp_path / f"{name}.db")
    ingest_files(store, [PCAPS / name])
    return store


@pytest.fixture(scope="module")
def lenient(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    with _ingest(tmp_path_factory.mktemp("lenient"), "lenient_nginx.pcap") as store:
        yield store


def _rows(store: Store) -> dict[str, dict[str, object]]:
    """Each request by its path: method, host, status, partial, anomalies, credential
    fingerprints."""
    rows: dict[str, dict[str, object]] = {}
    for eid, method, path, host, status, partial, anomalies, version in store.conn.execute(
        "SELECT id, method, raw_path, host, status, partial, anomalies, http_version "
        "FROM exchanges WHERE method IS NOT NULL"
    ):
        prints = {
            fp
            for (fp,) in store.conn.execute(
                "SELECT c.fingerprint FROM exchange_credentials ec JOIN credentials c "
                "ON c.id = ec.credential_id WHERE ec.exchange_id = ?",
                (eid,),
            )
        }
        rows[path] = {
            "method": method,
            "host": host,
            "status": status,
            "partial": bool(partial),
            "anomalies": json.loads(anomalies),
            "version": version,
            "credentials": prints,
        }
    return rows


@pytest.mark.parametrize(
    ("path", "index", "anomaly", "status"),
    [
        ("/bare-lf", 0, "bare_lf", 200),
        ("/obs-fold", 1, "obs_fold", 400),  # nginx refuses a fold; we read the request anyway
        ("/control", 2, "control_bytes: User-Agent", 200),
        ("/rpc/rpcproxy.dll", 3, None, 200),  # RPC_IN_DATA: registered, no anomaly
        ("/login.cgi", 4, "odd_version", 400),
        ("/after-close", 6, "request_after_close", None),
        ("/no-host", 7, "missing_host", 200),
    ],
)
def test_each_deviation_is_read_with_its_credential_and_anomaly(
    lenient: Store, path: str, index: int, anomaly: str | None, status: int | None
) -> None:
    row = _rows(lenient)[path]
    assert row["status"] == status
    assert lenient.fingerprint(token(index)) in row["credentials"]  # type: ignore[operator]
    if anomaly is not None:
        assert anomaly in row["anomalies"]  # type: ignore[operator]


def test_method_version_and_the_versionless_beacon(lenient: Store) -> None:
    rows = _rows(lenient)
    assert (rows["/rpc/rpcproxy.dll"]["method"], rows["/login.cgi"]["version"]) == (
        "RPC_IN_DATA",
        "1.0.8",
    )
    beacon = rows["/beacon"]
    assert (beacon["method"], beacon["version"]) == ("GET", None)
    assert "missing_version" in beacon["anomalies"]  # type: ignore[operator]


def test_a_request_without_host_is_inventoried_under_the_server_address(lenient: Store) -> None:
    (server,) = {
        f"{ip}:{port}"
        for ip, port in lenient.conn.execute(
            "SELECT server_ip, server_port FROM exchanges WHERE raw_path = '/no-host'"
        )
    }
    assert _rows(lenient)["/no-host"]["host"] == server
    assert server in {h["host"] for h in queries.hosts(lenient)}
    assert any(
        e["host"] == server and e["template"] == "/no-host" for e in queries.endpoints(lenient)
    )
    # the graph and the findings name it the same way
    credential = lenient.conn.execute(
        "SELECT id FROM credentials WHERE fingerprint = ?", (lenient.fingerprint(token(7)),)
    ).fetchone()[0]
    graph = build_graph(lenient)
    assert f"service:{server}" in graph
    reached = analyses.blast_radius(graph, f"credential:{credential}")["endpoints"]
    assert [(e["host"], e["template"]) for e in reached] == [(server, "/no-host")]
    cleartext = [
        f
        for f in queries.findings(lenient)
        if f["rule"] == "cleartext_credential" and f["subject"]["id"] == credential
    ]
    assert cleartext and server in json.dumps(cleartext[0]["evidence"])


def test_smuggling_both_readings_and_the_hidden_requests(lenient: Store) -> None:
    rows = _rows(lenient)
    cl_te, te_cl = rows["/carrier"], rows["/carrier2"]
    assert "te_and_cl" in cl_te["anomalies"]  # type: ignore[operator]
    assert (
        "framing_conflict: Transfer-Encoding: chunked ends the body at byte 5, "
        "Content-Length at byte 37" in cl_te["anomalies"]  # type: ignore[operator]
    )
    assert (
        "framing_conflict: Content-Length ends the body at byte 4, "
        "Transfer-Encoding: chunked at byte 78" in te_cl["anomalies"]  # type: ignore[operator]
    )
    # what a back end making the shorter reading reads next: kept, never paired with a response
    admin, hidden = rows["/admin"], rows["/hidden"]
    assert (admin["method"], admin["status"], admin["partial"]) == ("GET", None, True)
    assert (hidden["method"], hidden["host"], hidden["status"]) == ("GPOST", "hidden.test", None)
    assert any(a.startswith("smuggled_request") for a in hidden["anomalies"])  # type: ignore[attr-defined]
    # the carriers got their own responses (nginx refused both)
    assert (cl_te["status"], te_cl["status"]) == (400, 400)


def test_request_smuggling_finding_names_the_hidden_requests_not_the_near_miss(
    lenient: Store,
) -> None:
    found = [f for f in queries.findings(lenient) if f["rule"] == "request_smuggling"]
    assert len(found) == 1
    hidden = {h["request"] for h in found[0]["evidence"]["hidden_requests"]}
    assert hidden == {"GET /admin", "GPOST /hidden"}
    carriers = {c["request"] for c in found[0]["evidence"]["carriers"]}
    assert carriers == {"POST /carrier", "POST /carrier2"}
    near = _rows(lenient)["/near-miss"]
    assert near["anomalies"] == ["te_and_cl"]  # both readings end at the same byte
    assert "POST /near-miss" not in carriers


def test_a_chunk_size_past_64_bits_hides_the_request_a_wrapping_server_reads(
    tmp_path: Path,
) -> None:
    with _ingest(tmp_path, "lenient_chunk_overflow.pcap") as store:
        rows = _rows(store)
        carrier, hidden = rows["/overflow"], rows["/wrapped-hidden"]
        assert carrier["status"] == 400  # nginx refused it; a 64-bit reader would not
        assert "chunk_size_overflow" in carrier["anomalies"]  # type: ignore[operator]
        assert any(
            a.startswith("framing_conflict: the chunk size wrapped at 64 bits ends the body")
            for a in carrier["anomalies"]  # type: ignore[attr-defined]
        )
        assert (hidden["method"], hidden["host"], hidden["status"]) == ("GET", "hidden.test", None)
        assert store.fingerprint(token(11)) in hidden["credentials"]  # type: ignore[operator]
        (found,) = [f for f in queries.findings(store) if f["rule"] == "request_smuggling"]
        assert [h["request"] for h in found["evidence"]["hidden_requests"]] == [
            "GET /wrapped-hidden"
        ]
        assert [c["request"] for c in found["evidence"]["carriers"]] == ["POST /overflow"]
        # near miss: 19 digits whose value is 5 is an ordinary chunk (nginx answered 200)
        near = rows["/leading-zeros"]
        assert (near["status"], near["partial"], near["anomalies"]) == (200, False, [])
        assert "POST /leading-zeros" not in str(found["evidence"])


def test_connect_target_is_a_host_and_the_tunnel_is_read(tmp_path: Path) -> None:
    with _ingest(tmp_path, "lenient_connect.pcap") as store:
        rows = _rows(store)
        assert rows["internal.test:8080"]["host"] == "internal.test:8080"
        inside = rows["/inside"]
        assert (inside["host"], inside["status"]) == ("inside.test", 200)
        assert store.fingerprint(token(20)) in inside["credentials"]  # type: ignore[operator]
        assert {"internal.test:8080", "inside.test"} <= {h["host"] for h in queries.hosts(store)}


def test_a_half_open_flood_is_recorded_as_partial_requests_with_credentials(
    tmp_path: Path,
) -> None:
    with _ingest(tmp_path, "half_open_flood.pcap") as store:
        rows = _rows(store)
        assert sorted(rows) == [f"/slow/{i}" for i in range(30, 40)]
        for i in range(30, 40):
            row = rows[f"/slow/{i}"]
            assert row["partial"] and "unfinished_head" in row["anomalies"]  # type: ignore[operator]
            assert store.fingerprint(token(i)) in row["credentials"]  # type: ignore[operator]


@pytest.mark.parametrize(
    "name",
    [
        "encap_gre.pcap",
        "encap_erspan2.pcap",
        "encap_erspan3.pcap",
        "encap_aruba.pcap",
        "encap_vxlan.pcap",
        "encap_geneve.pcap",
        "encap_pppoe.pcap",
        "encap_mpls.pcap",
        "encap_snap.pcap",
        "encap_ipv6_fragments.pcap",
    ],
)
def test_tunnelled_traffic_is_decoded(tmp_path: Path, name: str) -> None:
    with _ingest(tmp_path, name) as store:
        row = _rows(store)["/bare-lf"]
        assert (row["status"], row["anomalies"]) == (200, ["bare_lf"])
        assert store.fingerprint(token(0)) in row["credentials"]  # type: ignore[operator]


def test_an_input_nothing_of_which_decodes_is_refused_naming_its_link_type(
    tmp_path: Path,
) -> None:
    with Store.open(tmp_path / "case.db") as store:
        with pytest.raises(InputError, match="link type 147"):
            ingest_files(store, [PCAPS / "unsupported_link.pcap"])
        assert store.conn.execute("SELECT COUNT(*) FROM inputs").fetchone()[0] == 0


def test_the_numeric_password_of_the_odd_version_request_is_a_credential(lenient: Store) -> None:
    row = _rows(lenient)["/login.cgi"]
    assert lenient.fingerprint("12345678") in row["credentials"]  # type: ignore[operator]
    (identity,) = lenient.conn.execute(
        "SELECT c.redacted FROM credentials c WHERE c.fingerprint = ?",
        (lenient.fingerprint("12345678"),),
    ).fetchone()
    assert identity == "admin:…"
