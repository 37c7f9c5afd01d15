"""`/v1/metrics/staffing`, CSROI_CSM_RATIOS and CSROI_DEFAULT_TIER: team counts as of period end, coverage, FTE
needed per tier (SPEC §13), whole CSMs needed and the gap."""

import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError
from sqlalchemy.orm import Session

from app.config import DEFAULT_CSM_RATIOS, Settings, parse_csm_ratios
from tests.builders import make_customer, make_customers, make_team_member, post_revenue, revenue


@pytest.fixture
def staffed(client: TestClient, session: Session) -> TestClient:
    """30 high-touch customers at 1,000 each, 1 low-touch at 50,000, 1 untiered at 500, 1 churned tech-touch."""
    make_customers(session, [f"h{n}" for n in range(30)], tier="high_touch")
    make_customer(session, id="low", tier="low_touch")
    make_customer(session, id="none")
    make_customer(session, id="gone", tier="tech_touch")
    post_revenue(
        session,
        *(revenue(f"h{n}", "2026-01-01", 1000, id=f"e{n}") for n in range(30)),
        revenue("low", "2026-01-01", 50000, id="el"),
        revenue("none", "2026-01-01", 500, id="en"),
        revenue("gone", "2026-01-01", 700, id="g1"),
        revenue("gone", "2026-03-31", 0, id="g2"),
    )
    make_team_member(session, id="c1", started_on="2025-01-01")
    make_team_member(session, id="c2", started_on="2026-03-31")  # employed from the last day of March
    make_team_member(session, id="c3", started_on="2025-01-01", ended_on="2026-03-30")  # gone before Mar 31
    make_team_member(session, id="o1", role="onboarding")  # no dates: always employed
    make_team_member(session, id="x1", role="manager", started_on="2025-01-01")
    session.commit()
    return client


def rows(client: TestClient, **params: str) -> list[dict]:
    response = client.get("/v1/metrics/staffing", params=params)
    assert response.status_code == 200, response.text
    return response.json()["rows"]


class TestStaffing:
    def test_february_as_of_its_last_day(self, staffed: TestClient) -> None:
        (row,) = rows(staffed, start="2026-02-01", end="2026-02-28")
        assert (row["csms"], row["onboarding_reps"]) == (2, 1)  # c1 and c3; o1
        # 30 high-touch + low + untiered + gone = 33 paying; ARR 30 × 1,000 + 50,000 + 500 + 700.
        assert (row["customers"], row["arr"]) == (33, 30 * 1000 + 50000 + 500 + 700)
        tiers = [row[f"customers_{t}"] for t in ("high_touch", "low_touch", "tech_touch", "untiered")]
        assert tiers == [30, 1, 1, 1]
        assert row["customers_per_csm"] == 33 / 2
        assert row["arr_per_csm"] == (30 * 1000 + 50000 + 500 + 700) / 2
        assert row["customers_per_onboarding_rep"] == 33 / 1
        # FTE: 30 / 25 = 1.20; the untiered customer is staffed as low_touch: (1 + 1) / 100 = 0.02; 1 / 500 = 0.002,
        # shown as 0.00. Whole CSMs: ceil(1.2 + 0.02 + 0.002) = ceil(1.222) = 2 (per-tier ceilings said 2 + 1 + 1 = 4).
        needed = [row[f"csms_needed_{t}"] for t in ("high_touch", "low_touch", "tech_touch")]
        assert (needed, row["csms_needed"], row["csm_gap"]) == ([1.2, 0.02, 0.0], 2, 2 - 2)

    def test_monthly_rows_follow_hires_leavers_and_churn(self, staffed: TestClient) -> None:
        got = rows(staffed, start="2026-02-01", end="2026-03-31", interval="month")
        march = got[1]
        assert march["csms"] == 2  # c1 and c2 (started Mar 31); c3 left Mar 30
        assert (march["customers_tech_touch"], march["csms_needed_tech_touch"]) == (0, 0)  # gone churned Mar 31
        assert march["csm_gap"] == 2 - 2  # ceil(1.20 + 0.02) = 2

    def test_no_csms_means_null_ratios(self, client: TestClient) -> None:
        (row,) = rows(client, start="2026-02-01", end="2026-02-28")
        assert (row["csms"], row["customers_per_csm"], row["arr_per_csm"], row["csm_gap"]) == (0, None, None, 0)

    def test_ratios_come_from_settings(self, staffed: TestClient) -> None:
        staffed.app.state.settings = Settings(csm_ratios="high_touch=10")  # type: ignore[attr-defined]
        (row,) = rows(staffed, start="2026-02-01", end="2026-02-28")
        assert row["csms_needed_high_touch"] == 3  # 30 / 10
        assert row["csms_needed_low_touch"] == 0.02  # default 100 kept: (1 + 1 untiered) / 100
        assert row["csms_needed"] == 4  # ceil(3 + 0.02 + 0.002)

    def test_untiered_customers_are_staffed_as_the_default_tier(self, staffed: TestClient) -> None:
        staffed.app.state.settings = Settings(default_tier="high_touch")  # type: ignore[attr-defined]
        answer = staffed.get("/v1/metrics/staffing", params={"start": "2026-02-01", "end": "2026-02-28"}).json()
        (row,) = answer["rows"]
        # (30 + 1 untiered) / 25 = 1.24; low_touch is back to 1 / 100 = 0.01. ceil(1.24 + 0.01 + 0.002) = 2.
        assert (row["csms_needed_high_touch"], row["csms_needed_low_touch"], row["csms_needed"]) == (1.24, 0.01, 2)
        assert row["customers_untiered"] == 1  # the count stays as the data has it
        assert answer["meta"]["default_tier"] == "high_touch"

    def test_fte_figures_are_json_numbers_with_two_places_and_csv_keeps_them(self, staffed: TestClient) -> None:
        params = {"start": "2026-02-01", "end": "2026-02-28"}
        (row,) = rows(staffed, **params)
        assert isinstance(row["csms_needed_high_touch"], float)
        assert isinstance(row["csms_needed"], int)
        text = staffed.get("/v1/metrics/staffing", params={**params, "format": "csv"}).text
        header, line = text.splitlines()[:2]
        cells = dict(zip(header.split(","), line.split(","), strict=True))
        assert (cells["csms_needed_high_touch"], cells["csms_needed_low_touch"], cells["csms_needed"]) == (
            "1.20",
            "0.02",
            "2",
        )

    def test_group_by_is_422(self, client: TestClient) -> None:
        response = client.get("/v1/metrics/staffing", params={"start": "2026-02-01", "end": "2026-02-28",
                                                               "group_by": "segment"})  # fmt: skip
        assert response.status_code == 422

    def test_csv(self, staffed: TestClient) -> None:
        response = staffed.get("/v1/metrics/staffing", params={"start": "2026-02-01", "end": "2026-02-28",
                                                                "format": "csv"})  # fmt: skip
        header = response.text.splitlines()[0].split(",")
        assert header[:5] == ["period_start", "period_end", "group", "csms", "onboarding_reps"]


