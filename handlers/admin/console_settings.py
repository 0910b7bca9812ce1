"""The console's settings editor: every runtime setting (core.platform.params) by feature, with
its value in force, where it comes from, its default and its range; a tap offers presets and
"type a value".

A change is exactly ``/set KEY VALUE`` run on the admin's behalf (handlers.admin.nav.run_command):
the same 2FA gate (handlers.admin.codes: with 2FA on, the bot asks for the code and says it
confirms ``/set KEY VALUE``), the same validation (a value out of range or of the wrong kind is
refused with the reason, and nothing is stored), the same audit line (``set_param``). It takes
effect at once on this instance and within the settings cache period (``Params.ttl``, 10 s) on
every other one.
"""

from __future__ import annotations

from aiogram import Bot, Dispatcher
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import CallbackQuery, InlineKeyboardMarkup, Message, Update
from aiogram.utils.keyboard import InlineKeyboardBuilder

from core.money.amounts import to_decimal
from core.money.assets import get_asset
from core.platform.params import REGISTRY, Param, Params
from handlers.admin.nav import ConsoleCB, back_button, run_command, show
from handlers.admin.texts import duration, setting_value
from handlers.common.data import shown
from handlers.common.formatting import percent
from handlers.common.i18n import _
from handlers.common.prompts import cancel_markup, remember

PAGE = 12
TTL_SECONDS = 10  # Params' default cache period (bot.py builds Params() with it)


class Editing(StatesGroup):
    value = State()


def groups() -> list[str]:
    return sorted({key.split(".", 1)[0] for key in REGISTRY})


def keys_of(group: str) -> list[str]:
    return sorted(k for k in REGISTRY if k.split(".", 1)[0] == group)


def typed(p: Param, value: int | None) -> str | None:
    """A value in the form an admin types it for ``/set`` (no ticker)."""
    if value is None:
        return None
    if p.kind == "amount" and p.asset:
        return format(to_decimal(value, get_asset(p.asset)), "f")
    if p.kind == "duration":
        return duration(value)
    if p.kind == "share":
        return f"{percent(value)}%"
    return str(value)


def presets(p: Param) -> list[str]:
    """What a tap may set, the same list every time: on/off, the choices, the default and the range's ends."""
    if p.kind == "bool":
        return ["on", "off"]
    if p.choices:
        return list(p.choices)
    found = [p.default.strip()]
    if p.kind != "text":
        found += [t for t in (typed(p, p.minimum), typed(p, p.maximum)) if t is not None]
    return list(dict.fromkeys(v for v in found if ":" not in v and len(v) <= 30))


def range_text(p: Param) -> str:
    if p.choices:
        return _("one of {choices}").format(choices=", ".join(p.choices))
    if p.minimum is None and p.maximum is None:
        return _("any {kind}").format(kind=p.kind)
    low = setting_value(p.key, p.minimum) if p.minimum is not None else "…"
    high = setting_value(p.key, p.maximum) if p.maximum is not None else "…"
    return f"{low} … {high}"


def key_line(params: Params, key: str) -> str:
    p = REGISTRY[key]
    return _("<code>{key}</code> = {value} <i>({source})</i> · default {default} · {range}").format(
        key=key,
        value=setting_value(key, params.get(key)),
        source=params.source(key),
        default=setting_value(key, p.parse(p.default)),
        range=range_text(p),
    )


def groups_view() -> tuple[str, InlineKeyboardMarkup]:
    kb = InlineKeyboardBuilder()
    for g in groups():
        kb.button(text=g, callback_data=ConsoleCB(to="setg", arg=g))
    kb.adjust(3)
    kb.row(back_button())
    text = _(
        "<b>⚙️ Settings</b> by feature. A change is audited and, with 2FA on, needs your code like "
        "/set; it applies here at once and on other instances within {ttl} s."
    ).format(ttl=TTL_SECONDS)
    return text, kb.as_markup()


