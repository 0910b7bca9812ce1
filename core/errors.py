"""Domain errors. Handlers map each to a translated sentence; core never renders text.

Every error carries a machine-readable ``reason`` and the values a message needs,
so one error router can say what went wrong in the user's language.
"""

from __future__ import annotations


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
