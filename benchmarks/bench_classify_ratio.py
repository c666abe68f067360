"""Classification speed and memory of this build against another build, in the same run.

Each round runs bench_inventory's classification step (the templater taught by the distinct
request paths generated from the GitHub REST description, finished, then every request
templated and classified: what ``bench_inventory.ours()`` times) in a child process per build,
builds interleaved (base, this, base, this…) so both see the same load. The child times each
phase apart (learn, finish, resolve and classify) in CPU seconds, and the time the cyclic
garbage collector took inside them.

The result is the ratio this/base of the rate per CPU-second: on this shared box a child gets
a varying share of a core, so the wall-clock rate (printed too) follows the load more than the
build (two builds' wall rates measured minutes apart differed by 0.67x to 1.0x with the same
CPU). Memory: the process's peak RSS and what the classification step added to the RSS it
started from (the generated requests excluded), at each traffic size asked for, so a step whose
memory grows faster with traffic than the base's shows. No threshold: the box is noisy.

    python benchmarks/bench_classify_ratio.py --base DIR [--paths 250000 1000000] [--rounds 3]

DIR is another checkout built the same way as this one, e.g. the build before a change:

    git worktree add /tmp/templ-base e3a8f6c
    (cd /tmp/templ-base && /path/to/.venv/bin/python setup.py build_ext --inplace)   # compiled

Both builds run compiled when their extensions are current, pure Python otherwise (each
child says which); ``IR_CONSOLE_PURE=1`` runs both as pure Python.
"""

from __future__ import annotations

import argparse
import gc
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
PHASES = ("learn", "finish", "resolve")


def _rss_mib() -> float:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * resource.getpagesize() / 2**20


def child(root: Path, paths: int) -> None:
    """In a child: the classification step of ``root``'s own bench_inventory and discovery,
    phase by phase (the same calls as ``bench_inventory.ours()``)."""
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
    collector = [0.0, 0.0]  # CPU seconds in the collector, start of the current collection

    def collecting(phase: str, _info: dict[str, int]) -> None:
        if phase == "start":
            collector[1] = time.process_time()
        else:
            collector[0] += time.process_time() - collector[1]

    gc.callbacks.append(collecting)
    cpu: dict[str, float] = {}
    in_gc: dict[str, float] = {}
    before = _rss_mib()
    wall = time.perf_counter()

    def phase(name: str, started: float) -> float:
        now = time.process_time()
        cpu[name] = now - started
        in_gc[name] = collector[0]
        collector[0] = 0.0
        return now

    started = time.process_time()
    matcher = inventory.HostMatcher(inventory.HOST, inventory.as_operations(loaded))
    templater = inventory.HostTemplater(inventory.HOST, inventory.TemplateRules(), matcher)
    templater.learn(sorted({path for _m, path, _w in requests}))
    started = phase("learn", started)
    templater.finish()
    started = phase("finish", started)
    statuses = []
    for method, path, _what in requests:
        templated = templater.resolve(path, explain=False)
        statuses.append(inventory.classify(inventory.HOST, method, templated, matcher)[0])
    phase("resolve", started)
    elapsed = time.perf_counter() - wall
    gc.callbacks.remove(collecting)
    json.dump(
        {
            "compiled": compiled.in_use(),
            "rate": len(requests) / elapsed,
            "cpu_rate": len(requests) / sum(cpu.values()),
            "cpu": cpu,
            "gc": in_gc,
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
    parser.add_argument(
        "--paths", type=int, nargs="+", default=[1_000_000], help="requests (several: sizes)"
    )
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child is not None:
        child(args.child.resolve(), args.paths[0])
        return
    if args.base is None or not (args.base / "benchmarks" / "bench_inventory.py").is_file():
        print(f"error: --base {args.base}: not a checkout with benchmarks/", file=sys.stderr)
        raise SystemExit(2)
    builds = {"base": args.base.resolve(), "this": ROOT}
    results: dict[tuple[int, str], list[dict[str, Any]]] = {}
    for round_ in range(1, args.rounds + 1):
        for paths in args.paths:
            for name, root in builds.items():
                got = run(root, paths)
                results.setdefault((paths, name), []).append(got)
                phases = ", ".join(
                    f"{p} {got['cpu'][p]:.2f} s (gc {got['gc'][p]:.2f})" for p in PHASES
                )
                print(
                    f"round {round_} {paths:,} {name:4} "
                    f"({'compiled' if got['compiled'] else 'pure'}): "
                    f"{got['cpu_rate']:,.0f} per CPU-second ({got['rate']:,.0f}/s wall); "
                    f"CPU {phases}; peak RSS {got['peak']:.0f} MiB, "
                    f"+{got['added']:.0f} MiB in the step",
                    flush=True,
                )

    def median(paths: int, name: str, key: str, sub: str = "") -> float:
        return statistics.median(r[key][sub] if sub else r[key] for r in results[(paths, name)])

    for paths in args.paths:
        for name in builds:
            phases = ", ".join(f"{p} {median(paths, name, 'cpu', p):.2f} s" for p in PHASES)
            print(
                f"median {paths:,} {name:4}: {median(paths, name, 'cpu_rate'):,.0f}/CPU-s "
                f"({median(paths, name, 'rate'):,.0f}/s wall; {phases}), "
                f"peak {median(paths, name, 'peak'):.0f} MiB, "
                f"step +{median(paths, name, 'added'):.0f} MiB"
            )
        print(
            f"ratio this/base at {paths:,}: per CPU-second "
            f"{median(paths, 'this', 'cpu_rate') / median(paths, 'base', 'cpu_rate'):.2f}x, "
            f"wall rate {median(paths, 'this', 'rate') / median(paths, 'base', 'rate'):.2f}x, "
            f"peak RSS {median(paths, 'this', 'peak') / median(paths, 'base', 'peak'):.2f}x, "
            f"step RSS {median(paths, 'this', 'added') / median(paths, 'base', 'added'):.2f}x"
        )


if __name__ == "__main__":
    main()
