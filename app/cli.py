"""The `csroi` command: serve, migrate, manage API keys, write the OpenAPI document."""

import json
import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Annotated

import typer
import uvicorn
from pydantic import ValidationError
from rich.console import Console
from rich.progress import MofNCompleteColumn, Progress
from rich.table import Table
from sqlalchemy.orm import Session, sessionmaker

from app import demo as demo_book
from app import importer
from app import migrate as migrations
from app import worker as worker_process
from app.audit import service as audit_service
from app.config import get_settings
from app.csv import csv_text
from app.db import WRITE_OPTION, make_engine, make_sessionmaker, utcnow
from app.errors import AppError, NotFound, Unprocessable
from app.health import backtest as health_backtest_service
from app.health import churn
from app.health import service as health_service
from app.health.backtest_schemas import CALIBRATION_COLUMNS, BacktestOut, BacktestQuery
from app.interventions import service as interventions_service
from app.keys import service as keys_service
from app.keys.service import Scope
from app.logs import configure_logging
from app.main import create_app
from app.scorecard import client as scorecard_client
from app.types import ResponseFormat
from app.usage import service as usage_service
from app.usage.clickhouse.schema import ClickHouseSettings, Schema

cli = typer.Typer(help="csroi: what is our Customer Success team worth?", no_args_is_help=True)
keys_cli = typer.Typer(help="Create, list and revoke API keys.", no_args_is_help=True)
cli.add_typer(keys_cli, name="keys")
interventions_cli = typer.Typer(help="Scheduled work on interventions.", no_args_is_help=True)
cli.add_typer(interventions_cli, name="interventions")
health_cli = typer.Typer(help="Health snapshots, the churn model and the backtest.", no_args_is_help=True)
cli.add_typer(health_cli, name="health")
clickhouse_cli = typer.Typer(help="The ClickHouse usage store (docs/clickhouse.md).", no_args_is_help=True)
cli.add_typer(clickhouse_cli, name="clickhouse")
usage_cli = typer.Typer(help="The daily usage rollup.", no_args_is_help=True)
cli.add_typer(usage_cli, name="usage")
err = Console(stderr=True)


@contextmanager
def _sessions() -> Iterator[sessionmaker[Session]]:
    """Sessions on the configured database; the engine is disposed afterwards (no leaked connections)."""
    engine = make_engine(get_settings().database_url)
    try:
        yield make_sessionmaker(engine)
    finally:
        engine.dispose()


@contextmanager
def _session() -> Iterator[Session]:
    """One session on the configured database."""
    with _sessions() as maker, maker() as session:
        yield session


@cli.command()
def migrate() -> None:
    """Upgrade the database to the latest migration."""
    url = get_settings().database_url
    migrations.upgrade(url)
    err.print(f"database migrated to {migrations.head_revision()}")


@cli.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.")] = 8000,
    workers: Annotated[int, typer.Option(min=1, help="Worker processes (stateless; share one database).")] = 1,
    migrate_first: Annotated[
        bool,
        typer.Option("--migrate/--no-migrate", help="Migrate before serving (default: CSROI_MIGRATE_ON_START)."),
    ] = True,
    with_demo: Annotated[
        bool, typer.Option("--demo", help="Load the demo book first; refused if the database has customers.")
    ] = False,
) -> None:
    """Serve the API; on a database with no key yet, create and print one admin key."""
    settings = get_settings()
    if migrate_first and settings.migrate_on_start:
        migrations.upgrade(settings.database_url)
    if with_demo:
        with _sessions() as maker:
            found = demo_book.load.customer_count(maker)
            if found:
                err.print(
                    f"refused: --demo loads the demo book into an empty database, but this one already has "
                    f"{found:,} customer{'s' if found != 1 else ''}; point DATABASE_URL at an empty database, "
                    f"or run `csroi serve` without --demo to serve the data it has.",
                    markup=False,
                    soft_wrap=True,
                )
                raise typer.Exit(1)
            demo_book.load_demo(maker, console=err, min_churns=settings.churn_min_churns)
    with _session() as session:
        if keys_service.count_active_keys(session) == 0:
            created = keys_service.create_key(session, name="initial admin", scopes=[Scope.admin])
            _audit_key(session, "key.create", created.id, after={"name": created.name, "scopes": created.scopes})
            session.commit()
            typer.echo(
                f"No API key existed, so csroi created an admin key. It is shown only this once:\n\n"
                f"    {created.secret}\n\n"
                f"Try: curl -H 'Authorization: Bearer {created.secret}' http://{host}:{port}/v1/customers\n"
                f"API docs: http://{host}:{port}/docs\n"
            )
    uvicorn.run(
        "app.main:serve_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_config=None,
        proxy_headers=True,
        access_log=False,
    )


