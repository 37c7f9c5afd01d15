"""Incremental ROI (SPEC §9): worked examples with the arithmetic written out, and the identities it keeps."""

from datetime import date, timedelta
from decimal import Decimal

from fastapi.testclient import TestClient
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy.orm import Session

from app.interventions import incremental
from app.interventions.impact import Attribution, Window, risk_episodes
from tests.books import logins_component
from tests.builders import (
    assign,
    make_cost,
    make_customers,
    make_experiment,
    make_health_model,
    make_intervention,
    make_snapshot,
    post_revenue,
    post_usage,
    revenue,
    usage_event,
)

START = "2026-04-01"  # every treated episode starts here; windows of 90 days end on 29 June


def red_book(session: Session, customers: list[str], *, churned: set[str]) -> None:
    """10,000 ARR each from 1 January; `churned` leave on 15 May. One login in March: score 10, red on 1 April."""
    make_health_model(session, components=[logins_component(weight=1)])
    make_customers(session, customers, tier="high_touch")
    post_revenue(session, *(revenue(c, "2026-01-01", 10000) for c in customers))
    post_revenue(session, *(revenue(c, "2026-05-15", 0) for c in sorted(churned)))
    post_usage(session, *(usage_event(c, "login", "2026-03-20T12:00:00Z", id=f"login-{c}") for c in customers))


def save_play(session: Session, customer: str, *, days: int = 90, **fields: object) -> None:
    make_intervention(
        session,
        id=f"iv-{customer}",
        customer=customer,
        started_on=START,
        type="win_back",
        framework="loss_aversion",
        at_risk=True,
        attribution_days=days,
        **fields,
    )


def april(client: TestClient, **params: str) -> dict:
    response = client.get("/v1/metrics/roi", params={"start": "2026-04-01", "end": "2026-04-30", **params})
    assert response.status_code == 200, response.text
    return response.json()


