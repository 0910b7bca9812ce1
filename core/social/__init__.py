"""Money between people: sends, tips in groups, checks (and the inline mode that makes them).
Above platform, money, identity and earn; no other capability imports it yet."""

__all__: list[str] = []
