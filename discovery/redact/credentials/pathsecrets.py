"""Secrets in URL paths: capability URLs and keys put where a path segment goes.

Telegram's Bot API takes its token as a segment (``/bot<token>/sendMessage``); Slack and Discord
webhook URLs are their own secret (``/services/T…/B…/<secret>``, ``/api/webhooks/<id>/<token>``);
clients put provider keys and JWTs in paths, and high-entropy tokens follow segments that name
them (``/token/<t>``, ``/hooks/<t>``, ``/keys/<k>``). Each is fingerprinted like any credential
and replaced in the path by its redacted form before anything is stored: the stored path, raw
path, templates and everything derived from them never hold the secret. A redacted segment
contains ``…`` (U+2026), which no request target holds as sent (it would be percent-encoded).
"""

from __future__ import annotations

import re
from urllib.parse import unquote

from discovery.models import CredentialSighting
from discovery.redact.credentials import found
from discovery.redact.credentials.found import Fingerprint
from discovery.redact.credentials.jwt import decode_jwt
from discovery.redact.credentials.providers import find_provider_keys, match_provider
from discovery.redact.credentials.shape import looks_secret, near_miss, placeholder

MIN_SEGMENT = 16  # shorter segments hold no secret unless a naming segment precedes them
_TELEGRAM = re.compile(r"^bot(\d{5,16}:[A-Za-z0-9_\-]{35})$")
_BOT_SHAPED = re.compile(r"^bot\w{0,20}:.{20,}$")  # a bot URL's token that is not a token
_SLACK_TEAM = re.compile(r"^T[A-Z0-9]{6,}$")
_SLACK_APP = re.compile(r"^[AB][A-Z0-9]{2,}$")
_SLACK_SECRET = re.compile(r"^[A-Za-z0-9]{20,64}$")
_DISCORD_ID = re.compile(r"^\d{15,21}$")
_DISCORD_TOKEN = re.compile(r"^[A-Za-z0-9_\-]{60,100}$")
# Segments after which the next segment is a secret whatever its shape (a capability URL's
# random part may be a UUID or hex), and those after which it is one when it looks random.
_CAPABILITY = frozenset(
    {
        "token",
        "tokens",
        "secret",
        "secrets",
        "hook",
        "hooks",
        "webhook",
        "webhooks",
        "apikey",
        "api_key",
        "api-key",
        "access_token",
        "accesstoken",
        "auth_token",
        "password",
        "passwd",
    }
)
_WEBHOOK_PARENTS = frozenset({"services", "workflows", "triggers", "webhooks"})
_NAMING = frozenset({"key", "keys", "auth", "reset", "invite", "invites", "magic", "signin"})


def _capability_value(value: str) -> bool:
    """A capability URL's secret part: 16 or more printable characters that are not a number or
    a lower-case slug (``reset-my-password``): whatever else it holds, a server takes it as
    the token (a placeholder there is redacted too: it stands where a token goes)."""
    if not MIN_SEGMENT <= len(value) <= 4096 or not value.isprintable():
        return False
    if placeholder(value):
        return True
    return not value.isdigit() and _SLUG.match(value) is None


class _Scan:
    """One path's segments, the sightings found and the segments to replace."""

    __slots__ = ("found", "fp", "replaced", "segments")

    def __init__(self, path: str, fp: Fingerprint) -> None:
        self.fp = fp
        self.segments = path.split("/")
        self.found: list[CredentialSighting] = []
        self.replaced: dict[int, str] = {}

    def add(self, index: int, sighting: CredentialSighting, segment: str) -> None:
        self.found.append(sighting)
        self.replaced[index] = segment

    def opaque(self, index: int, secret: str, kind: str, role: str, **facts: str) -> None:
        sighting = found.token(self.fp, secret, "path", role, kind, **facts)
        self.add(index, sighting, sighting.redacted)


_SLUG = re.compile(r"^[a-z]+(?:[ _\-.][a-z]+)*$")  # lower-case words: a slug, not a token


