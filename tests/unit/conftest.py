"""Fixtures shared by the unit tests of the sinks."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from sre_agent.store.db import Database
from sre_agent.store.outbox import Outbox


@pytest.fixture
def outbox(tmp_path: Path) -> Iterator[Outbox]:
    """An outbox in a fresh state store under ``tmp_path``."""
    db = Database(tmp_path / "state.db")
    yield Outbox(db)
    db.close()