class TestMatched:
    def test_issue_worked_example_40_treated_against_100_controls(self, client: TestClient, session: Session) -> None:
        treated = [f"t{n:02d}" for n in range(40)]
        controls = [f"k{n:03d}" for n in range(100)]
        red_book(session, treated + controls, churned=set(treated[:4]) | set(controls[:25]))
        for customer in treated:
            save_play(session, customer)
        make_cost(session, id="april", month="2026-04", amount=15000)
        session.commit()
        answer = april(client)
        [row] = answer["rows"]
        # Controls: the 100 red high-touch customers paying on 1 April with no intervention; 25 of them churned by
        # 29 June, all at 10,000: p = 250,000 / 1,000,000 = 0.25.
        # Incremental retained = Σ a × (p − c) = 36 × 10,000 × 0.25 + 4 × 10,000 × (0.25 − 1)
        #                      = 90,000 − 30,000 = 60,000 = 40 × 10,000 × 0.25 − 4 × 10,000.
        # No expansion anywhere: e = 0, incremental expanded 0. ROI = (60,000 − 15,000) / 15,000 = 3.0.
        assert (row["incremental_retained_arr"], row["incremental_expanded_arr"], row["incremental_revenue"]) == (
            60000,
            0,
            60000,
        )
        assert (row["roi_incremental"], row["method"], row["treated_episodes"], row["control_customers"]) == (
            3.0,
            "matched",
            40,
            100,
        )
        # The naive figure credits every surviving customer's whole ARR: 36 × 10,000 = 360,000, ROI 23.0.
        assert (row["retained_arr"], row["roi"]) == (360000, 23.0)
        low, high = row["roi_incremental_low"], row["roi_incremental_high"]
        assert low is not None
        assert high is not None
        assert low < high
        assert answer["meta"]["seed"] == 0
        # The point estimate lies inside its interval (a clear case: 40 treated, 100 controls).
        assert low <= row["roi_incremental"] <= high
        # Same data, same seed: the same interval; other seeds draw other resamples, so the intervals of a few
        # seeds are not all equal (any one other seed may, by chance, give the same rounded bounds).
        assert april(client)["rows"][0]["roi_incremental_low"] == low
        others = {(low, high)}
        for seed in ("1", "2", "3", "7"):
            other = april(client, seed=seed)["rows"][0]
            others.add((other["roi_incremental_low"], other["roi_incremental_high"]))
        assert len(others) > 1

    def test_a_pool_below_min_controls_falls_back_to_the_model(self, client: TestClient, session: Session) -> None:
        treated = [f"t{n:02d}" for n in range(10)]
        controls = [f"k{n:03d}" for n in range(29)]  # one short of CSROI_MIN_CONTROLS = 30
        red_book(session, treated + controls, churned=set())
        for customer in treated:
            save_play(session, customer)
        session.commit()
        [row] = april(client)["rows"]
        # Model: the red band's default 90-day churn probability 0.30 over a 90-day window: p = 0.30.
        # 10 × 10,000 × 0.30 = 30,000; no controls.
        assert (row["method"], row["incremental_retained_arr"], row["control_customers"]) == ("model", 30000, 0)

    def test_controls_with_an_overlapping_intervention_are_left_out(self, client: TestClient, session: Session) -> None:
        treated = ["t00"]
        controls = [f"k{n:03d}" for n in range(31)]
        red_book(session, treated + controls, churned={"k000"})
        save_play(session, "t00")
        # k001 and k002 had their own save play in May: not controls; 29 left is below 30, so the model decides.
        for customer in ("k001", "k002"):
            make_intervention(session, customer=customer, started_on="2026-05-02", at_risk=True)
        session.commit()
        row = client.get("/v1/interventions/iv-t00").json()["impact"]
        assert (row["method"], row["control_customers"]) == ("model", 0)

    def test_an_interventions_figures_do_not_depend_on_what_else_is_read(
        self, client: TestClient, session: Session
    ) -> None:
        # t0 starts on 1 April, t1 on 15 April: one pool (red, high touch, 90 days, April) over both start days.
        # 40 controls pay from January; 10 more pay from 10 April (nothing at start on 1 April, so they join the
        # pool through 15 April only) and churn on 20 May.
        steady, late = [f"k{n:03d}" for n in range(40)], [f"l{n:03d}" for n in range(10)]
        treated = ["t0", "t1"]
        make_health_model(session, components=[logins_component(weight=1)])
        make_customers(session, treated + steady + late, tier="high_touch")
        post_revenue(session, *(revenue(c, "2026-01-01", 10000) for c in treated + steady))
        post_revenue(session, *(revenue(c, "2026-04-10", 10000) for c in late))
        post_revenue(session, *(revenue(c, "2026-05-20", 0) for c in late))
        # The treated ones' context (point in time): one login each, red; the controls' bands: stored snapshots.
        post_usage(session, *(usage_event(c, "login", "2026-03-20T12:00:00Z", id=f"login-{c}") for c in treated))
        for customer in treated + steady + late:
            for day in ("2026-03-31", "2026-04-14"):
                make_snapshot(session, customer=customer, day=day, score=10.0, band="red")
        for customer, day in (("t0", START), ("t1", "2026-04-15")):
            make_intervention(session, id=f"iv-{customer}", customer=customer, started_on=day, at_risk=True,
                              attribution_days=90)  # fmt: skip
        session.commit()
        alone = client.get("/v1/interventions/iv-t0").json()["impact"]
        first_page = client.get("/v1/interventions", params={"limit": 1}).json()["items"]
        everything = client.get("/v1/interventions", params={"limit": 100}).json()["items"]
        assert [item["id"] for item in first_page] == ["iv-t0"]
        listed = next(item for item in everything if item["id"] == "iv-t0")
        # Its pool holds both start days' control windows whichever interventions the read shows: 50 customers,
        # 90 windows of 10,000 (40 + 50), 10 of which churned: p = 100,000 / 900,000 = 1/9, 10,000 / 9 = 1,111.11.
        # (Read with t0's customer alone, the pool used to hold 1 April's 40 windows only: p = 0.)
        assert alone == first_page[0]["impact"] == listed["impact"]
        assert (alone["method"], alone["control_customers"], alone["incremental_retained_arr"]) == (
            "matched",
            50,
            1111.11,
        )


class TestHoldout:
    def test_experiment_holdout_churns_30_percent_treatment_18(self, client: TestClient, session: Session) -> None:
        customers = [f"c{n:03d}" for n in range(100)]
        make_customers(session, customers, tier="high_touch")
        post_revenue(session, *(revenue(c, "2026-01-01", 10000) for c in customers))
        for customer in customers:
            make_snapshot(session, customer=customer, day="2026-03-31", score=10.0, band="red")
        make_experiment(session, id="xp", eligibility={"at_risk": True}, holdout_share=0.5, starts_on=START)
        assign(session, experiment="xp", as_of=START)
        session.commit()
        arms = {
            row["customer"]: row["arm"]
            for row in client.get("/v1/experiments/xp/assignments?limit=1000").json()["items"]
        }
        holdout = sorted(c for c, arm in arms.items() if arm == "holdout")
        treatment = sorted(c for c, arm in arms.items() if arm == "treatment")
        assert (len(holdout), len(treatment)) == (50, 50)
        # 15 of 50 holdout customers churn (30 %), 9 of 50 treated ones (18 %), all on 10,000 ARR.
        post_revenue(session, *(revenue(c, "2026-05-15", 0) for c in holdout[:15] + treatment[:9]))
        for customer in treatment:
            save_play(session, customer)
        session.commit()
        [row] = april(client)["rows"]
        # p = holdout churned ARR / holdout starting ARR = 150,000 / 500,000 = 0.30.
        # Incremental retained = 41 × 10,000 × 0.30 + 9 × 10,000 × (0.30 − 1) = 123,000 − 63,000 = 60,000
        #                      = 500,000 × (0.30 − 0.18): the experiment result's figure.
        assert (row["method"], row["incremental_retained_arr"], row["control_customers"]) == ("holdout", 60000, 50)
        result = client.get("/v1/experiments/xp/result").json()
        assert result["incremental_retained_arr"] == 60000


