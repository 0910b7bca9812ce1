"""Dustpan's domain: money, ledger, features, provably fair maths, 2FA.

Nothing in here imports aiogram: handlers and jobs call into core with plain values.
"""
