"""Seeded games: /games menu, /dice, /limbo, /plinko typed, and a panel of buttons for phones."""

from __future__ import annotations

from aiogram import F, Router
from aiogram.filters import Command, CommandObject
from aiogram.filters.callback_data import CallbackData
from aiogram.types import CallbackQuery, InlineKeyboardMarkup, Message
from aiogram.utils.keyboard import InlineKeyboardBuilder

from core.config import Settings
from core.identity.users import User
from core.money.amounts import parse_amount
from core.money.assets import ASSETS, get_asset
from core.money.codes import Code
from core.platform.db import Database
from core.platform.params import Params
from core.play import fair, games
from core.play.stakes import rules_for, step_stake
from handlers.common import errors, labels
from handlers.common.args import words
from handlers.common.data import shown
from handlers.common.formatting import percent
from handlers.common.i18n import _, __, amount
from handlers.common.keys import update_key
from handlers.common.menu import MenuCB, back_button

RISKS = {"l": "low", "m": "medium", "h": "high"}
# What players read; typed commands keep the English words (/plinko 0.0001 DOGE 16 high).
GAME_NAMES = {"dice": __("🎲 Dice"), "limbo": __("🚀 Limbo"), "plinko": __("🔻 Plinko")}
PLINKO_NAMES = {
    "low": __("🔻 Plinko, {rows} rows, low risk"),
    "medium": __("🔻 Plinko, {rows} rows, medium risk"),
    "high": __("🔻 Plinko, {rows} rows, high risk"),
}
DEFAULTS = {"d": (5050, "o"), "l": (200, ""), "p": (16, "l")}  # dice over 50.50, limbo 2x, plinko 16 low


class PlayCB(CallbackData, prefix="gp"):
    """A bet on the panel: game d/l/p, asset, amount (minor units), x (target or rows), y (o/u or risk)."""

    act: str  # show | half | dbl | go
    g: str
    a: str
    amt: int
    x: int
    y: str


class GamesCB(CallbackData, prefix="gm"):
    to: str  # repeat


def _params(g: str, x: int, y: str) -> tuple[str, dict]:
    if g == "d":
        return "dice", {"target": x, "direction": fair.OVER if y == "o" else fair.UNDER if y == "u" else y}
    if g == "l":
        return "limbo", {"target": x}
    return "plinko", {"rows": x, "risk": RISKS.get(y, y)}


def _short(bet: games.Bet) -> tuple[str, int, str]:
    p = bet.params
    if bet.game == "dice":
        return "d", p["target"], "o" if p["direction"] == fair.OVER else "u"
    if bet.game == "limbo":
        return "l", p["target"], ""
    return "p", p["rows"], p["risk"][0]


def describe(game: str, params: dict) -> str:
    if game == "dice":
        word = _("over") if params["direction"] == fair.OVER else _("under")
        return _("🎲 Dice {direction} {target}").format(
            direction=word, target=fair.format_fixed(params["target"])
        )
    if game == "limbo":
        return _("🚀 Limbo at {target}x").format(target=fair.format_fixed(params["target"]))
    return str(PLINKO_NAMES[params["risk"]]).format(rows=params["rows"])


def result_text(bet: games.Bet) -> str:
    if bet.game == "dice":
        shown = _("Roll: <b>{roll}</b>").format(roll=fair.format_fixed(bet.result))
    elif bet.game == "limbo":
        shown = _("Result: <b>{x}x</b>").format(x=fair.limbo_text(bet.result))
    else:
        shown = _("The ball landed in slot {slot} of {slots}.").format(
            slot=bet.result, slots=bet.params["rows"] + 1
        )
    if bet.payout > bet.amount:
        verdict = _("You won {payout} ({x}x).")
    elif bet.payout > 0:
        verdict = _("Paid back {payout} ({x}x).")
    else:
        verdict = _("You lost {stake}.")
    verdict = verdict.format(
        payout=amount(bet.payout, bet.asset),
        x=fair.format_fixed(bet.multiplier_x10k, 4),
        stake=amount(bet.amount, bet.asset),
    )
    footer = _("Bet #{id}, nonce {nonce}. Check it: /verify {id}").format(id=bet.id, nonce=bet.nonce)
    return "\n".join(
        [describe(bet.game, bet.params) + " · " + amount(bet.amount, bet.asset), shown, verdict, footer]
    )


