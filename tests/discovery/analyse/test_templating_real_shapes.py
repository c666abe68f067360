"""Each templating rule on traffic generated from real APIs' routes (``real_routes``: the corpus
descriptions of Stripe, GitHub, Kubernetes and Petstore, the public references of Twilio, Slack,
Spotify and Xero) with values made by each provider's documented id format, Zipf-skewed call
counts and single calls: every request must land on its route's template (parameter names
aside), over several seeds. Nothing here is tuned to one seed or one value."""

from __future__ import annotations

import random
import string

import pytest

from discovery.analyse.templating import HostTemplater, classify_segment
from tests.discovery.analyse import real_routes as real

SEEDS = (1, 2, 3)


def wrong(routes: list[tuple[str, str]], requests: int, seed: int) -> dict[str, set[str]]:
    """Routes whose requests did not all land on the route's template: route -> what they got
    (also a template that took several routes' requests)."""
    calls = real.traffic(routes, requests, seed)
    templater = HostTemplater("api.example.com")
    for method, path, _route in calls:
        templater.add(path, 1, method)
    templater.finish()
    got: dict[str, set[str]] = {}
    routes_of: dict[str, set[str]] = {}
    for method, path, route in calls:
        shape = f"{method} {real.shape(templater.template(path))}"
        got.setdefault(f"{method} {route}", set()).add(shape)
        routes_of.setdefault(shape, set()).add(f"{method} {route}")
    return {
        route: shapes
        for route, shapes in got.items()
        if shapes != {route} or len(routes_of[route]) > 1
    }


# ------------------------------------------------------------------ typed values


def test_no_literal_of_the_real_descriptions_is_typed_as_a_value() -> None:
    """Resource names, actions, versions and API groups of four large descriptions, and every
    literal of the other providers' routes, stay literal on their own value."""
    others = {
        part
        for routes in (real.TWILIO, real.SLACK, real.SPOTIFY, real.XERO)
        for _m, template in routes
        for part in template.split("/")
        if part and "{" not in part
    }
    typed = {
        v: classify_segment(v).rule
        for v in (*real.SPEC_LITERALS, *others)
        if classify_segment(v).param is not None and classify_segment(v).rule != "date"
    }
    assert typed == {}


@pytest.mark.parametrize(
    ("kind", "template"),
    [
        *[(f"stripe-{p}", "{id}") for p in ("cus", "pi", "sub_sched", "txn", "acct", "evt")],
        *[(sid, "{sid}") for sid in ("AC", "SM", "CA", "PN", "SK")],
        ("spotify", "{id}"),
        ("sha", "{hash}"),
        ("hex32", "{hash}"),
        ("uuid", "{uuid}"),
        ("k8s-pod", "{name}"),
        ("k8s-rs", "{name}"),
        ("int", "{id}"),
    ],
)
def test_documented_id_formats_are_typed(kind: str, template: str) -> None:
    """Provider-style ids by their documented formats, 300 random ones each: typed on their
    own value, so they never depend on how many were seen (a Twilio SID keeps its .json)."""
    make = real.maker(kind, random.Random(kind))
    values = {make() for _ in range(300)}
    missed = {v for v in values if classify_segment(v).template != template}
    assert missed == set(), sorted(missed)[:5]
    suffixed = {classify_segment(v + ".json").template for v in list(values)[:20]}
    if kind in ("AC", "SM", "CA", "PN", "SK", "int", "uuid"):
        assert suffixed == {template + ".json"}


def test_a_lone_generated_suffix_needs_a_digit_and_structure_does_the_rest() -> None:
    """``web-token-x7k2m`` is typed on its own; ``web-token-dczng`` has the shape of a word
    with a vowel-less end (``nginx-https``), so only its siblings tell (the Kubernetes test
    below: secrets named both ways are one parameter)."""
    make = real.maker("k8s-secret", random.Random(5))
    values = {make() for _ in range(300)}
    typed = {v for v in values if classify_segment(v).template == "{name}"}
    assert typed == {v for v in values if any(c.isdigit() for c in v)}
    assert classify_segment("nginx-https").param is None


def test_letters_only_random_ids_are_not_camel_case_words() -> None:
    """A 22-character base62 id without a digit can read as camelCase by chance
    (``NnGmSdnMyuwQyXcRzfkFjw``): a random id still, while real camelCase names stay words."""
    rng = random.Random(22)
    ids = ["".join(rng.choice(string.ascii_letters) for _ in range(22)) for _ in range(2000)]
    typed = sum(classify_segment(v).param is not None for v in ids)
    assert typed >= 0.97 * len(ids)
    for word in ("createWithList", "lookupByEmail", "IncomingPhoneNumbers", "ProfitAndLoss"):
        assert classify_segment(word).param is None


# ------------------------------------------------------------------ each API's rules


