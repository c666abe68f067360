"""Credential detection and sensitive-data scanning speed (per request / per MB of body).

No peer is named for this stage; the figures are reported so a regression shows up next to the
pcap ingest benchmark, whose per-exchange cost includes this detection.

    .venv/bin/python benchmarks/bench_credentials.py [--quick]
"""

from __future__ import annotations

import argparse
import base64
import json
import random
import string
import sys
import time
import zlib
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from discovery.redact.credentials import RequestView, detect_credentials
from discovery.redact.credentials.providers import base62
from discovery.redact.secrets import Fingerprinter
from discovery.redact.sensitive import scan_bodies
from discovery.wire.paths import query_pairs

ALNUM = string.ascii_letters + string.digits


def _jwt(rng: random.Random) -> str:
    def seg(obj: dict[str, object]) -> str:
        return base64.urlsafe_b64encode(json.dumps(obj).encode()).rstrip(b"=").decode()

    claims = {
        "iss": "https://idp.example",
        "sub": f"svc-{rng.randrange(50)}",
        "iat": 1,
        "exp": 2_000_000_000,
        "scope": "orders:read orders:write",
    }
    return f"{seg({'alg': 'HS256'})}.{seg(claims)}.{''.join(rng.choices(ALNUM, k=43))}"


def _requests(n: int, seed: int = 7) -> list[RequestView]:
    rng = random.Random(seed)
    base = (
        ("Host", "api.example.com"),
        ("User-Agent", "python-httpx/0.27"),
        ("Accept", "application/json"),
        ("Accept-Encoding", "gzip, br"),
        ("X-Request-Id", "550e8400-e29b-41d4-a716-446655440000"),
        ("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"),
    )
    out = []
    for i in range(n):
        kind = i % 5
        headers = list(base)
        query = "page=2&sort=name"
        if kind == 0:
            headers.append(("Authorization", "Bearer " + _jwt(rng)))
        elif kind == 1:
            headers.append(("X-API-Key", "acme_pk_" + "".join(rng.choices(ALNUM, k=28))))
        elif kind == 2:
            body = "".join(rng.choices(ALNUM, k=30))
            headers.append(
                ("Authorization", "token ghp_" + body + base62(zlib.crc32(body.encode()), 6))
            )
        elif kind == 3:
            headers.append(
                ("Cookie", "_ga=GA1.2.3; sessionid=" + "".join(rng.choices(ALNUM, k=32)))
            )
        else:
            query += "&api_key=" + "".join(rng.choices(ALNUM, k=32))
        out.append(
            RequestView(
                headers=tuple(headers),
                query=query_pairs(query),
                host="api.example.com",
                path="/v1/orders",
                method="GET",
            )
        )
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes (smoke run)")
    args = parser.parse_args()
    n = 5_000 if args.quick else 100_000
    body_kb = 64 if args.quick else 1024
    fp = Fingerprinter(b"k" * 32)
    views = _requests(n)
    start = time.perf_counter()
    found = sum(len(detect_credentials(v, fp)) for v in views)
    elapsed = time.perf_counter() - start
    print(
        f"detect_credentials: {n} requests, {found} sightings, {elapsed:.2f} s, "
        f"{n / elapsed:,.0f} requests/s, {elapsed / n * 1e6:.1f} us/request"
    )
    rng = random.Random(3)
    row = '{"id": %d, "email": "user%d@example.com", "note": "%s"},'
    body = "".join(
        row % (i, i, "".join(rng.choices(ALNUM, k=40))) for i in range(body_kb * 1024 // 80)
    ).encode()[: body_kb * 1024]
    start = time.perf_counter()
    kinds = scan_bodies(body)
    elapsed = time.perf_counter() - start
    print(
        f"scan_bodies: {len(body) / 1e6:.2f} MB, {dict(kinds)}, {elapsed:.2f} s, "
        f"{len(body) / 1e6 / elapsed:.1f} MB/s"
    )
    print("peer: none named for this stage (see bench_pcap for the end-to-end ratio to tshark)")


if __name__ == "__main__":
    main()
