"""Baseline: the schema Sift's models had when migrations came in.

Revision ID: 0001
Revises:
Create Date: 2026-11-23

Every table and index is created only if it is missing: a home made before migrations (by
``create_all``, with no version table) goes through this revision unchanged if it is complete,
and gains the tables added after it was last opened if it is not.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

ONE_ACTIVE_JOB = sa.text("status IN ('queued', 'running')")


def _table(name: str, *columns: sa.SchemaItem) -> None:
    op.create_table(name, *columns, if_not_exists=True)


def _index(table: str, *columns: str, unique: bool = False, name: str | None = None, **where: sa.TextClause) -> None:
    name = name or f"ix_{table}_{'_'.join(columns)}"
    op.create_index(name, table, list(columns), unique=unique, if_not_exists=True, **where)


def _time(name: str, nullable: bool = False) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    _table(
        "alias_events",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("model_name", sa.String(64), nullable=False),
        sa.Column("alias", sa.String(32), nullable=False),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("from_version", sa.Integer(), nullable=True),
        sa.Column("to_version", sa.Integer(), nullable=True),
        sa.Column("who", sa.String(128), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("details", sa.JSON(), nullable=True),
        _time("created_at"),
    )
    _index("alias_events", "created_at")
    _index("alias_events", "model_name")

    _table(
        "batches",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("dataset", sa.String(64), nullable=False),
        sa.Column("model_version", sa.Integer(), nullable=False),
        sa.Column("source_file", sa.Text(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("rows", sa.Integer(), nullable=False),
        sa.Column("scored", sa.Integer(), nullable=False),
        sa.Column("rejected", sa.Integer(), nullable=False),
        _time("created_at"),
        _time("finished_at", nullable=True),
        sa.Column("input_hash", sa.String(64), nullable=True),
        sa.Column("source", sa.String(8), nullable=False),
        sa.Column("chunk_size", sa.Integer(), nullable=False),
        sa.Column("chunks_done", sa.Integer(), nullable=False),
        sa.Column("class_mix", sa.JSON(), nullable=False),
        sa.Column("confidence_bins", sa.JSON(), nullable=False),
        sa.Column("extra_columns", sa.JSON(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("pid", sa.Integer(), nullable=True),
        sa.Column("host", sa.String(255), nullable=True),
        sa.Column("attempt", sa.Integer(), nullable=False),
        _time("heartbeat_at", nullable=True),
    )
    _index("batches", "dataset")
    _index("batches", "input_hash")

    _table(
        "counters",
        sa.Column("name", sa.String(32), primary_key=True),
        sa.Column("value", sa.Integer(), nullable=False),
    )

    _table(
        "dataset_versions",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("content_hash", sa.String(64), nullable=False),
        sa.Column("target", sa.Text(), nullable=False),
        sa.Column("columns", sa.JSON(), nullable=False),
        sa.Column("missing_markers", sa.JSON(), nullable=False),
        sa.Column("row_count", sa.Integer(), nullable=False),
        sa.Column("column_count", sa.Integer(), nullable=False),
        sa.Column("source_file", sa.Text(), nullable=False),
        _time("created_at"),
        sa.UniqueConstraint("name", "version"),
    )
    _index("dataset_versions", "content_hash")
    _index("dataset_versions", "name")

    _table(
        "drift_options",
        sa.Column("dataset", sa.String(64), primary_key=True),
        sa.Column("columns", sa.JSON(), nullable=False),
        sa.Column("who", sa.String(128), nullable=False),
        _time("updated_at"),
    )

    _table(
        "drift_windows",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("dataset", sa.String(64), nullable=False),
        sa.Column("model_version", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(8), nullable=False),
        sa.Column("key", sa.String(64), nullable=False),
        _time("start"),
        _time("end"),
        sa.Column("first_id", sa.Integer(), nullable=False),
        sa.Column("last_id", sa.Integer(), nullable=False),
        sa.Column("rows", sa.Integer(), nullable=False),
        sa.Column("flagged", sa.Integer(), nullable=False),
        sa.Column("rejected", sa.Integer(), nullable=False),
        sa.Column("closed", sa.Boolean(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("drift_share", sa.Float(), nullable=True),
        sa.Column("dataset_drift", sa.Boolean(), nullable=True),
        sa.Column("columns", sa.JSON(), nullable=False),
        sa.Column("options_key", sa.String(16), nullable=False),
        sa.Column("mean_confidence", sa.Float(), nullable=True),
        sa.Column("estimated_accuracy", sa.Float(), nullable=True),
        sa.Column("class_mix", sa.JSON(), nullable=False),
        sa.Column("confidence_bins", sa.JSON(), nullable=False),
        _time("computed_at"),
        sa.UniqueConstraint("dataset", "model_version", "kind", "key"),
    )
    _index("drift_windows", "dataset")

    _table(
        "jobs",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("dataset", sa.String(64), nullable=False),
        sa.Column("dataset_version", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("parameters", sa.JSON(), nullable=False),
        sa.Column("progress", sa.JSON(), nullable=False),
        sa.Column("result", sa.JSON(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("cancel_requested", sa.Boolean(), nullable=False),
        sa.Column("pid", sa.Integer(), nullable=True),
        sa.Column("host", sa.String(255), nullable=True),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("study_name", sa.String(160), nullable=True),
        _time("created_at"),
        _time("started_at", nullable=True),
        _time("finished_at", nullable=True),
        _time("heartbeat_at", nullable=True),
    )
    _index("jobs", "created_at")
    _index("jobs", "dataset")
    _index(
        "jobs",
        "dataset",
        unique=True,
        name="ix_jobs_one_active_per_dataset",
        sqlite_where=ONE_ACTIVE_JOB,
        postgresql_where=ONE_ACTIVE_JOB,
    )

    _table(
        "model_baselines",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("dataset", sa.String(64), nullable=False),
        sa.Column("model_version", sa.Integer(), nullable=False),
        sa.Column("holdout_rows", sa.Integer(), nullable=False),
        sa.Column("holdout_accuracy", sa.Float(), nullable=False),
        sa.Column("calibration", sa.JSON(), nullable=False),
        sa.Column("check", sa.JSON(), nullable=False),
        sa.Column("class_mix", sa.JSON(), nullable=False),
        sa.Column("confidence_bins", sa.JSON(), nullable=False),
        sa.Column("key_features", sa.JSON(), nullable=False),
        _time("created_at"),
        sa.UniqueConstraint("dataset", "model_version"),
    )
    _index("model_baselines", "dataset")

    _table(
        "retrain_policies",
        sa.Column("dataset", sa.String(64), primary_key=True),
        sa.Column("threshold", sa.Integer(), nullable=False),
        sa.Column("auto", sa.Boolean(), nullable=False),
        sa.Column("last_auto_labels", sa.Integer(), nullable=True),
        sa.Column("last_auto_champion", sa.Integer(), nullable=True),
        sa.Column("last_auto_job", sa.Integer(), nullable=True),
        _time("updated_at"),
    )

    _table(
        "alert_events",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("dataset", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("window", sa.String(128), nullable=False),
        sa.Column("window_id", sa.Integer(), sa.ForeignKey("drift_windows.id"), nullable=True),
        sa.Column("model_version", sa.Integer(), nullable=True),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("value", sa.Float(), nullable=False),
        sa.Column("threshold", sa.Float(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        _time("created_at"),
        _time("acknowledged_at", nullable=True),
        sa.Column("acknowledged_by", sa.String(128), nullable=True),
        sa.UniqueConstraint("dataset", "kind", "window"),
    )
    _index("alert_events", "created_at")
    _index("alert_events", "dataset")
    _index("alert_events", "status")

    _table(
        "batch_chunks",
        sa.Column("batch_id", sa.String(32), sa.ForeignKey("batches.id"), primary_key=True),
        sa.Column("number", sa.Integer(), primary_key=True),
        sa.Column("first_id", sa.Integer(), nullable=False),
        sa.Column("rows", sa.Integer(), nullable=False),
        sa.Column("scored", sa.Integer(), nullable=False),
        sa.Column("rejected", sa.Integer(), nullable=False),
        sa.Column("class_mix", sa.JSON(), nullable=False),
        sa.Column("confidence_bins", sa.JSON(), nullable=False),
        _time("created_at"),
    )

    _table(
        "predictions",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=False),
        _time("created_at"),
        sa.Column("dataset", sa.String(64), nullable=False),
        sa.Column("model_name", sa.String(64), nullable=False),
        sa.Column("model_version", sa.Integer(), nullable=False),
        sa.Column("inputs", sa.Text(), nullable=False),
        sa.Column("predicted_class", sa.Text(), nullable=False),
        sa.Column("probabilities", sa.Text(), nullable=False),
        sa.Column("confidence", sa.Float(), nullable=False),
        sa.Column("flags", sa.Text(), nullable=False),
        sa.Column("source", sa.String(8), nullable=False),
        sa.Column("batch_id", sa.String(32), sa.ForeignKey("batches.id"), nullable=True),
    )
    _index("predictions", "batch_id")
    _index("predictions", "created_at")
    _index("predictions", "dataset")

    _table(
        "feedback",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("prediction_id", sa.Integer(), sa.ForeignKey("predictions.id"), nullable=False, unique=True),
        sa.Column("label", sa.Text(), nullable=False),
        sa.Column("who", sa.String(128), nullable=False),
        _time("created_at"),
        _time("updated_at"),
    )
    _index("feedback", "created_at")
    _index("feedback", "updated_at")

    _table(
        "feedback_history",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("prediction_id", sa.Integer(), sa.ForeignKey("predictions.id"), nullable=False),
        sa.Column("old_label", sa.Text(), nullable=True),
        sa.Column("new_label", sa.Text(), nullable=False),
        sa.Column("who", sa.String(128), nullable=False),
        _time("created_at"),
    )
    _index("feedback_history", "prediction_id")


def downgrade() -> None:
    for table in (
        "feedback_history",
        "feedback",
        "predictions",
        "batch_chunks",
        "alert_events",
        "retrain_policies",
        "model_baselines",
        "jobs",
        "drift_windows",
        "drift_options",
        "dataset_versions",
        "counters",
        "batches",
        "alias_events",
    ):
        op.drop_table(table)  # a table's indexes go with it
