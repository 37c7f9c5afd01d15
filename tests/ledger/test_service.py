"""Ledger reads other features call: ARR of many (customer, day) pairs at once."""

from datetime import date

from sqlalchemy.orm import Session

from app.ledger import service as ledger
from tests.builders import make_customers, post_revenue, revenue


def test_arr_on_answers_more_pairs_than_one_sqlite_compound_select_holds(session: Session) -> None:
    # 600 pairs: SQLite refuses a compound SELECT of more than 500 terms, so the pairs go in several statements.
    ids = [f"arr-on-{n:03d}" for n in range(300)]
    make_customers(session, ids)
    post_revenue(session, *(revenue(cid, "2025-01-10", 1_000 + n) for n, cid in enumerate(ids)))
    points = {(cid, day) for cid in ids for day in (date(2025, 1, 9), date(2025, 2, 1))}
    found = ledger.arr_on(session, points)
    assert len(found) == 600
    assert {found[(cid, date(2025, 1, 9))] for cid in ids} == {0}
    assert [found[(cid, date(2025, 2, 1))] for cid in ids] == [(1_000 + n) * 100 for n in range(300)]
