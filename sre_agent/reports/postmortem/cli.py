"""Drafting a post-mortem: `sre-agent report postmortem INCIDENT_ID`, `incidents resolve`, and the daemon when
an incident resolves by itself. The draft's path is recorded on the incident (and in its timeline)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from sre_agent.config.loader import LoadedConfig
from sre_agent.reports.postmortem.data import build_postmortem
from sre_agent.reports.postmortem.render import write_postmortem
from sre_agent.store.db import Database
from sre_agent.store.incidents import IncidentStore


def reports_dir(loaded: LoadedConfig, out: Path | str | None = None) -> Path:
    """Where reports go: ``out`` when given, else ``spec.reports.dir`` (relative to the config file)."""
    return Path(out) if out is not None else loaded.resolve(loaded.config.spec.reports.dir)


def draft_postmortem(
    loaded: LoadedConfig, db: Database, incident_id: str, out: Path | str | None, now: datetime
) -> dict[str, Path]:
    """Build and write the draft of ``incident_id``; record its HTML path on the incident; return the files."""
    pm = build_postmortem(loaded, db, incident_id, now)
    files = write_postmortem(pm, reports_dir(loaded, out))
    IncidentStore(db).set_postmortem(pm.incident["id"], str(files["html"]), now)
    return files
