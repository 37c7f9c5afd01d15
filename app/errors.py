"""RFC 9457 problem details: one error hierarchy and the handlers that render it."""

from collections.abc import Mapping, Sequence
from typing import Any, cast

import structlog
from asgi_correlation_id import correlation_id
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.exc import IntegrityError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

PROBLEM_MEDIA_TYPE = "application/problem+json"
TYPE_BASE = "https://csroi.dev/problems/"
BATCH_TOO_LARGE = "batch_too_large"

log = structlog.get_logger("csroi.errors")


class FieldError(BaseModel):
    """One invalid input: where it is (`loc`, batch item index included) and what is wrong."""

    loc: list[str | int] = Field(
        description="Path to the bad value: `body`, `query` or `path`, then field names and list indexes, "
        'e.g. ["body", "customers", 3, "tier"].'
    )
    msg: str = Field(description='What is wrong, in words, e.g. "an id is 1 to 255 characters: ...".')
    type: str = Field(
        description="Machine-readable error kind from the validator, e.g. `missing`, `string_pattern_mismatch`."
    )


class Problem(BaseModel):
    """An RFC 9457 problem document."""

    model_config = ConfigDict(extra="allow")

    type: str = Field(description="URI naming the problem kind, e.g. https://csroi.dev/problems/not-found.")
    title: str = Field(description="Short summary of the problem kind, the same for every occurrence.")
    status: int = Field(description="The HTTP status code of this answer.")
    detail: str | None = Field(None, description="What went wrong with this request, in words.")
    instance: str | None = Field(
        None, description="RFC 9457 field for the occurrence's URI; this service leaves it out."
    )
    request_id: str | None = Field(
        None, description="The request's id (also the X-Request-ID header): quote it to support."
    )
    errors: list[FieldError] | None = Field(
        None, description="On 422 (and 413 batches): every invalid value, one entry each."
    )


class AppError(Exception):
    """An error with meaning; the handler turns it into problem+json."""

    status = 500
    title = "Internal Server Error"
    slug = "internal"

    def __init__(self, detail: str | None = None, **extra: Any) -> None:
        super().__init__(detail or self.title)
        self.detail = detail
        self.extra = extra


class Unauthorized(AppError):
    status, title, slug = 401, "Unauthorized", "unauthorized"


class Forbidden(AppError):
    status, title, slug = 403, "Forbidden", "forbidden"


class NotFound(AppError):
    status, title, slug = 404, "Not Found", "not-found"

    def __init__(self, thing: str, thing_id: str) -> None:
        super().__init__(f"No {thing} with id {thing_id!r}.", thing=thing, id=thing_id)


class Conflict(AppError):
    status, title, slug = 409, "Conflict", "conflict"


class PayloadTooLarge(AppError):
    status, title, slug = 413, "Payload Too Large", "payload-too-large"


class Unprocessable(AppError):
    status, title, slug = 422, "Unprocessable Content", "validation"

    def __init__(self, detail: str, errors: list[dict[str, Any]] | None = None) -> None:
        super().__init__(detail, errors=errors or [])


class InvalidInput(Exception):
    """Input a service validated itself failed: the same 422 (or 413 for a batch over the limit) problem as FastAPI's
    own validation of a body, built from pydantic's errors (`loc` starting with `body`).
    """

    def __init__(self, errors: Sequence[Mapping[str, Any]]) -> None:
        super().__init__("invalid input")
        self._errors = list(errors)

    def errors(self) -> Sequence[Mapping[str, Any]]:
        """The errors, in the shape of `RequestValidationError.errors()`."""
        return self._errors


