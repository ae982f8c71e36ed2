"""What an alert, a digest or a test says, and the body each destination's format posts.

A message is first a plain dict (the generic JSON body, stored with its delivery): ``sift``
true, ``type`` (alert, digest, test), ``id``, ``dataset``, ``kind``, ``model_version``,
``window``, ``message``, ``title``, ``text``, ``link`` and the figures. :func:`body` turns it
into what the destination reads: the dict itself, a Slack incoming-webhook body (``text`` and
``blocks``), or a Teams incoming-webhook MessageCard (title, text, facts, an OpenUri action).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from core.db.models import AlertEvent
from core.monitoring.alerts import KIND_LABELS
from core.monitoring.ledger import window_label

BELOW_KINDS = ("estimated_accuracy", "realised_accuracy")  # alerted on when the value falls below the threshold
COUNT_KINDS = ("feature_drift",)  # the value is a number of features; the others are shares
SLACK_TEXT_MAX = 2900  # Slack refuses a section's text over 3,000 characters


def monitor_link(public_url: str | None, window_id: int | None = None) -> str | None:
    """The Monitor page (opened on a window) at the app's public address; None when it is not set."""
    if not public_url:
        return None
    page = f"{public_url.rstrip('/')}/monitor"
    return f"{page}?window={int(window_id)}" if window_id is not None else page


def window_words(window: str | None) -> str | None:
    """An alert's window (``batch:3f2a…:v1``) the way the Monitor page names it (``batch 3f2a… · v1``)."""
    if not window:
        return window
    kind, _, rest = window.partition(":")
    key, sep, version = rest.rpartition(":v")
    try:
        return window_label(kind, key, int(version)) if sep else window
    except ValueError:
        return window


def figure(kind: str, value: float | None) -> str:
    if value is None:
        return "n/a"
    if kind in COUNT_KINDS:
        return f"{value:g}"
    return f"{value:.1%}"


def _moment(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def alert_message(alert: AlertEvent, *, public_url: str | None) -> dict[str, Any]:
    """The message of an alert: what crossed which threshold, where, with a link to its window."""
    label = KIND_LABELS.get(alert.kind, alert.kind)
    where = window_words(alert.window)
    side = "below" if alert.kind in BELOW_KINDS else "at or above"
    crossed = f"{label} {figure(alert.kind, alert.value)} is {side} its threshold {figure(alert.kind, alert.threshold)}"
    return {
        "sift": True,
        "type": "alert",
        "id": alert.id,
        "dataset": alert.dataset,
        "kind": alert.kind,
        "kind_label": label,
        "model_version": alert.model_version,
        "window": alert.window,
        "window_id": alert.window_id,
        "window_label": where,
        "message": alert.message,
        "value": alert.value,
        "threshold": alert.threshold,
        "created_at": _moment(alert.created_at),
        "link": monitor_link(public_url, alert.window_id),
        "title": f"Sift alert on {alert.dataset}: {label}",
        "text": f"{crossed} in window {where} of model v{alert.model_version}. {alert.message}",
    }


def message_for_test(*, dataset: str, who: str, public_url: str | None, at: datetime) -> dict[str, Any]:
    """A test message: the destination receives ``dataset``'s alerts."""
    return {
        "sift": True,
        "type": "test",
        "id": None,
        "dataset": dataset,
        "kind": "test",
        "model_version": None,
        "window": None,
        "message": f"A test alert sent by {who}: this destination receives the alerts of {dataset}.",
        "created_at": _moment(at),
        "link": monitor_link(public_url),
        "title": f"Sift test alert for {dataset}",
        "text": f"A test alert sent by {who}: this destination receives the alerts of {dataset}. Nothing is wrong.",
    }


def sections(message: dict[str, Any]) -> list[tuple[str | None, list[tuple[str, str]]]]:
    """The message's facts in groups (a title, name/value pairs), for the Slack and Teams bodies."""
    if message.get("type") == "alert":
        kind = message["kind"]
        return [
            (
                None,
                [
                    ("Dataset", message["dataset"]),
                    ("Model version", f"v{message['model_version']}"),
                    ("Window", str(message.get("window_label") or message.get("window"))),
                    ("Check", str(message.get("kind_label") or kind)),
                    ("Value", figure(kind, message.get("value"))),
                    ("Threshold", figure(kind, message.get("threshold"))),
                ],
            )
        ]
    if message.get("type") == "digest":
        return [(d["dataset"], [(n, str(v)) for n, v in d.get("facts", [])]) for d in message.get("datasets", [])]
    return [(None, [("Dataset", str(message.get("dataset")))])]


def _slack_escape(text: str) -> str:
    return str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def slack_body(message: dict[str, Any]) -> dict[str, Any]:
    """A Slack incoming-webhook body: ``text`` (the notification) and ``blocks``."""
    title, text, link = message["title"], message["text"], message.get("link")
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": title[:150]}},
        {"type": "section", "text": {"type": "mrkdwn", "text": _slack_escape(text)[:SLACK_TEXT_MAX]}},
    ]
    for heading, facts in sections(message):
        fields = [{"type": "mrkdwn", "text": f"*{_slack_escape(n)}*\n{_slack_escape(v)}"} for n, v in facts[:10]]
        if heading:
            blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": f"*{_slack_escape(heading)}*"}})
        if fields:
            blocks.append({"type": "section", "fields": fields})
    if link:
        blocks.append(
            {
                "type": "actions",
                "elements": [{"type": "button", "text": {"type": "plain_text", "text": "Open in Sift"}, "url": link}],
            }
        )
    fallback = f"{title}: {text}" + (f" <{link}|Open in Sift>" if link else "")
    return {"text": fallback, "blocks": blocks}


def teams_body(message: dict[str, Any]) -> dict[str, Any]:
    """A Teams incoming-webhook MessageCard: title, text, facts and an OpenUri action to the link."""
    card: dict[str, Any] = {
        "@type": "MessageCard",
        "@context": "https://schema.org/extensions",
        "summary": message["title"],
        "themeColor": "C62828" if message.get("type") == "alert" else "1565C0",
        "title": message["title"],
        "text": message["text"],
        "sections": [
            {**({"activityTitle": heading} if heading else {}), "facts": [{"name": n, "value": v} for n, v in facts]}
            for heading, facts in sections(message)
        ],
    }
    if link := message.get("link"):
        card["potentialAction"] = [
            {"@type": "OpenUri", "name": "Open in Sift", "targets": [{"os": "default", "uri": link}]}
        ]
    return card


def body(style: str, message: dict[str, Any]) -> dict[str, Any]:
    """What a destination of ``style`` (json, slack, teams) is sent for ``message``."""
    if style == "slack":
        return slack_body(message)
    if style == "teams":
        return teams_body(message)
    return message
