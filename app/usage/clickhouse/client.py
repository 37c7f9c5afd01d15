"""One small client interface over two transports: clickhouse-connect (a server) and chDB (in process).

The store's SQL is the same for both: `{name:Type}` query parameters, results as rows of ints, strings and NULLs
(times travel as Int64 microseconds, sums as Int128), inserts of Python values. Neither package is imported until a
client is made, so the default install needs neither (`pip install 'csroi[clickhouse]'` brings both).
"""

import json
import threading
from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime
from typing import Any, Protocol
from urllib.parse import parse_qs, unquote, urlsplit, urlunsplit

Row = tuple[Any, ...]


class ClickHouseClient(Protocol):
    """What the store needs from ClickHouse."""

    def command(self, sql: str) -> None:
        """Run a statement that returns nothing (DDL, ALTER)."""

    def query(self, sql: str, parameters: Mapping[str, Any] | None = None) -> list[Row]:
        """Rows of a SELECT with `{name:Type}` parameters (ints, strings, dates, lists and tuples of them)."""

    def insert(self, table: str, rows: Sequence[Sequence[Any]], column_names: Sequence[str]) -> None:
        """Append rows (str, int, None, date, tz-aware datetime and list values) to `table`."""


class Dsn:
    """A parsed `CSROI_USAGE_STORE` value: `clickhouse://user:pass@host:8123/db` or `chdb://PATH` (`:memory:` too)."""

    def __init__(self, url: str) -> None:
        scheme, _, rest = url.partition("://")
        self.url = url
        self.scheme = scheme.lower()
        if self.scheme not in {"clickhouse", "clickhouses", "chdb"}:
            raise ValueError(f"CSROI_USAGE_STORE: {scheme!r} is not clickhouse://, clickhouses:// or chdb://")
        self.database: str | None = None
        if self.scheme == "chdb":
            path, _, query = rest.partition("?")
            if not path:
                raise ValueError(
                    "CSROI_USAGE_STORE: chdb:// needs a directory (or :memory:), e.g. chdb:///var/lib/csroi"
                )
            self.path = unquote(path)
            named = parse_qs(query).get("database")
            self.database = named[0] if named else None
        else:
            parts = urlsplit(url)
            self.path = ""
            self.database = parts.path.strip("/") or None

    def redacted(self) -> str:
        """The DSN without its password, for messages."""
        parts = urlsplit(self.url)
        if parts.password is None:
            return self.url
        return self.url.replace(f":{parts.password}@", ":***@", 1)


def connect(dsn: Dsn) -> ClickHouseClient:
    """The client for a DSN: chDB in this process, or clickhouse-connect to a server."""
    if dsn.scheme == "chdb":
        return ChdbClient(dsn.path)
    return ConnectClient(dsn.url, secure=dsn.scheme == "clickhouses")


class ConnectClient:
    """clickhouse-connect over HTTP(S); parameters are bound by the server (`{name:Type}`)."""

    def __init__(self, url: str, *, secure: bool = False) -> None:
        import clickhouse_connect  # noqa: PLC0415 - optional extra, imported only when configured

        # The store names every table with its database, which may not exist yet: the session gets none (a chdb://
        # DSN, which clickhouse-connect also drives, keeps its path: the directory).
        server = url if url.startswith("chdb:") else urlunsplit(urlsplit(url)._replace(path=""))
        # Synchronous inserts through Distributed tables: an accepted batch is on its shards when the call returns.
        self._client = clickhouse_connect.get_client(
            dsn=server, secure=secure, settings={"distributed_foreground_insert": 1}
        )

    def command(self, sql: str) -> None:
        self._client.command(sql)

    def query(self, sql: str, parameters: Mapping[str, Any] | None = None) -> list[Row]:
        return [tuple(row) for row in self._client.query(sql, parameters=dict(parameters or {})).result_rows]

    def insert(self, table: str, rows: Sequence[Sequence[Any]], column_names: Sequence[str]) -> None:
        self._client.insert(table, [list(r) for r in rows], column_names=list(column_names))


# chDB runs one embedded server per process, on one data directory: sessions are shared by path.
_SESSIONS: dict[str, Any] = {}
_LOCK = threading.Lock()


def chdb_session(path: str) -> Any:
    """The process's chDB session on `path` (made on first use)."""
    with _LOCK:
        if path not in _SESSIONS:
            from chdb import session as chdb_sessions  # noqa: PLC0415 - optional extra, imported only when configured

            _SESSIONS[path] = chdb_sessions.Session(path)  # type: ignore[no-untyped-call]
        return _SESSIONS[path]


class ChdbClient:
    """chDB (ClickHouse in this process); parameters are sent in ClickHouse's text form."""

    def __init__(self, path: str) -> None:
        self._session = chdb_session(path)

    def command(self, sql: str) -> None:
        self._session.query(sql, "CSV")

    def query(self, sql: str, parameters: Mapping[str, Any] | None = None) -> list[Row]:
        params = {name: param_text(value) for name, value in (parameters or {}).items()}
        text = self._session.query(
            f"{sql} SETTINGS output_format_json_quote_64bit_integers = 0", "JSONCompactEachRow", params=params or None
        )
        return [tuple(json.loads(line)) for line in str(text).splitlines() if line]

    def insert(self, table: str, rows: Sequence[Sequence[Any]], column_names: Sequence[str]) -> None:
        if not rows:
            return
        dumps = json.JSONEncoder(ensure_ascii=False, default=_json_value).encode
        lines = "\n".join(dumps(row) for row in rows)
        self._session.query(
            f"INSERT INTO {table} ({', '.join(column_names)}) FORMAT JSONCompactEachRow\n{lines}", "CSV"
        )


def _json_value(value: Any) -> Any:
    """A datetime as ClickHouse's text form in UTC (the columns are DateTime64(6, 'UTC')), a date as YYYY-MM-DD."""
    if isinstance(value, datetime):
        return value.astimezone(UTC).replace(tzinfo=None).isoformat(" ")
    if isinstance(value, date):
        return value.isoformat()
    raise TypeError(f"unsupported ClickHouse insert value: {type(value).__name__}")


def _quoted(text: str) -> str:
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def param_text(value: Any, *, top: bool = True) -> str:  # noqa: PLR0911 - one return per kind of value
    """A parameter value in ClickHouse's text form (as the server parses `param_<name>`): a top-level string in
    escaped form, nested strings and dates quoted, lists as [..], tuples as (..)."""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        if top:
            return value.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n")
        return _quoted(value)
    if isinstance(value, date) and not isinstance(value, datetime):
        return value.isoformat() if top else f"'{value.isoformat()}'"
    if isinstance(value, list):
        return "[" + ",".join(param_text(v, top=False) for v in value) + "]"
    if isinstance(value, tuple):
        return "(" + ",".join(param_text(v, top=False) for v in value) + ")"
    raise TypeError(f"unsupported ClickHouse parameter value: {type(value).__name__}")
