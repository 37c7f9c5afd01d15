"""The whole-book snapshot read (`health.service._snapshot_columns`): each stored day as customer positions in
`customer_ids` order and scores, on both databases, whatever customers a day lists and in whatever order they come."""

from datetime import date

import numpy as np
from sqlalchemy.orm import Session

from app import records
from app.health import service
from tests.builders import make_customers, make_snapshot


def test_a_day_listing_everyone_in_order_is_every_position() -> None:
    positions = service._Positions(["a", "b", "c"])
    rows, scores = positions.of("a,b,c", np.array([1.0, 2.0, 3.0]))
    assert rows.tolist() == [0, 1, 2]
    assert scores.tolist() == [1.0, 2.0, 3.0]


def test_a_day_listing_some_customers_in_any_order_is_looked_up() -> None:
    positions = service._Positions(["a", "b", "c", "d"])
    rows, scores = positions.of("d,b", np.array([4.0, 2.0]))
    assert rows.tolist() == [3, 1]
    assert scores.tolist() == [4.0, 2.0]
    # The same list again: the same answer (from the positions already looked up).
    again, _ = positions.of("d,b", np.array([5.0, 6.0]))
    assert again.tolist() == [3, 1]


def test_an_id_no_longer_in_the_book_is_left_out_with_its_score() -> None:
    positions = service._Positions(["a", "b"])
    rows, scores = positions.of("a,gone,b", np.array([1.0, 9.0, 2.0]))
    assert rows.tolist() == [0, 1]
    assert scores.tolist() == [1.0, 2.0]


def test_ids_and_scores_of_different_lengths_are_not_guessed() -> None:
    positions = service._Positions(["a", "b"])
    assert positions.of("a,b", np.array([1.0, 2.0, 3.0])) is None


def test_a_day_whose_list_cannot_be_split_is_read_row_by_row(session: Session) -> None:
    # No API path stores an id with a comma; one written directly still reads right (that day row by row).
    records.ensure_customers(session, ["a", "b,c", "d"])  # id-only customers, written without the API's checks
    make_snapshot(session, customer="b,c", day="2026-03-01", score=12.5)
    make_snapshot(session, customer="d", day="2026-03-01", score=None)
    rows, scores = service._snapshot_columns(session, date(2026, 3, 1), date(2026, 3, 1))[date(2026, 3, 1)]
    ids = service.customer_ids(session)
    read = dict(zip([ids[r] for r in rows.tolist()], scores.tolist(), strict=True))
    assert set(read) == {"b,c", "d"}
    assert read["b,c"] == 12.5
    assert np.isnan(read["d"])


def test_stored_days_read_as_positions_and_scores(session: Session) -> None:
    # c1..c4 exist; 1 March lists only c2 and c4 (the others came later), 8 March everyone, c3's score null on 15 March.
    make_customers(session, ["c1", "c2", "c3", "c4"])
    for customer, score in (("c4", 40.0), ("c2", 20.0)):
        make_snapshot(session, customer=customer, day="2026-03-01", score=score)
    for n, customer in enumerate(["c3", "c1", "c4", "c2"]):
        make_snapshot(session, customer=customer, day="2026-03-08", score=10.0 * n)
    make_snapshot(session, customer="c3", day="2026-03-15", score=None)
    make_snapshot(session, customer="c1", day="2026-03-15", score=55.5)
    columns = service._snapshot_columns(session, date(2026, 3, 1), date(2026, 3, 31))
    assert sorted(columns) == [date(2026, 3, 1), date(2026, 3, 8), date(2026, 3, 15)]

    def by_customer(day: date) -> dict[str, float | None]:
        rows, scores = columns[day]
        ids = service.customer_ids(session)
        return {ids[r]: None if np.isnan(s) else float(s) for r, s in zip(rows, scores, strict=True)}

    assert by_customer(date(2026, 3, 1)) == {"c2": 20.0, "c4": 40.0}
    assert by_customer(date(2026, 3, 8)) == {"c3": 0.0, "c1": 10.0, "c4": 20.0, "c2": 30.0}
    assert by_customer(date(2026, 3, 15)) == {"c1": 55.5, "c3": None}
    # The book's health: on 14 March everyone from the 8th (a snapshot stands for its day and the 6 after); on
    # 15 March c1 and c3 from that day's snapshots (c3's null score: no score).
    health = service.book_health(session, [date(2026, 3, 14), date(2026, 3, 15)])
    on_14th = dict(zip(health.customers, health.score(date(2026, 3, 14)).tolist(), strict=True))
    assert on_14th == {"c1": 10.0, "c2": 30.0, "c3": 0.0, "c4": 20.0}
    on_15th = dict(zip(health.customers, health.score(date(2026, 3, 15)).tolist(), strict=True))
    assert on_15th["c1"] == 55.5
    assert np.isnan(on_15th["c3"])
