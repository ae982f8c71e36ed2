"""A webhook receiver on loopback for delivery tests: it keeps every JSON body posted to it and can
answer HTTP 500 to its first requests, like a destination that is briefly unwell."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from tests.servers import free_port

SECRET = "T0SECRET/B0SECRET/hush-hush-token"  # in every receiver's path: it must never be shown


class Receiver:
    """What a running receiver got: ``bodies`` in order of arrival, ``requests`` counts refused ones too."""

    def __init__(self, port: int, fail_first: int, delay: float) -> None:
        self.port = port
        self.fail_first = fail_first
        self.delay = delay
        self.requests = 0
        self.bodies: list[dict] = []
        self.lock = threading.Lock()

    @property
    def url(self) -> str:
        return url_at(self.port)

    def ids(self, kind: str = "alert") -> list:
        """The ``id`` of every body of that type (alert, test, digest) received; Slack and Teams bodies have none."""
        with self.lock:
            return [b.get("id") for b in self.bodies if b.get("type") == kind]


def url_at(port: int) -> str:
    return f"http://127.0.0.1:{port}/hooks/{SECRET}"


@contextmanager
def receiver(*, fail_first: int = 0, port: int | None = None, delay: float = 0.0) -> Iterator[Receiver]:
    """A receiver on ``port`` (a free one if None) until the block ends; ``delay`` seconds before each answer."""
    got = Receiver(port or free_port(), fail_first, delay)

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            data = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            if got.delay:
                time.sleep(got.delay)  # a slow receiver, so that two senders overlap
            with got.lock:
                got.requests += 1
                refuse = got.requests <= got.fail_first
                if not refuse:
                    got.bodies.append(json.loads(data))
            self.send_response(500 if refuse else 200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"no" if refuse else b"ok")

        def log_message(self, *args: object) -> None:  # quiet
            pass

    server = ThreadingHTTPServer(("127.0.0.1", got.port), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield got
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
