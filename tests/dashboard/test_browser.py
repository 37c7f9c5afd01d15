"""The dashboard in headless Chromium against a live server with the demo book (SPEC §12).

Each page is loaded once per class and checked for: its charts drawn with data, its numbers equal to the API's
(the very answers the page read, and the query it sent), the keyboard reaching every control with a visible focus,
and no sideways scroll at 1280 and 390 px (screenshots of both are kept). The pages' consoles must stay free of
errors. Then: signing in, the worklist's filters and sort, creating and starting an intervention from the page,
and a read-only key that sees no write control.
"""

import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, ClassVar

import pytest

from tests.dashboard.browser import (
    READY,
    charts_drawn,
    column,
    figures,
    horizontal_overflow,
    open_route,
    screenshot,
    sign_in,
    wait_for_render,
    walk_with_tab,
)
from tests.dashboard.conftest import NARROW, WIDE, Console, LiveServer, Tab
from tests.dashboard.formats import fmt

BANDS = ("red", "yellow", "green", "no_score")


def last_month() -> date:
    """The first day of the last month that has ended (UTC): the dashboard's default month."""
    return (datetime.now(UTC).date().replace(day=1) - timedelta(days=1)).replace(day=1)


def add_months(day: date, months: int) -> date:
    index = day.year * 12 + day.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def month_range(months: int = 12, **extra: str) -> dict[str, str]:
    """The query of `months` whole months ending with last month, as the pages send it."""
    following = add_months(last_month(), 1)
    start = add_months(last_month(), 1 - months).isoformat()
    return {"start": start, "end": (following - timedelta(days=1)).isoformat(), **extra}


def assert_shows(scope: Any, metric: str, values: list[float | None]) -> None:
    """The figures of `metric` under `scope` carry exactly the API's values, and show them formatted."""
    shown = figures(scope, metric)
    assert [value for value, _, _ in shown] == values, metric
    assert [text for _, _, text in shown] == [fmt(kind, value) for value, kind, _ in shown], metric


def worklist_ids(server: LiveServer, **params: Any) -> list[str]:
    """The first page of the worklist as the API lists it."""
    return [c["id"] for c in server.get("/v1/customers", limit=25, **params)["items"]]


def js_array(values: list[float | None]) -> str:
    """JSON.stringify of numbers, as the page writes them (an integral number without a point)."""
    return (
        "[" + ",".join("null" if v is None else str(int(v)) if float(v).is_integer() else repr(v) for v in values) + "]"
    )


class PageChecks:
    """What every page must do; a subclass names its route, the charts it draws, and checks its numbers."""

    name: ClassVar[str]
    charts: ClassVar[set[str]]

    @classmethod
    def route(cls, server: LiveServer) -> str:
        return cls.name

    @pytest.fixture(scope="class")
    @classmethod
    def tab(cls, tab_for: Any, live_server: LiveServer) -> Tab:
        return tab_for(cls.route(live_server))

    def test_charts_are_drawn_with_data(self, tab: Tab, screenshots: Path) -> None:
        charts = charts_drawn(tab.page)
        assert {c["name"] for c in charts} == self.charts
        assert [c for c in charts if c["marks"] == 0 and c["name"] != "sparkline"] == [], "a chart without marks"
        assert horizontal_overflow(tab.page) == 0
        screenshot(tab.page, screenshots, f"{self.name}-{WIDE}")

    def test_the_keyboard_reaches_every_control_with_a_visible_focus(self, tab: Tab) -> None:
        walk = walk_with_tab(tab.page)
        assert walk["controls"] > 5
        assert walk["missed"] == [], "controls the keyboard never reached"
        assert walk["unmarked"] == [], "controls focused without a visible focus indicator"

    def test_nothing_scrolls_sideways_at_390_px(self, tab: Tab, screenshots: Path) -> None:
        resize(tab.page, NARROW)
        try:
            assert horizontal_overflow(tab.page) == 0
            assert all(c["width"] <= NARROW for c in charts_drawn(tab.page))
            screenshot(tab.page, screenshots, f"{self.name}-{NARROW}")
        finally:
            resize(tab.page, WIDE)


def resize(page: Any, width: int) -> None:
    """Set the window width and wait until every chart is redrawn for its new room."""
    page.set_viewport_size({"width": width, "height": 844 if width == NARROW else 900})
    page.wait_for_function(
        "() => [...document.querySelectorAll('.chart-slot')].every(s =>"
        " Number(s.dataset.width) === Math.round(Math.max(280, Math.min(960, s.clientWidth))))"
    )


