"""The identity register: CSV/YAML loading, errors naming the place, matching, remapping."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest

from discovery.analyse.recompute import recompute
from discovery.analyse.register import import_register, load_register, parse_duration
from discovery.case.store import Store
from discovery.errors import InputError
from discovery.models import ObservedExchange
from discovery.redact.convert import to_exchange
from discovery.views import queries
from tests.discovery.redact.credentials import tokens as t
from tests.paths import ROOT

YAML = """
identities:
  - identity: billing-sync
    kind: service-account
    owner: payments@acme.example
    matchers:
      - jwt_sub: svc-billing
      - client_id: billing-app
    allowed_scopes: [orders:read, invoices:read]
    max_token_lifetime: 1d
    rotation_period: 90d
  - identity: partner-globex
    kind: partner
    owner: partnerships@acme.example
    matchers:
      - key_prefix: acme_pk_globex_
  - identity: batch-export
    kind: bot
    owner: it-ops@acme.example
    matchers: [{basic_user: batch-export}]
  - identity: aws-deployer
    kind: service-account
    owner: platform@acme.example
    matchers: [{aws_key_id: AWS_KEY_ID}]
""".replace("AWS_KEY_ID", t.AWS_KEY_ID)

CSV = (
    "identity,kind,owner,matchers,allowed_scopes,max_token_lifetime,rotation_period\n"
    "billing-sync,service-account,payments@acme.example,jwt_sub:svc-billing;client_id:billing-app,"
    "orders:read invoices:read,86400,90d\n"
    "partner-globex,partner,partnerships@acme.example,key_prefix:acme_pk_globex_,,,\n"
    "batch-export,bot,it-ops@acme.example,basic_user:batch-export,,,\n"
    f"aws-deployer,service-account,platform@acme.example,aws_key_id:{t.AWS_KEY_ID},,,\n"
)


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_yaml_and_csv_give_the_same_register(tmp_path: Path) -> None:
    from_yaml = load_register(write(tmp_path, "r.yaml", YAML))
    from_csv = load_register(write(tmp_path, "r.csv", CSV))
    assert from_yaml == from_csv
    billing = from_yaml[0]
    assert billing.kind == "service-account" and billing.owner == "payments@acme.example"
    assert billing.matchers == ((("jwt_sub", "svc-billing"),), (("client_id", "billing-app"),))
    assert billing.allowed_scopes == ("orders:read", "invoices:read")
    assert (billing.max_token_lifetime, billing.rotation_period) == (86400.0, 90 * 86400.0)


def test_the_demo_register_loads() -> None:
    path = ROOT / "ir_console" / "demo" / "register.yaml"
    names = [e.name for e in load_register(path)]
    assert "partner-globex" in names


@pytest.mark.parametrize(
    ("name", "text", "message"),
    [
        (
            "a.yaml",
            "identities:\n  - identity: x\n    matchers: [{shoe_size: 9}]\n",
            "(/identities/0/matchers/0): unknown matcher type 'shoe_size'",
        ),
        (
            "a.yaml",
            "identities:\n  - identity: x\n    kind: robot\n",
            "(/identities/0): kind 'robot' is not one of",
        ),
        (
            "a.yaml",
            "identities:\n  - identity: x\n    rotation_period: soon\n",
            "(/identities/0/rotation_period): not a duration: 'soon'",
        ),
        ("a.yaml", "identities:\n  - kind: bot\n", "(/identities/0): an identity has no name"),
        ("a.yaml", "identities: [\n", "(line 2): not valid YAML"),
        ("a.yaml", "just text\n", "expected a list of identities"),
        ("a.csv", "identity,kind\nok,bot\nbad,robot\n", "(line 3): kind 'robot'"),
        ("a.csv", "name,owner\nx,y\n", "(line 1): CSV register needs a header row"),
        ("a.csv", "identity,owner\nx,y\nz," + "o" * 200_000 + "\n", "(line 3): not usable CSV"),
        ("a.csv", "identity," + "o" * 200_000 + "\nx,y\n", "(line 1): not usable CSV"),
        (
            "a.csv",
            "identity,matchers\nx,jwt_sub\n",
            "(line 2, matchers item 1): matcher 'jwt_sub' is not TYPE:VALUE",
        ),
        ("a.yaml", "- identity: x\n- identity: x\n", "identity 'x' is listed twice"),
    ],
)
def test_bad_registers_name_the_place(tmp_path: Path, name: str, text: str, message: str) -> None:
    path = write(tmp_path, name, text)
    with pytest.raises(InputError) as info:
        load_register(path)
    assert str(path) in str(info.value)
    assert message in str(info.value)


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        ("3600", 3600.0),
        (60, 60.0),
        ("12h", 43200.0),
        ("90d", 7776000.0),
        ("2w", 1209600.0),
        ("", None),
    ],
)
def test_durations(value: object, seconds: float | None) -> None:
    assert parse_duration(value, "f", "x") == seconds


def _observed(headers: list[tuple[str, str]], ts: float = 1_790_000_000.0) -> ObservedExchange:
    return ObservedExchange(
        ts=ts,
        source="pcap",
        evidence="frames 1-2",
        client_ip="10.0.0.5",
        method="GET",
        target="/v1/orders",
        host="api.acme.example",
        status=200,
        request_headers=tuple(headers),
    )


GLOBEX = "acme_pk_globex_" + t.rand(28, seed=11)
NOTEBOOK = t.hs256_jwt({"iss": "https://idp", "sub": "svc-notebook"})
BILLING = t.hs256_jwt({"iss": "https://idp", "sub": "svc-billing", "client_id": "billing-app"})
SIGV4 = (
    f"AWS4-HMAC-SHA256 Credential={t.AWS_KEY_ID}/20261128/us-east-1/s3/aws4_request, "
    f"SignedHeaders=host, Signature={'ab' * 32}"
)
BASIC = base64.b64encode(b"batch-export:Export-pw-123").decode()


@pytest.fixture
def case(store: Store) -> Store:
    store.add_exchanges(
        [
            to_exchange(_observed(h, ts=1_790_000_000.0 + i), store.fingerprint)
            for i, h in enumerate(
                (
                    [("Authorization", f"Bearer {BILLING}")],
                    [("Authorization", f"Bearer {NOTEBOOK}")],
                    [("X-API-Key", GLOBEX)],
                    [("Authorization", SIGV4)],
                    [("Authorization", f"Basic {BASIC}")],
                    [("X-API-Key", "other_" + t.rand(30, seed=12))],
                )
            )
        ]
    )
    recompute(store)
    return store


def _by_kind(store: Store) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for kind, ident in store.conn.execute(
        "SELECT kind, identity_id FROM credentials ORDER BY first_seen, id"
    ):
        out.setdefault(kind, []).append(ident)
    return out


def test_credentials_map_to_registered_identities(case: Store, tmp_path: Path) -> None:
    before = _by_kind(case)
    assert before["jwt"] == ["jwt:https://idp|svc-billing", "jwt:https://idp|svc-notebook"]
    assert before["aws_sigv4"] == [f"aws:{t.AWS_KEY_ID}"]
    assert before["basic"] == ["basic:batch-export@api.acme.example"]

    import_register(case, write(tmp_path, "r.yaml", YAML))
    recompute(case)
    after = _by_kind(case)
    assert after["jwt"] == ["reg:billing-sync", "jwt:https://idp|svc-notebook"]
    assert after["aws_sigv4"] == ["reg:aws-deployer"]
    assert after["basic"] == ["reg:batch-export"]
    assert sorted(after["api_key"])[1] == "reg:partner-globex"
    assert sorted(after["api_key"])[0].startswith("cred:c-")

    (entry,) = case.conn.execute(
        "SELECT action, subject, details FROM audit_log WHERE action = 'inventory.import'"
    ).fetchall()
    assert entry[1].endswith("r.yaml") and '"identities":4' in entry[2]
    rows = {r["id"]: r for r in queries.identities(case)}
    assert rows["reg:billing-sync"]["registered"] and rows["reg:billing-sync"]["owner"] == (
        "payments@acme.example"
    )
    assert len(rows["reg:billing-sync"]["credentials"]) == 1
    assert not rows["jwt:https://idp|svc-notebook"]["registered"]
    # the observed identities now named by the register are gone from the list
    assert "jwt:https://idp|svc-billing" not in rows
    assert f"aws:{t.AWS_KEY_ID}" not in rows


def test_a_new_register_remaps_back_to_observed_identities(case: Store, tmp_path: Path) -> None:
    import_register(case, write(tmp_path, "r.yaml", YAML))
    recompute(case)
    import_register(
        case,
        write(
            tmp_path,
            "small.yaml",
            "- identity: notebook\n  kind: human\n  owner: ds@acme.example\n"
            "  matchers: [{jwt_sub: svc-notebook}]\n",
        ),
    )
    recompute(case)
    after = _by_kind(case)
    assert after["jwt"] == ["jwt:https://idp|svc-billing", "reg:notebook"]
    assert after["aws_sigv4"] == [f"aws:{t.AWS_KEY_ID}"]
    assert after["basic"] == ["basic:batch-export@api.acme.example"]
    ids = {r["id"] for r in queries.identities(case)}
    assert {"reg:notebook", "jwt:https://idp|svc-billing", f"aws:{t.AWS_KEY_ID}"} <= ids
    assert "reg:billing-sync" not in ids


@pytest.mark.parametrize(
    ("matcher", "kind"),
    [
        ("{fingerprint: CID}", "api_key"),
        ("{identity: 'aws:" + t.AWS_KEY_ID + "'}", "aws_sigv4"),
        ("{jwt_iss: 'https://idp', jwt_sub: svc-notebook}", "jwt"),
        ("{aws_account: ACCOUNT}", "aws_sigv4"),
    ],
)
def test_other_matchers(case: Store, tmp_path: Path, matcher: str, kind: str) -> None:
    cid = case.conn.execute(
        "SELECT id FROM credentials WHERE redacted LIKE 'acme_pk_globex_%'"
    ).fetchone()[0]
    from discovery.redact.credentials.sigv4 import account_id_from_key_id

    matcher = matcher.replace("CID", cid).replace(
        "ACCOUNT", f"'{account_id_from_key_id(t.AWS_KEY_ID)}'"
    )
    import_register(case, write(tmp_path, "r.yaml", f"- identity: x\n  matchers: [{matcher}]\n"))
    recompute(case)
    assert _by_kind(case)[kind].count("reg:x") == 1


@pytest.mark.parametrize(
    "matcher",
    [
        "{jwt_sub: svc-nobody}",
        "{jwt_iss: 'https://other', jwt_sub: svc-notebook}",  # both must hold
        "{key_prefix: acme_pk_initech_}",
        "{basic_user: batch}",
        "{client_id: svc-notebook}",  # a sub is not a client id
    ],
)
def test_near_miss_matchers_match_nothing(case: Store, tmp_path: Path, matcher: str) -> None:
    import_register(case, write(tmp_path, "r.yaml", f"- identity: x\n  matchers: [{matcher}]\n"))
    recompute(case)
    assert (
        case.conn.execute(
            "SELECT COUNT(*) FROM credentials WHERE identity_id = 'reg:x'"
        ).fetchone()[0]
        == 0
    )
