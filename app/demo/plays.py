"""Monthly costs by team, and the CS plays (interventions) each customer's story calls for."""

import random
from datetime import date, timedelta
from decimal import Decimal

from app.demo.book import SAVE_PLAY, USAGE_DAYS, Book, Plan, Play, money
from app.metrics.periods import add_months

HOURS_PER_MONTH = 160
# Teams outside CS: spend that scales with the book (acquire, expand) and the tools CS runs on.
OTHER_SPEND = (("sales", "salary", 45_000), ("marketing", "other", 22_000), ("tools", "tools", 2_500),
               ("customer_success", "tools", 1_800))  # fmt: skip
SALARY_TEAMS = {"csm": "customer_success", "manager": "customer_success", "onboarding": "onboarding",
                "renewals": "renewals", "support": "support", "account_manager": "account_management"}  # fmt: skip


def build_costs(book: Book, rng: random.Random, customers: int) -> None:
    """Payroll of each team from its members' hourly costs, plus sales, marketing and tools, every month; the
    current month's accrued to the book's last day (yesterday), so its cost per $1K renewed compares with the
    bookings it has had so far."""
    scale = customers / 500
    month = book.start
    while month <= book.end:
        accrued = 1.0 if add_months(month, 1) <= book.end else book.end.day / (add_months(month, 1) - month).days
        payroll: dict[str, float] = {}
        for member in book.team:
            if date.fromisoformat(member["started_on"]) <= month:
                team = SALARY_TEAMS[member["role"]]
                payroll[team] = payroll.get(team, 0) + float(member["hourly_cost"]) * HOURS_PER_MONTH
        spend = [(team, "salary", amount) for team, amount in payroll.items()]
        spend += [(team, category, base * scale * rng.uniform(0.85, 1.15)) for team, category, base in OTHER_SPEND]
        for team, category, amount in spend:
            book.costs.append(
                {"id": f"demo-{month:%Y-%m}-{team}-{category}", "month": f"{month:%Y-%m}",
                 "amount": money(amount * accrued),
                 "team": team, "category": category, "note": "demo book"}
            )  # fmt: skip
        month = add_months(month, 1)


def _hours(rng: random.Random, low: int, high: int) -> Decimal:
    return Decimal(rng.randint(low * 2, high * 2)) / 2


def _loss_aversion(rng: random.Random, plan: Plan) -> Play:
    """An at-risk save play owned by the CSM, started once the decline shows."""
    assert plan.risk is not None  # noqa: S101 - only called for plans with a risk span
    start = plan.risk[0] + timedelta(days=rng.randint(35, 45))  # once the dip shows: red, and before the turn
    kind = rng.choices((SAVE_PLAY, "win_back", "executive_alignment"), weights=(0.6, 0.2, 0.2))[0]
    return Play("loss_aversion", kind, plan.csm, start, "Logins falling and escalations open ahead of the renewal",
                {"metric": "health_score", "change": 10, "unit": "points", "measure_after_days": 60},
                _hours(rng, 4, 14), rng.randint(14, 40), at_risk=True)  # fmt: skip


def plan_plays(book: Book, rng: random.Random) -> None:
    """Give each story its plays: saves, onboarding, adoption and expansion, within the usage history."""
    since = book.end - timedelta(days=USAGE_DAYS - 30)
    onboarding = book.members("onboarding")
    for plan in book.plans:
        if plan.risk and since <= plan.risk[0] + timedelta(days=40) <= book.end:
            plan.plays.append(_loss_aversion(rng, plan))
        if since <= plan.land <= book.end - timedelta(days=5):
            plan.plays.append(
                Play("commitment_escalation", "onboarding_call", rng.choice(onboarding), plan.land + timedelta(days=3),
                     "New customer: agree the first three milestones and dates",
                     {"metric": "milestone_completed", "change": 2, "unit": "absolute", "measure_after_days": 60},
                     _hours(rng, 2, 6), 30, at_risk=False)
            )  # fmt: skip
        if plan.engagement < 0.75 and plan.risk is None and plan.paying[-1][1] is None and rng.random() < 0.6:
            start = since + timedelta(days=rng.randint(0, 120))
            if rng.random() < 0.7:  # most adoption campaigns work: usage rises from a week after the start
                plan.boost_from = start + timedelta(days=7)
            plan.plays.append(
                Play("habit_formation", rng.choice(("adoption_campaign", "training")), plan.csm, start,
                     "Few logins per seat: weekly tips and a training session",
                     {"metric": "login", "change": 20, "unit": "percent", "measure_after_days": 60},
                     _hours(rng, 1, 5), 21, at_risk=False)
            )  # fmt: skip
        for day in plan.expansions:
            start = day - timedelta(days=rng.randint(20, 60))
            if since <= start and rng.random() < 0.7:
                plan.plays.append(
                    Play("social_proof", rng.choice(("expansion_review", "qbr")), plan.csm, start,
                         "Seats nearly full: show peers' results with the analytics add-on",
                         {"metric": "arr", "change": 10, "unit": "percent", "measure_after_days": 90},
                         _hours(rng, 2, 8), 14, at_risk=False, expansion=day)
                )  # fmt: skip
