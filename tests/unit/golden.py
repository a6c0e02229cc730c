"""Golden-file checks of report JSON: the report's data must equal the reviewed file in ``tests/golden``.

Run with ``UPDATE_GOLDEN=1`` to (re)write a golden file after a deliberate change, then review its diff
like code. Keys listed as volatile (the generation time, temporary paths) are replaced by ``"<volatile>"`` at any
depth before comparing.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

GOLDEN = Path(__file__).resolve().parents[1] / "golden"


def _scrub(value: Any, volatile: frozenset[str]) -> Any:
    if isinstance(value, dict):
        return {k: "<volatile>" if k in volatile else _scrub(v, volatile) for k, v in value.items()}
    if isinstance(value, list):
        return [_scrub(v, volatile) for v in value]
    return value


def assert_golden(name: str, data: Any, volatile: tuple[str, ...] = ("generated_at",)) -> None:
    """Compare ``data`` (JSON-ready) with ``tests/golden/<name>.json``."""
    path = GOLDEN / f"{name}.json"
    actual = _scrub(json.loads(json.dumps(data)), frozenset(volatile))
    if os.environ.get("UPDATE_GOLDEN") == "1":
        path.write_text(json.dumps(actual, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    assert path.exists(), f"no golden file {path}: run the test with UPDATE_GOLDEN=1 and review it"
    expected = json.loads(path.read_text(encoding="utf-8"))
    assert actual == expected, f"{name}: report JSON differs from {path} (UPDATE_GOLDEN=1 rewrites it)"
