"""Model quality on real tables: Sift's default budget against untuned scikit-learn, on the same splits.

The tables are the real-data gauntlet's (:data:`tests.real.tables.TABLES`), each as its package
gives it, less ``tweets``: its signal is in free text and timestamps, which the plain baselines
below drop, and in tweet ids that grow with time, which they keep as numbers (Sift reads them as
identifiers), so it would weigh column handling, not models. The bundled demos may be named too;
``sentiment`` is text only, so its baselines fail (and are reported). Each table is split
SIFT_BENCH_SPLITS times (default 5) into a stratified 80 % / 20 % (``random_state`` 0, 1, ...),
after dropping the rows without a label; the three models are fitted on the same 80 % rows and
scored on the same 20 %:

- **Sift**: the 80 % written to a CSV file, ingested into a fresh home with the roles Sift infers,
  trained with the default budget (seed 7), the registered version scored on the 20 % read back
  the way ingest reads a file (:func:`core.holdout.score_slice`). Its time is the ``train`` call.
- **gradient boosting**: ``HistGradientBoostingClassifier()`` untuned, number columns as they are
  and the other columns as pandas categoricals (``categorical_features="from_dtype"``, the plain
  scikit-learn way; a category unseen in training counts as missing).
- **logistic regression**: ``LogisticRegression(max_iter=1000)`` after a ColumnTransformer: number
  columns mean-imputed and standardised, the others most-frequent-imputed and one-hot encoded
  (unseen categories ignored).

Neither baseline uses Sift's preprocessing; both drop R's ``rownames`` column (the index a pandas
user reads it as) and any non-number column with more than 255 values (free text, timestamps:
past what one-hot or the boosting's category bins take), and fit with one thread, as Sift does.

Per table: the mean and standard error over splits of ROC AUC (two classes) or macro F1 (more),
the main metric, and of accuracy; each model's rank on the main metric; whether Sift is first or
within one standard error (the first model's) of first; Sift's winners; the wall time. Then the
average rank over tables. Target: Sift first or within one SE of first on every table, and the
best average rank.

SIFT_BENCH_TABLES (comma list, e.g. ``wine,rice,mushrooms``), SIFT_BENCH_SPLITS, SIFT_BENCH_JOBS
(default 1; 2 runs two table/split units at once in a process pool: every fit is single-threaded,
so two at a time on two cores is fair).
"""

from __future__ import annotations

import math
import multiprocessing
import os
import statistics
import time
import traceback
import warnings
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, as_completed
from typing import Any

import numpy as np
import pandas as pd
from scipy.stats import rankdata
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.exceptions import ConvergenceWarning
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler
from threadpoolctl import threadpool_limits

from bench.common import report, temporary_home, timed
from core import registry
from core.champion import load_version
from core.config import DEMO_DIR
from core.datasets.reading import read_csv
from core.datasets.versions import ingest
from core.db import open_database
from core.holdout import score_slice
from core.training import DEFAULT_BUDGET
from core.training.budgets import Budget
from core.training.evaluate import classification_metrics
from core.training.train import train
from tests.real.tables import TABLES, Table

SEED = 7  # Sift's training seed; the splits' seeds are 0 .. splits - 1
TEST_SHARE = 0.2
LEFT_OUT = {"tweets"}  # see the module docstring
MAX_CATEGORIES = 255  # HistGradientBoosting's category bins
ROW_NAMES = "rownames"
SIFT, BOOSTING, LOGISTIC = "Sift", "gradient boosting", "logistic regression"
MODELS = (SIFT, BOOSTING, LOGISTIC)
METRIC_NAMES = {"roc_auc": "ROC AUC", "f1_macro": "macro F1"}


def _demo(filename: str) -> Callable[[], pd.DataFrame]:
    return lambda: pd.read_csv(DEMO_DIR / filename)


DEMOS = [
    Table("rice", "Class", _demo("rice_cammeo_osmancik.csv"), "bundled demo"),
    Table("mushrooms", "class", _demo("mushrooms.csv"), "bundled demo"),
    Table("sentiment", "label", _demo("sentiment_sentences.csv"), "bundled demo, text only"),
]
ALL_TABLES = {t.name: t for t in [*TABLES, *DEMOS]}


