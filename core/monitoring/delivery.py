"""Alert delivery: each alert sent once to each destination, retried with backoff, every try logged.

:func:`queue_alerts` makes one :class:`~core.db.models.AlertDelivery` per destination and open
alert raised since the destination was added (key ``alert:<id>``, unique per destination, so two
runs at once cannot queue one twice); :func:`queue_digests` one per destination and period.
:func:`deliver` claims due deliveries one at a time with a conditional UPDATE (pending to
sending: the process whose UPDATE changed the row sends it; a claim older than
:func:`claim_lifetime` is taken over, its process presumed dead) and POSTs them. A failed try
is retried in the run up to ``alert_attempts`` times, waiting ``alert_retry_seconds`` doubled
at each; then the delivery waits for a later run (the wait doubling up to an hour) and is given
up only after :data:`GIVE_UP_AFTER`. Every try is a :class:`~core.db.models.DeliveryAttempt`:
the delivery log. A process that dies between a receiver's answer and its record sends that one
again after the claim expires; receivers can tell by the message's ``id`` and the delivery ``key``.

Webhook URLs are secrets: no dict, log line or error here holds one, only its masked form.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from core.config import Settings
from core.datasets.versions import get_version
from core.db.models import AlertDelivery, AlertDestination, AlertEvent, DeliveryAttempt, utcnow
from core.errors import AlertDestinationError
from core.monitoring import destinations, digest, messages
from core.monitoring.destinations import EVERY, mask_url, scrub

GIVE_UP_AFTER = timedelta(days=3)  # a delivery still failing this long after it was queued is marked failed
LONGEST_WAIT = timedelta(hours=1)  # the longest wait between two runs' tries
CLAIM_BATCH = 20
MAX_ERROR = 500
log = logging.getLogger(__name__)


@dataclass
class DeliveryRun:
    """What one run of :func:`deliver` (or :func:`send_test`) did."""

    queued: int = 0  # deliveries made by this run (alerts, digests, tests)
    sent: int = 0
    failed_attempts: int = 0  # tries that failed (each one is in the log)
    gave_up: int = 0  # deliveries marked failed by this run
    pending: int = 0  # deliveries left for a later run
    warnings: list[str] = field(default_factory=list)
    results: list[dict[str, Any]] = field(default_factory=list)  # per delivery tried: where, kind, status

    def as_dict(self) -> dict[str, Any]:
        return {
            "queued": self.queued,
            "sent": self.sent,
            "failed_attempts": self.failed_attempts,
            "gave_up": self.gave_up,
            "pending": self.pending,
            "warnings": list(self.warnings),
            "deliveries": list(self.results),
        }


@dataclass(frozen=True)
class _Claimed:
    id: int
    destination_id: int
    url: str
    style: str
    kind: str
    payload: dict[str, Any]
    attempts: int
    created_at: datetime
    claimed_at: datetime


def claim_lifetime(settings: Settings) -> timedelta:
    """How long a claim holds: five minutes, or more if one run's tries at a delivery can take longer."""
    tries = settings.alert_attempts
    worst = tries * settings.alert_timeout_seconds + settings.alert_retry_seconds * (2**tries)
    return max(timedelta(minutes=5), timedelta(seconds=2 * worst))


# --- queueing ---------------------------------------------------------------------------------------


def _queue_once(session: Session, **values: Any) -> bool:
    """Add a delivery unless its destination already has its key (another run may add it at the same moment)."""
    try:
        with session.begin_nested():
            session.add(AlertDelivery(status="pending", attempts=0, created_at=utcnow(), **values))
        return True
    except IntegrityError:
        return False


def queue_alerts(
    *, session: Session, settings: Settings, dataset: str | None = None, now: datetime | None = None
) -> int:
    """Queue each open alert raised since a destination was added for that destination, once; returns how
    many were queued. ``dataset`` None: every dataset's. The caller owns the transaction."""
    moment = now or utcnow()
    queued = 0
    for dest in destinations.enabled_destinations(session=session, dataset=dataset):
        done = select(AlertDelivery.alert_id).where(
            AlertDelivery.destination_id == dest.id, AlertDelivery.alert_id.is_not(None)
        )
        stmt = select(AlertEvent).where(
            AlertEvent.status == "open", AlertEvent.created_at >= dest.created_at, AlertEvent.id.not_in(done)
        )
        scope = dest.scope if dest.scope != EVERY else dataset
        if scope is not None:
            stmt = stmt.where(AlertEvent.dataset == scope)
        for alert in session.scalars(stmt.order_by(AlertEvent.id)):
            queued += _queue_once(
                session,
                destination_id=dest.id,
                key=f"alert:{alert.id}",
                kind="alert",
                dataset=alert.dataset,
                alert_id=alert.id,
                payload=messages.alert_message(alert, public_url=settings.public_url),
                next_attempt_at=moment,
            )
    return queued


