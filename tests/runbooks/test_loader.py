"""Loading runbooks: errors name the file, the line, the step and the field."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from runbooks import loader
from runbooks.errors import RunbookFormatError, RunbookNotFound

GOOD = """\
id: mine
title: Mine
applies_to: credential
steps:
  - id: look
    action: evidence.summary
    with:
      subject: "{{ target.id }}"
  - id: block
    action: proxy.block_credential
    retry: {attempts: 2}
    with:
      credential: "{{ target.id }}"
"""


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            GOOD.replace("retry: {attempts: 2}", "retry: {attempts: 0}"),
            "rb.yaml:11: step 'block' (#2) field 'retry.attempts': Input should be greater than",
        ),
        (
            GOOD.replace("action: proxy.block_credential", "action: proxy.nuke"),
            "rb.yaml:10: step 'block' (#2) field 'action': unknown action 'proxy.nuke'",
        ),
        (
            GOOD.replace("    retry: {attempts: 2}\n", "    retyr: 2\n"),
            "rb.yaml:11: step 'block' (#2) field 'retyr': Extra inputs are not permitted",
        ),
        (
            GOOD.replace('subject: "{{ target.id }}"', 'subject: "{{ target.id "'),
            "rb.yaml:8: step 'look' (#1) field 'with.subject': bad template",
        ),
        (
            GOOD.replace(
                "  - id: look\n    action: evidence.summary\n",
                "  - id: look\n    action: evidence.summary\n    manual: do it\n",
            ),
            "rb.yaml:5: step 'look' (#1): a step needs exactly one of",
        ),
        (
            GOOD.replace("applies_to: credential", "applies_to: planet"),
            "rb.yaml:3: field 'applies_to.0': Input should be",
        ),
        (GOOD.replace("id: block", "id: look"), "rb.yaml:1: step id 'look' is used twice"),
        (GOOD.replace("title: Mine\n", ""), "rb.yaml:1: field 'title': Field required"),
        ("id: x\ntitle: [unclosed\n", "rb.yaml:3: not valid YAML"),
        ("- just\n- a list\n", "rb.yaml:1: a runbook is a mapping"),
        (
            GOOD + "    irreversible: true\n    rollback: {action: proxy.unblock_credential}\n",
            "rb.yaml:9: step 'block' (#2): an irreversible step cannot have a rollback",
        ),
        (
            GOOD.replace("      credential: ", "      credentail: "),
            "rb.yaml:13: step 'block' (#2) field 'with.credentail': proxy.block_credential has no "
            "argument 'credentail'",
        ),
        (
            GOOD.replace('    with:\n      subject: "{{ target.id }}"\n', ""),
            "rb.yaml:5: step 'look' (#1): evidence.summary needs the argument(s) subject",
        ),
        (
            GOOD.replace("retry: {attempts: 2}", 'when: "inputs.x =="'),
            "rb.yaml:11: step 'block' (#2) field 'when': bad template",
        ),
        (
            GOOD.replace("retry: {attempts: 2}", "skip_reason: not asked"),
            "rb.yaml:9: step 'block' (#2): 'skip_reason' says why 'when' is false: it needs",
        ),
    ],
)
def test_errors_name_file_line_step_and_field(tmp_path: Path, text: str, expected: str) -> None:
    path = tmp_path / "rb.yaml"
    path.write_text(text)
    with pytest.raises(RunbookFormatError) as err:
        loader.load_file(path)
    assert str(err.value).startswith(str(tmp_path / expected)), str(err.value)


def test_unsafe_yaml_tags_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "rb.yaml"
    path.write_text("id: !!python/object/apply:os.system ['touch pwned']\n")
    with pytest.raises(RunbookFormatError, match="not valid YAML"):
        loader.load_file(path)
    assert not (tmp_path / "pwned").exists()


def test_not_utf8_and_missing_files(tmp_path: Path) -> None:
    path = tmp_path / "rb.yaml"
    path.write_bytes(b"id: \xff\xfe\n")
    with pytest.raises(RunbookFormatError, match="not UTF-8"):
        loader.load_file(path)
    with pytest.raises(RunbookFormatError, match="cannot read"):
        loader.load_file(tmp_path / "missing.yaml")


def test_every_builtin_runbook_is_valid() -> None:
    found = {lr.runbook.id: lr for lr in loader.builtin()}
    assert set(found) == {
        "revoke-leaked-credential",
        "contain-shadow-endpoint",
        "rotate-long-lived-token",
        "investigate-identity",
        "preserve-evidence",
    }
    assert all(lr.source == "built-in" for lr in found.values())


def test_user_folder_adds_and_replaces(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "mine.yaml").write_text(GOOD)
    (tmp_path / "preserve.yaml").write_text(GOOD.replace("id: mine", "id: preserve-evidence"))
    monkeypatch.setenv(loader.ENV_DIR, str(tmp_path))
    found = loader.load_all()
    assert found["mine"].source == "user"
    assert found["preserve-evidence"].source == "user"
    assert found["revoke-leaked-credential"].source == "built-in"
    with pytest.raises(RunbookNotFound, match=r"known: .*mine"):
        loader.find("nope")


def test_duplicate_ids_in_the_user_folder(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text(GOOD)
    (tmp_path / "b.yaml").write_text(GOOD)
    problems: list[str] = []
    found = loader.load_all(tmp_path, problems)
    assert found["mine"].path.endswith("a.yaml")  # the first one stays usable
    assert len(problems) == 1
    assert re.search(r"b\.yaml: runbook id 'mine' is also used by", problems[0])


_yaml_scalars = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=20)
)
_yaml_values = st.recursive(
    _yaml_scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(
            st.sampled_from(
                [
                    "id",
                    "title",
                    "applies_to",
                    "steps",
                    "inputs",
                    "action",
                    "with",
                    "when",
                    "retry",
                    "timeout",
                    "rollback",
                    "manual",
                    "approval",
                    "irreversible",
                    "verify",
                    "attempts",
                    "x",
                ]
            ),
            inner,
            max_size=6,
        ),
    ),
    max_leaves=20,
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(st.text(max_size=200), _yaml_values.map(yaml.safe_dump)))
def test_any_text_is_a_runbook_or_a_format_error(text: str) -> None:
    """Whatever the file holds, loading ends in a runbook or a one-line RunbookFormatError."""
    try:
        loader.parse(text, "fuzz.yaml")
    except RunbookFormatError as exc:
        message = str(exc)
        assert message.startswith("fuzz.yaml")
        assert "\n" not in message.strip(), message
