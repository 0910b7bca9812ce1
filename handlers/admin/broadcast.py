"""/broadcast: compose, preview, choose a segment, see the count, confirm; then Pause, Resume, Cancel.

    /broadcast <b>New game</b> is live!
    button: Play now https://t.me/dustpan_bot?start=games
    photo: FILE_ID_OR_HTTPS_URL

The text is Telegram HTML. The preview is a real send to the admin, so broken HTML is caught here
with Telegram's own error text and nothing is stored. A photo may also be attached with the command
as its caption. The command is guarded by 2FA (it stores the draft); the job (jobs/broadcast.py)
sends it and edits the progress message drawn here (``show_progress``).
"""

from __future__ import annotations

import html
import re
from collections.abc import Awaitable, Callable

from aiogram import Bot, Router
from aiogram.exceptions import TelegramBadRequest
from aiogram.filters import Command, CommandObject
from aiogram.filters.callback_data import CallbackData
from aiogram.types import CallbackQuery, InlineKeyboardMarkup, Message
from aiogram.utils.keyboard import InlineKeyboardBuilder

from core.identity.users import LANGUAGES, get_user
from core.loyalty.levels import parse_levels
from core.money.assets import ASSET_CODES
from core.ops import broadcasts as bc
from core.platform.db import Database
from core.platform.params import Params
from handlers.common import errors
from handlers.common.data import shown
from handlers.common.filters import IsAdmin, IsAdminQuery
from handlers.common.i18n import _, __, get_i18n
from jobs.broadcast import send_broadcast

errors.register("broadcast", __("That broadcast cannot be changed now. Nothing was changed."))
errors.register("empty_broadcast", __("A broadcast needs a text or a photo."))
errors.register("bad_segment", __("That is not a segment. Nothing was changed."))
errors.register("empty_segment", __("Nobody is in that segment. Choose another one; nothing was sent."))
errors.register("not_a_draft", __("Broadcast #{id} was already confirmed."))
errors.register("unknown_broadcast", __("There is no broadcast #{id}."))
errors.register("bad_move", __("Not possible now: the broadcast is {state}."))

_BUTTON = re.compile(r"^button:\s*(.{1,64}?)\s+(https?://\S{1,500})\s*$", re.I)
_PHOTO = re.compile(r"^photo:\s*(\S{1,250})\s*$", re.I)
ACTIVE_DAYS = (1, 7, 30, 90)


class BcCB(CallbackData, prefix="bc"):
    action: str  # seg | go | pause | resume | cancel
    id: int
    seg: str = ""  # a segment with "-" for ":" (the separator of callback data)


def parse(text: str) -> tuple[str, tuple[str, str] | None, str | None]:
    """Split the command's text into (HTML text, optional (label, url) button, optional photo)."""
    button = photo = None
    lines = []
    for line in text.splitlines():
        if m := _BUTTON.match(line.strip()):
            button = (m.group(1), m.group(2))
        elif m := _PHOTO.match(line.strip()):
            photo = m.group(1)
        else:
            lines.append(line)
    return "\n".join(lines).strip(), button, photo


async def cmd_broadcast(
    message: Message, command: CommandObject, db: Database, bot: Bot, params: Params
) -> None:
    text, button, photo = parse(command.args or "")
    if message.photo:
        photo = message.photo[-1].file_id
    if not text and not photo:
        await message.answer(
            _("Write the message after the command (Telegram HTML), e.g.\n{example}").format(
                example="<code>/broadcast &lt;b&gt;News&lt;/b&gt;: ...\nbutton: Open https://example.com</code>"
            )
        )
        return
    label, url = button or (None, None)
    draft = bc.Broadcast(0, message.chat.id, text, photo, label, url, None, bc.DRAFT, 0, None, None, None)
    try:
        await send_broadcast(bot, message.chat.id, draft)  # the preview: exactly what users will get
    except TelegramBadRequest as err:
        await message.answer(
            _(
                "Telegram refused this message: {error}\nNothing was saved; fix it and send /broadcast again."
            ).format(error=html.escape(err.message, quote=False))
        )
        return
    bid = await db.write(bc.create_draft, message.chat.id, text, photo=photo, button=button)
    await message.answer(
        _("Above is the preview of broadcast #{id}. Who should get it?").format(id=bid),
        reply_markup=segments_keyboard(bid, level_count(params)),
    )


def level_count(params: Params) -> int:
    """How many loyalty levels there are (level 0 included), with ``rp.levels`` as in force."""
    return len(parse_levels(str(params.get("rp.levels"))))


