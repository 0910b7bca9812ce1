"""Money between people: /send, /tip in groups, /check and /checks, claim links, inline mode."""
