"""SPEC §5's at-risk rule in its three forms (Python, SQL, numpy) agrees on every band and renewal distance."""

from datetime import date, timedelta

import numpy as np
import pytest
from sqlalchemy import Date, column, literal, select, values
from sqlalchemy import String as SqlString
from sqlalchemy.orm import Session

from app import risk

BANDS = ("red", "yellow", "green", None)
# No open renewal (None), due today, 89/90 days ahead (inside), 91 days ahead (outside).
DISTANCES = (None, 0, 1, 89, 90, 91, 400)
TODAY = date(2026, 6, 1)
CODES = {None: 0, "red": 1, "yellow": 2, "green": 3}


def expected(band: str | None, days: int | None) -> bool:
    """The rule as SPEC §5 words it, case by case."""
    if band == "red":
        return True
    return band == "yellow" and days is not None and days <= 90


@pytest.mark.parametrize("band", BANDS)
@pytest.mark.parametrize("days", DISTANCES)
def test_python_form(band: str | None, days: int | None) -> None:
    assert risk.at_risk(band, days) is expected(band, days)


def test_sql_form_agrees_on_every_case(session: Session) -> None:
    cases = [(n, band, None if days is None else TODAY + timedelta(days=days))
             for n, (band, days) in enumerate((b, d) for b in BANDS for d in DISTANCES)]  # fmt: skip
    table = values(column("n"), column("band", SqlString), column("due", Date), name="cases").data(cases).cte()
    soon = table.c.due <= literal(TODAY + timedelta(days=risk.RENEWAL_HORIZON_DAYS), Date)
    rows = dict(session.execute(select(table.c.n, risk.at_risk_sql(table.c.band, soon))).all())
    for n, band, due in cases:
        days = None if due is None else (due - TODAY).days
        assert rows[n] is expected(band, days), (band, days)


def test_array_form_agrees_on_every_case() -> None:
    pairs = [(b, d) for b in BANDS for d in DISTANCES]
    codes = np.array([CODES[b] for b, _ in pairs])
    soon = np.array([risk.renewal_soon(d) for _, d in pairs])
    got = risk.at_risk_array(codes, soon, red=CODES["red"], yellow=CODES["yellow"])
    assert got.tolist() == [expected(b, d) for b, d in pairs]
