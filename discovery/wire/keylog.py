"""TLS session secrets in: the NSS key log format (``SSLKEYLOGFILE``), from files and from pcapng
Decryption Secrets Blocks.

A key log line is ``LABEL <client random, hex> <secret, hex>`` (``RSA`` lines carry the first
eight bytes of the encrypted pre-master secret instead of the client random). Secrets stay in
this object's memory: it has no ``repr`` of its contents, nothing here logs a secret, and a
bad line is reported by its place (file and line number), never by its text.
"""

from __future__ import annotations

import binascii
from collections import deque
from pathlib import Path
from typing import Final

from discovery.errors import InputError
from discovery.stats import IngestStats

# label -> length in bytes of the secret (None: any of the TLS 1.3 hash lengths)
LABELS: Final[dict[str, tuple[int, ...]]] = {
    "CLIENT_RANDOM": (48,),  # TLS 1.2 master secret
    "RSA": (48,),  # TLS 1.2 pre-master secret by its encrypted form's first 8 bytes
    "PMS_CLIENT_RANDOM": (48,),  # TLS 1.2 pre-master secret by client random (BoringSSL)
    "CLIENT_EARLY_TRAFFIC_SECRET": (32, 48),
    "CLIENT_HANDSHAKE_TRAFFIC_SECRET": (32, 48),
    "SERVER_HANDSHAKE_TRAFFIC_SECRET": (32, 48),
    "CLIENT_TRAFFIC_SECRET_0": (32, 48),
    "SERVER_TRAFFIC_SECRET_0": (32, 48),
    "EXPORTER_SECRET": (32, 48),
    "EARLY_EXPORTER_SECRET": (32, 48),
}
_LATER_TRAFFIC: Final = ("CLIENT_TRAFFIC_SECRET_", "SERVER_TRAFFIC_SECRET_")
DSB_TLS_KEY_LOG: Final = 0x544C534B  # pcapng Decryption Secrets Block type "TLSK"
BAD_LINE: Final = "key log lines not understood"


class KeyLog:
    """Secrets by client random (and RSA pre-master secrets by encrypted prefix), in memory.

    A key log followed through a long live capture grows without end, while each line serves
    one handshake seen within seconds of its writing. Lines added with ``arrived=now`` are
    remembered with that time; ``forget_before(t)`` drops the sessions that arrived earlier (a
    connection already decrypting keeps the secrets it took). Lines added without a time stay."""

    __slots__ = ("_arrivals", "_by_random", "_rsa", "origins", "sources")

    def __init__(self) -> None:
        self._by_random: dict[bytes, dict[str, bytes]] = {}
        self._rsa: dict[bytes, bytes] = {}
        self.origins: dict[bytes, str] = {}  # client random -> name of the input that gave it
        self.sources: list[str] = []  # names of the key logs read (paths, "pcapng DSB")
        self._arrivals: deque[tuple[float, bool, bytes]] = deque()  # (time, is RSA, key)

    def __repr__(self) -> str:  # never the secrets
        return f"<KeyLog {len(self._by_random)} sessions from {len(self.sources)} inputs>"

    def __len__(self) -> int:
        return len(self._by_random) + len(self._rsa)

    def add_text(
        self,
        text: bytes,
        origin: str,
        stats: IngestStats | None = None,
        first_line: int = 1,
        arrived: float | None = None,
    ) -> int:
        """Read key log lines; returns how many were taken. Lines not understood are counted in
        ``stats`` with a warning naming ``origin`` and the line number (never the line);
        ``first_line`` is the number of the first line of ``text`` (a followed file read on);
        ``arrived``, when given, is when they were read (see ``forget_before``)."""
        taken = 0
        for number, raw in enumerate(text.splitlines(), first_line):
            line = raw.strip()
            if not line or line.startswith(b"#"):
                continue
            if self._add_line(line, origin, arrived):
                taken += 1
            elif stats is not None:
                stats.skip(BAD_LINE, f"{origin}: line {number}: not a key log line")
        if origin not in self.sources:
            self.sources.append(origin)
        return taken

    def forget_before(self, cutoff: float) -> int:
        """Drop the sessions that arrived before ``cutoff``; how many were dropped."""
        arrivals, dropped = self._arrivals, 0
        while arrivals and arrivals[0][0] < cutoff:
            _when, rsa, key = arrivals.popleft()
            if rsa:
                self._rsa.pop(key, None)
            else:
                self._by_random.pop(key, None)
                self.origins.pop(key, None)
            dropped += 1
        return dropped

    def add_file(self, path: Path, stats: IngestStats | None = None) -> int:
        """Read a key log file (``InputError`` when it cannot be read or has no key log line)."""
        try:
            text = path.read_bytes()
        except OSError as exc:
            raise InputError(str(path), f"cannot read key log: {exc.strerror or exc}") from exc
        probe = IngestStats()
        taken = self.add_text(text, str(path), probe)
        if not taken and probe.skipped:
            first = probe.warnings[0].rsplit(": ", 2)[-2] if probe.warnings else "line 1"
            raise InputError(
                str(path), "not an NSS key log (no CLIENT_RANDOM or *_SECRET line)", first
            )
        if stats is not None:
            stats.skipped.update(probe.skipped)
            for warning in probe.warnings:
                stats.warn(warning)
        return taken

    def _add_line(self, line: bytes, origin: str, arrived: float | None) -> bool:
        parts = line.split()
        if len(parts) != 3:
            return False
        try:
            label = parts[0].decode("ascii")
            key = binascii.unhexlify(parts[1])
            secret = binascii.unhexlify(parts[2])
        except (UnicodeDecodeError, binascii.Error, ValueError):
            return False
        sizes = LABELS.get(label)
        if sizes is None and label.startswith(_LATER_TRAFFIC):
            # secrets after key updates (OpenSSL logs them as ..._N): derived here from _0
            return len(key) == 32 and len(secret) in (32, 48)
        if sizes is None or len(secret) not in sizes:
            return False
        if label == "RSA":
            if len(key) != 8:
                return False
            if arrived is not None and key not in self._rsa:
                self._arrivals.append((arrived, True, key))
            self._rsa[key] = secret
            return True
        if len(key) != 32:
            return False
        session = self._by_random.get(key)
        if session is None:
            session = self._by_random[key] = {}
            if arrived is not None:
                self._arrivals.append((arrived, False, key))
        session[label] = secret
        self.origins.setdefault(key, origin)
        return True

    def secrets(self, client_random: bytes) -> dict[str, bytes] | None:
        """The secrets logged for a handshake's client random (label -> secret), if any."""
        return self._by_random.get(client_random)

    @property
    def has_rsa(self) -> bool:
        """Whether RSA pre-master secrets were logged (found by the ClientKeyExchange)."""
        return bool(self._rsa)

    def rsa_premaster(self, encrypted_prefix: bytes) -> bytes | None:
        """The pre-master secret of an RSA key exchange, by its encrypted form's first 8 bytes."""
        return self._rsa.get(encrypted_prefix[:8])

    def origin(self, client_random: bytes) -> str:
        return self.origins.get(client_random, self.sources[0] if self.sources else "key log")


def load(paths: list[Path] | tuple[Path, ...], stats: IngestStats | None = None) -> KeyLog:
    """Key logs from files, in order (the first secret logged for a client random wins)."""
    keys = KeyLog()
    for path in paths:
        keys.add_file(path, stats)
    return keys
