"""Credential detection over a labelled corpus, the way credentials really travel.

Every sample of the corpus (published test fixtures of gitleaks, TruffleHog and detect-secrets:
true positives of ~80 providers and near misses) is sent by a real client (httpx; botocore's
SigV4 signer for access key ids) to a loopback server through mitmdump in reverse-proxy mode,
once per placement: the provider's own placement (its header and scheme, Basic, SigV4, path,
query or form field), ``Authorization: Bearer``, ``X-API-Key``, an ``api_key`` query parameter,
an ``api_key`` cookie, a form ``client_secret``, a JSON ``api_key``, a multipart ``token`` field,
and a path segment after ``/token/``. tcpdump captures the client's leg (pcap) and mitmdump writes
the same requests as HAR (``hardump``); ``ir-console ingest`` reads each into its own case.

Printed: recall per placement and per provider (the credential recorded, by keyed fingerprint,
at the right location), naming accuracy (the provider named, on samples whose provider is in
``providers()``), near misses named as provider keys, and the secret-leak scan: every file the
tool wrote and every output of its read commands and exports, searched for each sample in raw,
base64 and URL-encoded form.

    .venv/bin/python benchmarks/bench_credential_corpus.py [--corpus FILE.jsonl.gz] [--keep DIR]
        [--baseline CHECKOUT [--speed-runs N]]

Peer, in the same run: detect-secrets (Yelp; ``pip install -e '.[bench]'``) over the same
requests rendered as HTTP/1.1 text from the HAR. With ``--baseline``, the ingest of the same
pcap and HAR by another checkout (the tree before this work, built in place), alternated.

Targets (issue 20): recall >= 99% for headers, query and native placements, >= 95% for bodies
and paths; named right >= 95%; zero near misses named; zero leaks.
"""

from __future__ import annotations

import argparse
import base64
import gzip
import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import quote

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

BIN = Path(sys.executable).parent
IR_CONSOLE = str(BIN / "ir-console")
MITMDUMP = str(BIN / "mitmdump")
CORPUS = ROOT.parent.parent / "shared" / "corpus" / "credentials" / "samples-dev.jsonl.gz"
AWS_KEY_ID = re.compile(r"^(AKIA|ASIA|AGPA|AIDA|AROA|AIPA|ANPA|ANVA|ABIA|ACCA)[A-Z0-9]{16}$")
HOST = "api.bench.test"
PLACEMENTS = (
    "native",
    "bearer",
    "x-api-key",
    "query",
    "cookie",
    "form",
    "json",
    "multipart",
    "path",
)
# where each placement's credential must be recorded
LOCATION = {
    "bearer": "header",
    "x-api-key": "header",
    "query": "query",
    "cookie": "cookie",
    "form": "body",
    "json": "body",
    "multipart": "body",
    "path": "path",
}
GROUPS = {
    "headers": ("bearer", "x-api-key", "cookie"),
    "query": ("query",),
    "native": ("native",),
    "bodies": ("form", "json", "multipart"),
    "paths": ("path",),
}
TARGETS = {"headers": 0.99, "query": 0.99, "native": 0.99, "bodies": 0.95, "paths": 0.95}
# Where each provider's keys are sent natively: its documented API host (a real client of the
# provider talks to it; the request reaches the loopback server under that Host header).
API_HOST = {
    "atlassian": "api.atlassian.com",
    "azure_devops": "dev.azure.com",
    "cloudflare": "api.cloudflare.com",
    "digitalocean": "api.digitalocean.com",
    "heroku": "api.heroku.com",
    "netlify": "api.netlify.com",
    "npm": "registry.npmjs.org",
    "vercel": "api.vercel.com",
    "twitch": "api.twitch.tv",
    "pagerduty": "api.pagerduty.com",
    "snyk": "api.snyk.io",
    "railway": "backboard.railway.app",
    "wandb": "api.wandb.ai",
    "zendesk": "acme.zendesk.com",
    "mailgun": "api.mailgun.net",
    "mapbox": "api.mapbox.com",
    "fly": "api.machines.dev",
    "newrelic": "api.newrelic.com",
    "deepseek": "api.deepseek.com",
    "okta": "acme.okta.com",
    "github": "api.github.com",
    "gitlab": "gitlab.com",
    "slack": "slack.com",
    "stripe": "api.stripe.com",
    "openai": "api.openai.com",
    "anthropic": "api.anthropic.com",
    "telegram": "api.telegram.org",
    "slack_webhook": "hooks.slack.com",
    "discord_webhook": "discord.com",
    "discord": "discord.com",
}
# the corpus names some providers more finely than ir-console does (one provider, many kinds)
SAME_PROVIDER = {
    "slack_webhook": "slack",
    "discord_webhook": "discord",
    "azure_ad": "azure",
    "azure_apim": "azure",
    "azure_openai": "azure",
    "azure_devops": "azure",
    "google_oauth": "google",
    "dockerhub": "docker",
}


