"""``SNOWFLAKE.ACCOUNT_USAGE`` objects with the real column names and types, for the fake Snowflake.

Each view is backed by a table in ``SNOWFLAKE.SIMULATOR`` holding one extra column, ``_VISIBLE_AT``:
the moment the row would appear in the real view (ACCOUNT_USAGE lags 45 min to several hours). The
view shows only rows visible at the simulator clock (``SNOWFLAKE.SIMULATOR.CLOCK``; real time when
the clock is unset), so the agent meets late rows exactly as it would on a real account.

Column lists follow docs.snowflake.com/en/sql-reference/account-usage/<view> (2025/26).
"""

from __future__ import annotations

from dataclasses import dataclass

SIM_SCHEMA = "SNOWFLAKE.SIMULATOR"
VIEW_SCHEMA = "SNOWFLAKE.ACCOUNT_USAGE"
VISIBLE_AT = "_VISIBLE_AT"


@dataclass(frozen=True)
class ViewDef:
    """One ACCOUNT_USAGE view: its name, columns (name, Snowflake type) and docs page."""

    name: str
    columns: tuple[tuple[str, str], ...]
    docs: str

    @property
    def column_names(self) -> tuple[str, ...]:
        """Column names in documented order."""
        return tuple(c for c, _ in self.columns)


def _cols(spec: str) -> tuple[tuple[str, str], ...]:
    out = []
    for line in spec.strip().splitlines():
        name, typ = line.split(None, 1)
        out.append((name.upper(), typ.strip()))
    return tuple(out)


_DOCS = "https://docs.snowflake.com/en/sql-reference/account-usage/"

QUERY_HISTORY = ViewDef(
    "QUERY_HISTORY",
    _cols("""
query_id VARCHAR
query_text VARCHAR
database_id NUMBER
database_name VARCHAR
schema_id NUMBER
schema_name VARCHAR
query_type VARCHAR
session_id NUMBER
user_name VARCHAR
role_name VARCHAR
warehouse_id NUMBER
warehouse_name VARCHAR
warehouse_size VARCHAR
warehouse_type VARCHAR
cluster_number NUMBER
query_tag VARCHAR
execution_status VARCHAR
error_code NUMBER
error_message VARCHAR
start_time TIMESTAMP_LTZ
end_time TIMESTAMP_LTZ
total_elapsed_time NUMBER
bytes_scanned NUMBER
percentage_scanned_from_cache FLOAT
bytes_written NUMBER
bytes_written_to_result NUMBER
bytes_read_from_result NUMBER
rows_produced NUMBER
rows_inserted NUMBER
rows_updated NUMBER
rows_deleted NUMBER
rows_unloaded NUMBER
bytes_deleted NUMBER
partitions_scanned NUMBER
partitions_total NUMBER
bytes_spilled_to_local_storage NUMBER
bytes_spilled_to_remote_storage NUMBER
bytes_sent_over_the_network NUMBER
compilation_time NUMBER
execution_time NUMBER
queued_provisioning_time NUMBER
queued_repair_time NUMBER
queued_overload_time NUMBER
transaction_blocked_time NUMBER
outbound_data_transfer_cloud VARCHAR
outbound_data_transfer_region VARCHAR
outbound_data_transfer_bytes NUMBER
inbound_data_transfer_cloud VARCHAR
inbound_data_transfer_region VARCHAR
inbound_data_transfer_bytes NUMBER
list_external_files_time NUMBER
credits_used_cloud_services NUMBER(38,9)
release_version VARCHAR
external_function_total_invocations NUMBER
external_function_total_sent_rows NUMBER
external_function_total_received_rows NUMBER
external_function_total_sent_bytes NUMBER
external_function_total_received_bytes NUMBER
query_load_percent NUMBER
is_client_generated_statement BOOLEAN
query_acceleration_bytes_scanned NUMBER
query_acceleration_partitions_scanned NUMBER
query_acceleration_upper_limit_scale_factor NUMBER
transaction_id NUMBER
child_queries_wait_time NUMBER
role_type VARCHAR
query_hash VARCHAR
query_hash_version NUMBER
query_parameterized_hash VARCHAR
query_parameterized_hash_version NUMBER
secondary_role_stats VARCHAR
rows_written_to_result NUMBER
query_retry_time NUMBER
query_retry_cause VARCHAR
fault_handling_time NUMBER
user_type VARCHAR
user_database_name VARCHAR
user_schema_name VARCHAR
user_database_id NUMBER
user_schema_id NUMBER
authn_event_id NUMBER
agent_type VARCHAR
"""),
    _DOCS + "query_history",
)