def queue_digests(
    *, session: Session, settings: Settings, now: datetime | None = None, dataset: str | None = None
) -> int:
    """Queue the digest of the last whole period for each destination that asked for one, at most one per
    destination and period (key ``digest:<daily|weekly>:<period start>``); a destination added after
    the period ended waits for the next. Returns how many were queued. The caller owns the transaction."""
    moment = now or utcnow()
    queued = 0
    for dest in destinations.enabled_destinations(session=session, dataset=dataset):
        if dest.digest not in digest.PERIODS:
            continue
        start, end = digest.last_period(dest.digest, moment)
        key = f"digest:{dest.digest}:{start:%Y-%m-%d}"
        have = select(AlertDelivery.id).where(AlertDelivery.destination_id == dest.id, AlertDelivery.key == key)
        if dest.created_at >= end or session.scalar(have) is not None:
            continue
        message = digest.digest_message(
            session=session, settings=settings, scope=dest.scope, digest=dest.digest, start=start, end=end
        )
        if _queue_once(
            session,
            destination_id=dest.id,
            key=key,
            kind="digest",
            dataset=dest.scope,
            payload=message,
            next_attempt_at=moment,
        ):
            queued += 1
            dest.last_digest_at = moment
    return queued


# --- claiming and sending -----------------------------------------------------------------------------


def _due(now: datetime, stale: datetime) -> Any:
    return or_(
        and_(AlertDelivery.status == "pending", AlertDelivery.next_attempt_at <= now),
        and_(AlertDelivery.status == "sending", AlertDelivery.claimed_at < stale),
    )


def _claim(
    sessions: sessionmaker[Session],
    settings: Settings,
    now: datetime,
    *,
    dataset: str | None,
    skip: set[int],
    only: list[int] | None,
) -> _Claimed | None:
    """Claim one due delivery: the conditional UPDATE that changes it wins, whoever else tries."""
    due = _due(now, now - claim_lifetime(settings))
    stmt = (
        select(AlertDelivery.id)
        .join(AlertDestination, AlertDestination.id == AlertDelivery.destination_id)
        .where(AlertDestination.enabled.is_(True), due)
        .order_by(AlertDelivery.next_attempt_at, AlertDelivery.id)
        .limit(CLAIM_BATCH)
    )
    if dataset is not None:
        stmt = stmt.where(AlertDelivery.dataset.in_([dataset, EVERY]))
    if skip:
        stmt = stmt.where(AlertDelivery.destination_id.not_in(skip))
    if only is not None:
        stmt = stmt.where(AlertDelivery.id.in_(only))
    with sessions.begin() as session:
        for delivery_id in session.scalars(stmt).all():
            won = session.execute(
                update(AlertDelivery)
                .where(AlertDelivery.id == delivery_id, due)
                .values(status="sending", claimed_at=now)
                .execution_options(synchronize_session=False)
            )
            if won.rowcount == 1:
                row = session.get(AlertDelivery, delivery_id)
                dest = session.get(AlertDestination, row.destination_id)
                return _Claimed(
                    row.id,
                    dest.id,
                    dest.url,
                    dest.style,
                    row.kind,
                    dict(row.payload),
                    row.attempts,
                    row.created_at,
                    now,
                )
    return None


def _post(client: Any, claimed: _Claimed) -> tuple[int | None, str | None]:
    """POST the delivery's body; (HTTP status, None) when the destination took it, else (status or None, error)."""
    import httpx  # lazy: importing httpx takes 0.1 s, needed only when something is sent

    try:
        response = client.post(claimed.url, json=messages.body(claimed.style, claimed.payload))
    except (httpx.HTTPError, httpx.InvalidURL) as exc:
        detail = str(exc) or "no detail"
        return None, scrub(f"{type(exc).__name__}: {detail}", claimed.url)[:MAX_ERROR]
    if 200 <= response.status_code < 300:
        return response.status_code, None
    answer = " ".join(response.text[:300].split())
    text = f"HTTP {response.status_code} {response.reason_phrase}" + (f": {answer}" if answer else "")
    return response.status_code, scrub(text, claimed.url)[:MAX_ERROR]


def _record_try(
    sessions: sessionmaker[Session], claimed: _Claimed, at: datetime, status: int | None, error: str | None, took: float
) -> None:
    with sessions.begin() as session:
        session.add(
            DeliveryAttempt(
                delivery_id=claimed.id,
                at=at,
                status="sent" if error is None else "failed",
                http_status=status,
                error=error,
                seconds=took,
            )
        )
        values: dict[str, Any] = {"attempts": AlertDelivery.attempts + 1, "last_error": error}
        if error is None:
            values.update(status="sent", sent_at=at, claimed_at=None)
        session.execute(
            update(AlertDelivery)
            .where(AlertDelivery.id == claimed.id)
            .values(**values)
            .execution_options(synchronize_session=False)
        )


