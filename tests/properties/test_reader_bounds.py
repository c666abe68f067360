"""Every reader against generated deep and huge structures: JSON and YAML nested tens of thousands
deep, numbers of thousands of digits, NaN and infinities, times and ports far out of range,
declared lengths far beyond the file, alias bombs, self-referring aliases. A reader either keeps
what it can (every value it yields within bounds: status 100-999, ports 0-65535, times
1970-9999, sizes within ``bounds.MAX_SIZE``) or refuses the input with its own error (one line,
naming the file); nothing else ever comes out of it (no RecursionError, MemoryError,
OverflowError, ValueError, TypeError)."""

from __future__ import annotations

import json
import math
import struct
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from discovery import boundedyaml
from discovery.errors import InputError
from discovery.models import ObservedExchange
from discovery.sources import bounds, har, mitm, pcap, zeek
from discovery.stats import IngestStats
from discovery.timeutil import MAX_TS, MIN_TS

SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# ------------------------------------------------------------------ generated values


@st.composite
def deep_json(draw: st.DrawFn) -> str:
    """A JSON value nested up to 60,000 deep (built as text: ``json.dumps`` would recurse)."""
    depth = draw(st.integers(1, 60_000))
    kind = draw(st.sampled_from(["list", "dict", "mixed"]))
    if kind == "list":
        return "[" * depth + "1" + "]" * depth
    if kind == "dict":
        return '{"a":' * depth + "1" + "}" * depth
    return '{"a":[' * (depth // 2) + "1" + "]}" * (depth // 2)


huge_int = st.integers(20, 5000).map(lambda n: "9" * n)
odd_numbers = st.sampled_from(
    ["NaN", "Infinity", "-Infinity", "1e300", "-1e300", "1e-300", "-0", "4294967296", "-1"]
)
json_value = st.one_of(
    deep_json(),
    huge_int,
    odd_numbers,
    st.integers(-(10**30), 10**30).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(
        lambda f: (
            "NaN"
            if math.isnan(f)
            else ("Infinity" if f == math.inf else "-Infinity" if f == -math.inf else repr(f))
        )
    ),
    st.text(max_size=20).map(json.dumps),
    st.just("null"),
)


def check(exchanges: Iterator[ObservedExchange]) -> list[ObservedExchange]:
    """Read everything; every value a reader yields is within bounds."""
    out = list(exchanges)
    for ex in out:
        assert math.isfinite(ex.ts) and MIN_TS <= ex.ts <= MAX_TS, ex.ts
        assert ex.status is None or 100 <= ex.status <= 999, ex.status
        for port in (ex.client_port, ex.server_port):
            assert port is None or 0 <= port <= 65535, port
        for size in (ex.request_bytes, ex.response_bytes):
            assert 0 <= size <= bounds.MAX_SIZE, size
    return out


def read_with(reader: Callable[..., Iterator[ObservedExchange]], data: bytes, suffix: str) -> None:
    """Read ``data`` as a file: exchanges within bounds, or an InputError naming the file."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"input{suffix}"
        path.write_bytes(data)
        try:
            check(reader(path, IngestStats()))
        except InputError as exc:
            assert str(path) in str(exc) and "\n" not in str(exc)


# ------------------------------------------------------------------ HAR

HAR_FIELDS = [
    ("startedDateTime",),
    ("request", "url"),
    ("request", "headers"),
    ("request", "bodySize"),
    ("response", "status"),
    ("response", "bodySize"),
    ("response", "content", "size"),
    ("serverIPAddress",),
    ("_extra",),
]


def har_entry() -> dict[str, Any]:
    return {
        "startedDateTime": "2026-11-20T10:00:00Z",
        "request": {"method": "GET", "url": "https://api.example.com/v1/x", "headers": []},
        "response": {"status": 200, "headers": [], "content": {"size": 2}},
    }


@SETTINGS
@given(
    st.lists(st.tuples(st.sampled_from(HAR_FIELDS), json_value), min_size=1, max_size=4),
    st.sampled_from(["2026-11-20T10:00:00Z", "NaN", "9999-12-31T23:59:59+14:00", "0001-01-01"]),
)
def test_har_reader(patches: list[tuple[tuple[str, ...], str]], when: str) -> None:
    entry = har_entry()
    entry["startedDateTime"] = when
    markers = {}
    for i, (pointer, value) in enumerate(patches):
        node = entry
        for key in pointer[:-1]:
            node = node.setdefault(key, {})
        marker = f"__VALUE_{i}__"
        node[pointer[-1]] = marker
        markers[json.dumps(marker)] = value
    text = json.dumps({"log": {"version": "1.2", "entries": [entry, har_entry()]}})
    for marker, value in markers.items():
        text = text.replace(marker, value)
    read_with(har.read, text.encode(), ".har")


# ------------------------------------------------------------------ Zeek

ZEEK_FIELDS = [
    "ts",
    "id.orig_p",
    "id.resp_p",
    "status_code",
    "request_body_len",
    "response_body_len",
    "uri",
    "trans_depth",
]


@SETTINGS
@given(st.lists(st.tuples(st.sampled_from(ZEEK_FIELDS), json_value), min_size=1, max_size=4))
def test_zeek_json_reader(patches: list[tuple[str, str]]) -> None:
    record = {
        "ts": 1795172400.5,
        "uid": "C1",
        "id.orig_h": "10.0.0.1",
        "id.orig_p": 40000,
        "id.resp_h": "10.0.0.2",
        "id.resp_p": 80,
        "method": "GET",
        "uri": "/x",
    }
    line = json.dumps(record)
    for name, value in patches:
        line = line.replace(json.dumps({name: record.get(name, 0)})[1:-1], "", 1)
        line = line[:-1] + f', "{name}": {value}}}'
    read_with(zeek.read, (line + "\n" + json.dumps(record) + "\n").encode(), ".log")


tsv_value = st.one_of(
    huge_int,
    odd_numbers,
    st.sampled_from(["nan", "inf", "-inf", "-", "(empty)", "", "1e309", "0x10"]),
    st.text(alphabet=st.characters(blacklist_characters="\t\n\r"), max_size=30),
)


@SETTINGS
@given(
    st.lists(st.tuples(st.sampled_from(ZEEK_FIELDS), tsv_value), min_size=1, max_size=4),
    st.sampled_from(["\\x09", "", " ", "\\x", "\\x0", "\\xZZ", "\\x09\\x09", ","]),
)
def test_zeek_tsv_reader(patches: list[tuple[str, str]], separator: str) -> None:
    names = ["ts", "uid", "id.orig_h", "id.orig_p", "id.resp_h", "id.resp_p", "method", "uri"]
    names += [n for n in ZEEK_FIELDS if n not in names]
    values = dict.fromkeys(names, "-")
    values.update(
        {
            "ts": "1795172400.5",
            "uid": "C1",
            "id.orig_h": "10.0.0.1",
            "id.orig_p": "4",
            "id.resp_h": "10.0.0.2",
            "id.resp_p": "80",
            "method": "GET",
            "uri": "/x",
        }
    )
    good = "\t".join(values[n] for n in names)
    for name, value in patches:
        values[name] = value
    header = f"#separator {separator}\n#path\thttp\n#fields\t" + "\t".join(names) + "\n"
    data = header + "\t".join(values[n] for n in names) + "\n" + good + "\n"
    read_with(zeek.read, data.encode("utf-8", "surrogateescape"), ".log")


# ------------------------------------------------------------------ mitmproxy flows


@st.composite
def tnetstrings(draw: st.DrawFn) -> bytes:
    """Frames that lie about their length, nest deeply, or hold garbage."""
    kind = draw(st.sampled_from(["length", "nested", "garbage", "dict-of-junk"]))
    if kind == "length":
        declared = draw(st.integers(0, 10**12))
        body = draw(st.binary(max_size=50))
        return str(declared).encode() + b":" + body + draw(st.sampled_from([b"}", b"]", b","]))
    if kind == "nested":
        depth = draw(st.integers(1, 30_000))
        frame = b"0:]"
        for _ in range(depth):
            frame = str(len(frame)).encode() + b":" + frame + b"]"
        return frame
    if kind == "garbage":
        return draw(st.binary(max_size=200))
    items = draw(st.lists(st.binary(max_size=20), max_size=6))
    body = b"".join(str(len(i)).encode() + b":" + i + b"," for i in items)
    return str(len(body)).encode() + b":" + body + b"}"


@SETTINGS
@given(st.lists(tnetstrings(), min_size=1, max_size=3))
def test_mitm_reader(frames: list[bytes]) -> None:
    read_with(mitm.read, b"".join(frames), ".mitm")


# ------------------------------------------------------------------ pcap and pcapng


@SETTINGS
@given(
    st.lists(
        st.tuples(st.integers(0, 2**32 - 1), st.integers(0, 2**32 - 1), st.integers(0, 2**32 - 1)),
        min_size=1,
        max_size=5,
    ),
    st.binary(max_size=64),
)
def test_pcap_reader(records: list[tuple[int, int, int]], tail: bytes) -> None:
    data = struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 262144, 1)
    for sec, frac, incl in records:
        data += struct.pack("<IIII", sec, frac, incl, incl) + tail[: incl % 65]
    read_with(pcap.read, data, ".pcap")


@SETTINGS
@given(
    st.integers(0, 2**32 - 1),
    st.integers(0, 2**32 - 1),
    st.integers(0, 255),
    st.integers(-(2**63), 2**63 - 1),
    st.integers(0, 2**32 - 1),
)
def test_pcapng_reader(high: int, low: int, resolution: int, offset: int, length: int) -> None:
    shb = struct.pack("<IIIHHq", 0x0A0D0D0A, 28, 0x1A2B3C4D, 1, 0, -1) + struct.pack("<I", 28)
    options = struct.pack("<HHB3x", 9, 1, resolution) + struct.pack("<HHq", 14, 8, offset)
    options += struct.pack("<HH", 0, 0)
    idb_body = struct.pack("<HHI", 1, 0, 0) + options
    idb = (
        struct.pack("<II", 1, 12 + len(idb_body)) + idb_body + struct.pack("<I", 12 + len(idb_body))
    )
    frame = b"\x00" * 14
    epb_body = struct.pack("<IIIII", 0, high, low, len(frame), len(frame)) + frame + b"\x00" * 2
    epb = (
        struct.pack("<II", 6, 12 + len(epb_body)) + epb_body + struct.pack("<I", 12 + len(epb_body))
    )
    liar = struct.pack("<II", 6, length) + b"\x00" * 16
    read_with(pcap.read, shb + idb + epb + liar, ".pcapng")


# ------------------------------------------------------------------ YAML (specs, runbooks, register)


@st.composite
def yaml_bombs(draw: st.DrawFn) -> str:
    kind = draw(st.sampled_from(["laughs", "self", "deep", "wide-anchors"]))
    if kind == "laughs":
        levels, width = draw(st.integers(2, 12)), draw(st.integers(2, 12))
        lines = [f"l0: &l0 [{', '.join(['x'] * width)}]"]
        for i in range(1, levels):
            lines.append(f"l{i}: &l{i} [" + ", ".join([f"*l{i - 1}"] * width) + "]")
        return "\n".join(lines) + "\n"
    if kind == "self":
        return "a: &a {b: [1, *a]}\n"
    if kind == "deep":
        depth = draw(st.integers(1, 20_000))
        return "[" * depth + "]" * depth + "\n"
    count = draw(st.integers(1, 200))
    return "base: &b {k: v}\nuse: [" + ", ".join(["*b"] * count) + "]\n"


@SETTINGS
@given(yaml_bombs())
def test_bounded_yaml(text: str) -> None:
    try:
        _data, root = boundedyaml.load_with_node(text)
    except boundedyaml.yaml.YAMLError as exc:
        assert str(exc)  # refused with a message naming the place
        return
    assert root is not None
    composed, expanded = boundedyaml.expanded_size(root)
    assert expanded - composed <= boundedyaml.MAX_EXPANSION


@SETTINGS
@given(yaml_bombs())
def test_spec_runbook_and_register_readers(text: str) -> None:
    from discovery.analyse.register import load_register
    from discovery.analyse.specs.document import parse_text
    from discovery.errors import SpecError
    from runbooks.errors import RunbookFormatError
    from runbooks.loader import parse

    try:
        parse_text("openapi: 3.0.3\n" + text, "spec.yaml")
    except SpecError as exc:
        assert "spec.yaml" in str(exc)
    try:
        parse("id: x\ntitle: t\napplies_to: host\nsteps: []\n" + text, "rb.yaml")
    except RunbookFormatError as exc:
        assert "rb.yaml" in str(exc)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "register.yaml"
        path.write_text(text)
        try:
            load_register(path)
        except InputError as exc:
            assert str(path) in str(exc)


# ------------------------------------------------------------------ API descriptions, validated


@st.composite
def deep_specs(draw: st.DrawFn) -> tuple[str, str]:
    """(file suffix, text): a spec whose one schema is nested up to 3,000 deep (in JSON, in
    YAML, or made deep by an alias), or reaches its type through up to 3,000 chained $refs."""
    depth = draw(st.integers(1, 3000))
    key = draw(st.sampled_from(["items", "not", "additionalProperties"]))
    shape = draw(st.sampled_from(["json", "yaml", "alias", "refs"]))

    def nested(levels: int, inner: str) -> str:
        return f'{{"{key}": ' * levels + inner + "}" * levels

    def paths(schema: str) -> str:
        content = '{"application/json": {"schema": ' + schema + "}}"
        return '{"/a": {"get": {"responses": {"200": {"description": "ok", "content": ' + (
            content + "}}}}}"
        )

    yaml_head = "openapi: 3.0.3\ninfo: {title: t, version: '1'}\n"
    json_head = '{"openapi": "3.0.3", "info": {"title": "t", "version": "1"}, '
    string = '{"type": "string"}'
    if shape == "json":
        return "json", json_head + '"paths": ' + paths(nested(depth, string)) + "}"
    if shape == "yaml":
        return "yaml", yaml_head + "paths: " + paths(nested(depth, string)) + "\n"
    if shape == "alias":
        half = depth // 2
        inner = f"x-a: {nested(half, '&s ' + string)}\n"
        return "yaml", yaml_head + inner + "paths: " + paths(nested(half, "*s")) + "\n"
    schemas = {f"S{i}": {key: {"$ref": f"#/components/schemas/S{i + 1}"}} for i in range(depth)}
    schemas[f"S{depth}"] = {"type": "string"}
    ref = '{"$ref": "#/components/schemas/S0"}'
    components = json.dumps({"schemas": schemas})
    return "json", json_head + '"paths": ' + paths(ref) + ', "components": ' + components + "}"


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(deep_specs())
def test_spec_loader(spec: tuple[str, str]) -> None:
    """Loaded and validated, or refused with a one-line ``SpecError`` naming the file."""
    from discovery.analyse.specs.importer import load_spec
    from discovery.errors import SpecError

    suffix, text = spec
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"spec.{suffix}"
        path.write_text(text)
        try:
            loaded = load_spec(path, host="api.example.com", validate=True)
        except SpecError as exc:
            assert str(path) in str(exc) and "\n" not in str(exc), str(exc)[:300]
            return
        assert len(loaded.operations) == 1
