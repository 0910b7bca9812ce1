"""Crash: /crash to join the next round, the Cash out button, and the admins' chain commands."""

from __future__ import annotations

import asyncio
import contextlib
import html
import logging
import math
import re
from datetime import datetime

from aiogram import Bot, F, Router
from aiogram.exceptions import TelegramBadRequest
from aiogram.filters import Command, CommandObject, Filter
from aiogram.filters.callback_data import CallbackData
from aiogram.types import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, Message
from aiogram.utils.keyboard import InlineKeyboardBuilder

from core.config import Settings
from core.identity.users import User
from core.money.amounts import parse_amount
from core.money.assets import ASSETS, get_asset
from core.money.codes import Code
from core.platform import bitcoin_node
from core.platform.db import Database
from core.platform.params import REGISTRY, Params
from core.platform.schema import utcnow
from core.play import crash, crash_chain, crash_queue, fair
from core.play.games import parse_hundredths
from core.play.stakes import coins_held, rules_for
from handlers.common import errors, labels
from handlers.common import notices as notice_texts
from handlers.common.args import row_id, words
from handlers.common.data import CrashRunner, shown
from handlers.common.filters import IsAdmin
from handlers.common.i18n import _, __, amount, get_i18n
from handlers.common.keys import update_key
from handlers.common.menu import MAX_ID, MenuCB, back_button
from handlers.play.games import times

log = logging.getLogger(__name__)


class CashCB(CallbackData, prefix="co"):
    bet: int


class CrashCB(CallbackData, prefix="cj"):
    act: str  # show | join | half | dbl | min | max | coin
    a: str
    amt: int


def x(hundredths: int) -> str:
    return fair.format_fixed(hundredths) + "x"


def cash_button(bet_id: int) -> InlineKeyboardMarkup:
    kb = InlineKeyboardBuilder()
    kb.button(text=_("💸 Cash out"), callback_data=CashCB(bet=bet_id))
    return kb.as_markup()


def joined_text(bet: crash.CrashBet, rnd: crash.Round, now: datetime | None = None) -> str:
    lines = [
        _("📈 <b>Crash round #{game}</b>").format(game=rnd.game),
        _("Your bet: {amount}").format(amount=amount(bet.amount, bet.asset)),
    ]
    # "Auto cash-out" only for a player who set one; the ceiling every bet has is the profit cap.
    if bet.asked is not None and bet.auto_cashout is not None:
        if bet.auto_cashout < bet.asked:
            lines.append(_("Auto cash-out at {x} (lowered to the profit cap)").format(x=x(bet.auto_cashout)))
        else:
            lines.append(_("Auto cash-out at {x}").format(x=x(bet.auto_cashout)))
    elif bet.auto_cashout is not None and bet.auto_cashout < crash.AUTO_MAX:
        lines.append(_("Profit cap: the bet cashes out by itself at {x}").format(x=x(bet.auto_cashout)))
    lines.append(countdown(rnd, now))
    return "\n".join(lines)


def countdown(rnd: crash.Round, now: datetime | None = None) -> str:
    left = max(0, math.ceil((rnd.betting_ends_at - (now or utcnow())).total_seconds()))
    return _("⏳ The round starts in {seconds} s; then tap Cash out before it crashes.").format(seconds=left)


def queued_text(q: crash_queue.Queued, running: crash.Round | None) -> str:
    head = (
        _("Crash round #{game} is being played now.").format(game=running.game)
        if running is not None
        else _("The next crash round opens in a moment.")
    )
    return "\n".join(
        [
            head,
            _(
                "You are in the queue for the next round with {amount}. This message changes when it opens."
            ).format(amount=amount(q.amount, q.asset)),
        ]
    )