@cli.command()
def worker(
    once: Annotated[
        str, typer.Option(help="Run this one job now and exit (a name from GET /v1/jobs, e.g. health.snapshot).")
    ] = "",
) -> None:
    """Run the schedule (daily snapshot, outcome measurement, renewal notices, weekly churn refit) and deliver
    webhooks, until SIGTERM or Ctrl-C; or run one job now with --once."""
    settings = get_settings()
    configure_logging(
        settings.log_level, json=settings.log_json if settings.log_json is not None else not sys.stderr.isatty()
    )
    process = worker_process.build(settings)
    try:
        if once:
            if once not in worker_process.JOBS:
                err.print(f"no job {once!r}; the jobs are: {', '.join(worker_process.JOBS)}", markup=False)
                raise typer.Exit(2)
            outcome = worker_process.run_job(process, once)
            if outcome == "busy":
                err.print(f"{once} is running in another worker; nothing done", markup=False)
            raise typer.Exit(0 if outcome in ("ran", "busy") else 1)
        stop = threading.Event()
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: stop.set())
        worker_process.run(process, stop)
    finally:
        process.close()
        process.engine.dispose()


@keys_cli.command("create")
def keys_create(
    name: Annotated[str, typer.Option(help="Who or what uses the key.")],
    scope: Annotated[list[Scope], typer.Option(help="ingest, read, write or admin; repeat for several.")],
) -> None:
    """Create a key: the key alone on stdout (shown once), details on stderr."""
    with _session() as session:
        created = keys_service.create_key(session, name=name, scopes=scope)
        _audit_key(session, "key.create", created.id, after={"name": created.name, "scopes": created.scopes})
        session.commit()
    err.print(f"created key {created.id} '{created.name}' with scopes {', '.join(created.scopes)}")
    typer.echo(created.secret)


@keys_cli.command("list")
def keys_list() -> None:
    """List keys (never their secrets)."""
    table = Table("id", "name", "prefix", "scopes", "created", "last used", "revoked")
    with _session() as session:
        for row in keys_service.list_keys(session):
            table.add_row(
                str(row.id),
                row.name,
                row.prefix + "…",
                ",".join(row.scopes),
                f"{row.created_at:%Y-%m-%d}",
                f"{row.last_used_at:%Y-%m-%d %H:%M}" if row.last_used_at else "",
                f"{row.revoked_at:%Y-%m-%d %H:%M}" if row.revoked_at else "",
            )
    Console().print(table)


@keys_cli.command("revoke")
def keys_revoke(key_id: Annotated[int, typer.Argument(help="The key's id from `csroi keys list`.")]) -> None:
    """Revoke a key; requests with it get 401 from then on."""
    with _session() as session:
        try:
            row = keys_service.revoke_key(session, key_id)
        except NotFound:
            err.print(f"no key with id {key_id}")
            raise typer.Exit(1) from None
        revoked = row.revoked_at.isoformat() if row.revoked_at else None
        _audit_key(session, "key.revoke", key_id, after={"name": row.name, "revoked_at": revoked})
        session.commit()
    err.print(f"revoked key {key_id}")


