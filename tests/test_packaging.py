"""A wheel built from this checkout, installed into a fresh environment, answers in Ukrainian."""

from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

from tests.conftest import ROOT


def run(*args: str | Path, **kwargs: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(a) for a in args], capture_output=True, text=True, check=True, timeout=300, **kwargs
    )  # type: ignore[call-overload,no-any-return]


def build_wheel(out: Path) -> Path:
    run(
        sys.executable,
        "-m",
        "pip",
        "wheel",
        "--quiet",
        "--no-deps",
        "--no-build-isolation",
        "--wheel-dir",
        out,
        ROOT,
    )
    (wheel,) = out.glob("ngo_outreach_bot-*.whl")
    return wheel


def test_wheel_installs_and_answers_in_ukrainian(tmp_path: Path) -> None:
    wheel = build_wheel(tmp_path / "dist")
    names = zipfile.ZipFile(wheel).namelist()
    assert "bot/locales/uk/LC_MESSAGES/messages.po" in names
    assert "bot/content/topics.toml" in names
    assert "bot/content/faq/elsewhere.toml" in names
    assert "bot/storage/migrations/0001_foundation.sql" in names
    (metadata,) = [n for n in names if n.endswith(".dist-info/METADATA")]
    requires = zipfile.ZipFile(wheel).read(metadata).decode()
    assert "Requires-Dist: matrix-nio[e2e]" in requires  # Matrix encryption needs the extra

    fresh = tmp_path / "fresh"
    fresh_python = fresh / "bin" / "python"
    run(sys.executable, "-m", "venv", "--without-pip", fresh)
    run(
        sys.executable,
        "-m",
        "pip",
        "--python",
        fresh_python,
        "install",
        "--quiet",
        "--no-deps",
        wheel,
    )
    # Dependencies come from the test environment, appended after the fresh site-packages, and
    # only after the install, so pip cannot take the test environment's copy for this one.
    site = run(fresh_python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])")
    Path(site.stdout.strip(), "test-deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")

    workdir = tmp_path / "elsewhere"
    workdir.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BOT_", "PYTHON"))}
    env.update(BOT_DB=str(workdir / "bot.sqlite3"), LANG="C.UTF-8")
    where = run(fresh_python, "-c", "import bot; print(bot.__file__)", cwd=workdir, env=env)
    assert where.stdout.startswith(str(fresh))
    # matrix-nio[e2e]: vodozemac comes as a wheel, so Matrix encryption works in the install.
    crypto = run(
        fresh_python,
        "-c",
        "import nio.crypto, vodozemac; print(nio.crypto.ENCRYPTION_ENABLED)",
        cwd=workdir,
        env=env,
    )
    assert crypto.stdout.strip() == "True"
    result = run(
        fresh / "bin" / "ngo-bot",
        "chat",
        "--user",
        "olena",
        "--lang",
        "uk",
        input="/start\n/subscribe tax\n",
        cwd=workdir,
        env=env,
    )
    assert "Вітаю" in result.stdout and "Ви підписалися: 1,5% податку" in result.stdout


DOCKERFILE = ROOT / "Dockerfile"


def dockerfile_instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) of each Dockerfile line, continuation lines joined."""
    text = DOCKERFILE.read_text().replace("\\\n", " ")
    lines = [line.strip() for line in text.splitlines()]
    pairs = [line.split(None, 1) for line in lines if line and not line.startswith("#")]
    return [(pair[0].upper(), pair[1] if len(pair) > 1 else "") for pair in pairs]


def dockerignored(path: str) -> bool:
    """Whether the build context leaves `path` out (.dockerignore: the last matching rule wins)."""
    import fnmatch

    ignored = False
    for raw in (ROOT / ".dockerignore").read_text().splitlines():
        rule = raw.strip()
        if not rule or rule.startswith("#"):
            continue
        negated, pattern = rule.startswith("!"), rule.lstrip("!").rstrip("/")
        parts = path.split("/")
        prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
        if any(fnmatch.fnmatchcase(prefix, pattern) for prefix in prefixes) or (
            pattern.startswith("**/") and fnmatch.fnmatchcase(parts[-1], pattern[3:])
        ):
            ignored = not negated
    return ignored


def test_docker_context_leaves_out_the_venv_and_data() -> None:
    for path in (".venv/bin/python", "data/ngo-bot.sqlite3", ".git/HEAD", "tests/conftest.py"):
        assert dockerignored(path), path
    for path in ("pyproject.toml", "README.md", "babel.cfg", "bot/cli.py", "locales/uk/x.po"):
        assert not dockerignored(path), path
    assert dockerignored("bot/__pycache__/cli.cpython-311.pyc")


def test_dockerfile_pins_the_base_and_exposes_the_webhook_port() -> None:
    import re

    instructions = dockerfile_instructions()
    (base,) = [args for name, args in instructions if name == "FROM"]
    assert re.fullmatch(r"python:3\.11\.\d+-slim-bookworm(@sha256:[0-9a-f]{64})?", base), base
    assert ("EXPOSE", "8443") in instructions
    (user,) = [args for name, args in instructions if name == "USER"]
    assert user not in ("root", "0")
    assert any(name == "HEALTHCHECK" and "ngo-bot health" in args for name, args in instructions)


def test_dockerfile_installs_the_dependencies_before_copying_the_code(tmp_path: Path) -> None:
    import shlex
    import tomllib

    instructions = dockerfile_instructions()
    code_copied = instructions.index(("COPY", "bot ./bot"))
    (deps_at,) = [
        at
        for at, (name, args) in enumerate(instructions)
        if name == "RUN" and "requirements" in args
    ]
    assert deps_at < code_copied
    copied_before = [args for name, args in instructions[:deps_at] if name == "COPY"]
    assert copied_before == ["pyproject.toml ./"]
    deps_run = instructions[deps_at][1]
    assert "pip install -r /tmp/requirements.txt" in deps_run
    # The requirements step, run on this pyproject.toml, lists exactly its dependencies.
    listing = deps_run.split(" > /tmp/requirements.txt")[0]
    (tmp_path / "pyproject.toml").write_bytes((ROOT / "pyproject.toml").read_bytes())
    argv = shlex.split(listing)
    assert argv[0] == "python"
    listed = run(sys.executable, *argv[1:], cwd=tmp_path).stdout.split()
    wanted = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    assert listed == wanted
    after = instructions[code_copied:]
    assert ("RUN", "pip install --no-deps .") in after