async def _join(
    message: Message, db: Database, params: Params, user: User, asset: str, amt: int, auto, idem: str
):
    done = await db.write(
        crash_queue.join_or_queue,
        user_id=user.id,
        asset=asset,
        amount=amt,
        auto_cashout=auto,
        rules=rules_for(params, asset),
        idem=idem,
        chat_id=message.chat.id,
        locale=user.locale,
    )
    if done.queued is not None:
        if done.queued.replayed:
            return done
        sent = await message.answer(queued_text(done.queued, done.running))
        await db.write(crash_queue.set_queued_message, done.queued.id, sent.message_id)
        return done
    bet, rnd = done.bet, done.round
    assert bet is not None and rnd is not None  # joined
    if bet.replayed and bet.message_id:
        return done
    sent = await message.answer(joined_text(bet, rnd), reply_markup=cash_button(bet.id))
    await db.write(crash.set_message, bet.id, sent.message_id)
    return done


async def tell_opened(bot: Bot, rnd: crash.Round, opened: list[crash_queue.Opened]) -> None:
    """Edit each queued join's message once its round has opened: the bet, or why it was not
    made (jobs.crash calls this, injected by bot.py)."""
    i18n = get_i18n()
    for o in opened:
        if o.queued.message_id is None:
            continue
        with i18n.context(), i18n.use_locale(o.queued.locale):
            if o.bet is not None:
                text, markup = joined_text(o.bet, rnd), cash_button(o.bet.id)
            else:
                assert o.refusal is not None
                text = _("You could not join crash round #{game}: {reason}").format(
                    game=rnd.game, reason=errors.explain(o.refusal, as_html=True)
                )
                markup = None
        try:
            await bot.edit_message_text(
                text=text, chat_id=o.queued.chat_id, message_id=o.queued.message_id, reply_markup=markup
            )
        except Exception:  # deleted message, blocked bot: the bet stands all the same
            log.debug("could not edit a queued crash join", exc_info=True)


def crash_panel(c: CrashCB, coins: list[str]) -> InlineKeyboardMarkup:
    kb = InlineKeyboardBuilder()
    shown_coins = [code for code in coins if code in ASSETS][:6] or [c.a]
    if c.a not in shown_coins:
        shown_coins.append(c.a)
    for code in shown_coins:
        kb.button(
            text=f"• {code}" if code == c.a else code, callback_data=CrashCB(act="coin", a=code, amt=c.amt)
        )
    for act, text in (("half", "½"), ("dbl", "×2"), ("min", _("Min")), ("max", _("Max"))):
        kb.button(text=text, callback_data=CrashCB(act=act, a=c.a, amt=c.amt))
    kb.button(text=_("▶️ Join next round"), callback_data=CrashCB(act="join", a=c.a, amt=c.amt))
    kb.adjust(len(shown_coins), 4, 1)
    kb.row(InlineKeyboardButton(text=_("⬅️ Games"), callback_data=MenuCB(to="games").pack()), back_button())
    return kb.as_markup()


async def crash_info(db: Database, asset: str, amt: int, available: int | None = None) -> str:
    chain = await db.read(crash.latest_chain)
    lines = [_("📈 <b>Crash</b>: the multiplier rises until it crashes. Cash out before that.")]
    if chain is None or chain.salt is None:
        lines.append(_("Crash is not open yet: an admin has not set the game up. Please come back later."))
    else:
        lines.append(
            _("Chain commitment: <code>{hash}</code>\nSalt: <code>{salt}</code>").format(
                hash=chain.commitment, salt=chain.salt
            )
        )
    for rnd in await db.read(crash.recent_rounds, 5):
        lines.append(_("#{game}: {x}").format(game=rnd.game, x=x(rnd.crash_point)))
    lines.append(_("Bet: {amount}").format(amount=amount(amt, asset)))
    if available is not None:
        lines.append(_("Balance: {amount}").format(amount=amount(available, asset)))
    lines.append(_("Type /crash 0.0001 DOGE auto 2 to join with an automatic cash-out at 2x."))
    return "\n".join(lines)


async def _panel_view(
    db: Database, user: User, params: Params, c: CrashCB
) -> tuple[str, InlineKeyboardMarkup]:
    stakes, coins = await db.read(crash_queue.stake_panel, user.id, c.a, rules_for(params, c.a))
    return await crash_info(db, c.a, c.amt, stakes.available), crash_panel(c, coins)