def segments_keyboard(bid: int, levels: int = 1) -> InlineKeyboardMarkup:
    kb = InlineKeyboardBuilder()
    kb.button(text=_("Everyone"), callback_data=BcCB(action="seg", id=bid, seg="everyone"))
    for lang in LANGUAGES:
        kb.button(
            text=_("Language: {lang}").format(lang=lang),
            callback_data=BcCB(action="seg", id=bid, seg=f"lang-{lang}"),
        )
    for days in ACTIVE_DAYS:
        kb.button(
            text=_("Active in {days} d").format(days=days),
            callback_data=BcCB(action="seg", id=bid, seg=f"active-{days}"),
        )
    for code in ASSET_CODES:
        kb.button(
            text=_("Holders of {coin}").format(coin=code),
            callback_data=BcCB(action="seg", id=bid, seg=f"coin-{code}"),
        )
    for n in range(levels):
        kb.button(text=_("Level {n}").format(n=n), callback_data=BcCB(action="seg", id=bid, seg=f"level-{n}"))
    kb.button(text=_("Staking DUST"), callback_data=BcCB(action="seg", id=bid, seg="staking-yes"))
    kb.button(text=_("Not staking"), callback_data=BcCB(action="seg", id=bid, seg="staking-no"))
    coin_rows = [3] * ((len(ASSET_CODES) + 2) // 3)
    kb.adjust(1, len(LANGUAGES), len(ACTIVE_DAYS), *coin_rows, *([5] * ((levels + 4) // 5)), 2)
    return kb.as_markup()


async def cb_segment(query: CallbackQuery, callback_data: BcCB, db: Database) -> None:
    message = shown(query)
    segment = bc.Segment.parse(callback_data.seg.replace("-", ":", 1))
    count = await db.read(bc.count_segment, segment)
    if not count:
        raise bc.BroadcastError("empty_segment", segment=str(segment))
    kb = InlineKeyboardBuilder()
    kb.button(
        text=_("Confirm: send to {count}").format(count=count),
        callback_data=BcCB(action="go", id=callback_data.id, seg=str(segment).replace(":", "-")),
    )
    kb.button(text=_("Choose another segment"), callback_data=BcCB(action="back", id=callback_data.id))
    kb.adjust(1)
    await message.edit_text(
        _("Broadcast #{id} to <b>{segment}</b>: {count} recipients now.").format(
            id=callback_data.id, segment=segment, count=count
        ),
        reply_markup=kb.as_markup(),
    )
    await query.answer()


async def cb_back(query: CallbackQuery, callback_data: BcCB, params: Params) -> None:
    await shown(query).edit_reply_markup(
        reply_markup=segments_keyboard(callback_data.id, level_count(params))
    )
    await query.answer()


async def cb_go(query: CallbackQuery, callback_data: BcCB, db: Database) -> None:
    message = shown(query)
    segment = bc.Segment.parse(callback_data.seg.replace("-", ":", 1))
    await db.write(bc.start, callback_data.id, segment, admin_id=query.from_user.id)
    b = await db.read(bc.get_broadcast, callback_data.id)
    p = await db.read(bc.progress, b.id)
    text, markup = progress_view(b, p, None)
    await message.edit_text(text, reply_markup=markup)
    await db.write(bc.set_progress_message, b.id, message.chat.id, message.message_id)
    await query.answer(_("Sending has started."))


async def cb_state(query: CallbackQuery, callback_data: BcCB, db: Database) -> None:
    message = shown(query)
    state = {"pause": bc.PAUSED, "resume": bc.RUNNING, "cancel": bc.CANCELLED}[callback_data.action]
    b = await db.write(bc.set_state, callback_data.id, state, admin_id=query.from_user.id)
    text, markup = progress_view(b, await db.read(bc.progress, b.id), None)
    await message.edit_text(text, reply_markup=markup)
    await query.answer()


def progress_view(
    b: bc.Broadcast, p: bc.Progress, eta: float | None
) -> tuple[str, InlineKeyboardMarkup | None]:
    states = {
        bc.RUNNING: _("sending"), bc.PAUSED: _("paused"), bc.CANCELLED: _("cancelled"), bc.DONE: _("done"),
        bc.DRAFT: _("draft"),
    }  # fmt: skip
    lines = [
        _("<b>Broadcast #{id}</b> · {segment} · {state}").format(
            id=b.id, segment=b.segment, state=states[p.state]
        ),
        _("Sent: {sent} · failed: {failed} · blocked the bot: {blocked} · left: {left} of {total}").format(
            sent=p.sent, failed=p.failed, blocked=p.blocked, left=p.left, total=p.total
        ),
    ]
    if eta is not None and p.state == bc.RUNNING:
        lines.append(
            _("Time left: about {minutes} min {seconds} s").format(
                minutes=int(eta) // 60, seconds=int(eta) % 60
            )
        )
    kb = InlineKeyboardBuilder()
    if p.state == bc.RUNNING:
        kb.button(text=_("Pause"), callback_data=BcCB(action="pause", id=b.id))
    if p.state == bc.PAUSED:
        kb.button(text=_("Resume"), callback_data=BcCB(action="resume", id=b.id))
    if p.state in (bc.RUNNING, bc.PAUSED):
        kb.button(text=_("Cancel"), callback_data=BcCB(action="cancel", id=b.id))
    return "\n".join(lines), kb.as_markup() if p.state in (bc.RUNNING, bc.PAUSED) else None


def make_show_progress(
    db: Database,
) -> Callable[[Bot, bc.Broadcast, bc.Progress, float | None], Awaitable[None]]:
    """The job's ``show_progress``: edit the admin's progress message, in the admin's language."""

    async def show(bot: Bot, b: bc.Broadcast, p: bc.Progress, eta: float | None) -> None:
        if b.progress_chat is None or b.progress_message is None:
            return
        i18n = get_i18n()
        locale = (await db.read(get_user, b.admin_id)).locale
        with i18n.context(), i18n.use_locale(locale):
            text, markup = progress_view(b, p, eta)
        try:
            await bot.edit_message_text(
                text, chat_id=b.progress_chat, message_id=b.progress_message, reply_markup=markup
            )
        except TelegramBadRequest as err:
            if "not modified" not in err.message:
                raise

    return show


async def cb_broadcast(query: CallbackQuery, callback_data: BcCB, db: Database, params: Params) -> None:
    if callback_data.action == "seg":
        await cb_segment(query, callback_data, db)
    elif callback_data.action == "back":
        await cb_back(query, callback_data, params)
    elif callback_data.action == "go":
        await cb_go(query, callback_data, db)
    else:
        await cb_state(query, callback_data, db)


def router() -> Router:
    routes = Router(name=__name__)
    routes.message.register(cmd_broadcast, Command("broadcast"), IsAdmin())
    routes.callback_query.register(cb_broadcast, BcCB.filter(), IsAdminQuery())
    return routes
