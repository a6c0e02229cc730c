"""Data sources: pushed-down rollups from Snowflake (and, later, Azure Monitor and Cost Management)."""
