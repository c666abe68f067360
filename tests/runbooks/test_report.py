"""The incident report: what it holds, and hostile captured strings kept inert in Markdown."""

from __future__ import annotations

import json
import re

from discovery.case import audit
from discovery.case.store import Store
from runbooks import report


def add_finding(store: Store, title: str) -> None:
    store.conn.execute(
        "INSERT INTO findings(id, rule, severity, title, subject_type, subject_id, evidence, "
        "created_at) VALUES ('f1', 'shadow_endpoint_access', 'high', ?, 'endpoint', ?, '{}', 0)",
        (title, "api.example.com GET /x|y"),
    )


def test_report_holds_findings_actions_timeline_and_audit_head(case: Store) -> None:
    add_finding(case, "Shadow endpoint called")
    audit.append(case, "tester", "note", "x")
    data = report.build(case)
    assert data["findings"][0]["rule"] == "shadow_endpoint_access"
    assert data["traffic"]["exchanges"] == 2
    assert data["audit"] == {
        "head": audit.head(case),
        "entries": 1,
        "ok": True,
        "first_bad": None,
        "reason": None,
    }
    assert [e["what"] for e in data["timeline"]] == ["note"]
    json.dumps(data)  # JSON-shaped


def test_markdown_neutralises_hostile_strings(case: Store) -> None:
    add_finding(case, "evil \x1b]8;;http://x\x07link\x1b]8;;\x07 | col\n# heading \u202egnp.exe")
    text = report.markdown(report.build(case))
    line = next(row for row in text.splitlines() if "shadow_endpoint_access" in row)
    assert "\x1b" not in text and "\x07" not in text and "\u202e" not in text
    assert len(re.findall(r"(?<!\\)\|", line)) == 5  # captured '|' escaped: still 4 columns
    assert "\\|" in line and "\n# heading" not in text


def test_markdown_flags_a_broken_chain(case: Store) -> None:
    audit.append(case, "a", "one")
    audit.append(case, "a", "two")
    case.conn.execute("UPDATE audit_log SET actor = 'x' WHERE seq = 1")
    text = report.markdown(report.build(case))
    assert "CHAIN BROKEN at entry 1" in text


HOSTILE = [
    "<script>alert(1)</script>",
    '<img src=x onerror="alert(1)">',
    "<!-- hide the rest",
    "<https://evil.example/autolink>",
    "[click](javascript:alert(1))",
    "![pixel](https://evil.example/p.png)",
    "*bold* _em_ ~~gone~~ `code`",
    "&lt;already-escaped&gt;",
]


def test_markdown_rendered_to_html_shows_captured_text_literally(case: Store) -> None:
    """Text from traffic (finding titles, subjects, blocklist entries) renders as the same text
    in a Markdown renderer that allows raw HTML: no tag, comment, link, image or emphasis."""
    from markdown_it import MarkdownIt

    for i, text in enumerate(HOSTILE):
        case.conn.execute(
            "INSERT INTO findings(id, rule, severity, title, subject_type, subject_id, evidence, "
            "created_at) VALUES (?, 'shadow_endpoint_access', 'high', ?, 'endpoint', ?, '{}', 0)",
            (f"f{i}", f"title {text}", f"api.example.com GET /v1/{text}"),
        )
        case.conn.execute(
            "INSERT INTO blocklist(kind, value, subject, reason, created_at) "
            "VALUES ('endpoint', ?, ?, ?, 0)",
            (f"v{i}", f"api.example.com GET /{text}", f"reason {text}"),
        )
    html = (
        MarkdownIt("commonmark", {"html": True})
        .enable("table")
        .render(report.markdown(report.build(case)))
    )
    for tag in ("<script", "<img", "<!--", "<a ", "<em>", "<strong>", "<del>", "<s>"):
        assert tag not in html, tag
    assert html.count("<code>") == 2  # the report's own: the case path and the audit head
    from html.parser import HTMLParser

    class Text(HTMLParser):
        def __init__(self) -> None:
            super().__init__(convert_charrefs=True)
            self.text = ""

        def handle_data(self, data: str) -> None:
            self.text += data

    parser = Text()
    parser.feed(html)
    for text in HOSTILE:
        assert f"title {text}" in parser.text, text  # shown as sent, character for character
        assert f"reason {text}" in parser.text, text


def test_traffic_over_time_in_markdown_and_as_an_inline_svg(case: Store) -> None:
    """Two requests 100 s apart, a block between them (the audit's time set inside the span):
    the text chart has a bar at each end and the milestones numbered in order; the HTML page
    draws one bar per busy column and a line per milestone, escaped, and loads nothing."""
    from discovery.case import blocklist

    blocklist.block_endpoint(case, "api.example.com GET /v1/users/{id}", "<b>x</b>")
    case.conn.execute("UPDATE audit_log SET ts = 1790000050.0, subject = '<script>x</script>'")
    data = report.build(case)
    activity = data["activity"]
    assert sum(activity["lanes"][0]["ok"]) == 2
    assert [m["what"] for m in activity["milestones"]] == [
        "first sighting",
        "first shadow call",
        "block",
        "last use",
    ]
    text = report.markdown(data)
    chart = text.split("## Traffic over time", 1)[1].split("```")[1].splitlines()
    bars, marks = chart[1], chart[2]
    assert bars[0] != " " and bars[-1] != " " and bars.strip(" ") == bars  # both ends drawn
    assert set(bars[1:-1]) == {" "}  # nothing in between
    assert marks.index("3") == len(marks) // 2  # the block, half-way
    page = report.html_report(data)
    assert page.count("<svg") == 1 and page.count("</svg>") == 1
    svg = page[page.index("<svg") : page.index("</svg>")]
    assert svg.count("<rect") == 1 + 2  # the background, one bar per busy column
    assert svg.count("<line") == 4
    assert "<script" not in page and "&lt;script&gt;x&lt;/script&gt;" in page
    assert "http://" not in page.replace("http://www.w3.org/2000/svg", "")  # self-contained