class TestScorecardPage(PageChecks):
    name = "scorecard"
    charts: ClassVar[set[str]] = {"sparkline"}

    def test_every_entry_equals_the_api(self, tab: Tab) -> None:
        card = tab.console.answer(f"/v1/scorecards/{last_month():%Y-%m}")
        for quadrant, entries in card["quadrants"].items():
            table = tab.page.locator(f"table[data-quadrant='{quadrant}']")
            assert table.locator("tbody tr").count() == len(entries)
            for entry in entries:
                assert_shows(table.locator(f"tr[data-metric='{entry['metric']}']"), entry["metric"], [entry["value"]])

    def test_a_target_shows_with_its_status(self, tab: Tab) -> None:
        card = tab.console.answer(f"/v1/scorecards/{last_month():%Y-%m}")
        nrr = next(e for e in card["quadrants"]["financial"] if e["metric"] == "nrr")
        row = tab.page.locator("tr[data-metric='nrr']")
        assert nrr["target"] == 1.05
        assert row.locator("td").nth(2).inner_text() == fmt("ratio", 1.05)
        assert row.locator(".badge").inner_text() == {"on_track": "On track", "off_track": "Off track"}[nrr["status"]]

    def test_each_sparkline_holds_the_figure_of_the_12_monthly_cards(self, tab: Tab) -> None:
        cards = [tab.console.answer(f"/v1/scorecards/{add_months(last_month(), -i):%Y-%m}") for i in range(11, -1, -1)]
        drawn = 0
        for entry in (e for entries in cards[-1]["quadrants"].values() for e in entries):
            metric = entry["metric"]
            series = [
                next(e["value"] for q in c["quadrants"].values() for e in q if e["metric"] == metric) for c in cards
            ]
            spark = tab.page.locator(f"td.spark[data-metric='{metric}'] svg")
            assert spark.get_attribute("data-values") == js_array(series), metric
            known = sum(v is not None for v in series)
            assert spark.locator("circle").count() == (series[-1] is not None)
            drawn += known >= 2
            if known >= 2:
                assert spark.locator("polyline").count() >= 1, metric
        assert drawn > 30, "most figures have a trend in the demo book"

    def test_the_month_picker_shows_that_months_card(self, tab: Tab) -> None:
        earlier = f"{add_months(last_month(), -4):%Y-%m}"
        tab.page.fill("input[name=month]", earlier)
        before = tab.page.get_attribute("main", "data-render")
        tab.page.get_by_role("button", name="Show", exact=True).click()
        wait_for_render(tab.page, before)
        assert tab.page.url.endswith(f"#/scorecard?month={earlier}")
        card = tab.console.answer(f"/v1/scorecards/{earlier}")
        assert card == tab.server.get(f"/v1/scorecards/{earlier}")
        for entry in card["quadrants"]["financial"]:
            assert_shows(tab.page.locator(f"tr[data-metric='{entry['metric']}']"), entry["metric"], [entry["value"]])


class TestRetentionPage(PageChecks):
    name = "retention"
    charts: ClassVar[set[str]] = {"nrr-grr", "waterfall"}

    def test_nrr_and_grr_by_month_equal_the_api(self, tab: Tab) -> None:
        rows = tab.console.answer("/v1/metrics/retention", **month_range(interval="month"))["rows"]
        assert rows == tab.server.get("/v1/metrics/retention", **month_range(interval="month"))["rows"]
        table = tab.page.locator("table[data-table='retention-months']")
        assert column(tab.page, "retention-months", "data-period") == [r["period_start"] for r in rows]
        assert_shows(table, "nrr", [r["nrr"] for r in rows])
        assert_shows(table, "grr", [r["grr"] for r in rows])
        dots = tab.page.locator("svg[data-chart='nrr-grr'] circle").count()
        assert dots == sum(r[k] is not None for r in rows for k in ("nrr", "grr"))

    def test_the_waterfall_goes_from_starting_to_ending_arr(self, tab: Tab) -> None:
        whole = tab.console.answer("/v1/metrics/retention", **month_range())["rows"][0]
        assert tab.page.locator("svg[data-chart='waterfall'] rect.bar").count() == 8
        movements = tab.page.locator("table[data-table='movements']")
        assert_shows(movements, "starting_arr", [whole["total_starting_arr"]])
        assert_shows(movements, "upsell", [whole["upsell"]])
        assert_shows(movements, "churn", [-whole["churn"] if whole["churn"] else 0.0])
        assert_shows(movements, "ending_arr", [whole["total_ending_arr"]])
        assert_shows(tab.page.locator(".stats"), "range_nrr", [whole["nrr"]])

    def test_segments_retaining_worse_than_the_book_stand_out(self, tab: Tab) -> None:
        whole = tab.console.answer("/v1/metrics/retention", **month_range())["rows"][0]
        groups = tab.console.answer("/v1/metrics/retention", **month_range(group_by="segment"))["rows"]

        def below_book(row: dict[str, Any]) -> bool:
            return any(row[k] is not None and whole[k] is not None and row[k] < whole[k] for k in ("nrr", "grr"))

        weak = {r["group"] for r in groups if below_book(r)}
        assert weak, "the demo book has a segment that retains worse than the book"
        assert len(weak) < len(groups)
        marked = tab.page.locator("table[data-table='groups'] tr.weak").element_handles()
        assert {row.get_attribute("data-group") for row in marked} == weak
        assert_shows(tab.page.locator("table[data-table='groups']"), "nrr", [r["nrr"] for r in groups])


