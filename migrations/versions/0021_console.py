"""console: indexes for the admin dashboard and reports

Revision ID: 0021_console
Revises: 0018_ops
Create Date: 2026-12-07 02:00:00

- users by seen_at and created_at (active, new), and those who blocked the bot (partial);
- transfers by (code, created_at), covering asset, amount and kind (revenue, faucet pace, earnings);
- a partial index of the system accounts (liabilities as minus their sum);
- bets by created_at, crash bets by settled_at (house net per day and game).
"""

from alembic import op
import sqlalchemy as sa


revision = "0021_console"
down_revision = "0020_moderation"
branch_labels = None
depends_on = None

SYSTEM_ONLY = sa.text("owner NOT LIKE 'user:%'")


def upgrade() -> None:
    op.create_index("ix_users_seen_at", "users", ["seen_at"])
    op.create_index("ix_users_created_at", "users", ["created_at"])
    op.create_index(
        "ix_users_blocked",
        "users",
        ["id"],
        sqlite_where=sa.text("is_blocked IS 1"),
        postgresql_where=sa.text("is_blocked IS true"),
    )
    op.create_index("ix_transfers_code_at", "transfers", ["code", "created_at", "asset", "amount", "kind"])
    op.create_index(
        "ix_accounts_system",
        "accounts",
        ["owner", "asset", "balance"],
        sqlite_where=SYSTEM_ONLY,
        postgresql_where=SYSTEM_ONLY,
    )
    op.create_index("ix_bets_created_at", "bets", ["created_at"])
    op.create_index("ix_crash_bets_settled_at", "crash_bets", ["settled_at"])


def downgrade() -> None:
    for name, table in (
        ("ix_crash_bets_settled_at", "crash_bets"),
        ("ix_bets_created_at", "bets"),
        ("ix_accounts_system", "accounts"),
        ("ix_transfers_code_at", "transfers"),
        ("ix_users_blocked", "users"),
        ("ix_users_created_at", "users"),
        ("ix_users_seen_at", "users"),
    ):
        op.drop_index(name, table_name=table)
