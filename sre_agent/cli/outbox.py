"""`sre-agent outbox retry|discard`: what an SRE does with dead letters once the receiver is fixed (or not)."""

from __future__ import annotations

import argparse

from rich.console import Console

from sre_agent.clock import SystemClock
from sre_agent.config.loader import LoadedConfig
from sre_agent.errors import UsageError
from sre_agent.exit_codes import ExitCode
from sre_agent.model import to_epoch
from sre_agent.store.db import Database
from sre_agent.store.outbox import Outbox


def cmd_outbox(args: argparse.Namespace, loaded: LoadedConfig, console: Console) -> int:
    """`outbox retry|discard --sink NAME`."""
    sinks = [s.name for s in loaded.config.spec.sinks]
    if args.sink not in sinks:
        raise UsageError(f"no sink {args.sink!r} in the config; the sinks are: {', '.join(sinks)}")
    db = Database(loaded.resolve(loaded.config.spec.store.path), writer=False)
    try:
        outbox = Outbox(db)
        if args.outbox_command == "retry":
            count = outbox.requeue_dead(args.sink, to_epoch(SystemClock().now()))
            message = f"{count} dead letter(s) of {args.sink} queued again; the running agent sends them"
        else:
            count = outbox.discard_dead(args.sink)
            message = f"{count} dead letter(s) of {args.sink} discarded"
    finally:
        db.close()
    console.print(message, markup=False, highlight=False)
    return ExitCode.OK
