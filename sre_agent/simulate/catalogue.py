"""The default platform, loaded from ``catalogue.yaml`` (data, not code: a game day can bring its own)."""

from __future__ import annotations

from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from sre_agent.simulate.platform import DEFAULT_ERRORS, ERROR_KINDS, Pattern, Platform, Service, Warehouse

DEFAULT_CATALOGUE = "catalogue.yaml"


def _pattern(data: dict[str, Any]) -> Pattern:
    fields = dict(data)
    names = fields.pop("errors", None)
    errors = DEFAULT_ERRORS if names is None else tuple(ERROR_KINDS[name] for name in names)
    for key in ("users", "hours"):
        if key in fields:
            fields[key] = tuple(fields[key])
    return Pattern(**fields, errors=errors)


def load_platform(path: Path | None = None) -> Platform:
    """Build a Platform from a catalogue file (the packaged capital-markets one by default).

    Raises:
        KeyError / TypeError: the file names an unknown error kind or field.
    """
    text = (
        path.read_text(encoding="utf-8")
        if path is not None
        else resources.files("sre_agent.simulate").joinpath(DEFAULT_CATALOGUE).read_text(encoding="utf-8")
    )
    doc = yaml.safe_load(text)
    return Platform(
        warehouses=tuple(Warehouse(**w) for w in doc["warehouses"]),
        services=tuple(Service(**s) for s in doc["services"]),
        patterns=tuple(_pattern(p) for p in doc["patterns"]),
        databases=dict(doc.get("databases", {})),
    )


@cache
def capital_markets_platform() -> Platform:
    """The default platform used by the demo, `simulate serve` and the embedded daemon (loaded once)."""
    return load_platform()
