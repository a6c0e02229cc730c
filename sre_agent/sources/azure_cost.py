"""Azure spend from Cost Management (`azure-mgmt-costmanagement`): daily cost per group (``query.usage``), the
daily forecast (``forecast.usage``) and the scope's budgets with their current and forecast spend.

The SDK returns one page and leaves ``properties.nextLink`` to the caller, so the same body is POSTed to each
next link through the client's own pipeline (``send_request``: same credential, retries off, same TLS
settings). Throttling answers 429 with ``x-ms-ratelimit-microsoft.costmanagement-{qpu,entity,tenant}-retry-after``
headers that azure-core's retry policy does not read: this source waits them out itself (bounded), then
gives up with a ``SourceError``. Rows are read by column name — the column order is not fixed, the cost
column is named after the aggregation (``Cost``, ``PreTaxCost``, ``CostUSD``) and ``UsageDate`` is a number
``yyyymmdd``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any, Literal, Protocol

import polars as pl
from azure.core.credentials import TokenCredential
from azure.core.exceptions import AzureError, HttpResponseError
from azure.core.rest import HttpRequest
from azure.mgmt.costmanagement import CostManagementClient

from sre_agent.errors import SourceError
from sre_agent.sinks.http_failures import describe_azure_error, retry_after_seconds

log = logging.getLogger(__name__)

RATE_LIMIT_HEADERS = (
    "x-ms-ratelimit-microsoft.costmanagement-qpu-retry-after",
    "x-ms-ratelimit-microsoft.costmanagement-entity-retry-after",
    "x-ms-ratelimit-microsoft.costmanagement-tenant-retry-after",
    "Retry-After",
)
"""Where Cost Management says how long to wait after a 429 (the longest one wins)."""
COST_COLUMNS = ("Cost", "PreTaxCost", "CostUSD", "PreTaxCostUSD")
MAX_GROUPS = 2
"""Cost Management groups by at most two dimensions per query."""


@dataclass(frozen=True)
class CostQuery:
    """Daily cost at ``scope`` from ``start`` to ``end`` (inclusive dates, UTC), grouped by up to two dimensions.

    A group is a dimension (``ServiceName``, ``ResourceGroupName``, ``ResourceId``, ``MeterCategory``…) or one
    tag as ``tag:<key>`` (its values come back as ``TagValue``; untagged cost has an empty value).
    """

    scope: str
    start: date
    end: date
    group_by: tuple[str, ...] = ("ServiceName",)
    cost_type: Literal["ActualCost", "AmortizedCost"] = "ActualCost"

    def __post_init__(self) -> None:
        if not self.scope.startswith(("/subscriptions/", "/providers/")):
            raise ValueError(f"cost scope must start with /subscriptions/ or /providers/, got {self.scope!r}")
        if self.end < self.start:
            raise ValueError(f"cost query ends ({self.end}) before it starts ({self.start})")
        if len(self.group_by) > MAX_GROUPS:
            raise ValueError(f"Cost Management groups by at most {MAX_GROUPS} dimensions, got {len(self.group_by)}")
        if sum(g.startswith("tag:") for g in self.group_by) > 1:
            raise ValueError("group by at most one tag (Cost Management answers every tag in one TagValue column)")

    def body(self) -> dict[str, Any]:
        """The JSON body of the query (the same one is POSTed to every next link)."""
        grouping = [
            {"type": "TagKey", "name": g.removeprefix("tag:")}
            if g.startswith("tag:")
            else {"type": "Dimension", "name": g}
            for g in self.group_by
        ]
        last = datetime.combine(self.end, datetime.max.time(), UTC).replace(microsecond=0)
        return {
            "type": self.cost_type,
            "timeframe": "Custom",
            "timePeriod": {
                "from": datetime.combine(self.start, datetime.min.time(), UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
                "to": last.strftime("%Y-%m-%dT%H:%M:%SZ"),
            },
            "dataset": {
                "granularity": "Daily",
                "aggregation": {"totalCost": {"name": "Cost", "function": "Sum"}},
                "grouping": grouping,
            },
        }


def _column(names: list[str], kinds: list[str]) -> str:
    for name in COST_COLUMNS:
        if name in names:
            return name
    for name, kind in zip(names, kinds, strict=True):
        if kind.lower() == "number" and name != "UsageDate":
            return name
    raise SourceError("azure_cost", "query.usage", f"no cost column in the result (columns: {', '.join(names)})")


def page_frame(page: dict[str, Any], query: CostQuery) -> pl.DataFrame:
    """One result page as rows ``date, <groups…>, cost, currency``, columns matched by name."""
    groups = [(g, "TagValue" if g.startswith("tag:") else g) for g in query.group_by]  # a tag's values: TagValue
    return _frame(page, groups, "query.usage")


def _frame(page: dict[str, Any], labels: list[tuple[str, str]], what: str) -> pl.DataFrame:
    """Rows ``date, <label…>, cost, currency`` of a Cost Management page; ``labels`` maps output → result column."""
    properties = page.get("properties") or {}
    columns = properties.get("columns") or []
    names = [str(c.get("name")) for c in columns]
    kinds = [str(c.get("type", "")) for c in columns]
    schema: dict[str, Any] = {"date": pl.Date(), **{key: pl.String() for key, _ in labels}}
    schema.update({"cost": pl.Float64(), "currency": pl.String()})
    rows = properties.get("rows") or []
    if not rows:
        return pl.DataFrame(schema=schema)
    cost = _column(names, kinds)
    index = {name: i for i, name in enumerate(names)}
    lower = {name.lower(): i for i, name in enumerate(names)}
    missing = [c for c in ["UsageDate", *(column for _, column in labels)] if c.lower() not in lower]
    if missing:
        raise SourceError("azure_cost", what, f"result lacks column(s) {', '.join(missing)} (has {', '.join(names)})")
    data: dict[str, list[Any]] = {name: [] for name in schema}
    for row in rows:
        day = str(int(row[index["UsageDate"]]))
        data["date"].append(date(int(day[:4]), int(day[4:6]), int(day[6:8])))
        for key, column in labels:
            value = row[lower[column.lower()]]
            data[key].append("" if value is None else str(value))
        data["cost"].append(float(row[index[cost]]))
        data["currency"].append(str(row[index["Currency"]]) if "Currency" in index else "")
    return pl.DataFrame(data, schema=schema)


@dataclass(frozen=True)
class BudgetStatus:
    """One Cost Management budget: its amount and grain, and spend so far and forecast for the current grain."""

    name: str
    amount: float
    time_grain: str
    current_spend: float | None
    forecast_spend: float | None
    unit: str

    @property
    def forecast_ratio(self) -> float | None:
        """Forecast spend over the amount (1.1 = 110 %), when Azure has a forecast."""
        return None if self.forecast_spend is None or not self.amount else self.forecast_spend / self.amount


class AzureCostSource:
    """Reads daily costs through one ``CostManagementClient``."""

    def __init__(
        self,
        credential: TokenCredential,
        base_url: str | None = None,
        ca_bundle: Path | None = None,
        timeout_s: float = 60.0,
        max_wait_s: float = 300.0,
        max_attempts: int = 5,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._client = CostManagementClient(
            credential,
            base_url=base_url,
            retry_total=0,  # 429s are waited out here, from the headers Cost Management actually sends
            connection_verify=str(ca_bundle) if ca_bundle is not None else True,
            connection_timeout=timeout_s,
            read_timeout=timeout_s,
        )
        self._max_wait_s = max_wait_s
        self._max_attempts = max_attempts
        self._sleep = sleep
        self.waited_s = 0.0
        """Seconds spent waiting out throttling (for the logs and tests)."""

    def daily_costs(self, query: CostQuery) -> pl.DataFrame:
        """Every row of ``query``, following ``nextLink`` until the last page.

        Raises:
            SourceError: Azure refused (403, 400…), stayed throttled past the bounds, or could not be reached.
        """
        body = query.body()
        frames = []
        page = self._page(partial(self._first, query.scope, body), query.scope, "query.usage")
        while page is not None:
            frames.append(page_frame(page, query))
            next_link = (page.get("properties") or {}).get("nextLink")
            if not next_link:
                break
            page = self._page(partial(self._next, str(next_link), body), query.scope, "query.usage")
        return pl.concat(frames) if frames else page_frame({}, query)

    def daily_forecast(self, scope: str, start: date, end: date) -> pl.DataFrame:
        """Daily actual and forecast cost at ``scope`` (rows ``date, status, cost, currency``; status is
        ``Actual`` or ``Forecast``), e.g. the month to date and its remaining days.

        Raises:
            SourceError: as for :meth:`daily_costs`.
        """
        query = CostQuery(scope, start, end, ())
        body = {**query.body(), "includeActualCost": True, "includeFreshPartialCost": False}
        body["dataset"] = {k: v for k, v in body["dataset"].items() if k != "grouping"}
        page = self._page(partial(self._forecast, scope, body), scope, "forecast.usage")
        return _frame(page or {}, [("status", "CostStatus")], "forecast.usage")

    def budgets(self, scope: str) -> list[BudgetStatus]:
        """Every budget at ``scope`` with its current and forecast spend (the SDK follows the list's nextLink)."""
        items: list[dict[str, Any]] = self._call(
            lambda: [b.as_dict() for b in self._client.budgets.list(scope)], scope, "budgets.list"
        )
        out = []
        for item in items:
            props = item.get("properties") or {}
            current = props.get("currentSpend") or props.get("current_spend") or {}
            forecast = props.get("forecastSpend") or props.get("forecast_spend") or {}
            out.append(
                BudgetStatus(
                    name=str(item.get("name")),
                    amount=float(props.get("amount") or 0.0),
                    time_grain=str(props.get("timeGrain") or props.get("time_grain") or ""),
                    current_spend=float(current["amount"]) if current.get("amount") is not None else None,
                    forecast_spend=float(forecast["amount"]) if forecast.get("amount") is not None else None,
                    unit=str(current.get("unit") or forecast.get("unit") or ""),
                )
            )
        return out

    def _forecast(self, scope: str, body: dict[str, Any]) -> Any:
        return self._client.forecast.usage(scope, body)  # type: ignore[call-overload]  # a JSON body is accepted

    def _first(self, scope: str, body: dict[str, Any]) -> Any:
        return self._client.query.usage(scope, body)  # type: ignore[call-overload]  # a JSON body is accepted

    def _next(self, link: str, body: dict[str, Any]) -> dict[str, Any] | None:
        response = self._client.send_request(HttpRequest("POST", link, json=body))
        if response.status_code == 204:
            return None
        if response.status_code != 200:
            raise HttpResponseError(response=response)
        result: dict[str, Any] = response.json()
        return result

    def _page(self, request: Callable[[], Any], scope: str, what: str) -> dict[str, Any] | None:
        """One result page as a plain dict (the SDK's hybrid models and raw JSON alike), throttling waited out."""
        result = self._call(request, scope, what)
        if result is None or isinstance(result, dict):
            return result
        page: dict[str, Any] = result.as_dict() if hasattr(result, "as_dict") else dict(result)
        return page

    def _call(self, request: Callable[[], Any], scope: str, what: str) -> Any:
        """``request()``, waiting out 429s from the Cost Management rate-limit headers (bounded)."""
        for attempt in range(1, self._max_attempts + 1):
            try:
                result = request()
            except HttpResponseError as exc:
                wait = self._throttled_for(exc)
                if wait is None or attempt == self._max_attempts or wait > self._max_wait_s:
                    raise SourceError("azure_cost", what, f"{scope}: {describe_azure_error(exc)}") from exc
                log.info("Cost Management throttled (attempt %d): waiting %.0fs", attempt, wait)
                self._sleep(wait)
                self.waited_s += wait
                continue
            except AzureError as exc:
                raise SourceError("azure_cost", what, f"{scope}: {describe_azure_error(exc)}") from exc
            return result
        return None  # pragma: no cover - the loop returns or raises

    @staticmethod
    def _throttled_for(exc: HttpResponseError) -> float | None:
        if exc.status_code != 429 or exc.response is None:
            return None
        headers = getattr(exc.response, "headers", {})
        waits = [retry_after_seconds(headers.get(name)) for name in RATE_LIMIT_HEADERS]
        known = [w for w in waits if w is not None]
        return max(known) if known else 60.0

    def close(self) -> None:
        """Close the client."""
        self._client.close()


GROUP_DIMS = {"ServiceName": "service", "ResourceGroupName": "resource_group"}
"""Cost Management dimensions → the ``azure_cost`` rollup's labels (a ``tag:<key>`` group fills ``tag``)."""
COST_DIMS = ("service", "resource_group", "tag", "currency")


def empty_cost_frame() -> pl.DataFrame:
    """An ``azure_cost`` rollup frame without rows."""
    return pl.DataFrame(schema={"bucket": pl.Int64, **dict.fromkeys(COST_DIMS, pl.String), "cost": pl.Float64})


def cost_rollup(frame: pl.DataFrame, group_by: tuple[str, ...]) -> pl.DataFrame:
    """Rows ``date, <groups…>, cost, currency`` of :meth:`AzureCostSource.daily_costs` in the rollup's layout."""
    if frame.is_empty():
        return empty_cost_frame()
    labels = {dim: pl.lit("") for dim in COST_DIMS}
    for group in group_by:
        labels["tag" if group.startswith("tag:") else GROUP_DIMS[group]] = pl.col(group).fill_null("")
    labels["currency"] = pl.col("currency").fill_null("")
    out = frame.select(
        pl.col("date").cast(pl.Datetime("us", "UTC")).dt.epoch("s").cast(pl.Int64).alias("bucket"),
        *(expr.alias(dim) for dim, expr in labels.items()),
        pl.col("cost").cast(pl.Float64),
    )
    return out.group_by("bucket", *COST_DIMS).agg(pl.col("cost").sum()).sort("bucket", *COST_DIMS)


class CostSource(Protocol):
    """What the daemon polls daily Azure costs through (Cost Management, or the simulated platform)."""

    def fetch(self, start: datetime, end: datetime) -> pl.DataFrame:
        """``azure_cost`` rollup rows of the UTC days ``[start, end)`` touches."""
        ...

    def close(self) -> None:
        """Release the client."""
        ...


class CostPoller:
    """Polls daily costs at one scope into ``azure_cost`` rollup rows (the daemon's ``azure_cost`` family)."""

    def __init__(
        self, scope: str, group_by: tuple[str, ...], source: AzureCostSource, cost_type: str = "ActualCost"
    ) -> None:
        self.scope = scope
        self.group_by = group_by
        self.source = source
        self.cost_type: Literal["ActualCost", "AmortizedCost"] = (
            "AmortizedCost" if cost_type == "AmortizedCost" else "ActualCost"
        )

    def fetch(self, start: datetime, end: datetime) -> pl.DataFrame:
        """The UTC days that ``[start, end)`` touches (Cost Management answers whole days)."""
        last = (end - timedelta(microseconds=1)).date()
        if last < start.date():
            return empty_cost_frame()
        query = CostQuery(self.scope, start.date(), last, self.group_by, self.cost_type)
        return cost_rollup(self.source.daily_costs(query), self.group_by)

    def close(self) -> None:
        """Close the Cost Management client."""
        self.source.close()
