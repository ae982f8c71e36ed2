"""Serving speed: Sift's scoring API beside ``mlflow models serve`` of the same champion, and
1,000-row requests beside ``python -m core predict`` on the same rows. One run, one machine.

The champion: XGBoost with Sift's default settings fitted on the rice data (``bench.scoring.setup``),
so the figures do not depend on which candidate a short tuning picks. Both servers run from the
same virtual environment, one process each (uvicorn, one worker: MLflow's default), started on a
free loopback port and stopped (their whole process group) whatever happens; their output goes to
a log file, kept and named if anything fails.

Single rows: 8 keep-alive connections (``bench.http_load``: one ``http.client`` connection per
thread) POST one real rice row per request, cycling through 400 rows of the training file without
the target, to ``POST /v1/models/rice/predict`` (``{"rows": [row]}``: contract check, prediction,
ledger commit before the answer) and to MLflow's ``POST /invocations``
(``{"dataframe_records": [row]}``: schema check and prediction, nothing written). Each connection
first sends 50 requests (400 in all, to warm both servers up), then all are released at once and
send requests for SIFT_BENCH_SECONDS (default 20). Printed: requests/s, p50 and p99 latency as the
client sees it, the CPU the server and the load generator used (in cores), and afterwards the
ledger's count of ``api`` predictions against the successful Sift requests (warm-up included).
The machine has 2 cores and the generator costs CPU too, so both servers get the same generator:
SIFT_BENCH_CLIENTS sets its layout, processes x connections ("1x8", the default; "1x8,2x4"
measures both). Measured on the 2-core machine this was written on, quiet: one process of 8
threads and two of 4 gave the same requests/s within 2% for both servers (each server used one
full core either way), and the generator used 0.03 to 0.05 cores; so the default is the cheaper one. Two processes would
matter if the generator's own GIL became the limit, which its CPU figure (printed beside the
server's) would show.

Many rows: the rice rows repeated to SIFT_BENCH_BATCH_ROWS (default 100,000), sent to the API in
1,000-row requests, each row once, over one connection (sequential) and over two (concurrency 2);
and scored from a CSV file by ``python -m core predict`` (its wall time, which includes Python's
start-up, imports, loading the model and opening the store; and that time less the same command's
wall time on a one-row file of the same columns, its fixed cost, so what remains is the scoring
of the rows, the figure to compare with a service that has already started).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from sqlalchemy import func, select

from bench.common import report, temporary_home
from bench.scoring import RICE, setup
from core.config import REPO_ROOT, Settings
from core.db import open_database
from core.db.models import Prediction

BIN = Path(sys.executable).parent  # mlflow models serve runs `uvicorn` from PATH: this venv's
POOL = 400  # real rice rows the single-row requests cycle through
WARM = 50  # requests per connection before a single-row measure
BIG = 1_000  # rows per request in the many-rows part
SIFT_PREDICT = "/v1/models/rice/predict"


class BenchFailed(RuntimeError):
    """A server or a load process failed; the message names its log."""


# --- servers ------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status == 200
    except OSError:
        return False


def _group(pgid: int) -> list[list[str]]:
    """The /proc/PID/stat fields after the command name of each live process of group ``pgid``."""
    out = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with suppress(OSError):  # gone meanwhile
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            if int(fields[2]) == pgid and fields[0] != "Z":
                out.append(fields)
    return out


def group_cpu_seconds(pgid: int) -> float:
    """CPU seconds (user + system) used so far by the live processes of a group (a server and its children)."""
    return sum(int(f[11]) + int(f[12]) for f in _group(pgid)) / os.sysconf("SC_CLK_TCK")


def _tail(log: Path) -> str:
    return log.read_text(errors="replace")[-3000:]


@contextmanager
def server(name: str, command: list[str], *, health: str, env: dict[str, str], logs: Path) -> Iterator[int]:
    """Run ``command`` in its own process group until ``health`` answers 200; yield its pid (= group id).
    Stopped afterwards (SIGTERM to the group, SIGKILL after 30 s) whatever happened."""
    log = logs / f"{name}.log"
    with log.open("ab") as out:
        process = subprocess.Popen(
            command, cwd=REPO_ROOT, env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=out, start_new_session=True
        )
    try:
        deadline = time.monotonic() + 180
        while not _healthy(health):
            if process.poll() is not None:
                raise BenchFailed(f"{name} exited with code {process.returncode}; its log, {log}:\n{_tail(log)}")
            if time.monotonic() > deadline:
                raise BenchFailed(f"{name} not healthy after 180 s; its log, {log}:\n{_tail(log)}")
            time.sleep(0.25)
        yield process.pid
    finally:
        _stop(process)


def _stop(process: subprocess.Popen) -> None:
    with suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        with suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()
    deadline = time.monotonic() + 10
    while _group(process.pid) and time.monotonic() < deadline:  # children (MLflow's uvicorn) stop too
        time.sleep(0.1)
    with suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)


# --- the load -----------------------------------------------------------------------------------


@dataclass
class Load:
    latencies_ms: np.ndarray
    ok: int
    failed: int
    warm_ok: int
    reconnects: int
    seconds: float
    client_cpu: float
    server_cpu: float

    @property
    def rate(self) -> float:
        return self.ok / self.seconds

    def percentile(self, q: float) -> float:
        return float(np.percentile(self.latencies_ms, q)) if self.ok else float("nan")


def load(
    *,
    port: int,
    path: str,
    bodies: Path,
    processes: int,
    connections: int,
    server_pid: int,
    logs: Path,
    warm: int,
    seconds: float = 0,
    requests: int = 0,
) -> Load:
    """Run ``processes`` x ``connections`` keep-alive clients (``bench.http_load``) released at once."""
    count = len(bodies.read_bytes().splitlines())
    stride = max(count // (processes * connections), 1)
    command = [sys.executable, "-m", "bench.http_load", "--port", str(port), "--path", path, "--bodies", str(bodies)]
    command += ["--connections", str(connections), "--stride", str(stride), "--warm", str(warm)]
    command += ["--seconds", str(seconds)] if seconds else ["--requests", str(requests)]
    log = logs / "load.log"
    children: list[subprocess.Popen] = []
    try:
        with log.open("ab") as err:
            for i in range(processes):
                offset = ["--offset", str(i * connections * stride)]
                children.append(
                    subprocess.Popen(
                        command + offset,
                        cwd=REPO_ROOT,
                        stdin=subprocess.PIPE,
                        stdout=subprocess.PIPE,
                        stderr=err,
                        text=True,
                    )
                )
        for child in children:
            if child.stdout.readline().strip() != "ready":
                raise BenchFailed(f"a load process failed to warm up: {child.stdout.read()}; its log, {log}")
        cpu, started = group_cpu_seconds(server_pid), time.monotonic()
        for child in children:
            child.stdin.write("go\n")
            child.stdin.flush()
        outcomes = [json.loads(child.communicate()[0]) for child in children]
        cpu = group_cpu_seconds(server_pid) - cpu
    finally:
        for child in children:
            if child.poll() is None:
                child.kill()
                child.wait()
    if any("errors" in o for o in outcomes):
        raise BenchFailed(f"a load process failed: {[o['errors'] for o in outcomes if 'errors' in o]}")
    return Load(
        latencies_ms=np.asarray([x for o in outcomes for x in o["latencies"]]),
        ok=sum(o["ok"] for o in outcomes),
        failed=sum(o["failed"] for o in outcomes),
        warm_ok=sum(o["warm_ok"] for o in outcomes),
        reconnects=sum(o["reconnects"] for o in outcomes),
        seconds=max(o["last"] for o in outcomes) - started,
        client_cpu=sum(o["cpu_seconds"] for o in outcomes),
        server_cpu=cpu,
    )


def check_answer(port: int, path: str, body: dict, key: str) -> None:
    """One request, answered 200 with ``key`` in its JSON: the load measures real answers, not errors."""
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}{path}", json.dumps(body).encode(), {"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            answer = json.loads(response.read())
    except urllib.error.HTTPError as exc:
        raise BenchFailed(f"POST {path} answered {exc.code}: {exc.read()[:500]!r}") from exc
    if key not in answer:
        raise BenchFailed(f"POST {path} answered without {key!r}: {str(answer)[:500]}")


def write_bodies(path: Path, bodies: list[dict]) -> Path:
    path.write_text("".join(json.dumps(b) + "\n" for b in bodies))
    return path


def layouts() -> list[tuple[int, int]]:
    """SIFT_BENCH_CLIENTS, e.g. "2x4" or "1x8,2x4": load processes x connections each."""
    out = []
    for item in os.environ.get("SIFT_BENCH_CLIENTS", "1x8").split(","):
        processes, connections = item.lower().strip().split("x")
        out.append((int(processes), int(connections)))
    return out


# --- the run ------------------------------------------------------------------------------------


def api_predictions(settings: Settings) -> int:
    with open_database(settings)() as session:
        return session.scalar(select(func.count()).select_from(Prediction).where(Prediction.source == "api"))


def base_env(home: Path) -> dict[str, str]:
    drop = ("SIFT_DB_URL", "MLFLOW_TRACKING_URI", "SIFT_API_KEYS", "PYTHONPATH")
    return {k: v for k, v in os.environ.items() if k not in drop} | {"SIFT_HOME": str(home)}


def main() -> None:
    seconds = float(os.environ.get("SIFT_BENCH_SECONDS", 20))
    batch_rows = int(os.environ.get("SIFT_BENCH_BATCH_ROWS", 100_000))
    logs = Path(tempfile.mkdtemp(prefix="sift-bench-serve-"))
    try:
        with temporary_home() as (home, settings):
            run(home, settings, logs, seconds, batch_rows)
    except BaseException:
        print(f"\nserve bench failed: the servers' and load processes' output is kept in {logs}", file=sys.stderr)
        raise
    shutil.rmtree(logs, ignore_errors=True)


def run(home: Path, settings: Settings, logs: Path, seconds: float, batch_rows: int) -> None:
    setup(settings)
    rice = pd.read_csv(RICE).drop(columns="Class")
    pool = rice.sample(POOL, random_state=0).to_dict(orient="records")
    sift_one = write_bodies(home / "sift-one.jsonl", [{"rows": [row]} for row in pool])
    mlflow_one = write_bodies(home / "mlflow-one.jsonl", [{"dataframe_records": [row]} for row in pool])
    many = rice.iloc[np.arange(batch_rows) % len(rice)].reset_index(drop=True)
    slices = [many.iloc[i : i + BIG] for i in range(0, batch_rows, BIG)]
    sift_many = write_bodies(home / "sift-many.jsonl", [{"rows": s.to_dict(orient="records")} for s in slices])
    env = base_env(home)
    single: dict[tuple[int, int], dict[str, Load]] = {layout: {} for layout in layouts()}
    loads = []

    port = free_port()
    sift = [sys.executable, "-m", "core", "--home", str(home), "serve", "--port", str(port)]
    with server("sift", sift, health=f"http://127.0.0.1:{port}/health", env=env, logs=logs) as pid:
        check_answer(port, SIFT_PREDICT, {"rows": pool[:1]}, "predictions")
        before = api_predictions(settings)
        for (processes, connections), results in single.items():
            loads.append(os.getloadavg()[0])
            results["sift"] = load(
                port=port, path=SIFT_PREDICT, bodies=sift_one, processes=processes, connections=connections,
                server_pid=pid, logs=logs, warm=WARM, seconds=seconds,
            )  # fmt: skip
        stored = api_predictions(settings) - before
        answered = sum(r["sift"].ok + r["sift"].warm_ok for r in single.values())
        many_loads = {}
        for connections in (1, 2):
            many_loads[connections] = load(
                port=port, path=SIFT_PREDICT, bodies=sift_many, processes=1, connections=connections,
                server_pid=pid, logs=logs, warm=2, requests=batch_rows // BIG // connections,
            )  # fmt: skip

    port = free_port()
    mlflow_env = env | {
        "MLFLOW_TRACKING_URI": settings.tracking_uri,
        "PATH": f"{BIN}{os.pathsep}{env.get('PATH', '')}",
        "PYTHONPATH": str(REPO_ROOT),  # the Pipeline holds classes from core
    }
    mlflow = [str(BIN / "mlflow"), "models", "serve", "-m", "models:/rice@champion", "--env-manager", "local"]
    mlflow += ["-h", "127.0.0.1", "-p", str(port)]
    with server("mlflow", mlflow, health=f"http://127.0.0.1:{port}/health", env=mlflow_env, logs=logs) as pid:
        check_answer(port, "/invocations", {"dataframe_records": pool[:1]}, "predictions")
        for (processes, connections), results in single.items():
            loads.append(os.getloadavg()[0])
            results["mlflow"] = load(
                port=port, path="/invocations", bodies=mlflow_one, processes=processes, connections=connections,
                server_pid=pid, logs=logs, warm=WARM, seconds=seconds,
            )  # fmt: skip

    for (processes, connections), results in single.items():
        report_single(processes, connections, seconds, results)
    report(
        "ledger after the Sift single-row runs",
        [
            ("api predictions stored", f"{stored:,}"),
            ("successful Sift requests (1 row each, warm-up included)", f"{answered:,}"),
            ("MLflow predictions stored", "none (mlflow models serve writes nothing)"),
            ("load average (1 min) before each run", ", ".join(f"{x:.1f}" for x in loads)),
        ],
    )
    report_many(home, env, many, many_loads)


def report_single(processes: int, connections: int, seconds: float, results: dict[str, Load]) -> None:
    sift, mlflow = results["sift"], results["mlflow"]

    def both(fmt: str, value) -> str:
        return f"{format(value(sift), fmt):>12}  {format(value(mlflow), fmt):>12}"

    report(
        f"single-row requests, {processes * connections} keep-alive connections ({processes} load process"
        f"{'es' if processes > 1 else ''} x {connections}), {seconds:g} s each after {WARM * processes * connections} "
        "warm-up requests",
        [
            ("", f"{'Sift API':>12}  {'MLflow':>12}"),
            ("requests/s", both(",.0f", lambda r: r.rate)),
            ("p50 latency, ms", both(".2f", lambda r: r.percentile(50))),
            ("p99 latency, ms", both(".2f", lambda r: r.percentile(99))),
            ("requests answered 200", both(",", lambda r: r.ok)),
            ("requests failed / reconnects", both("", lambda r: f"{r.failed} / {r.reconnects}")),
            ("server CPU, cores", both(".2f", lambda r: r.server_cpu / r.seconds)),
            ("load generator CPU, cores", both(".2f", lambda r: r.client_cpu / r.seconds)),
            ("throughput Sift / MLflow", f"{sift.rate / mlflow.rate:.2f}x  (target >= 1.0)"),
            ("p50 latency Sift / MLflow", f"{sift.percentile(50) / mlflow.percentile(50):.2f}x  (target <= 1.0)"),
        ],
    )


def predict_command(home: Path, env: dict[str, str], source: Path) -> tuple[float, dict]:
    output = source.with_name(f"{source.stem}-scored.csv")
    command = [sys.executable, "-m", "core", "--home", str(home), "predict", "--dataset", "rice"]
    command += ["--input", str(source), "--output", str(output)]
    started = time.perf_counter()
    done = subprocess.run(command, cwd=REPO_ROOT, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - started
    if done.returncode != 0:
        raise BenchFailed(f"{' '.join(command)} failed:\n{done.stderr[-3000:]}")
    return wall, json.loads(done.stdout)


def report_many(home: Path, env: dict[str, str], many: pd.DataFrame, api: dict[int, Load]) -> None:
    rows = len(many)
    source, one = home / "batch.csv", home / "one.csv"
    many.to_csv(source, index=False)
    many.head(1).to_csv(one, index=False)
    # the command's fixed cost (start-up, imports, loading the model, opening the store, the batch's
    # bookkeeping) is its wall time on a one-row file: what a service pays once, not per request
    startup, _ = predict_command(home, env, one)
    wall, outcome = predict_command(home, env, source)
    if outcome["scored"] != rows:
        raise BenchFailed(f"python -m core predict scored {outcome['scored']:,} of {rows:,} rows: {outcome}")
    batch_wall, batch_scoring = rows / wall, (rows - 1) / (wall - startup)
    figures = []
    for connections, measured in api.items():
        what = "1 connection (sequential)" if connections == 1 else f"{connections} connections"
        figures.append(
            (
                f"API, {BIG:,}-row requests, {what}",
                f"{measured.ok * BIG / measured.seconds:9,.0f} rows/s  "
                f"(p50 {measured.percentile(50):.0f} ms per request, "
                f"server CPU {measured.server_cpu / measured.seconds:.2f} cores, {measured.failed} failed)",
            )
        )
    figures += [
        ("python -m core predict, whole command", f"{batch_wall:9,.0f} rows/s  ({wall:.1f} s wall)"),
        ("  its fixed cost (the same command, a 1-row file)", f"{startup:.1f} s"),
        ("  excluding that fixed cost", f"{batch_scoring:9,.0f} rows/s  ({wall - startup:.1f} s)"),
    ]
    for connections, measured in api.items():
        rate = measured.ok * BIG / measured.seconds
        figures.append(
            (
                f"ratio API ({connections} conn.) / batch command",
                f"{rate / batch_wall:.2f}x whole command, {rate / batch_scoring:.2f}x excluding its fixed cost "
                "(target >= 0.5)",
            )
        )
    report(f"many rows: {rows:,} rice rows (the file's rows repeated), API beside the batch command", figures)


if __name__ == "__main__":
    main()
