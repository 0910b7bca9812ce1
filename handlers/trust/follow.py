"""Withdrawals followed on chain, as users read them: notices at the first confirmation and when
final, the hot-wallet wait, and the confirmations line of /withdrawals. Admins are told of a
transaction that dropped out."""

from __future__ import annotations

import html

from core.cashout.withdrawals import Withdrawal
from core.platform.db import Database
from core.platform.params import Params
from core.trust import reserves, tracking
from core.trust.tracking import Tracked, explorer_link
from handlers.common import notices as notice_texts
from handlers.common.i18n import _, __, amount

WHAT_IS_A_CONFIRMATION = __(
    "A confirmation is a block mined on top of the one holding your payment; each one makes it harder to undo."
)


def _chain_notice(p: dict) -> str:
    head = _("Withdrawal #{id} of {amount}").format(id=p["id"], amount=amount(int(p["amount"]), p["asset"]))
    if p["state"] == "final":
        return (
            head
            + ": "
            + _("final, with {n} confirmations. It cannot be undone now.").format(n=p["confirmations"])
        )
    return "\n".join(
        [
            head
            + ": "
            + _("first confirmation ({n} of {needed}).").format(n=p["confirmations"], needed=p["needed"]),
            str(WHAT_IS_A_CONFIRMATION),
        ]
    )


notice_texts.register("withdrawal_chain", _chain_notice)
notice_texts.register(
    "withdrawal_refill",
    lambda p: _(
        "Withdrawal #{id} of {amount}: queued: the hot wallet is being refilled. It goes out as soon as it is."
    ).format(id=p["id"], amount=amount(int(p["amount"]), p["asset"])),
)
notice_texts.register(
    "payout_dropped",
    lambda p: _(
        "⚠️ Payout batch #{batch} ({asset}): transaction {txid} dropped out of the network (replaced or not found). "
        "Nothing was sent again. Check the node, then settle the batch by hand."
    ).format(batch=p["batch"], asset=p["asset"], txid=f"<code>{html.escape(str(p['txid']))}</code>"),
)


def chain_line(
    w: Withdrawal, tracked: Tracked | None, refilling: dict[str, int], params: Params
) -> str | None:
    """The line /withdrawals adds under a withdrawal: its confirmations and explorer link, or the wait."""
    if w.state == "approved" and w.asset in refilling:
        return _("queued: the hot wallet is being refilled")
    if tracked is None:
        return None
    needed = int(params.get(f"cashout.confirmations.{w.asset}"))
    link = explorer_link(str(params.get(f"explorer.{w.asset}") or ""), tracked.txid)
    if tracked.dropped_at is not None:
        text = _("the transaction dropped out; an admin is looking at it")
    elif tracked.final_at is not None:
        text = _("final ({n} confirmations)").format(n=tracked.confirmations)
    else:
        text = _("{n} of {needed} confirmations").format(n=tracked.confirmations, needed=needed)
    if link:
        text += f' · <a href="{html.escape(link)}">' + _("view on a block explorer") + "</a>"
    return text


async def chain_lines(db: Database, rows: list[Withdrawal], params: Params) -> dict[int, str]:
    """withdrawal id -> the line ``chain_line`` gives it, for a page of /withdrawals."""
    followed = await db.read(tracking.progress, sorted({w.batch_id for w in rows if w.batch_id}))
    refilling = await db.read(reserves.refilling)
    lines = {
        w.id: chain_line(w, followed.get(w.batch_id) if w.batch_id else None, refilling, params) for w in rows
    }
    return {wid: line for wid, line in lines.items() if line}
