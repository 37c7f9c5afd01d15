"""`?format=csv` and `Accept: text/csv`: the same rows as the JSON answer, as a spreadsheet wants them."""

import csv
import io
import json
import re
from collections.abc import Iterable, Mapping
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from fastapi import Request, Response
from pydantic import BaseModel

CSV_MEDIA_TYPE = "text/csv; charset=utf-8"
CSV_RESPONSE: dict[int | str, dict[str, Any]] = {
    200: {
        "content": {"text/csv": {"schema": {"type": "string"}}},
        "description": "The same rows as CSV (`?format=csv` or `Accept: text/csv`).",
    }
}


def wants_csv(request: Request, fmt: str | None) -> bool:
    """True when the caller asked for CSV by parameter or by Accept header."""
    if fmt is not None:
        return fmt == "csv"
    accept = request.headers.get("accept", "")
    return "text/csv" in accept and "application/json" not in accept


# OWASP "CSV Injection": a spreadsheet reads a cell that starts with one of these as a formula
# (`=HYPERLINK(...)`, `+1+2`, `@SUM(A1)`); a leading single quote makes it plain text again.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
# A cell that is only a number (`-0.25`, `+3`) is data, not a formula: it stays a number in the spreadsheet.
_PLAIN_NUMBER = re.compile(r"[-+]?\d+(\.\d+)?", re.ASCII)


def neutralise(text: str) -> str:
    """`text` as a CSV cell no spreadsheet runs as a formula: a leading `'` when it would start one."""
    if text.startswith(FORMULA_STARTS) and not _PLAIN_NUMBER.fullmatch(text):
        return "'" + text
    return text


def _cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, str):  # text from a client: names, labels, notes, ids
        return neutralise(value)
    if isinstance(value, Decimal):
        exponent = value.as_tuple().exponent
        if isinstance(exponent, int) and exponent < -6:  # a ratio: as many places as the JSON answer
            value = value.quantize(Decimal("0.000001"))
        return format(value, "f")
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, dict | list):
        return json.dumps(value, separators=(",", ":"), default=str)
    return value


def _row(item: BaseModel) -> dict[str, Any]:
    """The item's cells: exact decimals as Python has them (written with their own places), and every float and
    nested value as the JSON answer has it, so a score or a ratio is rounded in CSV as in JSON."""
    exact, shown = item.model_dump(mode="python"), item.model_dump(mode="json")
    return {name: shown[name] if isinstance(value, float | dict | list) else value for name, value in exact.items()}


def csv_text(rows: Iterable[Mapping[str, Any]], columns: list[str]) -> str:
    """Rows as CSV text with a header line; nested values as compact JSON; text cells neutralised as formulas.

    Numbers (money, ratios, counts) are written as numbers, negative ones included; only text is prefixed.
    """
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow([_cell(row.get(column)) for column in columns])
    return buffer.getvalue()


def csv_response(
    items: Iterable[BaseModel],
    model: type[BaseModel],
    *,
    next_cursor: str | None = None,
    filename: str = "export.csv",
) -> Response:
    """A CSV response of model rows, columns in the model's field order; the next cursor in a header."""
    columns = list(model.model_fields)
    rows = (_row(item) for item in items)
    headers = {"Content-Disposition": f'attachment; filename="{filename}"'}
    if next_cursor:
        headers["X-Next-Cursor"] = next_cursor
    return Response(csv_text(rows, columns), media_type=CSV_MEDIA_TYPE, headers=headers)
