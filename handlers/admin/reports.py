"""The console's Reports: pick a chart and a period (7, 30 or 365 days); the chart comes as a
photo with a CSV button, and the CSV (a document) holds exactly the rows the chart drew."""

from __future__ import annotations

from aiogram.types import BufferedInputFile, CallbackQuery, InlineKeyboardMarkup
from aiogram.utils.keyboard import InlineKeyboardBuilder

from core.ops import reports as rep
from core.platform.db import Database
from handlers.admin.charts import render, to_csv
from handlers.admin.nav import ConsoleCB, back_button, show
from handlers.common.data import shown
from handlers.common.i18n import _


def titles() -> dict[str, str]:
    return {
        "earnings": _("Earnings paid per day, by source"),
        "liabilities": _("Owed to users against reserves, per coin (% of what is owed)"),
        "house": _("House profit and loss per day, by game"),
        "users": _("New and active users per day"),
    }


def labels() -> dict[str, str]:
    return {
        "faucet": _("Faucet"), "referrals": _("Referrals"), "sites": _("Faucet sites"), "ads": _("Ads"),
        "offers": _("Offers"), "staking": _("Staking"), "bonuses": _("Bonuses"),
        "dice": _("Dice"), "limbo": _("Limbo"), "plinko": _("Plinko"), "crash": _("Crash"),
        "new": _("New users"), "active": _("Active users"),
        "liabilities": _("Owed to users"), "reserves": _("Reserves"),
    }  # fmt: skip


def menu() -> tuple[str, InlineKeyboardMarkup]:
    kb = InlineKeyboardBuilder()
    short = {
        "earnings": _("💰 Earnings"), "liabilities": _("🏦 Liabilities"), "house": _("🎲 House P&L"),
        "users": _("👥 Users"),
    }  # fmt: skip
    for kind in rep.KINDS:
        for days in rep.PERIODS:
            kb.button(
                text=_("{report} · {days} d").format(report=short[kind], days=days),
                callback_data=ConsoleCB(to="chart", arg=kind, n=days),
            )
    kb.adjust(3)
    kb.row(back_button())
    return _(
        "<b>📈 Reports</b>: choose a chart and a period. Each comes with its data as CSV."
    ), kb.as_markup()


async def cb_reports(query: CallbackQuery, callback_data: ConsoleCB, db: Database) -> None:
    kind, days = callback_data.arg, callback_data.n
    if callback_data.to == "rep":
        await show(query, *menu())
        await query.answer()
        return
    if kind not in rep.KINDS or days not in rep.PERIODS:
        await query.answer(_("That report does not exist."), show_alert=True)
        return
    await query.answer()
    report = await db.read(rep.report, kind, days)
    message = shown(query)
    name = f"{kind}-{days}d"
    if callback_data.to == "csv":
        await message.answer_document(
            BufferedInputFile(to_csv(report), filename=f"{name}.csv"),
            caption=_("{title} · {days} days · {rows} rows").format(
                title=titles()[kind], days=days, rows=len(report.rows)
            ),
        )
        return
    png = await render(report, f"{titles()[kind]} · {days} d", labels(), _("No data for this period"))
    kb = InlineKeyboardBuilder()
    kb.button(text=_("⬇️ CSV"), callback_data=ConsoleCB(to="csv", arg=kind, n=days))
    await message.answer_photo(
        BufferedInputFile(png, filename=f"{name}.png"),
        caption=_("{title} · {days} days").format(title=titles()[kind], days=days),
        reply_markup=kb.as_markup(),
    )
