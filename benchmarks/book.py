"""The ROI benchmark's book (issue 15): a seeded CS book of exactly the issue's shape, loaded through the services.

At `customers` = 10,000 the book has 10,000 customers, 5,000 interventions (a quarter at risk) and 2,000,000
usage events, and it scales proportionally (2,500 customers: 1,250 interventions, 500,000 events). Everything
is drawn from one seeded generator, relative to the book's `today`: same seed and same day, same book.

- A CS team (CSMs, onboarding, renewals, support, account managers, a manager) with whole-dollar hourly costs;
  a few CSMs have none, so their hours are priced at `CSROI_DEFAULT_HOURLY_COST`.
- Customers with segment, region, industry, tier and CSM; most landed one to three years ago, a quarter during
  the usage history. Annual renewals; the ledger has new business, upsells, cross-sells (an add-on), a few
  downsells, uplifts at renewal and churn at renewal, posted as revenue events through the ledger's
  `ingest_revenue_events` (which rebuilds the movements and the monthly rollup).
- Monthly costs of every team over the three years, and a few cost records linked to interventions.
- Usage events over the last ~14 months (`USAGE_DAYS`), written as rows through the usage service's COPY path
  (`ingest_usage_events` with `EventRow`s): logins, features, active users, monthly seats, milestones, tickets
  (opened, first response, resolved, sometimes escalated), downtime, NPS and CSAT. Engagement falls before an
  at-risk renewal (and recovers when the save works), and rises after a working adoption play.
- Weekly health snapshots (`snapshot_health`, one per week) over the whole intervention span.
- Interventions over the last ~13 months (`INTERVENTION_DAYS`), created in start order through the
  interventions service (so each captures its context), completed or (a few) cancelled: save plays before
  at-risk renewals (explicitly at risk, sometimes two in one episode, some customers in two episodes a year
  apart), onboarding calls, adoption campaigns, expansion reviews before expansions, routine check-ins. Then
  the outcomes due are measured (`measure_due`) and the churn model is fitted (`churn.refit`).

Hours are multiples of a quarter and hourly costs whole dollars, so every intervention cost is exact in cents.
"""

from __future__ import annotations

import math
import random
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from app.costs import service as costs_service
from app.costs.schemas import CostBatchItem
from app.customers import service as customers_service
from app.customers.schemas import CustomerBatchItem, TeamMemberBatchItem
from app.health import churn
from app.health import service as health_service
from app.interventions import service as interventions_service
from app.interventions.schemas import InterventionIn, TransitionIn
from app.ledger.ingest import ingest_revenue_events
from app.ledger.schemas import RevenueEventIn
from app.metrics.periods import add_months
from app.models import Intervention
from app.renewals import service as renewals_service
from app.renewals.schemas import RenewalBatchItem
from app.usage import service as usage_service
from app.usage.schemas import canonical_json

VERSION = 1  # bump when the book changes: roi.py then refuses to reuse a book of an older version
EVENTS_PER_CUSTOMER = 200  # 2,000,000 events at 10,000 customers
INTERVENTIONS_PER_CUSTOMER = 0.5  # 5,000 at 10,000
AT_RISK_SHARE = 0.25
LEDGER_DAYS = 3 * 365  # the oldest customers landed three years before `today`
USAGE_DAYS = 425  # ~14 months of usage events, ending yesterday
INTERVENTION_DAYS = 395  # ~13 months of intervention starts, ending yesterday
BATCH = 10_000  # records per service call
# Revenue events per batch: the ledger rebuild's plan on a fresh table joins two CTEs by nested loop (row
# estimate 1), so one batch costs the square of its size: 4,210 events took 17 s in one batch, 2.4 s in 500s.
REVENUE_BATCH = 500
EVENT_BATCH = 25_000  # usage events per COPY batch (one commit each)
INTERVENTION_COMMIT = 250

SEGMENTS = (("smb", 0.55), ("mid_market", 0.30), ("enterprise", 0.15))
TIERS = {
    "smb": (("tech_touch", 0.8), ("low_touch", 0.2)),
    "mid_market": (("low_touch", 0.75), ("high_touch", 0.25)),
    "enterprise": (("high_touch", 1.0),),
}
ARR_RANGE = {"smb": (3_000, 15_000), "mid_market": (20_000, 60_000), "enterprise": (80_000, 250_000)}
SEAT_RANGE = {"smb": (2, 6), "mid_market": (5, 12), "enterprise": (12, 30)}
CHURN_ODDS = {"smb": 0.14, "mid_market": 0.08, "enterprise": 0.04}  # churn at a renewal nobody worked on
REGIONS = (("na", 0.45), ("emea", 0.35), ("apac", 0.15), ("latam", 0.05))
INDUSTRIES = ("software", "fintech", "healthcare", "retail", "manufacturing", "education", "logistics")
MAIN, ADDON = "platform", "analytics"
FEATURES = ("dashboards", "reports", "export", "alerts", "api", "integrations", "workflows", "sso")
# Event kinds per unit of engagement, for a healthy week and a struggling one; "ticket" is a ticket's three events.
HEALTHY = (("login", 55), ("feature_used", 20), ("active_users", 9), ("milestone_completed", 2),
           ("milestone_missed", 0.3), ("ticket", 3), ("ticket_escalated", 0.3), ("downtime", 0.5), ("nps", 1.2),
           ("csat", 1.5))  # fmt: skip
