"""Versioned schema migrations of the state store (``PRAGMA user_version`` holds the version).

A migration is never edited once released: add a new one. The bucket count of the latency
histogram (48) and the rollup measures are frozen here on purpose; a test checks they still match
the engine's declarations.
"""

from __future__ import annotations

_HIST = ", ".join(f"h{i:02d} INTEGER NOT NULL DEFAULT 0" for i in range(48))

V1 = f"""
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);

CREATE TABLE source_state (
    family TEXT PRIMARY KEY,             -- e.g. snowflake.query
    covered_from INTEGER,                -- first instant ever polled (epoch s)
    polled_to INTEGER,                   -- end of the last successful poll window
    frontier INTEGER,                    -- end of the newest bucket seen with data
    last_success_at INTEGER,
    last_attempt_at INTEGER,
    last_error TEXT,
    consecutive_failures INTEGER NOT NULL DEFAULT 0,
    rows_last_poll INTEGER NOT NULL DEFAULT 0
);

CREATE TABLE series (
    series_id INTEGER PRIMARY KEY,
    rollup TEXT NOT NULL,
    labels TEXT NOT NULL,                -- canonical JSON of the dimension values
    UNIQUE (rollup, labels)
);

CREATE TABLE rollup_query (
    series_id INTEGER NOT NULL REFERENCES series(series_id),
    bucket INTEGER NOT NULL,
    observed_at INTEGER NOT NULL,
    queries INTEGER NOT NULL, failed INTEGER NOT NULL, cancelled INTEGER NOT NULL, succeeded INTEGER NOT NULL,
    elapsed_ms_sum INTEGER NOT NULL, elapsed_ms_max INTEGER NOT NULL,
    compilation_ms_sum INTEGER NOT NULL, queued_provisioning_ms_sum INTEGER NOT NULL,
    queued_repair_ms_sum INTEGER NOT NULL, queued_overload_ms_sum INTEGER NOT NULL,
    blocked_ms_sum INTEGER NOT NULL, execution_ms_sum INTEGER NOT NULL, list_files_ms_sum INTEGER NOT NULL,
    queued_queries INTEGER NOT NULL, bytes_scanned_sum INTEGER NOT NULL, cache_bytes_sum REAL NOT NULL,
    partitions_scanned_sum INTEGER NOT NULL, partitions_total_sum INTEGER NOT NULL,
    spill_local_bytes_sum INTEGER NOT NULL, spill_remote_bytes_sum INTEGER NOT NULL,
    spilled_queries INTEGER NOT NULL, rows_produced_sum INTEGER NOT NULL, cloud_services_credits_sum REAL NOT NULL,
    le_counts TEXT NOT NULL DEFAULT '{{}}',  -- JSON: threshold ms -> successful queries at or under it
    {_HIST},
    PRIMARY KEY (series_id, bucket)
) WITHOUT ROWID;
CREATE INDEX rollup_query_bucket ON rollup_query(bucket);

CREATE TABLE rollup_warehouse_load (
    series_id INTEGER NOT NULL REFERENCES series(series_id),
    bucket INTEGER NOT NULL,
    observed_at INTEGER NOT NULL,
    avg_running REAL NOT NULL, avg_queued_load REAL NOT NULL,
    avg_queued_provisioning REAL NOT NULL, avg_blocked REAL NOT NULL,
    PRIMARY KEY (series_id, bucket)
) WITHOUT ROWID;
CREATE INDEX rollup_warehouse_load_bucket ON rollup_warehouse_load(bucket);

CREATE TABLE rollup_warehouse_metering (
    series_id INTEGER NOT NULL REFERENCES series(series_id),
    bucket INTEGER NOT NULL,
    observed_at INTEGER NOT NULL,
    credits_used REAL NOT NULL, credits_used_compute REAL NOT NULL,
    credits_used_cloud_services REAL NOT NULL, credits_attributed_compute_queries REAL NOT NULL,
    PRIMARY KEY (series_id, bucket)
) WITHOUT ROWID;
CREATE INDEX rollup_warehouse_metering_bucket ON rollup_warehouse_metering(bucket);

CREATE TABLE evaluation_state (
    key TEXT PRIMARY KEY,                -- 'last_instant'
    value INTEGER NOT NULL
);

CREATE TABLE alert_instances (
    fingerprint TEXT PRIMARY KEY,
    rule TEXT NOT NULL,
    labels TEXT NOT NULL,
    state TEXT NOT NULL,                 -- inactive | pending | firing
    severity TEXT,
    active_since INTEGER,                -- pending or firing since
    fired_at INTEGER,
    last_true_at INTEGER,
    last_eval_at INTEGER,
    value REAL,
    threshold REAL,
    evidence TEXT NOT NULL DEFAULT '{{}}',
    updated_at INTEGER NOT NULL
);
CREATE INDEX alert_instances_state ON alert_instances(state);

CREATE TABLE alert_events (
    event_id INTEGER PRIMARY KEY AUTOINCREMENT,
    fingerprint TEXT NOT NULL,
    rule TEXT NOT NULL,
    kind TEXT NOT NULL,                  -- pending | pending_cancelled | firing | escalated | deescalated | resolved
    severity TEXT NOT NULL,
    labels TEXT NOT NULL,
    annotations TEXT NOT NULL,
    at INTEGER NOT NULL,
    starts_at INTEGER NOT NULL,
    ends_at INTEGER,
    value REAL,
    threshold REAL,
    evidence TEXT NOT NULL
);
CREATE INDEX alert_events_fingerprint ON alert_events(fingerprint, event_id);
CREATE INDEX alert_events_at ON alert_events(at);

CREATE TABLE outbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    sink TEXT NOT NULL,
    dedup_key TEXT NOT NULL,
    event_id INTEGER,
    payload TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    status TEXT NOT NULL DEFAULT 'pending',   -- pending | delivered | dead
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,
    last_error TEXT,
    delivered_at INTEGER,
    UNIQUE (sink, dedup_key)
);
CREATE INDEX outbox_pending ON outbox(status, sink, next_attempt_at);

CREATE TABLE cycles (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    started_at INTEGER NOT NULL,         -- wall clock
    instant INTEGER NOT NULL,            -- the cycle's `now` (simulated in replays)
    duration_ms INTEGER NOT NULL,
    polled TEXT NOT NULL,                -- JSON: family -> rows
    instants_evaluated INTEGER NOT NULL,
    transitions INTEGER NOT NULL,
    delivered INTEGER NOT NULL,
    errors TEXT NOT NULL                 -- JSON list
);
"""

