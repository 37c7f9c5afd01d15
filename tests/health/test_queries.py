"""Health reads (`app/usage/raw_reads.py`): the few-statement path equals the per-component path."""

from datetime import timedelta

import pytest
from sqlalchemy.orm import Session

from app.health import service as health_service
from app.usage import raw_reads as queries
from tests.health.usage_books import AS_OF, MODEL, random_usage_book


class TestModelRaws:
    """`model_raws` reads every component (and seats) in a few statements: the same values as `component_raw`."""

    @pytest.mark.parametrize("seed", range(6))
    def test_equal_the_per_component_reads(self, session: Session, seed: int) -> None:
        customers = random_usage_book(session, seed)
        empty_window: set[str] = set()  # customers with history but an empty window: None for avg and last
        for as_of in (AS_OF, AS_OF - timedelta(days=4), AS_OF + timedelta(days=3)):
            for subset in (None, customers[::2]):
                raws, seats = queries.model_raws(session, MODEL.components, as_of=as_of, customers=subset, seats=True)
                for component, raw in zip(MODEL.components, raws, strict=True):
                    expected = queries.component_raw(session, component, as_of=as_of, customers=subset)
                    assert raw == expected, component.name
                    empty_window.update(component.name for value in raw.values() if value is None)
                assert seats == queries.latest_values(session, kind="seats", where=None, as_of=as_of, customers=subset)
        assert {"nps", "any_survey", "csat", "utilisation"} <= empty_window


class TestPointRaws:
    """`point_raws` reads every component of many (customer, day) points at once: `model_raws`' values."""

    @pytest.mark.parametrize("seed", range(3))
    def test_equal_model_raws_day_by_day(self, session: Session, seed: int) -> None:
        customers = random_usage_book(session, seed)
        days = (AS_OF, AS_OF - timedelta(days=4), AS_OF + timedelta(days=3))
        points = [(c, day) for day in days for c in customers[seed % 2 :: 2]]
        raws, seats = queries.point_raws(session, MODEL.components, points, seats=True)
        for day in days:
            wanted = [c for c in customers[seed % 2 :: 2]]
            expected, expected_seats = queries.model_raws(
                session, MODEL.components, as_of=day, customers=wanted, seats=True
            )
            index = {c: n for n, (c, d) in enumerate(points) if d == day}
            for component, raw, want in zip(MODEL.components, raws, expected, strict=True):
                assert {c: raw[n] for c, n in index.items() if n in raw} == want, component.name
            assert {c: seats[n] for c, n in index.items() if n in seats} == expected_seats


class TestWindowedWithFirstSeen:
    """Given when each customer first had each component's events, each day reads only the windows: same health."""

    @pytest.mark.parametrize("seed", range(4))
    def test_same_health_as_reading_all_history(self, session: Session, seed: int) -> None:
        random_usage_book(session, seed)
        spec = health_service.ModelSpec(version=2, model=MODEL, default=False)
        first = health_service.first_seen(session, spec)
        for days in (0, -4, 3, -40, -200):
            as_of = AS_OF + timedelta(days=days)
            full = health_service.compute_health(session, as_of=as_of, customers=None, spec=spec)
            windowed = health_service.compute_health(session, as_of=as_of, customers=None, spec=spec, first=first)
            assert windowed == full, as_of
