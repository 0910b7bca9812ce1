"""Seeded games: /games menu, /dice, /limbo, /plinko typed, and a panel of buttons for phones."""

from __future__ import annotations

from datetime import datetime
from functools import lru_cache

from aiogram import F, Router
from aiogram.filters import Command, CommandObject
from aiogram.filters.callback_data import CallbackData
from aiogram.types import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, Message
from aiogram.utils.keyboard import InlineKeyboardBuilder

from core.config import Settings
from core.errors import DomainError
from core.identity.users import User
from core.money.amounts import parse_amount
from core.money.assets import ASSETS, get_asset
from core.money.codes import Code
from core.platform.db import Database
from core.platform.params import Params
from core.play import fair, games
from core.play.stakes import Rules, rules_for
from handlers.common import errors, labels
from handlers.common.args import words
from handlers.common.data import shown
from handlers.common.formatting import percent
from handlers.common.i18n import _, __, amount, get_i18n
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


LIMBO_TARGETS = (150, 200, 300, 500, 1000, 10000)  # hundredths: 1.5x .. 100x
PLINKO_ROW_CHOICES = (8, 10, 12, 14, 16)
DICE_STEP = 500  # the dice target buttons move it by 5.00


def times(hundredths: int) -> str:
    """A multiplier as players read it: 1.01x, 2.5x, 1,000,000x."""
    whole, frac = divmod(hundredths, 100)
    return f"{whole:,}" + (f".{frac:02d}".rstrip("0") if frac else "") + "x"


def _cb(c: PlayCB, **changes: object) -> PlayCB:
    return c.model_copy(update=changes)


def _dice_bounds(y: str, edge_bp: int) -> tuple[int, int]:
    """The dice targets (hundredths) whose win chance is allowed, for over (o) or under (u)."""
    top = fair.dice_max_chance(edge_bp)
    if y == "o":
        return 10_000 - top, 10_000 - fair.DICE_MIN_CHANCE_BP
    return fair.DICE_MIN_CHANCE_BP, top


def panel(c: PlayCB, coins: list[str], rules: Rules) -> InlineKeyboardMarkup:
    """Buttons for everything a typed bet takes: coin (those held), stake, and the game's own.
    Built once per bet shape, coins, rules and language: ▶️ Play again reuses it."""
    locale = get_i18n().current_locale
    return _panel_markup(c.pack(), tuple(coins), rules.edge_bp, rules.limbo_max, locale)


@lru_cache(maxsize=2048)
def _panel_markup(
    packed: str, coins: tuple[str, ...], edge_bp: int, limbo_max: int, locale: str
) -> InlineKeyboardMarkup:
    c = PlayCB.unpack(packed)
    kb = InlineKeyboardBuilder()
    sizes: list[int] = []
    shown_coins = [code for code in coins if code in ASSETS] or [c.a]
    if c.a not in shown_coins:
        shown_coins.append(c.a)
    for code in shown_coins[:6]:
        kb.button(text=f"• {code}" if code == c.a else code, callback_data=_cb(c, act="coin", a=code))
    sizes.append(len(shown_coins[:6]))
    for act, text in (("half", "½"), ("dbl", "×2"), ("min", _("Min")), ("max", _("Max"))):
        kb.button(text=text, callback_data=_cb(c, act=act))
    sizes.append(4)
    if c.g == "d":
        low, high = _dice_bounds(c.y, edge_bp)
        kb.button(text="−5", callback_data=_cb(c, act="show", x=max(low, c.x - DICE_STEP)))
        kb.button(text="+5", callback_data=_cb(c, act="show", x=min(high, c.x + DICE_STEP)))
        flip, word = ("u", _("under")) if c.y == "o" else ("o", _("over"))
        kb.button(
            text=_("⇄ {direction}").format(direction=word),
            callback_data=_cb(c, act="show", x=10_000 - c.x, y=flip),
        )
        sizes.append(3)
    elif c.g == "l":
        targets = [t for t in LIMBO_TARGETS if t <= limbo_max]
        for t in targets:
            kb.button(text=("• " if t == c.x else "") + times(t), callback_data=_cb(c, act="show", x=t))
        sizes.append(len(targets))
    else:
        for rows in PLINKO_ROW_CHOICES:
            kb.button(
                text=("• " if rows == c.x else "") + str(rows), callback_data=_cb(c, act="show", x=rows)
            )
        for short, risk in RISKS.items():
            word = {"low": _("low"), "medium": _("medium"), "high": _("high")}[risk]
            kb.button(text=("• " if short == c.y else "") + word, callback_data=_cb(c, act="show", y=short))
        sizes += [len(PLINKO_ROW_CHOICES), len(RISKS)]
    kb.button(text=_("▶️ Play"), callback_data=_cb(c, act="go"))
    kb.button(text=_("🔁 Repeat last bet"), callback_data=GamesCB(to="repeat"))
    sizes.append(2)
    kb.adjust(*sizes)
    kb.row(InlineKeyboardButton(text=_("⬅️ Games"), callback_data=MenuCB(to="games").pack()), back_button())
    return kb.as_markup()


def balance_line(asset: str, p: games.Panel) -> str:
    return _("Balance: {amount}").format(amount=amount(p.stakes.available, asset))


