"""The CSM's worklist (SPEC §12): the item fields, the filters and the sorts of GET /v1/customers, written out.

Today is 2026-06-30 (UTC) in every test: 90 days ahead is 2026-09-28. Band defaults (CSROI_CHURN_DEFAULTS): red
0.30, yellow 0.10, green 0.03.
"""

import math
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
import time_machine
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from sqlalchemy import Float, String, cast, literal, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from app import formulas
from app.config import Settings
from app.customers import views
from app.customers.schemas import CustomerListQuery
from app.pagination import encode_cursor
from tests.builders import (
    make_churn_model,
    make_customer,
    make_intervention,
    make_renewal,
    make_snapshot,
    move_intervention,
    post_revenue,
    revenue,
)
from tests.statements import recorded

TODAY = date(2026, 6, 30)
DEFAULTS = Settings().churn_defaults
SORTS = ("arr", "health", "churn_probability", "revenue_at_risk", "next_renewal_due")


@pytest.fixture(autouse=True)
def today() -> Iterator[None]:
    with time_machine.travel(datetime(2026, 6, 30, 12, 0, tzinfo=UTC), tick=False):
        yield


def get_list(client: TestClient, **params: Any) -> dict[str, Any]:
    response = client.get("/v1/customers", params=params)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def ids(client: TestClient, **params: Any) -> list[str]:
    return [item["id"] for item in get_list(client, limit=1000, **params)["items"]]


def item(client: TestClient, cid: str) -> dict[str, Any]:
    response = client.get(f"/v1/customers/{cid}")
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def paying(session: Session, cid: str, arr: object, since: str = "2025-01-01") -> None:
    post_revenue(session, revenue(cid, since, arr))  # type: ignore[arg-type]


