"""Identity: users, two-factor authentication (TOTP, backup codes), captchas, and an admin's
view of users' money (credits). Above platform and money.

Other capabilities import only what ``__all__`` lists (tests/test_imports.py holds them to it);
``twofa``, ``totp`` and ``captcha`` are used by their module name (``twofa.require(...)``).
"""

from core.identity import captcha, standing, totp, twofa
from core.identity.tables import users as users_table
from core.identity.totp import SecretBox
from core.identity.users import LANGUAGES, User, find_user, get_user, id_by_username, record_start

__all__ = [
    "LANGUAGES",
    "SecretBox",
    "User",
    "captcha",
    "find_user",
    "get_user",
    "id_by_username",
    "record_start",
    "standing",
    "totp",
    "twofa",
    "users_table",
]
