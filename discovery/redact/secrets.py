"""Keyed fingerprints and redacted forms: how a secret is remembered without being kept.

The per-case key lives beside the case in ``PATH.key`` (mode 0600), never inside the database, so
a case file handed to someone else cannot be used to confirm guesses about secrets.
"""

from __future__ import annotations

import hmac
import os
import secrets as _random
from pathlib import Path

from discovery.errors import CaseFileError

KEY_BYTES = 32


def key_path_for(case_path: Path) -> Path:
    """The key file that belongs to a case file."""
    return case_path.with_name(case_path.name + ".key")


def load_or_create_key(case_path: Path, *, create: bool) -> bytes:
    """Read the case key, creating it (0600, atomically) when ``create`` and it does not exist."""
    path = key_path_for(case_path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        if not create:
            raise CaseFileError(f"{path}: case key file is missing") from None
        data = _random.token_hex(KEY_BYTES).encode()
        # written whole to a private temporary file, then linked into place: a kill at any
        # point leaves either no key file or a complete one, never an empty one
        temp = path.with_name(f".{path.name}.{os.getpid()}.{_random.token_hex(4)}.tmp")
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            try:
                os.link(temp, path)
            except FileExistsError:  # another process created it first: use theirs
                return load_or_create_key(case_path, create=False)
        finally:
            temp.unlink(missing_ok=True)
        return bytes.fromhex(data.decode())
    try:
        key = bytes.fromhex(data.decode().strip())
    except ValueError as exc:
        raise CaseFileError(f"{path}: case key file is damaged") from exc
    if len(key) != KEY_BYTES:
        raise CaseFileError(
            f"{path}: case key file is damaged ({len(key)} bytes, expected {KEY_BYTES})"
        )
    return key


class Fingerprinter:
    """HMAC-SHA256 of a secret under one case's key."""

    __slots__ = ("_key",)

    def __init__(self, key: bytes) -> None:
        self._key = key

    def __call__(self, secret: str | bytes) -> str:
        raw = secret.encode("utf-8", "surrogateescape") if isinstance(secret, str) else secret
        return hmac.digest(self._key, raw, "sha256").hex()  # one call into OpenSSL


def credential_id(fingerprint: str) -> str:
    """The short public id of a credential (safe to show: derived from the keyed fingerprint)."""
    return "c-" + fingerprint[:12]


def redact(secret: str, *, keep_prefix: int = 0, keep_suffix: int = 4) -> str:
    """A display form that keeps a known non-secret prefix and a few trailing characters.

    Short secrets keep nothing at the end, so redaction never reveals most of a value.
    """
    if len(secret) < 12:
        keep_suffix = 0
    if keep_prefix + keep_suffix >= len(secret) // 2:
        keep_suffix = 0
        keep_prefix = min(keep_prefix, len(secret) // 2)
    head = secret[:keep_prefix]
    tail = secret[-keep_suffix:] if keep_suffix else ""
    return f"{head}…{tail}"
