"""The transports' key/value state store (sync token, device id, access token)."""

from __future__ import annotations

from bot.storage import Storage


async def test_values_per_platform_survive_a_reopen(storage: Storage) -> None:
    state = storage.sync_state
    assert await state.get("matrix", "sync_token") is None
    await state.set("matrix", "sync_token", "s1")
    await state.set("matrix", "sync_token", "s2")
    await state.set_many("matrix", {"device_id": "DEV", "access_token": "tok"})
    await state.set("telegram", "sync_token", "other platform")

    reopened = await Storage.open(storage.db.path)
    try:
        assert await reopened.sync_state.get("matrix", "sync_token") == "s2"
        assert await reopened.sync_state.get_all("matrix") == {
            "access_token": "tok",
            "device_id": "DEV",
            "sync_token": "s2",
        }
    finally:
        await reopened.close()


async def test_prefix_listing_and_delete(storage: Storage) -> None:
    state = storage.sync_state
    await state.set("matrix", "encryption_notice:!a", "sent")
    await state.set("matrix", "encryption_notice:!b", "sent")
    await state.set("matrix", "encryption_noticeX", "not under the prefix")
    await state.set("matrix", "device_id", "DEV")
    assert set(await state.get_all("matrix", "encryption_notice:")) == {
        "encryption_notice:!a",
        "encryption_notice:!b",
    }
    assert await state.get_all("matrix", "%") == {}  # the prefix is literal, not a pattern
    assert await state.delete("matrix", "device_id", "missing") == 1
    assert await state.get("matrix", "device_id") is None
