"""Provable fairness: /fair (seeds, rotation, client seed), /verify BET and /bets."""

from __future__ import annotations

import html

from aiogram import F, Router
from aiogram.filters import Command, CommandObject
from aiogram.filters.callback_data import CallbackData
from aiogram.types import CallbackQuery, InlineKeyboardMarkup, Message
from aiogram.utils.keyboard import InlineKeyboardBuilder

from core.config import Settings
from core.identity.users import User
from core.platform.db import Database
from core.play import crash_queue, fair, games
from handlers.common import errors
from handlers.common.args import row_id
from handlers.common.data import shown
from handlers.common.i18n import _, __, amount
from handlers.common.menu import MAX_ID, MenuCB, back_button
from handlers.common.private import private
from handlers.play.games import GAME_NAMES, describe


class FairCB(CallbackData, prefix="fs"):
    act: str  # rotate


class BetCB(CallbackData, prefix="bt"):
    id: int


def fair_text(st: games.SeedState) -> str:
    return "\n".join(
        [
            _("<b>Provably fair</b>"),
            _("Server seed (SHA-256): <code>{hash}</code>").format(hash=st.commitment),
            _("Next server seed (SHA-256): <code>{hash}</code>").format(hash=st.next_commitment),
            _("Client seed: <code>{seed}</code>").format(seed=html.escape(st.client_seed)),
            _("Nonce: {nonce}").format(nonce=st.nonce),
            "",
            _(
                "Rotate to reveal the server seed and check your bets with any Stake-style verifier. "
                "Set your own client seed with /clientseed TEXT (this rotates too)."
            ),
        ]
    )


def fair_keyboard() -> InlineKeyboardMarkup:
    kb = InlineKeyboardBuilder()
    kb.button(text=_("🔄 Rotate seeds"), callback_data=FairCB(act="rotate"))
    kb.row(back_button())
    return kb.as_markup()


def rotation_text(rot: games.Rotation) -> str:
    lines = [
        _("<b>Seeds rotated.</b>"),
        _("Revealed server seed: <code>{seed}</code>").format(seed=rot.revealed_seed),
        _("Its SHA-256: <code>{hash}</code>").format(hash=rot.revealed_commitment),
        _("It was used with client seed <code>{seed}</code> for nonces 0 to {last}.").format(
            seed=html.escape(rot.old_client_seed), last=max(0, rot.bets_made - 1)
        ),
        "",
        fair_text(rot.state),
    ]
    if not rot.client_seed_chosen:
        lines += [
            "",
            _(
                "A new client seed was drawn at random for your next bets. For a seed nobody but "
                "you chose, type your own: /clientseed TEXT"
            ),
        ]
    return "\n".join(lines)


async def cmd_fair(message: Message, user: User, db: Database, settings: Settings) -> None:
    st = await db.write(games.seed_state, user.id, secret_key=settings.secret_key)
    await message.answer(fair_text(st), reply_markup=fair_keyboard())


async def cb_fair_menu(query: CallbackQuery, user: User, db: Database, settings: Settings) -> None:
    message = shown(query)
    st = await db.write(games.seed_state, user.id, secret_key=settings.secret_key)
    await message.edit_text(fair_text(st), reply_markup=fair_keyboard())
    await query.answer()


async def cb_rotate(query: CallbackQuery, user: User, db: Database, settings: Settings) -> None:
    message = shown(query)
    rot = await db.write(games.rotate_seed, user.id, secret_key=settings.secret_key)
    await message.edit_text(rotation_text(rot), reply_markup=fair_keyboard())
    await query.answer()


async def cmd_clientseed(
    message: Message, command: CommandObject, user: User, db: Database, settings: Settings
) -> None:
    rot = await db.write(games.rotate_seed, user.id, command.args or "", secret_key=settings.secret_key)
    await message.answer(rotation_text(rot), reply_markup=fair_keyboard())


_STEPS = {
    "roll": __("Roll = floor(float × 10001) / 100 = {value}"),
    "house": __(
        "Result = max(1, floor(1e8 / (float × 1e8) × {value} × 100) / 100), "
        "computed in IEEE-754 doubles as Stake's verifier (JavaScript) does"
    ),
    "result": __("Result = {value}x"),
    "path": __("Path (R when floor(float × 2) = 1): {value}"),
    "bucket": __("Slot = number of R = {value}"),
}


def _step(key: str, value) -> str | None:
    if key == "roll":
        value = fair.format_fixed(int(value))
    elif key == "result":
        value = fair.limbo_text(int(value))
    text = _STEPS.get(key)
    return str(text).format(value=value) if text else None


