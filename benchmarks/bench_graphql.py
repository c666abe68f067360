"""Benchmark: ingesting GraphQL traffic vs plain REST traffic of the same size.

    .venv/bin/python benchmarks/bench_graphql.py              # 100,000 requests each
    .venv/bin/python benchmarks/bench_graphql.py --requests 20000 --repeat 3

Two loopback HTTP/1.1 captures are synthesised frame by frame (as ``bench_ingest.py`` does):
one of GraphQL requests (POST /graphql with JSON bodies: 40 named and anonymous operations,
variables that change on every request, aliases, fragments, some batches, some GET), one of
REST requests to JSON APIs with bodies of the same sizes, the same number of requests, the same
credentials and responses. Both are ingested by ``ir-console ingest`` in child processes,
alternating; the ratio GraphQL/REST of CPU time (and wall time) is printed: the cost of
recognising, parsing (graphql-core, bounded) and storing one exchange per operation.
Target: at most 2x. A third capture whose every document is distinct (no parse can be
remembered: the worst case for the parse cache) is measured too, and reported as such; and
hostile documents (deep nesting, 2,000 aliases, 50 KB strings, the largest document under the
token bound), each different, against REST requests with bodies of the same sizes: what a
hostile document costs beyond its own size.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import struct
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

# a sibling script, imported by path (benchmarks/ is not a package)
sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_ingest import _frame, ingest

Exchange = Callable[[random.Random, str, str], tuple[bytes, bytes]]

_FIELDS = ["id", "name", "email", "createdAt", "status", "total", "owner { id login }"]
_ROOTS = ["user", "users", "order", "orders", "invoice", "product", "viewer", "search"]


def _operations() -> list[tuple[str, str | None]]:
    """40 documents: (document, operation name or None)."""
    rng = random.Random(3)
    out: list[tuple[str, str | None]] = []
    for i in range(40):
        root = _ROOTS[i % len(_ROOTS)]
        picked = rng.sample(_FIELDS, 4)
        selection = " ".join(picked)
        if i % 5 == 0:
            selection += " a1: id a2: name"
        if i % 7 == 0:
            out.append((f"{{ {root}(id: 1) {{ ...F }} }} fragment F on T {{ {selection} }}", None))
        elif i % 4 == 0:
            out.append(
                (
                    f"mutation Update{root.title()}{i}($id: ID!, $input: String) "
                    f"{{ update{root.title()}(id: $id, input: $input) {{ {selection} }} }}",
                    f"Update{root.title()}{i}",
                )
            )
        else:
            out.append(
                (
                    f"query Get{root.title()}{i}($id: ID!, $first: Int) "
                    f"{{ {root}(id: $id, first: $first) {{ {selection} }} }}",
                    f"Get{root.title()}{i}",
                )
            )
    return out


OPERATIONS = _operations()


def _auth(rng: random.Random, tokens: list[str]) -> str:
    if rng.random() < 0.7:
        return f"Authorization: Bearer {rng.choice(tokens)}\r\n"
    return f"X-API-Key: key_{rng.randrange(40):04d}_{'k' * 24}\r\n"


def _response(payload: object) -> bytes:
    body = json.dumps(payload).encode()
    return (
        f"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    ).encode() + body


def _post(path: str, host: str, auth: str, payload: bytes) -> bytes:
    return (
        f"POST {path} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: svc-app/4.2\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(payload)}\r\n{auth}\r\n"
    ).encode() + payload


def _hostile(rng: random.Random) -> str:
    """A document built to be expensive: deep nesting, thousands of aliases, a huge string, or
    the largest document under the token bound (parsed in full), each different."""
    salt = rng.randrange(10**9)
    kind = rng.randrange(4)
    if kind == 0:
        return f"query N{salt} " + "{ a " * 4000 + "{ b }" + " }" * 4000
    if kind == 1:
        return "{ " + " ".join(f"a{i}: login(code: {salt + i})" for i in range(2000)) + " }"
    if kind == 2:
        return f'{{ f(s: "{"x" * 50_000}{salt}") }}'
    return f"query T{salt} {{ " + " ".join(f"f{i}" for i in range(2_900)) + " }"


def _graphql_body(rng: random.Random, distinct: bool, hostile: bool = False) -> tuple[bytes, int]:
    """A request body and its number of operations."""
    if hostile:
        return json.dumps({"query": _hostile(rng)}).encode(), 1
    uid = rng.randrange(1, 50_000)
    count = 3 if rng.random() < 0.05 else 1
    items = []
    for _ in range(count):
        document, name = rng.choice(OPERATIONS)
        if distinct:  # a new document every time: nothing to remember
            document = document.replace("{ ", f"{{ x{rng.randrange(10**9)}: __typename ", 1)
        item: dict[str, object] = {"query": document, "variables": {"id": str(uid), "first": 20}}
        if name:
            item["operationName"] = name
        items.append(item)
    return json.dumps(items if count > 1 else items[0]).encode(), count


def graphql_exchange(distinct: bool, hostile: bool = False) -> Exchange:
    def make(rng: random.Random, host: str, auth: str) -> tuple[bytes, bytes]:
        payload, count = _graphql_body(rng, distinct, hostile)
        answer = {"data": {"user": {"id": "1", "name": "ada", "email": "a@example.org"}}}
        return _post("/graphql", host, auth, payload), _response(
            [answer] * count if count > 1 else answer
        )

    return make


def rest_exchange(rng: random.Random, host: str, auth: str) -> tuple[bytes, bytes]:
    """A REST request whose body is as large as a GraphQL one drawn from the same stream."""
    return _rest(rng, host, auth, len(_graphql_body(rng, False)[0]))


def rest_like_hostile(rng: random.Random, host: str, auth: str) -> tuple[bytes, bytes]:
    """A REST request as large as the hostile GraphQL one drawn from the same stream."""
    return _rest(rng, host, auth, len(_graphql_body(rng, False, hostile=True)[0]))


def _rest(rng: random.Random, host: str, auth: str, size: int) -> tuple[bytes, bytes]:
    uid = rng.randrange(1, 50_000)
    path = rng.choice(["/v1/orders", f"/v1/users/{uid}/orders", "/v1/invoices", "/v2/search"])
    payload = json.dumps({"sku": f"A-{uid}", "qty": 2, "note": "x" * max(0, size - 40)}).encode()
    answer = {"data": {"user": {"id": "1", "name": "ada", "email": "a@example.org"}}}
    return _post(path, host, auth, payload), _response(answer)


def make_capture(path: Path, requests: int, exchange: Exchange, seed: int = 7) -> int:
    """A pcap of ``requests`` requests over 50 interleaved keep-alive connections."""
    rng = random.Random(seed)
    tokens = [f"eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJzdmMte{i}In0.{'s' * 43}" for i in range(60)]
    hosts = [f"api{i}.internal.test" for i in range(4)]
    ts = 1_790_000_000.0
    sent = 0
    with path.open("wb") as out:
        out.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 262144, 1))
        next_port = 10_000
        active: list[list[object]] = []
        buf: list[bytes] = []
        while sent < requests or active:
            while sent < requests and len(active) < 50:
                sport = next_port
                next_port = 10_000 + (next_port - 9_999) % 50_000
                active.append([sport, 1000, 9000, rng.randrange(3, 9), rng.choice(hosts), 0])
            conn = active[rng.randrange(len(active))]
            sport, cseq, sseq, left, host, state = conn  # type: ignore[misc]
            ts += 0.0002
            if state == 0:
                buf += [
                    _frame(ts, sport, 8080, cseq, 0, 0x02, b""),
                    _frame(ts, 8080, sport, sseq, cseq + 1, 0x12, b""),
                    _frame(ts, sport, 8080, cseq + 1, sseq + 1, 0x10, b""),
                ]
                cseq += 1
                sseq += 1
                state = 1
            elif left > 0 and sent < requests:
                req, resp = exchange(rng, str(host), _auth(rng, tokens))
                buf += [
                    _frame(ts, sport, 8080, cseq, sseq, 0x18, req),
                    _frame(ts + 0.0001, 8080, sport, sseq, cseq + len(req), 0x18, resp),
                    _frame(ts + 0.0001, sport, 8080, cseq + len(req), sseq + len(resp), 0x10, b""),
                ]
                cseq += len(req)
                sseq += len(resp)
                left -= 1
                sent += 1
            else:
                buf += [
                    _frame(ts, sport, 8080, cseq, sseq, 0x11, b""),
                    _frame(ts, 8080, sport, sseq, cseq + 1, 0x11, b""),
                    _frame(ts, sport, 8080, cseq + 1, sseq + 1, 0x10, b""),
                ]
                active.remove(conn)
                continue
            conn[:] = [sport, cseq, sseq, left, host, state]
            if len(buf) > 10_000:
                out.write(b"".join(buf))
                buf = []
        out.write(b"".join(buf))
    return sent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=1, metavar="N", help="alternating rounds")
    parser.add_argument("--no-distinct", action="store_true", help="skip the worst case")
    parser.add_argument(
        "--hostile",
        type=int,
        default=2000,
        metavar="N",
        help="N hostile documents vs N REST requests of the same sizes (0: skip)",
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-graphql-") as tmp:
        work = Path(tmp)
        captures = {
            "rest": work / "rest.pcap",
            "graphql": work / "graphql.pcap",
        }
        make_capture(captures["rest"], args.requests, rest_exchange)
        make_capture(captures["graphql"], args.requests, graphql_exchange(distinct=False))
        if not args.no_distinct:
            captures["graphql-distinct"] = work / "graphql-distinct.pcap"
            make_capture(captures["graphql-distinct"], args.requests, graphql_exchange(True))
        if args.hostile:
            captures["rest-as-large"] = work / "rest-as-large.pcap"
            make_capture(captures["rest-as-large"], args.hostile, rest_like_hostile)
            captures["graphql-hostile"] = work / "graphql-hostile.pcap"
            make_capture(captures["graphql-hostile"], args.hostile, graphql_exchange(False, True))
        for name, pcap in captures.items():
            print(f"capture {name}: {pcap.stat().st_size / 2**20:.1f} MiB")
        results: dict[str, list[tuple[float, float]]] = {name: [] for name in captures}
        for _ in range(args.repeat):
            for name, pcap in captures.items():
                wall, _rss, summary, cpu = ingest(pcap, work)
                results[name].append((wall, cpu))
                first = summary.strip().splitlines()[0] if summary.strip() else ""
                print(f"  {name}: wall {wall:.2f} s, CPU {cpu:.2f} s  {first}")
        med = statistics.median
        pairs = [("graphql", "rest", "  (target <= 2.00)")]
        if "graphql-distinct" in captures:
            pairs.append(("graphql-distinct", "rest", "  (every document new: no target)"))
        if "graphql-hostile" in captures:
            pairs.append(("graphql-hostile", "rest-as-large", "  (hostile vs REST of their size)"))
        for name, peer, note in pairs:
            wall, cpu = (med(r[i] for r in results[name]) for i in range(2))
            peer_wall, peer_cpu = (med(r[i] for r in results[peer]) for i in range(2))
            print(
                f"ratio {name}/{peer}: CPU {cpu / peer_cpu:.2f}, wall {wall / peer_wall:.2f}{note}"
            )


if __name__ == "__main__":
    main()