class TestItemFields:
    def test_next_renewal_due_is_the_earliest_open_one_even_past_due(
        self, client: TestClient, session: Session
    ) -> None:
        paying(session, "a", 1000)
        make_renewal(session, customer="a", due_date="2026-06-20")  # 10 days past due, still open
        make_renewal(session, customer="a", due_date="2027-06-20")
        make_renewal(
            session, customer="a", due_date="2026-05-01", status="renewed", booked_arr=1000, closed_on="2026-04-20"
        )  # closed: not a next renewal
        paying(session, "b", 1000)
        session.commit()
        assert item(client, "a")["next_renewal_due"] == "2026-06-20"
        assert item(client, "a")["stage"] == "renew"  # a past-due open renewal is still being renewed
        assert item(client, "b")["next_renewal_due"] is None

    def test_band_defaults_give_probability_and_revenue_at_risk(self, client: TestClient, session: Session) -> None:
        paying(session, "r", "12345.67")
        make_snapshot(session, customer="r", day="2026-06-28", score=31.5, band="red")
        paying(session, "n", 5000)  # no snapshot: no probability, nothing at risk
        session.commit()
        red = item(client, "r")
        assert red["churn_probability"] == 0.3
        # 12,345.67 × 0.30 = 3,703.701 → 3,703.70
        assert red["revenue_at_risk"] == 3703.70
        none = item(client, "n")
        assert (none["churn_probability"], none["revenue_at_risk"], none["at_risk"]) == (None, None, False)

    def test_a_fitted_model_gives_the_logistic_at_the_latest_score(self, client: TestClient, session: Session) -> None:
        make_churn_model(session, intercept=2.0, coefficient=-0.05)
        paying(session, "even", 10_000)
        make_snapshot(session, customer="even", day="2026-06-01", score=90.0, band="green")
        make_snapshot(session, customer="even", day="2026-06-29", score=40.0, band="yellow")  # the latest
        paying(session, "sixty", 10_000)
        make_snapshot(session, customer="sixty", day="2026-06-29", score=60.0, band="yellow")
        session.commit()
        # z = 2.0 − 0.05 × 40 = 0: p = 1 / (1 + e^0) = 0.5; 10,000 × 0.5 = 5,000.00
        even = item(client, "even")
        assert (even["churn_probability"], even["revenue_at_risk"]) == (0.5, 5000.0)
        # z = 2.0 − 0.05 × 60 = −1: p = e^−1 / (1 + e^−1) = 0.268941421…, shown to six decimals;
        # 10,000 × 0.268941421… = 2,689.41421… → 2,689.41
        sixty = item(client, "sixty")
        assert sixty["churn_probability"] == round(math.exp(-1) / (1 + math.exp(-1)), 6) == 0.268941
        assert sixty["revenue_at_risk"] == 2689.41

    def test_open_interventions_count_planned_and_in_progress(self, client: TestClient, session: Session) -> None:
        paying(session, "c", 1000)
        make_intervention(session, customer="c", status="planned")
        make_intervention(session, customer="c", started_on="2026-06-01")
        done = make_intervention(session, customer="c", started_on="2026-05-01")
        move_intervention(session, id=done.id, move="complete", on="2026-05-20")
        session.commit()
        assert item(client, "c")["open_interventions"] == 2

    def test_at_risk_is_red_or_yellow_with_a_renewal_due_within_90_days(
        self, client: TestClient, session: Session
    ) -> None:
        cases = {
            "red": ("red", 20.0, None),
            "yellow-soon": ("yellow", 55.0, "2026-09-28"),  # due in exactly 90 days
            "yellow-today": ("yellow", 55.0, "2026-06-30"),
            "yellow-late": ("yellow", 55.0, "2026-09-29"),  # 91 days
            # Past due and still open: §5's rule looks ahead (as intervention context and experiments read it).
            "yellow-past": ("yellow", 55.0, "2026-06-29"),
            "green-soon": ("green", 80.0, "2026-07-15"),
        }
        for cid, (band, score, due) in cases.items():
            paying(session, cid, 1000)
            make_snapshot(session, customer=cid, day="2026-06-29", score=score, band=band)
            if due:
                make_renewal(session, customer=cid, due_date=due)
        paying(session, "unscored", 1000)
        session.commit()
        flags = {cid: item(client, cid)["at_risk"] for cid in [*cases, "unscored"]}
        assert flags == {
            "red": True,
            "yellow-soon": True,
            "yellow-today": True,
            "yellow-late": False,
            "yellow-past": False,
            "green-soon": False,
            "unscored": False,
        }

    def test_revenue_at_risk_sums_to_the_health_metrics(self, client: TestClient, session: Session) -> None:
        """One definition: the worklist's per-customer figures add up to /v1/metrics/health's revenue at risk for
        today, to within half a cent per customer (each is rounded to the cent, the metric rounds its sum)."""
        make_churn_model(session, intercept=1.2, coefficient=-0.047)
        for n, (arr, score) in enumerate([("1234.56", 12.3), ("98765.43", 47.9), ("5000", 88.8), ("777.77", 63.1)]):
            paying(session, f"c{n}", arr)
            make_snapshot(session, customer=f"c{n}", day="2026-06-29", score=score, band=band_of(score))
        session.commit()
        items = get_list(client, limit=1000)["items"]
        row = client.get("/v1/metrics/health", params={"start": "2026-06-30", "end": "2026-06-30"}).json()["rows"][0]
        total = sum(Decimal(str(i["revenue_at_risk"])) for i in items)
        assert abs(total - Decimal(str(row["revenue_at_risk"]))) <= Decimal("0.005") * len(items)
        # By hand for c0: z = 1.2 − 0.047 × 12.3 = 0.6219, p = 1 / (1 + e^−0.6219); 1,234.56 × p to the cent.
        p0 = 1 / (1 + math.exp(-(1.2 - 0.047 * 12.3)))
        assert items[0]["revenue_at_risk"] == float((Decimal("1234.56") * Decimal(str(p0))).quantize(Decimal("0.01")))

    def test_csv_carries_the_new_columns(self, client: TestClient, session: Session) -> None:
        paying(session, "a", 1000)
        make_snapshot(session, customer="a", day="2026-06-29", score=66.21761260178246, band="yellow")
        make_renewal(session, customer="a", due_date="2026-07-31")
        session.commit()
        text = client.get("/v1/customers", params={"format": "csv"}).text
        header, row = text.strip().split("\r\n")
        assert header.endswith(",at_risk,next_renewal_due,churn_probability,revenue_at_risk,open_interventions")
        # yellow + renewal in 31 days: at risk; 1,000 × 0.10 = 100.00
        assert row.endswith(",True,2026-07-31,0.1,100.00,0")
        assert '""score"":66.22,' in row  # the health cell (CSV doubles its quotes) rounds as JSON does