def _audit_key(session: Session, action: str, key_id: int, *, after: dict[str, object]) -> None:
    """Keys are made and revoked from the command line: the audit log says so (never the secret)."""
    audit_service.record(session, audit_service.COMMAND_LINE, action, f"key/{key_id}", after=after)


@health_cli.command("snapshot")
def health_snapshot(
    day: Annotated[str, typer.Option("--date", help="Day to snapshot, YYYY-MM-DD (default: today, UTC).")] = "",
    until: Annotated[str, typer.Option(help="Backfill every day from --date to this one, inclusive.")] = "",
    model_version: Annotated[
        int | None, typer.Option(min=1, help="Score with this health model version (default: each day's in force).")
    ] = None,
) -> None:
    """Store every customer's health for a day, or for each day of a range, each day by the health model in force
    on it (one commit per day)."""
    try:
        first = date.fromisoformat(day) if day else utcnow().date()
        last = date.fromisoformat(until) if until else first
    except ValueError as exc:
        raise typer.BadParameter(f"dates are YYYY-MM-DD: {exc}") from None
    if last < first:
        raise typer.BadParameter("--until is before --date")
    days = [first + timedelta(days=n) for n in range((last - first).days + 1)]
    with _sessions() as maker, Progress(*Progress.get_default_columns(), MofNCompleteColumn(), console=err) as progress:
        task = progress.add_task("health snapshots", total=len(days))
        used: set[int] = set()
        for current in days:
            with maker() as session:
                session.connection(execution_options={WRITE_OPTION: True})
                try:
                    result = health_service.snapshot_health(session, day=current, model_version=model_version)
                except Unprocessable as exc:
                    raise typer.BadParameter(str(exc)) from None
                session.commit()
            used.add(result.model_version)
            progress.update(task, advance=1, description=f"{current}: {result.customers} customers")
    versions = ", ".join(str(v) for v in sorted(used))
    err.print(f"stored {len(days)} day(s) of health snapshots, model version(s) {versions}")


@usage_cli.command("rebuild-rollup")
def usage_rebuild_rollup(
    customer: Annotated[
        list[str] | None, typer.Option(help="Only this customer (repeat the option for several); default: all.")
    ] = None,
) -> None:
    """Recompute the raw-fed daily usage rollup from raw events, in one transaction (daily aggregates stay)."""
    with _session() as session:
        session.connection(execution_options={WRITE_OPTION: True})
        models = health_service.versions(session).specs.values()
        components = [c for spec in models for c in spec.model.components]
        written = usage_service.rebuild_rollup(session, customer or None, components=components)
        session.commit()
    err.print(f"rebuilt {written:,} usage_daily row(s) from raw events")


@health_cli.command("fit")
def health_fit() -> None:
    """Refit the churn model on stored snapshots and churns (defaults apply until enough churns exist)."""
    settings = get_settings()
    with _session() as session:
        row = churn.refit(session, today=utcnow().date(), min_churns=settings.churn_min_churns)
        session.commit()
    if row is None:
        err.print(f"fewer than {settings.churn_min_churns} churn movements: per-band defaults stay in force")
    else:
        err.print(
            f"fitted on {row.examples} labelled snapshots ({row.churns} churn movements): intercept "
            f"{row.intercept:.4f}, coefficient {row.coefficient:.4f}"
        )


