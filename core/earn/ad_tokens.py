"""The one-time tracking token behind an ad's Visit button: ``PUBLIC_URL/go/<token>``.

A token is ``<campaign>.<user>.<issued>.<signature>``: the campaign, the viewer, the unix
second it was issued, and an HMAC-SHA256 of those three under a key derived from
``SECRET_KEY`` (so no one without the key can make one, or change the viewer, the ad or the
time of one). It expires ``ads.token_ttl`` seconds after it was issued, and it is taken once:
core.earn.ads.start_visit stores its hash with the visit it starts, unique.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from dataclasses import dataclass

from core.errors import DomainError

_SHAPE = re.compile(
    r"([1-9][0-9]{0,14})\.([1-9][0-9]{0,18})\.([1-9][0-9]{0,11})\.([A-Za-z0-9_-]{22})", re.ASCII
)
MAX_LEN = 80


class TokenError(DomainError):
    """reasons: token_forged (malformed, truncated or signed by someone else), token_expired,
    token_used, ad_unavailable."""


@dataclass(frozen=True, slots=True)
class Token:
    campaign_id: int
    user_id: int
    issued: int  # unix seconds
    text: str

    @property
    def digest(self) -> str:
        return hashlib.sha256(self.text.encode()).hexdigest()


def _key(secret_key: str) -> bytes:
    return hashlib.sha256(b"dustpan ad tracking token\0" + secret_key.encode()).digest()


def _sign(secret_key: str, campaign_id: int, user_id: int, issued: int) -> str:
    mac = hmac.new(_key(secret_key), f"{campaign_id}.{user_id}.{issued}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac[:16]).decode().rstrip("=")


def make(secret_key: str, campaign_id: int, user_id: int, issued: int) -> str:
    """The token for ``user_id`` to visit ``campaign_id``, issued at unix second ``issued``."""
    return f"{campaign_id}.{user_id}.{issued}.{_sign(secret_key, campaign_id, user_id, issued)}"


def read(secret_key: str, text: str, *, now: int, ttl: int) -> Token:
    """The token's fields once its signature and age are checked (TokenError otherwise).

    Checks the shape first and compares signatures in constant time; a token from the future
    (more than a minute ahead of ``now``) is as good as forged.
    """
    m = _SHAPE.fullmatch(text or "") if len(text or "") <= MAX_LEN else None
    if m is None:
        raise TokenError("token_forged")
    campaign_id, user_id, issued = int(m[1]), int(m[2]), int(m[3])
    if not hmac.compare_digest(m[4], _sign(secret_key, campaign_id, user_id, issued)):
        raise TokenError("token_forged")
    if issued > now + 60:
        raise TokenError("token_forged")
    if now - issued > ttl:
        raise TokenError("token_expired", user_id=user_id)
    return Token(campaign_id, user_id, issued, text)


def signed_user(secret_key: str, text: str) -> int | None:
    """The viewer named by a token whose signature holds (expired or not), else None: the
    page that refuses a token speaks that viewer's language, and never trusts a forged name."""
    m = _SHAPE.fullmatch(text or "") if len(text or "") <= MAX_LEN else None
    if m is None:
        return None
    if not hmac.compare_digest(m[4], _sign(secret_key, int(m[1]), int(m[2]), int(m[3]))):
        return None
    return int(m[2])