STRUGGLING = (("login", 40), ("feature_used", 8), ("active_users", 8), ("milestone_completed", 0.5),
              ("milestone_missed", 2), ("ticket", 6), ("ticket_escalated", 3), ("downtime", 2), ("nps", 1.5),
              ("csat", 2))  # fmt: skip
SALARY_TEAMS = {"csm": "customer_success", "manager": "customer_success", "onboarding": "onboarding",
                "renewals": "renewals", "support": "support", "account_manager": "account_management"}  # fmt: skip
HOURS_PER_MONTH = 160


@dataclass(frozen=True)
class Shape:
    """How big the book is: the issue's proportions at any number of customers."""

    customers: int
    interventions: int
    events: int

    @classmethod
    def of(cls, customers: int) -> Shape:
        """The issue's shape scaled to `customers` (10,000: 5,000 interventions, 2,000,000 events)."""
        return cls(customers, round(customers * INTERVENTIONS_PER_CUSTOMER), customers * EVENTS_PER_CUSTOMER)


@dataclass
class Decline:
    """Engagement falls from `start` towards an at-risk renewal due on `due`; a saved one recovers from `turn`."""

    start: date
    turn: date
    due: date
    saved: bool

    def factor(self, day: date) -> float:
        """The share of normal engagement left on `day`."""
        if day < self.start:
            return 1.0
        if not self.saved:
            return max(0.15, 1 - 0.85 * (day - self.start).days / max(1, (self.due - self.start).days))
        if day <= self.turn:
            return max(0.3, 1 - 0.7 * (day - self.start).days / max(1, (self.turn - self.start).days))
        return min(1.0, 0.3 + 0.7 * (day - self.turn).days / 45)


@dataclass
class Story:
    """One customer's life in the book: what it pays, when it renews or leaves, how engaged it is."""

    id: str
    segment: str
    tier: str
    csm: str
    seats: int
    engagement: float
    land: date
    arr: int  # whole dollars of the main product at land
    renewals: list[date] = field(default_factory=list)
    churn_on: date | None = None  # churns at this renewal
    uplifts: dict[date, float] = field(default_factory=dict)  # renewal -> price factor
    changes: list[tuple[date, str, float]] = field(default_factory=list)  # (day, upsell|cross_sell|downsell, x)
    declines: list[Decline] = field(default_factory=list)
    boost_from: date | None = None

    def pays_on(self, day: date) -> bool:
        """Whether the customer pays on `day`."""
        return self.land <= day and (self.churn_on is None or day < self.churn_on)

    def level(self, day: date) -> float:
        """Engagement on `day`: the baseline, lifted by a working adoption play, cut by any decline."""
        value = self.engagement * (1.3 if self.boost_from is not None and day >= self.boost_from else 1.0)
        for decline in self.declines:
            value *= decline.factor(day)
        return value


@dataclass
class Book:
    """The plan of the whole book as API bodies, plus the stories the usage generator reads."""

    shape: Shape
    seed: int
    today: date
    team: list[dict[str, Any]] = field(default_factory=list)
    customers: list[dict[str, Any]] = field(default_factory=list)
    revenue: list[dict[str, Any]] = field(default_factory=list)
    renewals: list[dict[str, Any]] = field(default_factory=list)
    costs: list[dict[str, Any]] = field(default_factory=list)
    interventions: list[dict[str, Any]] = field(default_factory=list)  # bodies plus "_complete"/"_cancel" dates
    stories: list[Story] = field(default_factory=list)

    @property
    def usage_start(self) -> date:
        """The first day of usage events."""
        return self.today - timedelta(days=USAGE_DAYS)

    @property
    def intervention_start(self) -> date:
        """The first day an intervention may start."""
        return self.today - timedelta(days=INTERVENTION_DAYS)

    def snapshot_days(self) -> list[date]:
        """Weekly snapshot days, the last one yesterday, covering every intervention start."""
        last = self.today - timedelta(days=1)
        weeks = (last - self.intervention_start).days // 7 + 1
        return [last - timedelta(days=7 * n) for n in reversed(range(weeks + 1))]


