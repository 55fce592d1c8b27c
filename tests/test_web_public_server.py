"""The web server inside `ngo-bot run`: its settings, the web-only run mode, a clean stop."""

from __future__ import annotations

import logging
import socket
import subprocess
from pathlib import Path

import aiohttp
import pytest
from aiohttp.test_utils import TestClient, TestServer

from bot.config import ConfigError, Settings
from bot.core.service import Core
from bot.web import WebDeps, build_app
from bot.web.server import SECURITY_HEADERS, WebServer
from tests.conftest import BOT_COMMAND, bot_env
from tests.test_telegram_run import BotProcess, free_port
from tests.web_helpers import WebBot

# ------------------------------------------------------------------------------ the settings


def test_web_is_off_without_listen() -> None:
    settings = Settings.from_env({})
    assert settings.web_listen is None and not settings.web_enabled
    assert settings.web_base_url is None


def test_web_url_defaults_to_the_listen_address() -> None:
    settings = Settings.from_env({"BOT_WEB_LISTEN": "127.0.0.1:8080"})
    assert settings.web_listen == ("127.0.0.1", 8080)
    assert settings.web_base_url == "http://127.0.0.1:8080"


def test_web_url_is_kept_without_its_trailing_slash() -> None:
    settings = Settings.from_env(
        {"BOT_WEB_LISTEN": "0.0.0.0:8080", "BOT_WEB_URL": "https://bot.example.org/ngo/"}
    )
    assert settings.web_base_url == "https://bot.example.org/ngo"


@pytest.mark.parametrize("listen", ["8080", "localhost", "host:0", "host:70000", ":80"])
def test_a_bad_listen_address_names_the_variable(listen: str) -> None:
    with pytest.raises(ConfigError, match="BOT_WEB_LISTEN"):
        Settings.from_env({"BOT_WEB_LISTEN": listen})


@pytest.mark.parametrize(
    "url", ["bot.example.org", "ftp://example.org", "https://", "javascript:x"]
)
def test_a_bad_web_url_names_the_variable(url: str) -> None:
    with pytest.raises(ConfigError, match="BOT_WEB_URL"):
        Settings.from_env({"BOT_WEB_LISTEN": "127.0.0.1:8080", "BOT_WEB_URL": url})


def test_the_metrics_token_is_a_secret() -> None:
    settings = Settings.from_env({"BOT_METRICS_TOKEN": "s3cret-token"})
    assert "s3cret-token" in settings.secrets()
    assert "s3cret-token" not in repr(settings)


# ------------------------------------------------------------------------ the application


async def test_every_answer_carries_the_security_headers(core: Core) -> None:
    async with TestClient(TestServer(build_app(WebDeps.for_core(core)))) as client:
        response = await client.get("/no-such-page")
        assert response.status == 404
        for name, value in SECURITY_HEADERS.items():
            assert response.headers[name] == value


async def test_the_server_listens_and_stops(core: Core) -> None:
    port = free_port()
    server = WebServer(WebDeps.for_core(core), "127.0.0.1", port)
    await server.start()
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=5):
            pass
    finally:
        await server.stop()
    with pytest.raises(OSError), socket.create_connection(("127.0.0.1", port), timeout=5):
        pass


async def test_requests_are_logged_by_route_never_by_path_or_query(
    core: Core, caplog: pytest.LogCaptureFixture
) -> None:
    port = free_port()
    server = WebServer(WebDeps.for_core(core), "127.0.0.1", port)
    await server.start()
    try:
        with caplog.at_level(logging.DEBUG, logger="bot.web.access"):
            async with aiohttp.ClientSession() as session:
                for path in ("/calendar/secret-topic-1.ics", "/no-such-page?token=secret-2", "/healthz"):
                    async with session.get(f"http://127.0.0.1:{port}{path}") as response:
                        await response.read()
    finally:
        await server.stop()
    lines = [record.getMessage() for record in caplog.records if record.name == "bot.web.access"]
    assert len(lines) == 3, lines
    assert lines[0].startswith("GET /calendar/{topic}.ics -> 404")
    assert lines[1].startswith("GET unmatched -> 404")
    assert lines[2].startswith("GET /healthz -> 200")
    assert "secret" not in caplog.text


async def test_a_busy_port_is_a_configuration_error(core: Core) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        server = WebServer(WebDeps.for_core(core), "127.0.0.1", port)
        with pytest.raises(ConfigError, match=f"BOT_WEB_LISTEN: cannot listen on 127.0.0.1:{port}"):
            await server.start()


# --------------------------------------------------------------------------- ngo-bot run


def test_web_only_run_serves_and_stops_on_sigterm(
    tmp_path: Path, run_bot: list[BotProcess]
) -> None:
    web = WebBot(tmp_path)
    run_bot.append(web.bot)
    web.wait_until_up()
    assert web.get("/healthz").status == 200
    code, took = web.bot.terminate()
    assert code == 0 and took < 10, web.log()
    assert "bot running: console" in web.log()


def test_without_network_or_web_run_still_exits_2(tmp_path: Path) -> None:
    result = subprocess.run(
        [*BOT_COMMAND, "run"],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
        env=bot_env(tmp_path / "bot.sqlite3"),
        check=False,
    )
    assert result.returncode == 2
    assert "BOT_WEB_LISTEN" in result.stderr


def test_run_with_a_busy_port_exits_2_naming_it(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run(
            [*BOT_COMMAND, "run"],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=60,
            env=bot_env(tmp_path / "bot.sqlite3", BOT_WEB_LISTEN=f"127.0.0.1:{port}"),
            check=False,
        )
    assert result.returncode == 2, result.stderr
    assert f"BOT_WEB_LISTEN: cannot listen on 127.0.0.1:{port}" in result.stderr
