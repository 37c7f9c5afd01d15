"""`/v1/metrics/retention` over HTTP: parameters refused as 422 problems, JSON rows and CSV."""

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from tests.builders import post_revenue, revenue


class TestRetentionRoute:
    def test_unknown_parameter_and_reversed_range_are_422_problems(self, client: TestClient) -> None:
        response = client.get("/v1/metrics/retention?start=2026-01-01&end=2026-03-31&colour=red")
        assert response.status_code == 422
        assert response.json()["errors"][0]["loc"] == ["query", "colour"]
        response = client.get("/v1/metrics/retention?start=2026-03-31&end=2026-01-01")
        assert response.status_code == 422
        assert response.headers["content-type"].startswith("application/problem+json")

    def test_missing_dates_and_bad_group_are_422(self, client: TestClient) -> None:
        assert client.get("/v1/metrics/retention").status_code == 422
        assert client.get("/v1/metrics/retention?start=2026-01-01&end=2026-01-31&group_by=colour").status_code == 422

    def test_json_rows_and_csv(self, client: TestClient, session: Session) -> None:
        post_revenue(session, revenue("c1", "2025-01-01", 1000), revenue("c1", "2026-01-10", 1100))
        session.commit()
        body = client.get("/v1/metrics/retention?start=2026-01-01&end=2026-01-31").json()
        assert body["rows"][0]["nrr"] == 1.1
        assert body["rows"][0]["group"] is None
        assert body["meta"]["start"] == "2026-01-01"
        csv = client.get("/v1/metrics/retention?start=2026-01-01&end=2026-01-31&format=csv").text.splitlines()
        assert csv[0].startswith("period_start,period_end,group,customers_start,starting_arr")
        assert csv[1].startswith("2026-01-01,2026-01-31,,1,1000.00,1100.00")
        assert csv[1].endswith(",1.1")