def _decoded(segment: str) -> str:
    return unquote(segment) if "%" in segment else segment


def _webhook(scan: _Scan, index: int, lower: str) -> bool:
    """Slack (``services``/``workflows``/``triggers``) and Discord (``webhooks``) URLs."""
    segments = scan.segments
    rest = [_decoded(s) for s in segments[index + 1 : index + 5]]
    if lower in ("services", "workflows", "triggers") and rest and _SLACK_TEAM.match(rest[0]):
        ids = [rest[0]]
        for offset, part in enumerate(rest[1:], 1):
            if _SLACK_APP.match(part) or part.isdigit():
                ids.append(part)
                continue
            if len(ids) >= 2 and _SLACK_SECRET.match(part) and near_miss(part) != "words":
                scan.opaque(
                    index + 1 + offset,
                    part,
                    "webhook_url",
                    "slack webhook",
                    provider="slack",
                    webhook="/".join(ids),
                )
                return True
            break
    if (
        lower == "webhooks"
        and len(rest) >= 2
        and _DISCORD_ID.match(rest[0])
        and _DISCORD_TOKEN.match(rest[1])
    ):
        scan.opaque(
            index + 2,
            rest[1],
            "webhook_url",
            "discord webhook",
            provider="discord",
            webhook=rest[0],
        )
        return True
    return False


def scan_path(path: str, fp: Fingerprint) -> tuple[list[CredentialSighting], str]:
    """(credentials in a path, the path with each one replaced by its redacted form)."""
    if len(path) < MIN_SEGMENT:
        return [], path
    scan = _Scan(path, fp)
    previous = ""
    for index, segment in enumerate(scan.segments):
        lower = segment.lower()
        if index in scan.replaced or not segment:
            previous = lower
            continue
        if lower in _WEBHOOK_PARENTS and _webhook(scan, index, lower):
            previous = lower
            continue
        if previous in _CAPABILITY or previous in _NAMING or len(segment) >= MIN_SEGMENT:
            _segment(scan, index, _decoded(segment), previous)
        previous = lower
    if not scan.replaced:
        return scan.found, path
    return scan.found, "/".join(scan.replaced.get(i, s) for i, s in enumerate(scan.segments))


def _segment(scan: _Scan, index: int, value: str, previous: str) -> None:
    """The credential one path segment is or holds, if any."""
    telegram = _TELEGRAM.match(value)
    # Telegram's Bot API: /bot<token>/<method> and /file/bot<token>/<path>
    if telegram is not None and (index == 1 or previous == "file"):
        key = match_provider(telegram.group(1))
        if key is not None:
            sighting = found.provider(scan.fp, key, "path", "telegram bot")
            scan.add(index, sighting, "bot" + sighting.redacted)
            return
    if _BOT_SHAPED.match(value):  # shaped like one, not one: still not kept
        scan.opaque(index, value, "path_token", "bot")
        return
    key = match_provider(value)
    if key is not None:
        sighting = found.provider(scan.fp, key, "path", previous or "segment")
        scan.add(index, sighting, sighting.redacted)
        return
    decoded = decode_jwt(value)
    if decoded is not None:
        sighting = found.jwt(scan.fp, value, decoded, "path", previous or "segment")
        scan.add(index, sighting, sighting.redacted)
        return
    if previous in _CAPABILITY and _capability_value(value):
        scan.opaque(index, value, "path_token", previous)
        return
    if previous in _NAMING and looks_secret(value):
        scan.opaque(index, value, "path_token", previous)
        return
    if len(value) >= 20:
        keys = list(find_provider_keys(value))
        if keys:  # keys inside a longer segment (``key=sk_live_…``, ``;token=…``)
            sightings = [found.provider(scan.fp, k, "path", previous or "segment") for k in keys]
            text = value
            for k, s in zip(keys, sightings, strict=True):
                text = text.replace(k.token, s.redacted)
            scan.found.extend(sightings)
            scan.replaced[index] = text