def panel(g: str, asset: str, amt: int, x: int, y: str) -> InlineKeyboardMarkup:
    kb = InlineKeyboardBuilder()
    for act, text in (("half", "½"), ("dbl", "×2"), ("go", _("▶️ Play"))):
        kb.button(text=text, callback_data=PlayCB(act=act, g=g, a=asset, amt=amt, x=x, y=y))
    kb.button(text=_("🔁 Repeat last bet"), callback_data=GamesCB(to="repeat"))
    kb.adjust(3, 1)
    kb.row(back_button())
    return kb.as_markup()


def panel_text(g: str, asset: str, amt: int, x: int, y: str) -> str:
    game, params = _params(g, x, y)
    return "\n".join(
        [
            describe(game, params),
            _("Bet: {amount}").format(amount=amount(amt, asset)),
            _(
                "Tap ▶️ Play, or type a bet: /dice 0.0001 DOGE over 50.5, /limbo 0.0001 DOGE 2.5, /plinko 0.0001 DOGE 16 high"
            ),
        ]
    )


def games_menu() -> InlineKeyboardMarkup:
    kb = InlineKeyboardBuilder()
    for game, to in (("dice", "d"), ("limbo", "l"), ("plinko", "p")):
        x, y = DEFAULTS[to]
        kb.button(
            text=str(GAME_NAMES[game]), callback_data=PlayCB(act="show", g=to, a="DOGE", amt=10_000, x=x, y=y)
        )
    kb.button(text=_("📈 Crash"), callback_data=MenuCB(to="crash"))
    kb.button(text=_("🔐 Fairness"), callback_data=MenuCB(to="fair"))
    kb.button(text=_("📋 My bets"), callback_data=MenuCB(to="bets"))
    kb.button(text=_("🛑 Limits"), callback_data=MenuCB(to="limits"))
    kb.adjust(3, 2, 2)
    kb.row(back_button())
    return kb.as_markup()


def games_text() -> str:
    return _(
        "<b>Games</b>\nEvery result is provably fair: check any bet with /verify. "
        "Set limits for yourself with /limits."
    )


async def cmd_games(message: Message) -> None:
    await message.answer(games_text(), reply_markup=games_menu())


async def cb_games(query: CallbackQuery) -> None:
    message = shown(query)
    await message.edit_text(games_text(), reply_markup=games_menu())
    await query.answer()


async def _play(
    db: Database,
    params: Params,
    settings: Settings,
    user: User,
    game: str,
    asset: str,
    amt: int,
    p: dict,
    idem: str,
):
    return await db.write(
        games.place_bet,
        user_id=user.id,
        game=game,
        asset=asset,
        amount=amt,
        params=p,
        rules=rules_for(params, asset),
        idem=idem,
        secret_key=settings.secret_key,
    )


def _typed(game: str, args: list[str]) -> tuple[str, int, dict] | None:
    """AMOUNT ASSET then the game's words; None when the shape is wrong."""
    need = {"dice": 4, "limbo": 3, "plinko": 4}[game]
    if len(args) != need:
        return None
    asset = get_asset(args[1])
    amt = parse_amount(args[0], asset)
    if game == "dice":
        direction = args[2].lower()
        if direction not in (fair.OVER, fair.UNDER):
            raise fair.InvalidBet("bad_direction")
        return asset.code, amt, {"target": games.parse_hundredths(args[3]), "direction": direction}
    if game == "limbo":
        return asset.code, amt, {"target": games.parse_hundredths(args[2])}
    if not (args[2].isascii() and args[2].isdigit() and len(args[2]) <= 2):
        raise fair.InvalidBet("bad_rows")
    return asset.code, amt, {"rows": int(args[2]), "risk": args[3].lower()}


USAGE = {
    "dice": __("Usage: /dice AMOUNT ASSET over|under TARGET\nExample: /dice 0.0001 DOGE over 50.5"),
    "limbo": __("Usage: /limbo AMOUNT ASSET TARGET\nExample: /limbo 0.0001 DOGE 2.5"),
    "plinko": __(
        "Usage: /plinko AMOUNT ASSET ROWS RISK\nRows 8 to 16, risk low, medium or high. Example: /plinko 0.0001 DOGE 16 high"
    ),
}


