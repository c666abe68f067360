"""Inventory benchmark: load a large real spec (the GitHub REST API description) and classify
a million request paths generated from its templates plus undocumented variants; in the same
run, classify a sample of the same paths with openapi-core's path finder and compare rates and
answers.

The spec is fetched with ``npm pack @octokit/openapi`` into ``benchmarks/data/`` (not committed).

    python benchmarks/bench_inventory.py [--paths 1000000] [--peer-sample 5000] [--skip-validation]
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import subprocess
import sys
import tarfile
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from discovery.analyse.inventory import classify  # noqa: E402
from discovery.analyse.matching import HostMatcher, Operation  # noqa: E402
from discovery.analyse.specs import load_spec  # noqa: E402
from discovery.analyse.specs.model import LoadedSpec  # noqa: E402
from discovery.analyse.templating import HostTemplater, TemplateRules  # noqa: E402

DATA = ROOT / "benchmarks" / "data" / "octokit"
MEMBER = "package/generated/api.github.com.json"
HOST = "api.github.com"
METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
WORDS = (
    "octocat",
    "hello-world",
    "linux",
    "acme-corp",
    "infra",
    "payments",
    "docs",
    "main",
    "release-2026",
    "feature-login",
    "backend",
    "web",
    "ci",
    "security",
    "data",
)


def fetch_spec() -> Path:
    """The GitHub REST API description, from the npm package (cached in benchmarks/data)."""
    target = DATA / "api.github.com.json"
    if target.exists():
        return target
    DATA.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        print("fetching @octokit/openapi with npm pack …", file=sys.stderr)
        subprocess.run(
            ["npm", "pack", "@octokit/openapi", "--pack-destination", tmp],
            check=True,
            capture_output=True,
            timeout=600,
        )
        (tgz,) = Path(tmp).glob("*.tgz")
        with tarfile.open(tgz) as archive:
            member = archive.getmember(MEMBER)
            source = archive.extractfile(member)
            assert source is not None
            target.write_bytes(source.read())
    return target


def value_for(param: dict[str, Any], rng: random.Random) -> str:
    """A realistic value for a path parameter, from its name and schema."""
    schema = param.get("schema") or {}
    name = str(param.get("name", "")).lower()
    if schema.get("type") == "integer" or name.endswith(("_id", "number")) or name == "id":
        return str(rng.randint(1, 50_000_000))
    if "enum" in schema:
        return str(rng.choice(schema["enum"]))
    if name in ("sha", "commit_sha", "tree_sha", "file_sha", "ref", "basehead"):
        return f"{rng.getrandbits(160):040x}"
    return rng.choice(WORDS) + ("" if rng.random() < 0.5 else f"-{rng.randint(1, 999)}")


def fill(template: str, params: dict[str, dict[str, Any]], rng: random.Random) -> str:
    out = []
    for segment in template.split("/")[1:]:
        while "{" in segment:
            start = segment.index("{")
            end = segment.index("}", start)
            name = segment[start + 1 : end]
            segment = (
                segment[:start]
                + value_for(params.get(name, {"name": name}), rng)
                + segment[end + 1 :]
            )
        out.append(segment)
    return "/" + "/".join(out)


def generate(spec: LoadedSpec, count: int, seed: int = 7) -> list[tuple[str, str, str]]:
    """(method, path, what it is) requests: 85% documented calls, 15% undocumented variants."""
    rng = random.Random(seed)
    ops = [op for op in spec.operations if op.host == HOST]
    methods: dict[str, set[str]] = {}
    for op in ops:
        methods.setdefault(op.template, set()).add(op.method)
    requests: list[tuple[str, str, str]] = []
    for _ in range(count):
        op = rng.choice(ops)
        params = {p["name"]: p for p in op.parameters if p.get("in") == "path"}
        path = fill(op.template, params, rng)
        roll = rng.random()
        if roll < 0.85:
            requests.append((op.method, path, "documented"))
        elif roll < 0.90:
            requests.append(
                (
                    op.method,
                    path + rng.choice(("/internal", "/debug", "/export")),
                    "undocumented path",
                )
            )
        elif roll < 0.95:
            other = rng.choice([m for m in METHODS if m not in methods[op.template]] or ["TRACE"])
            requests.append((other, path, "undocumented method"))
        else:
            requests.append(
                (
                    rng.choice(METHODS),
                    f"/_private/v{rng.randint(1, 3)}/{rng.choice(WORDS)}/{rng.randint(1, 10**6)}",
                    "undocumented path",
                )
            )
    return requests


def as_operations(spec: LoadedSpec) -> list[Operation]:
    return [
        Operation(
            id=i,
            host=op.host,
            method=op.method,
            template=op.template,
            deprecated=op.deprecated,
            security=op.security,
            scopes=tuple(op.scopes),
            spec_title=spec.title,
            parameters=tuple(op.parameters),
        )
        for i, op in enumerate(spec.operations)
        if op.host == HOST
    ]


def ours(spec: LoadedSpec, requests: list[tuple[str, str, str]]) -> tuple[list[str], float]:
    """Our classification of every request: templater taught by the paths, then classify."""
    started = time.perf_counter()
    matcher = HostMatcher(HOST, as_operations(spec))
    templater = HostTemplater(HOST, TemplateRules(), matcher)
    templater.learn(sorted({path for _m, path, _w in requests}))
    templater.finish()
    statuses = []
    for method, path, _what in requests:
        templated = templater.resolve(path, explain=False)
        statuses.append(classify(HOST, method, templated, matcher)[0])
    return statuses, time.perf_counter() - started


def peer(
    spec_dict: dict[str, Any], requests: list[tuple[str, str, str]]
) -> tuple[list[str], float, float]:
    """openapi-core: its own load (which validates), then APICallPathFinder on each request."""
    from openapi_core import OpenAPI
    from openapi_core.templating.paths.exceptions import (
        OperationNotFound,
        PathNotFound,
        ServerNotFound,
    )
    from openapi_core.templating.paths.finders import APICallPathFinder

    started = time.perf_counter()
    api = OpenAPI.from_dict(spec_dict)
    load = time.perf_counter() - started
    finder = APICallPathFinder(api.spec)
    statuses = []
    started = time.perf_counter()
    for method, path, _what in requests:
        try:
            found = finder.find(method.lower(), f"https://{HOST}{path}")
        except (PathNotFound, OperationNotFound, ServerNotFound):
            statuses.append("shadow")
            continue
        deprecated = "deprecated" in found.operation and bool(
            (found.operation / "deprecated").read_value()
        )
        statuses.append("zombie" if deprecated else "documented")
    return statuses, load, time.perf_counter() - started


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--paths", type=int, default=1_000_000)
    parser.add_argument(
        "--peer-sample",
        type=int,
        default=5_000,
        help="requests classified by openapi-core (it is slow)",
    )
    parser.add_argument(
        "--skip-validation",
        action="store_true",
        help="do not time the first, uncached openapi-spec-validator run",
    )
    args = parser.parse_args()
    spec_path = fetch_spec()
    print(f"spec: {spec_path} ({spec_path.stat().st_size / 2**20:.1f} MiB)")

    started = time.perf_counter()
    spec = load_spec(spec_path, validate=False)
    load = time.perf_counter() - started
    ops = [op for op in spec.operations if op.host == HOST]
    print(
        f"ours: spec load (parse, $refs, extract) {load:.2f} s: {len(spec.operations)} "
        f"operations, {len({op.template for op in ops})} paths on {HOST}"
    )
    if not args.skip_validation:
        import os

        with tempfile.TemporaryDirectory() as cache:
            os.environ["XDG_CACHE_HOME"] = cache
            started = time.perf_counter()
            load_spec(spec_path)
            first = time.perf_counter() - started
            started = time.perf_counter()
            load_spec(spec_path)
            again = time.perf_counter() - started
        print(
            f"ours: spec load with openapi-spec-validator {first:.2f} s the first time, "
            f"{again:.2f} s once remembered"
        )

    requests = generate(spec, args.paths)
    kinds = Counter(what for _m, _p, what in requests)
    print(
        f"requests: {len(requests):,} ({', '.join(f'{k} {v:,}' for k, v in kinds.items())}), "
        f"{len({p for _m, p, _w in requests}):,} distinct paths"
    )
    statuses, elapsed = ours(spec, requests)
    rate = len(requests) / elapsed
    print(
        f"ours: classified {len(requests):,} in {elapsed:.2f} s = {rate:,.0f} classifications/s"
        f" ({dict(Counter(statuses))})"
    )
    by_kind: dict[str, Counter[str]] = {}
    for (_m, _p, what), status in zip(requests, statuses, strict=True):
        by_kind.setdefault(what, Counter())[status] += 1
    for what, counts in by_kind.items():
        print(f"  generated as {what}: {dict(counts)}")
    print(
        "  (a generated value can break its parameter's schema, and an appended segment can"
        " fall under a documented string parameter: the generator's label is not the truth)"
    )

    sample = random.Random(11).sample(range(len(requests)), min(args.peer_sample, len(requests)))
    picked = [requests[i] for i in sample]
    spec_dict = json.loads(spec_path.read_text())
    core, core_load, core_elapsed = peer(spec_dict, picked)
    core_rate = len(picked) / core_elapsed
    print(
        f"openapi-core: load {core_load:.2f} s; classified {len(picked):,} in "
        f"{core_elapsed:.2f} s = {core_rate:,.0f} classifications/s"
    )
    mine = [statuses[i] for i in sample]
    differ = [(requests[i], m, c) for i, m, c in zip(sample, mine, core, strict=True) if m != c]
    print(
        f"agreement with openapi-core on the sample: {len(picked) - len(differ):,}/{len(picked):,}"
    )
    for (method, path, what), m, c in differ[:5]:
        print(f"  differs: {method} {path} ({what}): ours {m}, openapi-core {c}")
    print(
        f"ratio: ours/openapi-core classification rate = {rate / core_rate:,.0f}x; "
        f"spec load {load:.2f} s vs {core_load:.2f} s"
    )
    print(f"peak RSS: {peak_rss_mib():.0f} MiB")


if __name__ == "__main__":
    main()
