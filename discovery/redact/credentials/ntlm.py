"""``NTLM`` and ``Negotiate`` authorization: who logged in, never the response hashes.

An NTLMSSP AUTHENTICATE message (type 3; alone after ``NTLM`` or inside a SPNEGO token after
``Negotiate``) names the user, the domain and the workstation in clear: they make the
credential's identity, and the fingerprint is taken over them (the challenge responses change
at every login and are crackable: they are never read). A Kerberos AP-REQ (``Negotiate``)
carries its service ticket in clear apart from its encrypted part: the ticket can be replayed
until it expires, so it is the credential (fingerprinted whole); its realm and service
principal are recorded (the client's own name is encrypted: not visible).
"""

from __future__ import annotations

import base64
import binascii
import struct

from discovery.models import CredentialSighting
from discovery.redact.credentials.found import Fingerprint

_SIGNATURE = b"NTLMSSP\x00"
_BUFFER = struct.Struct("<HHI")  # length, allocated, offset
_MAX_FIELD = 256


def detect(name: str, scheme: str, encoded: str, fp: Fingerprint) -> list[CredentialSighting]:
    """The credential an NTLM or Negotiate header value carries (none for the first two legs
    of an NTLM handshake, which name nobody)."""
    try:
        token = base64.b64decode(encoded.strip(), validate=True)
    except (binascii.Error, ValueError):
        return []
    at = token.find(_SIGNATURE)
    if at >= 0:
        sighting = _ntlm(name, scheme, token[at:], fp)
        return [sighting] if sighting is not None else []
    if scheme == "negotiate":
        sighting = _kerberos(name, token, fp)
        return [sighting] if sighting is not None else []
    return []


def _field(message: bytes, at: int, unicode: bool) -> str:
    if len(message) < at + 8:
        return ""
    size, _alloc, offset = _BUFFER.unpack_from(message, at)
    raw = message[offset : offset + min(size, 2 * _MAX_FIELD)]
    text = raw.decode("utf-16-le", "replace") if unicode else raw.decode("latin-1")
    return "".join(c for c in text if c.isprintable())[:_MAX_FIELD]


def _ntlm(name: str, scheme: str, message: bytes, fp: Fingerprint) -> CredentialSighting | None:
    if len(message) < 64 or struct.unpack_from("<I", message, 8)[0] != 3:
        return None  # NEGOTIATE (1) or CHALLENGE (2): nobody named yet
    flags = struct.unpack_from("<I", message, 60)[0]
    unicode = bool(flags & 1)
    domain = _field(message, 28, unicode)
    user = _field(message, 36, unicode)
    workstation = _field(message, 44, unicode)
    if not user:
        return None  # anonymous
    who = f"{domain}\\{user}" if domain else user
    claims = tuple(
        (k, v) for k, v in (("domain", domain), ("user", user), ("workstation", workstation)) if v
    )
    return CredentialSighting(
        fingerprint=fp(f"ntlm:{who.lower()}"),
        kind="ntlm",
        location="header",
        name=name,
        redacted=f"NTLM {who}",
        public_id=who,
        identity=f"ntlm:{who}",
        identity_kind="ntlm",
        claims=(*claims, ("scheme", scheme)),
    )


def _tlv(data: bytes, pos: int) -> tuple[int, int, int] | None:
    """(tag, start of value, end of value) of the DER element at ``pos``."""
    if pos + 2 > len(data):
        return None
    tag, size = data[pos], data[pos + 1]
    pos += 2
    if size & 0x80:
        count = size & 0x7F
        if count == 0 or count > 4 or pos + count > len(data):
            return None
        size = int.from_bytes(data[pos : pos + count], "big")
        pos += count
    end = pos + size
    return None if end > len(data) else (tag, pos, end)


def _children(data: bytes, start: int, end: int) -> list[tuple[int, int, int]]:
    out: list[tuple[int, int, int]] = []
    while start < end and len(out) < 32:
        element = _tlv(data, start)
        if element is None or element[2] > end:
            break
        out.append(element)
        start = element[2]
    return out


def _text(data: bytes, element: tuple[int, int, int] | None) -> str:
    if element is None:
        return ""
    text = data[element[1] : element[2]].decode("latin-1")
    return "".join(c for c in text if c.isprintable())[:_MAX_FIELD]


def _kerberos(name: str, token: bytes, fp: Fingerprint) -> CredentialSighting | None:
    """A Kerberos ticket inside a SPNEGO/GSS token: found by its shape (``[APPLICATION 1]``
    holding ``tkt-vno 5``)."""
    at = token.find(b"\xa0\x03\x02\x01\x05")
    while at >= 0:
        for back in range(2, 10):  # the ticket's SEQUENCE starts a few bytes before tkt-vno
            start = at - back
            if start < 2 or token[start] != 0x30:
                continue
            seq = _tlv(token, start)
            if seq is None:
                continue
            ticket = _ticket(token, seq)
            if ticket is not None:
                realm, service, whole = ticket
                return CredentialSighting(
                    fingerprint=fp("kerberos:" + whole.hex()),
                    kind="kerberos_ticket",
                    location="header",
                    name=name,
                    redacted=f"Kerberos ticket for {service}@{realm}",
                    public_id=f"{service}@{realm}",
                    claims=(("realm", realm), ("scheme", "negotiate"), ("service", service)),
                )
        at = token.find(b"\xa0\x03\x02\x01\x05", at + 1)
    return None


def _ticket(token: bytes, seq: tuple[int, int, int]) -> tuple[str, str, bytes] | None:
    fields = {tag: (tag, s, e) for tag, s, e in _children(token, seq[1], seq[2])}
    if not {0xA0, 0xA1, 0xA2, 0xA3} <= set(fields):
        return None
    realm_wrap = fields[0xA1]
    realm = _text(token, _tlv(token, realm_wrap[1]))
    sname = _tlv(token, fields[0xA2][1])  # PrincipalName SEQUENCE
    parts: list[str] = []
    if sname is not None:
        for tag, s, _e in _children(token, sname[1], sname[2]):
            if tag == 0xA1:
                names = _tlv(token, s)
                if names is not None:
                    parts = [_text(token, c) for c in _children(token, names[1], names[2])]
    if not realm or not parts:
        return None
    return realm, "/".join(parts), token[seq[1] : seq[2]]
