"""Where a request really went, against the names it claims (Host header, TLS SNI).

A client chooses the Host header and the SNI freely; what decides where its bytes go is the
connection: the address it connected to, or, through a proxy, the target it named (the CONNECT
target or the absolute-form URI, RFC 9112 section 3.2.2: a proxy uses that and ignores Host).
A Host or SNI naming another host is what a client sends to pass a check made on the name while
going elsewhere (a fake Host header past an endpoint block, domain fronting).

What is knowable without DNS:

* the destination is a name the client gave (a proxy's CONNECT target or absolute URI): a Host
  or SNI naming another host contradicts it;
* the destination is only an address (a capture's server address): a Host that is an IP
  literal contradicts it when it is another address; a Host naming a host cannot be checked
  (its addresses are not in the traffic);
* a Host naming another host than the SNI of the same TLS connection (domain fronting; also
  what HTTP/2 connection reuse across names of one certificate looks like, RFC 9113 9.1.1).
"""

from __future__ import annotations

import ipaddress


def split_authority(authority: str) -> tuple[str, int | None]:
    """``host[:port]`` (IPv6 in brackets) -> (lower-case host without brackets or final dot,
    port or None)."""
    authority = authority.strip().lower()
    host, port = authority, None
    if authority.startswith("["):
        end = authority.find("]")
        host = authority[1:end] if end > 0 else authority[1:]
        rest = authority[end + 1 :] if end > 0 else ""
        if rest.startswith(":") and rest[1:].isdigit():
            port = int(rest[1:])
    elif authority.count(":") == 1:
        name, _, digits = authority.partition(":")
        if digits.isdigit():
            host, port = name, int(digits)
    return host.rstrip("."), port


# what an IP literal is written with (an IPv6 zone id after "%" aside): a name with any other
# character is no address, known without the exception ``ip_address`` raises (per request)
_ADDRESS_CHARS = frozenset("0123456789abcdefABCDEF.:")
_IS_IP_MEMO: dict[str, bool] = {}
IS_IP_MEMO_SIZE = 4096


def is_ip(host: str) -> bool:
    """Whether ``host`` is an IPv4 or IPv6 address literal (as ``ipaddress.ip_address`` reads
    it). Called for every request, mostly with the same few names: remembered (bounded)."""
    known = _IS_IP_MEMO.get(host)
    if known is not None:
        return known
    if _ADDRESS_CHARS.issuperset(host.partition("%")[0]):
        try:
            ipaddress.ip_address(host)
            known = True
        except ValueError:
            known = False
    else:
        known = False
    if len(_IS_IP_MEMO) >= IS_IP_MEMO_SIZE:
        _IS_IP_MEMO.clear()
    _IS_IP_MEMO[host] = known
    return known


def _same_ip(a: str, b: str) -> bool:
    try:
        return ipaddress.ip_address(a) == ipaddress.ip_address(b)
    except ValueError:
        return a == b


def authority(host: str, port: int | None) -> str:
    """``host:port`` with an IPv6 address in brackets (no port: the host alone)."""
    shown = f"[{host}]" if ":" in host else host
    return shown if port is None else f"{shown}:{port}"


def shown(value: str) -> str:
    """A client-chosen name, made safe to store and log: printable ASCII, bounded."""
    text = "".join(c if " " < c < "\x7f" else "?" for c in value[:100])
    return text + ("…" if len(value) > 100 else "")


# contradiction() answers, by (destination, named, claimed, sni): every request asks, and a
# capture's requests name the same few servers, hosts and SNIs again and again. Bounded in
# entries and in the length of the names remembered (longer ones are answered afresh).
_CONTRADICTIONS: dict[tuple[str | None, bool, str | None, str | None], tuple[str | None]] = {}
CONTRADICTIONS_MEMO_SIZE = 4096
CONTRADICTIONS_MAX_NAMES = 512  # characters of the three names together


def contradiction(
    *,
    destination: str | None,
    named: bool,
    claimed: str | None,
    sni: str | None,
) -> str | None:
    """How the Host header (``claimed``) or the SNI contradicts where the request went, or None.

    ``destination`` is ``host:port``; ``named`` says the client named it (a proxy's CONNECT
    target or absolute URI) rather than it being only the address connected to. A Host's port
    is compared only when it gives one; an SNI is compared with a name (clients send none for an
    address given as an IP)."""
    key = (destination, named, claimed, sni)
    known = _CONTRADICTIONS.get(key)
    if known is not None:
        return known[0]
    answer = _contradiction(destination, named, claimed, sni)
    size = len(destination or "") + len(claimed or "") + len(sni or "")
    if size <= CONTRADICTIONS_MAX_NAMES:
        if len(_CONTRADICTIONS) >= CONTRADICTIONS_MEMO_SIZE:
            _CONTRADICTIONS.clear()
        _CONTRADICTIONS[key] = (answer,)
    return answer


def _contradiction(
    destination: str | None, named: bool, claimed: str | None, sni: str | None
) -> str | None:
    if destination:
        host, port = split_authority(destination)
        if claimed:
            claimed_host, claimed_port = split_authority(claimed)
            ports_differ = claimed_port is not None and port is not None and claimed_port != port
            if named and (claimed_host != host or ports_differ):
                return f"Host {shown(claimed)} sent to {shown(destination)}"
            if (
                not named
                and is_ip(host)
                and is_ip(claimed_host)
                and (not _same_ip(claimed_host, host) or ports_differ)
            ):
                return f"Host {shown(claimed)} sent to {shown(destination)}"
        if named and sni and not is_ip(host):
            name = sni.strip().lower().rstrip(".")
            if name != host:
                return f"SNI {shown(sni)} sent to {shown(destination)}"
    if claimed and sni:
        claimed_host, _ = split_authority(claimed)
        name = sni.strip().lower().rstrip(".")
        if name and not is_ip(claimed_host) and not is_ip(name) and claimed_host != name:
            return f"Host {shown(claimed)} inside TLS for SNI {shown(sni)}"
    return None
