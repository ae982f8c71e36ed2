"""Model cards: what one registered version was trained on, how well it does, and how it was made.

A card gathers the dataset version (from Sift's database, matched through the run's tags
``sift.dataset`` and ``sift.dataset_version``), holdout metrics with 95 % confidence intervals
(recomputed by scoring the frozen holdout, whose row ids the run keeps in ``split.json``), the
top features and tuning history from the training report when there is one, and the training
budget, code version and creation time. It renders as Markdown and as a standalone HTML page.
"""

from __future__ import annotations

import html
import json
import math
import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import pandas as pd
from sqlalchemy.orm import Session

from core import registry
from core.champion import dataset_version_of, load_version
from core.config import Settings
from core.datasets.versions import unlabelled_rows
from core.errors import DatasetNotFound, SiftError
from core.holdout import load_holdout, predict_holdout
from core.training.evaluate import (
    LOWER_IS_BETTER,
    METRICS,
    OLD_SELECTION_METRIC,
    RESAMPLES,
    MetricEstimate,
    chance_summary,
    chance_warning,
    holdout_metrics,
)
from core.training.factories import LABELS as ESTIMATOR_LABELS
from core.training.report import load_report

CONFUSION_FILE = "confusion_matrix.json"
TOP_FEATURES = 10
# run parameters that describe how the model was trained rather than the model, in the analyst's words
TRAINING_PARAMS = {
    "budget": "budget",
    "trials": "XGBoost trials asked for",
    "trials_run": "XGBoost trials run",
    "timeout": "time limit (seconds)",
    "holdout_fraction": "share of rows held out",
    "holdout": "holdout",
    "cv_folds": "cross-validation folds",
    "class_weight": "class weighting",
    "seed": "random seed",
    "study_name": "tuning study",
}
# run parameters that are Sift's bookkeeping or a library's plumbing, not a choice about the model:
# the estimator is in the card's header, the feedback rows in its data section, the seed above
HIDDEN_PARAMS = frozenset(
    {
        "estimator",
        "extra_rows",
        "random_state",
        "n_jobs",
        "verbose",
        "verbosity",
        "warm_start",
        "enable_categorical",
        "missing",
        "validate_parameters",
    }
)
PLACEHOLDERS = frozenset({"deprecated", "warn", "nan", "None"})  # values that mean "not set"
OBJECTIVE = "objective"


# --- the card -------------------------------------------------------------------------------


@dataclass
class ModelCard:
    model: str
    version: int
    aliases: list[str]
    run_id: str
    created_at: datetime | None
    code_version: str
    estimator: str
    data: dict[str, Any] | None
    columns: list[dict[str, Any]]
    metrics: list[MetricEstimate]
    metrics_note: str
    holdout_rows: int | None
    classes: list[str]
    confusion: dict[str, Any] | None
    budget: dict[str, str]
    hyperparameters: dict[str, str]
    cv_score: float | None
    top_features: list[dict[str, Any]] = field(default_factory=list)
    tuning: list[dict[str, Any]] = field(default_factory=list)
    leaderboard: list[dict[str, Any]] = field(default_factory=list)
    chance: dict[str, Any] | None = None
    notes: list[str] = field(default_factory=list)
    # the selection metric and its reason, calibration, ensemble weights, warnings (see core.training.train)
    selection: dict[str, Any] = field(default_factory=dict)

    @property
    def metric_label(self) -> str:
        """The selection metric in a sentence ('macro F1' for a model older than the choice)."""
        label = METRICS.get(self.selection.get("metric", OLD_SELECTION_METRIC), "macro F1")
        return label if label.split()[0].isupper() else label[0].lower() + label[1:]

    @property
    def title(self) -> str:
        return f"Model card: {self.model} v{self.version}"

    @property
    def filename(self) -> str:
        return f"model_card_{self.model}_v{self.version}"

    def as_dict(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "version": self.version,
            "aliases": self.aliases,
            "data": self.data,
            "holdout_rows": self.holdout_rows,
            "metrics": {m.key: m.as_dict() for m in self.metrics},
            "top_features": self.top_features,
            "code_version": self.code_version,
            "created_at": self.created_at.isoformat() if self.created_at else None,
        }

    def markdown(self) -> str:
        return render_markdown(self)

    def html(self) -> str:
        return render_html(self)


