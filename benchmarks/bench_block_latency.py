"""Time from ``ir-console block`` to the first 403: a real mitmdump with the addon enforcing a
case, a real upstream, a client (httpx) sending a credential in a loop, and ``ir-console block
credential`` run as a process, as a responder would.

Reported per trial and as medians: how long ``block`` took to return (it waits until a running
enforcing proxy applied the change, known by the proxy's heartbeat in the case), and the time
from ``block`` returning to the client's first 403 (0 or below: the block was already applied
when the command returned), and how many requests with the credential reached the upstream
after ``block`` returned (should be 0). Each trial unblocks first.

    python benchmarks/bench_block_latency.py [--trials N] [--poll-ms MS]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import httpx

from discovery.case.store import Store
from discovery.redact.secrets import credential_id
from tests.discovery.proxyfixtures import mitmdump, upstream

TOKEN = "tok-bench-block-0123456789abcdef0123"


def cli(case: Path, *args: str) -> None:
    subprocess.run(
        [sys.executable, "-m", "ir_console", "--db", str(case), *args],
        check=True,
        capture_output=True,
        timeout=60,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=5)
    parser.add_argument("--poll-ms", type=int, default=500, help="the proxy's blocklist poll")
    opts = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        case = Path(tmp) / "case.db"
        Store.open(case).close()
        with (
            upstream() as server,
            mitmdump(
                Path(tmp) / "conf",
                "--set",
                f"irc_db={case}",
                "--set",
                "irc_enforce=true",
                "--set",
                f"irc_poll_ms={opts.poll_ms}",
            ) as proxy,
            httpx.Client(proxy=proxy.proxy_url, trust_env=False, timeout=30) as client,
        ):
            headers = {"Authorization": f"Bearer {TOKEN}"}
            client.get(server.url("/warm"), headers=headers)
            with Store.open(case) as store:
                cid = credential_id(store.fingerprint(TOKEN))
            deadline = time.monotonic() + 30
            while True:  # the credential reaches the case through the proxy's writer
                with Store.open(case) as store:
                    if store.conn.execute(
                        "SELECT 1 FROM credentials WHERE id = ?", (cid,)
                    ).fetchone():
                        break
                if time.monotonic() > deadline:
                    raise SystemExit("the credential never reached the case")
                time.sleep(0.05)
            took, after, leaked = [], [], []
            for _ in range(opts.trials):
                cli(case, "unblock", "credential", cid)
                time.sleep(opts.poll_ms / 1000 * 2)
                first_403: list[float] = []
                returned: list[float] = []
                stop = threading.Event()

                def hammer(stop: threading.Event, first_403: list[float]) -> None:
                    n = 0
                    while not stop.is_set():
                        n += 1
                        resp = client.get(
                            server.url(f"/probe/{n}"), headers={**headers, "X-Probe": str(n)}
                        )
                        if resp.status_code == 403 and not first_403:
                            first_403.append(time.monotonic())
                            stop.set()

                thread = threading.Thread(target=hammer, args=(stop, first_403))
                thread.start()
                time.sleep(0.2)
                start = time.monotonic()
                cli(case, "block", "credential", cid)
                returned.append(time.monotonic())
                reached_at_return = len(server.seen)
                thread.join(30)
                stop.set()
                took.append(returned[0] - start)
                after.append(first_403[0] - returned[0])
                leaked.append(len(server.seen) - reached_at_return)
    print(f"trials: {opts.trials}, proxy poll interval {opts.poll_ms} ms")
    for i, (t, a, n) in enumerate(zip(took, after, leaked, strict=True), 1):
        print(
            f"  trial {i}: block returned in {t:.3f}s; first 403 {a:+.3f}s after; "
            f"{n} request(s) with the credential reached the upstream after it returned"
        )
    print(
        f"median: block returned in {statistics.median(took):.3f}s, "
        f"first 403 {statistics.median(after):+.3f}s after it returned, "
        f"max reached upstream after return: {max(leaked)}"
    )


if __name__ == "__main__":
    main()