@dataclass
class Sample:
    index: int
    provider: str
    secret: str
    label: str
    native: list[Any]
    extra: dict[str, Any]

    @property
    def expected_provider(self) -> str:
        return SAME_PROVIDER.get(self.provider, self.provider)


@dataclass
class Sent:
    """What one request carried: its sample, placement, and the secret as the case keys it."""

    sample: Sample
    placement: str
    keyed: list[str]  # the strings whose fingerprint stands for the credential
    location: str | None  # where it must be recorded (None: any)


@dataclass
class Results:
    recorded: dict[str, Counter[str]] = field(default_factory=lambda: defaultdict(Counter))
    by_provider: dict[str, Counter[str]] = field(default_factory=lambda: defaultdict(Counter))
    named: Counter[str] = field(default_factory=Counter)
    misnamed: list[tuple[str, str, str]] = field(default_factory=list)
    near_misses_named: list[tuple[str, str, str]] = field(default_factory=list)
    missed: list[tuple[str, str, int]] = field(default_factory=list)


def load(path: Path) -> list[Sample]:
    with gzip.open(path, "rt", encoding="utf-8") as handle:
        rows = [json.loads(line) for line in handle if line.strip()]
    return [
        Sample(i, r["provider"], r["secret"], r["label"], r["native"], r.get("extra") or {})
        for i, r in enumerate(rows)
    ]


# ------------------------------------------------------------------ the loopback server


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        body = b'{"ok":true}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = do_PUT = _answer

    def log_message(self, format: str, *args: object) -> None:
        return  # request lines hold the samples


@contextmanager
def server() -> Iterator[int]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield httpd.server_address[1]
    finally:
        httpd.shutdown()
        httpd.server_close()


@contextmanager
def mitmdump(upstream: int, har: Path, confdir: Path) -> Iterator[int]:
    """mitmdump in reverse-proxy mode in front of the server, writing every flow as HAR."""
    argv = [
        MITMDUMP,
        "--listen-host",
        "127.0.0.1",
        "--listen-port",
        "0",
        "--mode",
        f"reverse:http://127.0.0.1:{upstream}",
        "--set",
        f"confdir={confdir}",
        "--set",
        f"hardump={har}",
        "--set",
        "flow_detail=0",
        "--set",
        "keep_host_header=true",
    ]
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    assert proc.stdout is not None
    port = None
    while port is None:
        line = proc.stdout.readline()
        if not line:
            raise SystemExit("mitmdump did not start")
        match = re.search(r"listening at 127\.0\.0\.1:(\d+)", line)
        port = int(match.group(1)) if match else None
    drain = threading.Thread(target=proc.stdout.read, daemon=True)
    drain.start()
    try:
        yield port
    finally:
        proc.send_signal(signal.SIGINT)  # "done" writes the HAR
        proc.wait(timeout=120)


_TCPDUMP = ("tcpdump", "-i", "lo", "-U", "--immediate-mode", "-n", "-s", "0", "-w")


