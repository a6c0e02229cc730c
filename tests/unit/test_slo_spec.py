"""Unit tests of SLO documents (``kind: SLO``): schema errors, semantic warnings, burn factors, periods,
exclusions and the one-failure-pages check.

SLO files are written into ``tmp_path``. Where the position of a problem matters the YAML is a literal in the
test and the expected ``line:col`` (1-based) was counted from it by hand. Figures come from the SRE Workbook
ch. 5 (see /work/shared/reference/slo.md): 14.4 / 6 / 3 / 1 over 30 days, 13.44 / 5.6 / 2.8 / 0.933… over 28.
"""

from __future__ import annotations

import textwrap
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from sre_agent.config.loader import load_config, load_documents
from sre_agent.config.slo import AlertTier, Exclusion, Period, SloDoc, default_tiers, format_factor
from sre_agent.config.slo_checks import one_failure_pages
from sre_agent.errors import ConfigError, ConfigIssue

REPO = Path(__file__).resolve().parents[2]
EMBEDDED = REPO / "examples" / "embedded.yaml"
NEW_YORK = ZoneInfo("America/New_York")
DAY = 86400

# Line numbers of this literal are what the located-error tests below count from.
SLO_YAML = """\
apiVersion: sre-agent/v1
kind: SLO
metadata:
  name: ingest-availability
spec:
  service: trade-ingest
  owner: sre
  sli:
    kind: availability
  objective: 99.9
  period:
    rolling: 30d
  budgeting_method: Occurrences
  alerting:
    min_events: 10
  exclusions:
    - reason: Saturday maintenance
      start: "2026-11-07T02:00:00Z"
      end: "2026-11-07T04:00:00Z"
"""

AGENT_YAML = """\
apiVersion: sre-agent/v1
kind: AgentConfig
metadata:
  name: test
spec:
  snowflake:
    embedded: {seed: 1}
  rules: []
  slos: [slos]
  runbooks: runbooks
  inventory:
    warehouses: [INGEST_WH, RISK_WH]
    services: [trade-ingest]
"""


# ---------------------------------------------------------------------------------------------- helpers


