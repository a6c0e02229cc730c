"""SQLite state store: watermarks, rollups, alert state and history, outbox (one file, WAL)."""
