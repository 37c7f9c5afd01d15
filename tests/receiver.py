"""A real HTTP receiver for webhook tests: a threaded server on a free local port that records every request.

It answers the status codes queued in `statuses` in turn (200 once they run out), optionally after `delay` seconds.
"""

import threading
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass(frozen=True)
class Received:
    """One request the receiver got."""

    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Receiver:
    """What tests read and steer: the URL, the requests received, the statuses to answer."""

    url: str
    requests: list[Received] = field(default_factory=list)
    statuses: deque[int] = field(default_factory=deque)
    delay: float = 0.0
    lock: threading.Lock = field(default_factory=threading.Lock)
    got: threading.Condition = field(init=False)

    def __post_init__(self) -> None:
        self.got = threading.Condition(self.lock)

    def wait_for(self, count: int, timeout: float = 30.0) -> list[Received]:
        """The requests, once at least `count` arrived (or the timeout passed)."""
        with self.got:
            self.got.wait_for(lambda: len(self.requests) >= count, timeout=timeout)
            return list(self.requests)


@contextmanager
def running_receiver() -> Iterator[Receiver]:
    """Start a receiver on 127.0.0.1 and a free port; stop it afterwards."""
    state: list[Receiver] = []

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as real receivers do
        disable_nagle_algorithm = True  # headers and body are two writes: no 40 ms wait for a delayed ACK

        def do_POST(self) -> None:
            receiver = state[0]
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            if receiver.delay:
                threading.Event().wait(receiver.delay)
            with receiver.got:
                status = receiver.statuses.popleft() if receiver.statuses else 200
                receiver.requests.append(Received(self.path, dict(self.headers.items()), body))
                receiver.got.notify_all()
            self.send_response(status)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *_args: object) -> None:  # keep the test output quiet
            return

    class Server(ThreadingHTTPServer):
        # socketserver's backlog is 5: eight senders connecting at once would overflow it, and a dropped SYN is
        # retried after a second, which a benchmark would measure instead of the worker.
        request_queue_size = 128
        daemon_threads = True

    server = Server(("127.0.0.1", 0), Handler)
    state.append(Receiver(url=f"http://127.0.0.1:{server.server_address[1]}/hook"))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state[0]
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
