"""Two workers on one database (their own engines and connections, real commits): each event is delivered once."""

import json
import threading
from collections import Counter
from collections.abc import Callable, Iterator

import pytest

from app import migrate
from app.config import Settings
from app.worker import Worker, build, deliver_pass
from tests.builders import make_customers, make_webhook, post_revenue, revenue
from tests.receiver import Receiver

EVENTS = 60


@pytest.fixture
def workers(fresh_database_url: Callable[[], Iterator[str]]) -> Iterator[tuple[Worker, Worker]]:
    """Two workers, each with its own engine, on a fresh migrated database."""
    for url in fresh_database_url():
        migrate.upgrade(url)
        settings = Settings(database_url=url, webhook_allow_private=True, webhook_concurrency=4)
        pair = (build(settings), build(settings))
        try:
            yield pair
        finally:
            for worker in pair:
                worker.close()
                worker.engine.dispose()


def test_two_workers_deliver_each_event_once(workers: tuple[Worker, Worker], receiver: Receiver) -> None:
    first, second = workers
    with first.maker() as session:
        make_webhook(session, id="rx", url=receiver.url, events=["revenue.churned"])
        customers = [f"c{n:03}" for n in range(EVENTS)]
        make_customers(session, customers)
        post_revenue(session, *[revenue(c, "2026-01-01", 100) for c in customers])
        post_revenue(session, *[revenue(c, "2026-02-01", 0) for c in customers])
        session.commit()
    receiver.delay = 0.05  # each POST takes a while, so both workers are busy at once
    start = threading.Barrier(2)
    done: dict[str, Counter[str]] = {}

    def run(worker: Worker, name: str) -> None:
        start.wait()
        done[name] = deliver_pass(worker)

    threads = [threading.Thread(target=run, args=(w, n)) for w, n in ((first, "first"), (second, "second"))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    ids = Counter(json.loads(r.body)["id"] for r in receiver.requests)
    assert len(ids) == EVENTS
    assert set(ids.values()) == {1}
    assert done["first"]["delivered"] + done["second"]["delivered"] == EVENTS
    assert min(done["first"]["delivered"], done["second"]["delivered"]) > 0  # both took a share
