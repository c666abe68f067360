"""Resource limits: peak RSS of each hostile input, each run in a fresh interpreter.

    .venv/bin/python benchmarks/bench_limits.py            # every case
    .venv/bin/python benchmarks/bench_limits.py --case gzip-bomb

Cases (built as streams by tests/properties/limits_cases.py, never whole in memory): a 1 MB
header line, 10,000 headers, a declared 10 GB Content-Length (64 MB sent), an endless chunked
body (64 MB sent), a gzip bomb (gzip of gzip: ~2 KB on the wire, 1 GiB decoded), 100,000
half-open TCP flows in a capture, a JSON body nested 100,000 deep, a 20,000-operation spec.
"baseline" is the interpreter with the same modules imported and nothing read.
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

MB = 1 << 20
CASES = [
    "baseline",
    "header-1mb",
    "headers-10k",
    "content-length-10gb",
    "endless-chunked",
    "gzip-bomb",
    "half-open-100k",
    "nested-json",
    "huge-spec",
]


def _run(case: str) -> str:
    from tests.properties import limits_cases as lc

    if case == "baseline":
        return "-"
    if case == "huge-spec":
        return f"{lc.case_huge_spec(20_000)} operations loaded (not validated)"
    if case == "gzip-bomb":
        bomb = lc.gzip_bomb(1 << 30)
        start = peak_kb()
        exchanges, stats = lc.case_gzip_bomb(bomb)
        hit = next(e for e in exchanges if e.target == "/bomb")
        return (
            f"{len(bomb)} B on the wire, {len(hit.response_body)} B decoded; "
            f"RSS before the ingest {start // 1024} MB"
        )
    runners = {
        "header-1mb": lambda: lc.case_huge_header(1 << 20),
        "headers-10k": lambda: lc.case_many_headers(10_000),
        "content-length-10gb": lambda: lc.case_declared_length(10 << 30, 64 * MB),
        "endless-chunked": lambda: lc.case_endless_chunked(64 * MB),
        "half-open-100k": lambda: lc.case_half_open(100_000),
        "nested-json": lambda: lc.case_nested_json(100_000),
    }
    exchanges, stats = runners[case]()
    after = sum(1 for e in exchanges if e.target == "/after" and e.status == 200)
    noted = {**stats.counts, **{f"skipped: {k}": v for k, v in stats.skipped.items()}}
    noted.pop("bytes skipped while resynchronising", None)
    return f"{after} later exchange(s) read; {dict(noted)}; {len(stats.warnings)} warning(s)"


def peak_kb() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def child(case: str) -> None:
    # the same imports in every case
    import discovery.analyse.specs  # noqa: F401
    import tests.properties.limits_cases  # noqa: F401

    start = time.perf_counter()
    outcome = _run(case)
    print(f"{case}\t{peak_kb() / 1024:.1f}\t{time.perf_counter() - start:.2f}\t{outcome}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--case", choices=CASES)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.case)
        return
    print(f"{'case':<22}{'peak RSS MB':>12}{'seconds':>9}  outcome")
    for case in [args.case] if args.case else CASES:
        done = subprocess.run(
            [sys.executable, __file__, "--child", "--case", case],
            capture_output=True,
            text=True,
            check=False,
        )
        if done.returncode:
            print(f"{case:<22}{'FAILED':>12}  {done.stderr.strip().splitlines()[-1:]}")
            continue
        name, rss, secs, outcome = done.stdout.strip().split("\t")
        print(f"{name:<22}{rss:>12}{secs:>9}  {outcome}")


if __name__ == "__main__":
    main()
