"""One analyst's session as a process of its own: single predictions, and labels on its own predictions.

``python -m tests.faults.client HOME DATASET PREDICTIONS LABELS GO explain|plain`` imports Sift and
loads the champion, says it is ready (the file ``GO.ready.PID``), waits for the file ``GO`` so that
every process starts at the same moment, then makes the Predict page's calls:
:func:`core.scoring.single.score_row` (with or without the explanation) for each prediction and
:func:`core.retrain.label_prediction` on every second one until ``LABELS`` are given. It prints one
JSON object: its prediction ids, the labelled ids, and when it started and finished.

:func:`run_clients` starts several of them on one home (the concurrency test and benchmark).
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def main(home: str, dataset: str, predictions: int, labels: int, go: str, explain: bool) -> dict:
    os.environ["SIFT_HOME"] = home
    from core.champion import load_champion
    from core.config import get_settings
    from core.db import open_database
    from core.retrain import label_prediction
    from core.scoring.single import score_row

    settings = get_settings()
    sessions = open_database(settings)
    with sessions() as session:
        model = load_champion(settings, dataset, session=session)
    values = {f["name"]: f["typical"] for f in model.features}
    varied = next((f["name"] for f in model.features if f["role"] == "numeric"), None)
    every = max(predictions // max(labels, 1), 1)
    Path(f"{go}.ready.{os.getpid()}").touch()
    while not Path(go).exists():
        time.sleep(0.01)
    started = time.time()
    ids, labelled = [], []
    for i in range(predictions):
        row = dict(values)
        if varied is not None:  # rows that differ a little, as a form's would
            row[varied] = values[varied] * (1 + (i % 7) / 100)
        with sessions.begin() as session:
            scored = score_row(session=session, settings=settings, dataset=dataset, values=row, explain=explain)
        ids.append(scored.prediction_id)
        if len(labelled) < labels and i % every == 0:
            with sessions.begin() as session:
                label_prediction(
                    session=session, settings=settings, prediction_id=scored.prediction_id, label=scored.prediction
                )
            labelled.append(scored.prediction_id)
    return {"ids": ids, "labelled": labelled, "started": started, "finished": time.time()}


def run_clients(
    home: Path, dataset: str, processes: int, predictions: int, labels: int, *, explain: bool = False
) -> tuple[list[dict], float]:
    """Start ``processes`` clients on one home and release them together once all have loaded the model.

    Returns their outputs and the wall seconds from the first start to the last finish. Raises
    AssertionError naming the client when one exits with an error or writes anything to stderr.
    """
    go = home / f"go-{os.getpid()}-{time.monotonic_ns()}"
    command = [sys.executable, "-m", "tests.faults.client", str(home), dataset, str(predictions), str(labels), str(go)]
    command.append("explain" if explain else "plain")
    logs = [(Path(f"{go}.out.{n}"), Path(f"{go}.err.{n}")) for n in range(processes)]
    try:
        with contextlib.ExitStack() as stack:
            clients = []
            for out, err in logs:
                stdout, stderr = stack.enter_context(out.open("w")), stack.enter_context(err.open("w"))
                clients.append(subprocess.Popen(command, cwd=REPO, stdout=stdout, stderr=stderr))
            try:
                deadline = time.monotonic() + 300
                while len(list(home.glob(f"{go.name}.ready.*"))) < processes:
                    if any(c.poll() is not None for c in clients) or time.monotonic() > deadline:
                        break  # the outputs below say why
                    time.sleep(0.05)
                go.touch()
                for client in clients:
                    client.wait(timeout=900)
            finally:
                for client in clients:
                    if client.poll() is None:
                        client.kill()
                        client.wait()
        results = []
        for number, (client, (out, err)) in enumerate(zip(clients, logs, strict=True)):
            errors = err.read_text()
            assert client.returncode == 0, f"client {number} exited {client.returncode}: {errors[-3000:]}"
            assert not errors.strip(), f"client {number} reported: {errors[-3000:]}"
            results.append(json.loads(out.read_text()))
    finally:
        for path in home.glob(f"{go.name}*"):
            path.unlink(missing_ok=True)
    seconds = max(r["finished"] for r in results) - min(r["started"] for r in results)
    return results, seconds


if __name__ == "__main__":
    home, dataset, predictions, labels, go, explain = sys.argv[1:7]
    print(json.dumps(main(home, dataset, int(predictions), int(labels), go, explain == "explain")))
