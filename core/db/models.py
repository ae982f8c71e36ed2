"""SQLAlchemy 2.x typed models for Sift's own state.

Rows of each dataset version live in a table of their own (see :mod:`core.db.rows`), with
positional column names, so a user's column names are only ever data, never SQL.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """A moment in UTC, aware on the way in and out: SQLite hands datetimes back without their
    time zone, PostgreSQL in the session's; every column of Sift's own state uses this type, so no
    reader needs to fix either."""

    impl = DateTime(timezone=True)
    cache_ok = True

    @staticmethod
    def _in_utc(value: datetime | None) -> datetime | None:
        if value is None or value.tzinfo is UTC:  # the common case, on every ledger row: nothing to do
            return value
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        return self._in_utc(value)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        return self._in_utc(value)


class Base(DeclarativeBase):
    pass


class DatasetVersion(Base):
    """An immutable snapshot of a labelled table: its rows, roles and target."""

    __tablename__ = "dataset_versions"
    __table_args__ = (UniqueConstraint("name", "version"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(64), index=True)
    version: Mapped[int] = mapped_column(Integer)
    content_hash: Mapped[str] = mapped_column(String(64), index=True)
    target: Mapped[str] = mapped_column(Text)
    # [{"name", "role", "reason", "dtype", "position", "format"?}], in file order; "position" maps to
    # the rows table; "format" (numbers written with separators, dates) says how the stored values
    # were converted from the file's.
    columns: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    missing_markers: Mapped[list[str]] = mapped_column(JSON, default=list)
    row_count: Mapped[int] = mapped_column(Integer)
    column_count: Mapped[int] = mapped_column(Integer)
    source_file: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    @property
    def rows_table(self) -> str:
        return f"dataset_rows_{self.id}"

    @property
    def roles(self) -> dict[str, str]:
        return {c["name"]: c["role"] for c in self.columns}

    @property
    def label(self) -> str:
        return f"{self.name} v{self.version}"

    @property
    def unlabelled_rows(self) -> int | None:
        """Rows without a label (kept, left out of training), as counted at ingest; None if not counted."""
        target = next((c for c in self.columns if c["name"] == self.target), {})
        return target.get("unlabelled")


class Batch(Base):
    """One scored file: its size, outcome and the model version that scored it.

    ``status`` is what the worker last wrote: running | complete | incomplete. A running batch
    whose process is gone is reported as incomplete by :mod:`core.scoring.batch` when it is read.
    Chunks are stored one transaction each (see :class:`BatchChunk`); scoring the same file
    (``input_hash``) again while its batch is incomplete resumes it under the same id.
    """

    __tablename__ = "batches"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    dataset: Mapped[str] = mapped_column(String(64), index=True)
    model_version: Mapped[int] = mapped_column(Integer)
    source_file: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(String(16), default="running")  # running | complete | incomplete
    rows: Mapped[int] = mapped_column(Integer, default=0)
    scored: Mapped[int] = mapped_column(Integer, default=0)
    rejected: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    input_hash: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)  # sha256 of the file
    source: Mapped[str] = mapped_column(String(8), default="batch")  # batch | api
    chunk_size: Mapped[int] = mapped_column(Integer, default=0)
    chunks_done: Mapped[int] = mapped_column(Integer, default=0)
    class_mix: Mapped[dict[str, int]] = mapped_column(JSON, default=dict)  # predicted class -> rows
    # rows per confidence bin: 20 equal bins from 0 to 1
    confidence_bins: Mapped[list[int]] = mapped_column(JSON, default=list)
    extra_columns: Mapped[list[str]] = mapped_column(JSON, default=list)  # kept in the output, not used
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    pid: Mapped[int | None] = mapped_column(Integer, nullable=True)
    host: Mapped[str | None] = mapped_column(String(255), nullable=True)
    attempt: Mapped[int] = mapped_column(Integer, default=0)  # bumped each time a worker (re)starts it
    heartbeat_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class BatchChunk(Base):
    """One stored chunk of a batch: written in the same transaction as its ledger rows.

    Its scored rows have the consecutive prediction ids ``first_id`` to ``first_id + scored - 1``,
    in file order, which lets an interrupted batch be resumed without scoring a row twice.
    """

    __tablename__ = "batch_chunks"

    batch_id: Mapped[str] = mapped_column(ForeignKey("batches.id"), primary_key=True)
    number: Mapped[int] = mapped_column(Integer, primary_key=True)  # 0, 1, ... in file order
    first_id: Mapped[int] = mapped_column(Integer)
    rows: Mapped[int] = mapped_column(Integer)
    scored: Mapped[int] = mapped_column(Integer)
    rejected: Mapped[int] = mapped_column(Integer)
    class_mix: Mapped[dict[str, int]] = mapped_column(JSON, default=dict)
    confidence_bins: Mapped[list[int]] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Prediction(Base):
    """The prediction ledger: one row per scored input, with the model version that scored it.

    ``inputs`` and ``probabilities`` hold JSON text written in bulk through SQLAlchemy Core.
    """

    __tablename__ = "predictions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    dataset: Mapped[str] = mapped_column(String(64), index=True)
    model_name: Mapped[str] = mapped_column(String(64))
    model_version: Mapped[int] = mapped_column(Integer)
    inputs: Mapped[str] = mapped_column(Text)
    predicted_class: Mapped[str] = mapped_column(Text)
    probabilities: Mapped[str] = mapped_column(Text)
    confidence: Mapped[float] = mapped_column(Float)
    flags: Mapped[str] = mapped_column(Text, default="")
    source: Mapped[str] = mapped_column(String(8))  # form | batch | api
    batch_id: Mapped[str | None] = mapped_column(ForeignKey("batches.id"), nullable=True, index=True)


class Counter(Base):
    """Named counters; prediction ids are reserved here in blocks, atomically, on any engine."""

    __tablename__ = "counters"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    value: Mapped[int] = mapped_column(Integer, default=0)


JOB_ACTIVE = ("queued", "running")
_ACTIVE_SQL = text("status IN ('queued', 'running')")


class Job(Base):
    """A background job (training, later retraining) with its live progress and its outcome.

    ``status`` is what the worker last wrote: queued | running | done | failed | cancelled |
    interrupted. A running job whose process is gone is reported as interrupted by
    :mod:`core.jobs.queue` when it is read. At most one queued or running job per dataset (the
    partial unique index backs the check in ``core.jobs.queue.submit_training``).
    """

    __tablename__ = "jobs"
    __table_args__ = (
        Index(
            "ix_jobs_one_active_per_dataset",
            "dataset",
            unique=True,
            sqlite_where=_ACTIVE_SQL,
            postgresql_where=_ACTIVE_SQL,
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(16), default="train")  # train | retrain
    dataset: Mapped[str] = mapped_column(String(64), index=True)
    dataset_version: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16), default="queued")
    # {"trials", "timeout", "seed", "budget"}
    parameters: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # {"stage", "trial", "trials", "best", "values": [score of each finished trial]}
    progress: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    result: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)  # TrainingResult.as_dict()
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    cancel_requested: Mapped[bool] = mapped_column(Boolean, default=False)
    pid: Mapped[int | None] = mapped_column(Integer, nullable=True)
    host: Mapped[str | None] = mapped_column(String(255), nullable=True)
    attempt: Mapped[int] = mapped_column(Integer, default=0)  # bumped each time a worker claims the job
    study_name: Mapped[str | None] = mapped_column(String(160), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    heartbeat_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class AliasEvent(Base):
    """One change of a registered model's alias (who moved ``champion`` from which version to which, and why).

    ``action`` is ``initial`` (the first champion, set by training), ``promote`` or ``rollback``;
    ``details`` holds optional structured context, e.g. the figures behind a retraining decision.
    A retrained challenger that was not promoted is recorded too, on the ``challenger`` alias with
    action ``not promoted`` (from the champion that stays, to the challenger): it never moves
    ``champion``, so rollbacks ignore it.
    """

    __tablename__ = "alias_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    model_name: Mapped[str] = mapped_column(String(64), index=True)
    alias: Mapped[str] = mapped_column(String(32))
    action: Mapped[str] = mapped_column(String(16))  # initial | promote | rollback
    from_version: Mapped[int | None] = mapped_column(Integer, nullable=True)
    to_version: Mapped[int | None] = mapped_column(Integer, nullable=True)
    who: Mapped[str] = mapped_column(String(128))
    reason: Mapped[str] = mapped_column(Text, default="")
    details: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)


class Feedback(Base):
    """The true class of a past prediction, as an analyst gave it (one per prediction; the latest wins)."""

    __tablename__ = "feedback"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    prediction_id: Mapped[int] = mapped_column(ForeignKey("predictions.id"), unique=True)
    label: Mapped[str] = mapped_column(Text)
    who: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)


class FeedbackHistory(Base):
    """Every label given to a prediction, in order: who changed it, when, from what to what."""

    __tablename__ = "feedback_history"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    prediction_id: Mapped[int] = mapped_column(ForeignKey("predictions.id"), index=True)
    old_label: Mapped[str | None] = mapped_column(Text, nullable=True)  # None: the first label
    new_label: Mapped[str] = mapped_column(Text)
    who: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class RetrainPolicy(Base):
    """When to retrain a dataset's model: the label threshold and whether to start by itself.

    A dataset without a row uses the defaults of :mod:`core.config`. ``last_auto_labels`` and
    ``last_auto_champion`` record the last automatic start (the labels gathered since the
    champion then, and that champion), so one crossing of the threshold starts one retrain.
    """

    __tablename__ = "retrain_policies"

    dataset: Mapped[str] = mapped_column(String(64), primary_key=True)
    threshold: Mapped[int] = mapped_column(Integer)
    auto: Mapped[bool] = mapped_column(Boolean, default=False)
    last_auto_labels: Mapped[int | None] = mapped_column(Integer, nullable=True)
    last_auto_champion: Mapped[int | None] = mapped_column(Integer, nullable=True)
    last_auto_job: Mapped[int | None] = mapped_column(Integer, nullable=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class DriftWindow(Base):
    """Drift of one window of ledger inputs against the training data of the model version that scored them.

    ``kind`` is ``day`` (``key`` the UTC date of the predictions), ``batch`` (``key`` the batch id)
    or ``count`` (``key`` ``"N:k"``: the k-th run of N predictions of that model version, by id).
    A window is ``closed`` once no prediction can join it (the day is over, the batch complete, N
    reached); a closed window is never computed again unless its drift options changed
    (``options_key``). ``status`` is ``measured`` or ``too_small`` (fewer rows than the minimum:
    no drift figures then). ``columns`` holds per feature ``drifted``, ``score``, ``method``,
    ``method_label``, ``threshold`` and ``role``. ``class_mix``, ``confidence_bins``,
    ``mean_confidence`` and ``estimated_accuracy`` describe the window's predictions (kept for
    windows too small for drift as well).
    """

    __tablename__ = "drift_windows"
    __table_args__ = (UniqueConstraint("dataset", "model_version", "kind", "key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    dataset: Mapped[str] = mapped_column(String(64), index=True)
    model_version: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(8))  # day | batch | count
    key: Mapped[str] = mapped_column(String(64))
    start: Mapped[datetime] = mapped_column(UTCDateTime)  # first prediction's time
    end: Mapped[datetime] = mapped_column(UTCDateTime)  # last prediction's time
    first_id: Mapped[int] = mapped_column(Integer)
    last_id: Mapped[int] = mapped_column(Integer)
    rows: Mapped[int] = mapped_column(Integer)
    flagged: Mapped[int] = mapped_column(Integer, default=0)  # rows scored with a flag (unseen category, out of range)
    rejected: Mapped[int] = mapped_column(Integer, default=0)  # rows of the window's batches refused by the contract
    closed: Mapped[bool] = mapped_column(Boolean, default=False)
    status: Mapped[str] = mapped_column(String(16), default="measured")  # measured | too_small
    drift_share: Mapped[float | None] = mapped_column(Float, nullable=True)
    dataset_drift: Mapped[bool | None] = mapped_column(Boolean, nullable=True)
    columns: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    options_key: Mapped[str] = mapped_column(String(16), default="")
    mean_confidence: Mapped[float | None] = mapped_column(Float, nullable=True)
    estimated_accuracy: Mapped[float | None] = mapped_column(Float, nullable=True)
    class_mix: Mapped[dict[str, int]] = mapped_column(JSON, default=dict)  # predicted class -> rows
    confidence_bins: Mapped[list[int]] = mapped_column(JSON, default=list)  # 20 equal bins from 0 to 1
    computed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # rows drift was measured on when the window had more than SIFT_DRIFT_MAX_ROWS (a seeded sample); None: all
    sampled_rows: Mapped[int | None] = mapped_column(Integer, nullable=True)


class DriftOptions(Base):
    """A dataset's drift settings per feature: the method and threshold the analyst chose (else Evidently's)."""

    __tablename__ = "drift_options"

    dataset: Mapped[str] = mapped_column(String(64), primary_key=True)
    columns: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # {column: {"method"?, "threshold"?}}
    who: Mapped[str] = mapped_column(String(128), default="app")
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ModelBaseline(Base):
    """What a model version looked like on data it was not trained on, for monitoring its predictions.

    ``calibration`` maps the largest probability of a prediction to the chance it is right
    (isotonic regression fitted on the holdout: ``{"x": [...], "y": [...]}``, read by
    interpolation); ``check`` holds the honest test of it (fitted on one half of the holdout,
    estimated on the other). ``class_mix`` is the share of each class among the training labels
    and ``confidence_bins`` the holdout's largest probabilities in 20 equal bins from 0 to 1.
    """

    __tablename__ = "model_baselines"
    __table_args__ = (UniqueConstraint("dataset", "model_version"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    dataset: Mapped[str] = mapped_column(String(64), index=True)
    model_version: Mapped[int] = mapped_column(Integer)
    holdout_rows: Mapped[int] = mapped_column(Integer)
    holdout_accuracy: Mapped[float] = mapped_column(Float)
    calibration: Mapped[dict[str, Any]] = mapped_column(JSON)
    check: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    class_mix: Mapped[dict[str, float]] = mapped_column(JSON, default=dict)
    confidence_bins: Mapped[list[int]] = mapped_column(JSON, default=list)
    key_features: Mapped[list[str]] = mapped_column(JSON, default=list)  # by permutation importance, largest first
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class AlertEvent(Base):
    """A monitoring threshold crossed in one window: at most one per dataset, kind and window.

    ``kind`` is ``drift_share``, ``feature_drift``, ``estimated_accuracy``, ``realised_accuracy``,
    ``flagged_share`` or ``rejected_share``; ``window`` names the window (``"day:2025-01-31:v1"``).
    ``status`` is ``open`` until someone acknowledges it.
    """

    __tablename__ = "alert_events"
    __table_args__ = (UniqueConstraint("dataset", "kind", "window"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    dataset: Mapped[str] = mapped_column(String(64), index=True)
    kind: Mapped[str] = mapped_column(String(32))
    window: Mapped[str] = mapped_column(String(128))
    window_id: Mapped[int | None] = mapped_column(ForeignKey("drift_windows.id"), nullable=True)
    model_version: Mapped[int | None] = mapped_column(Integer, nullable=True)
    message: Mapped[str] = mapped_column(Text)
    value: Mapped[float] = mapped_column(Float)
    threshold: Mapped[float] = mapped_column(Float)
    status: Mapped[str] = mapped_column(String(16), default="open", index=True)  # open | acknowledged
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    acknowledged_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    acknowledged_by: Mapped[str | None] = mapped_column(String(128), nullable=True)


class Rejection(Base):
    """Input rows the scoring API refused (a batch file keeps its count on :class:`Batch`), so the
    windows' rejected share counts every source. ``after_id`` is the largest prediction id at the
    time (the request's last scored row, else the ledger's counter): it places them in count windows."""

    __tablename__ = "rejections"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    dataset: Mapped[str] = mapped_column(String(64), index=True)
    model_version: Mapped[int] = mapped_column(Integer)
    source: Mapped[str] = mapped_column(String(8), default="api")
    rows: Mapped[int] = mapped_column(Integer)
    after_id: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)


class ReferenceProfile(Base):
    """What a model version's training data looks like to each drift test, computed once per version:
    per feature its kind, sorted values (numbers) or category counts (a compressed ``.npz``
    written and read by :mod:`core.monitoring.profile`, layout ``layout``)."""

    __tablename__ = "reference_profiles"
    __table_args__ = (UniqueConstraint("dataset", "model_version"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    dataset: Mapped[str] = mapped_column(String(64), index=True)
    model_version: Mapped[int] = mapped_column(Integer)
    rows: Mapped[int] = mapped_column(Integer)
    layout: Mapped[int] = mapped_column(Integer, default=1)
    profile: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class MonitorState(Base):
    """Per dataset: which process is measuring its windows now (a lease, so two runs at once do the
    work once), whether more was asked for meanwhile, and how the last run went."""

    __tablename__ = "monitor_state"

    dataset: Mapped[str] = mapped_column(String(64), primary_key=True)
    holder: Mapped[str | None] = mapped_column(String(160), nullable=True)  # "host:pid" measuring now
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    requested_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)  # asked while leased
    last_started_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    last_finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    last_trigger: Mapped[str] = mapped_column(String(16), default="")  # scoring | schedule | command | page
    last_measured: Mapped[int] = mapped_column(Integer, default=0)
    last_alerts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    schedule_every: Mapped[float | None] = mapped_column(Float, nullable=True)  # seconds, of the last scheduler
    schedule_seen_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class AlertDestination(Base):
    """Where alerts of one dataset (``scope``), or of every dataset (``scope`` ``*``), are sent.

    ``url`` is a secret: pages, logs and commands show it masked. ``style`` is the body's format
    (``json``, ``slack`` or ``teams``); ``digest`` an optional ``daily`` or ``weekly`` summary.
    ``origin`` is ``setting`` for the default from SIFT_ALERT_WEBHOOK or the secrets file."""

    __tablename__ = "alert_destinations"
    __table_args__ = (UniqueConstraint("scope", "fingerprint"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    scope: Mapped[str] = mapped_column(String(64), index=True)
    url: Mapped[str] = mapped_column(Text)
    style: Mapped[str] = mapped_column(String(8), default="json")
    fingerprint: Mapped[str] = mapped_column(String(64))  # sha256 of style and url
    digest: Mapped[str] = mapped_column(String(8), default="")  # "" | daily | weekly
    origin: Mapped[str] = mapped_column(String(16), default="cli")  # cli | page | setting
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    created_by: Mapped[str] = mapped_column(String(128), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_digest_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class AlertDelivery(Base):
    """One message for one destination (an alert, a digest or a test), sent once: ``key`` is unique
    per destination (``alert:<id>``, ``digest:<period>``, ``test:<token>``). ``status`` is
    ``pending`` until sent, ``sending`` while a process holds it (``claimed_at``), ``sent``, or
    ``failed`` once it gave up; every try is a :class:`DeliveryAttempt`."""

    __tablename__ = "alert_deliveries"
    __table_args__ = (UniqueConstraint("destination_id", "key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    destination_id: Mapped[int] = mapped_column(ForeignKey("alert_destinations.id"), index=True)
    key: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(8))  # alert | digest | test
    dataset: Mapped[str] = mapped_column(String(64), index=True)
    alert_id: Mapped[int | None] = mapped_column(ForeignKey("alert_events.id"), nullable=True)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # the message, never the URL
    status: Mapped[str] = mapped_column(String(8), default="pending", index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class DeliveryAttempt(Base):
    """One try at sending a delivery: when, the outcome (``sent`` or ``failed``), the HTTP status and error."""

    __tablename__ = "delivery_attempts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    delivery_id: Mapped[int] = mapped_column(ForeignKey("alert_deliveries.id"), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    status: Mapped[str] = mapped_column(String(8))  # sent | failed
    http_status: Mapped[int | None] = mapped_column(Integer, nullable=True)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    seconds: Mapped[float] = mapped_column(Float, default=0.0)