def small_book(session: Session) -> None:
    """Six customers, each a worklist case:

    | id | ARR    | latest band (score) | open renewal due      | open interventions | stage   |
    | a  | 50,000 | red (20)            | 2026-08-15 (46 days)  | 1                  | renew   |
    | b  | 20,000 | yellow (55)         | 2026-06-20 (past due) | 0                  | renew   |
    | c  | 80,000 | yellow (60)         | 2026-09-20 (82 days)  | 0                  | renew   |
    | d  | 10,000 | green (85)          | 2027-03-01            | 0                  | adopt   |
    | e  | 0      | —                   | —                     | 0                  | prospect|
    | f  | 30,000 | red (10)            | 2026-12-15 (168 days) | 1 (planned)        | land    |
    """
    for cid, arr in (("a", 50_000), ("b", 20_000), ("c", 80_000), ("d", 10_000)):
        paying(session, cid, arr)
    paying(session, "f", 30_000, since="2026-05-01")
    make_customer(session, id="e")
    for cid, band, score in (("a", "red", 20.0), ("b", "yellow", 55.0), ("c", "yellow", 60.0), ("d", "green", 85.0)):
        make_snapshot(session, customer=cid, day="2026-06-29", score=score, band=band)
    make_snapshot(session, customer="f", day="2026-06-29", score=10.0, band="red")
    for cid, due in (("a", "2026-08-15"), ("b", "2026-06-20"), ("c", "2026-09-20"), ("d", "2027-03-01")):
        make_renewal(session, customer=cid, due_date=due)
    make_renewal(session, customer="f", due_date="2026-12-15")
    make_intervention(session, customer="a", started_on="2026-06-25")
    make_intervention(session, customer="f", status="planned")
    session.commit()


class TestFilters:
    def test_stage(self, client: TestClient, session: Session) -> None:
        small_book(session)
        assert ids(client, stage="renew") == ["a", "b", "c"]
        assert ids(client, stage="land") == ["f"]
        assert ids(client, stage="prospect") == ["e"]

    def test_at_risk(self, client: TestClient, session: Session) -> None:
        small_book(session)
        # a, f red; c yellow with a renewal in 82 days; b yellow but its only open renewal is past due.
        assert ids(client, at_risk="true") == ["a", "c", "f"]
        assert ids(client, at_risk="false") == ["b", "d", "e"]

    def test_renewal_due_within_days_includes_past_due(self, client: TestClient, session: Session) -> None:
        small_book(session)
        assert ids(client, renewal_due_within_days=46) == ["a", "b"]  # 2026-08-15 is day 46; b is past due
        assert ids(client, renewal_due_within_days=45) == ["b"]
        assert ids(client, renewal_due_within_days=0) == ["b"]
        assert ids(client, renewal_due_within_days=90) == ["a", "b", "c"]

    def test_min_arr_is_inclusive(self, client: TestClient, session: Session) -> None:
        small_book(session)
        assert ids(client, min_arr=30000) == ["a", "c", "f"]
        assert ids(client, min_arr="30000.01") == ["a", "c"]

    def test_has_open_intervention(self, client: TestClient, session: Session) -> None:
        small_book(session)
        assert ids(client, has_open_intervention="true") == ["a", "f"]
        assert ids(client, has_open_intervention="false") == ["b", "c", "d", "e"]

    def test_the_worklist_question(self, client: TestClient, session: Session) -> None:
        """My at-risk customers by revenue at risk, with a renewal in the next 90 days."""
        small_book(session)
        body = get_list(client, at_risk="true", renewal_due_within_days=90, sort="-revenue_at_risk")
        # a: 50,000 × 0.30 = 15,000.00; c: 80,000 × 0.10 = 8,000.00 (f's renewal is 168 days out)
        assert [(i["id"], i["revenue_at_risk"]) for i in body["items"]] == [("a", 15000.0), ("c", 8000.0)]

    def test_filters_combine_with_the_old_ones(self, client: TestClient, session: Session) -> None:
        small_book(session)
        assert ids(client, band="red", has_open_intervention="true", stage="land") == ["f"]

    @pytest.mark.parametrize(
        ("name", "value"),
        [
            ("at_risk", "yes"),
            ("at_risk", "1"),
            ("has_open_intervention", "True"),
            ("renewal_due_within_days", "-1"),
            ("renewal_due_within_days", "3651"),
            ("min_arr", "-5"),
            ("min_arr", "1.234"),
            ("stage", "dormant"),
            ("sort", "name"),
            ("sort", "+arr"),
            ("sort", "--arr"),
        ],
    )
    def test_bad_values_are_422_naming_the_parameter(self, client: TestClient, name: str, value: str) -> None:
        response = client.get("/v1/customers", params={name: value})
        assert response.status_code == 422, response.text
        assert response.headers["content-type"].startswith("application/problem+json")
        assert [e["loc"] for e in response.json()["errors"]] == [["query", name]]


