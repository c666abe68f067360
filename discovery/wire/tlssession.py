"""One TLS connection decrypted with its logged secrets: records read in order per direction,
the handshake followed far enough to know the keys, application data handed to HTTP/1.x or
HTTP/2.

What is followed: ClientHello (client random, SNI, ALPN, JA4), ServerHello (server random,
version, cipher suite, ALPN, encrypt-then-MAC, extended master secret), a HelloRetryRequest,
ChangeCipherSpec (TLS 1.2), the RSA ClientKeyExchange (for ``RSA``/``PMS_CLIENT_RANDOM``
key log lines, with the session hash for extended master secret), Finished (TLS 1.3 switches to
the application secrets) and KeyUpdate. A record that fails authentication is counted, the
direction stops there and the connection is marked (its opaque exchange carries the reason);
nothing after it is guessed at. A gap (lost TCP bytes) ends decryption of that direction: the
record sequence numbers are lost with it.

A key log that grows while the traffic is read (a live capture following ``SSLKEYLOGFILE``:
clients write a connection's secrets during its handshake, after the ClientHello went out)
is waited for (``Waiting``): a connection whose secrets are not there yet holds its bytes, in
order, until they appear, then is decrypted as if they had been there from the start; past
the wait's bounds (seconds since the ClientHello, bytes held by the connection and by all)
it is left opaque and counted without secrets, as it would have been without the wait.
"""

from __future__ import annotations

import hashlib
import struct
from typing import TYPE_CHECKING, Final, Protocol

from discovery.models import ObservedExchange, over_tls
from discovery.stats import IngestStats
from discovery.wire import tlscrypto
from discovery.wire.fingerprints import ja4s
from discovery.wire.http1 import HttpSession, looks_like_request
from discovery.wire.http2 import PREFACE, H2Session
from discovery.wire.keylog import KeyLog
from discovery.wire.tls import ClientHello, NotClientHello, hello_exchange, parse_client_hello

if TYPE_CHECKING:
    from discovery.wire.reassembly import Connection

_HRR_RANDOM: Final = hashlib.sha256(b"HelloRetryRequest").digest()
_CCS, _ALERT, _HANDSHAKE, _APPDATA, _HEARTBEAT = 20, 21, 22, 23, 24
MAX_RECORD: Final = (1 << 14) + 2048
MAX_HANDSHAKE: Final = 1 << 17
MAX_WAITING: Final = 1 << 20  # server bytes held while the application protocol is unknown

FAILED: Final = "TLS records failing authentication (connection marked, direction stopped)"
DECRYPTED: Final = "TLS connections decrypted (secrets from {origin})"
NO_SECRETS: Final = "TLS connections without secrets in the key logs (left opaque)"
OLD_VERSION: Final = "TLS connections of a version not decrypted (SSL 3.0, TLS 1.0, 1.1)"
UNKNOWN_SUITE: Final = "TLS connections with a cipher suite not decrypted"
LOST: Final = "TLS directions not decrypted past a gap (record sequence lost)"
EARLY: Final = "TLS 1.3 early-data records not decrypted"
OTHER_APP: Final = "decrypted TLS connections carrying neither HTTP/1.x nor HTTP/2"
LATE: Final = "TLS connections whose secrets were logged after their ClientHello (held, then read)"
WAITED: Final = "TLS connections whose secrets were waited for in vain ({why}; left opaque)"
_COMPLETE13: Final = (
    "CLIENT_HANDSHAKE_TRAFFIC_SECRET",
    "SERVER_HANDSHAKE_TRAFFIC_SECRET",
    "CLIENT_TRAFFIC_SECRET_0",
    "SERVER_TRAFFIC_SECRET_0",
)


class AppSession(Protocol):
    def data(self, from_client: bool, data: bytes, ts: float, frame: int) -> None: ...

    def gap(self, from_client: bool, size: int) -> None: ...

    def close(self) -> None: ...


