"""Credentials in gRPC request messages: the string fields of each protobuf message, read
without its schema (``discovery.wire.protobuf``, within its bounds), or the fields of each
``+json`` message, through the same detectors as a JSON body's fields.

Without the ``.proto`` a protobuf field has a number, not a name: its value is a credential
when it is one by its look (a JWT, a key with a documented provider prefix), and the field is
named by its path (``protobuf field 1.3``). The raw body is not searched as text: a field's
length byte or the next field's key glued to a key would change what is read.
"""

from __future__ import annotations

from discovery.models import CredentialSighting
from discovery.redact.credentials.bodies import MAX_FIELDS, detect_fields, json_fields
from discovery.redact.credentials.config import DetectorConfig
from discovery.redact.credentials.found import Fingerprint
from discovery.wire.grpc import grpc_kind, message_texts


def detect(
    body: bytes,
    content_type: str,
    encoding: str | None,
    fp: Fingerprint,
    config: DetectorConfig,
) -> list[CredentialSighting] | None:
    """Credentials in a gRPC request body prefix (``encoding``: its ``grpc-encoding``); None
    when ``content_type`` is not a gRPC one."""
    kind = grpc_kind(content_type)
    if kind is None:
        return None
    as_json = "+json" in content_type.lower()
    texts, _anomalies = message_texts(body, encoding, kind, as_json)  # stored by redact.grpc
    fields: list[tuple[str, str]] = []
    for path, text in texts:
        if as_json:
            fields += json_fields(text)
        else:
            fields.append((f"protobuf field {path}", text))
        if len(fields) >= MAX_FIELDS:
            break
    return detect_fields(fields[:MAX_FIELDS], "body", fp, config)
