"""Accounts: Argon2 password hashes in the store, logins with lock-out, and acting as someone.

Passwords are hashed with Argon2 (``argon2-cffi``) and never stored, logged or printed.
Five failed logins lock an account for fifteen minutes. Every change made through
`edit_as` and `import_as` is checked against the account's role and bureau (from the
catalogue, see `layers.access`) and carries the account's name into the audit; a
refused attempt is recorded too.
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Mapping

import geopandas as gpd
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from geo.errors import AccessDeniedError, LoginError
from layers import access
from layers.access import Account, Role
from store.base import Store

__all__ = [
    "LOCK_AFTER",
    "LOCK_SECONDS",
    "account_of",
    "add_user",
    "authenticate",
    "edit_as",
    "has_accounts",
    "hash_password",
    "import_as",
    "set_password",
    "single_sign_on",
]

LOCK_AFTER = 5
LOCK_SECONDS = 15 * 60
MIN_PASSWORD = 8
_NAME = re.compile(r"^[\w.@-]{1,64}$")
_EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]{1,255}$")
_HASHER = PasswordHasher()
_DUMMY = _HASHER.hash("not a password of anyone")  # verify against it: equal time for unknown names
_WRONG = "wrong name or password"


def hash_password(password: str) -> str:
    """Return the Argon2 hash of `password`.

    Raises
    ------
    ValueError
        If the password is shorter than eight characters.
    """
    if len(password) < MIN_PASSWORD:
        msg = f"a password needs at least {MIN_PASSWORD} characters"
        raise ValueError(msg)
    return _HASHER.hash(password)


def add_user(
    handle: Store,
    name: str,
    *,
    role: str,
    bureau: str | None,
    password: str,
    who: str,
    email: str | None = None,
) -> Account:
    """Create an account (or change an existing one's role, bureau and password).

    Raises
    ------
    ValueError
        If the name, role, bureau or password is not acceptable; nothing is saved.
    """
    if not _NAME.match(name):
        msg = f"{name!r} is not an account name: use letters, digits, . _ @ - (at most 64)"
        raise ValueError(msg)
    try:
        parsed = Role(role)
    except ValueError:
        msg = f"unknown role {role!r}; use one of {', '.join(r.value for r in Role)}"
        raise ValueError(msg) from None
    found = access.problems(parsed, bureau)
    if found:
        raise ValueError("; ".join(found))
    if email is not None and not _EMAIL.match(email):
        msg = f"{email!r} is not an e-mail address"
        raise ValueError(msg)
    handle.save_account(
        name,
        role=parsed.value,
        bureau=bureau,
        password_hash=hash_password(password),
        who=who,
        email=email,
    )
    return Account(name, parsed, bureau)


def set_password(handle: Store, name: str, password: str, *, who: str) -> None:
    """Give account `name` a new password (and lift a lock).

    Raises
    ------
    KeyError
        If there is no such account.
    """
    row = handle.account(name)
    if row is None:
        msg = f"no account {name!r}"
        raise KeyError(msg)
    handle.save_account(
        name,
        role=str(row["role"]),
        bureau=None if row["bureau"] is None else str(row["bureau"]),
        password_hash=hash_password(password),
        who=who,
    )


def has_accounts(handle: Store) -> bool:
    """Whether any account exists (before the first, a loopback app runs in local mode)."""
    return not handle.accounts().empty


def account_of(row: Mapping[str, object]) -> Account:
    """Return the `Account` of a stored row."""
    bureau = row.get("bureau")
    return Account(
        str(row["name"]), Role(str(row["role"])), None if bureau is None else str(bureau)
    )


def authenticate(handle: Store, name: str, password: str) -> Account:
    """Check a login; count failures and lock the account after five.

    Raises
    ------
    LoginError
        With one sentence: wrong name or password (the same for both), disabled, or locked.
    """
    row = handle.account(name.strip())
    if row is None:
        _verify(_DUMMY, password)
        raise LoginError(_WRONG)
    locked = float(row["locked_until"] or 0) - time.time()  # type: ignore[arg-type]
    if locked > 0:
        minutes = math.ceil(locked / 60)
        msg = f"too many failed logins: this account is locked for {minutes} more minute(s)"
        raise LoginError(msg)
    if not _verify(str(row["hash"]), password):
        expired = float(row["locked_until"] or 0) > 0  # type: ignore[arg-type]
        handle.record_login(
            str(row["name"]),
            ok=False,
            lock_after=LOCK_AFTER,
            lock_seconds=LOCK_SECONDS,
            fresh=expired,
        )
        if (0 if expired else int(row["failures"] or 0)) + 1 >= LOCK_AFTER:  # type: ignore[call-overload]
            msg = f"too many failed logins: this account is locked for {LOCK_SECONDS // 60} minutes"
            raise LoginError(msg)
        raise LoginError(_WRONG)
    if row["disabled"]:
        raise LoginError("this account is disabled: ask an administrator")
    handle.record_login(str(row["name"]), ok=True, lock_after=LOCK_AFTER, lock_seconds=LOCK_SECONDS)
    return account_of(row)


def single_sign_on(handle: Store, email: str | None, *, verified: bool) -> Account | None:
    """Return the account mapped to a verified single sign-on e-mail (None: no such account).

    Optional: only used where the organisation configures Streamlit's OIDC login.
    """
    if not email or not verified:
        return None
    row = handle.account_for_email(email)
    if row is None:
        return None
    handle.record_login(str(row["name"]), ok=True, lock_after=LOCK_AFTER, lock_seconds=LOCK_SECONDS)
    return account_of(row)


def _verify(hashed: str, password: str) -> bool:
    try:
        return _HASHER.verify(hashed, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def edit_as(
    handle: Store,
    account: Account,
    key: str,
    code: str,
    changes: Mapping[str, object],
    *,
    expected_version: int,
) -> int:
    """Save an edit as `account`, if its role and bureau allow every field; else refuse and log.

    Raises
    ------
    AccessDeniedError
        If a field is not the account's to edit; the attempt is recorded.
    """
    allowed = access.editable_for(account, key)
    refused = sorted(set(changes) - set(allowed))
    if refused:
        handle.log_event(account.name, "edit refused", f"{key} {code}", ", ".join(refused))
        msg = f"{account.name} may not edit {', '.join(refused)} of {key} (not their bureau's)"
        raise AccessDeniedError(msg)
    return handle.edit(
        key, code, changes, expected_version=expected_version, who=account.name, allowed=allowed
    )


def import_as(
    handle: Store, account: Account, key: str, gdf: gpd.GeoDataFrame, *, source: str
) -> None:
    """Replace layer `key` as `account`, if allowed; else refuse and log.

    An editor's file of a layer whose rows name their unit replaces that unit's rows only
    (`layers.access.owned_rows`); the layer stays synthetic if demo rows stay in it.

    Raises
    ------
    AccessDeniedError
        If the layer is not the account's to import; the attempt is recorded.
    """
    if not access.may_import(account, key):
        handle.log_event(account.name, "import refused", key, source)
        msg = f"{account.name} may not import layer {key!r} (not their bureau's)"
        raise AccessDeniedError(msg)

    def existing() -> gpd.GeoDataFrame | None:
        return handle.read_layer(key) if key in handle.list_layers() else None

    try:
        merged = access.owned_rows(account, key, gdf, existing)
    except AccessDeniedError:
        handle.log_event(account.name, "import refused", key, source)
        raise
    kept = len(merged) - len(gdf)
    before = handle.origin(key) if kept else None
    if before is not None:  # other units' rows stay: so does what they are
        source = f"{source}; {kept} other rows kept from {before.source}"
    synthetic = before is not None and before.synthetic
    handle.replace_layers({key: merged}, who=account.name, source=source, synthetic=synthetic)
    handle.log_event(account.name, "import", key, f"{source}: {len(gdf)} features")