@health_cli.command("backtest")
def health_backtest(
    start: Annotated[str, typer.Option(help="First day whose pairs are labelled, YYYY-MM-DD.")],
    end: Annotated[str, typer.Option(help="Last day, YYYY-MM-DD; end + horizon must be on or before today.")],
    horizon_days: Annotated[int, typer.Option(help="Churn within this many days labels a pair churned.")] = 90,
    model_version: Annotated[int | None, typer.Option(help="Score point in time with this model version.")] = None,
    as_csv: Annotated[bool, typer.Option("--csv", help="Print the calibration rows as CSV instead of tables.")] = False,
) -> None:
    """How well health scores foretold churn (GET /v1/health/backtest): tables at a terminal, or CSV."""
    try:
        query = BacktestQuery.model_validate(
            {"start": start, "end": end, "horizon_days": horizon_days, "model_version": model_version}
        )
    except ValidationError as exc:
        raise typer.BadParameter("; ".join(e["msg"] for e in exc.errors())) from None
    settings = get_settings()
    with _session() as session:
        try:
            report = health_backtest_service.get_backtest(
                session, start=query.start, end=query.end, horizon_days=query.horizon_days,
                model_version=query.model_version, today=utcnow().date(), churn_defaults=settings.churn_defaults,
            )  # fmt: skip
        except AppError as exc:
            err.print(f"refused: {exc}", markup=False, soft_wrap=True)
            raise typer.Exit(1) from None
    if as_csv:
        sys.stdout.write(csv_text(report.calibration_rows(), CALIBRATION_COLUMNS))
        return
    for table in _backtest_tables(report):
        Console().print(table)


def _figure(value: object) -> str:
    if isinstance(value, list):
        return ", ".join(map(str, value))
    return "" if value is None else f"{value:.4f}" if isinstance(value, Decimal) else str(value)


def _backtest_tables(report: BacktestOut) -> list[Table]:
    """The backtest as three tables: the figures, the calibration, the components."""
    summary = Table("figure", "value", title=f"Backtest {report.start}..{report.end}")
    for name in ("source", "dates", "model_versions", "horizon_days", "pairs", "customers", "churns",
                 "churned_pairs", "unscored", "churn_rate", "auc", "brier", "lift", "method"):  # fmt: skip
        summary.add_row(name, _figure(getattr(report, name)))
    calibration = Table(*CALIBRATION_COLUMNS, title="Calibration: predicted and observed churn")
    for row in report.calibration_rows():
        calibration.add_row(*(_figure(round(v, 2) if isinstance(v, float) else v) for v in row.values()))
    components = Table("component", "pairs", "coverage", "auc", title="Components")
    for c in report.components:
        components.add_row(c.name, str(c.pairs), _figure(c.coverage), _figure(c.auc))
    return [summary, calibration, components]


@interventions_cli.command("measure")
def interventions_measure() -> None:
    """Store the outcome of every intervention whose measurement date has passed (run it daily from cron)."""
    with _session() as session:
        session.connection(execution_options={WRITE_OPTION: True})
        stored = interventions_service.measure_due(session, interventions_service.today())
        session.commit()
    err.print(f"measured {stored} intervention(s)")


@cli.command()
def scorecard(
    month: Annotated[str, typer.Argument(help="The month, YYYY-MM.")],
    *,
    url: Annotated[str, typer.Option(help="Base URL of the csroi service, e.g. https://csroi.internal.")],
    key: Annotated[str, typer.Option(envvar="CSROI_API_KEY", help="API key with `read` scope (or CSROI_API_KEY).")],
    fmt: Annotated[ResponseFormat, typer.Option("--format", help="json or csv.")] = "json",
    output: Annotated[Path | None, typer.Option(help="Write here instead of stdout.")] = None,
    tries: Annotated[int, typer.Option(min=1, max=10, help="Attempts on 5xx or connection errors.")] = 4,
    backoff: Annotated[float, typer.Option(min=0, help="Seconds before the 2nd try; doubles after each.")] = 1.0,
) -> None:
    """Pull a month's scorecard over HTTP (for cron); exit 2 when the server refuses (4xx), 1 when unreachable."""
    try:
        text = scorecard_client.fetch_scorecard(url, key, month, fmt, tries=tries, backoff=backoff)
    except scorecard_client.ClientError as exc:
        err.print(f"csroi scorecard: {exc}", markup=False, highlight=False, soft_wrap=True)
        raise typer.Exit(exc.exit_code) from None
    if output:
        output.write_text(text)
        err.print(f"wrote the {month} scorecard to {output}")
    else:
        sys.stdout.write(text)