async def _first_panel(db: Database, user: User, params: Params) -> tuple[str, InlineKeyboardMarkup]:
    coins = await db.read(coins_held, user.id)
    asset = coins[0] if coins else "DOGE"
    c = CrashCB(act="show", a=asset, amt=rules_for(params, asset).min_bet)
    return await _panel_view(db, user, params, c)


async def cmd_crash(
    message: Message, command: CommandObject, user: User, db: Database, params: Params
) -> None:
    args = words(command)
    if not args:
        text, kb = await _first_panel(db, user, params)
        await message.answer(text, reply_markup=kb)
        return
    if len(args) not in (2, 4) or (len(args) == 4 and args[2].lower() != "auto"):
        await message.answer(_("Usage: /crash AMOUNT ASSET, or /crash AMOUNT ASSET auto MULTIPLIER"))
        return
    asset = get_asset(args[1])
    amt = parse_amount(args[0], asset)
    auto = parse_hundredths(args[3]) if len(args) == 4 else None
    await _join(message, db, params, user, asset.code, amt, auto, update_key(message))


async def cb_crash_menu(query: CallbackQuery, user: User, db: Database, params: Params) -> None:
    message = shown(query)
    text, kb = await _first_panel(db, user, params)
    await message.edit_text(text, reply_markup=kb)
    await query.answer()


async def cb_crash(
    query: CallbackQuery, callback_data: CrashCB, user: User, db: Database, params: Params
) -> None:
    message = shown(query)
    c = callback_data
    if c.act == "join":
        done = await _join(message, db, params, user, c.a, c.amt, None, update_key(query))
        await query.answer(
            _("You are in the next round.") if done.queued is None else _("You are in the queue.")
        )
        return
    rules = rules_for(params, c.a)
    if c.act == "coin":
        c = CrashCB(act="show", a=c.a, amt=rules.min_bet)
    r, _coins = await db.read(crash_queue.stake_panel, user.id, c.a, rules)
    stake = {
        "half": lambda: r.half(c.amt),
        "dbl": lambda: r.double(c.amt),
        "min": lambda: r.min,
        "max": lambda: r.top(c.a, user.id),
    }.get(c.act, lambda: c.amt)()
    text, kb = await _panel_view(db, user, params, CrashCB(act="show", a=c.a, amt=max(1, stake)))
    await message.edit_text(text, reply_markup=kb)
    await query.answer()


async def cb_cash_out(query: CallbackQuery, callback_data: CashCB, user: User, db: Database) -> None:
    bet = await db.write(crash.cash_out, user_id=user.id, bet_id=callback_data.bet)
    assert bet.cashout is not None  # cash_out returns the bet cashed out
    done = _("Cashed out at {x}: {payout}").format(x=x(bet.cashout), payout=amount(bet.payout, bet.asset))
    await query.answer(done, show_alert=False)
    message = query.message
    if isinstance(message, Message) and message.text:  # the button goes at once, not at the next view
        head = message.html_text.split("\n", 1)[0]
        with contextlib.suppress(TelegramBadRequest):
            await message.edit_text(
                head
                + "\n"
                + _("You cashed out at {x}: {payout}").format(
                    x=x(bet.cashout), payout=amount(bet.payout, bet.asset)
                ),
                reply_markup=None,
            )


def proof_text(p: crash_queue.RoundProof, v: crash_chain.CrashVerification) -> str:
    lines = [
        _("📈 <b>Crash round #{game}</b> crashed at {x}.").format(
            game=p.round.game, x=x(p.round.crash_point)
        ),
        _("Game hash: <code>{hash}</code>").format(hash=p.hash),
        _("Salt (the Bitcoin block hash): <code>{salt}</code>").format(salt=html.escape(p.salt)),
        _("HMAC-SHA256(salt, game hash): <code>{mac}</code>").format(mac=v.hmac),
        _("Crash point from it: {x}").format(x=x(v.crash_point)),
    ]
    if v.game_number == p.round.game:
        lines.append(
            _(
                "Hashing the game hash {game} times with SHA-256 gives the chain's terminating hash "
                "<code>{hash}</code>: it was fixed before the round."
            ).format(game=p.round.game, hash=p.commitment)
        )
    else:
        lines.append(_("⚠️ This game hash does not lead to the chain's terminating hash."))
    return "\n".join(lines)