class TestModel:
    def test_window_scaling_of_the_band_default(self, client: TestClient, session: Session) -> None:
        red_book(session, ["t00"], churned=set())
        save_play(session, "t00", days=45)
        session.commit()
        impact = client.get("/v1/interventions/iv-t00").json()["impact"]
        # p90 = 0.30 (red default, no fitted model); over 45 days p = 1 − (1 − 0.30)^(45/90) = 1 − √0.7
        # = 0.1633399…; a × p = 10,000 × 0.1633399… = 1,633.3997… → 1,633.40.
        assert (impact["method"], impact["incremental_retained_arr"], impact["control_customers"]) == (
            "model",
            1633.4,
            0,
        )


# --- The cap and the identities, on the arithmetic alone ----------------------------------------------------------


def episode(start: date, *, days: int = 90, name: str = "") -> Window:
    return Window(f"iv{name}{start.isoformat()}", "c", start, start + timedelta(days=days), True)


def shares(units: list[incremental.Unit]) -> dict[str, incremental.Share]:
    attributions = {w.id: Attribution() for u in units for w in u.windows}
    return incremental._shares(units, attributions)


class TestCap:
    def test_three_rescues_in_a_year_retain_the_arr_once(self) -> None:
        days = [date(2026, 1, 5), date(2026, 5, 1), date(2026, 9, 1)]
        units = [incremental.Unit([episode(d)], arr_cents=1_000_000, p=Decimal("0.6")) for d in days]
        found = shares(units)
        # Each episode: 10,000 × (0.6 − 0) = 6,000. The rescue year opened on 5 January caps the sum at the 10,000
        # of ARR at that start: 6,000, then 4,000 (cut from 6,000), then 0.
        assert [found[u.first.id].retained_cents for u in units] == [600_000, 400_000, 0]

    def test_negative_amounts_are_never_cut(self) -> None:
        days = [date(2026, 1, 5), date(2026, 5, 1)]
        units = [
            incremental.Unit([episode(days[0])], arr_cents=1_000_000, p=Decimal("0.6")),
            incremental.Unit([episode(days[1])], arr_cents=1_000_000, churned=True, p=Decimal("0.6")),
        ]
        found = shares(units)
        # 6,000, then 10,000 × (0.6 − 1) = −4,000 (uncut, and it uses none of the cap).
        assert [found[u.first.id].retained_cents for u in units] == [600_000, -400_000]


@settings(max_examples=200, deadline=None)
@given(
    offsets=st.lists(st.integers(0, 364), min_size=1, max_size=8, unique=True),
    lengths=st.lists(st.integers(30, 180), min_size=8, max_size=8),
    rates=st.lists(st.integers(0, 100), min_size=8, max_size=8),
    arr=st.integers(1, 10_000_000),
    churn_day=st.one_of(st.none(), st.integers(0, 400)),
)
def test_a_year_of_incremental_retained_never_exceeds_the_arr(
    offsets: list[int], lengths: list[int], rates: list[int], arr: int, churn_day: int | None
) -> None:
    """Summed over a customer's episodes in 365 days, |incremental retained| ≤ the ARR at the first start (a
    customer whose ARR never grows: positives are capped at it, and only the episode whose window saw the churn
    can be negative, later ones start at ARR 0)."""
    first = date(2026, 1, 1)
    windows = [episode(first + timedelta(days=o), days=lengths[n], name=str(n)) for n, o in enumerate(sorted(offsets))]
    units = []
    for n, episode_windows in enumerate(risk_episodes(windows)):
        lead = episode_windows[0]
        start, last = (lead.started_on - first).days, (lead.window_end - first).days - 1
        paying = churn_day is None or start - 1 < churn_day
        units.append(
            incremental.Unit(
                episode_windows,
                arr_cents=arr if paying else 0,
                churned=churn_day is not None and churn_day <= last,
                p=Decimal(rates[n]) / 100,
            )
        )
    found = shares(units)
    year_end = units[0].first.started_on + timedelta(days=365)
    total = sum(
        s.retained_cents for w, s in found.items() if any(w == x.id and x.started_on < year_end for x in windows)
    )
    assert abs(total) <= arr


