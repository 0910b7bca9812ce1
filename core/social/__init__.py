"""Money between people: sends, tips in groups, checks (and the inline mode that makes them)."""