async def cmd_crashround(message: Message, command: CommandObject, db: Database) -> None:
    """/crashround ROUND: a crashed round's proof."""
    await _round_proof(message, db, command.args or "")


_ROUND_LINK = re.compile(r"/crashround_(\d{1,15})(?:@\w+)?", re.ASCII)


class RoundLink(Filter):
    """The /crashround_ROUND link /bets shows (a tappable command with its argument in it)."""

    async def __call__(self, message: Message) -> bool | dict[str, str]:
        found = _ROUND_LINK.fullmatch((message.text or "").strip())
        return {"round_arg": found.group(1)} if found else False


async def cmd_crashround_link(message: Message, db: Database, round_arg: str) -> None:
    await _round_proof(message, db, round_arg)


async def _round_proof(message: Message, db: Database, arg: str) -> None:
    round_id = row_id(arg)
    if round_id is None:
        await message.answer(_("Usage: /crashround ROUND, with the round number from /bets."))
        return
    p = await db.read(crash_queue.round_proof, round_id)
    v = await asyncio.to_thread(crash_chain.verify_crash_game, p.hash, p.salt, p.commitment, p.round.game)
    await message.answer(proof_text(p, v))


def _channels(params: Params, *, ops: bool) -> list:
    """Where public posts go: crash.channel, and for chain announcements ops.channel too (when
    the operators' channel is a setting of this bot)."""
    found = [params.get("crash.channel")]
    if ops and "ops.channel" in REGISTRY:
        found.append(params.get("ops.channel"))
    return list(dict.fromkeys(c for c in found if c))


async def post_to_channel(bot: Bot, params: Params, text: str, *, ops: bool = False) -> None:
    for channel in _channels(params, ops=ops):
        try:
            await bot.send_message(channel, text)
        except Exception:  # the channel is a courtesy copy: never fail the round for it
            log.warning("could not post to the channel %s", channel, exc_info=True)


def block_link(height: int | None) -> str:
    """A public page that answers with the hash of the block at ``height`` (Esplora's API)."""
    return f"https://mempool.space/api/block-height/{height}"


def commitment_text(chain: crash.Chain, tip: int) -> str:
    return "\n".join(
        [
            _("🔐 <b>New crash chain</b> of {length} games.").format(length=chain.length),
            _("Terminating hash: <code>{hash}</code>").format(hash=chain.commitment),
            _(
                "Salt: the hash of Bitcoin block #{height}, not mined yet (the newest block is #{tip}). "
                "The chain is fixed now, so nobody, the operator included, can fit it to that hash."
            ).format(height=chain.salt_height, tip=tip),
            "",
            _("How anyone can check it:"),
            _(
                "1. Block #{height} was mined after this message: compare its time on any block explorer."
            ).format(height=chain.salt_height),
            _(
                "2. The salt set with /crashsalt is that block's hash: {link} "
                "(or bitcoin-cli getblockhash {height})."
            ).format(link=block_link(chain.salt_height), height=chain.salt_height),
            _(
                "3. After each round its game hash is shown: SHA-256 of it is the previous round's hash (for "
                "the first round, the terminating hash above), and the crash point comes from "
                "HMAC-SHA256(key = the salt as hex text, message = the game hash), as on bustabit."
            ),
        ]
    )


async def _tip(args: str) -> int:
    """The newest Bitcoin height: the node's when one is configured, else the admin's."""
    typed = (args or "").strip()
    node = bitcoin_node.from_env()
    if node is not None:
        try:
            return await node.height()
        except bitcoin_node.NodeError as e:
            log.warning("the Bitcoin node did not answer getblockcount: %s", e)
            if not typed:
                raise crash.CrashRefused("node_failed", error=str(e)) from None
    if not typed:
        raise crash.CrashRefused("need_height")
    if not (typed.isascii() and typed.isdigit() and len(typed) <= 8):
        raise crash.CrashRefused("bad_height")
    return int(typed)


