"""Proxy overhead: requests/s through plain mitmdump, mitmdump + the ir-console addon, and the
addon with enforcement on (a non-empty blocklist checked on every request), same upstream, same
client, in the same run. Target: the addon keeps >= 90% of plain mitmproxy's throughput.

Every request of the benchmark carries a credential, so with the addon's default durability each
response waits until its flow is committed to the case; ``addon, not durable`` (irc_durable=none)
shows what that costs.

The main figure is wall-clock requests/s (what a client sees; noisy on a shared machine, hence
interleaved rounds and medians). Also reported: CPU time per request (user + system, all threads,
from /proc) of the proxy process, which bounds its throughput when saturated, and of the addon's
writer process (conversion, SQLite writes, live analysis run there), so the total cost of the
addon is visible and not hidden in another process.

    python benchmarks/bench_proxy.py [--quick] [--requests N] [--clients C] [--rounds R]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import httpx

from discovery.case import blocklist
from discovery.case.store import Store
from tests.conftest import make_exchange, make_sighting
from tests.discovery.proxyfixtures import mitmdump, upstream

TOKENS = [f"tok-bench-{i:02d}-0123456789abcdef" for i in range(8)]


def drive(proxy_url: str, url: str, total: int, clients: int) -> float:
    """Send ``total`` requests from ``clients`` keep-alive clients; returns requests/s."""
    per_client = total // clients

    def worker(index: int) -> int:
        done = 0
        with httpx.Client(proxy=proxy_url, trust_env=False, timeout=60) as client:
            for i in range(per_client):
                token = TOKENS[(index + i) % len(TOKENS)]
                resp = client.get(
                    f"{url}/v1/items/{i}?page=1", headers={"Authorization": f"Bearer {token}"}
                )
                if resp.status_code != 200:
                    raise RuntimeError(f"unexpected status {resp.status_code}")
                done += 1
        return done

    start = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        sent = sum(pool.map(worker, range(clients)))
    return sent / (time.perf_counter() - start)


def prepare_enforcing_case(case: Path) -> None:
    """A case whose blocklist has entries (none matching the benchmark's traffic)."""
    with Store.open(case) as store:
        blocked = make_sighting(store, "tok-not-in-traffic-000000")
        store.add_exchanges([make_exchange(credentials=(blocked,))])
        cid = store.conn.execute("SELECT id FROM credentials").fetchone()[0]
        blocklist.block_credential(store, cid, "benchmark", actor="bench")
        blocklist.block_endpoint(store, "api.example.com DELETE /v1/items/{id}", actor="bench")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (all threads) so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def children(pid: int) -> list[int]:
    """Child processes of a process (the addon's writer process, when there is one)."""
    out: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        out += [int(c) for c in (task / "children").read_text().split()]
    return out


def tree_cpu(pids: list[int]) -> dict[int, float]:
    """CPU time of each process, with the children it has waited for (the analysis may fork
    short-lived helpers); processes gone already are left out."""
    out: dict[int, float] = {}
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except FileNotFoundError:
            continue
        out[pid] = sum(int(f) for f in fields[11:15]) / os.sysconf("SC_CLK_TCK")
    return out


def measure(
    label: str, args: list[str], with_addon: bool, tmp: Path, url: str, total: int, clients: int
) -> tuple[float, float, float]:
    """(requests/s, proxy CPU ms per request, writer process CPU ms per request) for one setup."""
    with mitmdump(tmp / f"conf-{label}", *args, with_addon=with_addon) as proxy:
        drive(proxy.proxy_url, url, max(clients * 20, total // 10), clients)  # warm-up
        cpu_before = cpu_seconds(proxy.proc.pid)
        helper_before = tree_cpu(children(proxy.proc.pid))
        rate = drive(proxy.proxy_url, url, total, clients)
        if with_addon:
            time.sleep(1.0)  # let the writer commit this run's batch: its CPU counts too
        cpu = cpu_seconds(proxy.proc.pid) - cpu_before
        helper_after = tree_cpu(children(proxy.proc.pid))
        # a helper started during the run counts in full; one that ended is not counted
        helper = sum(t - helper_before.get(pid, 0.0) for pid, t in helper_after.items())
    sent = total // clients * clients
    return rate, cpu * 1000 / sent, helper * 1000 / sent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes (smoke run)")
    parser.add_argument("--requests", type=int, help="requests per measurement (default 2000)")
    parser.add_argument("--clients", type=int, default=4, help="concurrent keep-alive clients")
    parser.add_argument("--rounds", type=int, help="rounds, interleaving the setups (default 3)")
    parser.add_argument(
        "--breakdown",
        action="store_true",
        help="also measure the addon with the periodic analysis turned off",
    )
    opts = parser.parse_args()
    total = opts.requests or (400 if opts.quick else 2000)
    rounds = opts.rounds or (1 if opts.quick else 3)
    keys = ["plain", "addon", "not_durable", "enforce"] + (
        ["no_analysis"] if opts.breakdown else []
    )
    results: dict[str, list[float]] = {k: [] for k in keys}
    cpu: dict[str, list[float]] = {k: [] for k in keys}
    helper_cpu: dict[str, list[float]] = {k: [] for k in keys}
    with tempfile.TemporaryDirectory() as name, upstream() as server:
        tmp = Path(name)
        url = f"http://127.0.0.1:{server.port}"
        for round_no in range(rounds):
            addon_case, enforce_case = tmp / f"addon-{round_no}.db", tmp / f"enforce-{round_no}.db"
            prepare_enforcing_case(enforce_case)
            setups = {
                "plain": ([], False),
                "addon": (["--set", f"irc_db={addon_case}"], True),
                "not_durable": (
                    [
                        "--set",
                        f"irc_db={tmp / f'not-durable-{round_no}.db'}",
                        "--set",
                        "irc_durable=none",
                    ],
                    True,
                ),
                "enforce": (["--set", f"irc_db={enforce_case}", "--set", "irc_enforce=true"], True),
            }
            if opts.breakdown:
                setups["no_analysis"] = (
                    [
                        "--set",
                        f"irc_db={tmp / f'plain-writer-{round_no}.db'}",
                        "--set",
                        "irc_recompute=100000",
                    ],
                    True,
                )
            for label, (args, with_addon) in setups.items():
                rate, ms, helper_ms = measure(
                    label, args, with_addon, tmp, url, total, opts.clients
                )
                results[label].append(rate)
                cpu[label].append(ms)
                helper_cpu[label].append(helper_ms)
                print(
                    f"round {round_no + 1} {label:8s} {rate:8.1f} req/s  "
                    f"{ms:6.2f} proxy + {helper_ms:5.2f} writer CPU ms/request",
                    flush=True,
                )
            with Store.open(addon_case) as store:
                rows = store.conn.execute("SELECT COUNT(*) FROM exchanges").fetchone()[0]
            warm = max(opts.clients * 20, total // 10)
            expected = (total // opts.clients + warm // opts.clients) * opts.clients
            print(
                f"round {round_no + 1} addon case holds {rows} exchanges (sent {expected})",
                flush=True,
            )
    med = {k: statistics.median(v) for k, v in results.items()}
    cpu_med = {k: statistics.median(v) for k, v in cpu.items()}
    helper_med = {k: statistics.median(v) for k, v in helper_cpu.items()}
    print(f"\nrequests/measurement={total} clients={opts.clients} rounds={rounds} (medians)")
    print(
        f"{'setup':26s} {'req/s':>8s} {'ratio':>6s}   {'proxy CPU':>9s} {'writer CPU':>10s} "
        f"{'capacity ratio':>14s} {'total CPU ratio':>15s}"
    )
    names = {
        "plain": "plain mitmdump",
        "addon": "mitmdump + ir-console",
        "not_durable": "  addon, not durable",
        "enforce": "  + enforcement",
        "no_analysis": "  addon, no live analysis",
    }
    for key in keys:
        label = names[key]
        total_cpu = cpu_med[key] + helper_med[key]
        print(
            f"{label:26s} {med[key]:8.1f} {med[key] / med['plain']:6.3f}   "
            f"{cpu_med[key]:9.2f} {helper_med[key]:10.2f} "
            f"{cpu_med['plain'] / cpu_med[key]:14.3f} {cpu_med['plain'] / total_cpu:15.3f}"
        )
    print("ratio = wall req/s vs plain (the main figure); CPU in ms per request;")
    print("capacity ratio = plain proxy CPU / this setup's proxy CPU (the proxy process only);")
    print("total CPU ratio = plain proxy CPU / (proxy + writer process CPU): the whole cost")
    print("target: the addon keeps >= 0.90 of plain mitmproxy's throughput (wall ratio)")


if __name__ == "__main__":
    main()