def build_card(
    *, session: Session, settings: Settings, dataset: str, version: int, resamples: int = RESAMPLES, seed: int = 0
) -> ModelCard:
    """The model card of one registered version. Raises ModelNotFound for an unknown version."""
    info = registry.get_version(settings, dataset, version)
    notes: list[str] = []
    data, columns = None, []
    try:
        dataset_version = dataset_version_of(session=session, info=info)
        data = {
            "dataset": dataset_version.name,
            "version": dataset_version.version,
            "content_hash": dataset_version.content_hash,
            "target": dataset_version.target,
            "rows": dataset_version.row_count,
            # rows with an empty target: in the version, left out of training
            "unlabelled_rows": unlabelled_rows(session=session, version=dataset_version),
            "source_file": dataset_version.source_file,
        }
        columns = [
            {"name": c["name"], "role": c["role"], "reason": c.get("reason", "")} for c in dataset_version.columns
        ]
    except DatasetNotFound as exc:
        notes.append(str(exc))

    metrics, holdout_rows, classes, fitted = _logged_metrics(info), None, [], None
    metrics_note = "Metrics as logged at training time (no interval: the holdout could not be rescored)."
    try:
        model = load_version(settings, dataset, version)
        fitted = model.pipeline
        classes = [str(c) for c in model.classes]
        holdout = load_holdout(session=session, settings=settings, info=info)
        proba = predict_holdout(model, holdout)
        metrics = holdout_metrics(holdout.y, proba, model.pipeline.classes_, resamples=resamples, seed=seed)
        holdout_rows = len(holdout)
        metrics_note = (
            f"On the frozen holdout ({holdout_rows} rows of {holdout.dataset.label}), with 95 % confidence "
            f"intervals: Wilson for accuracy, a seeded percentile bootstrap ({resamples} resamples) for the others."
        )
    except SiftError as exc:
        notes.append(str(exc))

    try:
        confusion = registry.load_document(settings, info.run_id, CONFUSION_FILE)
    except Exception:  # not every run logs it; MLflow raises its own types
        confusion = None
    report = _training_report(settings, dataset, version)
    budget, hyperparameters = describe_params(info.params, fitted)
    if data is not None:
        data["feedback_rows"] = _whole(info.params.get("extra_rows"))
    selection = _get(report, "selection")
    selection = dict(selection) if isinstance(selection, dict) else {}
    cv = info.metrics.get(f"cv_{selection.get('metric', OLD_SELECTION_METRIC)}")
    return ModelCard(
        model=dataset,
        version=info.version,
        aliases=info.aliases,
        run_id=info.run_id,
        created_at=info.created_at.to_pydatetime() if info.created_at is not None else None,
        code_version=info.tags.get("sift.code_version", "unknown"),
        estimator=ESTIMATOR_LABELS.get(info.tags.get("sift.estimator", ""), info.tags.get("sift.estimator", "unknown")),
        data=data,
        columns=columns,
        metrics=metrics,
        metrics_note=metrics_note,
        holdout_rows=holdout_rows,
        classes=classes or (confusion or {}).get("labels", []),
        confusion=confusion,
        budget=budget,
        hyperparameters=hyperparameters,
        cv_score=float(cv) if cv is not None else None,
        top_features=_top_features(report),
        tuning=_tuning_history(report),
        leaderboard=_leaderboard(report),
        chance=_get(report, "chance"),
        notes=notes,
        selection=selection,
    )


def describe_params(params: dict[str, str], pipeline: Any = None) -> tuple[dict[str, str], dict[str, str]]:
    """(how it was trained, the model's settings) from a run's parameters, in the analyst's words.

    Bookkeeping and plumbing keys are left out (:data:`HIDDEN_PARAMS`), as are placeholder values.
    The objective is the one the fitted ``pipeline`` really used (XGBoost logs its unfitted default,
    ``binary:logistic``, even for three classes); without a fitted pipeline to read it from, it is
    left out rather than shown wrong.
    """
    training: dict[str, str] = {}
    model: dict[str, str] = {}
    for key, value in params.items():
        if key in TRAINING_PARAMS:
            training[TRAINING_PARAMS[key]] = _training_value(key, value)
        elif key not in HIDDEN_PARAMS and key != OBJECTIVE and str(value) not in PLACEHOLDERS:
            model[key] = str(value)
    objective = fitted_objective(pipeline) if pipeline is not None else None
    if objective:
        model[OBJECTIVE] = objective
    order = list(TRAINING_PARAMS.values())
    return dict(sorted(training.items(), key=lambda item: order.index(item[0]))), model


