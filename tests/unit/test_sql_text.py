"""Query text in reports: literals redacted by default, binary and control characters replaced, length bounded."""

from __future__ import annotations

from sre_agent.reports.sql_text import MAX_CHARS, show_query


def test_string_number_and_date_literals_are_redacted() -> None:
    text = (
        "SELECT c.id, SUM(p.notional) AS n FROM RISK.MARTS.POSITIONS p JOIN REF.FX.RATES f ON f.ccy = p.ccy "
        "AND f.rate_date = '2026-11-03' WHERE p.desk = 'RATES' AND p.limit_usd > 250000 GROUP BY c.id"
    )
    shown = show_query(text)
    assert "2026-11-03" not in shown
    assert "RATES'" not in shown
    assert "250000" not in shown
    assert "RISK.MARTS.POSITIONS" in shown
    assert "f.rate_date = ?" in shown
    assert "p.desk = ?" in shown
    assert show_query(text, show_literals=True) == text


def test_comments_and_unparseable_text_lose_their_literals_too() -> None:
    assert "hunter2" not in show_query("SELECT 1 -- password 'hunter2'")
    shown = show_query("SELEC FROM WHERE x = 'card 4111111111111111' AND y = 42 /* token 'abc' */")
    assert "4111" not in shown
    assert "42" not in shown
    assert "abc" not in shown


def test_hostile_text_is_made_printable_and_bounded() -> None:
    shown = show_query("SELECT '<script>alert(1)</script>' \x00\x07\x1b[31m FROM t")
    assert "<script>" not in shown
    assert "\x00" not in shown
    assert "\x1b" not in shown
    # With literals shown the markup stays text: the renderers escape it (checked in the report tests).
    assert "<script>" in show_query("SELECT '<script>'", show_literals=True)
    long = "SELECT " + ", ".join(f"col_{i}" for i in range(5000)) + " FROM t"
    shown = show_query(long)
    assert len(shown) < MAX_CHARS + 40
    assert shown.endswith("more characters)")
    assert show_query(None) == ""
    assert show_query("") == ""


def test_every_kind_of_constant_is_redacted_and_sqlglot_logs_no_query_text(caplog: object) -> None:
    import logging

    import pytest

    assert isinstance(caplog, pytest.LogCaptureFixture)
    with caplog.at_level(logging.DEBUG):
        for text in ("SELECT $$secret$$", "SELECT N'secret'", "SELECT X'DEADBEEF'", "SELECT 0x1F00",
                     "CALL proc('secret')", "CREATE USER u PASSWORD = 'secret'"):  # fmt: skip
            shown = show_query(text)
            assert "secret" not in shown.lower(), shown
            assert "DEADBEEF" not in shown
            assert "1F00" not in shown
    assert "secret" not in caplog.text


def test_credentials_in_query_text_the_parser_cannot_read_are_masked_even_with_literals_shown() -> None:
    text = "CREATE USER etl password=Tr0ub4dor&3 url='https://bob:hunter2@files.example/x' ?? junk ((("
    for shown in (show_query(text), show_query(text, show_literals=True)):
        assert "Tr0ub4dor" not in shown
        assert "hunter2" not in shown
        assert "password=***" in shown
