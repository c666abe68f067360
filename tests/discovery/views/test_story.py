"""A subject's story, one exchange in full, and activity over time (discovery.views.story,
exchange, timeline), on the small hand-built case with known answers (tests/discovery/casebuilder)
and on the demo case built from its real capture."""

from __future__ import annotations

import dataclasses
import shlex
from pathlib import Path

import pytest

from discovery.case import blocklist
from discovery.case.store import Store
from discovery.views import exchange, story, timeline
from discovery.views.page import Sort
from discovery.views.queries import credential_page, endpoint_page
from tests.conftest import make_exchange, make_sighting
from tests.discovery.casebuilder import (
    ADMIN,
    EXPORT,
    JWT_IDENTITY,
    USERS,
    SmallCase,
    build_small_case,
)


@pytest.fixture
def small(store: Store) -> SmallCase:
    return build_small_case(store)


def test_credential_story_counts_each_source_and_endpoint_with_marks(
    store: Store, small: SmallCase
) -> None:
    told = story.story(store, "credential", small.a)
    assert told is not None
    assert (told.totals.requests, told.totals.successes, told.totals.refusals) == (3, 3, 0)
    assert [(s.source, s.requests, s.endpoints) for s in told.sources] == [("10.0.0.5", 3, 2)]
    assert told.sources[0].user_agents == ("curl/8",)
    reached = {r.key: r for r in told.reach}
    assert reached[USERS].requests == 2 and reached[USERS].marks == ()
    # /internal/export: shadow, an administrative path word, email addresses in responses
    assert reached[EXPORT].marks == ("shadow", "privileged", "sensitive")
    assert told.facts["identity"] == JWT_IDENTITY
    assert [x.path for x in told.exchanges.rows] == [
        "/v1/users/1",
        "/v1/users/2",
        "/internal/export",
    ]


def test_refusals_are_counted_per_source_and_lane(store: Store, small: SmallCase) -> None:
    told = story.story(store, "credential", small.c)
    assert told is not None and told.timeline is not None
    assert (told.totals.successes, told.totals.refusals) == (1, 1)
    assert (told.sources[0].successes, told.sources[0].refusals) == (1, 1)
    (lane,) = told.timeline.lanes
    assert (sum(lane.ok), sum(lane.refused)) == (1, 1)
    # the refused request (403, the later one) is in a later bucket than the success
    assert lane.refused.index(1) > lane.ok.index(1)
    assert "zombie" in {m for r in told.reach for m in r.marks}
    assert {r.key: r.marks for r in told.reach}[ADMIN] == ("zombie", "privileged")


def test_identity_story_gathers_its_credentials_sources(store: Store, small: SmallCase) -> None:
    told = story.story(store, "identity", JWT_IDENTITY)
    assert told is not None
    assert told.totals.requests == 4
    assert {s.source: s.requests for s in told.sources} == {"10.0.0.5": 3, "10.0.0.6": 1}
    assert set(told.facts["credentials"]) == {small.a, small.b}
    assert told.facts["registered"] is True


def test_endpoint_story_says_who_calls_it_from_where(store: Store, small: SmallCase) -> None:
    told = story.story(store, "endpoint", EXPORT)
    assert told is not None
    assert told.totals.requests == 2
    assert [(s.source, s.requests) for s in told.sources] == [("10.0.0.5", 2)]
    assert told.facts["privileged"] is True and told.facts["sensitive"] == {"email": 5}


def test_client_story_lists_the_credentials_it_presented(store: Store, small: SmallCase) -> None:
    told = story.story(store, "client", "10.0.0.5")
    assert told is not None
    assert {s.source: s.requests for s in told.sources} == {small.a: 3, small.d: 1}
    assert told.timeline is not None
    assert {lane.label for lane in told.timeline.lanes} == {small.a, small.d}
    anonymous = story.story(store, "client", "10.0.0.9")
    assert anonymous is not None
    assert [(s.source, s.refusals) for s in anonymous.sources] == [("-", 1)]


def test_unknown_subjects_have_no_story(store: Store, small: SmallCase) -> None:
    assert story.story(store, "credential", "c-000000000000") is None
    assert story.story(store, "endpoint", "api.example.com GET /nowhere") is None
    assert story.story(store, "client", "192.0.2.1") is None
    assert story.story(store, "finding", "x") is None


