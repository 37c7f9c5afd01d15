"""Each customer's commercial life: revenue events, renewals on each anniversary, churn, comebacks, moves."""

import random
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from app.demo.book import (
    ADDON,
    ARR_RANGE,
    CHURN_WITH_PLAY,
    CHURN_WITHOUT_PLAY,
    MAIN,
    RISK_ODDS,
    Book,
    Ending,
    Plan,
    anniversary,
    money,
)


@dataclass
class Contract:
    """The running state of one customer while its life is written."""

    plan: Plan
    products: dict[str, float]
    events: list[dict[str, Any]] = field(default_factory=list)
    renewals: list[dict[str, Any]] = field(default_factory=list)

    def set(self, day: date, product: str, arr: float) -> None:
        """The product's ARR from `day` on, as a revenue event."""
        self.products[product] = round(arr)
        n = len(self.events) + 1
        self.events.append(
            {"id": f"{self.plan.id}-rev-{n}", "customer": self.plan.id, "product": product,
             "effective_date": day.isoformat(), "arr": money(arr)}
        )  # fmt: skip

    def total(self) -> float:
        """ARR over every product."""
        return sum(self.products.values())

    def renewal(self, due: date, up: float, status: str, **closed: Any) -> None:
        """A renewal due on `due` for `up` ARR; closed ones carry booked_arr and closed_on."""
        n = len(self.renewals) + 1
        body = {"id": f"{self.plan.id}-ren-{n}", "customer": self.plan.id, "due_date": due.isoformat(),
                "arr_up_for_renewal": money(up), "status": status, **closed}  # fmt: skip
        self.renewals.append(body)


def _mid_term(rng: random.Random, deal: Contract, day: date, end: date) -> None:
    """Between renewals some customers buy the second product or more seats."""
    if day > end:
        return
    roll = rng.random()
    if deal.products.get(ADDON, 0) == 0 and roll < 0.22:
        deal.set(day, ADDON, deal.products[MAIN] * rng.uniform(0.15, 0.35))
        deal.plan.expansions.append(day)
    elif roll < 0.40:
        deal.set(day, MAIN, deal.products[MAIN] * rng.uniform(1.1, 1.4))
        deal.plan.expansions.append(day)


def _renew(rng: random.Random, deal: Contract, due: date, closed_on: date) -> None:
    """A renewal closed renewed: flat, up, down, or dropping the second product."""
    up = deal.total()
    roll = rng.random()
    if roll < 0.25:
        deal.set(due, MAIN, deal.products[MAIN] * rng.uniform(1.05, 1.3))
        deal.plan.expansions.append(due)
    elif roll < 0.35:
        deal.set(due, MAIN, deal.products[MAIN] * rng.uniform(0.7, 0.95))
    elif roll < 0.45 and deal.products.get(ADDON, 0) > 0:
        deal.set(due, ADDON, 0)
    deal.renewal(due, up, "renewed", booked_arr=money(deal.total()), closed_on=closed_on.isoformat())


def _churn(deal: Contract, due: date, closed_on: date) -> None:
    """A renewal closed churned: every product goes to 0 on the due date."""
    deal.renewal(due, deal.total(), "churned", booked_arr="0", closed_on=closed_on.isoformat())
    for product, arr in list(deal.products.items()):
        if arr > 0:
            deal.set(due, product, 0)


TURN = timedelta(days=55)  # from the start of the risk: the save play has started (red since about day 40)


def _threaten(rng: random.Random, plan: Plan, due: date) -> None:
    """The renewal due on `due` is at risk: engagement falls from 90 to 140 days before; one draw decides both
    endings, so a customer the play does not save would not have been saved without it either."""
    start = due - timedelta(days=rng.randint(90, 140))
    luck = rng.random()
    plan.risk, plan.turn = (start, due), start + TURN
    plan.saved, plan.saved_alone = luck >= CHURN_WITH_PLAY, luck >= CHURN_WITHOUT_PLAY


