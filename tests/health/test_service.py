"""Health computation (`app/health/service.py`): scores assembled from the model's components (SPEC §6)."""

import pytest
from sqlalchemy.orm import Session

from app.health import service
from app.usage import raw_reads as queries
from tests.health.usage_books import AS_OF, MODEL, random_usage_book


class TestComputeHealth:
    """`compute_health` scores every customer from one set-based read: the same as assembling component by component."""

    @pytest.mark.parametrize("seed", range(6))
    def test_equals_the_per_component_assembly(self, session: Session, seed: int) -> None:
        customers = random_usage_book(session, seed)
        spec = service.ModelSpec(version=7, model=MODEL, default=False)
        computed = service.compute_health(session, as_of=AS_OF, customers=customers, spec=spec)
        raws = [queries.component_raw(session, c, as_of=AS_OF, customers=customers) for c in MODEL.components]
        seats = queries.latest_values(session, kind="seats", where=None, as_of=AS_OF, customers=customers)
        some_data = no_data = 0
        for cid in customers:
            health = computed[cid]
            assert health == service._customer_health(cid, spec, raws, seats)
            assert [c.model_dump() for c in health.components] == [
                {"name": n, "weight": w, "raw": r, "score": s, "contribution": p} for n, w, r, s, p in health.parts
            ]
            some_data += any(r is not None for _, _, r, _, _ in health.parts)
            no_data += any(r is None for _, _, r, _, _ in health.parts)
        assert some_data  # the book exercises both sides of SPEC §6's no-data rules
        assert no_data