def test_exchange_pages_follow_time_and_filter_in_the_cli_words(
    store: Store, small: SmallCase
) -> None:
    scope = story.scope_for(store, "client", "10.0.0.5")
    assert scope is not None
    first = story.exchange_page(store, scope, limit=2)
    assert first.total == 4 and [x.path for x in first.rows] == ["/v1/users/1", "/v1/users/2"]
    last = first.rows[-1]
    rest = story.exchange_page(store, scope, after=(last.ts, last.id), limit=2)
    assert [x.path for x in rest.rows] == ["/internal/export", "/internal/export"]
    everyone = story.scope_for(store, "host", "api.example.com")
    assert everyone is not None
    refused = story.exchange_page(store, everyone, text="status:>=400")
    assert sorted(x.status for x in refused.rows) == [401, 403]
    assert story.exchange_page(store, everyone, text="-status:>=400 -path:internal").total == 3
    newest = story.exchange_page(store, everyone, order="status", descending=True, limit=1)
    assert newest.rows[0].status == 403


def test_a_block_is_marked_and_later_requests_fall_in_the_refused_lane(
    store: Store, small: SmallCase
) -> None:
    blocklist.block_credential(store, small.d, "leaked")
    blocked_at = float(
        store.conn.execute("SELECT ts FROM audit_log WHERE action = 'block.credential'").fetchone()[
            0
        ]
    )
    # the proxy refuses the credential after the block (as the addon records it)
    sighting = make_sighting(store, "api-key-dddddddddddddd", kind="api_key", redacted="…dddd")
    store.add_exchanges(
        [
            make_exchange(
                ts=blocked_at + 1.0,
                client_ip="10.0.0.66",
                host="api.example.com",
                path="/internal/export",
                raw_path="/internal/export",
                status=403,
                blocked=True,
                source="proxy",
                credentials=(sighting,),
            )
        ]
    )
    told = story.story(store, "credential", small.d)
    assert told is not None and told.timeline is not None
    assert [m.what for m in told.timeline.markers] == ["block"]
    assert told.facts["blocked_at"] == pytest.approx(blocked_at)
    lanes = {lane.label: lane for lane in told.timeline.lanes}
    assert sum(lanes["10.0.0.66"].refused) == 1 and sum(lanes["10.0.0.66"].ok) == 0
    marked = told.timeline.bucket_of(blocked_at)
    assert lanes["10.0.0.66"].refused.index(1) >= marked
    assert sum(lanes["10.0.0.5"].ok[marked + 1 :]) == 0  # the old use is before the block


def test_exchange_detail_rebuilds_the_request_with_redacted_credentials(
    store: Store, small: SmallCase
) -> None:
    row = store.conn.execute(
        "SELECT exchange_id FROM exchange_credentials WHERE credential_id = ?", (small.c,)
    ).fetchone()
    detail = exchange.exchange_detail(store, row[0])
    assert detail is not None
    request = "\n".join(detail.request_lines())
    assert "Authorization: AKIA…MPLE" in request
    assert "aws-secret-cccccccccccc" not in request
    assert detail.endpoint is not None and detail.credentials[0].credential_id == small.c
    assert exchange.exchange_detail(store, 10**9) is None


def test_extraction_commands_name_exactly_the_exchange_frames(
    store: Store, small: SmallCase
) -> None:
    detail = exchange.exchange_detail(store, 1)
    assert detail is not None
    live = exchange.extraction(detail)
    assert live.command is None and "no input file" in live.note
    in_pcap = dataclasses.replace(
        detail,
        input_path="/cases/it's here.pcap",
        input_format="pcap",
        evidence="frames 78-82",
        client_ip="10.0.0.5",
        client_port=50000,
        server_ip="10.0.0.1",
        server_port=80,
    )
    made = exchange.extraction(in_pcap)
    assert made.command is not None and made.alternative is not None
    argv = shlex.split(made.command)  # quoted for a shell: the path is one argument
    assert argv[:3] == ["tshark", "-r", "/cases/it's here.pcap"]
    assert "frame.number >= 78 && frame.number <= 82" in argv[4]
    assert "tcp.port == 50000" in argv[4] and argv[-1] == f"exchange-{detail.id}.pcap"
    assert shlex.split(made.alternative)[-1] == "78-82"
    har = exchange.extraction(
        dataclasses.replace(detail, input_path="x.har", input_format="har", evidence="entry 7")
    )
    assert har.command == "jq '.log.entries[7]' x.har"


