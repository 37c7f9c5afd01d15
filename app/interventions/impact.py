"""Impact attribution (SPEC §5): retained ARR by risk episode, expanded ARR by movement, never counted twice.

Shares are allocated in whole cents (largest remainder, in start order), so the shares of one episode or one
movement always add up to exactly its amount: per customer, attributed revenue never exceeds real movements.
"""

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta

from sqlalchemy.orm import Session

from app.ledger import service as ledger


@dataclass(frozen=True)
class Window:
    """A started intervention's attribution window: `attribution_days` days, [started_on, window_end)."""

    id: str
    customer_id: str
    started_on: date
    window_end: date
    at_risk: bool

    def contains(self, day: date) -> bool:
        """Whether `day` falls inside the window (the start day in, the end day out)."""
        return self.started_on <= day < self.window_end


def _before(window: Window) -> date:
    """The day before the start: "ARR at start" counts changes dated before it (the SPEC §4 rule), so a
    movement on the start day is the intervention's (expansion), never also part of what it retained."""
    return window.started_on - timedelta(days=1)


def _last_seen(window: Window, today: date) -> date:
    """The window's last day, or today while it is still open."""
    return min(window.window_end - timedelta(days=1), today)


@dataclass
class Attribution:
    """Cents credited to one intervention, and whether its window has closed."""

    retained_cents: int = 0
    expanded_cents: int = 0
    final: bool = False
    episode: list[str] = field(default_factory=list)


def allocate(cents: int, shares: int) -> list[int]:
    """Split `cents` into `shares` whole-cent parts that differ by at most one and add up exactly."""
    base, remainder = divmod(cents, shares)
    return [base + 1 if i < remainder else base for i in range(shares)]


def risk_episodes(windows: Iterable[Window]) -> list[list[Window]]:
    """Group one customer's at-risk windows: those starting within the first one's window share an episode."""
    episodes: list[list[Window]] = []
    for window in sorted((w for w in windows if w.at_risk), key=lambda w: (w.started_on, w.id)):
        if episodes and episodes[-1][0].contains(window.started_on):
            episodes[-1].append(window)
        else:
            episodes.append([window])
    return episodes


def attribute(session: Session, windows: Sequence[Window], today: date) -> dict[str, Attribution]:
    """Retained and expanded cents for every window, as of `today` (open windows count what happened so far)."""
    result = {w.id: Attribution(final=today >= w.window_end) for w in windows}
    by_customer: dict[str, list[Window]] = defaultdict(list)
    for window in windows:
        by_customer[window.customer_id].append(window)
    episodes = [e for ws in by_customer.values() for e in risk_episodes(ws)]
    points = {(e[0].customer_id, _before(e[0])) for e in episodes}
    points |= {(e[0].customer_id, _last_seen(e[0], today)) for e in episodes}
    arr = ledger.arr_on(session, points)
    for episode in episodes:
        first = episode[0]
        at_start = arr[(first.customer_id, _before(first))]
        at_end = arr[(first.customer_id, _last_seen(first, today))]
        retained = min(at_start, at_end) if at_end > 0 else 0  # only if the customer still pays
        for window, cents in zip(episode, allocate(retained, len(episode)), strict=True):
            result[window.id].retained_cents = cents
            result[window.id].episode = [w.id for w in episode]
    for customer, _product, day, cents in ledger.expansions(session, set(by_customer), today):
        holders = sorted(
            (w for w in by_customer[customer] if w.contains(day)),
            key=lambda w: (w.started_on, w.id),
        )
        for window, share in zip(holders, allocate(cents, len(holders)) if holders else [], strict=True):
            result[window.id].expanded_cents += share
    return result