class Pipeline(Protocol):
    """What a TLS session needs of the connection tracker."""

    stats: IngestStats
    source: str
    where: str
    secrets: KeyLog | None
    waiting: Waiting | None  # set when the key log grows: connections wait for their secrets

    def emit(self, conn: Connection, exchange: ObservedExchange) -> None: ...


class Waiting:
    """TLS connections waiting for their secrets to appear in a key log that grows, bounded
    in time (``seconds`` after the ClientHello, by the capture's clock) and in bytes held
    (``per_connection``, and ``total`` for all of them together)."""

    __slots__ = ("held", "per_connection", "seconds", "sessions", "total")

    def __init__(
        self, seconds: float = 10.0, per_connection: int = 1 << 20, total: int = 64 << 20
    ) -> None:
        self.seconds = seconds
        self.per_connection = per_connection
        self.total = total
        self.held = 0  # bytes held by every waiting connection
        self.sessions: dict[int, TlsSession] = {}

    def __len__(self) -> int:
        return len(self.sessions)

    def check(self, now: float) -> None:
        """Resume the connections whose secrets are in now; give up on those past ``seconds``."""
        for session in list(self.sessions.values()):
            session.poll(now)

    def settle(self) -> None:
        """The end of the input: each connection is read with what the key log holds (its
        secrets, complete or not) or left opaque without secrets."""
        for session in list(self.sessions.values()):
            session.poll(None)


class _Direction:
    __slots__ = ("broken", "buf", "epoch", "handshake", "keys", "secret", "seen_ok")

    def __init__(self) -> None:
        self.buf = bytearray()
        self.handshake = bytearray()  # plaintext handshake bytes not yet a whole message
        self.keys: tlscrypto.RecordKeys | None = None
        self.secret = b""  # TLS 1.3: the current traffic secret (for KeyUpdate)
        self.epoch = 0  # 0 clear, 1 handshake keys (1.3), 2 application keys
        self.broken = False
        self.seen_ok = False  # a record already decrypted under the current keys