@settings(max_examples=50, deadline=None)
@given(
    arrs=st.lists(st.integers(100_000, 10_000_000), min_size=10, max_size=30),
    churned=st.lists(st.booleans(), min_size=30, max_size=30),
    pool=st.lists(st.tuples(st.integers(100_000, 5_000_000), st.booleans()), min_size=30, max_size=150),
    seed=st.integers(0, 2**32 - 1),
)
def test_the_same_data_and_seed_give_the_same_interval(
    arrs: list[int], churned: list[bool], pool: list[tuple[int, bool]], seed: int
) -> None:
    """SPEC §9: the interval is seeded, so it is a function of the data and the seed alone."""
    import numpy as np  # noqa: PLC0415

    def measured() -> incremental.Incremental:
        found = incremental.Incremental()
        key: tuple[object, ...] = ("matched", True, "red", 0, 90, "2026-04")
        found.pools[key] = incremental.Pool(
            "matched",
            np.arange(len(pool)),
            np.array([a for a, _ in pool]),
            np.array([a if c else 0 for a, c in pool]),
            np.zeros(len(pool), dtype=np.int64),
        )
        for n, arr in enumerate(arrs):
            window = episode(date(2026, 4, 1), name=f"c{n}-")
            window = Window(window.id, f"c{n}", window.started_on, window.window_end, True)
            unit = incremental.Unit([window], arr_cents=arr, churned=churned[n], method="matched", pool=key)
            unit.p = found.pools[key].p
            found.units[window.id] = unit
            found.shares[window.id] = incremental.Share(0, 0, 0, "matched", window.id)
        return found

    first = incremental.row_figures(measured(), list(measured().shares), Decimal(1000), seed=seed)
    again = incremental.row_figures(measured(), list(measured().shares), Decimal(1000), seed=seed)
    assert (first.low, first.high) == (again.low, again.high)
    assert first.low is not None


def test_a_resample_is_n_draws_with_replacement() -> None:
    """Each resample's counts say how often each of the n items was drawn among n draws: n in all, none negative."""
    import numpy as np  # noqa: PLC0415

    counts = incremental._resample_counts(np.random.default_rng(3), 7)
    assert counts.shape == (incremental.RESAMPLES, 7)
    assert (counts >= 0).all()
    assert (counts.sum(axis=1) == 7).all()
    # Over 1,000 resamples of 7 draws each item is drawn 7,000 / 7 = 1,000 times on average; each count is
    # Binomial(7,000, 1/7): standard deviation sqrt(7,000 × 1/7 × 6/7) ≈ 29, so 6 deviations is ±175.
    assert (abs(counts.sum(axis=0) - 1_000) < 175).all()


def test_a_sample_where_every_draw_gives_the_same_value_has_a_zero_width_interval() -> None:
    """10 identical treated units against 30 identical control customers: every resample is the same sample."""
    import numpy as np  # noqa: PLC0415

    found = incremental.Incremental()
    key: tuple[object, ...] = ("matched", True, "red", 0, 90, "2026-04")
    # Each control customer: 1,000,000 cents at start, 250,000 of it churned: p = 0.25 in every resample.
    found.pools[key] = incremental.Pool(
        "matched",
        np.arange(30),
        np.full(30, 1_000_000),
        np.full(30, 250_000),
        np.zeros(30, dtype=np.int64),
    )
    for n in range(10):
        window = Window(f"iv{n}", f"c{n}", date(2026, 4, 1), date(2026, 6, 30), True)
        unit = incremental.Unit([window], arr_cents=1_000_000, method="matched", pool=key, p=Decimal("0.25"))
        found.units[window.id] = unit
        found.shares[window.id] = incremental.Share(250_000, 0, 0, "matched", window.id)  # 2,500.00 each
    figures = incremental.row_figures(found, list(found.shares), Decimal(5000), seed=11)
    # Any resample of 10 units: Σ a × (p − c) = 10 × 10,000 × (0.25 − 0) = 25,000; ROI = (25,000 − 5,000) / 5,000
    # = 4. Every resample gives 4, so both percentiles are 4 (and the point estimate too).
    assert (figures.low, figures.high) == (Decimal(4), Decimal(4))
    assert figures.roi == Decimal(4)