def _training_value(key: str, value: str) -> str:
    if key == "holdout_fraction":
        try:
            return f"{float(value):.0%}"
        except ValueError:
            return value
    if key == "holdout" and value == "given":
        return "the champion's holdout rows (compared on the same rows)"
    if key == "class_weight":
        return "balanced (rows weighted by the inverse of their class's frequency)" if value == "balanced" else value
    return value


def fitted_objective(pipeline: Any) -> str | None:
    """The learning objective a fitted XGBoost model used (from its booster), or None for other models."""
    steps = getattr(pipeline, "steps", None)
    model = steps[-1][1] if steps else pipeline
    model = getattr(model, "estimator_", model)  # EncodedLabelClassifier wraps the XGBClassifier
    if not hasattr(model, "get_booster"):
        return None
    try:
        config = json.loads(model.get_booster().save_config())
        return str(config["learner"]["objective"]["name"])
    except (ValueError, AttributeError, KeyError, TypeError):  # not fitted, or a config of another shape
        return None


def _whole(value: Any) -> int:
    try:
        return int(float(value))
    except (TypeError, ValueError):
        return 0


def _logged_metrics(info: registry.ModelVersionInfo) -> list[MetricEstimate]:
    return [
        MetricEstimate(key, label, float(info.metrics[key]), method="logged")
        for key, label in METRICS.items()
        if key in info.metrics
    ]


# --- the training report (written by core.training.report) ------------------------------------


def _training_report(settings: Settings, name: str, version: int) -> Any:
    try:
        return load_report(settings, name, version)
    except SiftError:
        return None


def _get(thing: Any, key: str) -> Any:
    if thing is None:
        return None
    if isinstance(thing, dict):
        return thing.get(key)
    return getattr(thing, key, None)


def _top_features(report: Any) -> list[dict[str, Any]]:
    """[{"feature", "importance", "std"}] from the report's permutation importance, largest first."""
    found = _get(report, "importance") or _get(report, "permutation_importance") or _get(report, "feature_importance")
    rows: list[dict[str, Any]] = []
    if isinstance(found, pd.DataFrame):
        found = found.to_dict("records")
    if isinstance(found, dict) and ("features" in found or "feature" in found):
        names = found.get("features") or found.get("feature") or []
        means = found.get("importances_mean") or found.get("importance") or found.get("mean") or []
        stds = found.get("importances_std") or found.get("std") or [None] * len(names)
        rows = [{"feature": n, "importance": m, "std": s} for n, m, s in zip(names, means, stds, strict=False)]
    elif isinstance(found, dict):
        rows = [{"feature": k, "importance": v, "std": None} for k, v in found.items()]
    elif isinstance(found, list):
        for item in found:
            name = _get(item, "feature") or _get(item, "name") or _get(item, "column")
            value = _get(item, "importance")
            if value is None:
                value = _get(item, "mean")
            std = _get(item, "std")
            if name is not None and value is not None:
                rows.append({"feature": name, "importance": value, "std": std})
    clean = []
    for row in rows:
        try:
            value = float(row["importance"])
        except (TypeError, ValueError):
            continue
        std = row.get("std")
        clean.append(
            {"feature": str(row["feature"]), "importance": value, "std": float(std) if std is not None else None}
        )
    return sorted(clean, key=lambda r: r["importance"], reverse=True)[:TOP_FEATURES]


def _leaderboard(report: Any) -> list[dict[str, Any]]:
    """[{"candidate", "cv", "holdout", "low", "high", "winner"}] from the report's leaderboard, best first:
    out-of-fold and holdout figures of the selection metric (macro F1 for reports older than the choice)."""
    found = _get(report, "leaderboard")
    if not isinstance(found, list):
        return []
    rows = []
    for item in found:
        name = _get(item, "label") or _get(item, "name")
        if name is None:
            continue
        metric = _get(item, "metric") or OLD_SELECTION_METRIC
        cv = _get(item, "cv_score")
        rows.append(
            {
                "candidate": str(name),
                "cv": _float(cv if cv is not None else _get(item, "cv_f1_macro")),
                "holdout": _float(_get(item, metric)),
                "low": _float(_get(item, "holdout_low")),
                "high": _float(_get(item, "holdout_high")),
                "winner": bool(_get(item, "winner")),
            }
        )
    return rows


