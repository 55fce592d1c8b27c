"""A real Synapse homeserver on 127.0.0.1 for the Matrix tests (stdlib + matrix-nio only).

The server runs as a subprocess of the interpreter running the tests (``matrix-synapse``
comes from the project's ``test`` extra), with SQLite, no federation and relaxed rate
limits (see ``tests/matrix/homeserver.test.yaml.in``). It logs to a file in its data
folder, never to the test output, and is stopped by PID.
"""

from __future__ import annotations

import atexit
import contextlib
import hashlib
import hmac
import importlib.util
import json
import os
import re
import secrets
import signal
import socket
import string
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from nio import AsyncClient, AsyncClientConfig, LoginResponse

TEMPLATE_PATH = Path(__file__).resolve().parent / "matrix" / "homeserver.test.yaml.in"
SERVER_NAME = "localhost"
LOG_FILE_NAME = "homeserver.log"
CONFIG_FILE_NAME = "homeserver.yaml"
SIGNING_KEY_FILE_NAME = "localhost.signing.key"

_START_ATTEMPTS = 3  # a free port can be taken between probing and Synapse binding it
_LOG_TAIL_LINES = 40
_HTTP_TIMEOUT = 30.0
_TOP_LEVEL_KEY = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*):")
_SHARED_SECRET = re.compile(r'^registration_shared_secret:\s*"([^"]+)"', re.MULTILINE)
_LOCALPART_PREFIX = re.compile(r"^[a-z0-9._=/+-]+$")


class SynapseStartError(RuntimeError):
    """Synapse is not installed, exited during start, or did not answer in time."""


class SynapseRequestError(RuntimeError):
    """An HTTP call to the homeserver did not return 200."""

    def __init__(self, action: str, status: int, body: Mapping[str, Any]) -> None:
        self.status = status
        self.errcode = str(body.get("errcode", ""))
        self.body = dict(body)
        super().__init__(f"{action}: HTTP {status} {self.errcode} {body.get('error', '')}".strip())


@dataclass(frozen=True)
class MatrixUser:
    """A registered account on the test homeserver."""

    user_id: str
    localpart: str
    password: str


def default_client_config() -> AsyncClientConfig:
    """Client settings for tests: report a 429 or a timeout at once instead of retrying."""
    return AsyncClientConfig(max_limit_exceeded=0, max_timeouts=0, request_timeout=30)