V2 = """
CREATE TABLE rollup_slo (
    series_id INTEGER NOT NULL REFERENCES series(series_id),
    bucket INTEGER NOT NULL,
    observed_at INTEGER NOT NULL,
    good INTEGER NOT NULL,
    total INTEGER NOT NULL,
    last_ok INTEGER NOT NULL,
    PRIMARY KEY (series_id, bucket)
) WITHOUT ROWID;
CREATE INDEX rollup_slo_bucket ON rollup_slo(bucket);
"""

V3 = """
-- The most severe severity notified in the current incident: returning to it is not notified again.
ALTER TABLE alert_instances ADD COLUMN notified_severity TEXT;
"""

V4 = """
-- Silences added from the CLI (those in git are read from the rule files at every load).
CREATE TABLE silences (
    id TEXT PRIMARY KEY,
    matchers TEXT NOT NULL,              -- JSON list of matcher strings
    starts_at INTEGER NOT NULL,
    ends_at INTEGER NOT NULL,            -- every silence expires
    reason TEXT NOT NULL,
    author TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    expired_at INTEGER                   -- set by `silence expire` (ends_at is then moved to it)
);

-- Notification groups (receiver x route x group labels) with their timers and members, as JSON.
CREATE TABLE notify_groups (
    receiver TEXT NOT NULL,
    group_key TEXT NOT NULL,
    state TEXT NOT NULL,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (receiver, group_key)
);

-- What each receiver was told (or not told, and why) about each alert: the notification history.
CREATE TABLE notifications (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at INTEGER NOT NULL,
    receiver TEXT NOT NULL,
    group_key TEXT NOT NULL,
    seq INTEGER NOT NULL,
    fingerprint TEXT NOT NULL,
    event_id INTEGER,
    action TEXT NOT NULL,                -- new | update | repeat | held
    status TEXT NOT NULL,                -- firing | resolved
    severity TEXT NOT NULL,
    detail TEXT                          -- held: the silence or the inhibiting alert
);
CREATE INDEX notifications_fingerprint ON notifications(fingerprint, id);
"""