def panel_text(c: PlayCB, p: games.Panel) -> str:
    game, params = _params(c.g, c.x, c.y)
    return "\n".join(
        [
            describe(game, params),
            _("Bet: {amount}").format(amount=amount(c.amt, c.a)),
            balance_line(c.a, p),
            _(
                "Tap ▶️ Play, or type a bet: /dice 0.0001 DOGE over 50.5, /limbo 0.0001 DOGE 2.5, /plinko 0.0001 DOGE 16 high"
            ),
        ]
    )


def games_menu(coins: list[str], params: Params) -> InlineKeyboardMarkup:
    asset = coins[0] if coins else "DOGE"
    stake = rules_for(params, asset).min_bet
    kb = InlineKeyboardBuilder()
    for game, to in (("dice", "d"), ("limbo", "l"), ("plinko", "p")):
        x, y = DEFAULTS[to]
        kb.button(
            text=str(GAME_NAMES[game]), callback_data=PlayCB(act="show", g=to, a=asset, amt=stake, x=x, y=y)
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


def paused_view(until: datetime) -> tuple[str, InlineKeyboardMarkup]:
    kb = InlineKeyboardBuilder()
    kb.button(text=_("🛑 Limits"), callback_data=MenuCB(to="limits"))
    kb.button(text=_("📋 My bets"), callback_data=MenuCB(to="bets"))
    kb.adjust(2)
    kb.row(back_button())
    text = _("🛑 You paused games until {until:%Y-%m-%d %H:%M} UTC. They open again then.").format(
        until=until
    )
    return text, kb.as_markup()


async def games_view(db: Database, user: User, params: Params) -> tuple[str, InlineKeyboardMarkup]:
    home = await db.read(games.home, user.id)
    if home.paused_until is not None:
        return paused_view(home.paused_until)
    return games_text(), games_menu(home.coins, params)


async def cmd_games(message: Message, user: User, db: Database, params: Params) -> None:
    text, kb = await games_view(db, user, params)
    await message.answer(text, reply_markup=kb)


async def cb_games(query: CallbackQuery, user: User, db: Database, params: Params) -> None:
    message = shown(query)
    text, kb = await games_view(db, user, params)
    await message.edit_text(text, reply_markup=kb)
    await query.answer()


async def _panel(db: Database, user: User, params: Params, c: PlayCB) -> tuple[games.Panel, Rules]:
    rules = rules_for(params, c.a)
    game, p = _params(c.g, c.x, c.y)
    return await db.read(games.panel, user.id, game, c.a, p, rules), rules


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
    text, kb = await _after(db, user, params, bet)
    await message.answer(text, reply_markup=kb)


async def _after(
    db: Database, user: User, params: Params, bet: games.Bet
) -> tuple[str, InlineKeyboardMarkup]:
    """The result, the balance after it, and the panel to bet again."""
    g, x, y = _short(bet)
    c = PlayCB(act="show", g=g, a=bet.asset, amt=bet.amount, x=x, y=y)
    p, rules = await _panel(db, user, params, c)
    return result_text(bet) + "\n" + balance_line(bet.asset, p), panel(c, p.coins, rules)


_VALID = (
    F.act.in_({"show", "half", "dbl", "min", "max", "coin", "go"})
    & F.g.in_(set(DEFAULTS))
    & F.a.in_(set(ASSETS))
    & (F.amt > 0)
)


async def cb_play(
    query: CallbackQuery, callback_data: PlayCB, user: User, db: Database, params: Params, settings: Settings
) -> None:
    message = shown(query)
    c = callback_data
    if c.act == "go":
        game, p = _params(c.g, c.x, c.y)
        bet = await _play(db, params, settings, user, game, c.a, c.amt, p, update_key(query))
        text, kb = await _after(db, user, params, bet)
        await message.edit_text(text, reply_markup=kb)
        await query.answer()
        return
    if c.act == "coin":
        c = _cb(c, amt=rules_for(params, c.a).min_bet)
    panel_state, rules = await _panel(db, user, params, c)
    r = panel_state.stakes
    stake = {
        "half": lambda: r.half(c.amt),
        "dbl": lambda: r.double(c.amt),
        "min": lambda: r.min,
        "max": lambda: r.top(c.a, user.id),
    }.get(c.act, lambda: c.amt)()
    c = _cb(c, act="show", amt=max(1, stake))
    await message.edit_text(panel_text(c, panel_state), reply_markup=panel(c, panel_state.coins, rules))
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
    text, kb = await _after(db, user, params, bet)
    await message.edit_text(text, reply_markup=kb)
    await query.answer()


def _max_profit(e: DomainError) -> str:
    limit = amount(int(str(e.params["limit"])), str(e.params["asset"]))
    game = e.params.get("game")
    if game == "plinko":
        text = _("That bet could win more than the current limit of {limit} per bet. Lower the stake.")
    elif game == "crash":
        text = _(
            "That bet could win more than the current limit of {limit} per bet. "
            "Lower the stake or the auto cash-out."
        )
    else:
        text = _(
            "That bet could win more than the current limit of {limit} per bet. Lower the stake or the target."
        )
    return text.format(limit=limit)


def _target_range(e: DomainError) -> str:
    if "min" not in e.params:
        return _("That target is outside the allowed range.")
    return _("That target is outside the allowed range ({min} to {max}).").format(
        min=times(int(str(e.params["min"]))), max=times(int(str(e.params["max"])))
    )


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
errors.register("target_out_of_range", _target_range)
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
