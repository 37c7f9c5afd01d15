"""Schemathesis hooks for `.ci/fuzz`: the findings that are this API's deliberate rules, dropped one by one.

Every check runs on every operation. A failure is dropped here only when it is exactly one of the rules below,
each a behaviour the SPEC or docs/conventions.md asks for that an OpenAPI schema cannot express; anything else
fails the run. Each rule says why it is not a defect.
"""

import re
from typing import Any
from urllib.parse import parse_qs, urlparse

import schemathesis
from schemathesis.core.parameters import ParameterLocation

# `positive_data_acceptance` (ST202) sends requests its schema calls valid and wants no 4xx but 401, 403, 404,
# 409. JSON Schema describes each value on its own; these 422s come from rules that relate a value to another
# value, or to what is stored, and name the field they refuse. A 422 is dropped only when every error it lists
# matches one of them.
CROSS_FIELD_RULES: dict[str, str] = {
    # An opaque token the service issued (`next_cursor`); the schema can only say "string", and any string the
    # service did not issue is refused rather than read as the first page (docs/conventions.md, lists).
    r"cursor is not one this service issued|not a cursor of this list|not an audit cursor": "cursor",
    # A date range must run forwards, and a metric range spans at most 20 years (app.metrics.schemas: a bound on
    # the periods one request may ask for); JSON Schema cannot relate `end` to `start`.
    r"end is before start|the range is limited to 20 years|(\w+)_to is before \1_from": "range order",
    r"ends_on is before starts_on|ended_on is before started_on": "range order",
    # `PUT /{id}` with an `id` in the body: it must equal the path's (docs/conventions.md, records).
    r"must equal the path id": "body id equals path id",
    # A renewal's fields follow its status (SPEC §3: booked_arr required when renewed, 0 when churned).
    r"booked_arr is required when status is renewed|booked_arr must be 0 when status is churned": "renewal status",
    r"booked_arr must be absent while status is open|closed_on (is required when status is|must be absent while)": (
        "renewal status"
    ),
    # An intervention's dates follow its status, and `points` measure the health score only (SPEC §5).
    r"(started_on|completed_on|cancelled_on) goes with status": "intervention status",
    r"before started_on": "intervention dates",  # completing before the stored start (SPEC §5)
    r"unit `points` is for metric health_score": "intervention expected",
    # `aggregate` reads a usage kind's events; arr, health_score and renewal have one value a day (SPEC §10).
    r"aggregate is for usage kinds": "intervention expected",
    # A survey answer's scale follows `properties.survey` of a survey_response (SPEC §10): nps 0-10, csat 1-5,
    # ces 1-7; the value's schema cannot depend on the kind and a property beside it.
    r"answers are whole numbers from \d+ to \d+": "survey scale",
    # A health component scores 100 × (raw − bad) / (good − bad): bad = good would divide by zero (SPEC §6).
    r"bad and good must differ|a distinct aggregate needs `property`|`property` is only read by the distinct": (
        "health component"
    ),
    r"red_below must not exceed green_from|component names must be unique": "health model",
    r"stratify_by names each attribute at most once": "experiment",
    # Stopping an experiment before its stored `starts_on` (SPEC §9).
    r"before starts_on": "experiment stop",
    # The health backtest (SPEC §10) spans at most 731 days, and labels a date only once its horizon is over by
    # today: JSON Schema cannot relate `end` to `start` nor to the clock.
    r"the range is limited to 731 days": "range order",
    r"must be on or before \d{4}-\d{2}-\d{2}": "backtest horizon not over",
    # A suggestion learns from the stored history: without enough churns, dates or signal there is nothing to fit.
    r"churns \(CSROI_CHURN_MIN_CHURNS\)|pairs on at least two dates|need both a churned and a retained pair": (
        "backtest history"
    ),
    r"no weighting to propose": "backtest history",
    # `POST /v1/interventions` for a customer that does not exist: the body is well formed, what it names is not
    # there, and the route creates no stub (PUT and batch do, SPEC §11). The check would accept only a 404, which
    # says the URL itself is unknown.
    r"unknown customer": "unknown reference",
    # A webhook URL must resolve, and to a public address (SPEC §11, SSRF): where a host resolves is DNS's answer at
    # that moment, which a schema cannot state (CI machines resolve no public names; `0` is 0.0.0.0).
    r"does not resolve|resolves to a loopback or private address|the URL is not valid": "webhook host",
    # A daily usage row (SPEC §14): a day with count 0 carries no values, and a batch sends each (customer, kind, day)
    # once; JSON Schema cannot relate `count` to the fields beside it, nor one row to another.
    r"a day with count 0 has no sum, last or distinct_values|send each day once": "daily usage row",
    # `?model_version=` names a stored health model version (SPEC §10); the schema can only say "integer ≥ 1".
    r"no such health model version": "unknown reference",
}
_RULES = [(re.compile(pattern), label) for pattern, label in CROSS_FIELD_RULES.items()]
# Each dropped failure is one line here (in the run's working directory), for .ci/fuzz_summary.py to count.
DROPPED = "dropped.txt"


