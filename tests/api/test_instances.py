"""Several instances of the service on one store (one SQLite file here; one PostgreSQL database under
``make test-pg``) give every prediction its own id, all in the ledger."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import select

from core.db.models import Prediction
from tests.api.conftest import RICE_ROW

pytestmark = pytest.mark.slow
CLIENTS_PER_INSTANCE = 3
REQUESTS = 60  # per client


def test_two_instances_on_one_store_never_share_an_id(start_service, api_home) -> None:
    instances = [start_service(api_home), start_service(api_home)]

    def client(k: int) -> list[int]:
        ids = []
        with instances[k % 2].client() as http:
            for i in range(REQUESTS):
                rows = [RICE_ROW] * (1 + i % 3)  # one to three rows a request
                answer = http.post("/v1/models/rice/predict", json={"rows": rows})
                assert answer.status_code == 200, answer.text
                ids += [p["prediction_id"] for p in answer.json()["predictions"]]
        return ids

    with ThreadPoolExecutor(2 * CLIENTS_PER_INSTANCE) as pool:
        received = [i for ids in pool.map(client, range(2 * CLIENTS_PER_INSTANCE)) for i in ids]
    assert len(received) == 2 * CLIENTS_PER_INSTANCE * REQUESTS * 2  # 1 + 2 + 3 rows in turn: 2 a request
    assert len(set(received)) == len(received)
    with instances[0].sessions()() as session:
        stored = dict(session.execute(select(Prediction.id, Prediction.source)).all())
    assert set(received) <= set(stored)
    assert {stored[i] for i in received} == {"api"}
