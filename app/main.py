"""The FastAPI application: create_app() wires settings, database, routers, middleware and errors."""

import gc
import multiprocessing
import os
import signal
import sys
import threading
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from asgi_correlation_id import CorrelationIdMiddleware
from fastapi import Depends, FastAPI, Request
from fastapi.middleware.cors import CORSMiddleware
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse
from prometheus_client import CollectorRegistry, GCCollector, PlatformCollector, ProcessCollector
from prometheus_fastapi_instrumentator import Instrumentator

from app import __version__, ops
from app.audit.router import router as audit_router
from app.batch import BatchLimitMiddleware
from app.config import Settings, get_settings
from app.costs.router import router as costs_router
from app.customers.router import router as customers_router
from app.dashboard import install_dashboard
from app.db import make_engine, make_sessionmaker
from app.docs import install_docs, prefill_examples
from app.errors import (
    UnhandledErrorMiddleware,
    declare_json_body_responses,
    install_error_handlers,
    problem_response,
    problem_schemas,
)
from app.experiments.router import router as experiments_router
from app.health.backtest_router import router as health_backtest_router
from app.health.router import router as health_router
from app.interventions.router import recommendation_router
from app.interventions.router import router as interventions_router
from app.jobs.router import router as jobs_router
from app.keys.router import router as keys_router
from app.ledger.router import router as ledger_router
from app.ledger.stripe_router import router as stripe_router
from app.ledger.stripe_router import stripe_schemas
from app.limits import BodyLimitMiddleware
from app.logs import AccessLogMiddleware, configure_logging
from app.metrics.health_router import router as health_metrics_router
from app.metrics.router import router as metrics_router
from app.metrics.staffing_router import router as staffing_router
from app.metrics.unit_economics_router import router as unit_economics_router
from app.renewals.router import router as renewals_router
from app.routes import allowed_methods, index_routes
from app.schemas import PLAIN_JSON_SCHEMAS, single_valued_query
from app.scorecard.router import router as scorecard_router
from app.usage import store as usage_store
from app.usage.router import router as usage_router
from app.usage.router import usage_batch_schemas
from app.webhooks.router import router as webhooks_router

