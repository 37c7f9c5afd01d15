"""scorecard.closed (SPEC §11): closing a month announces its frozen card, in the close's transaction."""

import json

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.models import WebhookEvent
from tests.builders import make_closed_month, make_webhook


def test_closing_a_month_announces_the_frozen_card(session: Session) -> None:
    make_webhook(session, events=["scorecard.closed"])
    card = make_closed_month(session, month="2026-10")
    [row] = session.scalars(select(WebhookEvent))
    data = json.loads(row.data)
    assert (row.type, row.customer_id, row.dedupe_key) == ("scorecard.closed", None, "scorecard.closed:2026-10")
    assert data["month"] == "2026-10"
    assert data["closed_at"] == card.model_dump(mode="json")["closed_at"]
    assert data["quadrants"] == card.model_dump(mode="json")["quadrants"]


def test_a_refused_close_announces_nothing(client: TestClient, session: Session) -> None:
    make_webhook(session, events=["scorecard.closed"])
    session.commit()
    assert client.post("/v1/scorecards/2999-01/close").status_code == 409  # not ended yet
    assert session.scalars(select(WebhookEvent)).all() == []