def problem_response(
    status: int,
    title: str,
    slug: str,
    detail: str | None = None,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> JSONResponse:
    """A problem+json response carrying the request id."""
    body: dict[str, Any] = {"type": TYPE_BASE + slug, "title": title, "status": status}
    if detail:
        body["detail"] = detail
    body["request_id"] = correlation_id.get()
    body.update({k: v for k, v in extra.items() if v is not None})
    return JSONResponse(body, status_code=status, media_type=PROBLEM_MEDIA_TYPE, headers=headers)


# Plain words for every `pattern` an input must match, so a 422 says what is allowed instead of quoting a regular
# expression. Filled where each pattern is defined: `ID_PATTERN = worded(r"^...$", "an id is ...")`.
_PATTERN_WORDS: dict[str, str] = {}


def worded(pattern: str, words: str) -> str:
    """Register the words a 422 shows when an input does not match `pattern`; returns `pattern` unchanged."""
    _PATTERN_WORDS[pattern] = words
    return pattern


def pattern_words(pattern: str) -> str | None:
    """The words registered for `pattern`, if any."""
    return _PATTERN_WORDS.get(pattern)


def _message(error: Any) -> str:
    if error.get("type") == "missing" and tuple(error.get("loc", ())) == ("body",):
        return "this request needs a JSON body, sent with Content-Type: application/json"
    if error.get("type") == "string_pattern_mismatch":
        words = pattern_words(str(error.get("ctx", {}).get("pattern", "")))
        if words:
            return words
    return str(error.get("msg", ""))


def _loc(raw: tuple[Any, ...]) -> list[str | int]:
    return [part if isinstance(part, int) else str(part) for part in raw]


def _validation_errors(exc: RequestValidationError | InvalidInput) -> list[dict[str, Any]]:
    return [{"loc": _loc(tuple(e.get("loc", ()))), "msg": _message(e), "type": e.get("type", "")} for e in exc.errors()]


async def _app_error(request: Request, exc: Exception) -> JSONResponse:
    exc = cast(AppError, exc)  # registered for this type only
    headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
    return problem_response(exc.status, exc.title, exc.slug, exc.detail, headers=headers, **exc.extra)


class UnsupportedMediaType(AppError):
    status, title, slug = 415, "Unsupported Media Type", "unsupported-media-type"


def _body_not_json(exc: RequestValidationError | InvalidInput) -> bool:
    """FastAPI hands the body over as raw bytes only when the Content-Type is not JSON (missing, text, form)."""
    return any(isinstance(e.get("input"), bytes | bytearray) for e in exc.errors() if e.get("loc", ())[:1] == ("body",))


async def _request_validation(request: Request, exc: Exception) -> JSONResponse:
    exc = cast(RequestValidationError | InvalidInput, exc)  # registered for these types only
    if _body_not_json(exc):
        sent = (request.headers.get("content-type") or "no Content-Type")[:100]
        detail = f"Send the body as JSON with Content-Type: application/json (this request sent {sent})."
        return problem_response(415, UnsupportedMediaType.title, UnsupportedMediaType.slug, detail)
    errors = _validation_errors(exc)
    too_large = [e for e in errors if e["type"] == BATCH_TOO_LARGE]
    if too_large:  # the batch item limit is a 413, not a 422 (ENGINEERING.md pitfall 9)
        return problem_response(413, PayloadTooLarge.title, PayloadTooLarge.slug, too_large[0]["msg"])
    count = len(errors)
    detail = f"The request has {count} invalid value{'s' if count != 1 else ''}; see `errors`."
    return problem_response(422, Unprocessable.title, Unprocessable.slug, detail, errors=errors)


_HTTP_TITLES = {
    404: ("Not Found", "not-found"),
    405: ("Method Not Allowed", "method-not-allowed"),
    413: (PayloadTooLarge.title, PayloadTooLarge.slug),
    400: ("Bad Request", "bad-request"),
}


# FastAPI answers 400 when Python's JSON parser fails on a body other than by a syntax error (that one is a 422):
# bytes that are not UTF-8 (or UTF-16/32) text, nesting deeper than the parser recurses, or an integer of more
# than 4,300 digits. Declared on every operation with a body (declare_json_body_responses).
_UNREADABLE_BODY: dict[type[Exception], str] = {
    UnicodeDecodeError: "The body is not UTF-8 text: send JSON encoded as UTF-8.",
    RecursionError: "The body's JSON nests too deeply to read.",
    ValueError: "The body's JSON has a number too long to read (more than 4,300 digits).",
}
BAD_BODY_DESCRIPTION = (
    "The body cannot be read as JSON: it is not UTF-8 text, nests too deeply, or has a number of thousands of digits"
)


async def _http_exception(request: Request, exc: Exception) -> JSONResponse:
    exc = cast(StarletteHTTPException, exc)  # registered for this type only
    title, slug = _HTTP_TITLES.get(exc.status_code, ("Error", "http"))
    detail = exc.detail if isinstance(exc.detail, str) and exc.detail != title else None
    if exc.status_code == 404 and detail is None:
        detail = f"No route {request.url.path}."
    if exc.status_code == 400 and exc.__cause__ is not None:  # FastAPI's own words name no cause
        detail = next((words for kind, words in _UNREADABLE_BODY.items() if isinstance(exc.__cause__, kind)), detail)
    return problem_response(exc.status_code, title, slug, detail, headers=dict(exc.headers or {}))


async def _integrity_error(request: Request, exc: Exception) -> JSONResponse:
    # A database constraint caught what schema validation could not see (e.g. an update that puts a stored
    # date out of order). The transaction was rolled back; never echo the driver's message (SQL text).
    log.warning("integrity error", path=request.url.path, error=type(exc.orig).__name__ if hasattr(exc, "orig") else "")
    return problem_response(
        409,
        Conflict.title,
        Conflict.slug,
        "The request conflicts with data already stored (a uniqueness or consistency rule); nothing was written.",
    )


class UnhandledErrorMiddleware:
    """Answer any unexpected exception with a generic 500 problem, inside the request-id middleware.

    Starlette's own handler for `Exception` runs in its outermost middleware, where the response would lose
    the X-Request-ID header. Never echo str(exc): it can carry SQL text (ENGINEERING.md pitfall 5).
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def send_wrapper(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        except Exception:
            log.exception("unhandled error", path=scope.get("path"), method=scope.get("method"))
            if started:
                raise
            detail = "Something went wrong on our side; quote the request_id when you report it."
            await problem_response(500, "Internal Server Error", "internal", detail)(scope, receive, send)


def install_error_handlers(app: FastAPI) -> None:
    """Render every error the service can answer as problem+json."""
    app.add_exception_handler(AppError, _app_error)
    app.add_exception_handler(RequestValidationError, _request_validation)
    app.add_exception_handler(InvalidInput, _request_validation)
    app.add_exception_handler(StarletteHTTPException, _http_exception)
    app.add_exception_handler(IntegrityError, _integrity_error)


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses=` declaring problem+json bodies (pitfall 4)."""
    descriptions = {
        400: "Bad request",
        401: "Missing or invalid API key",
        403: "The key lacks the scope",
        404: "Not found",
        409: "Conflict",
        413: "Body or batch too large",
        415: "The body is not sent as JSON (Content-Type: application/json)",
        422: "Invalid input",
        500: "Internal error",
    }
    return {
        status: {
            "description": descriptions.get(status, "Error"),
            "content": {PROBLEM_MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}},
        }
        for status in statuses
    }


def declare_json_body_responses(schema: dict[str, Any]) -> None:
    """Add the problems of a body FastAPI cannot read to every operation of an OpenAPI document that takes one:
    400 (not readable as JSON text: see _UNREADABLE_BODY) and 415 (not sent as JSON)."""
    added = problem_responses(400, 415)
    added[400] = {**added[400], "description": BAD_BODY_DESCRIPTION}
    for operations in schema.get("paths", {}).values():
        for operation in operations.values():
            if not isinstance(operation, dict) or "requestBody" not in operation:
                continue
            # A route that declares its own 400 (a bad signature) keeps its words for it.
            responses = {**{str(code): r for code, r in added.items()}, **operation.get("responses", {})}
            # In status order, as FastAPI writes them ("default" and ranges such as "4XX" last).
            operation["responses"] = dict(sorted(responses.items(), key=lambda item: (not item[0].isdigit(), item[0])))


def problem_schemas() -> dict[str, Any]:
    """The Problem and FieldError component schemas, for the OpenAPI document."""
    schema = Problem.model_json_schema(ref_template="#/components/schemas/{model}")
    defs = schema.pop("$defs", {})
    return {"Problem": schema, **defs}
