"""The scoring service under load: concurrent clients lose nothing, a SIGKILL mid-load loses no id a client received.

Real service subprocesses over a home of their own; clients are keep-alive HTTP connections
(``http.client``), one per thread, each sending single-row requests back to back.
"""

from __future__ import annotations

import http.client
import json
import sqlite3
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from sqlalchemy import func, make_url, select

from core.db.engine import counter_value
from core.db.models import Prediction
from tests.api.conftest import RICE_ROW, Service
from tests.homes import database_url, home_settings

pytestmark = pytest.mark.slow
CLIENTS = 8
REQUESTS = 300  # per client
LOADED = 200  # responses the clients receive before the service is killed
DEADLINE = 120  # seconds for the load to get under way, on two shared cores
BODY = json.dumps({"rows": [RICE_ROW]}).encode()


def _connection(service: Service) -> http.client.HTTPConnection:
    address = urlsplit(service.url)
    return http.client.HTTPConnection(address.hostname, address.port, timeout=60)


def _predict(connection: http.client.HTTPConnection, body: bytes = BODY) -> tuple[int, dict]:
    connection.request("POST", "/v1/models/rice/predict", body=body, headers={"Content-Type": "application/json"})
    response = connection.getresponse()
    return response.status, json.loads(response.read())


def _ids(answer: dict) -> list[int]:
    return [p["prediction_id"] for p in answer["predictions"]]


def _ledger_ids(service: Service, **where: str) -> set[int]:
    query = select(Prediction.id).filter_by(**where)
    with service.sessions()() as session:
        return set(session.scalars(query))


def test_eight_clients_of_three_hundred_requests_lose_nothing(service: Service) -> None:
    def client(_: int) -> tuple[list[int], list[tuple[int, dict]]]:
        ids, failures = [], []
        connection = _connection(service)
        try:
            for _ in range(REQUESTS):
                status, answer = _predict(connection)
                if status == 200:
                    ids += _ids(answer)
                else:
                    failures.append((status, answer))
        finally:
            connection.close()
        return ids, failures

    with ThreadPoolExecutor(CLIENTS) as pool:
        outcomes = list(pool.map(client, range(CLIENTS)))
    failures = [f for _, failed in outcomes for f in failed]
    assert not failures, f"{len(failures)} requests failed, e.g. {failures[:3]}"
    ids = [i for got, _ in outcomes for i in got]
    assert len(ids) == CLIENTS * REQUESTS, "a 200 answer without its one prediction"
    assert len(set(ids)) == len(ids), "the same id given to two predictions"
    ledger = _ledger_ids(service, source="api")
    assert set(ids) <= ledger, f"{len(set(ids) - ledger)} ids received are not in the ledger"
    assert len(ledger) == CLIENTS * REQUESTS


def _sqlite_integrity(home: Path) -> list[tuple]:
    path = make_url(home_settings(home).database_url).database
    with sqlite3.connect(path) as connection:
        return connection.execute("PRAGMA integrity_check").fetchall()


def test_a_service_killed_under_load_keeps_every_id_it_gave(start_service, api_home: Path) -> None:
    service = start_service(api_home)
    received, failures, lock = [], [], threading.Lock()
    killed = threading.Event()

    def client() -> None:
        connection = _connection(service)
        try:
            while True:
                status, answer = _predict(connection)  # raises once the service is gone
                with lock:
                    if status == 200:
                        received.extend(_ids(answer))
                    else:
                        failures.append((status, answer))
        except Exception as exc:  # a lost connection is what the kill does; anything else is a failure
            if not (killed.is_set() and isinstance(exc, (OSError, http.client.HTTPException))):
                failures.append(("raised", repr(exc)))
        finally:
            connection.close()

    clients = [threading.Thread(target=client, daemon=True) for _ in range(CLIENTS)]
    for thread in clients:
        thread.start()
    deadline = time.monotonic() + DEADLINE
    while len(received) < LOADED and not failures and time.monotonic() < deadline:
        time.sleep(0.05)
    killed.set()
    service.process.kill()  # SIGKILL: no handler, no clean-up, requests in flight
    service.process.wait()
    for thread in clients:
        thread.join(timeout=60)
    assert not any(thread.is_alive() for thread in clients), "a client still waits for the killed service"
    assert not failures, f"{len(failures)} requests failed, e.g. {failures[:3]}"
    assert len(received) >= LOADED, f"only {len(received)} responses in {DEADLINE} s"
    assert len(set(received)) == len(received), "the same id given to two predictions"

    if database_url(api_home) is None:
        assert _sqlite_integrity(api_home) == [("ok",)]
    ledger = _ledger_ids(service, source="api")
    lost = set(received) - ledger
    assert not lost, f"{len(lost)} of the {len(received)} ids received before the kill are not in the ledger"
    with service.sessions()() as session:
        assert counter_value(session, "prediction") >= session.scalar(select(func.max(Prediction.id)))
        last = session.scalar(select(func.max(Prediction.id)))

    again = start_service(api_home)
    with closing(_connection(again)) as connection:
        status, answer = _predict(connection, json.dumps({"rows": [RICE_ROW] * 3}).encode())
    assert status == 200, answer
    fresh = _ids(answer)
    assert len(set(fresh)) == 3
    assert min(fresh) > last, f"ids {fresh} given again after the restart (the ledger reached {last})"
    assert set(fresh) <= _ledger_ids(again, source="api")
