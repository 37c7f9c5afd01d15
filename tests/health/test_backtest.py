"""`GET /v1/health/backtest` (SPEC §10): labelled pairs, churns, AUC, Brier score, lift, calibration, components."""

from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sklearn.metrics import roc_auc_score
from sqlalchemy.orm import Session

from app.health import backtest
from app.health import service as health_service
from app.health.defaults import DEFAULT_MODEL
from app.keys.service import Scope
from tests.builders import make_churn_model, make_customer, make_snapshot, post_revenue, revenue
from tests.health.backtest_books import default_parts, store_snapshots

D1, D2 = "2025-03-03", "2025-03-10"
URL = "/v1/health/backtest"


def worked_book(session: Session) -> None:
    """Eight customers paying from 2025-01-01, scored on D1 (one also on D2), four churning in the 90 days after."""
    post_revenue(
        session,
        *[revenue(c, "2025-01-01", 1000) for c in "abcdefgi"],
        revenue("a", "2025-04-01", 0),  # 29 days after D1: churned at D1 and D2
        revenue("c", "2025-05-01", 0),  # 59 days after D1
        revenue("f", "2025-07-01", 0),  # 120 days after D1: outside the horizon, retained
        revenue("i", "2025-04-15", 0),  # 43 days after D1
    )
    make_customer(session, id="h")  # never paid: never a pair
    scored = [  # customer, day, score, band, logins_per_seat score, nps score
        ("a", D1, 20.0, "red", 10.0, None),
        ("b", D1, 35.0, "red", 60.0, 50.0),
        ("c", D1, 50.0, "yellow", 30.0, None),
        ("d", D1, 50.0, "yellow", 70.0, None),
        ("e", D1, 80.0, "green", 90.0, 100.0),
        ("f", D1, 90.0, "green", 40.0, None),
        ("i", D1, 75.0, "green", 20.0, 0.0),
        ("a", D2, 15.0, "red", None, None),
        ("g", D1, None, None, None, None),  # paying but unscored
        ("h", D1, 10.0, "red", 10.0, None),  # not paying
    ]
    for customer, day, score, band, logins, nps in scored:
        parts = default_parts(logins_per_seat=logins, nps=nps)
        make_snapshot(session, customer=customer, day=day, score=score, band=band, components=parts)


def get_backtest(client: TestClient, **params: Any) -> dict[str, Any]:
    response = client.get(URL, params={"start": D1, "end": D2, **params})
    assert response.status_code == 200, response.text
    return response.json()