@cli.command()
def demo(
    seed: Annotated[int, typer.Option(help="Seed of the generator: the same seed loads the same book.")] = 42,
    customers: Annotated[int, typer.Option(min=20, max=20_000, help="How many customers.")] = 500,
    force: Annotated[bool, typer.Option(help="Load even though the database already has customers.")] = False,
) -> None:
    """Load a seeded synthetic SaaS book (two years and this month to yesterday, a holdout experiment) through the
    service functions."""
    migrations.upgrade(get_settings().database_url)
    with _sessions() as maker:
        try:
            done = demo_book.load_demo(
                maker, seed=seed, customers=customers, force=force, console=err,
                min_churns=get_settings().churn_min_churns,
            )  # fmt: skip
        except demo_book.DatabaseNotEmpty as exc:
            err.print(f"refused: {exc}")
            raise typer.Exit(1) from None
    err.print(f"demo book {done.start} to {done.end} loaded in {done.seconds:.1f} s: "
              + ", ".join(f"{count:,} {name}" for name, count in done.counts.items()), soft_wrap=True)  # fmt: skip
    err.print(done.experiment, soft_wrap=True)


@cli.command("import")
def import_csv(
    kind: Annotated[importer.Kind, typer.Argument(help="What the file holds.")],
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="CSV, header row = API field names.")],
) -> None:
    """Import a CSV through the API's validation and services: every row valid, or nothing written."""
    try:
        items = importer.read_file(file, kind)
    except importer.ImportInvalid as exc:
        for line in exc.errors:
            err.print(line, markup=False, highlight=False)
        err.print(f"{exc}")
        raise typer.Exit(1) from None
    with _session() as session:
        session.connection(execution_options={WRITE_OPTION: True})
        try:
            totals = importer.write_items(
                session, kind, items, err, retention_days=get_settings().events_retention_days
            )
        except AppError as exc:  # e.g. an event id reused with other content: nothing is committed
            err.print(f"refused: {exc}", markup=False)
            raise typer.Exit(1) from None
        session.commit()
    typer.echo(", ".join(f"{name} {count}" for name, count in totals.items()))


@cli.command()
def openapi(
    output: Annotated[Path | None, typer.Option(help="Write here instead of stdout.")] = None,
) -> None:
    """Print the OpenAPI document the app serves (commit it as openapi/openapi.json)."""
    text = json.dumps(create_app().openapi(), indent=2, sort_keys=False) + "\n"
    if output:
        output.write_text(text)
    else:
        sys.stdout.write(text)


@clickhouse_cli.command("ddl")
def clickhouse_ddl(
    cluster: Annotated[
        str | None, typer.Option(help="A cluster from remote_servers (default CSROI_CLICKHOUSE_CLUSTER).")
    ] = None,
    database: Annotated[str | None, typer.Option(help="The database (default CSROI_CLICKHOUSE_DATABASE).")] = None,
) -> None:
    """Print the ClickHouse usage schema's DDL, statements ending in `;` (for clickhouse-client --multiquery).

    With a cluster: ReplicatedMergeTree local tables (CSROI_CLICKHOUSE_REPLICA_PATH, _REPLICA_NAME) and Distributed
    tables sharded by cityHash64(customer_id), every statement ON CLUSTER.
    """
    settings = ClickHouseSettings()
    try:
        schema = Schema(
            database or settings.database, cluster or settings.cluster, settings.replica_path, settings.replica_name
        )
    except ValueError as exc:
        err.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from None
    sys.stdout.write("".join(f"{statement};\n\n" for statement in schema.ddl()))


def main() -> None:
    """Console-script entry point."""
    cli()


if __name__ == "__main__":  # `python -m app.cli …`, as well as the `csroi` console script
    main()
