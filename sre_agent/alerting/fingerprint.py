"""Stable alert identity: the dedup key at every destination."""

from __future__ import annotations

import hashlib

from sre_agent.model import Labels


def fingerprint(rule: str, labels: Labels) -> str:
    """Return a 16-hex-digit hash of the rule id and its identifying labels (severity excluded).

    The same rule and labels always give the same fingerprint, across restarts and hosts, so an
    escalation from sev3 to sev2 stays one alert and one incident downstream.
    """
    canonical = "\x1f".join(f"{k}\x1e{v}" for k, v in sorted(labels.items()) if k != "severity")
    return hashlib.sha256(f"{rule}\x1d{canonical}".encode()).hexdigest()[:16]
