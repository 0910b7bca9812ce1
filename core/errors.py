"""Domain errors. Handlers map each to a translated sentence; core never renders text.

Every error carries a machine-readable ``reason`` (one of ``Reason``) and the values a message
needs, so one error router can say what went wrong in the user's language.
"""

from __future__ import annotations

from enum import StrEnum


class Reason(StrEnum):
    """Every ``reason`` a DomainError carries, in one registry (withdrawal address reasons are
    core.money.addresses.Reason). Raise sites may pass the value as a string; a test checks
    that every reason raised in core is listed here, and that each one has a translated
    message in every language (handlers.common.errors). Values are stable: handlers and
    stored notices use them."""

    # the ledger and the shared errors above
    BALANCE_LIMIT = "balance_limit"
    DOMAIN_ERROR = "domain_error"
    IDEMPOTENCY_CONFLICT = "idempotency_conflict"
    INSUFFICIENT_FUNDS = "insufficient_funds"
    UNKNOWN_ACCOUNT = "unknown_account"
    UNKNOWN_ASSET = "unknown_asset"
    UNKNOWN_USER = "unknown_user"
    # money
    ALREADY_RESOLVED = "already_resolved"
    BAD_AMOUNT = "bad_amount"
    BAD_KEY_OR_CODE = "bad_key_or_code"
    EMPTY = "empty"
    EXPONENT = "exponent"
    NOT_A_NUMBER = "not_a_number"
    NOT_PENDING = "not_pending"
    NOT_REVERSIBLE = "not_reversible"
    SAME_ACCOUNT = "same_account"
    TOO_LARGE = "too_large"
    TOO_LONG = "too_long"
    TOO_MANY_DECIMALS = "too_many_decimals"
    # platform (settings)
    BAD_VALUE = "bad_value"
    OUT_OF_RANGE = "out_of_range"
    UNKNOWN_KEY = "unknown_key"
    # identity
    CHALLENGE_EXPIRED = "challenge_expired"
    CHALLENGE_REPLACED = "challenge_replaced"
    CHALLENGE_UNKNOWN = "challenge_unknown"
    CHALLENGE_USED = "challenge_used"
    TOKEN_USED = "token_used"
    TWOFA_ALREADY_ON = "twofa_already_on"
    TWOFA_LOCKED = "twofa_locked"
    TWOFA_NOT_ON = "twofa_not_on"
    TWOFA_NOT_STARTED = "twofa_not_started"
    TWOFA_REQUIRED = "twofa_required"
    TWOFA_WRONG_CODE = "twofa_wrong_code"
    UNDECRYPTABLE_SECRET = "undecryptable_secret"
    # earn
    ADDRESS_TAKEN = "address_taken"
    API_BAD_IDEMPOTENCY_KEY = "api_bad_idempotency_key"
    API_BAD_KEY = "api_bad_key"
    API_CAP = "api_cap"
    API_IP_REFUSED = "api_ip_refused"
    API_NO_USER = "api_no_user"
    API_STRANGER_LIMIT = "api_stranger_limit"
    CAPTCHA_WAIT = "captcha_wait"
    FAUCET_COOLDOWN = "faucet_cooldown"
    FAUCET_OFF = "faucet_off"
    NEGATIVE = "negative"
    SITE_ALREADY_RATED = "site_already_rated"
    SITE_BAD_IP = "site_bad_ip"
    SITE_BAD_NAME = "site_bad_name"
    SITE_BAD_RATING = "site_bad_rating"
    SITE_BAD_TERMS = "site_bad_terms"
    SITE_BAD_URL = "site_bad_url"
    SITE_ESCROW_SHORT = "site_escrow_short"
    SITE_LIMIT = "site_limit"
    SITE_RETIRED = "site_retired"
    SITE_UNKNOWN = "site_unknown"
    TOO_MANY_LINKS = "too_many_links"
    ZERO = "zero"
    # play
    ABOVE_MAX = "above_max"
    ALREADY_CASHED = "already_cashed"
    ALREADY_JOINED = "already_joined"
    BAD_AUTO = "bad_auto"
    BAD_DIRECTION = "bad_direction"
    BAD_EDGE = "bad_edge"
    BAD_GAME = "bad_game"
    BAD_HEIGHT = "bad_height"
    BAD_NONCE = "bad_nonce"
    BAD_NUMBER = "bad_number"
    BAD_PERIOD = "bad_period"
    BAD_RISK = "bad_risk"
    BAD_ROWS = "bad_rows"
    BAD_SALT = "bad_salt"
    BELOW_MIN = "below_min"
    BETTING_CLOSED = "betting_closed"
    CHAIN_EXISTS = "chain_exists"
    CHANCE_OUT_OF_RANGE = "chance_out_of_range"
    CONTROL_CHARS = "control_chars"
    CRASHED = "crashed"
    EXCLUSION_LOCKED = "exclusion_locked"
    LIMIT_RAISE_LOCKED = "limit_raise_locked"
    LOSS_LIMIT = "loss_limit"
    MAX_PROFIT = "max_profit"
    NO_BLOCK = "no_block"
    NO_CHAIN = "no_chain"
    NO_ROUND = "no_round"
    NOT_FOUND = "not_found"
    NOT_STARTED = "not_started"
    ROUND_FULL = "round_full"
    SALT_EARLY = "salt_early"
    SALT_SET = "salt_set"
    SEED_CONTROL_CHARS = "seed_control_chars"
    SEED_EMPTY = "seed_empty"
    SEED_TOO_LONG = "seed_too_long"
    SEED_UNPRINTABLE = "seed_unprintable"
    SEEDS_CHANGED = "seeds_changed"
    SEEDS_UNREADABLE = "seeds_unreadable"
    SELF_EXCLUDED = "self_excluded"
    TARGET_OUT_OF_RANGE = "target_out_of_range"
    UNPRINTABLE = "unprintable"
    # cashout
    ADDRESS_NOT_TAKEN = "address_not_taken"
    BACKEND_CANNOT_SEND = "backend_cannot_send"
    BAD_LABEL = "bad_label"
    BATCH_NOT_MANUAL = "batch_not_manual"
    BELOW_MINIMUM = "below_minimum"
    EVIDENCE_NEEDED = "evidence_needed"
    LABEL_OTHER_ASSET = "label_other_asset"
    NO_SUCH_BATCH = "no_such_batch"
    NO_SUCH_LABEL = "no_such_label"
    NOT_AWAITING_APPROVAL = "not_awaiting_approval"
    PROOF_BAD_SIGNATURE = "proof_bad_signature"
    PROOF_EXPIRED = "proof_expired"
    PROOF_MISMATCH = "proof_mismatch"
    PROOF_UNSUPPORTED = "proof_unsupported"
    QUOTE_EXPIRED = "quote_expired"
    TOO_LATE_TO_CANCEL = "too_late_to_cancel"
    TOO_MANY_ADDRESSES = "too_many_addresses"
    WITHDRAWAL_CANCELLED = "withdrawal_cancelled"
    WITHDRAWAL_NOT_FOUND = "withdrawal_not_found"
    # loyalty
    ALREADY_CHECKED_IN = "already_checked_in"
    ALREADY_DONE = "already_done"
    BAD_POINTS = "bad_points"
    BAD_STAKE = "bad_stake"
    BOOST_MISMATCH = "boost_mismatch"
    BOOST_RUNNING = "boost_running"
    CONVERT_DRY = "convert_dry"
    CONVERT_OFF = "convert_off"
    FREEZE_LIMIT = "freeze_limit"
    NOT_ENOUGH_POINTS = "not_enough_points"
    QUOTE_CHANGED = "quote_changed"
    STAKE_TOO_MUCH = "stake_too_much"
    UNKNOWN_BOOST = "unknown_boost"
    UNSTAKE_TOO_MUCH = "unstake_too_much"
    # social
    CHECK_BAD_CHANNEL = "check_bad_channel"
    CHECK_BAD_EXPIRY = "check_bad_expiry"
    CHECK_BAD_PASSWORD = "check_bad_password"
    CHECK_CLAIMED = "check_claimed"
    CHECK_CLOSED = "check_closed"
    CHECK_EXHAUSTED = "check_exhausted"
    CHECK_EXPIRED = "check_expired"
    CHECK_LOCKED = "check_locked"
    CHECK_MEMBERS_ONLY = "check_members_only"
    CHECK_NEW_ONLY = "check_new_only"
    CHECK_OWN = "check_own"
    CHECK_PASSWORD_NEEDED = "check_password_needed"
    CHECK_REVOKED = "check_revoked"
    CHECK_TOO_MANY = "check_too_many"
    CHECK_UNKNOWN = "check_unknown"
    CHECK_WRONG_PASSWORD = "check_wrong_password"
    SEND_ALREADY_SENT = "send_already_sent"
    SEND_BELOW_MIN = "send_below_min"
    SEND_BOT = "send_bot"
    SEND_CANCELLED = "send_cancelled"
    SEND_EXPIRED = "send_expired"
    SEND_NOT_FOUND = "send_not_found"
    SEND_SELF = "send_self"
    TIP_NEEDS_CODE = "tip_needs_code"
    TIP_RETURNED = "tip_returned"
    TIP_UNKNOWN = "tip_unknown"
    # trust
    ALREADY_DECLARED = "already_declared"
    LABEL_TOO_LONG = "label_too_long"
    NEGATIVE_RESERVE = "negative_reserve"
    NOT_DECLARED = "not_declared"
    # merged from ads, offerwalls, exchange and 2FA sessions
    AD_TITLE_EMPTY = "ad_title_empty"
    AD_TITLE_TOO_LONG = "ad_title_too_long"
    AD_DESCRIPTION_TOO_LONG = "ad_description_too_long"
    AD_BAD_URL = "ad_bad_url"
    AD_BAD_CHANNEL = "ad_bad_channel"
    AD_BAD_DURATION = "ad_bad_duration"
    AD_BAD_VIEWS = "ad_bad_views"
    AD_PRICE_TOO_LOW = "ad_price_too_low"
    AD_BAD_LANG = "ad_bad_lang"
    AD_BAD_KIND = "ad_bad_kind"
    AD_BUDGET_ABOVE_BALANCE = "ad_budget_above_balance"
    AD_UNKNOWN = "ad_unknown"
    AD_NOT_DRAFT = "ad_not_draft"
    AD_NOT_ACTIVE = "ad_not_active"
    AD_NOT_PAUSED = "ad_not_paused"
    AD_OVER = "ad_over"
    AD_NOT_LIVE = "ad_not_live"
    AD_BAD_FIELD = "ad_bad_field"
    AD_NOT_IN_REVIEW = "ad_not_in_review"
    AD_REASON_NEEDED = "ad_reason_needed"
    AD_VIEW_NOT_PAID = "ad_view_not_paid"
    TOKEN_FORGED = "token_forged"
    TOKEN_EXPIRED = "token_expired"
    AD_UNAVAILABLE = "ad_unavailable"
    AD_OWN = "ad_own"
    AD_PAUSED = "ad_paused"
    AD_ALREADY = "ad_already"
    AD_BUDGET_OUT = "ad_budget_out"
    AD_DAILY_CAP = "ad_daily_cap"
    AD_TOO_NEW = "ad_too_new"
    AD_NOT_JOINED = "ad_not_joined"
    AD_NOT_VISITED = "ad_not_visited"
    AD_TOO_EARLY = "ad_too_early"
    UNKNOWN_WALL = "unknown_wall"
    BAD_NETWORK = "bad_network"
    BAD_WALL_NAME = "bad_wall_name"
    BAD_APP_ID = "bad_app_id"
    BAD_SECRET = "bad_secret"
    BAD_RATE = "bad_rate"
    WALL_EXISTS = "wall_exists"
    BAD_IPS = "bad_ips"
    BAD_HOLD = "bad_hold"
    WALL_OFF = "wall_off"
    IP_REFUSED = "ip_refused"
    UNKNOWN_SUB = "unknown_sub"
    REVERSED_BEFORE = "reversed_before"
    REPLAY_MISMATCH = "replay_mismatch"
    OFFER_POOL_DRY = "offer_pool_dry"
    MISSING_FIELD = "missing_field"
    BAD_SIGNATURE = "bad_signature"
    MALFORMED = "malformed"
    BAD_PRICE = "bad_price"
    NOT_SWAPPABLE = "not_swappable"
    SAME_ASSET = "same_asset"
    NO_PRICE = "no_price"
    TOO_SMALL = "too_small"
    DAILY_LIMIT = "daily_limit"
    NO_LIQUIDITY = "no_liquidity"
    NOTHING_HELD = "nothing_held"
    NOTHING_TO_SWEEP = "nothing_to_sweep"
    QUOTE_UNKNOWN = "quote_unknown"
    QUOTE_CANCELLED = "quote_cancelled"
    QUOTE_REPLACED = "quote_replaced"
    TWOFA_CODE_USED = "twofa_code_used"
    # merged from the polish of game and cash-out screens
    UNKNOWN_LABEL = "unknown_label"
    NOT_OPEN = "not_open"
    ALREADY_QUEUED = "already_queued"
    ROUND_NOT_OVER = "round_not_over"
    # broadcasts (core.ops)
    BROADCAST = "broadcast"
    BAD_SEGMENT = "bad_segment"
    EMPTY_BROADCAST = "empty_broadcast"
    UNKNOWN_BROADCAST = "unknown_broadcast"
    NOT_A_DRAFT = "not_a_draft"
    EMPTY_SEGMENT = "empty_segment"
    BAD_MOVE = "bad_move"
    # moderation (core.identity.standing, core.ops.moderation)
    BANNED = "banned"
    WITHDRAWALS_FROZEN = "withdrawals_frozen"
    ALREADY_BANNED = "already_banned"
    NOT_BANNED = "not_banned"
    ALREADY_FROZEN = "already_frozen"
    NOT_FROZEN = "not_frozen"
    CANNOT_RESTRICT_ADMIN = "cannot_restrict_admin"
    CANNOT_RESTRICT_SELF = "cannot_restrict_self"
    REASON_NEEDED = "reason_needed"
    NOT_RESTRICTED = "not_restricted"
    APPEAL_EMPTY = "appeal_empty"
    APPEAL_TOO_LONG = "appeal_too_long"
    APPEAL_TOO_SOON = "appeal_too_soon"