WAREHOUSE_LOAD_HISTORY = ViewDef(
    "WAREHOUSE_LOAD_HISTORY",
    _cols("""
start_time TIMESTAMP_LTZ
end_time TIMESTAMP_LTZ
warehouse_id NUMBER
warehouse_name VARCHAR
avg_running NUMBER(38,9)
avg_queued_load NUMBER(38,9)
avg_queued_provisioning NUMBER(38,9)
avg_blocked NUMBER(38,9)
"""),
    _DOCS + "warehouse_load_history",
)

WAREHOUSE_METERING_HISTORY = ViewDef(
    "WAREHOUSE_METERING_HISTORY",
    _cols("""
start_time TIMESTAMP_LTZ
end_time TIMESTAMP_LTZ
warehouse_id NUMBER
warehouse_name VARCHAR
credits_used NUMBER(38,9)
credits_used_compute NUMBER(38,9)
credits_used_cloud_services NUMBER(38,9)
credits_attributed_compute_queries NUMBER(38,9)
"""),
    _DOCS + "warehouse_metering_history",
)

METERING_DAILY_HISTORY = ViewDef(
    "METERING_DAILY_HISTORY",
    _cols("""
service_type VARCHAR
usage_date DATE
credits_used_compute NUMBER(38,9)
credits_used_cloud_services NUMBER(38,9)
credits_used NUMBER(38,9)
credits_adjustment_cloud_services NUMBER(38,9)
credits_billed NUMBER(38,9)
"""),
    _DOCS + "metering_daily_history",
)

DATABASE_STORAGE_USAGE_HISTORY = ViewDef(
    "DATABASE_STORAGE_USAGE_HISTORY",
    _cols("""
usage_date DATE
database_id NUMBER
database_name VARCHAR
deleted TIMESTAMP_LTZ
average_database_bytes FLOAT
average_failsafe_bytes FLOAT
average_hybrid_table_storage_bytes FLOAT
average_archive_storage_cool_bytes FLOAT
average_archive_storage_cold_bytes FLOAT
average_cool_failsafe_bytes FLOAT
average_cold_failsafe_bytes FLOAT
"""),
    _DOCS + "database_storage_usage_history",
)

TASK_HISTORY = ViewDef(
    "TASK_HISTORY",
    _cols("""
name VARCHAR
query_text VARCHAR
condition_text VARCHAR
schema_name VARCHAR
task_schema_id NUMBER
database_name VARCHAR
task_database_id NUMBER
scheduled_time TIMESTAMP_LTZ
completed_time TIMESTAMP_LTZ
state VARCHAR
return_value VARCHAR
query_id VARCHAR
query_start_time TIMESTAMP_LTZ
error_code NUMBER
error_message VARCHAR
graph_version NUMBER
run_id NUMBER
root_task_id VARCHAR
scheduled_from VARCHAR
instance_id NUMBER
attempt_number NUMBER
config VARCHAR
query_hash VARCHAR
query_hash_version NUMBER
query_parameterized_hash VARCHAR
query_parameterized_hash_version NUMBER
graph_run_group_id VARCHAR
backfill_info VARCHAR
"""),
    _DOCS + "task_history",
)

VIEWS: tuple[ViewDef, ...] = (
    QUERY_HISTORY,
    WAREHOUSE_LOAD_HISTORY,
    WAREHOUSE_METERING_HISTORY,
    METERING_DAILY_HISTORY,
    DATABASE_STORAGE_USAGE_HISTORY,
    TASK_HISTORY,
)


def ddl_statements() -> list[str]:
    """Return the SQL that creates the simulator tables, the clock and the ACCOUNT_USAGE views."""
    statements = [
        "CREATE DATABASE IF NOT EXISTS SNOWFLAKE",
        f"CREATE SCHEMA IF NOT EXISTS {VIEW_SCHEMA}",
        f"CREATE SCHEMA IF NOT EXISTS {SIM_SCHEMA}",
        f"CREATE TABLE IF NOT EXISTS {SIM_SCHEMA}.CLOCK (SIM_NOW TIMESTAMP_LTZ)",
    ]
    clock = f"(SELECT COALESCE(MAX(SIM_NOW), CURRENT_TIMESTAMP()) FROM {SIM_SCHEMA}.CLOCK)"
    for view in VIEWS:
        columns = ",\n  ".join(f"{name} {typ}" for name, typ in view.columns)
        statements.append(
            f"CREATE TABLE IF NOT EXISTS {SIM_SCHEMA}.{view.name} (\n  {columns},\n  {VISIBLE_AT} TIMESTAMP_LTZ\n)"
        )
        select = ", ".join(view.column_names)
        statements.append(
            f"CREATE OR REPLACE VIEW {VIEW_SCHEMA}.{view.name} AS SELECT {select} "
            f"FROM {SIM_SCHEMA}.{view.name} WHERE {VISIBLE_AT} <= {clock}"
        )
    return statements