class TestHealthPage(PageChecks):
    name = "health"
    charts: ClassVar[set[str]] = {"bands", "revenue-at-risk"}

    def test_bands_and_revenue_at_risk_by_month_equal_the_api(self, tab: Tab) -> None:
        rows = tab.console.answer("/v1/metrics/health", **month_range(interval="month"))["rows"]
        assert rows == tab.server.get("/v1/metrics/health", **month_range(interval="month"))["rows"]
        table = tab.page.locator("table[data-table='bands']")
        assert column(tab.page, "bands", "data-period") == [r["period_start"] for r in rows]
        for band in BANDS:
            assert_shows(table, f"{band}_customers", [r[f"{band}_customers"] for r in rows])
        assert_shows(table, "revenue_at_risk", [r["revenue_at_risk"] for r in rows])
        assert_shows(tab.page.locator(".stats"), "revenue_at_risk", [rows[-1]["revenue_at_risk"]])
        bars = sum(r[f"{band}_customers"] > 0 for r in rows for band in BANDS)
        assert tab.page.locator("svg[data-chart='bands'] rect.bar").count() == bars
        assert tab.page.locator("svg[data-chart='revenue-at-risk'] circle").count() == len(rows)

    def test_the_worklist_is_sorted_by_revenue_at_risk(self, tab: Tab) -> None:
        expected = tab.server.get("/v1/customers", limit=25, sort="-revenue_at_risk")["items"]
        assert column(tab.page, "worklist", "data-customer") == [c["id"] for c in expected]
        table = tab.page.locator("table[data-table='worklist']")
        assert_shows(table, "revenue_at_risk", [c["revenue_at_risk"] for c in expected])
        assert_shows(table, "arr", [c["arr"] for c in expected])
        assert (
            tab.page.locator("th:has(button[data-sort='revenue_at_risk'])").get_attribute("aria-sort") == "descending"
        )

    def test_the_worklist_filters_and_sorts_by_a_column(self, tab: Tab) -> None:
        page = tab.page
        page.select_option("select[name=at_risk]", "true")
        before = page.get_attribute("main", "data-render")
        page.get_by_role("button", name="Apply").click()
        wait_for_render(page, before)
        at_risk = worklist_ids(tab.server, at_risk="true", sort="-revenue_at_risk")
        assert at_risk, "the demo book has customers at risk"
        assert len(at_risk) < len(worklist_ids(tab.server, sort="-revenue_at_risk"))
        assert column(page, "worklist", "data-customer") == at_risk
        for sort in ("-arr", "arr"):  # a column heading sorts by it, highest first, then lowest first
            before = page.get_attribute("main", "data-render")
            page.locator("button[data-sort='arr']").click()
            wait_for_render(page, before)
            assert column(page, "worklist", "data-customer") == worklist_ids(tab.server, at_risk="true", sort=sort)
            direction = "descending" if sort.startswith("-") else "ascending"
            assert page.locator("th:has(button[data-sort='arr'])").get_attribute("aria-sort") == direction

    def test_a_worklist_row_opens_its_customer(self, tab: Tab) -> None:
        link = tab.page.locator("table[data-table='worklist'] tbody tr").first.locator("a")
        customer = link.get_attribute("href").rsplit("/", 1)[1]
        before = tab.page.get_attribute("main", "data-render")
        link.click()
        wait_for_render(tab.page, before)
        detail = tab.server.get(f"/v1/customers/{customer}")
        assert tab.page.locator("h1").inner_text() == (detail["name"] or customer)
        assert_shows(tab.page.locator(".stats").first, "arr", [detail["arr"]])