V5 = """
CREATE TABLE rollup_azure_metric (
    series_id INTEGER NOT NULL REFERENCES series(series_id),
    bucket INTEGER NOT NULL,
    observed_at INTEGER NOT NULL,
    value_sum REAL NOT NULL,
    samples INTEGER NOT NULL,
    value_max REAL NOT NULL,
    PRIMARY KEY (series_id, bucket)
) WITHOUT ROWID;
CREATE INDEX rollup_azure_metric_bucket ON rollup_azure_metric(bucket);
"""

V6 = f"""
CREATE TABLE rollup_query_pattern (
    series_id INTEGER NOT NULL REFERENCES series(series_id),
    bucket INTEGER NOT NULL,
    observed_at INTEGER NOT NULL,
    queries INTEGER NOT NULL, succeeded INTEGER NOT NULL,
    elapsed_ms_sum INTEGER NOT NULL, elapsed_ms_max INTEGER NOT NULL,
    compilation_ms_sum INTEGER NOT NULL, queued_provisioning_ms_sum INTEGER NOT NULL,
    queued_repair_ms_sum INTEGER NOT NULL, queued_overload_ms_sum INTEGER NOT NULL,
    blocked_ms_sum INTEGER NOT NULL, execution_ms_sum INTEGER NOT NULL, list_files_ms_sum INTEGER NOT NULL,
    le_counts TEXT NOT NULL DEFAULT '{{}}',
    {_HIST},
    PRIMARY KEY (series_id, bucket)
) WITHOUT ROWID;
CREATE INDEX rollup_query_pattern_bucket ON rollup_query_pattern(bucket);
"""

V7 = """
CREATE TABLE rollup_query_cost (
    series_id INTEGER NOT NULL REFERENCES series(series_id),
    bucket INTEGER NOT NULL,
    observed_at INTEGER NOT NULL,
    exec_ms INTEGER NOT NULL,
    queries INTEGER NOT NULL,
    failed INTEGER NOT NULL,
    elapsed_ms INTEGER NOT NULL,
    cloud_services_credits REAL NOT NULL,
    PRIMARY KEY (series_id, bucket)
) WITHOUT ROWID;
CREATE INDEX rollup_query_cost_bucket ON rollup_query_cost(bucket);
"""

V8 = """
CREATE TABLE rollup_database_storage (
    series_id INTEGER NOT NULL REFERENCES series(series_id),
    bucket INTEGER NOT NULL,
    observed_at INTEGER NOT NULL,
    database_bytes REAL NOT NULL,
    failsafe_bytes REAL NOT NULL,
    hybrid_bytes REAL NOT NULL,
    PRIMARY KEY (series_id, bucket)
) WITHOUT ROWID;
CREATE INDEX rollup_database_storage_bucket ON rollup_database_storage(bucket);
"""

V9 = """
CREATE TABLE rollup_metering_daily (
    series_id INTEGER NOT NULL REFERENCES series(series_id),
    bucket INTEGER NOT NULL,
    observed_at INTEGER NOT NULL,
    credits_used_compute REAL NOT NULL,
    credits_used_cloud_services REAL NOT NULL,
    credits_adjustment_cloud_services REAL NOT NULL,
    credits_billed REAL NOT NULL,
    PRIMARY KEY (series_id, bucket)
) WITHOUT ROWID;
CREATE INDEX rollup_metering_daily_bucket ON rollup_metering_daily(bucket);
"""

V10 = """
CREATE TABLE rollup_azure_cost (
    series_id INTEGER NOT NULL REFERENCES series(series_id),
    bucket INTEGER NOT NULL,
    observed_at INTEGER NOT NULL,
    cost REAL NOT NULL,
    PRIMARY KEY (series_id, bucket)
) WITHOUT ROWID;
CREATE INDEX rollup_azure_cost_bucket ON rollup_azure_cost(bucket);
"""