def test_case_timeline_counts_every_exchange_and_marks_milestones(
    store: Store, small: SmallCase
) -> None:
    case = timeline.case_timeline(store, buckets=10)
    assert case is not None
    assert sum(case.timeline.lanes[0].ok) == 8
    whats = [m.what for m in case.milestones]
    assert whats[0] == "first sighting" and whats[-1] == "last use"
    assert "first shadow call" in whats


def test_bars_show_a_single_request_and_share_one_scale() -> None:
    assert timeline.bars([0, 1, 50, 100], 100) == " ▁▄█"
    assert timeline.bars([0, 0], 0) == "  "


def test_sorting_by_a_column_and_refusing_an_unknown_one(store: Store, small: SmallCase) -> None:
    busiest = endpoint_page(store, sort=Sort("requests", descending=True))
    assert busiest.rows[0].requests == max(r.requests for r in busiest.rows)
    by_kind = credential_page(store, sort=Sort("kind"))
    assert [r.kind for r in by_kind.rows] == sorted(r.kind for r in by_kind.rows)
    with pytest.raises(ValueError, match="cannot sort"):
        endpoint_page(store, sort=Sort("nope; DROP TABLE endpoints"))


def test_filter_alternatives_negation_and_numbers(store: Store, small: SmallCase) -> None:
    def statuses(text: str) -> list[str]:
        return sorted(r.status for r in endpoint_page(store, text=text).rows)

    assert statuses("status:shadow,zombie") == ["shadow", "zombie"]
    assert statuses("-status:documented") == ["orphan", "shadow", "zombie"]
    assert statuses("!status:documented status:shadow,zombie") == ["shadow", "zombie"]
    assert statuses("requests:>2") == ["documented"]  # GET /v1/users/{id}: 4 requests
    assert statuses("requests:>1") == ["documented", "shadow"]  # /internal/export: 2
    assert statuses("requests:0") == ["orphan"]
    assert statuses("requests:>=1 -host:billing") == ["documented", "shadow", "zombie"]


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from ir_console.commands.demo import build_demo_case

    path = tmp_path_factory.mktemp("demo") / "demo-case.db"
    build_demo_case(path)
    return path


def test_the_demo_leaked_key_shows_its_second_address_later_and_at_admin_routes(
    demo: Path,
) -> None:
    with Store.open(demo, create=False) as store:
        leaked = next(r for r in credential_page(store).rows if r.identity == "reg:partner-globex")
        told = story.story(store, "credential", leaked.id)
        assert told is not None and told.timeline is not None
        assert told.source_count == 2
        partner, other = sorted(told.sources, key=lambda s: s.first_seen or 0)
        assert other.first_seen is not None and partner.first_seen is not None
        assert other.first_seen - partner.first_seen > 1.0  # the second address starts later
        admin = [r for r in told.reach if "privileged" in r.marks]
        assert len(admin) == 2  # two admin routes
        assert {lane.label for lane in told.timeline.lanes} == {partner.source, other.source}
        # the lanes read in order of arrival: the partner first
        assert told.timeline.lanes[0].label == partner.source
        one = exchange.exchange_detail(store, told.exchanges.rows[0].id)
        assert one is not None and one.input_format == "pcap"
        made = exchange.extraction(one)
        assert made.command is not None and made.command.startswith("tshark -r ")


# ---------------------------------------------------------------- the one pass against an oracle


