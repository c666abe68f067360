"""TLS record protection: cipher suites, key schedules (TLS 1.2 PRF, TLS 1.3 HKDF-Expand-Label)
and record decryption, on ``cryptography``'s primitives.

Supported: TLS 1.3 AES-GCM, ChaCha20-Poly1305 and AES-CCM; TLS 1.2 AES-GCM, ChaCha20-Poly1305
(RFC 7905), AES-CCM and AES-CBC with HMAC (MAC-then-encrypt, or encrypt-then-MAC per RFC 7366),
whatever the key exchange (the key log gives the master secret, or the RSA pre-master secret).
"""

from __future__ import annotations

import hashlib
import hmac
import struct
from dataclasses import dataclass
from typing import Final

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESCCM, AESGCM, ChaCha20Poly1305

_GCM, _CHACHA, _CBC, _CCM = "gcm", "chacha", "cbc", "ccm"


@dataclass(frozen=True, slots=True)
class Suite:
    """What decryption needs to know of a cipher suite."""

    name: str
    mode: str  # gcm | chacha | cbc | ccm
    key_len: int
    hash: str  # PRF / HKDF hash: "sha256" | "sha384"
    mac: str | None = None  # CBC suites: HMAC hash ("sha1" | "sha256" | "sha384")


def _suites() -> dict[int, Suite]:
    table: dict[int, Suite] = {
        0x1301: Suite("TLS_AES_128_GCM_SHA256", _GCM, 16, "sha256"),
        0x1302: Suite("TLS_AES_256_GCM_SHA384", _GCM, 32, "sha384"),
        0x1303: Suite("TLS_CHACHA20_POLY1305_SHA256", _CHACHA, 32, "sha256"),
        0x1304: Suite("TLS_AES_128_CCM_SHA256", _CCM, 16, "sha256"),
    }
    gcm128 = (0x009C, 0x009E, 0x00A2, 0xC02B, 0xC02F, 0xC02D, 0xC031)
    gcm256 = (0x009D, 0x009F, 0x00A3, 0xC02C, 0xC030, 0xC02E, 0xC032)
    for code in gcm128:
        table[code] = Suite(f"0x{code:04X}_AES_128_GCM_SHA256", _GCM, 16, "sha256")
    for code in gcm256:
        table[code] = Suite(f"0x{code:04X}_AES_256_GCM_SHA384", _GCM, 32, "sha384")
    for code in (0xCCA8, 0xCCA9, 0xCCAA):
        table[code] = Suite(f"0x{code:04X}_CHACHA20_POLY1305_SHA256", _CHACHA, 32, "sha256")
    for code in (0xC09C, 0xC09E, 0xC0AC):
        table[code] = Suite(f"0x{code:04X}_AES_128_CCM", _CCM, 16, "sha256")
    for code in (0xC09D, 0xC09F, 0xC0AD):
        table[code] = Suite(f"0x{code:04X}_AES_256_CCM", _CCM, 32, "sha256")
    cbc = {  # code: (key length, HMAC hash)
        0x002F: (16, "sha1"),  # RSA
        0x0035: (32, "sha1"),
        0x003C: (16, "sha256"),
        0x003D: (32, "sha256"),
        0x0033: (16, "sha1"),  # DHE_RSA
        0x0039: (32, "sha1"),
        0x0067: (16, "sha256"),
        0x006B: (32, "sha256"),
        0xC009: (16, "sha1"),  # ECDHE_ECDSA
        0xC00A: (32, "sha1"),
        0xC023: (16, "sha256"),
        0xC024: (32, "sha384"),
        0xC013: (16, "sha1"),  # ECDHE_RSA
        0xC014: (32, "sha1"),
        0xC027: (16, "sha256"),
        0xC028: (32, "sha384"),
    }
    for code, (key_len, mac) in cbc.items():
        prf = "sha384" if mac == "sha384" else "sha256"
        table[code] = Suite(
            f"0x{code:04X}_AES_{key_len * 8}_CBC_{mac.upper()}", _CBC, key_len, prf, mac
        )
    return table


