"""SLO traffic checks from the state store (`validate` with a store): where one bad event would page.

Kept apart from the `slo` commands so that `validate` imports only the config and the store.
"""

from __future__ import annotations

from sre_agent.cli.store import open_store
from sre_agent.config.loader import LoadedConfig
from sre_agent.config.slo import SloDoc, slo_key
from sre_agent.errors import ConfigIssue


def traffic_warnings(loaded: LoadedConfig, slos: list[SloDoc] | None = None) -> list[ConfigIssue]:
    """Warnings for SLOs where, at the traffic the store has seen (last 7 days), one bad event pages.

    Nothing when there is no store yet or the SLO has not been polled.
    """
    from sre_agent.config.slo_checks import one_failure_pages
    from sre_agent.engine.rollups import SLO
    from sre_agent.store.series import series_id

    path = loaded.resolve(loaded.config.spec.store.path)
    if not path.exists():
        return []
    db = open_store(loaded)
    issues = []
    try:
        for slo in loaded.slos if slos is None else slos:
            sid = series_id(db, SLO, (slo_key(slo),))
            if sid is None:
                continue
            rows = db.read(
                "SELECT COALESCE(SUM(total), 0) AS events, MIN(bucket) AS first, MAX(bucket) AS last FROM rollup_slo "
                "WHERE series_id = ? AND bucket >= (SELECT MAX(bucket) FROM rollup_slo WHERE series_id = ?) - 604800",
                (sid, sid),
            )
            row = rows[0]
            if row["first"] is None:
                continue
            minutes = max(1, (int(row["last"]) - int(row["first"])) // 60 + 1)
            message = one_failure_pages(slo, float(row["events"]) / minutes)
            if message:
                where = loaded.rule_files.get(slo.name, str(loaded.path))
                issues.append(ConfigIssue(where, 1, 1, "spec.alerting", message, severity="warning"))
    finally:
        db.close()
    return issues