class TlsSession:
    """Handler of one TLS connection when key logs are given (see the module docstring)."""

    def __init__(self, pipeline: Pipeline, conn: Connection) -> None:
        self.pipeline = pipeline
        self.conn = conn
        self.stats = pipeline.stats
        self.dirs = (_Direction(), _Direction())  # client, server
        self.hello: ClientHello | None = None
        self.ja4: str | None = None
        self.ja4s: str | None = None  # the server's answer (from its ServerHello)
        self.hello_ts = 0.0
        self.hello_frames = (0, 0)
        self.client_random = b""
        self.server_random = b""
        self.secrets: dict[str, bytes] | None = None
        self.version = 0
        self.suite: tlscrypto.Suite | None = None
        self.alpn: str | None = None
        self.etm = False
        self.ems = False
        self.early_offered = False
        self.transcript = bytearray()  # TLS 1.2 handshake messages (extended master secret)
        self.session_hash: bytes | None = None
        self.premaster: bytes | None = None
        self.state = "hello"  # hello | decrypting | opaque
        self.opaque_sent = False
        self.failure: str | None = None
        self.app: AppSession | None = None
        self.app_kind = ""  # "" undecided | "h1" | "h2" | "other"
        self.waiting: list[tuple[bytes, float, int]] = []  # server data before the app is known
        self.emitted = 0
        self.counted = False  # counted as decrypted (a first record authenticated)
        self._pending12: tuple[tlscrypto.RecordKeys, tlscrypto.RecordKeys] | None = None
        # while waiting for secrets (state "waiting"): what came, in order, gaps included
        self.held: list[tuple[bool, bytes, float, int, int]] = []  # client?, data, ts, frame, gap
        self.held_bytes = 0
        self.closed = False  # closed while waiting: closed again once read

    # ----------------------------------------------------------- from the reassembler

    def data(self, from_client: bool, data: bytes, ts: float, frame: int) -> None:
        if self.state == "opaque":
            return
        if self.state == "waiting":
            self._hold(from_client, data, ts, frame, 0)
            return
        d = self.dirs[0 if from_client else 1]
        if d.broken:
            return
        if self.state == "hello" and from_client and not self.hello_frames[0]:
            self.hello_ts = ts
            self.hello_frames = (frame, frame)
        if d.buf:  # a record cut by the last call: read on from its start
            d.buf += data
            data = bytes(d.buf)
            d.buf.clear()
        self._records(from_client, d, data, ts, frame)

    def gap(self, from_client: bool, size: int) -> None:
        if self.state == "waiting":
            self._hold(from_client, b"", 0.0, 0, size)
            return
        d = self.dirs[0 if from_client else 1]
        if self.state == "hello" and from_client and self.hello is None:
            self.stats.skip("incomplete TLS ClientHello")
            self.state = "opaque"
            return
        if not d.broken and self.state == "decrypting":
            d.broken = True
            self.stats.counts[LOST] += 1
            if self.app is not None:
                self.app.gap(from_client, size)

    def close(self) -> None:
        if self.state == "waiting":
            self.closed = True  # read (or left opaque) when the wait ends
            return
        if self.state == "hello" and self.hello is None:
            if self.hello_frames[0]:
                self.stats.skip("incomplete TLS ClientHello")
            return
        if self.app is not None:
            self.app.close()
        if self.hello is not None and not self.opaque_sent and (self.emitted == 0 or self.failure):
            self._emit_opaque(self.failure)

    # ----------------------------------------------------------- records

    def _records(
        self, from_client: bool, d: _Direction, data: bytes, ts: float, frame: int
    ) -> None:
        """The whole records of ``data`` (what ``d.buf`` held first, then what came), in order;
        a record cut at the end waits in ``d.buf``."""
        pos = 0
        size = len(data)
        while size - pos >= 5 and not d.broken and self.state in ("hello", "decrypting"):
            rtype = data[pos]
            length = (data[pos + 3] << 8) | data[pos + 4]
            if not 20 <= rtype <= 24 or data[pos + 1] != 3 or length > MAX_RECORD:
                if self.state == "hello" and self.hello is None:
                    self.stats.skip(
                        "malformed TLS ClientHello",
                        f"{self.pipeline.where}: frame {frame}: not a TLS record",
                    )
                    self.state = "opaque"
                else:
                    d.broken = True
                    self.stats.counts["TLS record streams out of sync (direction stopped)"] += 1
                break
            end = pos + 5 + length
            if end > size:
                break
            version = data[pos + 1 : pos + 3]
            payload = data[pos + 5 : end]
            pos = end
            self._record(from_client, d, rtype, version, payload, ts, frame)
        if pos < size:
            d.buf += data[pos:] if pos else data

    def _record(
        self,
        from_client: bool,
        d: _Direction,
        rtype: int,
        version: bytes,
        payload: bytes,
        ts: float,
        frame: int,
    ) -> None:
        if rtype == _CCS:
            if self.version == 0x0303 and self.state == "decrypting" and d.keys is None:
                self._keys12()
                d.keys = self._pending12[0 if from_client else 1] if self._pending12 else None
                d.epoch = 2
                if d.keys is None:
                    d.broken = True
            return  # TLS 1.3 middlebox-compatibility CCS: nothing to do
        keys = d.keys
        if keys is None:
            if rtype == _HANDSHAKE:
                self._handshake(from_client, d, payload, frame)
            elif rtype == _APPDATA and from_client and self.early_offered:
                self.stats.counts[EARLY] += 1
            return
        try:
            plain = keys.open(rtype, version, payload)
        except tlscrypto.DecryptError as exc:
            if from_client and self.early_offered and d.epoch == 1 and not d.seen_ok:
                self.stats.counts[EARLY] += 1  # 0-RTT data the server may have refused
                keys.seq -= 1
                return
            self._fail(d, str(exc), frame)
            return
        d.seen_ok = True
        if not self.counted:
            self.counted = True
            self._decided()
        if keys.tls13:
            end = len(plain)
            while end and not plain[end - 1]:
                end -= 1
            if not end:
                self._fail(d, "record without content type", frame)
                return
            rtype = plain[end - 1]
            plain = plain[: end - 1]
        if rtype == _APPDATA:
            self._app_data(from_client, plain, ts, frame)
        elif rtype == _HANDSHAKE:
            self._handshake(from_client, d, plain, frame)

    def _fail(self, d: _Direction, reason: str, frame: int) -> None:
        d.broken = True
        self.stats.counts[FAILED] += 1
        if self.failure is None:
            self.failure = f"TLS decryption failed: {reason} (frame {frame})"
            self.stats.warn(f"{self.pipeline.where}: frame {frame}: TLS record failed: {reason}")

    # ----------------------------------------------------------- handshake

    def _handshake(self, from_client: bool, d: _Direction, data: bytes, frame: int) -> None:
        hs = d.handshake
        hs += data
        pos = 0
        while len(hs) - pos >= 4:
            length = int.from_bytes(hs[pos + 1 : pos + 4], "big")
            if length > MAX_HANDSHAKE:
                d.broken = True
                self.stats.counts["TLS handshake messages too large (direction stopped)"] += 1
                hs.clear()
                return
            if len(hs) - pos < 4 + length:
                break
            msg = bytes(hs[pos : pos + 4 + length])
            pos += 4 + length
            self._message(from_client, d, msg, frame)
            if self.state == "opaque" or d.broken:
                hs.clear()
                return
            if self.state == "waiting":
                break  # the rest is read once the secrets are in
        del hs[:pos]

    def _message(self, from_client: bool, d: _Direction, msg: bytes, frame: int) -> None:
        kind = msg[0]
        if d.epoch == 0 and kind in (1, 2, 11, 12, 13, 14, 15, 16):
            self.transcript += msg
        if kind == 1 and from_client:
            self._client_hello(msg, frame)
        elif kind == 2 and not from_client:
            self._server_hello(msg)
        elif kind == 16 and from_client and self.version == 0x0303:
            self._client_key_exchange(msg)
        elif kind == 20 and self.version == 0x0304 and d.epoch == 1:
            self._tls13_switch(from_client, d)
        elif kind == 24 and self.version == 0x0304 and d.epoch == 2 and self.suite is not None:
            d.secret = tlscrypto.next_traffic_secret(d.secret, self.suite)
            d.keys = tlscrypto.keys13(self.suite, d.secret)
            d.seen_ok = False
            self.stats.counts["TLS 1.3 key updates followed"] += 1

    def _client_hello(self, msg: bytes, frame: int) -> None:
        if self.hello is not None:
            return  # the second ClientHello after a HelloRetryRequest keeps the random
        self.hello_frames = (self.hello_frames[0] or frame, frame)
        try:
            record = b"\x16\x03\x01" + struct.pack("!H", min(len(msg), 0xFFFF)) + msg
            hello = parse_client_hello(record)
        except NotClientHello as exc:
            self.stats.skip(
                "malformed TLS ClientHello", f"{self.pipeline.where}: frame {frame}: {exc}"
            )
            self.state = "opaque"
            return
        self.hello = hello
        self.ja4 = hello.ja4  # computed once: every exchange of the connection carries it
        self.client_random = msg[6:38]
        self.early_offered = 0x002A in hello.extensions
        keys = self.pipeline.secrets
        self.secrets = keys.secrets(self.client_random) if keys is not None else None
        if self.secrets is None and keys is not None and keys.has_rsa:
            self.secrets = {}  # an RSA key exchange may find its pre-master secret logged
        waiting = self.pipeline.waiting
        if waiting is not None and not self._complete(self.secrets):
            self.state = "waiting"  # the key log grows: its secrets may be logged any moment
            waiting.sessions[id(self)] = self
            return
        if self.secrets is None:
            self.stats.counts[NO_SECRETS] += 1
            self._emit_opaque(None)
            self.state = "opaque"
            return
        self.state = "decrypting"

    # ----------------------------------------------------------- waiting for secrets

    @staticmethod
    def _complete(secrets: dict[str, bytes] | None) -> bool:
        """Whether logged secrets are all a connection can need (TLS 1.2 or 1.3)."""
        if not secrets:
            return False
        if "CLIENT_RANDOM" in secrets or "PMS_CLIENT_RANDOM" in secrets:
            return True
        return all(label in secrets for label in _COMPLETE13)

    def _hold(self, from_client: bool, data: bytes, ts: float, frame: int, gap: int) -> None:
        waiting = self.pipeline.waiting
        assert waiting is not None
        self.held.append((from_client, data, ts, frame, gap))
        self.held_bytes += len(data)
        waiting.held += len(data)
        if self.held_bytes > waiting.per_connection:
            self._stop_waiting(f"over {_size(waiting.per_connection)} held")
        elif waiting.held > waiting.total:
            self._stop_waiting(f"over {_size(waiting.total)} held by all connections")
        else:
            self.poll(ts if ts else None, final=False)

    def poll(self, now: float | None, final: bool = True) -> None:
        """While waiting: read on if the secrets are in; at ``now`` past the wait (or at the
        end, ``now`` None, when ``final``), read on with what was logged or give up."""
        if self.state != "waiting":
            return
        keys = self.pipeline.secrets
        waiting = self.pipeline.waiting
        assert keys is not None and waiting is not None
        secrets = keys.secrets(self.client_random)
        if secrets is not None and self._complete(secrets):
            self.stats.counts[LATE] += 1
            self._resume(secrets)
            return
        if now is None and not final:
            return
        if now is not None and now - self.hello_ts < waiting.seconds:
            return
        if secrets is None and keys.has_rsa:
            secrets = {}  # an RSA key exchange may find its pre-master secret logged
        if secrets is not None:
            self._resume(secrets)  # what is missing is counted as it is found missing
        else:
            why = "the input ended" if now is None else f"{waiting.seconds:g} s passed"
            self._stop_waiting(why)

    def _release(self) -> list[tuple[bool, bytes, float, int, int]]:
        waiting = self.pipeline.waiting
        assert waiting is not None
        waiting.sessions.pop(id(self), None)
        waiting.held -= self.held_bytes
        held, self.held, self.held_bytes = self.held, [], 0
        return held

    def _stop_waiting(self, why: str) -> None:
        self._release()
        self.stats.counts[NO_SECRETS] += 1
        self.stats.counts[WAITED.format(why=why)] += 1
        self.state = "opaque"
        self._emit_opaque(None)

    def _resume(self, secrets: dict[str, bytes]) -> None:
        """Read on from the ClientHello with the secrets, then what came while waiting."""
        held = self._release()
        self.secrets = secrets
        self.state = "decrypting"
        client = self.dirs[0]
        frame = self.hello_frames[1]
        if client.handshake:
            self._handshake(True, client, b"", frame)
        if client.buf and self.state == "decrypting":
            held_records = bytes(client.buf)
            client.buf.clear()
            self._records(True, client, held_records, self.hello_ts, frame)
        for from_client, data, ts, at, gap in held:
            if gap:
                self.gap(from_client, gap)
            else:
                self.data(from_client, data, ts, at)
        if self.closed:
            self.close()

    # ----------------------------------------------------------- server

    def _server_hello(self, msg: bytes) -> None:
        if self.state != "decrypting" or self.suite is not None:
            return
        try:
            legacy = struct.unpack_from("!H", msg, 4)[0]
            random = msg[6:38]
            pos = 38
            pos += 1 + msg[pos]
            suite_code = struct.unpack_from("!H", msg, pos)[0]
            pos += 3
            version = legacy
            extensions: list[int] = []
            if pos + 2 <= len(msg):
                end = min(len(msg), pos + 2 + struct.unpack_from("!H", msg, pos)[0])
                pos += 2
                while pos + 4 <= end:
                    etype, elen = struct.unpack_from("!HH", msg, pos)
                    ext = msg[pos + 4 : pos + 4 + elen]
                    pos += 4 + elen
                    extensions.append(etype)
                    if etype == 0x002B and len(ext) == 2:
                        version = struct.unpack("!H", ext)[0]
                    elif etype == 0x0016:
                        self.etm = True
                    elif etype == 0x0017:
                        self.ems = True
                    elif etype == 0x0010 and len(ext) >= 3:
                        self.alpn = ext[3 : 3 + ext[2]].decode("latin-1")
        except (struct.error, IndexError):
            self._give_up("malformed TLS ServerHello")
            return
        if random == _HRR_RANDOM:
            return  # HelloRetryRequest: the real ServerHello follows the second ClientHello
        self.server_random = random
        self.version = version
        self.ja4s = ja4s(version, suite_code, extensions, self.alpn)
        if version not in (0x0303, 0x0304):
            self.stats.counts[OLD_VERSION] += 1
            self._give_up(None)
            return
        suite = tlscrypto.SUITES.get(suite_code)
        if suite is None or (suite.mode == "cbc" and version == 0x0304):
            self.stats.counts[UNKNOWN_SUITE] += 1
            self.stats.warn(
                f"{self.pipeline.where}: frames {self.hello_frames[0]}-: cipher suite "
                f"0x{suite_code:04x} not decrypted"
            )
            self._give_up(None)
            return
        self.suite = suite
        if version == 0x0304:
            secrets = self.secrets or {}
            chs = secrets.get("CLIENT_HANDSHAKE_TRAFFIC_SECRET")
            shs = secrets.get("SERVER_HANDSHAKE_TRAFFIC_SECRET")
            client, server = self.dirs
            if chs is not None and shs is not None:
                for d, secret in ((client, chs), (server, shs)):
                    d.secret = secret
                    d.keys = tlscrypto.keys13(suite, secret)
                    d.epoch = 1
            elif "CLIENT_TRAFFIC_SECRET_0" in secrets and "SERVER_TRAFFIC_SECRET_0" in secrets:
                self.stats.counts["TLS 1.3 connections without handshake secrets"] += 1
                self._give_up(None)
                return
            else:
                self.stats.counts[NO_SECRETS] += 1
                self._give_up(None)
                return
        self._start_app()

    def _decided(self) -> None:
        origin = self.pipeline.secrets.origin(self.client_random) if self.pipeline.secrets else ""
        self.stats.counts[DECRYPTED.format(origin=origin)] += 1

    def _client_key_exchange(self, msg: bytes) -> None:
        if self.suite is not None:
            self.session_hash = tlscrypto.transcript_hash(bytes(self.transcript), self.suite)
        body = msg[4:]
        if len(body) >= 10 and self.pipeline.secrets is not None:
            length = struct.unpack_from("!H", body, 0)[0]
            if length == len(body) - 2:
                self.premaster = self.pipeline.secrets.rsa_premaster(body[2:10])

    def _keys12(self) -> None:
        if self._pending12 is not None or self.suite is None:
            return
        secrets = self.secrets or {}
        master = secrets.get("CLIENT_RANDOM")
        if master is None:
            premaster = secrets.get("PMS_CLIENT_RANDOM") or self.premaster
            if premaster is None:
                self.stats.counts[NO_SECRETS] += 1
                self._give_up(None)
                return
            master = tlscrypto.master_from_premaster(
                premaster,
                self.suite,
                self.client_random,
                self.server_random,
                self.session_hash if self.ems else None,
            )
        self._pending12 = tlscrypto.keys12(
            self.suite, master, self.client_random, self.server_random, self.etm
        )

    def _tls13_switch(self, from_client: bool, d: _Direction) -> None:
        assert self.suite is not None
        secret = (self.secrets or {}).get(
            "CLIENT_TRAFFIC_SECRET_0" if from_client else "SERVER_TRAFFIC_SECRET_0"
        )
        if secret is None:
            d.broken = True
            self.stats.counts["TLS 1.3 connections without application secrets"] += 1
            return
        d.secret = secret
        d.keys = tlscrypto.keys13(self.suite, secret)
        d.epoch = 2
        d.seen_ok = False

    def _give_up(self, failure: str | None) -> None:
        """Leave the connection opaque (as without a key log), with a reason if it failed."""
        if failure is not None:
            self.stats.skip(failure)
        self.state = "opaque"
        if not self.opaque_sent and self.hello is not None:
            self._emit_opaque(failure)

    # ----------------------------------------------------------- application data

    def _start_app(self) -> None:
        if self.alpn == "h2":
            self._make_app("h2")
        elif self.alpn in ("http/1.1", "http/1.0"):
            self._make_app("h1")

    def _make_app(self, kind: str) -> None:
        self.app_kind = kind
        ends = endpoints(self.conn)
        p = self.pipeline
        if kind == "h2":
            self.app = H2Session(self._emit_app, p.stats, p.source, *ends, p.where)
        elif kind == "h1":
            self.app = HttpSession(self._emit_app, p.stats, p.source, *ends, p.where)
        else:
            self.stats.counts[OTHER_APP] += 1
        waiting, self.waiting = self.waiting, []
        if self.app is not None:
            for data, ts, frame in waiting:
                self.app.data(False, data, ts, frame)

    def _app_data(self, from_client: bool, data: bytes, ts: float, frame: int) -> None:
        if not self.app_kind:
            if not from_client:
                if sum(len(w[0]) for w in self.waiting) < MAX_WAITING:
                    self.waiting.append((data, ts, frame))
                return
            if PREFACE.startswith(data[: len(PREFACE)]) and data[:3] == b"PRI":
                self._make_app("h2")
            elif looks_like_request(data):
                self._make_app("h1")
            else:
                self._make_app("other")
        if self.app is not None:
            self.app.data(from_client, data, ts, frame)

    def _emit_app(self, exchange: ObservedExchange) -> None:
        hello = self.hello
        assert hello is not None
        self.emitted += 1
        self.pipeline.emit(
            self.conn,
            over_tls(
                exchange,
                hello.sni,
                self.alpn or (hello.alpn[0] if hello.alpn else None),
                self.ja4,
                self.ja4s,
                exchange.host or hello.sni,
            ),
        )

    def _emit_opaque(self, error: str | None) -> None:
        hello = self.hello
        assert hello is not None
        self.opaque_sent = True
        self.pipeline.emit(
            self.conn,
            hello_exchange(
                hello,
                self.hello_ts,
                self.hello_frames,
                self.pipeline.source,
                *endpoints(self.conn),
                ja4=self.ja4,
                ja4s=self.ja4s,
                host=hello.sni,
                error=error,
            ),
        )


def endpoints(conn: Connection) -> tuple[tuple[str, int], tuple[str, int]]:
    """A connection's client and server, each (address, port); side 0 is the client until
    the connection says otherwise."""
    client = conn.client or 0
    return (conn.ip(client), conn.ports[client]), (conn.ip(1 - client), conn.ports[1 - client])


def _size(n: int) -> str:
    return f"{n >> 20} MiB" if n >= 1 << 20 and not n & 0xFFFFF else f"{n >> 10} KiB"
