"""The `sre-agent` command line: one module per command group, each imported only when its command runs.

:mod:`.parser` builds the arguments (argparse only, so ``--help`` and ``--version`` load nothing else);
:mod:`.core` dispatches a parsed command; :mod:`.alerts`, :mod:`.incidents`, :mod:`.slo`, :mod:`.report`,
:mod:`.detect` and :mod:`.outbox` hold their groups' handlers.
"""

from __future__ import annotations

from collections.abc import Sequence


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `sre-agent` console script."""
    from sre_agent.cli.parser import build_parser

    args = build_parser().parse_args(argv)
    from sre_agent.cli.core import run_command

    return run_command(args)
