"""Play: provably fair games, crash (its chain maths, stored chains, rounds), stakes and play
limits. Above platform, money and identity; no other capability imports it yet.
"""

__all__: list[str] = []
