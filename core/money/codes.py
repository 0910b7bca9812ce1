"""Why money moved: the ``code`` of every transfer, one vocabulary.

Values are stored in ``transfers.code`` (at most 32 characters): never rename one. A new
feature adds its codes here, and a label for each in handlers (``labels.register``): a test
checks that every code has a label a user reads in /history, so a typo can no longer show as
a generic "Transfer".
"""

from __future__ import annotations

from enum import StrEnum


class Code(StrEnum):
    DEPOSIT = "deposit"  # world -> treasury: the operator put coins in (core.money.treasury)
    FUND = "fund"  # treasury -> a system pool
    ADMIN_CREDIT = "admin_credit"  # treasury -> user
    ADMIN_DEBIT = "admin_debit"  # user -> treasury
    CORRECTION = "correction"  # reverses a mistaken transfer (ledger.reverse)
    FAUCET = "faucet"  # faucet pool -> user (core.earn.faucet)
    REFERRAL = "referral"  # marketing -> referrer (core.earn.referrals)
    FAUCET_API = "faucet_api"  # owner escrow -> user: a faucet site paid (core.earn.sites)
    FAUCET_API_REFERRAL = "faucet_api_referral"  # owner escrow -> user: a site's referral payment
    OWNER_FUND = "owner_fund"  # owner -> owner escrow: a site owner funds a site
    OWNER_RETURN = "owner_return"  # owner escrow -> owner: a retired site's money back
    BET = "bet"  # user -> house (core.play.games)
    WIN = "win"  # house -> user
    CRASH_BET = "crash_bet"  # user -> house, held until the round settles (core.play.crash)
    CRASH_COVER = "crash_cover"  # house's reserve for a crash round's possible payouts
    CRASH_WIN = "crash_win"  # house -> user
    WITHDRAWAL = "withdrawal"  # user -> withdrawals pending, reserved (core.cashout.withdrawals)
    WITHDRAWAL_OUT = "withdrawal_out"  # withdrawals pending -> world: sent on chain (core.cashout.payouts)
    WITHDRAWAL_FEE = "withdrawal_fee"  # withdrawals pending -> fees
    SEND = "send"  # user -> user (core.social.sends)
    TIP = "tip"  # user -> user in a group (core.social.tips)
    # loyalty (core.loyalty): reward points and DUST staking
    BOOST_BONUS = "boost_bonus"
    LEVEL_BONUS = "level_bonus"
    RP_AD = "rp_ad"
    RP_BOOST = "rp_boost"
    RP_CHECKIN = "rp_checkin"
    RP_CONVERT = "rp_convert"
    RP_CONVERT_PAY = "rp_convert_pay"
    RP_DAILY = "rp_daily"
    RP_FAUCET = "rp_faucet"
    RP_FREEZE = "rp_freeze"
    RP_OFFER = "rp_offer"
    RP_WAGER = "rp_wager"
    STAKE = "stake"
    STAKE_REWARD = "stake_reward"
    UNSTAKE = "unstake"
    CHECK = "check"  # a check's creator -> check escrow -> its claimers (core.social.checks)
    DEBT_REPAID = "debt_repaid"
    OFFER = "offer"
    OFFER_REVERSAL = "offer_reversal"
    REFERRAL_REVERSAL = "referral_reversal"
    SWAP = "swap"
    AD_BUDGET = "ad_budget"
    AD_FEE = "ad_fee"
    AD_INVALID = "ad_invalid"
    AD_REFUND = "ad_refund"
    AD_VIEW = "ad_view"
    SWAP_FEE = "swap_fee"