def verify_text(check: games.BetCheck) -> str:
    bet = check.bet
    lines = [
        _("<b>Bet #{id}</b>: {game} · {stake} → {payout}").format(
            id=bet.id,
            game=describe(bet.game, bet.params),
            stake=amount(bet.amount, bet.asset),
            payout=amount(bet.payout, bet.asset),
        ),
        _("Server seed (SHA-256): <code>{hash}</code>").format(hash=check.commitment),
        _("Client seed: <code>{seed}</code>").format(seed=html.escape(bet.client_seed)),
        _("Nonce: {nonce}").format(nonce=bet.nonce),
    ]
    v = check.verification
    if v is None:
        lines.append(
            _("The server seed is still secret. Rotate your seeds in /fair to reveal it, then check again.")
        )
        return "\n".join(lines)
    lines.append(_("Server seed: <code>{seed}</code>").format(seed=v.server_seed))
    for i, mac in enumerate(v.hmacs):
        lines.append(f"HMAC {i}: <code>{mac}</code>")
    lines.append(_("Floats: {floats}").format(floats=", ".join(f[:12] for f in v.floats)))
    lines += [s for s in (_step(k, val) for k, val in v.steps) if s]
    lines.append(_("Multiplier: {x}x").format(x=fair.format_fixed(v.multiplier_x10k, 4)))
    return "\n".join(lines)


@private
async def cmd_verify(message: Message, command: CommandObject, user: User, db: Database) -> None:
    bet_id = row_id(command.args)
    if bet_id is None:
        await message.answer(_("Usage: /verify BET, with the bet number from /bets."))
        return
    await message.answer(verify_text(await db.read(games.check_bet, user.id, bet_id)))


@private
async def cb_bet(query: CallbackQuery, callback_data: BetCB, user: User, db: Database) -> None:
    message = shown(query)
    await message.answer(verify_text(await db.read(games.check_bet, user.id, callback_data.id)))
    await query.answer()


def crash_lines(lines: list[crash_queue.CrashLine]) -> list[str]:
    """Crash bets in /bets: result, the round's hash once it crashed, and the link that checks it."""
    out = [_("<b>Crash</b>")]
    for c in lines:
        b = c.bet
        if b.status == "open":
            result = _("open")
        else:
            net = b.payout - b.amount
            result = ("+" if net >= 0 else "−") + amount(abs(net), b.asset)
        line = _("📈 Round #{game} · {stake} · {result}").format(
            game=c.game, stake=amount(b.amount, b.asset), result=result
        )
        if c.hash is not None:
            line += "\n    " + _("Hash <code>{hash}</code> · check: /crashround_{round}").format(
                hash=c.hash[:16] + "…", round=b.round_id
            )
        out.append(line)
    return out


async def bets_view(db: Database, user: User) -> tuple[str, InlineKeyboardMarkup]:
    recent = await db.read(games.recent_bets, user.id, 10)
    crashes = await db.read(crash_queue.recent_crash_bets, user.id, 5)
    kb = InlineKeyboardBuilder()
    if not recent and not crashes:
        text = _("No bets yet. Try /games.")
    else:
        text = _("<b>Your recent bets</b> (tap one to verify)") if recent else _("<b>Your recent bets</b>")
        if crashes:
            text = "\n".join([text, *crash_lines(crashes)])
        for b in recent:
            sign = "+" if b.net >= 0 else "−"
            kb.button(
                text=f"#{b.id} {GAME_NAMES[b.game]!s} {sign}{amount(abs(b.net), b.asset)}",
                callback_data=BetCB(id=b.id),
            )
    kb.adjust(1)
    kb.row(back_button())
    return text, kb.as_markup()


@private
async def cmd_bets(message: Message, user: User, db: Database) -> None:
    text, kb = await bets_view(db, user)
    await message.answer(text, reply_markup=kb)


@private
async def cb_bets(query: CallbackQuery, user: User, db: Database) -> None:
    message = shown(query)
    text, kb = await bets_view(db, user)
    await message.edit_text(text, reply_markup=kb)
    await query.answer()


errors.register("seeds_changed", __("Your seeds changed just now. Look at /fair and try again."))
errors.register(
    "seeds_unreadable",
    __("Your game seeds cannot be read right now, so no bet was placed. Please contact support."),
)
errors.register("not_found", __("No such bet of yours."))
_SEED_TEXTS = {
    "empty": __("Usage: /clientseed TEXT (1 to 64 visible characters)."),
    "too_long": __("The client seed can have at most {max_length} characters."),
    "control_chars": __("The client seed cannot contain control characters."),
    "unprintable": __("The client seed may only contain visible characters."),
}
for _reason, _text in _SEED_TEXTS.items():
    errors.register(f"seed_{_reason}", _text)  # core.play.games: a refused bet's seed
    errors.register(_reason, _text, kind=fair.InvalidClientSeed)  # core.play.fair itself


def router() -> Router:
    routes = Router(name=__name__)
    routes.message.register(cmd_fair, Command("fair"))
    routes.callback_query.register(cb_fair_menu, MenuCB.filter(F.to == "fair"))
    routes.callback_query.register(cb_rotate, FairCB.filter(F.act == "rotate"))
    routes.message.register(cmd_clientseed, Command("clientseed"))
    routes.message.register(cmd_verify, Command("verify"))
    routes.callback_query.register(cb_bet, BetCB.filter((F.id > 0) & (F.id < MAX_ID)))
    routes.message.register(cmd_bets, Command("bets"))
    routes.callback_query.register(cb_bets, MenuCB.filter(F.to == "bets"))
    return routes
