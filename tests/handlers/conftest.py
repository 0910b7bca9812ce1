import pytest
from aiogram import Bot
from aiogram.client.default import DefaultBotProperties

from core.config import load_settings
from core.platform.params import Params
from handlers.dispatcher import build_dispatcher
from handlers.middlewares import Throttle
from tests.handlers.harness import BOT_TOKEN, RecordingSession, Telegram

ADMIN = 9001


@pytest.fixture
def settings(database_url):
    return load_settings(
        {
            "BOT_TOKEN": BOT_TOKEN,
            "DATABASE_URL": database_url,
            "ADMIN_IDS": str(ADMIN),
            "SECRET_KEY": "k" * 40,
        }
    )


@pytest.fixture
async def tg(settings, db):
    session = RecordingSession()
    bot = Bot(BOT_TOKEN, session=session, default=DefaultBotProperties(parse_mode="HTML"))
    params = Params(env={})
    dp = build_dispatcher(settings, db, params=params, throttle=Throttle(limit=1000))
    dp["bot_username"] = "dustpan_test_bot"
    return Telegram(dp, bot, session)
