"""Usage, support and survey events whose patterns make health predictive: decline precedes churn."""

import random
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

from app.demo.book import USAGE_DAYS, Book, Plan

FEATURES = ("dashboards", "reports", "export", "alerts", "api", "integrations", "workflows", "sso")
LOGINS_PER_SEAT_WEEK = 2.8  # about 12 a month per seat at full engagement; the default model calls 20 good
MILESTONES = ((14, "kickoff"), (35, "integration"), (60, "first_value"))


def level(plan: Plan, day: date) -> float:
    """How engaged the customer is that day: its baseline, lifted by a working habit play, cut by risk."""
    value = plan.engagement * (1.4 if plan.boost_from and day >= plan.boost_from else 1.0)
    if plan.risk is None or day < plan.risk[0]:
        return value
    start, stop = plan.risk
    if not plan.saved:
        return value * max(0.1, 1 - 0.9 * (day - start).days / max(1, (stop - start).days))
    middle = start + (stop - start) / 2
    if day <= middle:  # a saved customer dips to 30 % by mid-span, then recovers after the save play
        return value * (1 - 0.7 * (day - start).days / max(1, (middle - start).days))
    return value * min(1.0, 0.3 + 0.7 * (day - middle).days / max(1, (stop - middle).days))


class Writer:
    """Numbers a customer's events and stamps them at a time of day."""

    def __init__(self, plan: Plan, rng: random.Random) -> None:
        self.plan, self.rng, self.count = plan, rng, 0

    def event(self, kind: str, day: date, value: float = 1, hours: float = 0, **properties: Any) -> dict[str, Any]:
        """One usage event body; `hours` after a random working-day time."""
        self.count += 1
        at = datetime(day.year, day.month, day.day, 8, tzinfo=UTC) + timedelta(
            minutes=self.rng.randint(0, 600), hours=hours
        )
        return {"id": f"{self.plan.id}-ev-{self.count}", "customer": self.plan.id, "kind": kind,
                "occurred_at": at.isoformat(), "value": value, "properties": properties}  # fmt: skip


def _ticket(w: Writer, day: date, lvl: float, n: int) -> Iterator[dict[str, Any]]:
    """A ticket's opened, first response, resolved (and maybe escalated) events, linked by its id."""
    ticket = f"{w.plan.id}-t{n}"
    yield w.event("ticket_opened", day, ticket=ticket)
    yield w.event("ticket_first_response", day, hours=w.rng.uniform(0.5, 10), ticket=ticket)
    if w.rng.random() < 0.04 + 0.6 * max(0.0, 1 - lvl):
        yield w.event("ticket_escalated", day, hours=w.rng.uniform(12, 30), ticket=ticket)
    yield w.event("ticket_resolved", day, hours=w.rng.uniform(4, 96), ticket=ticket)
    if w.rng.random() < 0.5:
        csat = min(5, max(1, round(1 + 4 * min(1.0, lvl) + w.rng.gauss(0, 0.6))))
        yield w.event("survey_response", day, value=csat, hours=100, survey="csat")


def _week(w: Writer, day: date, week: int) -> Iterator[dict[str, Any]]:
    """One week of a paying customer's events."""
    rng, seats, lvl = w.rng, w.plan.seats, level(w.plan, day)
    if week % 4 == 0:
        yield w.event("seats", day, value=seats)
    for _ in range(round(seats * LOGINS_PER_SEAT_WEEK * lvl * rng.uniform(0.8, 1.2))):
        yield w.event("login", day + timedelta(days=rng.randint(0, 6)))
    yield w.event("active_users", day + timedelta(days=2), value=min(seats, round(seats * min(0.98, 0.78 * lvl))))
    breadth = FEATURES[: max(1, min(len(FEATURES), round(6 * lvl)))]
    for _ in range(max(1, round(3 * lvl))):
        yield w.event("feature_used", day + timedelta(days=rng.randint(0, 6)), feature=rng.choice(breadth))
    if rng.random() < 0.12 + 0.3 * max(0.0, 1 - lvl):
        yield from _ticket(w, day + timedelta(days=rng.randint(0, 4)), lvl, week)
    if week % 13 == int(w.plan.id[-1]) % 13:
        nps = min(10, max(0, round(2 + 8 * min(1.0, lvl) + rng.gauss(0, 1.2))))
        yield w.event("survey_response", day + timedelta(days=3), value=nps, survey="nps")


def customer_events(book: Book, plan: Plan, rng: random.Random, outages: list[date]) -> Iterator[dict[str, Any]]:
    """Every event of one customer over the usage history, only while it pays."""
    w, first = Writer(plan, rng), book.end - timedelta(days=USAGE_DAYS)
    for paid_from, paid_until in plan.paying:
        start, stop = max(first, paid_from), min(book.end, (paid_until or book.end) - timedelta(days=1))
        for week, day in enumerate(start + timedelta(days=7 * n) for n in range(max(0, (stop - start).days // 7))):
            yield from _week(w, day, week)
        for offset, milestone in MILESTONES:
            day = paid_from + timedelta(days=offset)
            if start <= day <= stop:
                kind = "milestone_completed" if level(plan, day) > 0.6 else "milestone_missed"
                yield w.event(kind, day, milestone=milestone)
        for day in outages:
            if start <= day <= stop and rng.random() < 0.3:
                yield w.event("downtime", day, value=rng.choice((30, 60, 120, 240)))


def usage_events(book: Book, rng: random.Random) -> Iterator[dict[str, Any]]:
    """The whole book's usage events, customer by customer."""
    first = book.end - timedelta(days=USAGE_DAYS)
    outages = [first + timedelta(days=d) for d in (40, 95, 150, 190)]
    for plan in book.plans:
        yield from customer_events(book, plan, rng, outages)