class TestCustomerPage(PageChecks):
    name = "customer"
    charts: ClassVar[set[str]] = {"score-history"}

    @classmethod
    def route(cls, server: LiveServer) -> str:
        """A customer that had a save play: it has health history, interventions and a recommendation."""
        saved = server.get("/v1/interventions", framework="loss_aversion", limit=1)["items"][0]
        return f"customers/{saved['customer']}"

    def customer(self, tab: Tab) -> str:
        return tab.page.url.rsplit("/", 1)[1]

    def test_health_components_equal_the_api(self, tab: Tab) -> None:
        health = tab.console.answer(f"/v1/customers/{self.customer(tab)}/health")
        assert column(tab.page, "components", "data-component") == [c["name"] for c in health["components"]]
        for component in health["components"]:
            row = tab.page.locator(f"tr[data-component='{component['name']}']")
            assert_shows(row, component["name"], [component["score"]])
            assert row.locator("meter").count() == (component["score"] is not None)
        assert_shows(tab.page.locator(".stats").nth(1), "score", [health["score"]])

    def test_the_score_history_chart_has_every_snapshot(self, tab: Tab) -> None:
        customer = self.customer(tab)
        history = tab.console.answer(f"/v1/customers/{customer}/health/history", limit=1000)["items"]
        assert history
        assert tab.page.locator("svg[data-chart='score-history'] circle").count() == len(history)

    def test_its_interventions_are_listed(self, tab: Tab) -> None:
        customer = self.customer(tab)
        interventions = tab.server.get("/v1/interventions", customer=customer, limit=100)["items"]
        assert interventions
        assert column(tab.page, "interventions", "data-intervention") == [i["id"] for i in interventions]


class TestRoiPage(PageChecks):
    name = "roi"
    charts: ClassVar[set[str]] = {"roi-by-framework", "roi-by-type"}

    def test_the_programs_naive_and_incremental_roi_equal_the_api(self, tab: Tab) -> None:
        whole = tab.console.answer("/v1/metrics/roi", **month_range())["rows"][0]
        stats = tab.page.locator(".stats").first
        for metric in ("roi", "roi_incremental", "attributed_revenue", "incremental_revenue", "cost", "interventions"):
            assert_shows(stats, metric, [whole[metric]])

    @pytest.mark.parametrize("by", ["framework", "type"])
    def test_naive_beside_incremental_with_its_interval_by_group(self, tab: Tab, by: str) -> None:
        rows = tab.console.answer("/v1/metrics/roi", **month_range(group_by=by))["rows"]
        assert rows
        table = tab.page.locator(f"table[data-table='roi-{by}']")
        assert column(tab.page, f"roi-{by}", "data-group") == [r["group"] for r in rows]
        assert_shows(table, "roi", [r["roi"] for r in rows])
        assert_shows(table, "roi_incremental", [r["roi_incremental"] for r in rows])
        chart = tab.page.locator(f"svg[data-chart='roi-by-{by}']")
        assert chart.locator("rect.bar").count() == sum(
            r[k] is not None for r in rows for k in ("roi", "roi_incremental")
        )
        assert chart.locator("g.whisker").count() == sum(r["roi_incremental_low"] is not None for r in rows)

    def test_each_experiment_shows_its_arms(self, tab: Tab) -> None:
        experiments = tab.console.answer("/v1/experiments", limit=20)["items"]
        assert experiments, "the demo book has its holdout experiment"
        for experiment in experiments:
            result = tab.console.answer(f"/v1/experiments/{experiment['id']}/result")
            arms = tab.page.locator(f"table[data-table='arms'][data-experiment='{experiment['id']}']")
            assert set(result["arms"]) == {"treatment", "holdout"}
            for arm, figures_of_arm in result["arms"].items():
                for key in ("customers", "starting_arr", "churn_rate", "grr", "nrr", "cost"):
                    cell = arms.locator(f"tr[data-figure='{key}'] td[data-arm='{arm}']")
                    assert_shows(cell, key, [figures_of_arm[key]])


