"""Refusals reach the user as translated sentences, whatever the user typed."""

from tests.fakes.formatting import parse_html
from tests.handlers.conftest import ADMIN
from tests.handlers.harness import texts


async def test_typed_text_in_a_refusal_is_escaped_for_html(tg):
    reply = texts(await tg.person(ADMIN).send("/set <b>x&y 1"))
    assert reply == "There is no setting called &lt;b&gt;x&amp;y."
    plain, _entities = parse_html(reply)  # what Telegram does under HTML parse mode; raw "<b" fails
    assert plain == "There is no setting called <b>x&y."
