"""How the optimization report orders its recommendations: by saving × confidence, incident-linked ones raised,
and those under the floor moved to the "Smaller items" appendix (still listed, ranked the same way).

The rank key is ``saving per week × confidence × INCIDENT_WEIGHT if linked to an incident``. Savings of 0 or
below (changes that buy latency with credits) are never weighted up and always go to the appendix, however the
floor is set. Ties fall to the larger saving, then kind and subject, so the order is stable.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

INCIDENT_WEIGHT = 2.0
"""A recommendation whose subject changed inside an incident ranks as if it saved twice as much: above unlinked
items of similar value (up to twice its saving × confidence), not above ones worth far more. The incident already
showed the change matters to someone; the weight is a tie-breaker of that size, not a trump card."""
MAIN = "main"
SMALLER = "smaller"


def rank_key(rec: dict[str, Any]) -> float:
    """saving per week × confidence, × INCIDENT_WEIGHT when the recommendation is linked to an incident."""
    value = float(rec["saving_credits_per_week"]) * float(rec["confidence"])
    return value * INCIDENT_WEIGHT if value > 0 and rec.get("incident") else value


def rank(recs: Sequence[dict[str, Any]], floor: float) -> list[dict[str, Any]]:
    """``recs`` ordered (each given ``rank_key``, ``section`` — ``main`` or ``smaller`` — and ``rank``): those saving
    at least ``floor`` credits per week (and more than 0) by their key, then the smaller ones by theirs."""
    for rec in recs:
        rec["rank_key"] = round(rank_key(rec), 3)
        saving = float(rec["saving_credits_per_week"])
        rec["section"] = MAIN if saving > 0 and saving >= floor else SMALLER
    ordered = sorted(
        recs,
        key=lambda r: (r["section"] != MAIN, -r["rank_key"], -r["saving_credits_per_week"], r["kind"], r["subject"]),
    )
    for i, rec in enumerate(ordered, 1):
        rec["rank"] = i
    return ordered
