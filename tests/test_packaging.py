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
    assert "bot/storage/migrations/0001_foundation.sql" in names

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