def _after_failures(
    sessions: sessionmaker[Session], settings: Settings, claimed: _Claimed, tries: int, now: datetime
) -> str:
    """After the run's tries failed: wait for a later run, or give up (a test at once; others after long)."""
    total = claimed.attempts + tries
    give_up = claimed.kind == "test" or now - claimed.created_at >= GIVE_UP_AFTER
    wait = min(LONGEST_WAIT, timedelta(seconds=settings.alert_retry_seconds * 2**total))
    values = {"status": "failed"} if give_up else {"status": "pending", "next_attempt_at": now + wait}
    with sessions.begin() as session:
        session.execute(
            update(AlertDelivery)
            .where(
                AlertDelivery.id == claimed.id,
                AlertDelivery.status == "sending",
                AlertDelivery.claimed_at == claimed.claimed_at,
            )
            .values(claimed_at=None, **values)
            .execution_options(synchronize_session=False)
        )
    return values["status"]


def _send(
    sessions: sessionmaker[Session], settings: Settings, client: Any, claimed: _Claimed, clock: Callable[[], datetime]
) -> tuple[str, int, dict[str, Any]]:
    """Try one claimed delivery up to ``alert_attempts`` times; (its status, failed tries, the last try)."""
    where = mask_url(claimed.url)
    status: int | None = None
    error: str | None = None
    for k in range(settings.alert_attempts):
        if k:
            time.sleep(settings.alert_retry_seconds * 2 ** (k - 1))
        started = time.monotonic()
        status, error = _post(client, claimed)
        _record_try(sessions, claimed, clock(), status, error, time.monotonic() - started)
        if error is None:
            log.info("Sent %s %s to %s (HTTP %s).", claimed.kind, claimed.payload.get("id") or "", where, status)
            return "sent", k, {"http_status": status, "error": None}
        log.warning("Delivery %s to %s failed (try %d): %s", claimed.id, where, k + 1, error)
    outcome = _after_failures(sessions, settings, claimed, settings.alert_attempts, clock())
    return outcome, settings.alert_attempts, {"http_status": status, "error": error}


class _MaskedRequestLog(logging.Filter):
    """httpx logs each request with its URL at INFO: the URL is shown masked instead."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(
                mask_url(str(a)) if str(a).startswith(("http://", "https://")) else a for a in record.args
            )
        return True


def _client(settings: Settings) -> Any:
    import httpx  # lazy: importing httpx takes 0.1 s, needed only when something is sent

    logger = logging.getLogger("httpx")
    if not any(isinstance(f, _MaskedRequestLog) for f in logger.filters):
        logger.addFilter(_MaskedRequestLog())
    return httpx.Client(timeout=settings.alert_timeout_seconds, follow_redirects=False)


def _send_due(
    sessions: sessionmaker[Session],
    settings: Settings,
    run: DeliveryRun,
    clock: Callable[[], datetime],
    *,
    dataset: str | None = None,
    only: list[int] | None = None,
) -> None:
    """Claim and send due deliveries until none is left; a destination whose delivery failed every try
    in this run is not tried again in it (its other deliveries wait, untouched)."""
    down: set[int] = set()
    client = None  # made at the first claim: most runs have nothing to send
    try:
        while claimed := _claim(sessions, settings, clock(), dataset=dataset, skip=down, only=only):
            client = client or _client(settings)
            outcome, failed, last = _send(sessions, settings, client, claimed, clock)
            run.failed_attempts += failed
            run.sent += outcome == "sent"
            run.gave_up += outcome == "failed"
            if outcome != "sent":
                down.add(claimed.destination_id)
            run.results.append(
                {
                    "delivery": claimed.id,
                    "kind": claimed.kind,
                    "dataset": claimed.payload.get("dataset"),
                    "alert_id": claimed.payload.get("id") if claimed.kind == "alert" else None,
                    "where": mask_url(claimed.url),
                    "status": outcome,
                    **last,
                }
            )
    finally:
        if client is not None:
            client.close()


def _clock(now: datetime | None) -> Callable[[], datetime]:
    """The run's time: ``now`` (a test's moment) moving on with the real clock."""
    if now is None:
        return utcnow
    started = utcnow()
    return lambda: now + (utcnow() - started)


def _sync_default(session: Session, settings: Settings, run: DeliveryRun) -> None:
    try:
        destinations.sync_default(session=session, settings=settings)
    except AlertDestinationError as exc:  # the other destinations are still served
        run.warnings.append(str(exc))
        log.warning("%s", exc)


def sync_default_destination(*, sessions: sessionmaker[Session], settings: Settings) -> list[str]:
    """Bring the default destination (``SIFT_ALERT_WEBHOOK``) into the table now, so alerts raised from
    now on are sent to it: call at the start of a monitor run. Returns warnings (an unusable value)."""
    run = DeliveryRun()
    with sessions.begin() as session:
        _sync_default(session, settings, run)
    return run.warnings


def deliver(
    *,
    sessions: sessionmaker[Session],
    settings: Settings,
    dataset: str | None = None,
    now: datetime | None = None,
    digests: bool = True,
) -> DeliveryRun:
    """Queue the new alerts (and the digests due) and send every delivery that is due; ``dataset``
    None: every dataset's. Safe to run in several processes at once."""
    run = DeliveryRun()
    clock = _clock(now)
    with sessions.begin() as session:
        _sync_default(session, settings, run)
        run.queued += queue_alerts(session=session, settings=settings, dataset=dataset, now=clock())
        if digests:
            run.queued += queue_digests(session=session, settings=settings, now=clock(), dataset=dataset)
    _send_due(sessions, settings, run, clock, dataset=dataset)
    with sessions() as session:
        run.pending = backlog(session=session, dataset=dataset)["waiting"]
    return run