class TestInterventionsPage(PageChecks):
    name = "interventions"
    charts: ClassVar[set[str]] = set()

    def test_the_list_equals_the_api(self, tab: Tab) -> None:
        listed = tab.console.answer("/v1/interventions", limit=50)["items"]
        assert column(tab.page, "interventions", "data-intervention") == [i["id"] for i in listed]
        assert_shows(tab.page.locator("table[data-table='interventions']"), "cost", [i["cost"] for i in listed])

    def test_one_is_created_and_started_from_the_page(self, tab: Tab) -> None:
        page, server = tab.page, tab.server
        customer = server.get("/v1/customers", limit=1)["items"][0]["id"]
        reason = f"Browser test {uuid.uuid4().hex[:8]}: quarterly review with the sponsor"
        page.fill("input[name=customer]", customer)
        page.select_option("select[name=type]", "qbr")
        page.select_option("select[name=framework]", "social_proof")
        page.fill("textarea[name=reason]", reason)
        page.fill("input[name=metric]", "arr")
        page.select_option("select[name=unit]", "percent")
        page.fill("input[name=measure_after_days]", "90")
        page.get_by_role("button", name="Record intervention").click()
        page.wait_for_selector("#announcer:has-text('recorded')")
        mine = [
            i for i in server.get("/v1/interventions", customer=customer, limit=1000)["items"] if i["reason"] == reason
        ]
        assert len(mine) == 1
        created = mine[0]
        assert (created["status"], created["type"], created["framework"]) == ("planned", "qbr", "social_proof")
        assert created["expected"] == {"metric": "arr", "change": 10.0, "unit": "percent", "measure_after_days": 90}
        row = f"tr[data-intervention='{created['id']}']"
        assert page.locator(f"{row} [data-status]").get_attribute("data-status") == "planned"
        page.locator(f"{row} button[data-action='start']").click()
        page.wait_for_selector(f"{row} [data-status='in_progress']")
        started = server.get(f"/v1/interventions/{created['id']}")
        assert started["status"] == "in_progress"
        assert started["started_on"] == datetime.now(UTC).date().isoformat()
        assert page.locator(f"{row} button[data-action='complete']").count() == 1

    def test_a_refused_intervention_shows_the_problem(self, tab: Tab) -> None:
        page = tab.page
        page.fill("input[name=customer]", "cus-0001")
        page.fill("textarea[name=reason]", "Browser test: a points target on ARR is refused")
        page.fill("input[name=metric]", "arr")
        page.select_option("select[name=unit]", "points")
        page.get_by_role("button", name="Record intervention").click()
        problem = page.locator("form[data-form='create-intervention'] .problem")
        problem.wait_for()
        assert "points" in problem.inner_text()
        # Chrome logs the 422 answer to fetch; it is the expected one.
        assert [e for e in tab.console.errors if "422" in e]
        tab.console.errors[:] = [e for e in tab.console.errors if "422" not in e]


class TestSignIn:
    def test_an_unknown_key_is_refused_and_nothing_is_kept(self, page: Any, console: Console) -> None:
        page.goto("/app/")
        page.fill("input[name=key]", "csroi_not_a_key")
        page.keyboard.press("Enter")
        page.wait_for_selector(".form-error:has-text('unknown or revoked')")
        assert page.evaluate("sessionStorage.length") == 0
        # Chrome logs every 4xx answer to fetch; this 401 is the expected one.
        assert [e for e in console.errors if "401" in e]
        console.errors[:] = [e for e in console.errors if "401" not in e]

    def test_the_key_stays_in_session_storage_and_out_of_every_url(
        self, page: Any, live_server: LiveServer, console: Console
    ) -> None:
        key = live_server.admin_key
        sign_in(page, key, "retention")
        assert page.evaluate("sessionStorage.getItem('csroi.apiKey')") == key
        assert page.evaluate("localStorage.length") == 0
        assert page.evaluate("document.cookie") == ""
        assert any("/v1/metrics/retention" in url for url in console.requests)
        assert [url for url in console.requests if key in url] == []
        assert key not in page.url
        page.reload()  # the same tab keeps its session
        page.wait_for_selector(READY)
        assert page.inner_text("#who-name").startswith("browser admin")
        page.click("#sign-out")
        page.wait_for_selector("input[name=key]")
        assert page.evaluate("sessionStorage.length") == 0

    def test_a_read_only_key_sees_no_write_control(self, page: Any, live_server: LiveServer) -> None:
        sign_in(page, live_server.read_key, "interventions")
        assert "read only" in page.inner_text("#who")
        assert page.locator("table[data-table='interventions'] tbody tr").count() > 0
        assert page.locator("form[data-form='create-intervention']").count() == 0
        assert page.locator("button[data-action]").count() == 0
        planned = live_server.get("/v1/interventions", status="planned", limit=1)["items"]
        open_route(page, f"customers/{planned[0]['customer'] if planned else 'cus-0001'}")
        assert page.locator("table[data-table='components']").count() == 1
        assert page.locator("button[data-action], a[data-action]").count() == 0