def _float(value: Any) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _tuning_history(report: Any) -> list[dict[str, Any]]:
    """[{"trial", "value", "best"}] from the report's tuning trials, in trial order."""
    found = _get(report, "tuning") or _get(report, "trials") or _get(report, "history")
    if isinstance(found, dict):
        found = found.get("trials") or found.get("values")
    if not isinstance(found, list):
        return []
    out, best = [], -math.inf
    for i, item in enumerate(found):
        value = item if isinstance(item, (int, float)) else _get(item, "value")
        try:
            value = float(value)
        except (TypeError, ValueError):
            continue
        number = _get(item, "number") if not isinstance(item, (int, float)) else None
        best = max(best, value)
        out.append({"trial": int(number) if number is not None else i, "value": value, "best": best})
    return out


# --- rendering ------------------------------------------------------------------------------

_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]<>|#~&!])")


def md_text(value: Any) -> str:
    """User content made inert in Markdown: special characters escaped, one line."""
    text = " ".join(str(value).split())
    return _MD_SPECIAL.sub(r"\\\1", text)


def _number(value: float | None, digits: int = 3) -> str:
    return "–" if value is None or value != value else f"{value:.{digits}f}"


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(cells) + " |" for cells in rows]
    return [*lines, ""]


def render_markdown(card: ModelCard) -> str:
    """The card as Markdown; every value that comes from the user's data is escaped."""
    name = md_text(card.model)
    out = [f"# Model card: {name} v{card.version}", ""]
    aliases = ", ".join(f"`{a}`" for a in card.aliases) if card.aliases else "none"
    created = card.created_at.strftime("%Y-%m-%d %H:%M UTC") if card.created_at else "unknown"
    out += [
        f"- **Registered model:** {name}, version {card.version} (aliases: {aliases})",
        f"- **Estimator:** {md_text(card.estimator)}",
        *_selection_lines(card),
        f"- **Created:** {created}",
        f"- **Code version:** `{md_text(card.code_version)}`",
        f"- **MLflow run:** `{md_text(card.run_id)}`",
        "",
    ]
    if card.selection.get("warnings"):
        out += ["## Warnings", ""] + [f"- {md_text(w)}" for w in card.selection["warnings"]] + [""]
    out += ["## Data", ""]
    if card.data:
        d = card.data
        out += [
            f"- **Dataset:** {md_text(d['dataset'])} version {d['version']}"
            + (f" (file {md_text(d['source_file'])})" if d.get("source_file") else ""),
            f"- **Content hash:** `{md_text(d['content_hash'])}`",
            f"- **Target:** {md_text(d['target'])}",
            f"- **Rows:** {d['rows']:,}"
            + (" from the file" if d.get("feedback_rows") else "")
            + (f", {d['unlabelled_rows']:,} without a label left out" if d.get("unlabelled_rows") else ""),
        ]
        if d.get("feedback_rows"):
            out += [
                f"- **Rows from feedback:** {d['feedback_rows']:,} labelled predictions, added to training only "
                "(never to the holdout)"
            ]
        out += [""]
        if card.classes:
            out += ["**Classes:** " + ", ".join(md_text(c) for c in card.classes), ""]
        out += ["**Columns and their roles:**", ""]
        out += _table(
            ["column", "role", "why"],
            [[md_text(c["name"]), md_text(c["role"]), md_text(c["reason"])] for c in card.columns],
        )
    else:
        out += ["The dataset version this model was trained on is not in Sift's database.", ""]

    out += ["## Holdout metrics", "", md_text(card.metrics_note), ""]
    out += _table(
        ["metric", "value", "95 % interval", "method"],
        [
            [
                m.label,
                _number(m.value),
                f"{_number(m.low)} – {_number(m.high)}" if m.low is not None else "–",
                md_text(m.method),
            ]
            for m in card.metrics
        ],
    )
    if card.chance:
        chance = card.chance | {"guess": md_text(card.chance["guess"])}
        warning = chance_warning(chance)
        out += [f"**Against guessing:** {chance_summary(chance)}", ""] + (
            [f"> **Warning:** {warning}", ""] if warning else []
        )
    if card.confusion and card.confusion.get("matrix"):
        labels = [md_text(x) for x in card.confusion["labels"]]
        out += ["**Confusion matrix** (rows: true class, columns: predicted):", ""]
        out += _table(
            ["true \\\\ predicted", *labels],
            [[label, *(str(v) for v in row)] for label, row in zip(labels, card.confusion["matrix"], strict=False)],
        )

    out += ["## Top features", ""]
    if card.top_features:
        out += ["Permutation importance on the holdout (drop in score when the column is shuffled):", ""]
        out += _table(
            ["feature", "importance", "std"],
            [[md_text(f["feature"]), _number(f["importance"], 4), _number(f["std"], 4)] for f in card.top_features],
        )
    else:
        out += ["Not available: this version's training report has no feature importance.", ""]

    out += ["## Training", ""]
    if card.budget:
        out += ["**Budget and split:**", ""]
        out += [f"- {md_text(k)}: {md_text(v)}" for k, v in card.budget.items()] + [""]
    if card.cv_score is not None:
        out += [f"**Cross-validated {card.metric_label} (out-of-fold):** {card.cv_score:.3f}", ""]
    if card.hyperparameters:
        out += [f"**Settings of the {md_text(card.estimator)}:**", ""]
        out += _table(
            ["parameter", "value"], [[md_text(k), md_text(v)] for k, v in sorted(card.hyperparameters.items())]
        )
    if card.leaderboard:
        out += [
            "**Candidates compared** (same folds and holdout; ranked on the out-of-fold figure, best first):",
            "",
        ]
        out += _table(
            ["candidate", f"CV {card.metric_label}", f"holdout {card.metric_label} (95 % interval)", "registered"],
            [
                [
                    md_text(r["candidate"]),
                    _number(r["cv"]),
                    _number(r["holdout"])
                    + (f" ({_number(r['low'])} to {_number(r['high'])})" if r["low"] is not None else ""),
                    "yes" if r["winner"] else "",
                ]
                for r in card.leaderboard
            ],
        )
    if card.tuning:
        negated = " negated" if card.selection.get("metric") in LOWER_IS_BETTER else ""
        out += [f"**XGBoost tuning history** (CV {card.metric_label}{negated} of each trial, best so far):", ""]
        out += _table(
            ["trial", "score", "best so far"],
            [[str(t["trial"]), _number(t["value"], 4), _number(t["best"], 4)] for t in card.tuning],
        )
    if card.notes:
        out += ["## Notes", ""] + [f"- {md_text(n)}" for n in card.notes] + [""]
    return "\n".join(out).rstrip() + "\n"


