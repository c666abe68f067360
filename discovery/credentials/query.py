"""Credentials in the query string: configured parameter names, SigV4 presigned URLs, and JWTs or
provider keys in any parameter."""

from __future__ import annotations

from discovery.credentials import found, sigv4
from discovery.credentials.authorization import aws
from discovery.credentials.config import DetectorConfig, squash
from discovery.credentials.found import Fingerprint
from discovery.credentials.headers import embedded
from discovery.credentials.shape import looks_secret, near_miss
from discovery.models import CredentialSighting

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
    pairs: list[tuple[str, str]], fp: Fingerprint, config: DetectorConfig
) -> list[CredentialSighting]:
    """Credentials in decoded query pairs."""
    out: list[CredentialSighting] = []
    presigned = sigv4.parse_presigned(dict(pairs))
    skip: frozenset[str] = frozenset()
    if presigned is not None:
        out.append(aws("X-Amz-Credential", presigned, fp, "query"))
        skip = _SIGV4_PARAMS
    else:
        v2 = _presigned_v2(pairs)
        if v2 is not None:
            out.append(aws("AWSAccessKeyId", v2, fp, "query", kind="aws_sigv2"))
            skip = _SIGV2_PARAMS
    for name, value in pairs:
        squashed = squash(name)
        value = value.strip()
        if not value or squashed in skip:
            continue
        if squashed in config.strong_query_params:
            if found.recognised(value) or (
                len(value) >= MIN_QUERY_SECRET and near_miss(value) not in ("words", "number")
            ):
                out.append(found.token(fp, value, "query", name, "api_key"))
                continue
        elif squashed in config.weak_query_params and (
            found.recognised(value) or looks_secret(value)
        ):
            out.append(found.token(fp, value, "query", name, "api_key"))
            continue
        out.extend(embedded(value, "query", name, fp))
    return out
