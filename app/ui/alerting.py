"""Alert delivery on the Monitor page: where this dataset's alerts go (masked), the admin's changes
(add, remove, digest, a test alert) and the delivery log.

Rendering only reads; each button is one write. A webhook URL is typed into a password field and
never shown again: the tables show its masked form.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
import streamlit as st

from app.ui import access
from core.config import Settings
from core.errors import SiftError
from core.monitoring import delivery, destinations

FLASH = "alerting_flash"  # session state: what the last action did, shown after its rerun
URL_KEY = "alerting_url"
LOG_ROWS = 200
DIGEST_WORDS = {"off": "no digest", "daily": "daily digest", "weekly": "weekly digest"}
LOG_CAPTION = (
    "Each row is one try. A delivery that fails every try of a run stays pending and is tried again by the next "
    "monitor run, waiting twice as long each time (at most an hour); it is marked failed only after "
    f"{delivery.GIVE_UP_AFTER.days} days of failures, so nothing is lost while a destination is down. A test alert "
    "is tried once per click."
)


def destinations_frame(listed: list[dict[str, Any]]) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {
                "id": d["id"],
                "for": d["for"],
                "where": d.get("where", "(not usable)"),
                "format": d.get("style"),
                "digest": d.get("digest"),
                "from": "the settings" if d["origin"] == destinations.SETTING else f"{d['origin']} ({d['created_by']})",
                "note": d.get("note", ""),
            }
            for d in listed
        ]
    )


def log_frame(log: list[dict[str, Any]]) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {
                "when": pd.Timestamp(r["when"]),
                "where": r["where"],
                "kind": r["kind"],
                "alert": r["alert_id"],
                "status": r["status"],
                "HTTP status": r["http_status"],
                "error": r["error"] or "",
                "delivery": r["delivery_status"]
                + (f" (next try {r['next_attempt_at'][:16].replace('T', ' ')} UTC)" if r["next_attempt_at"] else ""),
            }
            for r in log
        ]
    )


def _act(sessions: Any, action: str, write: Any) -> None:
    """Run one guarded write in its own transaction; say what happened after the rerun."""
    if not access.admin_allowed(action):
        return
    try:
        with sessions.begin() as session:
            said = write(session)
    except SiftError as exc:
        st.error(str(exc))
        return
    st.session_state[FLASH] = ("success", said)
    st.rerun()


def _add_form(*, dataset: str, sessions: Any) -> None:
    with st.form("alerting_add", clear_on_submit=True):
        url = st.text_input(
            "Webhook URL",
            type="password",
            key=URL_KEY,
            help="A URL for a JSON body, or slack:URL / teams:URL for those incoming webhooks. It is a secret: it "
            "is stored, and shown masked from then on.",
        )
        left, right = st.columns(2)
        scope = left.radio(
            "For",
            ["dataset", "every"],
            format_func={"dataset": dataset, "every": "every dataset"}.get,
            horizontal=True,
            key="alerting_scope",
        )
        digest = right.selectbox("Digest", destinations.DIGESTS, format_func=DIGEST_WORDS.get, key="alerting_digest")
        submitted = st.form_submit_button("Add destination", icon=":material/add_alert:")
    if submitted:

        def write(session: Any) -> str:
            added = destinations.add_destination(
                session=session,
                url=url,
                dataset=dataset if scope == "dataset" else None,
                digest=digest,
                who="app",
                origin="page",
            )
            where = destinations.mask_url(added.url)
            return f"Alerts of {'every dataset' if scope == 'every' else dataset} now go to {where}."

        _act(sessions, "Adding an alert destination", write)


def _change_controls(listed: list[dict[str, Any]], sessions: Any) -> None:
    stored = {d["id"]: f"#{d['id']} {d['where']} ({d['for']})" for d in listed if d["id"] is not None}
    if not stored:
        return
    left, middle, right = st.columns([3, 2, 2], vertical_alignment="bottom")
    chosen = left.selectbox("Destination", list(stored), format_func=stored.get, key="alerting_pick")
    digest = middle.selectbox(
        "Its digest", destinations.DIGESTS, format_func=DIGEST_WORDS.get, key="alerting_pick_digest"
    )
    if middle.button("Set digest", key="alerting_set_digest"):

        def set_digest(session: Any) -> str:
            destinations.set_digest(session=session, destination_id=chosen, digest=digest)
            return f"Destination #{chosen}: {DIGEST_WORDS[digest]}."

        _act(sessions, "Changing a digest", set_digest)
    if right.button("Remove destination", key="alerting_remove", icon=":material/delete:"):

        def remove(session: Any) -> str:
            destinations.remove_destination(session=session, destination_id=chosen)
            return f"Destination #{chosen} removed; its delivery log stays."

        _act(sessions, "Removing an alert destination", remove)


def _send_test(*, dataset: str, settings: Settings, sessions: Any) -> None:
    if not access.admin_allowed("Sending a test alert"):
        return
    try:
        run = delivery.send_test(sessions=sessions, settings=settings, dataset=dataset, who="app")
    except SiftError as exc:
        st.error(str(exc))
        return
    failed = [r for r in run.results if r["status"] != "sent"]
    said = f"Test alert sent to {run.sent} destination(s)." + "".join(
        f" Not delivered to {r['where']}: {r['error']}." for r in failed
    )
    st.session_state[FLASH] = ("warning" if failed else "success", said)
    st.rerun()


def delivery_tab(*, dataset: str, settings: Settings, sessions: Any) -> None:
    """Where ``dataset``'s alerts go and how their delivery went; admins change the destinations here."""
    if flash := st.session_state.pop(FLASH, None):
        getattr(st, flash[0])(flash[1])
        st.session_state[URL_KEY] = ""  # the typed URL is not kept once an action is done
    with sessions() as session:
        listed = destinations.list_destinations(session=session, dataset=dataset, settings=settings)
        log = delivery.delivery_log(session=session, dataset=dataset, limit=LOG_ROWS)
        waiting = delivery.backlog(session=session, dataset=dataset)
    st.markdown("**Where alerts go**")
    if listed:
        st.dataframe(destinations_frame(listed), hide_index=True, key="alerting_destinations")
    else:
        st.info(
            f"No destination: alerts of {dataset} are only shown here. Add a webhook below, or set "
            "SIFT_ALERT_WEBHOOK for every dataset."
        )
    with st.expander("Change destinations (admin)", icon=":material/admin_panel_settings:"):
        _add_form(dataset=dataset, sessions=sessions)
        _change_controls(listed, sessions)
    if st.button("Send a test alert", key="alerting_test", icon=":material/send:", disabled=not listed):
        _send_test(dataset=dataset, settings=settings, sessions=sessions)

    st.markdown("**Delivery log**")
    if log:
        st.dataframe(log_frame(log), hide_index=True, key="alerting_log")
    else:
        st.info("Nothing sent yet.")
    waits = ""
    if waiting["waiting"]:
        due = waiting["next_attempt_at"][:16].replace("T", " ")
        waits = f" {waiting['waiting']} delivery(ies) wait, the next due {due} UTC."
    st.caption(LOG_CAPTION + waits)
