"""SPEC §5's at-risk rule, defined once: a customer is at risk when its band is red, or yellow with an open renewal
due within `RENEWAL_HORIZON_DAYS` (90) days.

Readers need it in three forms, built here from the same two parts (the band test and "a renewal is due soon"):
- `at_risk`: Python, for one intervention's context when it starts;
- `at_risk_sql`: a SQL boolean, never NULL, for the worklist, experiments' strata and health's webhook events;
- `at_risk_array`: numpy, for the days × customers grids of matched controls.
tests/test_risk.py holds the three equal on every band and renewal distance.
"""

from typing import Any

import numpy as np
from sqlalchemy import Boolean, and_, case, false, or_, true, type_coerce
from sqlalchemy.sql import ColumnElement

RENEWAL_HORIZON_DAYS = 90


def renewal_soon(days_to_renewal: int | None) -> bool:
    """An open renewal falls due within the horizon: 0 (due today) to 90 days ahead."""
    return days_to_renewal is not None and 0 <= days_to_renewal <= RENEWAL_HORIZON_DAYS


def at_risk(band: str | None, days_to_renewal: int | None) -> bool:
    """The rule for one customer: `days_to_renewal` to its next open renewal (None: none open)."""
    return band == "red" or (band == "yellow" and renewal_soon(days_to_renewal))


def at_risk_sql(band: ColumnElement[Any], soon: ColumnElement[Any]) -> ColumnElement[bool]:
    """The rule as SQL: `soon` is the "renewal due within the horizon" condition (NULL counts as false)."""
    rule = case((or_(band == "red", and_(band == "yellow", soon)), true()), else_=false())
    return type_coerce(rule, Boolean)


def at_risk_array(codes: np.ndarray, soon: np.ndarray, *, red: int, yellow: int) -> np.ndarray:
    """The rule on arrays of band codes and "renewal due soon" booleans of the same shape."""
    return np.asarray((codes == red) | ((codes == yellow) & soon))
