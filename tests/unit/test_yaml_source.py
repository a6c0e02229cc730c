"""Unit tests of ``sre_agent.config.yaml_source``: safe YAML loading that keeps ``line:col`` of every value.

Every position asserted here is 1-based and was counted by hand from the literal YAML in the test.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from sre_agent.config import yaml_source
from sre_agent.config.yaml_source import YamlDocument, format_loc, load_yaml_file, load_yaml_text
from sre_agent.errors import ConfigIssue


def _positions(issues: list[ConfigIssue]) -> list[tuple[int, int]]:
    return [(i.line, i.column) for i in issues]


def test_bad_indentation_gives_one_syntax_error_at_the_offending_line_and_column() -> None:
    text = "spec:\n  metric: error_rate\n    window: 10m\n"

    docs, issues = load_yaml_text(text, "rule.yaml")

    assert docs == []
    assert len(issues) == 1
    issue = issues[0]
    assert (issue.file, issue.line, issue.column) == ("rule.yaml", 3, 11)
    assert issue.message.startswith("YAML syntax error: ")
    assert "mapping values are not allowed here" in issue.message
    assert str(issue).startswith("rule.yaml:3:11: YAML syntax error")


def test_unclosed_flow_sequence_is_reported_where_the_parser_gives_up_with_its_context() -> None:
    text = "spec:\n  group_by: [warehouse, service\n  window: 10m\n"

    docs, issues = load_yaml_text(text, "rule.yaml")

    assert docs == []
    assert len(issues) == 1
    issue = issues[0]
    assert (issue.line, issue.column) == (3, 9)
    assert issue.message.startswith("YAML syntax error: ")
    assert "while parsing a flow sequence" in issue.message


def test_unclosed_bracket_at_end_of_file_points_past_the_last_line() -> None:
    docs, issues = load_yaml_text("group_by: [warehouse\n", "rule.yaml")

    assert docs == []
    assert _positions(issues) == [(2, 1)]
    assert "YAML syntax error" in issues[0].message


def test_syntax_error_in_a_later_document_keeps_the_earlier_documents_and_stops_the_file() -> None:
    text = "a: 1\n---\nb: [\n---\nc: 3\n"

    docs, issues = load_yaml_text(text, "multi.yaml")

    assert [d.data for d in docs] == [{"a": 1}]
    assert len(issues) == 1
    assert issues[0].line == 4
    assert "YAML syntax error" in issues[0].message


def test_multi_document_stream_yields_one_document_per_separator_with_its_own_start_line() -> None:
    text = "a: 1\n---\nb: 2\n---\nc:\n  - 3\n"

    docs, issues = load_yaml_text(text, "multi.yaml")

    assert issues == []
    assert [d.data for d in docs] == [{"a": 1}, {"b": 2}, {"c": [3]}]
    assert [d.index for d in docs] == [0, 1, 2]
    assert [d.line for d in docs] == [1, 3, 5]
    assert all(d.file == "multi.yaml" for d in docs)


def test_duplicate_top_level_key_is_reported_at_the_second_occurrence_and_first_value_kept() -> None:
    docs, issues = load_yaml_text("window: 10m\nop: '>'\nwindow: 15m\n", "dup.yaml")

    assert len(issues) == 1
    issue = issues[0]
    assert (issue.line, issue.column) == (3, 1)
    assert issue.path == "window"
    assert issue.message == "duplicate key 'window'"
    assert docs[0].data == {"window": "10m", "op": ">"}


def test_duplicate_key_inside_a_list_item_is_reported_with_its_full_path() -> None:
    text = "spec:\n  thresholds:\n    - severity: sev3\n      severity: sev2\n"

    _, issues = load_yaml_text(text, "dup.yaml")

    assert len(issues) == 1
    assert (issues[0].line, issues[0].column) == (4, 7)
    assert issues[0].path == "spec.thresholds[0].severity"


def test_duplicate_key_in_a_flow_mapping_is_reported() -> None:
    _, issues = load_yaml_text("where: {warehouse: [A], warehouse: [B]}\n", "dup.yaml")

    assert len(issues) == 1
    assert (issues[0].line, issues[0].column) == (1, 25)
    assert issues[0].message == "duplicate key 'warehouse'"


def test_duplicate_keys_in_several_documents_are_all_reported() -> None:
    text = "a: 1\na: 2\n---\nb: 1\nb: 2\n"

    docs, issues = load_yaml_text(text, "dup.yaml")

    assert len(docs) == 2
    assert _positions(issues) == [(2, 1), (5, 1)]


def test_yaml_1_1_boolean_words_used_as_keys_stay_text() -> None:
    docs, issues = load_yaml_text("on: 1\nno: 2\n", "bool.yaml")

    assert issues == []
    assert docs[0].data == {"on": 1, "no": 2}


def test_merge_key_override_is_not_a_duplicate_and_the_explicit_value_wins() -> None:
    text = "base: &b {x: 1, y: 2}\nother:\n  <<: *b\n  y: 3\n"

    docs, issues = load_yaml_text(text, "merge.yaml")

    # Regression (fixed): yaml_source.py _Builder.build (the `if key in result` check after flatten_mapping) treats a
    # key
    # that overrides a `<<:` merged key as a duplicate: it reports "other.y: duplicate key 'y'" at 4:3
    # and keeps the merged value 2. YAML merge semantics (and yaml.safe_load) give other.y == 3, no error.
    assert issues == []
    assert docs[0].data["other"] == {"x": 1, "y": 3}


def test_python_tag_on_a_scalar_is_refused_as_a_located_error_not_executed() -> None:
    docs, issues = load_yaml_text("metric: !!python/name:os.getcwd x\n", "evil.yaml")

    assert docs == []
    assert _positions(issues) == [(1, 9)]
    assert "could not determine a constructor" in issues[0].message


def test_python_tag_on_a_collection_is_refused_like_yaml_safe_load_does() -> None:
    docs, issues = load_yaml_text("metric: !!python/object/apply:os.getcwd []\n", "evil.yaml")

    # Regression (fixed): yaml_source.py _Builder.build builds SequenceNode/MappingNode values itself and never looks
    # at
    # node.tag, so an unknown or python/* tag on a list or mapping is silently dropped: this input loads as
    # {'metric': []} with no issue (nothing is executed, but the tag is ignored). yaml.safe_load, and this
    # module for scalar nodes, reject it with "could not determine a constructor for the tag ...".
    assert docs == []
    assert _positions(issues) == [(1, 9)]
    assert "could not determine a constructor" in issues[0].message


def test_marks_locate_values_and_keys_one_based() -> None:
    text = "spec:\n  thresholds:\n    - severity: sev3\n      value: 10\n"

    docs, _ = load_yaml_text(text, "marks.yaml")
    doc = docs[0]

    assert doc.locate(("spec", "thresholds", 0, "value")) == (4, 14)
    assert doc.locate(("spec", "thresholds", 0, "value"), key=True) == (4, 7)
    assert doc.locate(("spec", "thresholds", 0)) == (3, 7)
    assert doc.locate(("spec",), key=True) == (1, 1)


def test_locate_falls_back_to_the_nearest_known_ancestor_then_the_document_start() -> None:
    text = "a: 1\n---\nspec:\n  window: 10m\n"

    doc = load_yaml_text(text, "f.yaml")[0][1]

    assert doc.locate(("spec", "missing_field")) == (4, 3)
    assert doc.locate(("nowhere", "deep")) == (3, 1)
    assert doc.locate(()) == (3, 1)


def test_issue_renders_file_line_col_path_message() -> None:
    doc = load_yaml_text("spec:\n  window: 15\n", "rules/r.yaml")[0][0]

    issue = doc.issue(("spec", "window"), "a duration needs a unit")

    assert issue == ConfigIssue("rules/r.yaml", 2, 11, "spec.window", "a duration needs a unit")
    assert str(issue) == "rules/r.yaml:2:11: spec.window: a duration needs a unit"


def test_issue_with_a_warning_severity_is_prefixed_and_without_path_omits_it() -> None:
    warning = ConfigIssue("f.yaml", 1, 2, "spec", "odd", severity="warning")
    bare = ConfigIssue("f.yaml", 3, 4, "", "broken")

    assert str(warning) == "f.yaml:1:2: warning: spec: odd"
    assert str(bare) == "f.yaml:3:4: broken"


@pytest.mark.parametrize(
    ("loc", "expected"),
    [
        ((), ""),
        (("spec",), "spec"),
        (("spec", "thresholds", 1, "value"), "spec.thresholds[1].value"),
        (("spec", "where", "warehouse", 0), "spec.where.warehouse[0]"),
    ],
)
def test_format_loc_renders_dotted_path_with_indexes(loc: tuple[str | int, ...], expected: str) -> None:
    assert format_loc(loc) == expected


def test_unreadable_file_becomes_an_issue_not_an_exception(tmp_path: Path) -> None:
    missing = tmp_path / "nope.yaml"

    docs, issues = load_yaml_file(missing)

    assert docs == []
    assert len(issues) == 1
    assert (issues[0].file, issues[0].line, issues[0].column) == (str(missing), 1, 1)
    assert issues[0].message.startswith("cannot read file")


def test_non_utf8_file_becomes_an_issue(tmp_path: Path) -> None:
    path = tmp_path / "latin1.yaml"
    path.write_bytes(b"name: caf\xe9\n")

    docs, issues = load_yaml_file(path, display="shown.yaml")

    assert docs == []
    assert [(i.file, i.line, i.column) for i in issues] == [("shown.yaml", 1, 10)]
    assert "not UTF-8: byte 0xe9 cannot be decoded" in issues[0].message


def test_load_yaml_file_reads_documents_and_names_them_by_display(tmp_path: Path) -> None:
    path = tmp_path / "ok.yaml"
    path.write_text("a: 1\n---\nb: [x, y]\n", encoding="utf-8")

    docs, issues = load_yaml_file(path, display="rules/ok.yaml")

    assert issues == []
    assert all(isinstance(d, YamlDocument) for d in docs)
    assert [(d.file, d.data) for d in docs] == [("rules/ok.yaml", {"a": 1}), ("rules/ok.yaml", {"b": ["x", "y"]})]


def test_aliases_are_built_once_so_alias_bombs_stay_linear() -> None:
    """Every use of an anchor is the very same object, as with safe_load: nested aliases do not multiply work
    (four levels, 10,000 values expanded, are fine; nine levels are refused, below)."""
    levels = ["a: &a [x, x, x, x, x, x, x, x, x, x]"]
    for i in range(1, 4):
        prev, name = chr(ord("a") + i - 1), chr(ord("a") + i)
        levels.append(f"{name}: &{name} [" + ", ".join([f"*{prev}"] * 10) + "]")
    docs, issues = load_yaml_text("\n".join(levels) + "\n", "bomb.yaml")
    assert issues == []
    top = docs[0].data["d"]
    assert len(top) == 10
    assert all(item is top[0] for item in top), "aliases share one built value"


def test_libyaml_and_pure_python_parsers_give_the_same_documents_and_marks_on_every_shipped_file(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    root = Path(__file__).resolve().parents[2]
    files = sorted(
        p for d in ("rules", "slo_definitions", "examples") for p in (root / d).rglob("*.yaml") if p.is_file()
    )
    assert len(files) > 10
    assert yaml_source._FAST_LOADER is not None  # PyYAML's wheels carry libyaml
    fast = {str(p): load_yaml_file(p) for p in files}
    monkeypatch.setattr(yaml_source, "_FAST_LOADER", None)
    for p in files:
        docs, issues = load_yaml_file(p)
        fast_docs, fast_issues = fast[str(p)]
        assert [(d.data, d.line, d.column, d.marks) for d in docs] == [
            (d.data, d.line, d.column, d.marks) for d in fast_docs
        ], p
        assert issues == fast_issues, p


def _bomb() -> str:
    """The "billion laughs": nine levels of nine aliases, 9**9 strings once expanded, in under 1 KB."""
    lines = ['a: &a ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for prev, name in zip("abcdefgh", "bcdefghi", strict=True):
        lines.append(f"{name}: &{name} [" + ", ".join([f"*{prev}"] * 9) + "]")
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        pytest.param(_bomb(), "YAML refused: the document expands to more than 2,000,000 values", id="alias-bomb"),
        pytest.param("a: " + "[" * 5000 + "]" * 5000 + "\n", "nested deeper than 64 levels", id="deep-flow"),
        pytest.param(
            "".join("  " * i + f"k{i}:\n" for i in range(100)) + "  " * 100 + "v\n",
            "YAML refused: values nested deeper than 64 levels",
            id="deep-block",
        ),
        pytest.param("---\n" * 30_000, "YAML refused: more than 20,000 documents in one file", id="many-documents"),
    ],
)
def test_hostile_yaml_is_refused_with_one_located_error_instead_of_hanging_or_crashing(text: str, message: str) -> None:
    docs, issues = load_yaml_text(text, "rule.yaml")
    assert len(docs) <= 20_000, "what precedes the refusal is kept, as before a syntax error"
    assert len(issues) == 1
    assert message in issues[0].message
    assert issues[0].file == "rule.yaml"
    assert issues[0].line >= 1


@pytest.mark.parametrize(
    ("data", "line", "column", "message"),
    [
        pytest.param(b"a: 1\nb: x\x00y\n", 2, 5, "character #x0000 is not allowed in YAML", id="NUL"),
        pytest.param(b"a: 1\nbb: \x1b[2J\n", 2, 5, "character #x001b is not allowed in YAML", id="ESC"),
        pytest.param("a: 1\nb: caf\xe9\n".encode("latin-1"), 2, 7, "not UTF-8: byte 0xe9", id="latin-1"),
    ],
)
def test_bytes_yaml_refuses_are_located_at_their_line_and_column(
    tmp_path: Path, data: bytes, line: int, column: int, message: str
) -> None:
    path = tmp_path / "rule.yaml"
    path.write_bytes(data)
    docs, [issue] = load_yaml_file(path)
    assert docs == []
    assert (issue.line, issue.column) == (line, column)
    assert message in issue.message