class SynapseServer:
    """One Synapse process listening on 127.0.0.1 with server name ``localhost``."""

    def __init__(
        self,
        *,
        python: str = sys.executable,
        startup_timeout: float = 60.0,
        stop_timeout: float = 10.0,
        config_overrides: Mapping[str, Any] | None = None,
    ) -> None:
        """``config_overrides`` replaces top-level config keys; a value of None drops the key
        so Synapse's own default applies (e.g. ``{"rc_message": None}``)."""
        self._python = python
        self._startup_timeout = startup_timeout
        self._stop_timeout = stop_timeout
        self._overrides = dict(config_overrides or {})
        self._process: subprocess.Popen[bytes] | None = None
        self._log_file: IO[bytes] | None = None
        self._data_dir: Path | None = None
        self._port: int | None = None
        self._shared_secret = ""
        self._admin_token: str | None = None
        self._log_offset = 0  # where the current process's output starts in the log

    # ----------------------------------------------------------------- lifecycle

    def start(self, data_dir: Path) -> None:
        """Write the config, create the signing key and start Synapse; return when it answers."""
        if self._process is not None:
            raise RuntimeError("this SynapseServer is already started")
        self._check_installed()
        data_dir = Path(data_dir).resolve()
        data_dir.mkdir(parents=True, exist_ok=True)
        self._data_dir = data_dir
        self._generate_signing_key(data_dir / SIGNING_KEY_FILE_NAME)
        for attempt in range(1, _START_ATTEMPTS + 1):
            port = _free_port()
            self._write_config(port)
            self._spawn()
            try:
                self._wait_until_ready(port)
            except _PortTaken:
                self.stop()
                if attempt == _START_ATTEMPTS:
                    raise SynapseStartError(self._failure("port taken on every attempt")) from None
                continue
            except BaseException:
                self.stop()
                raise
            self._port = port
            return

    def stop(self) -> None:
        """Stop the process by PID: SIGTERM, then SIGKILL after ``stop_timeout`` seconds."""
        process, self._process = self._process, None
        self._port = None
        self._admin_token = None
        if process is not None:
            atexit.unregister(self.stop)
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
                try:
                    process.wait(self._stop_timeout)
                except subprocess.TimeoutExpired:
                    # Synapse runs in its own process group (pgid == pid); kill all of it.
                    with contextlib.suppress(ProcessLookupError):
                        os.killpg(process.pid, signal.SIGKILL)
                    process.wait()
        if self._log_file is not None:
            self._log_file.close()
            self._log_file = None

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    @property
    def base_url(self) -> str:
        if self._port is None:
            raise RuntimeError("Synapse is not started")
        return f"http://127.0.0.1:{self._port}"

    @property
    def server_name(self) -> str:
        return SERVER_NAME

    @property
    def data_dir(self) -> Path:
        if self._data_dir is None:
            raise RuntimeError("Synapse was never started")
        return self._data_dir

    @property
    def log_path(self) -> Path:
        return self.data_dir / LOG_FILE_NAME

    def log_tail(self, lines: int = _LOG_TAIL_LINES) -> str:
        """The last lines of the homeserver log, for error messages."""
        try:
            text = self.log_path.read_text(encoding="utf-8", errors="replace")
        except (OSError, RuntimeError):
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:])

    # ------------------------------------------------------------------ accounts

    def register_user(self, localpart: str, password: str, admin: bool = False) -> str:
        """Register an account through the shared-secret admin API; return its user id."""
        return str(self._register(localpart, password, admin)["user_id"])

    def create_user(self, prefix: str = "user", *, admin: bool = False) -> MatrixUser:
        """Register a fresh account named ``<prefix>-<random>`` with a random password."""
        if not _LOCALPART_PREFIX.match(prefix):
            raise ValueError(f"not a valid lowercase Matrix localpart prefix: {prefix!r}")
        localpart = f"{prefix}-{uuid.uuid4().hex[:12]}"
        password = secrets.token_urlsafe(16)
        return MatrixUser(self.register_user(localpart, password, admin), localpart, password)

    def admin_token(self) -> str:
        """An access token of a server admin, registered on first use and then reused."""
        if self._admin_token is None:
            body = self._register(
                f"harness-admin-{uuid.uuid4().hex[:8]}", secrets.token_urlsafe(16), True
            )
            self._admin_token = str(body["access_token"])
        return self._admin_token

    def admin_api(
        self, method: str, path: str, body: Mapping[str, Any] | None = None
    ) -> tuple[int, dict[str, Any]]:
        """Call an admin endpoint (``path`` under ``/_synapse/admin``) as the harness admin."""
        return self.request(method, f"/_synapse/admin{path}", body, token=self.admin_token())

    def override_ratelimit(
        self, user_id: str, messages_per_second: int = 0, burst_count: int = 0
    ) -> dict[str, Any]:
        """Set a user's message rate limit (0 and 0 = unlimited); return the stored values."""
        path = f"/v1/users/{urllib.parse.quote(user_id, safe='')}/override_ratelimit"
        payload = {"messages_per_second": messages_per_second, "burst_count": burst_count}
        status, body = self.admin_api("POST", path, payload)
        if status != 200:
            raise SynapseRequestError(f"override_ratelimit {user_id}", status, body)
        return body

    async def login_client(
        self,
        user_id: str,
        password: str,
        *,
        device_name: str = "test-harness",
        config: AsyncClientConfig | None = None,
    ) -> AsyncClient:
        """A matrix-nio client logged in as the user; the caller must ``await client.close()``."""
        client = AsyncClient(self.base_url, user_id, config=config or default_client_config())
        try:
            response = await client.login(password, device_name=device_name)
        except BaseException:
            await _close_session(client)
            raise
        if not isinstance(response, LoginResponse):
            await _close_session(client)
            transport = getattr(response, "transport_response", None)
            status = int(getattr(transport, "status", 0) or 0)
            body = {"errcode": response.status_code, "error": response.message}
            raise SynapseRequestError(f"login {user_id}", status, body)
        return client

    # ---------------------------------------------------------------------- HTTP

    def request(
        self,
        method: str,
        path: str,
        body: Mapping[str, Any] | None = None,
        *,
        token: str | None = None,
    ) -> tuple[int, dict[str, Any]]:
        """One JSON request to the homeserver; returns (status, decoded body) for any status."""
        return _http_json(f"{self.base_url}{path}", method, body, token)

    # ------------------------------------------------------------------ internal

    def _register(self, localpart: str, password: str, admin: bool) -> dict[str, Any]:
        action = f"register {localpart!r}"
        status, body = self.request("GET", "/_synapse/admin/v1/register")
        if status != 200:
            raise SynapseRequestError(action, status, body)
        nonce = str(body["nonce"])
        mac = hmac.new(self._shared_secret.encode(), digestmod=hashlib.sha1)
        for part in (nonce, localpart, password):
            mac.update(part.encode("utf-8") + b"\x00")
        mac.update(b"admin" if admin else b"notadmin")
        payload = {
            "nonce": nonce,
            "username": localpart,
            "password": password,
            "admin": admin,
            "mac": mac.hexdigest(),
        }
        status, body = self.request("POST", "/_synapse/admin/v1/register", payload)
        if status != 200:
            raise SynapseRequestError(action, status, body)
        return body

    def _check_installed(self) -> None:
        if self._python == sys.executable and importlib.util.find_spec("synapse") is None:
            raise SynapseStartError(
                f"matrix-synapse is not installed for {sys.executable}; the Matrix tests run "
                "a real homeserver: install the project's test extra (pip install '.[test]')"
            )

    def _generate_signing_key(self, path: Path) -> None:
        if path.exists():
            return
        command = [self._python, "-m", "synapse._scripts.generate_signing_key", "-o", str(path)]
        result = subprocess.run(
            command, capture_output=True, text=True, check=False, env=_child_env()
        )
        if result.returncode != 0:
            raise SynapseStartError(
                f"generating the signing key failed ({' '.join(command)}):\n{result.stderr}"
            )

    def _write_config(self, port: int) -> None:
        template = TEMPLATE_PATH.read_text(encoding="utf-8")
        # JSON escaping makes the folder safe inside the template's double-quoted YAML strings.
        text = string.Template(template).substitute(
            DATA_DIR=json.dumps(str(self.data_dir))[1:-1], PORT=str(port)
        )
        text = _apply_overrides(text, self._overrides)
        match = _SHARED_SECRET.search(text)
        if match is None:
            raise SynapseStartError(f"no registration_shared_secret in {TEMPLATE_PATH}")
        self._shared_secret = match.group(1)
        (self.data_dir / CONFIG_FILE_NAME).write_text(text, encoding="utf-8")

    def _spawn(self) -> None:
        if self._log_file is None:
            self._log_file = (self.data_dir / LOG_FILE_NAME).open("ab")
        self._log_offset = self._log_file.tell()
        config = self.data_dir / CONFIG_FILE_NAME
        self._process = subprocess.Popen(
            [self._python, "-m", "synapse.app.homeserver", "-c", str(config)],
            cwd=self.data_dir,
            stdin=subprocess.DEVNULL,
            stdout=self._log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # own process group: no terminal signals, killable as one
            env=_child_env(),
        )
        atexit.register(self.stop)  # a safety net if the test session dies without teardown

    def _wait_until_ready(self, port: int) -> None:
        assert self._process is not None
        url = f"http://127.0.0.1:{port}/_matrix/client/versions"
        deadline = time.monotonic() + self._startup_timeout
        while time.monotonic() < deadline:
            code = self._process.poll()
            if code is not None:
                if b"Address already in use" in self._output_since_spawn():
                    raise _PortTaken
                raise SynapseStartError(self._failure(f"Synapse exited with code {code}"))
            with contextlib.suppress(OSError), urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
            time.sleep(0.05)
        raise SynapseStartError(
            self._failure(f"Synapse did not answer {url} within {self._startup_timeout:.0f} s")
        )

    def _output_since_spawn(self) -> bytes:
        with (self.data_dir / LOG_FILE_NAME).open("rb") as log:
            log.seek(self._log_offset)
            return log.read()

    def _failure(self, reason: str) -> str:
        return (
            f"{reason}.\nLog: {self.data_dir / LOG_FILE_NAME}\n"
            f"--- last {_LOG_TAIL_LINES} log lines ---\n{self.log_tail()}"
        )