DESCRIPTION = """csroi answers *what is our Customer Success team worth?* It keeps customers, recurring revenue,
renewals, CS costs, usage signals and CS interventions, and computes retention, renewal, cost, health and ROI
metrics. Every `/v1` route needs `Authorization: Bearer <api key>`; errors are RFC 9457 problem+json."""


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Build the engine at start-up (never at import) unless a test has provided one."""
    settings: Settings = app.state.settings
    usage_store.check_store(settings.usage_store)
    owns_engine = not hasattr(app.state, "engine")
    if owns_engine:
        app.state.engine = make_engine(settings.database_url)
        app.state.sessionmaker = make_sessionmaker(app.state.engine)
    try:
        yield
    finally:
        if owns_engine:
            app.state.engine.dispose()


def _openapi(app: FastAPI) -> dict[str, Any]:
    if app.openapi_schema is None:
        schema = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
        components = schema.setdefault("components", {})
        # FastAPI lists its schemas by name; the bodies declared by hand (app.usage.router's event batch, the Stripe
        # event of app.ledger.stripe_router) join them in order.
        generated = {**components.get("schemas", {}), **usage_batch_schemas(), **stripe_schemas(), **PLAIN_JSON_SCHEMAS}
        components["schemas"] = {**dict(sorted(generated.items())), **problem_schemas()}
        declare_json_body_responses(schema)
        prefill_examples(schema)
        app.openapi_schema = schema
    return app.openapi_schema


def _metrics_registry() -> CollectorRegistry:
    """A registry per app (tests build many apps in one process), with the process and GC collectors."""
    registry = CollectorRegistry()
    ProcessCollector(registry=registry)
    PlatformCollector(registry=registry)
    GCCollector(registry=registry)
    return registry


def create_app(settings: Settings | None = None) -> FastAPI:
    """The csroi application for `settings` (default: from the environment)."""
    settings = settings or get_settings()
    app = FastAPI(
        title="csroi", version=__version__, description=DESCRIPTION, lifespan=lifespan, docs_url=None, redoc_url=None
    )
    app.state.settings = settings
    install_error_handlers(app)

    async def method_not_allowed(request: Request, exc: Exception) -> JSONResponse:
        return problem_response(
            405,
            "Method Not Allowed",
            "method-not-allowed",
            f"{request.method} is not allowed on {request.url.path}.",
            headers={"Allow": ", ".join(allowed_methods(app, request.url.path))},
        )

    app.add_exception_handler(405, method_not_allowed)
    feature_routers = (
        customers_router,
        ledger_router,
        stripe_router,
        renewals_router,
        costs_router,
        usage_router,
        health_router,
        health_backtest_router,
        metrics_router,
        health_metrics_router,
        unit_economics_router,
        interventions_router,
        recommendation_router,
        experiments_router,
        staffing_router,
        scorecard_router,
        audit_router,
        webhooks_router,
        jobs_router,
        keys_router,
    )
    routers = [("", ops.router), *[("/v1", r) for r in feature_routers]]
    for prefix, router in routers:
        app.include_router(router, prefix=prefix, dependencies=[Depends(single_valued_query)] if prefix else None)
    app.openapi = lambda: _openapi(app)  # type: ignore[method-assign]
    install_docs(app)
    install_dashboard(app)

    Instrumentator(excluded_handlers=["/metrics"], registry=_metrics_registry()).instrument(app).expose(
        app, include_in_schema=False
    )
    # add_middleware wraps: the last added is outermost. The request id is outermost so every answer (even a
    # 500) carries it; CORS next, so browsers can read error answers too.
    app.add_middleware(BatchLimitMiddleware, max_items=settings.max_batch_items)
    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.max_body_bytes)
    app.add_middleware(UnhandledErrorMiddleware)
    app.add_middleware(AccessLogMiddleware)
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["*"],
            allow_headers=["Authorization", "Content-Type", "Accept", "X-Request-ID"],
            expose_headers=["X-Request-ID", "X-Next-Cursor"],
        )
    app.add_middleware(CorrelationIdMiddleware, header_name="X-Request-ID")
    index_routes(app, routers)
    return app


PARENT_POLL_SECONDS = 1.0


def _exit_with_parent() -> None:
    """In a worker process of `csroi serve --workers N`: stop (SIGTERM to itself, so uvicorn shuts down cleanly)
    when the supervising parent dies, even by `kill -9`, instead of serving on as an orphan that holds the port."""
    supervisor = multiprocessing.parent_process()
    if supervisor is None or supervisor.pid is None:
        return  # one process: nothing supervises it
    # The supervisor's pid as multiprocessing knew it at spawn, not os.getppid() now: a worker slow to import the
    # app (a loaded machine) may reach this after the parent died, when getppid() already names init.
    parent = supervisor.pid

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(PARENT_POLL_SECONDS)
        os.kill(os.getpid(), signal.SIGTERM)

    threading.Thread(target=watch, name="exit-with-parent", daemon=True).start()


def freeze_heap() -> None:
    """Move every object alive now (modules, the app, its routes and schemas: ~200,000 objects once the app is
    built) to the collector's permanent generation. Without it each full collection, about one per heavy request
    (a list of 1,000 interventions, ROI), walks them all again: ~0.1 s of CPU per such request on the 10,000
    customer benchmark book; after it, ~0.01–0.03 s. Garbage is collected first so none of it is kept forever.
    For a long-lived serving process only (`serve_app`): tests build many apps in one process and must not pin
    them."""
    gc.collect()
    gc.freeze()


def serve_app() -> FastAPI:
    """uvicorn's factory for `csroi serve`: logging configured once per worker process, which exits with its
    parent."""
    _exit_with_parent()
    settings = get_settings()
    json_logs = settings.log_json if settings.log_json is not None else not sys.stderr.isatty()
    configure_logging(settings.log_level, json=json_logs)
    app = create_app(settings)
    freeze_heap()
    return app