async def cmd_game(
    message: Message, command: CommandObject, user: User, db: Database, params: Params, settings: Settings
) -> None:
    game = command.command.lower()
    parsed = _typed(game, words(command))
    if parsed is None:
        await message.answer(str(USAGE[game]))
        return
    asset, amt, p = parsed
    bet = await _play(db, params, settings, user, game, asset, amt, p, update_key(message))
    g, x, y = _short(bet)
    await message.answer(result_text(bet), reply_markup=panel(g, asset, amt, x, y))


_VALID = (
    F.act.in_({"show", "half", "dbl", "go"}) & F.g.in_(set(DEFAULTS)) & F.a.in_(set(ASSETS)) & (F.amt > 0)
)


async def cb_play(
    query: CallbackQuery, callback_data: PlayCB, user: User, db: Database, params: Params, settings: Settings
) -> None:
    message = shown(query)
    c = callback_data
    amt = step_stake(c.amt, c.act)
    if c.act != "go":
        await message.edit_text(
            panel_text(c.g, c.a, amt, c.x, c.y), reply_markup=panel(c.g, c.a, amt, c.x, c.y)
        )
        await query.answer()
        return
    game, p = _params(c.g, c.x, c.y)
    bet = await _play(db, params, settings, user, game, c.a, amt, p, update_key(query))
    await message.edit_text(result_text(bet), reply_markup=panel(c.g, c.a, amt, c.x, c.y))
    await query.answer()


async def cb_repeat(
    query: CallbackQuery, user: User, db: Database, params: Params, settings: Settings
) -> None:
    message = shown(query)
    last = await db.read(games.last_bet, user.id)
    if last is None:
        await query.answer(_("No bet to repeat yet."), show_alert=True)
        return
    bet = await _play(
        db, params, settings, user, last.game, last.asset, last.amount, last.params, update_key(query)
    )
    g, x, y = _short(bet)
    await message.edit_text(result_text(bet), reply_markup=panel(g, bet.asset, bet.amount, x, y))
    await query.answer()


def _max_profit(e) -> str:
    return _(
        "That bet could win more than the current limit of {limit} per bet. Lower the stake or the target."
    ).format(limit=amount(int(e.params["limit"]), str(e.params["asset"])))


errors.register(
    "below_min",
    lambda e: _("The smallest bet in {asset} is {min}.").format(
        asset=e.params["asset"], min=amount(int(e.params["min"]), str(e.params["asset"]))
    ),
)
errors.register(
    "above_max",
    lambda e: _("The largest bet in {asset} is {max}.").format(
        asset=e.params["asset"], max=amount(int(e.params["max"]), str(e.params["asset"]))
    ),
)
errors.register("max_profit", _max_profit)
errors.register(
    "loss_limit",
    lambda e: _("Your daily loss limit of {limit} would be passed. You can still lose {left} today.").format(
        limit=amount(int(e.params["limit"]), str(e.params["asset"])),
        left=amount(int(e.params["left"]), str(e.params["asset"])),
    ),
)
errors.register(
    "self_excluded",
    lambda e: _("You have paused games until {until:%Y-%m-%d %H:%M} UTC.").format(until=e.params["until"]),
)
errors.register("bad_game", __("There is no such game."))
errors.register("bad_direction", __("Choose over or under."))
errors.register("target_out_of_range", __("That target is outside the allowed range."))
errors.register(
    "chance_out_of_range",
    lambda e: _("The win chance must be between {min}% and {max}%.").format(
        min=percent(int(e.params["min"])), max=percent(int(e.params["max"]))
    ),
)
errors.register("bad_rows", __("Plinko has 8 to 16 rows."))
errors.register("bad_risk", __("Risk is low, medium or high."))
errors.register("bad_number", __("Write the target as a number, like 50.5 or 2.5."))
errors.register("bad_nonce", __("That bet is not valid."))
errors.register("bad_edge", __("That bet is not valid."))
labels.register(Code.BET, __("Game bet"))
labels.register(Code.WIN, __("Game win"))


def router() -> Router:
    routes = Router(name=__name__)
    routes.message.register(cmd_games, Command("games"))
    routes.callback_query.register(cb_games, MenuCB.filter(F.to == "games"))
    routes.message.register(cmd_game, Command("dice", "limbo", "plinko"))
    routes.callback_query.register(cb_play, PlayCB.filter(_VALID))
    routes.callback_query.register(cb_repeat, GamesCB.filter(F.to == "repeat"))
    return routes
