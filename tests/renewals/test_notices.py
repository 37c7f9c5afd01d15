"""renewal.due (SPEC §11): once per open renewal and threshold (CSROI_RENEWAL_NOTICE_DAYS, default 90,30)."""

import json
from datetime import date, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.models import WebhookEvent
from app.renewals.notices import emit_due_notices
from tests.builders import make_customer, make_renewal, make_webhook

TODAY = date(2026, 12, 1)
DEFAULT = [90, 30]


def notices(session: Session) -> list[dict]:
    return [json.loads(r.data) for r in session.scalars(select(WebhookEvent).order_by(WebhookEvent.id))]


def due_in(days: int) -> str:
    return (TODAY + timedelta(days=days)).isoformat()


class TestThresholds:
    def test_a_renewal_due_in_75_days_gets_its_90_day_notice_once(self, session: Session) -> None:
        make_webhook(session, events=["renewal.due"])
        make_customer(session, id="acme", name="Acme")
        make_renewal(session, id="r1", customer="acme", due_date=due_in(75), arr_up_for_renewal="24000.50")
        assert emit_due_notices(session, today=TODAY, thresholds=DEFAULT) == 1
        assert emit_due_notices(session, today=TODAY + timedelta(days=1), thresholds=DEFAULT) == 0
        assert notices(session) == [
            {
                "renewal": "r1",
                "customer": "acme",
                "customer_name": "Acme",
                "due_date": "2027-02-14",
                "days_until_due": 75,
                "notice_days": 90,
                "arr_up_for_renewal": 24000.50,
            }
        ]

    def test_then_its_30_day_notice_when_it_is_due_in_30_days(self, session: Session) -> None:
        make_webhook(session, events=["renewal.due"])
        make_customer(session, id="acme")
        make_renewal(session, id="r1", customer="acme", due_date=due_in(75))
        emit_due_notices(session, today=TODAY, thresholds=DEFAULT)
        assert emit_due_notices(session, today=TODAY + timedelta(days=44), thresholds=DEFAULT) == 0  # due in 31
        assert emit_due_notices(session, today=TODAY + timedelta(days=45), thresholds=DEFAULT) == 1  # due in 30
        assert [(n["notice_days"], n["days_until_due"]) for n in notices(session)] == [(90, 75), (30, 30)]

    def test_a_renewal_first_seen_inside_30_days_gets_only_the_30_day_notice(self, session: Session) -> None:
        make_webhook(session, events=["renewal.due"])
        make_customer(session, id="acme")
        make_renewal(session, customer="acme", due_date=due_in(10))
        emit_due_notices(session, today=TODAY, thresholds=DEFAULT)
        assert [n["notice_days"] for n in notices(session)] == [30]

    def test_past_due_closed_and_far_renewals_get_none(self, session: Session) -> None:
        make_webhook(session, events=["renewal.due"])
        make_customer(session, id="acme")
        make_renewal(session, customer="acme", due_date=due_in(-1))
        make_renewal(session, customer="acme", due_date=due_in(91))
        make_renewal(session, customer="acme", due_date=due_in(20), status="renewed", booked_arr=1000,
                     closed_on=TODAY.isoformat())  # fmt: skip
        assert emit_due_notices(session, today=TODAY, thresholds=DEFAULT) == 0

    def test_due_today_is_noticed(self, session: Session) -> None:
        make_webhook(session, events=["renewal.due"])
        make_customer(session, id="acme")
        make_renewal(session, customer="acme", due_date=due_in(0))
        assert emit_due_notices(session, today=TODAY, thresholds=DEFAULT) == 1
        assert notices(session)[0]["days_until_due"] == 0

    def test_a_renewal_moved_to_a_later_date_is_noticed_again(self, session: Session) -> None:
        make_webhook(session, events=["renewal.due"])
        make_customer(session, id="acme")
        make_renewal(session, id="r1", customer="acme", due_date=due_in(60))
        emit_due_notices(session, today=TODAY, thresholds=DEFAULT)
        make_renewal(session, id="r1", customer="acme", due_date=due_in(80))
        assert emit_due_notices(session, today=TODAY, thresholds=DEFAULT) == 1

    def test_other_thresholds(self, session: Session) -> None:
        make_webhook(session, events=["renewal.due"])
        make_customer(session, id="acme")
        make_renewal(session, customer="acme", due_date=due_in(100))
        assert emit_due_notices(session, today=TODAY, thresholds=[120, 60, 14]) == 1
        assert notices(session)[0]["notice_days"] == 120

    def test_nothing_without_a_subscription(self, session: Session) -> None:
        make_customer(session, id="acme")
        make_renewal(session, customer="acme", due_date=due_in(10))
        assert emit_due_notices(session, today=TODAY, thresholds=DEFAULT) == 0
        assert notices(session) == []

    def test_many_renewals_one_statement(self, session: Session) -> None:
        make_webhook(session, events=["renewal.due"])
        make_customer(session, id="acme")
        for n in range(50):
            make_renewal(session, customer="acme", due_date=due_in(n))
        assert emit_due_notices(session, today=TODAY, thresholds=DEFAULT) == 50
        assert sorted({n["notice_days"] for n in notices(session)}) == [30, 90]