def send_test(*, sessions: sessionmaker[Session], settings: Settings, dataset: str, who: str) -> DeliveryRun:
    """Send a test message now to every destination of ``dataset`` (its own and every dataset's), logged
    like alerts (kind ``test``); one that fails every try is marked failed at once, not retried later."""
    run = DeliveryRun()
    with sessions.begin() as session:
        get_version(session=session, name=dataset)  # an unknown dataset is refused, naming the known ones
        _sync_default(session, settings, run)
        targets = destinations.enabled_destinations(session=session, dataset=dataset)
        if not targets:
            raise AlertDestinationError(
                f"No alert destination for {dataset}: add one with `python -m core alert-destinations --dataset "
                f"{dataset} --add URL` (or on the Monitor page), or set SIFT_ALERT_WEBHOOK for every dataset."
            )
        message = messages.message_for_test(
            dataset=dataset, who=" ".join(str(who).split()) or "unknown", public_url=settings.public_url, at=utcnow()
        )
        token = uuid.uuid4().hex[:16]
        for dest in targets:
            run.queued += _queue_once(
                session,
                destination_id=dest.id,
                key=f"test:{token}",
                kind="test",
                dataset=dataset,
                payload=message,
                next_attempt_at=utcnow(),
            )
        session.flush()
        ids = list(session.scalars(select(AlertDelivery.id).where(AlertDelivery.key == f"test:{token}")))
    _send_due(sessions, settings, run, utcnow, only=ids)
    return run


# --- the log ------------------------------------------------------------------------------------------


def _moment(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def delivery_log(*, session: Session, dataset: str | None = None, limit: int = 200) -> list[dict[str, Any]]:
    """Every try at sending, newest first: when, where (masked), kind, alert, dataset, status, HTTP status,
    error, and the delivery's state (``pending`` with its next try, ``sent``, ``failed``). A dataset's log
    includes the digests for every dataset."""
    stmt = (
        select(DeliveryAttempt, AlertDelivery, AlertDestination)
        .join(AlertDelivery, AlertDelivery.id == DeliveryAttempt.delivery_id)
        .join(AlertDestination, AlertDestination.id == AlertDelivery.destination_id)
        .order_by(DeliveryAttempt.at.desc(), DeliveryAttempt.id.desc())
        .limit(int(limit))
    )
    if dataset is not None:
        stmt = stmt.where(AlertDelivery.dataset.in_([dataset, EVERY]))
    return [
        {
            "when": _moment(attempt.at),
            "where": mask_url(dest.url),
            "style": dest.style,
            "kind": delivery.kind,
            "alert_id": delivery.alert_id,
            "dataset": delivery.dataset,
            "status": attempt.status,
            "http_status": attempt.http_status,
            "error": attempt.error,
            "seconds": round(attempt.seconds, 3),
            "delivery": delivery.id,
            "delivery_status": delivery.status,
            "next_attempt_at": _moment(delivery.next_attempt_at) if delivery.status == "pending" else None,
        }
        for attempt, delivery, dest in session.execute(stmt).all()
    ]


def backlog(*, session: Session, dataset: str | None = None) -> dict[str, Any]:
    """Deliveries not sent yet (pending or being sent) and when the next one is due."""
    stmt = select(func.count(AlertDelivery.id), func.min(AlertDelivery.next_attempt_at)).where(
        AlertDelivery.status.in_(["pending", "sending"])
    )
    if dataset is not None:
        stmt = stmt.where(AlertDelivery.dataset.in_([dataset, EVERY]))
    waiting, next_at = session.execute(stmt).one()
    return {"waiting": int(waiting or 0), "next_attempt_at": _moment(next_at)}
