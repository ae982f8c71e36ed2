"""A keep-alive HTTP load generator (standard library only), one process of the serving benchmark.

``python -m bench.http_load --port P --path /x --bodies FILE --connections N [--seconds S | --requests R]``

Each connection (one ``http.client.HTTPConnection`` per thread, kept alive) POSTs the JSON bodies
of FILE (one per line) in turn, starting at its own offset. First every connection sends
``--warm`` requests; then the process prints ``ready`` and waits for a ``go`` line on its standard
input, so that the benchmark starts all its processes at the same moment; then each connection
sends requests for ``--seconds`` (or ``--requests`` each) and the process prints one JSON object:
the latency of every successful request (ms), the counts, the monotonic time of the last answer
(CLOCK_MONOTONIC is one clock for every process on Linux) and this process's CPU seconds from
``go`` to the end. Kept free of Sift's imports so that it starts fast and costs only its own work.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import sys
import threading
import time
from pathlib import Path

HEADERS = {"Content-Type": "application/json"}


class Connection:
    """One keep-alive connection that cycles through the bodies from ``offset``."""

    def __init__(self, host: str, port: int, path: str, bodies: list[bytes], offset: int):
        self.host, self.port, self.path, self.bodies, self.next = host, port, path, bodies, offset
        self.http = http.client.HTTPConnection(host, port, timeout=120)
        self.reconnects = 0

    def send(self) -> int:
        """POST the next body; the status. A connection the server closed (idle keep-alive) is reopened once."""
        body = self.bodies[self.next % len(self.bodies)]
        self.next += 1
        for attempt in (1, 2):
            try:
                self.http.request("POST", self.path, body, HEADERS)
                response = self.http.getresponse()
                response.read()
                return response.status
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                self.http.close()
                self.reconnects += 1
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")


def run(args: argparse.Namespace) -> dict:
    bodies = Path(args.bodies).read_bytes().splitlines()
    warmed = threading.Barrier(args.connections + 1)
    go = threading.Event()
    results: list[dict] = []
    errors: list[str] = []

    def client(k: int) -> None:
        try:
            conn = Connection(args.host, args.port, args.path, bodies, args.offset + k * args.stride)
            warm_ok = sum(conn.send() == 200 for _ in range(args.warm))
            warmed.wait()
            go.wait()
            end = time.monotonic() + args.seconds if args.seconds else float("inf")
            latencies, failed = [], 0
            while (len(latencies) + failed < args.requests) if args.requests else (time.monotonic() < end):
                started = time.perf_counter()
                status = conn.send()
                elapsed = time.perf_counter() - started
                if status == 200:
                    latencies.append(round(elapsed * 1000, 4))
                else:
                    failed += 1
            last = time.monotonic()
            conn.http.close()
            outcome = {"latencies": latencies, "failed": failed, "warm_ok": warm_ok, "last": last}
            results.append(outcome | {"reconnects": conn.reconnects})
        except Exception as exc:  # reported to the benchmark, which shows it
            errors.append(f"connection {k}: {exc!r}")
            warmed.abort()
            go.set()

    threads = [threading.Thread(target=client, args=(k,)) for k in range(args.connections)]
    for thread in threads:
        thread.start()
    with contextlib.suppress(threading.BrokenBarrierError):  # a connection failed: reported below
        warmed.wait()
    if not errors:
        print("ready", flush=True)
        sys.stdin.readline()
    cpu = time.process_time()
    go.set()
    for thread in threads:
        thread.join()
    cpu = time.process_time() - cpu
    if errors:
        return {"errors": errors}
    return {
        "latencies": [x for r in results for x in r["latencies"]],
        "ok": sum(len(r["latencies"]) for r in results),
        "failed": sum(r["failed"] for r in results),
        "warm_ok": sum(r["warm_ok"] for r in results),
        "reconnects": sum(r["reconnects"] for r in results),
        "last": max(r["last"] for r in results),
        "cpu_seconds": cpu,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--path", required=True)
    parser.add_argument("--bodies", required=True, help="a file of JSON bodies, one per line")
    parser.add_argument("--connections", type=int, default=1)
    parser.add_argument("--offset", type=int, default=0, help="the first body of the first connection")
    parser.add_argument("--stride", type=int, default=0, help="bodies between the first bodies of two connections")
    parser.add_argument("--warm", type=int, default=0, help="requests per connection before the measure")
    parser.add_argument("--seconds", type=float, default=0.0)
    parser.add_argument("--requests", type=int, default=0, help="requests per connection (instead of --seconds)")
    outcome = run(parser.parse_args())
    print(json.dumps(outcome))
    sys.exit(1 if "errors" in outcome else 0)


if __name__ == "__main__":
    main()
