"""Shared API types (`app/schemas.py`): dates and months are bounded to 1900-01-01 .. 9998-12-31, answered as 422."""

import pytest
from fastapi.testclient import TestClient

METRICS = ["retention", "renewals", "cost-of-renewals", "unit-economics", "roi", "health", "voc", "support", "staffing"]


class TestDateBounds:
    @pytest.mark.parametrize("metric", METRICS)
    @pytest.mark.parametrize(("start", "end"), [("9999-12-01", "9999-12-31"), ("0001-01-01", "0001-02-01")])
    def test_dates_outside_the_supported_range_are_422(
        self, client: TestClient, metric: str, start: str, end: str
    ) -> None:
        response = client.get(f"/v1/metrics/{metric}", params={"start": start, "end": end, "interval": "month"})
        assert response.status_code == 422, response.text
        assert "1900-01-01" in response.json()["errors"][0]["msg"]

    @pytest.mark.parametrize(
        "path", ["/v1/scorecards/9999-12", "/v1/scorecards/0001-01", "/v1/customers/a/health?as_of=9999-12-31"]
    )
    def test_extreme_months_and_days_are_422(self, client: TestClient, path: str) -> None:
        client.put("/v1/customers/a", json={})
        assert client.get(path).status_code == 422

    def test_the_widest_supported_range_answers(self, client: TestClient) -> None:
        response = client.get("/v1/metrics/cost-of-renewals?start=1900-01-01&end=1900-02-28")
        assert response.status_code == 200
        assert client.get("/v1/scorecards/1910-01").status_code == 200
        assert client.get("/v1/scorecards/1909-12").status_code == 422
