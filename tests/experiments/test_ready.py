"""experiment.ready (SPEC §11): once an experiment's every window has closed, its result is announced once."""

import json
from datetime import date
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.experiments import service
from app.experiments.ready import emit_ready
from app.models import Webhook, WebhookEvent
from tests.builders import assign, make_customers, make_experiment, make_webhook, post_revenue, revenue


def ready(session: Session, today: str) -> int:
    return emit_ready(session, today=date.fromisoformat(today), default_hourly=Decimal(75), currency="USD")


def book(session: Session) -> str:
    make_webhook(session, events=["experiment.ready"])
    customers = [f"c{n}" for n in range(10)]
    make_customers(session, customers)
    post_revenue(session, *[revenue(c, "2026-01-01", 1000) for c in customers])
    experiment = make_experiment(session, id="xp", starts_on="2026-03-01", ends_on="2026-03-31", window_days=30)
    assign(session, experiment="xp", as_of="2026-03-01")
    return experiment.id


def test_announced_once_the_enrollment_is_over_and_every_window_closed(session: Session) -> None:
    book(session)
    # Enrolled 2026-03-01 for 30 days: the windows run to 2026-03-30 and are closed from 2026-03-31, when
    # the enrollment also ends (ends_on 2026-03-31): final from 2026-04-01.
    assert ready(session, "2026-03-30") == 0
    assert ready(session, "2026-03-31") == 0
    assert ready(session, "2026-04-01") == 1
    assert ready(session, "2026-04-02") == 0
    [row] = session.scalars(select(WebhookEvent))
    data = json.loads(row.data)
    assert (row.type, data["experiment"], data["name"], data["as_of"]) == (
        "experiment.ready", "xp", "test experiment", "2026-04-01",
    )  # fmt: skip
    assert data["status"] == "underpowered"  # ten customers: an arm below 30
    assert data["arms"]["treatment"]["customers"] + data["arms"]["holdout"]["customers"] == 10


def test_a_stopped_experiment_is_final_once_its_windows_close(session: Session) -> None:
    book(session)
    service.stop_experiment(session, "xp", date(2026, 3, 10))
    assert ready(session, "2026-03-30") == 0
    assert ready(session, "2026-03-31") == 1


def test_nothing_without_a_subscription(session: Session) -> None:
    book(session)
    session.execute(Webhook.__table__.delete())
    assert ready(session, "2026-05-01") == 0
