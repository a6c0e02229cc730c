"""Process exit codes: callers (CI, cron, Kubernetes) can tell rules firing from a broken agent."""

from enum import IntEnum


class ExitCode(IntEnum):
    """Exit codes of every `sre-agent` command."""

    OK = 0
    """The command did what it was asked and no alert is firing."""
    ALERTS_FIRING = 1
    """The agent worked and at least one alert is firing (`once`) or a rule test failed (`test`)."""
    USAGE = 2
    """Bad command line (argparse's own code), or an argument value the command cannot act on."""
    BAD_CONFIG = 3
    """A config or rule file is invalid; nothing was started."""
    AGENT_FAILURE = 4
    """The agent itself broke: a source was unreachable, the state store failed, an internal error."""
    INTERRUPTED = 130
    """Stopped by Ctrl-C."""
