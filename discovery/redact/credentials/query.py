"""Credentials in the query string: configured parameter names, SigV4 presigned URLs, and JWTs or
provider keys in any parameter."""

from __future__ import annotations

from functools import lru_cache

from discovery.models import CredentialSighting
from discovery.redact.credentials import found, passwords, sigv4
from discovery.redact.credentials.authorization import aws
from discovery.redact.credentials.config import MEMO_MAX_VALUE, DetectorConfig, squash
from discovery.redact.credentials.found import Fingerprint
from discovery.redact.credentials.headers import embedded
from discovery.redact.credentials.shape import looks_secret, near_miss

MIN_QUERY_SECRET = 8
_SIGV4_PARAMS = frozenset(
    {
        "xamzalgorithm",
        "xamzcredential",
        "xamzsignature",
        "xamzsecuritytoken",
        "xamzdate",
        "xamzexpires",
        "xamzsignedheaders",
    }
)

_SIGV2_PARAMS = frozenset({"awsaccesskeyid", "signature", "expires", "xamzsecuritytoken"})


def _presigned_v2(pairs: list[tuple[str, str]]) -> sigv4.SigV4 | None:
    """A Signature Version 2 presigned URL (``AWSAccessKeyId``, ``Signature``, ``Expires``)."""
    params = {squash(k): v for k, v in pairs}
    key_id = params.get("awsaccesskeyid", "")
    if "signature" not in params or sigv4.account_id_from_key_id(key_id) is None:
        return None
    temporary = "xamzsecuritytoken" in params or key_id.startswith("ASIA")
    return sigv4.SigV4(key_id, None, None, None, temporary)


def detect(
    pairs: list[tuple[str, str]], fp: Fingerprint, config: DetectorConfig, host: str | None = None
) -> list[CredentialSighting]:
    """Credentials in decoded query pairs."""
    out: list[CredentialSighting] = []
    skip: frozenset[str] = frozenset()
    squashed = [squash(name) for name, _ in pairs]
    if "xamzalgorithm" in squashed or "signature" in squashed:  # may be presigned (v4 or v2)
        presigned = sigv4.parse_presigned(dict(pairs))
        if presigned is not None:
            out.append(aws("X-Amz-Credential", presigned, fp, "query", host=host))
            skip = _SIGV4_PARAMS
        else:
            v2 = _presigned_v2(pairs)
            if v2 is not None:
                out.append(aws("AWSAccessKeyId", v2, fp, "query", kind="aws_sigv2", host=host))
                skip = _SIGV2_PARAMS
    if any(passwords.is_password_name(n) for n in squashed):  # whatever their shape
        out.extend(passwords.from_pairs(pairs, "query", None, fp))
    for (name, value), squashed_name in zip(pairs, squashed, strict=True):
        if squashed_name in skip or passwords.is_password_name(squashed_name):
            continue
        if len(value) <= MEMO_MAX_VALUE:  # parameters recur (limit=20, the same api_key)
            out.extend(_pair_memo(name, squashed_name, value, fp, config))
        else:
            out.extend(_pair(name, squashed_name, value, fp, config))
    return out


def secret_name(name: str) -> bool:
    """A parameter name that is itself a secret (``?sk_live_…``, ``?<token>``): a provider key,
    a JWT, or a long random string."""
    return len(name) >= MIN_QUERY_SECRET and (
        found.recognised(name) or (len(name) >= 24 and looks_secret(name))
    )


def stored_name(name: str) -> str:
    """A parameter name as it may be stored: a secret name becomes its redacted form."""
    return found.redacted_form(name) if secret_name(name) else name


def _pair(
    name: str, squashed: str, value: str, fp: Fingerprint, config: DetectorConfig
) -> tuple[CredentialSighting, ...]:
    """The credentials one query parameter carries (its name, when the name is a secret)."""
    value = value.strip()
    if not value:
        if secret_name(name):
            return (found.token(fp, name, "query", "(name)", "api_key"),)
        return ()
    if squashed in config.strong_query_params:
        if found.recognised(value) or (
            len(value) >= MIN_QUERY_SECRET and near_miss(value) not in ("words", "number")
        ):
            return (found.token(fp, value, "query", name, "api_key"),)
    elif squashed in config.weak_query_params and (found.recognised(value) or looks_secret(value)):
        return (found.token(fp, value, "query", name, "api_key"),)
    return tuple(embedded(value, "query", name, fp))


# A pure function of (parameter, key, config), like the header memo of ``detect_credentials``.
_pair_memo = lru_cache(maxsize=4096)(_pair)