@contextmanager
def tcpdump(pcap: Path, port: int) -> Iterator[None]:
    proc = subprocess.Popen(
        # --immediate-mode: without it the last requests can sit in the kernel's capture
        # buffer when tcpdump is stopped, and the pcap ends before the run does
        [*_TCPDUMP, str(pcap), "tcp", "port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stderr is not None
    if "listening" not in proc.stderr.readline():
        proc.kill()
        raise SystemExit("tcpdump cannot capture on lo here (root or CAP_NET_RAW needed)")
    try:
        yield
        size = -1
        while pcap.stat().st_size != size:  # the last packets written
            size = pcap.stat().st_size
            time.sleep(0.5)
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=30)


# ------------------------------------------------------------------ sending


def _basic_user(sample: Sample, template: str | None) -> str:
    if template is None:
        return ""
    user = template
    user = user.replace("{user}", str(sample.extra.get("user", "ops@example.com")))
    user = user.replace("{sid}", "AC" + base64.b16encode(os.urandom(16)).decode().lower())
    return user


def _native(client: Any, url: str, sample: Sample, marker: str) -> Sent:
    kind = sample.native[0]
    secret = sample.secret
    host = str(sample.extra.get("host") or API_HOST.get(sample.provider, HOST))
    headers = {"Host": host, "User-Agent": marker}
    prefix = "/v1/resource"
    if kind == "header":
        _, name, template = sample.native
        headers[name] = template.replace("{s}", secret).replace(
            "{id}", str(sample.extra.get("id", "fo57eya1lvvh"))
        )
        client.get(f"{url}{prefix}", headers=headers)
        return Sent(sample, "native", [secret], "header")
    if kind == "basic":
        _, user_template, password = sample.native
        user = _basic_user(sample, user_template)
        # no user template: the secret is the user and the password is empty
        pair = (secret, password or "") if user_template is None else (user, secret)
        client.get(f"{url}{prefix}", headers=headers, auth=pair)
        return Sent(sample, "native", [secret, f"{pair[0]}:{pair[1]}"], "header")
    if kind == "query":
        client.get(f"{url}{prefix}", headers=headers, params={sample.native[1]: secret})
        return Sent(sample, "native", [secret], "query")
    if kind == "form":
        client.post(
            f"{url}{prefix}/oauth2/token",
            headers=headers,
            data={
                "grant_type": "client_credentials",
                "client_id": "bench",
                sample.native[1]: secret,
            },
        )
        return Sent(sample, "native", [secret], "body")
    if kind == "path":
        template = sample.native[1].replace("{prefix}", str(sample.extra.get("prefix", "")))
        path = template.replace("{s}", quote(secret, safe=":@-._~!$&'()*+,;="))
        client.get(f"{url}{path}", headers=headers)
        return Sent(sample, "native", [secret], "path")
    if kind == "sigv4":
        _sigv4(url, marker, sample)
        return Sent(sample, "native", [secret, f"sigv4:{secret}@{HOST}"], "header")
    raise SystemExit(f"unknown native placement {sample.native!r}")


def _sigv4(url: str, marker: str, sample: Sample) -> None:
    import httpx
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    creds = Credentials(
        sample.secret,
        str(sample.extra.get("secret_key") or "bench-secret-key-0123456789abcdefghijklmn"),
        sample.extra.get("session_token"),
    )
    request = AWSRequest(
        method="GET", url=f"http://{HOST}/", headers={"Host": HOST, "User-Agent": marker}
    )
    SigV4Auth(creds, "s3", "eu-west-1").add_auth(request)
    httpx.get(f"{url}/", headers=dict(request.headers.items()))


def send(client: Any, url: str, sample: Sample, placement: str) -> Sent:
    marker = f"bench/{sample.index}/{placement}"  # the user agent: stored, never secret
    prefix = "/v1/resource"
    secret = sample.secret
    headers = {"Host": HOST, "User-Agent": marker}
    if placement == "native":
        return _native(client, url, sample, marker)
    if placement == "bearer":
        client.get(f"{url}{prefix}", headers=headers | {"Authorization": f"Bearer {secret}"})
    elif placement == "x-api-key":
        client.get(f"{url}{prefix}", headers=headers | {"X-API-Key": secret})
    elif placement == "query":
        client.get(f"{url}{prefix}", headers=headers, params={"api_key": secret})
    elif placement == "cookie":
        client.get(
            f"{url}{prefix}", headers=headers | {"Cookie": f"lang=en; api_key={quote(secret)}"}
        )
    elif placement == "form":
        client.post(
            f"{url}{prefix}",
            headers=headers,
            data={
                "grant_type": "client_credentials",
                "client_id": "bench",
                "client_secret": secret,
            },
        )
    elif placement == "json":
        client.post(f"{url}{prefix}", headers=headers, json={"query": "x", "api_key": secret})
    elif placement == "multipart":
        client.post(
            f"{url}{prefix}",
            headers=headers,
            data={"token": secret},
            files={"file": ("notes.txt", b"hello", "text/plain")},
        )
    elif placement == "path":
        segment = quote(secret, safe=":@-._~!$&'()*+,;=")
        client.get(f"{url}/v1/token/{segment}/verify", headers=headers)
    keyed = [secret, quote(secret)] if placement == "cookie" else [secret]
    return Sent(sample, placement, keyed, LOCATION[placement])


# ------------------------------------------------------------------ evaluation


def evaluate(case: Path, sent: list[Sent]) -> Results:
    """Recall, naming and near misses from one ingested case (read with its own key)."""
    from discovery.case.store import Store

    results = Results()
    with Store.open(case, create=False) as store:
        conn = store.conn
        by_prefix: dict[str, list[tuple[str, str, str, str, str]]] = defaultdict(list)
        for agent, fingerprint, location, kind, claims, cid in conn.execute(
            "SELECT e.user_agent, c.fingerprint, ec.location, c.kind, c.claims, c.id "
            "FROM exchanges e JOIN exchange_credentials ec ON ec.exchange_id = e.id "
            "JOIN credentials c ON c.id = ec.credential_id WHERE e.user_agent LIKE 'bench/%'"
        ):
            by_prefix[agent.removeprefix("bench/")].append(
                (fingerprint, location, kind, claims, cid)
            )
        aliases: dict[str, set[str]] = defaultdict(set)
        for fingerprint, cid in conn.execute(
            "SELECT fingerprint, credential_id FROM credential_aliases"
        ):
            aliases[cid].add(fingerprint)
        fp = store.fingerprint
        from discovery.redact.credentials.providers import providers

        listed = set(providers()) | {"jwt"}
        for item in sent:
            sample = item.sample
            seen = by_prefix.get(f"{sample.index}/{item.placement}", [])
            wanted = {fp(k) for k in item.keyed}
            hits = [
                (kind, claims)
                for fingerprint, location, kind, claims, cid in seen
                if (fingerprint in wanted or wanted & aliases[cid])
                and (item.location is None or location == item.location)
            ]
            named = {
                json.loads(claims).get("provider") or ("jwt" if kind == "jwt" else None)
                for kind, claims in hits
            } | {
                json.loads(claims).get("provider")
                for _, _, kind, claims, _ in seen
                if json.loads(claims).get("provider")
            }
            named.discard(None)
            by_host = any(
                "API host" in str(json.loads(claims).get("key_type", "")) for _, claims in hits
            )
            if sample.label == "tp":
                outcome = "recorded" if hits else "missed"
                results.recorded[item.placement][outcome] += 1
                results.by_provider[sample.provider][outcome] += 1
                if not hits:
                    results.missed.append((sample.provider, item.placement, sample.index))
                if sample.expected_provider in listed and hits:
                    right = sample.expected_provider in named
                    results.named[f"{item.placement}:{'right' if right else 'wrong'}"] += 1
                    if right and by_host:
                        results.named[f"{item.placement}:by_host"] += 1
                    if not right:
                        results.misnamed.append(
                            (sample.provider, item.placement, ",".join(sorted(map(str, named))))
                        )
            elif named - {"jwt"}:
                results.near_misses_named.append(
                    (sample.provider, item.placement, ",".join(sorted(map(str, named))))
                )
    return results


# ------------------------------------------------------------------ the peer: detect-secrets


def _http_text(entry: dict[str, Any]) -> list[str]:
    """One HAR request as the HTTP/1.1 text a scanner reads: request line, headers, body."""
    from urllib.parse import urlsplit

    request = entry["request"]
    url = urlsplit(request["url"])
    target = url.path + (f"?{url.query}" if url.query else "")
    lines = [f"{request['method']} {target} HTTP/1.1"]
    lines += [f"{h['name']}: {h['value']}" for h in request.get("headers", [])]
    lines.append("")
    text = (request.get("postData") or {}).get("text") or ""
    lines += text.splitlines() or [""]
    return lines


def _accepted_hashes(secret: str, lines: list[str]) -> set[str]:
    """SHA-1s (detect-secrets' ``hashed_secret``) of the forms that count as finding the secret:
    raw, URL-encoded, and a Basic pair's base64 that holds it."""
    import hashlib
    from urllib.parse import quote_plus

    accepted = {secret, quote(secret, safe=""), quote(secret), quote_plus(secret)}
    for line in lines:
        name, _, value = line.partition(": ")
        scheme, _, token = value.partition(" ")
        if name.lower() == "authorization" and scheme.lower() == "basic":
            try:
                if secret in base64.b64decode(token).decode("utf-8", "replace"):
                    accepted.add(token)
            except ValueError:
                pass
    return {hashlib.sha1(a.encode()).hexdigest() for a in accepted}


def detect_secrets_peer(har: Path, work: Path, samples: list[Sample]) -> list[str]:
    """detect-secrets (Yelp, default plugins and filters) over the same requests, rendered as
    HTTP/1.1 text from the HAR, one file per placement: recall per group and placement (the
    secret itself reported, by its SHA-1) and near misses flagged (anything reported on a near
    miss's request)."""
    exe = BIN / "detect-secrets"
    if not exe.exists():
        return ["== peer: detect-secrets not installed (pip install -e '.[bench]'): skipped"]
    folder = work / "peer"
    folder.mkdir(exist_ok=True)
    by_sample = {s.index: s for s in samples}
    spans: dict[str, list[tuple[int, int, Sample, set[str]]]] = defaultdict(list)
    files: dict[str, list[str]] = defaultdict(list)
    entries = json.loads(har.read_text(encoding="utf-8"))["log"]["entries"]
    for entry in entries:
        agent = next(
            (h["value"] for h in entry["request"]["headers"] if h["name"].lower() == "user-agent"),
            "",
        )
        if not agent.startswith("bench/"):
            continue
        index, placement = agent.removeprefix("bench/").split("/", 1)
        sample = by_sample[int(index)]
        lines = _http_text(entry)
        start = len(files[placement]) + 1
        files[placement] += [*lines, ""]
        end = len(files[placement])
        spans[placement].append((start, end, sample, _accepted_hashes(sample.secret, lines)))
    for placement, lines in files.items():
        (folder / f"{placement}.http").write_text("\n".join(lines) + "\n", encoding="utf-8")
    began = time.perf_counter()
    proc = subprocess.run(
        [str(exe), "scan", "--all-files", "."],
        cwd=folder,
        capture_output=True,
        timeout=1800,
        check=False,
    )
    seconds = time.perf_counter() - began
    if proc.returncode != 0:
        return [f"== peer: detect-secrets failed (exit {proc.returncode})"]
    reported = json.loads(proc.stdout)["results"]
    recorded: dict[str, Counter[str]] = defaultdict(Counter)
    near_flagged = 0
    for placement, items in spans.items():
        found = reported.get(f"{placement}.http", [])
        for first, last, sample, accepted in items:
            here = [r for r in found if first <= r["line_number"] <= last]
            if sample.label == "tp":
                hit = any(r["hashed_secret"] in accepted for r in here)
                recorded[placement]["recorded" if hit else "missed"] += 1
            elif here:
                near_flagged += 1
    lines = [f"== peer: detect-secrets {_version(exe)} over the same requests ({seconds:.1f} s)"]
    for group, placements in GROUPS.items():
        got = sum(recorded[p]["recorded"] for p in placements)
        total = got + sum(recorded[p]["missed"] for p in placements)
        lines.append(f"  recall {group:8} {got / max(total, 1):7.1%}  ({got}/{total})")
    for placement in PLACEMENTS:
        counts = recorded[placement]
        total = counts["recorded"] + counts["missed"]
        lines.append(f"    {placement:10} {counts['recorded'] / max(total, 1):7.1%}  ({total})")
    near = sum(1 for s in samples if s.label != "tp") * len(PLACEMENTS)
    lines.append(f"  near-miss requests flagged: {near_flagged} of {near}")
    return lines


def _version(exe: Path) -> str:
    proc = subprocess.run([str(exe), "--version"], capture_output=True, text=True, check=False)
    return proc.stdout.strip()


# ------------------------------------------------------------------ the leak scan


def forms(secret: str) -> list[bytes]:
    raw = secret.encode()
    return [
        raw,
        base64.b64encode(raw),
        base64.urlsafe_b64encode(raw).rstrip(b"="),
        quote(secret, safe="").encode(),
    ]


def outputs(case: Path, out: Path) -> list[tuple[str, bytes]]:
    """Every read command, export and report, as (label, bytes)."""
    produced = []
    runs = [[name, "--json"] for name in ("hosts", "endpoints", "credentials", "identities")]
    runs += [["findings", "--json"], ["credentials"], ["identities"], ["findings"]]
    runs += [["report", "--format", "json", "-o", str(out / "report.json")]]
    runs += [["report", "--format", "md", "-o", str(out / "report.md")]]
    runs += [
        ["graph", "export", "--format", fmt, "-o", str(out / f"graph.{fmt}")]
        for fmt in ("graphml", "json", "opengraph")
    ]
    runs += [["openapi", "export", "-o", str(out / "openapi"), "--format", "json"]]
    for args in runs:
        proc = subprocess.run(
            [IR_CONSOLE, "-vv", "--db", str(case), *args], capture_output=True, timeout=600
        )
        produced += [(f"{args[:2]} stdout", proc.stdout), (f"{args[:2]} stderr", proc.stderr)]
    conn = sqlite3.connect(case)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    for path in sorted(p for p in case.parent.rglob("*") if p.is_file()):
        if path.suffix not in (".pcap", ".har") and path.name != "cmd.log":
            produced.append((str(path.relative_to(case.parent)), path.read_bytes()))
    return produced


def public_key_id(sample: Sample) -> bool:
    """An AWS access key id, or a SigV4 key id sent as one: public by design (the secret key
    never travels); the case keeps it to name the key pair (docs/architecture.md)."""
    return sample.native[0] == "sigv4" or AWS_KEY_ID.match(sample.secret) is not None


def leaks(blobs: list[tuple[str, bytes]], samples: list[Sample]) -> list[tuple[str, str, int]]:
    """(file or output, tp|fp, sample) for every sample found in raw, base64 or URL-encoded form."""
    found = []
    for sample in samples:
        if len(sample.secret) < 12 or public_key_id(sample):
            continue
        patterns = forms(sample.secret)
        for label, blob in blobs:
            if any(p in blob for p in patterns):
                found.append((label, sample.label, sample.index))
    return found


# ------------------------------------------------------------------ main


def ingest(case: Path, source: Path, log: Path) -> float:
    start = time.perf_counter()
    with log.open("ab") as handle:
        proc = subprocess.run(
            [IR_CONSOLE, "-vv", "--db", str(case), "ingest", str(source)],
            stdout=handle,
            stderr=handle,
            timeout=1800,
        )
    if proc.returncode != 0:
        raise SystemExit(f"ingest of {source.name} failed (exit {proc.returncode}): see {log}")
    return time.perf_counter() - start


def _ingest_seconds(source: Path, folder: Path, checkout: Path) -> tuple[float, float]:
    """Wall and CPU time (user + system) of one ``ir-console ingest`` of ``source`` into a new
    case by the checkout at ``checkout`` (built in place), run the same way for both: this
    interpreter, ``-m``. CPU time moves less than wall time on a shared machine."""
    import resource

    case = folder / f"speed-{time.monotonic_ns()}.db"
    env = dict(os.environ, PYTHONPATH=str(checkout))
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "ir_console", "--db", str(case), "ingest", str(source)],
        env=env,
        capture_output=True,
        timeout=1800,
        check=True,
    )
    seconds = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    for path in folder.glob(case.name + "*"):
        path.unlink()
    return seconds, cpu


