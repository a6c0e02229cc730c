"""Named crash points for fault-injection tests (inert unless ``SRE_AGENT_FAILPOINT`` is set).

``SRE_AGENT_FAILPOINT=evaluate.before_commit:3`` kills the process with SIGKILL the third time
that point is reached — the same as ``kill -9`` at the worst moment, but deterministic.
"""

from __future__ import annotations

import os
import signal

_hits: dict[str, int] = {}


def failpoint(name: str) -> None:
    """Die here with SIGKILL if the environment asks for it."""
    spec = os.environ.get("SRE_AGENT_FAILPOINT")
    if not spec:
        return
    target, _, count = spec.partition(":")
    if target != name:
        return
    _hits[name] = _hits.get(name, 0) + 1
    if _hits[name] >= int(count or 1):
        os.kill(os.getpid(), signal.SIGKILL)