async def cmd_crashnew(
    message: Message,
    command: CommandObject,
    user: User,
    db: Database,
    params: Params,
    settings: Settings,
    bot: Bot,
) -> None:
    await db.read(crash.check_new_chain)  # refuse before seconds of hashing, not after
    tip = await _tip(command.args or "")
    new = await asyncio.to_thread(crash.build_chain, params.get("crash.chain_length"))
    chain = await db.write(
        crash.create_chain,
        new,
        secret_key=settings.secret_key,
        admin_id=user.id,
        tip_height=tip,
        salt_blocks=params.get("crash.salt_blocks"),
    )
    text = commitment_text(chain, tip)
    await message.answer(text)
    await post_to_channel(bot, params, text, ops=True)


async def _check_block(chain: crash.Chain | None, salt: str) -> bool:
    """True when a configured node confirms ``salt`` is the hash of the chain's block; refuses
    when it knows better. False (nothing to ask, or nothing worth asking): core decides."""
    node = bitcoin_node.from_env()
    if node is None or chain is None or chain.salt is not None or chain.salt_height is None:
        return False
    if not crash.is_block_hash(salt):
        return False
    try:
        tip = await node.height()
        if tip < chain.salt_height:
            raise crash.CrashRefused("salt_not_mined", height=chain.salt_height, tip=tip)
        mined = await node.block_hash(chain.salt_height)
    except bitcoin_node.NodeError as e:
        log.warning("the Bitcoin node did not answer: %s", e)
        raise crash.CrashRefused("node_failed", error=str(e)) from None
    if mined != salt.strip().lower():
        raise crash.CrashRefused("salt_wrong_block", height=chain.salt_height, hash=mined)
    return True


async def cmd_crashsalt(
    message: Message,
    command: CommandObject,
    user: User,
    db: Database,
    params: Params,
    bot: Bot,
    crash_runner: CrashRunner | None = None,
) -> None:
    salt = command.args or ""
    confirmed = await _check_block(await db.read(crash.latest_chain), salt)
    chain = await db.write(crash.set_salt, salt, admin_id=user.id, node_confirmed=confirmed)
    if crash_runner is not None:  # open the first round now, so "Rounds start now" is true
        await crash_runner.poke()
    text = _(
        "Crash salt set: <code>{salt}</code>, the hash of Bitcoin block #{height} ({link}), "
        "for chain <code>{hash}</code>. Rounds start now."
    ).format(
        salt=chain.salt, height=chain.salt_height, link=block_link(chain.salt_height), hash=chain.commitment
    )
    await message.answer(text)
    await post_to_channel(bot, params, text, ops=True)


def _early(e) -> str:
    return _(
        "Block #{height} cannot have been mined yet. Send its hash once it is: after {after:%H:%M} UTC "
        "at the earliest."
    ).format(height=e.params["height"], after=e.params["after"])


