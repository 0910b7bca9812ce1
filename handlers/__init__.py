"""Inputs -> core. ``get_routers()`` builds the chat routers, in precedence order.

Every handler module has ``def router() -> Router``: its handlers and their filters, one
line each, in the order aiogram tries them."""

from __future__ import annotations

from aiogram import Router


def get_routers() -> list[Router]:
    from handlers.admin import admin
    from handlers.admin import broadcast as admin_broadcast
    from handlers.admin import console as admin_console
    from handlers.admin import users as admin_users
    from handlers.cashout import addresses, payouts, withdraw
    from handlers.common import errors, prompts
    from handlers.earn import ad_review, ads, advertise, campaigns, faucet, owner, referral
    from handlers.earn import offers as offerwalls
    from handlers.earn import sites as faucets
    from handlers.exchange import rates, swap, sweep
    from handlers.home import appeal, fallback, help, language, start, wallet
    from handlers.loyalty import rewards as loyalty_rewards
    from handlers.loyalty import staking as loyalty_staking
    from handlers.play import crash, fair, games, limits
    from handlers.security import twofa
    from handlers.social import checks as social_checks
    from handlers.social import inline as social_inline
    from handlers.social import send as social_send
    from handlers.social import tip as social_tip
    from handlers.trust import proof, reserves

    # errors first; admin next (its filter lets non-admins fall through); fallback always last.
    # Each call builds new routers, so every dispatcher (tests and benches build many) owns its own.
    return [
        errors.router(),
        social_inline.router(),  # the only inline-mode handlers: first, so queries skip the tree
        prompts.router(),
        admin.router(),
        admin_broadcast.router(),
        admin_users.router(),
        admin_console.router(),
        payouts.router(),
        ad_review.router(),
        social_checks.router(),  # before start: /start c<code> and t<code> are claim links
        start.router(),
        wallet.router(),
        language.router(),
        help.router(),
        appeal.router(),
        faucet.router(),
        referral.router(),
        faucets.router(),
        owner.router(),
        ads.router(),
        advertise.router(),
        campaigns.router(),
        games.router(),
        fair.router(),
        crash.router(),
        limits.router(),
        twofa.router(),
        withdraw.router(),
        addresses.router(),
        swap.router(),
        sweep.router(),
        rates.router(),
        offerwalls.router(),
        social_send.router(),
        social_tip.router(),
        proof.router(),
        reserves.router(),
        loyalty_rewards.router(),
        loyalty_staking.router(),
        fallback.router(),
    ]
