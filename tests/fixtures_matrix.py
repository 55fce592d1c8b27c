"""Pytest fixtures for the Matrix tests: one real Synapse per test session, fresh users per test.

Import them where needed (``from tests.fixtures_matrix import synapse  # noqa: F401``) or
re-export them from ``tests/conftest.py``.
"""

from __future__ import annotations

import importlib.util
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator

import pytest
from nio import AsyncClient

from tests.synapse_server import MatrixUser, SynapseServer, SynapseStartError

MakeUser = Callable[..., MatrixUser]
MakeClient = Callable[[MatrixUser], Awaitable[AsyncClient]]


def require_synapse() -> None:
    """Fail (never skip) when matrix-synapse is missing: CI installs it with the test extra,
    so its absence is a broken environment, not an optional feature."""
    if importlib.util.find_spec("synapse") is None:
        pytest.fail(
            "matrix-synapse is not installed: the Matrix tests need a real homeserver. "
            "Install the project's test extra: pip install -e '.[test]'",
            pytrace=False,
        )


@pytest.fixture(scope="session")
def synapse(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SynapseServer]:
    """A homeserver on 127.0.0.1 shared by the whole session, stopped at its end."""
    require_synapse()
    server = SynapseServer()
    try:
        server.start(tmp_path_factory.mktemp("synapse"))
    except SynapseStartError as error:
        pytest.fail(f"Synapse did not start: {error}", pytrace=False)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def make_matrix_user(synapse: SynapseServer) -> MakeUser:
    """``make_matrix_user(prefix="user", admin=False)`` registers a fresh, uniquely named user."""

    def make(prefix: str = "user", *, admin: bool = False) -> MatrixUser:
        return synapse.create_user(prefix, admin=admin)

    return make


@pytest.fixture
async def make_matrix_client(synapse: SynapseServer) -> AsyncIterator[MakeClient]:
    """``await make_matrix_client(user)`` logs a matrix-nio client in; all are closed after."""
    clients: list[AsyncClient] = []

    async def make(user: MatrixUser) -> AsyncClient:
        client = await synapse.login_client(user.user_id, user.password)
        clients.append(client)
        return client

    try:
        yield make
    finally:
        for client in clients:
            await client.close()
