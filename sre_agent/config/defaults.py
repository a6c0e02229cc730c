"""Where the agent finds its config when none is given."""

from __future__ import annotations

import os
from pathlib import Path

from sre_agent.errors import ConfigError, ConfigIssue

ENV_CONFIG = "SRE_AGENT_CONFIG"
ENV_HOME = "SRE_AGENT_HOME"


def project_home() -> Path | None:
    """The folder holding ``examples/``, ``rules/`` and ``runbooks/``: $SRE_AGENT_HOME or the source checkout."""
    if ENV_HOME in os.environ:
        return Path(os.environ[ENV_HOME])
    checkout = Path(__file__).resolve().parents[2]
    return checkout if (checkout / "examples" / "embedded.yaml").is_file() else None


def default_config_path() -> Path:
    """Return $SRE_AGENT_CONFIG, else the embedded default ``examples/embedded.yaml`` of the project home.

    Raises:
        ConfigError: neither exists (e.g. a bare wheel install without the project files).
    """
    if ENV_CONFIG in os.environ:
        return Path(os.environ[ENV_CONFIG])
    home = project_home()
    if home is not None and (home / "examples" / "embedded.yaml").is_file():
        return home / "examples" / "embedded.yaml"
    raise ConfigError(
        [
            ConfigIssue(
                "<default>",
                1,
                1,
                "",
                f"no config given: pass --config, set {ENV_CONFIG}, or set {ENV_HOME} to a checkout of the project",
            )
        ]
    )
