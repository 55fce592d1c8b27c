"""MATRIX_E2EE and MATRIX_STORE_DIR: parsing, defaults, and a store folder the bot cannot use."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.config import ConfigError, Settings
from bot.transports.matrix import MatrixConfig, client_config
from bot.transports.matrix_e2ee import store_database


def test_encryption_is_on_by_default_and_the_store_sits_beside_the_database() -> None:
    settings = Settings.from_env({"BOT_DB": "/data/ngo-bot.sqlite3"})
    assert settings.matrix_e2ee is True
    assert settings.matrix_store_path == Path("/data/ngo-bot-matrix-store")
    config = client_config(e2ee=True)
    assert config.encryption_enabled and not config.store_sync_tokens


@pytest.mark.parametrize(("raw", "on"), [("on", True), ("ON", True), ("off", False), ("0", False)])
def test_matrix_e2ee_values(raw: str, on: bool) -> None:
    assert Settings.from_env({"MATRIX_E2EE": raw}).matrix_e2ee is on


def test_a_bad_matrix_e2ee_value_names_the_variable() -> None:
    with pytest.raises(ConfigError, match="MATRIX_E2EE: 'maybe' is not 'on' or 'off'"):
        Settings.from_env({"MATRIX_E2EE": "maybe"})


def test_matrix_store_dir_replaces_the_default_and_must_be_a_folder(tmp_path: Path) -> None:
    chosen = tmp_path / "keys"
    assert Settings.from_env({"MATRIX_STORE_DIR": str(chosen)}).matrix_store_path == chosen
    a_file = tmp_path / "file"
    a_file.write_text("x")
    with pytest.raises(ConfigError, match=r"MATRIX_STORE_DIR: .* is a file, not a folder"):
        Settings.from_env({"MATRIX_STORE_DIR": str(a_file)})


def test_the_store_file_is_named_as_nio_names_it(tmp_path: Path) -> None:
    path = store_database(tmp_path, "@ngo-bot:example.org", "ABCDEF")
    assert path == tmp_path / "@ngo-bot:example.org_ABCDEF.db"


async def test_a_store_folder_the_bot_cannot_create_stops_the_start(tmp_path: Path) -> None:
    from bot.app import build_core
    from bot.storage import Storage
    from bot.transports.matrix import MatrixTransport

    blocked = tmp_path / "a-file"  # a folder cannot be made inside a file, even by root
    blocked.write_text("x")
    settings = Settings(
        db_path=tmp_path / "bot.sqlite3",
        matrix_homeserver="http://127.0.0.1:9",
        matrix_user_id="@ngo-bot:localhost",
        matrix_password="secret",
        matrix_store_dir=blocked / "store",
    )
    storage = await Storage.open(settings.db_path)
    try:
        transport = MatrixTransport(
            MatrixConfig.from_settings(settings), build_core(storage, settings)
        )
        with pytest.raises(ConfigError, match="MATRIX_STORE_DIR: cannot use"):
            await transport.start()
    finally:
        await storage.close()