def ingest_speed(sources: list[Path], baseline: Path, folder: Path, runs: int) -> list[str]:
    """This tree's ingest against ``baseline``'s on the same captures, alternated ``runs`` times
    in the same run (the machine is noisy): medians and the median of the paired ratios."""
    from statistics import median

    folder.mkdir(exist_ok=True)
    lines = [f"== ingest speed against {baseline} ({runs} alternated runs each; medians)"]
    for source in sources:
        ours, theirs = [], []
        for _ in range(runs):
            theirs.append(_ingest_seconds(source, folder, baseline))
            ours.append(_ingest_seconds(source, folder, ROOT))
        ratio = median(o[0] / t[0] for o, t in zip(ours, theirs, strict=True))
        cpu = median(o[1] / t[1] for o, t in zip(ours, theirs, strict=True))
        lines.append(
            f"  {source.name}: wall this tree {median(o[0] for o in ours):.2f} s, baseline "
            f"{median(t[0] for t in theirs):.2f} s, ratio {ratio:.2f}; CPU this tree "
            f"{median(o[1] for o in ours):.2f} s, baseline {median(t[1] for t in theirs):.2f} s, "
            f"ratio {cpu:.2f}  target <= 1.10"
        )
        if cpu > 1.10:  # CPU: the measure the shared machine disturbs least
            lines.append(f"FAIL ingest of {source.name}: CPU {cpu:.2f}x the baseline's")
    return lines


