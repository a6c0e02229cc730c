"""The route tree, resolved: which receivers hear about an alert, in which notification group, on which timers.

Alertmanager semantics: every alert enters the root route; at each node the children are tried in
order and the alert descends into the first that matches, and into later matching siblings only
while the matched ones set ``continue``; a node no child takes is the alert's destination.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

from sre_agent.alerting.matchers import Matcher, matches_all, parse_matcher
from sre_agent.config.routing import (
    DEFAULT_GROUP_BY,
    DEFAULT_GROUP_INTERVAL,
    DEFAULT_GROUP_WAIT,
    DEFAULT_REPEAT_INTERVAL,
    GROUP_BY_ALL,
    InhibitRule,
    RouteSpec,
    RoutingDoc,
)
from sre_agent.model import Labels, canonical_json


@dataclass(frozen=True)
class Route:
    """A route node with everything inherited filled in; ``path`` names it (``root``, ``root.0.1``)."""

    path: str
    receivers: tuple[str, ...]
    matchers: tuple[Matcher, ...]
    group_by: tuple[str, ...]
    group_wait_s: int
    group_interval_s: int
    repeat_interval_s: int
    continue_: bool = False
    children: tuple[Route, ...] = ()

    def group_labels(self, labels: Labels) -> dict[str, str]:
        """The labels that name ``labels``' notification group on this route (absent ones omitted)."""
        if self.group_by == (GROUP_BY_ALL,):
            return {k: v for k, v in sorted(labels.items()) if k != "severity"}
        return {k: labels[k] for k in self.group_by if labels.get(k)}

    def group_key(self, labels: Labels) -> str:
        """Stable id of the group ``labels`` fall into on this route."""
        text = f"{self.path}\x1d{canonical_json(self.group_labels(labels))}"
        return f"{self.path}/{hashlib.sha256(text.encode()).hexdigest()[:12]}"


@dataclass(frozen=True)
class Routing:
    """The resolved route tree and the inhibition rules."""

    root: Route
    inhibit_rules: tuple[InhibitRule, ...] = ()
    parsed_inhibit: tuple[tuple[tuple[Matcher, ...], tuple[Matcher, ...], tuple[str, ...]], ...] = field(
        default=(), compare=False
    )

    def destinations(self, labels: Labels) -> list[Route]:
        """Return the routes (with receivers) ``labels`` are delivered through, in tree order."""
        return _walk(self.root, labels)

    @property
    def receivers(self) -> set[str]:
        """Every receiver the tree names."""
        out: set[str] = set()
        stack = [self.root]
        while stack:
            node = stack.pop()
            out.update(node.receivers)
            stack.extend(node.children)
        return out


def _walk(node: Route, labels: Labels) -> list[Route]:
    found: list[Route] = []
    for child in node.children:
        if matches_all(child.matchers, labels):
            found.extend(_walk(child, labels))
            if not child.continue_:
                break
    return found or [node]


def _resolve(spec: RouteSpec, parent: Route | None, path: str) -> Route:
    def secs(value: object, inherited: int, default: float) -> int:
        if value is None:
            return inherited if parent is not None else int(default)
        return int(value.total_seconds())  # type: ignore[attr-defined]

    receivers = (spec.receiver,) if spec.receiver else (parent.receivers if parent else ())
    node = Route(
        path=path,
        receivers=receivers,
        matchers=tuple(parse_matcher(m) for m in spec.matchers),
        group_by=tuple(spec.group_by)
        if spec.group_by is not None
        else (parent.group_by if parent else DEFAULT_GROUP_BY),
        group_wait_s=secs(spec.group_wait, parent.group_wait_s if parent else 0, DEFAULT_GROUP_WAIT.total_seconds()),
        group_interval_s=secs(
            spec.group_interval, parent.group_interval_s if parent else 0, DEFAULT_GROUP_INTERVAL.total_seconds()
        ),
        repeat_interval_s=secs(
            spec.repeat_interval, parent.repeat_interval_s if parent else 0, DEFAULT_REPEAT_INTERVAL.total_seconds()
        ),
        continue_=spec.continue_,
    )
    children = tuple(_resolve(child, node, f"{path}.{i}") for i, child in enumerate(spec.routes))
    return Route(**{**node.__dict__, "children": children})


def build_routing(doc: RoutingDoc | None, sinks: list[str]) -> Routing:
    """Resolve ``doc``; without one, every alert goes to every sink with the default grouping and timers."""
    if doc is None:
        root = Route(
            path="root",
            receivers=tuple(sinks),
            matchers=(),
            group_by=DEFAULT_GROUP_BY,
            group_wait_s=int(DEFAULT_GROUP_WAIT.total_seconds()),
            group_interval_s=int(DEFAULT_GROUP_INTERVAL.total_seconds()),
            repeat_interval_s=int(DEFAULT_REPEAT_INTERVAL.total_seconds()),
        )
        return Routing(root)
    rules = tuple(doc.spec.inhibit_rules)
    parsed = tuple(
        (
            tuple(parse_matcher(m) for m in rule.source_matchers),
            tuple(parse_matcher(m) for m in rule.target_matchers),
            tuple(rule.equal),
        )
        for rule in rules
    )
    return Routing(_resolve(doc.spec.route, None, "root"), rules, parsed)


def inhibited_by(routing: Routing, target_fp: str, target: Labels, firing: dict[str, Labels]) -> str | None:
    """Return the fingerprint of a firing alert that inhibits ``target`` (None if none does).

    ``firing`` maps fingerprints of firing alerts to their matcher labels. An alert never inhibits itself.
    """
    for source_m, target_m, equal in routing.parsed_inhibit:
        if not matches_all(target_m, target):
            continue
        for fp, labels in firing.items():
            if fp == target_fp or not matches_all(source_m, labels):
                continue
            if all(labels.get(name, "") == target.get(name, "") for name in equal):
                return fp
    return None
