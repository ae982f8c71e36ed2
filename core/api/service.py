"""The scoring service: FastAPI routes over the same core and store as the app and the command line.

``create_app(settings)`` builds the application; ``python -m core serve`` runs it on uvicorn.
Scoring requests run on the event loop (checking and predicting is CPU work either way) and wait
for their grouped ledger commit (:mod:`core.api.ledger`); feedback and the store's reads run in
the thread pool. Errors are ``{"error": "..."}`` in the command line's words, never a traceback.
"""

from __future__ import annotations

import asyncio
import logging
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pandas as pd
from fastapi import FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, Field
from sqlalchemy import make_url, text
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException
from swagger_ui_bundle import swagger_ui_path

from core import registry
from core.api.champions import Champions
from core.api.guard import Guard, configured_keys
from core.api.ledger import LedgerWriter
from core.api.metrics import CONTENT_TYPE, Metrics
from core.api.monitor import Monitoring
from core.api.predict import MAX_EXPLAIN_ROWS, score_rows
from core.champion import LoadedModel, champion_version
from core.config import Settings
from core.datasets.versions import get_version
from core.db import open_database
from core.errors import (
    BatchNotFound,
    DatasetNotFound,
    InputContractError,
    InvalidLabel,
    JobConflict,
    ModelNotFound,
    PredictionNotFound,
    SiftError,
)
from core.retrain_actions import import_label_file_and_retrain
from core.status import dataset_names

API_VERSION = "1"
INLINE_ROWS = 32  # rows a request may have to be scored on the event loop itself
log = logging.getLogger(__name__)
STATUS = {
    DatasetNotFound: 404,
    ModelNotFound: 404,
    PredictionNotFound: 404,
    BatchNotFound: 404,
    InputContractError: 422,
    InvalidLabel: 422,
    JobConflict: 409,
}


def _status_of(exc: SiftError) -> int:
    return next((code for kind, code in STATUS.items() if isinstance(exc, kind)), 400)


def error(status: int, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status, headers=headers)


# --- the documented shapes (OpenAPI); responses are built as plain dicts -------------------------


class PredictRequest(BaseModel):
    rows: list[dict[str, Any]] = Field(
        description="The rows to score: each an object of input name -> value (null when unknown); "
        "fields the model does not use are ignored.",
        min_length=1,
    )


class Label(BaseModel):
    prediction_id: int
    label: str | int | float | bool


class FeedbackRequest(BaseModel):
    labels: list[Label] = Field(description="True classes of past predictions.", min_length=1)
    who: str = Field(default="api", description="Who gives the labels, for the history.")


class Prediction(BaseModel):
    row: int = Field(description="Position of the row in the request, from 0.")
    prediction_id: int = Field(description="Its id in the ledger: post its true class to /feedback with it.")
    prediction: Any
    confidence: float
    probabilities: dict[str, float]
    flags: list[str] = Field(description="Why the prediction may be less reliable (unseen category, out of range).")
    reasons: dict[str, Any] | None = Field(default=None, description="With ?explain=true: the top reasons.")


class Rejected(BaseModel):
    row: int
    reason: str


class PredictResponse(BaseModel):
    model: str
    model_version: int = Field(description="The version that scored these rows.")
    predictions: list[Prediction]
    rejected: list[Rejected]


class FeedbackResponse(BaseModel):
    accepted: int
    rejected: int
    reasons: list[Rejected]
    retrain: dict[str, Any] | None = None


class Error(BaseModel):
    error: str


ERRORS = {code: {"model": Error} for code in (401, 404, 413, 422)}


UNION_MEMBERS = ("str", "int", "float", "bool")  # pydantic names the member of a union tried: not the client's field


