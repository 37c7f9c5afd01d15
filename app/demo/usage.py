"""Usage, support and survey events whose patterns make health predictive: decline precedes churn."""

import random
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from itertools import chain
from typing import Any

from app.demo.book import USAGE_DAYS, Book, Plan

FEATURES = ("dashboards", "reports", "export", "alerts", "api", "integrations", "workflows", "sso")
LOGINS_PER_SEAT_WEEK = 2.8  # about 12 a month per seat at full engagement; the default model calls 20 good
MILESTONES = ((14, "kickoff"), (35, "integration"), (60, "first_value"))
# An at-risk customer's engagement falls to a quarter in a month; a saved one recovers as fast.
DIP, DIP_DAYS = 0.25, 30
# A new customer's first two weeks: every seat logs in and explores, twice as busy as later.
KICKOFF_DAYS = 14


def level(plan: Plan, day: date, paid_from: date) -> float:
    """How engaged the customer is that day (in the paying period from `paid_from`): its baseline, lifted by a
    working habit play, cut by risk; a customer that came back after churning starts afresh."""
    value = plan.engagement * (1.4 if plan.boost_from and day >= plan.boost_from else 1.0)
    if plan.risk is None or plan.turn is None or day < plan.risk[0] or paid_from >= plan.risk[1]:
        return value
    start, stop = plan.risk
    if day < plan.turn:  # both endings alike until the turn: down to a quarter within a month, and stays there
        return value * max(DIP, 1 - (1 - DIP) * (day - start).days / DIP_DAYS)
    if plan.saved:  # back to its baseline within a month
        return value * min(1.0, DIP + (1 - DIP) * (day - plan.turn).days / DIP_DAYS)
    # Not saved: down to a tenth by the renewal it does not renew.
    return value * max(0.1, DIP - (DIP - 0.1) * (day - plan.turn).days / max(1, (stop - plan.turn).days))


class Writer:
    """Numbers a customer's events and stamps them at a time of day."""

    def __init__(self, plan: Plan, rng: random.Random) -> None:
        self.plan, self.rng, self.count = plan, rng, 0
        self.paid_from = plan.land  # the start of the paying period being written (milestones count from it)

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


def _recovered(plan: Plan, day: date) -> bool:
    """The week a saved customer is back to its baseline: its CSM asks how it is going (an NPS answer)."""
    back = plan.turn + timedelta(days=DIP_DAYS) if plan.saved and plan.turn else None
    return back is not None and back <= day < back + timedelta(days=7)


def _week(w: Writer, day: date, week: int) -> Iterator[dict[str, Any]]:
    """One week of a paying customer's events."""
    rng, seats, lvl = w.rng, w.plan.seats, level(w.plan, day, w.paid_from)
    if (day - w.plan.land).days < KICKOFF_DAYS:
        lvl *= 2
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
    if week % 13 == int(w.plan.id[-1]) % 13 or _recovered(w.plan, day):
        nps = min(10, max(0, round(2 + 8 * min(1.0, lvl) + rng.gauss(0, 1.2))))
        yield w.event("survey_response", day + timedelta(days=3), value=nps, survey="nps")


def _dated(w: Writer, day: date, stop: date, outages: list[date]) -> Iterator[dict[str, Any]]:
    """The milestones and downtime of the days from `day` to `stop` (exclusive)."""
    for offset, milestone in MILESTONES:
        when = w.paid_from + timedelta(days=offset)
        if day <= when < stop:
            yield w.event("milestone_completed" if level(w.plan, when, w.paid_from) > 0.6 else "milestone_missed", when,
                          milestone=milestone)  # fmt: skip
    for when in outages:
        if day <= when < stop and w.rng.random() < 0.3:
            yield w.event("downtime", when, value=w.rng.choice((30, 60, 120, 240)))


def customer_events(book: Book, plan: Plan, rng: random.Random, outages: list[date]) -> Iterator[dict[str, Any]]:
    """Every event of one customer over the usage history to `book.usage_end`, only while it pays, in the order of
    its days: so the events before a day do not depend on what the customer's story does after it."""
    w, first = Writer(plan, rng), book.end - timedelta(days=USAGE_DAYS)
    for paid_from, paid_until in plan.paying:
        w.paid_from = paid_from
        start = max(first, paid_from)
        stop = book.usage_end if paid_until is None else min(book.usage_end, paid_until - timedelta(days=1))
        last = stop.isoformat()
        weeks = (stop - start).days // 7 + 1 if stop >= start else 0  # the last one cut at `stop`
        for week, day in enumerate(start + timedelta(days=7 * n) for n in range(weeks)):
            for event in chain(_week(w, day, week), _dated(w, day, day + timedelta(days=7), outages)):
                if event["occurred_at"][:10] <= last:  # e.g. a ticket opened near the end is not resolved yet
                    yield event


def plan_events(book: Book, plan: Plan, seed: int) -> Iterator[dict[str, Any]]:
    """One customer's events, from a generator of its own (so one customer's story never shifts another's events,
    and the same seed gives the same events)."""
    first = book.end - timedelta(days=USAGE_DAYS)
    outages = [first + timedelta(days=d) for d in (40, 95, 150, 190)]
    return customer_events(book, plan, random.Random(f"{seed}:{plan.id}"), outages)


def usage_events(book: Book, seed: int) -> Iterator[dict[str, Any]]:
    """The whole book's usage events, customer by customer."""
    for plan in book.plans:
        yield from plan_events(book, plan, seed)
