"""/admin's console: buttons that edit one message into each screen, and ⬅️ back to the console.

Dashboard and Users read core.ops.dashboard; Withdrawals is the approval queue of /payouts;
Campaigns the ad review queue of /review; Broadcast asks for the message and runs /broadcast with
it; Settings and Reports have modules of their own (console_settings, reports). A non-admin who
taps an old console button is answered and nothing is done.
"""

from __future__ import annotations

from aiogram import Bot, Dispatcher, F, Router
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import CallbackQuery, Message, Update
from aiogram.utils.keyboard import InlineKeyboardBuilder

from core.cashout import withdrawals
from core.earn import ad_campaigns
from core.identity.users import User
from core.ops import dashboard as dash
from core.platform.db import Database
from handlers.admin import console_settings, reports
from handlers.admin.admin import admin_text
from handlers.admin.nav import ConsoleCB, back_button, console_keyboard, run_command, show, with_back
from handlers.cashout.payouts import approval_view
from handlers.common.data import shown
from handlers.common.filters import IsAdmin, IsAdminQuery, NotCommand
from handlers.common.i18n import _, amount
from handlers.common.prompts import cancel_markup, remember
from handlers.earn.ad_review import review_markup, review_text


class Console(StatesGroup):
    broadcast = State()


def _money(per: dict[str, int]) -> str:
    return ", ".join(amount(v, a) for a, v in sorted(per.items())) or "—"


def dashboard_text(d: dash.Dashboard) -> str:
    lines = [
        _("<b>📊 Dashboard</b> · {at}").format(at=d.at.strftime("%Y-%m-%d %H:%M UTC")),
        _(
            "Users: {total} · active 24 h: {day} · active 7 d: {week} · new today: {new} · blocked the bot: {blocked}"
        ).format(total=d.users, day=d.active_day, week=d.active_week, new=d.new_today, blocked=d.blocked),
        "",
        _("<b>Owed to users, against the treasury</b>"),
    ]
    lines += [
        _("{coin}: owed {owed} · treasury {treasury}").format(
            coin=c.asset, owed=amount(c.liabilities, c.asset), treasury=amount(c.treasury, c.asset)
        )
        for c in d.coins
    ] or [_("Nothing yet.")]
    names = {"fees": _("Fees"), "ad_fees": _("Ad fees"), "house": _("House net from games")}
    lines += ["", _("<b>Revenue</b> (today · 7 days)")]
    lines += [f"{names[s]}: {_money(d.revenue_today[s])} · {_money(d.revenue_week[s])}" for s in dash.SOURCES]
    lines += ["", _("<b>Faucet pool</b>")]
    lines += [
        (
            _("{coin}: {pool}, {days} days left at the last 7 days' pace")
            if f.days_left is not None
            else _("{coin}: {pool}, nothing paid in the last 7 days")
        ).format(coin=f.asset, pool=amount(f.pool, f.asset), days=f.days_left)
        for f in d.faucet
    ] or [_("Nothing yet.")]
    pending = [
        _("{coin}: {count} ({total})").format(coin=a, count=n, total=amount(t, a))
        for a, (n, t) in sorted(d.withdrawals.items())
    ]
    lines += [
        "",
        _("<b>Pending withdrawals</b>: {pending}").format(pending=", ".join(pending) or "0"),
        _("Waiting for approval: {count}").format(count=d.awaiting_approval),
        "",
        _("<b>Needs attention</b>"),
    ]
    lines += [attention_line(a) for a in d.attention] or [_("Nothing. ✅")]
    return "\n".join(lines)


def attention_line(a: dash.Attention) -> str:
    if a.kind == "dry_faucet":
        return _("⚠️ The {coin} faucet pool runs dry within a day: /fund faucet_pool").format(coin=a.asset)
    if a.kind == "dry_house":
        return _("⚠️ The house has no {coin} left to pay winners: /fund house").format(coin=a.asset)
    if a.kind == "stuck_batch":
        return _("⚠️ Payout batch #{id} ({coin}) is stuck: /payouts").format(id=a.ref, coin=a.asset)
    return _("⚠️ Ads waiting for review: {count} (Campaigns)").format(count=a.count)


