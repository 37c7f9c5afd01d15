"""The demo book's plan: team, customers and each customer's life (contracts, moves, risk, plays), no DB."""

import random
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from app.metrics.periods import add_months

SEGMENTS = (("smb", 0.55), ("mid_market", 0.30), ("enterprise", 0.15))
# Coverage follows size: enterprises are high touch, most small customers are served tech touch.
TIERS = {
    "smb": (("tech_touch", 0.8), ("low_touch", 0.2)),
    "mid_market": (("low_touch", 0.75), ("high_touch", 0.25)),
    "enterprise": (("high_touch", 1.0),),
}
ARR_RANGE = {"smb": (3_000, 15_000), "mid_market": (20_000, 60_000), "enterprise": (80_000, 250_000)}
SEAT_RANGE = {"smb": (2, 6), "mid_market": (5, 12), "enterprise": (12, 30)}
# Odds that one of a customer's renewals is threatened: engagement falls for 3 to 5 months before it.
RISK_ODDS = {"smb": 0.60, "mid_market": 0.35, "enterprise": 0.20}
# An at-risk customer churns at that renewal with these odds: after the save play, and without it (the holdout).
CHURN_WITH_PLAY, CHURN_WITHOUT_PLAY = 0.40, 0.75
REGIONS = (("na", 0.45), ("emea", 0.35), ("apac", 0.15), ("latam", 0.05))
INDUSTRIES = ("software", "fintech", "healthcare", "retail", "manufacturing", "education", "logistics")
NAME_A = "Acme Globex Initech Umbrella Hooli Stark Wayne Vandelay Tyrell Cyberdyne Soylent Wonka Oscorp".split()
NAME_B = "Labs Systems Health Foods Logistics Capital Works Analytics Retail Energy Robotics Media Cloud".split()
MAIN, ADDON = "platform", "analytics"
USAGE_DAYS = 212  # usage history: the 6 months of snapshots plus the 30-day windows before the first one
SAVE_PLAY = "health_check"  # the save play CSMs run most, and the play the demo's holdout experiment tests


@dataclass
class Play:
    """One intervention the story needs: who, what, when, and what it should change."""

    framework: str
    type: str
    owner: str
    started_on: date
    reason: str
    expected: dict[str, Any]
    hours: Decimal
    days: int  # how long the play runs before it is completed
    # Explicit, as a CSM would set it: only save plays are at risk (a brand-new customer scores red at first).
    at_risk: bool
    expansion: date | None = None  # a social-proof play's upsell or cross-sell: no play if that never happens


@dataclass
class Ending:
    """A customer's revenue events and renewals from its threatened renewal on, in one of the two endings."""

    events: list[dict[str, Any]]
    renewals: list[dict[str, Any]]


@dataclass
class Plan:
    """One customer's story: when it paid, how engaged it was, when it was at risk and what CS did."""

    id: str
    segment: str
    tier: str
    csm: str
    land: date
    seats: int
    engagement: float
    paying: list[tuple[date, date | None]] = field(default_factory=list)
    # Engagement falls from the first day; the second is the renewal at stake (churned, or renewed if saved).
    risk: tuple[date, date] | None = None
    # Both endings look alike until here (after the save play), then a saved customer recovers and the others fall.
    turn: date | None = None
    saved: bool = False  # the ending as loaded: the save play's (the loader may switch to the holdout's)
    saved_alone: bool = False  # the ending without the save play, for a customer in the experiment's holdout
    # By `saved`, when the two endings differ and the renewal at stake is in the book (not for one after it).
    endings: dict[bool, Ending] = field(default_factory=dict)
    boost_from: date | None = None  # a habit play that worked: engagement rises from this day
    expansions: list[date] = field(default_factory=list)
    plays: list[Play] = field(default_factory=list)