class DomainError(Exception):
    """Base of every refusal that core makes on purpose. Nothing was changed."""

    reason = "domain_error"

    def __init__(self, reason: str | None = None, **params: object) -> None:
        if reason is not None:
            self.reason = reason
        self.params = params
        super().__init__(self.reason, params)


class InvalidAmount(DomainError):
    """An amount that cannot be parsed exactly; ``reason`` says why."""


class UnknownAsset(DomainError):
    def __init__(self, code: object) -> None:
        super().__init__("unknown_asset", code=str(code)[:16])


class UnknownAccount(DomainError):
    def __init__(self, name: object) -> None:
        super().__init__("unknown_account", name=str(name)[:32])


class UnknownUser(DomainError):
    def __init__(self, ref: object) -> None:
        super().__init__("unknown_user", ref=str(ref)[:40])


class InsufficientFunds(DomainError):
    """``amount`` is what was needed, ``have`` (when known) what the account had available, both
    in minor units of ``asset``."""

    def __init__(self, account: str, asset: str, amount: int, have: int | None = None) -> None:
        if have is None:
            super().__init__("insufficient_funds", account=account, asset=asset, amount=amount)
        else:
            super().__init__("insufficient_funds", account=account, asset=asset, amount=amount, have=have)


class BalanceLimit(DomainError):
    """The transfer would take an account past MAX_BALANCE (or the world below -MAX_BALANCE)."""

    def __init__(self, account: str, asset: str, limit: int) -> None:
        super().__init__("balance_limit", account=account, asset=asset, limit=limit)


class IdempotencyConflict(DomainError):
    """The same idempotency key was posted before with different fields."""

    def __init__(self, key: str) -> None:
        super().__init__("idempotency_conflict", key=key)


class TransferRejected(DomainError):
    """A transfer that breaks a ledger rule (same account twice, bad pending reference...)."""


class InvalidParam(DomainError):
    """A runtime setting that does not exist or whose value does not parse."""