class TestSort:
    def test_each_sort_ascending_and_descending(self, client: TestClient, session: Session) -> None:
        small_book(session)
        # revenue at risk: a 50,000 × .3 = 15,000; b 20,000 × .1 = 2,000; c 80,000 × .1 = 8,000;
        # d 10,000 × .03 = 300; f 30,000 × .3 = 9,000; e has no score (null, last)
        expected = {
            "arr": ["e", "d", "b", "f", "a", "c"],
            "-arr": ["c", "a", "f", "b", "d", "e"],
            "health": ["f", "a", "b", "c", "d", "e"],
            "-health": ["d", "c", "b", "a", "f", "e"],
            "churn_probability": ["d", "b", "c", "a", "f", "e"],  # ties (b, c at .1; a, f at .3) by id
            "-churn_probability": ["a", "f", "b", "c", "d", "e"],
            "revenue_at_risk": ["d", "b", "c", "f", "a", "e"],
            "-revenue_at_risk": ["a", "f", "c", "b", "d", "e"],
            "next_renewal_due": ["b", "a", "c", "f", "d", "e"],
            "-next_renewal_due": ["d", "f", "c", "a", "b", "e"],
        }
        for sort, order in expected.items():
            assert ids(client, sort=sort) == order, sort

    def test_pages_are_full_and_follow_the_sort_through_nulls(self, client: TestClient, session: Session) -> None:
        small_book(session)
        make_customer(session, id="g")  # a second customer without a score: the nulls span a page boundary
        session.commit()
        for sort in (*SORTS, *(f"-{s}" for s in SORTS)):
            seen, cursor, sizes = [], None, []
            while True:
                body = get_list(client, sort=sort, limit=2, **({"cursor": cursor} if cursor else {}))
                sizes.append(len(body["items"]))
                seen += [i["id"] for i in body["items"]]
                cursor = body["next_cursor"]
                if cursor is None:
                    break
            assert seen == ids(client, sort=sort), sort
            assert sizes[:-1] == [2] * (len(sizes) - 1), sort  # every page but the last is full

    def test_a_cursor_from_another_sort_is_422(self, client: TestClient, session: Session) -> None:
        small_book(session)
        by_arr = get_list(client, sort="arr", limit=2)["next_cursor"]
        by_id = get_list(client, limit=2)["next_cursor"]
        for params in (
            {"sort": "-arr", "cursor": by_arr},
            {"sort": "health", "cursor": by_arr},
            {"cursor": by_arr},
            {"sort": "arr", "cursor": by_id},
        ):
            response = client.get("/v1/customers", params=params)
            assert response.status_code == 422, params
            assert response.json()["errors"][0]["loc"] == ["query", "cursor"]

    @pytest.mark.parametrize("token", [["arr", "a", "ten"], ["health", "a", "nan"], ["next_renewal_due", "a", "x"]])
    def test_a_forged_sort_value_is_422(self, client: TestClient, token: list[str]) -> None:
        response = client.get("/v1/customers", params={"sort": token[0], "cursor": encode_cursor(token)})
        assert response.status_code == 422
        assert response.json()["errors"][0]["loc"] == ["query", "cursor"]

    def test_a_page_costs_the_same_statements_whatever_its_size(
        self, client: TestClient, session: Session, engine: Engine
    ) -> None:
        def statements(n: int) -> int:
            for i in range(n):
                cid = f"{n}-{i:03}"
                paying(session, cid, 1000 + i)
                make_snapshot(session, customer=cid, day="2026-06-29", score=float(i % 90), band="red")
                make_renewal(session, customer=cid, due_date="2026-08-01")
            session.commit()
            with recorded(engine) as seen:
                body = get_list(client, limit=n, sort="-revenue_at_risk", at_risk="true", renewal_due_within_days=90)
            assert len(body["items"]) == n
            return len(seen)

        get_list(client, limit=1)  # the key's first use of the minute writes its last_used_at: not counted
        small = statements(2)
        assert statements(40) == small
        assert small < 12  # auth, the churn fit, the page, give or take the savepoints


# --- Random books: every sort pages through the same order a sort in Python gives ------------------------------