def _validation_message(exc: RequestValidationError) -> str:
    first = exc.errors()[0]
    loc = [p for p in first.get("loc", ())[1:] if p not in UNION_MEMBERS]
    where = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in loc).lstrip(".")
    where = where or "The body"
    if first.get("type") == "json_invalid":
        detail = first.get("ctx", {}).get("error", "cannot be read")
        return f"The body is not valid JSON ({detail}). Send a JSON object."
    if first.get("type") == "missing":
        return f"The body lacks the field {where!r}."
    return f"{where}: {first.get('msg', 'not of the documented shape')}."


def _contract_json(model: LoadedModel) -> list[dict[str, Any]]:
    keep = ("name", "role", "integer", "min", "max", "has_time", "categories", "complete", "typical", "format")
    return [{k: f[k] for k in keep if k in f} for f in model.features]


def create_app(settings: Settings) -> FastAPI:
    sessions = open_database(settings)
    url = make_url(settings.database_url)
    database_file = Path(url.database) if url.get_backend_name() == "sqlite" and url.database else None
    keys = configured_keys(settings)
    champions = Champions(settings, sessions)
    writer = LedgerWriter(sessions)
    metrics = Metrics(settings, sessions)
    monitoring = Monitoring(settings, sessions)

    @asynccontextmanager
    async def lifespan(_app: FastAPI):
        champions.start()
        writer.start()
        monitoring.start()
        yield
        monitoring.stop()
        champions.stop()
        writer.stop()

    app = FastAPI(
        title="Sift scoring API",
        version=API_VERSION,
        description="Score rows with a dataset's champion, send true labels back, read health and metrics. "
        "Every scored row is in Sift's prediction ledger before the response is sent.",
        docs_url=None,
        redoc_url=None,
        lifespan=lifespan,
    )
    app.add_middleware(Guard, keys=keys, max_bytes=settings.api_max_bytes, metrics=metrics)
    app.mount("/docs-assets", StaticFiles(directory=swagger_ui_path), name="docs-assets")

    @app.exception_handler(SiftError)
    async def _sift_error(_request: Request, exc: SiftError) -> JSONResponse:
        return error(_status_of(exc), str(exc))

    @app.exception_handler(RequestValidationError)
    async def _invalid(_request: Request, exc: RequestValidationError) -> JSONResponse:
        return error(422, _validation_message(exc))

    @app.exception_handler(StarletteHTTPException)
    async def _http(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return error(exc.status_code, str(exc.detail), getattr(exc, "headers", None))

    async def champion(dataset: str) -> LoadedModel:
        return champions.get(dataset) or await run_in_threadpool(champions.load, dataset)

    @app.get("/docs", include_in_schema=False)
    async def docs() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url="/openapi.json",
            title="Sift scoring API",
            swagger_js_url="/docs-assets/swagger-ui-bundle.js",
            swagger_css_url="/docs-assets/swagger-ui.css",
            swagger_favicon_url="/docs-assets/favicon-32x32.png",
        )

    @app.get("/health", summary="Whether the store is reachable (no key needed)")
    def health() -> JSONResponse:
        try:
            if database_file is not None and not database_file.exists():
                raise FileNotFoundError(f"{database_file} is not there")  # SQLite would make a new, empty one
            with sessions() as session:
                session.execute(text("SELECT 1"))
                datasets = dataset_names(session=session)
                available, tracking = {}, "reachable"
                for name in datasets:
                    try:
                        available[name] = champion_version(settings, name, session=session)
                    except ModelNotFound:
                        continue
                    except Exception as exc:  # the models' store is down: the database still answers
                        log.warning("health: the model registry is not reachable: %s", exc)
                        tracking = "unreachable"
                        break
        except Exception as exc:  # the answer to "is the database there" is no
            log.warning("health: the database is not reachable: %s", exc)
            return JSONResponse({"status": "unavailable", "database": "unreachable"}, status_code=503)
        return JSONResponse(
            {
                "status": "ok",
                "database": "reachable",
                "model_registry": tracking,
                "models_available": available,  # dataset -> champion version
                "serving": {name: m.version for name, m in champions.loaded().items()},  # loaded here
            }
        )

    @app.get("/v1/models", summary="The datasets with a champion")
    def models() -> dict[str, Any]:
        out = []
        with sessions() as session:
            names = dataset_names(session=session)
        for name in names:
            try:
                model = champions.get(name) or champions.load(name)
            except ModelNotFound:
                continue
            out.append({"dataset": name, "model_version": model.version, "classes": model.classes})
        return {"models": out}

    @app.get("/v1/models/{dataset}", summary="A champion: version, classes, holdout metrics and its input contract")
    def model(dataset: str) -> dict[str, Any]:
        found = champions.get(dataset) or champions.load(dataset)
        logged = registry.get_version(settings, found.name, found.version).metrics
        holdout = {k: v for k, v in logged.items() if not k.startswith("cv_") and not k.endswith("_seconds")}
        cross_validated = {k.removeprefix("cv_"): v for k, v in logged.items() if k.startswith("cv_")}
        return {
            "dataset": dataset,
            "model": found.name,
            "model_version": found.version,
            "classes": found.classes,
            "holdout_metrics": holdout,
            "cross_validated_metrics": cross_validated,
            "inputs": _contract_json(found),
            "max_rows": settings.api_max_rows,
            "max_explain_rows": MAX_EXPLAIN_ROWS,
        }

    @app.post(
        "/v1/models/{dataset}/predict",
        summary="Score rows with the champion; every scored row is written to the ledger first",
        response_model=PredictResponse,
        responses=ERRORS,
    )
    async def predict(
        dataset: str,
        body: PredictRequest,
        explain: bool = Query(False, description=f"Add each row's top reasons (at most {MAX_EXPLAIN_ROWS:,} rows)."),
    ) -> JSONResponse:
        if len(body.rows) > settings.api_max_rows:
            return error(
                413,
                f"{len(body.rows):,} rows is more than the {settings.api_max_rows:,} one request may score: "
                "split them into several requests, or score the file with python -m core predict.",
            )
        model_ = await champion(dataset)
        if len(body.rows) <= INLINE_ROWS:  # a small request is quicker scored here than handed to a thread
            scored = score_rows(model_, body.rows, explain=explain)
        else:  # a large one must not hold up the small requests behind it
            scored = await run_in_threadpool(score_rows, model_, body.rows, explain=explain)
        first_id = await asyncio.wrap_future(writer.write(model_, scored.rows))
        metrics.scored(dataset, model_.version, scored.rows.predicted, len(scored.rejected))
        monitoring.scored(dataset)
        return JSONResponse(
            {
                "model": model_.name,
                "model_version": model_.version,
                "predictions": scored.predictions(first_id),
                "rejected": scored.rejected,
            }
        )

    @app.post(
        "/v1/models/{dataset}/feedback",
        summary="Record true labels of past predictions (they count toward the retrain threshold)",
        response_model=FeedbackResponse,
        responses=ERRORS,
    )
    def feedback(dataset: str, body: FeedbackRequest) -> JSONResponse:
        with sessions() as session:
            get_version(session=session, name=dataset)  # an unknown dataset is refused
        frame = pd.DataFrame(
            {"prediction_id": [x.prediction_id for x in body.labels], "label": [x.label for x in body.labels]}
        )
        outcome = import_label_file_and_retrain(
            sessions=sessions, settings=settings, dataset=dataset, source=frame, who=body.who, first_row=0
        )
        reasons = [{"row": int(key.split()[-1]), "reason": text_} for key, text_ in outcome.reasons.items()]
        metrics.labels.labels(dataset, "accepted").inc(outcome.accepted)
        metrics.labels.labels(dataset, "rejected").inc(outcome.rejected)
        retrain = outcome.retrain.as_dict() if outcome.retrain is not None else None
        return JSONResponse(
            {"accepted": outcome.accepted, "rejected": outcome.rejected, "reasons": reasons, "retrain": retrain}
        )

    @app.get("/metrics", summary="Prometheus metrics", response_class=Response)
    def prometheus() -> Response:
        return Response(metrics.render(), media_type=CONTENT_TYPE)

    return app