class TestWorkedExample:
    """Eight pairs worked by hand: D1 has a b c d e f i scored (g unscored), D2 has a (b..g and i unscored)."""

    def test_pairs_labels_and_counts(self, client: TestClient, session: Session) -> None:
        worked_book(session)
        body = get_backtest(client)
        assert (body["source"], body["dates"], body["model_versions"]) == ("snapshots", 2, [1])
        # Pairs: a b c d e f i on D1, a on D2. Churned: a (twice), c, i. Churn movements: a's, c's, i's.
        assert (body["pairs"], body["customers"], body["churned_pairs"], body["churns"]) == (8, 7, 4, 3)
        # Unscored: g on D1; b c d e f g i on D2 (paying, no snapshot that day). h never paid.
        assert body["unscored"] == 1 + 7
        assert body["churn_rate"] == 4 / 8

    def test_auc_with_ties_counts_them_half(self, client: TestClient, session: Session) -> None:
        worked_book(session)
        body = get_backtest(client)
        # Churned scores 20, 50, 75, 15; retained 35, 50, 80, 90. A churned pair scoring below a retained one
        # scores 1, a tie 1/2:
        #   20: below 35, 50, 80, 90           -> 4
        #   50: above 35, tie 50, below 80, 90 -> 0 + 0.5 + 2 = 2.5
        #   75: above 35, 50, below 80, 90     -> 2
        #   15: below all four                 -> 4
        assert body["auc"] == (4 + 2.5 + 2 + 4) / (4 * 4)
        assert body["auc"] == roc_auc_score([1, 1, 1, 1, 0, 0, 0, 0], [-20, -50, -75, -15, -35, -50, -80, -90])

    def test_brier_and_calibration_by_band_from_the_defaults(self, client: TestClient, session: Session) -> None:
        worked_book(session)
        body = get_backtest(client)
        # Band defaults red 0.30, yellow 0.10, green 0.03 (no fitted model):
        # red a 0.7², b 0.3², a(D2) 0.7²; yellow c 0.9², d 0.1²; green e 0.03², f 0.03², i 0.97².
        # Σ = 0.49 + 0.09 + 0.49 + 0.81 + 0.01 + 0.0009 + 0.0009 + 0.9409 = 2.8327; / 8 = 0.3540875, which six
        # decimals round (half to even) to 0.354088 or, from a float a hair below, to 0.354087.
        squares = [0.7**2, 0.3**2, 0.7**2, 0.9**2, 0.1**2, 0.03**2, 0.03**2, 0.97**2]
        assert body["brier"] == pytest.approx(sum(squares) / 8, abs=6e-7)
        assert body["method"] == "default"
        red, yellow, green = body["calibration"]["bands"]
        assert red == {"group": "red", "pairs": 3, "churned": 2, "min_score": 15.0, "max_score": 35.0,
                       "predicted": 0.3, "observed": round(2 / 3, 6)}  # fmt: skip
        assert yellow == {"group": "yellow", "pairs": 2, "churned": 1, "min_score": 50.0, "max_score": 50.0,
                          "predicted": 0.1, "observed": 0.5}  # fmt: skip
        assert green == {"group": "green", "pairs": 3, "churned": 1, "min_score": 75.0, "max_score": 90.0,
                         "predicted": 0.03, "observed": round(1 / 3, 6)}  # fmt: skip
        # Lift = red churn rate / green churn rate = (2/3) / (1/3)
        assert body["lift"] == 2.0

    def test_deciles_are_ordered_by_score(self, client: TestClient, session: Session) -> None:
        worked_book(session)
        deciles = get_backtest(client)["calibration"]["deciles"]
        # Eight pairs in ten equal-count groups: eight groups of one (the two empty ones are not listed).
        assert [(d["group"], d["min_score"], d["churned"]) for d in deciles] == [
            ("1", 15.0, 1), ("2", 20.0, 1), ("3", 35.0, 0), ("4", 50.0, 1), ("5", 50.0, 0), ("6", 75.0, 1),
            ("7", 80.0, 0), ("8", 90.0, 0),
        ]  # fmt: skip

    def test_fitted_probabilities_when_a_model_is_stored(self, client: TestClient, session: Session) -> None:
        worked_book(session)
        make_churn_model(session, intercept=1.0, coefficient=-0.05)
        body = get_backtest(client)
        assert body["method"] == "fitted"

        def p(score: float) -> float:
            return 1 / (1 + 2.718281828459045 ** -(1.0 - 0.05 * score))

        churned = {20: 1, 35: 0, 50: 1, 80: 0, 90: 0, 75: 1, 15: 1}
        squares = [(p(s) - y) ** 2 for s, y in churned.items()] + [(p(50) - 0) ** 2]  # d: 50, retained
        assert body["brier"] == pytest.approx(sum(squares) / 8, abs=5e-7)
        red = body["calibration"]["bands"][0]
        assert red["predicted"] == pytest.approx((p(20) + p(35) + p(15)) / 3, abs=5e-7)

    def test_components_auc_and_coverage(self, client: TestClient, session: Session) -> None:
        worked_book(session)
        components = {c["name"]: c for c in get_backtest(client)["components"]}
        assert list(components) == [c.name for c in DEFAULT_MODEL.components]  # in model order
        # logins_per_seat on 7 of the 8 pairs (not a on D2): churned 10, 30, 20 all below retained 60, 70, 90, 40.
        assert components["logins_per_seat"] == {"name": "logins_per_seat", "pairs": 7, "coverage": 0.875, "auc": 1.0}
        # nps on b (50, retained), e (100, retained), i (0, churned): i below both -> 2 / 2.
        assert components["nps"] == {"name": "nps", "pairs": 3, "coverage": 0.375, "auc": 1.0}
        assert components["csat"] == {"name": "csat", "pairs": 0, "coverage": 0.0, "auc": None}

    def test_csv_answers_the_calibration_rows(self, client: TestClient, session: Session) -> None:
        worked_book(session)
        response = client.get(URL, params={"start": D1, "end": D2, "format": "csv"})
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/csv")
        lines = response.text.strip().splitlines()
        assert lines[0] == "kind,group,pairs,churned,min_score,max_score,predicted,observed"
        assert lines[1] == "band,red,3,2,15.0,35.0,0.3,0.666667"
        assert len(lines) == 1 + 3 + 8


