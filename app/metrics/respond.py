"""Answer a metric as JSON or CSV: the same rows either way."""

from typing import Any

from fastapi import Request, Response

from app.config import get_app_settings
from app.csv import CSV_RESPONSE, csv_text, wants_csv
from app.errors import problem_responses
from app.metrics.schemas import MetricAnswer, MetricQuery

# Every metric route answers JSON or CSV and may refuse a key or a query.
METRIC_RESPONSES = {**CSV_RESPONSE, **problem_responses(401, 403, 422)}


def respond(
    request: Request, query: MetricQuery, answer: MetricAnswer[Any], filename: str
) -> MetricAnswer[Any] | Response:
    """The answer itself for JSON, `meta.currency` added; for CSV one line per row, columns in the row schema's order.

    The currency is added here, at the edge that holds the settings, so metric services stay free of them.
    """
    if not wants_csv(request, query.format):
        answer.meta["currency"] = get_app_settings(request).currency
        return answer
    row_type = type(answer.rows[0]) if answer.rows else None
    columns = list(row_type.model_fields) if row_type else ["period_start", "period_end", "group"]
    rows = [row.model_dump(mode="python") for row in answer.rows]  # exact decimals, not floats
    return Response(
        csv_text(rows, columns),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )
