"""Templating and classification on traffic shaped like real APIs, with and without their spec,
against mitmproxy2swagger on the same traffic.

For each description in the corpus (``../shared/corpus/specs/``: Petstore, Stripe, GitHub,
Kubernetes), the benchmark generates requests from the description's own operations: parameter
values shaped like the provider's real ids (``cus_`` + base62, 40-hex SHAs, generated pod names,
usernames, namespaces, country codes…), Zipf-skewed call counts (so many operations are called
once), and scanner probes that only ever answer 404. The traffic is written as a HAR file and

- ingested by ir-console without any spec (every endpoint inferred), then again with the spec
  imported after 20% of the called operations were deleted from it (their traffic must come
  out shadow, templated right) and 10% marked deprecated (zombie);
- given to mitmproxy2swagger as its README says: a first pass, every suggested template
  accepted (the ``ignore:`` prefixes removed), a second pass; once with its default parameter
  regex (digits) and once with a generic id regex. It runs in its own virtual environment
  (created under the cache directory, installed from PyPI).

Printed per API and tool: template precision and recall (an inferred endpoint is right when its
method and template equal a called operation's, parameter names aside), over-merges (inferred
endpoints taking requests of several operations), under-merges (operations whose requests are
split over several endpoints), and classification accuracy (operations whose requests all reach
one endpoint with the right template and status).

    python benchmarks/bench_templating_real.py [--corpus DIR] [--requests 1200] [--seed 7]
        [--api NAME]... [--no-peer] [--show-errors N]

The corpus is read from ``--corpus``, ``$IR_CONSOLE_CORPUS`` or ``/work/shared/corpus``; without
it the benchmark says so and exits 2.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import random
import re
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from discovery.analyse.specs.document import parse_text  # noqa: E402
from discovery.analyse.specs.model import join_template  # noqa: E402
from tests.discovery.analyse import real_routes as real  # noqa: E402

_PARAM = re.compile(r"\{[^{}]*\}")
METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
# the generic id regex for mitmproxy2swagger's second setting: integers, hex/uuid-like runs,
# and any token of 8+ characters holding a digit
GENERIC_ID_REGEX = r"(?:[0-9]+|[0-9a-fA-F-]{16,}|(?=[^/]*[0-9])[A-Za-z0-9_.:-]{8,})"


@dataclass(frozen=True)
class Api:
    name: str
    file: str
    host: str
    import_host: str | None = None  # --host for spec import (the spec names none)


APIS = (
    Api("petstore", "petstore.yaml", "petstore3.swagger.io"),
    Api("stripe", "stripe.yaml", "api.stripe.com"),
    Api("github", "github.json", "api.github.com"),
    Api("kubernetes", "kubernetes.json", "kubernetes.default.svc", "kubernetes.default.svc"),
)


@dataclass
class Op:
    method: str  # upper case
    raw_path: str  # the spec's own path key
    template: str  # with the server's base path
    params: dict[str, dict[str, Any]]
    deprecated: bool

    @property
    def key(self) -> tuple[str, str]:
        return self.method, norm(self.template)


def norm(template: str) -> str:
    return _PARAM.sub("{}", template)


# ------------------------------------------------------------------ the descriptions


def load_document(path: Path) -> dict[str, Any]:
    return parse_text(path.read_text(encoding="utf-8"), str(path))


def resolve(doc: dict[str, Any], value: Any) -> Any:
    seen = 0
    while isinstance(value, dict) and "$ref" in value and seen < 20:
        ref = str(value["$ref"])
        if not ref.startswith("#/"):
            return {}
        node: Any = doc
        for part in ref[2:].split("/"):
            node = node.get(part.replace("~1", "/").replace("~0", "~"), {})
        value, seen = node, seen + 1
    return value


def base_path(doc: dict[str, Any]) -> str:
    if "swagger" in doc:
        return str(doc.get("basePath") or "").rstrip("/")
    servers = doc.get("servers") or [{}]
    url = str(servers[0].get("url") or "")
    if "://" in url:
        url = "/" + url.split("://", 1)[1].partition("/")[2]
    return url.rstrip("/") if url != "/" else ""


def operations(doc: dict[str, Any], host: str) -> list[Op]:
    """The operations of the description served at ``host``."""
    base = base_path(doc)
    out = []
    for raw_path, item in (doc.get("paths") or {}).items():
        item = resolve(doc, item)
        if not isinstance(item, dict) or not str(raw_path).startswith("/"):
            continue
        servers = item.get("servers")
        if servers and host not in str(servers):
            continue
        shared = {
            (p.get("name"), p.get("in")): p
            for p in (resolve(doc, x) for x in item.get("parameters") or [])
            if isinstance(p, dict)
        }
        for method in METHODS:
            op = item.get(method)
            if not isinstance(op, dict):
                continue
            op_servers = op.get("servers")
            if op_servers and host not in str(op_servers):
                continue
            params = dict(shared)
            for p in (resolve(doc, x) for x in op.get("parameters") or []):
                if isinstance(p, dict):
                    params[(p.get("name"), p.get("in"))] = p
            path_params = {}
            for (name, where), p in params.items():
                if where == "path":
                    schema = resolve(doc, p.get("schema")) if "schema" in p else p
                    path_params[str(name)] = schema if isinstance(schema, dict) else {}
            out.append(
                Op(
                    method.upper(),
                    str(raw_path),
                    join_template(base, str(raw_path)),
                    path_params,
                    bool(op.get("deprecated")),
                )
            )
    return out


def modified_spec(
    doc: dict[str, Any], deleted: set[tuple[str, str]], deprecated: set[tuple[str, str]]
) -> dict[str, Any]:
    """The description with some operations deleted and others marked deprecated (keys are
    (METHOD, raw path))."""
    out = copy.deepcopy(doc)
    paths = out.get("paths") or {}
    for raw_path in list(paths):
        item = paths[raw_path]
        if not isinstance(item, dict):
            continue
        for method in METHODS:
            if method not in item:
                continue
            key = (method.upper(), raw_path)
            if key in deleted:
                del item[method]
            elif key in deprecated and isinstance(item[method], dict):
                item[method]["deprecated"] = True
        if not any(m in item for m in METHODS):
            del paths[raw_path]
    return out


# ------------------------------------------------------------------ provider-shaped values


def b62(rng: random.Random, n: int) -> str:
    return real.chars(rng, real.B62, n)


def hexs(rng: random.Random, n: int) -> str:
    return real.chars(rng, real.HEX, n)


def k8s_suffix(rng: random.Random, n: int) -> str:
    return real.chars(rng, real.K8S_ALPHABET, n)


# provider-shaped words and Stripe's id prefixes: one copy, the templating tests' own
GITHUB_ACCOUNTS = real.WORDS["gh-user"]
GITHUB_REPOS = real.WORDS["gh-repo"]
GITHUB_TEAMS = real.WORDS["gh-team"]
GITHUB_BRANCHES = real.WORDS["gh-branch"]
GITHUB_LABELS = real.WORDS["gh-label"]
NAMESPACES = real.WORDS["k8s-ns"]
K8S_APPS = real.WORDS["k8s-app"]
PET_USERS = real.WORDS["pet-user"]
COUNTRIES = real.WORDS["country"]
CURRENCIES = real.WORDS["currency"]
STRIPE_PREFIX = real.STRIPE_ID_PREFIXES


class Values:
    """Parameter values shaped like each provider's real ones: a small pool per parameter
    (clients fetch the same objects again) topped up with fresh values."""

    def __init__(self, api: str, rng: random.Random) -> None:
        self.api = api
        self.rng = rng
        self.pools: dict[tuple[str, str, bool], list[str]] = defaultdict(list)

    def value(self, name: str, schema: dict[str, Any], before: str, final: bool) -> str:
        pool = self.pools[(name, before, final)]
        make = self._maker(name, schema, before, final)
        fixed = getattr(make, "fixed", None)
        if fixed is not None:
            return str(self.rng.choice(fixed))
        if pool and self.rng.random() < 0.35:
            return self.rng.choice(pool)
        value = make()
        pool.append(value)
        return value

    def _maker(self, name: str, schema: dict[str, Any], before: str, final: bool) -> Any:
        rng = self.rng
        lowered = name.lower()
        enum = schema.get("enum")

        def fixed(values: list[Any] | tuple[Any, ...]) -> Any:
            def make() -> str:
                return str(rng.choice(values))

            make.fixed = list(values)  # type: ignore[attr-defined]
            return make

        if isinstance(enum, list) and enum:
            return fixed(enum)
        if schema.get("type") == "integer":
            return lambda: str(rng.randint(1, 10**7))
        if self.api == "petstore":
            if lowered == "username":
                return fixed(PET_USERS)
            return lambda: str(rng.randint(1, 10**6))
        if self.api == "stripe":
            return self._stripe(lowered, before)
        if self.api == "github":
            return self._github(lowered, final)
        if self.api == "kubernetes":
            return self._kubernetes(lowered, before, final)
        return lambda: b62(rng, 12)

    def _stripe(self, name: str, before: str) -> Any:
        rng = self.rng
        if name in ("country",):
            return lambda: rng.choice(COUNTRIES)
        if name in ("rate_id", "currency"):
            return lambda: rng.choice(CURRENCIES)
        if name == "report_type":
            return lambda: rng.choice(
                ["balance.summary.1", "payout.reconciliation.itemized.5", "ending_balance.1"]
            )
        if name == "tax_code" or before == "tax_codes":
            return lambda: f"txcd_{rng.randint(10**7, 10**8 - 1)}"
        prefix = STRIPE_PREFIX.get(name) or STRIPE_PREFIX.get(before)
        if prefix is None:
            words = (before or name).replace("-", "_").split("_")
            prefix = "".join(w[:1] for w in words if w) or "obj"
            prefix = prefix if len(prefix) >= 2 else (before or name)[:4]
        return lambda: f"{prefix}_{b62(rng, rng.choice((14, 24)))}"

    def _github(self, name: str, final: bool) -> Any:
        rng = self.rng
        if name in ("owner", "org", "username", "enterprise", "assignee", "invitee"):
            return lambda: rng.choice(GITHUB_ACCOUNTS)
        if name == "repo":
            return lambda: rng.choice(GITHUB_REPOS)
        if name == "team_slug":
            return lambda: rng.choice(GITHUB_TEAMS)
        if name == "branch":
            return lambda: rng.choice(GITHUB_BRANCHES)
        if name in ("name", "label") and not final:
            return lambda: rng.choice(GITHUB_LABELS)
        if name == "ref" and final:
            return lambda: rng.choice(
                [f"heads/{rng.choice(GITHUB_BRANCHES)}", f"tags/v1.{rng.randint(0, 9)}.0"]
            )
        if name == "ref":
            return lambda: hexs(rng, 40) if rng.random() < 0.7 else rng.choice(GITHUB_BRANCHES)
        if name in ("repo_name",):
            return lambda: rng.choice(GITHUB_REPOS)
        if name in ("app_slug", "slug"):
            return lambda: rng.choice(
                ["dependabot", "github-actions", "renovate", "codecov", "octo-app-42"]
            )
        if name == "path":
            return lambda: rng.choice(
                ["README.md", "src/index.js", "docs/guide/intro.md", "setup.py", "lib/app.rb"]
            )
        if name == "archive_format":
            return lambda: rng.choice(["zip", "tarball", "zipball"])
        if "sha" in name or name in ("basehead", "fingerprint"):
            return lambda: hexs(rng, 40)
        if name == "gist_id":
            return lambda: hexs(rng, 32)
        if name == "client_id":
            return lambda: f"Iv1.{hexs(rng, 16)}"
        if name == "access_token":
            return lambda: hexs(rng, 40)
        if name == "secret_name":
            return lambda: rng.choice(["NPM_TOKEN", "AWS_ACCESS_KEY_ID", "DOCKER_PASSWORD"])
        if name == "license":
            return lambda: rng.choice(["mit", "apache-2.0", "gpl-3.0", "bsd-3-clause"])
        if name == "name":
            return lambda: rng.choice(["Python", "Node", "Java", "Go", "Rust", "Ruby"])
        if name == "tag":
            return lambda: f"v{rng.randint(0, 3)}.{rng.randint(0, 20)}.{rng.randint(0, 9)}"
        if name in ("workflow_id",):
            return lambda: str(rng.randint(1000, 10**7))
        if name.endswith(("_id", "_number")) or name == "id":
            return lambda: str(rng.randint(1, 10**7))
        return lambda: rng.choice(GITHUB_LABELS)

    def _kubernetes(self, name: str, before: str, final: bool) -> Any:
        rng = self.rng
        if name == "namespace" or (name == "name" and before == "namespaces"):
            return lambda: rng.choice(NAMESPACES)
        if name in ("path", "logpath"):
            return lambda: rng.choice(["healthz", "metrics", "api/v1/status", "kubelet.log"])
        if name != "name":
            return lambda: rng.choice(K8S_APPS)
        app = rng.choice

        def pod() -> str:
            kind = rng.random()
            if kind < 0.6:
                return f"{app(K8S_APPS)}-{k8s_suffix(rng, 10)}-{k8s_suffix(rng, 5)}"
            if kind < 0.8:
                return f"{app(K8S_APPS)}-{rng.randint(0, 4)}"
            return f"{app(K8S_APPS)}-{k8s_suffix(rng, 5)}"

        makers: dict[str, Callable[[], str]] = {
            "pods": pod,
            "replicasets": lambda: f"{app(K8S_APPS)}-{k8s_suffix(rng, 10)}",
            "nodes": lambda: rng.choice(
                ["minikube", "worker-1", "worker-2", f"ip-10-0-{rng.randint(0, 9)}-23.internal"]
            ),
            "events": lambda: f"{pod()}.{hexs(rng, 16)}",
            "persistentvolumes": lambda: (
                f"pvc-{hexs(rng, 8)}-{hexs(rng, 4)}-{hexs(rng, 4)}-{hexs(rng, 4)}-{hexs(rng, 12)}"
            ),
            "secrets": lambda: rng.choice(
                [f"default-token-{k8s_suffix(rng, 5)}", "tls-cert", "db-credentials"]
            ),
            "configmaps": lambda: rng.choice(["kube-root-ca.crt", "coredns", "app-config"]),
            "jobs": lambda: f"backup-{rng.randint(27_000_000, 28_000_000)}",
            "clusterroles": lambda: rng.choice(["admin", "edit", "view", "cluster-admin"]),
            "serviceaccounts": lambda: rng.choice(["default", "builder", "deployer"]),
        }
        return makers.get(before, lambda: app(K8S_APPS))


def fill(op: Op, values: Values) -> str:
    parts = [p for p in op.template.split("/") if p]
    out = []
    for i, part in enumerate(parts):
        before = parts[i - 1] if i else ""
        while "{" in part:
            start = part.index("{")
            end = part.index("}", start)
            name = part[start + 1 : end]
            value = values.value(name, op.params.get(name, {}), before, final=i == len(parts) - 1)
            part = part[:start] + value + part[end + 1 :]
        out.append(part)
    return "/" + "/".join(out)


PROBES = (
    "/.env",
    "/.git/config",
    "/wp-login.php",
    "/phpmyadmin/index.php",
    "/server-status",
    "/actuator/health",
    "/backup.zip",
    "/config.json",
    "/admin/login",
    "/.aws/credentials",
    "/console",
    "/v2/_catalog",
)


@dataclass
class Traffic:
    requests: list[tuple[str, str, int, tuple[str, str] | None]]  # method, path, status, op
    called: dict[tuple[str, str], Op]
    ops: list[Op]


def generate(ops: list[Op], api: str, count: int, seed: int) -> Traffic:
    """Zipf-skewed calls over the operations (in a random order), plus scanner probes."""
    rng = random.Random(f"{seed}:{api}")
    order = ops[:]
    rng.shuffle(order)
    weights = [1.0 / (rank + 1) for rank in range(len(order))]
    values = Values(api, rng)
    requests: list[tuple[str, str, int, tuple[str, str] | None]] = []
    called: dict[tuple[str, str], Op] = {}
    probes = max(5, count // 40)
    prefix = "/" + next((p for p in ops[0].template.split("/") if p), "")
    for op in rng.choices(order, weights, k=count - probes):
        path = fill(op, values)
        status = {"POST": 201, "DELETE": 204}.get(op.method, 200)
        if rng.random() < 0.03:
            status = rng.choice((400, 403, 409))
        requests.append((op.method, path, status, op.key))
        called.setdefault(op.key, op)
    for _ in range(probes):
        path = rng.choice(PROBES)
        if rng.random() < 0.3:
            path = prefix + path
        requests.append((rng.choice(("GET", "POST")), path, 404, None))
    rng.shuffle(requests)
    return Traffic(requests, called, ops)


def write_har(path: Path, host: str, requests: list[tuple[str, str, int, Any]]) -> None:
    entries = []
    start = 1_790_000_000
    for i, (method, rpath, status, _op) in enumerate(requests):
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(start + i))
        entries.append(
            {
                "startedDateTime": f"{stamp}.000Z",
                "time": 1,
                "request": {
                    "method": method,
                    "url": f"https://{host}{rpath}",
                    "httpVersion": "HTTP/1.1",
                    "headers": [{"name": "Host", "value": host}],
                    "queryString": [],
                    "cookies": [],
                    "headersSize": -1,
                    "bodySize": 0,
                },
                "response": {
                    "status": status,
                    "statusText": "",
                    "httpVersion": "HTTP/1.1",
                    "headers": [{"name": "Content-Type", "value": "application/json"}],
                    "cookies": [],
                    "content": {"size": 2, "mimeType": "application/json", "text": "{}"},
                    "redirectURL": "",
                    "headersSize": -1,
                    "bodySize": 2,
                },
                "cache": {},
                "timings": {"send": 0, "wait": 1, "receive": 0},
            }
        )
    path.write_text(
        json.dumps({"log": {"version": "1.2", "creator": {"name": "bench"}, "entries": entries}})
    )


# ------------------------------------------------------------------ scoring


@dataclass
class Score:
    precision: float
    recall: float
    over: int
    under: int
    accuracy: float
    inferred: int
    truth: int
    errors: list[str] = field(default_factory=list)


def score(
    assigned: list[tuple[tuple[str, str] | None, tuple[str, str] | None, str | None]],
    endpoints: set[tuple[str, str]],
    expected: dict[tuple[str, str], str],
) -> Score:
    """``assigned``: per request (truth key, inferred key, inferred status); ``endpoints``: the
    inferred (method, normalised template) set; ``expected``: truth key -> expected status."""
    truth = set(expected)
    right = endpoints & truth
    by_endpoint: dict[tuple[str, str], set[tuple[str, str]]] = defaultdict(set)
    by_truth: dict[tuple[str, str], set[tuple[str, str] | None]] = defaultdict(set)
    statuses: dict[tuple[str, str], set[str | None]] = defaultdict(set)
    for t, inferred, status in assigned:
        if t is None:
            continue
        by_truth[t].add(inferred)
        statuses[t].add(status)
        if inferred is not None:
            by_endpoint[inferred].add(t)
    over = sum(1 for ts in by_endpoint.values() if len(ts) > 1)
    under = sum(1 for es in by_truth.values() if len(es) > 1)
    good = 0
    errors = []
    for t in sorted(truth):
        targets = by_truth.get(t, set())
        ok = targets == {t} and statuses[t] == {expected[t]} and by_endpoint.get(t, set()) == {t}
        good += ok
        if not ok:
            errors.append(
                f"{t[0]} {t[1]} ({expected[t]}): got "
                + ", ".join(f"{e[1] if e else None}" for e in sorted(targets, key=str)[:3])
                + f" {sorted(map(str, statuses[t]))}"
                + (
                    f" shared with {len(by_endpoint.get(t, set())) - 1} other op(s)"
                    if len(by_endpoint.get(t, set())) > 1
                    else ""
                )
            )
    return Score(
        precision=len(right) / len(endpoints) if endpoints else 0.0,
        recall=len(right) / len(truth) if truth else 0.0,
        over=over,
        under=under,
        accuracy=good / len(truth) if truth else 0.0,
        inferred=len(endpoints),
        truth=len(truth),
        errors=errors,
    )


# ------------------------------------------------------------------ ours


def run_ours(
    api: Api, har: Path, traffic: Traffic, spec_file: Path | None, expected: dict[Any, str]
) -> tuple[Score, float]:
    from discovery.analyse.specs import import_spec_file
    from discovery.case.store import Store
    from discovery.ingest.files import ingest_files

    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        with Store.open(Path(tmp) / "case.db") as store:
            if spec_file is not None:
                import_spec_file(store, spec_file, host=api.import_host, validate=False)
            ingest_files(store, [har])
            elapsed = time.perf_counter() - started
            rows = store.conn.execute(
                "SELECT e.method, e.path, ep.method, ep.template, ep.status FROM exchanges e "
                "LEFT JOIN endpoints ep ON ep.id = e.endpoint_id WHERE e.host = ?",
                (api.host,),
            ).fetchall()
            endpoints = {
                (m, norm(t))
                for m, t in store.conn.execute(
                    "SELECT method, template FROM endpoints WHERE host = ? AND status != 'orphan'",
                    (api.host,),
                )
            }
    truth_of = {(m, p): t for m, p, _s, t in traffic.requests}
    assigned = [
        (truth_of.get((m, p)), (em, norm(et)) if et is not None else None, status)
        for m, p, em, et, status in rows
    ]
    return score(assigned, endpoints, expected), elapsed


# ------------------------------------------------------------------ mitmproxy2swagger


def peer_env(cache: Path) -> Path:
    """mitmproxy2swagger in its own virtual environment (created once, from PyPI)."""
    venv = cache / "mitmproxy2swagger-venv"
    exe = venv / "bin" / "mitmproxy2swagger"
    if exe.exists():
        return exe
    print(f"installing mitmproxy2swagger into {venv} …", file=sys.stderr)
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    subprocess.run(
        [str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", "mitmproxy2swagger"],
        check=True,
        timeout=1200,
    )
    return exe


def _m2s_regex(template: str) -> re.Pattern[str]:
    # the tool's own path_to_regex
    pattern = re.escape(template).replace(r"\{", "(?P<").replace(r"\}", ">[^/]+)")
    pattern = pattern.replace(r"\*", ".*")
    return re.compile("^" + pattern + "$")


def run_peer(
    exe: Path,
    api: Api,
    har: Path,
    traffic: Traffic,
    base: str,
    regex: str | None,
    documented: dict[tuple[str, str], bool] | None,
    expected: dict[Any, str],
) -> tuple[Score, float]:
    prefix = f"https://{api.host}{base}"
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "spec.yml"
        cmd = [str(exe), "-i", str(har), "-o", str(out), "-p", prefix, "-f", "har"]
        if regex is not None:
            cmd += ["-r", regex]
        started = time.perf_counter()
        subprocess.run(cmd, check=True, capture_output=True, cwd=tmp, timeout=1200)
        text = out.read_text()
        out.write_text(text.replace("- ignore:", "- "))  # every suggestion accepted
        accepted = yaml.safe_load(out.read_text())
        order = list(accepted.get("paths") or {}) + list(accepted.get("x-path-templates") or [])
        subprocess.run(cmd, check=True, capture_output=True, cwd=tmp, timeout=1200)
        elapsed = time.perf_counter() - started
        result = yaml.safe_load(out.read_text())
    paths = result.get("paths") or {}
    endpoints = {
        (m.upper(), norm(base + t))
        for t, item in paths.items()
        for m in (item or {})
        if m in METHODS
    }
    compiled = [(t, _m2s_regex(t)) for t in order]

    def status_of(key: tuple[str, str]) -> str:
        if documented is None or key not in documented:
            return "shadow"
        return "zombie" if documented[key] else "documented"

    assigned = []
    memo: dict[str, str | None] = {}
    for method, rpath, _status, t in traffic.requests:
        rel = rpath[len(base) :] if rpath.startswith(base) else None
        if rel is None:
            assigned.append((t, None, None))
            continue
        if rel not in memo:
            memo[rel] = next((tp for tp, rx in compiled if rx.match(rel)), None)
        found = memo[rel]
        key = (method, norm(base + found)) if found is not None else None
        assigned.append((t, key, status_of(key) if key else None))
    return score(assigned, endpoints, expected), elapsed


# ------------------------------------------------------------------ main


def corpus_dir(given: str | None) -> Path:
    return Path(given or os.environ.get("IR_CONSOLE_CORPUS") or "/work/shared/corpus")


def choose(
    called: dict[tuple[str, str], Op], share: float, rng: random.Random, avoid: set[Any]
) -> set[tuple[str, str]]:
    keys = sorted(k for k in called if k not in avoid)
    picked = rng.sample(keys, round(share * len(called)))
    return {(called[k].method, called[k].raw_path) for k in picked}


def line(name: str, s: Score, extra: str = "") -> str:
    return (
        f"  {name:<24} precision {s.precision:5.2f}  recall {s.recall:5.2f}  "
        f"over-merges {s.over:3d}  under-merges {s.under:3d}  accuracy {s.accuracy:5.2f}  "
        f"({s.inferred} endpoints, {s.truth} called operations){extra}"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", help="the corpus folder (holding specs/)")
    parser.add_argument("--requests", type=int, default=1200, help="requests per API")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--api", action="append", help="only these APIs (repeatable)")
    parser.add_argument("--no-peer", action="store_true", help="skip mitmproxy2swagger")
    parser.add_argument("--show-errors", type=int, default=0, help="wrong operations listed")
    parser.add_argument(
        "--cache",
        default=os.environ.get("XDG_CACHE_HOME", str(Path.home() / ".cache")),
        help="where mitmproxy2swagger's environment is kept",
    )
    args = parser.parse_args()
    specs = corpus_dir(args.corpus) / "specs"
    if not specs.is_dir():
        print(
            f"bench_templating_real: the corpus is not at {specs} (give --corpus DIR or "
            "IR_CONSOLE_CORPUS): nothing to measure",
            file=sys.stderr,
        )
        return 2
    exe = None if args.no_peer else peer_env(Path(args.cache) / "ir-console-bench")
    summary: list[tuple[str, str, Score]] = []
    for api in APIS:
        if args.api and api.name not in args.api:
            continue
        spec_path = specs / api.file
        if not spec_path.is_file():
            print(f"bench_templating_real: {spec_path} is missing", file=sys.stderr)
            return 2
        doc = load_document(spec_path)
        ops = operations(doc, api.host)
        traffic = generate(ops, api.name, args.requests, args.seed)
        rng = random.Random(f"{args.seed}:{api.name}:spec")
        deleted = choose(traffic.called, 0.2, rng, set())
        deleted_keys = {
            k for k, op in traffic.called.items() if (op.method, op.raw_path) in deleted
        }
        deprecated = choose(traffic.called, 0.1, rng, deleted_keys)
        changed = modified_spec(doc, deleted, deprecated)
        documented: dict[tuple[str, str], bool] = {}
        for op in operations(changed, api.host):
            documented[op.key] = documented.get(op.key, False) or op.deprecated
        without = {k: "shadow" for k in traffic.called}
        with_spec = {
            k: ("shadow" if k not in documented else "zombie" if documented[k] else "documented")
            for k in traffic.called
        }
        single = sum(1 for c in Counter(t for *_r, t in traffic.requests).values() if c == 1)
        base = base_path(doc)
        print(
            f"{api.name}: {len(ops)} operations, {len(traffic.requests)} requests, "
            f"{len(traffic.called)} operations called ({single} once), "
            f"{sum(1 for r in traffic.requests if r[3] is None)} scanner probes; with the spec: "
            f"{len(deleted)} deleted, {len(deprecated)} deprecated"
        )
        with tempfile.TemporaryDirectory() as tmp:
            har = Path(tmp) / f"{api.name}.har"
            write_har(har, api.host, traffic.requests)
            changed_file = Path(tmp) / f"{api.name}-changed.json"
            changed_file.write_text(json.dumps(changed))
            ours_plain, t1 = run_ours(api, har, traffic, None, without)
            ours_spec, t2 = run_ours(api, har, traffic, changed_file, with_spec)
            print(line("ours, no spec", ours_plain, f" {t1:.1f} s"))
            print(line("ours, with the spec", ours_spec, f" {t2:.1f} s"))
            summary += [
                (api.name, "ours, no spec", ours_plain),
                (api.name, "ours, spec", ours_spec),
            ]
            for label, s in (("no spec", ours_plain), ("with spec", ours_spec)):
                for err in s.errors[: args.show_errors]:
                    print(f"    wrong ({label}): {err}")
            if exe is not None:
                for label, regex in (("default", None), ("generic id regex", GENERIC_ID_REGEX)):
                    plain, t3 = run_peer(exe, api, har, traffic, base, regex, None, without)
                    spec, _ = run_peer(exe, api, har, traffic, base, regex, documented, with_spec)
                    print(line(f"m2s {label}, no spec", plain, f" {t3:.1f} s"))
                    print(line(f"m2s {label}, spec diff", spec))
                    summary += [(api.name, f"m2s {label}", plain)]
    print("\nsummary (no spec): precision / recall; with the spec: accuracy")
    for name, tool, s in summary:
        print(f"  {name:<11} {tool:<24} {s.precision:.2f} / {s.recall:.2f}   {s.accuracy:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
