"""The dashboard's number formats (app/dashboard/static/js/format.js), written again in Python so a test can say
what the screen must show for an API value.

Intl.NumberFormat rounds the shortest decimal that reads back as the double (what `repr` gives), half away from
zero, in en-US; with signDisplay "negative" a value that rounds to zero has no minus sign.
"""

from decimal import ROUND_HALF_UP, Decimal

DASH = "—"
PLACES = {"ratio": 1, "money": 0, "money2": 2, "count": 0, "score": 1, "hours": 1, "fte": 2, "number": 2}


def _rounded(value: float, places: int) -> Decimal:
    return Decimal(repr(value)).quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)


def _grouped(amount: Decimal, places: int) -> str:
    text = f"{abs(amount):,.{places}f}"
    return f"-{text}" if amount < 0 else text


def fmt(kind: str, value: float | None) -> str:
    """`value` as the dashboard writes a figure of `kind`."""
    if value is None:
        return DASH
    places = PLACES[kind]
    if kind == "ratio":
        return _grouped(_percent(value), places) + "%"
    amount = _rounded(value, places)
    if kind in ("money", "money2"):
        return f"{'-' if amount < 0 else ''}${abs(amount):,.{places}f}"
    text = _grouped(amount, places)
    return f"{text} h" if kind == "hours" else text


def _percent(value: float) -> Decimal:
    """value × 100 on the decimal value (exact), then rounded to one place."""
    return (Decimal(repr(value)) * 100).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)
