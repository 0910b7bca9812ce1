"""What the bot keeps on disk is its owner's alone, and its name in job leases survives a restart.

Files: the data folder is 0700, the SQLite database and its -wal/-shm files 0600, and the .env
that scripts/start writes (BOT_TOKEN, SECRET_KEY) 0600, whatever the umask (here the common
022, which made them 0755/0644 before).

Instance identity: INSTANCE_ID when set; otherwise a name per deployment slot (host, data folder,
slot) that a restarted bot gets back, and that two bots running side by side never share.
"""

import asyncio
import os
import shutil
import signal
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import text

from core.config import ConfigError, load_settings, with_instance_id
from core.platform.db import Database
from tests.conftest import repo_root

GOOD = {"BOT_TOKEN": "123456:ABC-def_123", "SECRET_KEY": "s" * 32}


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def with_umask_022():
    os.umask(0o022)


def test_bot_migrate_makes_the_data_folder_and_database_private(tmp_path):
    url = f"sqlite+aiosqlite:///{tmp_path}/deploy/data/dustpan.db"
    run = subprocess.run(
        [sys.executable, str(repo_root() / "bot.py"), "migrate"],
        cwd=tmp_path,
        env={"PATH": os.environ["PATH"], "DATABASE_URL": url},
        capture_output=True,
        text=True,
        timeout=60,
        preexec_fn=with_umask_022,
    )
    assert run.returncode == 0, run.stderr
    assert mode(tmp_path / "deploy") == 0o700 and mode(tmp_path / "deploy" / "data") == 0o700
    assert mode(tmp_path / "deploy" / "data" / "dustpan.db") == 0o600


async def test_the_database_and_its_wal_files_are_created_private(tmp_path):
    old = os.umask(0o022)
    try:
        db = Database(f"sqlite+aiosqlite:///{tmp_path}/data/dustpan.db")
        await db.start()
        try:
            await db.write(lambda c: c.execute(text("CREATE TABLE t (a INTEGER)")))
            await db.read(lambda c: c.execute(text("SELECT count(*) FROM t")).scalar())
            made = sorted(p.name for p in (tmp_path / "data").iterdir())
            assert made == ["dustpan.db", "dustpan.db-shm", "dustpan.db-wal"]
            assert {p: mode(tmp_path / "data" / p) for p in made} == dict.fromkeys(made, 0o600)
            assert mode(tmp_path / "data") == 0o700
        finally:
            await db.close()
    finally:
        os.umask(old)


def test_a_database_from_an_older_version_is_narrowed_to_its_owner(tmp_path):
    from core.platform.db import private_sqlite_file

    folder = tmp_path / "data"
    folder.mkdir(mode=0o755)
    for name in ("dustpan.db", "dustpan.db-wal", "dustpan.db-shm"):
        (folder / name).write_bytes(b"")
        os.chmod(folder / name, 0o644)
    private_sqlite_file(folder / "dustpan.db")
    assert [mode(folder / n) for n in ("dustpan.db", "dustpan.db-wal", "dustpan.db-shm")] == [0o600] * 3
    assert mode(folder) == 0o755  # an existing folder may not be ours alone: left as it is


def test_scripts_start_writes_a_private_env(tmp_path):
    """The first run of scripts/start copies .env.example to .env and stops for the token."""
    (tmp_path / "scripts").mkdir()
    shutil.copy(repo_root() / "scripts" / "start", tmp_path / "scripts" / "start")
    shutil.copy(repo_root() / ".env.example", tmp_path / ".env.example")
    (tmp_path / "pyproject.toml").write_text("")
    (tmp_path / ".venv" / "bin").mkdir(parents=True)
    (tmp_path / ".venv" / "bin" / "python").symlink_to(sys.executable)
    (tmp_path / ".venv" / ".installed").touch()  # installed already: no network here
    run = subprocess.run(
        ["bash", str(tmp_path / "scripts" / "start")],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        preexec_fn=with_umask_022,
    )
    assert run.returncode == 1 and "Put your bot token" in run.stdout, run.stdout + run.stderr
    env = tmp_path / ".env"
    assert mode(env) == 0o600
    assert "SECRET_KEY=" in env.read_text() and not (tmp_path / ".env.bak").exists()


def test_instance_id_from_the_environment():
    assert with_instance_id(load_settings({**GOOD, "INSTANCE_ID": "eu-1.bot-a"})).instance_id == "eu-1.bot-a"
    for bad in ("has space", "x" * 65, "ünï"):
        with pytest.raises(ConfigError) as e:
            load_settings({**GOOD, "INSTANCE_ID": bad})
        assert e.value.name == "INSTANCE_ID"


SLOT = """
import sys
from core.config import load_settings, with_instance_id
s = with_instance_id(load_settings({"BOT_TOKEN": "1:x", "DATABASE_URL": sys.argv[1]}))
print(s.instance_id, flush=True)
sys.stdin.read()
"""


async def test_the_default_instance_id_is_stable_per_slot_and_never_shared(tmp_path):
    """A bot killed with -9 and started again gets its old name back; a second bot running at
    the same time from the same folder gets another one; another folder, another name."""

    async def start(url):
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-c",
            SLOT,
            url,
            cwd=repo_root(),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
        )
        name = (await asyncio.wait_for(proc.stdout.readline(), 20)).decode().strip()
        return proc, name

    here = f"sqlite+aiosqlite:///{tmp_path}/a/data/dustpan.db"
    first, name = await start(here)
    second, other = await start(here)
    first.send_signal(signal.SIGKILL)
    await first.wait()
    restarted, again = await start(here)
    elsewhere, far = await start(f"sqlite+aiosqlite:///{tmp_path}/b/data/dustpan.db")
    for proc in (second, restarted, elsewhere):
        proc.stdin.close()
        await proc.wait()
    assert again == name and other != name and far not in (name, other)
    assert name.endswith(":0") and other.endswith(":1") and len(name) <= 64
    assert mode(tmp_path / "a" / "data" / "instance-0.lock") == 0o600


def test_a_data_folder_that_cannot_hold_the_slot_lock_asks_for_instance_id(tmp_path):
    blocked = tmp_path / "file"
    blocked.write_text("")  # a file where the data folder should be
    with pytest.raises(ConfigError) as e:
        with_instance_id(load_settings({**GOOD, "DATABASE_URL": f"sqlite+aiosqlite:///{blocked}/data/x.db"}))
    assert e.value.name == "INSTANCE_ID" and "cannot hold the slot lock" in e.value.problem