def _random_case(store: Store, seed: int) -> dict[str, list[str]]:
    """Exchanges with random clients, credentials (none, one or two a request), endpoints,
    outcomes, agents, fingerprints and times (ties included), endpoints assigned by SQL."""
    import random

    rng = random.Random(seed)
    secrets = [f"api-key-{seed}-{n:02d}-{'x' * 12}" for n in range(4)]
    sightings = [make_sighting(store, s) for s in secrets]
    clients = [f"10.1.0.{n}" for n in range(12)] + [None]
    exchanges = []
    for _n in range(300):
        carried = rng.choice([(), (0,), (1,), (2,), (3,), (0, 1), (2, 3)])
        status = rng.choice([200, 201, 302, 401, 403, 404, 500, None])
        exchanges.append(
            make_exchange(
                ts=1_790_000_000.0 + rng.randrange(0, 400) * rng.choice([0.5, 1.0, 7.0]),
                client_ip=rng.choice(clients),
                host=rng.choice(["api.example.com", "billing.example.com"]),
                path=f"/v1/r{rng.randrange(6)}",
                raw_path=f"/v1/r{rng.randrange(6)}",
                status=status,
                blocked=rng.random() < 0.1,
                user_agent=rng.choice(["curl/8", "httpx", "go-http", "", None]),
                ja4=rng.choice([None, "t13d1516h2_8daaf6152771_b0da82dd1658", "t13d_x"]),
                credentials=tuple(sightings[i] for i in carried),
            )
        )
    store.add_exchanges(exchanges)
    with store.transaction() as conn:
        for n in range(6):
            conn.execute(
                "INSERT INTO endpoints(host, method, template, status) VALUES (?, 'GET', ?, ?)",
                ("api.example.com", f"/v1/r{n}", ("documented", "shadow", "zombie")[n % 3]),
            )
        conn.execute(
            "UPDATE exchanges SET endpoint_id = (SELECT id FROM endpoints ep "
            "WHERE ep.template = exchanges.path) WHERE host = 'api.example.com'"
        )
    credential_ids = sorted(
        r[0] for r in store.conn.execute("SELECT DISTINCT credential_id FROM exchange_credentials")
    )
    return {
        "credential": credential_ids,
        "client": [c for c in clients if c],
        "host": ["api.example.com", "billing.example.com"],
    }