def _pick(rng: random.Random, weighted: Sequence[tuple[str, float]]) -> str:
    return rng.choices([v for v, _ in weighted], weights=[w for _, w in weighted])[0]


def _day(rng: random.Random, first: date, last: date) -> date:
    return first + timedelta(days=rng.randint(0, max(0, (last - first).days)))


def _anniversary(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February
        return day.replace(year=day.year + years, day=28)


def _money(value: float) -> str:
    return str(Decimal(round(value)))


def _hours(rng: random.Random, low: float, high: float) -> str:
    return str(Decimal(rng.randint(round(low * 4), round(high * 4))) / 4)


def plan_book(customers: int, *, seed: int, today: date) -> Book:
    """The whole book, drawn from `random.Random(seed)` (usage events come later from `seed + 1`)."""
    rng = random.Random(seed)
    book = Book(shape=Shape.of(customers), seed=seed, today=today)
    _team(book, rng)
    _customers(book, rng)
    at_risk = _risk_plays(book, rng)
    _expansions(book, rng)
    others = _other_plays(book, rng, book.shape.interventions - len(at_risk))
    _ledger(book, rng)
    _costs(book, rng)
    plays = sorted(at_risk + others, key=lambda p: (p["started_on"], p["customer"], p["type"]))
    for n, play in enumerate(plays, 1):
        book.interventions.append({"id": f"iv-{n:05d}", **play})
    _linked_costs(book, rng)
    return book


def _team(book: Book, rng: random.Random) -> None:
    n = book.shape.customers
    roles = {
        "manager": (1, (110, 130)),
        "csm": (max(3, round(n / 60)), (78, 96)),
        "onboarding": (max(2, n // 200 + 1), (62, 74)),
        "renewals": (max(1, n // 250), (72, 84)),
        "support": (max(2, n // 150), (48, 58)),
        "account_manager": (max(1, n // 250), (84, 96)),
    }
    for role, (count, (low, high)) in roles.items():
        for k in range(1, count + 1):
            member = f"{role.replace('_', '-')}-{k}"
            # One CSM in twenty has no hourly cost on file: their hours use the default hourly cost.
            cost = None if role == "csm" and k % 20 == 0 else _money(rng.uniform(low, high))
            book.team.append(
                {"id": member, "name": f"{role.replace('_', ' ').title()} {k}", "email": f"{member}@bench.example",
                 "role": role, "hourly_cost": cost,
                 "started_on": (book.today - timedelta(days=LEDGER_DAYS + 200)).isoformat()}
            )  # fmt: skip


def _customers(book: Book, rng: random.Random) -> None:
    csms = [m["id"] for m in book.team if m["role"] == "csm"]
    first, recent = book.today - timedelta(days=LEDGER_DAYS), book.today - timedelta(days=USAGE_DAYS)
    for i in range(book.shape.customers):
        segment = _pick(rng, SEGMENTS)
        tier = _pick(rng, TIERS[segment])
        land = _day(rng, first, recent) if rng.random() < 0.75 else _day(rng, recent, book.today - timedelta(days=21))
        low, high = ARR_RANGE[segment]
        story = Story(
            id=f"cus-{i + 1:05d}", segment=segment, tier=tier, csm=rng.choice(csms),
            seats=rng.randint(*SEAT_RANGE[segment]), engagement=rng.uniform(0.5, 1.3), land=land,
            arr=round(rng.uniform(low, high), -2),
        )  # fmt: skip
        years = 1
        while (due := _anniversary(land, years)) <= book.today + timedelta(days=365):
            if due >= book.usage_start:
                story.renewals.append(due)
            years += 1
        story.renewals = story.renewals[: len([d for d in story.renewals if d < book.today]) + 1]
        # Churn at a renewal nobody worked on (an at-risk play may take this renewal over later).
        for due in story.renewals:
            if due < book.today and rng.random() < CHURN_ODDS[segment]:
                story.churn_on = due
                break
        book.stories.append(story)
        book.customers.append(
            {"id": story.id, "name": f"Bench Customer {i + 1}", "segment": segment, "region": _pick(rng, REGIONS),
             "industry": rng.choice(INDUSTRIES), "tier": tier, "csm": story.csm,
             "attributes": {"plan": MAIN, "seats": story.seats, "source": "benchmark"}}
        )  # fmt: skip


def _play(
    book: Book, rng: random.Random, story: Story, *, kind: str, framework: str, started_on: date,
    owner: str | None, reason: str, expected: dict[str, Any], hours: str, at_risk: bool,
) -> dict[str, Any]:  # fmt: skip
    """One intervention body; `_complete`/`_cancel` say how it ends (if it has by yesterday)."""
    body: dict[str, Any] = {
        "customer": story.id, "type": kind, "framework": framework, "owner": owner, "reason": reason,
        "status": "in_progress", "started_on": started_on, "hours": hours, "expected": expected, "at_risk": at_risk,
    }  # fmt: skip
    if rng.random() < 0.25:
        body["direct_cost"] = _money(rng.uniform(50, 1500))
    if rng.random() < 0.1:
        body["attribution_days"] = rng.choice((60, 120))
    yesterday = book.today - timedelta(days=1)
    if not at_risk and rng.random() < 0.02:
        if (cancelled := started_on + timedelta(days=rng.randint(1, 10))) <= yesterday:
            body["_cancel"] = cancelled
    elif (done := started_on + timedelta(days=rng.randint(7, 40))) <= yesterday:
        body["_complete"] = done
    return body


def _owner(rng: random.Random, story: Story, book: Book, team: str = "csm") -> str | None:
    """Mostly the customer's CSM (or a member of `team`); sometimes nobody, or someone no longer on file."""
    roll = rng.random()
    if roll < 0.07:
        return None
    if roll < 0.10:
        return f"former-csm-{rng.randint(1, 5)}"
    if team == "csm":
        return story.csm
    return rng.choice([m["id"] for m in book.team if m["role"] == team])


def _risk_plays(book: Book, rng: random.Random) -> list[dict[str, Any]]:
    """Save plays before at-risk renewals until a quarter of the interventions: declines, saves and churns."""
    target = round(book.shape.interventions * AT_RISK_SHARE)
    first, yesterday = book.intervention_start, book.today - timedelta(days=1)
    candidates = [
        (story, due)
        for story in book.stories
        for due in story.renewals
        if first + timedelta(days=45) <= due <= book.today + timedelta(days=60)
        and story.land < due - timedelta(days=120)
    ]
    rng.shuffle(candidates)
    plays: list[dict[str, Any]] = []
    for story, due in candidates:
        if len(plays) >= target:
            break
        if story.churn_on is not None and story.churn_on < due:
            continue  # gone before this renewal
        start = min(max(due - timedelta(days=rng.randint(20, 75)), first), yesterday)
        # A customer with a later episode already planned was saved this time (it pays until then).
        saved = rng.random() < 0.65 or any(d.due > due for d in story.declines)
        if due < book.today:
            if saved and story.churn_on == due:
                story.churn_on = None
            elif not saved:
                story.churn_on = due  # it paid until now (see above), and leaves at this renewal
        story.declines.append(Decline(start - timedelta(days=rng.randint(20, 40)), start + timedelta(days=10), due,
                                      saved or due >= book.today))  # fmt: skip
        reason = f"Usage falling ahead of the renewal due {due.isoformat()}"
        expected = {"metric": "health_score", "change": 10, "unit": "points", "measure_after_days": 60}
        kind = rng.choice(("health_check", "win_back", "executive_alignment"))
        plays.append(
            _play(book, rng, story, kind=kind, framework="loss_aversion", started_on=start,
                  owner=_owner(rng, story, book), reason=reason, expected=expected, hours=_hours(rng, 2, 14),
                  at_risk=True)
        )  # fmt: skip
        # One episode in six has a second save play within the first one's window.
        second = start + timedelta(days=rng.randint(7, 40))
        if len(plays) < target and rng.random() < 1 / 6 and second <= yesterday and second < due:
            expected = {"metric": "renewal", "change": 1, "unit": "absolute", "measure_after_days": 90}
            plays.append(
                _play(book, rng, story, kind="executive_alignment",
                      framework=rng.choice(("loss_aversion", "social_proof")), started_on=second,
                      owner=_owner(rng, story, book, "manager"),
                      reason="Escalated: an executive sponsor call before the renewal", expected=expected,
                      hours=_hours(rng, 1, 6), at_risk=True)
            )  # fmt: skip
    if len(plays) < target:
        raise ValueError(f"only {len(plays)} at-risk plays fit the book; {target} wanted")
    return plays


def _expansions(book: Book, rng: random.Random) -> None:
    """Upsells, cross-sells, downsells during the usage history, and price uplifts at renewals."""
    for story in book.stories:
        since = max(story.land + timedelta(days=60), book.usage_start)
        until = min(story.churn_on or book.today, book.today) - timedelta(days=1)
        if since >= until:
            continue
        if rng.random() < 0.22:
            story.changes.append((_day(rng, since, until), "upsell", rng.uniform(1.1, 1.4)))
        if rng.random() < 0.12:
            story.changes.append((_day(rng, since, until), "cross_sell", rng.uniform(0.15, 0.3)))
        if rng.random() < 0.04:
            story.changes.append((_day(rng, since, until), "downsell", rng.uniform(0.7, 0.9)))
        for due in story.renewals:
            if due < book.today and due != story.churn_on and rng.random() < 0.25:
                story.uplifts[due] = rng.uniform(1.03, 1.12)
        story.changes.sort()


def _other_plays(book: Book, rng: random.Random, count: int) -> list[dict[str, Any]]:
    """Onboarding calls, adoption campaigns, expansion reviews and check-ins: exactly `count` of them."""
    first, last = book.intervention_start, book.today - timedelta(days=1)
    plays: list[dict[str, Any]] = []

    def add(story: Story, kind: str, framework: str, start: date, **rest: Any) -> None:
        team = rest.pop("team", "csm")
        plays.append(_play(book, rng, story, kind=kind, framework=framework, started_on=start,
                           owner=_owner(rng, story, book, team), at_risk=False, **rest))  # fmt: skip

    expansions = [(s, d) for s in book.stories for d, what, _ in s.changes if what != "downsell"]
    expansions += [(s, d) for s in book.stories for d in s.uplifts]
    rng.shuffle(expansions)
    for story, day in expansions[: round(count * 0.3)]:
        start = day - timedelta(days=rng.randint(10, 60))
        if first <= start <= last and story.pays_on(start):
            expected = {"metric": "arr", "change": 10, "unit": "percent", "measure_after_days": 90}
            add(story, rng.choice(("expansion_review", "qbr")), "social_proof", start,
                reason="Seats nearly full: peers' results with the add-on", expected=expected,
                hours=_hours(rng, 1, 8))  # fmt: skip
    landed = [s for s in book.stories if first <= s.land + timedelta(days=3) <= last]
    rng.shuffle(landed)
    for story in landed[: round(count * 0.2)]:
        expected = {"metric": "milestone_completed", "change": 2, "unit": "absolute", "measure_after_days": 60}
        add(story, "onboarding_call", "commitment_escalation", story.land + timedelta(days=rng.randint(1, 5)),
            reason="New customer: agree the first three milestones and dates", expected=expected,
            hours=_hours(rng, 1, 6), team="onboarding")  # fmt: skip
    quiet = [s for s in book.stories if s.engagement < 0.8]
    rng.shuffle(quiet)
    for story in quiet[: round(count * 0.3)]:
        start = _day(rng, first, last)
        if story.pays_on(start):
            if rng.random() < 0.7:  # most adoption campaigns work: usage rises a week later
                story.boost_from = start + timedelta(days=7)
            expected = {"metric": "login", "change": 20, "unit": "percent", "measure_after_days": 60}
            add(story, rng.choice(("adoption_campaign", "training")), "habit_formation", start,
                reason="Few logins per seat: weekly tips and a training session", expected=expected,
                hours=_hours(rng, 0.5, 5))  # fmt: skip
    while len(plays) < count:
        story, start = rng.choice(book.stories), _day(rng, first, last)
        if story.pays_on(start):
            expected = {"metric": "health_score", "change": 5, "unit": "points", "measure_after_days": 30}
            add(story, rng.choice(("health_check", "qbr")), "other", start, reason="Routine check-in",
                expected=expected, hours=_hours(rng, 0.5, 3))  # fmt: skip
    return plays[:count]


def _ledger(book: Book, rng: random.Random) -> None:
    """Revenue events and renewals of every story (whole dollars), in date order per customer."""
    for story in book.stories:
        events: list[tuple[date, str, int]] = [(story.land, MAIN, story.arr)]
        arr = {MAIN: story.arr, ADDON: 0}
        steps = [(d, what, x) for d, what, x in story.changes]
        steps += [(d, "uplift", x) for d, x in story.uplifts.items()]
        for day, what, x in sorted(steps):
            if story.churn_on is not None and day >= story.churn_on:
                continue
            if what == "cross_sell":
                if arr[ADDON]:
                    continue
                arr[ADDON] = round(arr[MAIN] * x, -1)
                events.append((day, ADDON, arr[ADDON]))
            else:
                arr[MAIN] = round(arr[MAIN] * x, -1)
                events.append((day, MAIN, arr[MAIN]))
        if story.churn_on is not None:
            events += [
                (story.churn_on, product, 0) for product in (MAIN, ADDON) if any(p == product for _, p, _ in events)
            ]
        for n, (day, product, value) in enumerate(events, 1):
            book.revenue.append({"id": f"{story.id}-r{n}", "customer": story.id, "product": product,
                                 "effective_date": day.isoformat(), "arr": str(value)})  # fmt: skip
        for n, due in enumerate(story.renewals, 1):
            if story.churn_on is not None and due > story.churn_on:
                break
            up = sum(v for d, _, v in _latest(events, due - timedelta(days=1)).values() if v) or story.arr
            body: dict[str, Any] = {"id": f"{story.id}-n{n}", "customer": story.id, "due_date": due.isoformat(),
                                    "arr_up_for_renewal": str(up), "status": "open"}  # fmt: skip
            closed = min(due - timedelta(days=rng.randint(0, 10)), book.today - timedelta(days=1))
            if due == story.churn_on:
                body.update(status="churned", booked_arr="0", closed_on=closed.isoformat())
            elif due < book.today:
                booked = round(up * story.uplifts.get(due, 1.0), -1)
                body.update(status="renewed", booked_arr=str(booked), closed_on=closed.isoformat())
            book.renewals.append(body)


def _latest(events: list[tuple[date, str, int]], on: date) -> dict[str, tuple[date, str, int]]:
    """Each product's last event on or before `on`."""
    latest: dict[str, tuple[date, str, int]] = {}
    for event in sorted(events):
        if event[0] <= on:
            latest[event[1]] = event
    return latest


def _costs(book: Book, rng: random.Random) -> None:
    """Each team's payroll every month (hourly costs × 160 hours), plus sales, marketing and tools."""
    scale = book.shape.customers / 500
    month = (book.today - timedelta(days=LEDGER_DAYS)).replace(day=1)
    while month <= book.today:
        payroll: dict[str, float] = {}
        for member in book.team:
            team = SALARY_TEAMS[member["role"]]
            payroll[team] = payroll.get(team, 0) + float(member["hourly_cost"] or 80) * HOURS_PER_MONTH
        spend = [(team, "salary", amount) for team, amount in payroll.items()]
        spend += [(team, category, base * scale * rng.uniform(0.85, 1.15)) for team, category, base in
                  (("sales", "salary", 45_000), ("marketing", "other", 22_000), ("tools", "tools", 2_500),
                   ("customer_success", "tools", 1_800))]  # fmt: skip
        for team, category, amount in spend:
            book.costs.append({"id": f"bench-{month:%Y-%m}-{team}-{category}", "month": f"{month:%Y-%m}",
                               "amount": _money(amount), "team": team, "category": category})  # fmt: skip
        month = add_months(month, 1)


def _linked_costs(book: Book, rng: random.Random) -> None:
    """Travel or services bought for one intervention in twenty, linked to it (part of its cost, SPEC §5)."""
    for play in book.interventions:
        if rng.random() < 0.05:
            start: date = play["started_on"]
            book.costs.append(
                {"id": f"bench-{play['id']}", "month": f"{start:%Y-%m}", "amount": _money(rng.uniform(100, 2000)),
                 "team": "customer_success", "category": rng.choice(("travel", "services")),
                 "customer": play["customer"], "intervention": play["id"]}
            )  # fmt: skip


# --- Usage events ---------------------------------------------------------------------------------------------


def _weeks(book: Book, story: Story) -> list[tuple[date, int, float]]:
    """(first day, days paid, engagement) of each usage week in which the customer pays."""
    weeks = []
    day, end = book.usage_start, book.today
    while day < end:
        days = [day + timedelta(days=k) for k in range(7) if day + timedelta(days=k) < end]
        paid = [d for d in days if story.pays_on(d)]
        if paid:
            weeks.append((paid[0], len(paid), story.level(paid[len(paid) // 2])))
        day += timedelta(days=7)
    return weeks


def _allocate(total: int, weights: Sequence[float]) -> list[int]:
    """`total` split in proportion to `weights`, in whole numbers that add up exactly (largest remainder)."""
    whole = sum(weights)
    shares = [total * w / whole for w in weights]
    counts = [math.floor(s) for s in shares]
    order = sorted(range(len(shares)), key=lambda i: counts[i] - shares[i])
    for i in order[: total - sum(counts)]:
        counts[i] += 1
    return counts


class _Events:
    """One customer's events, numbered, at a time inside its active days (never today or later)."""

    def __init__(self, story: Story, rng: random.Random, cap: datetime) -> None:
        self.story, self.rng, self.cap, self.count = story, rng, cap, 0

    def row(self, kind: str, at: datetime, value: float = 1, **properties: Any) -> usage_service.EventRow:
        self.count += 1
        micros = round(value * 1_000_000)
        text = canonical_json(properties) if properties else "{}"
        return usage_service.make_row(f"{self.story.id}-e{self.count}", self.story.id, kind, min(at, self.cap),
                                      micros, text)  # fmt: skip

    def when(self, first: date, days: int) -> datetime:
        start = datetime(first.year, first.month, first.day, tzinfo=UTC)
        return start + timedelta(days=self.rng.randrange(days), seconds=self.rng.randrange(7 * 3600, 20 * 3600))


def _cumulative(weights: Sequence[float]) -> Iterator[float]:
    total = 0.0
    for w in weights:
        total += w
        yield total


_KINDS = {name: ([k for k, _ in mix], list(_cumulative([w for _, w in mix]))) for name, mix in
          (("healthy", HEALTHY), ("struggling", STRUGGLING))}  # fmt: skip


def _week_events(ev: _Events, first: date, days: int, level: float, n: int) -> Iterator[usage_service.EventRow]:
    """`n` events of one week, kinds drawn by how engaged the customer is."""
    rng, story = ev.rng, ev.story
    kinds, cum = _KINDS["healthy" if level >= 0.6 else "struggling"]
    breadth = FEATURES[: max(1, min(len(FEATURES), round(6 * level)))]
    left = n
    while left > 0:
        kind = rng.choices(kinds, cum_weights=cum)[0]
        if kind == "ticket" and left < 3:
            kind = "login"
        at = ev.when(first, days)
        if kind == "ticket":
            ticket = f"{story.id}-t{ev.count}"
            yield ev.row("ticket_opened", at, ticket=ticket)
            yield ev.row("ticket_first_response", at + timedelta(hours=rng.uniform(0.5, 10)), ticket=ticket)
            yield ev.row("ticket_resolved", at + timedelta(hours=rng.uniform(4, 96)), ticket=ticket)
            left -= 3
            continue
        left -= 1
        if kind == "feature_used":
            yield ev.row(kind, at, feature=rng.choice(breadth))
        elif kind == "active_users":
            yield ev.row(kind, at, max(0, round(story.seats * min(0.98, 0.8 * level) * rng.uniform(0.85, 1.1))))
        elif kind in ("milestone_completed", "milestone_missed"):
            yield ev.row(kind, at, milestone=rng.choice(("kickoff", "integration", "first_value", "rollout")))
        elif kind == "ticket_escalated":
            yield ev.row(kind, at, ticket=f"{story.id}-t{ev.count}")
        elif kind == "downtime":
            yield ev.row(kind, at, rng.randint(5, 120))
        elif kind == "nps":
            score = min(10, max(0, round(2 + 8 * min(1.0, level) + rng.gauss(0, 1.2))))
            yield ev.row("survey_response", at, score, survey="nps")
        elif kind == "csat":
            score = min(5, max(1, round(1 + 4 * min(1.0, level) + rng.gauss(0, 0.6))))
            yield ev.row("survey_response", at, score, survey="csat")
        else:
            yield ev.row(kind, at)


def usage_rows(book: Book) -> Iterator[usage_service.EventRow]:
    """Exactly `shape.events` usage events, customer by customer, from `random.Random(seed + 1)`.

    Each paying customer gets a `seats` event every four weeks; the rest of the events are shared among
    customers by their engagement over the weeks they pay, then among their weeks the same way.
    """
    rng = random.Random(book.seed + 1)
    cap = datetime(book.today.year, book.today.month, book.today.day, tzinfo=UTC) - timedelta(seconds=1)
    weeks = [_weeks(book, story) for story in book.stories]
    fixed = [len(w[::4]) for w in weeks]
    counts = _allocate(book.shape.events - sum(fixed), [sum(days * lvl for _, days, lvl in w) for w in weeks])
    for story, story_weeks, n in zip(book.stories, weeks, counts, strict=True):
        if not story_weeks:
            continue
        ev = _Events(story, rng, cap)
        per_week = Counter(
            rng.choices(range(len(story_weeks)), cum_weights=list(_cumulative([d * lv for _, d, lv in story_weeks])),
                        k=n)
        )  # fmt: skip
        for index, (first, days, lvl) in enumerate(story_weeks):
            if index % 4 == 0:
                yield ev.row("seats", ev.when(first, days), story.seats)
            if per_week[index]:
                yield from _week_events(ev, first, days, lvl, per_week[index])


# --- Loading --------------------------------------------------------------------------------------------------


def _chunks(items: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


@dataclass
class LoadReport:
    """Seconds per stage and what was written."""

    seconds: dict[str, float] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)

    @property
    def total(self) -> float:
        """Seconds of the whole load."""
        return sum(self.seconds.values())


class _Stages:
    def __init__(self, maker: sessionmaker[Session], progress: Progress, report: LoadReport) -> None:
        self.maker, self.progress, self.report = maker, progress, report

    def records(
        self, name: str, rows: Sequence[dict[str, Any]], schema: Any, write: Callable[..., Any], size: int = BATCH
    ) -> None:
        """Validate with the API's batch item schema and write through the service, one commit per batch."""
        started = time.perf_counter()
        task = self.progress.add_task(name, total=len(rows))
        with self.maker() as session:
            for chunk in _chunks(rows, size):
                write(session, [schema.model_validate(row) for row in chunk])
                session.commit()
                self.progress.advance(task, len(chunk))
        self.report.seconds[name] = time.perf_counter() - started
        self.report.counts[name] = len(rows)


def load_book(maker: sessionmaker[Session], book: Book, *, console: Console | None = None) -> LoadReport:
    """Write the planned book through the services, stage by stage, each with a progress bar."""
    report = LoadReport()
    columns = (TextColumn("{task.description:<22}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=console, disable=console is None) as progress:
        stages = _Stages(maker, progress, report)
        stages.records("team members", book.team, TeamMemberBatchItem, customers_service.upsert_team_members)
        stages.records("customers", book.customers, CustomerBatchItem, customers_service.upsert_customers)
        stages.records("revenue events", book.revenue, RevenueEventIn, ingest_revenue_events, REVENUE_BATCH)
        stages.records("renewals", book.renewals, RenewalBatchItem, renewals_service.upsert_renewals)
        stages.records("costs", book.costs, CostBatchItem, costs_service.upsert_costs)
        _usage(maker, book, progress, report)
        _snapshots(maker, book, progress, report)
        _interventions(maker, book, progress, report)
        _measure(maker, book, progress, report)
    return report


def _usage(maker: sessionmaker[Session], book: Book, progress: Progress, report: LoadReport) -> None:
    """Usage events through the usage service's COPY path (`EventRow`s skip only the HTTP body parsing)."""
    started = time.perf_counter()
    task = progress.add_task("usage events", total=book.shape.events)
    batch: list[usage_service.EventRow] = []
    accepted = 0
    with maker() as session:
        for row in usage_rows(book):
            batch.append(row)
            if len(batch) == EVENT_BATCH:
                accepted += usage_service.ingest_usage_events(session, batch).accepted
                session.commit()
                progress.advance(task, len(batch))
                batch = []
        if batch:
            accepted += usage_service.ingest_usage_events(session, batch).accepted
            session.commit()
            progress.advance(task, len(batch))
    report.seconds["usage events"] = time.perf_counter() - started
    report.counts["usage events"] = accepted


def _snapshots(maker: sessionmaker[Session], book: Book, progress: Progress, report: LoadReport) -> None:
    """`snapshot_health` once a week over the intervention span, one commit per day."""
    started = time.perf_counter()
    days = book.snapshot_days()
    task = progress.add_task("health snapshots", total=len(days))
    for day in days:
        with maker() as session:
            health_service.snapshot_health(session, day=day)
            session.commit()
        progress.advance(task)
    report.seconds["health snapshots"] = time.perf_counter() - started
    report.counts["health snapshot days"] = len(days)


def _interventions(maker: sessionmaker[Session], book: Book, progress: Progress, report: LoadReport) -> None:
    """Create each intervention as the API would (in progress: context captured), then complete or cancel it."""
    started = time.perf_counter()
    task = progress.add_task("interventions", total=len(book.interventions))
    with maker() as session:
        for n, play in enumerate(book.interventions, 1):
            body = {k: v for k, v in play.items() if not k.startswith("_")}
            interventions_service.create_intervention(session, InterventionIn.model_validate(body))
            if "_complete" in play:
                interventions_service.transition(
                    session, play["id"], "complete", TransitionIn(completed_on=play["_complete"])
                )
            elif "_cancel" in play:
                interventions_service.transition(
                    session, play["id"], "cancel", TransitionIn(cancelled_on=play["_cancel"])
                )
            if n % INTERVENTION_COMMIT == 0:
                session.commit()
                progress.advance(task, INTERVENTION_COMMIT)
        session.commit()
        progress.update(task, completed=len(book.interventions))
        report.counts["interventions"] = len(book.interventions)
        report.counts["interventions at risk"] = (
            session.scalar(select(func.count()).select_from(Intervention).where(Intervention.at_risk.is_(True))) or 0
        )
    report.seconds["interventions"] = time.perf_counter() - started


def _measure(maker: sessionmaker[Session], book: Book, progress: Progress, report: LoadReport) -> None:
    """The measure job as of the book's day, then the churn model fitted on the snapshots."""
    started = time.perf_counter()
    task = progress.add_task("outcomes, churn fit", total=2)
    with maker() as session:
        report.counts["outcomes measured"] = interventions_service.measure_due(session, book.today)
        session.commit()
        progress.advance(task)
        fitted = churn.refit(session, today=book.today, min_churns=30)
        session.commit()
        report.counts["churn model fitted"] = int(fitted is not None)
        progress.advance(task)
    report.seconds["outcomes, churn fit"] = time.perf_counter() - started
