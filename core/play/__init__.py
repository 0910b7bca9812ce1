"""Play: provably fair games, crash (its chain maths, stored chains, rounds), stakes and play
limits. Above platform, money and identity; ops reads its bet tables (the dashboard and reports).
"""

from core.play.tables import bets as bets_table
from core.play.tables import crash_bets as crash_bets_table

__all__ = ["bets_table", "crash_bets_table"]