def _oracle(store: Store, kind: str, subject: str, buckets: int) -> dict[str, object]:
    """The page's counts the slow way: every exchange of the subject read into Python."""
    rows = store.conn.execute(
        "SELECT id, ts, client_ip, endpoint_id, status, blocked, user_agent, ja4 FROM exchanges"
    ).fetchall()
    carried: dict[int, list[str]] = {}
    for exchange_id, credential in store.conn.execute(
        "SELECT exchange_id, credential_id FROM exchange_credentials"
    ):
        if credential not in carried.setdefault(exchange_id, []):
            carried[exchange_id].append(credential)
    host_of = dict(store.conn.execute("SELECT id, host FROM exchanges").fetchall())

    def belongs(r: tuple[object, ...]) -> bool:
        if kind == "credential":
            return subject in carried.get(int(r[0]), [])  # type: ignore[call-overload]
        if kind == "client":
            return r[2] == subject
        return host_of[r[0]] == subject

    mine = [r for r in rows if belongs(r)]

    def ok(r: tuple[object, ...]) -> int:
        return int(not r[5] and r[4] is not None and 200 <= r[4] <= 399)  # type: ignore[operator]

    def refused(r: tuple[object, ...]) -> int:
        return int(bool(r[5]) or (r[4] is not None and r[4] >= 400))  # type: ignore[operator]

    def sources_of(r: tuple[object, ...]) -> list[str]:
        if kind == "client":
            return carried.get(int(r[0]), []) or ["-"]  # type: ignore[call-overload]
        return [str(r[2]) if r[2] is not None else "-"]

    per: dict[str, list[tuple[object, ...]]] = {}
    for r in mine:
        for source in sources_of(r):
            per.setdefault(source, []).append(r)
    ranked = sorted(per, key=lambda s: (-len(per[s]), s))[: story.SOURCES]
    sources = []
    for s in ranked:
        group = per[s]
        agents: dict[str, int] = {}
        for r in group:
            if r[6]:
                agents[str(r[6])] = agents.get(str(r[6]), 0) + 1
        sources.append(
            (
                s,
                len(group),
                sum(map(ok, group)),
                sum(map(refused, group)),
                min(r[1] for r in group),  # type: ignore[type-var]
                max(r[1] for r in group),  # type: ignore[type-var]
                len({r[3] for r in group if r[3] is not None}),
                tuple(sorted(agents, key=lambda a: (-agents[a], a))[: story.AGENTS]),
            )
        )
    reach: dict[int, list[tuple[object, ...]]] = {}
    for r in mine:
        if r[3] is not None:
            reach.setdefault(int(r[3]), []).append(r)  # type: ignore[call-overload]
    reached = sorted(reach, key=lambda e: (-len(reach[e]), e))[: story.REACH]
    lanes: dict[str, tuple[list[int], list[int]]] = {}
    if mine:
        start = min(r[1] for r in mine)  # type: ignore[type-var]
        end = max(r[1] for r in mine)  # type: ignore[type-var]
        width = timeline.bucket_width(start, end, buckets)  # type: ignore[arg-type]
        first = sorted(sources, key=lambda s: (s[4], s[0]))
        drawn = [s[0] for s in (first[:7] if len(first) > 8 else first)]
        for label in (*drawn, timeline.OTHERS):
            lanes[label] = ([0] * buckets, [0] * buckets)
        for r in mine:
            lead = sorted(sources_of(r))[0]
            label = lead if lead in drawn else timeline.OTHERS
            b = min(max(int((r[1] - start) / width), 0), buckets - 1)  # type: ignore[operator]
            lanes[label][0][b] += ok(r)
            lanes[label][1][b] += refused(r)
        if not any(map(any, lanes[timeline.OTHERS])):
            del lanes[timeline.OTHERS]
    first_ids = [int(r[0]) for r in sorted(mine, key=lambda r: (r[1], r[0]))[: story.EXCHANGES]]  # type: ignore[call-overload]
    return {
        "totals": (len(mine), sum(map(ok, mine)), sum(map(refused, mine))),
        "source_count": len(per),
        "sources": sources,
        "reach_count": len(reach),
        "reach": [
            (e, len(reach[e]), sum(map(ok, reach[e])), sum(map(refused, reach[e]))) for e in reached
        ],
        "lanes": {k: (tuple(v[0]), tuple(v[1])) for k, v in lanes.items()},
        "first": first_ids,
    }


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_the_one_pass_counts_what_reading_every_exchange_counts(
    store: Store, seed: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    # small bounds, so that every limit of the page is reached (and "(others)" drawn)
    monkeypatch.setattr(story, "SOURCES", 9)
    monkeypatch.setattr(story, "AGENTS", 2)
    monkeypatch.setattr(story, "REACH", 4)
    monkeypatch.setattr(story, "EXCHANGES", 7)
    subjects = _random_case(store, seed)
    checked_others = False
    for kind, names in subjects.items():
        for name in names:
            told = story.story(store, kind, name, buckets=13)
            assert told is not None
            want = _oracle(store, kind, name, 13)
            got_totals = (told.totals.requests, told.totals.successes, told.totals.refusals)
            assert got_totals == want["totals"], (kind, name)
            assert told.source_count == want["source_count"]
            got_sources = [
                (
                    s.source,
                    s.requests,
                    s.successes,
                    s.refusals,
                    s.first_seen,
                    s.last_seen,
                    s.endpoints,
                    s.user_agents,
                )
                for s in told.sources
            ]
            assert got_sources == want["sources"], (kind, name)
            assert told.reach_count == want["reach_count"]
            got_reach = [(r.endpoint_id, r.requests, r.successes, r.refusals) for r in told.reach]
            assert got_reach == want["reach"], (kind, name)
            assert told.timeline is not None
            got_lanes = {lane.label: (lane.ok, lane.refused) for lane in told.timeline.lanes}
            assert got_lanes == want["lanes"], (kind, name)
            checked_others |= timeline.OTHERS in got_lanes
            assert [x.id for x in told.exchanges.rows] == want["first"]
            assert told.exchanges.total == told.totals.requests
    assert checked_others  # a subject with more sources than lanes was drawn


def test_every_exchange_order_matches_a_sort_of_all_the_rows(store: Store) -> None:
    _random_case(store, 4)
    scope = story.scope_for(store, "host", "api.example.com")
    assert scope is not None
    rows = [
        dict(zip(("id", "ts", "status", "client", "method", "path", "agent"), r, strict=True))
        for r in store.conn.execute(
            "SELECT id, ts, status, client_ip, method, path, user_agent FROM exchanges "
            "WHERE host = 'api.example.com'"
        )
    ]
    for order in ("status", "client", "path", "agent", "id"):
        for descending in (False, True):
            want = sorted(rows, key=lambda r: (r["ts"], r["id"]))
            # SQLite: NULL is the least value (first ascending, last descending)
            want.sort(
                key=lambda r: (r[order] is not None, r[order] if r[order] is not None else 0),
                reverse=descending,
            )
            page = story.exchange_page(store, scope, order=order, descending=descending, limit=25)
            assert [x.id for x in page.rows] == [r["id"] for r in want[:25]], (order, descending)
            assert page.total == len(rows)
    # a new order of the same rows keeps the count it is given instead of counting again
    again = story.exchange_page(store, scope, order="client", limit=25, total=-1)
    assert again.total == -1
    with pytest.raises(ValueError, match="cannot sort"):
        story.exchange_page(store, scope, order="evidence; DROP TABLE exchanges")


def plan_of(store: Store, sql: str, args: tuple[object, ...]) -> list[str]:
    return [str(r[3]) for r in store.conn.execute(f"EXPLAIN QUERY PLAN {sql}", args)]


def test_a_clients_page_reads_its_exchanges_through_the_client_index(store: Store) -> None:
    """A client address's page (the one pass of its counts, and its pages of exchanges in
    any order) looks its exchanges up in the client index, never scans every exchange of the
    case, and finds exactly its own, in time order."""
    clients = ["10.9.0.1", "10.9.0.2", "10.9.0.3"]
    store.add_exchanges(
        [
            make_exchange(
                ts=1_790_000_000.0 + (n * 7919 % 600),  # times out of insertion order
                client_ip=clients[n % 3],
                host="api.example.com",
                path=f"/v1/items/{n}",
                raw_path=f"/v1/items/{n}",
                status=200 if n % 4 else 404,
            )
            for n in range(600)
        ]
    )
    scope = story.scope_for(store, "client", "10.9.0.2")
    assert scope is not None
    for sql in (story._summary_sql(scope, 60), "SELECT 1 FROM exchanges e WHERE " + scope.sql):
        plan = plan_of(store, sql, scope.args)
        assert any("USING INDEX exchanges_client (client_ip=?)" in p for p in plan) or any(
            "USING COVERING INDEX exchanges_client (client_ip=?)" in p for p in plan
        ), plan
        assert not any(p.startswith("SCAN e") for p in plan), plan
    # the page's rows: the client's own, in time order, paged by (time, id)
    own = store.conn.execute(
        "SELECT id, ts FROM exchanges WHERE client_ip = '10.9.0.2' ORDER BY ts, id"
    ).fetchall()
    told = story.story(store, "client", "10.9.0.2")
    assert told is not None and told.totals.requests == 200 == len(own)
    assert [x.id for x in told.exchanges.rows] == [i for i, _ in own[: story.EXCHANGES]]
    first = story.exchange_page(store, scope, limit=150)
    rest = story.exchange_page(store, scope, after=(first.rows[-1].ts, first.rows[-1].id))
    assert [x.id for x in (*first.rows, *rest.rows)] == [i for i, _ in own]
    assert first.total == 200 and {x.client_ip for x in rest.rows} == {"10.9.0.2"}
    by_status = story.exchange_page(store, scope, order="status", descending=True)
    assert [x.status for x in by_status.rows][:50] == [404] * 50
    assert {x.client_ip for x in by_status.rows} == {"10.9.0.2"}
    # the statement choosing a page's ids searches the index (as exchange_page builds it)
    chosen = f"SELECT e.id FROM exchanges e WHERE {scope.sql} ORDER BY e.ts, e.id LIMIT 100"
    plan = plan_of(store, chosen, scope.args)
    assert plan == ["SEARCH e USING COVERING INDEX exchanges_client (client_ip=?)"], plan
