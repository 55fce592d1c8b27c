"""The web console's login without passwords: one-time links, sessions, CSRF tokens (no HTTP, no SQL here).

A link holds a random token valid 15 minutes and used once. Opening it (GET) only shows a
"Log in" button, so that a mail scanner or a chat's link preview cannot use it up; the button's
POST uses it and starts a session whose random token lives in an HttpOnly cookie and ends after
12 idle hours, at logout, or as soon as the person is no longer staff. Only SHA-256 hashes of
tokens are stored. A form's CSRF token is derived from the session token (HMAC), so it needs no
storage and dies with the session; the login form, which has no session yet, is protected by a
double-submit token (the same random value in a cookie and in the form).
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.clock import utcnow
from bot.config import LANGUAGES, Settings
from bot.core.messages import ChatRef
from bot.core.registry import Audience
from bot.storage import Storage

LINK_LIFETIME = timedelta(minutes=15)
SESSION_IDLE = timedelta(hours=12)
# A session's last use is written at most this often (a page with a refreshing script would
# otherwise write on every request).
TOUCH_EVERY = timedelta(minutes=1)
LOGIN_PATH = "/login/"

Clock = Callable[[], datetime]


class NotStaff(LookupError):
    """The identity is neither staff nor an administrator: it gets no login link."""


def new_token() -> str:
    """A random token: 256 bits, URL-safe."""
    return secrets.token_urlsafe(32)


def token_hash(token: str) -> str:
    """What the database keeps of a token."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def csrf_token(session_token: str) -> str:
    """The CSRF token of a session's forms."""
    return hmac.new(session_token.encode("utf-8"), b"csrf", hashlib.sha256).hexdigest()


def csrf_valid(session_token: str, given: str | None) -> bool:
    return bool(given) and same_secret(csrf_token(session_token), given or "")


def same_secret(expected: str, given: str) -> bool:
    """A constant-time comparison that also accepts text that is not ASCII (never equal)."""
    return hmac.compare_digest(expected.encode("utf-8"), given.encode("utf-8"))


# A login form's double-submit token as new_token() makes it (anything else is replaced).
LOGIN_FORM_TOKEN = re.compile(r"[A-Za-z0-9_-]{43}")


def login_form_token(from_cookie: str | None) -> str:
    """The login form's token: the browser's current one (so that two open login pages both
    work), or a new one."""
    if from_cookie and LOGIN_FORM_TOKEN.fullmatch(from_cookie):
        return from_cookie
    return new_token()


def login_form_valid(from_cookie: str | None, from_form: object) -> bool:
    """The login POST carries the same token in its cookie and in its form (double submit)."""
    if not from_cookie or not isinstance(from_form, str) or not from_form:
        return False
    return same_secret(from_cookie, from_form)


async def role_of(storage: Storage, settings: Settings, identity: str) -> Audience:
    """The identity's rights, as the chat decides them: BOT_ADMINS, then the staff table."""
    if identity in settings.admins:
        return Audience.ADMIN
    member = await storage.staff.get(identity)
    if member is None:
        return Audience.EVERYONE
    return Audience.ADMIN if member.role == "admin" else Audience.STAFF


@dataclass(frozen=True)
class StaffUser:
    """Who is signed in: identity, rights, the page language and the session's tokens."""

    identity: str
    role: Audience
    language: str
    session_token: str

    @property
    def is_admin(self) -> bool:
        return self.role >= Audience.ADMIN

    @property
    def csrf(self) -> str:
        return csrf_token(self.session_token)


class ConsoleAuth:
    """Issues login links and turns session cookies into signed-in staff."""

    def __init__(self, storage: Storage, settings: Settings, clock: Clock = utcnow) -> None:
        self.storage = storage
        self.settings = settings
        self.clock = clock

    async def login_link(self, identity: str, base_url: str) -> str:
        """A new one-time link for a staff member or admin (raises NotStaff for anyone else)."""
        if await role_of(self.storage, self.settings, identity) < Audience.STAFF:
            raise NotStaff(identity)
        token = new_token()
        now = self.clock()
        await self.storage.web.add_login_link(token_hash(token), identity, now, now + LINK_LIFETIME)
        return base_url.rstrip("/") + LOGIN_PATH + token

    async def link_owner(self, link_token: str) -> str | None:
        """Whom a link would log in, without using it: None when it is unknown, used, expired
        or its owner is no longer staff."""
        identity = await self.storage.web.login_link_owner(token_hash(link_token), self.clock())
        if identity is None:
            return None
        if await role_of(self.storage, self.settings, identity) < Audience.STAFF:
            return None
        return identity

    async def redeem(self, link_token: str) -> str | None:
        """Use a link: a new session token, or None (unknown, used, expired, not staff now)."""
        identity = await self.storage.web.use_login_link(token_hash(link_token), self.clock())
        if identity is None:
            return None
        if await role_of(self.storage, self.settings, identity) < Audience.STAFF:
            return None
        session = new_token()
        await self.storage.web.add_session(token_hash(session), identity, self.clock())
        await self.storage.staff.audit(identity, "web login")
        return session

    async def user(self, session_token: str | None) -> StaffUser | None:
        """The signed-in staff member of a session cookie, or None (and the session ends if
        its owner is no longer staff)."""
        if not session_token:
            return None
        hashed = token_hash(session_token)
        now = self.clock()
        session = await self.storage.web.session(hashed, now - SESSION_IDLE)
        if session is None:
            return None
        role = await role_of(self.storage, self.settings, session.identity)
        if role < Audience.STAFF:
            await self.storage.web.end_sessions_of(session.identity)
            return None
        if now - session.last_seen_at >= TOUCH_EVERY:
            await self.storage.web.touch_session(hashed, now)
        language = session.language or await self.chat_language(session.identity)
        return StaffUser(session.identity, role, language, session_token)

    async def chat_language(self, identity: str) -> str:
        """The language of the person's private chat with the bot (Telegram and the console
        share the id; elsewhere, or before any chat, BOT_DEFAULT_LANGUAGE)."""
        platform, _sep, user = identity.partition(":")
        chat = await self.storage.chats.get(ChatRef(platform, user))
        if chat is not None and chat.language:
            return chat.language
        return self.settings.default_language

    async def set_language(self, user: StaffUser, language: str) -> None:
        if language in LANGUAGES:
            await self.storage.web.set_session_language(token_hash(user.session_token), language)

    async def logout(self, session_token: str) -> None:
        await self.storage.web.end_session(token_hash(session_token))

    async def staff_removed(self, identity: str) -> None:
        """End the sessions of someone who is no longer staff (a Core staff-changed hook)."""
        if await role_of(self.storage, self.settings, identity) < Audience.STAFF:
            await self.storage.web.end_sessions_of(identity)


def web_base_url(settings: Settings) -> str | None:
    """The console's public base URL (BOT_WEB_URL, else from BOT_WEB_LISTEN); None: off."""
    return settings.web_base_url