def _lost(deal: Contract, due: date, closed_on: date) -> Ending:
    """The ending of a customer saved only by the play, without it: churned at the renewal, no comeback."""
    lost = Contract(deal.plan, dict(deal.products), list(deal.events), list(deal.renewals))
    _churn(lost, due, closed_on)
    return Ending(lost.events[len(deal.events) :], lost.renewals[len(deal.renewals) :])


def _terms(rng: random.Random, book: Book, deal: Contract, risk_at: date | None) -> tuple[int, int] | None:
    """Write the customer's terms to the end of the window; where the two endings part, the position in its events
    and renewals (None when they do not)."""
    plan, fork = deal.plan, None
    contract, term = plan.land, 1
    while True:
        due = anniversary(contract, term)
        _mid_term(rng, deal, anniversary(contract, term - 1) + timedelta(days=rng.randint(90, 300)), min(due, book.end))
        # Closed up to three weeks before it is due: one due in the coming days may be closed already (its revenue
        # moves on the due date), one that would close after the book's last day is still open.
        closed_on = due - timedelta(days=rng.randint(0, 20))
        if closed_on > book.end:
            deal.renewal(due, deal.total(), "open")
            plan.paying.append((contract, None))
            return fork
        if due != risk_at or plan.saved:
            if due == risk_at and not plan.saved_alone:
                plan.endings[False] = _lost(deal, due, closed_on)
                fork = (len(deal.events), len(deal.renewals))
            _renew(rng, deal, due, closed_on)
            term += 1
            continue
        _churn(deal, due, closed_on)
        plan.paying.append((contract, due))
        comeback = due + timedelta(days=rng.randint(90, 240))
        # Three in ten churned customers come back; the first that can always does, so even a small book
        # shows every movement type.
        if (rng.random() < 0.3 or not book.comebacks) and comeback <= book.end - timedelta(days=20):
            book.comebacks += 1
            deal.set(comeback, MAIN, rng.uniform(*ARR_RANGE[plan.segment]) * 0.8)
            contract, term, risk_at = comeback, 1, None
            continue
        return fork


def live(rng: random.Random, book: Book, plan: Plan) -> Contract:
    """Write the customer's events and renewals from its land date to the end of the window, with the save play's
    ending; a customer saved only by the play also gets the other ending (`plan.endings`)."""
    deal = Contract(plan, {})
    deal.set(plan.land, MAIN, rng.uniform(*ARR_RANGE[plan.segment]))
    dues = [anniversary(plan.land, k) for k in (1, 2) if anniversary(plan.land, k) <= book.end]
    risk_at = rng.choice(dues) if dues and rng.random() < RISK_ODDS[plan.segment] else None
    if risk_at is not None:
        _threaten(rng, plan, risk_at)
    fork = _terms(rng, book, deal, risk_at)
    if fork is not None:
        plan.endings[True] = Ending(deal.events[fork[0] :], deal.renewals[fork[1] :])
    return deal


def mark_risk(rng: random.Random, book: Book, plan: Plan, deal: Contract) -> None:
    """Some paying customers are at risk ahead of their open renewal, due in the four months after the window
    (revenue at risk): their usage tells the story to yesterday, the renewal is still open."""
    if plan.risk is not None or plan.paying[-1][1] is not None:
        return
    due = date.fromisoformat(deal.renewals[-1]["due_date"])
    if due <= book.end + timedelta(days=120) and rng.random() < RISK_ODDS[plan.segment] / 2:
        _threaten(rng, plan, due)


def build_revenue(book: Book, rng: random.Random) -> None:
    """Revenue events and renewals for every planned customer."""
    for plan in book.plans:
        deal = live(rng, book, plan)
        mark_risk(rng, book, plan, deal)
        book.revenue.extend(deal.events)
        book.renewals.extend(deal.renewals)
