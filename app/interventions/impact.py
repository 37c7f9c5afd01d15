"""Impact attribution (SPEC §5, §9): retained ARR by risk episode, expanded ARR by movement, never counted twice.

A customer's episodes fall into rescue years (SPEC §9's episode cap): within 365 days of a year's first episode,
the retained amounts credited add up to at most the customer's ARR at that first episode's start, so a customer
rescued three times in a year is retained once.

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
    type: str = ""
    framework: str = ""
    band: str | None = None  # the band captured at start (the context)
    score: float | None = None  # the health score captured at start

    @property
    def days(self) -> int:
        """The attribution window's length in days."""
        return (self.window_end - self.started_on).days

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


RESCUE_YEAR_DAYS = 365


def rescue_years(episodes: Sequence[list[Window]]) -> list[list[int]]:
    """Indexes of one customer's episodes (in start order) grouped into rescue years (SPEC §9): the first episode
    opens a year of 365 days from its start, every episode starting inside it belongs to it, and the first one
    starting on or after its end opens the next."""
    years: list[list[int]] = []
    opened: date | None = None
    for index, episode in enumerate(episodes):
        start = episode[0].started_on
        if opened is None or start >= opened + timedelta(days=RESCUE_YEAR_DAYS):
            years.append([])
            opened = start
        years[-1].append(index)
    return years


def cap_credits(amounts: Sequence[int], cap: int) -> list[int]:
    """Credit positive amounts in order until their sum reaches `cap`; cut what would exceed it (SPEC §9).

    Negative amounts (incremental figures of a churned customer) pass uncut and do not use up the cap.
    """
    left = max(cap, 0)
    credited: list[int] = []
    for amount in amounts:
        if amount <= 0:
            credited.append(amount)
            continue
        credited.append(min(amount, left))
        left -= credited[-1]
    return credited


def _episode_retained(episode: list[Window], arr: dict[tuple[str, date], int], today: date) -> int:
    """min(ARR at start, ARR at the window's last day) in cents if the customer still pays then, else 0 (SPEC §5)."""
    first = episode[0]
    at_start = arr[(first.customer_id, _before(first))]
    at_end = arr[(first.customer_id, _last_seen(first, today))]
    return min(at_start, at_end) if at_end > 0 else 0


def attribute(
    session: Session, windows: Sequence[Window], today: date, *, series: ledger.LedgerSeries | None = None
) -> dict[str, Attribution]:
    """Retained and expanded cents for every window, as of `today` (open windows count what happened so far);
    `series`: the ledger's arrays when the caller has read them (else ARR is read with one statement)."""
    result = {w.id: Attribution(final=today >= w.window_end) for w in windows}
    by_customer: dict[str, list[Window]] = defaultdict(list)
    for window in sorted(windows, key=lambda w: (w.started_on, w.id)):  # each customer's windows in start order
        by_customer[window.customer_id].append(window)
    per_customer = [risk_episodes(ws) for ws in by_customer.values()]
    episodes = [e for eps in per_customer for e in eps]
    points = {(e[0].customer_id, _before(e[0])) for e in episodes}
    points |= {(e[0].customer_id, _last_seen(e[0], today)) for e in episodes}
    arr = series.arr_at(points) if series is not None else ledger.arr_on(session, points)
    for customer_episodes in per_customer:
        retained = [_episode_retained(e, arr, today) for e in customer_episodes]
        for year in rescue_years(customer_episodes):
            first = customer_episodes[year[0]][0]
            capped = cap_credits([retained[i] for i in year], arr[(first.customer_id, _before(first))])
            for index, cents_of_episode in zip(year, capped, strict=True):
                episode = customer_episodes[index]
                # The cap is applied before the split among the episode's interventions (SPEC §9).
                for window, cents in zip(episode, allocate(cents_of_episode, len(episode)), strict=True):
                    result[window.id].retained_cents = cents
                    result[window.id].episode = [w.id for w in episode]
    for customer, _product, day, cents in ledger.expansions(session, set(by_customer), today):
        holders = [w for w in by_customer[customer] if w.contains(day)]  # in start order
        for window, share in zip(holders, allocate(cents, len(holders)) if holders else [], strict=True):
            result[window.id].expanded_cents += share
    return result
