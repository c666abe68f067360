"""Provider keys recognised by their documented prefix, alphabet, length and checksum.

Each pattern matches a whole token; ``find_provider_keys`` scans free text (header values, bodies)
for them with word boundaries, and a checksum (GitHub's and npm's CRC32 in base62) must hold
where the provider defines one.
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass

_BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


def base62(number: int, width: int) -> str:
    """``number`` in base62 (0-9A-Za-z), left-padded with zeros to ``width``."""
    digits = []
    while number:
        number, rem = divmod(number, 62)
        digits.append(_BASE62[rem])
    return "".join(reversed(digits)).rjust(width, "0")


def crc32_base62_ok(token: str) -> bool:
    """GitHub/npm token checksum: the last 6 characters are base62(CRC32(the 30 random ones))."""
    body = token.split("_", 1)[1]
    random, check = body[:-6], body[-6:]
    return base62(zlib.crc32(random.encode("ascii")), 6) == check


@dataclass(frozen=True, slots=True)
class ProviderPattern:
    """One provider's key format."""

    kind: str  # credential kind stored in the case
    provider: str
    prefix_re: str  # the documented prefix (a regex, kept in the redacted form)
    body_re: str  # the rest of the token
    label: str  # what this key is, in words
    checksum: Callable[[str], bool] | None = None


PATTERNS: tuple[ProviderPattern, ...] = (
    ProviderPattern(
        "github_token", "github", r"gh[pousr]_", r"[A-Za-z0-9]{36}", "GitHub token", crc32_base62_ok
    ),
    ProviderPattern(
        "github_token",
        "github",
        r"github_pat_",
        r"[A-Za-z0-9]{22}_[A-Za-z0-9]{59}",
        "GitHub fine-grained personal access token",
    ),
    ProviderPattern(
        "npm_token", "npm", r"npm_", r"[A-Za-z0-9]{36}", "npm access token", crc32_base62_ok
    ),
    ProviderPattern(
        "gitlab_token", "gitlab", r"glpat-", r"[A-Za-z0-9_\-]{20}", "GitLab personal access token"
    ),
    ProviderPattern(
        "stripe_key", "stripe", r"sk_(?:live|test)_", r"[A-Za-z0-9]{20,247}", "Stripe secret key"
    ),
    ProviderPattern(
        "stripe_key",
        "stripe",
        r"rk_(?:live|test)_",
        r"[A-Za-z0-9]{20,247}",
        "Stripe restricted key",
    ),
    ProviderPattern(
        "slack_token", "slack", r"xox[abposr]-", r"[0-9]{6,}-[A-Za-z0-9\-]{8,}", "Slack token"
    ),
    ProviderPattern(
        "slack_token",
        "slack",
        r"xapp-",
        r"[0-9]-[A-Z0-9]{8,}-[0-9]{6,}-[a-f0-9]{32,}",
        "Slack app-level token",
    ),
    ProviderPattern("google_api_key", "google", r"AIza", r"[0-9A-Za-z_\-]{35}", "Google API key"),
    ProviderPattern(
        "aws_access_key_id",
        "aws",
        r"(?:AKIA|ASIA|AGPA|AIDA|AROA|AIPA|ANPA|ANVA|ABIA|ACCA)",
        r"[A-Z2-7]{16}",
        "AWS access key id",
    ),
    ProviderPattern(
        "sendgrid_key",
        "sendgrid",
        r"SG\.",
        r"[A-Za-z0-9_\-]{22}\.[A-Za-z0-9_\-]{43}",
        "SendGrid API key",
    ),
    ProviderPattern(
        "openai_key",
        "openai",
        r"sk-(?:proj-|svcacct-|admin-)?",
        r"[A-Za-z0-9_\-]{20,}T3BlbkFJ[A-Za-z0-9_\-]{20,}",
        "OpenAI API key",
    ),
    ProviderPattern(
        "anthropic_key",
        "anthropic",
        r"sk-ant-(?:api|admin)\d\d-",
        r"[A-Za-z0-9_\-]{80,120}",
        "Anthropic API key",
    ),
    ProviderPattern(
        "shopify_token",
        "shopify",
        r"shp(?:at|ca|pa|ss)_",
        r"[a-fA-F0-9]{32}",
        "Shopify access token",
    ),
)

_EXACT = [(p, re.compile(f"^({p.prefix_re}){p.body_re}$")) for p in PATTERNS]
# One boundary check around the alternation, not one per alternative: the same matches, ~10x
# faster (every body and query value of an ingest goes through this scan).
_SCAN = re.compile(
    "(?<![A-Za-z0-9_\\-])(?:"
    + "|".join(f"(?:{p.prefix_re}){p.body_re}" for p in PATTERNS)
    + ")(?![A-Za-z0-9_\\-])"
)


# Any documented prefix, without boundaries or bodies: a fast first pass over free text.
_PREFIXES = re.compile("|".join(f"(?:{p.prefix_re})" for p in PATTERNS))
_SHORTEST = 20  # AKIA + 16, the shortest key of PATTERNS


@dataclass(frozen=True, slots=True)
class ProviderKey:
    """A provider key found in a value: the raw token (caller must drop it) and its facts."""

    token: str
    pattern: ProviderPattern
    prefix: str

    @property
    def public_facts(self) -> dict[str, str]:
        facts = {
            "provider": self.pattern.provider,
            "key_type": self.pattern.label,
            "prefix": self.prefix,
        }
        if "_live_" in self.prefix:
            facts["mode"] = "live"
        elif "_test_" in self.prefix:
            facts["mode"] = "test"
        return facts


def match_provider(token: str) -> ProviderKey | None:
    """The provider key that ``token`` is exactly (checksum verified), or None."""
    for pattern, exact in _EXACT:
        match = exact.match(token)
        if match and (pattern.checksum is None or pattern.checksum(token)):
            return ProviderKey(token, pattern, match.group(1))
    return None


def find_provider_keys(text: str) -> Iterator[ProviderKey]:
    """Every provider key inside free text."""
    if len(text) < _SHORTEST or not _PREFIXES.search(text):
        return  # most values hold no documented prefix at all: one cheap scan says so
    for match in _SCAN.finditer(text):
        key = match_provider(match.group(0))
        if key is not None:
            yield key