class TestLabels:
    def test_sixty_snapshots_before_one_churn_are_one_churn(self, client: TestClient, session: Session) -> None:
        post_revenue(session, revenue("gone", "2025-01-01", 1000), revenue("gone", "2025-04-01", 0))
        post_revenue(session, revenue("stays", "2025-01-01", 1000))
        days = [date(2025, 1, 20) + timedelta(days=n) for n in range(60)]
        store_snapshots(
            session,
            [{"customer_id": c, "snapshot_date": d, "score": s, "band": b, "model_version": 1}
             for d in days for c, s, b in (("gone", 20.0, "red"), ("stays", 80.0, "green"))],
        )  # fmt: skip
        body = get_backtest(client, start="2025-01-20", end="2025-03-20")
        assert (body["pairs"], body["churned_pairs"], body["churns"], body["auc"]) == (120, 60, 1, 1.0)

    def test_the_horizon_is_after_the_day_and_up_to_its_last_day(self, client: TestClient, session: Session) -> None:
        post_revenue(
            session,
            *[revenue(c, "2025-01-01", 1000) for c in ("same_day", "last_day", "day_after")],
            revenue("same_day", D1, 0),  # churned on the day itself: not paying on it, so no pair
            revenue("last_day", "2025-06-01", 0),  # D1 + 90 days: inside
            revenue("day_after", "2025-06-02", 0),  # D1 + 91 days: outside
        )
        for customer in ("same_day", "last_day", "day_after"):
            make_snapshot(session, customer=customer, day=D1, score=50.0, band="yellow")
        body = get_backtest(client, end=D1, horizon_days=90)
        assert (body["pairs"], body["churned_pairs"]) == (2, 1)
        assert get_backtest(client, end=D1, horizon_days=91)["churned_pairs"] == 2


class TestStatements:
    def test_a_snapshot_backtest_reads_the_same_statements_whatever_its_size(
        self, client: TestClient, session: Session, statements: list[str]
    ) -> None:
        def run(customers: int, weeks: int) -> int:
            post_revenue(session, *[revenue(f"n{customers}-{i}", "2025-01-01", 1000) for i in range(customers)])
            store_snapshots(
                session,
                [{"customer_id": f"n{customers}-{i}", "snapshot_date": date(2025, 3, 3) + timedelta(days=7 * w),
                  "score": float(i % 100), "band": "red", "model_version": 1} for i in range(customers)
                 for w in range(weeks)],
            )  # fmt: skip
            statements.clear()
            get_backtest(client, start="2025-03-03", end="2025-06-30")
            return len(statements)

        get_backtest(client)  # the key's first use is recorded once; every later request reads the same
        small = run(2, 1)
        assert run(40, 12) == small


class TestPointInTime:
    def test_without_snapshots_mondays_are_scored_point_in_time(self, client: TestClient, session: Session) -> None:
        post_revenue(session, *[revenue(c, "2025-01-01", 1000) for c in ("busy", "quiet")])
        post_revenue(session, revenue("quiet", "2025-03-20", 0))
        logins = [
            {"id": f"l{n}", "customer": "busy", "kind": "login", "occurred_at": f"2025-03-0{1 + n % 5}T10:00:00Z"}
            for n in range(30)
        ] + [{"id": "q1", "customer": "quiet", "kind": "login", "occurred_at": "2025-02-25T10:00:00Z"}]
        seats = [{"id": f"s{c}", "customer": c, "kind": "seats", "value": 2, "occurred_at": "2025-02-01T00:00:00Z"}
                 for c in ("busy", "quiet")]  # fmt: skip
        assert client.post("/v1/events", json={"events": logins + seats}).status_code == 200
        # 2025-03-05 (Wednesday) to 2025-03-18: the Mondays 03-10 and 03-17.
        body = get_backtest(client, start="2025-03-05", end="2025-03-18")
        assert (body["source"], body["dates"], body["model_versions"]) == ("point_in_time", 2, [1])
        assert (body["pairs"], body["churned_pairs"], body["churns"]) == (4, 2, 1)
        spec = health_service.current_model(session)
        expected = {
            (c, d): health_service.health_on(session, c, d, spec=spec).score
            for c in ("busy", "quiet")
            for d in (date(2025, 3, 10), date(2025, 3, 17))
        }
        scores = [expected["quiet", date(2025, 3, 10)], expected["quiet", date(2025, 3, 17)]]
        retained = [expected["busy", date(2025, 3, 10)], expected["busy", date(2025, 3, 17)]]
        assert body["auc"] == roc_auc_score([1, 1, 0, 0], [-s for s in scores + retained])
        lows = sorted(s for s in expected.values() if s is not None)
        assert body["calibration"]["deciles"][0]["min_score"] == lows[0]

    def test_a_model_version_scores_snapshot_days_point_in_time(self, client: TestClient, session: Session) -> None:
        worked_book(session)
        body = get_backtest(client, model_version=1)
        # No usage events: nobody has a score by the default model, whatever the stored snapshots say.
        assert (body["source"], body["dates"], body["pairs"], body["unscored"]) == ("point_in_time", 2, 0, 16)
        assert body["auc"] is None


