"""Health lift (SPEC §5): each measured intervention's health change against same-band peers without one.

Read by the ROI metric and by recommendations. The whole book's scores on every start and measurement day come
from `app.health.book` (stored snapshots, point in time where none covers a day) in a few statements; peers are
then found with array operations, one group per (start, measurement day, band), never a statement per day.
"""

from collections import defaultdict
from collections.abc import Mapping, Sequence
from datetime import date, timedelta
from decimal import Decimal

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.health import service as health_service
from app.interventions import incremental
from app.interventions.outcome import Started
from app.models import Intervention


def measured_on(row: Started) -> date | None:
    """The day an intervention's outcome is measured: its start + measure_after_days (None if not started)."""
    if row.started_on is None:
        return None
    return row.started_on + timedelta(days=int(row.expected["measure_after_days"]))


def _mean(values: np.ndarray) -> Decimal | None:
    """The mean to 6 decimals: the sum as `ndarray.mean` takes it (numpy's pairwise sum), over the count."""
    return Decimal(f"{np.add.reduce(values) / len(values):.6f}") if len(values) else None


def health_deltas(
    session: Session, rows: Sequence[Started], today: date, *, bands: Mapping[str, str | None]
) -> dict[str, tuple[Decimal, Decimal | None]]:
    """Per intervention measured by `today`: its health change from start to measurement, and the mean change over
    the same days of the customers in its band at the start whose intervention windows (any) do not overlap it.

    `bands`: each row's band at start (its context's `band`), by id."""
    due = [(row, day) for row in rows if (day := measured_on(row)) is not None and day <= today]
    if not due:
        return {}
    days = {row.started_on for row, _ in due if row.started_on} | {day for _, day in due}
    health = health_service.book_health(session, days)
    windows = [
        (health.index[c], s.toordinal(), incremental.BIG if e is None else e.toordinal())
        for c, s, e in session.execute(
            select(Intervention.customer_id, Intervention.started_on, Intervention.window_end).where(
                Intervention.started_on.is_not(None)
            )
        )
        if c in health.index and s is not None
    ]
    busy_customer, busy_start, busy_end = (
        (np.array(column, dtype=np.int64) for column in zip(*windows, strict=True))
        if windows
        else (np.zeros(0, dtype=np.int64) for _ in range(3))
    )
    groups: dict[tuple[date, date], dict[int, list[Started]]] = defaultdict(lambda: defaultdict(list))
    for row, day in due:
        assert row.started_on is not None  # noqa: S101 - `due` holds started ones
        band = health_service.BAND_CODES.get(bands[row.id] or "", health_service.NO_BAND)
        groups[(row.started_on, day)][band].append(row)
    of_band: dict[tuple[date, int], np.ndarray] = {}  # (start, band) → the customers in the band on that day
    result: dict[str, tuple[Decimal, Decimal | None]] = {}
    for (start, end), by_band in groups.items():
        # Per (start, measurement day): everyone's change and who is usable (a score at the end, not busy); per band,
        # the mean change of the usable customers in it (the same masked mean, summed in the same order).
        before, after = health.score(start), health.score(end)
        busy = np.zeros(len(before), dtype=bool)
        busy[busy_customer[(busy_start <= end.toordinal()) & (busy_end >= start.toordinal())]] = True
        usable = ~(np.isnan(after) | busy)
        change = after - before
        for band, members in by_band.items():
            if band == health_service.NO_BAND:
                baseline = None
            else:
                if (start, band) not in of_band:
                    of_band[(start, band)] = health.band(start) == band
                baseline = _mean(np.compress(of_band[(start, band)] & usable, change))
            for row in members:
                own_before, own_after = before[health.index[row.customer_id]], after[health.index[row.customer_id]]
                if np.isnan(own_before) or np.isnan(own_after):
                    continue
                result[row.id] = (Decimal(str(float(own_after))) - Decimal(str(float(own_before))), baseline)
    return result
