"""Set-based upserts (`app/batch.py`): counts come from what the database inserted (SPEC §2 records, §13)."""

from typing import Any

import pytest
from sqlalchemy import event, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from app import batch
from app.models import Customer, TeamMember

CUSTOMER = Customer.__table__


def customers(session: Session) -> dict[str, str | None]:
    return {row.id: row.name for row in session.execute(select(Customer.id, Customer.name))}


@pytest.fixture
def inserted_ids(engine: Engine) -> Any:
    """The ids of every customer INSERT sent during the test, in the order sent."""
    sent: list[str] = []

    def values(parameters: Any) -> list[Any]:
        if isinstance(parameters, dict):
            return list(parameters.values())
        if isinstance(parameters, (list, tuple)):
            return [v for p in parameters for v in values(p)]
        return [parameters]

    def record(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_args: Any) -> None:
        if statement.startswith("INSERT INTO customer"):
            sent.extend(v for v in values(parameters) if isinstance(v, str) and v.startswith("k"))

    event.listen(engine, "before_cursor_execute", record)
    yield sent
    event.remove(engine, "before_cursor_execute", record)


class TestUpsertRows:
    def test_counts_new_ids_as_created_and_known_ids_as_updated(self, session: Session) -> None:
        batch.upsert_rows(session, CUSTOMER, [{"id": "a", "name": "A"}])  # type: ignore[arg-type]
        result = batch.upsert_rows(session, CUSTOMER, [{"id": "a", "name": "A2"}, {"id": "b", "name": "B"}])  # type: ignore[arg-type]
        assert (result.created, result.updated) == (1, 1)
        assert customers(session) == {"a": "A2", "b": "B"}

    def test_an_id_repeated_in_one_batch_is_created_once_and_the_last_wins(self, session: Session) -> None:
        rows = [{"id": "a", "name": "first"}, {"id": "a", "name": "last"}]
        result = batch.upsert_rows(session, CUSTOMER, rows)  # type: ignore[arg-type]
        assert (result.created, result.updated) == (1, 1)
        assert customers(session) == {"a": "last"}

    def test_an_omitted_field_keeps_its_stored_value(self, session: Session) -> None:
        batch.upsert_rows(session, CUSTOMER, [{"id": "a", "name": "A", "segment": "smb"}])  # type: ignore[arg-type]
        batch.upsert_rows(session, CUSTOMER, [{"id": "a", "segment": "ent"}, {"id": "b", "name": "B"}])  # type: ignore[arg-type]
        row = session.execute(select(Customer.name, Customer.segment).where(Customer.id == "a")).one()
        assert tuple(row) == ("A", "ent")

    def test_an_update_keeps_created_at(self, session: Session) -> None:
        batch.upsert_rows(session, TeamMember.__table__, [{"id": "m", "name": "M"}])  # type: ignore[arg-type]
        created_at = session.scalar(select(TeamMember.created_at))
        batch.upsert_rows(session, TeamMember.__table__, [{"id": "m", "name": "N"}])  # type: ignore[arg-type]
        assert session.scalar(select(TeamMember.created_at)) == created_at

    def test_ids_a_racing_batch_created_after_the_look_up_count_as_updated_and_take_these_values(
        self, session: Session, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        batch.upsert_rows(session, CUSTOMER, [{"id": "a", "name": "theirs"}])  # type: ignore[arg-type]
        monkeypatch.setattr(batch, "existing_ids", lambda *_args: set())  # the look-up ran before they committed
        result = batch.upsert_rows(session, CUSTOMER, [{"id": "a", "name": "ours"}, {"id": "b", "name": "B"}])  # type: ignore[arg-type]
        assert (result.created, result.updated) == (1, 1)
        assert customers(session) == {"a": "ours", "b": "B"}

    def test_rows_are_written_in_id_order_whatever_the_batch_order(
        self, session: Session, inserted_ids: list[str]
    ) -> None:
        """Two batches naming the same new ids lock them in one order, so they cannot deadlock (issue 10)."""
        batch.upsert_rows(session, CUSTOMER, [{"id": f"k{n}", "name": "x"} for n in (3, 1, 2)])  # type: ignore[arg-type]
        assert inserted_ids == ["k1", "k2", "k3"]


class TestEnsureRows:
    def test_counts_only_the_rows_it_created(self, session: Session) -> None:
        batch.ensure_rows(session, CUSTOMER, ["a"])  # type: ignore[arg-type]
        assert batch.ensure_rows(session, CUSTOMER, ["b", "a", "b", "c"]) == 2  # type: ignore[arg-type]
        assert set(customers(session)) == {"a", "b", "c"}

    def test_leaves_existing_rows_alone(self, session: Session) -> None:
        batch.upsert_rows(session, CUSTOMER, [{"id": "a", "name": "Acme"}])  # type: ignore[arg-type]
        assert batch.ensure_rows(session, CUSTOMER, ["a"]) == 0  # type: ignore[arg-type]
        assert customers(session) == {"a": "Acme"}

    def test_creates_in_id_order(self, session: Session, inserted_ids: list[str]) -> None:
        batch.ensure_rows(session, CUSTOMER, ["k9", "k2", "k5"])  # type: ignore[arg-type]
        assert inserted_ids == ["k2", "k5", "k9"]
