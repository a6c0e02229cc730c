"""Destinations of notifications; each reads from the outbox and must be idempotent per dedup key."""
