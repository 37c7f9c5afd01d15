"""Route templates and methods by path, derived from the app's OpenAPI document.

FastAPI ≥ 0.160 nests included routers instead of copying their routes, so `app.routes` no longer lists
`/v1/...` paths; the OpenAPI document does, through a public API.
"""

import re
from dataclasses import dataclass

from fastapi import FastAPI
from starlette.routing import compile_path

HTTP_METHODS = {"get", "put", "post", "delete", "patch", "head", "options"}


@dataclass(frozen=True)
class RouteInfo:
    """One path template and the methods it answers."""

    template: str
    regex: re.Pattern[str]
    methods: frozenset[str]


def route_index(app: FastAPI) -> list[RouteInfo]:
    """Every documented path template with its methods (cached on app.state)."""
    cached: list[RouteInfo] | None = getattr(app.state, "route_index", None)
    if cached is None:
        cached = []
        for template, operations in app.openapi().get("paths", {}).items():
            methods = {m.upper() for m in operations if m in HTTP_METHODS}
            if "GET" in methods:
                methods.add("HEAD")
            regex, _, _ = compile_path(template)
            cached.append(RouteInfo(template, regex, frozenset(methods)))
        # Static segments win over parameters, as in routing: /customers/batch before /customers/{id}.
        cached.sort(key=lambda info: info.template.count("{"))
        app.state.route_index = cached
    return cached


def allowed_methods(app: FastAPI, path: str) -> list[str]:
    """Every method any route on `path` accepts (RFC 9110 `Allow`)."""
    methods: set[str] = set()
    for info in route_index(app):
        if info.regex.match(path):
            methods |= info.methods
    return sorted(methods)


def route_template(app: FastAPI, path: str, method: str) -> str | None:
    """The path template a request was routed to, e.g. `/v1/customers/{customer_id}`."""
    matches = [info for info in route_index(app) if info.regex.match(path)]
    for info in matches:
        if method in info.methods:
            return info.template
    return matches[0].template if matches else None
