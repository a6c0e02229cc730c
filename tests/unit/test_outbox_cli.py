"""`sre-agent outbox retry|discard` through ``main``: dead letters go back to the queue with their dedup keys (and
are then delivered by the loop), or are discarded; `status` counts follow; a wrong sink name is a usage error."""

from __future__ import annotations

import json
import time
from pathlib import Path

from test_silence_cli import config  # noqa: F401 - the fixture
from test_webhook_sink import NOW, SETTINGS, enqueue, record, states

from sre_agent.cli import main
from sre_agent.errors import SinkError
from sre_agent.exit_codes import ExitCode
from sre_agent.sinks.delivery import deliver
from sre_agent.store.db import Database
from sre_agent.store.outbox import Outbox


class Refusing:
    """A receiver that rejects every request as malformed (a 400: not retried)."""

    name = "alerts-file"

    def __init__(self) -> None:
        self.got: list[str] = []
        self.accept = False

    def send(self, records: list[dict[str, object]]) -> None:
        if not self.accept:
            raise SinkError(self.name, "HTTP 400 (BadRequest)", retryable=False)
        self.got += [str(r["dedup_key"]) for r in records]

    def close(self) -> None:
        return


def _dead_letters(config: Path) -> tuple[Outbox, Refusing]:  # noqa: F811
    db = Database(config.parent / "state.db")
    outbox = Outbox(db)
    enqueue(outbox, "alerts-file", record(1), record(2, "resolved"))
    receiver = Refusing()
    report = deliver(outbox, [receiver], NOW, SETTINGS)
    assert report.dead == 2
    return outbox, receiver


def test_retry_queues_dead_letters_again_and_the_loop_delivers_them(config: Path, capsys) -> None:  # noqa: F811
    outbox, receiver = _dead_letters(config)
    try:
        assert main(["outbox", "retry", "--sink", "alerts-file", "--config", str(config)]) == ExitCode.OK
        assert "2 dead letter(s) of alerts-file queued again" in capsys.readouterr().out
        assert [s[1] for s in states(outbox)] == ["pending", "pending"]
        receiver.accept = True
        report = deliver(outbox, [receiver], int(time.time()) + 1, SETTINGS)  # queued at the command's wall clock
        assert report.delivered == 2
        assert receiver.got == ["store:5c1e0f2a9b3d4e6f:1", "store:5c1e0f2a9b3d4e6f:2"], "same dedup keys"
        assert main(["status", "--format", "json", "--config", str(config)]) == ExitCode.OK
        [row] = json.loads(capsys.readouterr().out)["outbox"]
        assert (row["dead"], row["delivered"]) == (0, 2)
    finally:
        outbox.db.close()


def test_discard_drops_dead_letters_for_good_and_a_wrong_sink_is_a_usage_error(config: Path, capsys) -> None:  # noqa: F811
    outbox, _ = _dead_letters(config)
    try:
        assert main(["outbox", "discard", "--sink", "alerts-file", "--config", str(config)]) == ExitCode.OK
        assert "2 dead letter(s) of alerts-file discarded" in capsys.readouterr().out
        assert [s[1] for s in states(outbox)] == ["discarded", "discarded"]
        assert outbox.due("alerts-file", NOW + 10**6, 10) == []
        assert main(["outbox", "retry", "--sink", "teams", "--config", str(config)]) == ExitCode.USAGE
        assert "no sink 'teams' in the config; the sinks are: console, alerts-file" in capsys.readouterr().err
    finally:
        outbox.db.close()
