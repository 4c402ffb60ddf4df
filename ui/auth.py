"""Login for every page: local mode, the login form, idle expiry, logout, who is logged in.

`check` runs in `app.py` before any page (the app offers only `login_page` until it
passes) and again in each page's guard. While the app listens on a loopback address
only and the store has no account, it runs as one local admin with a visible note. On
any other address it refuses to serve until an admin account exists, and says how to
make one. Otherwise each session logs in; it expires after ``VILLAGE_ATLAS_IDLE_MINUTES``
(30) without a rerun, and ends at once if the account is disabled.
"""

from __future__ import annotations

import os
import time

import streamlit as st

from geo.errors import LoginError
from layers.access import LOCAL_ADMIN, Account, Role
from store import Store, accounts

__all__ = ["ACCOUNT", "check", "current", "is_loopback", "login_page", "logout", "who_box"]

ACCOUNT = "auth_account"
_SEEN = "auth_seen"
_NOTICE = "auth_notice"


def idle_seconds() -> float:
    """Return how long a session may stay idle: ``VILLAGE_ATLAS_IDLE_MINUTES`` (30) minutes."""
    return 60 * float(os.environ.get("VILLAGE_ATLAS_IDLE_MINUTES", "30"))


def is_loopback(address: str | None) -> bool:
    """Whether the server listens on this machine only (Streamlit's unset address is every one).

    Examples
    --------
    >>> is_loopback("127.0.0.1"), is_loopback("0.0.0.0"), is_loopback(None)
    (True, False, False)
    """
    return address is not None and (address in ("localhost", "::1") or address.startswith("127."))


def current() -> Account:
    """Return the account of this session (set by `gate`)."""
    account: Account = st.session_state[ACCOUNT]
    return account


def _tr(key: str, **values: object) -> str:
    from ui import tr  # noqa: PLC0415 (ui imports this module)

    return tr(key, **values)


def _has_admin(handle: Store) -> bool:
    table = handle.accounts()
    return bool(((table["role"] == Role.ADMIN.value) & (table["disabled"] == 0)).any())


def check(handle: Store) -> Account | None:
    """Return who this session is, or None when it must log in first.

    Local mode needs no login; on a network address with no administrator account the
    app refuses to serve (the message says how to make one) and stops here.
    """
    loopback = is_loopback(st.get_option("server.address"))
    if not accounts.has_accounts(handle) and loopback:
        st.session_state[ACCOUNT] = LOCAL_ADMIN
        return LOCAL_ADMIN
    if not loopback and not _has_admin(handle):
        st.error(_tr("needs_admin"))
        st.code("village-atlas users add NAME --role admin", language="bash")
        st.stop()
    account = st.session_state.get(ACCOUNT) or _single_sign_on(handle)
    if account is None or not _still_valid(handle, account):
        logout()
        return None
    st.session_state[ACCOUNT] = account
    st.session_state[_SEEN] = time.time()
    return account


def sso_configured() -> bool:
    """Whether an OIDC provider is set up (``[auth]`` in ``.streamlit/secrets.toml``)."""
    try:
        return "auth" in st.secrets
    except (FileNotFoundError, KeyError, st.errors.StreamlitSecretNotFoundError):
        return False


def _single_sign_on(handle: Store) -> Account | None:
    """Map a user logged in through Streamlit's OIDC (`st.login`) to an account, if set up."""
    if not sso_configured():
        return None
    user = st.user
    if not user.get("is_logged_in"):
        return None
    email = user.get("email")
    verified = bool(user.get("email_verified", False))
    return accounts.single_sign_on(handle, None if email is None else str(email), verified=verified)


def _still_valid(handle: Store, account: Account) -> bool:
    if account == LOCAL_ADMIN:
        return False  # accounts exist now: log in
    if time.time() - float(st.session_state.get(_SEEN, 0)) > idle_seconds():
        st.session_state[_NOTICE] = "session_expired"
        return False
    row = handle.account(account.name)  # disabled, or role or bureau changed: log in again
    return row is not None and not row["disabled"] and accounts.account_of(row) == account


def logout() -> None:
    """End this session's login."""
    st.session_state.pop(ACCOUNT, None)
    st.session_state.pop(_SEEN, None)


def login_page() -> None:
    """Show the one page a session sees before it logs in."""
    from ui import sidebar, the_store  # noqa: PLC0415 (ui imports this module)

    sidebar()
    _login_form(the_store())


def _login_form(handle: Store) -> None:
    st.title(_tr("login_title"))
    notice = st.session_state.pop(_NOTICE, None)
    if notice:
        st.info(_tr(notice))
    if sso_configured() and st.button(_tr("login_sso"), key="login_sso"):
        st.login()
    with st.form("login"):
        name = st.text_input(_tr("login_name"), key="login_name", max_chars=64)
        password = st.text_input(_tr("login_password"), type="password", key="login_password")
        submitted = st.form_submit_button(_tr("login"))
    if not submitted:
        return
    try:
        account = accounts.authenticate(handle, name, password)
    except LoginError as exc:
        st.error(_tr("login_refused", reason=str(exc)))
        return
    st.session_state[ACCOUNT] = account
    st.session_state[_SEEN] = time.time()
    st.rerun()


def who_box(lang: str) -> None:
    """Show in the sidebar who is logged in (or the local-mode note), with a logout button."""
    account = st.session_state.get(ACCOUNT)
    if account is None:
        return
    if account == LOCAL_ADMIN:
        st.sidebar.info(_tr("local_mode"))
        return
    st.sidebar.markdown(f"**{_tr('logged_in_as')}** {_escape(account.label(lang))}")
    st.sidebar.caption(_tr(f"role_{account.role.value}"))
    if st.sidebar.button(_tr("logout"), key="auth_logout"):
        logout()
        if sso_configured() and st.user.get("is_logged_in"):
            st.logout()  # else single sign-on would log the session straight back in
        st.rerun()


def _escape(text: str) -> str:
    from ui.text import md  # noqa: PLC0415

    return md(text)
