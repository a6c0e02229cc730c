"""Unit tests of `sre-agent silence add|list|expire` and `sre-agent alerts list|show` through ``main``.

Each test gets a copy of the shipped embedded config whose state store lives in ``tmp_path`` (rules, SLOs
and runbooks are the shipped ones, so the git silence ``reporting-weekend-rebuild`` — 06:00-10:00 New
York every Saturday until March 2027 — is listed too). The commands' clock is pinned to ``NOW``, a
Wednesday, and moved by hand where a test needs time to pass.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from sre_agent.alerting.grouping import Flush, Group, Member
from sre_agent.alerting.lifecycle import Instance, Transition
from sre_agent.cli import main
from sre_agent.clock import SimulatedClock
from sre_agent.exit_codes import ExitCode
from sre_agent.model import AlertState, EventKind, Severity
from sre_agent.store.alerts import AlertStore
from sre_agent.store.db import Database
from sre_agent.store.notifications import NotificationStore

REPO = Path(__file__).resolve().parents[2]
EMBEDDED = REPO / "examples" / "embedded.yaml"
NOW = datetime(2026, 11, 25, 22, 0, tzinfo=UTC)
GIT_SILENCE = "git:reporting-weekend-rebuild"
FP = "0123456789abcdef"


# ---------------------------------------------------------------------------------------------- fixtures


@pytest.fixture
def config(tmp_path: Path) -> Path:
    """The embedded config with its store (and JSONL sink) in ``tmp_path`` and absolute rule paths."""
    data = yaml.safe_load(EMBEDDED.read_text(encoding="utf-8"))
    spec = data["spec"]
    spec["store"]["path"] = str(tmp_path / "state.db")
    spec["rules"] = [str(REPO / "rules")]
    spec["slos"] = [str(REPO / "slo_definitions")]
    spec["runbooks"] = str(REPO / "runbooks")
    spec["sinks"][1]["path"] = str(tmp_path / "alerts.jsonl")
    path = tmp_path / "agent.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> SimulatedClock:
    """The clock the silence commands read, pinned to NOW."""
    pinned = SimulatedClock(NOW)
    monkeypatch.setattr("sre_agent.cli.alerts.SystemClock", lambda: pinned)
    return pinned


class Cli:
    """Runs `sre-agent … -c CONFIG` and keeps what it printed."""

    def __init__(self, config: Path, capsys: pytest.CaptureFixture[str]) -> None:
        self.config = config
        self.capsys = capsys
        self.out = ""
        self.err = ""

    def __call__(self, *args: str) -> int:
        code = main([*args, "-c", str(self.config)])
        captured = self.capsys.readouterr()
        self.out, self.err = captured.out, " ".join(captured.err.split())
        return code

    def json(self, *args: str) -> Any:
        code = self(*args, "--format", "json")
        assert code == ExitCode.OK, self.err
        return json.loads(self.out)

    def usage_error(self, *args: str) -> str:
        """Run a command argparse must refuse; return its stderr."""
        with pytest.raises(SystemExit) as caught:
            main([*args, "-c", str(self.config)])
        assert caught.value.code == ExitCode.USAGE
        return " ".join(self.capsys.readouterr().err.split())


@pytest.fixture
def cli(config: Path, clock: SimulatedClock, capsys: pytest.CaptureFixture[str]) -> Cli:
    return Cli(config, capsys)


def add(cli: Cli, *args: str) -> dict[str, Any]:
    rows = cli.json("silence", "add", *args)
    assert len(rows) == 1
    row: dict[str, Any] = rows[0]
    return row


def cli_rows(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [r for r in rows if r["source"] == "cli"]


# ---------------------------------------------------------------------------------------------- silence add


def test_silence_add_prints_the_new_silence_active_from_now(cli: Cli) -> None:
    row = add(
        cli, 'warehouse="RISK_WH"', "rule=~risk-.*", "--duration", "2h", "--reason", "index rebuild", "--author", "me"
    )

    assert re.fullmatch(r"[0-9a-f]{12}", row["id"]), "a short hex id to pass to `silence expire`"
    assert row == {
        "id": row["id"],
        "matchers": ['warehouse="RISK_WH"', 'rule=~"risk-.*"'],
        "state": "active",
        "starts_at": "2026-11-25T22:00:00Z",
        "ends_at": "2026-11-26T00:00:00Z",
        "next": None,
        "recurring": None,
        "reason": "index rebuild",
        "author": "me",
        "source": "cli",
    }


def test_silence_add_with_start_and_end_is_pending_until_it_starts(cli: Cli) -> None:
    row = add(
        cli,
        'warehouse="RISK_WH"',
        "--start",
        "2026-11-26T03:00:00+03:00",
        "--end",
        "2026-11-26T02:00:00Z",
        "--reason",
        "planned failover",
        "--author",
        "me",
    )

    assert (row["state"], row["starts_at"], row["ends_at"]) == (
        "pending",
        "2026-11-26T00:00:00Z",
        "2026-11-26T02:00:00Z",
    )


def test_silence_add_table_output_names_the_silence(cli: Cli) -> None:
    code = cli(
        "silence", "add", 'warehouse="RISK_WH"', "--duration", "2h", "--reason", "index rebuild", "--author", "me"
    )

    assert code == ExitCode.OK
    assert "Added silence" in cli.out
    assert 'warehouse="RISK_WH"' in cli.out
    assert "index rebuild" in cli.out


# ---------------------------------------------------------------------------------------------- round trip


def test_silence_add_list_expire_round_trip(cli: Cli, clock: SimulatedClock) -> None:
    added = add(cli, 'warehouse="RISK_WH"', "--duration", "2h", "--reason", "index rebuild", "--author", "me")
    other = add(cli, 'service="risk-engine"', "--duration", "1h", "--reason", "deploy", "--author", "you")

    listed = {r["id"]: r["state"] for r in cli.json("silence", "list")}
    assert listed == {GIT_SILENCE: "pending", added["id"]: "active", other["id"]: "active"}

    clock.advance(timedelta(minutes=10))
    code = cli("silence", "expire", added["id"])
    assert code == ExitCode.OK
    assert f'Expired silence {added["id"]} (warehouse="RISK_WH")' in cli.out

    assert [r["id"] for r in cli_rows(cli.json("silence", "list"))] == [other["id"]]
    everything = {r["id"]: r for r in cli.json("silence", "list", "--all")}
    assert everything[added["id"]]["state"] == "expired"
    assert everything[added["id"]]["ends_at"] == "2026-11-25T22:10:00Z", "expired now, not at its planned end"
    assert everything[other["id"]]["state"] == "active"


def test_silence_that_ran_out_is_listed_only_with_all(cli: Cli, clock: SimulatedClock) -> None:
    added = add(cli, 'warehouse="RISK_WH"', "--duration", "1h", "--reason", "index rebuild", "--author", "me")

    clock.advance(timedelta(hours=1))

    assert cli_rows(cli.json("silence", "list")) == []
    assert [(r["id"], r["state"]) for r in cli_rows(cli.json("silence", "list", "--all"))] == [(added["id"], "expired")]


def test_expiring_a_silence_twice_fails_the_second_time(cli: Cli, clock: SimulatedClock) -> None:
    added = add(cli, 'warehouse="RISK_WH"', "--duration", "2h", "--reason", "index rebuild", "--author", "me")
    clock.advance(timedelta(minutes=1))
    assert cli("silence", "expire", added["id"]) == ExitCode.OK

    code = cli("silence", "expire", added["id"])

    assert code == ExitCode.USAGE
    assert f"error: no active silence '{added['id']}' (see `sre-agent silence list --all`)" in cli.err


def test_expiring_a_pending_silence_removes_it_from_the_list_and_it_never_applies(
    cli: Cli, clock: SimulatedClock
) -> None:
    added = add(
        cli,
        'warehouse="RISK_WH"',
        "--start",
        "2026-11-26T02:00:00Z",
        "--duration",
        "2h",
        "--reason",
        "planned failover",
        "--author",
        "me",
    )
    assert added["state"] == "pending"

    assert cli("silence", "expire", added["id"]) == ExitCode.OK

    assert cli_rows(cli.json("silence", "list")) == [], "an expired silence is no longer active or upcoming"
    clock.set(datetime(2026, 11, 26, 2, 0, tzinfo=UTC))
    assert cli_rows(cli.json("silence", "list")) == []


def test_silence_list_table_counts_git_and_cli_silences(cli: Cli) -> None:
    assert cli("silence", "list") == ExitCode.OK
    assert "Silences (1)" in cli.out
    assert "platform-team" in cli.out, "the git silence's author"

    add(cli, 'warehouse="RISK_WH"', "--duration", "2h", "--reason", "index rebuild", "--author", "oncall-bob")
    assert cli("silence", "list") == ExitCode.OK

    assert "Silences (2)" in cli.out
    assert "oncall-bob" in cli.out


def test_git_silence_is_listed_with_its_times_in_utc(cli: Cli) -> None:
    rows = {r["id"]: r for r in cli.json("silence", "list", "--all")}

    git = rows[GIT_SILENCE]
    assert git["state"] == "pending"
    assert git["recurring"] == "FREQ=WEEKLY;BYDAY=SA;UNTIL=20270331T000000Z"
    assert git["next"] == "2026-11-28T11:00:00Z", "Saturday 06:00 New York (EST)"
    assert git["ends_at"] == "2027-03-27T14:00:00Z", "last Saturday 10:00 New York (EDT)"
    assert git["starts_at"] == "2026-11-07T11:00:00Z", "the first occurrence: 06:00 New York is 11:00Z"


def test_expiring_a_git_silence_is_refused(cli: Cli) -> None:
    code = cli("silence", "expire", GIT_SILENCE)

    assert code == ExitCode.USAGE
    assert f"error: {GIT_SILENCE} is declared in git: remove or edit its Silence document" in cli.err
    assert GIT_SILENCE in [r["id"] for r in cli.json("silence", "list")]


def test_expiring_an_unknown_silence_fails_clearly(cli: Cli) -> None:
    code = cli("silence", "expire", "feedbeef0000")

    assert code == ExitCode.USAGE
    assert "error: no active silence 'feedbeef0000' (see `sre-agent silence list --all`)" in cli.err


# ---------------------------------------------------------------------------------------------- add: bad input


@pytest.mark.parametrize(
    ("args", "message"),
    [
        pytest.param([], "error: give exactly one of --duration or --end: every silence expires", id="no-end"),
        pytest.param(
            ["--duration", "2h", "--end", "2026-11-26T00:00:00Z"],
            "error: give exactly one of --duration or --end: every silence expires",
            id="both",
        ),
        pytest.param(
            ["--start", "2026-11-26T10:00:00Z", "--end", "2026-11-26T09:00:00Z"],
            "error: silence not added: the silence must end after it starts",
            id="end-before-start",
        ),
        pytest.param(
            ["--start", "2026-11-25T20:00:00Z", "--end", "2026-11-25T21:00:00Z"],
            "error: silence not added: the silence would already be over",
            id="end-in-the-past",
        ),
    ],
)
def test_silence_add_without_a_valid_window_fails_and_stores_nothing(cli: Cli, args: list[str], message: str) -> None:
    code = cli("silence", "add", 'warehouse="RISK_WH"', *args, "--reason", "index rebuild", "--author", "me")

    assert code == ExitCode.USAGE
    assert message in cli.err
    assert cli.out == ""
    assert cli_rows(cli.json("silence", "list", "--all")) == []


def test_silence_add_with_a_too_short_reason_fails(cli: Cli) -> None:
    code = cli("silence", "add", 'warehouse="RISK_WH"', "--duration", "1h", "--reason", "x", "--author", "me")

    assert code == ExitCode.USAGE
    assert "error: silence not added: say why (--reason, at least 3 characters)" in cli.err


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        pytest.param(
            ['warehouse=~"RISK_(WH"', "--duration", "2h"],
            """argument matchers: 'warehouse=~"RISK_(WH"': invalid regex (RE2): missing ): RISK_(WH""",
            id="invalid-regex",
        ),
        pytest.param(["RISK_WH", "--duration", "2h"], "argument matchers: 'RISK_WH' is not a matcher", id="no-op"),
        pytest.param(
            ['warehouse="RISK_WH"', "--duration", "2 hours"],
            "argument --duration: invalid duration '2 hours'",
            id="bad-duration",
        ),
        pytest.param(
            ['warehouse="RISK_WH"', "--end", "2026-11-26T02:00:00"],
            "argument --end: '2026-11-26T02:00:00' needs a time zone",
            id="naive-end",
        ),
    ],
)
def test_silence_add_with_a_bad_argument_is_a_usage_error(cli: Cli, args: list[str], fragment: str) -> None:
    err = cli.usage_error("silence", "add", *args, "--reason", "index rebuild", "--author", "me")

    assert fragment in err
    assert cli_rows(cli.json("silence", "list", "--all")) == []


# ---------------------------------------------------------------------------------------------- alerts list/show


def seed_alert(store: Path, fingerprint: str = FP) -> None:
    """One firing alert with its firing transition and the notification the console got for it."""
    db = Database(store)
    try:
        alerts, notes = AlertStore(db), NotificationStore(db)
        inst = Instance(
            fingerprint,
            "warehouse-queueing",
            {"warehouse": "RISK_WH"},
            AlertState.FIRING,
            Severity.SEV2,
            active_since=NOW - timedelta(minutes=5),
            fired_at=NOW,
            value=12.0,
            threshold=5.0,
            evidence={"queued_s": 12.0},
        )
        with db.transaction() as conn:
            alerts.save(conn, inst, int(NOW.timestamp()))
            event = alerts.append(
                conn, Transition(EventKind.FIRING, NOW, inst, NOW - timedelta(minutes=5), None), {"summary": "queued"}
            )
            group = Group("console", "root/abc", "root", {}, 30, 300, 14400, 0, 0)
            sent = Member(fingerprint, inst.rule, "firing", "sev2", {}, event.to_record())
            done = Flush(group, int(NOW.timestamp()) + 30, 1, [(sent, "new")], [])
            notes.log(conn, done, done.sent)
    finally:
        db.close()


def test_alerts_show_prints_transitions_and_what_each_receiver_was_told(cli: Cli, tmp_path: Path) -> None:
    seed_alert(tmp_path / "state.db")

    shown = cli.json("alerts", "show", FP[:6])

    assert (shown["fingerprint"], shown["rule"], shown["state"], shown["severity"]) == (
        FP,
        "warehouse-queueing",
        "firing",
        "sev2",
    )
    assert [(t["transition"], t["at"]) for t in shown["transitions"]] == [("firing", "2026-11-25T22:00:00Z")]
    assert [(n["receiver"], n["action"], n["status"], n["at"]) for n in shown["notifications"]] == [
        ("console", "new", "firing", "2026-11-25T22:00:30Z")
    ]
    listed = cli.json("alerts", "list")
    assert [(r["fingerprint"], r["state"], r["notifications"]) for r in listed] == [(FP, "firing", 1)]


@pytest.mark.parametrize(
    ("fingerprint", "message"),
    [
        pytest.param("deadbeef", "error: no alert with fingerprint deadbeef in this store", id="unknown"),
        pytest.param(
            "not-hex!",
            "error: 'not-hex!' is not a fingerprint (4 to 16 hex digits; see `sre-agent alerts list`)",
            id="non-hex",
        ),
        pytest.param(
            "abc", "error: 'abc' is not a fingerprint (4 to 16 hex digits; see `sre-agent alerts list`)", id="too-short"
        ),
    ],
)
def test_alerts_show_with_a_bad_fingerprint_fails_clearly(
    cli: Cli, tmp_path: Path, fingerprint: str, message: str
) -> None:
    seed_alert(tmp_path / "state.db")

    code = cli("alerts", "show", fingerprint)

    assert code == ExitCode.USAGE
    assert message in cli.err
    assert cli.out == ""


def test_alerts_show_with_an_ambiguous_prefix_lists_the_candidates(cli: Cli, tmp_path: Path) -> None:
    seed_alert(tmp_path / "state.db", "abcd000000000001")
    seed_alert(tmp_path / "state.db", "abcd000000000002")

    code = cli("alerts", "show", "abcd")

    assert code == ExitCode.USAGE
    assert "error: abcd is ambiguous: abcd000000000001, abcd000000000002" in cli.err


def test_alerts_commands_without_a_store_say_the_agent_has_not_run_and_what_to_do(cli: Cli, tmp_path: Path) -> None:
    """A usage problem (which config), not an agent failure: exit 2 and the next step."""
    code = cli("alerts", "list")

    assert code == ExitCode.USAGE
    assert f"error: no state store at {tmp_path / 'state.db'}: the agent has not run with " in cli.err
    assert "run `sre-agent once` or `sre-agent run` with this config first, or pass another with -c" in cli.err
    assert not (tmp_path / "state.db").exists(), "reading never creates a store"


def test_after_the_demo_a_command_without_its_config_names_it(
    cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    demo = tmp_path / "demo-output"
    demo.mkdir()
    (demo / "agent.yaml").write_text("# the demo's config\n")
    monkeypatch.chdir(tmp_path)

    assert cli("alerts", "list") == ExitCode.USAGE
    assert "add `-c demo-output/agent.yaml` (or export SRE_AGENT_CONFIG=demo-output/agent.yaml)" in cli.err


def test_user_text_in_tables_is_shown_verbatim_never_read_as_markup(cli: Cli) -> None:
    """Reasons, matchers and label values (which come from Snowflake query tags) may contain [brackets]."""
    code = cli("silence", "add", 'rule=~"risk-[a-z]+"', "--duration", "1h", "--reason", "fix [/] the [bold]thing")
    assert code == ExitCode.OK, cli.err
    table = " ".join(cli.out.split())
    assert 'rule=~"risk-[a-z]+"' in table
    assert "fix [/] the [bold]thing" in table
    assert cli("silence", "list") == ExitCode.OK
    assert "[/]" in cli.out
    assert "[bold]thing" in cli.out
    listed = cli.json("silence", "list")
    assert "fix [/] the [bold]thing" in [row["reason"] for row in listed]


def test_alerts_list_takes_amtool_label_matchers_and_a_state(cli: Cli, tmp_path: Path) -> None:
    seed_alert(tmp_path / "state.db")
    assert [r["fingerprint"] for r in cli.json("alerts", "list", "warehouse=RISK_WH", "severity=~sev[12]")] == [FP]
    assert cli.json("alerts", "list", "warehouse!=RISK_WH") == []
    assert cli.json("alerts", "list", "alertname=warehouse-queueing", "--state", "pending") == []
    firing = cli.json("alerts", "list", "--state", "firing")
    assert [(r["state"], r["severity"]) for r in firing] == [("firing", "sev2")]
    assert "is not a matcher" in cli.usage_error("alerts", "list", "RISK_WH")


def test_global_options_work_before_the_command_as_well_as_after(
    config: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    seed_alert(tmp_path / "state.db")
    assert main(["-c", str(config), "--log-level", "ERROR", "alerts", "list", "--format", "json"]) == ExitCode.OK
    before = json.loads(capsys.readouterr().out)
    assert main(["alerts", "list", "--format", "json", "--log-level", "ERROR", "-c", str(config)]) == ExitCode.OK
    assert json.loads(capsys.readouterr().out) == before == [before[0]]


def test_silence_expire_takes_a_unique_prefix_of_its_id(cli: Cli) -> None:
    added = add(cli, "warehouse=RISK_WH", "--duration", "1h", "--reason", "rebuild")
    assert cli("silence", "expire", added["id"][:6]) == ExitCode.OK
    assert f"Expired silence {added['id']}" in cli.out