@dataclass(frozen=True)
class Row:
    """One generated customer and the worklist values it should show."""

    id: str
    arr_cents: int
    score: float | None
    band: str | None
    due: date | None

    def value(self, name: str) -> Any:
        probability = None if self.band is None else DEFAULTS[self.band]
        return {
            "arr": self.arr_cents,
            "health": self.score,
            "churn_probability": probability,
            # The same double product the database computes (arr as a double × the probability).
            "revenue_at_risk": None if probability is None else float(self.arr_cents) * probability,
            "next_renewal_due": self.due,
        }[name]


def expected_order(rows: list[Row], sort: str) -> list[str]:
    """Nulls last in either direction; ties in id order."""
    name, descending = sort.lstrip("-"), sort.startswith("-")
    by_id = sorted(rows, key=lambda r: r.id)
    valued = sorted((r for r in by_id if r.value(name) is not None), key=lambda r: r.value(name), reverse=descending)
    return [r.id for r in valued] + [r.id for r in by_id if r.value(name) is None]


def band_of(score: float) -> str:
    return "red" if score < 40 else "green" if score >= 70 else "yellow"


# Few distinct values, so ties (and null runs) are common.
rows_strategy = st.lists(
    st.tuples(
        st.sampled_from([0, 100_000, 250_050, 1_000_000]),
        st.one_of(st.none(), st.sampled_from([12.5, 39.99, 40.0, 55.5, 70.0, 99.0])),
        st.one_of(st.none(), st.integers(-20, 120)),
    ),
    min_size=1,
    max_size=9,
)


def load_rows(session: Session, generated: list[tuple[int, float | None, int | None]]) -> list[Row]:
    rows = []
    for n, (cents, score, due_in) in enumerate(generated):
        cid = f"c{n:02d}"
        if cents:
            paying(session, cid, f"{cents / 100:.2f}")
        else:
            make_customer(session, id=cid)
        if score is not None:
            make_snapshot(session, customer=cid, day="2026-06-29", score=score, band=band_of(score))
        due = None if due_in is None else TODAY + timedelta(days=due_in)
        if due is not None:
            make_renewal(session, customer=cid, due_date=due.isoformat())
        rows.append(Row(cid, cents, score, None if score is None else band_of(score), due))
    return rows


def walk(session: Session, sort: str, limit: int) -> tuple[list[str], list[int]]:
    """Every page of the sorted list: the ids in order, and each page's size."""
    seen: list[str] = []
    sizes: list[int] = []
    cursor = None
    while True:
        query = CustomerListQuery(sort=sort, limit=limit, cursor=cursor)
        page = views.list_customer_views(session, query, today=TODAY, churn_defaults=DEFAULTS)
        seen += [c.id for c in page.items]
        sizes.append(len(page.items))
        cursor = page.next_cursor
        if cursor is None:
            return seen, sizes


class TestRandomBooks:
    @hypothesis_settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(generated=rows_strategy, limit=st.integers(1, 4), sort=st.sampled_from([*SORTS, *(f"-{s}" for s in SORTS)]))
    def test_pages_are_full_and_in_order_for_every_sort(
        self, session: Session, generated: list[tuple[int, float | None, int | None]], limit: int, sort: str
    ) -> None:
        """Each example writes inside a savepoint that is rolled back, so the function-scoped session is safe."""
        savepoint = session.begin_nested()
        try:
            rows = load_rows(session, generated)
            seen, sizes = walk(session, sort, limit)
        finally:
            savepoint.rollback()
        assert seen == expected_order(rows, sort)
        assert all(size == limit for size in sizes[:-1])


def test_sql_churn_probability_equals_the_python_formula(session: Session) -> None:
    """`formulas.churn_probability_sql` gives `formulas.churn_probability`'s doubles for a fit and the defaults."""
    fits: list[Any] = [None, make_churn_model(session, intercept=1.7, coefficient=-0.063)]
    extreme = make_churn_model(session, intercept=-3.0, coefficient=-40.0)  # z far below −700: bounded
    fits.append(extreme)
    points: list[tuple[float | None, str | None]] = [
        (None, None), (0.0, "red"), (12.345, "red"), (39.999, "red"), (55.5, "yellow"), (70.0, "green"),
        (99.99, "green"), (100.0, "green"), (50.0, None),
    ]  # fmt: skip
    for fit in fits:
        for score, band in points:
            expression = formulas.churn_probability_sql(
                cast(literal(score), Float), literal(band, String), fit=fit, defaults=DEFAULTS
            )
            in_sql = session.scalar(select(expression))
            in_python = formulas.churn_probability(score, band, fit=fit, defaults=DEFAULTS)
            assert in_sql == in_python, (fit, score, band)
