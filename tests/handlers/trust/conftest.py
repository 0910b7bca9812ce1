"""Fixtures for the trust handlers: a fake Bitcoin Core wallet node."""

from tests.fakes.payouts import node  # noqa: F401