def write_text(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def slo_text(name: str, *, objective: str = "99.9", period: str = "{rolling: 30d}", extra: str = "") -> str:
    """One small availability SLO document as YAML text (``extra`` is appended inside ``spec``)."""
    return (
        "apiVersion: sre-agent/v1\n"
        "kind: SLO\n"
        "metadata:\n"
        f"  name: {name}\n"
        "spec:\n"
        "  service: trade-ingest\n"
        "  owner: sre\n"
        "  sli: {kind: availability}\n"
        f"  objective: {objective}\n"
        f"  period: {period}\n"
        f"{extra}"
    )


def slo(**spec: Any) -> SloDoc:
    """A validated availability SLO at 99.9 % over 30 rolling days; ``spec`` overrides fields."""
    body: dict[str, Any] = {
        "service": "trade-ingest",
        "owner": "sre",
        "sli": {"kind": "availability"},
        "objective": "99.9",
        "period": {"rolling": "30d"},
    }
    body.update(spec)
    return SloDoc.model_validate({"apiVersion": "sre-agent/v1", "kind": "SLO", "metadata": {"name": "x"}, "spec": body})


def located(issues: list[ConfigIssue]) -> list[tuple[int, int, str, str]]:
    return [(i.line, i.column, i.path, i.severity) for i in issues]


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A config folder: agent.yaml (embedded, with an inventory), an empty slos/ and one runbook."""
    write_text(tmp_path / "agent.yaml", AGENT_YAML)
    (tmp_path / "slos").mkdir()
    write_text(tmp_path / "runbooks" / "known-runbook.md", "# Known runbook\n")
    return tmp_path


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


# ---------------------------------------------------------------------------------------------- bad input


def test_located_slo_template_is_itself_valid(tmp_path: Path) -> None:
    file = write_text(tmp_path / "slo.yaml", SLO_YAML)

    found = load_documents([file])

    assert found.issues == []
    assert [s.name for s in found.slos] == ["ingest-availability"]
    spec = found.slos[0].spec
    assert spec.objective == Decimal("99.9")
    assert spec.error_budget == Decimal("0.001")
    assert spec.period.rolling == timedelta(days=30)
    assert spec.exclusions[0].start == utc(2026, 11, 7, 2)
    assert found.origin == {"ingest-availability": str(file)}


TIERS = "  alerting:\n    tiers:\n"


@pytest.mark.parametrize(
    ("old", "new", "line", "column", "path", "fragment"),
    [
        pytest.param("99.9", "100", 10, 14, "spec.objective", "strictly between 0 and 100", id="objective-100"),
        pytest.param("99.9", "100.5", 10, 14, "spec.objective", "strictly between 0 and 100", id="objective-100.5"),
        pytest.param("99.9", "0", 10, 14, "spec.objective", "strictly between 0 and 100", id="objective-0"),
        pytest.param("99.9", "-1", 10, 14, "spec.objective", "strictly between 0 and 100", id="objective-negative"),
        pytest.param(
            "99.9", "99.90000000000002", 10, 14, "spec.objective", "more than 6 decimals", id="objective-float-noise"
        ),
        pytest.param(
            "99.9", '"99.90000000000001"', 10, 14, "spec.objective", "more than 6 decimals", id="objective-text-noise"
        ),
        pytest.param("99.9", "99.1234567", 10, 14, "spec.objective", "more than 6 decimals", id="objective-7-decimals"),
        pytest.param(
            "Occurrences",
            "Ratio",
            13,
            21,
            "spec.budgeting_method",
            "'Occurrences' or 'Timeslices'",
            id="unknown-budgeting-method",
        ),
        pytest.param(
            "    rolling: 30d\n  budgeting_method: Occurrences\n  alerting:\n    min_events: 10\n",
            "    rolling: 1d\n" + TIERS + "      - {severity: ticket, long: 3d, short: 6h, budget_percent: 10}\n",
            6,
            3,
            "spec",
            "alerting tier 0 (3d/6h) has a long window longer than the period",
            id="tier-longer-than-period",
        ),
        pytest.param(
            "  alerting:\n    min_events: 10\n",
            TIERS + "      - {severity: page, long: 1h, short: 1h, budget_percent: 2}\n",
            16,
            9,
            "spec.alerting.tiers[0]",
            "shorter than the long window",
            id="short-equals-long",
        ),
        pytest.param(
            "  alerting:\n    min_events: 10\n",
            TIERS
            + "      - {severity: page, long: 1h, short: 5m, budget_percent: 2}\n"
            + "      - {severity: page, long: 30m, short: 6h, budget_percent: 5}\n",
            17,
            9,
            "spec.alerting.tiers[1]",
            "shorter than the long window",
            id="short-longer-than-long",
        ),
        pytest.param(
            "    kind: availability\n",
            "    kind: latency_percentile\n    percentile: 95\n    threshold_ms: 5000\n",
            6,
            3,
            "spec",
            "a latency_percentile SLI counts time slices: set budgeting_method: Timeslices",
            id="percentile-with-occurrences",
        ),
        pytest.param(
            "Occurrences",
            "Timeslices",
            6,
            3,
            "spec",
            "Timeslices with a ratio SLI needs timeslice_target",
            id="timeslices-without-target",
        ),
        pytest.param(
            "  objective: 99.9\n",
            "  bogus: true\n  objective: 99.9\n",
            10,
            3,
            "spec.bogus",
            "unknown field",
            id="unknown-spec-field",
        ),
        pytest.param(
            "    rolling: 30d\n",
            "    rolling: 30d\n    time_zone: Mars/Olympus\n",
            12,
            5,
            "spec.period",
            "unknown time zone 'Mars/Olympus'",
            id="period-time-zone",
        ),
        pytest.param(
            '      end: "2026-11-07T04:00:00Z"\n',
            '      end: "2026-11-07T04:00:00Z"\n      time_zone: Europe/Atlantis\n',
            17,
            7,
            "spec.exclusions[0]",
            "unknown time zone 'Europe/Atlantis'",
            id="exclusion-time-zone",
        ),
        pytest.param(
            '      end: "2026-11-07T04:00:00Z"\n',
            "      rrule: FREQ=SOMETIMES\n      duration: 2h\n",
            17,
            7,
            "spec.exclusions[0]",
            "invalid rrule",
            id="invalid-rrule",
        ),
        pytest.param(
            '      end: "2026-11-07T04:00:00Z"\n',
            '      end: "2026-11-07T01:00:00Z"\n',
            17,
            7,
            "spec.exclusions[0]",
            "end must be after start",
            id="exclusion-end-before-start",
        ),
        pytest.param(
            '      start: "2026-11-07T02:00:00Z"\n      end: "2026-11-07T04:00:00Z"\n',
            "      start: 2026-11-07T02:00:00\n      end: 2026-11-07T04:00:00\n",
            17,
            7,
            "spec.exclusions[0]",
            "start needs a time zone",
            id="exclusion-without-time-zone",
        ),
    ],
)
def test_bad_slo_is_one_located_error(
    tmp_path: Path, old: str, new: str, line: int, column: int, path: str, fragment: str
) -> None:
    assert old in SLO_YAML
    file = write_text(tmp_path / "slo.yaml", SLO_YAML.replace(old, new, 1))

    found = load_documents([file])

    assert found.slos == []
    assert located(found.issues) == [(line, column, path, "error")]
    assert fragment in found.issues[0].message
    assert found.issues[0].file == str(file)
    assert str(found.issues[0]).startswith(f"{file}:{line}:{column}: {path}: ")


def test_freshness_from_a_task_without_the_task_name_is_an_error_at_the_sli(tmp_path: Path) -> None:
    file = write_text(
        tmp_path / "slo.yaml",
        SLO_YAML.replace(
            "    kind: availability\n", "    kind: freshness\n    source: task\n    max_age: 5m\n"
        ).replace("Occurrences", "Timeslices"),
    )

    found = load_documents([file])

    assert found.slos == []
    assert len(found.issues) == 1
    issue = found.issues[0]
    # Located at the sli mapping (its first key, `kind`); the path is the sli (plus pydantic's union tag).
    assert (issue.line, issue.column, issue.severity) == (9, 5, "error")
    assert issue.path.startswith("spec.sli")
    assert "a freshness SLI from tasks names its task" in issue.message


def test_objective_with_float_noise_from_yaml_is_refused(tmp_path: Path) -> None:
    """`99.90000000000001` is computed-value noise; slo.py promises to refuse it, not round it to 99.9."""
    file = write_text(tmp_path / "slo.yaml", SLO_YAML.replace("99.9", "99.90000000000001"))

    found = load_documents([file])

    assert found.slos == [], f"accepted as objective {found.slos[0].spec.objective if found.slos else None}"
    assert located(found.issues) == [(10, 14, "spec.objective", "error")]
    assert "decimals" in found.issues[0].message


def test_objective_with_six_decimals_is_kept_exactly(tmp_path: Path) -> None:
    file = write_text(tmp_path / "slo.yaml", SLO_YAML.replace("99.9", "99.123456"))

    found = load_documents([file])

    assert found.issues == []
    assert found.slos[0].spec.objective == Decimal("99.123456")
    assert found.slos[0].spec.error_budget == Decimal("0.00876544")


def test_every_error_of_a_multi_document_slo_file_is_reported_in_one_run(project: Path) -> None:
    file = write_text(
        project / "slos" / "many.yaml",
        slo_text("bad-objective", objective="100")  # lines 1-10
        + "---\n"  # 11
        + slo_text("bad-method", extra="  budgeting_method: Ratio\n")  # 12-22
        + "---\n"  # 23
        + slo_text("good")  # 24-33
        + "---\n"  # 34
        + slo_text("bad-field", extra="  ownr: someone\n"),  # 35-45
    )

    found = load_documents([file])

    assert [s.name for s in found.slos] == ["good"]
    assert [(i.file, i.line, i.column, i.path) for i in found.issues] == [
        (str(file), 9, 14, "spec.objective"),
        (str(file), 22, 21, "spec.budgeting_method"),
        (str(file), 45, 3, "spec.ownr"),
    ]
    with pytest.raises(ConfigError) as caught:
        load_config(project / "agent.yaml")
    text = str(caught.value)
    assert text.startswith("3 config error(s)\n")
    assert f"{file}:9:14: spec.objective: objective must be a percentage strictly between 0 and 100" in text
    assert f"{file}:45:3: spec.ownr: unknown field" in text
    assert len(caught.value.issues) == 3


# ---------------------------------------------------------------------------------------------- warnings


def test_filter_naming_unknown_warehouse_or_service_warns_with_the_known_names(project: Path) -> None:
    file = write_text(
        project / "slos" / "inv.yaml",
        slo_text("inv", extra="  filters:\n    warehouse: [INGEST_WH, RISK_WHH]\n    service:\n      - trade-ingst\n"),
    )

    loaded = load_config(project / "agent.yaml")

    assert [s.name for s in loaded.slos] == ["inv"], "a warning does not stop the SLO from loading"
    assert [(w.file, w.line, w.column, w.path, w.severity) for w in loaded.warnings] == [
        (str(file), 12, 28, "spec.filters.warehouse[1]", "warning"),
        (str(file), 14, 9, "spec.filters.service[0]", "warning"),
    ]
    assert loaded.warnings[0].message == "unknown warehouse 'RISK_WHH'; known: INGEST_WH, RISK_WH"
    assert loaded.warnings[1].message == "unknown service 'trade-ingst'; known: trade-ingest"
    assert str(loaded.warnings[0]).startswith(f"{file}:12:28: warning: spec.filters.warehouse[1]: ")


def test_known_filter_names_raise_no_warning(project: Path) -> None:
    write_text(project / "slos" / "inv.yaml", slo_text("inv", extra="  filters: {warehouse: [RISK_WH]}\n"))

    loaded = load_config(project / "agent.yaml")

    assert loaded.warnings == []
    assert loaded.slos[0].spec.filters.used() == {"warehouse": ["RISK_WH"]}


@pytest.mark.parametrize("period", ["{rolling: 30d}", "{calendar: month, time_zone: Europe/London}"])
def test_default_page_tier_that_can_never_fire_at_90_percent_is_named(project: Path, period: str) -> None:
    """At 90 % a 100 % outage burns at most 10x: the 1h/5m tier's 14.4x (2 % of 30 d) can never be reached."""
    write_text(project / "slos" / "ninety.yaml", slo_text("ninety", objective="90", period=period))

    loaded = load_config(project / "agent.yaml")

    assert [s.name for s in loaded.slos] == ["ninety"]
    assert len(loaded.warnings) == 1, loaded.warnings
    warning = loaded.warnings[0]
    assert (warning.severity, warning.path) == ("warning", "spec.alerting")
    assert warning.message.startswith("tier page 1h/5m can never fire: its burn factor 14.4")
    assert "at most 10x at objective 90 %" in warning.message


def test_tiers_at_99_9_over_30_days_can_all_fire(project: Path) -> None:
    write_text(project / "slos" / "ok.yaml", slo_text("three-nines"))

    loaded = load_config(project / "agent.yaml")

    assert loaded.warnings == [], "99.9 % over 30 d: a full outage takes 43 min, every default tier can fire"


def test_five_nines_over_30_days_is_indefensible(project: Path) -> None:
    """99.999 % monthly: a full outage exhausts the budget in ~26 s (Workbook), within one evaluation."""
    file = write_text(project / "slos" / "five.yaml", slo_text("five-nines", objective="99.999"))

    loaded = load_config(project / "agent.yaml")

    assert [s.name for s in loaded.slos] == ["five-nines"]
    assert located(loaded.warnings) == [(9, 14, "spec.objective", "warning")]
    assert loaded.warnings[0].file == str(file)
    message = loaded.warnings[0].message
    assert "exhausts the whole 30d budget in 26 s" in message
    assert "alerting cannot defend it" in message


def test_four_nines_over_30_days_warns_that_the_page_comes_too_late(project: Path) -> None:
    """99.99 % over 30 d: 259 s of full outage, less than the 45 min ACCOUNT_USAGE can lag."""
    write_text(project / "slos" / "four.yaml", slo_text("four-nines", objective="99.99"))

    loaded = load_config(project / "agent.yaml")

    assert located(loaded.warnings) == [(9, 14, "spec.objective", "warning")]
    assert "in 259 s" in loaded.warnings[0].message
    assert "ACCOUNT_USAGE" in loaded.warnings[0].message


def test_duplicate_slo_name_across_files_names_the_first_file(project: Path) -> None:
    first = write_text(project / "slos" / "a.yaml", slo_text("same"))
    second = write_text(project / "slos" / "b.yaml", slo_text("other") + "---\n" + slo_text("same"))

    with pytest.raises(ConfigError) as caught:
        load_config(project / "agent.yaml")

    issues = caught.value.issues
    assert [(i.file, i.line, i.column, i.path, i.severity) for i in issues] == [
        (str(second), 15, 9, "metadata.name", "error")
    ]
    assert issues[0].message == f"duplicate SLO name 'same' (first in {first})"


def test_runbook_that_does_not_resolve_is_an_error(project: Path) -> None:
    file = write_text(
        project / "slos" / "rb.yaml",
        slo_text("known", extra="  runbook: known-runbook\n")
        + "---\n"
        + slo_text("unknown", extra="  runbook: missing-runbook\n"),
    )

    with pytest.raises(ConfigError) as caught:
        load_config(project / "agent.yaml")

    issues = caught.value.issues
    assert [(i.file, i.line, i.column, i.path) for i in issues] == [(str(file), 23, 12, "spec.runbook")]
    assert issues[0].message == f"runbook 'missing-runbook' not found in {project / 'runbooks'}"


# ---------------------------------------------------------------------------------------------- burn factors


def test_default_tiers_are_the_workbook_pairs() -> None:
    tiers = default_tiers()

    assert [(t.severity, t.label, t.budget_percent) for t in tiers] == [
        ("page", "1h/5m", Decimal(2)),
        ("page", "6h/30m", Decimal(5)),
        ("ticket", "1d/2h", Decimal(10)),
        ("ticket", "3d/6h", Decimal(10)),
    ]
    assert all(t.short * 12 == t.long for t in tiers), "short window = long / 12"


def test_default_factors_over_30_days_are_exactly_14_4_6_3_1() -> None:
    factors = [t.factor(timedelta(days=30)) for t in default_tiers()]

    assert factors == [Decimal("14.4"), Decimal(6), Decimal(3), Decimal(1)]
    assert all(isinstance(f, Decimal) for f in factors)
    assert [format_factor(f) for f in factors] == ["14.4", "6", "3", "1"]


def test_default_factors_over_28_days_are_exact_decimals() -> None:
    period = Decimal(28 * DAY)
    expected = [
        Decimal(2) / 100 * period / Decimal(3600),
        Decimal(5) / 100 * period / Decimal(6 * 3600),
        Decimal(10) / 100 * period / Decimal(DAY),
        Decimal(10) / 100 * period / Decimal(3 * DAY),
    ]

    factors = [t.factor(timedelta(days=28)) for t in default_tiers()]

    assert factors == expected
    assert factors[:3] == [Decimal("13.44"), Decimal("5.6"), Decimal("2.8")]
    assert str(factors[3]).startswith("0.93333333333")
    assert [format_factor(f) for f in factors] == ["13.44", "5.6", "2.8", "0.933333"]


def test_explicit_burn_rate_is_used_as_is_for_any_period() -> None:
    tier = AlertTier(severity="page", long="1h", short="5m", burn_rate=Decimal(36))

    assert tier.factor(timedelta(days=30)) == Decimal(36)
    assert tier.factor(timedelta(days=7)) == Decimal(36)


def test_tier_needs_exactly_one_of_budget_percent_or_burn_rate() -> None:
    with pytest.raises(ValueError, match="exactly one of budget_percent or burn_rate"):
        AlertTier(severity="page", long="1h", short="5m", budget_percent=Decimal(2), burn_rate=Decimal(14))


@pytest.mark.parametrize(
    ("value", "text"),
    [("14.40", "14.4"), ("6.00", "6"), ("10", "10"), ("0.5", "0.5"), ("13.4400000", "13.44")],
)
def test_format_factor_drops_trailing_zeros(value: str, text: str) -> None:
    assert format_factor(Decimal(value)) == text


# ---------------------------------------------------------------------------------------------- periods


def test_calendar_month_in_new_york_starts_and_ends_at_local_midnight() -> None:
    period = Period(calendar="month", time_zone="America/New_York")
    at = utc(2026, 7, 15, 12)

    assert period.start(at) == utc(2026, 7, 1, 4)  # 00:00 EDT
    assert period.end(at) == utc(2026, 8, 1, 4)
    assert period.start(at).astimezone(NEW_YORK).replace(tzinfo=None) == datetime(2026, 7, 1)
    assert period.length == timedelta(days=30), "a calendar month counts as 30 days for burn factors"


def test_calendar_month_across_the_november_dst_change_is_one_hour_longer() -> None:
    """DST ends 2026-11-01 at 02:00: November starts at 00:00 EDT (UTC-4) and ends at 00:00 EST (UTC-5)."""
    period = Period(calendar="month", time_zone="America/New_York")

    start, end = period.start(utc(2026, 11, 15, 12)), period.end(utc(2026, 11, 15, 12))

    assert (start, end) == (utc(2026, 11, 1, 4), utc(2026, 12, 1, 5))
    assert end - start == timedelta(days=30, hours=1)
    # 2026-11-01 03:00 UTC is still 31 October 23:00 in New York: October's period.
    assert period.start(utc(2026, 11, 1, 3)) == utc(2026, 10, 1, 4)
    assert period.end(utc(2026, 11, 1, 3)) == utc(2026, 11, 1, 4)
    # The last local minute of November is November's; the first of December is December's.
    assert period.start(utc(2026, 12, 1, 4, 59)) == utc(2026, 11, 1, 4)
    assert period.start(utc(2026, 12, 1, 5)) == utc(2026, 12, 1, 5)


def test_calendar_week_starts_monday_at_local_midnight() -> None:
    period = Period(calendar="week", time_zone="America/New_York")
    thursday = utc(2026, 11, 5, 12)

    start = period.start(thursday)

    assert start == utc(2026, 11, 2, 5)  # Monday 00:00 EST
    assert start.astimezone(NEW_YORK).weekday() == 0
    assert period.end(thursday) == utc(2026, 11, 9, 5)
    assert period.length == timedelta(days=7)


def test_calendar_week_containing_the_dst_change_runs_monday_to_monday_local() -> None:
    period = Period(calendar="week", time_zone="America/New_York")
    sunday = utc(2026, 11, 1, 12)  # 07:00 EST, the day DST ended

    assert period.start(sunday) == utc(2026, 10, 26, 4)  # Monday 00:00 EDT
    assert period.end(sunday) == utc(2026, 11, 2, 5)  # Monday 00:00 EST
    assert period.end(sunday) - period.start(sunday) == timedelta(days=7, hours=1)


def test_calendar_day_of_the_dst_change_has_25_hours() -> None:
    period = Period(calendar="day", time_zone="America/New_York")
    at = utc(2026, 11, 1, 12)

    assert (period.start(at), period.end(at)) == (utc(2026, 11, 1, 4), utc(2026, 11, 2, 5))
    assert period.length == timedelta(days=1)


def test_rolling_period_starts_one_period_before_now_and_ends_now() -> None:
    period = Period(rolling="28d")
    at = utc(2026, 11, 5, 12, 34)

    assert period.start(at) == at - timedelta(days=28)
    assert period.end(at) == at
    assert period.length == timedelta(days=28)


def test_period_needs_exactly_one_of_rolling_or_calendar() -> None:
    with pytest.raises(ValueError, match=r"exactly one of period\.rolling or period\.calendar"):
        Period(rolling="28d", calendar="month")
    with pytest.raises(ValueError, match=r"exactly one of period\.rolling or period\.calendar"):
        Period()


# ---------------------------------------------------------------------------------------------- exclusions


def test_one_off_exclusion_is_returned_only_when_it_overlaps_the_range() -> None:
    exclusion = Exclusion(reason="Saturday maintenance", start="2026-11-07T02:00:00Z", end="2026-11-07T04:00:00Z")
    interval = [(utc(2026, 11, 7, 2), utc(2026, 11, 7, 4))]

    assert exclusion.occurrences(utc(2026, 11, 7), utc(2026, 11, 8)) == interval
    assert exclusion.occurrences(utc(2026, 11, 7, 3), utc(2026, 11, 7, 3, 30)) == interval
    assert exclusion.occurrences(utc(2026, 11, 7, 3, 59), utc(2026, 11, 8)) == interval
    # [lo, hi) touching the interval's ends does not overlap it.
    assert exclusion.occurrences(utc(2026, 11, 7, 4), utc(2026, 11, 8)) == []
    assert exclusion.occurrences(utc(2026, 11, 6), utc(2026, 11, 7, 2)) == []


def test_one_off_exclusion_without_offsets_is_read_in_its_time_zone() -> None:
    exclusion = Exclusion(
        reason="Month-end close", start="2026-11-30T22:00:00", end="2026-12-01T02:00:00", time_zone="America/New_York"
    )

    assert exclusion.occurrences(utc(2026, 11, 30), utc(2026, 12, 2)) == [
        (utc(2026, 12, 1, 3), utc(2026, 12, 1, 7))  # EST = UTC-5
    ]


def test_daily_rrule_stays_at_19_00_new_york_across_the_november_dst_change() -> None:
    exclusion = Exclusion(
        reason="Outside trading hours",
        rrule="FREQ=DAILY",
        start="2026-01-01T19:00:00",
        time_zone="America/New_York",
        duration="12h",
    )

    found = exclusion.occurrences(utc(2026, 10, 30), utc(2026, 11, 3, 12))

    starts = [begin for begin, _ in found]
    assert starts == [
        utc(2026, 10, 29, 23),  # 19:00 EDT (UTC-4); still running at lo
        utc(2026, 10, 30, 23),
        utc(2026, 10, 31, 23),
        utc(2026, 11, 2, 0),  # 1 November 19:00 EST (UTC-5)
        utc(2026, 11, 3, 0),
    ]
    assert [s.astimezone(NEW_YORK).strftime("%H:%M") for s in starts] == ["19:00"] * 5
    assert [s.hour for s in starts] == [23, 23, 23, 0, 0]
    assert all(end - begin == timedelta(hours=12) for begin, end in found)
    assert all(begin.tzinfo == UTC for begin, _ in found)


def test_weekly_saturday_rrule_excludes_48_hours_from_local_saturday_midnight() -> None:
    exclusion = Exclusion(
        reason="Weekend - markets closed",
        rrule="FREQ=WEEKLY;BYDAY=SA",
        start="2026-01-03T00:00:00",
        time_zone="America/New_York",
        duration="48h",
    )

    found = exclusion.occurrences(utc(2026, 10, 27), utc(2026, 11, 12))

    assert found == [
        (utc(2026, 10, 31, 4), utc(2026, 11, 2, 4)),  # Saturday 00:00 EDT, 48 h
        (utc(2026, 11, 7, 5), utc(2026, 11, 9, 5)),  # Saturday 00:00 EST, 48 h
    ]
    assert all(begin.astimezone(NEW_YORK).strftime("%a %H:%M") == "Sat 00:00" for begin, _ in found)
    assert exclusion.occurrences(utc(2026, 11, 3), utc(2026, 11, 7, 4, 59)) == []  # Tuesday to Friday


def test_recurring_occurrences_that_only_touch_the_range_are_left_out_like_one_off_ones() -> None:
    """Intervals overlapping ``[lo, hi)`` only: one ending at ``lo`` or starting at ``hi`` is not returned."""
    one_off = Exclusion(reason="maintenance", start="2026-11-04T19:00:00Z", end="2026-11-04T20:00:00Z")
    daily = Exclusion(reason="maintenance", rrule="FREQ=DAILY", start="2026-01-01T19:00:00Z", duration="1h")
    lo, hi = utc(2026, 11, 4, 20), utc(2026, 11, 5, 19)  # 4 Nov 19:00-20:00 ends at lo; 5 Nov 19:00 starts at hi

    assert one_off.occurrences(lo, hi) == []
    assert daily.occurrences(lo, hi) == []


@pytest.mark.parametrize(
    ("fields", "fragment"),
    [
        ({"rrule": "FREQ=DAILY", "start": "2026-01-01T19:00:00Z"}, "needs a positive duration"),
        ({"rrule": "FREQ=DAILY", "duration": "1h"}, "needs start"),
        (
            {"rrule": "FREQ=DAILY", "start": "2026-01-01T19:00:00Z", "end": "2026-01-02T00:00:00Z", "duration": "1h"},
            "not end",
        ),
        (
            {"rrule": "DTSTART:20260101T000000Z\nFREQ=DAILY", "start": "2026-01-01T19:00:00Z", "duration": "1h"},
            "DTSTART",
        ),
        ({"start": "2026-01-01T19:00:00Z"}, "a one-off exclusion has start and end"),
    ],
)
def test_exclusion_shapes_that_cannot_be_evaluated_are_refused(fields: dict[str, str], fragment: str) -> None:
    with pytest.raises(ValueError, match=fragment):
        Exclusion(reason="maintenance", **fields)  # type: ignore[arg-type]


# ---------------------------------------------------------------------------------------------- one failure pages


def test_one_failure_pages_at_ten_events_per_hour() -> None:
    """Workbook: at 10 requests/h one failure is a 10 % hourly error ratio, far over the 1.44 % a 14.4x tier needs."""
    message = one_failure_pages(slo(), 10 / 60)

    assert message is not None
    assert message.startswith("one bad event would page on 1h/5m")
    assert "about 10.0 events per 1h" in message
    assert "a 10 % error ratio" in message
    assert "14.4x the 0.1 % budget" in message
    assert "set alerting.min_events to at least 167" in message  # the 6h/30m tier needs 1 / 0.006 → 167


def test_one_failure_does_not_page_at_1000_events_per_minute() -> None:
    assert one_failure_pages(slo(), 1000.0) is None


def test_large_enough_min_events_guard_means_one_failure_cannot_page() -> None:
    # 6h/30m needs 1/(6 × 0.001) = 166.7 events to stay under its 0.6 % ratio with one failure.
    assert one_failure_pages(slo(alerting={"min_events": 167}), 10 / 60) is None
    assert one_failure_pages(slo(alerting={"min_events": 166}), 10 / 60) is not None


def test_per_tier_min_events_overrides_the_slo_guard() -> None:
    tiers = [
        {"severity": "page", "long": "1h", "short": "5m", "budget_percent": 2, "min_events": 70},
        {"severity": "ticket", "long": "3d", "short": "6h", "budget_percent": 10},
    ]

    assert one_failure_pages(slo(alerting={"tiers": tiers}), 10 / 60) is None
    assert one_failure_pages(slo(alerting={"tiers": tiers, "min_events": 200}), 10 / 60) is None
    tiers[0]["min_events"] = 69
    assert one_failure_pages(slo(alerting={"tiers": tiers, "min_events": 200}), 10 / 60) is not None


def test_following_the_suggested_min_events_stops_one_failure_paging() -> None:
    """The warning's advice must be enough: with the suggested guard, one bad event may not page on any tier."""
    message = one_failure_pages(slo(), 10 / 60)
    assert message is not None
    suggested = int(message.split("set alerting.min_events to at least ")[1].split(",")[0])

    assert one_failure_pages(slo(alerting={"min_events": suggested}), 10 / 60) is None


def test_ticket_only_slo_never_pages_on_one_failure() -> None:
    tiers = [
        {"severity": "ticket", "long": "1d", "short": "2h", "budget_percent": 10},
        {"severity": "ticket", "long": "3d", "short": "6h", "budget_percent": 10},
    ]

    assert one_failure_pages(slo(alerting={"tiers": tiers}), 0.01) is None


# ---------------------------------------------------------------------------------------------- shipped files


def test_embedded_example_loads_nine_slos_without_warnings() -> None:
    loaded = load_config(EMBEDDED)

    assert len(loaded.slos) == 9
    assert len({s.name for s in loaded.slos}) == 9
    assert loaded.warnings == []


def test_every_shipped_slo_runbook_file_exists() -> None:
    loaded = load_config(EMBEDDED)

    for doc in loaded.slos:
        assert doc.spec.runbook, f"{doc.name} has no runbook"
        assert (REPO / "runbooks" / f"{doc.spec.runbook}.md").is_file(), doc.name


def test_shipped_28_day_slo_with_default_tiers_uses_the_28_day_factors() -> None:
    loaded = load_config(EMBEDDED)
    doc = next(s for s in loaded.slos if s.name == "trade-analytics-dashboard-under-10s")

    tiers = doc.spec.alerting.effective_tiers()

    assert tiers == default_tiers()
    assert [format_factor(t.factor(doc.spec.period.length)) for t in tiers] == ["13.44", "5.6", "2.8", "0.933333"]


def test_shipped_freshness_slo_excludes_new_york_nights_and_weekends() -> None:
    loaded = load_config(EMBEDDED)
    doc = next(s for s in loaded.slos if s.name == "trade-executions-freshness")
    nights, weekend = doc.spec.exclusions

    assert doc.spec.period.start(utc(2026, 11, 15)) == utc(2026, 11, 1, 4)
    assert nights.occurrences(utc(2026, 11, 4, 12, 30), utc(2026, 11, 4, 13)) == []  # Wednesday 07:30 EST: open
    assert nights.occurrences(utc(2026, 11, 5, 1), utc(2026, 11, 5, 2)) == [
        (utc(2026, 11, 5, 0), utc(2026, 11, 5, 12, 5))
    ]  # until 07:05 EST
    assert weekend.occurrences(utc(2026, 11, 8, 12), utc(2026, 11, 8, 13)) == [
        (utc(2026, 11, 7, 5), utc(2026, 11, 9, 5))
    ]
