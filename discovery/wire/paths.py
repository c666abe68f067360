"""Request-target parsing and path normalisation (the original is kept beside it as evidence)."""

from __future__ import annotations

from urllib.parse import unquote, urlsplit

_UNRESERVED = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")

# A path deeper than this is folded: its first MAX_PATH_SEGMENTS - 1 segments are kept and the
# rest becomes one last segment (its slashes escaped as %2F), so no walk over a path (templating,
# spec matching) goes deeper, whatever a client sends. Real APIs stay far below it (the deepest
# templates of large public descriptions have about 12 segments).
MAX_PATH_SEGMENTS = 64


def fold_segments(segments: list[str]) -> list[str]:
    """Segments past the bound joined into one (escaped slashes): at most MAX_PATH_SEGMENTS."""
    if len(segments) <= MAX_PATH_SEGMENTS:
        return segments
    keep = MAX_PATH_SEGMENTS - 1
    return [*segments[:keep], "%2F".join(segments[keep:])]


def path_segments(path: str) -> list[str]:
    """The non-empty segments of a path, folded past MAX_PATH_SEGMENTS."""
    return fold_segments([s for s in path.split("/") if s])


def folded_depth(raw_path: str) -> int:
    """How many segments a raw path has when normalising folds it, else 0."""
    if raw_path.count("/") <= MAX_PATH_SEGMENTS:
        return 0
    depth = len(_resolved(raw_path))
    return depth if depth > MAX_PATH_SEGMENTS else 0


def split_target(target: str) -> tuple[str, str, str | None]:
    """Split a request-target into (raw path, raw query, authority from an absolute URI or None)."""
    authority = None
    if target.startswith(("http://", "https://")):
        parts = urlsplit(target)
        authority = parts.netloc or None
        path = parts.path or "/"
        return path, parts.query, authority
    target, _, _fragment = target.partition("#")
    path, _, query = target.partition("?")
    return path or "/", query, authority


def _decode_unreserved(segment: str) -> str:
    """Decode only percent-escapes of unreserved characters (RFC 3986 6.2.2.2)."""
    if "%" not in segment:
        return segment
    out = []
    i = 0
    while i < len(segment):
        ch = segment[i]
        if ch == "%" and i + 2 < len(segment) + 1:
            hexpart = segment[i + 1 : i + 3]
            if len(hexpart) == 2 and all(c in "0123456789abcdefABCDEF" for c in hexpart):
                decoded = chr(int(hexpart, 16))
                out.append(decoded if decoded in _UNRESERVED else "%" + hexpart.upper())
                i += 3
                continue
        out.append(ch)
        i += 1
    return "".join(out)


def normalise_path(raw_path: str) -> str:
    """Normalise a path: unreserved escapes decoded, dot segments resolved, duplicate and
    trailing slashes removed ("/" stays "/"), and folded past MAX_PATH_SEGMENTS segments."""
    if (
        raw_path.startswith("/")
        and "%" not in raw_path
        and "//" not in raw_path
        and "/." not in raw_path
        and raw_path.count("/") <= MAX_PATH_SEGMENTS
    ):  # already normal but perhaps for one trailing slash: most paths, without the split
        return raw_path[:-1] if raw_path.endswith("/") and len(raw_path) > 1 else raw_path
    return "/" + "/".join(fold_segments(_resolved(raw_path)))


def _resolved(raw_path: str) -> list[str]:
    """A path's segments with unreserved escapes decoded and dot segments resolved."""
    segments = [_decode_unreserved(s) for s in raw_path.split("/") if s]
    # resolve dot segments (also their escaped forms, which _decode_unreserved has decoded)
    resolved: list[str] = []
    for seg in segments:
        if seg == ".":
            continue
        if seg == "..":
            if resolved:
                resolved.pop()
            continue
        resolved.append(seg)
    return resolved


def names_of(pairs: list[tuple[str, str]]) -> tuple[str, ...]:
    """The distinct parameter names of decoded query pairs, in first-seen order (what an
    exchange keeps of its query: the values are dropped)."""
    return tuple(dict.fromkeys(name for name, _ in pairs))


def _plus_unquote(text: str) -> str:
    return unquote(text.replace("+", " "))


def query_pairs(raw_query: str) -> list[tuple[str, str]]:
    """(name, value) pairs of a query string, percent-decoded; for detectors only."""
    # most query strings hold neither escapes nor "+": then there is nothing to decode
    plain = "%" not in raw_query and "+" not in raw_query
    pairs = []
    for part in raw_query.split("&"):
        if not part:
            continue
        name, _, value = part.partition("=")
        pairs.append((name, value) if plain else (_plus_unquote(name), _plus_unquote(value)))
    return pairs
