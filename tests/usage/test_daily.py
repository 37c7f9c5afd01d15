"""Daily aggregates in (SPEC §14): POST /v1/usage/daily, the raw/daily 409 and `csroi import usage-daily`."""

from datetime import date
from decimal import Decimal
from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from app import cli
from app.health.schemas import ComponentIn
from app.models import UsageDaily
from app.usage.store import RawSqlReads, SqlStore


def daily(customer: str = "c1", kind: str = "login", day: str = "2026-03-02", **fields: object) -> dict:
    return {"customer": customer, "kind": kind, "day": day, **fields}


def post(client: TestClient, *rows: dict) -> tuple[int, dict]:
    response = client.post("/v1/usage/daily", json={"rows": list(rows)})
    return response.status_code, response.json()


def days(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(UsageDaily)) or 0


class TestPostUsageDaily:
    def test_creates_replaces_and_recognises_a_resent_day(self, client: TestClient) -> None:
        rows = [daily(count=3), daily(kind="seats", last=10), daily(kind="feature_used", distinct_values=["a", "b"])]
        assert post(client, *rows) == (200, {"created": 3, "updated": 0, "unchanged": 0})
        assert post(client, *rows) == (200, {"created": 0, "updated": 0, "unchanged": 3})
        changed = [daily(count=4), rows[1], daily(kind="feature_used", distinct_values=["b", "a", "c"])]
        assert post(client, *changed) == (200, {"created": 0, "updated": 2, "unchanged": 1})
        assert client.get("/v1/customers/c1").status_code == 200  # stub customer

    def test_defaults_count_1_and_sum_count(self, client: TestClient, session: Session) -> None:
        assert post(client, daily(kind="seats", last="12.5"), daily(kind="login", count=7))[0] == 200
        seats = session.scalars(select(UsageDaily).where(UsageDaily.kind == "seats")).one()
        logins = session.scalars(select(UsageDaily).where(UsageDaily.kind == "login")).one()
        assert (seats.events, seats.sum_micros, seats.last_micros, seats.source) == (1, 1_000_000, 12_500_000, "daily")
        assert (logins.events, logins.sum_micros, logins.last_micros) == (7, 7_000_000, None)  # 7 events worth 1

    def test_health_reads_daily_rows(self, client: TestClient, session: Session) -> None:
        # Logins per seat over 7 days ending 3-10: days 3-04 (5) and 3-10 (3) count, 3-03 is outside; seats 4.
        post(
            client,
            daily(day="2026-03-03", count=100),
            daily(day="2026-03-04", count=5),
            daily(day="2026-03-10", count=3),
            daily(kind="seats", day="2026-03-01", last=4),
            daily(kind="feature_used", day="2026-03-09", distinct_values=["a", "b"]),
            daily(kind="feature_used", day="2026-03-10", distinct_values=["b", "c"]),
        )
        logins = ComponentIn(name="l", weight=1, kind="login", aggregate="count", window_days=7, bad=0, good=1)
        features = ComponentIn(
            name="f", weight=1, kind="feature_used", aggregate="distinct", property="feature", window_days=7, bad=0,
            good=1,
        )  # fmt: skip
        raws, seats = SqlStore().model_raws(
            session, [logins, features], as_of=date(2026, 3, 10), customers=None, seats=True
        )
        assert raws == [{"c1": Decimal(5 + 3)}, {"c1": Decimal(3)}]  # {a, b} ∪ {b, c} = 3 values
        assert seats["c1"][0] == Decimal(4)
        assert RawSqlReads().model_raws(session, [logins], as_of=date(2026, 3, 10), customers=None, seats=True) == (
            [{}],
            {},
        )  # nothing raw: the raw path sees no data

    def test_mixing_sources_is_409_naming_the_pairs(self, client: TestClient, session: Session) -> None:
        event = {"id": "e1", "customer": "c1", "kind": "login", "occurred_at": "2026-03-01T09:00:00Z"}
        assert client.post("/v1/events", json={"events": [event]}).status_code == 200
        status, body = post(client, daily(count=2), daily(kind="seats", last=3))
        assert status == 409
        assert body["pairs"] == [{"customer": "c1", "kind": "login"}]
        assert days(session) == 1  # the raw event's day only: nothing of the batch was written
        assert post(client, daily(kind="seats", last=3))[0] == 200
        seat_event = {**event, "id": "e2", "kind": "seats"}
        response = client.post("/v1/events", json={"events": [seat_event]})
        assert response.status_code == 409
        assert response.json()["pairs"] == [{"customer": "c1", "kind": "seats"}]

    def test_duplicate_days_in_a_batch_are_422_naming_both(self, client: TestClient) -> None:
        status, body = post(client, daily(count=1), daily(kind="seats", last=1), daily(count=2))
        assert status == 422
        assert "rows 0 and 2" in body["errors"][0]["msg"]

    def test_bad_inputs_are_422(self, client: TestClient, session: Session) -> None:
        bad = [
            daily(count=-1),
            daily(count="3"),
            daily(count=None),
            daily(day="2026-02-30"),
            daily(sum="1e3"),
            daily(last=9e12),
            daily(distinct_values=[""]),
            daily(distinct_values="a"),
            daily(colour="red"),
            daily(count=0, sum=5),
        ]
        status, body = post(client, *bad)
        assert status == 422
        assert {e["loc"][2] for e in body["errors"]} == set(range(len(bad)))
        assert days(session) == 0

    def test_over_the_item_limit_is_413(self, client: TestClient) -> None:
        status, body = post(client, *[daily(day=f"2026-03-{1 + i % 28:02}", kind=f"k{i}") for i in range(10_001)])
        assert status == 413
        assert "10000" in body["detail"]


class TestImportUsageDaily:
    def test_imports_with_distinct_values_and_refuses_duplicate_lines(self, cli_db: str, tmp_path: Path) -> None:
        runner = CliRunner()
        assert runner.invoke(cli.cli, ["migrate"]).exit_code == 0
        good = tmp_path / "daily.csv"
        good.write_text(
            "customer,kind,day,count,sum,last,distinct_values\n"
            "c1,login,2026-03-02,4,,,\n"
            "c1,feature_used,2026-03-02,,,,export|reports\n"
            "c1,seats,2026-03-02,,,25,\n"
        )
        result = runner.invoke(cli.cli, ["import", "usage-daily", str(good)])
        assert result.exit_code == 0, result.output
        assert "created 3" in result.stdout
        bad = tmp_path / "bad.csv"
        bad.write_text("customer,kind,day,count\nc2,login,2026-03-02,1\nc2,login,2026-03-02,2\nc2,login,2026-13-01,1\n")
        result = runner.invoke(cli.cli, ["import", "usage-daily", str(bad)])
        assert result.exit_code == 1
        assert "line 3: the same customer, kind, day as line 2" in result.output
        assert "line 4: day" in result.output

    def test_rebuild_rollup_command(self, cli_db: str) -> None:
        runner = CliRunner()
        assert runner.invoke(cli.cli, ["migrate"]).exit_code == 0
        result = runner.invoke(cli.cli, ["usage", "rebuild-rollup"])
        assert result.exit_code == 0, result.output
        assert "rebuilt 0 usage_daily row(s)" in result.output
