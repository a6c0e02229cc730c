"""The simulated platform: embedded fake Snowflake, synthetic workload, incidents and scoring."""
