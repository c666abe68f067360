"""Classification speed and memory of this build against another build, in the same run.

Each round runs bench_inventory's classification step (``generate()`` then ``ours()``: the
templater taught by a million request paths on the GitHub REST description, then every request
templated and classified) in a child process per build, builds interleaved (base, this, base,
this…) so both see the same load. Printed: each round, the medians, and the ratios this/base of
the classification rate, of the process's peak RSS and of what the classification step added to
the RSS it started from. The ratio is the result; this box is shared and noisy, so no threshold.

    python benchmarks/bench_classify_ratio.py --base DIR [--paths 1000000] [--rounds 3]

DIR is another checkout built the same way as this one, e.g. the build before a change:

    git worktree add /tmp/templ-base e3a8f6c
    (cd /tmp/templ-base && /path/to/.venv/bin/python setup.py build_ext --inplace)   # compiled

Both builds run compiled when their extensions are current, pure Python otherwise (each
child says which); ``IR_CONSOLE_PURE=1`` runs both as pure Python.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]


def _rss_mib() -> float:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * resource.getpagesize() / 2**20


def child(root: Path, paths: int) -> None:
    """In a child: the classification step of ``root``'s own bench_inventory and discovery."""
    sys.path.insert(0, str(root))
    spec = importlib.util.spec_from_file_location(
        "bench_inventory", root / "benchmarks" / "bench_inventory.py"
    )
    assert spec is not None and spec.loader is not None
    inventory = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(inventory)
    inventory.DATA = ROOT / "benchmarks" / "data" / "octokit"  # one cached description for both
    from discovery import compiled

    loaded = inventory.load_spec(inventory.fetch_spec(), validate=False)
    requests = inventory.generate(loaded, paths)
    before = _rss_mib()
    cpu = time.process_time()
    statuses, elapsed = inventory.ours(loaded, requests)
    cpu = time.process_time() - cpu
    json.dump(
        {
            "compiled": compiled.in_use(),
            "rate": len(requests) / elapsed,
            "cpu_rate": len(requests) / cpu,
            "rss_before": before,
            "peak": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            "statuses": len(statuses),
        },
        sys.stdout,
    )


def run(root: Path, paths: int) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, __file__, "--child", str(root), "--paths", str(paths)],
        check=True,
        capture_output=True,
        text=True,
    )
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    result["added"] = result["peak"] - result["rss_before"]
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", type=Path, help="the other build's checkout")
    parser.add_argument("--paths", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child is not None:
        child(args.child.resolve(), args.paths)
        return
    if args.base is None or not (args.base / "benchmarks" / "bench_inventory.py").is_file():
        print(f"error: --base {args.base}: not a checkout with benchmarks/", file=sys.stderr)
        raise SystemExit(2)
    builds = {"base": args.base.resolve(), "this": ROOT}
    results: dict[str, list[dict[str, Any]]] = {name: [] for name in builds}
    for round_ in range(1, args.rounds + 1):
        for name, root in builds.items():
            got = run(root, args.paths)
            results[name].append(got)
            print(
                f"round {round_} {name:4} ({root}, {'compiled' if got['compiled'] else 'pure'}): "
                f"{got['rate']:,.0f} classifications/s ({got['cpu_rate']:,.0f} per CPU-second), "
                f"peak RSS {got['peak']:.0f} MiB, +{got['added']:.0f} MiB in the step",
                flush=True,
            )

    def median(name: str, key: str) -> float:
        return statistics.median(r[key] for r in results[name])

    for name in builds:
        print(
            f"median {name:4}: {median(name, 'rate'):,.0f}/s, {median(name, 'cpu_rate'):,.0f}"
            f"/CPU-s, peak {median(name, 'peak'):.0f} MiB, step +{median(name, 'added'):.0f} MiB"
        )
    print(
        f"ratio this/base: rate {median('this', 'rate') / median('base', 'rate'):.2f}x, "
        f"per CPU-second {median('this', 'cpu_rate') / median('base', 'cpu_rate'):.2f}x, "
        f"peak RSS {median('this', 'peak') / median('base', 'peak'):.2f}x, "
        f"step RSS {median('this', 'added') / median('base', 'added'):.2f}x"
    )


if __name__ == "__main__":
    main()
