"""The exchange in chat: /swap, /sweep (and the sweep button on /balance), admins' /rates."""
