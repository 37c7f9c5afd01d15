"""Route templates and methods by path, for the 405 `Allow` header and the access log.

FastAPI ≥ 0.160 nests included routers instead of copying their routes, so `app.routes` no longer lists
`/v1/...` paths: we index the routers we include ourselves.
"""

import re
from dataclasses import dataclass

from fastapi import APIRouter, FastAPI
from starlette.routing import BaseRoute, compile_path


@dataclass(frozen=True)
class RouteInfo:
    """One path template and the methods it answers."""

    template: str
    regex: re.Pattern[str]
    methods: frozenset[str]


def index_routes(app: FastAPI, routers: list[tuple[str, APIRouter]]) -> None:
    """Record every path template with its methods, from the app's own routes and the included routers.

    Built once in create_app (cheap), not from app.openapi() on first request (costly per app in tests).
    """
    found: dict[str, set[str]] = {}
    sources: list[tuple[str, list[BaseRoute]]] = [("", list(app.router.routes))]
    sources += [(prefix, list(router.routes)) for prefix, router in routers]
    for prefix, routes in sources:
        for route in routes:
            path, methods = getattr(route, "path", None), getattr(route, "methods", None)
            if path is not None and methods:
                found.setdefault(prefix + path, set()).update(methods)
    index = []
    for template, methods in found.items():
        if "GET" in methods:
            methods.add("HEAD")
        regex, _, _ = compile_path(template)
        index.append(RouteInfo(template, regex, frozenset(methods)))
    # Static segments win over parameters, as in routing: /customers/batch before /customers/{id}.
    index.sort(key=lambda info: info.template.count("{"))
    app.state.route_index = index


def route_index(app: FastAPI) -> list[RouteInfo]:
    """The index index_routes() built."""
    index: list[RouteInfo] = getattr(app.state, "route_index", [])
    return index


def allowed_methods(app: FastAPI, path: str) -> list[str]:
    """Every method the routes of `path` accept (RFC 9110 `Allow`); a static path hides `{id}` templates."""
    matches = [info for info in route_index(app) if info.regex.match(path)]
    static = [info for info in matches if "{" not in info.template]
    methods: set[str] = set()
    for info in static or matches:
        methods |= info.methods
    return sorted(methods)


def route_template(app: FastAPI, path: str, method: str) -> str | None:
    """The path template a request was routed to, e.g. `/v1/customers/{customer_id}`."""
    matches = [info for info in route_index(app) if info.regex.match(path)]
    for info in matches:
        if method in info.methods:
            return info.template
    return matches[0].template if matches else None
