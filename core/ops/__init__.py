"""Operations: broadcasts to users, moderation (bans, frozen withdrawals, appeals, the user card);
the dashboard and reports live in core.ops.dashboard and core.ops.reports."""

from core.ops import moderation
from core.ops.broadcasts import (
    Broadcast,
    Progress,
    Segment,
    claim_next,
    count_segment,
    create_draft,
    get_broadcast,
    mark_blocked,
    progress,
    runnable,
    set_progress_message,
    set_state,
    settle_in_doubt,
    start,
)

__all__ = [
    "Broadcast",
    "Progress",
    "Segment",
    "claim_next",
    "count_segment",
    "create_draft",
    "get_broadcast",
    "mark_blocked",
    "moderation",
    "progress",
    "runnable",
    "set_progress_message",
    "set_state",
    "settle_in_doubt",
    "start",
]