class TestMondays:
    @pytest.mark.parametrize(
        ("start", "end", "expected"),
        [
            (date(2025, 3, 3), date(2025, 3, 3), [date(2025, 3, 3)]),
            (date(2025, 3, 4), date(2025, 3, 9), []),
            (date(2025, 3, 2), date(2025, 3, 17), [date(2025, 3, 3), date(2025, 3, 10), date(2025, 3, 17)]),
        ],
    )
    def test_the_mondays_of_a_range(self, start: date, end: date, expected: list[date]) -> None:
        assert backtest.mondays(start, end) == expected


class TestValidation:
    @pytest.mark.parametrize(
        ("params", "loc"),
        [
            ({"start": D2, "end": D1}, ["query"]),
            ({"start": D1, "end": D2, "horizon_days": 0}, ["query", "horizon_days"]),
            ({"start": D1, "end": D2, "horizon_days": 731}, ["query", "horizon_days"]),
            ({"start": "2022-01-01", "end": "2024-01-03"}, ["query"]),  # 732 days
            ({"start": D1, "end": D2, "model_version": 0}, ["query", "model_version"]),
            ({"start": D1, "end": D2, "model_version": 9}, ["query", "model_version"]),
            ({"start": D1, "end": D2, "segment": "smb"}, ["query", "segment"]),
            ({"start": D1}, ["query", "end"]),
        ],
    )
    def test_bad_queries_are_422_problems(self, client: TestClient, params: dict[str, Any], loc: list[str]) -> None:
        response = client.get(URL, params=params)
        assert response.status_code == 422, response.text
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["errors"][0]["loc"][: len(loc)] == loc

    def test_a_horizon_not_over_yet_is_a_422_naming_the_last_day_known(self, client: TestClient) -> None:
        today = date.today()  # noqa: DTZ011 - the route's today is the UTC date; tests run far from midnight
        response = client.get(URL, params={"start": (today - timedelta(days=100)).isoformat(),
                                           "end": (today - timedelta(days=10)).isoformat()})  # fmt: skip
        assert response.status_code == 422
        assert "not known yet" in response.json()["detail"]
        assert response.json()["errors"][0]["loc"] == ["query", "end"]

    def test_read_scope_reads_and_ingest_scope_is_403(
        self, anonymous: TestClient, make_key: Callable[..., str]
    ) -> None:
        params = {"start": D1, "end": D2}
        reader = {"Authorization": f"Bearer {make_key(Scope.read)}"}
        assert anonymous.get(URL, params=params, headers=reader).status_code == 200
        ingest = {"Authorization": f"Bearer {make_key(Scope.ingest)}"}
        assert anonymous.get(URL, params=params, headers=ingest).status_code == 403
        assert anonymous.get(URL, params=params).status_code == 401


scores_and_labels = st.lists(
    st.tuples(st.sampled_from([0.0, 12.5, 40.0, 40.0, 55.5, 70.0, 99.0, 100.0]), st.booleans()), min_size=1, max_size=24
)


class TestAucProperty:
    @settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(pairs=scores_and_labels)
    def test_the_routes_auc_is_sklearns(
        self, client: TestClient, session: Session, pairs: list[tuple[float, bool]]
    ) -> None:
        """Random scores (with ties) and labels: the route's AUC is roc_auc_score(label, -score), to its 6 places."""
        savepoint = session.begin_nested()
        try:
            events = [revenue(f"p{n}", "2025-01-01", 1000) for n in range(len(pairs))]
            events += [revenue(f"p{n}", "2025-04-01", 0) for n, (_, churned) in enumerate(pairs) if churned]
            post_revenue(session, *events)
            store_snapshots(
                session,
                [{"customer_id": f"p{n}", "snapshot_date": date(2025, 3, 3), "score": score, "band": "yellow",
                  "model_version": 1} for n, (score, _) in enumerate(pairs)],
            )  # fmt: skip
            body = get_backtest(client, start=D1, end=D1)
            labels = [int(churned) for _, churned in pairs]
            if len(set(labels)) < 2:
                assert body["auc"] is None
            else:
                # Six decimals, half to even: 63/128 = 0.4921875 is 0.492188 (sklearn's float may sit a hair below).
                assert body["auc"] == pytest.approx(roc_auc_score(labels, [-s for s, _ in pairs]), abs=6e-7)
            assert body["pairs"] == len(pairs)
            assert body["churns"] == sum(labels)
        finally:
            savepoint.rollback()