def group_view(params: Params, group: str, page: int) -> tuple[str, InlineKeyboardMarkup]:
    keys = keys_of(group)
    pages = max(1, (len(keys) + PAGE - 1) // PAGE)
    page = min(max(page, 0), pages - 1)
    shown_keys = keys[page * PAGE : (page + 1) * PAGE]
    lines = [_("<b>⚙️ {group}</b> · page {page} of {pages}").format(group=group, page=page + 1, pages=pages)]
    lines += [key_line(params, k) for k in shown_keys]
    kb = InlineKeyboardBuilder()
    for k in shown_keys:
        kb.button(text=k[len(group) + 1 :] or k, callback_data=ConsoleCB(to="setk", arg=k))
    kb.adjust(2)
    nav = []
    if page > 0:
        nav.append(("◀️", page - 1))
    if page < pages - 1:
        nav.append(("▶️", page + 1))
    for label, n in nav:
        kb.button(text=label, callback_data=ConsoleCB(to="setg", arg=group, n=n))
    if nav:
        kb.adjust(*([2] * ((len(shown_keys) + 1) // 2)), len(nav))
    kb.row(back_button("set"))
    return "\n".join(lines), kb.as_markup()


def key_view(params: Params, key: str) -> tuple[str, InlineKeyboardMarkup]:
    p = REGISTRY[key]
    kb = InlineKeyboardBuilder()
    for i, value in enumerate(presets(p)):
        kb.button(text=_("Set {value}").format(value=value), callback_data=ConsoleCB(to="setv", arg=key, n=i))
    kb.button(text=_("✏️ Type a value"), callback_data=ConsoleCB(to="sett", arg=key))
    kb.adjust(3)
    kb.row(back_button("setg", key.split(".", 1)[0]))
    text = key_line(params, key) + "\n" + _("Tap a value, or type one.")
    return text, kb.as_markup()


async def cb_settings(
    query: CallbackQuery,
    callback_data: ConsoleCB,
    params: Params,
    state: FSMContext,
    dispatcher: Dispatcher,
    bot: Bot,
    event_update: Update,
) -> None:
    to, arg = callback_data.to, callback_data.arg
    if to in ("setk", "setv", "sett") and arg not in REGISTRY:
        await query.answer(_("No settings match."), show_alert=True)
        return
    if to == "set":
        await show(query, *groups_view())
    elif to == "setg":
        await show(query, *group_view(params, arg, callback_data.n))
    elif to == "setk":
        await show(query, *key_view(params, arg))
    elif to == "setv":
        choices = presets(REGISTRY[arg])
        if not 0 <= callback_data.n < len(choices):
            await query.answer(_("No settings match."), show_alert=True)
            return
        await query.answer()
        message = shown(query)
        await run_command(
            dispatcher, bot, event_update, message, query.from_user,
            f"/set {arg} {choices[callback_data.n]}", message.message_id,
        )  # fmt: skip
        await show(query, *key_view(params, arg))
        return
    elif to == "sett":
        await state.set_state(Editing.value)
        await state.set_data({"key": arg})
        prompt = await shown(query).answer(
            _("Type the new value of <code>{key}</code> (now {value}).").format(
                key=arg, value=setting_value(arg, params.get(arg))
            ),
            reply_markup=cancel_markup(),
        )
        await remember(state, prompt)
    await query.answer()


async def on_value_input(
    message: Message, state: FSMContext, dispatcher: Dispatcher, bot: Bot, event_update: Update
) -> None:
    """The typed value becomes ``/set KEY VALUE``; a refusal says why and stores nothing."""
    key = (await state.get_data()).get("key", "")
    await state.clear()
    assert message.from_user is not None
    value = " ".join((message.text or "").split())
    await run_command(
        dispatcher, bot, event_update, message, message.from_user, f"/set {key} {value}", message.message_id
    )
