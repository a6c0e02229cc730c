"""Shared fixtures: the embedded fake Snowflake (one per test process) and small seeded histories."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest

warnings.filterwarnings("ignore", message="Arrow output on a DB-API")

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def repo() -> Path:
    """The repository root."""
    return REPO


@pytest.fixture(scope="session")
def embedded_server() -> Iterator[object]:
    """One fake Snowflake server for the whole test session (fakesnow allows one per process)."""
    from sre_agent.simulate.fake_snowflake import EmbeddedSnowflake

    server = EmbeddedSnowflake().start()
    yield server
    server.stop()


@pytest.fixture
def account(embedded_server: object) -> object:
    """The session server, emptied and with its clock reset, for one test."""
    from sre_agent.simulate.fake_snowflake import EmbeddedSnowflake

    assert isinstance(embedded_server, EmbeddedSnowflake)
    return embedded_server.reset()


MONDAY = date(2026, 11, 2)
"""First day of the default synthetic history (a Monday)."""
