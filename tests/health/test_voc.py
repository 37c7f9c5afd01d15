"""NPS, CSAT, CES and support times against hand-computed examples (SPEC §6)."""

from datetime import date

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from app.health import voc

_n = iter(range(1_000_000))


def ev(customer: str, kind: str, at: str, value: float = 1, **properties: str) -> dict:
    return {"id": f"v{next(_n)}", "customer": customer, "kind": kind, "occurred_at": at, "value": value,
            "properties": properties}  # fmt: skip


def post(client: TestClient, events: list[dict]) -> None:
    assert client.post("/v1/events", json={"events": events}).status_code == 200


class TestFormulas:
    def test_nps(self) -> None:
        assert voc.nps(promoters=3, detractors=2, responses=6) == pytest.approx(100 * (3 - 2) / 6)
        assert voc.nps(promoters=0, detractors=0, responses=0) is None

    def test_csat_and_ces(self) -> None:
        assert voc.csat(satisfied=2, responses=4) == 2 / 4
        assert voc.ces(total=voc.Decimal(12), responses=3) == 12 / 3
        assert voc.csat(satisfied=0, responses=0) is None

    def test_median_and_mean_hours(self) -> None:
        assert voc.median_hours([2, 4, 0.5]) == 2
        assert voc.mean_hours([2, 4, 0.5]) == pytest.approx((2 + 4 + 0.5) / 3)
        assert voc.median_hours([]) is None


class TestVoc:
    def test_surveys_in_the_period(self, client: TestClient, session: Session) -> None:
        nps = [ev("c1", "survey_response", "2026-03-02T10:00:00Z", s, survey="nps") for s in (10, 9, 9, 8, 6, 3)]
        csat = [ev("c2", "survey_response", "2026-03-03T10:00:00Z", s, survey="csat") for s in (5, 4, 3, 2)]
        ces = [ev("c2", "survey_response", "2026-03-31T23:00:00Z", s, survey="ces") for s in (2, 3, 7)]
        outside = [ev("c1", "survey_response", "2026-04-01T00:00:00Z", 0, survey="nps")]
        post(client, nps + csat + ces + outside)
        result = voc.voc(session, start=date(2026, 3, 1), end=date(2026, 3, 31))
        assert result.responses == 6 + 4 + 3
        assert result.nps == pytest.approx(100 * (3 - 2) / 6)  # promoters 10, 9, 9; detractors 6, 3
        assert result.csat == 2 / 4  # 5 and 4 of four answers
        assert result.ces == pytest.approx((2 + 3 + 7) / 3)


class TestSupport:
    def test_ticket_times_and_escalation_rate(self, client: TestClient, session: Session) -> None:
        post(client, [
            ev("c1", "ticket_opened", "2026-03-01T09:00:00Z", ticket="T1"),
            ev("c1", "ticket_first_response", "2026-03-01T11:00:00Z", ticket="T1"),  # 2 h
            ev("c1", "ticket_escalated", "2026-03-01T12:00:00Z", ticket="T1"),
            ev("c1", "ticket_resolved", "2026-03-02T09:00:00Z", ticket="T1"),  # 24 h
            ev("c1", "ticket_opened", "2026-03-05T00:00:00Z", ticket="T2"),
            ev("c1", "ticket_first_response", "2026-03-05T04:00:00Z", ticket="T2"),  # 4 h, unresolved
            ev("c2", "ticket_opened", "2026-03-10T10:00:00Z", ticket="T1"),  # another customer's T1
            ev("c2", "ticket_first_response", "2026-03-10T10:30:00Z", ticket="T1"),  # 0.5 h
            ev("c2", "ticket_resolved", "2026-03-10T13:00:00Z", ticket="T1"),  # 3 h
            ev("c1", "ticket_opened", "2026-02-20T09:00:00Z", ticket="T0"),  # opened before the period
            ev("c1", "ticket_resolved", "2026-03-03T09:00:00Z", ticket="T0"),
        ])  # fmt: skip
        result = voc.support(session, start=date(2026, 3, 1), end=date(2026, 3, 31))
        assert result.tickets_opened == 3
        assert result.median_first_response_hours == 2
        assert result.mean_first_response_hours == pytest.approx((2 + 4 + 0.5) / 3)
        assert result.median_resolution_hours == (24 + 3) / 2
        assert result.escalation_rate == 1 / 3
