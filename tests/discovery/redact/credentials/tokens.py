"""Well-formed fake credentials for tests (valid formats and checksums, never real keys)."""

from __future__ import annotations

import base64
import json
import random
import string
import zlib
from typing import Any

from discovery.redact.credentials.providers import base62

ALNUM = string.ascii_letters + string.digits


def rand(n: int, alphabet: str = ALNUM, seed: int | None = None) -> str:
    rng = random.Random(seed)
    return "".join(rng.choice(alphabet) for _ in range(n))


def github_token(prefix: str = "ghp_", seed: int = 1) -> str:
    """A GitHub-format token with a correct CRC32/base62 checksum."""
    body = rand(30, seed=seed)
    return prefix + body + base62(zlib.crc32(body.encode()), 6)


def corrupt_last(token: str) -> str:
    """The same token with its last character changed (checksum no longer holds)."""
    last = token[-1]
    return token[:-1] + ("A" if last != "A" else "B")


def _b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def unsigned_jwt(claims: dict[str, Any]) -> str:
    """A JWT with ``alg: none`` and an empty signature."""
    return f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{_b64(claims)}."


def hs256_jwt(claims: dict[str, Any], key: str = "test-signing-key-0123456789abcdef") -> str:
    """A JWT signed by PyJWT (a real client library)."""
    import jwt

    return jwt.encode(claims, key, algorithm="HS256", headers={"kid": "k1"})


STRIPE_LIVE = "sk_live_" + rand(24, seed=2)
STRIPE_TEST = "sk_test_" + rand(24, seed=3)
STRIPE_RESTRICTED = "rk_live_" + rand(24, seed=4)
STRIPE_PUBLISHABLE = "pk_live_" + rand(24, seed=5)
SLACK_BOT = (
    "xoxb-" + rand(12, string.digits, 6) + "-" + rand(13, string.digits, 7) + "-" + rand(24, seed=8)
)
GOOGLE = "AIza" + rand(35, ALNUM + "_-", 9)
AWS_KEY_ID = "AKIA" + rand(16, string.ascii_uppercase + "234567", 10)
AWS_TEMP_KEY_ID = "ASIA" + rand(16, string.ascii_uppercase + "234567", 11)
