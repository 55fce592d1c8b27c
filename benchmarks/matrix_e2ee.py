"""What Matrix end-to-end encryption costs, against a real Synapse on 127.0.0.1.

    PYTHONPATH=. python -m benchmarks.matrix_e2ee [--accounts 5] [--round-trips 30]

Measures, with the Matrix transport in this process (as `ngo-bot run` runs it):
- key setup at first start: from `start()` until the new device's keys are published, for
  fresh bot accounts (a new store each), and at a restart over an existing store;
- the round trip of `!help` (the person sends, the bot answers, the person reads the answer)
  in a plain direct chat and in an encrypted one (the person's client encrypts and decrypts
  too); the first message in the encrypted chat, where both sides share their room keys, is
  reported apart.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from pathlib import Path

from bot.app import build_core
from bot.storage import Storage
from bot.transports.matrix import MatrixConfig, MatrixTransport
from tests.matrix_e2ee_helpers import EncryptingResident, create_element_dm, login_encrypting
from tests.matrix_helpers import MatrixResident, bot_settings
from tests.synapse_server import MatrixUser, SynapseServer


async def started_bot(
    synapse: SynapseServer, user: MatrixUser, db_path: Path
) -> tuple[Storage, MatrixTransport]:
    settings = bot_settings(synapse, user, db_path)
    storage = await Storage.open(db_path)
    transport = MatrixTransport(MatrixConfig.from_settings(settings), build_core(storage, settings))
    await transport.start()
    return storage, transport


async def stopped(storage: Storage, transport: MatrixTransport) -> None:
    await transport.stop()
    await storage.close()


async def ready(transport: MatrixTransport) -> float:
    while transport.key_setup_seconds is None:
        await asyncio.sleep(0.01)
    return transport.key_setup_seconds


async def key_setup(synapse: SynapseServer, work: Path, accounts: int) -> None:
    first, again = [], []
    for index in range(accounts):
        user = synapse.create_user("bench-bot")
        db_path = work / f"setup-{index}.sqlite3"
        storage, transport = await started_bot(synapse, user, db_path)
        first.append(await ready(transport))
        await stopped(storage, transport)
        storage, transport = await started_bot(synapse, user, db_path)
        again.append(await ready(transport))
        await stopped(storage, transport)
    print(
        f"key setup at first start (login, new store, keys published), {accounts} accounts: "
        f"median {statistics.median(first):.2f} s, max {max(first):.2f} s"
    )
    print(
        f"start over the existing store (same device, nothing to publish): "
        f"median {statistics.median(again):.2f} s, max {max(again):.2f} s"
    )


async def round_trip(resident: MatrixResident, room: str) -> float:
    started = time.perf_counter()
    answer = await resident.ask(room, "!help")
    assert "!subscribe" in answer["body"], answer
    return time.perf_counter() - started


def summary(name: str, first: float, times: list[float]) -> str:
    times = sorted(times)
    p90 = times[int(len(times) * 0.9) - 1]
    return (
        f"{name}: first {first * 1000:.0f} ms, then median {statistics.median(times) * 1000:.0f} "
        f"ms, p90 {p90 * 1000:.0f} ms over {len(times)}"
    )


async def compare_round_trips(synapse: SynapseServer, work: Path, count: int) -> None:
    bot_user = synapse.create_user("bench-bot")
    storage, transport = await started_bot(synapse, bot_user, work / "rt.sqlite3")
    clients = []
    try:
        await ready(transport)
        plain_user, encrypting_user = synapse.create_user("plain"), synapse.create_user("olena")
        plain_client = await synapse.login_client(plain_user.user_id, plain_user.password)
        clients.append(plain_client)
        plain = await MatrixResident.connect(plain_client, bot_user.user_id)
        encrypting_client = await login_encrypting(synapse, encrypting_user, work / "client")
        clients.append(encrypting_client)
        encrypting = await EncryptingResident.connect(encrypting_client, bot_user.user_id)

        plain_room = await plain.start_chat_with_bot()
        encrypted_room = await create_element_dm(encrypting, bot_user.user_id)
        first = {
            "plain DM": await round_trip(plain, plain_room),
            "encrypted DM": await round_trip(encrypting, encrypted_room),
        }
        times: dict[str, list[float]] = {"plain DM": [], "encrypted DM": []}
        for _ in range(count):  # alternated, so that a busy machine slows both alike
            times["plain DM"].append(await round_trip(plain, plain_room))
            times["encrypted DM"].append(await round_trip(encrypting, encrypted_room))
        for name in times:
            print(summary(name, first[name], times[name]))
        extra = [e - p for p, e in zip(times["plain DM"], times["encrypted DM"], strict=True)]
        print(
            f"extra time of a round trip in an encrypted DM: median {statistics.median(extra) * 1000:.0f}"
            f" ms (pairwise differences of alternated round trips)"
        )
    finally:
        for client in clients:
            await client.close()
        await stopped(storage, transport)


async def main(accounts: int, count: int) -> None:
    with tempfile.TemporaryDirectory(prefix="bench-e2ee-") as tmp:
        work = Path(tmp)
        synapse = SynapseServer()
        synapse.start(work / "synapse")
        try:
            await key_setup(synapse, work, accounts)
            await compare_round_trips(synapse, work, count)
        finally:
            synapse.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=5)
    parser.add_argument("--round-trips", type=int, default=30)
    args = parser.parse_args()
    asyncio.run(main(args.accounts, args.round_trips))
