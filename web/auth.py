"""Local accounts of ``ecgread web``: argon2id password hashes, roles, lockout.

Passwords are never stored or logged, only argon2id hashes (argon2-cffi's defaults, RFC
9106's second recommended parameter set). After ``settings.web_lockout_failures`` failed
logins in a row an account is locked for ``settings.web_lockout_s``; every outcome is an
audit event (``ecgread.web.login.succeeded`` / ``.failed`` / ``.locked``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlmodel import select

from ecgread.audit.db import session_scope
from ecgread.audit.events import log_action
from ecgread.audit.tables import WebUser, utcnow
from ecgread.config.settings import Settings
from ecgread.errors import ConfigError

ROLES = ("cardiologist", "technician", "auditor")
MIN_PASSWORD_CHARS = 8
_hasher = PasswordHasher()
#: Verified against when the user does not exist, so both answers take as long.
_DUMMY_HASH = _hasher.hash("not a password of anyone")


@dataclass(frozen=True)
class User:
    username: str
    role: str


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def add_user(settings: Settings, username: str, password: str, role: str) -> User:
    """Create (or reset the password and role of) a local account.

    Raises :class:`ConfigError` for an unknown role, a bad name or a short password.
    """
    username = username.strip()
    if role not in ROLES:
        raise ConfigError(f"role must be one of {', '.join(ROLES)}, got {role!r}")
    if not username or not username.replace("-", "").replace("_", "").replace(".", "").isalnum():
        raise ConfigError("user names are letters, digits, '.', '-' and '_'")
    if len(password) < MIN_PASSWORD_CHARS:
        raise ConfigError(f"passwords have at least {MIN_PASSWORD_CHARS} characters")
    with session_scope(settings.audit_url) as session:
        row = session.exec(select(WebUser).where(WebUser.username == username)).first()
        action = "ecgread.web.user.changed" if row else "ecgread.web.user.created"
        row = row or WebUser(username=username)
        row.password_hash, row.role, row.active = _hasher.hash(password), role, True
        row.failed_logins, row.locked_until = 0, None
        session.add(row)
        log_action(session, action, subject=f"user:{username}", role=role)
    return User(username, role)


def authenticate(settings: Settings, username: str, password: str,
                 peer: str = "") -> tuple[User | None, str]:
    """(the user, "") on success, else (None, why) with why "invalid" or "locked"."""
    now = utcnow()
    with session_scope(settings.audit_url) as session:
        row = session.exec(select(WebUser).where(WebUser.username == username)).first()
        if row is None or not row.active:
            try:
                _hasher.verify(_DUMMY_HASH, password)
            except VerificationError:
                pass
            log_action(session, "ecgread.web.login.failed", subject="user:?", peer=peer,
                       reason="unknown user")
            return None, "invalid"
        if row.locked_until is not None and _aware(row.locked_until) > now:
            log_action(session, "ecgread.web.login.failed", subject=f"user:{username}",
                       peer=peer, reason="locked")
            return None, "locked"
        try:
            _hasher.verify(row.password_hash, password)
        except (VerificationError, InvalidHashError):
            row.failed_logins += 1
            locked = row.failed_logins >= settings.web_lockout_failures
            if locked:
                row.locked_until = now + timedelta(seconds=settings.web_lockout_s)
                row.failed_logins = 0
            session.add(row)
            log_action(session, "ecgread.web.login.locked" if locked
                       else "ecgread.web.login.failed", subject=f"user:{username}", peer=peer,
                       reason="wrong password")
            return None, "locked" if locked else "invalid"
        if _hasher.check_needs_rehash(row.password_hash):
            row.password_hash = _hasher.hash(password)
        row.failed_logins, row.locked_until, row.last_login_at = 0, None, now
        session.add(row)
        log_action(session, "ecgread.web.login.succeeded", subject=f"user:{username}", peer=peer)
        return User(row.username, row.role), ""