class TestFteExample:
    def test_four_part_time_needs_of_1_21_fte_are_2_csms(self, client: TestClient) -> None:
        # high_touch 10 / 25 = 0.40; tech_touch 150 / 500 = 0.30; low_touch 50 and one untiered customer, counted as
        # low_touch: 51 / 100 = 0.51. Total 0.40 + 0.51 + 0.30 = 1.21 FTE → 2 CSMs (ceilings per tier gave 3, and
        # the untiered customer needed nobody).
        tiers = [("high_touch", 10), ("low_touch", 50), ("tech_touch", 150), (None, 1)]
        customers = [{"id": f"{tier}-{n}", "tier": tier} for tier, count in tiers for n in range(count)]
        assert client.post("/v1/customers/batch", json={"customers": customers}).status_code == 200
        events = [{"id": f"e-{c['id']}", "customer": c["id"], "product": "core", "effective_date": "2026-01-01",
                   "arr": 1000} for c in customers]  # fmt: skip
        assert client.post("/v1/revenue-events", json={"events": events}).status_code == 200
        one_csm = {"id": "c1", "role": "csm", "started_on": "2025-01-01"}
        assert client.post("/v1/team-members/batch", json={"team_members": [one_csm]}).status_code == 200
        (row,) = rows(client, start="2026-01-01", end="2026-01-31")
        needs = [row[f"csms_needed_{t}"] for t in ("high_touch", "low_touch", "tech_touch")]
        assert needs == [10 / 25, (50 + 1) / 100, 150 / 500] == [0.4, 0.51, 0.3]
        assert (row["csms_needed"], row["csm_gap"]) == (2, 2 - 1)


class TestDefaultTier:
    def test_default_is_low_touch(self) -> None:
        assert Settings().default_tier == "low_touch"

    def test_from_the_environment(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv("CSROI_DEFAULT_TIER", "tech_touch")
        assert Settings().default_tier == "tech_touch"

    @pytest.mark.parametrize("bad", ["mid_touch", "", "LOW_TOUCH"])
    def test_a_value_that_is_not_a_tier_is_refused_at_start(self, bad: str) -> None:
        with pytest.raises(ValidationError, match="CSROI_DEFAULT_TIER"):
            Settings(default_tier=bad)


class TestCsmRatios:
    def test_default(self) -> None:
        assert Settings().csm_ratios == {"high_touch": 25, "low_touch": 100, "tech_touch": 500}

    def test_parses_pairs_and_keeps_defaults_for_the_rest(self) -> None:
        assert parse_csm_ratios(" high_touch=20 , tech_touch=1000,") == {**DEFAULT_CSM_RATIOS, "high_touch": 20,
                                                                        "tech_touch": 1000}  # fmt: skip

    def test_from_the_environment(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv("CSROI_CSM_RATIOS", "low_touch=80")
        assert Settings().csm_ratios["low_touch"] == 80

    @pytest.mark.parametrize("bad", ["mid_touch=5", "high_touch", "high_touch=0", "high_touch=2.5", "low_touch=x"])
    def test_bad_values_are_refused_at_start(self, bad: str) -> None:
        with pytest.raises(ValidationError, match="CSROI_CSM_RATIOS"):
            Settings(csm_ratios=bad)