def users_text(o: dash.UsersOverview) -> str:
    lines = [
        _("<b>👥 Users</b>"),
        _("Total: {total} · new today: {new} · active 7 d: {week} · blocked the bot: {blocked}").format(
            total=o.total, new=o.new_today, week=o.active_week, blocked=o.blocked
        ),
    ]
    lines.append(_("Banned: {count}").format(count=o.banned))
    lines += ["", _("<b>Newest</b>")]
    lines += [
        f"<code>{uid}</code> · {'@' + name if name else '—'} · {joined:%Y-%m-%d %H:%M}"
        for uid, name, _first, joined in o.newest
    ] or [_("Nothing yet.")]
    lines += ["", _("To see one user, type <code>/user ID</code> or <code>/user @username</code>.")]
    return "\n".join(lines)


async def cb_console(
    query: CallbackQuery, callback_data: ConsoleCB, user: User, db: Database, state: FSMContext
) -> None:
    to = callback_data.to
    if to == "home":
        await state.clear()
        await show(query, await admin_text(db, user), console_keyboard())
    elif to == "dash":
        refresh = InlineKeyboardBuilder()
        refresh.button(text=_("🔄 Refresh"), callback_data=ConsoleCB(to="dash"))
        refresh.row(back_button())
        await show(query, dashboard_text(await db.read(dash.dashboard)), refresh.as_markup())
    elif to == "users":
        await show(query, users_text(await db.read(dash.users_overview)), with_back(None))
    elif to == "wd":
        text, kb = approval_view(await db.read(withdrawals.awaiting_approval))
        await show(query, text, with_back(kb))
    elif to == "ads":
        queue = await db.read(ad_campaigns.review_queue)
        text = (
            _("Ads waiting for review: {count}. Each is below, with its buttons.").format(count=len(queue))
            if queue
            else _("No ads are waiting for review.")
        )
        message = await show(query, text, with_back(None))
        for c in queue[:10]:
            await message.answer(review_text(c), reply_markup=review_markup(c))
    elif to == "bc":
        await state.set_state(Console.broadcast)
        message = shown(query)
        prompt = await message.answer(
            _(
                "Send the message to broadcast, in Telegram HTML. Optional lines:\n"
                "<code>button: Label https://example.com</code>\n<code>photo: FILE_ID_OR_URL</code>\n"
                "You will see a preview and choose who gets it."
            ),
            reply_markup=cancel_markup(),
        )
        await remember(state, prompt)
    await query.answer()


async def on_broadcast_input(
    message: Message, state: FSMContext, dispatcher: Dispatcher, bot: Bot, event_update: Update
) -> None:
    """The typed message becomes ``/broadcast TEXT``: preview, segment, count and 2FA as typed."""
    await state.clear()
    assert message.from_user is not None
    # Typed tags are Telegram HTML, as after /broadcast; formatting made in the app arrives as entities.
    text = "/broadcast " + ((message.html_text if message.entities else message.text) or "")
    await run_command(dispatcher, bot, event_update, message, message.from_user, text, message.message_id)


async def cb_refused(query: CallbackQuery) -> None:
    await query.answer(_("Only admins can do that. Nothing was changed."), show_alert=True)


def router() -> Router:
    routes = Router(name=__name__)
    settings_screens = {"set", "setg", "setk", "setv", "sett"}
    routes.callback_query.register(
        console_settings.cb_settings, ConsoleCB.filter(F.to.in_(settings_screens)), IsAdminQuery()
    )
    routes.callback_query.register(
        reports.cb_reports, ConsoleCB.filter(F.to.in_({"rep", "chart", "csv"})), IsAdminQuery()
    )
    routes.callback_query.register(cb_console, ConsoleCB.filter(), IsAdminQuery())
    routes.callback_query.register(cb_refused, ConsoleCB.filter())
    routes.message.register(on_broadcast_input, Console.broadcast, IsAdmin(), NotCommand())
    routes.message.register(
        console_settings.on_value_input, console_settings.Editing.value, IsAdmin(), NotCommand()
    )
    return routes
