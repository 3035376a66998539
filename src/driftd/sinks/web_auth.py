"""HTTP basic auth against a web config's bcrypt-hashed ``basic_auth_users``.

bcrypt costs tens of milliseconds by design, so accepted credentials are cached by a
digest of (user, hash, password), as exporter-toolkit caches outcomes: a scraper
sending the same credentials every 15 s pays bcrypt once. Refusals are not cached, so
a flood of wrong passwords can never evict a scraper's entry, and every refusal costs
one bcrypt, an unknown user's too (checked against a fixed hash): the time of an
answer does not tell which users exist.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import threading
from collections.abc import Mapping

import bcrypt

CACHE_SIZE = 100
# bcrypt (cost 10) of 24 random bytes that were thrown away: what unknown users are
# checked against, so that they cost the same time as known ones.
_UNKNOWN_USER_HASH = b"$2b$10$.2hHK7cx5CwqR3E2AfU3Re60R0FDWfT3uT9Cv9R/X7FMsKUM3ESZa"


class BasicAuth:
    """The users of one web config and the outcomes checked so far (thread-safe)."""

    def __init__(self, users: Mapping[str, str]) -> None:
        self._users = {user: hashed.encode("ascii") for user, hashed in users.items()}
        self._cache: dict[bytes, bool] = {}  # accepted credentials only
        self._lock = threading.Lock()
        self._bcrypt = threading.Lock()  # one bcrypt at a time: it is CPU-bound

    def __bool__(self) -> bool:
        return bool(self._users)

    def cached(self, authorization: str | None) -> bool | None:
        """True for credentials accepted before, False for a header that carries none,
        None when only bcrypt can tell (then ``check``)."""
        credentials = _credentials(authorization)
        if credentials is None:
            return False
        with self._lock:
            return self._cache.get(self._key(*credentials))

    def check(self, authorization: str | None) -> bool:
        """Whether the header carries a user's password (may take a bcrypt's time)."""
        credentials = _credentials(authorization)
        if credentials is None:
            return False
        user, password = credentials
        key = self._key(user, password)
        with self._lock:
            known = self._cache.get(key)
        if known is not None:
            return known
        hashed = self._users.get(user)
        with self._bcrypt:
            matches = bcrypt.checkpw(password, hashed or _UNKNOWN_USER_HASH)
        if not (matches and hashed is not None):
            return False
        with self._lock:
            if len(self._cache) >= CACHE_SIZE:  # drop the oldest tenth
                for old in list(self._cache)[: CACHE_SIZE // 10]:
                    del self._cache[old]
            self._cache[key] = True
        return True

    def _key(self, user: str, password: bytes) -> bytes:
        hashed = self._users.get(user, _UNKNOWN_USER_HASH)
        # A keyed digest: the cache never holds a password, nor a fast hash of one alone.
        return hmac.new(hashed, user.encode() + b"\0" + password, hashlib.sha256).digest()


def _credentials(authorization: str | None) -> tuple[str, bytes] | None:
    """(user, password) of a ``Basic`` header, or None when there is none or it is bad."""
    if authorization is None:
        return None
    scheme, _, token = authorization.strip().partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(token.strip(), validate=True)
    except (binascii.Error, ValueError):
        return None
    user, colon, password = decoded.partition(b":")
    if not colon:
        return None
    try:
        return user.decode("utf-8"), password
    except UnicodeDecodeError:
        return None
