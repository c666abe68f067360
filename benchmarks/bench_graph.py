"""Benchmark: build the identity-to-API graph from a large case and run its analyses.

    .venv/bin/python benchmarks/bench_graph.py            # 1M exchanges, 10k credentials, 5k endpoints
    .venv/bin/python benchmarks/bench_graph.py --quick    # 50k exchanges, 1k credentials, 500 endpoints

The case is generated straight into a real case file with ``executemany`` (identities,
credentials, endpoints over 50 hosts, exchanges with their credential links); the real sightings
stage (``discovery.analyse.sightings.rebuild_sightings``) then fills the sightings table. Each credential
works a few hosts' endpoints from 1-3 client addresses; some clients share several credentials.
Figures: build time, blast radius / exposure / what-if / choke-point times, peak RSS of the build.
Peer, in the same run: the sightings stage that runs after every ingest (the graph is rebuilt as
often, so its cost is reported as a ratio to that stage).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from discovery.analyse.sightings import rebuild_sightings  # noqa: E402
from discovery.case.store import Store  # noqa: E402
from discovery.views.graph import analyses, focus  # noqa: E402
from discovery.views.graph.build import build_graph  # noqa: E402
from discovery.views.subjects import resolve_subject  # noqa: E402

STATUSES = ("documented",) * 6 + ("shadow",) * 3 + ("zombie",)
WORDS = ("users", "orders", "invoices", "admin", "internal", "export", "keys", "reports", "items")


def rss_mb() -> float:
    """Peak RSS of this process so far, in MiB (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def generate(path: Path, exchanges: int, credentials: int, endpoints: int, seed: int = 7) -> None:
    """Write the synthetic case."""
    rng = random.Random(seed)
    hosts = [f"svc{i:02d}.corp.example" for i in range(50)]
    with Store.open(path) as store, store.transaction() as conn:
        identities = max(credentials // 3, 1)
        conn.executemany(
            "INSERT INTO identities(id, name, kind, owner, source, registered, first_seen, "
            "last_seen) VALUES (?,?,?,?,?,?,?,?)",
            (
                (
                    f"jwt:https://idp.example|svc-{i}",
                    f"svc-{i}",
                    "service-account",
                    f"team-{i % 40}",
                    "jwt",
                    int(i % 2 == 0),
                    1.79e9,
                    1.79e9 + 86400,
                )
                for i in range(identities)
            ),
        )
        conn.executemany(
            "INSERT INTO credentials(id, fingerprint, kind, redacted, identity_id, claims, "
            "first_seen, last_seen, requests) VALUES (?,?,?,?,?,?,?,?,?)",
            (
                (
                    f"c-{i:012x}",
                    f"{i:064x}",
                    "jwt",
                    f"eyJ…{i % 10000:04d}",
                    f"jwt:https://idp.example|svc-{i % identities}",
                    json.dumps({"sub": f"svc-{i % identities}", "scope": "read write"}),
                    1.79e9,
                    1.79e9 + 86400,
                    exchanges // credentials,
                )
                for i in range(credentials)
            ),
        )
        rows = []
        for i in range(endpoints):
            host = hosts[i % len(hosts)]
            template = f"/v{1 + i % 3}/{WORDS[i % len(WORDS)]}/{i // len(hosts)}/{{id}}"
            sensitive = json.dumps({"email": 3}) if i % 17 == 0 else "{}"
            rows.append(
                (i + 1, host, "GET" if i % 4 else "POST", template, rng.choice(STATUSES), sensitive)
            )
        conn.executemany(
            "INSERT INTO endpoints(id, host, method, template, status, sensitive) "
            "VALUES (?,?,?,?,?,?)",
            rows,
        )
        by_host: dict[int, list[int]] = {}
        for endpoint_id, host, *_ in rows:
            by_host.setdefault(hosts.index(host), []).append(endpoint_id)
        # each credential: 2 hosts, up to 20 endpoints there, 1-3 clients
        plans = []
        for c in range(credentials):
            pool = [e for h in rng.sample(range(len(hosts)), 2) for e in by_host.get(h, [])]
            mine = rng.sample(pool, min(len(pool), rng.randint(3, 20)))
            clients = [
                f"10.{(c // 3) % 250}.{rng.randrange(8)}.{rng.randrange(1, 250)}"
                for _ in range(rng.randint(1, 3))
            ]
            plans.append((mine, clients))

        def exchange_rows() -> Iterator[tuple[object, ...]]:
            for n in range(exchanges):
                mine, clients = plans[n % credentials]
                endpoint_id = mine[rng.randrange(len(mine))]
                host, method, template = rows[endpoint_id - 1][1:4]
                yield (
                    n + 1,
                    "bench",
                    f"frames {n}",
                    1.79e9 + n * 0.05,
                    clients[n % len(clients)],
                    host,
                    method,
                    template.replace("{id}", str(n)),
                    200 if n % 10 else 404,
                    endpoint_id,
                )

        conn.executemany(
            "INSERT INTO exchanges(id, source, evidence, ts, client_ip, host, method, path, "
            "status, endpoint_id) VALUES (?,?,?,?,?,?,?,?,?,?)",
            exchange_rows(),
        )
        conn.executemany(
            "INSERT INTO exchange_credentials(exchange_id, credential_id, location, name) "
            "VALUES (?,?,?,?)",
            (
                (n + 1, f"c-{n % credentials:012x}", "header", "Authorization")
                for n in range(exchanges)
            ),
        )
        conn.execute(
            "UPDATE endpoints SET requests = (SELECT COUNT(*) FROM exchanges e "
            "WHERE e.endpoint_id = endpoints.id)"
        )


def timed(func, *args, repeat: int = 1):  # type: ignore[no-untyped-def]
    """(result of the last call, median seconds)."""
    times, result = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        result = func(*args)
        times.append(time.perf_counter() - start)
    return result, statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes")
    parser.add_argument(
        "--keep", type=Path, help="keep the generated case at this path (reused if it exists)"
    )
    args = parser.parse_args()
    sizes = (50_000, 1_000, 500) if args.quick else (1_000_000, 10_000, 5_000)
    workdir = Path(tempfile.mkdtemp(prefix="bench-graph-"))
    try:
        run(args, sizes, args.keep or workdir / "case.db")
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def run(args: argparse.Namespace, sizes: tuple[int, int, int], path: Path) -> None:
    """Generate (or reuse) the case, then measure."""
    exchanges, credentials, endpoints = sizes
    print(f"case: {exchanges:,} exchanges, {credentials:,} credentials, {endpoints:,} endpoints")
    if args.keep and args.keep.exists():
        print(f"reusing {path}")
    else:
        start = time.perf_counter()
        generate(path, exchanges, credentials, endpoints)
        print(f"generate: {time.perf_counter() - start:.1f} s")
    with Store.open(path, create=False) as store:
        _, stage = timed(rebuild_sightings, store)
        sightings = store.conn.execute("SELECT COUNT(*) FROM sightings").fetchone()[0]
        print(f"peer: sightings stage: {stage:.2f} s ({sightings:,} sightings)")
        rss_before = rss_mb()
        graph, build = timed(build_graph, store)
        rss_after = rss_mb()
    print(
        f"build: {build:.2f} s, {graph.number_of_nodes():,} nodes, "
        f"{graph.number_of_edges():,} edges; peak RSS {rss_before:.0f} -> {rss_after:.0f} MiB "
        f"(+{rss_after - rss_before:.0f} MiB)"
    )
    print(f"ratio: build / sightings stage = {build / stage:.2f}")
    rng = random.Random(1)
    creds = [n for n, a in graph.nodes(data=True) if a["type"] == "credential"]
    idents = [
        n for n, a in graph.nodes(data=True) if a["type"] == "identity" and graph.out_degree(n)
    ]
    ends = [n for n, a in graph.nodes(data=True) if a["type"] == "endpoint"]
    services = [n for n, a in graph.nodes(data=True) if a["type"] == "service"]
    for label, func, pool, repeat in (
        ("blast radius (credential)", analyses.blast_radius, creds, 20),
        ("blast radius (identity)", analyses.blast_radius, idents, 20),
        ("exposure (endpoint)", analyses.exposure, ends, 20),
        ("exposure (service)", analyses.exposure, services, 5),
        ("paths (identity)", analyses.paths, idents, 10),
    ):
        samples = [timed(func, graph, rng.choice(pool))[1] for _ in range(repeat)]
        print(
            f"{label}: median {statistics.median(samples) * 1000:.1f} ms, "
            f"max {max(samples) * 1000:.1f} ms"
        )
    with Store.open(path, create=False) as store:
        for label, pick, make_focus, func in (
            ("blast radius (credential)", creds, focus.for_blast_radius, analyses.blast_radius),
            ("blast radius (identity)", idents, focus.for_blast_radius, analyses.blast_radius),
            ("exposure (endpoint)", ends, focus.for_exposure, analyses.exposure),
        ):
            samples = []
            for _ in range(5):
                node = rng.choice(pick)
                start = time.perf_counter()
                subject = resolve_subject(store, node.split(":", 1)[1])
                func(build_graph(store, make_focus(store, subject)), node)
                samples.append(time.perf_counter() - start)
            median = statistics.median(samples)
            print(
                f"CLI path, focused build + {label}: median {median:.2f} s "
                f"(vs whole build {build:.2f} s: {build / median:.0f}x faster)"
            )
    _, what_if = timed(analyses.what_if, graph, [rng.choice(creds)], repeat=5)
    print(f"what-if (one credential): median {what_if * 1000:.1f} ms")
    _, choke = timed(analyses.choke_points, graph)
    print(f"choke points (whole graph): {choke:.2f} s")
    print(f"peak RSS overall: {rss_mb():.0f} MiB")
    print(
        f"load average during the run: {', '.join(f'{x:.1f}' for x in os.getloadavg())} "
        f"on {os.cpu_count()} CPUs"
    )


if __name__ == "__main__":
    main()
