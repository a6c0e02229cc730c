"""`sre-agent outbox retry|discard`: what an SRE does with dead letters once the receiver is fixed (or not)."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

from rich.console import Console

from sre_agent.clock import SystemClock
from sre_agent.config.loader import LoadedConfig
from sre_agent.errors import UsageError
from sre_agent.exit_codes import ExitCode
from sre_agent.model import to_epoch
from sre_agent.store.db import Database
from sre_agent.store.outbox import Outbox


def add_commands(sub: Any, with_config: Callable[[argparse.ArgumentParser], argparse.ArgumentParser]) -> None:
    """Register `outbox` on the top-level subparsers."""
    outbox = sub.add_parser("outbox", help="dead-lettered deliveries: send them again or discard them")
    outbox_sub = outbox.add_subparsers(dest="outbox_command", required=True, metavar="OUTBOX_COMMAND")
    retry = with_config(
        outbox_sub.add_parser(
            "retry", help="queue a sink's dead letters again (receivers ignore what they already got: dedup keys)"
        )
    )
    retry.add_argument("--sink", required=True, help="the sink's name (see `sre-agent status`)")
    discard = with_config(outbox_sub.add_parser("discard", help="drop a sink's dead letters for good"))
    discard.add_argument("--sink", required=True, help="the sink's name (see `sre-agent status`)")


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