def _errors(response: Any) -> list[dict[str, Any]]:
    try:
        body = response.json()
    except ValueError:
        return []
    errors = body.get("errors") if isinstance(body, dict) else None
    return [error for error in errors if isinstance(error, dict)] if isinstance(errors, list) else []


def _rule(error: dict[str, Any]) -> str | None:
    message = str(error.get("msg", ""))
    return next((label for pattern, label in _RULES if pattern.search(message)), None)


def _cross_field_rule(response: Any) -> str | None:
    """The rule of a 422 whose every error is one of CROSS_FIELD_RULES, else None."""
    rules = [_rule(error) for error in _errors(response)] if response.status_code == 422 else []
    return rules[0] if rules and all(rules) else None


def _only_empty_query_values_were_invalid(case: Any, response: Any) -> bool:
    """The request broke its schema only by empty query parameters (`?as_of=`).

    An empty query parameter is absent, by design (`app.schemas.QueryIn`, docs/conventions.md): HTML forms and
    hand-built URLs send `?segment=&region=` for filters left blank. `negative_data_rejection` (ST201) sends
    `?as_of=` (or a value that serialises to nothing, such as `{}`) as a date that breaks its pattern and wants a
    4xx; the service answers as if it were not sent. The failure is dropped only when everything else the request
    sent is valid on its own, read as the server reads it.
    """
    meta = case.meta
    if meta is None or any(
        meta.is_negative_at(location) for location in ParameterLocation if location is not ParameterLocation.QUERY
    ):
        return False
    sent = parse_qs(urlparse(response.request.url).query, keep_blank_values=True)
    empty = {name for name, values in sent.items() if values == [""]}
    if not empty or any(len(values) > 1 for values in sent.values()):
        return False
    generated = case.query or {}
    options = {name: _readings(values[0], generated.get(name)) for name, values in sent.items() if name not in empty}
    return _some_reading_is_valid(case.operation.get_parameter_set(ParameterLocation.QUERY), options)


def _readings(text: str, generated: Any) -> list[Any]:
    """What the server may read a sent text as: the text, a number or a boolean, or the value as generated."""
    readings: list[Any] = [text]
    if re.fullmatch(r"-?[0-9]+", text):
        readings.append(int(text))
    if text in ("true", "false"):
        readings.append(text == "true")
    return [*readings, str(generated) if isinstance(generated, str) else generated]


def _some_reading_is_valid(parameters: Any, options: dict[str, list[Any]]) -> bool:
    """Whether the parameters are valid with some reading of each: the next reading of each one that fails."""
    validator = parameters.get_strict_validator()
    chosen = dict.fromkeys(options, 0)
    while True:
        errors = list(validator.iter_errors({name: options[name][index] for name, index in chosen.items()}))
        if not errors:
            return True
        if any(not error.instance_path for error in errors):
            return False  # an error of the whole: a required parameter missing
        failing = {error.instance_path[0] for error in errors}
        if any(chosen[name] + 1 == len(options[name]) for name in failing):
            return False  # no reading left
        for name in failing:
            chosen[name] += 1


def _dropped(failure: Any, case: Any, why: str) -> bool:
    with open(DROPPED, "a", encoding="utf-8") as log:
        log.write(f"{failure.code}\t{why}\t{case.operation.label}\n")
    return False


@schemathesis.hook
def filter_failure(context: Any, failure: Any, case: Any, response: Any) -> bool:
    """Keep every failure except the deliberate behaviours named above."""
    if failure.code == "ST202" and (rule := _cross_field_rule(response)):
        return _dropped(failure, case, rule)
    accepted = 200 <= response.status_code < 300
    if failure.code == "ST201" and accepted and _only_empty_query_values_were_invalid(case, response):
        return _dropped(failure, case, "empty query parameter is absent")
    return True