SUITES: Final = _suites()
_HASH_LEN: Final = {"sha256": 32, "sha384": 48, "sha1": 20}
_AAD13: Final = struct.Struct("!B2sH")  # TLS 1.3 additional data: the record header


class DecryptError(ValueError):
    """A record failed authentication (bad tag, MAC or padding)."""


# ------------------------------------------------------------------ key schedules


def hkdf_expand_label(
    secret: bytes, label: bytes, context: bytes, length: int, hash_name: str
) -> bytes:
    """HKDF-Expand-Label of TLS 1.3 (RFC 8446 section 7.1)."""
    full = b"tls13 " + label
    info = struct.pack("!HB", length, len(full)) + full + bytes([len(context)]) + context
    out = b""
    block = b""
    counter = 1
    while len(out) < length:
        block = hmac.digest(secret, block + info + bytes([counter]), hash_name)
        out += block
        counter += 1
    return out[:length]


def prf12(secret: bytes, label: bytes, seed: bytes, length: int, hash_name: str) -> bytes:
    """The TLS 1.2 PRF (RFC 5246 section 5): P_hash(secret, label + seed)."""
    seed = label + seed
    out = b""
    a = seed
    while len(out) < length:
        a = hmac.digest(secret, a, hash_name)
        out += hmac.digest(secret, a + seed, hash_name)
    return out[:length]


def master_from_premaster(
    premaster: bytes,
    suite: Suite,
    client_random: bytes,
    server_random: bytes,
    session_hash: bytes | None,
) -> bytes:
    """The TLS 1.2 master secret; ``session_hash`` set when extended master secret (RFC 7627)
    was negotiated."""
    if session_hash is not None:
        return prf12(premaster, b"extended master secret", session_hash, 48, suite.hash)
    return prf12(premaster, b"master secret", client_random + server_random, 48, suite.hash)


def next_traffic_secret(secret: bytes, suite: Suite) -> bytes:
    """The TLS 1.3 traffic secret after a KeyUpdate (RFC 8446 section 7.2)."""
    return hkdf_expand_label(secret, b"traffic upd", b"", _HASH_LEN[suite.hash], suite.hash)


# ------------------------------------------------------------------ record protection


class RecordKeys:
    """One direction's record protection: keys, IV, sequence number; ``open`` decrypts one
    record's payload (the record header is given for the additional data)."""

    __slots__ = (
        "aead",
        "cbc_key",
        "etm",
        "iv",
        "iv_int",
        "mac",
        "mac_key",
        "mode",
        "seq",
        "tls13",
    )

    def __init__(
        self,
        suite: Suite,
        key: bytes,
        iv: bytes,
        tls13: bool,
        mac_key: bytes = b"",
        etm: bool = False,
    ) -> None:
        self.mode = suite.mode
        self.tls13 = tls13
        self.iv = iv
        self.iv_int = int.from_bytes(iv, "big")  # XORed with the sequence number: the nonce
        self.seq = 0
        self.mac = suite.mac
        self.mac_key = mac_key
        self.etm = etm
        self.cbc_key = key
        self.aead: AESGCM | ChaCha20Poly1305 | AESCCM | None
        if suite.mode == _GCM:
            self.aead = AESGCM(key)
        elif suite.mode == _CHACHA:
            self.aead = ChaCha20Poly1305(key)
        elif suite.mode == _CCM:
            self.aead = AESCCM(key)
        else:
            self.aead = None

    def open(self, rtype: int, version: bytes, payload: bytes) -> bytes:
        """Decrypt and authenticate one record (``DecryptError`` when it fails)."""
        seq = self.seq
        self.seq = seq + 1
        aead = self.aead
        if aead is None:
            return self._open_cbc(seq, rtype, version, payload)
        if self.tls13:
            nonce = (self.iv_int ^ seq).to_bytes(12, "big")
            aad = _AAD13.pack(rtype, version, len(payload))
            body = payload
        elif self.mode == _GCM or self.mode == _CCM:
            if len(payload) < 24:
                raise DecryptError("record too short")
            nonce = self.iv + payload[:8]
            body = payload[8:]
            aad = struct.pack("!QB", seq, rtype) + version + struct.pack("!H", len(body) - 16)
        else:  # ChaCha20-Poly1305 in TLS 1.2: the nonce is the IV XOR the sequence number
            nonce = (self.iv_int ^ seq).to_bytes(12, "big")
            body = payload
            aad = struct.pack("!QB", seq, rtype) + version + struct.pack("!H", len(body) - 16)
        try:
            return aead.decrypt(nonce, body, aad)
        except (InvalidTag, ValueError) as exc:
            raise DecryptError("bad record tag") from exc

    def _open_cbc(self, seq: int, rtype: int, version: bytes, payload: bytes) -> bytes:
        assert self.mac is not None
        mac_len = _HASH_LEN[self.mac]
        if self.etm:  # RFC 7366: the MAC covers IV + ciphertext
            if len(payload) < 16 + 16 + mac_len:
                raise DecryptError("record too short")
            body, tag = payload[:-mac_len], payload[-mac_len:]
            head = struct.pack("!QB", seq, rtype) + version + struct.pack("!H", len(body))
            expect = hmac.digest(self.mac_key, head + body, self.mac)
            if not hmac.compare_digest(expect, tag):
                raise DecryptError("bad record MAC")
            return _strip_padding(self._cbc_decrypt(body))
        if len(payload) < 32 or len(payload) % 16:
            raise DecryptError("record not a whole number of blocks")
        plain = _strip_padding(self._cbc_decrypt(payload))
        if len(plain) < mac_len:
            raise DecryptError("record too short")
        data, tag = plain[:-mac_len], plain[-mac_len:]
        head = struct.pack("!QB", seq, rtype) + version + struct.pack("!H", len(data))
        expect = hmac.digest(self.mac_key, head + data, self.mac)
        if not hmac.compare_digest(expect, tag):
            raise DecryptError("bad record MAC")
        return data

    def _cbc_decrypt(self, body: bytes) -> bytes:
        if len(body) < 32 or len(body) % 16:
            raise DecryptError("record not a whole number of blocks")
        decryptor = Cipher(algorithms.AES(self.cbc_key), modes.CBC(body[:16])).decryptor()
        return decryptor.update(body[16:]) + decryptor.finalize()


def _strip_padding(plain: bytes) -> bytes:
    if not plain:
        raise DecryptError("empty record")
    pad = plain[-1]
    if pad + 1 > len(plain) or plain[-pad - 1 :] != bytes([pad]) * (pad + 1):
        raise DecryptError("bad record padding")
    return plain[: -pad - 1]


def keys13(suite: Suite, secret: bytes) -> RecordKeys:
    """A TLS 1.3 direction's record keys from its traffic secret."""
    key = hkdf_expand_label(secret, b"key", b"", suite.key_len, suite.hash)
    iv = hkdf_expand_label(secret, b"iv", b"", 12, suite.hash)
    return RecordKeys(suite, key, iv, tls13=True)


def keys12(
    suite: Suite, master: bytes, client_random: bytes, server_random: bytes, etm: bool
) -> tuple[RecordKeys, RecordKeys]:
    """TLS 1.2 record keys (client's, server's) from the master secret (RFC 5246 6.3)."""
    mac_len = _HASH_LEN[suite.mac] if suite.mode == _CBC and suite.mac else 0
    iv_len = 12 if suite.mode == _CHACHA else 4 if suite.mode in (_GCM, _CCM) else 16
    size = 2 * (mac_len + suite.key_len + iv_len)
    block = prf12(master, b"key expansion", server_random + client_random, size, suite.hash)
    pos = 0
    parts = []
    for length in (mac_len, mac_len, suite.key_len, suite.key_len, iv_len, iv_len):
        parts.append(block[pos : pos + length])
        pos += length
    cmac, smac, ckey, skey, civ, siv = parts
    return (
        RecordKeys(suite, ckey, civ, tls13=False, mac_key=cmac, etm=etm),
        RecordKeys(suite, skey, siv, tls13=False, mac_key=smac, etm=etm),
    )


def transcript_hash(messages: bytes, suite: Suite) -> bytes:
    """The hash of handshake messages under the suite's PRF hash."""
    return hashlib.new(suite.hash, messages).digest()
