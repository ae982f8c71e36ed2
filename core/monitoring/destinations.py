"""Where alerts go: webhook destinations of one dataset or of every dataset, always shown masked.

A destination is written ``URL`` (a generic JSON body), ``slack:URL`` or ``teams:URL`` (those
incoming-webhook formats). Its scope is a dataset's name, or ``*`` for every dataset. The default
for every dataset comes from ``SIFT_ALERT_WEBHOOK`` or ``alert_webhook`` in the secrets file; it is
kept as a row of origin ``setting``, synced when alerts are delivered: a changed setting disables
the old row (its delivery log stays) and adds the new one.

A webhook URL is a secret (whoever holds it can post to the channel): it is stored, and only
:func:`mask_url`'s form (scheme, host, the last characters of the path) leaves this package, in
dicts, log lines and error messages alike.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from core.access import secret_alert_webhook
from core.config import Settings
from core.datasets.versions import get_version
from core.db.models import AlertDestination, utcnow
from core.errors import AlertDestinationError

EVERY = "*"  # the scope of a destination for every dataset
STYLES = ("json", "slack", "teams")
DIGESTS = ("off", "daily", "weekly")  # stored as "" for off
SETTING = "setting"  # origin of the default from the settings or the secrets file
MAX_WHO = 128
HOW_TO_WRITE = (
    "Write an http:// or https:// URL with a host (https://hooks.example.org/...), prefixed slack: or teams: for "
    "those incoming-webhook formats (a JSON body otherwise)."
)


@dataclass(frozen=True)
class Target:
    """A parsed destination: its body format and URL (a secret: its repr is masked)."""

    style: str
    url: str

    def __repr__(self) -> str:
        return f"Target(style={self.style!r}, where={mask_url(self.url)!r})"

    @property
    def fingerprint(self) -> str:
        return hashlib.sha256(f"{self.style} {self.url}".encode()).hexdigest()


def parse_destination(text: str, *, what: str = "The destination") -> Target:
    """``URL``, ``slack:URL`` or ``teams:URL`` read and checked; the message of a refusal never repeats it."""
    raw = str(text or "").strip()
    style = "json"
    head, sep, rest = raw.partition(":")
    if sep and head.lower() in STYLES and not rest.startswith("//"):
        style, raw = head.lower(), rest.strip()
    try:
        parts = urlsplit(raw)
        usable = parts.scheme.lower() in ("http", "https") and bool(parts.hostname)
        parts.port  # noqa: B018  (a port out of range raises here)
    except ValueError:
        usable = False
    if not usable or any(c.isspace() or ord(c) < 32 for c in raw):
        raise AlertDestinationError(
            f"{what} is not a usable webhook address (not repeated: it may hold a secret). " + HOW_TO_WRITE
        )
    return Target(style, raw)


def mask_url(url: str) -> str:
    """``https://hooks.slack.com/…Xy9Z``: scheme, host and port, and the last 4 characters of a path
    longer than 8; never the user, password, query or the rest of the path."""
    try:
        parts = urlsplit(str(url))
        host, port = parts.hostname or "?", parts.port
    except ValueError:
        return "(an unreadable URL)"
    host = f"[{host}]" if ":" in host else host
    path = parts.path.rstrip("/")
    tail = path[-4:] if len(path) > 8 else ""
    return f"{parts.scheme or '?'}://{host}{f':{port}' if port else ''}/…{tail}"


def scrub(text: str, url: str) -> str:
    """``text`` (an error from an HTTP library, a receiver's answer) with every piece of ``url`` that may be
    secret replaced by its masked form."""
    try:
        parts = urlsplit(url)
        pieces = [url, url.split("://", 1)[-1], parts.netloc, parts.path, parts.query, parts.username, parts.password]
        pieces += [p for p in parts.path.split("/") if len(p) > 8]
    except ValueError:
        pieces = [url]
    masked = mask_url(url)
    for piece in sorted({p for p in pieces if p and len(p) >= 4}, key=len, reverse=True):
        text = text.replace(piece, masked)
    return text


# --- the destinations of a dataset ----------------------------------------------------------------


def _digest_value(digest: str | None) -> str:
    value = (digest or "off").strip().lower()
    if value not in DIGESTS:
        raise AlertDestinationError(f"The digest must be one of {', '.join(DIGESTS)} (got {digest!r}).")
    return "" if value == "off" else value


def _clean_who(who: object) -> str:
    return (" ".join(str(who or "").split()) or "unknown")[:MAX_WHO]


def destination_as_dict(destination: AlertDestination) -> dict[str, Any]:
    """A destination for people and commands: ``where`` is the masked URL, never the URL."""

    def moment(value: Any) -> str | None:
        return value.isoformat() if value is not None else None

    return {
        "id": destination.id,
        "scope": destination.scope,
        "for": "every dataset" if destination.scope == EVERY else destination.scope,
        "where": mask_url(destination.url),
        "style": destination.style,
        "digest": destination.digest or "off",
        "origin": destination.origin,
        "enabled": destination.enabled,
        "created_by": destination.created_by,
        "created_at": moment(destination.created_at),
        "last_digest_at": moment(destination.last_digest_at),
    }


def _find(session: Session, scope: str, target: Target) -> AlertDestination | None:
    return session.scalars(
        select(AlertDestination).where(
            AlertDestination.scope == scope, AlertDestination.fingerprint == target.fingerprint
        )
    ).first()


def _store(session: Session, *, scope: str, target: Target, digest: str, origin: str, who: str) -> AlertDestination:
    """The enabled row for ``target`` in ``scope``: found (re-enabled if it was removed: from now on) or added."""
    found = _find(session, scope, target)
    if found is None:
        row = AlertDestination(
            scope=scope,
            url=target.url,
            style=target.style,
            fingerprint=target.fingerprint,
            digest=digest,
            origin=origin,
            enabled=True,
            created_by=who,
            created_at=utcnow(),
        )
        try:
            with session.begin_nested():  # another process may add the same destination just now
                session.add(row)
            return row
        except IntegrityError:
            found = _find(session, scope, target)
            if found is None:
                raise
    if not found.enabled:  # added again: alerts raised from now on, not those of the time it was removed
        found.enabled, found.created_at, found.origin, found.created_by = True, utcnow(), origin, who
    return found


def add_destination(
    *,
    session: Session,
    url: str,
    dataset: str | None = None,
    digest: str | None = None,
    who: str = "unknown",
    origin: str = "cli",
) -> AlertDestination:
    """Send the alerts of ``dataset`` (None: of every dataset) to ``url`` (``slack:``/``teams:`` prefixed
    for those formats), from now on. Adding it again changes only the digest, if given. The caller owns
    the transaction."""
    target = parse_destination(url)
    if dataset is not None:
        get_version(session=session, name=dataset)  # an unknown dataset is refused, naming the known ones
    row = _store(
        session,
        scope=dataset or EVERY,
        target=target,
        digest=_digest_value(digest),
        origin=origin,
        who=_clean_who(who),
    )
    if digest is not None:
        row.digest = _digest_value(digest)
    session.flush()
    return row


def get_destination(*, session: Session, destination_id: int) -> AlertDestination:
    found = session.get(AlertDestination, int(destination_id))
    if found is None or not found.enabled:
        raise AlertDestinationError(
            f"No alert destination {destination_id}. `python -m core alert-destinations [--dataset NAME]` lists them."
        )
    return found


def remove_destination(*, session: Session, destination_id: int) -> AlertDestination:
    """Stop sending to a destination: it is disabled, not deleted, so its delivery log stays. The default
    from the settings is refused: unset it where it is set. The caller owns the transaction."""
    found = get_destination(session=session, destination_id=destination_id)
    if found.origin == SETTING:
        raise AlertDestinationError(
            f"Destination {destination_id} is the default of every dataset, from {found.created_by}: unset it there."
        )
    found.enabled = False
    session.flush()
    return found


def set_digest(*, session: Session, destination_id: int, digest: str) -> AlertDestination:
    """A daily or weekly digest for a destination, or none (``off``). The caller owns the transaction."""
    found = get_destination(session=session, destination_id=destination_id)
    found.digest = _digest_value(digest)
    session.flush()
    return found


def enabled_destinations(*, session: Session, dataset: str | None = None) -> list[AlertDestination]:
    """The destinations that receive the alerts of ``dataset`` (its own and every dataset's); None: all."""
    stmt = select(AlertDestination).where(AlertDestination.enabled.is_(True)).order_by(AlertDestination.id)
    if dataset is not None:
        stmt = stmt.where(or_(AlertDestination.scope == dataset, AlertDestination.scope == EVERY))
    return list(session.scalars(stmt))


# --- the default for every dataset, from the settings -----------------------------------------------


def default_target(settings: Settings) -> tuple[Target, str] | None:
    """The default destination of every dataset and where it is set: ``SIFT_ALERT_WEBHOOK``, else
    ``alert_webhook`` in the secrets file; None when neither is. A value that is not usable is refused,
    naming where it is set."""
    if settings.alert_webhook:
        text, source = settings.alert_webhook, "SIFT_ALERT_WEBHOOK"
    elif found := secret_alert_webhook():
        text, source = found
    else:
        return None
    return parse_destination(text, what=f"The default alert destination ({source})"), source


def sync_default(*, session: Session, settings: Settings) -> AlertDestination | None:
    """Make the destination rows follow the settings' default: its row enabled (added if new), any
    other row of that origin disabled. The caller owns the transaction."""
    found = default_target(settings)
    current = None
    if found is not None:
        target, source = found
        current = _store(session, scope=EVERY, target=target, digest="", origin=SETTING, who=source)
    stale = select(AlertDestination).where(AlertDestination.origin == SETTING, AlertDestination.enabled.is_(True))
    for row in session.scalars(stale):
        if current is None or row.id != current.id:
            row.enabled = False
    session.flush()
    return current


def list_destinations(
    *, session: Session, dataset: str | None = None, settings: Settings | None = None
) -> list[dict[str, Any]]:
    """The destinations of ``dataset`` (its own, then every dataset's), or with None those of every
    dataset, masked. With ``settings``, a default not yet synced (or unusable) is listed too, with
    ``id`` None and a ``note``. Reads only."""
    stmt = select(AlertDestination).where(AlertDestination.enabled.is_(True))
    stmt = stmt.where(AlertDestination.scope.in_([dataset, EVERY]) if dataset else AlertDestination.scope == EVERY)
    rows = sorted(session.scalars(stmt), key=lambda d: (d.scope == EVERY, d.id))
    listed = [destination_as_dict(d) for d in rows]
    if settings is not None:
        try:
            found = default_target(settings)
        except AlertDestinationError as exc:
            listed.append({"id": None, "scope": EVERY, "for": "every dataset", "origin": SETTING, "note": str(exc)})
            return listed
        if found is not None and not any(d.scope == EVERY and d.fingerprint == found[0].fingerprint for d in rows):
            target, source = found
            listed.append(
                {
                    "id": None,
                    "scope": EVERY,
                    "for": "every dataset",
                    "where": mask_url(target.url),
                    "style": target.style,
                    "digest": "off",
                    "origin": SETTING,
                    "enabled": True,
                    "created_by": source,
                    "note": "the default from the settings: used from the next delivery run",
                }
            )
    return listed