@dataclass
class Book:
    """Everything the demo loads, as API bodies, plus the plans the usage generator reads."""

    start: date
    end: date  # yesterday: revenue, renewals, costs, usage and snapshots all run to it
    usage_end: date  # the last day of usage: yesterday (the book's end), so what is measured today sees real data
    team: list[dict[str, Any]] = field(default_factory=list)
    customers: list[dict[str, Any]] = field(default_factory=list)
    revenue: list[dict[str, Any]] = field(default_factory=list)
    renewals: list[dict[str, Any]] = field(default_factory=list)
    costs: list[dict[str, Any]] = field(default_factory=list)
    plans: list[Plan] = field(default_factory=list)
    comebacks: int = 0

    def members(self, role: str) -> list[str]:
        """Team member ids with this role."""
        return [m["id"] for m in self.team if m["role"] == role]


def pick(rng: random.Random, weighted: tuple[tuple[str, float], ...]) -> str:
    """One value from (value, weight) pairs."""
    return rng.choices([v for v, _ in weighted], weights=[w for _, w in weighted])[0]


def money(value: float) -> str:
    """Whole dollars as a decimal string (the API's exact money input)."""
    return str(Decimal(round(value)))


def anniversary(day: date, years: int) -> date:
    """The same day `years` later (28 February for 29 February)."""
    try:
        return day.replace(year=day.year + years)
    except ValueError:
        return day.replace(year=day.year + years, day=28)


def window(today: date) -> tuple[date, date]:
    """The two years before `today`'s month and that month up to yesterday: the book runs to yesterday, so this
    month's renewals, revenue and costs are there as far as they have happened."""
    return add_months(today, -24), today - timedelta(days=1)


def build_team(book: Book, rng: random.Random, customers: int) -> None:
    """A CS org sized to the book, each member with a loaded hourly cost and a start date."""
    roles = {
        "manager": (1, (110, 130)),
        "csm": (max(3, round(customers / 60)), (78, 96)),
        "onboarding": (max(2, customers // 200 + 1), (62, 74)),
        "renewals": (max(1, customers // 250), (72, 84)),
        "support": (max(2, customers // 150), (48, 58)),
        "account_manager": (max(1, customers // 250), (84, 96)),
    }
    for role, (count, (low, high)) in roles.items():
        for n in range(1, count + 1):
            member_id = f"{role.replace('_', '-')}-{n}"
            # The last CSM joined a year in, so headcount (and CS cost) grows during the window.
            late = role == "csm" and n == count and count > 3
            book.team.append(
                {
                    "id": member_id,
                    "name": f"{role.replace('_', ' ').title()} {n}",
                    "email": f"{member_id}@demo.example",
                    "role": role,
                    "hourly_cost": money(rng.uniform(low, high)),
                    "started_on": (
                        add_months(book.start, 12) if late else book.start - timedelta(days=400)
                    ).isoformat(),
                }
            )


def build_customers(book: Book, rng: random.Random, customers: int) -> None:
    """Customers across segments, regions, industries and tiers, each with a CSM and a land date."""
    csms = book.members("csm")
    span = (book.end - book.start).days
    for i in range(customers):
        segment = pick(rng, SEGMENTS)
        tier = pick(rng, TIERS[segment])
        # A third of the book was already paying when the window opens, so the early months have a cohort: landed
        # during the year before, so its renewals fall all through the year rather than in one month.
        offset = -rng.randint(1, 365) if rng.random() < 0.35 else rng.randint(0, span - 20)
        plan = Plan(
            id=f"cus-{i + 1:04d}",
            segment=segment,
            tier=tier,
            csm=rng.choice(csms),
            land=book.start + timedelta(days=offset),
            seats=rng.randint(*SEAT_RANGE[segment]),
            engagement=rng.uniform(0.55, 1.25),
        )
        book.plans.append(plan)
        book.customers.append(
            {
                "id": plan.id,
                "name": f"{rng.choice(NAME_A)} {rng.choice(NAME_B)} {i + 1}",
                "segment": segment,
                "region": pick(rng, REGIONS),
                "industry": rng.choice(INDUSTRIES),
                "tier": tier,
                "csm": plan.csm,
                "attributes": {"plan": MAIN, "seats": plan.seats, "source": "demo"},
            }
        )
