"""Optional access control: the sign-in gate before every page, and admin mode for guarded actions.

Both passwords are configured as hashes (``core.access``): ``SIFT_PASSWORD`` / ``SIFT_ADMIN_PASSWORD``
in the environment, or ``password`` / ``admin_password`` in ``.streamlit/secrets.toml``; the
environment wins. With neither configured, nothing is asked (the local default).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import streamlit as st

from app import resources
from core.access import PasswordHash, parse_hash
from core.errors import AccessSetupError

SIGNED_IN = "access_signed_in"  # session state: the hash the session signed in with
ADMIN = "access_admin"  # session state: the admin hash the session unlocked admin mode with
WRONG_PASSWORD_DELAY = 1.0  # seconds: slows down guessing


@dataclass(frozen=True)
class Passwords:
    user: PasswordHash | None
    admin: PasswordHash | None


def _secret(key: str) -> str | None:
    # load_if_toml_exists is False without a secrets file, where st.secrets.get would raise
    return st.secrets.get(key) if st.secrets.load_if_toml_exists() else None


def configured() -> Passwords:
    """The configured hashes; a value that is not a Sift hash raises AccessSetupError (never compared)."""
    settings = resources.settings()
    found = []
    for env_value, env_name, key in (
        (settings.password, "SIFT_PASSWORD", "password"),
        (settings.admin_password, "SIFT_ADMIN_PASSWORD", "admin_password"),
    ):
        if env_value is not None:
            found.append(parse_hash(env_value, setting=f"The environment variable {env_name}"))
        elif (secret := _secret(key)) is not None:
            found.append(parse_hash(str(secret), setting=f"The secret {key!r} in .streamlit/secrets.toml"))
        else:
            found.append(None)
    return Passwords(*found)


def require_sign_in() -> bool:
    """Call before anything else is shown. True when the page may run; otherwise the page shows only the
    sign-in form (or the configuration error) and the caller stops."""
    try:
        user = configured().user
    except AccessSetupError as exc:
        st.error(f"Sift cannot start: {exc}")
        return False
    if user is None or st.session_state.get(SIGNED_IN) == user.text:
        return True
    st.title("Sign in to Sift")
    with st.form("access_sign_in", clear_on_submit=True):
        password = st.text_input("Password", type="password", key="access_password")
        submitted = st.form_submit_button("Sign in", type="primary")
    if submitted:
        if user.matches(password):
            st.session_state[SIGNED_IN] = user.text
            st.rerun()
        time.sleep(WRONG_PASSWORD_DELAY)
        st.error("Wrong password. Try again.")
    return False


def sidebar_controls() -> None:
    """Sign out, and admin mode (unlock, leave) when an admin password is configured; call in the sidebar."""
    passwords = configured()
    if passwords.admin is not None:
        if admin_unlocked():
            st.caption("Admin mode is on: promote, roll back, retrain, delete versions and change thresholds.")
            if st.button("Leave admin mode", key="access_admin_lock", icon=":material/lock:"):
                st.session_state.pop(ADMIN, None)
                st.rerun()
        else:
            with st.expander("Admin mode", icon=":material/admin_panel_settings:"):
                with st.form("access_admin_form", clear_on_submit=True, border=False):
                    password = st.text_input("Admin password", type="password", key="access_admin_password")
                    submitted = st.form_submit_button("Unlock")
                if submitted:
                    if passwords.admin.matches(password):
                        st.session_state[ADMIN] = passwords.admin.text
                        st.rerun()
                    time.sleep(WRONG_PASSWORD_DELAY)
                    st.error("Wrong admin password.")
    if passwords.user is not None and st.button("Sign out", key="access_sign_out", icon=":material/logout:"):
        st.session_state.pop(SIGNED_IN, None)
        st.session_state.pop(ADMIN, None)
        st.rerun()


def admin_unlocked() -> bool:
    """True when no admin password is configured, or this session unlocked admin mode with the current one."""
    admin = configured().admin
    return admin is None or st.session_state.get(ADMIN) == admin.text


def admin_allowed(action: str) -> bool:
    """Call when a guarded action is asked for: True lets it go ahead; False has said why on the page."""
    if admin_unlocked():
        return True
    st.error(f"{action} needs admin mode: unlock it in the sidebar with the admin password. Nothing was changed.")
    return False
