"""The Cost Management source with the real `azure-mgmt-costmanagement` client against a loopback HTTPS fake: the
query on the wire (path, api-version, body, ARM token), rows read by column name across pages in different
column orders, nextLink followed with the same body, 429s waited out from the x-ms-ratelimit headers, and
403/bad queries turned into clear errors."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from https_fake import FakeHttps, start
from test_azure_logs_sink import FakeCredential

from sre_agent.errors import SourceError
from sre_agent.sources.azure_cost import AzureCostSource, CostQuery

SUB = "/subscriptions/00000000-1111-2222-3333-444444444444"
QUERY_PATH = f"{SUB}/providers/Microsoft.CostManagement/query"


@pytest.fixture
def arm(tmp_path: Path) -> Iterator[FakeHttps]:
    fake = start(tmp_path)
    yield fake
    fake.stop()


def page(columns: list[tuple[str, str]], rows: list[list[Any]], next_link: str | None = None) -> dict[str, Any]:
    return {
        "id": f"{QUERY_PATH}/q",
        "name": "q",
        "type": "Microsoft.CostManagement/query",
        "properties": {"nextLink": next_link, "columns": [{"name": n, "type": t} for n, t in columns], "rows": rows},
    }


def source(
    arm: FakeHttps, waits: list[float] | None = None, credential: FakeCredential | None = None
) -> AzureCostSource:
    sleeps = waits if waits is not None else []
    return AzureCostSource(credential or FakeCredential(), base_url=arm.base, ca_bundle=arm.ca_pem, sleep=sleeps.append)


QUERY = CostQuery(SUB, date(2026, 11, 1), date(2026, 11, 2), ("ResourceGroupName", "ServiceName"))


def test_daily_costs_follow_next_link_and_read_columns_by_name(arm) -> None:
    next_link = f"{arm.base}{QUERY_PATH}?api-version=2025-03-01&$skiptoken=page2"
    arm.answers = [
        (
            200,
            {},
            page(
                [
                    ("Cost", "Number"),
                    ("UsageDate", "Number"),
                    ("ResourceGroupName", "String"),
                    ("ServiceName", "String"),
                    ("Currency", "String"),
                ],
                [
                    [12.5, 20261101, "rg-stream", "Stream Analytics", "EUR"],
                    [3.25, 20261101, "rg-lake", "Storage", "EUR"],
                ],
                next_link,
            ),
        ),
        (
            200,
            {},
            page(  # the second page orders its columns differently: only names count
                [
                    ("UsageDate", "Number"),
                    ("Currency", "String"),
                    ("ServiceName", "String"),
                    ("ResourceGroupName", "String"),
                    ("PreTaxCost", "Number"),
                ],
                [[20261102, "EUR", "Event Hubs", "rg-stream", 7.0]],
            ),
        ),
    ]
    credential = FakeCredential()
    cost = source(arm, credential=credential)
    frame = cost.daily_costs(QUERY)
    cost.close()

    assert frame.to_dicts() == [
        {
            "date": date(2026, 11, 1),
            "ResourceGroupName": "rg-stream",
            "ServiceName": "Stream Analytics",
            "cost": 12.5,
            "currency": "EUR",
        },
        {
            "date": date(2026, 11, 1),
            "ResourceGroupName": "rg-lake",
            "ServiceName": "Storage",
            "cost": 3.25,
            "currency": "EUR",
        },
        {
            "date": date(2026, 11, 2),
            "ResourceGroupName": "rg-stream",
            "ServiceName": "Event Hubs",
            "cost": 7.0,
            "currency": "EUR",
        },
    ]
    first, second = arm.seen
    assert (first.method, first.path, first.query["api-version"]) == ("POST", QUERY_PATH, ["2025-03-01"])
    assert first.headers["Authorization"] == "Bearer fake-token"
    assert credential.scopes[0] == ("https://management.azure.com/.default",)
    assert first.json() == {
        "type": "ActualCost",
        "timeframe": "Custom",
        "timePeriod": {"from": "2026-11-01T00:00:00Z", "to": "2026-11-02T23:59:59Z"},
        "dataset": {
            "granularity": "Daily",
            "aggregation": {"totalCost": {"name": "Cost", "function": "Sum"}},
            "grouping": [
                {"type": "Dimension", "name": "ResourceGroupName"},
                {"type": "Dimension", "name": "ServiceName"},
            ],
        },
    }
    assert (second.path, second.query["$skiptoken"]) == (QUERY_PATH, ["page2"])
    assert second.json() == first.json(), "the next link gets the same query"


def test_throttling_is_waited_out_from_the_cost_management_headers(arm) -> None:
    throttled = {
        "x-ms-ratelimit-microsoft.costmanagement-qpu-retry-after": "7",
        "x-ms-ratelimit-microsoft.costmanagement-entity-retry-after": "3",
    }
    arm.answers = [
        (429, throttled, {"error": {"code": "429", "message": "Too many requests"}}),
        (
            200,
            {},
            page(
                [("Cost", "Number"), ("UsageDate", "Number"), ("TagKey", "String"), ("TagValue", "String")],
                [[40.0, 20261101, "cost-center", "cc-risk"], [2.5, 20261101, None, None]],
            ),
        ),
    ]
    waits: list[float] = []
    cost = source(arm, waits)
    by_tag = CostQuery(SUB, date(2026, 11, 1), date(2026, 11, 1), ("tag:cost-center",))
    frame = cost.daily_costs(by_tag)
    cost.close()
    assert waits == [7.0], "the longest of the rate-limit headers"
    assert len(arm.seen) == 2
    assert frame["tag:cost-center"].to_list() == ["cc-risk", ""], "untagged cost keeps an empty tag value"
    assert frame["cost"].sum() == 42.5
    assert arm.seen[0].json()["dataset"]["grouping"] == [{"type": "TagKey", "name": "cost-center"}]


def test_refusals_and_endless_throttling_are_source_errors_without_secrets(arm) -> None:
    arm.answers = [(403, {}, {"error": {"code": "AuthorizationFailed", "message": "no Cost Management Reader"}})]
    cost = source(arm)
    with pytest.raises(SourceError, match=r"HTTP 403 \(AuthorizationFailed\)") as denied:
        cost.daily_costs(QUERY)
    assert "fake-token" not in str(denied.value)
    assert len(arm.seen) == 1, "a 403 is not retried"

    arm.answers = [(429, {"Retry-After": "2"}, None)] * 5
    waits: list[float] = []
    stubborn = source(arm, waits)
    with pytest.raises(SourceError, match="HTTP 429"):
        stubborn.daily_costs(QUERY)
    assert waits == [2.0] * 4, "bounded: five attempts, four waits"
    arm.answers = [(429, {"x-ms-ratelimit-microsoft.costmanagement-tenant-retry-after": "3600"}, None)]
    with pytest.raises(SourceError, match="HTTP 429"):
        stubborn.daily_costs(QUERY)
    cost.close()
    stubborn.close()


def test_a_result_without_a_grouped_column_is_an_error_not_a_silent_blank(arm) -> None:
    arm.answers = [(200, {}, page([("Cost", "Number"), ("UsageDate", "Number")], [[1.0, 20261101]]))]
    cost = source(arm)
    with pytest.raises(SourceError, match="lacks column"):
        cost.daily_costs(QUERY)
    cost.close()


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"scope": "subscriptions/x"}, "must start with /subscriptions/"),
        ({"end": date(2026, 10, 1)}, "ends .* before it starts"),
        ({"group_by": ("ServiceName", "ResourceGroupName", "tag:team")}, "at most 2"),
        ({"group_by": ("tag:team", "tag:cost-center")}, "at most one tag"),
    ],
)
def test_impossible_cost_queries_are_refused_before_any_call(kwargs: dict[str, Any], message: str) -> None:
    base: dict[str, Any] = {"scope": SUB, "start": date(2026, 11, 1), "end": date(2026, 11, 30)}
    with pytest.raises(ValueError, match=message):
        CostQuery(**{**base, **kwargs})


def test_the_month_forecast_reads_actual_and_forecast_days(arm) -> None:
    arm.answers = [
        (
            200,
            {},
            page(
                [("Cost", "Number"), ("UsageDate", "Number"), ("CostStatus", "String"), ("Currency", "String")],
                [
                    [100.0, 20261124, "Actual", "EUR"],
                    [104.5, 20261125, "Actual", "EUR"],
                    [98.0, 20261126, "Forecast", "EUR"],
                ],
            ),
        )
    ]
    cost = source(arm)
    frame = cost.daily_forecast(SUB, date(2026, 11, 24), date(2026, 11, 26))
    cost.close()
    assert frame.select("date", "status", "cost").rows() == [
        (date(2026, 11, 24), "Actual", 100.0),
        (date(2026, 11, 25), "Actual", 104.5),
        (date(2026, 11, 26), "Forecast", 98.0),
    ]
    [seen] = arm.seen
    assert seen.path == f"{SUB}/providers/Microsoft.CostManagement/forecast"
    body = seen.json()
    assert (body["includeActualCost"], body["includeFreshPartialCost"]) == (True, False)
    assert "grouping" not in body["dataset"]


def test_budgets_report_their_amount_spend_and_forecast_across_pages(arm) -> None:
    def budget(name: str, amount: float, current: float, forecast: float | None) -> dict[str, Any]:
        props: dict[str, Any] = {
            "category": "Cost",
            "amount": amount,
            "timeGrain": "Monthly",
            "timePeriod": {"startDate": "2026-01-01T00:00:00Z", "endDate": "2027-01-01T00:00:00Z"},
            "currentSpend": {"amount": current, "unit": "EUR"},
        }
        if forecast is not None:
            props["forecastSpend"] = {"amount": forecast, "unit": "EUR"}
        return {"id": f"{SUB}/providers/Microsoft.CostManagement/budgets/{name}", "name": name, "properties": props}

    second = f"{arm.base}{SUB}/providers/Microsoft.CostManagement/budgets?api-version=2025-03-01&$skiptoken=2"
    arm.answers = [
        (200, {}, {"value": [budget("data-platform", 20000.0, 12500.0, 23000.0)], "nextLink": second}),
        (200, {}, {"value": [budget("streaming", 5000.0, 800.0, None)]}),
    ]
    cost = source(arm)
    found = cost.budgets(SUB)
    cost.close()
    assert [(b.name, b.amount, b.current_spend, b.forecast_spend, b.unit) for b in found] == [
        ("data-platform", 20000.0, 12500.0, 23000.0, "EUR"),
        ("streaming", 5000.0, 800.0, None, "EUR"),
    ]
    assert found[0].forecast_ratio == pytest.approx(1.15)
    assert found[1].forecast_ratio is None
    assert [s.method for s in arm.seen] == ["GET", "GET"]
    assert arm.seen[1].query["$skiptoken"] == ["2"]


def test_the_poller_writes_whole_utc_days_as_rollup_rows(arm) -> None:
    """The daemon's azure_cost family: [start, end) asks for the UTC days it touches; rows land per day with the
    grouped labels filled (service, resource group) and the others empty."""
    from datetime import UTC, datetime

    from sre_agent.sources.azure_cost import CostPoller

    columns = [("PreTaxCost", "Number"), ("UsageDate", "Number"), ("ServiceName", "String")]
    columns += [("ResourceGroupName", "String"), ("Currency", "String")]
    arm.answers = [
        (
            200,
            {},
            page(
                columns,
                [
                    [10.0, 20261104, "Stream Analytics", "rg-stream", "USD"],
                    [2.5, 20261104, "Stream Analytics", "rg-stream", "USD"],  # two meters of one service
                    [4.0, 20261105, "Storage", "rg-lake", "USD"],
                ],
            ),
        )
    ]
    poller = CostPoller(SUB, ("ServiceName", "ResourceGroupName"), source(arm))
    try:
        frame = poller.fetch(datetime(2026, 11, 4, 6, tzinfo=UTC), datetime(2026, 11, 6, tzinfo=UTC))
    finally:
        poller.close()
    [seen] = arm.seen
    period = seen.json()["timePeriod"]
    assert (period["from"], period["to"]) == ("2026-11-04T00:00:00Z", "2026-11-05T23:59:59Z")
    assert frame.to_dicts() == [
        {"bucket": 1_793_750_400, "service": "Stream Analytics", "resource_group": "rg-stream", "tag": "",
         "currency": "USD", "cost": 12.5},
        {"bucket": 1_793_836_800, "service": "Storage", "resource_group": "rg-lake", "tag": "", "currency": "USD",
         "cost": 4.0},
    ]  # fmt: skip