def split(table: Table, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The table's labelled rows in a stratified 80 % / 20 %."""
    frame = table.load()
    frame = frame[frame[table.target].notna()].reset_index(drop=True)
    return train_test_split(frame, test_size=TEST_SHARE, stratify=frame[table.target], random_state=seed)


# --- the three models ----------------------------------------------------------------------


def fit_sift(table: Table, train_part: pd.DataFrame, test_part: pd.DataFrame) -> dict[str, Any]:
    with temporary_home() as (folder, settings):
        train_file, test_file = folder / "train.csv", folder / "test.csv"
        train_part.to_csv(train_file, index=False)
        test_part.to_csv(test_file, index=False)
        sessions = open_database(settings)
        registry.ensure_store(settings)  # MLflow's first migration is home creation, not training
        with sessions.begin() as session:
            ingest(session=session, path=train_file, name=table.name, target=table.target)
        # a training job writes library warnings to its log (core.jobs.runner); here they are left out
        with sessions.begin() as session, warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            seconds, result = timed(
                lambda: train(session=session, settings=settings, dataset=table.name, budget=Budget(seed=SEED))
            )
        model = load_version(settings, result.model, result.version)
        test = read_csv(test_file).frame
        metrics = score_slice(model.pipeline, model.features, test, test[table.target])
    return {"metrics": metrics, "seconds": seconds, "winner": result.estimator}


def plain_columns(frame: pd.DataFrame, target: str) -> tuple[list[str], list[str]]:
    """(number columns, category columns) as an analyst reads them off the dtypes; see the docstring."""
    features = [c for c in frame.columns if c not in (target, ROW_NAMES)]
    numbers = [c for c in features if pd.api.types.is_numeric_dtype(frame[c]) and frame[c].dtype != bool]
    categories = [c for c in features if c not in numbers and frame[c].nunique() <= MAX_CATEGORIES]
    return numbers, categories


def _plain_inputs(part: pd.DataFrame, numbers: list[str], categories: list[str]) -> pd.DataFrame:
    out = part[numbers + categories].copy()
    for c in categories:  # text, missing cells kept missing (1 and "1" alike, as read from a file)
        out[c] = part[c].map(str).where(part[c].notna(), np.nan).astype(object)
    return out


def _plain_model(kind: str, numbers: list[str], categories: list[str]) -> Any:
    if kind == BOOSTING:
        return HistGradientBoostingClassifier(categorical_features="from_dtype")
    prepare = ColumnTransformer(
        [
            ("numbers", make_pipeline(SimpleImputer(strategy="mean"), StandardScaler()), numbers),
            (
                "categories",
                make_pipeline(SimpleImputer(strategy="most_frequent"), OneHotEncoder(handle_unknown="ignore")),
                categories,
            ),
        ]
    )
    return make_pipeline(prepare, LogisticRegression(max_iter=1000))


def fit_baseline(kind: str, table: Table, train_part: pd.DataFrame, test_part: pd.DataFrame) -> dict[str, Any]:
    numbers, categories = plain_columns(train_part, table.target)
    if not numbers and not categories:
        raise ValueError("no column left for a plain baseline (only free text or row names)")
    fit_rows = _plain_inputs(train_part, numbers, categories)
    test_rows = _plain_inputs(test_part, numbers, categories)
    if kind == BOOSTING:  # pandas categoricals with the training rows' categories: unseen ones become missing
        for c in categories:
            known = pd.CategoricalDtype(sorted(fit_rows[c].dropna().unique()))
            fit_rows[c], test_rows[c] = fit_rows[c].astype(known), test_rows[c].astype(known)
    model = _plain_model(kind, numbers, categories)
    with threadpool_limits(limits=1), warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        seconds, _ = timed(lambda: model.fit(fit_rows, train_part[table.target].to_numpy()))
        proba = model.predict_proba(test_rows)
    metrics = classification_metrics(test_part[table.target].to_numpy(), proba, model.classes_)
    return {"metrics": metrics, "seconds": seconds}


# --- one table and split, then the summary ------------------------------------------------------


def run_unit(name: str, seed: int) -> dict[str, Any]:
    """All three models on split ``seed`` of table ``name``; a model that fails records its error."""
    table = ALL_TABLES[name]
    train_part, test_part = split(table, seed)
    classes = int(train_part[table.target].nunique())
    unit: dict[str, Any] = {
        "table": name,
        "split": seed,
        "classes": classes,
        "rows": len(train_part) + len(test_part),
        "metric": "roc_auc" if classes == 2 else "f1_macro",
        "models": {},
    }
    fits = {
        SIFT: lambda: fit_sift(table, train_part, test_part),
        BOOSTING: lambda: fit_baseline(BOOSTING, table, train_part, test_part),
        LOGISTIC: lambda: fit_baseline(LOGISTIC, table, train_part, test_part),
    }
    for model, fit in fits.items():
        try:
            unit["models"][model] = fit()
        except Exception as exc:  # a bench reports a failure and goes on
            last = traceback.extract_tb(exc.__traceback__)[-1]
            unit["models"][model] = {"error": f"{type(exc).__name__}: {exc} ({last.filename}:{last.lineno})"}
    return unit


def _progress(unit: dict[str, Any]) -> None:
    parts = []
    for model, done in unit["models"].items():
        if "error" in done:
            parts.append(f"{model} failed")
        else:
            parts.append(f"{model} {done['metrics'][unit['metric']]:.4f} ({done['seconds']:.2f} s)")
    print(f"  {unit['table']} split {unit['split']}: " + ", ".join(parts), flush=True)


def _mean_se(values: list[float]) -> tuple[float, float]:
    mean = statistics.fmean(values)
    se = statistics.stdev(values) / math.sqrt(len(values)) if len(values) > 1 else math.nan
    return mean, se


def summarise(name: str, units: list[dict[str, Any]]) -> tuple[dict[str, float], bool] | None:
    """Print one table's figures; returns each model's rank and whether Sift is first or within one SE
    of first (None when no split has all three models to rank)."""
    units = sorted(units, key=lambda u: u["split"])
    metric = units[0]["metric"]
    label = METRIC_NAMES[metric]
    complete = [u for u in units if not any("error" in d for d in u["models"].values())]
    rows: list[tuple[str, str]] = []
    outcome = None
    if complete:
        scores = {m: _mean_se([u["models"][m]["metrics"][metric] for u in complete]) for m in MODELS}
        accuracy = {m: _mean_se([u["models"][m]["metrics"]["accuracy"] for u in complete]) for m in MODELS}
        ranks = dict(zip(MODELS, rankdata([-scores[m][0] for m in MODELS]), strict=True))
        for m in MODELS:
            seconds = [u["models"][m]["seconds"] for u in complete]
            what = "train" if m == SIFT else "fit"
            rows.append(
                (
                    m,
                    f"{label} {scores[m][0]:.4f} ± {scores[m][1]:.4f}  accuracy {accuracy[m][0]:.4f} ± "
                    f"{accuracy[m][1]:.4f}  rank {ranks[m]:g}  {what} {statistics.fmean(seconds):.2f} s a split "
                    f"({sum(seconds):.1f} s in all)",
                )
            )
        first = max(MODELS, key=lambda m: scores[m][0])
        behind = scores[first][0] - scores[SIFT][0]
        if first == SIFT or behind == 0:
            verdict = "first"
        elif behind <= scores[first][1]:
            verdict = f"within one SE of first ({behind:.4f} behind {first}, its SE {scores[first][1]:.4f})"
        else:
            verdict = f"BEHIND {first} by {behind:.4f} (its SE {scores[first][1]:.4f})"
        rows.append(("Sift against first", verdict))
        outcome = (ranks, not verdict.startswith("BEHIND"))
        winners = Counter(u["models"][SIFT]["winner"] for u in complete)
        rows.append(("Sift's winners", ", ".join(f"{w} x{n}" for w, n in winners.most_common())))
    for u in units:
        for m, done in u["models"].items():
            if "error" in done:
                rows.append((f"split {u['split']} {m}", f"failed: {done['error']}"))
    classes = units[0]["classes"]
    kind = "two classes" if classes == 2 else f"{classes} classes"
    report(
        f"quality: {name} ({units[0]['rows']:,} labelled rows, {kind}), {label}, "
        f"{len(complete)} of {len(units)} splits complete",
        rows,
    )
    return outcome


def chosen_tables() -> list[str]:
    default = ",".join(t.name for t in TABLES if t.name not in LEFT_OUT)
    names = [n.strip() for n in os.environ.get("SIFT_BENCH_TABLES", default).split(",") if n.strip()]
    unknown = [n for n in names if n not in ALL_TABLES]
    if unknown:
        raise SystemExit(f"SIFT_BENCH_TABLES: no table {', '.join(unknown)}; choose from {', '.join(ALL_TABLES)}")
    return names


def run_all(names: list[str], splits: int, jobs: int) -> dict[str, list[dict[str, Any]]]:
    work = [(name, seed) for name in names for seed in range(splits)]
    units: dict[str, list[dict[str, Any]]] = {name: [] for name in names}
    if jobs <= 1:
        for name, seed in work:
            units[name].append(run_unit(name, seed))
            _progress(units[name][-1])
        return units
    # spawn: a fresh interpreter per worker, no XGBoost or OpenMP state copied from this one
    with ProcessPoolExecutor(max_workers=jobs, mp_context=multiprocessing.get_context("spawn")) as pool:
        futures = {pool.submit(run_unit, name, seed): (name, seed) for name, seed in work}
        for future in as_completed(futures):
            name, seed = futures[future]
            try:
                unit = future.result()
            except Exception as exc:  # the worker itself died: every model of the unit failed
                failed = {m: {"error": f"{type(exc).__name__}: {exc}"} for m in MODELS}
                unit = {"table": name, "split": seed, "classes": 0, "rows": 0, "metric": "f1_macro", "models": failed}
            units[name].append(unit)
            _progress(unit)
    return units


def main() -> None:
    names = chosen_tables()
    splits = int(os.environ.get("SIFT_BENCH_SPLITS", 5))
    jobs = int(os.environ.get("SIFT_BENCH_JOBS", 1))
    at_once = (
        "one unit at a time"
        if jobs <= 1
        else f"{jobs} table/split units at once in a process pool (every fit is single-threaded, so "
        f"{jobs} at a time on {os.cpu_count()} cores is fair)"
    )
    print(
        f"\n== quality: {len(names)} tables x {splits} stratified 80/20 splits, Sift's '{DEFAULT_BUDGET}' budget "
        f"against untuned HistGradientBoosting and one-hot logistic regression; {at_once}",
        flush=True,
    )
    started = time.perf_counter()
    units = run_all(names, splits, jobs)
    wall = time.perf_counter() - started
    outcomes = {name: summarise(name, units[name]) for name in names}
    ranked = {name: outcome for name, outcome in outcomes.items() if outcome is not None}
    rows = []
    if ranked:
        average = {m: statistics.fmean(ranks[m] for ranks, _ in ranked.values()) for m in MODELS}
        rows.extend((m, f"average rank {average[m]:.2f}") for m in MODELS)
        behind = [name for name, (_, near_first) in ranked.items() if not near_first]
        rows.append(
            (
                "Sift first or within one SE",
                f"{len(ranked) - len(behind)} of {len(ranked)} tables"
                + (f" (behind on {', '.join(behind)})" if behind else ""),
            )
        )
        best = min(average.values())
        leaders = [m for m in MODELS if average[m] == best]
        rows.append(("best average rank", " and ".join(leaders) + (" (tied)" if len(leaders) > 1 else "")))
        met = not behind and SIFT in leaders and len(ranked) == len(names)
        rows.append(
            ("target", f"{'met' if met else 'not met'}: Sift first or within one SE everywhere, best average rank")
        )
    left = [name for name in names if name not in ranked]
    if left:
        rows.append(("not ranked", f"{', '.join(left)} (a model failed on every split)"))
    rows.append(("wall time", f"{wall / 60:.1f} min for {len(names) * splits} table/split units"))
    report(f"quality: average rank over {len(ranked)} tables (1 = best on the main metric)", rows)


if __name__ == "__main__":
    main()
