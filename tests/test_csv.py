"""CSV answers (`app/csv.py`): no cell a spreadsheet would run as a formula, numbers still numbers (issue 10)."""

import csv
import io
from datetime import date
from decimal import Decimal

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from app.csv import csv_text, neutralise
from tests.builders import make_cost, make_customer, post_revenue, revenue

# Cells from the fuzzing report and OWASP's list of formula starts: = + - @ tab, carriage return.
FORMULAS = ['=HYPERLINK("http://x.example","x")', "+1+2", "-2+3", "@SUM(A1)", "\tx", "\rx", "=1+1", "-", "+"]


def _rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


class TestNeutralise:
    @pytest.mark.parametrize("text", FORMULAS)
    def test_a_formula_start_gets_a_leading_quote(self, text: str) -> None:
        assert neutralise(text) == "'" + text

    @pytest.mark.parametrize("text", ["-0.25", "-12", "+3", "-1000.00", "Acme", "a=b", "", "'=already quoted"])
    def test_plain_numbers_and_other_text_are_unchanged(self, text: str) -> None:
        assert neutralise(text) == text

    def test_only_text_cells_are_touched(self) -> None:
        row = {"money": Decimal("-1234.50"), "ratio": Decimal("-0.25"), "count": -3, "score": -1.5, "text": "-0.25"}
        row |= {"name": "=cmd", "day": date(2026, 1, 2), "json": {"k": "=v"}, "none": None}
        (got,) = _rows(csv_text([row], list(row)))
        assert got == {
            "money": "-1234.50",
            "ratio": "-0.25",
            "count": "-3",
            "score": "-1.5",
            "text": "-0.25",
            "name": "'=cmd",
            "day": "2026-01-02",
            "json": '{"k":"=v"}',  # a JSON cell starts with {: nothing to run
            "none": "",
        }


class TestCsvAnswers:
    def test_customer_names_are_neutralised_in_csv_and_raw_in_json(self, client: TestClient) -> None:
        for index, name in enumerate(FORMULAS):
            assert client.put(f"/v1/customers/c{index}", json={"name": name}).status_code == 201
        rows = _rows(client.get("/v1/customers?format=csv").text)
        # Text fields strip surrounding whitespace on input, so "\tx" and "\rx" arrive as "x".
        stored = {item["id"]: item["name"] for item in client.get("/v1/customers").json()["items"]}
        assert stored["c0"] == FORMULAS[0]  # JSON keeps the value as sent
        for row in rows:
            assert row["name"] == neutralise(stored[row["id"]])
            assert not row["name"].startswith(("=", "+", "-", "@", "\t", "\r"))

    def test_cost_notes_are_neutralised(self, client: TestClient, session: Session) -> None:
        make_cost(session, month="2026-01", amount=10, note="@SUM(A1)")
        session.commit()
        (row,) = _rows(client.get("/v1/costs?format=csv").text)
        assert (row["note"], row["amount"]) == ("'@SUM(A1)", "10.00")

    def test_metric_groups_are_neutralised_and_negative_ratios_stay_numbers(
        self, client: TestClient, session: Session
    ) -> None:
        make_customer(session, id="c1", segment="=1+1")
        make_customer(session, id="c2", segment="-5")
        post_revenue(session, revenue("c1", "2025-01-01", 1000), revenue("c2", "2025-01-01", 1000))
        make_cost(session, month="2026-01", amount=1000)
        session.commit()
        query = "start=2026-01-01&end=2026-01-31&format=csv"
        groups = [row["group"] for row in _rows(client.get(f"/v1/metrics/retention?{query}&group_by=segment").text)]
        assert sorted(groups) == ["'=1+1", "-5"]  # "-5" is a number, not a formula
        (roi,) = _rows(client.get(f"/v1/metrics/roi?{query}").text)
        assert roi["roi"] == "-1"  # (0 revenue − 1,000 cost) / 1,000: data, written as a number
