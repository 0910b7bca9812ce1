"""How quotes read: one swap or a sweep's legs, with the rate, the spread, any fee and the total."""

from __future__ import annotations

from decimal import Decimal, localcontext

from aiogram.filters.callback_data import CallbackData
from aiogram.types import InlineKeyboardMarkup
from aiogram.utils.keyboard import InlineKeyboardBuilder

from core.exchange import Leg, Quote, SwapError
from core.exchange.quotes import SKIP_BELOW_MIN, SKIP_DAILY_LIMIT, SKIP_NO_PRICE
from handlers.common import errors, labels
from handlers.common.formatting import percent, wait_text
from handlers.common.i18n import _, __, amount


class QuoteCB(CallbackData, prefix="sq"):
    """Confirm (ok) or cancel (no) a swap or sweep quote by its id."""

    action: str
    id: int


def rate_text(leg: Leg) -> str:
    """'1 BTC = 600000 DOGE': the mid rate, with up to 12 decimals and no exponent."""
    with localcontext() as ctx:
        ctx.prec = 40
        rate = (Decimal(leg.p_from) / Decimal(leg.p_to)).quantize(Decimal(10) ** -12)
    text = format(rate, "f").rstrip("0").rstrip(".")
    return f"1 {leg.frm} = {text} {leg.to}"


def skip_text(reason: str | None) -> str:
    if reason == SKIP_NO_PRICE:
        return _("no fresh price")
    if reason == SKIP_BELOW_MIN:
        return _("below the swap minimum")
    if reason == SKIP_DAILY_LIMIT:
        return _("past your daily swap limit")
    return _("too small to swap")


def quote_text(q: Quote) -> str:
    if q.kind == "swap":
        leg = q.legs[0]
        lines = [
            _("<b>Swap quote</b>"),
            _("You give: {amount}").format(amount=amount(leg.amount_in, leg.frm)),
            _("Rate: {rate}").format(rate=rate_text(leg)),
            _("Spread: {percent}% ({amount})").format(
                percent=percent(leg.spread_bp), amount=amount(leg.spread, leg.to)
            ),
        ]
        if leg.fee:
            lines.append(_("Fee: {amount}").format(amount=amount(leg.fee, leg.to)))
        lines.append(_("You receive: <b>{amount}</b>").format(amount=amount(leg.amount_out, leg.to)))
    else:
        lines = [_("<b>Sweep into {asset}</b>").format(asset=q.target)]
        for leg in q.active:
            lines.append(
                _("• {given} → {got} at {rate} (spread {percent}%)").format(
                    given=amount(leg.amount_in, leg.frm),
                    got=amount(leg.amount_out, leg.to),
                    rate=rate_text(leg),
                    percent=percent(leg.spread_bp),
                )
            )
            if leg.fee:
                lines.append("  " + _("Fee: {amount}").format(amount=amount(leg.fee, leg.to)))
        for leg in q.skipped:
            lines.append(
                _("• {given}: skipped, {why}").format(
                    given=amount(leg.amount_in, leg.frm), why=skip_text(leg.skip)
                )
            )
        lines.append(_("You receive in total: <b>{amount}</b>").format(amount=amount(q.total_out, q.target)))
    lines.append(_("This quote is valid for {wait}.").format(wait=wait_text(q.ttl)))
    return "\n".join(lines)


def quote_view(q: Quote) -> tuple[str, InlineKeyboardMarkup]:
    kb = InlineKeyboardBuilder()
    kb.button(text=_("✅ Confirm"), callback_data=QuoteCB(action="ok", id=q.id))
    kb.button(text=_("✖️ Cancel"), callback_data=QuoteCB(action="no", id=q.id))
    return quote_text(q), kb.as_markup()


def done_text(q: Quote, *, again: bool = False) -> str:
    if again:
        return _("This quote was already confirmed; nothing more was moved.")
    if q.kind == "swap":
        leg = q.legs[0]
        return _("Done: {given} swapped for {got}.").format(
            given=amount(leg.amount_in, leg.frm), got=amount(leg.amount_out, leg.to)
        )
    return _("Done: {count} coins swept into {total}.").format(
        count=len(q.active), total=amount(q.total_out, q.target)
    )


def _min(e: SwapError) -> str:
    return _("The smallest amount of {asset} that can be swapped is {minimum}.").format(
        asset=e.params["asset"], minimum=amount(int(str(e.params["minimum"])), str(e.params["asset"]))
    )


def _daily(e: SwapError) -> str:
    asset = str(e.params["asset"])
    return _("That passes your daily swap limit of {limit}; {left} is left today.").format(
        limit=amount(int(str(e.params["limit"])), asset), left=amount(int(str(e.params["left"])), asset)
    )


labels.register("swap", __("Swap"))
labels.register("swap_fee", __("Swap spread and fee"))
errors.register("not_swappable", __("{asset} cannot be swapped here. Reward points convert with /convert."))
errors.register("same_asset", __("Please choose two different coins."))
errors.register(
    "no_price",
    __("Swaps with {asset} are paused: there is no fresh price for it right now. Please try again later."),
)
errors.register("below_min", _min, kind=SwapError)
errors.register("too_small", __("That amount is too small to swap: it would be worth nothing after the fee."))
errors.register("daily_limit", _daily)
errors.register(
    "no_liquidity", __("Not enough liquidity in {asset} for that swap right now. Nothing was changed.")
)
errors.register("nothing_held", __("You have no {asset} to swap."))
errors.register("bad_amount", __("The amount must be greater than zero."), kind=SwapError)
errors.register(
    "nothing_to_sweep",
    __("Nothing to sweep into {asset}: no other coin you hold is above the swap minimum with a fresh price."),
)
errors.register("quote_unknown", __("That quote does not exist. Nothing was changed."))
errors.register("quote_cancelled", __("That quote was cancelled. Nothing was changed."))
errors.register(
    "quote_replaced", __("That quote was replaced by a newer one. Please confirm the newest quote.")
)