errors.register("no_round", __("No crash round is taking bets right now. Try again in a few seconds."))
errors.register(
    "not_open", __("Crash is not open yet: an admin has not set the game up. Please come back later.")
)
errors.register(
    "already_queued", __("You are already in the queue for the next round. It opens in a moment.")
)
errors.register("betting_closed", __("This round has started; join the next one in a few seconds."))
errors.register("crashed", __("Too late: the round has crashed."))
errors.register("not_started", __("The round has not started yet."))
errors.register("already_cashed", __("You have already cashed out."))
errors.register("round_not_over", __("That round is not over yet, or there is no such round."))
errors.register("already_joined", __("You are already in this round."))
errors.register(
    "bad_auto",
    lambda e: _("That auto cash-out is outside the allowed range ({min} to {max}).").format(
        min=times(int(e.params.get("min", crash.AUTO_MIN))),
        max=times(int(e.params.get("max", crash.AUTO_MAX))),
    ),
)
errors.register("no_chain", __("Create a chain first with /crashnew."))
errors.register("salt_set", __("The salt of this chain is already set."))
errors.register(
    "bad_salt",
    lambda e: _("The salt must be the hash of Bitcoin block #{height}: 64 hexadecimal characters.").format(
        height=e.params["height"]
    ),
)
errors.register("salt_early", _early)
errors.register(
    "salt_not_mined",
    lambda e: _("Block #{height} is not mined yet: the Bitcoin node is at #{tip}.").format(
        height=e.params["height"], tip=e.params["tip"]
    ),
)
errors.register(
    "salt_wrong_block",
    lambda e: _("That is not the hash of block #{height}. The Bitcoin node has <code>{hash}</code>.").format(
        height=e.params["height"], hash=e.params["hash"]
    ),
)
errors.register(
    "node_failed",
    lambda e: _("The Bitcoin node did not answer ({error}). Try again in a minute.").format(
        error=e.params["error"]
    ),
)
errors.register(
    "need_height",
    __(
        "Give the newest Bitcoin block height: /crashnew HEIGHT (any block explorer shows it, e.g. "
        "mempool.space). The chain commits to a block a few above it, whose hash becomes the salt. "
        "With a Bitcoin node in RPC_URL_BTC the bot asks the node itself."
    ),
)
errors.register("bad_height", __("The height is the number of the newest Bitcoin block, like 925000."))
errors.register(
    "no_block", __("This chain names no Bitcoin block for its salt: create a new one with /crashnew.")
)
errors.register("chain_exists", __("The current chain still has games to play."))
errors.register(
    "round_full",
    lambda e: _(
        "This round cannot take more winnings (at most {limit} more for all its players). "
        "Lower the auto cash-out or the stake, or join the next round."
    ).format(limit=amount(int(e.params["limit"]), str(e.params["asset"]))),
)
labels.register(Code.CRASH_BET, __("Crash bet"))
labels.register(Code.CRASH_COVER, __("Crash round cover"))
labels.register(Code.CRASH_WIN, __("Crash win"))


def _result(p: dict) -> str:
    if p["won"]:
        return _("Crash round #{game} is settled: you cashed out at {x}: {payout}.").format(
            game=p["game"], x=x(int(p["x"])), payout=amount(int(p["payout"]), str(p["asset"]))
        )
    return _("Crash round #{game} is settled: you lost {amount}.").format(
        game=p["game"], amount=amount(int(p["amount"]), str(p["asset"]))
    )


notice_texts.register(
    "crash_stuck",
    lambda p: _(
        "⚠️ Crash round #{game} could not be settled: {error}\nIts open bets stay on hold (the books "
        "balance), the bot tries again before every round, and the game goes on."
    ).format(game=p["game"], error=html.escape(str(p["error"]))),
)
notice_texts.register(
    "crash_settled", lambda p: _("✅ Crash round #{game} is settled now.").format(game=p["game"])
)
notice_texts.register("crash_result", _result)


def router() -> Router:
    routes = Router(name=__name__)
    routes.message.register(cmd_crash, Command("crash"))
    routes.callback_query.register(cb_crash_menu, MenuCB.filter(F.to == "crash"))
    routes.callback_query.register(
        cb_crash,
        CrashCB.filter(
            F.act.in_({"show", "join", "half", "dbl", "min", "max", "coin"})
            & F.a.in_(set(ASSETS))
            & (F.amt > 0)
        ),
    )
    routes.callback_query.register(cb_cash_out, CashCB.filter((F.bet > 0) & (F.bet < MAX_ID)))
    routes.message.register(cmd_crashround, Command("crashround"))
    routes.message.register(cmd_crashround_link, RoundLink())
    routes.message.register(cmd_crashnew, Command("crashnew"), IsAdmin())
    routes.message.register(cmd_crashsalt, Command("crashsalt"), IsAdmin())
    return routes