V11 = """
-- Incidents: firing alerts grouped by shared warehouse / service / domain and overlapping time, with the human
-- steps (acknowledged, mitigated, resolved, notes) and the post-mortem drafted when they resolve.
CREATE TABLE incidents (
    id TEXT PRIMARY KEY,                 -- INC-<yyyymmdd of detection, UTC>-<n>
    title TEXT NOT NULL,
    status TEXT NOT NULL,                -- open | acknowledged | mitigated | resolved
    severity TEXT NOT NULL,              -- the most severe severity any of its alerts reached
    scope TEXT NOT NULL,                 -- JSON: label -> sorted values (warehouse, service, domain)
    started_at INTEGER NOT NULL,         -- the earliest start (pending) of its alerts
    detected_at INTEGER NOT NULL,        -- its first alert firing
    last_active_at INTEGER NOT NULL,     -- the latest firing, escalation or resolution of its alerts
    acknowledged_at INTEGER, acknowledged_by TEXT,
    mitigated_at INTEGER, mitigated_by TEXT,
    resolved_at INTEGER, resolved_by TEXT,
    postmortem TEXT,                     -- path of the drafted post-mortem (HTML)
    updated_at INTEGER NOT NULL
);
CREATE INDEX incidents_status ON incidents(status, last_active_at);

CREATE TABLE incident_alerts (
    incident_id TEXT NOT NULL REFERENCES incidents(id),
    fingerprint TEXT NOT NULL,
    rule TEXT NOT NULL,
    labels TEXT NOT NULL,
    joined_at INTEGER NOT NULL,
    firing INTEGER NOT NULL,             -- 1 while the alert fires
    PRIMARY KEY (incident_id, fingerprint)
) WITHOUT ROWID;
CREATE INDEX incident_alerts_fingerprint ON incident_alerts(fingerprint);

-- Everything that happened to an incident, in order: opened, alert joined, acknowledged, mitigated, resolved,
-- notes, post-mortem drafted. `at` is when it happened (may be back-dated by a human), recorded_at when written.
CREATE TABLE incident_log (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    incident_id TEXT NOT NULL REFERENCES incidents(id),
    at INTEGER NOT NULL,
    recorded_at INTEGER NOT NULL,
    author TEXT NOT NULL,
    kind TEXT NOT NULL,
    text TEXT NOT NULL
);
CREATE INDEX incident_log_incident ON incident_log(incident_id, at, id);

-- Reports the daemon wrote (weekly optimization, monthly SLO and cost, post-mortem drafts): never twice.
CREATE TABLE reports (
    kind TEXT NOT NULL,                  -- optimize | slo | cost | postmortem
    key TEXT NOT NULL,                   -- the week, month or incident id
    written_at INTEGER NOT NULL,
    files TEXT NOT NULL,                 -- JSON: format -> path
    PRIMARY KEY (kind, key)
) WITHOUT ROWID;
"""

V12 = """
-- An active alert's summary as of its latest evaluation (what `alerts list` shows and a reminder says), so a view
-- never shows the firing-time figures of an alert whose numbers have moved on.
ALTER TABLE alert_instances ADD COLUMN summary TEXT NOT NULL DEFAULT '';
"""

V13 = """
-- What a query pattern (QUERY_PARAMETERIZED_HASH) is, as the optimization report read it from a sample of its text:
-- reports that see only the hash (the cost report) name it "service · tables". No query text is kept.
CREATE TABLE pattern_names (
    pattern TEXT PRIMARY KEY,
    service TEXT NOT NULL,               -- the service that ran it most (QUERY_TAG)
    warehouse TEXT NOT NULL,             -- the warehouse it ran on most
    statement TEXT NOT NULL,             -- SELECT, INSERT, COPY, … ('' when the text could not be parsed)
    tables TEXT NOT NULL,                -- JSON list of the tables it reads or writes, in order of appearance
    first_seen INTEGER NOT NULL,
    last_seen INTEGER NOT NULL
) WITHOUT ROWID;
"""

V14 = """
-- Delivery order per alert: a receiver gets one alert's states in the order they happened (state_at, then id), an
-- item waits while an older state of the same alert is still pending, and a state older than one already
-- delivered is never sent (status 'superseded'). `outbox retry` resets created_at (the age bound), never state_at.
ALTER TABLE outbox ADD COLUMN fingerprint TEXT;
ALTER TABLE outbox ADD COLUMN state_at INTEGER;
UPDATE outbox SET fingerprint = json_extract(payload, '$.fingerprint'), state_at = created_at;
CREATE INDEX outbox_order ON outbox(sink, fingerprint, status, state_at);
"""

MIGRATIONS: tuple[str, ...] = (V1, V2, V3, V4, V5, V6, V7, V8, V9, V10, V11, V12, V13, V14)
"""Migration n (1-based) brings the schema from version n-1 to n."""
