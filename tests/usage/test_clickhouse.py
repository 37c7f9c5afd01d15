"""The ClickHouse store's ingest semantics (duplicates, 409, stub customers), erasure, DSNs, parameters, and the
schema's DDL as text (one node and a cluster)."""

import subprocess
import sys
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from app import cli
from app.errors import Conflict, Unprocessable
from app.health.schemas import ComponentIn
from app.models import Customer
from app.usage.clickhouse import ClickHouseStore, Schema
from app.usage.clickhouse.client import Dsn, param_text
from app.usage.service import EventRow, ingest_usage_events, make_row
from tests.health.usage_books import MODEL

CLUSTER_DDL = Path(__file__).with_name("clickhouse_cluster_ddl.sql")
AT = datetime(2026, 3, 1, 12, tzinfo=UTC)


def _row(event_id: str, customer: str = "n1", *, micros: int = 1_000_000, at: datetime = AT) -> EventRow:
    return make_row(event_id, customer, "login", at, micros, '{"via":"web"}')


def _stored(store: ClickHouseStore) -> list[tuple[str, int]]:
    table = store.schema.table("usage_event")
    return [(i, v) for i, v in store.client.query(f"SELECT id, value FROM {table} ORDER BY id")]  # noqa: S608


class TestIngest:
    """Same answers as the SQL ingest: accepted and duplicates counted, a conflicting re-post refused whole."""

    def test_duplicates_and_stub_customers(self, session: Session, ch_store: ClickHouseStore) -> None:
        first = [_row("e1"), _row("e2", "n2"), _row("e3", micros=2_500_000)]
        result = ch_store.ingest_events(session, first)
        assert (result.accepted, result.duplicates) == (3, 0)
        assert set(session.scalars(select(Customer.id).where(Customer.id.in_(["n1", "n2"])))) == {"n1", "n2"}
        # All three again plus a repeat inside the batch: 4 duplicates, nothing new.
        again = ch_store.ingest_events(session, [*first, first[0]])
        assert (again.accepted, again.duplicates) == (0, 4)
        assert _stored(ch_store) == [("e1", 1_000_000), ("e2", 1_000_000), ("e3", 2_500_000)]
        # The rollup counts each event once: n1 has e1 and e3 on 1 March, 1 + 2.5 = 3.5 (3,500,000 millionths).
        totals = ch_store.window_totals(session, {("n1", "login", date(2026, 3, 1))}, window_days=1)
        assert totals == {("n1", "login", date(2026, 3, 1)): (2, 3_500_000)}

    def test_a_conflicting_repost_writes_nothing(self, session: Session, ch_store: ClickHouseStore) -> None:
        ch_store.ingest_events(session, [_row("e1"), _row("e2")])
        batch = [_row("e9"), _row("e1", micros=7_000_000), _row("e2", at=AT + timedelta(seconds=1))]
        with pytest.raises(Conflict) as caught:
            ch_store.ingest_events(session, batch)
        assert caught.value.extra == {"ids": ["e1", "e2"]}
        assert caught.value.detail == "2 event id(s) were already used for different content; nothing was written."
        assert _stored(ch_store) == [("e1", 1_000_000), ("e2", 1_000_000)]  # e9 was not written either
        # The SQL ingest answers the same batch the same way.
        ingest_usage_events(session, [_row("e1"), _row("e2")])
        with pytest.raises(Conflict) as sql_caught:
            ingest_usage_events(session, batch)
        assert (sql_caught.value.detail, sql_caught.value.extra) == (caught.value.detail, caught.value.extra)

    def test_one_id_twice_in_a_batch_with_two_contents(self, session: Session, ch_store: ClickHouseStore) -> None:
        with pytest.raises(Conflict) as caught:
            ch_store.ingest_events(session, [_row("e1"), _row("e1", micros=2)])
        assert caught.value.extra == {"ids": ["e1"]}
        assert _stored(ch_store) == []

    def test_times_clickhouse_holds(self, session: Session, ch_store: ClickHouseStore) -> None:
        old = _row("old", at=datetime(1965, 7, 1, 0, 0, 0, 1, tzinfo=UTC))  # before 1970: a Date32 day
        ch_store.ingest_events(session, [old])
        assert ch_store.first_seen(session, queries_components(), customers=None) == [
            {"n1": datetime(1965, 7, 1, 0, 0, 0, 1, tzinfo=UTC)}
        ]
        assert ch_store.window_totals(session, {("n1", "login", date(1965, 7, 1))}, window_days=1) == {
            ("n1", "login", date(1965, 7, 1)): (1, 1_000_000)
        }
        with pytest.raises(Unprocessable) as caught:
            ch_store.ingest_events(session, [_row("new"), _row("ancient", at=datetime(1899, 12, 31, tzinfo=UTC))])
        assert "ancient" in str(caught.value.extra)
        assert [i for i, _ in _stored(ch_store)] == ["old"]

    def test_erase(self, session: Session, ch_store: ClickHouseStore) -> None:
        ch_store.ingest_events(session, [_row("e1"), _row("e2"), _row("e3", "n2")])
        assert ch_store.erase(session, "n1") == 2
        assert _stored(ch_store) == [("e3", 1_000_000)]
        day = date(2026, 3, 1)
        assert ch_store.latest_upto(session, {("n1", "login", day), ("n2", "login", day)}) == {
            ("n2", "login", day): Decimal(1)
        }
        # Its ids are free again: the same id is new, not a conflict.
        assert ch_store.ingest_events(session, [_row("e1", micros=5)]).accepted == 1
        # An id with a quote and a backslash is erased too (the mutation quotes it).
        ch_store.ingest_events(session, [_row("q1", "o'ne\\il")])
        assert ch_store.erase(session, "o'ne\\il") == 1
        assert [i for i, _ in _stored(ch_store)] == ["e1", "e3"]