class _PortTaken(Exception):
    """Synapse could not bind the port chosen for it."""


def _child_env() -> dict[str, str]:
    """The environment for Synapse: without PYTHONWARNINGS, since "error" there (strict CI)
    turns Twisted's own deprecation warnings into a crash of the homeserver at start."""
    return {key: value for key, value in os.environ.items() if key != "PYTHONWARNINGS"}


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _apply_overrides(text: str, overrides: Mapping[str, Any]) -> str:
    """Drop the top-level blocks of the overridden keys and append their new values as JSON."""
    if not overrides:
        return text
    kept: list[str] = []
    skipping = False
    for line in text.splitlines():
        match = _TOP_LEVEL_KEY.match(line)
        if match is not None:
            skipping = match.group(1) in overrides
        elif line[:1] not in (" ", "\t", ""):
            skipping = False  # a top-level comment ends the previous block
        if not skipping:
            kept.append(line)
    # JSON is valid YAML, so values need no YAML writer.
    kept += [f"{key}: {json.dumps(value)}" for key, value in overrides.items() if value is not None]
    return "\n".join(kept) + "\n"


async def _close_session(client: AsyncClient) -> None:
    # AsyncClient.close() refuses to run before a login; close its HTTP session directly.
    if client.client_session is not None:
        await client.client_session.close()
        client.client_session = None


def _http_json(
    url: str, method: str, body: Mapping[str, Any] | None, token: str | None
) -> tuple[int, dict[str, Any]]:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method)
    request.add_header("Content-Type", "application/json")
    if token is not None:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=_HTTP_TIMEOUT) as response:
            return response.status, _decode(response.read())
    except urllib.error.HTTPError as error:
        with error:
            return error.code, _decode(error.read())


def _decode(raw: bytes) -> dict[str, Any]:
    try:
        value = json.loads(raw or b"{}")
    except ValueError:
        return {"error": raw[:200].decode("utf-8", "replace")}
    return value if isinstance(value, dict) else {"value": value}