def report(name: str, results: Results) -> list[str]:
    lines = [f"== {name}"]
    failures = []
    for group, placements in GROUPS.items():
        got = sum(results.recorded[p]["recorded"] for p in placements)
        total = got + sum(results.recorded[p]["missed"] for p in placements)
        share = got / total if total else 1.0
        ok = share >= TARGETS[group]
        if not ok:
            failures.append(f"{name}: {group} recall {share:.1%} < {TARGETS[group]:.0%}")
        lines.append(
            f"  recall {group:8} {share:7.1%}  ({got}/{total})  target {TARGETS[group]:.0%}"
            f"  {'ok' if ok else 'BELOW'}"
        )
    for placement in PLACEMENTS:
        counts = results.recorded[placement]
        total = counts["recorded"] + counts["missed"]
        lines.append(f"    {placement:10} {counts['recorded'] / max(total, 1):7.1%}  ({total})")
    right = sum(v for k, v in results.named.items() if k.endswith(":right"))
    total = right + sum(v for k, v in results.named.items() if k.endswith(":wrong"))
    native_right = results.named["native:right"]
    native_total = native_right + results.named["native:wrong"]
    by_host = results.named["native:by_host"]
    lines.append(
        f"  named right (provider in the list): {right / max(total, 1):.1%} ({right}/{total}); "
        f"native placement {native_right / max(native_total, 1):.1%} "
        f"({native_right}/{native_total}; {by_host} of them by the provider's API host, "
        f"{(native_right - by_host) / max(native_total, 1):.1%} by format and documented "
        "header/scheme/Basic user alone)  target 95%"
    )
    if native_total and native_right / native_total < 0.95:
        failures.append(f"{name}: naming {native_right / native_total:.1%} < 95%")
    lines.append(
        f"  near misses named as provider keys: {len(results.near_misses_named)}  target 0"
    )
    if results.near_misses_named:
        failures.append(f"{name}: {len(results.near_misses_named)} near misses named")
        lines += [f"    {p} via {pl}: {n}" for p, pl, n in results.near_misses_named[:20]]
    weak = sorted(
        (p, c["recorded"] / (c["recorded"] + c["missed"]))
        for p, c in results.by_provider.items()
        if c["missed"]
    )
    lines.append(
        "  providers below 100% recall: " + (", ".join(f"{p} {s:.0%}" for p, s in weak) or "none")
    )
    misses = Counter((p, pl) for p, pl, _ in results.missed)
    if misses:
        lines.append(
            "  missed (provider, placement): " + ", ".join(f"{p}/{pl}" for p, pl in sorted(misses))
        )
    wrong = Counter((p, pl, n) for p, pl, n in results.misnamed if pl == "native")
    if wrong:
        lines.append(
            "  misnamed on the native placement: "
            + ", ".join(f"{p} as {n or 'nothing'}" for p, _, n in sorted(wrong))
        )
    return lines + [f"FAIL {f}" for f in failures]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", type=Path, default=CORPUS)
    parser.add_argument("--keep", type=Path, help="keep the work folder here (pcap, HAR, cases)")
    parser.add_argument(
        "--baseline",
        type=Path,
        help="another checkout of ir-console (built in place: setup.py build_ext --inplace) "
        "whose ingest of the same captures this tree's is compared with",
    )
    parser.add_argument("--speed-runs", type=int, default=9)
    args = parser.parse_args()
    import httpx

    samples = load(args.corpus)
    tps = sum(s.label == "tp" for s in samples)
    print(
        f"corpus: {args.corpus.name}: {len(samples)} samples ({tps} true positives over "
        f"{len({s.provider for s in samples if s.label == 'tp'})} providers, "
        f"{len(samples) - tps} near misses), {len(PLACEMENTS)} placements each"
    )
    work = Path(tempfile.mkdtemp(prefix="bench-cred-")) if args.keep is None else args.keep
    work.mkdir(parents=True, exist_ok=True)
    pcap, har = work / "corpus.pcap", work / "corpus.har"
    sent: list[Sent] = []
    start = time.perf_counter()
    with (
        server() as upstream,
        mitmdump(upstream, har, work / "mitm") as port,
        tcpdump(pcap, port),
        httpx.Client(timeout=30, trust_env=False) as client,
    ):
        url = f"http://127.0.0.1:{port}"
        for sample in samples:
            for placement in PLACEMENTS:
                sent.append(send(client, url, sample, placement))
    print(f"sent {len(sent)} requests in {time.perf_counter() - start:.1f} s (pcap and HAR)")
    failures = []
    for name, source in (("pcap (tcpdump)", pcap), ("HAR (mitmdump hardump)", har)):
        folder = work / source.suffix.lstrip(".")
        folder.mkdir(exist_ok=True)
        case = folder / "case.db"
        seconds = ingest(case, source, folder / "cmd.log")
        results = evaluate(case, sent)
        lines = report(f"{name}: ingested in {seconds:.1f} s", results)
        blobs = outputs(case, folder)
        with (folder / "cmd.log").open("rb") as handle:
            blobs.append(("ingest output (-vv)", handle.read()))
        leaked = leaks(blobs, samples)
        secrets = sorted({i for _, kind, i in leaked if kind == "tp"})
        near = sorted({i for _, kind, i in leaked if kind == "fp"})
        exempt = sum(public_key_id(s) for s in samples)
        lines.append(
            f"  leak scan: {len(blobs)} files and outputs x {len(samples) - exempt} samples x 4 "
            f"forms ({exempt} AWS/SigV4 key ids are public by design): true positives found "
            f"{len(secrets)}  target 0; near misses (not secrets) found {len(near)}"
        )
        for label, kind, i in leaked[:20]:
            lines.append(f"    {label}: sample {i} ({kind})")
        if secrets:
            lines.append(f"FAIL {name}: {len(secrets)} secrets leaked")
        print("\n".join(lines))
        failures += [line for line in lines if line.startswith("FAIL")]
    print("\n".join(detect_secrets_peer(har, work, samples)))
    if args.baseline is not None:
        speed = ingest_speed([pcap, har], args.baseline, work / "speed", args.speed_runs)
        print("\n".join(speed))
        failures += [line for line in speed if line.startswith("FAIL")]
    if args.keep is None:
        import shutil

        shutil.rmtree(work, ignore_errors=True)
    print("all targets met" if not failures else f"{len(failures)} targets missed")


if __name__ == "__main__":
    main()
