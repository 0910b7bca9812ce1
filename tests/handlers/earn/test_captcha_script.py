"""Issue 10, item 11: a script that reads the faucet puzzle's text and buttons must not beat chance.

The script does what a bot author would: it finds the message with the answer buttons,
reads its text, and taps the button whose label the text names (today's "Tap the 🍋");
when none is named it taps the first answer button. It plays many rounds through the
real dispatcher, each as a new user, and must do no better than guessing one in six.
"""

import re

from core.money.accounts import FAUCET_POOL, user_account
from tests.handlers.harness import Sent
from tests.money import available, fund

ROUNDS = 60
# Guessing one of six: 10 right answers expected in 60 rounds; 22 or more happens by chance
# about once in 30,000 runs. Today's captcha (the text names the emoji) gives 60 of 60.
AT_MOST = 21
REWARD = 100  # faucet.reward.BTC by default: 0.00000100 BTC


def answer_buttons(message: Sent) -> list[tuple[str, str]]:
    return [(text, data) for text, data in message.buttons() if data and data.startswith("fq:")]


def puzzle_of(sent: list[Sent]) -> Sent:
    return next(s for s in reversed(sent) if answer_buttons(s))


def script_choice(puzzle: Sent) -> str:
    text = puzzle.text or ""
    options = answer_buttons(puzzle)
    named = [data for label, data in options if re.search(rf"(?<!\S){re.escape(label)}(?!\S)", text)]
    return (named or [options[0][1]])[0]


async def test_a_script_reading_the_message_solves_no_better_than_chance(tg, db):
    await fund(db, FAUCET_POOL, 10**8)
    solved, captions, labels = 0, set(), set()
    for i in range(ROUNDS):
        bot_user = tg.person(50_000 + i, first_name=f"Script{i}", username=None)
        await bot_user.send("/faucet")
        puzzle = puzzle_of(await bot_user.tap_button("BTC"))
        captions.add(puzzle.text)
        labels.add(tuple(label for label, _ in answer_buttons(puzzle)))
        outcome = await bot_user.tap(script_choice(puzzle), puzzle)
        solved += any("Correct!" in (s.text or "") for s in outcome)
    assert solved <= AT_MOST, f"the script solved {solved} of {ROUNDS} puzzles"
    # Nothing in the text or on the buttons changes from one puzzle to the next.
    assert len(captions) == 1 and len(labels) == 1, (captions, labels)
    paid = sum([await available(db, user_account(50_000 + i)) for i in range(ROUNDS)])
    assert paid == solved * REWARD