def queries_components() -> list[ComponentIn]:
    """One component reading `login`."""
    return [c for c in MODEL.components if c.name == "logins"]


class TestParameters:
    """Values travel as parameters, whatever they contain."""

    def test_strings_round_trip(self, ch_store: ClickHouseStore) -> None:
        awkward = ["it's", "back\\slash", "tab\there", "new\nline", 'quote"d', "", "ünïcode €", "{x:String}"]
        for text in awkward:
            assert ch_store.client.query("SELECT {s:String}", {"s": text}) == [(text,)]
        rows = ch_store.client.query(
            "SELECT {a:Array(String)}, {t:Array(Tuple(UInt32, String, Int32))}",
            {"a": awkward, "t": [(1, "it's", -5), (2, "x", 7)]},
        )
        (strings, tuples), *more = rows  # tuples come back as lists (chDB's JSON) or tuples (clickhouse-connect)
        assert (strings, [list(t) for t in tuples], more) == (awkward, [[1, "it's", -5], [2, "x", 7]], [])

    def test_text_form(self) -> None:
        assert param_text("a\tb\\c'd") == "a\\tb\\\\c'd"  # top level: escaped, not quoted
        assert param_text([("x'y", date(2026, 1, 2), -3)]) == "[('x\\'y','2026-01-02',-3)]"
        with pytest.raises(TypeError):
            param_text(1.5)


class TestDsn:
    def test_forms(self) -> None:
        server = Dsn("clickhouse://csroi:s3cret@ch.internal:8123/usage")
        assert (server.scheme, server.database) == ("clickhouse", "usage")
        assert server.redacted() == "clickhouse://csroi:***@ch.internal:8123/usage"
        assert Dsn("clickhouses://ch.internal:8443").database is None
        local = Dsn("chdb:///var/lib/csroi/ch?database=usage")
        assert (local.path, local.database) == ("/var/lib/csroi/ch", "usage")
        assert Dsn("chdb://:memory:").path == ":memory:"
        for bad in ("postgresql://x/y", "chdb://"):
            with pytest.raises(ValueError, match="CSROI_USAGE_STORE"):
                Dsn(bad)

    def test_no_clickhouse_package_is_imported_until_used(self) -> None:
        code = (
            "import sys, app.cli, app.usage.clickhouse; "
            "assert not {'chdb', 'clickhouse_connect'} & set(sys.modules), sorted(sys.modules)"
        )
        subprocess.run([sys.executable, "-c", code], check=True, cwd=Path(__file__).parents[2])  # noqa: S603