def _selection_lines(card: ModelCard) -> list[str]:
    """How the model was chosen: the metric and why, its calibration, an ensemble's members."""
    chosen = card.selection
    if not chosen:
        return []
    lines = [f"- **Chosen on:** {md_text(chosen.get('reason', card.metric_label))}"]
    if chosen.get("calibration") not in (None, "none"):
        lines.append(
            f"- **Calibration:** {md_text(chosen['calibration'])}, fitted on out-of-fold probabilities "
            "(it lowered their log loss)"
        )
    members = chosen.get("members") or {}
    if members:
        parts = ", ".join(f"{md_text(ESTIMATOR_LABELS.get(n, n))} {w:.0%}" for n, w in members.items())
        lines.append(f"- **Ensemble members and weights:** {parts}")
    return lines


_CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; max-width: 60rem; margin: 2rem auto;
       padding: 0 1rem; color: #1f2430; line-height: 1.5; }
h1 { border-bottom: 2px solid #e0e3ea; padding-bottom: .3rem; }
h2 { margin-top: 2rem; }
table { border-collapse: collapse; margin: .5rem 0 1rem; }
th, td { border: 1px solid #d5d9e2; padding: .25rem .6rem; text-align: left; }
th { background: #f3f5f9; }
code { background: #f3f5f9; padding: 0 .2rem; border-radius: 3px; }
"""


def render_html(card: ModelCard) -> str:
    """A standalone HTML page (no scripts, no external resources); raw HTML in the Markdown is escaped."""
    from markdown_it import MarkdownIt  # lazy: only an HTML card needs it

    body = MarkdownIt("commonmark", {"html": False}).enable("table").render(render_markdown(card))
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f"<title>{html.escape(card.title)}</title>\n<style>{_CSS}</style>\n</head>\n<body>\n{body}</body>\n</html>\n"
    )