@pytest.mark.parametrize("seed", SEEDS)
def test_stripe_resource_names_stay_apart_and_never_pool_their_subtrees(seed: int) -> None:
    """43 resource names under /v1 (beyond any count threshold), each with its own prefixed
    ids, actions beside ids (search) and a customer subtree: no name merges, no level below
    collapses."""
    assert wrong(real.STRIPE, 1500, seed) == {}


@pytest.mark.parametrize("seed", SEEDS)
def test_slack_method_names_stay_literal(seed: int) -> None:
    """46 dotted method names under /api, many called once: each its own endpoint."""
    assert wrong(real.SLACK, 400, seed) == {}


@pytest.mark.parametrize("seed", SEEDS)
def test_twilio_dated_version_sids_with_suffix_and_country_codes(seed: int) -> None:
    """/2010-04-01/ stays a literal, SIDs are {sid}.json with the suffix kept, country codes
    under AvailablePhoneNumbers are values even called once."""
    assert wrong(real.TWILIO, 600, seed) == {}


@pytest.mark.parametrize("seed", SEEDS)
def test_kubernetes_namespaces_and_object_names_are_parameters(seed: int) -> None:
    """12 namespaces (words, below any count threshold) share the resources below them; object
    names are words or generated names at the same place."""
    assert wrong(real.KUBERNETES, 1200, seed) == {}


@pytest.mark.parametrize("seed", SEEDS)
def test_github_accounts_repositories_branches_and_labels(seed: int) -> None:
    assert wrong(real.GITHUB, 1500, seed) == {}


@pytest.mark.parametrize("seed", SEEDS)
def test_fixed_words_after_an_id_level_and_two_word_levels_stay_literal(seed: int) -> None:
    """GitHub's /users/{username}/events/public beside events/orgs/{org}: a fixed word after
    an id level stays literal; tarball|zipball between a repository and a ref are two routes,
    not one parameter (two words at a level are no evidence of one)."""
    routes = [
        *real.GITHUB,
        ("GET", "/users/{username:gh-user}/events"),
        ("GET", "/users/{username:gh-user}/events/public"),
        ("GET", "/users/{username:gh-user}/events/orgs/{org:gh-user}"),
        ("GET", "/repos/{owner:gh-user}/{repo:gh-repo}/tarball/{ref:sha}"),
        ("GET", "/repos/{owner:gh-user}/{repo:gh-repo}/zipball/{ref:sha}"),
    ]
    calls = real.traffic(routes, 1500, seed)
    templater = HostTemplater("api.github.com")
    for method, path, _route in calls:
        templater.add(path, 1, method)
    templater.finish()
    got = {(route, real.shape(templater.template(path))) for _m, path, route in calls}
    fixed = {(r, t) for r, t in got if r.endswith(("/public", "ball/{}"))}
    assert fixed and all(t == r for r, t in fixed), sorted(fixed)


@pytest.mark.parametrize("seed", SEEDS)
def test_spotify_fixed_length_ids_even_those_a_recogniser_misses(seed: int) -> None:
    """22-character base62 ids: the odd one with too few case changes to be recognised on its
    own joins the ids beside it by its length and character classes."""
    assert wrong(real.SPOTIFY, 4000, seed) == {}


@pytest.mark.parametrize("seed", SEEDS)
def test_xero_uuids_and_attachment_file_names(seed: int) -> None:
    """File names are one parameter whatever their suffix (invoice-2024.pdf beside
    receipt.pdf), while a route's own suffix stays (Twilio's {sid}.json)."""
    assert wrong(real.XERO, 1200, seed) == {}


@pytest.mark.parametrize("seed", SEEDS)
def test_petstore_actions_beside_items(seed: int) -> None:
    """Usernames answer GET, PUT and DELETE; login, logout (GET only) and createWithList
    (POST) are actions, however the calls are skewed."""
    assert wrong(real.PETSTORE, 1200, seed) == {}


def test_one_method_alone_is_no_item_when_items_mostly_answer_another() -> None:
    """Items called mostly with DELETE: a word called 19 times, GET only, is an action, while
    an item called once with GET is still an item."""
    users = ["theUser", "user1", "user2", "jdoe", "alice", "bob", "carol", "dave99"]
    t = HostTemplater("h")
    for u in users:
        t.add(f"/api/v3/user/{u}", 30, "DELETE")
        t.add(f"/api/v3/user/{u}", 3, "GET")
        t.add(f"/api/v3/user/{u}", 2, "PUT")
    t.add("/api/v3/user/login", 19, "GET")
    t.add("/api/v3/user/erin", 1, "GET")
    t.finish()
    assert t.template("/api/v3/user/login") == "/api/v3/user/login"
    assert t.template("/api/v3/user/erin") == "/api/v3/user/{param}"
