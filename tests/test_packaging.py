"""A wheel built from this checkout, installed into a fresh environment, answers in Ukrainian."""

from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

from tests.conftest import ROOT


def build_wheel(out: Path) -> Path:
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--quiet",
            "--no-deps",
            "--no-build-isolation",
            "--wheel-dir",
            str(out),
            str(ROOT),
        ],
        check=True,
        capture_output=True,
        timeout=300,
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
    subprocess.run(
        [sys.executable, "-m", "venv", "--without-pip", str(fresh)], check=True, timeout=120
    )
    fresh_python = fresh / "bin" / "python"
    site = subprocess.run(
        [str(fresh_python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--quiet",
            "--no-deps",
            "--no-build-isolation",
            "--wheel-dir",
            str(out),
            str(ROOT),
        ],
        check=True,
        capture_output=True,
        timeout=300,
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
    subprocess.run(
        [sys.executable, "-m", "venv", "--without-pip", str(fresh)], check=True, timeout=120
    )
    fresh_python = fresh / "bin" / "python"
    site = subprocess.run(
        [str(fresh_python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    # Dependencies come from the test environment, appended after the fresh site-packages, so the
    # `bot` package can only come from the wheel.
    Path(site, "test-deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "--python",
            str(fresh_python),
            "install",
            "--quiet",
            "--no-deps",
            str(wheel),
        ],
        check=True,
        capture_output=True,
        timeout=300,
    )
    # Dependencies come from the test environment, appended after the fresh site-packages (and
    # only after the install, so pip cannot take the test environment's copy for this one).
    Path(site, "test-deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    workdir = tmp_path / "elsewhere"
    workdir.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BOT_", "PYTHON"))}
    env.update(BOT_DB=str(workdir / "bot.sqlite3"), LANG="C.UTF-8")
    where = subprocess.run(
        [str(fresh_python), "-c", "import bot; print(bot.__file__)"],
        capture_output=True,
        text=True,
        check=True,
        cwd=workdir,
        env=env,
    ).stdout
    assert where.startswith(str(fresh))
    result = subprocess.run(
        [str(fresh / "bin" / "ngo-bot"), "chat", "--user", "olena", "--lang", "uk"],
        input="/start\n/subscribe tax\n",
        capture_output=True,
        text=True,
        cwd=workdir,
        env=env,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "Вітаю" in result.stdout and "Ви підписалися: 1,5% податку" in result.stdout