class TestDdl:
    """The schema as text: what `csroi clickhouse ddl` prints for an operator to review and run."""

    def test_cluster_snapshot(self) -> None:
        text = "".join(f"{s};\n\n" for s in Schema("csroi", cluster="main").ddl())
        assert text == CLUSTER_DDL.read_text()

    def test_cluster_shape(self) -> None:
        ddl = Schema("usage", cluster="prod", replica_path="/ch/{shard}/{table}", replica_name="{replica}-x").ddl()
        assert all(" ON CLUSTER prod" in s for s in ddl)
        stored = [s for s in ddl if s.startswith("CREATE TABLE") and "_local ON CLUSTER" in s]
        assert len(stored) == 5
        assert all("ENGINE = Replicated" in s and "('/ch/{shard}/{table}', '{replica}-x'" in s for s in stored)
        distributed = [s for s in ddl if "ENGINE = Distributed" in s]
        assert [s.split()[5] for s in distributed] == [
            "usage.usage_event", "usage.usage_event_id", "usage.usage_daily", "usage.usage_daily_value",
            "usage.usage_daily_import",
        ]  # fmt: skip
        assert all("cityHash64(customer_id)" in s for s in distributed)
        views = [s for s in ddl if "MATERIALIZED VIEW" in s]
        assert all("FROM usage.usage_event_local" in s for s in views)  # each shard rolls up its own customers

    def test_one_node(self) -> None:
        ddl = Schema("csroi").ddl()
        assert not any("ON CLUSTER" in s or "Replicated" in s or "Distributed" in s for s in ddl)
        assert "ENGINE = ReplacingMergeTree\nPARTITION BY toYYYYMM(occurred_at)" in ddl[1]

    def test_partitions(self) -> None:
        """Raw events and their ids are partitioned by month (retention drops a month's partitions); the rollups by
        year; the daily aggregates not at all (they stay), replaced by version."""
        for schema in (Schema("csroi"), Schema("csroi", cluster="main")):
            created = {s.split()[5]: s for s in schema.ddl() if s.startswith("CREATE TABLE") and "Distributed" not in s}
            partitioned = {
                name: next((line for line in text.splitlines() if line.startswith("PARTITION BY")), None)
                for name, text in created.items()
            }
            assert partitioned == {
                schema.local("usage_event"): "PARTITION BY toYYYYMM(occurred_at)",
                schema.local("usage_event_id"): "PARTITION BY toYYYYMM(occurred_at)",
                schema.local("usage_daily"): "PARTITION BY toYear(day)",
                schema.local("usage_daily_value"): "PARTITION BY toYear(day)",
                schema.local("usage_daily_import"): None,
            }
            [engine] = [line for line in created[schema.local("usage_daily_import")].splitlines() if "ENGINE" in line]
            replicated = "('/clickhouse/tables/{shard}/{database}/{table}', '{replica}', version)"
            assert engine == f") ENGINE = ReplicatedReplacingMergeTree{replicated}" if schema.cluster else (
                engine == ") ENGINE = ReplacingMergeTree(version)"
            )  # fmt: skip
            views = [s.splitlines() for s in schema.ddl() if "MATERIALIZED VIEW" in s]
            [ids_view] = [v for v in views if v[0].endswith(f"TO {schema.local('usage_event_id')} AS")]
            selected = "SELECT id, content_hash, customer_id, occurred_at FROM"
            assert ids_view[1] == f"{selected} {schema.local('usage_event')}"

    def test_names_are_checked(self) -> None:
        for database, cluster in (("csroi; DROP", None), ("csroi", "a-b"), ("1db", None)):
            with pytest.raises(ValueError, match="letters, digits and _"):
                Schema(database, cluster=cluster)

    def test_cli_prints_it(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.delenv("CSROI_CLICKHOUSE_CLUSTER", raising=False)
        result = CliRunner().invoke(cli.cli, ["clickhouse", "ddl", "--cluster", "main"])
        assert result.exit_code == 0, result.output
        assert result.stdout == CLUSTER_DDL.read_text()
        bad = CliRunner().invoke(cli.cli, ["clickhouse", "ddl", "--database", "no-dashes"])
        assert bad.exit_code == 2
