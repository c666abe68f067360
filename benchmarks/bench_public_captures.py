"""Benchmark: HTTP requests recorded from public captures, file by file, against tshark.

    .venv/bin/python benchmarks/bench_public_captures.py                  # the developer corpus
    .venv/bin/python benchmarks/bench_public_captures.py --corpus TAR_OR_DIR [--json OUT]

The captures are read from the shared corpus at run time (a .tar.gz is unpacked into a
temporary folder; nothing is copied into the repository). For each capture: the requests
ir-console's pcap reader records (exchanges with a method; those marked partial, smuggled and
those with an anomaly counted apart) and the requests tshark's HTTP dissector reports
(``http.request``, with its default heuristics and TCP reassembly). Then the totals.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from discovery.errors import InputError  # noqa: E402
from discovery.sources import pcap  # noqa: E402
from discovery.stats import IngestStats  # noqa: E402

DEFAULT_CORPUS = ROOT.parent.parent / "shared" / "corpus" / "pcaps-dev.tar.gz"


def ours(path: Path) -> dict[str, object]:
    stats = IngestStats()
    started = time.perf_counter()
    requests = partial = anomalous = smuggled = tls = 0
    error = None
    try:
        for ex in pcap.read(path, stats):
            if ex.method is None:
                tls += 1
                continue
            requests += 1
            partial += ex.partial
            anomalous += bool(getattr(ex, "anomalies", ()))
            smuggled += any(a.startswith("smuggled_request") for a in getattr(ex, "anomalies", ()))
    except InputError as exc:
        error = str(exc)
    return {
        "requests": requests,
        "partial": partial,
        "with_anomalies": anomalous,
        "smuggled": smuggled,
        "tls_hellos": tls,
        "seconds": round(time.perf_counter() - started, 3),
        "error": error,
    }


def tshark(path: Path) -> int | None:
    run = subprocess.run(
        ["tshark", "-r", str(path), "-Y", "http.request", "-T", "fields", "-e", "frame.number"],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    if run.returncode != 0 and not run.stdout:
        return None
    return sum(1 for line in run.stdout.splitlines() if line.strip())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    parser.add_argument("--json", type=Path, help="write the per-file results here")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-public-") as tmp:
        folder = args.corpus
        if folder.is_file():
            with tarfile.open(folder) as archive:
                archive.extractall(tmp, filter="data")
            folder = Path(tmp)
        files = sorted(
            p for p in folder.rglob("*") if p.suffix in (".pcap", ".pcapng", ".cap") and p.is_file()
        )
        rows = []
        print(f"{'capture':<62} {'ours':>6} {'tshark':>6} {'diff':>5}  partial anomalies smuggled")
        for path in files:
            mine = ours(path)
            theirs = tshark(path)
            diff = int(mine["requests"]) - (theirs or 0)  # type: ignore[call-overload]
            rows.append({"capture": path.name, "tshark": theirs, **mine})
            note = f"  error: {mine['error']}" if mine["error"] else ""
            print(
                f"{path.name[:62]:<62} {mine['requests']:>6} {theirs if theirs is not None else '-':>6}"
                f" {diff:>+5}  {mine['partial']:>7} {mine['with_anomalies']:>9}"
                f" {mine['smuggled']:>8}{note}"
            )
    total_ours = sum(int(r["requests"]) for r in rows)  # type: ignore[call-overload]
    total_theirs = sum(int(r["tshark"] or 0) for r in rows)  # type: ignore[call-overload]
    fewer = [r["capture"] for r in rows if int(r["requests"]) < int(r["tshark"] or 0)]  # type: ignore[call-overload]
    more = [r["capture"] for r in rows if int(r["requests"]) > int(r["tshark"] or 0)]  # type: ignore[call-overload]
    same = len(rows) - len(fewer) - len(more)
    print(
        f"\n{len(rows)} captures: ours {total_ours} requests, tshark {total_theirs}; "
        f"equal on {same}, more on {len(more)}, fewer on {len(fewer)}"
    )
    if fewer:
        print("fewer than tshark: " + ", ".join(str(f) for f in fewer))
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
